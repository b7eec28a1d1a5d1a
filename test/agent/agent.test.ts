// The agent with an in-memory transport, in-memory files and a room twin: assignments to success (output, progress,
// results, the input cache), the local safety limit and comfort filler, reports buffered on disk while the link is
// down and replayed in order, and a kill -9-like restart on the same workRoot that replays the outbox.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { after, afterEach, before, describe, test } from 'node:test';
import { Agent, AgentFilesError, type AgentFiles, type AgentOptions, type AgentTransport, type ReportKind } from '../../src/agent/agent.ts';
import type { InputRef } from '../../src/agent/input-cache.ts';
import { Outbox } from '../../src/agent/outbox.ts';
import { RoomTwin } from '../../src/agent/room-twin.ts';
import { IMAGE, setUpContainers } from '../helpers/container-image.ts';
import type { Assignment, DeviceCommand, DeviceReport, InstanceReport } from '../../src/protocol/device.ts';
import { testAssignment } from '../helpers/assignment.ts';

// ---------------------------------------------------------------------------------------------------------------
// Fakes

class MemTransport implements AgentTransport {
  connected: boolean;
  readonly received: Array<{ kind: ReportKind; payload: DeviceReport | InstanceReport }> = [];
  private cmd: (c: DeviceCommand) => void = () => undefined;
  private conn: (up: boolean) => void = () => undefined;
  constructor(connected = true) {
    this.connected = connected;
  }
  publish(kind: ReportKind, payload: DeviceReport | InstanceReport): Promise<void> {
    if (!this.connected) return Promise.reject(new Error('not connected'));
    this.received.push({ kind, payload: structuredClone(payload) });
    return Promise.resolve();
  }
  onCommand(fn: (c: DeviceCommand) => void): void {
    this.cmd = fn;
  }
  onConnectionChange(fn: (up: boolean) => void): void {
    this.conn = fn;
  }
  send(c: DeviceCommand): void {
    this.cmd(c);
  }
  setConnected(up: boolean): void {
    this.connected = up;
    this.conn(up);
  }
  telemetry(): DeviceReport[] {
    return this.received.filter((r) => r.kind === 'telemetry').map((r) => r.payload as DeviceReport);
  }
  instances(instanceId?: number): InstanceReport[] {
    return this.received.filter((r) => r.kind === 'instances').map((r) => r.payload as InstanceReport).filter((r) => instanceId === undefined || r.instanceId === instanceId);
  }
}

