// The live loop against a scripted device link (the one fake: hardware we do not have here) and a real SQLite
// store, on a fake clock: dispatch through the scheduler, the task state machine from instance reports, retry
// budgets, cancellation reaching the device, dependencies, maxTimeQueueSeconds, the credits gate, restart
// recovery (checkpoints awaited or kept across a restart, over a store reopened from its file), and duplicate
// reports counted once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/coordinator/store/index.ts';
import { SYSTEM, type Store } from '../../src/coordinator/store/types.ts';
import { createAccount } from '../../src/coordinator/auth/tokens.ts';
import { prepareTask, abortTask } from '../../src/coordinator/api/task-ops.ts';
import type { TaskCreate } from '../../src/protocol/tasks.ts';
import { FleetLoop, liveHeaterModel, type FleetLoopOptions } from '../../src/coordinator/fleet/loop.ts';
import { levelShare } from '../../src/physics/board.ts';
import { createHeaterModel, heaterPowerW } from '../../src/physics/heater.ts';
import { InvalidParameterError } from '../../src/physics/errors.ts';
import { priceTable } from '../../src/coordinator/accounting/billing.ts';
import { OVERFLOW_DEVICE, type DeviceLink, type Inbox } from '../../src/coordinator/fleet/link.ts';
import type { Assignment, DeviceCommand, DeviceReport, InstanceReport } from '../../src/protocol/device.ts';

/** A link whose devices are scripted by the test: commands are recorded, reports are pushed by hand. */
class ScriptedLink implements DeviceLink {
  sent: Array<{ deviceId: string; command: DeviceCommand }> = [];
  inbox: Inbox = { reports: [], instances: [] };
  send(deviceId: string, command: DeviceCommand): void {
    this.sent.push({ deviceId, command });
  }
  drain(): Inbox {
    const out = this.inbox;
    this.inbox = { reports: [], instances: [] };
    return out;
  }
  starts(): Assignment[] {
    return this.sent.flatMap((s) => (s.command.kind === 'start' ? [s.command.assignment] : []));
  }
  kills(): number {
    return this.sent.filter((s) => s.command.kind === 'kill').length;
  }
  telemetry(deviceId: string, at: number, airC: number): void {
    const r: DeviceReport = { deviceId, at, airC, setpointC: 20, bodyC: airC, outdoorC: 0, powerW: 0, computeW: 0, fillerW: 0, boosterW: 0, busyBoards: 0, level: 4, meterWh: 0 };
    this.inbox.reports.push(r);
  }
  report(a: Assignment, seq: number, at: number, extra: Partial<InstanceReport>): InstanceReport {
    const r: InstanceReport = { taskUuid: a.taskUuid, instanceId: a.instanceId, attempt: a.attempt, seq, at, deviceId: 'h1', ...extra };
    this.inbox.instances.push(r);
    return r;
  }
}

