// Power following: level → CPU share and the duty-cycle schedule as pure functions; the duty cycler against a spy;
// then real busy loops held to a level's share (duty cycle always, cgroup quota where this machine allows one),
// a pause that holds under the throttle, a kill mid-cycle, and an agent whose instance and filler follow the level.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import { createBoardModel } from '../../src/physics/board.ts';
import { Agent, type AgentFiles, type AgentTransport, type ReportKind } from '../../src/agent/agent.ts';
import { startProcess, type RunHandle } from '../../src/agent/runner.ts';
import { cgroupDirs, cpuQuotaUs, DutyCycler, dutyCycle, dutyPhase, levelShare, MIN_SHARE, powerFollowing } from '../../src/agent/throttle.ts';
import type { Assignment, DeviceCommand, DeviceReport, InstanceReport } from '../../src/protocol/device.ts';
import { testAssignment } from '../helpers/assignment.ts';

let workDir: string;
before(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'hearth-throttle-'));
});
after(async () => {
  await rm(workDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------------
// Pure

test('levelShare: the share of full-speed CPU that draws the level\'s power at the top clock', () => {
  const m = createBoardModel();
  const shares = Array.from({ length: m.levels }, (_, l) => levelShare(m, l));
  // (f/f_top)^3 for 2.0, 2.5, 3.0, 3.5, 4.0 GHz.
  assert.deepEqual(shares.map((s) => Math.round(s * 1e6) / 1e6), [0.125, 0.244141, 0.421875, 0.669922, 1]);
  for (let l = 0; l < m.levels; l++) {
    // P at the top level with utilisation = share equals P at level l fully used.
    const atTop = m.idleW + m.dynTopW * shares[l];
    assert.ok(Math.abs(atTop - m.maxWByLevel[l]) < 1e-9, `level ${l}`);
  }
  assert.equal(levelShare(m, m.levels - 1), 1, 'top: no throttling');
  assert.equal(levelShare(m, 99), 1, 'out of range: no throttling');
  assert.equal(levelShare(createBoardModel({ dynamicExponent: 0 }), 0), 1, 'power independent of frequency');
  assert.equal(levelShare(createBoardModel({ freqLevelsGHz: [0.01, 4] }), 0), MIN_SHARE, 'floored');
  assert.equal(levelShare(createBoardModel({ idleW: 50, maxW: 50 }), 0), 1, 'no dynamic span');
});

test('dutyCycle and dutyPhase: the schedule holds the share, derived from the clock', () => {
  assert.equal(dutyCycle(1), null);
  assert.equal(dutyCycle(1.5), null);
  assert.equal(dutyCycle(0.999), null, 'a stop slice under 1 ms is no throttling');
  assert.deepEqual(dutyCycle(0.25), { runMs: 25, stopMs: 75 });
  assert.deepEqual(dutyCycle(0.421875), { runMs: 42, stopMs: 58 });
  assert.deepEqual(dutyCycle(0), { runMs: 1, stopMs: 99 }, 'never below MIN_SHARE');
  const c = dutyCycle(0.3)!;
  // Sampling 10 periods every 0.5 ms: running 30 % of the time, edges where expected.
  let running = 0;
  let samples = 0;
  for (let t = 1000; t < 2000; t += 0.5) {
    const ph = dutyPhase(c, 1000, t);
    assert.ok(ph.untilMs > t);
    if (ph.running) running++;
    samples++;
  }
  assert.equal(running / samples, 0.3);
  assert.deepEqual(dutyPhase(c, 1000, 1000), { running: true, untilMs: 1030 });
  assert.deepEqual(dutyPhase(c, 1000, 1030), { running: false, untilMs: 1100 });
  assert.deepEqual(dutyPhase(c, 1000, 1234.5), { running: false, untilMs: 1300 }, 'a late wake-up lands in the right slice');
});

test('cpuQuotaUs: share × cores × period, unlimited at full share', () => {
  assert.equal(cpuQuotaUs(1, 4), null);
  assert.equal(cpuQuotaUs(0.25, 1), 25_000);
  assert.equal(cpuQuotaUs(0.25, 2), 50_000);
  assert.equal(cpuQuotaUs(0.0001, 1), 1000, 'the kernel floor');
});

test('cgroupDirs reads the v2 and v1-cpu directories of this process', () => {
  const hybrid = [
    'tmpfs /sys/fs/cgroup tmpfs rw 0 0',
    'cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0',
    'cgroup /sys/fs/cgroup/cpuacct cgroup rw,relatime,cpuacct 0 0',
    'cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0',
  ].join('\n');
  assert.deepEqual(cgroupDirs(hybrid, '2:cpuacct:/\n1:cpu:/\n0::/\n'), { v2: '/sys/fs/cgroup/unified', v1cpu: '/sys/fs/cgroup/cpu' });
  assert.deepEqual(cgroupDirs('cgroup2 /sys/fs/cgroup cgroup2 rw 0 0', '0::/user.slice/hearth.service\n'), { v2: '/sys/fs/cgroup/user.slice/hearth.service', v1cpu: null });
  assert.deepEqual(cgroupDirs('cgroup /c cgroup rw,cpu,cpuacct 0 0', '3:cpu,cpuacct:/docker/abc\n'), { v2: null, v1cpu: '/c/docker/abc' });
  assert.deepEqual(cgroupDirs('proc /proc proc rw 0 0', ''), { v2: null, v1cpu: null });
});

test('DutyCycler: nothing at full share, alternating stop/continue below it, silent while paused, continues when back to full', async () => {
  const sent: string[] = [];
  let paused = false;
  const d = new DutyCycler((s) => sent.push(s), () => paused, 20);
  d.set(1);
  await delay(100);
  assert.deepEqual(sent, [], 'level top sends no signals');
  d.set(0.5);
  await delay(200);
  assert.ok(sent.length >= 4, `signals ${sent.length}`);
  assert.ok(sent.every((s, i) => s === (i % 2 === 0 ? 'SIGSTOP' : 'SIGCONT')), sent.join(' '));
  paused = true;
  const atPause = sent.length;
  await delay(100);
  assert.equal(sent.length, atPause, 'nothing while paused');
  paused = false;
  await delay(100);
  assert.ok(sent.length > atPause, 'the cycle goes on after the pause');
  d.set(1);
  const n = sent.length;
  if (sent[n - 1] === 'SIGSTOP') assert.fail('left stopped');
  await delay(60);
  assert.equal(sent.length, n, 'silent at full share');
  assert.equal(d.signals, n);
  d.set(0.2);
  d.dispose();
  const m = sent.length;
  await delay(60);
  assert.equal(sent.length, m, 'nothing after dispose');
});

// ---------------------------------------------------------------------------------------------------------------
// Real processes

/** Live (not zombie) processes of group pgid with their state letter. */
function liveMembers(pgid: number): Array<{ pid: number; state: string }> {
  const out: Array<{ pid: number; state: string }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid && f[0] !== 'Z' && f[0] !== 'X') out.push({ pid: Number(name), state: f[0] });
    } catch {
      // gone
    }
  }
  return out;
}

