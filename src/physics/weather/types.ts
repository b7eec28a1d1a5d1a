// The in-memory weather record shared by the parsers, the synthetic generator and the simulator,
// and `weatherAt`, which reads it at any instant (linear for state variables, hold for irradiance).
import { InvalidParameterError } from '../errors.ts';

/**
 * A weather record on a fixed time step, struct-of-arrays.
 *
 * Time base: sample `i` describes the instant `startS + i·stepS` (seconds from 1 January 00:00 of
 * the first year; solar or standard clock time, see `solarTime`). Irradiances are means over the
 * interval centred on that instant, `[t − stepS/2, t + stepS/2)`: RT2012 files stamp hour 1 at
 * 1800 s; EPW hour 1 (00:00–01:00) is stamped 1800 s likewise.
 */
export interface WeatherSeries {
  /** Time step, s (3600 for hourly records). */
  readonly stepS: number;
  /** Instant of sample 0, s from 1 January 00:00. */
  readonly startS: number;
  /** True when the clock is apparent solar time (RT2012); false for local standard time (EPW). */
  readonly solarTime: boolean;
  /** Latitude, degrees north. */
  readonly latitudeDeg: number;
  /** Longitude, degrees east. */
  readonly longitudeDeg: number;
  /** Time zone of the standard clock, hours east of UTC (ignored when `solarTime`). */
  readonly timeZoneH: number;
  /** Altitude of the station, m (RT2012 data are given at sea level: 0). */
  readonly altitudeM: number;
  /** Dry-bulb air temperature, °C. */
  readonly tempC: Float64Array;
  /** Dew-point temperature, °C. */
  readonly dewPointC: Float64Array;
  /** Equivalent sky (radiant) temperature, °C. */
  readonly skyTempC: Float64Array;
  /** Direct normal irradiance, W/m² (interval mean). */
  readonly directNormalWm2: Float64Array;
  /** Diffuse horizontal irradiance, W/m² (interval mean). */
  readonly diffuseHorizontalWm2: Float64Array;
  /** Relative humidity, fraction 0..1. */
  readonly relativeHumidity: Float64Array;
  /** Atmospheric pressure, Pa. */
  readonly pressurePa: Float64Array;
  /** Wind speed, m/s. */
  readonly windMs: Float64Array;
  /** Wind direction, degrees clockwise from north (where the wind comes from). */
  readonly windDirDeg: Float64Array;
  /** Cold-water inlet temperature, °C, when known (synthetic series; RT2012 cold-water files). */
  readonly coldWaterC?: Float64Array;
}

/** One instant of weather, as returned by `weatherAt`. Same units as `WeatherSeries`. */
export interface WeatherSample {
  tempC: number;
  dewPointC: number;
  skyTempC: number;
  directNormalWm2: number;
  diffuseHorizontalWm2: number;
  relativeHumidity: number;
  pressurePa: number;
  windMs: number;
  windDirDeg: number;
}

/** Number of samples in a series. */
export function seriesLength(series: WeatherSeries): number {
  return series.tempC.length;
}

/** A zeroed WeatherSample, e.g. as the reusable `out` argument of `weatherAt`. */
export function emptySample(): WeatherSample {
  return {
    tempC: 0,
    dewPointC: 0,
    skyTempC: 0,
    directNormalWm2: 0,
    diffuseHorizontalWm2: 0,
    relativeHumidity: 0,
    pressurePa: 0,
    windMs: 0,
    windDirDeg: 0,
  };
}

/**
 * Weather at time `timeS` (s from 1 January 00:00, same clock as the series).
 *
 * - Temperatures, humidity, pressure and wind speed: linear between the two neighbouring samples.
 * - Wind direction: along the shorter arc between the two samples.
 * - Irradiances: held over the interval each sample stands for (`[t − stepS/2, t + stepS/2)`), so
 *   the integral of the returned irradiance over any whole number of steps equals the file's
 *   energy exactly; interpolating interval means would smear the sunrise and bias daily sums.
 *
 * The series is treated as periodic (a one-year record repeats year after year): times before
 * the start or after the end wrap around. Pass `out` to avoid allocating in inner loops.
 */
export function weatherAt(series: WeatherSeries, timeS: number, out: WeatherSample = emptySample()): WeatherSample {
  const n = seriesLength(series);
  if (n === 0) throw new InvalidParameterError('series', 'is empty');
  if (!Number.isFinite(timeS)) throw new InvalidParameterError('timeS', `must be finite, got ${timeS}`);
  let u = (timeS - series.startS) / series.stepS; // position in samples
  u -= Math.floor(u / n) * n; // wrap into [0, n)
  if (u >= n) u = 0;
  const i0 = Math.floor(u);
  const i1 = i0 + 1 === n ? 0 : i0 + 1;
  const w = u - i0;
  const lin = (a: Float64Array): number => a[i0] + (a[i1] - a[i0]) * w;
  out.tempC = lin(series.tempC);
  out.dewPointC = lin(series.dewPointC);
  out.skyTempC = lin(series.skyTempC);
  out.relativeHumidity = lin(series.relativeHumidity);
  out.pressurePa = lin(series.pressurePa);
  out.windMs = lin(series.windMs);
  const d0 = series.windDirDeg[i0];
  let dd = series.windDirDeg[i1] - d0;
  dd -= Math.round(dd / 360) * 360;
  let dir = d0 + dd * w;
  dir -= Math.floor(dir / 360) * 360;
  out.windDirDeg = dir;
  // Hold: sample k covers [k − 0.5, k + 0.5) in sample units.
  let k = Math.floor(u + 0.5);
  if (k >= n) k -= n;
  out.directNormalWm2 = series.directNormalWm2[k];
  out.diffuseHorizontalWm2 = series.diffuseHorizontalWm2[k];
  return out;
}
