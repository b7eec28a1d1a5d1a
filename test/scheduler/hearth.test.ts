// The hearth policy on hand-built fleets: heat follows the request, hot rooms pause instead of killing, nothing is
// decided past safety, long work goes where heat is wanted long, EDF within a class, overflow only when doomed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HearthPolicy } from '../../src/scheduler/hearth.ts';
import { QarnotBandsPolicy } from '../../src/scheduler/qarnot-bands.ts';
import { BOARD_FILLER, InstancePhase, SchedulingType } from '../../src/scheduler/types.ts';
import { addInstance, decide, fleetOf, MODEL, ofKind, P0, placeRunning, step, tableOf, TOP } from './helpers.ts';

const boardW = (l: number): number => MODEL.board.maxWByLevel[l];

void test('heat follows the request: as many boards as the request powers at the lowest level, then the closest level', () => {
  for (const [requestW, boards, level] of [
    [3 * P0, 3, 0],
    [60, 1, 1], // one board: 46.9 or 63 W → 63
    [20, 0, null],
  ] as const) {
    const f = fleetOf(1, { requestW, maxW: 500, wantHeatH: 5 });
    const t = tableOf();
    const ids = [0, 1, 2, 3, 4].map(() => addInstance(t, { workS: 600 }));
    const p = new HearthPolicy();
    p.onSubmit(ids, t);
    const ds = decide(p, f, t);
    assert.equal(ofKind(ds, 'start').length, boards, `request ${requestW}`);
    assert.equal(ofKind(ds, 'filler').length, 0);
    if (level !== null && level !== 0) assert.deepEqual(ofKind(ds, 'level'), [{ kind: 'level', heater: 0, level }]);
    if (level === 0) assert.equal(ofKind(ds, 'level').length, 0);
  }
});

void test('filler only when the room wants heat and no paid work took the boards', () => {
  const f = fleetOf(1, { requestW: 200, maxW: 500 });
  const ds = decide(new HearthPolicy(), f, tableOf());
  assert.equal(ofKind(ds, 'filler').filter((d) => d.on).length, 3);
  assert.deepEqual(ofKind(ds, 'level'), [{ kind: 'level', heater: 0, level: 1 }]); // 3 × 63 W ≈ 189 W
  assert.ok(Math.abs(3 * boardW(1) - 200) < Math.abs(3 * boardW(2) - 200));
  // No heat wanted: filler stops.
  const g = fleetOf(1, { requestW: 0, maxW: 500 });
  g.boardInstance[0] = BOARD_FILLER;
  assert.deepEqual(ofKind(decide(new HearthPolicy(), g, tableOf()), 'filler'), [{ kind: 'filler', heater: 0, board: 0, on: false }]);
  // Paid work replaces filler instead of adding heat.
  const k = fleetOf(1, { requestW: 3 * P0, maxW: 500 });
  k.boardInstance.fill(BOARD_FILLER, 0, 3);
  const t = tableOf();
  const i = addInstance(t);
  const p = new HearthPolicy();
  p.onSubmit([i], t);
  const ds2 = decide(p, k, t);
  assert.equal(ofKind(ds2, 'start').length, 1);
  assert.equal(ofKind(ds2, 'filler').length, 0);
});

void test('a room overshooting pauses its work instead of killing it (qarnot-bands kills)', () => {
  const build = () => {
    const f = fleetOf(1, { requestW: 0, maxW: 50, diffK: -3.5 });
    const t = tableOf();
    for (let b = 0; b < 3; b++) placeRunning(f, t, addInstance(t), 0, b);
    return { f, t };
  };
  const { f, t } = build();
  const ds = decide(new HearthPolicy(), f, t);
  assert.equal(ofKind(ds, 'pause').length, 3);
  assert.equal(ofKind(ds, 'kill').length, 0);
  const q = build();
  assert.equal(ofKind(decide(new QarnotBandsPolicy(), q.f, q.t), 'kill').length, 3);
  // Just over the cap: only the least urgent pauses (flex before onDemand, work that can move first).
  const g = fleetOf(1, { requestW: 0, maxW: 2 * P0 + 30 + 1 });
  const u = tableOf();
  const od = addInstance(u, { type: SchedulingType.onDemand, checkpointable: 1 });
  const flexCk = addInstance(u, { checkpointable: 1 });
  const flexNc = addInstance(u);
  placeRunning(g, u, od, 0, 0);
  placeRunning(g, u, flexNc, 0, 1);
  placeRunning(g, u, flexCk, 0, 2);
  assert.deepEqual(
    ofKind(decide(new HearthPolicy(), g, u), 'pause').map((d) => d.instance),
    [flexCk],
  );
  // Work that cannot move keeps running at the lowest level while the room is within 1.5 K of its setpoint.
  const k = fleetOf(1, { requestW: 0, maxW: 0, diffK: -1.4 });
  const v = tableOf();
  for (let b = 0; b < 3; b++) placeRunning(k, v, addInstance(v), 0, b);
  assert.equal(ofKind(decide(new HearthPolicy(), k, v), 'pause').length, 0);
});

