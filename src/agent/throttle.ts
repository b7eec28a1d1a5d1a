// Holding a board's power level by throttling the CPU of an instance's process group. The hardware here has no
// frequency control of ours, so level L is held by giving the group the share of full-speed CPU that draws level
// L's power at the top frequency: P_idle + (P_max − P_idle)·share = maxWByLevel[L], i.e. share = dynW[L]/dynW[top]
// = (f_L/f_top)^exponent (default board: 0.125, 0.244, 0.422, 0.670, 1). Mechanisms, best first: a cgroup CPU
// quota (v2 cpu.max, v1 cfs_quota_us) where a child cgroup can be made, else a duty cycle of SIGSTOP/SIGCONT of
// the process group. The pure part (share, duty schedule, quota, mount parsing) has no I/O.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { MIN_SHARE } from '../physics/board.ts';

/** Period of the SIGSTOP/SIGCONT duty cycle, ms. */
export const DUTY_PERIOD_MS = 100;
/** Period of the cgroup CPU quota, µs. */
export const CPU_PERIOD_US = 100_000;
/**
 * When the cgroup throttle moves the group's processes into its cgroup, ms after it made it; then every
 * SWEEP_EVERY_MS. Only processes forked before the first move can be outside (later ones inherit the cgroup), so
 * the sweeps thin out: each one reads all of /proc.
 */
const SWEEPS_MS = [100, 500, 2000, 10_000];
const SWEEP_EVERY_MS = 30_000;

// ---------------------------------------------------------------------------------------------------------------
// Pure

// levelShare (the share that holds a level) lives with the board model: the live loop's throughput model uses it too.
export { levelShare, MIN_SHARE } from '../physics/board.ts';

/** One duty cycle: the group runs runMs, then is stopped stopMs. */
export interface DutyCycle {
  readonly runMs: number;
  readonly stopMs: number;
}

/**
 * The duty cycle that holds `share` of the CPU over `periodMs`, or null when no throttling is needed (share ≥ 1,
 * or a stop slice under 1 ms). The run slice is at least 1 ms. Pure.
 */
export function dutyCycle(share: number, periodMs = DUTY_PERIOD_MS): DutyCycle | null {
  if (!(share < 1)) return null;
  const s = Math.max(MIN_SHARE, share);
  const runMs = Math.max(1, Math.round(s * periodMs));
  const stopMs = periodMs - runMs;
  return stopMs < 1 ? null : { runMs, stopMs };
}

/**
 * Where a duty cycle started at `startMs` is at `nowMs`: running or stopped, and until when (ms, > nowMs). Derived
 * from the clock, not counted, so a late timer does not shift the schedule. Pure.
 */
export function dutyPhase(c: DutyCycle, startMs: number, nowMs: number): { running: boolean; untilMs: number } {
  const period = c.runMs + c.stopMs;
  const t = Math.max(0, nowMs - startMs);
  const base = startMs + Math.floor(t / period) * period;
  return t - (base - startMs) < c.runMs ? { running: true, untilMs: base + c.runMs } : { running: false, untilMs: base + period };
}

/** CPU quota per period, µs, for `share` of `cores` cores; null: unlimited (share ≥ 1). At least 1000 µs (the kernel's floor). Pure. */
export function cpuQuotaUs(share: number, cores: number, periodUs = CPU_PERIOD_US): number | null {
  if (!(share < 1)) return null;
  return Math.max(1000, Math.round(Math.max(MIN_SHARE, share) * Math.max(1, cores) * periodUs));
}

/**
 * The directory of this process's cgroup for the cgroup v1 `controller` (e.g. 'memory', 'cpu'), or the cgroup v2
 * directory when `controller` is null, from /proc/self/mounts and /proc/self/cgroup; null when absent. Pure.
 */
export function cgroupDir(mounts: string, selfCgroup: string, controller: string | null): string | null {
  let mount: string | null = null;
  for (const line of mounts.split('\n')) {
    const f = line.split(' ');
    if (f.length < 4) continue;
    const dir = f[1].replace(/\\040/g, ' ');
    if (controller === null ? f[2] === 'cgroup2' : f[2] === 'cgroup' && f[3].split(',').includes(controller)) {
      mount = dir;
      break;
    }
  }
  if (mount === null) return null;
  for (const line of selfCgroup.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const hit = controller === null ? m[1] === '0' && m[2] === '' : m[2].split(',').includes(controller);
    if (hit) return m[3] === '/' || m[3] === '' ? mount : `${mount}${m[3]}`;
  }
  return null;
}

/**
 * Where this process's cgroups are, from /proc/self/mounts and /proc/self/cgroup: the cgroup v2 directory (unified
 * hierarchy) and the cgroup v1 directory of the `cpu` controller, each null when absent. Pure.
 */
export function cgroupDirs(mounts: string, selfCgroup: string): { v2: string | null; v1cpu: string | null } {
  return { v2: cgroupDir(mounts, selfCgroup, null), v1cpu: cgroupDir(mounts, selfCgroup, 'cpu') };
}