function busy(t: TestContext, throttle: 'auto' | 'signals'): RunHandle {
  const h = startProcess({ command: 'while :; do :; done', env: {}, workDir, isolation: 'none', throttle }, { stdout: () => undefined, stderr: () => undefined });
  t.after(async () => {
    h.kill();
    await h.done;
  });
  return h;
}

/** CPU seconds per wall second of a handle over `ms`. */
async function cpuRate(h: RunHandle, ms: number): Promise<number> {
  const c0 = h.cpuTimeS();
  const t0 = performance.now();
  await delay(ms);
  return (h.cpuTimeS() - c0) / ((performance.now() - t0) / 1000);
}

const pf = powerFollowing();
const MID = levelShare(createBoardModel(), 2); // 0.42

const mechanisms: Array<{ name: string; throttle: 'auto' | 'signals'; skip: string | false }> = [
  { name: 'duty cycle (SIGSTOP/SIGCONT)', throttle: 'signals', skip: false },
  { name: `this machine's best (${pf.description})`, throttle: 'auto', skip: pf.kind === 'signals' ? 'no writable cgroup here: the duty cycle is tested above' : false },
];

/** The share set in the cgroup (v1 cfs quota / period, v2 cpu.max) of a process, or null when it is in none of ours. */
function cgroupShare(pid: number): number | null {
  const dir = pf.dir;
  if (dir === null) return null;
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => (pf.kind === 'cgroup2' ? l.startsWith('0::') : l.split(':')[1]?.split(',').includes('cpu')));
  const path = line?.slice(line.indexOf(':', line.indexOf(':') + 1) + 1) ?? '';
  const name = path.split('/').pop() ?? '';
  if (!/^hearth-\d+-\d+$/.test(name)) return null;
  const cg = `${dir}/${name}`;
  if (pf.kind === 'cgroup2') {
    const [q, p] = readFileSync(`${cg}/cpu.max`, 'utf8').trim().split(' ');
    return q === 'max' ? 1 : Number(q) / Number(p);
  }
  const q = Number(readFileSync(`${cg}/cpu.cfs_quota_us`, 'utf8'));
  return q < 0 ? 1 : q / Number(readFileSync(`${cg}/cpu.cfs_period_us`, 'utf8'));
}

