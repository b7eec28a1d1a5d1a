// Helpers shared by the controllers: hour-ahead forecast slots (reading, building, quasi-steady heat need) and
// the scheduler's "how long will this heater keep wanting heat" figure. Pure, allocation-free in the hot paths.
import { InvalidParameterError, requireFinite } from '../physics/errors.ts';
import type { HeatRequest, RoomControlInput } from './types.ts';

/** Seconds per forecast slot: every forecast in the control contract is hourly. */
export const SLOT_S = 3600;

/**
 * Forecast slot k covers [nowS + k·SLOT_S, nowS + (k+1)·SLOT_S): slot 0 is the hour starting now. A forecast shorter
 * than asked holds its last value; an empty one gives `fallback`. Units are those of the forecast.
 */
export function aheadAt(values: ArrayLike<number>, k: number, fallback: number): number {
  const n = values.length;
  if (n === 0) return fallback;
  return values[k < n ? k : n - 1];
}

/**
 * Hours (whole slots) from now the forecast keeps asking for at least `idleW` (W): the index of the first slot
 * whose value falls below `idleW`, or the forecast's length if none does. The scheduler's FleetView.wantHeatH
 * (`idleW` = one idle board's power) comes from this. NaN values count as "below".
 */
export function wantHeatHours(forecastW: ArrayLike<number>, idleW: number): number {
  const n = forecastW.length;
  for (let k = 0; k < n; k++) if (!(forecastW[k] >= idleW)) return k;
  return n;
}

/** A zeroed HeatRequest whose forecastW holds `horizonH` hourly values (allocate once per room or per engine). */
export function createHeatRequest(horizonH: number): HeatRequest {
  requireFinite('horizonH', horizonH, 1, 24 * 14);
  if (!Number.isInteger(horizonH)) throw new InvalidParameterError('horizonH', `must be an integer, got ${horizonH}`);
  return { powerW: 0, minW: 0, maxW: 0, forecastW: new Float64Array(horizonH) };
}

/**
 * Fills `out` with the hour-ahead slots of a piecewise-constant series: `series[i]` holds over
 * [seriesStartS + i·seriesStepS, seriesStartS + (i+1)·seriesStepS) (times in s). Slot k of `out` covers
 * [nowS + k·3600, nowS + (k+1)·3600) and receives the exact time-mean of the series over it ('mean': for
 * temperatures, gains and sun) or its maximum ('max': a conservative setpoint forecast). Outside the series the
 * first/last value holds. Allocation-free; returns `out`.
 */
export function slotsAhead(
  series: ArrayLike<number>,
  seriesStartS: number,
  seriesStepS: number,
  nowS: number,
  out: Float64Array,
  mode: 'mean' | 'max' = 'mean',
): Float64Array {
  const n = series.length;
  if (n === 0) throw new InvalidParameterError('series', 'is empty');
  if (!(seriesStepS > 0)) throw new InvalidParameterError('seriesStepS', `must be > 0, got ${seriesStepS}`);
  for (let k = 0; k < out.length; k++) {
    const a = nowS + k * SLOT_S;
    const b = a + SLOT_S;
    let i = Math.floor((a - seriesStartS) / seriesStepS);
    let acc = mode === 'max' ? -Infinity : 0;
    let t = a;
    while (t < b) {
      // Before the series the first value holds up to its start; after it the last value holds to the slot end.
      const edge = i < 0 ? seriesStartS : i >= n - 1 ? Infinity : seriesStartS + (i + 1) * seriesStepS;
      const end = edge < b ? edge : b;
      const v = series[i < 0 ? 0 : i >= n ? n - 1 : i];
      if (i < 0) i = -1;
      if (end > t) {
        if (mode === 'max') acc = v > acc ? v : acc;
        else acc += v * (end - t);
      }
      t = end;
      i++;
    }
    out[k] = mode === 'max' ? acc : acc / SLOT_S;
  }
  return out;
}

/**
 * Quasi-steady heat need per forecast slot, W: uaWK·(setpoint − outdoor) − gains − solarUse·solar, clamped to
 * [0, maxHeatW] (uaWK in W/K, solarUse the dimensionless share of the transmitted sun that offsets heating).
 * A model-free forecast for the thermostats; writes `out.length` values into `out` and returns it.
 */
