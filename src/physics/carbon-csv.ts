// Grid carbon-intensity series from CSV text (pure, no I/O): the one reader of the format and the one lookup of a
// series at an instant (inside it, or outside it by a rule), for the coordinator's accounting and for the twin.
import { InvalidParameterError, ParseError } from './errors.ts';

/**
 * Mean grid intensity of the French half-hourly series of calendar year 2020, gCO2e/kWh
 * (../shared/data/grid/fr_carbon_intensity_2020.csv, 17,568 values; P. Wiesner et al., "Let's Wait Awhile",
 * Middleware 2021, derived from ENTSO-E production data): the default of the coordinator's accounting and the twin.
 */
export const FR_2020_MEAN_G_PER_KWH = 56.3;

/** A parsed intensity series: sample times (ms, UTC, strictly ascending) and values, gCO2e/kWh. */
export interface CarbonSeries {
  readonly timesMs: Float64Array;
  readonly gPerKWh: Float64Array;
  /** Mean of the values, gCO2e/kWh. */
  readonly meanGPerKWh: number;
}

const STAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** Parses `YYYY-MM-DD HH:MM[:SS[.fff]][Z|±HH:MM]` (no zone: UTC) to ms since the epoch, or NaN when malformed. */
export function parseTimestampMs(text: string): number {
  const m = STAMP.exec(text.trim());
  if (!m) return NaN;
  const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0));
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return NaN;
  let t = Date.UTC(y, mo - 1, d, h, mi, s) + (m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0);
  if (new Date(Date.UTC(y, mo - 1, d)).getUTCDate() !== d) return NaN; // 2020-02-30 and the like
  const z = m[8];
  if (z && z !== 'Z') {
    const sign = z.startsWith('-') ? -1 : 1;
    const digits = z.slice(1).replace(':', '');
    t -= sign * (Number(digits.slice(0, 2)) * 3_600_000 + Number(digits.slice(2)) * 60_000);
  }
  return t;
}

/**
 * Parses carbon-intensity CSV text (the format of ../shared/data/grid/fr_carbon_intensity_2020.csv): an optional
 * header line (`Time,Carbon Intensity`), then one `YYYY-MM-DD HH:MM:SS,<gCO2e/kWh>` row per sample. Times without
 * a zone are UTC (ENTSO-E's convention); `,` or `;` separate the cells; blank lines are skipped. Steps may be
 * hourly, half-hourly or uneven; each value holds until the next sample.
 * @param source names the text in errors (a file name)
 * @throws ParseError naming the 1-based line: a row without two cells, a bad time, a value that is not a number ≥ 0,
 *   a time not after the previous row's, or no rows at all
 */
export function parseCarbonCsv(text: string, source = 'carbon csv'): CarbonSeries {
  const lines = text.split(/\r?\n/);
  const times: number[] = [];
  const values: number[] = [];
  let first = true;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const cells = line.split(/[,;]/).map((c) => c.trim());
    if (first) {
      first = false;
      if (Number.isNaN(parseTimestampMs(cells[0]))) continue; // the header
    }
    if (cells.length !== 2) throw new ParseError(source, i + 1, `expected 2 cells 'time,gCO2e/kWh', got ${cells.length}: '${line}'`);
    const t = parseTimestampMs(cells[0]);
    if (Number.isNaN(t)) throw new ParseError(source, i + 1, `bad time '${cells[0]}' (expected YYYY-MM-DD HH:MM:SS, UTC)`);
    const v = cells[1] === '' ? NaN : Number(cells[1]);
    if (!Number.isFinite(v) || v < 0) throw new ParseError(source, i + 1, `bad carbon intensity '${cells[1]}' (expected a number ≥ 0, gCO2e/kWh)`);
    if (times.length > 0 && t <= times[times.length - 1]) throw new ParseError(source, i + 1, `time ${cells[0]} is not after the previous row's`);
    times.push(t);
    values.push(v);
  }
  if (times.length === 0) throw new ParseError(source, lines.length, 'no data rows');
  let sum = 0;
  for (const v of values) sum += v;
  return { timesMs: Float64Array.from(times), gPerKWh: Float64Array.from(values), meanGPerKWh: sum / values.length };
}

