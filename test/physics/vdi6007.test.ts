// Tests of the VDI 6007 validation runner: every shared case within its threshold and close to the Dymola samples,
// table semantics, schema errors naming the field, and derived cases exercising PI, hysteresis, air volume, ventilation, sky.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { evalTable, parseVdi6007Case, runVdi6007Case, simulateHourlyMeans } from '../../src/physics/vdi6007.ts';
import type { TableSignal } from '../../src/physics/vdi6007.ts';
import { InvalidParameterError } from '../../src/physics/errors.ts';
import { sharedFile, skipUnlessShared } from '../helpers/shared-data.ts';

const SHARED_CASES = [1, 2, 3, 5, 6, 8, 10, 11];

/** The parts of a case file the tests read or change. */
interface CaseJson {
  case: number;
  schema?: string;
  model: { parameters: Record<string, { value: unknown }> };
  initial_conditions: { type: string; T_capacities_degC?: number };
  simulation: { start_s?: number; stop_s: number };
  signals: Record<string, Record<string, unknown>>;
  connections: Record<string, unknown>[];
  hvac?: Record<string, unknown>;
  output: { unit: string; variable: string };
  reference: { periods: { name: string; values: unknown[][] }[] };
  check: { threshold: unknown };
  dymola_result_samples?: { values: [number, number | null][] };
}
type Json = Record<string, unknown>;

function loadCase(n: number): CaseJson {
  const f = sharedFile('vdi6007', `case${n}.json`);
  if (!f) throw new Error(`case${n}.json absent`);
  return JSON.parse(readFileSync(f, 'utf8')) as CaseJson;
}

/** A small self-contained case (no shared data): light room, constant outdoor, constant convective gain. */
function syntheticCase(): CaseJson {
  const v = (value: unknown): { value: unknown } => ({ value });
  return {
    schema: 'vdi6007-ibpsa-testcase/1',
    case: 99,
    model: {
      parameters: {
        VAir: v(0),
        hRad: v(5),
        nOrientations: v(1),
        AWin: v([0]),
        ATransparent: v([0]),
        hConWin: v(2.7),
        RWin: v(1e-8),
        gWin: v(1),
        ratioWinConRad: v(0),
        AExt: v([10]),
        hConExt: v(2.5),
        nExt: v(1),
        RExt: v([0.004]),
        RExtRem: v(0.04),
        CExt: v([2000]),
        AInt: v(50),
        hConInt: v(2),
        nInt: v(1),
        RInt: v([0.001]),
        CInt: v([5000]),
        T_start: v(10),
      },
    },
    initial_conditions: { type: 'fixed_temperature', T_capacities_degC: 10 },
    simulation: { start_s: 0, stop_s: 2 * 86400 },
    signals: {
      T_out: { type: 'constant', value: 10 },
      Q_conv: { interpolation: 'linear', extrapolation: 'periodic', period_s: 86400, table: [[0, 300], [86400, 300]] },
    },
    connections: [
      { port: 'extWall', conductance_W_K: 250, temperature_signal: 'T_out' },
      { port: 'intGainsConv', signal: 'Q_conv' },
    ],
    output: { unit: 'degC', variable: 'T_air' },
    reference: { periods: [{ name: 'day 2', values: [[90000, 0], [172800, 0]] }] },
    check: { threshold: 0.15 },
  };
}

test('every shared VDI 6007 case passes within its threshold', { skip: skipUnlessShared('vdi6007', 'case1.json') }, () => {
  for (const n of SHARED_CASES) {
    const json = loadCase(n);
    const r = runVdi6007Case(parseVdi6007Case(json));
    const refs = json.reference.periods.flatMap((p) => p.values as [number, number][]);
    assert.equal(r.case, n);
    assert.equal(r.series.length, refs.length, `case ${n} series length`);
    r.series.forEach(([t], i) => assert.equal(t, refs[i][0]));
    assert.equal(r.threshold, json.check.threshold);
    assert.equal(r.unit, json.output.unit);
    assert.ok(r.pass && r.maxAbsDeviation <= r.threshold, `case ${n}: max deviation ${r.maxAbsDeviation} > ${r.threshold}`);
  }
});

