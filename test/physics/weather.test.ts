// Tests of the weather parsers (RT2012, cold water, EPW), interpolation, solar geometry, tilted irradiance,
// window gains and statistics, including the Oct–Apr south-façade irradiation quoted in PHYSICS.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { ParseError } from '../../src/physics/errors.ts';
import { parseEpw } from '../../src/physics/weather/epw.ts';
import { parseRt2012, parseRt2012ColdWater } from '../../src/physics/weather/rt2012.ts';
import {
  cosIncidence,
  equationOfTimeMin,
  glazingIncidenceModifier,
  isotropicTiltedIrradiance,
  solarAltitudeRad,
  solarAzimuthDeg,
  solarDeclinationRad,
  sunPosition,
  surfaceIrradiance,
  surfaceNormal,
  windowSolarGainW,
} from '../../src/physics/weather/solar.ts';
import { weatherStats } from '../../src/physics/weather/stats.ts';
import { weatherAt } from '../../src/physics/weather/types.ts';
import type { WeatherSeries } from '../../src/physics/weather/types.ts';
import { sharedFile, skipUnlessShared } from '../helpers/shared-data.ts';

const DEG = Math.PI / 180;
const close = (a: number, b: number, tol: number, what = ''): void =>
  assert.ok(Math.abs(a - b) <= tol, `${what} ${a} not within ${tol} of ${b}`);

