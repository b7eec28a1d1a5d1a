// Runs one task instance's command inside a container (podman or docker) with the same contract as runner.ts's
// startProcess: output streamed to the sinks, pause/resume (the runtime's pause, i.e. the cgroup freezer, else
// SIGSTOP/SIGCONT), kill/terminate, a CPU share (`update --cpus`, else throttle.ts's duty cycle), the wall-time limit
// over unpaused time and the exact CPU time on exit. The container never outlives its handle: the exit path removes
// it (`rm -f`), an exit hook removes those still running when the agent exits, and cleanStaleContainers() removes
// those a dead agent left (names hearth-<agent pid>-…).
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { endOfRun, exitOutcome, outputPump, wallTimeLimit, type RunExit, type RunHandle, type RunSinks, type RunSpec } from './runner.ts';
import { DutyCycler, MIN_SHARE, type ThrottleKind } from './throttle.ts';

/** A container runtime that answered `<argv> info`. */
export interface ContainerRuntime {
  /** Command line prefix, e.g. ['podman'] or ['podman', '--runtime', 'runc', '--storage-driver', 'vfs']. */
  readonly argv: readonly string[];
  /** Extra flags of every `run` (env HEARTH_CONTAINER_RUN_ARGS), e.g. ['--ulimit', 'nofile=1024:1024']. */
  readonly runArgs: readonly string[];
  /** One line for the instance's info, e.g. "podman version 4.3.1 (podman --runtime runc)". */
  readonly description: string;
}

/** What to run: a RunSpec plus the image. `command` runs as `/bin/sh -c command` in the image (it must have a /bin/sh). */
export interface ContainerSpec extends RunSpec {
  /** repo:tag (DOCKER_REPO:DOCKER_TAG). Pulled when missing (`--pull=missing`); a failed pull ends the run with 125. */
  image: string;
  /** Where the host workDir is mounted in the container and the command's cwd: DOCKER_WORKDIR when given, else /job. */
  workDirInContainer?: string;
  /** Network access: false (default) runs with `--network none`. */
  network?: boolean;
  /** Memory limit of the whole container, MiB (`--memory`, swap included); defaults to limits.memoryMB. */
  memoryMB?: number;
}

/** A running (or finished) container: RunHandle with sandbox 'container' (see the note on RunHandle.sandbox). */
export type ContainerHandle = Omit<RunHandle, 'sandbox'> & {
  readonly sandbox: 'container';
  /** The container's name (hearth-<agent pid>-<n>-<random>). */
  readonly name: string;
  /** The runtime's description. */
  readonly runtime: string;
  /** Resolves once the runtime commands issued so far (pause, resume, CPU share, kill…) have run (or failed). */
  idle(): Promise<void>;
};

/** Name prefix of every container this module makes. */
export const CONTAINER_PREFIX = 'hearth-';
/** Where the wrapper writes the output of `times` (a private host directory mounted there). */
const META_IN_CONTAINER = '/.hearth';
const DEFAULT_WORKDIR = '/job';
const PROBE_TIMEOUT_MS = 20_000;
const OP_TIMEOUT_MS = 30_000;
/** How long to wait for the output pipes to close after the client exited. */
const CLOSE_GRACE_MS = 2000;
/** Delays between the `inspect` calls that look for the container's init pid (for the CPU sample and the duty cycle). */
const INSPECT_DELAYS_MS = [300, 300, 600, 1000, 2000, 4000, 8000];
/** Delay between retries of a pause/unpause/update that failed because the container does not exist yet. */
const RETRY_MS = 300;
/** Failed `update --cpus` calls, before the container is seen running, after which the duty cycle is used instead. */
const UPDATE_TRIES = 20;
/** How often the container's cgroup is sampled while it runs (CPU floor, memory peak, OOM kills), ms. */
const SAMPLE_EVERY_MS = 1000;


// ---------------------------------------------------------------------------------------------------------------
// Runtime detection

