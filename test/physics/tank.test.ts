// Tests of the stratified tank: exact energy closure, plug flow without numerical mixing, inversion mixing,
// standing-loss time constant, exchanger limit, thermostat, anti-legionella compliance, bounds (fast-check).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  createTankModel,
  createTankState,
  createTankStepResult,
  mixInversions,
  stepTank,
  tankStoredWh,
  WATER_CV_JLK,
} from '../../src/physics/tank.ts';
import type { TankInput, TankModel, TankParams, TankState } from '../../src/physics/tank.ts';
import { createRng } from '../../src/physics/random.ts';
import { InvalidParameterError } from '../../src/physics/errors.ts';

/** A tank with nothing but plug flow (no losses, conduction, exchanger or top-up). */
const bare = (p: Partial<TankParams> = {}): TankModel =>
  createTankModel({ uaWK: 0, conductivityWmK: 0, hxUaWK: 0, topUpW: 0, legionellaProgram: false, ...p });

const isNonDecreasing = (t: Float64Array): boolean => t.every((x, i) => i === 0 || t[i - 1] <= x);

interface Totals {
  inWh: number;
  lossWh: number;
  deliveredWh: number;
  scaleWh: number;
}

/** Steps `steps` random inputs (seeded) and returns the sums of the balance terms. */
function randomRun(m: TankModel, s: TankState, steps: number, seed: number): Totals {
  const rng = createRng(seed);
  const out = createTankStepResult();
  const tot: Totals = { inWh: 0, lossWh: 0, deliveredWh: 0, scaleWh: 0 };
  for (let i = 0; i < steps; i++) {
    const dtS = 10 + rng.next() * 1800;
    const r = rng.next();
    const draw: Partial<TankInput> =
      r < 0.1 ? { drawVolumeL: rng.next() * m.volumeL * 1.5 } : r < 0.2 ? { drawFlowLpm: rng.next() * 12 } : r < 0.3 ? { drawEnergyWh: rng.next() * 2000 } : {};
    stepTank(m, s, dtS, { boardHeatW: rng.next() * 700, coldC: 5 + rng.next() * 15, ambientC: 10 + rng.next() * 15, topUpAllowed: rng.next() < 0.7, ...draw }, out);
    tot.inWh += out.boardHeatWh + out.topUpWh;
    tot.lossWh += out.lossWh;
    tot.deliveredWh += out.deliveredWh;
    tot.scaleWh += out.boardHeatWh + out.topUpWh + Math.abs(out.lossWh) + Math.abs(out.deliveredWh);
  }
  return tot;
}

void test('energy closes exactly over a long random run: board heat + top-up = Δstored + losses + delivered', (t) => {
  for (const [layers, seed] of [[10, 1], [3, 2], [7, 3]] as const) {
    const m = createTankModel({ layers, conductivityWmK: 5, uaWK: 3 });
    const s = createTankState(m, 45);
    const e0 = tankStoredWh(m, s);
    const tot = randomRun(m, s, 50_000, seed);
    const residual = tot.inWh - (tankStoredWh(m, s) - e0) - tot.lossWh - tot.deliveredWh;
    const rel = Math.abs(residual) / tot.scaleWh;
    t.diagnostic(`${layers} layers, 50k steps: through ${(tot.scaleWh / 1000).toFixed(0)} kWh, residual ${residual.toExponential(2)} Wh, relative ${rel.toExponential(2)}`);
    assert.ok(rel < 1e-9, `relative residual ${rel}`);
    assert.ok(tot.deliveredWh > 0 && tot.lossWh > 0 && tot.inWh > 0);
  }
});

