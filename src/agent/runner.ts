// Runs one task instance's command as a real process group (inside bubblewrap when this machine allows it):
// streams its output, pauses/resumes/kills the whole group, enforces limits and measures its CPU time.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import { MemoryCgroup, memoryLimiting } from './memory-cgroup.ts';
import { CgroupThrottle, DutyCycler, powerFollowing, signalsMechanism, type GroupThrottle, type ThrottleKind } from './throttle.ts';

/** What to run. */
export interface RunSpec {
  /** Shell command line (DOCKER_CMD after ${NAME} expansion), run by /bin/sh -c. */
  command: string;
  /** Complete environment of the process (the caller builds it; nothing of process.env is inherited except PATH, HOME and LANG, added when absent). */
  env: Record<string, string>;
  /** Working directory (exists, the instance's own). Inside the sandbox it is the only writable place besides a private /tmp. */
  workDir: string;
  /**
   * Limits, optional. wallTimeS: seconds of unpaused running time, then SIGKILL of the group and timedOut=true.
   * memoryMB: memory of the whole group, MiB: a cgroup memory limit (swap included) where a child cgroup can be
   * made here (memory-cgroup.ts; the kernel's OOM killer ends the group and the exit says outOfMemory), else an
   * address-space limit per process (prlimit when /usr/bin/prlimit exists, else `ulimit -v`).
   * cpuTimeS: CPU seconds per process (RLIMIT_CPU: SIGXCPU at the limit, SIGKILL one second later).
   */
  limits?: { wallTimeS?: number; memoryMB?: number; cpuTimeS?: number };
  /** 'auto' (default): inside bubblewrap when it works here, plain otherwise. 'none': always plain. */
  isolation?: 'auto' | 'none';
  /**
   * How memoryMB/cpuTimeS are applied: 'auto' (default: memory by cgroup where possible, per-process limits by prlimit
   * when /usr/bin/prlimit exists, else ulimit) or 'ulimit' (the shell's ulimit for both, no cgroup).
   */
  limitsVia?: 'auto' | 'ulimit';
  /**
   * How setCpuShare holds the group to a share of the CPU: 'auto' (default: a cgroup CPU quota when a child cgroup
   * can be made here, else the SIGSTOP/SIGCONT duty cycle) or 'signals' (always the duty cycle).
   */
  throttle?: 'auto' | 'signals';
}

/** Receivers of the process's output, utf-8 decoded, in arrival order. They must not throw. */
export interface RunSinks {
  stdout(chunk: string): void;
  stderr(chunk: string): void;
}

/** How a run ended. Exactly one of code and signal is non-null. */
export interface RunExit {
  /** Exit status of the command (a status 128+n of a shell is reported as signal n, as shells themselves do). */
  code: number | null;
  /** Name of the signal that ended the command (e.g. 'SIGKILL'), or null. */
  signal: string | null;
  /** CPU seconds (user + system) of the command and every descendant it waited for. */
  cpuTimeS: number;
  /** Seconds from start to exit by the injected clock, pauses included. */
  wallTimeS: number;
  /** The group was ended by kill() or by the wall-time limit. */
  killed: boolean;
  /** The group was ended by the wall-time limit. */
  timedOut: boolean;
  /** The kernel ended a process of the group for going over the memory limit (cgroup limits only). */
  outOfMemory: boolean;
  /** Peak memory of the group, MiB (cgroup limits only; null otherwise). */
  memoryPeakMB: number | null;
}

/** A running (or finished) command. */
export interface RunHandle {
  /** Pid of the group leader (also the process group id); -1 if the process could not start. */
  readonly pid: number;
  /** How the command is confined: inside bubblewrap or plain (limits only). */
  readonly sandbox: 'bwrap' | 'none' | 'container';
  /** Freeze the whole process group (SIGSTOP); idempotent; no-op after exit. The wall-time limit does not run while paused. */
  pause(): void;
  /** Continue the whole process group (SIGCONT); idempotent; no-op after exit. */
  resume(): void;
  readonly paused: boolean;
  /**
   * Holds the group to `share` (0..1] of `cores` full-speed cores (throttle.ts): 1 (the default) is no throttling at
   * all. Never continues a paused group: a pause holds, and resume() brings the throttling back. No-op after exit.
   */
  setCpuShare(share: number, cores?: number): void;
  /** The share in force (1: not throttled). */
  readonly cpuShare: number;
  /** The mechanism setCpuShare uses, and how many SIGSTOP/SIGCONT its duty cycle sent so far (0 for cgroups). */
  readonly throttle: { readonly kind: ThrottleKind; readonly signals: number };
  /** SIGKILL the whole group; `done` then resolves with killed=true. Idempotent; no-op after exit. */
  kill(): void;
  /**
   * Asks the command to stop: ends any throttling, continues the group if paused, SIGTERMs every process of the group
   * but the wrapper that leads it (and waits for it), then SIGKILLs the group after `graceMs` if it has not exited.
   * No-op after exit or kill.
   */
  terminate(graceMs: number): void;
  /**
   * CPU seconds used so far by every live process of the group (utime+stime+cutime+cstime from /proc/<pid>/stat),
   * best effort and never decreasing while running; after a natural exit, the exact figure the shell reports.
   */
  cpuTimeS(): number;
  readonly done: Promise<RunExit>;
}

