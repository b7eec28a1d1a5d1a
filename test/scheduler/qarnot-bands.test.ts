// The qarnot-bands baseline reproduces each of SCHEDULING.md's band rules on hand-built tiny fleets, thresholds
// tested at exactly their boundary values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QarnotBandsPolicy } from '../../src/scheduler/qarnot-bands.ts';
import { BOARD_FILLER, InstancePhase, SchedulingType } from '../../src/scheduler/types.ts';
import { addInstance, applyDecisions, decide, fleetOf, ofKind, placeRunning, step, tableOf, TOP } from './helpers.ts';

const HIGH = SchedulingType.onDemand;
const LOW = SchedulingType.flex;

void test('filler (BKGD) starts on idle boards at diff ≥ +1 K exactly, at full speed; not below', () => {
  for (const [diff, expected] of [
    [1, 3],
    [0.999, 0],
  ] as const) {
    const f = fleetOf(1, { diffK: diff });
    const p = new QarnotBandsPolicy();
    const ds = decide(p, f, tableOf());
    assert.equal(ofKind(ds, 'filler').filter((d) => d.on).length, expected, `diff ${diff}`);
    if (expected > 0) assert.deepEqual(ofKind(ds, 'level'), [{ kind: 'level', heater: 0, level: TOP }]);
  }
});

void test('filler is stopped below −1 K, kept at exactly −1 K', () => {
  for (const [diff, stopped] of [
    [-1, 0],
    [-1.001, 1],
  ] as const) {
    const f = fleetOf(1, { diffK: diff });
    f.boardInstance[0] = BOARD_FILLER;
    const ds = decide(new QarnotBandsPolicy(), f, tableOf());
    assert.equal(ofKind(ds, 'filler').filter((d) => !d.on).length, stopped, `diff ${diff}`);
  }
});

void test('LOW starts at diff ≥ −1 K exactly, not below; HIGH starts at ≥ −4 K exactly, not below', () => {
  for (const [type, diff, starts] of [
    [LOW, -1, 1],
    [LOW, -1.001, 0],
    [HIGH, -4, 1],
    [HIGH, -4.001, 0],
  ] as const) {
    const f = fleetOf(1, { diffK: diff });
    const t = tableOf();
    const i = addInstance(t, { type });
    const p = new QarnotBandsPolicy();
    p.onSubmit([i], t);
    const ds = decide(p, f, t);
    assert.equal(ofKind(ds, 'start').length, starts, `type ${type} diff ${diff}`);
  }
});

void test('LOW is killed below −3 K (kept at exactly −3 K); HIGH below −10 K (kept at exactly −10 K)', () => {
  for (const [type, diff, killed] of [
    [LOW, -3, 0],
    [LOW, -3.001, 1],
    [HIGH, -10, 0],
    [HIGH, -10.001, 1],
  ] as const) {
    const f = fleetOf(1, { diffK: diff });
    const t = tableOf();
    const i = addInstance(t, { type });
    placeRunning(f, t, i, 0, 0);
    const ds = decide(new QarnotBandsPolicy(), f, t);
    assert.equal(ofKind(ds, 'kill').length, killed, `type ${type} diff ${diff}`);
  }
});

void test('within a tier, HIGH goes to the coolest heater and LOW to the warmest', () => {
  const f = fleetOf(3, { sameSite: true });
  f.diffK.set([2, 3, 1.5]); // all open to BKGD
  const t = tableOf();
  const hi = addInstance(t, { type: HIGH, task: 1 });
  const lo = addInstance(t, { type: LOW, task: 2 });
  const p = new QarnotBandsPolicy();
  p.onSubmit([hi, lo], t);
  const starts = ofKind(decide(p, f, t), 'start');
  assert.equal(starts.find((d) => d.instance === hi)?.heater, 1);
  assert.equal(starts.find((d) => d.instance === lo)?.heater, 2);
});

void test('slots open to BKGD are filled first, then LOW, then HIGH', () => {
  const f = fleetOf(3, { sameSite: true });
  f.diffK.set([-2, 0, 1]); // HIGH-only, LOW, BKGD tiers
  const t = tableOf();
  const ids = [0, 1, 2, 3, 4].map((k) => addInstance(t, { type: HIGH, task: 1, submittedS: k }));
  const p = new QarnotBandsPolicy();
  p.onSubmit(ids, t);
  const starts = ofKind(decide(p, f, t), 'start');
  assert.deepEqual(
    starts.map((d) => d.heater),
    [2, 2, 2, 1, 1],
  );
  // LOW never lands on a HIGH-only slot, even with the others full.
  const t2 = tableOf();
  const lows = [0, 1, 2, 3, 4, 5, 6].map(() => addInstance(t2, { type: LOW, task: 1 }));
  const p2 = new QarnotBandsPolicy();
  p2.onSubmit(lows, t2);
  const s2 = ofKind(decide(p2, fleetOf3(), t2), 'start');
  assert.equal(s2.length, 6);
  assert.ok(s2.every((d) => d.heater !== 0));
});

function fleetOf3() {
  const f = fleetOf(3, { sameSite: true });
  f.diffK.set([-2, 0, 1]);
  return f;
}