void test('paused work resumes when heat is wanted again', () => {
  const f = fleetOf(1, { requestW: 3 * P0, maxW: 500 });
  const t = tableOf();
  const i = addInstance(t);
  placeRunning(f, t, i, 0, 0, true);
  const ds = decide(new HearthPolicy(), f, t);
  assert.deepEqual(ofKind(ds, 'resume'), [{ kind: 'resume', instance: i }]);
});

void test('near the safety limit everything pauses and nothing starts, resumes or heats there', () => {
  const f = fleetOf(2, { requestW: 500, maxW: 500, wantHeatH: 10 });
  f.airC[0] = 26.6; // safety 28 − 1.5 K margin = 26.5
  const t = tableOf();
  const run = addInstance(t);
  const par = addInstance(t);
  placeRunning(f, t, run, 0, 0);
  placeRunning(f, t, par, 0, 1, true);
  f.boardInstance[2] = BOARD_FILLER;
  const q = [0, 1, 2, 3, 4, 5].map(() => addInstance(t));
  const p = new HearthPolicy();
  p.onSubmit(q, t);
  const ds = decide(p, f, t);
  assert.deepEqual(ofKind(ds, 'pause'), [{ kind: 'pause', instance: run }]);
  assert.deepEqual(ofKind(ds, 'filler'), [{ kind: 'filler', heater: 0, board: 2, on: false }]);
  for (const d of ds) {
    if (d.kind === 'start' || d.kind === 'migrate') assert.equal(d.heater, 1);
    if (d.kind === 'level' || d.kind === 'booster') assert.equal(d.heater, 1);
    assert.notEqual(d.kind, 'resume');
    assert.notEqual(d.kind, 'kill');
  }
  assert.equal(ofKind(ds, 'start').length, 3);
});

void test('long instances go where heat is wanted long enough; short ones take the shortest heat that covers them', () => {
  for (const [workS, heater] of [
    [6 * 3600, 1],
    [300, 0],
  ] as const) {
    const f = fleetOf(3, { requestW: P0, maxW: 500 });
    f.wantHeatH.set([0.5, 12, 30]);
    const t = tableOf();
    const i = addInstance(t, { workS });
    const p = new HearthPolicy();
    p.onSubmit([i], t);
    const s = ofKind(decide(p, f, t), 'start');
    assert.equal(s.length, 1);
    assert.equal(s[0].heater, heater, `work ${workS} s`);
  }
  // Nothing covers: the longest heat.
  const f = fleetOf(2, { requestW: P0, maxW: 500 });
  f.wantHeatH.set([3, 1]);
  const t = tableOf();
  const i = addInstance(t, { workS: 48 * 3600 });
  const p = new HearthPolicy();
  p.onSubmit([i], t);
  assert.equal(ofKind(decide(p, f, t), 'start')[0].heater, 0);
});

void test('earliest deadline first within a class; onDemand before flex', () => {
  const f = fleetOf(1, { requestW: P0, maxW: P0 + 10, wantHeatH: 24 });
  const t = tableOf();
  const h = 3600;
  const a = addInstance(t, { deadlineS: 10 * h, workS: 600 });
  const b = addInstance(t, { deadlineS: 5 * h, workS: 600 });
  const c = addInstance(t, { deadlineS: 8 * h, workS: 600 });
  const p = new HearthPolicy();
  p.onSubmit([a, b, c], t);
  assert.deepEqual(
    ofKind(step(p, f, t), 'start').map((d) => d.instance),
    [b],
  );
  const g = fleetOf(1, { requestW: P0, maxW: P0 + 10, wantHeatH: 24 });
  const u = tableOf();
  const flex = addInstance(u, { deadlineS: 5 * h, workS: 600 });
  const od = addInstance(u, { type: SchedulingType.onDemand, workS: 600 });
  const p2 = new HearthPolicy();
  p2.onSubmit([flex, od], u);
  assert.deepEqual(
    ofKind(decide(p2, g, u), 'start').map((d) => d.instance),
    [od],
  );
});

