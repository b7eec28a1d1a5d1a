// Tests of the model-predictive controller on a real archetype room (exact discrete model, radiator body in the loop):
// it pre-heats before occupancy, beats PI on discomfort for less energy, stops heating ahead of the sun, does not
// wind up, keeps its band and forecast consistent, and rejects invalid options naming the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildMpcModel, MpcController } from '../../src/control/mpc.ts';
import { PiController } from '../../src/control/pi.ts';
import { createHeatRequest } from '../../src/control/forecast.ts';
import { DEFAULT_COMFORT } from '../../src/control/types.ts';
import type { HeatRequest, RoomControlInput, RoomController } from '../../src/control/types.ts';
import { InvalidParameterError } from '../../src/physics/errors.ts';
import { archetypeStateSpace } from '../../src/physics/building.ts';
import { dwellingRoom } from '../../src/physics/archetypes.ts';
import { describe, HORIZON_H, makeBench, MAX_HEAT_W, PERIOD_S, runBench, STEP_S } from './scenario.ts';
import type { RunResult } from './scenario.ts';

const field = (name: string) => (e: unknown) => e instanceof InvalidParameterError && e.field === name;

/** Wraps a controller to time its request() (reported, never asserted) and check every output. */
function instrument(inner: RoomController): { c: RoomController; bad: string[]; us: () => number } {
  let ns = 0n;
  let calls = 0;
  const bad: string[] = [];
  const c: RoomController = {
    kind: inner.kind,
    request(input: RoomControlInput, out: HeatRequest): HeatRequest {
      const t0 = process.hrtime.bigint();
      inner.request(input, out);
      ns += process.hrtime.bigint() - t0;
      calls++;
      const f = out.forecastW;
      const ok = out.minW >= 0 && out.minW <= out.powerW && out.powerW <= out.maxW && out.maxW <= input.maxHeatW && f.length === HORIZON_H && f.every((v) => v >= 0 && v <= input.maxHeatW);
      if (!ok && bad.length < 5) bad.push(`t=${input.nowS}: ${out.minW} ${out.powerW} ${out.maxW}`);
      return out;
    },
    delivered: (p: number) => inner.delivered(p),
  };
  return { c, bad, us: () => Number(ns) / 1000 / Math.max(1, calls) };
}

// Same week as the thermostat tests: north-facing RT2005 room, Wednesday to Tuesday after two days of warm-up.
const bench = makeBench(0, 9);
const RUN = { days: 9, warmupDays: 2 };
const model = buildMpcModel(bench.ss, { horizonH: HORIZON_H });
const mpcRun = instrument(new MpcController({ model }));
const mpc = runBench(bench, mpcRun.c, RUN);
const pi = runBench(bench, new PiController({ uaWK: bench.uaWK }), RUN);
const net = (r: RunResult): number => r.heatKWh - r.storedKWh;

void test('MPC beats PI on discomfort over a winter week, for less energy', (t) => {
  t.diagnostic(describe('pi ', pi));
  t.diagnostic(describe('mpc', mpc));
  t.diagnostic(`mpc request(): ${mpcRun.us().toFixed(1)} µs per call (24 h horizon, 12 decision blocks; this machine, under load)`);
  assert.deepEqual(mpcRun.bad, []);
  // Both comfort terms and the total, strictly better; energy no higher, raw and net of the heat left stored in the
  // room's masses at the end (the rooms end the week in different states).
  assert.ok(mpc.comfort.lowKh < pi.comfort.lowKh);
  assert.ok(mpc.comfort.discomfortKh < pi.comfort.discomfortKh);
  assert.ok(mpc.heatKWh <= pi.heatKWh, `${mpc.heatKWh.toFixed(2)} kWh vs PI ${pi.heatKWh.toFixed(2)}`);
  assert.ok(net(mpc) <= net(pi));
  // Perfect forecasts and the room's own exact model: the shortfall a feedback thermostat cannot avoid at each return
  // from a set-back (≈ 1 K·h, see the thermostat tests) should all but vanish; we ask for at least 90 % of it gone.
  assert.ok(mpc.comfort.lowKh <= 0.1 * 5, `shortfall ${mpc.comfort.lowKh.toFixed(2)} K·h`);
  assert.equal(mpc.comfort.aboveSafetyMin, 0);
});

