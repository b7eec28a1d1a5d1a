// Tests of the synthetic weather generator: statistics against the RT2012 file of every zone present,
// determinism per seed, and plausibility of any seed's output (property test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { InvalidParameterError } from '../../src/physics/errors.ts';
import { parseRt2012 } from '../../src/physics/weather/rt2012.ts';
import { weatherStats } from '../../src/physics/weather/stats.ts';
import { CLIMATE_ZONES, coldWaterTempC, generateWeather, WIND_MAX_MS, zoneParams } from '../../src/physics/weather/synthetic.ts';
import type { ClimateZone } from '../../src/physics/weather/synthetic.ts';
import { ZONE_INFO, ZONE_PARAMS } from '../../src/physics/weather/zones.ts';
import { sharedFile, skipUnlessShared } from '../helpers/shared-data.ts';

/**
 * Years generated for the comparison. The day-to-day anomaly (σ up to 3.4 K, lag-1 up to 0.78) makes the
 * standard error of a monthly mean over Y years ≈ σ·√((1+φ)/(1−φ)/(30·Y)): 0.38 K at 20 years for H1b, so the
 * worst of 12 months would often exceed 0.7 K by chance alone; at 100 years it is 0.17 K.
 */
const YEARS = 100;
const SEED = 42;

for (const zone of CLIMATE_ZONES) {
  test(`${zone}: ${YEARS} synthetic years match the RT2012 file (monthly means 0.7 K, daily ranges 1.0 K, hdd18 5 %)`, {
    skip: skipUnlessShared('weather', 'rt2012', `${zone}.txt`),
  }, () => {
    const file = weatherStats(parseRt2012(readFileSync(sharedFile('weather', 'rt2012', `${zone}.txt`)!, 'latin1'), zone));
    const syn = weatherStats(generateWeather(zone, { seed: SEED, years: YEARS }));
    assert.equal(syn.years, YEARS);
    for (let m = 0; m < 12; m++) {
      const dMean = syn.monthlyMeanC[m] - file.monthlyMeanC[m];
      const dRange = syn.monthlyMeanDailyRangeC[m] - file.monthlyMeanDailyRangeC[m];
      assert.ok(Math.abs(dMean) <= 0.7, `${zone} month ${m + 1}: mean ${syn.monthlyMeanC[m].toFixed(2)} vs ${file.monthlyMeanC[m].toFixed(2)} °C`);
      assert.ok(
        Math.abs(dRange) <= 1.0,
        `${zone} month ${m + 1}: daily range ${syn.monthlyMeanDailyRangeC[m].toFixed(2)} vs ${file.monthlyMeanDailyRangeC[m].toFixed(2)} K`,
      );
    }
    const hddErr = syn.hdd18 / file.hdd18 - 1;
    assert.ok(Math.abs(hddErr) <= 0.05, `${zone}: hdd18 ${syn.hdd18.toFixed(0)} vs ${file.hdd18.toFixed(0)} K·day`);
  });
}

test('every zone has fitted parameters and station metadata', () => {
  for (const z of CLIMATE_ZONES) {
    assert.ok(ZONE_PARAMS[z], z);
    assert.equal(ZONE_INFO[z].name, z);
    assert.ok(ZONE_INFO[z].latitudeDeg > 41 && ZONE_INFO[z].latitudeDeg < 52, z);
    const p = ZONE_PARAMS[z];
    assert.ok(p.anomalyLag1 > 0.5 && p.anomalyLag1 < 0.9, `${z} lag-1 ${p.anomalyLag1}`);
    assert.equal(p.clearnessQuantiles.length, 12);
    const cw = Array.from({ length: 365 }, (_, d) => coldWaterTempC(p, d));
    assert.ok(Math.min(...cw) > 3 && Math.max(...cw) < 28, `${z} cold water`);
  }
});

