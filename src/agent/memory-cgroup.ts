// Memory limits per instance with a cgroup, where this machine lets the agent make one: the instance's whole
// process group shares one limit (the kernel's OOM killer ends it when the group goes over), swap included, and
// the peak use is read back. Elsewhere the runner falls back to prlimit's address-space limit per process, which
// is a poor stand-in (a JVM or Go runtime reserves far more address space than it uses).
//
// The instance joins its cgroup before anything of it runs: the runner starts it through `joinArgs()`, a shell
// that writes its own pid into the cgroup and then execs the sandbox, so every descendant inherits the cgroup.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { cgroupDir, reapStaleCgroups } from './throttle.ts';

/** How memory is limited on this machine. */
export interface MemoryLimiting {
  readonly kind: 'cgroup2' | 'cgroup1';
  /** The cgroup directory under which one child per instance is made. */
  readonly dir: string;
  /** One line saying what is used. */
  readonly description: string;
}

const PREFIX = 'hearth-mem-';
let seq = 0;

/** Makes a child cgroup under `dir` with a memory limit, or throws. */
function makeChild(kind: 'cgroup2' | 'cgroup1', dir: string, limitBytes: number): string {
  const child = `${dir}/${PREFIX}${process.pid}-${++seq}`;
  mkdirSync(child);
  try {
    const limit = String(Math.max(4096, Math.floor(limitBytes)));
    if (kind === 'cgroup2') {
      writeFileSync(`${child}/memory.max`, limit);
      // Swap would let the group outgrow its limit slowly instead of being stopped.
      if (existsSync(`${child}/memory.swap.max`)) writeFileSync(`${child}/memory.swap.max`, '0');
    } else {
      writeFileSync(`${child}/memory.limit_in_bytes`, limit);
      // memory+swap limit (present when swap accounting is on) at the same figure: no swap beyond the limit.
      if (existsSync(`${child}/memory.memsw.limit_in_bytes`)) {
        try {
          writeFileSync(`${child}/memory.memsw.limit_in_bytes`, limit);
        } catch {
          /* swap accounting off at run time: memory alone is limited */
        }
      }
    }
    return child;
  } catch (e) {
    rmdirSync(child);
    throw e;
  }
}

function probe(kind: 'cgroup2' | 'cgroup1', dir: string): boolean {
  try {
    if (kind === 'cgroup2') {
      if (!readFileSync(`${dir}/cgroup.controllers`, 'utf8').split(/\s+/).includes('memory')) return false;
      if (!readFileSync(`${dir}/cgroup.subtree_control`, 'utf8').split(/\s+/).includes('memory')) {
        try {
          writeFileSync(`${dir}/cgroup.subtree_control`, '+memory');
        } catch {
          return false; // our own cgroup holds processes (the "no internal processes" rule) or we may not
        }
      }
    }
    rmdirSync(makeChild(kind, dir, 64 * 1024 * 1024));
    return true;
  } catch {
    return false;
  }
}

function detect(): MemoryLimiting | null {
  let mounts: string;
  let self: string;
  try {
    mounts = readFileSync('/proc/self/mounts', 'utf8');
    self = readFileSync('/proc/self/cgroup', 'utf8');
  } catch {
    return null;
  }
  const v1 = cgroupDir(mounts, self, 'memory');
  if (v1 !== null && probe('cgroup1', v1)) {
    reapStaleCgroups(v1, PREFIX);
    return { kind: 'cgroup1', dir: v1, description: 'memory: one cgroup v1 memory limit per instance (swap included)' };
  }
  const v2 = cgroupDir(mounts, self, null);
  if (v2 !== null && probe('cgroup2', v2)) {
    reapStaleCgroups(v2, PREFIX);
    return { kind: 'cgroup2', dir: v2, description: 'memory: one cgroup v2 memory.max per instance (no swap)' };
  }
  return null;
}

let detected: MemoryLimiting | null | undefined;

/** The memory cgroup mechanism of this machine, or null when no child cgroup can be made (probed once). */
export function memoryLimiting(): MemoryLimiting | null {
  if (detected === undefined) detected = detect();
  return detected;
}

/** One instance's memory cgroup. */
export class MemoryCgroup {
  private removed = false;

  private constructor(
    readonly kind: 'cgroup2' | 'cgroup1',
    /** The cgroup's directory. */
    readonly dir: string,
    /** The limit, bytes. */
    readonly limitBytes: number,
  ) {}

  /** Makes the cgroup under the machine's mechanism; null when there is none or the kernel refused. */
  static create(limitBytes: number, mechanism: MemoryLimiting | null = memoryLimiting()): MemoryCgroup | null {
    if (mechanism === null) return null;
    try {
      return new MemoryCgroup(mechanism.kind, makeChild(mechanism.kind, mechanism.dir, limitBytes), limitBytes);
    } catch {
      return null;
    }
  }

  /**
   * The argv prefix that runs the rest of the argv inside this cgroup: a shell writes its own pid into it and
   * then execs the rest (exit 125 with a message when it cannot join, so nothing runs unconfined).
   */
  joinArgs(): string[] {
    return [
      '/bin/sh',
      '-c',
      'echo $$ > "$0" || { echo "hearth: cannot join the memory cgroup" >&2; exit 125; }; exec "$@"',
      `${this.dir}/cgroup.procs`,
    ];
  }

  /** Times the kernel's OOM killer ended a process of this cgroup (0 when the kernel does not say). */
  oomKills(): number {
    try {
      const text = readFileSync(`${this.dir}/${this.kind === 'cgroup2' ? 'memory.events' : 'memory.oom_control'}`, 'utf8');
      const m = /^oom_kill (\d+)$/m.exec(text);
      if (m) return Number(m[1]);
      // Older v1 kernels: no oom_kill line; a hit on the limit with the group killed is the best sign there is.
      if (this.kind === 'cgroup1') return Number(readFileSync(`${this.dir}/memory.failcnt`, 'utf8').trim()) > 0 ? 1 : 0;
    } catch {
      /* gone */
    }
    return 0;
  }

  /** Peak memory use of the group, bytes (null when the kernel does not keep it). */
  peakBytes(): number | null {
    try {
      const file = this.kind === 'cgroup2' ? 'memory.peak' : 'memory.max_usage_in_bytes';
      const n = Number(readFileSync(`${this.dir}/${file}`, 'utf8').trim());
      return Number.isFinite(n) ? n : null;
    } catch {
      return null;
    }
  }

  /** Removes the cgroup once its processes are gone (retries for a few seconds while they are reaped). */
  remove(): void {
    if (this.removed) return;
    this.removed = true;
    let tries = 0;
    const attempt = (): void => {
      try {
        rmdirSync(this.dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' && ++tries < 50) setTimeout(attempt, 100).unref();
      }
    };
    attempt();
  }
}
