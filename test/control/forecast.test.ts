// Tests of the forecast helpers: hour-ahead slots (exact means and maxima), last-value-holds reads, wantHeatHours,
// the quasi-steady heat need and the HeatRequest allocator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { aheadAt, clampW, createHeatRequest, slotsAhead, steadyHeatNeedW, wantHeatHours } from '../../src/control/forecast.ts';
import { DEFAULT_COMFORT } from '../../src/control/types.ts';
import type { RoomControlInput } from '../../src/control/types.ts';
import { InvalidParameterError } from '../../src/physics/errors.ts';

void test('aheadAt holds the last value past the end and falls back when empty', () => {
  assert.equal(aheadAt([1, 2, 3], 0, 9), 1);
  assert.equal(aheadAt([1, 2, 3], 2, 9), 3);
  assert.equal(aheadAt([1, 2, 3], 10, 9), 3);
  assert.equal(aheadAt([], 0, 9), 9);
});

void test('wantHeatHours: first hour below the threshold, horizon if never', () => {
  assert.equal(wantHeatHours([500, 400, 30, 500], 40), 2);
  assert.equal(wantHeatHours([500, 400, 300], 40), 3);
  assert.equal(wantHeatHours([10, 400], 40), 0);
  assert.equal(wantHeatHours([], 40), 0);
  assert.equal(wantHeatHours([500, NaN, 500], 40), 1);
  assert.equal(wantHeatHours(new Float64Array([40, 40]), 40), 2);
});

void test('slotsAhead: exact time-means of a step series over hours starting at nowS', () => {
  const series = [10, 20, 30, 40]; // hourly from t = 0
  const out = new Float64Array(3);
  slotsAhead(series, 0, 3600, 0, out);
  assert.deepEqual(Array.from(out), [10, 20, 30]);
  slotsAhead(series, 0, 3600, 900, out); // a quarter hour in: 3/4 of one hour and 1/4 of the next
  assert.deepEqual(Array.from(out), [12.5, 22.5, 32.5]);
  slotsAhead(series, 0, 3600, 3 * 3600 + 1800, out); // past the end the last value holds
  assert.deepEqual(Array.from(out), [40, 40, 40]);
  slotsAhead(series, 0, 3600, -1800, out); // before the start the first value holds
  assert.deepEqual(Array.from(out), [10, 15, 25]);
  slotsAhead(series, 0, 3600, 900, out, 'max');
  assert.deepEqual(Array.from(out), [20, 30, 40]);
  // A 15-min series averaged into hours.
  const q = Array.from({ length: 8 }, (_, i) => i);
  const two = new Float64Array(2);
  slotsAhead(q, 0, 900, 0, two);
  assert.deepEqual(Array.from(two), [1.5, 5.5]);
  assert.throws(() => slotsAhead([], 0, 3600, 0, out), (e: unknown) => e instanceof InvalidParameterError && e.field === 'series');
  assert.throws(() => slotsAhead([1], 0, 0, 0, out), (e: unknown) => e instanceof InvalidParameterError && e.field === 'seriesStepS');
});

void test('slotsAhead preserves the integral of the series (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: -50, max: 50, noNaN: true }), { minLength: 30, maxLength: 30 }), fc.integer({ min: 0, max: 180 }), (vals, minutes) => {
      const nowS = minutes * 60; // whole minutes, so the 1-min reference sum below is exact
      const out = new Float64Array(24);
      slotsAhead(vals, 0, 3600, nowS, out);
      // ∫ over [nowS, nowS + 24 h] computed directly.
      let direct = 0;
      for (let t = nowS; t < nowS + 24 * 3600; t += 60) direct += vals[Math.min(29, Math.floor(t / 3600))] * 60;
      const viaSlots = out.reduce((s, v) => s + v * 3600, 0);
      assert.ok(Math.abs(direct - viaSlots) < 1e-6 * (1 + Math.abs(direct)));
    }),
    { numRuns: 100 },
  );
});

void test('steadyHeatNeedW: UA·(setpoint − outdoor) − gains − sun, clamped to the heater', () => {
  const input: RoomControlInput = {
    nowS: 0,
    periodS: 300,
    airC: 19,
    setpointC: 19,
    setpointAheadC: [19, 19, 16],
    outdoorAheadC: [4, -20, 10],
    solarAheadW: [0, 0, 100],
    gainsAheadW: [100, 100, 0],
    maxHeatW: 650,
    limits: DEFAULT_COMFORT,
  };
  const out = steadyHeatNeedW(input, 30, 1, new Float64Array(4));
  assert.deepEqual(Array.from(out), [30 * 15 - 100, 650, 30 * 6 - 100, 30 * 6 - 100]);
  assert.equal(clampW(-5, 100), 0);
  assert.equal(clampW(NaN, 100), 0);
  assert.equal(clampW(500, 100), 100);
});

void test('createHeatRequest allocates the horizon and rejects a bad one naming the field', () => {
  const r = createHeatRequest(24);
  assert.equal(r.forecastW.length, 24);
  assert.throws(() => createHeatRequest(0), (e: unknown) => e instanceof InvalidParameterError && e.field === 'horizonH');
  assert.throws(() => createHeatRequest(2.5), (e: unknown) => e instanceof InvalidParameterError && e.field === 'horizonH');
});
