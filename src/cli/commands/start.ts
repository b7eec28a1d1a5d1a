// `hearth start` (what `npm start` runs): the platform in one process — the coordinator's compute API, hearth API
// and S3 storage endpoint on one port, SQLite in the data directory (or PostgreSQL with --db), no configuration.
import type { Command } from 'commander';
import { InvalidParameterError } from '../../physics/errors.ts';
import { POLICY_NAMES, type PolicyName } from '../../scheduler/index.ts';
import { checkLoopOptions } from '../../coordinator/fleet/loop-options.ts';
// The coordinator is loaded when the command runs, not when the CLI starts (every `hearth …` would pay for it).
import type { Platform } from '../../coordinator/server.ts';
import { readFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { parseCarbonCsv, seriesCarbonSource, type CarbonSource } from '../../coordinator/accounting/carbon.ts';
import { OVERFLOW_DEVICE } from '../../coordinator/fleet/link.ts';

export interface StartFlags {
  port: string;
  host: string;
  data: string;
  db?: string;
  logs?: boolean;
  carbonCsv?: string;
  local?: boolean;
  mqttPort?: string;
  policy?: string;
  period?: string;
  offlineAfter?: string;
  checkpointGrace?: string;
  checkpointTimeout?: string;
}

/** The live loop's settings given by `hearth start`'s flags (absent: the platform's defaults). */
export interface StartLoopFlags {
  policy?: PolicyName;
  periodS?: number;
  offlineAfterS?: number;
  checkpointGraceS?: number;
  checkpointTimeoutS?: number;
}

/** The demo customer `hearth start` prints a token for. */
export const DEMO_CUSTOMER = 'demo@hearth.local';

/**
 * A fresh token for the demo customer (created with 100 € of credits on first start; its earlier demo tokens are
 * revoked), or undefined when the store holds sites of its own (not the demo's).
 */
export async function demoCustomerToken(p: Platform): Promise<string | undefined> {
  const { DEMO_SITE_ID } = await import('../../coordinator/fleet/demo-site.ts');
  const { createAccount, issueToken } = await import('../../coordinator/auth/tokens.ts');
  if (!(await p.store.getRegistry(DEMO_SITE_ID))) return undefined;
  const existing = await p.store.getAccountByEmail(DEMO_CUSTOMER);
  if (!existing) return (await createAccount(p.store, { email: DEMO_CUSTOMER, credits: 100, sealKey: p.sealKey })).token;
  for (const t of await p.store.listTokens(existing.id)) await p.store.revokeToken(existing.id, t.id);
  return (await issueToken(p.store, existing.id, { name: 'demo', sealKey: p.sealKey })).token;
}

/** The `hearth` executable the agents run as. */
const HEARTH_BIN = fileURLToPath(new URL('../../../bin/hearth.mjs', import.meta.url));

/** Boards (instances at once) of the overflow datacenter's executor that `hearth start` runs, and cores per board. */
export const OVERFLOW_AGENT_BOARDS = 8;
export const OVERFLOW_AGENT_CORES = 8;

/**
 * Enrols every heater and boiler of the registry (a fresh secret each start) and runs one `hearth agent` child
 * process per device, each with a room twin of its room's archetype, and one more for the overflow datacenter (device
 * OVERFLOW_DEVICE: no room, no heat to follow, OVERFLOW_AGENT_BOARDS instances at once at full speed) — without it
 * the work the scheduler sends there would wait for an executor that never comes. Returns the children.
 */
export async function spawnAgents(p: Platform, dataDir: string): Promise<ChildProcess[]> {
  const broker = p.fleet?.broker;
  if (!broker) throw new Error('agents need the MQTT bus');
  const { enrolDevice } = await import('../../coordinator/bus/enrol.ts');
  const rooms = new Map((await p.store.listRegistry({ kind: 'room' })).map((r) => [r.id, (r.spec ?? {}) as { archetype?: string; areaM2?: number }]));
  const devices = [...(await p.store.listRegistry({ kind: 'heater' })), ...(await p.store.listRegistry({ kind: 'boiler' }))];
  // One `hearth agent` child: enrolled (its secret in its environment), on the bus, exiting with this process.
  const agent = async (id: string, extra: string[]): Promise<ChildProcess> => {
    const { secret } = await enrolDevice(p.store, id);
    const args = [HEARTH_BIN, 'agent', '--coordinator', p.url, '--mqtt', broker.url, '--device-id', id, ...extra, '--work', join(dataDir, 'agents'), '--exit-with-parent'];
    return spawn(process.execPath, args, { env: { ...process.env, HEARTH_DEVICE_SECRET: secret }, stdio: ['ignore', 'inherit', 'inherit'] });
  };
  const children: ChildProcess[] = [];
  for (const d of devices) {
    const spec = (d.spec ?? {}) as { boards?: number; coresPerBoard?: number; volumeL?: number; setpointC?: number; safetyC?: number };
    const room = d.parentId ? rooms.get(d.parentId) : undefined;
    const twin = d.kind === 'boiler' ? `tank-${spec.volumeL ?? 300}` : `${room?.archetype ?? 'dwelling-1974-1982'}:${room?.areaM2 ?? 20}`;
    const extra = ['--room-twin', twin];
    if (spec.boards) extra.push('--boards', String(spec.boards));
    if (spec.coresPerBoard) extra.push('--cores', String(spec.coresPerBoard));
    // A boiler's limits are the water's (55 °C target, 70 °C safety by default), not a room's.
    if (d.kind === 'boiler') extra.push('--setpoint', String(spec.setpointC ?? 55), '--safety', String(spec.safetyC ?? 70));
    children.push(await agent(d.id, extra));
  }
  children.push(await agent(OVERFLOW_DEVICE, ['--boards', String(OVERFLOW_AGENT_BOARDS), '--cores', String(OVERFLOW_AGENT_CORES)]));
  return children;
}

/** The carbon source of `--carbon-csv FILE` (time,gCO2e/kWh rows; outside the series: the same date of a covered year). */
export function carbonSourceFromFile(path: string): CarbonSource {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InvalidParameterError('--carbon-csv', `cannot read ${path}: ${(e as Error).message}`);
  }
  return seriesCarbonSource(parseCarbonCsv(text, path), { outside: 'wrap-year' });
}