void test('sites with fewer free slots of the tier are filled first', () => {
  const f = fleetOf(3, { diffK: 2 });
  f.site.set([0, 0, 1]); // site 0: 6 slots, site 1: 3 slots
  const t = tableOf();
  const i = addInstance(t, { type: LOW });
  const p = new QarnotBandsPolicy();
  p.onSubmit([i], t);
  assert.equal(ofKind(decide(p, f, t), 'start')[0].heater, 2);
});

void test('HIGH preempts LOW only as a last resort: a free HIGH-only slot first, then the coolest LOW board', () => {
  const f = fleetOf(2, { sameSite: false });
  f.diffK.set([0, -3.5]);
  const t = tableOf();
  const lows = [0, 1, 2].map((b) => {
    const i = addInstance(t, { type: LOW, task: 1 });
    placeRunning(f, t, i, 0, b);
    return i;
  });
  const hi = [0, 1, 2, 3].map(() => addInstance(t, { type: HIGH, task: 2 }));
  const p = new QarnotBandsPolicy();
  p.onSubmit(hi, t);
  const ds = decide(p, f, t);
  const starts = ofKind(ds, 'start');
  assert.equal(starts.length, 4);
  assert.deepEqual(
    starts.map((d) => d.heater),
    [1, 1, 1, 0],
  );
  const kills = ofKind(ds, 'kill');
  assert.equal(kills.length, 1);
  assert.ok(lows.includes(kills[0].instance));
  const victimBoard = t.board[kills[0].instance];
  assert.equal(starts[3].board, victimBoard);
  applyDecisions(f, t, ds); // kill then start on the same board is valid in sequence
});

void test('running boards step one level up at diff ≥ +1 K, down at ≤ −1 K, else hold; new work starts at full speed', () => {
  for (const [diff, level] of [
    [1, 3],
    [0.999, null],
    [-0.999, null],
    [-1, 1],
  ] as const) {
    const f = fleetOf(1, { diffK: diff });
    f.level[0] = 2;
    const t = tableOf();
    const i = addInstance(t, { type: LOW });
    placeRunning(f, t, i, 0, 0);
    const ds = decide(new QarnotBandsPolicy(), f, t);
    const lv = ofKind(ds, 'level');
    if (level === null) assert.equal(lv.length, 0, `diff ${diff}`);
    else assert.deepEqual(lv, [{ kind: 'level', heater: 0, level }], `diff ${diff}`);
  }
  const f = fleetOf(1, { diffK: 0 });
  const t = tableOf();
  const i = addInstance(t, { type: LOW });
  const p = new QarnotBandsPolicy();
  p.onSubmit([i], t);
  assert.deepEqual(ofKind(decide(p, f, t), 'level'), [{ kind: 'level', heater: 0, level: TOP }]);
});

void test('a killed instance restarts from scratch elsewhere', () => {
  const f = fleetOf(2);
  f.diffK.set([-5, 0]);
  const t = tableOf();
  const i = addInstance(t, { type: LOW, doneS: 1000 });
  placeRunning(f, t, i, 0, 0);
  const p = new QarnotBandsPolicy();
  const r1 = step(p, f, t);
  assert.deepEqual(ofKind(r1, 'kill'), [{ kind: 'kill', instance: i }]);
  assert.equal(t.phase[i], InstancePhase.queued);
  assert.equal(t.doneS[i], 0);
  const r2 = step(p, f, t);
  const s = ofKind(r2, 'start');
  assert.equal(s.length, 1);
  assert.equal(s[0].instance, i);
  assert.equal(s[0].heater, 1);
});

void test('tasks by decreasing priority, ties to the task with the fewest running instances', () => {
  const f = fleetOf(2, { diffK: 0 });
  const t = tableOf();
  // Task 1 already runs two instances on heater 0; task 2 none. One free slot left (heater 0 board 2); heater 1 hot.
  f.diffK[1] = -20;
  const r1 = addInstance(t, { task: 1 });
  const r2 = addInstance(t, { task: 1 });
  const p = new QarnotBandsPolicy();
  p.onSubmit([r1, r2], t);
  const first = step(p, f, t); // both start: heater 0 boards 0 and 1
  assert.equal(ofKind(first, 'start').length, 2);
  const a = addInstance(t, { task: 1 });
  const b = addInstance(t, { task: 2 });
  p.onSubmit([a, b], t);
  assert.deepEqual(
    ofKind(decide(p, f, t), 'start').map((d) => d.instance),
    [b],
  );
  // A higher priority wins over fewer running instances.
  const c = addInstance(t, { task: 3, priority: 5 });
  p.onSubmit([c], t);
  assert.deepEqual(
    ofKind(decide(p, f, t), 'start').map((d) => d.instance),
    [c],
  );
});

void test('the baseline overflows only instances no heater can ever host', () => {
  const f = fleetOf(1, { diffK: -8 });
  const t = tableOf();
  const big = addInstance(t, { cores: 64 });
  const gpu = addInstance(t, { gpu: 1 });
  const ok = addInstance(t, {});
  const p = new QarnotBandsPolicy();
  p.onSubmit([big, gpu, ok], t);
  const ds = decide(p, f, t);
  assert.deepEqual(
    ofKind(ds, 'overflow')
      .map((d) => d.instance)
      .sort(),
    [big, gpu],
  );
  assert.equal(ofKind(ds, 'start').length, 0);
});
