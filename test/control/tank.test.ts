// Tests of the tank (boiler) controller: usable energy, the request/band logic on hand-made tanks, the absorbable-heat
// forecast, a closed loop on the stratified tank physics with generated draws, and invalid options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTankController, TankHeatController } from '../../src/control/tank.ts';
import { createHeatRequest, wantHeatHours } from '../../src/control/forecast.ts';
import type { TankControlInput } from '../../src/control/types.ts';
import { createTankModel, createTankState, createTankStepResult, stepTank } from '../../src/physics/tank.ts';
import { drawEnergyWh, generateDraws } from '../../src/physics/dhw.ts';
import { InvalidParameterError } from '../../src/physics/errors.ts';

const field = (name: string) => (e: unknown) => e instanceof InvalidParameterError && e.field === name;
const near = (a: number, b: number, tol = 1e-6): void => assert.ok(Math.abs(a - b) <= tol * (1 + Math.abs(b)), `${a} ≠ ${b}`);

const model = createTankModel({ topUpW: 0 }); // 200 L, 10 layers of 20 L: 23.25 Wh/K each; boards up to 60 °C
const layerWhK = model.layerCapJK / 3600;
const headroom = (layers: ArrayLike<number>): number => Array.from(layers).reduce((s, t) => s + Math.max(0, model.hxMaxTempC - t), 0) * layerWhK;

function input(layersC: number[], drawAheadWh: number[], maxHeatW = 500, periodS = 300): TankControlInput {
  return { nowS: 0, periodS, layersC, headroomWh: headroom(layersC), drawAheadWh, maxHeatW };
}

void test('usable hot water counts only layers at or above minUsableC, relative to cold water', () => {
  const c = new TankHeatController({ model, coldC: 12, minUsableC: 40 });
  const layers = [10, 10, 20, 30, 40, 50, 55, 55, 60, 60];
  near(c.usableWh(layers), (28 + 38 + 43 + 43 + 48 + 48) * layerWhK);
});

void test('a full tank with nothing to draw asks for nothing and can take nothing but its standing loss', () => {
  const c = createTankController({ model, ambientC: 20 });
  const out = c.request(input(new Array<number>(10).fill(60), new Array<number>(12).fill(0)), createHeatRequest(12));
  assert.deepEqual([out.powerW, out.minW, out.maxW], [0, 0, 0]);
  // 1.9 W/K × (60 − 20) K = 76 W leak out every hour and can be put back.
  assert.ok(out.forecastW.every((f) => Math.abs(f - 76) < 1e-9));
});

void test('a cold tank facing a large draw within the hour must charge at full power now', () => {
  const c = createTankController({ model });
  const out = c.request(input(new Array<number>(10).fill(30), [3000, 0, 0]), createHeatRequest(12));
  assert.equal(out.minW, 500);
  assert.equal(out.powerW, 500);
  assert.equal(out.maxW, 500);
});

void test('draws far ahead leave time: nothing is needed yet, some heat is wanted, the headroom is on offer', () => {
  const c = createTankController({ model, reserveWh: 1500, rechargeH: 2, ambientC: 45 });
  const layers = [15, 15, 20, 25, 30, 35, 40, 45, 50, 50]; // usable (≥ 40 °C): (28 + 33 + 38 + 38) K × 23.25 Wh/K
  const draws = new Array<number>(12).fill(0);
  draws[10] = 2000; // a bath in ten hours
  const out = c.request(input(layers, draws), createHeatRequest(12));
  assert.equal(out.minW, 0);
  const usable = c.usableWh(layers);
  near(usable, 137 * layerWhK);
  // No standing loss counted (the mean 32.5 °C is below the 45 °C ambient), so the need is the bath plus the reserve,
  // made up over rechargeH = 2 h.
  near(out.powerW, (2000 + 1500 - usable) / 2);
  assert.equal(out.maxW, 500);
});

