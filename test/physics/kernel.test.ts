// Tests of the struct-of-arrays room kernel against the reference stepping, its energy bookkeeping and its errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { dwellingRoom, officeRoom } from '../../src/physics/archetypes.ts';
import { archetypeModel, buildKernelArchetype, ROOM_INPUTS, ROOM_STATES } from '../../src/physics/building.ts';
import { allocateFleetArrays, RoomKernel } from '../../src/physics/kernel.ts';
import { heaterPowerW } from '../../src/physics/heater.ts';
import { stepDiscrete, integrateDiscrete } from '../../src/physics/discretise.ts';
import { InvalidParameterError } from '../../src/physics/errors.ts';
import { createRng } from '../../src/physics/random.ts';

const DT = 60;

test('archetype model has the documented inputs and states', () => {
  const m = archetypeModel(dwellingRoom('rt2012', 20), DT);
  assert.deepEqual(m.inputNames, [...ROOM_INPUTS]);
  assert.deepEqual(m.stateNames, [...ROOM_STATES]);
});

test('kernel step equals the reference discrete step with heaterPowerW for every room', () => {
  const archs = [buildKernelArchetype(dwellingRoom('pre1974', 18), DT), buildKernelArchetype(officeRoom('rt2012', 25), DT, { boosterW: 200 })];
  const f = allocateFleetArrays(6, 4);
  const k = new RoomKernel(archs, [{ archetype: 0, start: 0, count: 3 }, { archetype: 1, start: 3, count: 3 }], f);
  const rng = createRng(7);
  for (let r = 0; r < 6; r++) {
    for (const x of f.x) x[r] = 10 + 50 * rng.next();
    f.activeBoards[r] = r % 4;
    f.freqLevel[r] = r % 5;
    f.utilisation[r] = Math.fround(rng.next());
    f.booster[r] = Math.fround(rng.next());
    f.gainsW[r] = Math.fround(300 * rng.next());
  }
  const shared = [new Float64Array([3, 4, 2, 0, 120, 0]), new Float64Array([-2, 1, -3, 0, 40, 0])];
  const before = f.x.map((x) => Float64Array.from(x));
  k.step(shared);
  for (let r = 0; r < 6; r++) {
    const g = r < 3 ? 0 : 1;
    const a = archs[g];
    const x0 = before.map((x) => x[r]);
    const p = heaterPowerW(a.heater, f.activeBoards[r], f.freqLevel[r], f.utilisation[r], f.booster[r], x0[3]);
    const u = Float64Array.from(shared[g]);
    u[3] = f.gainsW[r];
    u[5] = p;
    const want = stepDiscrete(a.model, x0, u, new Float64Array(4));
    for (let i = 0; i < 4; i++) assert.ok(Math.abs(f.x[i][r] - want[i]) < 1e-10, `room ${r} state ${i}: ${f.x[i][r]} vs ${want[i]}`);
    assert.ok(Math.abs(f.powerW[r] - p) < 1e-3);
    assert.ok(Math.abs(f.heatJ[r] - p * DT) < 1e-6);
  }
});

test('a range step leaves the other rooms untouched', () => {
  const a = buildKernelArchetype(dwellingRoom('rt2005', 20), DT);
  const f = allocateFleetArrays(10, 4);
  const k = new RoomKernel([a], [{ archetype: 0, start: 0, count: 10 }], f);
  k.fill(20);
  f.activeBoards.fill(3);
  f.utilisation.fill(1);
  k.step([new Float64Array(6)], 3, 7);
  for (let r = 0; r < 10; r++) {
    const moved = f.x[0][r] !== 20;
    assert.equal(moved, r >= 3 && r < 7, `room ${r}`);
  }
});

test('energy closes over a week: heat in = stored + losses to outdoor and supply air (exact integrals)', () => {
  const m = archetypeModel(dwellingRoom('1974-1982', 20), DT);
  const rng = createRng(3);
  let x = Float64Array.from([19, 12, 18, 25]);
  const heatIn = { J: 0 };
  let lossJ = 0;
  const cap = m.capacityJK;
  const stored = (v: Float64Array): number => v.reduce((s, t, i) => s + cap[i] * t, 0);
  const e0 = stored(x);
  const losses = ['Q_amb', 'Q_sup', 'Q_ambWin'].map((n) => m.outputNames.indexOf(n));
  assert.ok(losses.every((i) => i >= 0));
  const integ = new Float64Array(m.nx);
  for (let s = 0; s < 7 * 1440; s++) {
    const u = Float64Array.from([-5 + 15 * rng.next(), -5 + 15 * rng.next(), -5 + 15 * rng.next(), 300 * rng.next(), 400 * rng.next(), 650 * rng.next()]);
    heatIn.J += (u[3] + u[4] + u[5]) * DT;
    integrateDiscrete(m, x, u, integ);
    for (const io of losses) {
      let y = 0;
      for (let j = 0; j < m.nx; j++) y += m.C[io * m.nx + j] * integ[j];
      for (let j = 0; j < m.nu; j++) y += m.D[io * m.nu + j] * u[j] * DT;
      lossJ += y;
    }
    x = stepDiscrete(m, x, u, new Float64Array(m.nx));
  }
  const residual = heatIn.J - (stored(x) - e0) - lossJ;
  assert.ok(Math.abs(residual) / heatIn.J < 1e-9, `relative residual ${residual / heatIn.J}`);
});

