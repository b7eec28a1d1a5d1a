// The local executor's process runner on real processes: output, exit status, CPU time, pause/resume, kill of
// the whole group, limits; once plain and once inside bubblewrap (that half skips, saying why, without a usable bwrap).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import { expandCommand, sandboxCapabilities, startProcess } from '../../src/agent/runner.ts';
import { memoryLimiting } from '../../src/agent/memory-cgroup.ts';
import type { RunExit, RunHandle, RunSpec } from '../../src/agent/runner.ts';
import { capture, outcome, type Run } from '../helpers/run-capture.ts';

let workDir: string;
before(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'hearth-runner-'));
});
after(async () => {
  await rm(workDir, { recursive: true, force: true });
});
/** Starts a command; with t, the test kills it (and waits for it) at its end. */
function run(spec: Partial<RunSpec> & { command: string }, t?: TestContext): Run<RunHandle> {
  return capture('process', (sinks) => startProcess({ env: {}, workDir, ...spec }, sinks), t);
}

async function finished(spec: Partial<RunSpec> & { command: string }): Promise<{ exit: RunExit; stdout: string; stderr: string; chunks: string[] }> {
  return outcome(run(spec));
}

/** Live (not zombie) processes whose process group is pgid, with their state letter. */
function liveMembers(pgid: number): Array<{ pid: number; state: string }> {
  const out: Array<{ pid: number; state: string }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue;
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(f[2]) === pgid && f[0] !== 'Z' && f[0] !== 'X') out.push({ pid: Number(name), state: f[0] });
  }
  return out;
}

/** Every live descendant of pid, from /proc's ppid fields. */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const isBelow = (p: number): boolean => {
    for (let q = parent.get(p); q !== undefined && q > 1; q = parent.get(q)) if (q === pid) return true;
    return false;
  };
  for (const p of parent.keys()) if (isBelow(p)) out.push(p);
  return out;
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('expandCommand expands ${NAME} only', () => {
  const env = { INSTANCE_ID: '7', QSIZE: '12', EMPTY: '', _X1: 'y' };
  assert.equal(expandCommand('run ${INSTANCE_ID}', env), 'run 7');
  assert.equal(expandCommand('f${INSTANCE_ID}of${QSIZE}.png', env), 'f7of12.png');
  assert.equal(expandCommand('${INSTANCE_ID}${QSIZE}${_X1}', env), '712y');
  assert.equal(expandCommand('a${UNKNOWN}b${EMPTY}c', env), 'abc');
  assert.equal(expandCommand('cost $ 5 and $', env), 'cost $ 5 and $');
  assert.equal(expandCommand('echo $INSTANCE_ID', env), 'echo $INSTANCE_ID', '$NAME is left to the shell');
  assert.equal(expandCommand('${} ${1} ${A-B} ${INSTANCE_ID', env), '${} ${1} ${A-B} ${INSTANCE_ID', 'malformed references stay');
  assert.equal(expandCommand('$${INSTANCE_ID}', env), '$7');
  assert.equal(expandCommand('${toString} ${__proto__}', env), ' ', 'only own properties of env');
});

test('sandboxCapabilities is detected once and says what is degraded', () => {
  const a = sandboxCapabilities();
  const b = sandboxCapabilities();
  assert.deepEqual(a, b);
  assert.equal(a.prlimit, existsSync('/usr/bin/prlimit'));
  assert.equal(typeof a.bwrap, 'boolean');
  assert.equal(typeof a.cgroupWritable, 'boolean');
  assert.equal(a.degraded === '', a.bwrap && a.prlimit && a.cgroupWritable);
  if (!a.bwrap) assert.match(a.degraded, /bubblewrap/);
});

test('limits must be positive', () => {
  assert.throws(() => run({ command: 'true', limits: { wallTimeS: 0 } }), RangeError);
  assert.throws(() => run({ command: 'true', limits: { memoryMB: -1 } }), RangeError);
  assert.throws(() => run({ command: 'true', limits: { cpuTimeS: Number.NaN } }), RangeError);
});

test('a command Node cannot even pass (NUL byte) is a normal failed exit, not a throw', async () => {
  const { exit, stderr } = await finished({ command: 'echo a\0b', isolation: 'none' });
  assert.deepEqual([exit.code, exit.signal, exit.killed], [126, null, false]);
  assert.match(stderr, /cannot start the command/);
});

test('a wall-time limit beyond setTimeout\'s range does not fire early', async () => {
  const { exit, stdout } = await finished({ command: 'echo ok', isolation: 'none', limits: { wallTimeS: 40 * 86_400 } });
  assert.deepEqual([exit.code, exit.timedOut, stdout], [0, false, 'ok\n']);
});