/** Parses the flags of `hearth start`. @throws InvalidParameterError naming the flag */
export function startOptionsFromFlags(
  f: StartFlags,
  env: Record<string, string | undefined> = process.env,
): { port: number; host: string; dataDir: string; db?: string; logger: boolean; loop: StartLoopFlags } {
  const port = Number(f.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidParameterError('--port', `must be an integer in 0..65535, got ${f.port}`);
  if (f.host.trim() === '') throw new InvalidParameterError('--host', 'must not be empty');
  if (f.data.trim() === '') throw new InvalidParameterError('--data', 'must not be empty');
  const db = f.db ?? (env.HEARTH_DB?.trim() || undefined);
  return { port, host: f.host, dataDir: f.data, db, logger: f.logs === true, loop: loopFromFlags(f) };
}

/** The live loop's flags, each checked like the loop checks its options but named by its flag. */
function loopFromFlags(f: StartFlags): StartLoopFlags {
  const seconds = (flag: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = v.trim() === '' ? NaN : Number(v);
    if (!Number.isFinite(n)) throw new InvalidParameterError(flag, `must be a number of seconds, got '${v}'`);
    return n;
  };
  if (f.policy !== undefined && !(POLICY_NAMES as readonly string[]).includes(f.policy)) {
    throw new InvalidParameterError('--policy', `unknown policy '${f.policy}' (known: ${POLICY_NAMES.join(', ')})`);
  }
  const loop: StartLoopFlags = {
    policy: f.policy as PolicyName | undefined,
    periodS: seconds('--period', f.period),
    offlineAfterS: seconds('--offline-after', f.offlineAfter),
    checkpointGraceS: seconds('--checkpoint-grace', f.checkpointGrace),
    checkpointTimeoutS: seconds('--checkpoint-timeout', f.checkpointTimeout),
  };
  const flagOf: Record<string, string> = { periodS: '--period', offlineAfterS: '--offline-after', checkpointGraceS: '--checkpoint-grace', checkpointTimeoutS: '--checkpoint-timeout' };
  try {
    checkLoopOptions(loop);
  } catch (e) {
    if (e instanceof InvalidParameterError && flagOf[e.field] !== undefined) throw new InvalidParameterError(flagOf[e.field], e.message.slice(e.field.length + 2));
    throw e;
  }
  return loop;
}

/** What `hearth start` prints once the platform listens. */
export function startBanner(p: Platform, storagePrefix: string): string {
  const lines = [
    `hearth is running at ${p.url}`,
    `  dashboard     ${p.url}/  (sign in with a token)`,
    `  compute API   ${p.url}/  (also under /v1; OpenAPI at /openapi.json, docs at /docs)`,
    `  hearth API    ${p.url}/hearth/v1`,
    `  storage (S3)  ${p.url}${storagePrefix}  (access key = account email, secret = API token)`,
    `  data          ${p.dataDir}`,
    `  twin runs     ${join(p.dataDir, 'sims')}  (hearth sim SCENARIO.json --out ${join(p.dataDir, 'sims', 'NAME')}: listed on the dashboard's Twin page)`,
  ];
  if (p.bootstrap.source === 'generated' && p.bootstrap.token) {
    lines.push('', `operator token (shown once, store it now): ${p.bootstrap.token}`, `  create a customer: hearth account create --email you@example.com --credits 100 --data ${p.dataDir}`);
  } else if (p.bootstrap.source === 'env') {
    lines.push('', 'operator token: the one in HEARTH_BOOTSTRAP_TOKEN');
  }
  return lines.join('\n') + '\n';
}

/** How long a stop may take before the process exits anyway, ms. */
const STOP_GRACE_MS = 8000;

/** Registers `hearth start`. */
export function registerStart(program: Command): void {
  program
    .command('start')
    .description('start the platform: compute API, hearth API and S3 storage on one port, data in ./data')
    .option('--port <n>', 'TCP port', '8080')
    .option('--host <addr>', 'interface to listen on', '127.0.0.1')
    .option('--data <dir>', 'data directory (SQLite file, objects, seal key)', './data')
    .option('--db <url>', 'store: postgres://… or a SQLite file (default: hearth.db in the data directory; env HEARTH_DB)')
    .option('--logs', 'structured JSON logs on stdout')
    .option('--local', 'run the demo heaters in this process (the local executor) instead of as agent processes over MQTT')
    .option('--mqtt-port <n>', 'port of the embedded MQTT broker (a free one if it is taken)', '1883')
    .option('--carbon-csv <file>', 'grid carbon intensity series for carbon facts (CSV: time,gCO2e/kWh); default a constant 56.3')
    .option('--policy <name>', `the live loop's scheduling policy (${POLICY_NAMES.join(', ')}); default hearth`)
    .option('--period <s>', 'seconds between scheduling rounds; default 5')
    .option('--offline-after <s>', 'shortest silence that makes a device offline and requeues its work, s; default 30')
    .option('--checkpoint-grace <s>', 'a checkpointing stop: seconds between SIGTERM and SIGKILL; default 10')
    .option('--checkpoint-timeout <s>', 'seconds a checkpoint is awaited before its instance restarts from zero; default grace + 330')
    .action(async (flags: StartFlags) => {
      const o = startOptionsFromFlags(flags);
      const carbonSource = flags.carbonCsv ? carbonSourceFromFile(flags.carbonCsv) : undefined;
      const mqttPort = Number(flags.mqttPort ?? 1883);
      if (!Number.isInteger(mqttPort) || mqttPort < 0 || mqttPort > 65535) throw new InvalidParameterError('--mqtt-port', `must be an integer in 0..65535, got ${flags.mqttPort}`);
      const agents = flags.local !== true;
      const { startPlatform, STORAGE_PREFIX } = await import('../../coordinator/server.ts');
      const { localExecutor } = await import('../local-fleet.ts');
      const start = (port: number): Promise<Platform> =>
        startPlatform({
          port: o.port,
          host: o.host,
          dataDir: o.dataDir,
          db: o.db,
          logger: o.logger,
          carbonSource,
          fleet: { ...(agents ? { bus: { port, host: o.host } } : { executor: localExecutor }), ...o.loop },
        });
      let platform: Platform;
      try {
        platform = await start(mqttPort);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || !agents || (e as { port?: number }).port === o.port) throw e;
        process.stderr.write(`hearth: MQTT port ${mqttPort} is taken; using a free one\n`);
        platform = await start(0);
      }
      process.stdout.write(startBanner(platform, STORAGE_PREFIX));
      const demo = await demoCustomerToken(platform);
      if (demo) process.stdout.write(`  demo customer ${DEMO_CUSTOMER} token (a new one each start): ${demo}\n`);
      const children = agents ? await spawnAgents(platform, platform.dataDir) : [];
      if (agents) process.stdout.write(`  device bus    ${platform.fleet?.broker?.url}  (${children.length - 1} agent processes with room twins, 1 for the overflow datacenter)\n`);
      await new Promise<void>((resolveStop) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          for (const c of children) c.kill('SIGTERM');
          // Connections that never close (a client's idle keep-alive) must not keep the process up.
          setTimeout(() => process.exit(0), STOP_GRACE_MS).unref();
          void platform.close().finally(resolveStop);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