class MemFiles implements AgentFiles {
  readonly inputs = new Map<string, Buffer>();
  readonly results = new Map<string, string>();
  downloads = 0;
  online = true;
  listInputs(): Promise<InputRef[]> {
    if (!this.online) return Promise.reject(new AgentFilesError('coordinator unreachable', true));
    return Promise.resolve([...this.inputs].map(([key, b]) => ({ bucket: 'in', key, size: b.length, etag: createHash('md5').update(b).digest('hex') })));
  }
  download(_a: Assignment, input: InputRef): Promise<Readable> {
    if (!this.online) return Promise.reject(new AgentFilesError('coordinator unreachable', true));
    this.downloads++;
    return Promise.resolve(Readable.from([this.inputs.get(input.key)!]));
  }
  async upload(a: Assignment, key: string, body: Readable, size: number): Promise<void> {
    if (!this.online) {
      body.destroy();
      throw new AgentFilesError('coordinator unreachable', true);
    }
    const chunks: Buffer[] = [];
    for await (const c of body as AsyncIterable<Buffer>) chunks.push(c);
    const b = Buffer.concat(chunks);
    assert.equal(b.length, size);
    this.results.set(`${a.instanceId}/${key}`, b.toString('utf8'));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'hearth-agent-'));
});
/** Every agent a test made: closed after each test, so a failed assertion cannot leave processes behind. */
const agents: Agent[] = [];
afterEach(async () => {
  await Promise.allSettled(agents.splice(0).map((a) => a.close()));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

let n = 0;
interface World {
  agent: Agent;
  transport: MemTransport;
  files: MemFiles;
  room: RoomTwin;
  workRoot: string;
  now: { ms: number };
  warnings: string[];
}

function world(
  o: { connected?: boolean; spec?: string; initialC?: number; speed?: number; workRoot?: string; limits?: AgentOptions['limits']; heater?: AgentOptions['heater']; containers?: boolean } = {},
): World {
  const workRoot = o.workRoot ?? join(root, `w${++n}`);
  const transport = new MemTransport(o.connected ?? true);
  const files = new MemFiles();
  const room = new RoomTwin({ spec: o.spec ?? 'dwelling-1974-1982', initialC: o.initialC ?? 19, speed: o.speed ?? 1 });
  const now = { ms: Date.UTC(2025, 0, 15, 8) };
  const warnings: string[] = [];
  const agent = new Agent({
    deviceId: 'h1',
    boards: 3,
    coresPerBoard: 4,
    workRoot,
    files,
    transport,
    clock: () => now.ms,
    room,
    limits: o.limits ?? { setpointC: 19, safetyC: 28 },
    heater: o.heater,
    containers: o.containers,
    onWarning: (m) => warnings.push(m),
  });
  agents.push(agent);
  return { agent, transport, files, room, workRoot, now, warnings };
}

function assignment(instanceId: number, command: string, extra: Partial<Assignment> = {}): Assignment {
  return testAssignment({ taskUuid: 'task-1', instanceId, accountId: 'acct-1', boardIndex: instanceId % 3, command, env: { INSTANCE_ID: String(instanceId) }, resourceBuckets: ['in'], resultBucket: 'out', ...extra });
}

/** Ticks the fake clock by `stepMs` (with a short real pause for the processes) until `done()` or `max` ticks. */
async function runUntil(w: World, done: () => boolean, o: { stepMs?: number; max?: number; pauseMs?: number } = {}): Promise<void> {
  for (let i = 0; i < (o.max ?? 400); i++) {
    if (done()) return;
    w.now.ms += o.stepMs ?? 1000;
    w.agent.tick(w.now.ms);
    await delay(o.pauseMs ?? 10);
  }
  assert.fail('condition not reached');
}

/** Reports of one attempt have seq 1, 2, 3… in order, without a gap or a duplicate. */
function assertSeqs(reports: InstanceReport[]): void {
  assert.deepEqual(
    reports.map((r) => r.seq),
    reports.map((_r, i) => i + 1),
  );
}

function procState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------

describe('assignments', () => {
  test('a two-instance assignment runs to success with stdout, progress and results; inputs are downloaded once', async () => {
    const w = world();
    w.files.inputs.set('data/in.txt', Buffer.from('hello input\n'));
    w.agent.tick(w.now.ms);
    const cmd = 'cat data/in.txt; echo "progress 40%"; sleep 0.3; echo "progress 90%"; echo out-${INSTANCE_ID} > result-${INSTANCE_ID}.txt; echo oops >&2; test "$TASK_PATH" = "$PWD"';
    for (const i of [0, 1]) w.transport.send({ kind: 'start', assignment: assignment(i, cmd, { progressRegexes: ['progress (\\d+)%'] }) });
    // A start delivered twice (at least once delivery) runs once.
    w.transport.send({ kind: 'start', assignment: assignment(0, cmd, { progressRegexes: ['progress (\\d+)%'] }) });
    await runUntil(w, () => w.agent.status().runs.length === 0, { stepMs: 1000, pauseMs: 20 });
    await w.agent.settled();
    w.now.ms += 5000;
    w.agent.tick(w.now.ms);
    assert.equal(await w.agent.flush(), 0);

    for (const i of [0, 1]) {
      const reps = w.transport.instances(i);
      assertSeqs(reps);
      assert.equal(reps[0].state, 'running');
      assert.equal(reps[0].phase, 'download');
      assert.ok(reps.some((r) => r.phase === 'execution' && r.state === 'running'));
      const last = reps[reps.length - 1];
      assert.equal(last.state, 'success', JSON.stringify(last));
      assert.equal(last.exitCode, 0);
      assert.deepEqual(last.results, [{ key: `result-${i}.txt`, size: `out-${i}\n`.length }]);
      assert.equal(last.progress, 90);
      assert.equal(reps.filter((r) => r.state === 'success').length, 1);
      const stdout = reps.map((r) => r.stdout ?? '').join('');
      assert.equal(stdout, 'hello input\nprogress 40%\nprogress 90%\n');
      assert.equal(reps.map((r) => r.stderr ?? '').join(''), 'oops\n');
      const wall = reps.reduce((s, r) => s + (r.add?.wallTimeSec ?? 0), 0);
      const energy = reps.reduce((s, r) => s + (r.add?.energyWh ?? 0), 0);
      assert.ok(wall > 0 && energy > 0, `usage accounted (wall ${wall} s, energy ${energy} Wh)`);
      assert.ok(reps.every((r) => r.deviceId === 'h1'));
      assert.equal(w.files.results.get(`${i}/result-${i}.txt`), `out-${i}\n`);
    }
    // The staged input is not uploaded back; the second instance staged it from the cache.
    assert.equal([...w.files.results.keys()].filter((k) => k.includes('in.txt')).length, 0);
    assert.equal(w.files.downloads, 1);
    assert.deepEqual(w.agent.status().cache, { downloads: 1, hits: 1 });
    // Working directories are gone; telemetry flowed with a monotone meter.
    assert.deepEqual(readdirSync(join(w.workRoot, 'runs')), []);
    const tele = w.transport.telemetry();
    assert.ok(tele.length >= 2);
    for (let k = 1; k < tele.length; k++) assert.ok(tele[k].meterWh >= tele[k - 1].meterWh && tele[k].at > tele[k - 1].at);
    assert.ok(tele.some((t) => t.computeW > 0 && t.busyBoards > 0));
    await w.agent.close();
  });

  test('a kill ends the attempt with a usage report and no state; a failing command reports failure', async () => {
    const w = world();
    w.agent.tick(w.now.ms);
    w.transport.send({ kind: 'start', assignment: assignment(0, 'sleep 30', { resourceBuckets: [] }) });
    w.transport.send({ kind: 'start', assignment: assignment(1, 'echo no; exit 3', { resourceBuckets: [] }) });
    await runUntil(w, () => w.agent.status().runs.some((r) => r.instanceId === 0 && r.pid !== null) && w.agent.status().runs.length === 1);
    w.transport.send({ kind: 'kill', ref: { taskUuid: 'task-1', instanceId: 0, attempt: 1 } });
    await w.agent.settled();
    assert.equal(await w.agent.flush(), 0);
    const killed = w.transport.instances(0);
    assertSeqs(killed);
    assert.ok(!killed.some((r) => r.state === 'success' || r.state === 'failure'));
    const failed = w.transport.instances(1);
    const last = failed[failed.length - 1];
    assert.equal(last.state, 'failure');
    assert.equal(last.exitCode, 3);
    assert.equal(last.error, 'exit code 3');
    await w.agent.close();
  });
});

describe('local thermostat', () => {
  test('above safetyC every instance is paused whatever the coordinator says, and resumes 1 K below', async () => {
    // The room starts above its 25 °C safety limit; the twin runs 60× faster than the fake clock.
    const w = world({ initialC: 26.5, speed: 60, limits: { setpointC: 19, safetyC: 25 } });
    w.transport.send({ kind: 'start', assignment: assignment(0, 'sleep 30', { resourceBuckets: [] }) });
    await runUntil(w, () => w.agent.status().runs[0]?.pid != null, { stepMs: 0, pauseMs: 20 });
    const pid = w.agent.status().runs[0].pid!;
    w.agent.tick(w.now.ms); // the thermostat sees 26.5 °C
    assert.equal(w.agent.status().safetyTripped, true);
    assert.equal(w.agent.status().runs[0].paused, true);
    // Stopped: 'T', or 'D' for a parent held in vfork by a child stopped before it could exec (as runner.test.ts).
    const stopped = (): boolean => procState(pid) === 'T' || procState(pid) === 'D';
    assert.ok(stopped(), `the process group is stopped: ${procState(pid)}`);
    // The coordinator asks to resume and to fill: the safety limit wins.
    w.transport.send({ kind: 'resume', ref: { taskUuid: 'task-1', instanceId: 0, attempt: 1 } });
    w.transport.send({ kind: 'power', level: 4, booster: 0, filler: [false, true, true], resistiveW: null });
    assert.equal(w.agent.status().runs[0].paused, true);
    assert.ok(stopped(), `still stopped: ${procState(pid)}`);
    const tripTicks: DeviceReport[] = [];
    await runUntil(
      w,
      () => {
        if (w.agent.status().safetyTripped) return false;
        return true;
      },
      { stepMs: 10_000, pauseMs: 0, max: 2000 },
    );
    // Resumed once the room cooled to 24 °C.
    assert.ok(w.agent.status().airC <= 24, `air ${w.agent.status().airC}`);
    assert.equal(w.agent.status().runs[0].paused, false);
    assert.notEqual(procState(pid), 'T');
    await w.agent.flush();
    for (const t of w.transport.telemetry()) if (t.airC > 24) tripTicks.push(t);
    // While tripped: no filler and the instance's board idles (30 W).
    assert.ok(tripTicks.length > 1);
    for (const t of tripTicks.slice(1)) {
      assert.equal(t.fillerW, 0);
      assert.ok(t.computeW <= 30.01, `computeW ${t.computeW}`);
    }
    const states = w.transport.instances(0).filter((r) => r.state !== undefined).map((r) => r.state);
    assert.deepEqual(states, ['running', 'paused', 'running']);
    assertSeqs(w.transport.instances(0));
    await w.agent.close();
  });

  test('a cold, idle device runs filler (booked at full board power, no CPU) from setpoint − 0.5 until setpoint + 0.5', async () => {
    // A well-insulated room (495 W of filler can lift a 1974 room only ~8 K above a 5 °C outdoors).
    const w = world({ spec: 'dwelling-rt2012', initialC: 17, speed: 30 });
    w.agent.tick(w.now.ms);
    assert.equal(w.agent.status().localFiller, true);
    assert.deepEqual(w.agent.status().fillerBoards, [true, true, true]);
    await runUntil(w, () => w.transport.telemetry().filter((t) => t.fillerW === 0).length >= 2 && w.agent.status().localFiller, { stepMs: 10_000, pauseMs: 0, max: 3000 });
    const tele = w.transport.telemetry();
    // Filler at three boards' full power, the twin heated by it, no busy boards and no process started.
    assert.equal(tele[0].fillerW, 3 * 165);
    assert.equal(tele[0].computeW, 0);
    assert.equal(tele[0].busyBoards, 0);
    assert.equal(existsSync(join(w.workRoot, 'filler')), false);
    // Off only once at or above 19.5 °C, on again only below 18.5 °C.
    for (let k = 1; k < tele.length; k++) {
      if (tele[k - 1].fillerW > 0 && tele[k].fillerW === 0) assert.ok(tele[k - 1].airC >= 19.5, `stopped at ${tele[k - 1].airC}`);
      if (tele[k - 1].fillerW === 0 && tele[k].fillerW > 0) assert.ok(tele[k - 1].airC < 18.5, `restarted at ${tele[k - 1].airC}`);
    }
    assert.ok(Math.max(...tele.map((t) => t.airC)) < 21, 'the room stays near its setpoint');
    // Work assigned: no local filler on the device.
    w.transport.send({ kind: 'start', assignment: assignment(0, 'sleep 30', { resourceBuckets: [] }) });
    assert.deepEqual(w.agent.status().fillerBoards, [false, false, false]);
    await w.agent.close();
  });
});

describe('filler on real hardware', () => {
  test('without a twin, filler boards run busy loops measured by their CPU; a coordinator order does not outlive the link', async () => {
    const workRoot = join(root, `w${++n}`);
    const transport = new MemTransport(true);
    let now = Date.UTC(2025, 0, 15, 8);
    const agent = new Agent({
      deviceId: 'h1',
      boards: 3,
      coresPerBoard: 4,
      workRoot,
      files: new MemFiles(),
      transport,
      clock: () => now,
      sensor: () => ({ airC: 19, bodyC: 25 }),
      limits: { setpointC: 19, safetyC: 28 },
    });
    agents.push(agent);
    agent.tick(now);
    transport.send({ kind: 'power', level: 4, booster: 0, filler: [false, true, false], resistiveW: null });
    agent.tick(now);
    for (let k = 0; k < 100 && !existsSync(join(workRoot, 'filler')); k++) await delay(10);
    await delay(500);
    now += 500;
    agent.tick(now);
    await agent.flush();
    const t = transport.telemetry().at(-1)!;
    // Above the board's 30 W idle: the loop's CPU was measured (how much depends on this machine's load).
    assert.ok(t.fillerW > 31, `a busy loop draws power (${t.fillerW} W)`);
    assert.deepEqual(agent.status().fillerBoards, [false, true, false]);
    transport.setConnected(false);
    agent.tick(now + 1000);
    assert.deepEqual(agent.status().fillerBoards, [false, false, false]);
    await agent.close();
  });
});

describe('offline resilience', () => {
  test('with the link down reports are buffered on disk, then replayed in order after reconnection, none lost or duplicated', async () => {
    const w = world({ connected: false });
    w.files.online = false;
    w.agent.tick(w.now.ms);
    w.transport.send({ kind: 'start', assignment: assignment(0, 'echo working; echo r > r.txt', { resourceBuckets: [] }) });
    // The instance runs, then waits to upload its result while the coordinator is unreachable.
    await runUntil(w, () => Outbox.peek(join(w.workRoot, 'outbox')).some((e) => (e.payload as InstanceReport).phase === 'upload'), { stepMs: 1000, pauseMs: 20 });
    const ticks = 12;
    for (let k = 0; k < ticks; k++) {
      w.now.ms += 1000;
      w.agent.tick(w.now.ms);
    }
    assert.equal(await w.agent.flush(), w.agent.status().outbox);
    assert.equal(w.transport.received.length, 0);
    assert.equal(w.agent.status().runs.length, 1, 'still waiting to upload');
    const buffered = Outbox.peek(join(w.workRoot, 'outbox'));
    assert.ok(buffered.length > 12);
    assert.ok(buffered.some((e) => e.kind === 'instances'));
    // The link and the coordinator come back.
    w.files.online = true;
    w.transport.setConnected(true);
    await w.agent.settled();
    w.now.ms += 1000;
    w.agent.tick(w.now.ms);
    assert.equal(await w.agent.flush(), 0);
    // Everything buffered arrived first, in order; then the rest.
    const got = w.transport.received.slice(0, buffered.length).map((r) => r.payload);
    assert.deepEqual(got, buffered.map((e) => e.payload));
    const tele = w.transport.telemetry();
    for (let k = 1; k < tele.length; k++) assert.ok(tele[k].at > tele[k - 1].at, 'telemetry in order, once each');
    const reps = w.transport.instances(0);
    assertSeqs(reps);
    const last = reps[reps.length - 1];
    assert.equal(last.state, 'success');
    assert.deepEqual(last.results, [{ key: 'r.txt', size: 2 }]);
    assert.equal(reps.map((r) => r.stdout ?? '').join(''), 'working\n');
    assert.equal(w.files.results.get('0/r.txt'), 'r\n');
    await w.agent.close();
    // Acknowledged entries are gone from the disk.
    assert.deepEqual(Outbox.peek(join(w.workRoot, 'outbox')), []);
  });

  test('cut off with work assigned, a cold room gets filler on the free boards from the local thermostat; once connected, the coordinator decides again', async () => {
    const w = world({ connected: false, spec: 'dwelling-rt2012', initialC: 17, speed: 30 });
    w.files.online = false;
    w.agent.tick(w.now.ms);
    w.transport.send({ kind: 'start', assignment: assignment(0, 'echo r > r.txt', { resourceBuckets: [] }) });
    // The instance ends and waits to upload its result: its board is free, the work is still assigned.
    await runUntil(w, () => Outbox.peek(join(w.workRoot, 'outbox')).some((e) => (e.payload as InstanceReport).phase === 'upload'), { stepMs: 1000, pauseMs: 20 });
    w.now.ms += 1000;
    w.agent.tick(w.now.ms);
    assert.equal(w.agent.status().runs.length, 1, 'still waiting to upload');
    assert.equal(w.agent.status().localFiller, true, 'the room is below setpoint − 0.5 K');
    assert.deepEqual(w.agent.status().fillerBoards, [true, true, true], 'nobody else heats the room while cut off');
    // The link comes back: with work assigned, filler is the coordinator's to order (it ordered none).
    w.transport.setConnected(true);
    w.now.ms += 1000;
    w.agent.tick(w.now.ms);
    assert.deepEqual(w.agent.status().fillerBoards, [false, false, false]);
    await w.agent.close();
  });

  test('after a kill -9-like stop, a new agent on the same workRoot reaps the orphaned processes and replays the outbox', async () => {
    const first = world({ connected: false });
    first.agent.tick(first.now.ms);
    first.transport.send({ kind: 'start', assignment: assignment(0, 'sleep 30', { resourceBuckets: [] }) });
    await runUntil(first, () => first.agent.status().runs[0]?.pid != null, { pauseMs: 20 });
    const pid = first.agent.status().runs[0].pid!;
    for (let k = 0; k < 5; k++) {
      first.now.ms += 5000;
      first.agent.tick(first.now.ms);
    }
    await first.agent.flush();
    const buffered = Outbox.peek(join(first.workRoot, 'outbox'));
    assert.ok(buffered.length >= 7);
    // The crash tore the last line of the outbox.
    appendFileSync(join(first.workRoot, 'outbox', 'outbox.jsonl'), '{"i":99999,"k":"telemetry","p":{"dev');
    // No close(): the first agent is simply abandoned. The next one opens the same directory, connected.
    const second = world({ workRoot: first.workRoot });
    assert.ok(second.warnings.some((m) => /killed \d+ process\(es\) left running/.test(m)), second.warnings.join('; '));
    for (let k = 0; k < 100 && procState(pid) !== null && procState(pid) !== 'Z'; k++) await delay(10);
    assert.ok(procState(pid) === null || procState(pid) === 'Z', 'the orphaned instance was killed');
    await second.agent.flush();
    assert.deepEqual(
      second.transport.received.map((r) => r.payload),
      buffered.map((e) => e.payload),
    );
    assert.ok(second.transport.instances(0).some((r) => r.phase === 'execution'));
    second.now.ms = first.now.ms + 5000;
    second.agent.tick(second.now.ms);
    second.now.ms += 5000;
    second.agent.tick(second.now.ms);
    assert.equal(await second.agent.flush(), 0);
    assert.equal(second.transport.telemetry().length, buffered.filter((e) => e.kind === 'telemetry').length + 1);
    // The abandoned agent notices its process died; its late reports go to the file it had open, not the new one.
    await first.agent.close();
    await second.agent.close();
    assert.deepEqual(Outbox.peek(join(first.workRoot, 'outbox')), []);
  });
});

describe('room twin', () => {
  test('steps are exact at any length, and speed scales simulated time', () => {
    const a = new RoomTwin({ spec: 'dwelling-rt2012:25', initialC: 18 });
    const b = new RoomTwin({ spec: 'dwelling-rt2012:25', initialC: 18 });
    const c = new RoomTwin({ spec: 'dwelling-rt2012:25', initialC: 18, speed: 60 });
    const cold = new RoomTwin({ spec: 'dwelling-rt2012:25', initialC: 18 });
    for (let k = 0; k < 360; k++) a.step(10, 500, 2);
    b.step(3600, 500, 2);
    c.step(60, 500, 2);
    cold.step(3600, 0, 2);
    assert.ok(Math.abs(a.airC - b.airC) < 1e-9 && Math.abs(a.airC - c.airC) < 1e-9, `${a.airC} ${b.airC} ${c.airC}`);
    assert.ok(a.airC > cold.airC + 0.5, `a heated room is warmer (${a.airC} vs ${cold.airC})`);
    assert.equal(c.simulatedS, 3600);
    const tank = new RoomTwin({ spec: 'tank-200', initialC: 50 });
    tank.step(3600, 0, 5);
    assert.ok(tank.airC < 50 && tank.airC > 45);
    assert.throws(() => new RoomTwin({ spec: 'castle-1600' }), /room twin "castle-1600"/);
  });
});

describe('docker-batch images', () => {
  let dir = '';
  let skip = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hearth-agent-image-'));
    skip = setUpContainers(dir);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('with containers enabled and a runtime, a docker-batch instance runs in its image; without, DOCKER_CMD runs in the sandbox and the info says why', async (t) => {
    const [repo, tag] = IMAGE.split(':');
    const cmd = 'echo "in $TASK_PATH as $(pwd)"; echo r-${INSTANCE_ID} > result.txt; ls /bin/busybox';
    const a = (i: number): Assignment => assignment(i, cmd, { resourceBuckets: [], env: { INSTANCE_ID: String(i), DOCKER_REPO: repo, DOCKER_TAG: tag } });
    // Not enabled: the host's sandbox, whatever the node has.
    const off = world();
    off.agent.tick(off.now.ms);
    off.transport.send({ kind: 'start', assignment: a(0) });
    await runUntil(off, () => off.agent.status().runs.length === 0, { stepMs: 1000, pauseMs: 20 });
    await off.agent.settled();
    const offLast = off.transport.instances(0).at(-1)!;
    assert.match(String(offLast.info?.runtime), /containers are not enabled on this agent/);
    assert.notEqual(offLast.info?.sandbox, 'container');
    if (skip) return t.skip(`no container: ${skip}`);
    const on = world({ containers: true });
    on.agent.tick(on.now.ms);
    on.transport.send({ kind: 'start', assignment: a(1) });
    await runUntil(on, () => on.agent.status().runs.length === 0, { stepMs: 1000, pauseMs: 100, max: 1200 });
    await on.agent.settled();
    const reps = on.transport.instances(1);
    const last = reps.at(-1)!;
    assert.equal(last.state, 'success', JSON.stringify(last));
    assert.equal(last.info?.sandbox, 'container');
    assert.ok(String(last.info?.runtime).startsWith(`container ${IMAGE} (`), String(last.info?.runtime));
    assert.equal(reps.map((r) => r.stdout ?? '').join(''), 'in /job as /job\n/bin/busybox\n');
    assert.deepEqual(last.results, [{ key: 'result.txt', size: 'r-1\n'.length }]);
    assert.equal(on.files.results.get('1/result.txt'), 'r-1\n');
  });
});
