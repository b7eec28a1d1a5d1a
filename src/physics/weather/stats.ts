// Climate statistics of a weather series (monthly means, daily ranges, heating degree-days), used to check
// the synthetic generator against the RT2012 files and printed by `hearth weather stats`.
import { InvalidParameterError } from '../errors.ts';
import type { WeatherSeries } from './types.ts';

/** Cumulative first day (0-based day of year) of each month of a 365-day year, plus 365. */
export const MONTH_START_DAY: readonly number[] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];

/** Month (0..11) of a 0-based day of a 365-day year (years repeat every 365 days; no leap days). */
export function monthOfDay(day: number): number {
  const d = ((day % 365) + 365) % 365;
  let m = 0;
  while (MONTH_START_DAY[m + 1] <= d) m++;
  return m;
}

/** Temperature statistics of a series. */
export interface WeatherStats {
  /** Mean dry-bulb temperature of each month over all years, °C. */
  monthlyMeanC: number[];
  /** Mean over the days of each month of the daily range (max − min of the day's samples), K. */
  monthlyMeanDailyRangeC: number[];
  /** Heating degree-days per year, base 18 °C, daily-mean method Σ max(0, 18 − daily mean), K·day. */
  hdd18: number;
  /** Heating degree-days per year, base 18 °C, min/max method Σ max(0, 18 − (Tmin + Tmax)/2), K·day. */
  hdd18MinMax: number;
  /** Mean of all complete days, °C. */
  annualMeanC: number;
  /** Number of 365-day years the complete days add up to. */
  years: number;
}

/** Daily aggregates of dry-bulb temperature, °C, over the complete days of a series. */
export interface DailyTemps {
  /** 0-based day index from 1 January of the first year, per complete day. */
  readonly day: Int32Array;
  readonly meanC: Float64Array;
  readonly minC: Float64Array;
  readonly maxC: Float64Array;
}

/**
 * Groups the samples of `tempC` (sample i at `startS + i·stepS` s) into calendar days and returns the mean,
 * min and max of every complete day (°C). `stepS` must divide 86 400 s.
 */
export function dailyTemps(tempC: Float64Array, startS: number, stepS: number): DailyTemps {
  const perDay = 86400 / stepS;
  if (!(stepS > 0) || !Number.isInteger(perDay)) {
    throw new InvalidParameterError('series.stepS', `must divide 86400 s, got ${stepS}`);
  }
  const days: number[] = [];
  const means: number[] = [];
  const mins: number[] = [];
  const maxs: number[] = [];
  let cur = Number.NaN;
  let sum = 0;
  let count = 0;
  let lo = Infinity;
  let hi = -Infinity;
  const flush = (): void => {
    if (count === perDay) {
      days.push(cur);
      means.push(sum / count);
      mins.push(lo);
      maxs.push(hi);
    }
  };
  for (let i = 0; i < tempC.length; i++) {
    // Sample instants are interval midpoints or starts: the day is the one holding the instant.
    const d = Math.floor((startS + i * stepS) / 86400 + 1e-9);
    if (d !== cur) {
      flush();
      cur = d;
      sum = 0;
      count = 0;
      lo = Infinity;
      hi = -Infinity;
    }
    const v = tempC[i];
    sum += v;
    count++;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  flush();
  return {
    day: Int32Array.from(days),
    meanC: Float64Array.from(means),
    minC: Float64Array.from(mins),
    maxC: Float64Array.from(maxs),
  };
}

/**
 * Monthly means (°C), monthly mean daily ranges (K), annual mean (°C) and heating degree-days per year
 * (base 18 °C, K·day; daily-mean and min/max methods) of the dry-bulb temperature of `series`. Only complete
 * days count; multi-year series give per-year degree-days and monthly figures over all years.
 */
export function weatherStats(series: WeatherSeries): WeatherStats {
  const daily = dailyTemps(series.tempC, series.startS, series.stepS);
  const nDays = daily.day.length;
  if (nDays === 0) throw new InvalidParameterError('series', 'holds no complete day');
  const mSum = new Float64Array(12);
  const rSum = new Float64Array(12);
  const mCount = new Float64Array(12);
  let hdd = 0;
  let hddMinMax = 0;
  let total = 0;
  for (let k = 0; k < nDays; k++) {
    const m = monthOfDay(daily.day[k]);
    mSum[m] += daily.meanC[k];
    rSum[m] += daily.maxC[k] - daily.minC[k];
    mCount[m]++;
    hdd += Math.max(0, 18 - daily.meanC[k]);
    hddMinMax += Math.max(0, 18 - (daily.minC[k] + daily.maxC[k]) / 2);
    total += daily.meanC[k];
  }
  const years = nDays / 365;
  return {
    monthlyMeanC: Array.from(mSum, (s, m) => (mCount[m] > 0 ? s / mCount[m] : Number.NaN)),
    monthlyMeanDailyRangeC: Array.from(rSum, (s, m) => (mCount[m] > 0 ? s / mCount[m] : Number.NaN)),
    hdd18: hdd / years,
    hdd18MinMax: hddMinMax / years,
    annualMeanC: total / nDays,
    years,
  };
}
