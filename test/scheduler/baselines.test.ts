// The two other references: first-fit (heat-agnostic, thermostat kills when hot, no filler) and electric (no
// compute, every instance overflows, each heater resistive at its request).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FirstFitPolicy } from '../../src/scheduler/first-fit.ts';
import { ElectricPolicy } from '../../src/scheduler/electric.ts';
import { createPolicy, POLICY_NAMES } from '../../src/scheduler/index.ts';
import { InvalidParameterError } from '../../src/physics/errors.ts';
import { InstancePhase, SchedulingType } from '../../src/scheduler/types.ts';
import { addInstance, decide, fleetOf, MODEL, ofKind, placeRunning, step, tableOf, TOP } from './helpers.ts';

void test('first-fit: the first free board that fits, in heater order, at the top level; no filler', () => {
  const f = fleetOf(3, { diffK: 3 });
  f.gpu[2] = 1;
  const t = tableOf();
  const a = addInstance(t, { type: SchedulingType.flex });
  const b = addInstance(t, { type: SchedulingType.flex, gpu: 1 });
  const c = addInstance(t, { type: SchedulingType.onDemand });
  placeRunning(f, t, addInstance(t), 0, 0);
  const p = new FirstFitPolicy();
  p.onSubmit([a, b, c], t);
  const ds = step(p, f, t);
  const starts = ofKind(ds, 'start');
  // onDemand first, then flex in submission order; the GPU instance skips to the GPU heater.
  assert.deepEqual(
    starts.map((d) => [d.instance, d.heater, d.board]),
    [
      [c, 0, 1],
      [a, 0, 2],
      [b, 2, 0],
    ],
  );
  assert.equal(ofKind(ds, 'filler').length, 0);
  assert.deepEqual(
    ofKind(ds, 'level').map((d) => [d.heater, d.level]),
    [
      [0, TOP],
      [2, TOP],
    ],
  );
});

void test('first-fit and qarnot-bands: an instance no heater can host overflows when new and again when requeued', () => {
  for (const name of ['first-fit', 'qarnot-bands'] as const) {
    const f = fleetOf(1, { diffK: 3 });
    const t = tableOf();
    const big = addInstance(t, { memoryMB: 1e6 });
    const p = createPolicy(name);
    p.onSubmit([big], t);
    assert.deepEqual(ofKind(decide(p, f, t), 'overflow'), [{ kind: 'overflow', instance: big }], name);
    // Its overflow attempt lost: back in the queue, it overflows again rather than wait for a heater.
    t.phase[big] = InstancePhase.queued;
    p.onChange(big, t);
    assert.deepEqual(ofKind(decide(p, f, t), 'overflow'), [{ kind: 'overflow', instance: big }], `${name}, requeued`);
  }
});

void test('first-fit: the thermostat kills everything on a heater below −1 K or at the safety limit, and starts nothing there', () => {
  for (const [diff, airC, kills] of [
    [-1, 21, 0],
    [-1.01, 21, 2],
    [0, 28, 2],
  ] as const) {
    const f = fleetOf(1);
    f.diffK[0] = diff;
    f.airC[0] = airC;
    const t = tableOf();
    placeRunning(f, t, addInstance(t), 0, 0);
    placeRunning(f, t, addInstance(t), 0, 1, true);
    const q = addInstance(t);
    const p = new FirstFitPolicy();
    p.onSubmit([q], t);
    const ds = decide(p, f, t);
    assert.equal(ofKind(ds, 'kill').length, kills, `diff ${diff} air ${airC}`);
    assert.equal(ofKind(ds, 'start').length, kills ? 0 : 1);
  }
});

void test('electric: every instance overflows, heaters run resistive at their request, only when it changes', () => {
  const f = fleetOf(2);
  f.requestW.set([300, 5000]);
  const t = tableOf();
  const ids = [addInstance(t), addInstance(t, { type: SchedulingType.onDemand })];
  const p = new ElectricPolicy();
  p.onSubmit(ids, t);
  const ds = step(p, f, t);
  assert.deepEqual(
    ofKind(ds, 'overflow').map((d) => d.instance),
    ids,
  );
  assert.deepEqual(ofKind(ds, 'resistive'), [
    { kind: 'resistive', heater: 0, powerW: 300 },
    { kind: 'resistive', heater: 1, powerW: MODEL.maxW },
  ]);
  assert.equal(ofKind(ds, 'start').length, 0);
  f.requestW[0] = 100;
  assert.deepEqual(step(p, f, t), [{ kind: 'resistive', heater: 0, powerW: 100 }]);
});

void test('electric: work found on a board is stopped and then overflows', () => {
  const f = fleetOf(1);
  const t = tableOf();
  const i = addInstance(t);
  placeRunning(f, t, i, 0, 0);
  const p = new ElectricPolicy();
  assert.deepEqual(ofKind(step(p, f, t), 'kill'), [{ kind: 'kill', instance: i }]);
  assert.deepEqual(ofKind(step(p, f, t), 'overflow'), [{ kind: 'overflow', instance: i }]);
});

void test('createPolicy knows every name and rejects others', () => {
  for (const n of POLICY_NAMES) assert.equal(createPolicy(n).name, n);
  assert.throws(() => createPolicy('nope' as never), InvalidParameterError);
  assert.throws(() => createPolicy('hearth', { riskRate: 0 }), /hearth\.riskRate/);
  assert.throws(() => createPolicy('hearth', { roomSurplus: 'some' as never }), /hearth\.roomSurplus/);
  assert.throws(() => createPolicy('qarnot-bands', { killK: { bkgd: 2, low: -3, high: -10 } }), /qarnot-bands\.killK\.bkgd/);
  assert.throws(() => createPolicy('first-fit', { hotK: NaN }), /first-fit\.hotK/);
});