void test('MPC pre-heats: heat flows in the hour before occupancy starts, and the room is warm when it does', (t) => {
  const starts: number[] = [];
  for (let h = RUN.warmupDays * 24; h < RUN.days * 24; h++) if (bench.occupied[h] === 1 && bench.occupied[h - 1] === 0) starts.push(h);
  assert.equal(starts.length, 5); // Wednesday 14:00 and four weekday evenings
  const perStep = 3600 / STEP_S;
  for (const h of starts) {
    const s = h * perStep;
    const mean = (r: RunResult): number => r.heatW.slice(s - perStep, s).reduce((a, b) => a + b, 0) / perStep;
    const line = `start ${h % 24}:00 day ${Math.floor(h / 24)}: air ${mpc.airC[s - 1].toFixed(2)} °C (PI ${pi.airC[s - 1].toFixed(2)}), heat in the hour before ${mean(mpc).toFixed(0)} W (PI ${mean(pi).toFixed(0)})`;
    t.diagnostic(line);
    // A feedback thermostat only reacts once the setpoint has risen (before, it holds the 16 °C set-back, which the
    // room's mass keeps it above); the radiator body delays heat by ≈ 30 min, so comfort at the start needs heat in
    // the hour before.
    assert.ok(mean(mpc) > 100 + mean(pi), line);
    assert.ok(mpc.airC[s - 1] > pi.airC[s - 1] + 0.5, line);
  }
});

void test('MPC stops heating ahead of a sunny spell it sees coming', (t) => {
  // A cold clear day (−5 °C) in a south room with a 6 m² bay window: ≈ 6 m² × g 0.6 × 700 W/m² ≈ 2.5 kW of sun at
  // noon, after nights that need the heater. The heat given in the morning is still in the room when the sun peaks.
  const days = 4;
  const b = makeBench(180, days, { windowAreaM2: 6 });
  b.setpointC.fill(19);
  b.occupied.fill(1);
  b.outdoorC.fill(-5);
  b.gainsW.fill(100);
  for (let h = 0; h < b.solarW.length; h++) {
    const hod = h % 24;
    b.solarW[h] = Math.floor(h / 24) === 3 && hod >= 9 && hod < 16 ? 2500 * Math.sin((Math.PI * (hod + 0.5 - 9)) / 7) : 0;
  }
  const m = buildMpcModel(b.ss, { horizonH: HORIZON_H });
  const o = { days, warmupDays: 3 };
  const seeing = runBench(b, new MpcController({ model: m }), o);
  const blind = runBench(b, new MpcController({ model: m }), { ...o, sunInForecast: false });
  const p = runBench(b, new PiController({ uaWK: b.uaWK }), o);
  const morning = (r: RunResult): number => {
    const perStep = 3600 / STEP_S;
    const s0 = (3 * 24 + 6) * perStep;
    return r.heatW.slice(s0, s0 + 4 * perStep).reduce((a, v) => a + v, 0) / (4 * perStep);
  };
  for (const [n, r] of [['mpc', seeing], ['mpc blind to the sun', blind], ['pi', p]] as const) t.diagnostic(`${describe(n, r)}; heat 06–10 h ${morning(r).toFixed(0)} W`);
  assert.ok(morning(seeing) < morning(blind));
  assert.ok(morning(seeing) < morning(p));
  assert.ok(seeing.comfort.highKh < blind.comfort.highKh);
  assert.ok(seeing.comfort.highKh < p.comfort.highKh);
  assert.ok(seeing.comfort.lowKh <= 0.1, 'stopping early must not cost comfort before the sun arrives');
});

void test('clock-aligned forecasts (forecastAlignment: clock) give the same control as forecasts starting now', (t) => {
  const clock = runBench(bench, new MpcController({ model, forecastAlignment: 'clock' }), { ...RUN, clockForecasts: true });
  t.diagnostic(describe('mpc, clock-aligned forecasts', clock));
  // The same hourly information in two layouts: the blend of clock hours is the exact mean over hours from now for
  // these hourly-constant series, so the plans agree up to the solver's tolerance.
  assert.ok(Math.abs(clock.comfort.discomfortKh - mpc.comfort.discomfortKh) < 0.01 * mpc.comfort.discomfortKh);
  assert.ok(Math.abs(clock.heatKWh - mpc.heatKWh) < 0.01 * mpc.heatKWh);
});

void test('MPC does not wind up: after a day with no heat it recovers without overshooting', (t) => {
  const b = makeBench(0, 4);
  b.setpointC.fill(19);
  b.occupied.fill(1);
  b.outdoorC.fill(2);
  b.solarW.fill(0);
  b.gainsW.fill(100);
  const day = 86400;
  const none = (tS: number): number => (tS >= day && tS < 2 * day ? 0 : MAX_HEAT_W);
  const r = runBench(b, new MpcController({ model: buildMpcModel(b.ss, { horizonH: HORIZON_H }) }), { days: 4, warmupDays: 0, initialC: 19, deliverableW: none });
  let maxAfter = -Infinity;
  for (let s = (2 * day) / STEP_S; s < r.airC.length; s++) maxAfter = Math.max(maxAfter, r.airC[s]);
  t.diagnostic(`max air after the fault ${maxAfter.toFixed(2)} °C`);
  assert.ok(maxAfter <= 19 + DEFAULT_COMFORT.upperBandK);
});