void test('the forecast is the heat the tank can absorb at full power: its headroom, then what draws free up', () => {
  const c = createTankController({ model, ambientC: 50 });
  const layers = new Array<number>(10).fill(50); // mean = ambient: no standing loss
  const h = headroom(layers); // 10 layers × 10 K × 23.25 Wh/K = 2325 Wh
  near(h, 2325, 1e-9);
  const draws = new Array<number>(12).fill(0);
  draws[8] = 300;
  const out = c.request(input(layers, draws), createHeatRequest(12));
  const f = Array.from(out.forecastW);
  assert.deepEqual(f.slice(0, 4), [500, 500, 500, 500]);
  near(f[4], 2325 - 2000, 1e-9);
  assert.deepEqual(f.slice(5, 8), [0, 0, 0]);
  assert.equal(f[8], 300);
  assert.equal(wantHeatHours(out.forecastW, 30), 5); // hours of headroom at full power, as FleetView.wantHeatH says
});

void test('closed loop on the stratified tank with generated draws: never runs cold, leaves headroom most of the time', (t) => {
  const days = 4;
  const coldC = 12;
  const maxHeatW = 500;
  const tank = createTankState(model, 50);
  const res = createTankStepResult();
  const ctl = createTankController({ model, coldC });
  const draws = generateDraws({}, days, 7);
  const dt = 60;
  const drawWhByStep = new Float64Array((days * 86400) / dt);
  for (const d of draws) drawWhByStep[Math.min(drawWhByStep.length - 1, Math.floor(d.timeS / dt))] += drawEnergyWh(d.volumeL, 40, coldC);
  const hourly = new Float64Array(days * 24 + 24);
  drawWhByStep.forEach((wh, s) => (hourly[Math.floor((s * dt) / 3600)] += wh));
  const out = createHeatRequest(24);
  const ahead = new Float64Array(24);
  let unmetWh = 0;
  let drawnWh = 0;
  let heatWh = 0;
  let belowMax = 0;
  let periods = 0;
  let powerW = 0;
  for (let s = 0; s < drawWhByStep.length; s++) {
    const tS = s * dt;
    if (tS % 300 === 0) {
      // Perfect hourly forecast of the draws from now (the hour in progress counts what is left of it).
      const h0 = Math.floor(tS / 3600);
      for (let k = 0; k < 24; k++) ahead[k] = hourly[h0 + k];
      for (let q = (h0 * 3600) / dt; q < s; q++) ahead[0] -= drawWhByStep[q];
      ctl.request({ nowS: tS, periodS: 300, layersC: tank.tempC, headroomWh: headroom(tank.tempC), drawAheadWh: ahead, maxHeatW }, out);
      powerW = out.powerW;
      periods++;
      if (out.powerW < out.maxW) belowMax++;
    }
    stepTank(model, tank, dt, { boardHeatW: powerW, drawEnergyWh: drawWhByStep[s], coldC, ambientC: 20 }, res);
    unmetWh += res.unmetWh;
    drawnWh += res.deliveredWh;
    heatWh += res.boardHeatWh;
  }
  t.diagnostic(`drawn ${(drawnWh / 1000).toFixed(2)} kWh in ${days} days, boards ${(heatWh / 1000).toFixed(2)} kWh, unmet ${unmetWh.toFixed(1)} Wh, request below maxW in ${((100 * belowMax) / periods).toFixed(0)} % of periods`);
  assert.ok(drawnWh > 1000 * days, 'the generator should draw a few kWh a day');
  assert.ok(unmetWh < 1e-6);
  assert.ok(belowMax > periods / 2, 'the tank should usually leave headroom for the scheduler to fill');
});

void test('invalid tank controller options are rejected naming the field', () => {
  assert.throws(() => createTankController({} as never), field('model'));
  assert.throws(() => createTankController({ model, coldC: NaN }), field('coldC'));
  assert.throws(() => createTankController({ model, coldC: 15, minUsableC: 10 }), field('minUsableC'));
  assert.throws(() => createTankController({ model, lookaheadH: 0 }), field('lookaheadH'));
  assert.throws(() => createTankController({ model, reserveWh: -1 }), field('reserveWh'));
  assert.throws(() => createTankController({ model, rechargeH: 0 }), field('rechargeH'));
});