/** What this machine offers to confine a process. */
export interface SandboxCapabilities {
  /** /usr/bin/prlimit exists (limits set by it rather than by the shell's ulimit). */
  prlimit: boolean;
  /** bubblewrap is installed and a probe sandbox ran. */
  bwrap: boolean;
  /** A child memory cgroup can be made here: memory is limited per instance (group), not per process. */
  cgroupWritable: boolean;
  /** A sentence saying what is degraded, or '' when nothing is. */
  degraded: string;
}

const PRLIMIT = '/usr/bin/prlimit';
const BWRAP_CANDIDATES = ['/usr/bin/bwrap', '/usr/local/bin/bwrap', '/bin/bwrap'];
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** setTimeout's longest delay, ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A wall-time limit over unpaused time, on the real monotonic clock: `arm()` while the command runs, `disarm()`
 * while it is paused and when it ends; `expire` is called once the limit is used up (unless `over()` says the command
 * already ended). Timers longer than setTimeout's ~24.8-day ceiling are chained. No limit: both are no-ops.
 */
export function wallTimeLimit(limitS: number | undefined, over: () => boolean, expire: () => void): { arm: () => void; disarm: () => void } {
  let timer: NodeJS.Timeout | null = null;
  let remainingMs = limitS !== undefined ? limitS * 1000 : Infinity;
  let armedAt = 0;
  const arm = (): void => {
    if (!Number.isFinite(remainingMs) || over() || timer !== null) return;
    armedAt = performance.now();
    timer = setTimeout(() => {
      timer = null;
      remainingMs -= performance.now() - armedAt;
      if (over()) return;
      if (remainingMs > 1) {
        arm();
        return;
      }
      expire();
    }, Math.min(Math.max(0, remainingMs), MAX_TIMER_MS));
  };
  const disarm = (): void => {
    if (timer === null) return;
    clearTimeout(timer);
    timer = null;
    remainingMs -= performance.now() - armedAt;
  };
  return { arm, disarm };
}
/** How long to wait for the output pipes to close after the command exited (a process that left the group may hold them). */
const CLOSE_GRACE_MS = 2000;
/** How long `done` waits for the killed group's last members to finish exiting. */
const GROUP_GONE_WAIT_MS = 2000;

/** Signals a process can die of (default action terminate or core), by number, for the 128+n convention. */
const FATAL_SIGNALS: ReadonlyMap<number, string> = (() => {
  const notFatal = new Set(['SIGCHLD', 'SIGCONT', 'SIGSTOP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGURG', 'SIGWINCH']);
  const m = new Map<number, string>();
  for (const [name, n] of Object.entries(osConstants.signals)) if (!notFatal.has(name) && !m.has(n)) m.set(n, name);
  return m;
})();

/**
 * How a process ended, from its exit: the signal it died of — its own, or a child's under the shell's 128+n exit
 * code convention (the wrapper shell, a container's init) — else its exit code.
 */
export function exitOutcome(code: number | null, signal: string | null): { exitCode: number | null; exitSignal: string | null } {
  if (signal !== null) return { exitCode: null, exitSignal: signal };
  const fatal = code !== null && code > 128 ? FATAL_SIGNALS.get(code - 128) : undefined;
  return fatal !== undefined ? { exitCode: null, exitSignal: fatal } : { exitCode: code, exitSignal: null };
}

/**
 * The report of a run that ended, for processes and containers alike: an out-of-memory end is said on the
 * instance's stderr (one line naming the limit), and the memory peak is given in MiB to 0.1.
 */