void test('MPC without the model state (air only) still keeps comfort', (t) => {
  const run = instrument(new MpcController({ model }));
  const r = runBench(bench, run.c, { ...RUN, withState: false });
  t.diagnostic(describe('mpc, air only', r));
  assert.deepEqual(run.bad, []);
  // Its state is a quasi-steady guess, so hold it to the feedback thermostats' bound (1 K·h per return), not the MPC's.
  assert.ok(r.comfort.lowKh <= 5);
  assert.ok(r.comfort.lowKh < pi.comfort.lowKh);
});

void test('the band: minW is what comfort needs now, maxW what the room can take', () => {
  const ss = archetypeStateSpace(dwellingRoom('rt2005', 20));
  const m = buildMpcModel(ss, { horizonH: 12 });
  const base = (airC: number, over: Partial<RoomControlInput> = {}): RoomControlInput => ({
    nowS: 0,
    periodS: PERIOD_S,
    airC,
    state: Float64Array.from([airC, airC - 3, airC - 0.5, airC]),
    setpointC: 19,
    setpointAheadC: new Array(12).fill(19),
    outdoorAheadC: new Array(12).fill(5),
    solarAheadW: new Array(12).fill(0),
    gainsAheadW: new Array(12).fill(100),
    maxHeatW: MAX_HEAT_W,
    limits: DEFAULT_COMFORT,
    ...over,
  });
  const out = createHeatRequest(12);
  // A room at 15 °C that should be at 19: everything the heater has, and all of it needed.
  new MpcController({ model: m }).request(base(15), out);
  assert.equal(out.powerW, MAX_HEAT_W);
  assert.equal(out.minW, MAX_HEAT_W);
  assert.equal(out.maxW, MAX_HEAT_W);
  // A room at 21 °C in a set-back (16 °C) for the next 12 h: nothing wanted or needed, and little room for more heat.
  new MpcController({ model: m }).request(base(21, { setpointC: 16, setpointAheadC: new Array(12).fill(16) }), out);
  assert.equal(out.powerW, 0);
  assert.equal(out.minW, 0);
  assert.equal(out.maxW, 0);
  assert.ok(out.forecastW.every((f) => f === 0));
  // At 19.2 °C with comfort due: some heat wanted, part of it could wait, and the room could take more.
  new MpcController({ model: m }).request(base(19.2), out);
  assert.ok(out.powerW > 0 && out.minW < out.powerW && out.maxW > out.powerW, JSON.stringify(out));
  // At 19.9 °C, just under the upper comfort edge (20 °C): a full hour at the heater's maximum would overheat it.
  new MpcController({ model: m }).request(base(19.9), out);
  assert.ok(out.maxW < MAX_HEAT_W && out.maxW >= out.powerW, JSON.stringify(out));
  // Above the safety limit: nothing at all.
  new MpcController({ model: m }).request(base(29), out);
  assert.deepEqual([out.powerW, out.minW, out.maxW], [0, 0, 0]);
});

void test('invalid MPC options are rejected naming the field', () => {
  const ss = archetypeStateSpace(dwellingRoom('rt2005', 20));
  assert.throws(() => buildMpcModel(ss, { horizonH: 1 }), field('horizonH'));
  assert.throws(() => buildMpcModel(ss, { horizonH: 12.5 }), field('horizonH'));
  assert.throws(() => buildMpcModel(ss, { blocksH: [2, 4, 8, 12] }), field('blocksH[0]'));
  assert.throws(() => buildMpcModel(ss, { horizonH: 24, blocksH: [1, 1, 1] }), field('blocksH'));
  assert.throws(() => buildMpcModel(ss, { airState: 'T_room' }), field('airState'));
  assert.throws(() => buildMpcModel(ss, { roles: { heater: 'Q_boards' } }), field('roles.heater'));
  assert.throws(() => buildMpcModel(ss, { roles: { outdoor: ['T_amb', 'T_sup'] } }), field('model.inputNames[2]'));
  assert.throws(() => new MpcController({ model: model, comfortMarginK: -1 }), field('comfortMarginK'));
  assert.throws(() => new MpcController({ model: model, maxIterations: 0 }), field('maxIterations'));
  assert.throws(() => new MpcController({ model: model, upperWindowH: 1.5 }), field('upperWindowH'));
  assert.throws(() => new MpcController({ model: {} as never }), field('model'));
  assert.throws(() => new MpcController({ model, forecastAlignment: 'utc' as never }), field('forecastAlignment'));
});
