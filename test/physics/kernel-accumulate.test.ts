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