export function endOfRun(
  e: Omit<RunExit, 'memoryPeakMB'> & { memoryLimitMB: number | undefined; memoryPeakBytes: number | null },
  sinks: RunSinks,
): RunExit {
  if (e.outOfMemory) sinks.stderr(`hearth: the instance went over its memory limit (${e.memoryLimitMB} MiB) and the kernel ended it\n`);
  return {
    code: e.code,
    signal: e.signal,
    cpuTimeS: e.cpuTimeS,
    wallTimeS: e.wallTimeS,
    killed: e.killed,
    timedOut: e.timedOut,
    outOfMemory: e.outOfMemory,
    memoryPeakMB: e.memoryPeakBytes === null ? null : Math.round((e.memoryPeakBytes / 1048576) * 10) / 10,
  };
}

/**
 * Streams a child's stdout and stderr to the sinks as UTF-8 text (a character split across chunks waits for its
 * other bytes); `flush()`, once the pipes are closed, hands over whatever was held back.
 */
export function outputPump(child: ChildProcess, sinks: RunSinks): { flush: () => void } {
  const outDecoder = new StringDecoder('utf8');
  const errDecoder = new StringDecoder('utf8');
  child.stdout?.on('data', (b: Buffer) => {
    const s = outDecoder.write(b);
    if (s) sinks.stdout(s);
  });
  child.stderr?.on('data', (b: Buffer) => {
    const s = errDecoder.write(b);
    if (s) sinks.stderr(s);
  });
  return {
    flush: () => {
      const o = outDecoder.end();
      if (o) sinks.stdout(o);
      const e = errDecoder.end();
      if (e) sinks.stderr(e);
    },
  };
}

/**
 * Expands `${NAME}` (NAME = [A-Za-z_][A-Za-z0-9_]*) from env; unknown names expand to ''. `$NAME`, a lone `$`
 * and malformed `${...}` are left as they are (the shell may still expand `$NAME` from the environment). Pure.
 */
export function expandCommand(command: string, env: Record<string, string>): string {
  return command.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) =>
    Object.prototype.hasOwnProperty.call(env, name) ? env[name] : '',
  );
}

let capabilities: (SandboxCapabilities & { bwrapPath: string | null }) | null = null;

/** Arguments of bubblewrap for a sandbox whose writable directory is workDir, up to and including `--`. */
function bwrapArgs(workDir: string | null): string[] {
  const args = ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp'];
  // Bound after the tmpfs so that a workDir under /tmp stays visible.
  if (workDir !== null) args.push('--bind', workDir, workDir, '--chdir', workDir);
  // No --new-session: it would move the sandbox out of our process group (pause and kill would miss it). The
  // group is already a session of its own without a controlling terminal (spawned detached), so there is no
  // terminal to inject input into.
  args.push('--unshare-net', '--unshare-ipc', '--unshare-pid', '--as-pid-1', '--die-with-parent', '--');
  return args;
}

function detect(): SandboxCapabilities & { bwrapPath: string | null } {
  const prlimit = existsSync(PRLIMIT);
  const found = BWRAP_CANDIDATES.find((p) => existsSync(p)) ?? null;
  let bwrapPath: string | null = null;
  let bwrapWhy = 'bubblewrap (bwrap) is not installed';
  if (found !== null) {
    const probe = spawnSync(found, [...bwrapArgs(null), '/bin/true'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000, env: { PATH: DEFAULT_PATH } });
    if (probe.status === 0) bwrapPath = found;
    else bwrapWhy = `bubblewrap does not work here (${(probe.stderr?.toString('utf8').trim() || probe.error?.message || `status ${String(probe.status ?? probe.signal)}`).slice(0, 200)})`;
  }
  const cgroupWritable = memoryLimiting() !== null;
  const degraded: string[] = [];
  if (bwrapPath === null) degraded.push(`${bwrapWhy}: commands run unconfined (host filesystem writable, network reachable), with resource limits only`);
  if (!prlimit) degraded.push('prlimit is missing: limits are set with the shell\'s ulimit');
  if (!cgroupWritable) degraded.push('no memory cgroup can be made here: memory is limited per process (address space), not per instance');
  return { prlimit, bwrap: bwrapPath !== null, cgroupWritable, degraded: degraded.length ? `${degraded.join('; ')}.` : '', bwrapPath };
}

/**
 * What this machine offers to confine a process: prlimit, a working bubblewrap, a writable cgroup tree, and a
 * sentence of what is degraded. Detected once (runs a probe sandbox, up to a few hundred ms), then cached.
 */