test('hourly means reproduce the IBPSA Dymola result samples (1e-3 K, 0.02 W)', { skip: skipUnlessShared('vdi6007', 'case1.json') }, () => {
  for (const n of SHARED_CASES) {
    const json = loadCase(n);
    const c = parseVdi6007Case(json);
    // samples exactly on a full hour are ambiguous (before/after the Mean update): skip them
    const samples = (json.dymola_result_samples?.values ?? []).filter(
      (s): s is [number, number] => s[1] !== null && s[0] % 3600 !== 0 && s[0] >= 3600,
    );
    const means = simulateHourlyMeans(
      c,
      samples.map(([t]) => Math.floor(t / 3600) * 3600),
    );
    const tol = c.output.unit === 'W' ? 0.02 : 1e-3;
    samples.forEach(([t, v], i) => assert.ok(Math.abs(means[i] - v) <= tol, `case ${n} t=${t}: ${means[i]} vs Dymola ${v}`));
  }
});

test('a self-contained light room reaches its analytic steady state (no shared data needed)', () => {
  const r = runVdi6007Case(parseVdi6007Case(syntheticCase()));
  // steady state: air → (sE ‖ sI→sE) → RExt → RExtRem → 1/H
  const gcE = 10 * 2.5;
  const gcI = 50 * 2;
  const grEI = Math.min(10, 50) * 5;
  const rAir = 1 / (gcE + (gcI * grEI) / (gcI + grEI));
  const expected = 10 + 300 * (rAir + 0.004 + 0.04 + 1 / 250);
  for (const [, v] of r.series) assert.ok(Math.abs(v - expected) < 1e-9, `${v} vs ${expected}`);
  assert.equal(r.quantity, 'air_temperature');
  assert.equal(r.pass, false); // the reference values are 0 here
});

test('CombiTimeTable semantics: jumps, ramps, periodic wrap, constant segments, hold-last', () => {
  const T = (rows: number[][], interpolation: TableSignal['interpolation'], extrapolation: TableSignal['extrapolation']): TableSignal => ({
    kind: 'table',
    interpolation,
    extrapolation,
    times: Float64Array.from(rows.map((r) => r[0])),
    values: Float64Array.from(rows.map((r) => r[1])),
    periodS: rows[rows.length - 1][0] - rows[0][0],
  });
  const step = T([[0, 1], [3600, 1], [3600, 5], [7200, 5], [7200, 2], [10000, 2]], 'linear', 'periodic');
  assert.equal(evalTable(step, 3600, 'left'), 1);
  assert.equal(evalTable(step, 3600, 'right'), 5);
  assert.equal(evalTable(step, 5000, 'right'), 5);
  assert.equal(evalTable(step, 10000, 'left'), 2);
  assert.equal(evalTable(step, 10000, 'right'), 1);
  assert.equal(evalTable(step, 13600, 'right'), 5);
  assert.equal(evalTable(step, -6400, 'right'), 5);
  const ramp = T([[0, 22], [21600, 22], [21600.1, 27], [86400, 27]], 'linear', 'periodic');
  assert.ok(Math.abs(evalTable(ramp, 21600.05, 'right') - 24.5) < 1e-6);
  assert.equal(evalTable(ramp, 86400 + 21600, 'left'), 22);
  const cs = T([[0, 0], [3600, 10], [7200, 20]], 'constant_segments', 'hold_last');
  assert.equal(evalTable(cs, 3599, 'right'), 0);
  assert.equal(evalTable(cs, 3600, 'left'), 0);
  assert.equal(evalTable(cs, 3600, 'right'), 10);
  assert.equal(evalTable(cs, 1e6, 'right'), 20);
  const lin = T([[0, 0], [10, 10]], 'linear', 'last_two_points');
  assert.equal(evalTable(lin, 20, 'right'), 20);
  assert.equal(evalTable(T([[0, 0], [10, 10]], 'linear', 'hold_last'), 20, 'right'), 10);
});