/** Fraction of `n` samples, `everyMs` apart, in which every live process of group pgid was stopped. */
async function stoppedFraction(pgid: number, n: number, everyMs: number): Promise<number> {
  let stopped = 0;
  for (let i = 0; i < n; i++) {
    const m = liveMembers(pgid);
    if (m.length > 0 && m.every((p) => p.state === 'T')) stopped++;
    await delay(everyMs);
  }
  return stopped / n;
}

// One mechanism after the other: fewer busy loops at once on a small machine.
describe('throttled busy loops', { concurrency: 1 }, () => {
  for (const mech of mechanisms) {
    describe(mech.name, { skip: mech.skip, concurrency: 1 }, () => {
      test('a busy loop at a middle level uses clearly less CPU than at the top level', async (t) => {
        const full = busy(t, mech.throttle);
        const held = busy(t, mech.throttle);
        held.setCpuShare(MID, 1);
        full.setCpuShare(1, 1);
        assert.equal(held.cpuShare, MID);
        assert.equal(full.cpuShare, 1);
        await delay(200);
        const [rFull, rHeld] = await Promise.all([cpuRate(full, 2000), cpuRate(held, 2000)]);
        t.diagnostic(`${mech.name}: unthrottled ${rFull.toFixed(3)} CPU-s/s, at share ${MID.toFixed(3)}: ${rHeld.toFixed(3)} (ratio ${(rHeld / rFull).toFixed(3)})`);
        assert.ok(rFull > 0.02, `the unthrottled loop runs: ${rFull}`);
        assert.ok(rHeld > 0.01, `the throttled loop still progresses: ${rHeld}`);
        if (rFull >= MID / 0.75 + 0.1) {
          assert.ok(rHeld <= 0.75 * rFull, `throttled ${rHeld} vs unthrottled ${rFull}`);
        } else {
          // So loaded that an unthrottled loop gets less than the share: the throttle cannot bind (nor need to).
          t.diagnostic(`machine too loaded for the CPU comparison (unthrottled ${rFull.toFixed(3)} < ${(MID / 0.75 + 0.1).toFixed(3)}): checked the mechanism only`);
          assert.ok(rHeld <= rFull * 1.5 + 0.05, `throttled ${rHeld} vs unthrottled ${rFull}`);
        }
        // Whatever the load: the mechanism holds the share.
        if (mech.throttle === 'signals') {
          const f = await stoppedFraction(held.pid, 100, 7);
          t.diagnostic(`stopped in ${(f * 100).toFixed(0)} % of samples (expected ≈ ${((1 - MID) * 100).toFixed(0)} %)`);
          assert.ok(f > 0.3 && f < 0.85, `stopped fraction ${f}`);
          assert.equal(await stoppedFraction(full.pid, 20, 7), 0, 'the unthrottled loop is never stopped');
        } else {
          assert.ok(Math.abs(cgroupShare(held.pid)! - MID) < 0.001, `quota of ${held.pid}: ${cgroupShare(held.pid)}`);
          assert.equal(cgroupShare(full.pid), null, 'the unthrottled loop is in no cgroup of ours');
        }
        assert.equal(full.throttle.signals, 0, 'level top sends no signals');
        if (mech.throttle === 'signals') assert.ok(held.throttle.signals > 20, `signals ${held.throttle.signals}`);
        else assert.equal(held.throttle.signals, 0, 'a cgroup quota needs no signals');
      });

      test('a paused instance stays paused while the throttle runs, and resumes throttled', async (t) => {
        const h = busy(t, mech.throttle);
        h.setCpuShare(0.3, 1);
        await delay(150);
        h.pause();
        await delay(100);
        const c0 = h.cpuTimeS();
        for (let i = 0; i < 10; i++) {
          await delay(40);
          const members = liveMembers(h.pid);
          assert.ok(members.length >= 1 && members.every((m) => m.state === 'T' || m.state === 'D'), `stopped: ${JSON.stringify(members)}`);
        }
        assert.ok(h.cpuTimeS() - c0 < 0.03, `no CPU while paused: ${h.cpuTimeS() - c0}`);
        h.setCpuShare(0.25, 1); // a level change while paused does not continue it
        await delay(150);
        assert.ok(liveMembers(h.pid).every((m) => m.state === 'T' || m.state === 'D'), 'still stopped after a level change');
        h.resume();
        await delay(100);
        const r = await cpuRate(h, 1500);
        t.diagnostic(`${mech.name}: after resume at share 0.25: ${r.toFixed(3)} CPU-s/s`);
        assert.ok(r > 0.02, `runs again: ${r}`);
        assert.ok(r < 0.6, `and throttled: ${r}`);
      });

      test('killing an instance mid-cycle leaves no stopped process behind', async (t) => {
        const h = startProcess({ command: 'sh -c "while :; do :; done" & while :; do :; done', env: {}, workDir, isolation: 'none', throttle: mech.throttle }, { stdout: () => undefined, stderr: () => undefined });
        t.after(() => h.kill());
        h.setCpuShare(0.1, 2);
        await delay(700);
        if (mech.throttle !== 'signals') {
          // The loop forked in the background is in the cgroup too (moved by a sweep, or born inside).
          const members = liveMembers(h.pid);
          assert.ok(members.length >= 2, JSON.stringify(members));
          for (const m of members) assert.ok(Math.abs(cgroupShare(m.pid)! - 0.2) < 1e-9, `quota of ${m.pid}: ${cgroupShare(m.pid)} (0.1 of 2 cores)`);
        } else {
          // Wait for a stopped slice, then kill in it.
          for (let i = 0; i < 200 && !liveMembers(h.pid).some((m) => m.state === 'T'); i++) await delay(2);
        }
        const pgid = h.pid;
        h.kill();
        const exit = await h.done;
        assert.equal(exit.killed, true);
        await delay(250); // two more periods: nothing continues or stops anything
        assert.deepEqual(liveMembers(pgid), [], 'no process of the group left, stopped or not');
        const signals = h.throttle.signals;
        h.setCpuShare(0.5, 1); // no-op after exit
        await delay(120);
        assert.equal(h.throttle.signals, signals, 'no signal after the kill');
      });
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// The agent

class MemTransport implements AgentTransport {
  connected = true;
  readonly received: Array<{ kind: ReportKind; payload: DeviceReport | InstanceReport }> = [];
  private cmd: (c: DeviceCommand) => void = () => undefined;
  publish(kind: ReportKind, payload: DeviceReport | InstanceReport): Promise<void> {
    this.received.push({ kind, payload: structuredClone(payload) });
    return Promise.resolve();
  }
  onCommand(fn: (c: DeviceCommand) => void): void {
    this.cmd = fn;
  }
  onConnectionChange(): void {}
  send(c: DeviceCommand): void {
    this.cmd(c);
  }
}

const noFiles: AgentFiles = {
  listInputs: () => Promise.resolve([]),
  download: () => Promise.resolve(Readable.from([])),
  upload: () => Promise.resolve(),
};

function assignment(instanceId: number, command: string): Assignment {
  return testAssignment({ taskUuid: 'task-throttle', instanceId, boardIndex: instanceId, command });
}

test('agent: instances and filler loops follow the power level; the clock ratio reported is the share held', async (t) => {
  const transport = new MemTransport();
  const warnings: string[] = [];
  const agent = new Agent({
    deviceId: 'h-throttle',
    boards: 2,
    coresPerBoard: 1,
    workRoot: join(workDir, 'agent'),
    files: noFiles,
    transport,
    clock: Date.now,
    limits: { setpointC: 19, safetyC: 28 },
    fillerMode: 'process',
    isolation: 'none',
    throttle: 'signals',
    onWarning: (m) => warnings.push(m),
  });
  t.after(() => agent.close());
  assert.ok(warnings.some((m) => /^power following: duty cycle SIGSTOP\/SIGCONT/.test(m)), warnings.join('; '));
  const m = createBoardModel();
  agent.tick(Date.now());
  transport.send({ kind: 'start', assignment: assignment(0, 'while :; do :; done') });
  transport.send({ kind: 'power', level: 4, booster: 0, filler: [false, true], resistiveW: null });
  // Full speed for a while, then level 1.
  for (let i = 0; i < 12; i++) {
    await delay(100);
    agent.tick(Date.now());
  }
  const running = agent.status().runs;
  assert.equal(running.length, 1);
  await delay(500);
  agent.tick(Date.now());
  transport.send({ kind: 'power', level: 1, booster: 0, filler: [false, true], resistiveW: null });
  const tLevel = Date.now();
  for (let i = 0; i < 15; i++) {
    await delay(100);
    agent.tick(Date.now());
  }
  await agent.flush();
  const reports = transport.received.filter((r) => r.kind === 'instances').map((r) => r.payload as InstanceReport).filter((r) => r.add && r.at > tLevel);
  const tele = transport.received.filter((r) => r.kind === 'telemetry').map((r) => r.payload as DeviceReport).filter((r) => r.at > tLevel);
  const exec = reports.reduce((s, r) => s + r.add!.execTimeSec, 0);
  const wall = reports.reduce((s, r) => s + r.add!.wallTimeSec, 0);
  const share1 = levelShare(m, 1);
  t.diagnostic(`agent at level 1 (share ${share1.toFixed(3)}): instance ${(exec / wall).toFixed(3)} CPU-s/s over ${wall.toFixed(2)} s; telemetry fillerW ${tele.map((d) => d.fillerW.toFixed(0)).join(',')}`);
  assert.ok(exec / wall < 0.75 * 0.9, `the instance is held: ${exec / wall}`);
  const late = reports.slice(1); // the first one may hold a moment at the previous level
  assert.ok(late.length > 0);
  for (const r of late) assert.ok(Math.abs(r.clockRatio! - share1) < 1e-6, `clock ratio ${r.clockRatio} = share ${share1}`);
  for (const r of reports) assert.equal(r.add!.ghzSeconds, r.add!.execTimeSec * 4.0, 'CPU seconds at the top clock');
  // The filler loop is throttled too: its power stays well below a full board's.
  const fillerW = tele.slice(-8).map((d) => d.fillerW);
  const meanFillerW = fillerW.reduce((s, w) => s + w, 0) / fillerW.length;
  assert.ok(meanFillerW < m.idleW + 0.75 * m.dynTopW, `filler ${meanFillerW} W`);
  assert.ok(meanFillerW > m.idleW, `filler runs: ${meanFillerW} W`);
  assert.equal(agent.status().runs[0].paused, false);
  const pid = agent.status().runs[0].pid!;
  const stopped = await stoppedFraction(pid, 60, 7);
  assert.ok(stopped > 0.4, `the instance is held by the duty cycle: stopped in ${stopped} of samples (share ${share1})`);
  // Back to the top level: the clock ratio returns to 1.
  transport.send({ kind: 'power', level: 4, booster: 0, filler: [false, false], resistiveW: null });
  const tTop = Date.now();
  await delay(300);
  agent.tick(Date.now());
  await delay(300);
  agent.tick(Date.now());
  await agent.flush();
  const last = transport.received.filter((r) => r.kind === 'instances').map((r) => r.payload as InstanceReport).filter((r) => r.add && r.at > tTop);
  assert.equal(last.at(-1)!.clockRatio, 1);
  assert.equal(await stoppedFraction(pid, 20, 7), 0, 'at the top level the instance is never stopped');
});
