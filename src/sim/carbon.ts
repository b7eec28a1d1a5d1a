// Grid carbon intensity for the twin: a constant, or a time series parsed from a CSV such as the French 2020
// half-hourly series (Wiesner et al., "Let's Wait Awhile", Middleware 2021), with a lookup at any instant.
import { InvalidParameterError } from '../physics/errors.ts';
import { floorIndex, FR_2020_MEAN_G_PER_KWH, parseCarbonCsv as parseCsv, parseTimestampMs } from '../physics/carbon-csv.ts';

/** Default grid intensity when a scenario names none, gCO2e/kWh: the French 2020 mean (physics/carbon-csv.ts). */
export const DEFAULT_CARBON_G_PER_KWH = FR_2020_MEAN_G_PER_KWH;

/** A carbon-intensity series: sample times (Unix s, UTC, ascending, evenly spaced or not) and values, gCO2e/kWh. */
export interface CarbonSeries {
  readonly timesS: Float64Array;
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
  return { timesS: s.timesMs.map((ms) => ms / 1000), gPerKWh: s.gPerKWh, meanGPerKWh: s.meanGPerKWh };
}

const YEAR_S = 365 * 86400;


/**
 * Carbon intensity at an instant, gCO2e/kWh. `unixS` is Unix seconds (UTC). A series holds each value until the
 * next sample (step interpolation). An instant outside a series spanning about a year or more is moved to the same
 * second of its year in a year the series covers (the season is kept, the weekday drifts), so a 2020 series
 * serves any year; otherwise the nearest end value holds.
 */
export function carbonAt(src: CarbonSource, unixS: number): number {
  if (src.kind === 'constant') return src.gPerKWh;
  const { timesS, gPerKWh } = src.series;
  const first = timesS[0];
  const last = timesS[timesS.length - 1];
  let t = unixS;
  if (t < first || t > last) {
    const span = last - first;
    if (span >= YEAR_S - 86400) {
      // Same calendar position in the series: shift by whole years measured on the calendar.
      const d = new Date(unixS * 1000);
      const secOfYear = unixS - Date.UTC(d.getUTCFullYear(), 0, 1) / 1000;
      const y0 = new Date(first * 1000).getUTCFullYear();
      for (const y of [y0, y0 + 1, y0 - 1, y0 + 2]) {
        const cand = Date.UTC(y, 0, 1) / 1000 + secOfYear;
        if (cand >= first && cand <= last) {
          t = cand;
          break;
        }
      }
    }
  }
  const i = floorIndex(timesS, t);
  return gPerKWh[i < 0 ? 0 : i];
}

/** Mean intensity of a source, gCO2e/kWh (the constant, or the series mean). */
export function carbonMean(src: CarbonSource): number {
  return src.kind === 'constant' ? src.gPerKWh : src.series.meanGPerKWh;
}