void test('plug flow: a draw of exactly one layer shifts the profile with no numerical mixing', () => {
  const m = bare({ layers: 5, volumeL: 100 });
  const profile = [12, 20, 35, 50, 61];
  const s = createTankState(m, profile);
  const r = stepTank(m, s, 60, { drawVolumeL: 20, coldC: 10, ambientC: 20 });
  assert.deepEqual([...s.tempC], [10, 12, 20, 35, 50]);
  assert.ok(Math.abs(r.deliveredWh - (20 * WATER_CV_JLK * (61 - 10)) / 3600) < 1e-9);
  assert.equal(r.outletTempC, 61);
  stepTank(m, s, 60, { drawVolumeL: 40, coldC: 10, ambientC: 20 });
  assert.deepEqual([...s.tempC], [10, 10, 10, 12, 20]);
  // State over a view of a fleet-wide buffer: stepping writes through to the buffer.
  const fleet = new Float64Array(15).fill(50);
  const view = createTankState(m, fleet.subarray(5, 10));
  stepTank(m, view, 60, { drawVolumeL: 20, coldC: 10, ambientC: 20 });
  assert.deepEqual([...fleet.subarray(4, 11)], [50, 10, 50, 50, 50, 50, 50]);
});

void test('plug flow: fractional and larger-than-layer draws move exact volumes; a draw above the tank volume empties it', () => {
  const m = bare({ layers: 4, volumeL: 100 });
  const s = createTankState(m, [20, 30, 40, 50]);
  // 2.5 layers (62.5 L): the outflow is the top two layers plus half of layer 1.
  const r = stepTank(m, s, 60, { drawVolumeL: 62.5, coldC: 10, ambientC: 20 });
  const expected = (25 * WATER_CV_JLK * (40 + 30 + 0.5 * 20)) / 3600;
  assert.ok(Math.abs(r.deliveredWh - expected) < 1e-9);
  assert.deepEqual([...s.tempC].map((x) => +x.toFixed(12)), [10, 10, 15, 25]);
  const r2 = stepTank(m, s, 60, { drawVolumeL: 500, coldC: 10, ambientC: 20 });
  assert.ok(Math.abs(r2.deliveredWh - (25 * WATER_CV_JLK * (0 + 0 + 5 + 15)) / 3600) < 1e-9);
  assert.deepEqual([...s.tempC], [10, 10, 10, 10]);
  assert.equal(r2.drawnL, 500);
});

void test('energy-specified draws deliver the energy when the tank is hot and report the shortfall when not', () => {
  const m = bare({ layers: 10, volumeL: 200 });
  const s = createTankState(m, 55);
  const r = stepTank(m, s, 600, { drawEnergyWh: 1400, coldC: 10, ambientC: 20 });
  assert.ok(Math.abs(r.deliveredWh - 1400) < 1e-9);
  assert.ok(Math.abs(r.drawnL - (1400 * 3600) / (WATER_CV_JLK * 45)) < 1e-9);
  assert.equal(r.unmetWh, 0);
  const cold = createTankState(m, 15);
  const r2 = stepTank(m, cold, 600, { drawEnergyWh: 3000, coldC: 10, ambientC: 20 });
  assert.ok(Math.abs(r2.deliveredWh - (200 * WATER_CV_JLK * 5) / 3600) < 1e-9);
  assert.ok(Math.abs(r2.unmetWh - (3000 - r2.deliveredWh)) < 1e-9);
  assert.throws(() => stepTank(m, s, 60, { drawVolumeL: 1, drawEnergyWh: 1, coldC: 10, ambientC: 20 }), InvalidParameterError);
});

void test('inversion mixing yields a non-increasing profile from top to bottom and conserves energy', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: -20, max: 95, noNaN: true }), { minLength: 3, maxLength: 10 }), (temps) => {
      const t = Float64Array.from(temps);
      const sum0 = temps.reduce((a, b) => a + b, 0);
      mixInversions(t, new Float64Array(t.length), new Float64Array(t.length));
      assert.ok(isNonDecreasing(t), `not stratified: ${[...t].join(', ')}`);
      assert.ok(Math.abs(t.reduce((a, b) => a + b, 0) - sum0) < 1e-9 * (1 + Math.abs(sum0)));
      assert.ok(t.every((x) => x >= Math.min(...temps) - 1e-9 && x <= Math.max(...temps) + 1e-9));
    }),
    { numRuns: 300 },
  );
  const t = Float64Array.from([10, 30, 20, 40]);
  mixInversions(t, new Float64Array(4), new Float64Array(4));
  assert.deepEqual([...t], [10, 25, 25, 40]);
});

