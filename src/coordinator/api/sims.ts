// (ext) The twin's runs the coordinator knows, operator only: `hearth sim SCENARIO.json --out <dataDir>/sims/NAME`
// writes summary.json and report.html there; the dashboard's twin page lists them, compares a run's policies and
// shows its report. A run's name is one path segment of letters, digits, `.`, `_`, `-` (no `..`): nothing outside
// the sims folder is ever read, and symbolic links are not followed. The report (self-contained HTML with inline
// scripts) is served under a Content-Security-Policy sandbox without same-origin: its scripts run in an opaque
// origin that reaches no API and no token.
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { callerOf, type ApiContext } from './context.ts';
import { HttpError, invalid, notFound } from './http-error.ts';

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
  /** When summary.json was written (ISO-8601). */
  writtenAt: string;
  report: boolean;
}

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

/**
 * The run's folder: 400 for a name that is not one path segment of the allowed characters, 404 when it is not a
 * real folder (a symbolic link is not followed).
 */
async function runDir(simsDir: string, name: string): Promise<string> {
  if (!SIM_NAME.test(name) || name.includes('..')) throw invalid('name', 'a run name is letters, digits, ".", "_" and "-" (one path segment)');
  const dir = resolve(simsDir, name);
  if (!dir.startsWith(simsDir + sep)) throw invalid('name', 'a run name is one path segment');
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
  };
}

const tags = ['twin'];

export const simRoutes: FastifyPluginAsync<SimRouteOptions> = (app, opts) => {
  const simsDir = resolve(opts.simsDir);

  app.get('/sims', { schema: { tags, summary: '(ext) The twin\'s runs under <dataDir>/sims, newest first (operator)' } }, async (req): Promise<SimRun[]> => {
    operatorOnly(req);
    let entries;
    try {
      entries = await readdir(simsDir, { withFileTypes: true });
    } catch {
      return [];
    }
    const runs = await Promise.all(entries.filter((e) => e.isDirectory() && SIM_NAME.test(e.name) && !e.name.includes('..')).map((e) => runOf(simsDir, e.name)));
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