test('same seed, same weather; another seed, other weather', () => {
  const a = generateWeather('H1a', { seed: 7, years: 2 });
  const b = generateWeather('H1a', { seed: 7, years: 2 });
  const c = generateWeather('H1a', { seed: 8, years: 2 });
  for (const key of ['tempC', 'dewPointC', 'skyTempC', 'directNormalWm2', 'diffuseHorizontalWm2', 'relativeHumidity', 'windMs'] as const) {
    assert.deepEqual(a[key], b[key], key);
  }
  assert.notDeepEqual(a.tempC, c.tempC);
  assert.equal(a.tempC.length, 2 * 8760);
  assert.equal(a.stepS, 3600);
  assert.equal(a.startS, 1800);
  assert.equal(a.solarTime, true);
});

test('startDayOfYear shifts the calendar: a July start is warm, a January start cold', () => {
  const jul = generateWeather('H2c', { seed: 3, years: 0.1, startDayOfYear: 182 });
  const jan = generateWeather('H2c', { seed: 3, years: 0.1, startDayOfYear: 1 });
  assert.equal(jul.startS, 181 * 86400 + 1800);
  const mean = (x: Float64Array): number => x.reduce((s, v) => s + v, 0) / x.length;
  assert.ok(mean(jul.tempC) > mean(jan.tempC) + 8);
  const st = weatherStats(jul);
  assert.ok(Number.isFinite(st.monthlyMeanC[6]) && Number.isNaN(st.monthlyMeanC[0]));
});

test('bad arguments throw InvalidParameterError naming the field', () => {
  const field = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof InvalidParameterError, String(e));
      return e.field;
    }
    assert.fail('did not throw');
  };
  assert.equal(field(() => zoneParams('H4')), 'zone');
  assert.equal(field(() => generateWeather('H9' as ClimateZone, { seed: 1, years: 1 })), 'zone');
  assert.equal(field(() => generateWeather('H1a', { seed: 1, years: 0 })), 'years');
  assert.equal(field(() => generateWeather('H1a', { seed: Number.NaN, years: 1 })), 'seed');
  assert.equal(field(() => generateWeather('H1a', { seed: 1, years: 1, startDayOfYear: 400 })), 'startDayOfYear');
});

test('the wind stays below its ceiling (a seed whose log-normal tail once gave 72 m/s in H2d)', () => {
  const w = generateWeather('H2d', { seed: 2488819689, years: 0.25, startDayOfYear: 1 });
  const max = Math.max(...w.windMs);
  assert.equal(max, WIND_MAX_MS, 'the tail reaches the ceiling here');
  assert.ok(w.windMs.every((v) => v >= 0 && v <= WIND_MAX_MS));
});

test('any seed, any zone: finite and physically plausible weather', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constantFrom(...CLIMATE_ZONES), fc.integer({ min: 1, max: 365 }), (seed, zone, start) => {
      const w = generateWeather(zone, { seed, years: 0.25, startDayOfYear: start });
      for (let i = 0; i < w.tempC.length; i++) {
        const t = w.tempC[i];
        assert.ok(Number.isFinite(t) && t > -35 && t < 48, `T ${t}`);
        assert.ok(w.dewPointC[i] <= t + 1e-9 && w.dewPointC[i] > t - 45, `Td ${w.dewPointC[i]} T ${t}`);
        assert.ok(w.skyTempC[i] <= t + 1e-9 && w.skyTempC[i] > t - 70, `Tsky ${w.skyTempC[i]}`);
        assert.ok(w.relativeHumidity[i] > 0 && w.relativeHumidity[i] <= 1, `RH ${w.relativeHumidity[i]}`);
        assert.ok(w.directNormalWm2[i] >= 0 && w.directNormalWm2[i] <= 1300, `DNI ${w.directNormalWm2[i]}`);
        assert.ok(w.diffuseHorizontalWm2[i] >= 0 && w.diffuseHorizontalWm2[i] <= 800, `DHI ${w.diffuseHorizontalWm2[i]}`);
        assert.ok(w.windMs[i] >= 0 && w.windMs[i] <= WIND_MAX_MS, `wind ${w.windMs[i]}`);
        assert.ok(Number.isFinite(w.pressurePa[i]) && Number.isFinite(w.windDirDeg[i]));
      }
    }),
    { numRuns: 12 },
  );
});