void test('overflow only for work whose deadline cannot be met otherwise', () => {
  const f = fleetOf(1, { requestW: 0, maxW: 0 });
  const t = tableOf();
  const doomed = addInstance(t, { deadlineS: 100, workS: 1000 });
  const relaxed = addInstance(t, { deadlineS: 10 * 3600, workS: 1000 });
  const noDeadline = addInstance(t, { workS: 100 * 3600 });
  const p = new HearthPolicy();
  p.onSubmit([doomed, relaxed, noDeadline], t);
  const ds = decide(p, f, t);
  assert.deepEqual(ofKind(ds, 'overflow'), [{ kind: 'overflow', instance: doomed }]);
  assert.equal(ds.length, 1);
  // Tight but feasible at the top level with a slot that can run it fast enough: placed, level raised, no overflow.
  // (Deadline planning counts the estimate plus 70 %: 1700 s of work in 2000 s needs 0.85 of a top-level board.)
  const g = fleetOf(1, { requestW: 0, maxW: 500, wantHeatH: 2 });
  const u = tableOf();
  const tight = addInstance(u, { deadlineS: 2000, workS: 1000 });
  const p2 = new HearthPolicy();
  p2.onSubmit([tight], u);
  const ds2 = decide(p2, g, u);
  assert.equal(ofKind(ds2, 'overflow').length, 0);
  assert.deepEqual(ofKind(ds2, 'start'), [{ kind: 'start', instance: tight, heater: 0, board: 0 }]);
  assert.deepEqual(ofKind(ds2, 'level'), [{ kind: 'level', heater: 0, level: TOP }]);
  // Same, but no heater can take it and it cannot wait another period: overflow.
  const k = fleetOf(1, { requestW: 0, maxW: 0 });
  const v = tableOf();
  const tight2 = addInstance(v, { deadlineS: 1800, workS: 1000 });
  const p3 = new HearthPolicy();
  p3.onSubmit([tight2], v);
  assert.deepEqual(ofKind(decide(p3, k, v), 'overflow'), [{ kind: 'overflow', instance: tight2 }]);
});

void test('boilers are the year-round sink; rooms take surplus only for onDemand work', () => {
  const f = fleetOf(2, { requestW: 0, maxW: 300, wantHeatH: 10 });
  f.kind[1] = 1; // boiler
  const t = tableOf();
  const flex = addInstance(t);
  const od = addInstance(t, { type: SchedulingType.onDemand });
  const p = new HearthPolicy();
  p.onSubmit([flex, od], t);
  const s = ofKind(decide(p, f, t), 'start');
  assert.deepEqual(
    s.map((d) => [d.instance, d.heater]),
    [
      [od, 1],
      [flex, 1],
    ],
  );
  const g = fleetOf(1, { requestW: 0, maxW: 300, wantHeatH: 10 });
  const u = tableOf();
  const flex2 = addInstance(u);
  const od2 = addInstance(u, { type: SchedulingType.onDemand });
  const p2 = new HearthPolicy();
  p2.onSubmit([flex2, od2], u);
  assert.deepEqual(
    ofKind(decide(p2, g, u), 'start').map((d) => d.instance),
    [od2],
  );
});

void test('paused checkpointable work stuck in a warm room migrates to where heat is wanted', () => {
  const f = fleetOf(2, { requestW: 0, maxW: 0, wantHeatH: 10 });
  f.requestW[1] = 300;
  f.maxW[1] = 500;
  f.maxW[0] = 100; // heater 0 cannot resume: floor with one more board running exceeds 0.9 × cap
  const t = tableOf();
  const ck = addInstance(t, { checkpointable: 1 });
  const nc = addInstance(t);
  placeRunning(f, t, ck, 0, 0, true);
  placeRunning(f, t, nc, 0, 1, true);
  const p = new HearthPolicy();
  assert.equal(ofKind(step(p, f, t), 'migrate').length, 0); // just paused: wait first
  f.nowS = 1000;
  const ds = step(p, f, t);
  assert.deepEqual(
    ofKind(ds, 'migrate').map((d) => [d.instance, d.heater]),
    [[ck, 1]],
  );
  assert.equal(ofKind(ds, 'kill').length, 0);
});

