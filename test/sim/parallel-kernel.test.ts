// The kernel on worker threads gives bit-for-bit the same rooms as on one thread.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benchFleet } from '../../src/sim/bench-kernel.ts';
import { allocateFleetArrays, RoomKernel } from '../../src/physics/kernel.ts';
import { allocateSharedInputs, ParallelKernel, stepInputs } from '../../src/sim/parallel-kernel.ts';

test('two worker threads step the same fleet as one thread, bit for bit', async () => {
  const rooms = 1000, steps = 240;
  const { archetypes, groups } = benchFleet(rooms, 60);
  const inputs = allocateSharedInputs(steps, groups.length, 6);
  for (let s = 0; s < steps; s++) {
    stepInputs(inputs, s).forEach((u) => u.set([2 + Math.sin(s / 50), 3, 1, 0, 100 * Math.max(0, Math.sin(s / 40)), 0]));
  }
  const init = (f: ReturnType<typeof allocateFleetArrays>): void => {
    for (let r = 0; r < rooms; r++) {
      for (const x of f.x) x[r] = 15 + (r % 7);
      f.activeBoards[r] = r % 4;
      f.freqLevel[r] = r % 5;
      f.utilisation[r] = (r % 10) / 10;
      f.gainsW[r] = r % 300;
    }
  };
  const one = allocateFleetArrays(rooms, 4);
  init(one);
  const k = new RoomKernel(archetypes, groups, one);
  for (let s = 0; s < steps; s++) k.step(stepInputs(inputs, s));

  const pk = await ParallelKernel.create(archetypes, groups, rooms, inputs, 2);
  try {
    init(pk.fleet);
    for (let s = 0; s < steps; s += 60) await pk.run(s, s + 60);
    assert.equal(pk.threads, 2);
    for (let i = 0; i < 4; i++) assert.deepEqual(pk.fleet.x[i], one.x[i]);
    assert.deepEqual(pk.fleet.heatJ, one.heatJ);
  } finally {
    await pk.close();
  }
});

test('a worker reports a bad layout as an error, not a crash', async () => {
  const { archetypes } = benchFleet(10, 60);
  const inputs = allocateSharedInputs(1, 1, 6);
  await assert.rejects(ParallelKernel.create(archetypes, [{ archetype: 0, start: 0, count: 5 }], 10, inputs, 2), /groups/);
});