// ---------------------------------------------------------------------------------------------------------------
// Mechanism

/** How the CPU share is enforced. */
export type ThrottleKind = 'cgroup2' | 'cgroup1' | 'signals';

/** The mechanism detected on this machine. */
export interface PowerFollowing {
  readonly kind: ThrottleKind;
  /** The cgroup directory under which one child cgroup per throttled group is made (cgroup kinds). */
  readonly dir: string | null;
  /** One line saying what is used, e.g. "power following: cgroup v1 cfs quota". */
  readonly description: string;
}

const SIGNALS: PowerFollowing = { kind: 'signals', dir: null, description: `power following: duty cycle SIGSTOP/SIGCONT of the process group, ${DUTY_PERIOD_MS} ms period` };

/** Tries to make, configure and remove a child cgroup under `dir`; true when it all worked. */
function probe(kind: 'cgroup2' | 'cgroup1', dir: string): boolean {
  const child = `${dir}/hearth-probe-${process.pid}`;
  try {
    if (kind === 'cgroup2') {
      if (!readFileSync(`${dir}/cgroup.controllers`, 'utf8').split(/\s+/).includes('cpu')) return false;
      mkdirSync(child);
      if (!existsSync(`${child}/cpu.max`)) {
        // The cpu controller is not enabled for our children: enabling it fails while our own cgroup holds
        // processes (the "no internal processes" rule) unless it is the root.
        try {
          writeFileSync(`${dir}/cgroup.subtree_control`, '+cpu');
        } catch {
          /* not allowed */
        }
      }
      writeFileSync(`${child}/cpu.max`, `max ${CPU_PERIOD_US}`);
    } else {
      mkdirSync(child);
      writeFileSync(`${child}/cpu.cfs_period_us`, String(CPU_PERIOD_US));
      writeFileSync(`${child}/cpu.cfs_quota_us`, '-1');
    }
    return true;
  } catch {
    return false;
  } finally {
    try {
      rmdirSync(child);
    } catch {
      /* not made */
    }
  }
}

/**
 * Removes the empty cgroups that agents now gone left under `dir` (named `<prefix><pid>-<n>`: the CPU groups
 * 'hearth-', the memory groups 'hearth-mem-'). Best effort.
 */
export function reapStaleCgroups(dir: string, prefix = 'hearth-'): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const pattern = new RegExp(`^${prefix}(\\d+)-\\d+$`);
  for (const name of names) {
    const m = pattern.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = pid === process.pid;
    if (!alive) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch (e) {
        alive = (e as NodeJS.ErrnoException).code === 'EPERM';
      }
    }
    if (alive) continue;
    try {
      rmdirSync(`${dir}/${name}`);
    } catch {
      /* still holds processes */
    }
  }
}

function detect(): PowerFollowing {
  let dirs: { v2: string | null; v1cpu: string | null };
  try {
    dirs = cgroupDirs(readFileSync('/proc/self/mounts', 'utf8'), readFileSync('/proc/self/cgroup', 'utf8'));
  } catch {
    return SIGNALS;
  }
  if (dirs.v2 !== null && probe('cgroup2', dirs.v2)) {
    reapStaleCgroups(dirs.v2);
    return { kind: 'cgroup2', dir: dirs.v2, description: 'power following: cgroup v2 cpu.max' };
  }
  if (dirs.v1cpu !== null && probe('cgroup1', dirs.v1cpu)) {
    reapStaleCgroups(dirs.v1cpu);
    return { kind: 'cgroup1', dir: dirs.v1cpu, description: 'power following: cgroup v1 cfs quota' };
  }
  return SIGNALS;
}

let detected: PowerFollowing | null = null;

/** The mechanism this machine offers (probed once: makes and removes a child cgroup; then cached). */
export function powerFollowing(): PowerFollowing {
  detected ??= detect();
  return detected;
}

/** The duty-cycle mechanism (always available where signals are). */
export function signalsMechanism(): PowerFollowing {
  return SIGNALS;
}

// ---------------------------------------------------------------------------------------------------------------
// Throttles of one process group

/** Holds one process group to a CPU share. */
export interface GroupThrottle {
  readonly kind: ThrottleKind;
  /** The share in force (1: not throttled). */
  readonly share: number;
  /** SIGSTOP/SIGCONT sent so far by this throttle (always 0 for cgroups). */
  readonly signals: number;
  /** Sets the share (1: no throttling) over `cores` cores. */
  set(share: number, cores: number): void;
  /** True while the duty cycle is in its stopped slice (a resume must not continue the group then). */
  holdsStopped(): boolean;
  /** Stops throttling for good, sending nothing (the group is being killed or is gone); removes a cgroup once empty. */
  dispose(): void;
}

/**
 * SIGSTOP/SIGCONT duty cycle. `signal` sends to the group; `paused` says a pause (coordinator or safety) holds it:
 * then nothing is sent (the group stays stopped), and the cycle resumes with the next edge after the resume.
 * At share 1 no timer runs and nothing is sent.
 */
