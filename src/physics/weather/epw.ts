// Parser for EnergyPlus weather files (EPW): 8 header lines (location on the first), then 35 comma-separated
// fields per record; yields a WeatherSeries on local standard time.
import { ParseError } from '../errors.ts';
import type { WeatherSeries } from './types.ts';

/** Stefan–Boltzmann constant, W/(m²·K⁴). */
const SIGMA = 5.670374419e-8;
const FIELDS = 35;
const HEADER_LINES = 8;
const HEADER_KEYS = [
  'LOCATION',
  'DESIGN CONDITIONS',
  'TYPICAL/EXTREME PERIODS',
  'GROUND TEMPERATURES',
  'HOLIDAYS/DAYLIGHT SAVINGS',
  'COMMENTS 1',
  'COMMENTS 2',
  'DATA PERIODS',
];
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const MONTH_START = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

/** Station description from the LOCATION line. */
export interface EpwLocation {
  readonly city: string;
  readonly region: string;
  readonly country: string;
  readonly source: string;
  readonly wmo: string;
  readonly latitudeDeg: number;
  readonly longitudeDeg: number;
  readonly timeZoneH: number;
  readonly elevationM: number;
}

/** A parsed EPW file: the series plus the station and the global horizontal irradiance of the file. */
export interface EpwWeather {
  readonly location: EpwLocation;
  readonly series: WeatherSeries;
  /** Global horizontal irradiance as given by the file, W/m² (interval mean). */
  readonly globalHorizontalWm2: Float64Array;
}

/** Columns of an EPW record (0-based) and the value that marks "missing" (≥ it). */
const COL = {
  year: 0,
  month: 1,
  day: 2,
  hour: 3,
  minute: 4,
  dryBulb: 6,
  dewPoint: 7,
  rh: 8,
  pressure: 9,
  infrared: 12,
  ghi: 13,
  dni: 14,
  dhi: 15,
  windDir: 20,
  windSpeed: 21,
  opaqueSky: 23,
} as const;
const MISSING: Partial<Record<keyof typeof COL, number>> = {
  dryBulb: 99.9,
  dewPoint: 99.9,
  rh: 999,
  pressure: 999999,
  infrared: 9999,
  ghi: 9999,
  dni: 9999,
  dhi: 9999,
  windDir: 999,
  windSpeed: 999,
  opaqueSky: 99,
};

/** True when `text` looks like an EPW file (first line starts with `LOCATION,`). */
export function isEpwText(text: string): boolean {
  return /^\s*LOCATION\s*,/i.test(text);
}

function num(source: string, line: number, fields: readonly string[], col: number, name: string): number {
  const f = fields[col].trim();
  const v = Number(f);
  if (f === '' || !Number.isFinite(v)) {
    throw new ParseError(source, line, `field ${col + 1} (${name}): "${f}" is not a finite number`);
  }
  return v;
}

/** Fills NaN gaps of `a` by holding the last valid value (the first valid one before it); false if all missing. */
function fillGaps(a: Float64Array): boolean {
  let first = -1;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isNaN(a[i])) {
      first = i;
      break;
    }
  }
  if (first < 0) return false;
  for (let i = 0; i < first; i++) a[i] = a[first];
  for (let i = first + 1; i < a.length; i++) if (Number.isNaN(a[i])) a[i] = a[i - 1];
  return true;
}

/**
 * Parses an EPW file (contents as a string). Takes dry-bulb and dew-point temperature (°C), relative humidity
 * (% → 0..1), pressure (Pa), horizontal infrared radiation (W/m² → sky temperature (IR/σ)^¼, °C), global, direct
 * normal and diffuse horizontal irradiance (W/m²), wind direction (°) and speed (m/s). Records are hour-ending:
 * hour 1 covers 00:00–01:00 and is stamped at its centre (1800 s). Missing values (EPW codes 99.9, 999, 9999…)
 * are filled by holding the previous value; missing infrared is estimated from dew point and opaque sky cover
 * (Clark & Allen, as EnergyPlus does). 29 February records are dropped (365-day years). Throws ParseError
 * naming the line on malformed content.
 */