export function sandboxCapabilities(): SandboxCapabilities {
  capabilities ??= detect();
  const { prlimit, bwrap, cgroupWritable, degraded } = capabilities;
  return { prlimit, bwrap, cgroupWritable, degraded };
}

let clockTicksPerS: number | null = null;
function ticksPerS(): number {
  if (clockTicksPerS === null) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8', env: { PATH: DEFAULT_PATH } });
    const n = Number.parseInt(r.stdout ?? '', 10);
    clockTicksPerS = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return clockTicksPerS;
}

/** Clock ticks of CPU (own + waited-for children) of every process whose process group is pgid; null without /proc. */
function groupCpuTicks(pgid: number): number | null {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return null;
  }
  let total = 0;
  // /proc lists pids in ascending order, so a parent is usually read before its children: a child reaped
  // between two reads is then missed by one sample rather than counted twice.
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue; // gone meanwhile
    }
    // Fields after "pid (comm) ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(f[2]) !== pgid) continue;
    total += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return total;
}

/** Live (not zombie) pids whose process group is pgid. */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid && f[0] !== 'Z' && f[0] !== 'X') out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Calls `then` once no live member of the group is left, polling /proc, or after `maxMs` whatever is left. */
function whenGroupGone(pgid: number, maxMs: number, then: () => void): void {
  if (pgid <= 0 || groupMembers(pgid).length === 0) {
    then();
    return;
  }
  const until = performance.now() + maxMs;
  const poll = (): void => {
    if (groupMembers(pgid).length === 0 || performance.now() >= until) then();
    else setTimeout(poll, 10);
  };
  setTimeout(poll, 10);
}

/** Children's user+system seconds from the output of the shell's `times` builtin (second line), or null. */
function parseTimes(text: string): number | null {
  const line = text.split('\n')[1];
  if (line === undefined) return null;
  const parts = [...line.matchAll(/(\d+)m([\d.]+)s/g)];
  if (parts.length !== 2) return null;
  return parts.reduce((s, m) => s + Number(m[1]) * 60 + Number(m[2]), 0);
}

function checkLimit(name: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new RangeError(`limits.${name} must be a positive number, got ${v}`);
}

/**
 * The wrapper shell script: runs "$@" (the limited command) with the wrapper's own descriptors closed, keeps its
 * status, reports the CPU time of its children with `times` on fd 3 and exits with the command's status. The
 * wrapper's own stderr goes to /dev/null (a shell announces "Terminated" when its child dies of a signal); the
 * command's stderr is the real one (kept on fd 4). The ulimit commands hold only integers.
 */
function wrapperScript(ulimits: string[]): string {
  // In a subshell that execs, so that the wrapper itself (whose stderr is /dev/null) is the one that waits.
  const limit = ulimits.length === 0 ? '' : `${ulimits.join(' && ')} || { echo "hearth: cannot set resource limits" >&4; exit 125; }; `;
  return `exec 4>&2 2>/dev/null; (${limit}exec "$@" 2>&4 3>&- 4>&-); s=$?; times >&3; exit $s`;
}

/** The handle of a command that could not even be spawned: its `done` reports status 126 after saying why on stderr. */
function failedStart(err: Error, sinks: RunSinks, sandbox: RunHandle['sandbox'], elapsedS: () => number): RunHandle {
  const done = new Promise<RunExit>((resolve) => {
    setImmediate(() => {
      sinks.stderr(`hearth: cannot start the command: ${err.message}\n`);
      resolve({ code: 126, signal: null, cpuTimeS: 0, wallTimeS: elapsedS(), killed: false, timedOut: false, outOfMemory: false, memoryPeakMB: null });
    });
  });
  return { pid: -1, sandbox, paused: false, pause() {}, resume() {}, kill() {}, terminate() {}, setCpuShare() {}, cpuShare: 1, throttle: { kind: 'signals', signals: 0 }, cpuTimeS: () => 0, done };
}

/**
 * Starts `spec.command` with `/bin/sh -c` in its own process group (and its own session), inside bubblewrap when
 * available (read-only root, workDir writable and the cwd, private /tmp, no network, own pid namespace), with
 * the limits applied. Never throws for a bad command (the shell says "not found" and exits 127); throws
 * RangeError for a non-positive limit. When the command exits, whatever it left running in its group is killed.
 * clock: milliseconds, monotonic (default performance.now), used for wallTimeS.
 */
