// HTTP benchmark of the coordinator: the real app over a SQLite file (WAL) in a child process, loaded by
// autocannon from this process; each scenario against GET /versions (no store) measured in the same run.
// Run: node --import tsx bench/http.ts [--duration 5] [--warmup 1] [--connections 64] [--scenarios a,b]
//      [--pool 1000] [--cpu-prof DIR]   (or `hearth bench http …`). One JSON line per scenario, summary last.
// Scenarios: baseline (GET /versions), create (POST /tasks, one 1-instance task), bulk-100-tasks (array of 100
// 1-instance tasks), bulk-100-instances (one task of 100 instances), get-task (GET /tasks/:uuid over a pool),
// get-task-uncached (the same with the server's task view cache bypassed: every read builds and serializes the
// view, as for a task changed since its last read), fresh-stdout (POST /tasks/:uuid/stdout over the pool: the
// first poll of a task returns its seeded lines, later ones nothing new: the steady state of a client polling). Each line gives requests/s, p50/p99 latency, the ratio
// to the baseline's requests/s, and the server's CPU per request (also over the baseline's): on a shared machine
// throughput swings with the neighbours' load, CPU per request much less.
//
// Why a child process: autocannon's load generation is JavaScript too; sharing the server's event loop (or its
// process) would measure the two fighting over one thread. A worker thread would also give the server its own
// loop; a child process is chosen because it is how the coordinator runs in production (one process, its own
// heap, its own SQLite checkpointer worker), its RSS and --cpu-prof cover the server alone, and killing it can
// never leave the driver half-closed. On a 2-core machine the two processes take about one core each (see
// `serverCores`), so absolute figures are those of a server with one core, not a ceiling of the code.
// Connections: 64 by default; on 2 cores 16 leaves the server idle between requests, 128 only adds queueing
// (p99 in seconds), 32 and 64 are close, 64 slightly ahead on the store-backed routes.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';

// ---------------------------------------------------------------------------------------------------------
// Messages between the driver (parent) and the server (child)

type ToServer =
  | { type: 'cpu' }
  | { type: 'settle' }
  | { type: 'count' }
  | { type: 'seed-output'; uuids: string[] }
  | { type: 'view-cache'; on: boolean }
  | { type: 'stop' };
type FromServer =
  | { type: 'ready'; port: number; token: string }
  | { type: 'cpu'; us: number }
  | { type: 'settled'; waitedMs: number }
  | { type: 'count'; tasks: number; instances: number }
  | { type: 'seeded'; chunks: number }
  | { type: 'view-cache'; on: boolean }
  | { type: 'stopped' };

const ROLE_ENV = 'HEARTH_BENCH_HTTP_ROLE';