void test('standing loss: a fully mixed tank decays toward ambient with τ = ρcV/UA', (t) => {
  const m = createTankModel({ volumeL: 200, uaWK: 1.9, lossWeights: Array(10).fill(1), conductivityWmK: 0, hxUaWK: 0, topUpW: 0, legionellaProgram: false });
  const tauS = (200 * WATER_CV_JLK) / 1.9;
  t.diagnostic(`τ = ${(tauS / 86400).toFixed(2)} days for 200 L at 1.9 W/K (ρcV = ${(200 * WATER_CV_JLK) / 1e6} MJ/K)`);
  const s = createTankState(m, 60);
  const rng = createRng(7);
  let time = 0;
  for (let i = 0; i < 500; i++) {
    const dt = 100 + rng.next() * 3000;
    stepTank(m, s, dt, { coldC: 10, ambientC: 20 });
    time += dt;
  }
  const expected = 20 + 40 * Math.exp(-time / tauS);
  for (const x of s.tempC) assert.ok(Math.abs(x - expected) < 1e-9 * expected, `${x} vs ${expected}`);
  // With the default split by surface (top and bottom discs lose more), the mean still follows τ closely.
  const m2 = createTankModel({ volumeL: 200, hxUaWK: 0, topUpW: 0, legionellaProgram: false });
  assert.ok(Math.abs(m2.uaWK - 1.9) < 1e-12);
  assert.ok(Math.abs(m2.uaLayerWK.reduce((a, b) => a + b, 0) - 1.9) < 1e-12);
  const s2 = createTankState(m2, 60);
  for (let i = 0; i < 24 * 3; i++) stepTank(m2, s2, 3600, { coldC: 10, ambientC: 20 });
  const mean = s2.tempC.reduce((a, b) => a + b, 0) / 10;
  const exp2 = 20 + 40 * Math.exp(-(72 * 3600) / tauS);
  assert.ok(Math.abs(mean - exp2) < 0.01 * (exp2 - 20), `mean ${mean} vs ${exp2}`);
});

void test('the exchanger never heats water above the boards’ maximum and accepts less as the tank warms', () => {
  const m = createTankModel({ topUpW: 0, legionellaProgram: false, hxMaxTempC: 60, hxUaWK: 50 });
  const s = createTankState(m, 15);
  const out = createTankStepResult();
  stepTank(m, s, 600, { boardHeatW: 500, coldC: 10, ambientC: 20 }, out);
  assert.ok(Math.abs(out.boardHeatWh - (500 * 600) / 3600) < 1e-9); // cold tank: all accepted
  for (let i = 0; i < 2000; i++) stepTank(m, s, 600, { boardHeatW: 500, coldC: 10, ambientC: 20 }, out);
  assert.ok(s.tempC.every((x) => x <= 60 + 1e-9));
  // Steady state: exchanger gain balances standing loss, T = (UA_hx·60 + UA·20) / (UA_hx + UA) ≈ 58.5 °C.
  const steady = (50 * 60 + m.uaWK * 20) / (50 + m.uaWK);
  assert.ok(s.tempC.every((x) => Math.abs(x - steady) < 0.1), `${[...s.tempC].join(', ')} vs ${steady}`);
  assert.ok(out.boardHeatWh < (500 * 600) / 3600 / 5, `still accepting ${out.boardHeatWh} Wh`);
  assert.ok(out.boardLimitW < 100);
  // A chosen layer: heat into layer 4 of a cold stratified tank rises by mixing, layers below stay cold.
  const m3 = bare({ layers: 8, hxUaWK: 100, hxLayerWeights: [0, 0, 0, 0, 1, 0, 0, 0] });
  const s3 = createTankState(m3, [10, 10, 10, 10, 10, 10, 10, 10]);
  stepTank(m3, s3, 3600, { boardHeatW: 400, coldC: 10, ambientC: 20 });
  assert.deepEqual([...s3.tempC].slice(0, 4), [10, 10, 10, 10]);
  assert.ok(isNonDecreasing(s3.tempC) && s3.tempC[7] > 10);
});