export function steadyHeatNeedW(input: RoomControlInput, uaWK: number, solarUse: number, out: Float64Array): Float64Array {
  const maxW = input.maxHeatW > 0 ? input.maxHeatW : 0;
  for (let k = 0; k < out.length; k++) {
    const sp = aheadAt(input.setpointAheadC, k, input.setpointC);
    const outdoor = aheadAt(input.outdoorAheadC, k, sp);
    const need = uaWK * (sp - outdoor) - aheadAt(input.gainsAheadW, k, 0) - solarUse * aheadAt(input.solarAheadW, k, 0);
    out[k] = need > maxW ? maxW : need > 0 ? need : 0;
  }
  return out;
}

/** Clamps a power to [0, maxW] (W); NaN gives 0. */
export function clampW(powerW: number, maxW: number): number {
  return powerW > maxW ? maxW : powerW > 0 ? powerW : 0;
}

/**
 * A quasi-steady heat need (steadyHeatNeedW) shared by the rooms that see the same inputs: a caller that steps many
 * rooms of one kind (the twin: every room of a group sees the same setpoint, weather, gains, sun and heater in an
 * hour) sets `key` to a value that changes whenever any of those inputs may change (e.g. the hour), and the
 * controllers compute the need once per key (and per uaWK, solarUse and horizon) instead of once per room. The
 * values are exactly those of steadyHeatNeedW.
 */
export class SharedHeatNeed {
  /** Set by the owner: equal keys promise equal inputs (everything but airC, state and nowS). */
  key = NaN;
  private validKey = NaN;
  private ua = NaN;
  private solarUse = NaN;
  private values = new Float64Array(0);
  /**
   * Slots where the need reaches a new strict minimum (slot 0 always): recordCount of them in `records`. Any test
   * monotone in the need (clamp(need + bias) < idleW) first holds at one of these slots, so a search for the first
   * slot passing it can skip the others (see firstBelow).
   */
  readonly records = new Int32Array(SHARED_MAX_H);
  recordCount = 0;

  /** steadyHeatNeedW(input, uaWK, solarUse, ·) over `horizon` slots, computed once per key (do not modify it). */
  need(input: RoomControlInput, uaWK: number, solarUse: number, horizon: number): Float64Array {
    if (this.validKey === this.key && this.ua === uaWK && this.solarUse === solarUse && this.values.length === horizon) return this.values;
    if (this.values.length !== horizon) this.values = new Float64Array(horizon);
    steadyHeatNeedW(input, uaWK, solarUse, this.values);
    this.validKey = this.key;
    this.ua = uaWK;
    this.solarUse = solarUse;
    let n = 0;
    let min = Infinity;
    const v = this.values;
    for (let k = 0; k < horizon && n < SHARED_MAX_H; k++) {
      if (k === 0 || v[k] < min) {
        this.records[n++] = k;
        min = v[k];
      }
    }
    // More strict minima than the table holds (a horizon beyond SHARED_MAX_H): mark the table unusable.
    this.recordCount = n < SHARED_MAX_H ? n : -1;
    return this.values;
  }

  /**
   * wantHeatHours of the forecast min(maxHeatW, max(0, need[k] + bias)) for the values the last need() returned,
   * without writing it: the first slot whose value is below idleW (the horizon if none). The value is monotone in
   * need[k] (rounding and clamping are), so only the strict minima need checking; the result is the same slot.
   */
  firstBelow(bias: number, maxHeatW: number, idleW: number): number {
    const need = this.values;
    const n = this.recordCount;
    if (n < 0) {
      for (let k = 0; k < need.length; k++) {
        const w = need[k] + bias;
        const f = w > maxHeatW ? maxHeatW : w > 0 ? w : 0;
        if (!(f >= idleW)) return k;
      }
      return need.length;
    }
    const rec = this.records;
    for (let j = 0; j < n; j++) {
      const k = rec[j];
      const w = need[k] + bias;
      const f = w > maxHeatW ? maxHeatW : w > 0 ? w : 0;
      if (!(f >= idleW)) return k;
    }
    return need.length;
  }
}

/** Strict minima a SharedHeatNeed keeps (a 14-day hourly horizon at most has 336 slots). */
const SHARED_MAX_H = 337;
