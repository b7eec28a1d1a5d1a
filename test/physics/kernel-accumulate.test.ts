// RoomKernel.stepAccumulate: the same step as step(), plus a linear functional of the new states accumulated in the
// same pass, bit for bit what a separate pass over the rooms would add.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dwellingRoom, officeRoom } from '../../src/physics/archetypes.ts';
import { buildKernelArchetype } from '../../src/physics/building.ts';
import { allocateFleetArrays, RoomKernel } from '../../src/physics/kernel.ts';
import { createRng } from '../../src/physics/random.ts';

test('stepAccumulate equals step() followed by acc += Σ w·x, bit for bit', () => {
  const archs = [buildKernelArchetype(dwellingRoom('pre1974', 18), 60), buildKernelArchetype(officeRoom('rt2012', 25), 60, { boosterW: 200 })];
  const groups = [
    { archetype: 0, start: 0, count: 5 },
    { archetype: 1, start: 5, count: 4 },
  ];
  const fa = allocateFleetArrays(9, 4);
  const fb = allocateFleetArrays(9, 4);
  const ka = new RoomKernel(archs, groups, fa);
  const kb = new RoomKernel(archs, groups, fb);
  const rng = createRng(11);
  for (const f of [fa, fb]) {
    const r0 = createRng(3);
    for (let r = 0; r < 9; r++) {
      for (const x of f.x) x[r] = 10 + 40 * r0.next();
      f.activeBoards[r] = r % 4;
      f.freqLevel[r] = r % 5;
      f.utilisation[r] = Math.fround(r0.next());
      f.booster[r] = Math.fround(r0.next());
      f.gainsW[r] = Math.fround(300 * r0.next());
    }
  }
  const w = [new Float64Array([1.5, -2.25, 0.125, 3]), new Float64Array([-0.5, 4, 2, -1])];
  const accA = new Float64Array(9);
  const accB = new Float64Array(9);
  for (let s = 0; s < 50; s++) {
    const shared = [new Float64Array([rng.next() * 10, 4, 2, 0, 120 * rng.next(), 0]), new Float64Array([-2, 1, -3, 0, 40, 0])];
    ka.step(shared);
    for (const g of groups) {
      const a = w[groups.indexOf(g)];
      for (let r = g.start; r < g.start + g.count; r++) accA[r] += a[0] * fa.x[0][r] + a[1] * fa.x[1][r] + a[2] * fa.x[2][r] + a[3] * fa.x[3][r];
    }
    kb.stepAccumulate(shared, w, accB);
  }
  assert.deepEqual(fb.x, fa.x);
  assert.deepEqual(fb.heatJ, fa.heatJ);
  assert.deepEqual(fb.powerW, fa.powerW);
  assert.deepEqual(accB, accA);
});

test('stepWatch equals stepAccumulate() followed by a pass over the watched state, bit for bit', () => {
  const archs = [buildKernelArchetype(dwellingRoom('pre1974', 18), 60), buildKernelArchetype(officeRoom('rt2012', 25), 60, { boosterW: 200 })];
  const groups = [
    { archetype: 0, start: 0, count: 7 },
    { archetype: 1, start: 7, count: 6 },
  ];
  const n = 13;
  const fa = allocateFleetArrays(n, 4);
  const fb = allocateFleetArrays(n, 4);
  const ka = new RoomKernel(archs, groups, fa);
  const kb = new RoomKernel(archs, groups, fb);
  for (const f of [fa, fb]) {
    const r0 = createRng(5);
    for (let r = 0; r < n; r++) {
      for (const x of f.x) x[r] = 12 + 20 * r0.next();
      f.activeBoards[r] = r % 4;
      f.freqLevel[r] = r % 5;
      f.utilisation[r] = 1;
      f.booster[r] = r % 3 === 0 ? Math.fround(r0.next()) : 0;
      f.gainsW[r] = Math.fround(300 * r0.next());
    }
  }
  const band = (d0: number, d1: number, dt: number): number => (d0 >= 0 && d1 >= 0 ? 0.5 * (d0 + d1) * dt : d0 <= 0 && d1 <= 0 ? 0 : (dt * Math.max(d0, d1) ** 2) / (2 * Math.abs(d0 - d1)));
  const watch = {
    state: 0,
    dtS: 60,
    band,
    lo: new Float64Array([19, -Infinity]),
    hi: new Float64Array([24, 23]),
    max: new Float64Array([27, 26]),
    hotW: new Float64Array([6, 4.5]),
    listAbove: new Float64Array([22.5, Infinity]),
    below: new Float64Array(n),
    above: new Float64Array(n),
    overS: new Float64Array(n),
    overWhileHotS: new Float64Array(n),
    list: new Int32Array(n),
    count: 0,
  };
  const w = [new Float64Array([1.5, -2.25, 0.125, 3]), new Float64Array([-0.5, 4, 2, -1])];
  const accA = new Float64Array(n);
  const accB = new Float64Array(n);
  const below = new Float64Array(n);
  const above = new Float64Array(n);
  const overS = new Float64Array(n);
  const overHot = new Float64Array(n);
  const rng = createRng(17);
  let listed = 0;
  for (let s = 0; s < 120; s++) {
    // Outdoor swings make rooms cross every threshold.
    const tout = 15 * Math.sin(s / 9) + 5 * rng.next();
    const shared = [new Float64Array([tout, tout, tout, 0, 400 * rng.next(), 0]), new Float64Array([tout, tout, tout, 0, 300, 0])];
    const before = Float64Array.from(fa.x[0]);
    ka.stepAccumulate(shared, w, accA);
    const expected: number[] = [];
    groups.forEach((g, k) => {
      for (let r = g.start; r < g.start + g.count; r++) {
        const T0 = before[r];
        const T1 = fa.x[0][r];
        const { lo, hi, max, hotW, listAbove } = { lo: watch.lo[k], hi: watch.hi[k], max: watch.max[k], hotW: watch.hotW[k], listAbove: watch.listAbove[k] };
        if (T0 < lo || T1 < lo) below[r] += band(lo - T0, lo - T1, 60);
        if (T0 > hi || T1 > hi) above[r] += band(T0 - hi, T1 - hi, 60);
        if (T0 > max || T1 > max) {
          const mx = Math.max(T0, T1);
          const mn = Math.min(T0, T1);
          const over = mn > max ? 60 : (60 * (mx - max)) / (mx - mn);
          overS[r] += over;
          if (fa.powerW[r] > hotW + 1e-9) overHot[r] += over;
        }
        if (T1 > listAbove) expected.push(r);
      }
    });
    kb.stepWatch(shared, w, accB, watch);
    assert.deepEqual([...watch.list.subarray(0, watch.count)], expected, `list after step ${s}`);
    listed += expected.length;
  }
  assert.deepEqual(fb.x, fa.x);
  assert.deepEqual(fb.heatJ, fa.heatJ);
  assert.deepEqual(accB, accA);
  assert.deepEqual(watch.below, below);
  assert.deepEqual(watch.above, above);
  assert.deepEqual(watch.overS, overS);
  assert.deepEqual(watch.overWhileHotS, overHot);
  // The case is not vacuous: every kind of bookkeeping happened.
  for (const a of [below, above, overS, overHot]) assert.ok(a.some((v) => v > 0));
  assert.ok(listed > 0);
});
