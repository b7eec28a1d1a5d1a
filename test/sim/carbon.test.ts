// Carbon intensity: the CSV parser on a small inline series and on the shared French 2020 series (skipped when
// absent), step lookup, year wrapping, and the documented default constant.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ParseError } from '../../src/physics/errors.ts';
import { carbonAt, carbonMean, constantCarbon, DEFAULT_CARBON_G_PER_KWH, parseCarbonCsv, parseTimestampS } from '../../src/sim/carbon.ts';
import { sharedFile, skipUnlessShared } from '../helpers/shared-data.ts';
import { parseCarbonCsv as parseCarbonCsvLive, seriesCarbonSource } from '../../src/coordinator/accounting/carbon.ts';

const CSV = 'Time,Carbon Intensity\n2020-01-01 00:00:00,50\n2020-01-01 00:30:00,60\n\n2020-01-01 01:00:00,70.5\n';
const t0 = Date.UTC(2020, 0, 1) / 1000;

test('parses a small CSV and looks values up with step interpolation', () => {
  const s = parseCarbonCsv(CSV);
  assert.deepEqual(Array.from(s.gPerKWh), [50, 60, 70.5]);
  assert.equal(s.timesS[0], t0);
  assert.equal(s.meanGPerKWh, (50 + 60 + 70.5) / 3);
  const src = { kind: 'series' as const, series: s };
  assert.equal(carbonAt(src, t0), 50);
  assert.equal(carbonAt(src, t0 + 1799), 50);
  assert.equal(carbonAt(src, t0 + 1800), 60);
  assert.equal(carbonAt(src, t0 + 99999), 70.5, 'beyond a short series the last value holds');
  assert.equal(carbonAt(src, t0 - 10), 50);
  assert.equal(carbonMean(src), s.meanGPerKWh);
});

test('constant source and the documented default', () => {
  assert.equal(carbonAt(constantCarbon(), 123), DEFAULT_CARBON_G_PER_KWH);
  assert.equal(carbonAt(constantCarbon(80), 0), 80);
  assert.throws(() => constantCarbon(-1));
});

test('timestamps: UTC by default, zones honoured, garbage is NaN', () => {
  assert.equal(parseTimestampS('2020-03-01 12:00:00'), Date.UTC(2020, 2, 1, 12) / 1000);
  assert.equal(parseTimestampS('2020-03-01T12:00+01:00'), Date.UTC(2020, 2, 1, 11) / 1000);
  assert.ok(Number.isNaN(parseTimestampS('2020-13-01 00:00')));
  assert.ok(Number.isNaN(parseTimestampS('yesterday')));
});

test('malformed rows fail with a ParseError naming the line', () => {
  const bad = (row: string): string => `Time,Carbon Intensity\n2020-01-01 00:00:00,50\n${row}\n`;
  const at3 = (e: unknown): boolean => e instanceof ParseError && e.line === 3;
  assert.throws(() => parseCarbonCsv(bad('2020-01-01 00:30:00')), at3);
  assert.throws(() => parseCarbonCsv(bad('2020-01-01 00:30:00,abc')), at3);
  assert.throws(() => parseCarbonCsv(bad('2020-01-01 00:30:00,-4')), at3);
  assert.throws(() => parseCarbonCsv(bad('01/01/2020 00:30,40')), at3);
  assert.throws(() => parseCarbonCsv(bad('2020-01-01 00:00:00,40')), at3, 'out of order');
  assert.throws(() => parseCarbonCsv('Time,Carbon Intensity\n'), ParseError);
});

test('the French 2020 series: half-hourly, its 2020 mean is the default constant, other years wrap', { skip: skipUnlessShared('grid', 'fr_carbon_intensity_2020.csv') }, () => {
  const s = parseCarbonCsv(readFileSync(sharedFile('grid', 'fr_carbon_intensity_2020.csv') ?? '', 'utf8'), 'fr_carbon_intensity_2020.csv');
  assert.equal(s.timesS.length, 18574);
  assert.equal(s.timesS[1] - s.timesS[0], 1800);
  let sum = 0;
  let n = 0;
  const y0 = Date.UTC(2020, 0, 1) / 1000;
  const y1 = Date.UTC(2021, 0, 1) / 1000;
  s.timesS.forEach((t, i) => {
    if (t >= y0 && t < y1) {
      sum += s.gPerKWh[i];
      n++;
    }
  });
  assert.equal(n, 366 * 48);
  assert.ok(Math.abs(sum / n - DEFAULT_CARBON_G_PER_KWH) < 0.05, `2020 mean ${sum / n}`);
  const src = { kind: 'series' as const, series: s };
  const jan2026 = Date.UTC(2026, 0, 15, 18) / 1000;
  assert.equal(carbonAt(src, jan2026), carbonAt(src, Date.UTC(2020, 0, 15, 18) / 1000), 'same second of the year in 2020');
  const v = carbonAt(src, Date.UTC(2025, 6, 1) / 1000);
  assert.ok(v > 5 && v < 200);
});

test('a year-long series wraps by calendar date, as the coordinator accounting reads it (29 February does not shift March)', () => {
  // 2020 (a leap year), hourly: each value says its month, day and hour.
  const rows = ['time,gCO2e/kWh'];
  for (let t = Date.UTC(2020, 0, 1); t < Date.UTC(2021, 0, 1); t += 3_600_000) {
    const d = new Date(t);
    rows.push(`${d.toISOString().slice(0, 16).replace('T', ' ')},${(d.getUTCMonth() + 1) * 10000 + d.getUTCDate() * 100 + d.getUTCHours()}`);
  }
  const text = rows.join('\n');
  const src = { kind: 'series' as const, series: parseCarbonCsv(text) };
  const at = (y: number, mo: number, d: number, h: number): number => carbonAt(src, Date.UTC(y, mo - 1, d, h, 30) / 1000);
  assert.equal(at(2026, 3, 1, 12), 30112, '1 March 2026 reads 1 March 2020, not 29 February');
  assert.equal(at(2026, 12, 31, 23), 123123);
  assert.equal(at(2026, 1, 15, 18), 11518);
  assert.equal(at(2028, 2, 29, 6), 22906, 'a leap day reads the leap day');
  const live = seriesCarbonSource(parseCarbonCsvLive(text), { outside: 'wrap-year' });
  for (let t = Date.UTC(2025, 11, 20); t < Date.UTC(2027, 1, 10); t += 7 * 3_600_000 + 60_000) {
    assert.equal(carbonAt(src, t / 1000), live.intensityAt(t), new Date(t).toISOString());
  }
});