/**
 * Splits a command line into words: whitespace separates, single and double quotes group, backslash escapes
 * outside single quotes. No expansion of any kind. Pure.
 */
export function splitArgs(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote === "'") {
      if (c === "'") quote = null;
      else cur += c;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has || cur) out.push(cur);
  return out;
}

function onPath(cmd: string): boolean {
  if (cmd.includes('/')) return existsSync(cmd);
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      if (statSync(join(dir, cmd)).isFile()) return true;
    } catch {
      /* not there */
    }
  }
  return false;
}

function firstLine(s: string | undefined | null): string {
  return (s ?? '').split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? '';
}

/** Runs `<argv> info`; null when it worked, else why not. */
function probeRuntime(argv: string[]): string | null {
  const r = spawnSync(argv[0], [...argv.slice(1), 'info'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: PROBE_TIMEOUT_MS, encoding: 'utf8' });
  if (r.status === 0) return null;
  if (r.error) return `\`${argv.join(' ')} info\` failed: ${r.error.message}`;
  const lines = (r.stderr ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
  const why = lines.find((l) => /error|cannot|denied|not/i.test(l)) ?? lines[lines.length - 1] ?? `status ${String(r.status ?? r.signal)}`;
  return `\`${argv.join(' ')} info\` failed: ${why.slice(0, 200)}`;
}

let detected: { runtime: ContainerRuntime | null; why: string } | null = null;

function detectRuntime(): { runtime: ContainerRuntime | null; why: string } {
  const runArgs = splitArgs(process.env.HEARTH_CONTAINER_RUN_ARGS ?? '');
  const configured = (process.env.HEARTH_CONTAINER_RUNTIME ?? '').trim();
  const candidates = configured ? [splitArgs(configured)] : [['podman'], ['docker']];
  const whys: string[] = [];
  for (const argv of candidates) {
    if (argv.length === 0) continue;
    if (!onPath(argv[0])) {
      whys.push(`${argv[0]} is not installed`);
      continue;
    }
    const why = probeRuntime(argv);
    if (why !== null) {
      whys.push(why);
      continue;
    }
    const v = spawnSync(argv[0], ['--version'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: PROBE_TIMEOUT_MS, encoding: 'utf8' });
    const version = firstLine(v.stdout) || argv[0];
    const extra = runArgs.length ? `; run flags ${runArgs.join(' ')}` : '';
    return { runtime: { argv, runArgs, description: `${version} (${argv.join(' ')}${extra})` }, why: '' };
  }
  return { runtime: null, why: `no usable container runtime: ${whys.join('; ') || 'none configured'}` };
}

/**
 * The container runtime of this node, detected once and cached: the command line in env HEARTH_CONTAINER_RUNTIME
 * when set (e.g. `podman --runtime runc --storage-driver vfs --cgroup-manager cgroupfs`), else `podman` then
 * `docker` on PATH; each probed with `<cmd> info`. Extra `run` flags come from env HEARTH_CONTAINER_RUN_ARGS. Null
 * when none works (containerRuntimeWhy() says why). Never throws; the first call blocks for the probe (~1-3 s).
 */
export function containerRuntime(): ContainerRuntime | null {
  try {
    detected ??= detectRuntime();
  } catch (err) {
    detected = { runtime: null, why: `container runtime detection failed: ${(err as Error).message}` };
  }
  return detected.runtime;
}

/** Why containerRuntime() is null ('' when there is a runtime). */
export function containerRuntimeWhy(): string {
  containerRuntime();
  return detected?.why ?? '';
}

// ---------------------------------------------------------------------------------------------------------------
// Runtime commands

interface OpResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `<runtime> args…` (asynchronously, with a timeout); never rejects. */
function rtExec(rt: ContainerRuntime, args: string[], timeoutMs = OP_TIMEOUT_MS): Promise<OpResult> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(rt.argv[0], [...rt.argv.slice(1), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      resolve({ code: null, stdout: '', stderr: (err as Error).message });
      return;
    }
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (b: Buffer) => {
      if (stdout.length < 65536) stdout += b.toString('utf8');
    });
    child.stderr?.on('data', (b: Buffer) => {
      if (stderr.length < 65536) stderr += b.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    timer.unref();
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: stderr || err.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Names of live handles' containers, removed synchronously if the agent exits while they run. */
const live = new Map<string, ContainerRuntime>();
let exitHookInstalled = false;
function track(name: string, rt: ContainerRuntime): void {
  live.set(name, rt);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [n, r] of live) spawnSync(r.argv[0], [...r.argv.slice(1), 'rm', '-f', n], { stdio: 'ignore', timeout: 10_000 });
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the containers (running or not) that agents no longer alive left behind: names hearth-<pid>-… whose pid
 * is not a live process (all but this process's own with `all`). Returns the names removed. Never rejects.
 */
export async function cleanStaleContainers(opts: { all?: boolean } = {}): Promise<string[]> {
  const rt = containerRuntime();
  if (rt === null) return [];
  const ps = await rtExec(rt, ['ps', '-a', '--format', '{{.Names}}']);
  if (ps.code !== 0) return [];
  const stale: string[] = [];
  for (const name of ps.stdout.split(/\s+/)) {
    const m = /^hearth-(\d+)-/.exec(name);
    if (!m || live.has(name)) continue;
    const pid = Number(m[1]);
    if (pid === process.pid ? opts.all === true : !pidAlive(pid)) stale.push(name);
  }
  if (stale.length > 0) await rtExec(rt, ['rm', '-f', ...stale]);
  return stale;
}

// ---------------------------------------------------------------------------------------------------------------
// The container's cgroup (read from the host, best effort)

/** What the host can read of a container's cgroup: CPU seconds, processes, peak memory and OOM kills. */
interface ContainerCgroup {
  usage(): number | null;
  procs(): number[];
  /** Peak memory, bytes (v1 max_usage_in_bytes, v2 memory.peak), or null. */
  memoryPeak(): number | null;
  /** OOM kills so far (v1 memory.oom_control, v2 memory.events), or null. */
  oomKills(): number | null;
}

function readNum(file: string, re?: RegExp): number | null {
  try {
    const text = readFileSync(file, 'utf8');
    const m = re ? re.exec(text) : /^(\d+)/.exec(text.trim());
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Where the container's cgroups are, from its init pid (cgroup v1 controllers first, else the v2 directory). Pure I/O reads. */
function containerCgroup(initPid: number): ContainerCgroup | null {
  let mounts: string;
  let cg: string;
  try {
    mounts = readFileSync('/proc/self/mounts', 'utf8');
    cg = readFileSync(`/proc/${initPid}/cgroup`, 'utf8');
  } catch {
    return null;
  }
  const v1Mount = new Map<string, string>();
  let v2Mount: string | null = null;
  for (const line of mounts.split('\n')) {
    const f = line.split(' ');
    if (f.length < 4) continue;
    if (f[2] === 'cgroup2' && v2Mount === null) v2Mount = f[1];
    if (f[2] === 'cgroup') for (const o of f[3].split(',')) if (!v1Mount.has(o)) v1Mount.set(o, f[1]);
  }
  const v1Path = new Map<string, string>();
  let v2Path: string | null = null;
  for (const line of cg.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === '0' && m[2] === '') v2Path = m[3];
    else for (const c of m[2].split(',')) v1Path.set(c, m[3]);
  }
  /** The v1 directory of a controller, when the container has its own (not the root). */
  const v1 = (ctl: string): string | null => {
    const mount = v1Mount.get(ctl);
    const path = v1Path.get(ctl);
    return mount !== undefined && path !== undefined && path !== '/' ? `${mount}${path}` : null;
  };
  const v2 = v2Mount !== null && v2Path !== null && v2Path !== '/' ? `${v2Mount}${v2Path}` : null;
  const cpuacct = v1('cpuacct');
  const memory = v1('memory');
  const cpuDir = cpuacct !== null && existsSync(`${cpuacct}/cpuacct.usage`) ? cpuacct : null;
  const v2Cpu = v2 !== null && existsSync(`${v2}/cpu.stat`) ? v2 : null;
  if (cpuDir === null && v2Cpu === null) return null;
  const procsDir = cpuDir ?? v2Cpu ?? '';
  const v2Mem = memory === null && v2 !== null && existsSync(`${v2}/memory.events`) ? v2 : null;
  return {
    usage: () => {
      if (cpuDir !== null) {
        const ns = readNum(`${cpuDir}/cpuacct.usage`);
        return ns === null ? null : ns / 1e9;
      }
      const us = readNum(`${v2Cpu}/cpu.stat`, /^usage_usec (\d+)/m);
      return us === null ? null : us / 1e6;
    },
    procs: () => {
      try {
        return readFileSync(`${procsDir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number);
      } catch {
        return [];
      }
    },
    memoryPeak: () => (memory !== null ? readNum(`${memory}/memory.max_usage_in_bytes`) : v2Mem !== null ? readNum(`${v2Mem}/memory.peak`) : null),
    oomKills: () =>
      memory !== null ? readNum(`${memory}/memory.oom_control`, /^oom_kill (\d+)/m) : v2Mem !== null ? readNum(`${v2Mem}/memory.events`, /^oom_kill (\d+)/m) : null,
  };
}

/** Children's user+system seconds from the output of `times` (second line), or null (as in runner.ts). */
function parseTimes(text: string): number | null {
  const line = text.split('\n')[1];
  if (line === undefined) return null;
  const parts = [...line.matchAll(/(\d+)m([\d.]+)s/g)];
  if (parts.length !== 2) return null;
  return parts.reduce((s, m) => s + Number(m[1]) * 60 + Number(m[2]), 0);
}

/**
 * The container's init: runs the command (`/bin/sh -c "$1"`) in the background so that a SIGTERM (terminate(), a
 * `stop`) reaches the wrapper at once and is passed to every other process of the container (`kill -1`: all but
 * itself; as pid 1 without a handler it would ignore it), waits for it (until it is gone, then once more for its
 * status: see below), writes `times` (CPU of its waited-for descendants) to the metadata directory and exits with the
 * command's status. Its own stderr (a shell's
 * "Killed") goes to /dev/null; the command's is the real one (fd 4).
 */
const WRAPPER =
  'exec 4>&2 2>/dev/null; trap "kill -TERM -1" TERM; ' +
  '/bin/sh -c "$1" 2>&4 4>&- & c=$!; ' +
  'while :; do wait $c; s=$?; kill -0 $c || break; done; ' +
  // A wait the TERM interrupted says 143; when the command ended (and the shell reaped it) before `kill -0` looked,
  // its own status is still to be collected: one more wait gives it (127 when the last wait already did).
  'wait $c; w=$?; [ $w -eq 127 ] || s=$w; ' +
  `times >${META_IN_CONTAINER}/times; exit $s`;

function checkLimit(name: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new RangeError(`${name} must be a positive number, got ${v}`);
}

let seq = 0;

/** A handle whose `done` reports `code` after writing `message` to stderr (nothing was started). */
function failedStart(message: string, code: number, sinks: RunSinks, name: string, runtime: string): ContainerHandle {
  const done = new Promise<RunExit>((resolve) => {
    setImmediate(() => {
      sinks.stderr(`${message}\n`);
      resolve({ code, signal: null, cpuTimeS: 0, wallTimeS: 0, killed: false, timedOut: false, outOfMemory: false, memoryPeakMB: null });
    });
  });
  return { pid: -1, sandbox: 'container', name, runtime, idle: () => Promise.resolve(), paused: false, pause() {}, resume() {}, kill() {}, terminate() {}, setCpuShare() {}, cpuShare: 1, throttle: { kind: 'signals', signals: 0 }, cpuTimeS: () => 0, done };
}

/**
 * Starts `spec.command` in a fresh container of `spec.image`:
 * `<runtime> run --rm --name hearth-… --pull=missing -v workDir:/job -w /job -e NAME=VALUE… [--network none]
 * [--memory M --memory-swap M] --ulimit core=0 [--ulimit cpu=S:S+1] <run args> image /bin/sh -c <wrapper> command`,
 * attached. Same contract as startProcess: `pid` is the runtime client's pid; wallTimeS counts from the call (image
 * pull and container start included); cpuTimeS on a natural exit is the shell's `times` of the container's init
 * (never below the cgroup's own count sampled while it ran), after kill() the last cgroup sample. Exit status 125
 * is the runtime's own failure (e.g. the image is missing and could not be pulled: a `hearth:` line on stderr names
 * it). No runtime: `done` reports 125 with the reason. Throws RangeError for a non-positive limit.
 * clock: milliseconds, monotonic (default performance.now), used for wallTimeS.
 */
export function startContainer(spec: ContainerSpec, sinks: RunSinks, clock: () => number = () => performance.now()): ContainerHandle {
  const limits = spec.limits ?? {};
  checkLimit('limits.wallTimeS', limits.wallTimeS);
  checkLimit('limits.memoryMB', limits.memoryMB);
  checkLimit('limits.cpuTimeS', limits.cpuTimeS);
  checkLimit('memoryMB', spec.memoryMB);

  const name = `${CONTAINER_PREFIX}${process.pid}-${++seq}-${randomBytes(3).toString('hex')}`;
  const rt = containerRuntime();
  if (rt === null) return failedStart(`hearth: cannot run image ${spec.image}: ${containerRuntimeWhy()}`, 125, sinks, name, '');

  const wdc = spec.workDirInContainer || DEFAULT_WORKDIR;
  const memMB = spec.memoryMB ?? limits.memoryMB;
  const cpuS = limits.cpuTimeS !== undefined ? Math.max(1, Math.ceil(limits.cpuTimeS)) : undefined;
  let metaDir: string;
  try {
    metaDir = mkdtempSync(join(tmpdir(), 'hearth-ctr-'));
  } catch (err) {
    return failedStart(`hearth: cannot start the container: ${(err as Error).message}`, 126, sinks, name, rt.description);
  }
  const args = ['run', '--rm', '--name', name, '--pull=missing', '-v', `${spec.workDir}:${wdc}`, '-v', `${metaDir}:${META_IN_CONTAINER}`, '-w', wdc];
  for (const [k, v] of Object.entries(spec.env)) {
    if (k === '' || k.includes('=')) continue;
    args.push('-e', `${k}=${v}`);
  }
  if (spec.network !== true) args.push('--network', 'none');
  if (memMB !== undefined) {
    const m = `${Math.max(6, Math.floor(memMB))}m`;
    args.push('--memory', m, '--memory-swap', m);
  }
  // No core dumps: a customer's crash must not fill the disk.
  args.push('--ulimit', 'core=0');
  if (cpuS !== undefined) args.push('--ulimit', `cpu=${cpuS}:${cpuS + 1}`);
  args.push(...rt.runArgs, spec.image, '/bin/sh', '-c', WRAPPER, 'hearth-run', spec.command);

  const t0 = clock();
  let child: ChildProcess;
  try {
    // In the container's private directory: on an out-of-memory kill conmon leaves an `oom` file in its working
    // directory, which was the agent's (and the repository's, in tests).
    child = spawn(rt.argv[0], [...rt.argv.slice(1), ...args], { cwd: metaDir, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    rmSync(metaDir, { recursive: true, force: true });
    return failedStart(`hearth: cannot start the container: ${(err as Error).message}`, 126, sinks, name, rt.description);
  }
  track(name, rt);
  const pid = child.pid ?? -1;

  let exited = false;
  let settled = false;
  let paused = false;
  let killed = false;
  let timedOut = false;
  let exitCode: number | null = null;
  let exitSignal: string | null = null;
  let t1 = t0;
  let sampledS = 0;
  let finalCpuS: number | null = null;
  let cgroup: ContainerCgroup | null = null;
  let memPeak: number | null = null;
  let oomKills = 0;

  // Runtime commands in order (pause before resume before kill…), one at a time.
  let chain: Promise<unknown> = Promise.resolve();
  const enqueue = <T>(op: () => Promise<T>): Promise<T> => {
    const p = chain.then(op);
    chain = p.catch(() => undefined);
    return p;
  };
  const op = (a: string[]): Promise<OpResult> => rtExec(rt, a);

  const sample = (): number => {
    if (!exited && cgroup !== null) {
      const s = cgroup.usage();
      if (s !== null && s > sampledS) sampledS = s;
      const peak = cgroup.memoryPeak();
      if (peak !== null && peak > (memPeak ?? 0)) memPeak = peak;
      oomKills = Math.max(oomKills, cgroup.oomKills() ?? 0);
    }
    return sampledS;
  };
  // The cgroup goes with the container: sample it while it runs (CPU floor, memory peak, OOM kills).
  let sampler: NodeJS.Timeout | null = null;
  const startSampling = (): void => {
    sample();
    sampler = setInterval(sample, SAMPLE_EVERY_MS);
    sampler.unref();
  };
  /** Signals every process of the container directly (host pids from its cgroup); false when they are not known. */
  const signalAll = (sig: NodeJS.Signals): boolean => {
    const pids = cgroup?.procs() ?? [];
    if (pids.length === 0) return false;
    for (const p of pids) {
      try {
        process.kill(p, sig);
      } catch {
        /* gone */
      }
    }
    return true;
  };

  // Looks up the container's init pid (for the CPU sample and the duty cycle) a few times until it is running.
  let inspectTimer: NodeJS.Timeout | null = null;
  const inspect = (i: number): void => {
    inspectTimer = null;
    if (exited || killed || cgroup !== null || i >= INSPECT_DELAYS_MS.length) return;
    inspectTimer = setTimeout(() => {
      inspectTimer = null;
      void op(['inspect', '--format', '{{.State.Pid}}', name]).then((r) => {
        const initPid = Number.parseInt(r.stdout.trim(), 10);
        if (r.code === 0 && initPid > 0 && !exited) cgroup = containerCgroup(initPid);
        if (cgroup === null) inspect(i + 1);
        else if (!exited) startSampling();
      });
    }, INSPECT_DELAYS_MS[i]);
    inspectTimer.unref();
  };
  inspect(0);

  // Pause: the runtime's pause (freezer); if it fails while the container runs, SIGSTOP of all its processes
  // (directly, else `kill --signal STOP`, which reaches the init only). Kept in step with `paused`, retrying while
  // the container is being created.
  let pausedVia: 'freezer' | 'signals' | null = null;
  let syncing = false;
  const syncPause = (): void => {
    if (syncing) return;
    syncing = true;
    void enqueue(async () => {
      let tries = 0;
      while (!exited && !killed && (paused ? pausedVia === null : pausedVia !== null)) {
        if (paused) {
          if ((await op(['pause', name])).code === 0) pausedVia = 'freezer';
          else if (signalAll('SIGSTOP') || (await op(['kill', '--signal', 'STOP', name])).code === 0) pausedVia = 'signals';
        } else if (pausedVia === 'freezer') {
          if ((await op(['unpause', name])).code === 0) pausedVia = null;
        } else {
          // In the stopped slice of a duty cycle the processes stay stopped: the cycle continues them at its next edge.
          if (throttle?.holdsStopped() === true || signalAll('SIGCONT') || (await op(['kill', '--signal', 'CONT', name])).code === 0) pausedVia = null;
        }
        // Not applied (the container is still being created, e.g. its image pulled): try again, less and less often.
        if (paused ? pausedVia === null : pausedVia !== null) await new Promise((r) => setTimeout(r, Math.min(RETRY_MS * 2 ** Math.min(tries++, 3), 2400)));
      }
    }).finally(() => {
      syncing = false;
    });
  };

  // CPU share: `update --cpus` while it works, else the duty cycle of throttle.ts over the container's processes.
  const cgroupKind: ThrottleKind = existsSync('/sys/fs/cgroup/cgroup.controllers') ? 'cgroup2' : 'cgroup1';
  let kind: ThrottleKind = spec.throttle === 'signals' ? 'signals' : cgroupKind;
  let share = 1;
  let cores = 1;
  let appliedCpus: number | null = null;
  let throttle: DutyCycler | null = null;
  let updating = false;
  const hostCpus = availableParallelism();
  const wantedCpus = (): number => (share < 1 ? Math.max(0.01, Math.round(share * cores * 100) / 100) : hostCpus);
  const applyShare = (): void => {
    if (kind === 'signals') {
      throttle ??= new DutyCycler(
        (sig) => {
          if (!exited && !killed) signalAll(sig);
        },
        () => paused,
      );
      throttle.set(share);
      return;
    }
    if (updating) return;
    updating = true;
    void enqueue(async () => {
      let tries = 0;
      while (!exited && !killed && kind !== 'signals' && appliedCpus !== wantedCpus()) {
        const want = wantedCpus();
        const r = await op(['update', '--cpus', String(want), name]);
        if (r.code === 0) appliedCpus = want;
        else if (cgroup !== null || exited || ++tries >= UPDATE_TRIES) {
          // The container runs (or should by now) but cannot be updated here: the duty cycle instead.
          kind = 'signals';
        } else await new Promise((res) => setTimeout(res, RETRY_MS));
      }
    }).finally(() => {
      updating = false;
      if (kind === 'signals' && !exited && !killed) applyShare();
    });
  };

  // Wall-time limit over unpaused time, as in runner.ts.
  const { arm, disarm } = wallTimeLimit(limits.wallTimeS, () => exited, () => {
    timedOut = true;
    handle.kill();
  });

  const output = outputPump(child, sinks);

  let resolveDone!: (e: RunExit) => void;
  const done = new Promise<RunExit>((resolve) => {
    resolveDone = resolve;
  });

  let closed = false;
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const finish = async (): Promise<void> => {
    if (settled || exitInfo === null || !closed) return;
    settled = true;
    output.flush();
    ({ exitCode, exitSignal } = exitOutcome(exitInfo.code, exitInfo.signal));
    // The runtime's own failure: say so in a line that names the image when it is not here.
    if (exitCode === 125 && !killed) {
      const present = await rtExec(rt, ['image', 'inspect', '--format', '{{.Id}}', spec.image]);
      sinks.stderr(
        present.code === 0
          ? `hearth: the container runtime could not run image ${spec.image} (exit status 125, see above)\n`
          : `hearth: image ${spec.image} is not on this node and could not be pulled (no registry reachable, or no such image)\n`,
      );
    }
    // The container must not outlive its handle (--rm removes it on a normal exit; not after a killed client).
    await enqueue(() => op(['rm', '-f', name]));
    live.delete(name);
    let timesText = '';
    try {
      timesText = readFileSync(join(metaDir, 'times'), 'latin1');
    } catch {
      /* killed, or no `times` in this shell */
    }
    rmSync(metaDir, { recursive: true, force: true });
    const exact = killed ? null : parseTimes(timesText);
    // The wrapper's figure is exact but written by a process of the customer's container: never below the cgroup's.
    finalCpuS = exact !== null ? Math.max(exact, sampledS) : sampledS;
    // The cgroup is gone by now (and the runtime's OOMKilled misses a child's kill): an OOM kill is known from a
    // sample, or inferred from a SIGKILL that nobody here sent under a memory limit (nothing else on the node sends
    // SIGKILL into a container; a command that kills itself with SIGKILL under a limit is reported as OOM too).
    const outOfMemory = !killed && memMB !== undefined && (oomKills > 0 || exitSignal === 'SIGKILL');
    resolveDone(
      endOfRun(
        { code: exitCode, signal: exitSignal, cpuTimeS: finalCpuS, wallTimeS: (t1 - t0) / 1000, killed, timedOut, outOfMemory, memoryLimitMB: memMB, memoryPeakBytes: memPeak },
        sinks,
      ),
    );
  };

  child.on('exit', (code, signal) => {
    if (exitInfo !== null) return;
    sample();
    exited = true;
    throttle?.dispose();
    if (inspectTimer !== null) clearTimeout(inspectTimer);
    if (sampler !== null) clearInterval(sampler);
    t1 = clock();
    disarm();
    paused = false;
    exitInfo = { code, signal };
    setTimeout(() => {
      if (closed) return;
      child.stdout?.destroy();
      child.stderr?.destroy();
      closed = true;
      void finish();
    }, CLOSE_GRACE_MS).unref();
  });
  child.on('close', () => {
    closed = true;
    void finish();
  });
  child.on('error', (err) => {
    // Only a failure to start the client lands here.
    if (exitInfo !== null) return;
    exited = true;
    t1 = clock();
    disarm();
    sinks.stderr(`hearth: cannot start the container runtime: ${err.message}\n`);
    exitInfo = { code: 126, signal: null };
    closed = true;
    void finish();
  });

  const handle: ContainerHandle = {
    pid,
    sandbox: 'container',
    name,
    runtime: rt.description,
    get paused() {
      return paused;
    },
    pause() {
      if (exited || killed || paused) return;
      paused = true;
      disarm();
      syncPause();
    },
    resume() {
      if (exited || killed || !paused) return;
      paused = false;
      syncPause();
      arm();
    },
    setCpuShare(s: number, c = 1) {
      if (exited || killed) return;
      const next = s >= 1 || !(s > 0) ? 1 : Math.max(MIN_SHARE, s);
      if (next === 1 && share === 1 && throttle === null && appliedCpus === null) return;
      share = next;
      cores = Math.max(1, c);
      applyShare();
    },
    get cpuShare() {
      return share;
    },
    get throttle() {
      return { kind, signals: throttle?.signals ?? 0 };
    },
    kill() {
      if (exited || killed) return;
      killed = true;
      throttle?.dispose();
      sample();
      disarm();
      void enqueue(async () => {
        await op(['kill', name]);
        await op(['rm', '-f', name]);
        // Still attached (e.g. killed while the image was being pulled or the container created): end the client
        // too, then remove what it may have made meanwhile.
        if (!exited && pid > 0) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
          await op(['rm', '-f', name]);
        }
      });
    },
    terminate(graceMs: number) {
      if (exited || killed) return;
      // The processes must run to handle the signal: no more duty cycle or pause.
      throttle?.dispose();
      throttle = null;
      if (kind === 'signals') signalAll('SIGCONT');
      if (paused) {
        paused = false;
        syncPause();
        arm();
      }
      // To the init (the wrapper), which passes it on to every other process of the container.
      void enqueue(() => op(['kill', '--signal', 'TERM', name]));
      setTimeout(() => handle.kill(), Math.max(0, graceMs)).unref();
    },
    cpuTimeS() {
      return finalCpuS ?? sample();
    },
    async idle() {
      // A pause or CPU-share loop may queue after the current chain: wait until no new link was added.
      for (let c = chain; ; c = chain) {
        await c;
        if (c === chain) return;
      }
    },
    done,
  };
  arm();
  return handle;
}
