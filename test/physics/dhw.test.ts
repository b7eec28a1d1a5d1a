// Tests of hot-water demand: EN 16147 tapping-cycle parser (shared files and malformed input), energy ↔ volume,
// the seeded stochastic draw generator (calibration, determinism, profile) and the RT2012 cold-water parser.
import { parseRt2012ColdWater } from '../../src/physics/weather/rt2012.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import {
  coldWaterAt,
  drawEnergyWh,
  drawVolumeL,
  generateDraws,
  parseTappingCycle,
  repeatTappingCycle,
} from '../../src/physics/dhw.ts';
import { InvalidParameterError, ParseError } from '../../src/physics/errors.ts';
import { sharedFile, skipUnlessShared } from '../helpers/shared-data.ts';

const read = (...parts: string[]): string => readFileSync(sharedFile(...parts) ?? '', 'utf8');

for (const [size, kWh, draws] of [['S', 2.1, 11], ['M', 5.845, 23], ['L', 11.655, 24]] as const) {
  const file = `tapping_cycle_${size}.csv`;
  void test(`EN 16147 tapping cycle ${size}: ${kWh.toFixed(3)} kWh per day in ${draws} draws`, { skip: skipUnlessShared('dhw', file) }, () => {
    const c = parseTappingCycle(read('dhw', file), file);
    assert.equal(c.draws.length, draws);
    assert.ok(Math.abs(c.totalEnergyWh - kWh * 1000) < 1e-6, `${c.totalEnergyWh} Wh`);
    assert.ok(c.draws.every((d, i) => d.flowLpm > 0 && d.energyWh > 0 && (i === 0 || d.timeS > c.draws[i - 1].timeS)));
    assert.equal(c.draws[0].timeS, 7 * 3600); // cycles start at 07:00
    const two = repeatTappingCycle(c, 2);
    assert.equal(two.length, 2 * draws);
    assert.equal(two[draws].timeS, c.draws[0].timeS + 86400);
  });
}

void test('tapping-cycle parser: decimal comma or point, optional header, CRLF, end marker not a draw', () => {
  const c = parseTappingCycle('time of day (s);energy (kWh);flow (L/min)\r\n25200;0,105;3\r\n27000;1.4;6\r\n\r\n86400;0;0\r\n');
  assert.deepEqual(c.draws, [
    { timeS: 25200, energyWh: 105, flowLpm: 3 },
    { timeS: 27000, energyWh: 1400, flowLpm: 6 },
  ]);
  assert.equal(c.totalEnergyWh, 1505);
});

void test('tapping-cycle parser rejects malformed files naming the line', () => {
  const rejects = (text: string, line: number, re: RegExp): void =>
    assert.throws(() => parseTappingCycle(text, 'cycle.csv'), (e: unknown) => e instanceof ParseError && e.line === line && e.source === 'cycle.csv' && re.test(e.message));
  rejects('25200;0.105;3\n27000;0.105\n', 2, /3 ';'-separated fields/);
  rejects('25200;0.105;3\n27000;abc;3\n', 2, /energy 'abc'/);
  rejects('25200;0.105;3\n\n25000;0.105;3\n', 3, /does not increase/);
  rejects('25200;-0.105;3\n', 1, /negative/);
  rejects('25200;0.105;0\n', 1, /positive flow/);
  rejects('99999;0.105;3\n', 1, /outside/);
  rejects('25200,0.105,3\n', 1, /3 ';'-separated fields/);
  rejects('header;a;b\nx;0.1;3\n', 2, /time 'x'/);
  rejects('', 1, /no draws/);
  rejects('86400;0;0\n', 2, /no draws/);
});

void test('tapping-cycle parser round-trips random valid cycles (fast-check)', () => {
  const draw = fc.record({ dt: fc.integer({ min: 1, max: 3000 }), energyWh: fc.integer({ min: 1, max: 20000 }), flowLpm: fc.integer({ min: 1, max: 20 }) });
  fc.assert(
    fc.property(fc.array(draw, { minLength: 1, maxLength: 25 }), fc.boolean(), (ds, comma) => {
      let t = 0;
      const rows = ds.map((d) => {
        t += d.dt;
        const e = (d.energyWh / 1000).toString();
        return `${t};${comma ? e.replace('.', ',') : e};${d.flowLpm}`;
      });
      const c = parseTappingCycle([...rows, '86400;0;0'].join('\n'));
      assert.equal(c.draws.length, ds.length);
      c.draws.forEach((x, i) => assert.ok(Math.abs(x.energyWh - ds[i].energyWh) < 1e-9));
    }),
    { numRuns: 100 },
  );
});

void test('energy ↔ volume: 0.105 kWh is 3.0 L at a 40 °C tap from 10 °C cold water; 1.4 kWh is 40 L', () => {
  assert.ok(Math.abs(drawVolumeL(105, 40, 10) - 3.011) < 1e-3);
  assert.ok(Math.abs(drawVolumeL(1400, 40, 10) - 40.14) < 1e-2);
  assert.ok(Math.abs(drawEnergyWh(drawVolumeL(777, 55, 12), 55, 12) - 777) < 1e-9);
  assert.throws(() => drawVolumeL(100, 10, 10), (e: unknown) => e instanceof InvalidParameterError && e.field === 'hotC');
  assert.throws(() => drawVolumeL(-1, 40, 10), (e: unknown) => e instanceof InvalidParameterError && e.field === 'energyWh');
});

