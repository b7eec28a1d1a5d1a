// Property tests of every controller's output band (0 ≤ minW ≤ powerW ≤ maxW ≤ maxHeatW, all finite, forecast within
// the heater's range) for random states and forecasts, and the createRoomController factory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildMpcModel, createHeatRequest, createRoomController, createTankController, HysteresisController, MpcController, PiController } from '../../src/control/index.ts';
import type { HeatRequest, RoomControlInput, RoomController } from '../../src/control/index.ts';
import { archetypeStateSpace } from '../../src/physics/building.ts';
import { dwellingRoom, officeRoom } from '../../src/physics/archetypes.ts';
import { createTankModel } from '../../src/physics/tank.ts';
import { InvalidParameterError } from '../../src/physics/errors.ts';

const field = (name: string) => (e: unknown) => e instanceof InvalidParameterError && e.field === name;

const models = [buildMpcModel(archetypeStateSpace(dwellingRoom('rt2005', 20)), { horizonH: 24 }), buildMpcModel(archetypeStateSpace(officeRoom('pre1974', 25)), { horizonH: 12 })];

function assertBand(out: HeatRequest, maxHeatW: number, horizon: number): void {
  const vals = [out.minW, out.powerW, out.maxW, ...out.forecastW];
  assert.ok(vals.every(Number.isFinite), `not finite: ${JSON.stringify(out)}`);
  assert.ok(out.minW >= 0 && out.minW <= out.powerW && out.powerW <= out.maxW && out.maxW <= maxHeatW, JSON.stringify(out));
  assert.equal(out.forecastW.length, horizon);
  assert.ok(out.forecastW.every((f) => f >= 0 && f <= maxHeatW));
}

const temp = fc.double({ min: -10, max: 40, noNaN: true });
const series = (min: number, max: number) => fc.array(fc.double({ min, max, noNaN: true }), { minLength: 0, maxLength: 30 });
const scenario = fc.record({
  airC: temp,
  walls: fc.tuple(temp, temp),
  bodyC: fc.double({ min: -10, max: 90, noNaN: true }),
  withState: fc.boolean(),
  setpointC: fc.double({ min: 5, max: 30, noNaN: true }),
  setpoints: series(5, 30),
  outdoor: series(-20, 40),
  solar: series(0, 3000),
  gains: series(0, 1000),
  maxHeatW: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 2000, noNaN: true })),
  lowerBandK: fc.double({ min: 0, max: 2, noNaN: true }),
  upperBandK: fc.double({ min: 0, max: 3, noNaN: true }),
  safetyMaxC: fc.double({ min: 20, max: 35, noNaN: true }),
  periodS: fc.integer({ min: 30, max: 3600 }),
  delivered: fc.double({ min: 0, max: 2000, noNaN: true }),
});
type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

function inputOf(s: Scenario, nowS: number): RoomControlInput {
  return {
    nowS,
    periodS: s.periodS,
    airC: s.airC,
    state: s.withState ? Float64Array.from([s.airC, s.walls[0], s.walls[1], s.bodyC]) : undefined,
    setpointC: s.setpointC,
    setpointAheadC: s.setpoints,
    outdoorAheadC: s.outdoor,
    solarAheadW: s.solar,
    gainsAheadW: s.gains,
    maxHeatW: s.maxHeatW,
    limits: { lowerBandK: s.lowerBandK, upperBandK: s.upperBandK, safetyMaxC: s.safetyMaxC },
  };
}

const makers: [string, (k: number) => RoomController, number][] = [
  ['hysteresis', () => new HysteresisController(), 24],
  ['pi', () => new PiController({ feedForwardWK: 30 }), 24],
  ['mpc (dwelling, 24 h)', () => new MpcController({ model: models[0] }), 24],
  ['mpc (office, 12 h, forecast longer than the horizon)', () => new MpcController({ model: models[1], upperWindowH: 2 }), 16],
];

for (const [name, make, horizon] of makers) {
  void test(`${name}: 0 ≤ minW ≤ powerW ≤ maxW ≤ maxHeatW and finite, for random states and forecasts`, () => {
    fc.assert(
      fc.property(fc.array(scenario, { minLength: 1, maxLength: 3 }), (calls) => {
        const c = make(0);
        const out = createHeatRequest(horizon);
        calls.forEach((s, i) => {
          c.request(inputOf(s, i * s.periodS), out);
          assertBand(out, s.maxHeatW, horizon);
          c.delivered(Math.min(s.delivered, out.powerW));
        });
      }),
      { numRuns: 150 },
    );
  });
}

void test('tank: 0 ≤ minW ≤ powerW ≤ maxW ≤ maxHeatW and finite, for random layers, headroom and draws', () => {
  const model = createTankModel();
  const ctl = createTankController({ model });
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: 5, max: 80, noNaN: true }), { minLength: 10, maxLength: 10 }),
      fc.double({ min: 0, max: 20000, noNaN: true }),
      series(0, 5000),
      fc.double({ min: 0, max: 3000, noNaN: true }),
      fc.integer({ min: 30, max: 3600 }),
      (layers, headroomWh, draws, maxHeatW, periodS) => {
        const out = createHeatRequest(12);
        ctl.request({ nowS: 0, periodS, layersC: layers.sort((a, b) => a - b), headroomWh, drawAheadWh: draws, maxHeatW }, out);
        assertBand(out, maxHeatW, 12);
      },
    ),
    { numRuns: 300 },
  );
});

void test('createRoomController builds each kind and rejects unknown kinds and a model-less MPC naming the field', () => {
  assert.equal(createRoomController('hysteresis').kind, 'hysteresis');
  assert.equal(createRoomController('pi', { kpWK: 150 }).kind, 'pi');
  assert.equal(createRoomController('mpc', { model: models[0] }).kind, 'mpc');
  assert.throws(() => createRoomController('mpc'), field('options.model'));
  assert.throws(() => createRoomController('fuzzy' as never), field('kind'));
  assert.throws(() => createRoomController('pi', { tiS: -1 }), field('tiS'));
});