export class DutyCycler implements GroupThrottle {
  readonly kind = 'signals';
  share = 1;
  signals = 0;
  private cycle: DutyCycle | null = null;
  private startMs = 0;
  private running = true;
  private timer: NodeJS.Timeout | null = null;
  private disposed = false;

  constructor(
    private readonly signal: (sig: 'SIGSTOP' | 'SIGCONT') => void,
    private readonly paused: () => boolean,
    private readonly periodMs = DUTY_PERIOD_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  set(share: number): void {
    if (this.disposed) return;
    const s = share >= 1 || !(share > 0) ? 1 : Math.max(MIN_SHARE, share);
    if (s === this.share) return;
    this.share = s;
    const c = dutyCycle(s, this.periodMs);
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (c === null) {
      this.cycle = null;
      if (!this.running) {
        this.running = true;
        this.send('SIGCONT');
      }
      return;
    }
    if (this.cycle === null) this.startMs = this.now();
    this.cycle = c;
    this.step();
  }

  holdsStopped(): boolean {
    return this.cycle !== null && !this.running;
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.cycle = null;
  }

  private send(sig: 'SIGSTOP' | 'SIGCONT'): void {
    if (this.paused()) return;
    this.signals++;
    this.signal(sig);
  }

  private step(): void {
    this.timer = null;
    const c = this.cycle;
    if (c === null || this.disposed) return;
    const now = this.now();
    const ph = dutyPhase(c, this.startMs, now);
    if (ph.running !== this.running) {
      this.running = ph.running;
      this.send(ph.running ? 'SIGCONT' : 'SIGSTOP');
    }
    this.timer = setTimeout(() => this.step(), Math.max(1, ph.untilMs - now));
    this.timer.unref();
  }
}

let cgroupSeq = 0;

/**
 * A child cgroup with a CPU quota (made on the first share below 1). The group's processes are moved into it
 * then and by a few sweeps after (a process forked before the move stays outside until the next sweep; those
 * forked after inherit the cgroup). `members` lists the group's live pids.
 */
export class CgroupThrottle implements GroupThrottle {
  share = 1;
  readonly signals = 0;
  private cg: string | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweeps = 0;
  private disposed = false;

  constructor(
    readonly kind: 'cgroup2' | 'cgroup1',
    private readonly parentDir: string,
    private readonly members: () => number[],
  ) {}

  set(share: number, cores: number): void {
    if (this.disposed) return;
    const s = share >= 1 || !(share > 0) ? 1 : Math.max(MIN_SHARE, share);
    if (s === this.share && this.cg !== null) return;
    if (s === 1 && this.cg === null) return;
    this.share = s;
    try {
      if (this.cg === null) {
        const dir = `${this.parentDir}/hearth-${process.pid}-${++cgroupSeq}`;
        mkdirSync(dir);
        this.cg = dir;
        if (this.kind === 'cgroup1') writeFileSync(`${dir}/cpu.cfs_period_us`, String(CPU_PERIOD_US));
        this.writeQuota(cores);
        this.sweep();
      } else {
        this.writeQuota(cores);
      }
    } catch {
      /* the cgroup went away or refused: the group runs unthrottled (reported by the measured CPU) */
    }
  }

  holdsStopped(): boolean {
    return false;
  }

  /** The cgroup directory (null until the first throttling). */
  get path(): string | null {
    return this.cg;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.sweepTimer !== null) clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
    const dir = this.cg;
    if (dir === null) return;
    // The killed processes leave the cgroup as they are reaped: try again for a few seconds.
    let tries = 0;
    const remove = (): void => {
      try {
        rmdirSync(dir);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && ++tries < 50) setTimeout(remove, 100).unref();
      }
    };
    remove();
  }

  private writeQuota(cores: number): void {
    const dir = this.cg;
    if (dir === null) return;
    const q = cpuQuotaUs(this.share, cores);
    if (this.kind === 'cgroup2') writeFileSync(`${dir}/cpu.max`, `${q === null ? 'max' : q} ${CPU_PERIOD_US}`);
    else writeFileSync(`${dir}/cpu.cfs_quota_us`, q === null ? '-1' : String(q));
  }

  private sweep(): void {
    this.sweepTimer = null;
    const dir = this.cg;
    if (dir === null || this.disposed) return;
    const prevMs = this.sweeps === 0 ? 0 : (SWEEPS_MS[this.sweeps - 1] ?? 0);
    const nextMs = this.sweeps < SWEEPS_MS.length ? SWEEPS_MS[this.sweeps] - prevMs : SWEEP_EVERY_MS;
    this.sweeps++;
    this.sweepTimer = setTimeout(() => this.sweep(), nextMs);
    this.sweepTimer.unref();
    let inside: Set<number>;
    try {
      inside = new Set(readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number));
    } catch {
      return;
    }
    for (const pid of this.members()) {
      if (inside.has(pid)) continue;
      try {
        writeFileSync(`${dir}/cgroup.procs`, String(pid));
      } catch {
        /* gone meanwhile */
      }
    }
  }
}