test('the injected clock measures wall time', async () => {
  const ticks = [1000, 3500];
  const h = startProcess({ command: 'true', env: {}, workDir }, { stdout: () => undefined, stderr: () => undefined }, () => ticks.shift() ?? 3500);
  assert.equal((await h.done).wallTimeS, 2.5);
});

test('a working directory that does not exist is a normal failed exit, not a throw', async () => {
  const { exit, stderr } = await finished({ command: 'true', workDir: join(workDir, 'missing'), isolation: 'none' });
  assert.equal(exit.code, 126);
  assert.match(stderr, /cannot start/);
});

const caps = sandboxCapabilities();
const modes: Array<{ isolation: 'none' | 'auto'; name: string; skip: string | false }> = [
  { isolation: 'none', name: 'plain (prlimit, process group)', skip: false },
  { isolation: 'auto', name: 'inside bubblewrap', skip: caps.bwrap ? false : `bubblewrap unusable here: ${caps.degraded}` },
];

// The suites below run side by side (each suite's tests one after the other) to keep the file short.
describe('runner on real processes', { concurrency: true }, () => {
  for (const mode of modes) {
    describe(`runner, ${mode.name}`, { skip: mode.skip, concurrency: 1 }, () => {
      const iso = mode.isolation;

      test('reports which sandbox it used', () => {
        const h = run({ command: 'true', isolation: iso }).handle;
        assert.equal(h.sandbox, iso === 'none' ? 'none' : 'bwrap');
        return h.done.then(() => undefined);
      });

      test('stdout and stderr exactly, exit status kept', async () => {
        const a = await finished({ command: 'printf "line 1\\nno newline"; printf "warn\\n" >&2; printf "x" >&2', isolation: iso });
        assert.equal(a.stdout, 'line 1\nno newline');
        assert.equal(a.stderr, 'warn\nx');
        assert.deepEqual([a.exit.code, a.exit.signal, a.exit.killed, a.exit.timedOut], [0, null, false, false]);
        const b = await finished({ command: 'echo before; exit 3', isolation: iso });
        assert.deepEqual([b.stdout, b.stderr, b.exit.code, b.exit.signal], ['before\n', '', 3, null]);
        const c = await finished({ command: 'no-such-command-hearth --flag', isolation: iso });
        assert.equal(c.exit.code, 127);
        assert.match(c.stderr, /no-such-command-hearth: (command )?not found/);
        assert.equal(c.stdout, '');
      });

      test('a multibyte character split across chunks arrives whole', async () => {
        // "€" is E2 82 AC: two bytes, a pause, the last byte.
        const a = await finished({ command: "printf '\\342\\202'; sleep 0.05; printf '\\254 ok\\n'", isolation: iso });
        assert.equal(a.stdout, '€ ok\n');
        assert.ok(a.chunks.every((c) => !c.includes('\uFFFD')), JSON.stringify(a.chunks));
      });

      test('a command killed by a signal reports it, and nothing of the wrapper shows', async () => {
        const a = await finished({ command: 'echo here; kill -TERM $$; echo never', isolation: iso });
        assert.deepEqual([a.exit.code, a.exit.signal, a.exit.killed], [null, 'SIGTERM', false]);
        assert.equal(a.stdout, 'here\n');
        assert.equal(a.stderr, '', 'no "Terminated" from the wrapper shell');
        // The command's shell holds only stdin/stdout/stderr of ours (dash may keep a private copy at fd 10).
        const b = await finished({ command: 'for f in 3 4; do [ -e /proc/$$/fd/$f ] && echo "fd $f is open"; done; true', isolation: iso });
        assert.equal(b.stdout, '');
        assert.equal(b.exit.code, 0);
      });

      test('the environment is exactly the given one plus PATH, HOME and LANG', async () => {
        process.env.HEARTH_SECRET_TEST = 'leaked';
        const a = await finished({
          command: 'echo "$INSTANCE_ID|$QSIZE|${HEARTH_SECRET_TEST-unset}"; env | cut -d= -f1 | sort | tr "\\n" " "',
          env: { INSTANCE_ID: '42', QSIZE: '100' },
          isolation: iso,
        });
        delete process.env.HEARTH_SECRET_TEST;
        assert.equal(a.stdout.split('\n')[0], '42|100|unset');
        const names = new Set(a.stdout.split('\n')[1].trim().split(' '));
        for (const n of ['INSTANCE_ID', 'QSIZE', 'PATH', 'HOME', 'LANG']) assert.ok(names.has(n), `${n} in ${[...names].join(' ')}`);
        for (const n of names) assert.ok(['INSTANCE_ID', 'QSIZE', 'PATH', 'HOME', 'LANG', 'PWD', 'SHLVL', 'OLDPWD', '_'].includes(n), `unexpected ${n}`);
        const b = await finished({ command: 'echo "$PATH|$LANG"; pwd', env: { PATH: '/usr/bin:/bin', LANG: 'C' }, isolation: iso });
        assert.equal(b.stdout, `/usr/bin:/bin|C\n${workDir}\n`);
      });

      test('CPU time: a busy loop counts, a sleep does not', async () => {
        const busy = await finished({ command: 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done', isolation: iso });
        assert.equal(busy.exit.code, 0);
        assert.ok(busy.exit.cpuTimeS > 0.1, `cpu ${busy.exit.cpuTimeS}`);
        assert.ok(busy.exit.cpuTimeS <= busy.exit.wallTimeS * availableParallelism() + 0.05, `cpu ${busy.exit.cpuTimeS} wall ${busy.exit.wallTimeS}`);
        const idle = await finished({ command: 'sleep 0.3', isolation: iso });
        assert.ok(idle.exit.wallTimeS >= 0.29, `wall ${idle.exit.wallTimeS}`);
        assert.ok(idle.exit.cpuTimeS < 0.05, `cpu ${idle.exit.cpuTimeS}`);
      });

      test('CPU time of children and grandchildren, sampled while running', async (t) => {
        // The busy loop runs in a grandchild; once it has printed, its CPU shows in the running sample.
        const r = run({ command: 'sh -c \'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; echo busy-done; sleep 30\'', isolation: iso }, t);
        await r.waitFor('busy-done');
        const sampled = r.handle.cpuTimeS();
        assert.ok(sampled > 0.08, `sampled ${sampled}`);
        r.handle.kill();
        const exit = await r.handle.done;
        assert.ok(exit.cpuTimeS >= sampled, `${exit.cpuTimeS} >= ${sampled}`);
        assert.equal(r.handle.cpuTimeS(), exit.cpuTimeS);
      });

      test('pause freezes the whole group, resume continues it, and the wall-time limit stops while paused', async (t) => {
        const limitS = 1;
        const r = run({ command: 'sh -c \'while :; do echo tick; sleep 0.02; done\' & wait', isolation: iso, limits: { wallTimeS: limitS } }, t);
        await r.waitFor('tick');
        r.handle.pause();
        r.handle.pause(); // idempotent
        assert.equal(r.handle.paused, true);
        await delay(50); // what was already in the pipe drains
        const seen = r.out.join('').length;
        await delay(200);
        assert.equal(r.out.join('').length, seen, 'no output while paused');
        const members = liveMembers(r.handle.pid);
        assert.ok(members.length >= 3, JSON.stringify(members));
        // 'D': a shell waiting for a vfork child that was stopped before it could exec.
        assert.ok(members.every((m) => m.state === 'T' || m.state === 'D'), `all stopped: ${JSON.stringify(members)}`);
        assert.ok(members.some((m) => m.state === 'T'));
        r.handle.resume();
        r.handle.resume();
        assert.equal(r.handle.paused, false);
        await r.waitFor('tick', r.out.join('').length);
        const exit = await r.handle.done;
        assert.equal(exit.timedOut, true);
        assert.equal(exit.killed, true);
        assert.equal(exit.signal, 'SIGKILL');
        assert.ok(exit.wallTimeS >= limitS + 0.25, `paused time is not counted: wall ${exit.wallTimeS}`);
        r.handle.pause(); // no-op after exit
        r.handle.resume();
        assert.equal(r.handle.paused, false);
      });

      test('kill ends the group, grandchildren included, promptly', async (t) => {
        const r = run({ command: 'sleep 30 & echo started; wait', isolation: iso }, t);
        await r.waitFor('started');
        const pgid = r.handle.pid;
        assert.ok(liveMembers(pgid).length >= 2);
        const t0 = performance.now();
        r.handle.kill();
        r.handle.kill(); // idempotent
        const exit = await r.handle.done;
        assert.ok(performance.now() - t0 < 2000, 'promptly');
        assert.deepEqual([exit.code, exit.signal, exit.killed, exit.timedOut], [null, 'SIGKILL', true, false]);
        assert.deepEqual(liveMembers(pgid), [], 'no live process of the group');
      });

      test('a paused group can be killed', async (t) => {
        const r = run({ command: 'sleep 30 & echo started; wait', isolation: iso }, t);
        await r.waitFor('started');
        r.handle.pause();
        r.handle.kill();
        const exit = await r.handle.done;
        assert.equal(exit.killed, true);
        assert.deepEqual(liveMembers(r.handle.pid), []);
      });

      test('what the command leaves running in the background is ended with it', async (t) => {
        const r = run({ command: 'sleep 30 & echo "left $!"', isolation: iso }, t);
        const t0 = performance.now();
        const exit = await r.handle.done;
        assert.ok(performance.now() - t0 < 5000, 'done does not wait for the background sleep');
        assert.deepEqual([exit.code, exit.killed], [0, false]);
        assert.match(r.out.join(''), /^left \d+\n$/);
        assert.deepEqual(liveMembers(r.handle.pid), []);
      });

      test('the wall-time limit kills and sets timedOut', async () => {
        const a = await finished({ command: 'echo go; sleep 30', isolation: iso, limits: { wallTimeS: 0.2 } });
        assert.deepEqual([a.exit.code, a.exit.signal, a.exit.killed, a.exit.timedOut], [null, 'SIGKILL', true, true]);
        assert.ok(a.exit.wallTimeS >= 0.19 && a.exit.wallTimeS < 2, `wall ${a.exit.wallTimeS}`);
        assert.equal(a.stdout, 'go\n');
      });

      test('memory and CPU limits reach the command; no core dumps', async () => {
        // Memory: one cgroup limit for the whole group where a memory cgroup can be made here, else address space.
        const cgroup = sandboxCapabilities().cgroupWritable;
        const a = await finished({ command: 'grep -E "^Max (address space|cpu time|core file size)" /proc/self/limits', isolation: iso, limits: { memoryMB: 20, cpuTimeS: 3 } });
        assert.match(a.stdout, /^Max cpu time +3 +4 +seconds/m);
        assert.match(a.stdout, /^Max core file size +0 +0 +bytes/m);
        const as = cgroup ? 'unlimited +unlimited' : `${20 * 1024 * 1024} +${20 * 1024 * 1024}`;
        assert.match(a.stdout, new RegExp(`^Max address space +${as} +bytes`, 'm'));
        assert.equal(a.exit.outOfMemory, false);
        // awk doubling a string to 32 MiB: fails under 20 MiB (of address space, or of the group's memory).
        const hog = `awk 'BEGIN{s="x"; for(i=0;i<25;i++) s=s s; print length(s)}'`;
        const b = await finished({ command: hog, isolation: iso, limits: { memoryMB: 20 } });
        assert.notEqual(b.exit.code, 0);
        assert.equal(b.stdout, '');
        if (cgroup) {
          assert.equal(b.exit.outOfMemory, true);
          assert.match(b.stderr, /went over its memory limit \(20 MiB\)/);
          assert.ok(b.exit.memoryPeakMB !== null && b.exit.memoryPeakMB <= 20.5, `peak ${b.exit.memoryPeakMB} MiB`);
        }
      });

      test('a memory cgroup holds the whole group, not each process (skips without one)', async (t) => {
        if (!sandboxCapabilities().cgroupWritable) return t.skip('no memory cgroup can be made here: memory is limited per process');
        // Three processes of 24 MiB each fit one by one under 40 MiB but not together; one alone fits.
        const one = `head -c 25165824 /dev/zero | tail > /dev/null && echo ok`;
        const alone = await finished({ command: one, isolation: iso, limits: { memoryMB: 40 } });
        assert.equal(alone.stdout, 'ok\n', alone.stderr);
        assert.equal(alone.exit.outOfMemory, false);
        assert.ok(alone.exit.memoryPeakMB !== null && alone.exit.memoryPeakMB >= 20, `peak ${alone.exit.memoryPeakMB} MiB`);
        const three = `(${one}) & (${one}) & (${one}) & wait`;
        const together = await finished({ command: `${three}; sleep 0.1`, isolation: iso, limits: { memoryMB: 40 } });
        assert.equal(together.exit.outOfMemory, true, `stdout ${together.stdout} stderr ${together.stderr}`);
        // No cgroup of this process is left behind once the runs are over (removal retries while processes are reaped).
        const parent = memoryLimiting()!.dir;
        const ours = (): string[] => readdirSync(parent).filter((n) => n.startsWith(`hearth-mem-${process.pid}-`));
        for (let i = 0; i < 100 && ours().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
        assert.deepEqual(ours(), []);
      });
    });
  }

  describe('runner, limits without prlimit (ulimit in the wrapper)', { concurrency: 1 }, () => {
    test('memory and CPU limits reach the command', async () => {
      const a = await finished({ command: 'grep -E "^Max (address space|cpu time|core file size)" /proc/self/limits', isolation: 'none', limitsVia: 'ulimit', limits: { memoryMB: 20, cpuTimeS: 3 } });
      assert.equal(a.exit.code, 0, a.stderr);
      assert.match(a.stdout, /^Max cpu time +3 +4 +seconds/m);
      assert.match(a.stdout, /^Max core file size +0 +0 +bytes/m);
      assert.match(a.stdout, new RegExp(`^Max address space +${20 * 1024 * 1024} +${20 * 1024 * 1024} +bytes`, 'm'));
    });

    test('a command over its memory limit fails, the same without limit succeeds', async () => {
      const hog = `awk 'BEGIN{s="x"; for(i=0;i<25;i++) s=s s; print length(s)}'`;
      const [limited, free] = await Promise.all([
        finished({ command: hog, isolation: 'none', limitsVia: 'ulimit', limits: { memoryMB: 20 } }),
        finished({ command: hog, isolation: 'none' }),
      ]);
      assert.notEqual(limited.exit.code, 0);
      assert.deepEqual([free.exit.code, free.stdout], [0, `${2 ** 25}\n`]);
    });

    test('the CPU limit ends a busy loop with SIGXCPU (prlimit and ulimit alike)', async () => {
      const loop = 'while :; do :; done';
      const [viaUlimit, viaPrlimit] = await Promise.all([
        finished({ command: loop, isolation: 'none', limitsVia: 'ulimit', limits: { cpuTimeS: 1, wallTimeS: 20 } }),
        finished({ command: loop, isolation: 'none', limits: { cpuTimeS: 1, wallTimeS: 20 } }),
      ]);
      for (const r of [viaUlimit, viaPrlimit]) {
        assert.deepEqual([r.exit.code, r.exit.signal, r.exit.timedOut], [null, 'SIGXCPU', false]);
        assert.ok(r.exit.cpuTimeS > 0.5 && r.exit.cpuTimeS < 2.1, `cpu ${r.exit.cpuTimeS}`);
      }
    });
  });

});

describe('inside bubblewrap, the sandbox', { skip: caps.bwrap ? false : `bubblewrap unusable here: ${caps.degraded}` }, () => {
  test('root is read-only, the working directory writable, /tmp private, no network, own pid namespace', async () => {
    const probe = `mark-${process.pid}-${Date.now()}`;
    const a = await finished({
      command: [
        `touch /etc/hearth-${probe} 2>/dev/null && echo etc-writable || echo etc-readonly`,
        `echo data > in-workdir && echo workdir-writable`,
        `echo x > /tmp/${probe} && echo tmp-writable`,
        `tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | tr "\\n" " "; echo`,
        'echo "pid $$"',
      ].join('; '),
      isolation: 'auto',
    });
    const lines = a.stdout.split('\n');
    assert.deepEqual(lines.slice(0, 3), ['etc-readonly', 'workdir-writable', 'tmp-writable'], a.stderr);
    assert.equal(lines[3].trim(), 'lo', 'only the loopback interface');
    assert.match(lines[4], /^pid [2-9]$/, 'a small pid: its own namespace');
    assert.equal(existsSync(`/etc/hearth-${probe}`), false);
    assert.equal(existsSync(`/tmp/${probe}`), false, 'the sandbox /tmp is not the host /tmp');
    assert.equal(readFileSync(join(workDir, 'in-workdir'), 'utf8'), 'data\n');
  });

  test('why no --new-session: it takes the command out of our process group', async () => {
    const bwrap = ['/usr/bin/bwrap', '/usr/local/bin/bwrap', '/bin/bwrap'].find((p) => existsSync(p)) ?? 'bwrap';
    const child = spawn(bwrap, ['--ro-bind', '/', '/', '--new-session', '--die-with-parent', '--', '/bin/sh', '-c', 'echo ready; sleep 30'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const pgid = child.pid ?? 0;
    const tree = descendants(pgid);
    const inGroup = new Set(liveMembers(pgid).map((m) => m.pid));
    const escaped = tree.filter((pid) => !inGroup.has(pid));
    // What escaped leads a group of its own (bwrap called setsid): end that group, then bwrap's.
    for (const pid of escaped) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    process.kill(-pgid, 'SIGKILL');
    await new Promise((resolve) => child.once('close', resolve));
    assert.ok(tree.length >= 1, 'bwrap has a descendant');
    assert.ok(escaped.length >= 1, `some of ${tree.join(',')} escaped group ${pgid}`);
  });
});