export function parseEpw(text: string, source = 'epw'): EpwWeather {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  if (lines.length === 0) throw new ParseError(source, 1, 'empty file');
  if (lines.length <= HEADER_LINES) {
    throw new ParseError(source, lines.length, `expected ${HEADER_LINES} header lines and data records, got ${lines.length} lines`);
  }
  for (let i = 0; i < HEADER_LINES; i++) {
    if (!lines[i].toUpperCase().startsWith(HEADER_KEYS[i])) {
      throw new ParseError(source, i + 1, `expected the "${HEADER_KEYS[i]}" header line`);
    }
  }
  const loc = lines[0].split(',');
  if (loc.length < 10) throw new ParseError(source, 1, `LOCATION needs 10 fields, got ${loc.length}`);
  const location: EpwLocation = {
    city: loc[1].trim(),
    region: loc[2].trim(),
    country: loc[3].trim(),
    source: loc[4].trim(),
    wmo: loc[5].trim(),
    latitudeDeg: num(source, 1, loc, 6, 'latitude'),
    longitudeDeg: num(source, 1, loc, 7, 'longitude'),
    timeZoneH: num(source, 1, loc, 8, 'time zone'),
    elevationM: num(source, 1, loc, 9, 'elevation'),
  };
  if (Math.abs(location.latitudeDeg) > 90) throw new ParseError(source, 1, `latitude ${location.latitudeDeg} outside ±90°`);
  if (Math.abs(location.longitudeDeg) > 180) throw new ParseError(source, 1, `longitude ${location.longitudeDeg} outside ±180°`);
  if (Math.abs(location.timeZoneH) > 14) throw new ParseError(source, 1, `time zone ${location.timeZoneH} outside ±14 h`);
  const dp = lines[HEADER_LINES - 1].split(',');
  const perHour = dp.length > 2 ? Number(dp[2]) : 1;
  if (!Number.isInteger(perHour) || perHour < 1 || 60 % perHour !== 0) {
    throw new ParseError(source, HEADER_LINES, `records per hour "${dp[2]}" must be an integer dividing 60`);
  }

  // Pass 1: split and validate the records, dropping 29 February.
  const rows: { line: number; fields: string[] }[] = [];
  for (let li = HEADER_LINES; li < lines.length; li++) {
    const lineNo = li + 1;
    if (lines[li].trim() === '') throw new ParseError(source, lineNo, 'empty line inside the data records');
    const fields = lines[li].split(',');
    if (fields.length !== FIELDS) throw new ParseError(source, lineNo, `expected ${FIELDS} comma-separated fields, got ${fields.length}`);
    const month = num(source, lineNo, fields, COL.month, 'month');
    const day = num(source, lineNo, fields, COL.day, 'day');
    const hour = num(source, lineNo, fields, COL.hour, 'hour');
    if (!Number.isInteger(month) || month < 1 || month > 12) throw new ParseError(source, lineNo, `month ${month} outside 1..12`);
    if (!Number.isInteger(day) || day < 1 || day > DAYS_IN_MONTH[month - 1]) {
      throw new ParseError(source, lineNo, `day ${day} invalid for month ${month}`);
    }
    if (!Number.isInteger(hour) || hour < 1 || hour > 24) throw new ParseError(source, lineNo, `hour ${hour} outside 1..24`);
    if (month === 2 && day === 29) continue;
    rows.push({ line: lineNo, fields });
  }
  const perDay = 24 * perHour;
  if (rows.length % perDay !== 0) {
    throw new ParseError(source, lines.length, `expected whole days of ${perDay} records, got ${rows.length} records`);
  }

  // Pass 2: values; hours must follow each other.
  const n = rows.length;
  const cols = {
    tempC: new Float64Array(n),
    dewPointC: new Float64Array(n),
    rh: new Float64Array(n),
    pressurePa: new Float64Array(n),
    infraredWm2: new Float64Array(n),
    ghi: new Float64Array(n),
    dni: new Float64Array(n),
    dhi: new Float64Array(n),
    windDirDeg: new Float64Array(n),
    windMs: new Float64Array(n),
    opaqueSky: new Float64Array(n),
  };
  const read = (r: { line: number; fields: string[] }, key: keyof typeof COL): number => {
    const v = num(source, r.line, r.fields, COL[key], key);
    const miss = MISSING[key];
    return miss !== undefined && v >= miss ? Number.NaN : v;
  };
  let prevHourIndex = -1;
  let prevDoy = -1;
  for (let i = 0; i < n; i++) {
    const r = rows[i];
    const month = Number(r.fields[COL.month]);
    const day = Number(r.fields[COL.day]);
    const hour = Number(r.fields[COL.hour]);
    const doy = MONTH_START[month - 1] + day - 1;
    const sub = i % perHour;
    if (sub === 0 && i > 0) {
      const expected = (prevHourIndex + 1) % 24;
      const newDay = expected === 0;
      if (hour - 1 !== expected || (newDay ? doy !== (prevDoy + 1) % 365 : doy !== prevDoy)) {
        throw new ParseError(source, r.line, `record out of sequence: ${month}/${day} hour ${hour} does not follow the previous record`);
      }
    }
    prevHourIndex = hour - 1;
    prevDoy = doy;
    cols.tempC[i] = read(r, 'dryBulb');
    cols.dewPointC[i] = read(r, 'dewPoint');
    cols.rh[i] = read(r, 'rh');
    cols.pressurePa[i] = read(r, 'pressure');
    cols.infraredWm2[i] = read(r, 'infrared');
    cols.ghi[i] = read(r, 'ghi');
    cols.dni[i] = read(r, 'dni');
    cols.dhi[i] = read(r, 'dhi');
    cols.windDirDeg[i] = read(r, 'windDir');
    cols.windMs[i] = read(r, 'windSpeed');
    cols.opaqueSky[i] = read(r, 'opaqueSky');
    for (const [name, v] of [
      ['relative humidity', cols.rh[i]],
      ['global horizontal', cols.ghi[i]],
      ['direct normal', cols.dni[i]],
      ['diffuse horizontal', cols.dhi[i]],
      ['wind speed', cols.windMs[i]],
    ] as const) {
      if (v < 0) throw new ParseError(source, r.line, `${name} ${v} is negative`);
    }
  }
  if (!fillGaps(cols.tempC)) throw new ParseError(source, rows[0].line, 'dry-bulb temperature is missing in every record');
  if (!fillGaps(cols.dewPointC)) throw new ParseError(source, rows[0].line, 'dew-point temperature is missing in every record');
  for (const a of [cols.ghi, cols.dni, cols.dhi, cols.windDirDeg, cols.windMs]) if (!fillGaps(a)) a.fill(0);
  if (!fillGaps(cols.opaqueSky)) cols.opaqueSky.fill(5);
  const pStd = 101325 * Math.pow(1 - 2.25577e-5 * location.elevationM, 5.25588);
  if (!fillGaps(cols.pressurePa)) cols.pressurePa.fill(pStd);
  const satPa = (t: number): number => 610.94 * Math.exp((17.625 * t) / (t + 243.04));
  const rh = new Float64Array(n);
  const rhKnown = fillGaps(cols.rh);
  const skyTempC = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = cols.tempC[i];
    const td = cols.dewPointC[i];
    rh[i] = rhKnown ? Math.min(1, cols.rh[i] / 100) : Math.min(1, satPa(td) / satPa(t));
    let ir = cols.infraredWm2[i];
    if (Number.isNaN(ir)) {
      // Clark & Allen clear-sky emissivity with the EnergyPlus cloud correction (opaque sky cover in tenths).
      const tdK = td + 273.15;
      const nSky = cols.opaqueSky[i];
      const eps = (0.787 + 0.764 * Math.log(tdK / 273)) * (1 + 0.0224 * nSky - 0.0035 * nSky ** 2 + 0.00028 * nSky ** 3);
      ir = eps * SIGMA * (t + 273.15) ** 4;
    }
    skyTempC[i] = Math.pow(Math.max(ir, 0) / SIGMA, 0.25) - 273.15;
  }
  const first = rows[0];
  const stepS = 3600 / perHour;
  const firstDoy = MONTH_START[Number(first.fields[COL.month]) - 1] + Number(first.fields[COL.day]) - 1;
  const startS = firstDoy * 86400 + (Number(first.fields[COL.hour]) - 1) * 3600 + stepS / 2;
  return {
    location,
    globalHorizontalWm2: cols.ghi,
    series: {
      stepS,
      startS,
      solarTime: false,
      latitudeDeg: location.latitudeDeg,
      longitudeDeg: location.longitudeDeg,
      timeZoneH: location.timeZoneH,
      altitudeM: location.elevationM,
      tempC: cols.tempC,
      dewPointC: cols.dewPointC,
      skyTempC,
      directNormalWm2: cols.dni,
      diffuseHorizontalWm2: cols.dhi,
      relativeHumidity: rh,
      pressurePa: cols.pressurePa,
      windMs: cols.windMs,
      windDirDeg: cols.windDirDeg,
    },
  };
}