export function startProcess(spec: RunSpec, sinks: RunSinks, clock: () => number = () => performance.now()): RunHandle {
  const limits = spec.limits ?? {};
  checkLimit('wallTimeS', limits.wallTimeS);
  checkLimit('memoryMB', limits.memoryMB);
  checkLimit('cpuTimeS', limits.cpuTimeS);

  const caps = spec.isolation === 'none' ? null : (capabilities ??= detect());
  const bwrap = caps?.bwrapPath ?? null;
  const usePrlimit = spec.limitsVia !== 'ulimit' && existsSync(PRLIMIT);

  const memKiB = limits.memoryMB !== undefined ? Math.max(1, Math.floor(limits.memoryMB * 1024)) : undefined;
  // One memory limit for the whole group where a cgroup can be made; the group joins it before anything runs.
  const memCg = memKiB !== undefined && spec.limitsVia !== 'ulimit' ? MemoryCgroup.create(memKiB * 1024) : null;
  const cpuS = limits.cpuTimeS !== undefined ? Math.max(1, Math.ceil(limits.cpuTimeS)) : undefined;
  const limited: string[] = [];
  const ulimits: string[] = [];
  // No core dumps, ever: a customer's crash must not fill the disk (or stall the exit while it is written).
  if (usePrlimit) {
    limited.push(PRLIMIT, '--core=0');
    if (memKiB !== undefined && memCg === null) limited.push(`--as=${memKiB * 1024}`);
    if (cpuS !== undefined) limited.push(`--cpu=${cpuS}:${cpuS + 1}`);
  } else {
    ulimits.push('ulimit -c 0');
    if (memKiB !== undefined && memCg === null) ulimits.push(`ulimit -v ${memKiB}`);
    if (cpuS !== undefined) ulimits.push(`ulimit -S -t ${cpuS}`, `ulimit -H -t ${cpuS + 1}`);
  }
  limited.push('/bin/sh', '-c', spec.command);
  const wrapper = ['/bin/sh', '-c', wrapperScript(ulimits), 'hearth-run', ...limited];
  // In the sandbox the wrapper is the pid namespace's init (--as-pid-1): it reaps every process of the sandbox,
  // so `times` counts them all (bubblewrap's own init would swallow their CPU time).
  const sandboxed = bwrap !== null ? [bwrap, ...bwrapArgs(spec.workDir), ...wrapper] : wrapper;
  const argv = memCg !== null ? [...memCg.joinArgs(), ...sandboxed] : sandboxed;

  const env: Record<string, string> = { ...spec.env };
  env.PATH ??= process.env.PATH ?? DEFAULT_PATH;
  env.HOME ??= process.env.HOME ?? spec.workDir;
  env.LANG ??= process.env.LANG ?? 'C.UTF-8';

  const t0 = clock();
  const sandbox = bwrap !== null ? 'bwrap' : 'none';
  let child: ChildProcess;
  try {
    child = spawn(argv[0], argv.slice(1), {
      cwd: spec.workDir,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
  } catch (err) {
    // Arguments Node refuses outright (a NUL byte in the command or the environment).
    memCg?.remove();
    return failedStart(err as Error, sinks, sandbox, () => (clock() - t0) / 1000);
  }
  const pid = child.pid ?? -1;

  let exited = false;
  let settled = false;
  let paused = false;
  let killed = false;
  let timedOut = false;
  let exitCode: number | null = null;
  let exitSignal: string | null = null;
  let t1 = t0;
  let sampledTicks = 0;
  let finalCpuS: number | null = null;
  let timesText = '';

  const signalGroup = (sig: NodeJS.Signals): void => {
    if (pid <= 0) return;
    try {
      process.kill(-pid, sig);
    } catch {
      // ESRCH: the group is gone already.
    }
  };
  // CPU throttling (made on the first share below 1; the mechanism is chosen once per machine).
  const mechanism = spec.throttle === 'signals' ? signalsMechanism() : powerFollowing();
  let throttle: GroupThrottle | null = null;
  const makeThrottle = (): GroupThrottle =>
    mechanism.kind !== 'signals' && mechanism.dir !== null
      ? new CgroupThrottle(mechanism.kind, mechanism.dir, () => groupMembers(pid))
      : new DutyCycler(
          (sig) => {
            if (!exited && !killed) signalGroup(sig);
          },
          () => paused,
        );
  const sample = (): number => {
    if (!exited && pid > 0) {
      const ticks = groupCpuTicks(pid);
      if (ticks !== null && ticks > sampledTicks) sampledTicks = ticks;
    }
    return sampledTicks / ticksPerS();
  };

  // Wall-time limit over unpaused time (armed while running, disarmed while paused and at exit).
  const { arm, disarm } = wallTimeLimit(limits.wallTimeS, () => exited, () => {
    timedOut = true;
    handle.kill();
  });

  const output = outputPump(child, sinks);
  const fd3 = child.stdio[3];
  fd3?.on('data', (b: Buffer) => {
    if (timesText.length < 4096) timesText += b.toString('latin1');
  });

  let resolveDone!: (e: RunExit) => void;
  const done = new Promise<RunExit>((resolve) => {
    resolveDone = resolve;
  });

  const finish = (): void => {
    if (settled) return;
    settled = true;
    // The group was SIGKILLed at exit; a member may still be on its way out (a pid namespace's init sleeps until
    // its namespace is reaped). `done` means the group is gone, so wait for that, bounded.
    whenGroupGone(pid, GROUP_GONE_WAIT_MS, settle);
  };
  const settle = (): void => {
    output.flush();
    const exact = killed ? null : parseTimes(timesText);
    finalCpuS = exact ?? sampledTicks / ticksPerS();
    const outOfMemory = memCg !== null && memCg.oomKills() > 0;
    const peak = memCg?.peakBytes() ?? null;
    memCg?.remove();
    resolveDone(
      endOfRun(
        { code: exitCode, signal: exitSignal, cpuTimeS: finalCpuS, wallTimeS: (t1 - t0) / 1000, killed, timedOut, outOfMemory, memoryLimitMB: limits.memoryMB, memoryPeakBytes: peak },
        sinks,
      ),
    );
  };

  child.on('exit', (code, signal) => {
    exited = true;
    throttle?.dispose();
    t1 = clock();
    disarm();
    paused = false;
    ({ exitCode, exitSignal } = exitOutcome(code, signal));
    // The command is over: end whatever it left running in its group (as a container stop would).
    signalGroup('SIGKILL');
    // A process that left the group may still hold the pipes: do not wait for it forever.
    setTimeout(() => {
      if (settled) return;
      child.stdout?.destroy();
      child.stderr?.destroy();
      fd3?.destroy();
      finish();
    }, CLOSE_GRACE_MS).unref();
  });
  child.on('close', finish);
  child.on('error', (err) => {
    // Only a failure to start lands here (we never use child.kill()).
    if (exited || settled) return;
    exited = true;
    throttle?.dispose();
    t1 = clock();
    disarm();
    sinks.stderr(`hearth: cannot start the command: ${err.message}\n`);
    exitCode = 126;
    finish();
  });

  const handle: RunHandle = {
    pid,
    sandbox,
    get paused() {
      return paused;
    },
    pause() {
      if (exited || paused) return;
      paused = true;
      disarm();
      signalGroup('SIGSTOP');
    },
    resume() {
      if (exited || !paused) return;
      paused = false;
      // In the stopped slice of a duty cycle the group stays stopped: the cycle continues it at its next edge.
      if (throttle?.holdsStopped() !== true) signalGroup('SIGCONT');
      arm();
    },
    setCpuShare(share: number, cores = 1) {
      if (exited || killed || pid <= 0) return;
      if (throttle === null) {
        if (!(share < 1)) return;
        throttle = makeThrottle();
      }
      throttle.set(share, cores);
    },
    get cpuShare() {
      return throttle?.share ?? 1;
    },
    get throttle() {
      return { kind: mechanism.kind, signals: throttle?.signals ?? 0 };
    },
    kill() {
      if (exited || killed) return;
      killed = true;
      throttle?.dispose();
      sample();
      disarm();
      signalGroup('SIGKILL');
    },
    terminate(graceMs: number) {
      if (exited || killed || pid <= 0) return;
      // The group must run to handle the signal: no more duty cycle or pause.
      throttle?.dispose();
      throttle = null;
      paused = false;
      signalGroup('SIGCONT');
      // Not the leader (bubblewrap, or the wrapper shell): its death would end the run (and SIGKILL the group) at
      // once. In the sandbox the wrapper is the pid namespace's init, which ignores a signal it has no handler for.
      for (const member of groupMembers(pid)) {
        if (member === pid) continue;
        try {
          process.kill(member, 'SIGTERM');
        } catch {
          /* gone */
        }
      }
      setTimeout(() => handle.kill(), Math.max(0, graceMs)).unref();
    },
    cpuTimeS() {
      return finalCpuS ?? sample();
    },
    done,
  };
  arm();
  return handle;
}