/** The server: the coordinator app over a fresh SQLite file, one customer with credits and a large task quota. */
async function serve(): Promise<void> {
  const { buildApp } = await import('../src/coordinator/app.ts');
  const { openStore } = await import('../src/coordinator/store/index.ts');
  const { createAccount } = await import('../src/coordinator/auth/tokens.ts');
  const { viewCacheOf } = await import('../src/coordinator/api/task-view.ts');
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-http-'));
  const store = await openStore(`sqlite:${join(dir, 'hearth.db')}`);
  // The default quota (100,000 tasks) would stop the bulk scenarios; the quota check itself still runs.
  const { account, token } = await createAccount(store, { email: 'bench@example.com', credits: 1e6, quotas: { maxTask: 1e9 } });
  const app = await buildApp({ store, rateLimit: false, logger: false, storageUrl: 'http://storage.invalid' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  const send = (m: FromServer): void => void process.send?.(m);
  process.on('message', (m: ToServer) => {
    void (async () => {
      switch (m.type) {
        case 'cpu': {
          const u = process.cpuUsage();
          send({ type: 'cpu', us: u.user + u.system });
          return;
        }
        case 'settle': {
          // Work received before a run's deadline may still be queued: wait for an idle event loop (≤ 20 % busy
          // over 100 ms, at most 10 s) so that it does not spill into the next scenario.
          const t0 = performance.now();
          for (let prev = performance.eventLoopUtilization(); performance.now() - t0 < 10_000; ) {
            await new Promise((r) => setTimeout(r, 100));
            const now = performance.eventLoopUtilization();
            if (performance.eventLoopUtilization(now, prev).utilization < 0.2) break;
            prev = now;
          }
          send({ type: 'settled', waitedMs: Math.round(performance.now() - t0) });
          return;
        }
        case 'count': {
          const tasks = await store.countTasks(account.id);
          const instances = (await store.listInstances(account.id, { limit: 100_000_000 })).length;
          send({ type: 'count', tasks, instances });
          return;
        }
        case 'seed-output': {
          let chunks = 0;
          for (const uuid of m.uuids) {
            for (const instanceId of [0, 1]) {
              await store.appendOutput({ taskUuid: uuid, instanceId, stream: 'stdout', text: `instance ${instanceId} says hello\n` });
              chunks++;
            }
          }
          send({ type: 'seeded', chunks });
          return;
        }
        case 'view-cache':
          viewCacheOf(store).bypass = !m.on;
          send({ type: 'view-cache', on: m.on });
          return;
        case 'stop':
          await app.close();
          await store.close();
          rmSync(dir, { recursive: true, force: true });
          send({ type: 'stopped' });
          process.disconnect();
          // A normal exit (not a kill) so that --cpu-prof writes its profile.
          process.exitCode = 0;
          return;
      }
    })();
  });
  // The driver gone (killed, crashed) without a stop: close and remove the data anyway.
  process.once('disconnect', () => {
    if (!app.server.listening) return; // the normal stop already closed everything
    void app.close().then(() => store.close()).finally(() => rmSync(dir, { recursive: true, force: true }));
  });
  send({ type: 'ready', port: address.port, token });
}

// ---------------------------------------------------------------------------------------------------------
// The driver

interface Options {
  durationS: number;
  warmupS: number;
  connections: number;
  scenarios: string[] | undefined;
  pool: number;
  cpuProfDir: string | undefined;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      connections: { type: 'string', default: '64' },
      scenarios: { type: 'string' },
      pool: { type: 'string', default: '1000' },
      'cpu-prof': { type: 'string' },
    },
    strict: true,
  });
  const num = (flag: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${flag} must be a number ≥ ${min}, got ${v}`);
    return n;
  };
  return {
    durationS: num('duration', values.duration, 0.5),
    warmupS: num('warmup', values.warmup, 0),
    connections: Math.round(num('connections', values.connections, 1)),
    scenarios: values.scenarios?.split(',').map((s) => s.trim()).filter((s) => s !== ''),
    pool: Math.round(num('pool', values.pool, 1)),
    cpuProfDir: values['cpu-prof'],
  };
}

/** One load pattern: what autocannon sends, and what one 2xx response counts for. */
interface Scenario {
  name: string;
  /** What the goal counts: requests, tasks or instances (per 2xx response: `perRequest` of them). */
  unit: 'requests' | 'tasks' | 'instances';
  perRequest: number;
  /** Tasks and instances one 2xx response creates (verified against the store at the end). */
  creates?: { tasks: number; instances: number };
  goal: { text: string; minPerS?: number; maxP99Ms?: number } | null;
  requests: autocannon.Request[];
  /** For bulk answers (207): the entries that were not created, counted from the bodies. */
  failedEntries?: () => number;
  /** False: the server's task view cache is bypassed during this scenario (every GET builds the view). */
  viewCache?: boolean;
}

const round = (x: number, digits = 0): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** The driver's side of the IPC channel: each reply resolves the oldest wait for its type. */
class ServerHandle {
  private readonly waiting: Array<{ type: FromServer['type']; resolve: (m: FromServer) => void; reject: (e: Error) => void }> = [];
  constructor(readonly child: ChildProcess) {
    child.on('message', (m: FromServer) => {
      const i = this.waiting.findIndex((w) => w.type === m.type);
      if (i >= 0) this.waiting.splice(i, 1)[0].resolve(m);
    });
    child.on('exit', (code) => {
      for (const w of this.waiting.splice(0)) w.reject(new Error(`the server exited (${code}) while the driver waited for ${w.type}`));
    });
  }
  next<T extends FromServer['type']>(type: T): Promise<Extract<FromServer, { type: T }>> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ type, resolve: resolve as (m: FromServer) => void, reject });
    });
  }
  ask<T extends FromServer['type']>(m: ToServer, reply: T): Promise<Extract<FromServer, { type: T }>> {
    const p = this.next(reply);
    this.child.send(m);
    return p;
  }
}

async function startServer(cpuProfDir: string | undefined): Promise<{ server: ServerHandle; port: number; token: string }> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    // The driver's own flags (the TypeScript loader), plus the profiler for the server alone.
    execArgv: [...process.execArgv, ...(cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : [])],
    env: { ...process.env, [ROLE_ENV]: 'server' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const server = new ServerHandle(child);
  const ready = await server.next('ready');
  return { server, port: ready.port, token: ready.token };
}

function run(url: string, connections: number, durationS: number, requests: autocannon.Request[]): Promise<autocannon.Result> {
  return autocannon({ url, connections, duration: durationS, requests, timeout: 30 });
}

/** Creates `n` tasks of 2 instances (bulk POSTs of 100) and returns their uuids: the pool read by GET and stdout. */
async function seedPool(url: string, token: string, n: number): Promise<string[]> {
  const uuids: string[] = [];
  for (let start = 0; start < n; start += 100) {
    const body = Array.from({ length: Math.min(100, n - start) }, (_, i) => ({
      name: 'pool',
      shortname: `pool-${start + i}`,
      profile: 'docker-batch',
      instanceCount: 2,
      constants: [{ key: 'DOCKER_CMD', value: 'echo ${INSTANCE_ID}' }],
      tags: ['bench'],
    }));
    const r = await fetch(`${url}/tasks`, { method: 'POST', headers: { authorization: token, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const entries = (await r.json()) as Array<{ statusCode: number; uuid?: string; message?: string }>;
    for (const e of entries) {
      if (e.statusCode !== 201 || e.uuid === undefined) throw new Error(`seeding the pool failed: ${JSON.stringify(e)}`);
      uuids.push(e.uuid);
    }
  }
  return uuids;
}

function scenarios(token: string, pool: string[]): Scenario[] {
  const json = { authorization: token, 'content-type': 'application/json' };
  const auth = { authorization: token };
  const cmd = JSON.stringify([{ key: 'DOCKER_CMD', value: 'echo ${INSTANCE_ID}' }]);
  // Unique shortnames across scenarios, warm-ups and connections (one counter in this process).
  let serial = 0;
  const task = (instances: number): string => `{"name":"bench","shortname":"t${++serial}","profile":"docker-batch","instanceCount":${instances},"constants":${cmd}}`;
  let next = 0;
  const pick = (): string => pool[next++ % pool.length];
  // A 207 answers each entry of a bulk POST on its own: count the entries that are not 201.
  let failedEntries = 0;
  const countFailedEntries = (status: number, body: string): void => {
    if (status !== 207) return;
    let at = 0;
    let entries = 0;
    while ((at = body.indexOf('"statusCode":', at)) >= 0) {
      entries++;
      at += 13;
      if (!body.startsWith('201', at)) failedEntries++;
    }
    failedEntries += Math.max(0, 100 - entries);
  };
  return [
    { name: 'baseline', unit: 'requests', perRequest: 1, goal: null, requests: [{ method: 'GET', path: '/versions' }] },
    {
      name: 'create',
      unit: 'tasks',
      perRequest: 1,
      creates: { tasks: 1, instances: 1 },
      goal: { text: '≥ 2,000 task creations/s', minPerS: 2000 },
      requests: [{ method: 'POST', path: '/tasks', headers: json, setupRequest: (req) => ({ ...req, body: task(1) }) }],
    },
    {
      name: 'bulk-100-tasks',
      unit: 'instances',
      perRequest: 100,
      creates: { tasks: 100, instances: 100 },
      goal: { text: '≥ 20,000 instances/s (array of 100 one-instance tasks)', minPerS: 20_000 },
      requests: [
        {
          method: 'POST',
          path: '/tasks',
          headers: json,
          setupRequest: (req) => ({ ...req, body: `[${Array.from({ length: 100 }, () => task(1)).join(',')}]` }),
          onResponse: countFailedEntries,
        },
      ],
      failedEntries: () => failedEntries,
    },
    {
      name: 'bulk-100-instances',
      unit: 'instances',
      perRequest: 100,
      creates: { tasks: 1, instances: 100 },
      goal: { text: '≥ 20,000 instances/s (one task of 100 instances)', minPerS: 20_000 },
      requests: [{ method: 'POST', path: '/tasks', headers: json, setupRequest: (req) => ({ ...req, body: task(100) }) }],
    },
    {
      name: 'get-task',
      unit: 'requests',
      perRequest: 1,
      goal: { text: '≥ 10,000 GET /tasks/:uuid per s with p99 < 50 ms', minPerS: 10_000, maxP99Ms: 50 },
      requests: [{ method: 'GET', path: '/tasks/x', headers: auth, setupRequest: (req) => ({ ...req, path: `/tasks/${pick()}` }) }],
    },
    {
      // The same reads with the view cache bypassed: what a GET of a task that changed since its last read costs.
      name: 'get-task-uncached',
      unit: 'requests',
      perRequest: 1,
      goal: null,
      viewCache: false,
      requests: [{ method: 'GET', path: '/tasks/x', headers: auth, setupRequest: (req) => ({ ...req, path: `/tasks/${pick()}` }) }],
    },
    {
      name: 'fresh-stdout',
      unit: 'requests',
      perRequest: 1,
      goal: null,
      requests: [{ method: 'POST', path: '/tasks/x/stdout', headers: auth, setupRequest: (req) => ({ ...req, path: `/tasks/${pick()}/stdout` }) }],
    },
  ];
}

/** Scrapes the server's own /metrics for its resident memory and event-loop delay. */
async function serverGauges(url: string): Promise<{ rssMB: number; loopP99Ms: number; loopMaxMs: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (re: RegExp): number => Number(re.exec(text)?.[1] ?? NaN);
  return {
    rssMB: round(value(/^process_resident_memory_bytes (\S+)$/m) / 2 ** 20, 1),
    loopP99Ms: round(value(/^hearth_event_loop_delay_seconds\{stat="p99"\} (\S+)$/m) * 1000, 2),
    loopMaxMs: round(value(/^hearth_event_loop_delay_seconds\{stat="max"\} (\S+)$/m) * 1000, 2),
  };
}

async function drive(): Promise<void> {
  const o = options();
  const emit = (x: Record<string, unknown>): void => console.log(JSON.stringify({ bench: 'http', ...x }));
  const { server, port, token } = await startServer(o.cpuProfDir);
  const url = `http://127.0.0.1:${port}`;
  try {
    const pool = await seedPool(url, token, o.pool);
    const seeded = await server.ask({ type: 'seed-output', uuids: pool }, 'seeded');
    const all = scenarios(token, pool);
    const chosen = all.filter((s) => s.name === 'baseline' || o.scenarios === undefined || o.scenarios.includes(s.name));
    const unknown = (o.scenarios ?? []).filter((n) => !all.some((s) => s.name === n));
    if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${all.map((s) => s.name).join(', ')}`);

    let baselineRps = NaN;
    let baselineCpuUs = NaN;
    // Creations answered 2xx (what must be in the store), and those possibly still in flight when a run stopped
    // (autocannon closes its connections at the deadline; the server may still commit what it had received).
    const confirmed = { tasks: pool.length, instances: 2 * pool.length };
    const inFlight = { tasks: 0, instances: 0 };
    const account = (sc: Scenario, r: autocannon.Result, failedEntries: number): void => {
      if (!sc.creates) return;
      confirmed.tasks += r['2xx'] * sc.creates.tasks - failedEntries;
      confirmed.instances += r['2xx'] * sc.creates.instances - failedEntries;
      inFlight.tasks += o.connections * sc.creates.tasks;
      inFlight.instances += o.connections * sc.creates.instances;
    };
    let met = 0;
    let goals = 0;
    const summary: Record<string, number> = {};
    for (const sc of chosen) {
      if (sc.viewCache === false) await server.ask({ type: 'view-cache', on: false }, 'view-cache');
      if (o.warmupS > 0) {
        const before = sc.failedEntries?.() ?? 0;
        account(sc, await run(url, o.connections, o.warmupS, sc.requests), (sc.failedEntries?.() ?? 0) - before);
      }
      await server.ask({ type: 'settle' }, 'settled');
      const before = sc.failedEntries?.() ?? 0;
      const cpu0 = (await server.ask({ type: 'cpu' }, 'cpu')).us;
      const r = await run(url, o.connections, o.durationS, sc.requests);
      const cpuUs = (await server.ask({ type: 'cpu' }, 'cpu')).us - cpu0;
      const failedEntries = (sc.failedEntries?.() ?? 0) - before;
      account(sc, r, failedEntries);
      await server.ask({ type: 'settle' }, 'settled');
      if (sc.viewCache === false) await server.ask({ type: 'view-cache', on: true }, 'view-cache');
      const requestsPerS = r['2xx'] / r.duration;
      // CPU the server spent per answered request: steadier than throughput when other work shares the cores.
      const cpuUsPerRequest = cpuUs / Math.max(1, r['2xx'] + r.non2xx);
      if (sc.name === 'baseline') {
        baselineRps = requestsPerS;
        baselineCpuUs = cpuUsPerRequest;
      }
      const perS = (r['2xx'] * sc.perRequest - failedEntries) / r.duration;
      const failed = r.non2xx + r.errors + r.timeouts + failedEntries;
      let ok: boolean | null = null;
      if (sc.goal) {
        ok = failed === 0 && perS >= (sc.goal.minPerS ?? 0) && r.latency.p99 < (sc.goal.maxP99Ms ?? Infinity);
        goals++;
        if (ok) met++;
      }
      summary[sc.name] = round(perS);
      emit({
        scenario: sc.name,
        connections: o.connections,
        durationS: round(r.duration, 2),
        requests: r['2xx'],
        failed,
        requestsPerS: round(requestsPerS),
        ...(sc.unit === 'requests' ? {} : { [`${sc.unit}PerS`]: round(perS) }),
        p50Ms: r.latency.p50,
        p99Ms: r.latency.p99,
        ratioToBaseline: round(requestsPerS / baselineRps, 3),
        serverCpuUsPerRequest: round(cpuUsPerRequest),
        serverCpuOverBaseline: round(cpuUsPerRequest / baselineCpuUs, 2),
        serverCores: round(cpuUs / 1e6 / r.duration, 2),
        goal: sc.goal?.text ?? null,
        met: ok,
      });
    }
    // Every confirmed creation is in the store, whole; any extra is bounded by what was in flight at a deadline.
    const count = await server.ask({ type: 'count' }, 'count');
    const within = (n: number, lo: number, slack: number): boolean => n >= lo && n <= lo + slack;
    const verified = within(count.tasks, confirmed.tasks, inFlight.tasks) && within(count.instances, confirmed.instances, inFlight.instances);
    emit({
      figure: 'summary',
      connections: o.connections,
      cores: availableParallelism(),
      node: process.version,
      baselineRequestsPerS: round(baselineRps),
      perS: summary,
      goalsMet: `${met}/${goals}`,
      storeVerified: verified,
      storeTasks: count.tasks,
      confirmedTasks: confirmed.tasks,
      storeInstances: count.instances,
      confirmedInstances: confirmed.instances,
      seededOutputChunks: seeded.chunks,
      server: await serverGauges(url),
    });
    if (!verified) process.exitCode = 1;
  } finally {
    await server.ask({ type: 'stop' }, 'stopped').catch(() => undefined);
    await new Promise<void>((resolve) => (server.child.exitCode !== null ? resolve() : server.child.once('exit', () => resolve())));
  }
}

if (process.env[ROLE_ENV] === 'server') await serve();
else await drive();
