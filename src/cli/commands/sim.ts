// `hearth sim SCENARIO.json`: runs every policy of a scenario in the twin and writes report.html and summary.json
// (or prints the summary with --json); flags override the scenario's dates, duration, seed, scale, step and weather.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { InvalidParameterError } from '../../physics/errors.ts';
import { parseScenario } from '../../sim/scenario.ts';
import type { Scenario } from '../../sim/scenario.ts';
import { checkPolicies, runSimulation } from '../../sim/sim.ts';
import { applyOverrides } from '../../sim/twin.ts';
import type { SimOptions } from '../../sim/sim.ts';
import { renderReport } from '../../sim/report.ts';
import { createProgress, type Progress } from '../progress.ts';
import { parseJsonText } from './validate.ts';

/** Flags of `hearth sim` as commander gives them (strings). */
export interface SimFlags {
  out?: string;
  json?: boolean;
  policies?: string;
  weatherZone?: string;
  start?: string;
  days?: string;
  seed?: string;
  scale?: string;
  step?: string;
  threads?: string;
  progressJson?: boolean;
}

function numberFlag(flag: string, value: string, min: number, max: number, integer: boolean): number {
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
    throw new InvalidParameterError(flag, `must be ${integer ? 'an integer' : 'a number'} within ${min}..${max}, got "${value}"`);
  }
  return v;
}

/** Option fields of applyOverrides and the flags that set them. */
const FLAG_OF: Readonly<Record<string, string>> = { days: '--days', start: '--start', step: '--step', seed: '--seed', scale: '--scale', 'weather-zone': '--weather-zone' };

/** Turns the flags into simulation options for `scenario`, checked against it; every error names its flag. */
export function simOptionsFromFlags(f: SimFlags, scenario: Scenario): SimOptions {
  const o: SimOptions = {
    policies: f.policies === undefined ? undefined : checkPolicies(f.policies.split(',').map((s) => s.trim()), '--policies'),
    start: f.start,
    weatherZone: f.weatherZone,
    days: f.days === undefined ? undefined : numberFlag('--days', f.days, 1 / 1440, 3660, false),
    seed: f.seed === undefined ? undefined : numberFlag('--seed', f.seed, 0, 2 ** 32 - 1, true),
    scale: f.scale === undefined ? undefined : numberFlag('--scale', f.scale, 1, 1e6, true),
    step: f.step === undefined ? undefined : numberFlag('--step', f.step, 1, 3600, true),
    threads: f.threads === undefined ? undefined : numberFlag('--threads', f.threads, 1, 256, true),
  };
  try {
    applyOverrides(scenario, { days: o.days, start: o.start, stepS: o.step, seed: o.seed, scale: o.scale, weatherZone: o.weatherZone });
  } catch (e) {
    if (e instanceof InvalidParameterError && e.field in FLAG_OF) throw new InvalidParameterError(FLAG_OF[e.field], e.message.slice(e.field.length + 2));
    throw e;
  }
  return o;
}

/** Reads the files a scenario names (weather, carbon CSV, SWF traces), relative to the scenario file's folder. */
export function readScenarioFiles(s: Scenario, scenarioPath: string): Record<string, string> {
  const base = dirname(resolve(scenarioPath));
  const files: Record<string, string> = {};
  const read = (p: string, encoding: BufferEncoding): void => {
    if (!(p in files)) files[p] = readFileSync(resolve(base, p), encoding);
  };
  for (const site of s.sites) if (site.weather.kind === 'file') read(site.weather.file, 'latin1');
  if (s.carbon.kind === 'csv') read(s.carbon.file, 'utf8');
  for (const w of s.workloads) if (w.kind === 'swf') read(w.file, 'utf8');
  return files;
}

