// A simulation: every policy of a scenario run by the twin engine on the same weather, hot-water draws and workload,
// one after the other or side by side on worker threads (same results either way), gathered into one report.
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { InvalidParameterError, ParseError } from '../physics/errors.ts';
import { POLICY_NAMES } from './scenario.ts';
import type { PolicyName, Scenario } from './scenario.ts';
import { applyOverrides, prepareTwin, runTwin } from './twin.ts';
import type { TwinDeps, TwinDetails, TwinOptions, TwinResult } from './twin.ts';
import type { PolicySeries, PolicySummary, SimSeries, SimSummary } from './report.ts';

/** Options of runSimulation: the run overrides of TwinOptions plus the policies and threads. */
export interface SimOptions {
  /** Policies to run, in this order (default: the scenario's). */
  readonly policies?: readonly string[];
  readonly days?: number;
  /** First day, YYYY-MM-DD. */
  readonly start?: string;
  /** Physics step, s. */
  readonly step?: number;
  readonly scale?: number;
  readonly seed?: number;
  readonly weatherZone?: string;
  /** Contents of the files the scenario names, keyed by the path as written (the CLI reads them). */
  readonly files?: Readonly<Record<string, string>>;
  /**
   * Worker threads (default: one per policy, at most the machine's cores; 1 runs everything in this thread).
   * Results do not depend on it: each policy's run is deterministic wherever it runs.
   */
  readonly threads?: number;
  /** Called with the fraction done (0..1) of the whole simulation and the policy being run. */
  readonly onProgress?: (fraction: number, policy: string) => void;
  /** Factories of the controllers and policies (tests); forces a run in this thread. */
  readonly deps?: TwinDeps;
}

/** The result of a simulation: the report's summary and series, and the engine's details per policy. */
export interface SimResult {
  readonly summary: SimSummary;
  readonly series: SimSeries;
  readonly details: Readonly<Record<string, TwinDetails>>;
}

/** Validates a policy list (names of POLICY_NAMES, no duplicates); `field` names the option in errors. */
export function checkPolicies(names: readonly string[], field = 'policies'): PolicyName[] {
  if (names.length === 0) throw new InvalidParameterError(field, `needs at least one of ${POLICY_NAMES.join(', ')}`);
  names.forEach((n, i) => {
    if (!(POLICY_NAMES as readonly string[]).includes(n)) throw new InvalidParameterError(field, `unknown policy '${n}' (known: ${POLICY_NAMES.join(', ')})`);
    if (names.indexOf(n) !== i) throw new InvalidParameterError(field, `policy '${n}' is given twice`);
  });
  return names as PolicyName[];
}

/** The run overrides of SimOptions as TwinOptions (validated by applyOverrides). */
function twinOptions(o: SimOptions): TwinOptions {
  return { days: o.days, start: o.start, stepS: o.step, scale: o.scale, seed: o.seed, weatherZone: o.weatherZone, files: o.files };
}

/** Message from a simulation worker. */
type WorkerReply =
  | { readonly kind: 'progress'; readonly fraction: number }
  | { readonly kind: 'done'; readonly result: TwinResult }
  | { readonly kind: 'error'; readonly message: string; readonly name: string; readonly field?: string; readonly source?: string; readonly line?: number };

const TWIN_URL = new URL('./twin.ts', import.meta.url).href;

/**
 * A worker running one policy: it loads the TypeScript loader and twin.ts, prepares the same twin from the same
 * scenario and options (deterministic), runs the policy and posts the result back.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
import('tsx/esm/api')
  .then((m) => { m.register(); return import(${JSON.stringify(TWIN_URL)}); })
  .then((twin) => {
    const { scenario, policy, options } = workerData;
    let last = -1;
    const onProgress = (f) => { if (f - last >= 0.01) { last = f; parentPort.postMessage({ kind: 'progress', fraction: f }); } };
    const result = twin.runTwin(scenario, policy, { ...options, onProgress });
    parentPort.postMessage({ kind: 'done', result });
  })
  .catch((e) => parentPort.postMessage({ kind: 'error', message: e && e.message ? e.message : String(e), name: e && e.name, field: e && e.field, source: e && e.source, line: e && e.line }));
`;

/** The error a worker reported, rebuilt with its type so that bad input still names its field or line. */
function rebuild(m: Extract<WorkerReply, { kind: 'error' }>): Error {
  if (m.name === 'InvalidParameterError' && m.field !== undefined) return new InvalidParameterError(m.field, m.message.slice(m.field.length + 2));
  if (m.name === 'ParseError' && m.source !== undefined && m.line !== undefined) {
    return new ParseError(m.source, m.line, m.message.slice(`${m.source}:${m.line}: `.length));
  }
  return new Error(m.message);
}

