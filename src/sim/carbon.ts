// Grid carbon intensity for the twin: a constant, or a time series parsed from a CSV such as the French 2020
// half-hourly series (Wiesner et al., "Let's Wait Awhile", Middleware 2021), with a lookup at any instant.
import { InvalidParameterError } from '../physics/errors.ts';
import { FR_2020_MEAN_G_PER_KWH, parseCarbonCsv as parseCsv, parseTimestampMs, seriesSegments } from '../physics/carbon-csv.ts';
import type { SeriesSegment } from '../physics/carbon-csv.ts';

/** Default grid intensity when a scenario names none, gCO2e/kWh: the French 2020 mean (physics/carbon-csv.ts). */
export const DEFAULT_CARBON_G_PER_KWH = FR_2020_MEAN_G_PER_KWH;

/** A carbon-intensity series: sample times (Unix s, UTC, ascending, evenly spaced or not) and values, gCO2e/kWh. */
export interface CarbonSeries {
  readonly timesS: Float64Array;
  /** The same times in ms (as parsed). */
  readonly timesMs: Float64Array;
  readonly gPerKWh: Float64Array;
  /** Mean of the values, gCO2e/kWh. */
  readonly meanGPerKWh: number;
}

/** A carbon-intensity source: constant, or a series looked up with its calendar year wrapped (see carbonAt). */
export type CarbonSource = { readonly kind: 'constant'; readonly gPerKWh: number } | { readonly kind: 'series'; readonly series: CarbonSeries };

/** A constant source, gCO2e/kWh (default DEFAULT_CARBON_G_PER_KWH). */
export function constantCarbon(gPerKWh = DEFAULT_CARBON_G_PER_KWH): CarbonSource {
  if (!Number.isFinite(gPerKWh) || gPerKWh < 0) throw new InvalidParameterError('carbon.gPerKWh', `must be a finite number ≥ 0, got ${gPerKWh}`);
  return { kind: 'constant', gPerKWh };
}

/** Parses `YYYY-MM-DD HH:MM[:SS[.fff]][Z|±HH:MM]` (no zone = UTC) to Unix seconds, or NaN when malformed. */
export function parseTimestampS(text: string): number {
  return parseTimestampMs(text) / 1000;
}

/**
 * Parses a carbon-intensity CSV (pure: takes the text) with the coordinator's reader (physics/carbon-csv.ts: the
 * format of ../shared/data/grid/fr_carbon_intensity_2020.csv, `time,gCO2e/kWh` rows in UTC after an optional header),
 * times in Unix seconds. Throws ParseError naming the line for a malformed row, a negative value or times out of order.
 */
export function parseCarbonCsv(text: string, source = 'carbon csv'): CarbonSeries {
  const s = parseCsv(text, source);
  return { timesS: s.timesMs.map((ms) => ms / 1000), timesMs: s.timesMs, gPerKWh: s.gPerKWh, meanGPerKWh: s.meanGPerKWh };
}

/** Each series' lookup (physics/carbon-csv.ts), built on first use. */
const LOOKUPS = new WeakMap<CarbonSeries, SeriesSegment>();

/**
 * Carbon intensity at an instant, gCO2e/kWh. `unixS` is Unix seconds (UTC). A series holds each value until the
 * next sample, the last one for one more step; an instant outside it reads the same date and time of day in a year
 * the series covers (`wrap-year`: the season and hour kept, the weekday drifts), so a 2020 series serves any year;
 * otherwise the nearest end value holds. The same lookup as the coordinator's accounting (`hearth start --carbon`),
 * so the twin and the live platform give the same intensity at the same instant.
 */
export function carbonAt(src: CarbonSource, unixS: number): number {
  if (src.kind === 'constant') return src.gPerKWh;
  let segment = LOOKUPS.get(src.series);
  if (segment === undefined) {
    segment = seriesSegments(src.series, 'wrap-year');
    LOOKUPS.set(src.series, segment);
  }
  return segment(unixS * 1000).g;
}

/** Mean intensity of a source, gCO2e/kWh (the constant, or the series mean). */
export function carbonMean(src: CarbonSource): number {
  return src.kind === 'constant' ? src.gPerKWh : src.series.meanGPerKWh;
}