/** Asserts that `fn` throws a ParseError on `line`. */
function throwsOnLine(fn: () => unknown, line: number, pattern?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ParseError, `expected ParseError, got ${String(e)}`);
    assert.equal(e.line, line, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

// ---------- RT2012 ----------

function rt2012Text(rows: number, mutate?: (lines: string[]) => void): string {
  const lines = ['#1\t\t\t\t\t\t\t\t\t\t\t', `double data(${rows},12) #Columns: Time(s); FDIRN(W/m2); ...\t\t\t`];
  for (let i = 0; i < rows; i++) {
    lines.push([1800 + 3600 * i, 0, i % 24 > 8 ? 50 : 0, 5 + (i % 24) / 4, 3, -5, 103100, 0.9, 2, 0, 48.8, 2].join('\t'));
  }
  mutate?.(lines);
  return lines.join('\n') + '\n';
}

test('parseRt2012 reads a small matrix and its location', () => {
  const s = parseRt2012(rt2012Text(48));
  assert.equal(s.tempC.length, 48);
  assert.equal(s.stepS, 3600);
  assert.equal(s.startS, 1800);
  assert.equal(s.solarTime, true);
  assert.equal(s.latitudeDeg, 48.8);
  assert.equal(s.longitudeDeg, 2);
  assert.equal(s.tempC[4], 6);
  assert.equal(s.pressurePa[0], 103100);
  assert.equal(s.diffuseHorizontalWm2[10], 50);
});

test('parseRt2012 errors name the line', () => {
  throwsOnLine(() => parseRt2012(''), 1, /empty/);
  throwsOnLine(() => parseRt2012('hello\n'), 1, /#1/);
  throwsOnLine(() => parseRt2012(rt2012Text(4).replace('double data(4,12)', 'double data(4,11)')), 2, /columns/);
  // wrong column count on the 5th data row (line 7)
  throwsOnLine(() => parseRt2012(rt2012Text(10, (l) => (l[6] = l[6].split('\t').slice(0, 11).join('\t')))), 7, /12 tab-separated/);
  // non-numeric value
  throwsOnLine(() => parseRt2012(rt2012Text(10, (l) => (l[9] = l[9].replace('103100', 'abc')))), 10, /not a finite number/);
  // fewer rows than declared: reported at the end of the file
  throwsOnLine(() => parseRt2012(rt2012Text(10).replace('data(10,12)', 'data(12,12)')), 13, /12 data rows, found 10/);
  // more rows than declared
  throwsOnLine(() => parseRt2012(rt2012Text(10).replace('data(10,12)', 'data(9,12)')), 12, /more data rows/);
  // irregular time step
  throwsOnLine(() => parseRt2012(rt2012Text(10, (l) => (l[8] = l[8].replace(/^\d+/, '99999')))), 9, /time step/);
  // humidity out of range
  throwsOnLine(() => parseRt2012(rt2012Text(10, (l) => (l[5] = l[5].replace('\t0.9\t', '\t1.9\t')))), 6, /humidity/);
});

test('parseRt2012ColdWater reads two columns and names bad lines', () => {
  const text = '#1\t\ndouble data(3,2) #Columns: Time(s); Cold water temperature (°C)\t\n1800\t8.12\n5400\t8.08\n9000\t8.03\n';
  const cw = parseRt2012ColdWater(text);
  assert.deepEqual(Array.from(cw.coldWaterC), [8.12, 8.08, 8.03]);
  assert.equal(cw.stepS, 3600);
  throwsOnLine(() => parseRt2012ColdWater(text.replace('5400\t8.08', '5400\t8.08\t1')), 4, /2 tab-separated/);
});

test('RT2012 files of the shared data parse: H1a and its cold water', { skip: skipUnlessShared('weather', 'rt2012', 'H1a.txt') }, () => {
  const s = parseRt2012(readFileSync(sharedFile('weather', 'rt2012', 'H1a.txt')!, 'latin1'), 'H1a.txt');
  assert.equal(s.tempC.length, 8760);
  assert.equal(s.tempC[0], 4.615);
  const st = weatherStats(s);
  close(st.hdd18MinMax, 2295, 5, 'H1a min/max degree-days (PHYSICS.md ≈ 2,295)');
  const cw = parseRt2012ColdWater(readFileSync(sharedFile('weather', 'rt2012', 'cold_water_H1a.txt')!, 'latin1'));
  assert.equal(cw.coldWaterC.length, 8760);
  assert.equal(cw.coldWaterC[0], 8.12);
});

// ---------- EPW ----------

const EPW_HEADER = [
  'LOCATION,Paris-Orly,-,FRA,IWEC Data,071490,48.72,2.38,1.0,96.0',
  'DESIGN CONDITIONS,0',
  'TYPICAL/EXTREME PERIODS,0',
  'GROUND TEMPERATURES,0',
  'HOLIDAYS/DAYLIGHT SAVINGS,No,0,0,0',
  'COMMENTS 1,test file',
  'COMMENTS 2,written by the test',
  'DATA PERIODS,1,1,Data,Sunday, 1/ 1,12/31',
];

/** One EPW record; `over` replaces fields by index. */
function epwRecord(month: number, day: number, hour: number, over: Record<number, string | number> = {}): string {
  const f: (string | number)[] = [
    1999, month, day, hour, 60, '?9?9?9?9E0?9?9?9?9?9?9?9?9?9?9?9?9?9?9?9*9*9?9?9?9',
    5 + hour / 4, 2, 80, 101000, 0, 1415, 300, hour >= 9 && hour <= 16 ? 200 : 0, hour >= 9 && hour <= 16 ? 400 : 0,
    hour >= 9 && hour <= 16 ? 80 : 0, 0, 0, 0, 0, 230, 3.5, 8, 6, 20, 77777, 9, 999999999, 10, 0.1, 0, 88, 0.2, 0, 0,
  ];
  for (const [k, v] of Object.entries(over)) f[Number(k)] = v;
  return f.join(',');
}

function epwText(days = 2, mutate?: (lines: string[]) => void): string {
  const lines = [...EPW_HEADER];
  for (let d = 0; d < days; d++) for (let h = 1; h <= 24; h++) lines.push(epwRecord(1, d + 1, h));
  mutate?.(lines);
  return lines.join('\n') + '\n';
}

test('parseEpw reads location, records and derived sky temperature', () => {
  const { location, series, globalHorizontalWm2 } = parseEpw(epwText(2));
  assert.equal(location.city, 'Paris-Orly');
  assert.equal(location.timeZoneH, 1);
  assert.equal(series.latitudeDeg, 48.72);
  assert.equal(series.longitudeDeg, 2.38);
  assert.equal(series.altitudeM, 96);
  assert.equal(series.solarTime, false);
  assert.equal(series.stepS, 3600);
  assert.equal(series.startS, 1800);
  assert.equal(series.tempC.length, 48);
  assert.equal(series.tempC[0], 5.25);
  assert.equal(series.dewPointC[0], 2);
  assert.equal(series.relativeHumidity[0], 0.8);
  assert.equal(series.pressurePa[0], 101000);
  assert.equal(series.directNormalWm2[9], 400);
  assert.equal(series.diffuseHorizontalWm2[9], 80);
  assert.equal(globalHorizontalWm2[9], 200);
  assert.equal(series.windDirDeg[0], 230);
  assert.equal(series.windMs[0], 3.5);
  // 300 W/m² of infrared ↔ (300/σ)^¼ = 269.7 K
  close(series.skyTempC[0], Math.pow(300 / 5.670374419e-8, 0.25) - 273.15, 1e-9);
  close(series.skyTempC[0], -3.45, 0.05);
});

test('parseEpw fills missing values and estimates missing infrared', () => {
  const text = epwText(1, (l) => {
    l[8 + 3] = epwRecord(1, 1, 4, { 6: 99.9, 12: 9999 });
  });
  const { series } = parseEpw(text);
  assert.equal(series.tempC[3], series.tempC[2]);
  assert.ok(series.skyTempC[3] < series.tempC[3] && series.skyTempC[3] > series.tempC[3] - 40, `${series.skyTempC[3]}`);
});

test('parseEpw drops 29 February and starts the clock at the first record', () => {
  const lines = [...EPW_HEADER];
  for (const [m, d] of [
    [2, 28],
    [2, 29],
    [3, 1],
  ]) {
    for (let h = 1; h <= 24; h++) lines.push(epwRecord(m, d, h));
  }
  const { series } = parseEpw(lines.join('\n'));
  assert.equal(series.tempC.length, 48);
  assert.equal(series.startS, 58 * 86400 + 1800);
});

test('parseEpw errors name the line', () => {
  throwsOnLine(() => parseEpw(''), 1, /empty/);
  throwsOnLine(() => parseEpw(EPW_HEADER.slice(0, 5).join('\n')), 5, /header lines/);
  throwsOnLine(() => parseEpw(epwText(1).replace('COMMENTS 2', 'COMMENT 2')), 7, /COMMENTS 2/);
  throwsOnLine(() => parseEpw(epwText(1).replace('48.72', 'north')), 1, /latitude/);
  // wrong field count on the 5th record (line 13)
  throwsOnLine(() => parseEpw(epwText(1, (l) => (l[12] = l[12] + ',1'))), 13, /35 comma-separated/);
  // non-numeric dry bulb on line 20
  throwsOnLine(() => parseEpw(epwText(1, (l) => (l[19] = epwRecord(1, 1, 12, { 6: 'warm' })))), 20, /dryBulb.*not a finite/);
  // out-of-sequence hour on line 15
  throwsOnLine(() => parseEpw(epwText(1, (l) => (l[14] = epwRecord(1, 1, 9)))), 15, /out of sequence/);
  // invalid day
  throwsOnLine(() => parseEpw(epwText(1, (l) => (l[8] = epwRecord(1, 32, 1)))), 9, /day 32/);
  // a partial day: wrong row count, reported at the end
  throwsOnLine(() => parseEpw(epwText(1, (l) => l.pop())), 31, /whole days/);
});

test('parseEpw never throws anything but ParseError on mangled records', () => {
  const base = epwText(1).split('\n');
  fc.assert(
    fc.property(fc.integer({ min: 8, max: 31 }), fc.integer({ min: 0, max: 34 }), fc.string({ maxLength: 6 }), (line, field, junk) => {
      const lines = [...base];
      const f = lines[line].split(',');
      f[field] = junk;
      lines[line] = f.join(',');
      try {
        const r = parseEpw(lines.join('\n'));
        for (const v of r.series.tempC) assert.ok(Number.isFinite(v));
      } catch (e) {
        assert.ok(e instanceof ParseError, String(e));
      }
    }),
    { numRuns: 200 },
  );
});

// ---------- interpolation ----------

function tinySeries(): WeatherSeries {
  const a = (v: number[]): Float64Array => Float64Array.from(v);
  return {
    stepS: 3600,
    startS: 1800,
    solarTime: true,
    latitudeDeg: 45,
    longitudeDeg: 0,
    timeZoneH: 0,
    altitudeM: 0,
    tempC: a([0, 10, 20, 30]),
    dewPointC: a([0, 0, 0, 0]),
    skyTempC: a([-10, -10, -10, -10]),
    directNormalWm2: a([0, 100, 200, 300]),
    diffuseHorizontalWm2: a([0, 10, 20, 30]),
    relativeHumidity: a([0.5, 0.5, 0.5, 0.5]),
    pressurePa: a([1e5, 1e5, 1e5, 1e5]),
    windMs: a([1, 2, 3, 4]),
    windDirDeg: a([350, 10, 90, 180]),
  };
}

test('weatherAt interpolates temperatures, holds irradiance and wraps', () => {
  const s = tinySeries();
  const w = weatherAt(s, 1800 + 1800); // halfway between samples 0 and 1
  assert.equal(w.tempC, 5);
  assert.equal(w.windMs, 1.5);
  close(w.windDirDeg, 0, 1e-9, 'wind direction takes the short arc');
  assert.equal(w.directNormalWm2, 100, 'hold: 3600 s is inside sample 1’s interval [3600, 7200)');
  assert.equal(weatherAt(s, 3599).directNormalWm2, 0);
  assert.equal(weatherAt(s, 1800 + 2 * 3600).tempC, 20);
  // periodic: one period later, same weather; before the start, wraps to the end
  assert.equal(weatherAt(s, 1800 + 4 * 3600 + 900).tempC, weatherAt(s, 1800 + 900).tempC);
  assert.equal(weatherAt(s, 0).tempC, 15, 'halfway between the last (30) and the first (0) sample');
  // held irradiance integrates to the samples' energy
  let e = 0;
  for (let t = 0; t < 4 * 3600; t += 60) e += weatherAt(s, t + 30).directNormalWm2 * 60;
  assert.equal(e, (0 + 100 + 200 + 300) * 3600);
});

// ---------- solar geometry ----------

const site = (latitudeDeg: number, solarTime = true, longitudeDeg = 0, timeZoneH = 0) => ({ latitudeDeg, longitudeDeg, timeZoneH, solarTime });

test('declination is ±23.44° at the solstices and ~0 at the equinoxes', () => {
  close(solarDeclinationRad(172) / DEG, 23.44, 0.1, 'June solstice');
  close(solarDeclinationRad(355) / DEG, -23.44, 0.1, 'December solstice');
  close(solarDeclinationRad(80) / DEG, 0, 0.5, 'March equinox');
  close(solarDeclinationRad(266) / DEG, 0, 0.5, 'September equinox');
});

test('equation of time: about −14 min mid-February and +16 min early November', () => {
  close(equationOfTimeMin(42), -14.2, 0.6);
  close(equationOfTimeMin(307), 16.4, 0.6);
});

test('solar noon altitude at the equinox is 90° − latitude; the sun is due south', () => {
  for (const lat of [0, 20, 43.7, 48.8, 60]) {
    const equinox = 266; // declination ≈ 0 (0.1°)
    const sun = sunPosition((equinox - 1) * 86400 + 12 * 3600, site(lat));
    const decl = solarDeclinationRad(equinox + 0.5) / DEG;
    close(solarAltitudeRad(sun) / DEG, 90 - Math.abs(lat - decl), 1e-6, `lat ${lat}`);
    close(90 - lat, solarAltitudeRad(sun) / DEG, 0.2, `lat ${lat}`);
    if (lat > 1) close(solarAzimuthDeg(sun), 180, 1e-6);
  }
  // at midnight the sun is below the horizon at mid-latitudes; morning sun is in the east
  assert.ok(sunPosition(100 * 86400, site(48.8)).up < 0);
  const morning = sunPosition(100 * 86400 + 8 * 3600, site(48.8));
  assert.ok(solarAzimuthDeg(morning) > 90 && solarAzimuthDeg(morning) < 180);
});

test('clock time: the sun culminates at 12:00 − 4 min/° · (λ − 15·tz) − equation of time', () => {
  const lon = 2;
  const tz = 1;
  const day = 42; // mid-February, EoT ≈ −14 min
  const noonClockH = 12 - (4 * (lon - 15 * tz) + equationOfTimeMin(day + 0.5)) / 60;
  const sun = sunPosition((day - 1) * 86400 + noonClockH * 3600, site(48.8, false, lon, tz));
  close(sun.hourAngleRad, 0, 1e-4);
  close(noonClockH, 13 - 8 / 60 + 14.2 / 60, 0.02);
});

test('sun and surface vectors are unit vectors; incidence on horizontal = cos zenith', () => {
  fc.assert(
    fc.property(
      fc.double({ min: -70, max: 70, noNaN: true }),
      fc.double({ min: 0, max: 365 * 86400, noNaN: true }),
      fc.double({ min: 0, max: 180, noNaN: true }),
      fc.double({ min: 0, max: 360, noNaN: true }),
      (lat, t, tilt, az) => {
        const sun = sunPosition(t, site(lat));
        close(sun.east ** 2 + sun.north ** 2 + sun.up ** 2, 1, 1e-9);
        const n = surfaceNormal({ tiltDeg: tilt, azimuthDeg: az });
        close(n.east ** 2 + n.north ** 2 + n.up ** 2, 1, 1e-9);
        close(cosIncidence(sun, surfaceNormal({ tiltDeg: 0, azimuthDeg: az })), sun.cosZenith, 1e-12);
        // a surface and its opposite see opposite cosines
        const opp = surfaceNormal({ tiltDeg: 180 - tilt, azimuthDeg: az + 180 });
        close(cosIncidence(sun, n), -cosIncidence(sun, opp), 1e-9);
      },
    ),
  );
});

test('isotropic tilted irradiance: horizontal gets GHI, vertical gets half the diffuse plus ground', () => {
  const dni = 600;
  const dhi = 120;
  const cz = 0.5;
  const ghi = dni * cz + dhi;
  const h = isotropicTiltedIrradiance(dni, dhi, ghi, cz, 0, 0.2);
  close(h.totalWm2, ghi, 1e-9);
  assert.equal(h.groundWm2, 0);
  const v = isotropicTiltedIrradiance(dni, dhi, ghi, 0.3, 90, 0.2);
  close(v.skyDiffuseWm2, dhi / 2, 1e-9);
  close(v.groundWm2, (0.2 * ghi) / 2, 1e-9);
  close(v.beamWm2, dni * 0.3, 1e-9);
  assert.equal(isotropicTiltedIrradiance(dni, dhi, ghi, -0.4, 90).beamWm2, 0, 'sun behind the surface');
  // opposite vertical walls share sky and ground light equally
  fc.assert(
    fc.property(fc.double({ min: 0, max: 1000, noNaN: true }), fc.double({ min: 0, max: 500, noNaN: true }), fc.double({ min: 0, max: 180, noNaN: true }), (n, d, tilt) => {
      const t = isotropicTiltedIrradiance(n, d, n * 0.5 + d, 0, tilt, 0.2);
      close(t.skyDiffuseWm2 + isotropicTiltedIrradiance(n, d, n * 0.5 + d, 0, 180 - tilt, 0.2).skyDiffuseWm2, d, 1e-9);
    }),
  );
});

test('glazing incidence modifier: 1 at normal incidence, decreasing, 0 at grazing; window gain scales', () => {
  close(glazingIncidenceModifier(0), 1, 1e-12);
  let prev = 1;
  for (let a = 5; a <= 89; a += 5) {
    const m = glazingIncidenceModifier(a * DEG);
    assert.ok(m <= prev + 1e-12 && m >= 0, `${a}°: ${m}`);
    prev = m;
  }
  close(glazingIncidenceModifier(60 * DEG), 0.87, 0.05, 'double glazing at 60°');
  assert.equal(glazingIncidenceModifier(Math.PI / 2), 0);
  const irr = isotropicTiltedIrradiance(500, 100, 350, 1, 90, 0.2);
  const g1 = windowSolarGainW(irr, 1, 90, 2, 0.6);
  close(windowSolarGainW(irr, 1, 90, 4, 0.6), 2 * g1, 1e-9);
  assert.ok(g1 < 2 * 0.6 * irr.totalWm2 && g1 > 0.8 * 2 * 0.6 * irr.totalWm2, `${g1}`);
});

// ---------- statistics ----------

test('weatherStats: a constant 10 °C year gives 8 K·day × 365 and zero ranges', () => {
  const n = 8760;
  const s = { ...tinySeries(), tempC: new Float64Array(n).fill(10) };
  const st = weatherStats(s);
  close(st.hdd18, 8 * 365, 1e-6);
  close(st.hdd18MinMax, 8 * 365, 1e-6);
  assert.deepEqual(st.monthlyMeanDailyRangeC, new Array(12).fill(0));
  assert.equal(st.years, 1);
  close(st.annualMeanC, 10, 1e-12);
});

// ---------- the façade check of PHYSICS.md ----------

/** Oct–Apr irradiation on a south-facing vertical wall, kWh/m² (albedo 0.2). */
function southFacadeOctAprKWhm2(series: WeatherSeries): number {
  const irr = surfaceIrradiance(series, { tiltDeg: 90, azimuthDeg: 180 }, 0.2);
  let whm2 = 0;
  for (let i = 0; i < irr.totalWm2.length; i++) {
    const day = Math.floor((series.startS + i * series.stepS) / 86400) % 365;
    if (day < 120 || day >= 273) whm2 += (irr.totalWm2[i] * series.stepS) / 3600;
  }
  return whm2 / 1000;
}

for (const [zone, expected] of [
  ['H1a', 387],
  ['H2c', 462],
] as const) {
  test(`Oct–Apr south-façade irradiation of ${zone} ≈ ${expected} kWh/m² (±5 %)`, { skip: skipUnlessShared('weather', 'rt2012', `${zone}.txt`) }, () => {
    const s = parseRt2012(readFileSync(sharedFile('weather', 'rt2012', `${zone}.txt`)!, 'latin1'), zone);
    const kwh = southFacadeOctAprKWhm2(s);
    close(kwh, expected, 0.05 * expected, `${zone} façade kWh/m²`);
  });
}

test('RT2012 clock: read as UTC+1, east and west façades of H1a receive the same Oct–Apr irradiation', { skip: skipUnlessShared('weather', 'rt2012', 'H1a.txt') }, () => {
  // Evidence that the files' clock is French winter time rather than the solar time their readme states:
  // read as solar time, the west wall would get ~30 % more than the east one.
  const text = readFileSync(sharedFile('weather', 'rt2012', 'H1a.txt')!, 'latin1');
  const wall = (s: WeatherSeries, azimuthDeg: number): number => {
    const irr = surfaceIrradiance(s, { tiltDeg: 90, azimuthDeg }, 0.2);
    let sum = 0;
    for (let i = 0; i < irr.totalWm2.length; i++) if (i < 120 * 24 || i >= 273 * 24) sum += irr.totalWm2[i];
    return sum / 1000;
  };
  const cet = parseRt2012(text, 'H1a.txt', { timeZoneH: 1 });
  assert.equal(cet.solarTime, false);
  close(wall(cet, 90) / wall(cet, 270), 1, 0.05, 'east/west, UTC+1');
  const solar = parseRt2012(text, 'H1a.txt');
  assert.ok(wall(solar, 270) / wall(solar, 90) > 1.2, 'east/west, solar time');
});