/**
 * `--progress-json`: the run's progress as JSON lines on stdout, `{"progress":F,"label":L}` (F in [0, 1], L the
 * policy running or null), one at the start, one per whole percent or change of label, none after stop() (for a
 * program that runs `hearth sim` and shows its progress: the coordinator's POST /hearth/v1/sims).
 */
function jsonProgress(): Progress {
  let last = -1;
  let lastLabel: string | null = null;
  const emit = (progress: number, label: string | null): void => {
    process.stdout.write(JSON.stringify({ progress, label }) + '\n');
  };
  emit(0, null);
  let stopped = false;
  return {
    update: (fr, label) => {
      const pct = Math.floor(Math.min(1, Math.max(0, fr)) * 100);
      const l = label ?? null;
      if (stopped || (pct === last && l === lastLabel)) return;
      last = pct;
      lastLabel = l;
      emit(pct / 100, l);
    },
    stop: () => {
      stopped = true;
    },
  };
}

/** Runs `hearth sim` (exported for tests): returns the output folder. */
export async function simCommand(scenarioPath: string, f: SimFlags): Promise<string> {
  const scenario = parseScenario(parseJsonText(readFileSync(scenarioPath, 'utf8'), scenarioPath));
  const options = simOptionsFromFlags(f, scenario);
  const files = readScenarioFiles(scenario, scenarioPath);
  const bar = f.progressJson ? jsonProgress() : createProgress(`sim ${scenario.name}`);
  let result;
  try {
    result = await runSimulation(scenario, { ...options, files, onProgress: (fr, policy) => bar.update(fr, policy) });
  } finally {
    bar.stop();
  }
  const dir = resolve(f.out ?? join('out', `sim-${scenario.name}`));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'report.html'), renderReport(result.summary, result.series));
  writeFileSync(join(dir, 'summary.json'), JSON.stringify(result.summary, null, 2) + '\n');
  if (f.json) process.stdout.write(JSON.stringify(result.summary) + '\n');
  else {
    const names = Object.keys(result.summary.policies);
    process.stdout.write(`hearth sim: ${scenario.name}, ${result.summary.days} days from ${result.summary.startDate}, policies ${names.join(', ')}\n`);
    for (const n of names) {
      const p = result.summary.policies[n];
      process.stdout.write(
        `  ${n.padEnd(13)} discomfort ${p.comfort.discomfortKhPerRoom.toFixed(1)} K·h/room, deadline misses ${(100 * p.compute.deadlineMissShare).toFixed(2)} %, ` +
          `killed ${p.compute.killedInstances}, ERF ${p.energy.erf.toFixed(3)}, balance ${p.energyBalanceResidual.toExponential(1)}\n`,
      );
    }
    process.stdout.write(`report: ${join(dir, 'report.html')}\nsummary: ${join(dir, 'summary.json')}\n`);
  }
  return dir;
}

/** Registers `hearth sim`. */
export function registerSim(program: Command): void {
  program
    .command('sim')
    .description('simulate a scenario with every policy (the twin) and write report.html and summary.json')
    .argument('<scenario>', 'scenario file (JSON)')
    .option('--out <dir>', 'output folder (default out/sim-<scenario name>)')
    .option('--json', 'print the summary as JSON on stdout')
    .option('--policies <list>', 'comma-separated policies (default: the scenario\'s)')
    .option('--weather-zone <zone>', 'synthetic weather of this climate zone for every site')
    .option('--start <date>', 'first day, YYYY-MM-DD')
    .option('--days <n>', 'days to simulate')
    .option('--seed <n>', 'seed of weather, draws and workloads')
    .option('--scale <k>', 'multiplies every building')
    .option('--step <s>', 'physics step, s')
    .option('--threads <n>', 'worker threads (default: one per policy, at most the cores)')
    .option('--progress-json', 'print progress as JSON lines on stdout ({"progress":0.42,"label":"hearth"}) instead of a bar')
    .action(async (scenarioPath: string, f: SimFlags) => {
      await simCommand(scenarioPath, f);
    });
}