void test('stochastic draws: average volume matches the calibrated litres/person/day within a few %', (t) => {
  for (const [persons, lppd, seed] of [[3, 56, 1], [1, 50, 2], [4, 60, 3]] as const) {
    const days = 1400;
    const d = generateDraws({ persons, litresPerPersonDay: lppd }, days, seed);
    const perPersonDay = d.reduce((s, x) => s + x.volumeL, 0) / days / persons;
    const err = perPersonDay / lppd - 1;
    t.diagnostic(`${persons} persons, ${lppd} L/p/d at 40 °C, ${days} days: ${perPersonDay.toFixed(2)} L/p/d (${(100 * err).toFixed(2)} %), ${(d.length / days).toFixed(1)} draws/day`);
    assert.ok(Math.abs(err) < 0.03, `${perPersonDay} vs ${lppd}`);
  }
});

void test('stochastic draws: deterministic per seed, sorted, within their days, weekday/weekend and peak hours', () => {
  const a = generateDraws({ persons: 3 }, 28, 42);
  assert.deepEqual(generateDraws({ persons: 3 }, 28, 42), a);
  assert.notDeepEqual(generateDraws({ persons: 3 }, 28, 43), a);
  assert.ok(a.every((x, i) => x.timeS >= 0 && x.timeS < 28 * 86400 && (i === 0 || a[i - 1].timeS <= x.timeS)));
  assert.ok(a.every((x) => Math.abs(x.durationS - (x.volumeL / x.flowLpm) * 60) < 1e-9 && x.volumeL > 0));
  const many = generateDraws({ persons: 3, weekendFactor: 1.3 }, 7 * 200, 5); // day 0 = Monday
  const byHour = new Float64Array(24);
  let weekday = 0;
  let weekend = 0;
  for (const x of many) {
    const day = Math.floor(x.timeS / 86400);
    byHour[Math.floor((x.timeS % 86400) / 3600)] += x.volumeL;
    if (day % 7 >= 5) weekend += x.volumeL;
    else weekday += x.volumeL;
  }
  const ratio = weekend / 2 / (weekday / 5);
  assert.ok(Math.abs(ratio - 1.3) < 0.06, `weekend/weekday ${ratio}`);
  const morning = byHour[6] + byHour[7] + byHour[8];
  const evening = byHour[19] + byHour[20] + byHour[21];
  const night = byHour[2] + byHour[3] + byHour[4];
  const afternoon = byHour[14] + byHour[15] + byHour[16];
  assert.equal(night, 0);
  assert.ok(morning > 2 * afternoon && evening > 2 * afternoon);
  assert.equal(generateDraws({ persons: 0 }, 10, 1).length, 0);
  assert.throws(() => generateDraws({ persons: -1 }, 10, 1), (e: unknown) => e instanceof InvalidParameterError && e.field === 'dhw.persons');
  assert.throws(() => generateDraws({}, 1.5, 1), (e: unknown) => e instanceof InvalidParameterError && e.field === 'days');
});

void test('cold water H2c (Agen): 8760 hourly values, mean 14.6 °C, 8.0..22.4 °C', { skip: skipUnlessShared('weather', 'rt2012', 'cold_water_H2c.txt') }, () => {
  const s = parseRt2012ColdWater(read('weather', 'rt2012', 'cold_water_H2c.txt'), 'cold_water_H2c.txt');
  assert.equal(s.coldWaterC.length, 8760);
  assert.equal(s.stepS, 3600);
  assert.equal(s.startS, 1800);
  const mean = s.coldWaterC.reduce((a, b) => a + b, 0) / 8760;
  assert.ok(Math.abs(mean - 14.578) < 0.01, `${mean}`);
  assert.equal(Math.min(...s.coldWaterC), 8);
  assert.equal(Math.max(...s.coldWaterC), 22.41);
  assert.equal(coldWaterAt(s, 1800), s.coldWaterC[0]);
  assert.ok(Math.abs(coldWaterAt(s, 3600) - (s.coldWaterC[0] + s.coldWaterC[1]) / 2) < 1e-12);
  assert.ok(Math.abs(coldWaterAt(s, 1800 + 365 * 86400) - s.coldWaterC[0]) < 1e-12); // periodic
  assert.ok(Math.abs(coldWaterAt(s, 0) - (s.coldWaterC[8759] + s.coldWaterC[0]) / 2) < 1e-12); // wraps at new year
});

void test('cold-water parser rejects malformed files naming the line', () => {
  const head = '#1\t\ndouble data(3,2) #Columns: Time(s); Cold water temperature (°C)\t\n';
  const ok = parseRt2012ColdWater(`${head}1800\t8.1\n5400\t8.2\n9000\t8.3\n`);
  assert.deepEqual([...ok.coldWaterC], [8.1, 8.2, 8.3]);
  const rejects = (text: string, line: number, re: RegExp): void =>
    assert.throws(() => parseRt2012ColdWater(text, 'cw.txt'), (e: unknown) => e instanceof ParseError && e.line === line && re.test(e.message));
  rejects('double data(3,2)\n', 1, /#1/);
  rejects('#1\ndouble data(3,12)\n', 2, /expected 2/);
  rejects('#1\nfoo\n', 2, /double data/);
  rejects(`${head}1800\t8.1\n5400\tx\n9000\t8.3\n`, 4, /"x" is not a finite number/);
  rejects(`${head}1800\t8.1\n5400\t8.2\t1\n`, 4, /2 tab-separated/);
  rejects(`${head}1800\t8.1\n5400\t8.2\n`, 5, /declares 3 data rows, found 2/);
  rejects(`${head}1800\t8.1\n5400\t8.2\n9000\t8.3\n12600\t8.4\n`, 6, /more data rows than the 3 declared/);
  rejects(`${head}1800\t8.1\n1800\t8.2\n9000\t8.3\n`, 4, /time must increase/);
  rejects(`${head}1800\t8.1\n5400\t8.2\n9900\t8.3\n`, 5, /time step/);
  rejects(`${head}1800\t8.1\n5400\t99\n9000\t8.3\n`, 4, /implausible/);
});