/** Runs one policy on a worker thread; `live` holds the running workers (all are stopped when one fails). */
function runInWorker(scenario: Scenario, policy: PolicyName, options: TwinOptions, onProgress: (f: number) => void, live: Set<Worker>): Promise<TwinResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { scenario, policy, options } });
    live.add(worker);
    let settled = false;
    const settle = (): void => {
      settled = true;
      live.delete(worker);
      void worker.terminate();
    };
    worker.on('message', (m: WorkerReply) => {
      if (m.kind === 'progress') onProgress(m.fraction);
      else if (m.kind === 'done') {
        settle();
        resolve(m.result);
      } else {
        settle();
        reject(rebuild(m));
      }
    });
    worker.on('error', (e) => {
      if (settled) return;
      settle();
      reject(e);
    });
    worker.on('exit', (code) => {
      if (settled) return;
      settle();
      reject(new Error(`simulation worker for '${policy}' exited with code ${code}`));
    });
  });
}

/**
 * Runs every policy of a scenario (or `options.policies`) on the same weather, draws and workload and gathers their
 * scorecards and series. Same scenario and options, same result, whatever the number of threads.
 */
export async function runSimulation(scenario0: Scenario, options: SimOptions = {}): Promise<SimResult> {
  const policies = checkPolicies(options.policies ?? scenario0.policies, 'policies');
  const topts = twinOptions(options);
  const scenario = applyOverrides(scenario0, topts);
  const threads = options.deps ? 1 : Math.max(1, Math.min(policies.length, options.threads ?? availableParallelism()));
  if (!Number.isInteger(threads)) throw new InvalidParameterError('threads', `must be an integer, got ${options.threads}`);
  const fractions = policies.map(() => 0);
  const report = (k: number, f: number): void => {
    fractions[k] = f;
    options.onProgress?.(fractions.reduce((a, b) => a + b, 0) / policies.length, policies[k]);
  };
  const results: TwinResult[] = new Array<TwinResult>(policies.length);
  // The run options were applied above: the workers and runTwin get the scenario as it will run.
  const runOptions: TwinOptions = { files: options.files };
  if (threads <= 1) {
    const prepared = prepareTwin(scenario, runOptions);
    policies.forEach((p, k) => {
      results[k] = runTwin(scenario, p, { ...runOptions, prepared, deps: options.deps, onProgress: (f) => report(k, f) });
      report(k, 1);
    });
  } else {
    let next = 0;
    let failed = false;
    const live = new Set<Worker>();
    const lane = async (): Promise<void> => {
      while (next < policies.length && !failed) {
        const k = next++;
        results[k] = await runInWorker(scenario, policies[k], runOptions, (f) => report(k, f), live);
        report(k, 1);
      }
    };
    try {
      await Promise.all(Array.from({ length: threads }, lane));
    } catch (e) {
      failed = true;
      await Promise.all([...live].map((w) => w.terminate()));
      throw e;
    }
  }
  const summaries: Record<string, PolicySummary> = {};
  const series: Record<string, PolicySeries> = {};
  const details: Record<string, TwinDetails> = {};
  policies.forEach((p, k) => {
    summaries[p] = results[k].summary;
    series[p] = results[k].series;
    details[p] = results[k].details;
  });
  const first = results[0].details;
  return {
    summary: {
      scenario: scenario.name,
      seed: scenario.seed,
      startDate: scenario.startDate,
      days: scenario.days,
      stepS: scenario.stepS,
      policies: summaries,
      description: scenario.description || undefined,
      rooms: first.rooms,
      boilers: first.boilers,
    },
    series: { policies: series },
    details,
  };
}