test('malformed case files are rejected with errors naming the field', () => {
  const mutate = (f: (j: CaseJson) => void): CaseJson => {
    const j = structuredClone(syntheticCase());
    f(j);
    return j;
  };
  const tab = (j: CaseJson, name: string): unknown[][] => j.signals[name].table as unknown[][];
  const bad: [unknown, string][] = [
    [42, '(root)'],
    [mutate((j) => (j.model.parameters.CExt.value = ['abc'])), 'model.parameters.CExt.value[0]'],
    [mutate((j) => (j.model.parameters.CExt.value = [-1])), 'model.parameters.CExt.value[0]'],
    [mutate((j) => (j.model.parameters.hRad = { value: null })), 'model.parameters.hRad.value'],
    [mutate((j) => delete j.model.parameters.RInt), 'model.parameters.RInt'],
    [mutate((j) => (j.model.parameters.AExt.value = [1, 2])), 'model.parameters.AExt.value'],
    [mutate((j) => (j.model.parameters.RExt.value = [0])), 'model.parameters.RExt.value[0]'],
    [mutate((j) => (tab(j, 'Q_conv')[1][0] = -5)), 'signals.Q_conv.table[1][0]'],
    [mutate((j) => (tab(j, 'Q_conv')[0][1] = '300')), 'signals.Q_conv.table[0][1]'],
    [mutate((j) => (j.signals.Q_conv.period_s = 3600)), 'signals.Q_conv.period_s'],
    [mutate((j) => (j.signals.Q_conv.interpolation = 'spline')), 'signals.Q_conv.interpolation'],
    [mutate((j) => (j.signals.T_out = { type: 'warp' })), 'signals.T_out.type'],
    [mutate((j) => (j.signals.T_x = { type: 'sunblind_closure', input: 'nope', threshold: 100, g_closed: 0.15 })), 'signals.T_x.input'],
    [mutate((j) => (j.connections[1].signal = 'missing')), 'connections[1].signal'],
    [mutate((j) => (j.connections[1].port = 'chimney')), 'connections[1].port'],
    [mutate((j) => (j.connections[1].port = 'intWallIndoorSurface')), 'connections[1].port'],
    [mutate((j) => (j.connections[0].conductance_W_K = 'x')), 'connections[0].conductance_W_K'],
    [mutate((j) => (j.connections = [j.connections[1]])), 'connections'],
    [mutate((j) => (j.initial_conditions.type = 'warm')), 'initial_conditions.type'],
    [mutate((j) => (j.simulation.stop_s = -1)), 'simulation.stop_s'],
    [mutate((j) => (j.output.unit = 'K')), 'output.unit'],
    [mutate((j) => (j.output.unit = 'W')), 'output.variable'],
    [mutate((j) => (j.reference.periods[0].values[0] = [90000, 'x'])), 'reference.periods[0].values[0][1]'],
    [mutate((j) => (j.check.threshold = '0.15')), 'check.threshold'],
    [mutate((j) => (j.hvac = { type: 'pi', k: -1, Ti_s: 1, port: 'intGainsConv', setpoint_signal: 'T_out', gain_W: 500 })), 'hvac.k'],
    [mutate((j) => (j.hvac = { type: 'pi', k: 1, Ti_s: 1, port: 'intGainsConv', setpoint_signal: 'T_out' })), 'hvac.gain_heating_W'],
  ];
  for (const [json, field] of bad) {
    assert.throws(
      () => parseVdi6007Case(json),
      (e: unknown) => e instanceof InvalidParameterError && e.field === field,
      `expected an error naming ${field}`,
    );
  }
});

test('property: a parameter of the wrong JSON type is reported with its path', () => {
  const names = Object.keys(syntheticCase().model.parameters);
  fc.assert(
    fc.property(fc.constantFrom(...names), fc.constantFrom<unknown>('text', true, null, { a: 1 }, [[1]]), (name, junk) => {
      const j = structuredClone(syntheticCase());
      j.model.parameters[name].value = junk;
      assert.throws(
        () => parseVdi6007Case(j),
        (e: unknown) => e instanceof InvalidParameterError && e.field.startsWith(`model.parameters.${name}.value`),
      );
    }),
    { numRuns: 60 },
  );
});

test('a PI with very high gain and limits reproduces the ideal heater (case 6), with and without hysteresis', { skip: skipUnlessShared('vdi6007', 'case6.json') }, () => {
  const json = loadCase(6);
  const ideal = runVdi6007Case(parseVdi6007Case(json));
  const pi = { type: 'pi', k: 10, Ti_s: 1, yMax: 1, yMin: -1, setpoint_signal: 'T_set', integrator_start: 0 };
  const variants: Json[] = [
    { ...pi, port: 'intGainsConv', gain_W: 1e5 },
    { ...pi, heating_port: 'intGainsConv', cooling_port: 'intGainsConv', gain_heating_W: 1e5, gain_cooling_W: 1e5, hysteresis_uLow: -1e-7, hysteresis_uHigh: 1e-7 },
  ];
  for (const hvac of variants) {
    const j = structuredClone(json);
    j.hvac = hvac;
    const r = runVdi6007Case(parseVdi6007Case(j));
    r.series.forEach(([t, v], i) => assert.ok(Math.abs(v - ideal.series[i][1]) < 0.01, `t=${t}: PI ${v} vs ideal ${ideal.series[i][1]}`));
  }
});

