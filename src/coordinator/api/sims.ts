// (ext) The twin's runs the coordinator knows, operator only: `hearth sim SCENARIO.json --out <dataDir>/sims/NAME`
// writes summary.json and report.html there; the dashboard's twin page lists them, compares a run's policies and
// shows its report. A run's name is one path segment of letters, digits, `.`, `_`, `-` (no `..`): nothing outside
// the sims folder is ever read, and symbolic links are not followed. The report (self-contained HTML with inline
// scripts) is served under a Content-Security-Policy sandbox without same-origin: its scripts run in an opaque
// origin that reaches no API and no token.
// An operator may also start a run from the API (POST /sims, the dashboard's twin page): the coordinator runs the
// real `hearth sim` as a child process (one at a time, one thread) on a scenario it ships, into <dataDir>/sims/NAME,
// with a run.json there saying what runs and how it ended; the list shows such runs while they run and when they
// failed or were interrupted (the coordinator stopped under them).
import { spawn, type ChildProcess } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { callerOf, type ApiContext } from './context.ts';
import { HttpError, invalid, notFound } from './http-error.ts';
import { EVENT_TYPES, SimStartSchema, type SimProgressPayload, type SimScenario, type SimStart } from '../../protocol/platform.ts';
import { POLICY_NAMES } from '../../scheduler/index.ts';

export interface SimRouteOptions extends ApiContext {
  /** The folder holding one sub-folder per run (`<dataDir>/sims`); it may not exist yet. */
  simsDir: string;
}

/** One run as `GET /hearth/v1/sims` lists it. */
export interface SimRun {
  name: string;
  scenario: string | null;
  startDate: string | null;
  days: number | null;
  rooms: number | null;
  boilers: number | null;
  policies: string[];
  /** When summary.json was written, or (a run without one yet) when the run started (ISO-8601). */
  writtenAt: string;
  report: boolean;
  /**
   * done: summary.json is there; running: started from the API and running now; failed: it ended without a summary
   * (`error` says why); interrupted: the coordinator stopped while it ran.
   */
  state: 'done' | 'running' | 'failed' | 'interrupted';
  error: string | null;
  /** A running run's fraction done (0..1) and the policy it simulates now; null otherwise. */
  progress: number | null;
  label: string | null;
}

/** What a run started from the API keeps in its folder (run.json). */
interface RunFile {
  state: 'running' | 'done' | 'failed';
  scenario: string;
  startDate: string | null;
  days: number | null;
  policies: string[];
  seed: number | null;
  startedAt: string;
  endedAt: string | null;
  error: string | null;
}

/** The repository's root (bin/hearth.mjs, scenarios/): three folders above this file. */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The scenarios the coordinator ships (scenarios/*.json), runnable from the API. */
export const SCENARIOS_DIR = join(ROOT, 'scenarios');
/** The last characters of a failed run's stderr kept as its error. */
const ERROR_TAIL = 2000;
/** How long closing the coordinator waits for a run it stops, ms. */
const STOP_WAIT_MS = 5000;

/** A run's name: one path segment, no dot-only names. */
export const SIM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Largest summary.json / report.html served, bytes. */
const MAX_SUMMARY_BYTES = 16 * 1024 * 1024;
const MAX_REPORT_BYTES = 64 * 1024 * 1024;

/**
 * The report's policy: its own inline scripts and styles and data: images only — no fetch, no form, no frame, no
 * navigation of its opener — and `sandbox allow-scripts` (no allow-same-origin) so it runs in an opaque origin.
 */
export const REPORT_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'; frame-ancestors 'self'; sandbox allow-scripts";

function operatorOnly(req: FastifyRequest): void {
  if (callerOf(req).account.role !== 'operator') throw new HttpError('FORBIDDEN', 'only an operator may see the twin\'s runs');
}

/** Where a run of this name lives under simsDir: 400 for a name that is not one path segment of the allowed characters. */
function runPath(simsDir: string, name: string): string {
  if (!SIM_NAME.test(name) || name.includes('..')) throw invalid('name', 'a run name is letters, digits, ".", "_" and "-" (one path segment)');
  const dir = resolve(simsDir, name);
  if (!dir.startsWith(simsDir + sep)) throw invalid('name', 'a run name is one path segment');
  return dir;
}

/** The run's folder (runPath): 404 when it is not a real folder (a symbolic link is not followed). */
async function runDir(simsDir: string, name: string): Promise<string> {
  const dir = runPath(simsDir, name);
  const isDir = await lstat(dir).then((st) => st.isDirectory(), () => false);
  if (!isDir) throw notFound(`sim run ${JSON.stringify(name)}`);
  return dir;
}

/** A regular file (not a link) of at most `max` bytes, or undefined. */
async function regularFile(path: string, max: number): Promise<{ body: Buffer; mtimeMs: number } | undefined> {
  try {
    const st = await lstat(path);
    if (!st.isFile() || st.size > max) return undefined;
    return { body: await readFile(path), mtimeMs: st.mtimeMs };
  } catch {
    return undefined;
  }
}

const str = (x: unknown): string | null => (typeof x === 'string' ? x : null);
const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);