test('property: random controls and weather keep every room finite and below the body cap plus margin', () => {
  const a = buildKernelArchetype(dwellingRoom('rt2012', 15), DT);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.double({ min: -15, max: 35, noNaN: true }), (seed, outC) => {
      const f = allocateFleetArrays(4, 4);
      const k = new RoomKernel([a], [{ archetype: 0, start: 0, count: 4 }], f);
      k.fill(outC);
      const rng = createRng(seed);
      const u = new Float64Array([outC, outC, outC, 0, 0, 0]);
      for (let s = 0; s < 2000; s++) {
        for (let r = 0; r < 4; r++) {
          f.activeBoards[r] = Math.floor(rng.next() * 4);
          f.freqLevel[r] = Math.floor(rng.next() * 5);
          f.utilisation[r] = rng.next();
        }
        k.step([u]);
      }
      for (const x of f.x) for (const v of x) {
        if (!Number.isFinite(v) || v < outC - 1e-9 || v > Math.max(outC, a.heater.capC) + 40) return false;
      }
      return true;
    }),
    { numRuns: 20 },
  );
});

test('invalid kernel layouts are rejected naming the field', () => {
  const a = buildKernelArchetype(dwellingRoom('rt2012', 15), DT);
  const b = buildKernelArchetype(dwellingRoom('rt2012', 15), 30);
  const f = allocateFleetArrays(4, 4);
  const isField = (field: string) => (e: unknown) => e instanceof InvalidParameterError && e.field === field;
  assert.throws(() => new RoomKernel([a], [{ archetype: 0, start: 0, count: 3 }], f), isField('groups'));
  assert.throws(() => new RoomKernel([a], [{ archetype: 1, start: 0, count: 4 }], f), isField('groups[0].archetype'));
  assert.throws(() => new RoomKernel([a], [{ archetype: 0, start: 1, count: 3 }], f), isField('groups[0].start'));
  assert.throws(() => new RoomKernel([a, b], [{ archetype: 0, start: 0, count: 4 }], f), isField('archetypes[1].model.dtS'));
  assert.throws(() => new RoomKernel([{ ...a, bodyState: 'T_nope' }], [{ archetype: 0, start: 0, count: 4 }], f), isField('archetypes[0].bodyState'));
  assert.throws(() => allocateFleetArrays(-1, 4), isField('rooms'));
});

test('the kernel heater power is heaterPowerW bit for bit, boards on or off, derating or not, booster or not', () => {
  const archs = [
    buildKernelArchetype(dwellingRoom('pre1974', 18), DT),
    buildKernelArchetype(officeRoom('rt2012', 25), DT, { boosterW: 350 }),
    buildKernelArchetype(dwellingRoom('rt2005', 22), DT, { boosterW: 500, boosterDerates: true }),
  ];
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          g: fc.integer({ min: 0, max: 2 }),
          boards: fc.integer({ min: 0, max: 4 }),
          level: fc.integer({ min: 0, max: 4 }),
          util: fc.float({ min: -0.5, max: 1.5, noNaN: true }),
          booster: fc.float({ min: -0.5, max: 1.5, noNaN: true }),
          bodyC: fc.double({ min: -20, max: 120, noNaN: true }),
        }),
        { minLength: 1, maxLength: 24 },
      ),
      (rooms) => {
        const sorted = [...rooms].sort((a, b) => a.g - b.g);
        const groups = [0, 1, 2].map((g) => ({ archetype: g, start: sorted.findIndex((r) => r.g >= g), count: sorted.filter((r) => r.g === g).length }));
        groups.forEach((gr, i) => (gr.start = i === 0 ? 0 : groups[i - 1].start + groups[i - 1].count));
        const f = allocateFleetArrays(sorted.length, 4);
        const k = new RoomKernel(archs, groups, f);
        sorted.forEach((r, i) => {
          for (const x of f.x) x[i] = 20;
          f.x[3][i] = r.bodyC;
          f.activeBoards[i] = Math.min(r.boards, archs[r.g].heater.boards);
          f.freqLevel[i] = Math.min(r.level, archs[r.g].heater.board.levels - 1);
          f.utilisation[i] = r.util;
          f.booster[i] = r.booster;
        });
        k.step(archs.map((a) => new Float64Array(a.model.nu)));
        sorted.forEach((r, i) => {
          const want = heaterPowerW(archs[r.g].heater, f.activeBoards[i], f.freqLevel[i], f.utilisation[i], f.booster[i], r.bodyC);
          assert.equal(f.heatJ[i], want * DT, `room ${i}`);
          assert.equal(f.powerW[i], Math.fround(want), `room ${i}`);
        });
      },
    ),
    { numRuns: 200, seed: 11 },
  );
});