void test('top-up thermostat: on below setpoint − dead band, heats exactly to the setpoint, respects topUpAllowed', () => {
  const m = createTankModel({ uaWK: 0, conductivityWmK: 0, hxUaWK: 0, topUpW: 2000, topUpSetpointC: 55, topUpDeadbandK: 5, legionellaProgram: false });
  const s = createTankState(m, 52);
  let r = stepTank(m, s, 60, { coldC: 10, ambientC: 20 });
  assert.equal(r.topUpWh, 0); // inside the dead band
  s.tempC[m.layers - 1] = 49;
  r = stepTank(m, s, 60, { coldC: 10, ambientC: 20, topUpAllowed: false });
  assert.equal(r.topUpWh, 0);
  assert.equal(r.topUpOn, true); // demand stays
  r = stepTank(m, s, 60, { coldC: 10, ambientC: 20 });
  assert.ok(Math.abs(r.topUpWh - (2000 * 60) / 3600) < 1e-9); // full power, not there yet
  for (let i = 0; i < 10; i++) r = stepTank(m, s, 60, { coldC: 10, ambientC: 20 });
  assert.equal(s.tempC[m.layers - 1], 55);
  assert.equal(r.topUpOn, false);
});

void test('anti-legionella: the program holds the top ≥ 60 °C for ≥ 1 h every period; without it compliance fails', (t) => {
  const base: Partial<TankParams> = { topUpW: 1500, topUpSetpointC: 55, legionellaPeriodS: 7 * 86400, legionellaHoldS: 3600 };
  const run = (program: boolean): TankState => {
    const m = createTankModel({ ...base, legionellaProgram: program });
    const s = createTankState(m, 50);
    const rng = createRng(11);
    for (let i = 0; i < 30 * 144; i++) {
      const hour = (i / 6) % 24;
      const draw = (hour > 7 && hour < 8) || (hour > 20 && hour < 21) ? 10 * rng.next() : 0;
      stepTank(m, s, 600, { drawVolumeL: draw, boardHeatW: 300, coldC: 12, ambientC: 18 });
    }
    return s;
  };
  const on = run(true);
  t.diagnostic(`30 days with the program: ${on.holdsCompleted} holds, ${on.missedPeriods} missed periods`);
  assert.ok(on.holdsCompleted >= 4, `holds ${on.holdsCompleted}`);
  assert.equal(on.missedPeriods, 0);
  assert.equal(on.overdueS, 0);
  const off = run(false);
  assert.equal(off.holdsCompleted, 0);
  assert.equal(off.missedPeriods, 4); // 30 days = 4 whole periods of 7 days
  assert.ok(Math.abs(off.overdueS - (30 - 7) * 86400) < 1e-6);
  // A hold must be continuous for the full hour: 50 min above 60 °C, then a dip, does not count.
  const m = bare({ legionellaHoldS: 3600 });
  const s = createTankState(m, 62);
  for (let i = 0; i < 5; i++) stepTank(m, s, 600, { coldC: 10, ambientC: 20 });
  s.tempC.fill(58);
  stepTank(m, s, 600, { coldC: 10, ambientC: 20 });
  assert.equal(s.holdsCompleted, 0);
  s.tempC.fill(62);
  for (let i = 0; i < 6; i++) stepTank(m, s, 600, { coldC: 10, ambientC: 20 });
  assert.equal(s.holdsCompleted, 1);
  assert.equal(s.sinceHoldS, 0);
  for (let i = 0; i < 12; i++) stepTank(m, s, 600, { coldC: 10, ambientC: 20 }); // still hot: same hold, still compliant
  assert.equal(s.holdsCompleted, 1);
  assert.equal(s.sinceHoldS, 0);
});