/** The run in `dir` as listed, or undefined when it has no readable summary.json with policies. */
async function runOf(simsDir: string, name: string): Promise<SimRun | undefined> {
  const dir = join(simsDir, name);
  const file = await regularFile(join(dir, 'summary.json'), MAX_SUMMARY_BYTES);
  if (!file) return undefined;
  let s: Record<string, unknown>;
  try {
    s = JSON.parse(file.body.toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (!s || typeof s !== 'object' || !s.policies || typeof s.policies !== 'object') return undefined;
  const report = await lstat(join(dir, 'report.html')).then((st) => st.isFile(), () => false);
  return {
    name,
    scenario: str(s.scenario),
    startDate: str(s.startDate),
    days: num(s.days),
    rooms: num(s.rooms),
    boilers: num(s.boilers),
    policies: Object.keys(s.policies),
    writtenAt: new Date(file.mtimeMs).toISOString(),
    report,
    state: 'done',
    error: null,
    progress: null,
    label: null,
  };
}

/** A run's run.json, or undefined (none, unreadable, not one). */
async function runFileOf(dir: string): Promise<RunFile | undefined> {
  const file = await regularFile(join(dir, 'run.json'), 64 * 1024);
  if (!file) return undefined;
  try {
    const r = JSON.parse(file.body.toString('utf8')) as RunFile;
    return r && typeof r === 'object' && typeof r.state === 'string' && typeof r.startedAt === 'string' ? r : undefined;
  } catch {
    return undefined;
  }
}

/** A run started from the API that has no summary yet (running, failed or interrupted), as listed. */
function pendingRunOf(name: string, r: RunFile, running: { progress: number; label: string | null } | null): SimRun {
  return {
    name,
    scenario: r.scenario,
    startDate: typeof r.startDate === 'string' ? r.startDate : null,
    days: r.days,
    rooms: null,
    boilers: null,
    policies: r.policies,
    writtenAt: r.startedAt,
    report: false,
    state: running ? 'running' : r.state === 'failed' ? 'failed' : 'interrupted',
    error: running ? null : (r.error ?? (r.state === 'running' ? 'the coordinator stopped while it ran' : null)),
    progress: running ? running.progress : null,
    label: running ? running.label : null,
  };
}

/** One `--progress-json` line of `hearth sim` (anything else it prints is not progress: null). */
function progressLineOf(line: string): { progress: number; label: string | null } | null {
  if (!line.startsWith('{"progress"')) return null;
  try {
    const v = JSON.parse(line) as { progress?: unknown; label?: unknown };
    if (typeof v.progress !== 'number' || !(v.progress >= 0 && v.progress <= 1)) return null;
    return { progress: v.progress, label: typeof v.label === 'string' ? v.label : null };
  } catch {
    return null;
  }
}

/** Writes run.json whole (a temporary file renamed over it). */
async function writeRunFile(dir: string, r: RunFile): Promise<void> {
  const tmp = join(dir, 'run.json.tmp');
  await writeFile(tmp, JSON.stringify(r, null, 2));
  await rename(tmp, join(dir, 'run.json'));
}

/** The scenarios shipped in scenarios/ (file name without .json → what it says of itself). */
async function shippedScenarios(): Promise<SimScenario[]> {
  let names: string[];
  try {
    names = (await readdir(SCENARIOS_DIR)).filter((n) => n.endsWith('.json')).sort();
  } catch {
    return [];
  }
  const out: SimScenario[] = [];
  for (const n of names) {
    const file = await regularFile(join(SCENARIOS_DIR, n), MAX_SUMMARY_BYTES);
    if (!file) continue;
    try {
      const s = JSON.parse(file.body.toString('utf8')) as Record<string, unknown>;
      const policies = Array.isArray(s.policies) ? s.policies.filter((p): p is string => typeof p === 'string') : [...POLICY_NAMES];
      out.push({ id: n.slice(0, -'.json'.length), name: str(s.name) ?? n, startDate: str(s.startDate), days: num(s.days), policies });
    } catch {
      // Not JSON: not offered.
    }
  }
  return out;
}

const tags = ['twin'];

export const simRoutes: FastifyPluginAsync<SimRouteOptions> = (app, opts) => {
  const simsDir = resolve(opts.simsDir);
  /** Runs started here and still running: name → child process (and the promise of its end). */
  const active = new Map<string, { child: ChildProcess; ended: Promise<void>; progress: number; label: string | null }>();
  /** Tells the operators' event streams how a run goes (live only). */
  const announce = (payload: SimProgressPayload): void => opts.events?.broadcast({ type: EVENT_TYPES.simProgress, accountId: null, payload, at: opts.clock() });
  app.addHook('onClose', async () => {
    for (const { child } of active.values()) child.kill('SIGTERM');
    await Promise.race([Promise.all([...active.values()].map((a) => a.ended)), new Promise((r) => setTimeout(r, STOP_WAIT_MS).unref())]);
  });

  app.get('/sims/scenarios', { schema: { tags, summary: '(ext) The scenarios this coordinator ships, runnable with POST /sims (operator)' } }, async (req): Promise<SimScenario[]> => {
    operatorOnly(req);
    return shippedScenarios();
  });

  app.post<{ Body: SimStart }>(
    '/sims',
    { schema: { tags, summary: '(ext) Runs the twin on a shipped scenario into <dataDir>/sims/NAME (operator; one run at a time): 202 with the run as listed', body: SimStartSchema } },
    async (req, reply) => {
      operatorOnly(req);
      const b = req.body;
      const scenario = (await shippedScenarios()).find((x) => x.id === b.scenario);
      if (!scenario) throw invalid('scenario', `no shipped scenario '${b.scenario}' (GET /hearth/v1/sims/scenarios lists them)`);
      const unknown = (b.policies ?? []).find((p) => !(POLICY_NAMES as readonly string[]).includes(p));
      if (unknown !== undefined) throw invalid('policies', `unknown policy '${unknown}' (known: ${POLICY_NAMES.join(', ')})`);
      if (b.policies && new Set(b.policies).size !== b.policies.length) throw invalid('policies', 'a policy is named twice');
      const name = b.name ?? `${scenario.id}-${new Date().toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-')}`;
      const dir = runPath(simsDir, name);
      if (active.size > 0) throw new HttpError('CONFLICT', `a twin run is running already: ${[...active.keys()][0]}`);
      await mkdir(simsDir, { recursive: true });
      // The folder is the run's claim on the name: an existing one (another run, anything) is refused.
      try {
        await mkdir(dir);
      } catch {
        throw new HttpError('CONFLICT', `a run named '${name}' exists already`, 'name');
      }
      const run: RunFile = {
        state: 'running',
        scenario: scenario.id,
        startDate: scenario.startDate,
        days: b.days ?? scenario.days,
        policies: b.policies ?? scenario.policies,
        seed: b.seed ?? null,
        startedAt: new Date().toISOString(),
        endedAt: null,
        error: null,
      };
      await writeRunFile(dir, run);
      const args = [join(ROOT, 'bin', 'hearth.mjs'), 'sim', join(SCENARIOS_DIR, `${scenario.id}.json`), '--out', dir, '--threads', '1', '--progress-json'];
      if (b.days !== undefined) args.push('--days', String(b.days));
      if (b.policies) args.push('--policies', b.policies.join(','));
      if (b.seed !== undefined) args.push('--seed', String(b.seed));
      const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      const entry = { child, ended: Promise.resolve(), progress: 0, label: null as string | null };
      // Its progress, one JSON line at a time (the summary it prints at the end is not one).
      let pending = '';
      child.stdout?.setEncoding('utf8');
      child.stdout?.on('data', (d: string) => {
        pending += d;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        if (pending.length > 4096) pending = '';
        for (const line of lines) {
          const p = progressLineOf(line);
          if (!p || !active.has(name)) continue;
          entry.progress = p.progress;
          entry.label = p.label;
          announce({ name, state: 'running', progress: p.progress, label: p.label });
        }
      });
      let stderr = '';
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (d: string) => {
        stderr = (stderr + d).slice(-ERROR_TAIL);
      });
      const ended = new Promise<void>((done) => {
        const finish = (error: string | null): void => {
          const ok = error === null;
          void writeRunFile(dir, { ...run, state: ok ? 'done' : 'failed', endedAt: new Date().toISOString(), error })
            .catch((e: unknown) => req.log.warn({ err: e }, `sim run ${name}: run.json not written`))
            .finally(() => {
              active.delete(name);
              announce({ name, state: ok ? 'done' : 'failed', progress: ok ? 1 : entry.progress, label: null });
              done();
            });
        };
        child.once('error', (e) => finish(`could not start hearth sim: ${e.message}`));
        child.once('exit', (code, signal) => finish(code === 0 ? null : stderr.trim() || (signal ? `stopped by ${signal}` : `exit code ${String(code)}`)));
      });
      entry.ended = ended;
      active.set(name, entry);
      return reply.code(202).send(pendingRunOf(name, run, entry));
    },
  );

  app.get('/sims', { schema: { tags, summary: '(ext) The twin\'s runs under <dataDir>/sims, newest first (operator)' } }, async (req): Promise<SimRun[]> => {
    operatorOnly(req);
    let entries;
    try {
      entries = await readdir(simsDir, { withFileTypes: true });
    } catch {
      return [];
    }
    const runs = await Promise.all(
      entries
        .filter((e) => e.isDirectory() && SIM_NAME.test(e.name) && !e.name.includes('..'))
        .map(async (e) => {
          const done = await runOf(simsDir, e.name);
          if (done && !active.has(e.name)) return done;
          // No summary yet (or one being written while the run ends): a run started here says how it goes.
          const r = await runFileOf(join(simsDir, e.name));
          return r ? pendingRunOf(e.name, r, active.get(e.name) ?? null) : done;
        }),
    );
    return runs.filter((r): r is SimRun => r !== undefined).sort((a, b) => b.writtenAt.localeCompare(a.writtenAt) || a.name.localeCompare(b.name));
  });

  app.get<{ Params: { name: string } }>('/sims/:name/summary', { schema: { tags, summary: '(ext) A run\'s summary.json (operator)' } }, async (req, reply) => {
    operatorOnly(req);
    const file = await regularFile(join(await runDir(simsDir, req.params.name), 'summary.json'), MAX_SUMMARY_BYTES);
    if (!file) throw notFound(`sim run ${JSON.stringify(req.params.name)}`);
    return reply.type('application/json; charset=utf-8').header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').send(file.body);
  });

  app.get<{ Params: { name: string } }>('/sims/:name/report', { schema: { tags, summary: '(ext) A run\'s report.html, sandboxed (operator)' } }, async (req, reply) => {
    operatorOnly(req);
    const file = await regularFile(join(await runDir(simsDir, req.params.name), 'report.html'), MAX_REPORT_BYTES);
    if (!file) throw notFound(`report of sim run ${JSON.stringify(req.params.name)}`);
    return reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', REPORT_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-cache')
      .send(file.body);
  });
  return Promise.resolve();
};