test('a limited PI (case 7 set-up) keeps the load within ±500 W and saturates overnight on day 60', { skip: skipUnlessShared('vdi6007', 'case6.json') }, () => {
  const j = loadCase(6);
  j.hvac = { type: 'pi', k: 0.1, Ti_s: 4, yMax: 1, yMin: -1, port: 'intGainsConv', gain_W: 500, setpoint_signal: 'T_set' };
  j.output.variable = 'Q_hvac';
  const r = runVdi6007Case(parseVdi6007Case(j));
  for (const [, v] of r.series) assert.ok(v >= -500 - 1e-9 && v <= 500 + 1e-9);
  // day 60, 01:00–06:00: cooling at the limit (VDI reference −500 W)
  for (const [t, v] of r.series) if (t > 5101200 - 1 && t <= 5119200) assert.ok(Math.abs(v + 500) < 1e-6, `t=${t}: ${v}`);
});

test('an air volume of 0.1 m³ changes hourly means by < 1e-3 K; ventilation and sky inputs run', { skip: skipUnlessShared('vdi6007', 'case8.json') }, () => {
  const base = loadCase(5);
  const r0 = runVdi6007Case(parseVdi6007Case(base));
  const withAir = structuredClone(base);
  withAir.model.parameters.VAir.value = 0.1;
  const r1 = runVdi6007Case(parseVdi6007Case(withAir));
  r1.series.forEach(([t, v], i) => assert.ok(Math.abs(v - r0.series[i][1]) < 1e-3, `t=${t}`));
  // case 12 set-up: 100 m³/h of outdoor air, 50 m³/h from 07:00 to 17:00
  const vent = structuredClone(withAir);
  vent.signals.V_vent = {
    unit: 'm3/h',
    interpolation: 'linear',
    extrapolation: 'periodic',
    period_s: 86400,
    table: [[0, 100], [25200, 100], [25200, 50], [61200, 50], [61200, 100], [86400, 100]],
  };
  vent.connections.push({ port: 'ports', signal: 'V_vent', temperature_signal: 'T_out' });
  const r2 = runVdi6007Case(parseVdi6007Case(vent));
  // the room of case 5 runs far above the daily mean outdoor temperature: ventilation cools it on day 60
  const day60 = (r: typeof r0): number => r.series.slice(48).reduce((sum, [, v]) => sum + v, 0) / 24;
  assert.ok(day60(r2) < day60(r1) - 1, `${day60(r2)} vs ${day60(r1)}`);
  // case 9 set-up: long-wave exchange with a sky at ≈ 300 W/m² (≈ 2 °C, colder than the air): cooler than case 8
  const c8 = loadCase(8);
  const r8 = runVdi6007Case(parseVdi6007Case(c8));
  const c9 = structuredClone(c8);
  c9.signals.H_sky = { interpolation: 'linear', extrapolation: 'periodic', period_s: 86400, table: [[0, 300], [0.36, 300], [3600, 310], [86400, 300]] };
  c9.signals.T_sky = { type: 'black_body_sky_temperature', input: 'H_sky', gain: 65.99081593 };
  c9.signals.T_eq_air = { ...c9.signals.T_eq_air, withLongwave: true };
  const r9 = runVdi6007Case(parseVdi6007Case(c9));
  assert.ok(day60(r9) < day60(r8) - 0.5, `${day60(r9)} vs ${day60(r8)}`);
  for (const [, v] of [...r2.series, ...r9.series]) assert.ok(Number.isFinite(v));
});

test('ventilation with a constant flow cools towards the supply; a ramped flow is rejected naming the signal', () => {
  const j = syntheticCase();
  j.signals.V = { unit: 'm3/h', type: 'constant', value: 100 };
  j.signals.T_sup = { type: 'constant', value: 0 };
  j.connections.push({ port: 'ventilation', signal: 'V', temperature_signal: 'T_sup' });
  const r0 = runVdi6007Case(parseVdi6007Case(syntheticCase()));
  const r1 = runVdi6007Case(parseVdi6007Case(j));
  r1.series.forEach(([, v], i) => assert.ok(v < r0.series[i][1] - 1, `${v} vs ${r0.series[i][1]}`));
  j.signals.V = { unit: 'm3/h', interpolation: 'linear', extrapolation: 'periodic', table: [[0, 0], [86400, 100]] };
  assert.throws(
    () => runVdi6007Case(parseVdi6007Case(j)),
    (e: unknown) => e instanceof InvalidParameterError && e.field === 'signals.V',
  );
});
