// Parsers for the French RT2012 weather files as distributed with BuildSysPro (`#1`, `double data(R,C)`,
// tab-separated rows): the 12-column hourly weather record and the 2-column cold-water temperature.
import { ParseError } from '../errors.ts';
import type { WeatherSeries } from './types.ts';

/** Hourly cold-water inlet temperature of one RT2012 zone. */
export interface ColdWaterSeries {
  /** Time step, s. */
  readonly stepS: number;
  /** Instant of sample 0, s from 1 January 00:00 (solar time). */
  readonly startS: number;
  /** Cold-water temperature, °C. */
  readonly coldWaterC: Float64Array;
}

interface Matrix {
  readonly rows: number;
  readonly cols: number;
  /** Row-major values. */
  readonly values: Float64Array;
  /** 1-based line number of each row, for messages. */
  readonly lines: Int32Array;
}

/** Reads the `#1` / `double data(R,C)` header and R rows of C numbers; every error names its line. */
function readMatrix(text: string, source: string, expectedCols: number): Matrix {
  const lines = text.split(/\r?\n/);
  let li = 0;
  const nextNonEmpty = (): number => {
    while (li < lines.length && lines[li].trim() === '') li++;
    return li;
  };
  if (nextNonEmpty() >= lines.length) throw new ParseError(source, 1, 'empty file');
  if (!lines[li].trim().startsWith('#1')) {
    throw new ParseError(source, li + 1, `expected the header "#1", got "${lines[li].trim().slice(0, 40)}"`);
  }
  li++;
  if (nextNonEmpty() >= lines.length) throw new ParseError(source, li + 1, 'missing the "double data(R,C)" header');
  const m = /^\s*double\s+\w+\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)/.exec(lines[li]);
  if (!m) throw new ParseError(source, li + 1, `expected "double data(R,C)", got "${lines[li].trim().slice(0, 40)}"`);
  const rows = Number(m[1]);
  const cols = Number(m[2]);
  if (cols !== expectedCols) {
    throw new ParseError(source, li + 1, `declares ${cols} columns, expected ${expectedCols}`);
  }
  if (rows < 2) throw new ParseError(source, li + 1, `declares ${rows} rows, need at least 2`);
  li++;
  const values = new Float64Array(rows * cols);
  const lineNos = new Int32Array(rows);
  let r = 0;
  for (; li < lines.length; li++) {
    const raw = lines[li].trim();
    if (raw === '') continue;
    if (r === rows) throw new ParseError(source, li + 1, `more data rows than the ${rows} declared`);
    const fields = raw.split(/\s+/);
    if (fields.length !== cols) {
      throw new ParseError(source, li + 1, `expected ${cols} tab-separated values, got ${fields.length}`);
    }
    for (let c = 0; c < cols; c++) {
      const f = fields[c];
      const v = Number(f);
      if (f === '' || !Number.isFinite(v)) {
        throw new ParseError(source, li + 1, `column ${c + 1}: "${f}" is not a finite number`);
      }
      values[r * cols + c] = v;
    }
    lineNos[r] = li + 1;
    r++;
  }
  if (r !== rows) throw new ParseError(source, lines.length, `declares ${rows} data rows, found ${r}`);
  // Time column: strictly increasing with one constant step.
  const step = values[cols] - values[0];
  if (!(step > 0)) throw new ParseError(source, lineNos[1], `time must increase, got step ${step} s`);
  for (let i = 1; i < rows; i++) {
    const d = values[i * cols] - values[(i - 1) * cols];
    if (Math.abs(d - step) > 1e-6 * step) {
      throw new ParseError(source, lineNos[i], `time step ${d} s differs from the first step ${step} s`);
    }
  }
  return { rows, cols, values, lines: lineNos };
}

/** How to read the clock of an RT2012 file. */
export interface Rt2012Options {
  /**
   * Undefined (default): apparent solar time, as the files' readme states. A number: the clock is the standard
   * time of that zone (hours east of UTC). The sunrise and sunset hours and the east/west symmetry of the eight
   * files fit UTC+1 (French winter time) much better than solar time: pass 1 to read them that way.
   */
  readonly timeZoneH?: number;
}

/**
 * Parses an RT2012 weather file (contents as a string). Columns: time (s, stamp of the interval
 * middle), direct normal and diffuse horizontal irradiance (W/m²), dry-bulb, dew-point and
 * sky temperature (°C), pressure (Pa), relative humidity (0..1), wind speed (m/s) and direction (°),
 * latitude and longitude (°). Throws ParseError naming the line on any malformed content.
 */
export function parseRt2012(text: string, source = 'rt2012', options: Rt2012Options = {}): WeatherSeries {
  const m = readMatrix(text, source, 12);
  const n = m.rows;
  const col = (c: number): Float64Array => {
    const a = new Float64Array(n);
    for (let i = 0; i < n; i++) a[i] = m.values[i * 12 + c];
    return a;
  };
  const rh = col(7);
  for (let i = 0; i < n; i++) {
    if (rh[i] < 0 || rh[i] > 1.0001) {
      throw new ParseError(source, m.lines[i], `relative humidity ${rh[i]} outside 0..1`);
    }
    for (const c of [1, 2, 8]) {
      if (m.values[i * 12 + c] < 0) throw new ParseError(source, m.lines[i], `column ${c + 1} is negative`);
    }
  }
  const latitudeDeg = m.values[10];
  const longitudeDeg = m.values[11];
  if (Math.abs(latitudeDeg) > 90) throw new ParseError(source, m.lines[0], `latitude ${latitudeDeg} outside ±90°`);
  if (Math.abs(longitudeDeg) > 180) throw new ParseError(source, m.lines[0], `longitude ${longitudeDeg} outside ±180°`);
  return {
    stepS: m.values[12] - m.values[0],
    startS: m.values[0],
    solarTime: options.timeZoneH === undefined,
    latitudeDeg,
    longitudeDeg,
    timeZoneH: options.timeZoneH ?? 0,
    altitudeM: 0,
    directNormalWm2: col(1),
    diffuseHorizontalWm2: col(2),
    tempC: col(3),
    dewPointC: col(4),
    skyTempC: col(5),
    pressurePa: col(6),
    relativeHumidity: rh,
    windMs: col(8),
    windDirDeg: col(9),
  };
}

/**
 * Parses an RT2012 cold-water file (contents as a string): time (s) and cold-water temperature (°C).
 * Throws ParseError naming the line on any malformed content.
 */
export function parseRt2012ColdWater(text: string, source = 'rt2012-cold-water'): ColdWaterSeries {
  const m = readMatrix(text, source, 2);
  const coldWaterC = new Float64Array(m.rows);
  for (let i = 0; i < m.rows; i++) {
    const v = m.values[i * 2 + 1];
    if (v < -10 || v > 60) throw new ParseError(source, m.lines[i], `cold-water temperature ${v} °C is implausible (expected −10..60 °C)`);
    coldWaterC[i] = v;
  }
  return { stepS: m.values[2] - m.values[0], startS: m.values[0], coldWaterC };
}

/** True when `text` looks like an RT2012 / BuildSysPro matrix file (first non-empty line starts with `#1`). */
export function isRt2012Text(text: string): boolean {
  return /^\s*#1/.test(text);
}