/** Index of the last sample at or before t (−1 when t is before the first), by bisection (times ascending). */
export function floorIndex(times: Float64Array, t: number): number {
  let lo = 0;
  let hi = times.length - 1;
  if (t < times[0]) return -1;
  if (t >= times[hi]) return hi;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (times[mid] <= t) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** An instant a series does not cover was asked of a lookup built with `outside: 'error'`. */
export class CarbonRangeError extends Error {
  readonly code = 'CARBON_OUT_OF_RANGE';
  constructor(
    readonly epochMs: number,
    readonly coveredFromMs: number,
    readonly coveredToMs: number,
  ) {
    super(`no carbon intensity for ${iso(epochMs)}: the series covers ${iso(coveredFromMs)} to ${iso(coveredToMs)}`);
    this.name = 'CarbonRangeError';
  }
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
}

/**
 * What a series lookup answers outside the span it covers (first sample to last sample + the last step):
 * - `nearest`: the first value before the series, the last one after it. Suits a live feed that lags a little
 *   behind; far from the series it is a guess.
 * - `wrap-year`: the same date and time of day (UTC) in a year the series covers (the middle year first), so that
 *   one year of data serves as a typical year (season and hour kept, weekday drifts; 29 February of a year the
 *   series does not cover as a leap year reads 1 March); `nearest` when no covered year holds the date.
 * - `error`: throw {@link CarbonRangeError}.
 */
export type OutsideSeries = 'nearest' | 'wrap-year' | 'error';

/** A series' value at an instant and the instant (> t, ms) until which it holds. */
export type SeriesSegment = (tMs: number) => { g: number; untilMs: number };

/**
 * The step lookup of a series: each value holds from its sample time until the next sample, the last one for one
 * more step (the last interval); outside that span, `outside` decides. The coordinator's live accounting and the
 * twin read a series through this one function, so both give the same intensity at the same instant.
 */
export function seriesSegments(series: Pick<CarbonSeries, 'timesMs' | 'gPerKWh'>, outside: OutsideSeries): SeriesSegment {
  const { timesMs, gPerKWh } = series;
  const n = timesMs.length;
  if (n === 0 || gPerKWh.length !== n) throw new InvalidParameterError('series', 'needs at least one sample and as many values as times');
  const first = timesMs[0];
  const lastStep = n > 1 ? timesMs[n - 1] - timesMs[n - 2] : 3_600_000;
  const end = timesMs[n - 1] + lastStep;
  // Years the series covers, the middle one first (for a date covered twice, e.g. late December of 2019 and 2020).
  const midYear = new Date((first + end) / 2).getUTCFullYear();
  const wrapYears: number[] = [];
  for (let y = new Date(first).getUTCFullYear(); y <= new Date(end).getUTCFullYear(); y++) wrapYears.push(y);
  wrapYears.sort((a, b) => Math.abs(a - midYear) - Math.abs(b - midYear) || a - b);

  function segment(t: number): { g: number; untilMs: number } {
    if (t >= first && t < end) {
      const i = floorIndex(timesMs, t);
      return { g: gPerKWh[i], untilMs: i + 1 < n ? timesMs[i + 1] : end };
    }
    if (outside === 'error') throw new CarbonRangeError(t, first, end);
    if (outside === 'wrap-year') {
      const d = new Date(t);
      const dayEnd = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
      for (const y of wrapYears) {
        const shifted = Date.UTC(y, d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
        if (shifted >= first && shifted < end) {
          const s = segment(shifted);
          return { g: s.g, untilMs: Math.min(t + (s.untilMs - shifted), dayEnd) };
        }
      }
      // No covered year holds this date: nearest, until the next day is tried.
      return t < first ? { g: gPerKWh[0], untilMs: Math.min(first, dayEnd) } : { g: gPerKWh[n - 1], untilMs: dayEnd };
    }
    return t < first ? { g: gPerKWh[0], untilMs: first } : { g: gPerKWh[n - 1], untilMs: Infinity };
  }
  return segment;
}