void test('paused work whose deadline is at risk moves at once if checkpointable, else resumes in place', () => {
  const f = fleetOf(2, { requestW: 0, maxW: 100, wantHeatH: 10 });
  f.requestW[1] = 300;
  f.maxW[1] = 500;
  const t = tableOf();
  // 2000 s of work left (3400 s planned), 6000 s to the deadline: needs 0.57 of a top-level board.
  const ck = addInstance(t, { checkpointable: 1, workS: 2000, deadlineS: 6000 });
  const nc = addInstance(t, { workS: 2000, deadlineS: 6000 });
  placeRunning(f, t, ck, 0, 0, true);
  placeRunning(f, t, nc, 0, 1, true);
  const ds = step(new HearthPolicy(), f, t);
  assert.deepEqual(
    ofKind(ds, 'migrate').map((d) => [d.instance, d.heater]),
    [[ck, 1]],
  );
  assert.deepEqual(ofKind(ds, 'resume'), [{ kind: 'resume', instance: nc }]);
  // The destination runs fast enough for the deadline (0.57 × 1.1 → level 1 of 0.5/0.625/0.75/0.875/1).
  const lv = new Map(ofKind(ds, 'level').map((d) => [d.heater, d.level]));
  assert.ok((lv.get(1) ?? -1) >= 1);
  assert.equal(ofKind(ds, 'overflow').length, 0);
});

void test('instances no heater can ever host overflow at once', () => {
  const f = fleetOf(1, { requestW: 500, maxW: 500 });
  const t = tableOf();
  const big = addInstance(t, { memoryMB: 1e6 });
  const p = new HearthPolicy();
  p.onSubmit([big], t);
  assert.deepEqual(ofKind(decide(p, f, t), 'overflow'), [{ kind: 'overflow', instance: big }]);
  // Back in the queue (its overflow attempt was lost): it overflows again rather than wait for a heater.
  t.phase[big] = InstancePhase.queued;
  p.onChange(big, t);
  assert.deepEqual(ofKind(decide(p, f, t), 'overflow'), [{ kind: 'overflow', instance: big }]);
});

void test('a boiler runs paid work as fast as its cap allows (the tank takes the heat; its top-up would give it later)', () => {
  const run = (kind: number) => {
    const f = fleetOf(1, { requestW: 0, maxW: 400, wantHeatH: 10 });
    f.kind[0] = kind;
    const t = tableOf();
    const ids = [0, 1, 2].map(() => addInstance(t, { type: SchedulingType.onDemand, deadlineS: 86400 }));
    const p = new HearthPolicy();
    p.onSubmit(ids, t);
    return decide(p, f, t);
  };
  const boiler = run(1);
  assert.equal(ofKind(boiler, 'start').length, 3);
  let capLvl = 0;
  for (let l = 0; l <= TOP; l++) if (3 * boardW(l) <= 400) capLvl = l;
  assert.ok(capLvl > 0);
  assert.deepEqual(ofKind(boiler, 'level'), [{ kind: 'level', heater: 0, level: capLvl }]);
  // A room that asks for nothing takes the same work in its band, at the level closest to its request.
  const room = run(0);
  assert.equal(ofKind(room, 'start').length, 3);
  assert.equal(ofKind(room, 'level').length, 0);
});

void test('paused checkpointable work without a deadline, stuck with nowhere to go, is requeued after evictAfterS', () => {
  const f = fleetOf(1, { requestW: 0, maxW: 0, wantHeatH: 0 });
  const t = tableOf();
  const ck = addInstance(t, { checkpointable: 1, doneS: 600 });
  const dl = addInstance(t, { checkpointable: 1, deadlineS: 10 * 86400 });
  const nc = addInstance(t);
  placeRunning(f, t, ck, 0, 0, true);
  placeRunning(f, t, dl, 0, 1, true);
  placeRunning(f, t, nc, 0, 2, true);
  const p = new HearthPolicy({ evictAfterS: 7200 });
  assert.equal(ofKind(step(p, f, t), 'kill').length, 0);
  f.nowS = 1000;
  assert.equal(ofKind(step(p, f, t), 'kill').length, 0); // stuck, but not for long
  f.nowS = 7200;
  const ds = step(p, f, t);
  assert.deepEqual(ofKind(ds, 'kill'), [{ kind: 'kill', instance: ck }]);
  assert.equal(t.doneS[ck], 600); // checkpointable: its progress stays
  assert.equal(f.boardInstance[0], -1); // its board is free (off) again
  assert.throws(() => new HearthPolicy({ evictAfterS: 100 }), /evictAfterS/);
  // Never: the instance stays paused.
  const g = fleetOf(1, { requestW: 0, maxW: 0 });
  const u = tableOf();
  const ck2 = addInstance(u, { checkpointable: 1 });
  placeRunning(g, u, ck2, 0, 0, true);
  const q = new HearthPolicy({ evictAfterS: Infinity });
  step(q, g, u);
  g.nowS = 30 * 86400;
  assert.equal(ofKind(step(q, g, u), 'kill').length, 0);
});