void test('temperatures stay finite, stratified and within the input temperature range (fast-check)', () => {
  const params = fc.record({
    layers: fc.integer({ min: 3, max: 10 }),
    volumeL: fc.double({ min: 30, max: 1000, noNaN: true }),
    heightM: fc.double({ min: 0.3, max: 3, noNaN: true }),
    uaWK: fc.double({ min: 0, max: 10, noNaN: true }),
    conductivityWmK: fc.double({ min: 0, max: 50, noNaN: true }),
    hxUaWK: fc.double({ min: 0, max: 500, noNaN: true }),
    hxMaxTempC: fc.double({ min: 30, max: 75, noNaN: true }),
    topUpW: fc.double({ min: 0, max: 6000, noNaN: true }),
    topUpSetpointC: fc.double({ min: 35, max: 70, noNaN: true }),
    legionellaProgram: fc.boolean(),
  });
  const step = fc.record({
    dtS: fc.double({ min: 1, max: 7200, noNaN: true }),
    boardHeatW: fc.double({ min: 0, max: 3000, noNaN: true }),
    drawVolumeL: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 2000, noNaN: true })),
    coldC: fc.double({ min: 2, max: 25, noNaN: true }),
    ambientC: fc.double({ min: -5, max: 35, noNaN: true }),
  });
  fc.assert(
    fc.property(params, fc.double({ min: 5, max: 80, noNaN: true }), fc.array(step, { minLength: 1, maxLength: 60 }), (p, t0, steps) => {
      const m = createTankModel(p);
      const s = createTankState(m, t0);
      const temps = [t0, p.hxMaxTempC, p.topUpSetpointC, m.legionellaTempC + m.legionellaMarginK];
      for (const x of steps) temps.push(x.coldC, x.ambientC);
      const lo = Math.min(...temps) - 1e-9;
      const hi = Math.max(...temps) + 1e-9;
      const e0 = tankStoredWh(m, s);
      let balance = 0;
      let scale = Math.abs(e0);
      const out = createTankStepResult();
      for (const x of steps) {
        stepTank(m, s, x.dtS, x, out);
        balance += out.boardHeatWh + out.topUpWh - out.lossWh - out.deliveredWh;
        scale += out.boardHeatWh + out.topUpWh + Math.abs(out.lossWh) + Math.abs(out.deliveredWh);
        assert.ok(s.tempC.every((v) => Number.isFinite(v) && v >= lo && v <= hi), `out of [${lo}, ${hi}]: ${[...s.tempC].join(', ')}`);
        assert.ok(isNonDecreasing(s.tempC), `top < bottom: ${[...s.tempC].join(', ')}`);
      }
      assert.ok(Math.abs(balance - (tankStoredWh(m, s) - e0)) <= 1e-9 * scale);
    }),
    { numRuns: 150 },
  );
});

void test('invalid tank parameters are rejected naming the field', () => {
  const bad = (p: Partial<TankParams>, field: string): void =>
    assert.throws(() => createTankModel(p), (e: unknown) => e instanceof InvalidParameterError && e.field === field);
  bad({ layers: 2 }, 'tank.layers');
  bad({ layers: 11 }, 'tank.layers');
  bad({ layers: 4.5 }, 'tank.layers');
  bad({ volumeL: -200 }, 'tank.volumeL');
  bad({ volumeL: NaN }, 'tank.volumeL');
  bad({ heightM: 0 }, 'tank.heightM');
  bad({ uaWK: -1 }, 'tank.uaWK');
  bad({ hxLayerWeights: [1, 0, 0] }, 'tank.hxLayerWeights');
  bad({ layers: 3, hxLayerWeights: [0, 0, 0] }, 'tank.hxLayerWeights');
  bad({ layers: 3, lossWeights: [1, -1, 1] }, 'tank.lossWeights[1]');
  bad({ topUpLayer: 10 }, 'tank.topUpLayer');
  bad({ topUpW: -1 }, 'tank.topUpW');
  bad({ legionellaLeadS: 30 * 86400 }, 'tank.legionellaLeadS');
  const m = createTankModel();
  assert.throws(() => createTankState(m, [50, 50]), (e: unknown) => e instanceof InvalidParameterError && e.field === 'initialTempC');
  const s = createTankState(m);
  assert.throws(() => stepTank(m, s, 0, { coldC: 10, ambientC: 20 }), (e: unknown) => e instanceof InvalidParameterError && e.field === 'dtS');
  assert.throws(() => stepTank(m, s, 60, { coldC: NaN, ambientC: 20 }), (e: unknown) => e instanceof InvalidParameterError && e.field === 'input.coldC');
  assert.throws(() => stepTank(m, s, 60, { drawVolumeL: -1, coldC: 10, ambientC: 20 }), (e: unknown) => e instanceof InvalidParameterError && e.field === 'input.drawVolumeL');
});