interface World {
  store: Store;
  link: ScriptedLink;
  loop: FleetLoop;
  account: string;
  now: { ms: number };
  submit(body: Partial<TaskCreate>): Promise<string>;
  tick(): Promise<void>;
  state(uuid: string): Promise<string | undefined>;
  /**
   * A new coordinator process (a crash, a deploy): the store is closed and opened again from its file, and a new
   * loop with a new link runs over it; what the old loop held in memory is gone. File stores only.
   */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** `onFile`: the store is a SQLite file in a temporary directory (removed by close), for a world that restarts. */
async function world(credits = 100, options: Partial<FleetLoopOptions> = {}, onFile = false): Promise<World> {
  const dir = onFile ? mkdtempSync(join(tmpdir(), 'hearth-fleet-')) : null;
  const url = dir ? `sqlite:${join(dir, 'hearth.db')}` : 'sqlite::memory:';
  const store = await openStore(url);
  const { account } = await createAccount(store, { email: 'c@example.com', credits });
  await store.upsertRegistry({ id: 'site', kind: 'site', name: 'site', spec: { climateZone: 'H2c', tariffEURPerKWh: 0.2 } });
  await store.upsertRegistry({ id: 'room', kind: 'room', siteId: 'site', name: 'room', spec: { archetype: 'dwelling-1974-1982', areaM2: 20, comfortC: 20, setbackC: 16, minC: 16, maxC: 23, safetyC: 28 } });
  await store.upsertRegistry({ id: 'h1', kind: 'heater', siteId: 'site', parentId: 'room', name: 'h1', spec: { boards: 3, coresPerBoard: 4, memoryMBPerBoard: 8192, gpu: false, maxW: 495 } });
  const link = new ScriptedLink();
  const now = { ms: Date.UTC(2026, 0, 12, 8) };
  const loop = new FleetLoop({ store, link, periodS: 60, ...options });
  const w: World = {
    store,
    link,
    loop,
    account: account.id,
    now,
    submit: async (body) => {
      const full = { name: 'job', profile: 'docker-batch', instanceCount: 2, constants: [{ key: 'DOCKER_CMD', value: 'echo ${INSTANCE_ID}' }], ...body } as TaskCreate;
      const acc = (await w.store.getAccount(account.id))!;
      return (await w.store.createTask({ ...(await prepareTask(w.store, acc, full)), creationDate: now.ms })).uuid;
    },
    tick: async () => {
      // A cold room (16 °C against 20): every policy wants to put work there.
      w.link.telemetry('h1', now.ms, 16);
      await w.loop.tick(now.ms);
      now.ms += 60_000;
    },
    state: async (uuid) => (await w.store.getTask(SYSTEM, uuid))?.state,
    restart: async () => {
      assert.ok(dir, 'a memory store does not outlive its process');
      await w.store.close();
      w.store = await openStore(url);
      w.link = new ScriptedLink();
      w.loop = new FleetLoop({ store: w.store, link: w.link, periodS: 60, ...options });
    },
    close: async () => {
      await w.store.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return w;
}

test('fleet loop: dispatch, running, success; the task walks the state machine; duplicates count once', async () => {
  const w = await world();
  try {
    const uuid = await w.submit({ instanceCount: 2 });
    await w.tick();
    await w.tick();
    const starts = w.link.starts();
    assert.equal(starts.length, 2, 'both instances dispatched to the cold room');
    assert.deepEqual(starts.map((a) => a.env.INSTANCE_ID).sort(), ['0', '1']);
    assert.equal(starts[0].env.QSIZE, '2');
    assert.equal(starts[0].attempt, 1);
    assert.equal(await w.state(uuid), 'FullyDispatched');
    for (const a of starts) w.link.report(a, 1, w.now.ms, { state: 'running', phase: 'execution', stdout: `hello ${a.instanceId}\n` });
    await w.tick();
    assert.equal(await w.state(uuid), 'FullyExecuting');
    const [a0, a1] = starts;
    const fin = w.link.report(a0, 2, w.now.ms, { state: 'success', add: { energyWh: 1, ghzSeconds: 4, execTimeSec: 1, wallTimeSec: 2 }, clockRatio: 1 });
    w.link.inbox.instances.push({ ...fin }); // delivered twice (a replay after a reconnection)
    await w.tick();
    // One done, the other still running: every unfinished instance executes.
    assert.equal(await w.state(uuid), 'FullyExecuting');
    const inst = await w.store.getInstance(SYSTEM, uuid, a0.instanceId);
    assert.equal(inst?.energyWh, 1, 'a replayed report is counted once');
    assert.equal(inst?.state, 'success');
    w.link.report(a1, 2, w.now.ms, { state: 'success' });
    await w.tick();
    const done = await w.store.getTask(SYSTEM, uuid);
    assert.equal(done?.state, 'Success');
    assert.ok(done?.endDate);
    const out = await w.store.readOutput(SYSTEM, uuid, 'stdout');
    assert.equal(out?.map((c) => c.text).sort().join(''), 'hello 0\nhello 1\n');
  } finally {
    await w.close();
  }
});

test('fleet loop: each report is billed once, in the store with the report (wall time × cores × clock ratio at the task\'s price), replays and restarts charging nothing more', async () => {
  // 0.36 €/core-h: 0.0001 € a core-second.
  const warnings: string[] = [];
  const w = await world(100, { prices: priceTable({ flex: 0.36 }), hooks: { onWarning: (m) => void warnings.push(m) } }, true);
  try {
    const uuid = await w.submit({ instanceCount: 1, hardwareConstraints: [{ discriminator: 'MinimumCoreHardwareConstraint', coreCount: 2 }] });
    await w.tick();
    const [a] = w.link.starts();
    assert.equal(a.cores, 2);
    const first = w.link.report(a, 1, w.now.ms, { state: 'running', phase: 'execution', add: { energyWh: 1, ghzSeconds: 50, execTimeSec: 90, wallTimeSec: 100 }, clockRatio: 0.5 });
    w.link.inbox.instances.push({ ...first }); // delivered twice
    await w.tick();
    w.link.report(a, 2, w.now.ms, { state: 'running', add: { energyWh: 0, ghzSeconds: 1, execTimeSec: 3, wallTimeSec: 3 }, clockRatio: 0.25 });
    // A clock ratio no board can run at: the report is applied (its time counted) but not billed, with a warning.
    w.link.report(a, 3, w.now.ms, { state: 'running', add: { energyWh: 0, ghzSeconds: 1, execTimeSec: 3, wallTimeSec: 10 }, clockRatio: 1.5 });
    await w.tick();
    assert.ok(warnings.some((m) => /not billed: clockRatio/.test(m)), warnings.join('\n'));
    assert.equal((await w.store.getInstance(SYSTEM, uuid, 0))?.wallTimeSec, 113);
    // 100 s × 2 cores × 0.5 + 3 s × 2 × 0.25 = 101.5 core-seconds: 0.01015 €.
    const billed = async (): Promise<[number, number, number | undefined]> => {
      const [c] = await w.store.summarizeCharges(w.account);
      return [c.charges, c.coreSeconds, (await w.store.getAccount(w.account))?.creditsEUR];
    };
    assert.deepEqual(await billed(), [2, 101.5, 99.98985]);
    // A new coordinator, and the first report delivered again: nothing more is charged.
    await w.restart();
    w.link.inbox.instances.push({ ...first });
    await w.tick();
    assert.deepEqual(await billed(), [2, 101.5, 99.98985]);
  } finally {
    await w.close();
  }
});

test('fleet loop: a failed instance is retried within maxPerInstanceRetries, then the task fails', async () => {
  const w = await world();
  try {
    const uuid = await w.submit({ instanceCount: 1, retrySettings: { maxTotalRetries: 5, maxPerInstanceRetries: 1 } });
    await w.tick();
    const [first] = w.link.starts();
    w.link.report(first, 1, w.now.ms, { state: 'failure', exitCode: 3 });
    await w.tick();
    await w.tick();
    const starts = w.link.starts();
    assert.equal(starts.length, 2, 'retried once');
    assert.equal(starts[1].attempt, 2);
    assert.notEqual(await w.state(uuid), 'Failure');
    w.link.report(starts[1], 1, w.now.ms, { state: 'failure', exitCode: 3 });
    await w.tick();
    await w.tick();
    assert.equal(w.link.starts().length, 2, 'no third attempt');
    const t = await w.store.getTask(SYSTEM, uuid);
    assert.equal(t?.state, 'Failure');
    assert.equal(t?.retryCount, 1);
    const errors = (t?.status as { errors: Array<{ message: string }> }).errors;
    assert.ok(errors.some((e) => /exit code 3/.test(e.message)));
  } finally {
    await w.close();
  }
});

test('fleet loop: an abort reaches the device as a kill; a restart requeues what was in flight', async () => {
  const w = await world();
  try {
    const uuid = await w.submit({ instanceCount: 1 });
    await w.tick();
    assert.equal(w.link.starts().length, 1);
    await abortTask(w.store, w.account, uuid, w.now.ms);
    await w.tick();
    assert.equal(w.link.kills(), 1);
    assert.equal(await w.state(uuid), 'Cancelled');

    const other = await w.submit({ instanceCount: 1 });
    await w.tick();
    assert.equal((await w.store.getInstance(SYSTEM, other, 0))?.state, 'dispatched');
    // A new coordinator process over the same store: the devices died with the old one.
    const link2 = new ScriptedLink();
    const loop2 = new FleetLoop({ store: w.store, link: link2, periodS: 60 });
    link2.telemetry('h1', w.now.ms, 16);
    await loop2.tick(w.now.ms);
    const again = link2.starts();
    assert.equal(again.length, 1, 'requeued and dispatched again');
    assert.equal(again[0].attempt, 2);
  } finally {
    await w.close();
  }
});

test('fleet loop: dependencies, maxTimeQueueSeconds and the credits gate', async () => {
  const w = await world();
  try {
    const first = await w.submit({ instanceCount: 1 });
    const second = await w.submit({ instanceCount: 1, dependencies: { dependsOn: [first] } });
    await w.tick();
    assert.deepEqual(w.link.starts().map((a) => a.taskUuid), [first], 'the dependent task waits');
    w.link.report(w.link.starts()[0], 1, w.now.ms, { state: 'success' });
    await w.tick();
    await w.tick();
    assert.deepEqual(w.link.starts().map((a) => a.taskUuid), [first, second]);

    // No heater can take a 64-core instance: the policy sends it to the overflow datacenter.
    const big = await w.submit({ instanceCount: 1, hardwareConstraints: [{ discriminator: 'MinimumCoreHardwareConstraint', coreCount: 64 }] });
    await w.tick();
    const bigStart = w.link.sent.find((s) => s.command.kind === 'start' && s.command.assignment.taskUuid === big);
    assert.equal(bigStart?.deviceId, 'overflow');
    assert.equal((await w.store.getInstance(SYSTEM, big, 0))?.state, 'overflow');

    // An account without credits gets no dispatch.
    await w.store.adjustCredits(w.account, -1000);
    const broke = await w.submit({ instanceCount: 1 });
    await w.tick();
    assert.ok(!w.link.starts().some((a) => a.taskUuid === broke));
    assert.equal(await w.state(broke), 'Submitted');
  } finally {
    await w.close();
  }
});

test('fleet loop: the overflow executor falling silent loses its work like a heater — it goes back to the queue and out again', async () => {
  const w = await world();
  try {
    const dcStarts = (): Array<{ attempt: number }> => w.link.sent.filter((s) => s.deviceId === OVERFLOW_DEVICE && s.command.kind === 'start').map((s) => (s.command as { assignment: { attempt: number } }).assignment);
    const big = await w.submit({ instanceCount: 1, hardwareConstraints: [{ discriminator: 'MinimumCoreHardwareConstraint', coreCount: 64 }] });
    // The executor reports every period: its work stays where it is.
    for (let k = 0; k < 6; k++) {
      w.link.telemetry(OVERFLOW_DEVICE, w.now.ms, 20);
      await w.tick();
    }
    assert.deepEqual(dcStarts().map((a) => a.attempt), [1]);
    assert.equal((await w.store.getInstance(SYSTEM, big, 0))?.state, 'overflow');
    // Then it falls silent past the offline delay (three periods): the attempt is lost, the instance requeued and, no
    // heater being able to host it, sent to the overflow datacenter again.
    for (let k = 0; k < 6; k++) await w.tick();
    assert.deepEqual(dcStarts().map((a) => a.attempt), [1, 2]);
    const row = await w.store.getInstance(SYSTEM, big, 0);
    assert.equal(row?.state, 'overflow');
    assert.equal(row?.attempt, 2);
  } finally {
    await w.close();
  }
});

test('fleet loop: a task nobody starts within maxTimeQueueSeconds is cancelled', async () => {
  const w = await world();
  try {
    const uuid = await w.submit({ instanceCount: 1, maxTimeQueueSeconds: 90 });
    // The only heater never reports: it is offline, nothing can start.
    for (let k = 0; k < 3; k++) {
      await w.loop.tick(w.now.ms);
      w.now.ms += 60_000;
    }
    assert.equal(w.link.starts().length, 0);
    const t = await w.store.getTask(SYSTEM, uuid);
    assert.equal(t?.state, 'Cancelled');
    assert.match(JSON.stringify(t?.status), /maxTimeQueueSeconds/);
  } finally {
    await w.close();
  }
});

test('fleet loop: a finished task with autoDeleteOnCompletion is deleted after completionTimeToLive', async () => {
  const w = await world();
  try {
    const keep = await w.submit({ instanceCount: 1 });
    const gone = await w.submit({ instanceCount: 1, autoDeleteOnCompletion: true, completionTimeToLive: '00:05:00' });
    await w.tick();
    for (const a of w.link.starts()) w.link.report(a, 1, w.now.ms, { state: 'success' });
    await w.tick();
    assert.equal(await w.state(gone), 'Success');
    for (let k = 0; k < 3; k++) await w.tick(); // 3 min: still there
    assert.equal(await w.state(gone), 'Success');
    for (let k = 0; k < 4; k++) await w.tick(); // past 5 min
    assert.equal(await w.state(gone), undefined);
    assert.equal(await w.state(keep), 'Success');
  } finally {
    await w.close();
  }
});

test('fleet loop: a heater that falls silent loses its work to the queue, and another heater takes it', async () => {
  const w = await world();
  try {
    await w.store.upsertRegistry({ id: 'room2', kind: 'room', siteId: 'site', name: 'room2', spec: { archetype: 'dwelling-1974-1982', areaM2: 20, comfortC: 20, setbackC: 16, minC: 16, maxC: 23, safetyC: 28 } });
    await w.store.upsertRegistry({ id: 'h2', kind: 'heater', siteId: 'site', parentId: 'room2', name: 'h2', spec: { boards: 3, coresPerBoard: 4, memoryMBPerBoard: 8192, gpu: false, maxW: 495 } });
    const uuid = await w.submit({ instanceCount: 1 });
    // Only h1 reports at first: the instance lands there.
    await w.tick();
    const [first] = w.link.starts();
    assert.equal(w.link.sent.find((s) => s.command.kind === 'start')?.deviceId, 'h1');
    w.link.report(first, 1, w.now.ms, { state: 'running' });
    // From now on h1 is silent; h2 (cold) reports every period.
    for (let k = 0; k < 5; k++) {
      w.link.telemetry('h2', w.now.ms, 16);
      await w.loop.tick(w.now.ms);
      w.now.ms += 60_000;
    }
    const starts = w.link.sent.filter((s) => s.command.kind === 'start');
    assert.equal(starts.length, 2, 'dispatched again');
    assert.equal(starts[1].deviceId, 'h2');
    const inst = await w.store.getInstance(SYSTEM, uuid, 0);
    assert.equal(inst?.attempt, 2);
    assert.equal(inst?.heaterId, 'h2');
    assert.equal((await w.store.getTask(SYSTEM, uuid))?.retryCount, 0, 'a lost heater is not the task\'s fault');
  } finally {
    await w.close();
  }
});

test('fleet loop: settings out of range are refused, named', async () => {
  const store = await openStore('sqlite::memory:');
  try {
    const link = new ScriptedLink();
    const bad: Array<[Partial<FleetLoopOptions>, string]> = [
      [{ periodS: 0 }, 'periodS'],
      [{ periodS: NaN }, 'periodS'],
      [{ offlineAfterS: -5 }, 'offlineAfterS'],
      [{ offlineAfterPeriods: 0.5 }, 'offlineAfterPeriods'],
      [{ maxInfrastructureLosses: 1.5 }, 'maxInfrastructureLosses'],
      [{ checkpointGraceS: -1 }, 'checkpointGraceS'],
      [{ checkpointGraceS: 20, checkpointTimeoutS: 15 }, 'checkpointTimeoutS'],
    ];
    for (const [o, field] of bad) {
      assert.throws(() => new FleetLoop({ store, link, ...o }), (e: unknown) => e instanceof InvalidParameterError && e.field === field, JSON.stringify(o));
    }
  } finally {
    await store.close();
  }
});

test('fleet loop: a move stops a checkpointable instance with the configured grace; the next attempt waits the configured timeout for it, then the checkpoint is given up', async () => {
  const warnings: string[] = [];
  const w = await world(100, { checkpointGraceS: 3, checkpointTimeoutS: 40, hooks: { onWarning: (m) => warnings.push(m) } });
  try {
    await w.store.upsertRegistry({ id: 'room2', kind: 'room', siteId: 'site', parentId: undefined, name: 'room2', spec: { archetype: 'dwelling-1974-1982', areaM2: 20, comfortC: 20, setbackC: 16, minC: 16, maxC: 23, safetyC: 28 } });
    await w.store.upsertRegistry({ id: 'h2', kind: 'heater', siteId: 'site', parentId: 'room2', name: 'h2', spec: { boards: 3, coresPerBoard: 4, memoryMBPerBoard: 8192, gpu: false, maxW: 495 } });
    const uuid = await w.submit({ instanceCount: 1, checkpoint: 'snapshot' });
    await w.tick();
    const [a] = w.link.starts();
    assert.equal(w.link.sent.find((x) => x.command.kind === 'start')?.deviceId, 'h1');
    w.link.report(a, 1, w.now.ms, { state: 'running', phase: 'execution' });
    await w.tick();
    // Heater 2 reports, and the instance is ordered there.
    w.link.telemetry('h2', w.now.ms, 16);
    w.loop.orderMove({ taskUuid: uuid, instanceId: a.instanceId, deviceId: 'h2', board: 0 });
    await w.tick();
    const kill = w.link.sent.find((x) => x.command.kind === 'kill');
    assert.equal(kill?.deviceId, 'h1');
    assert.deepEqual(kill?.command.kind === 'kill' ? kill.command.checkpoint : undefined, { graceS: 3 });
    const moved = w.link.starts().find((x) => x.attempt === 2);
    assert.deepEqual(moved?.restore, { attempt: 1, waitS: 40 + 30 }, 'the new attempt waits the timeout (and a margin) for the checkpoint');
    // Heater 1 never sends its checkpoint: past 40 s it is given up (heater 1 still reports: not an offline loss).
    await w.tick();
    assert.ok(
      warnings.some((m) => m.includes('not received within 40 s')),
      warnings.join('\n'),
    );
  } finally {
    await w.close();
  }
});

/**
 * A world on a store file whose one instance, of a checkpointable task, runs (at 40 %) on heater 1 and is then
 * evicted with its checkpoint: first-fit evicts everything from a heater whose room is too warm, and the eviction (a
 * kill) keeps the instance queued. `hot` passes a minute with the room still too warm; `evictedMs` is the eviction's
 * tick.
 */
async function evictedWithCheckpoint(checkpointTimeoutS: number): Promise<{ w: World; warnings: string[]; hot: () => Promise<void>; uuid: string; a: Assignment; evictedMs: number }> {
  const warnings: string[] = [];
  const w = await world(100, { policy: 'first-fit', checkpointGraceS: 3, checkpointTimeoutS, hooks: { onWarning: (m) => warnings.push(m) } }, true);
  const hot = async (): Promise<void> => {
    w.link.telemetry('h1', w.now.ms, 25);
    await w.loop.tick(w.now.ms);
    w.now.ms += 60_000;
  };
  try {
    const uuid = await w.submit({ instanceCount: 1, checkpoint: 'snapshot' });
    await w.tick();
    const [a] = w.link.starts();
    w.link.report(a, 1, w.now.ms, { state: 'running', phase: 'execution', progress: 40 });
    await w.tick();
    const evictedMs = w.now.ms;
    await hot();
    return { w, warnings, hot, uuid, a, evictedMs };
  } catch (e) {
    await w.close();
    throw e;
  }
}

test('fleet loop: a checkpoint received before a coordinator restart is restored by the next attempt after it, however long that attempt waits for a heater', async () => {
  const { w, warnings, hot, uuid, a } = await evictedWithCheckpoint(40);
  try {
    const kill = w.link.sent.find((x) => x.command.kind === 'kill');
    assert.deepEqual(kill?.command.kind === 'kill' ? kill.command.checkpoint : undefined, { graceS: 3 }, 'evicted with its checkpoint');
    assert.equal((await w.store.getInstance(SYSTEM, uuid, 0))?.state, 'queued');
    // The heater stores the checkpoint and says so; then the coordinator restarts.
    w.link.report(a, 2, w.now.ms, { state: 'checkpointed', phase: 'checkpoint', checkpoint: { size: 1024, files: 2 } });
    await hot();
    await w.restart();
    // The room stays warm for longer than the checkpoint timeout: nothing starts, and a checkpoint already received
    // is not given up (only one on its way is).
    for (let k = 0; k < 3; k++) await hot();
    assert.equal(w.link.starts().length, 0);
    await w.tick();
    const [b] = w.link.starts();
    assert.equal(b?.attempt, 2);
    assert.deepEqual(b?.restore, { attempt: 1, waitS: 40 + 30 }, 'the attempt after the restart restores the checkpoint');
    assert.equal((await w.store.getInstance(SYSTEM, uuid, 0))?.progress, 40, 'with the progress the checkpoint holds');
    assert.ok(!warnings.some((m) => m.includes('lost')), warnings.join('\n'));
  } finally {
    await w.close();
  }
});

/** A world on a store file with a second heater (h2, in room2); `both` passes a minute with both rooms cold. */
async function twoHeaterWorld(options: Partial<FleetLoopOptions>): Promise<{ w: World; warnings: string[]; both: () => Promise<void> }> {
  const warnings: string[] = [];
  const w = await world(100, { ...options, hooks: { onWarning: (m) => warnings.push(m) } }, true);
  const both = async (): Promise<void> => {
    w.link.telemetry('h1', w.now.ms, 16);
    w.link.telemetry('h2', w.now.ms, 16);
    await w.loop.tick(w.now.ms);
    w.now.ms += 60_000;
  };
  try {
    await w.store.upsertRegistry({ id: 'room2', kind: 'room', siteId: 'site', name: 'room2', spec: { archetype: 'dwelling-1974-1982', areaM2: 20, comfortC: 20, setbackC: 16, minC: 16, maxC: 23, safetyC: 28 } });
    await w.store.upsertRegistry({ id: 'h2', kind: 'heater', siteId: 'site', parentId: 'room2', name: 'h2', spec: { boards: 3, coresPerBoard: 4, memoryMBPerBoard: 8192, gpu: false, maxW: 495 } });
  } catch (e) {
    await w.close();
    throw e;
  }
  return { w, warnings, both };
}

test('fleet loop: a checkpoint still on its way at a coordinator restart is awaited by the next attempt, and honoured when the old heater reports it after the restart', async () => {
  const { w, warnings, both } = await twoHeaterWorld({ checkpointGraceS: 3, checkpointTimeoutS: 300 });
  try {
    const uuid = await w.submit({ instanceCount: 1, checkpoint: 'snapshot' });
    await w.tick();
    const [a] = w.link.starts();
    assert.equal(w.link.sent.find((x) => x.command.kind === 'start')?.deviceId, 'h1');
    w.link.report(a, 1, w.now.ms, { state: 'running', phase: 'execution', progress: 25 });
    await w.tick();
    w.loop.orderMove({ taskUuid: uuid, instanceId: a.instanceId, deviceId: 'h2', board: 0 });
    await both();
    assert.deepEqual(w.link.starts().find((x) => x.attempt === 2)?.restore, { attempt: 1, waitS: 330 });
    // The coordinator restarts before heater 1 has sent its checkpoint; the attempt in flight goes back to the queue
    // and the next one restores the checkpoint still awaited. Heater 1 is not heard from in the new process's first
    // period: not heard from yet is not offline.
    await w.restart();
    w.link.telemetry('h2', w.now.ms, 16);
    await w.loop.tick(w.now.ms);
    w.now.ms += 60_000;
    const [c] = w.link.starts();
    assert.equal(c?.attempt, 3);
    assert.deepEqual(c?.restore, { attempt: 1, waitS: 330 }, 'the attempt after the restart awaits the checkpoint');
    // Heater 1 reports it now: the new process takes it (no kill for an attempt it thinks stale), and keeps it past
    // the timeout counted from the move.
    w.link.report(a, 2, w.now.ms, { state: 'checkpointed', phase: 'checkpoint', checkpoint: { size: 1024, files: 2 }, deviceId: 'h1' });
    for (let k = 0; k < 6; k++) await both();
    assert.ok(!w.link.sent.some((x) => x.command.kind === 'kill' && x.command.ref.attempt === 1), 'heater 1 is not told to stop the checkpointed attempt');
    assert.ok(!warnings.some((m) => m.includes('lost')), warnings.join('\n'));
    assert.notEqual((await w.store.listAttempts(SYSTEM, uuid, 0)).find((x) => x.attempt === 1)?.state, 'cancelled', 'the checkpoint is not given up');
    // It was received, and a second restart knows it too: the attempt after it restores it, long past the timeout.
    await w.restart();
    await both();
    const [d] = w.link.starts();
    assert.equal(d?.attempt, 4);
    assert.deepEqual(d?.restore, { attempt: 1, waitS: 330 });
    assert.ok(!warnings.some((m) => m.includes('lost')), warnings.join('\n'));
  } finally {
    await w.close();
  }
});

test('fleet loop: a restart that adopts work in flight keeps the checkpoint an adopted attempt restores: honoured when it arrives, restored by the attempt after it', async () => {
  const { w, warnings, both } = await twoHeaterWorld({ checkpointGraceS: 3, checkpointTimeoutS: 300, requeueInFlightAtStart: false });
  try {
    const uuid = await w.submit({ instanceCount: 1, checkpoint: 'snapshot' });
    await w.tick();
    const [a] = w.link.starts();
    w.link.report(a, 1, w.now.ms, { state: 'running', phase: 'execution', progress: 25 });
    await w.tick();
    w.loop.orderMove({ taskUuid: uuid, instanceId: a.instanceId, deviceId: 'h2', board: 0 });
    await both();
    const b = w.link.starts().find((x) => x.attempt === 2);
    assert.deepEqual(b?.restore, { attempt: 1, waitS: 330 });
    // Heater 2 stages attempt 2 (it waits for the checkpoint); the coordinator restarts and adopts attempt 2.
    w.link.report(b, 1, w.now.ms, { state: 'running', phase: 'download', deviceId: 'h2' });
    await both();
    await w.restart();
    w.link.report(b, 2, w.now.ms, { state: 'running', phase: 'download', deviceId: 'h2' });
    await both();
    // Heater 1 sends the checkpoint now: the new process takes it for attempt 2 (no kill, nothing given up).
    w.link.report(a, 2, w.now.ms, { state: 'checkpointed', phase: 'checkpoint', checkpoint: { size: 1024, files: 2 }, deviceId: 'h1' });
    for (let k = 0; k < 6; k++) await both();
    assert.ok(!w.link.sent.some((x) => x.command.kind === 'kill'), 'no attempt is told to stop');
    assert.ok(!warnings.some((m) => m.includes('lost')), warnings.join('\n'));
    assert.equal((await w.store.getInstance(SYSTEM, uuid, 0))?.attempt, 2, 'attempt 2 was adopted, not requeued');
    // Moved again before its process ran, attempt 2 has no state of its own: the attempt after it restores attempt 1's.
    w.loop.orderMove({ taskUuid: uuid, instanceId: a.instanceId, deviceId: 'h1', board: 0 });
    await both();
    const c = w.link.starts().find((x) => x.attempt === 3);
    assert.deepEqual(c?.restore, { attempt: 1, waitS: 330 }, 'the checkpoint the adopted attempt was to restore is restored by the next one');
  } finally {
    await w.close();
  }
});

test('fleet loop: a checkpoint awaited across a coordinator restart is given up the timeout after it was ordered, not after the restart', async () => {
  const { w, warnings, hot, uuid, evictedMs: orderedMs } = await evictedWithCheckpoint(150);
  try {
    assert.ok(w.link.sent.some((x) => x.command.kind === 'kill' && x.command.checkpoint !== undefined));
    await w.restart();
    // Heater 1 keeps reporting (it is not lost) but never sends the checkpoint: 150 s after the eviction, the first
    // tick past it gives the checkpoint up (counted from the restart, it would be a minute later).
    const lost = (): boolean => warnings.some((m) => m.includes('not received within 150 s'));
    while (w.now.ms - orderedMs <= 150_000) {
      await hot();
      assert.ok(!lost(), `given up early, at ${(w.now.ms - 60_000 - orderedMs) / 1000} s`);
    }
    await hot();
    assert.ok(lost(), `not given up past the timeout from the eviction: ${warnings.join('; ')}`);
    await w.tick();
    const [b] = w.link.starts();
    assert.equal(b?.attempt, 2);
    assert.equal(b?.restore, undefined, 'restarted from zero');
    assert.match(JSON.stringify((await w.store.getInstance(SYSTEM, uuid, 0))?.info), /restarted from zero: the checkpoint of attempt 1 was lost/);
  } finally {
    await w.close();
  }
});

test('fleet loop: a device that appears or comes back gets its setpoint and power settings again (sent before it listened, they were lost)', async () => {
  const w = await world();
  try {
    const setpoints = (): number[] => w.link.sent.flatMap((s) => (s.deviceId === 'h1' && s.command.kind === 'setpoint' ? [s.command.setpointC] : []));
    const powers = (): number => w.link.sent.filter((s) => s.deviceId === 'h1' && s.command.kind === 'power').length;
    // Before h1 ever reports: the loop sends its settings once (nobody may be listening yet).
    await w.loop.tick(w.now.ms);
    assert.deepEqual(setpoints(), [20]);
    const powerBefore = powers();
    // It reports: it is online now, and gets them again; later ticks send nothing new while nothing changes.
    await w.tick();
    assert.deepEqual(setpoints(), [20, 20]);
    assert.equal(powers(), powerBefore + 1);
    await w.tick();
    await w.tick();
    assert.deepEqual(setpoints(), [20, 20]);
    // Silent past the offline delay, then back: once more.
    w.now.ms += 10 * 60_000;
    await w.loop.tick(w.now.ms);
    assert.deepEqual(setpoints(), [20, 20]);
    await w.tick();
    assert.deepEqual(setpoints(), [20, 20, 20]);
  } finally {
    await w.close();
  }
});

test('fleet loop: the policy sees a level throughput as the agents run it, its CPU share at the top clock (and the same power)', () => {
  const live = liveHeaterModel(3);
  const clocked = createHeaterModel({ boards: 3 });
  assert.equal(live.boards, 3);
  for (let l = 0; l < live.board.levels; l++) {
    assert.equal(live.board.relFreqByLevel[l], levelShare(clocked.board, l), `level ${l}`);
    assert.equal(heaterPowerW(live, 3, l, 1, 0, 20), heaterPowerW(clocked, 3, l, 1, 0, 20));
  }
  assert.ok(live.board.relFreqByLevel[0] < clocked.board.relFreqByLevel[0] / 2);
});
