// Comfort and energy KPIs exactly as SCHEDULING.md's scorecard defines them: discomfort K·h and minutes above the
// safety limit per room (incremental, allocation-free), and The Green Grid's ERF, PUE and ERE = (1 − ERF)·PUE.
import { InvalidParameterError, requireFinite } from '../physics/errors.ts';
import type { ComfortLimits } from './types.ts';
import { DEFAULT_COMFORT } from './types.ts';

/** Validates comfort limits (InvalidParameterError naming `field.lowerBandK` etc.) and returns them. */
export function validateComfortLimits(limits: ComfortLimits, field = 'limits'): ComfortLimits {
  if (typeof limits !== 'object' || limits === null) throw new InvalidParameterError(field, 'must be an object');
  requireFinite(`${field}.lowerBandK`, limits.lowerBandK, 0, 20);
  requireFinite(`${field}.upperBandK`, limits.upperBandK, 0, 20);
  requireFinite(`${field}.safetyMaxC`, limits.safetyMaxC, -50, 100);
  return limits;
}

/** ∫ max(0, d(t)) dt over a step of dtS (s) where d varies linearly from d0 to d1 (K): K·s, exact. */
export function hingeIntegral(d0: number, d1: number, dtS: number): number {
  if (d0 >= 0 && d1 >= 0) return 0.5 * (d0 + d1) * dtS;
  if (d0 <= 0 && d1 <= 0) return 0;
  const p = d0 > d1 ? d0 : d1;
  const q = d0 > d1 ? d1 : d0;
  return (dtS * p * p) / (2 * (p - q));
}

/**
 * Per-room comfort accumulator (SCHEDULING.md scorecard): discomfort = time integral of the distance below
 * (setpoint − lowerBandK) during occupied hours plus the distance above (setpoint + upperBandK) at any time, K·h;
 * and time above the safety limit, min. Feed it every step; it never allocates.
 */
export class ComfortAccumulator {
  /** ∫ shortfall below (setpoint − lowerBandK) while occupied, K·s. */
  lowKs = 0;
  /** ∫ excess above (upper reference + upperBandK), any time, K·s (reference: see accumulate's upperRefC). */
  highKs = 0;
  /** Time with the air above safetyMaxC, s. */
  aboveSafetyS = 0;
  /** Time accumulated while occupied, and in total, s. */
  occupiedS = 0;
  totalS = 0;
  readonly limits: ComfortLimits;

  constructor(limits: ComfortLimits = DEFAULT_COMFORT) {
    this.limits = validateComfortLimits(limits);
  }

  /**
   * Adds a step of dtS (s) with the air at airC (°C, held over the step: pass the step mean for exact integrals)
   * and the setpoint setpointC (°C); `occupied` says whether the lower bound counts. `upperRefC` (°C, default
   * setpointC) is the reference of the "too warm" bound: the twin passes the room's comfort (occupied) setpoint,
   * since a set-back setpoint is a floor, not a ceiling (docs/ARCHITECTURE.md, "Readings we chose").
   */
  accumulate(dtS: number, airC: number, setpointC: number, occupied: boolean, upperRefC = setpointC): void {
    const { lowerBandK, upperBandK, safetyMaxC } = this.limits;
    if (occupied) {
      const low = setpointC - lowerBandK - airC;
      if (low > 0) this.lowKs += low * dtS;
      this.occupiedS += dtS;
    }
    const high = airC - upperRefC - upperBandK;
    if (high > 0) this.highKs += high * dtS;
    if (airC > safetyMaxC) this.aboveSafetyS += dtS;
    this.totalS += dtS;
  }

  /**
   * Adds a step of dtS (s) over which the air goes linearly from air0C to air1C (°C), setpoint and occupancy held:
   * the integrals are exact for piecewise-linear air temperatures, crossings included.
   */
  accumulateRamp(dtS: number, air0C: number, air1C: number, setpointC: number, occupied: boolean, upperRefC = setpointC): void {
    const { lowerBandK, upperBandK, safetyMaxC } = this.limits;
    if (occupied) {
      const lo = setpointC - lowerBandK;
      this.lowKs += hingeIntegral(lo - air0C, lo - air1C, dtS);
      this.occupiedS += dtS;
    }
    const hi = upperRefC + upperBandK;
    this.highKs += hingeIntegral(air0C - hi, air1C - hi, dtS);
    const a = air0C > air1C ? air0C : air1C;
    const b = air0C > air1C ? air1C : air0C;
    if (b > safetyMaxC) this.aboveSafetyS += dtS;
    else if (a > safetyMaxC) this.aboveSafetyS += (dtS * (a - safetyMaxC)) / (a - b);
    this.totalS += dtS;
  }

  /** Discomfort below the comfort band while occupied, K·h. */
  get lowKh(): number {
    return this.lowKs / 3600;
  }

  /** Discomfort above the comfort band, K·h. */
  get highKh(): number {
    return this.highKs / 3600;
  }

  /** Total discomfort (below while occupied + above at any time), K·h: the scorecard's figure. */
  get discomfortKh(): number {
    return (this.lowKs + this.highKs) / 3600;
  }

  /** Minutes above the safety limit (the scorecard requires 0), min. */
  get aboveSafetyMin(): number {
    return this.aboveSafetyS / 60;
  }

  /** Clears the integrals (e.g. after a warm-up period). */
  reset(): void {
    this.lowKs = 0;
    this.highKs = 0;
    this.aboveSafetyS = 0;
    this.occupiedS = 0;
    this.totalS = 0;
  }
}

/** Scorecard comfort line over rooms: mean and worst discomfort, K·h; total minutes above the safety limit. */
export interface ComfortSummary {
  readonly rooms: number;
  readonly meanKh: number;
  readonly worstKh: number;
  /** Index of the worst room (−1 when there are none). */
  readonly worstRoom: number;
  readonly aboveSafetyMin: number;
}

/** Summarises per-room accumulators (K·h, min); an empty list gives zeros and worstRoom −1. */
export function summarizeComfort(rooms: readonly ComfortAccumulator[]): ComfortSummary {
  let sum = 0;
  let worst = 0;
  let worstRoom = -1;
  let safety = 0;
  rooms.forEach((r, i) => {
    const d = r.discomfortKh;
    sum += d;
    if (worstRoom < 0 || d > worst) {
      worst = d;
      worstRoom = i;
    }
    safety += r.aboveSafetyMin;
  });
  return { rooms: rooms.length, meanKh: rooms.length > 0 ? sum / rooms.length : 0, worstKh: worst, worstRoom, aboveSafetyMin: safety };
}

/** The scorecard's reference datacenter (SCHEDULING.md): PUE 1.58, ERF 0. */
export const REFERENCE_DATACENTER = { pue: 1.58, erf: 0 } as const;

/**
 * Energy Reuse Factor (The Green Grid): reused energy / total facility energy, dimensionless 0..1 (both in Wh, or
 * any one unit). A facility that used no energy reused none: 0.
 */
export function energyReuseFactor(reusedWh: number, totalWh: number): number {
  requireFinite('totalWh', totalWh, 0);
  requireFinite('reusedWh', reusedWh, 0);
  if (reusedWh > totalWh) throw new InvalidParameterError('reusedWh', `cannot exceed totalWh (${totalWh}), got ${reusedWh}`);
  return totalWh > 0 ? reusedWh / totalWh : 0;
}

/**
 * Power Usage Effectiveness: total facility energy / IT equipment energy, dimensionless ≥ 1 (same unit for both).
 * Undefined (NaN) when no IT energy was used.
 */
export function powerUsageEffectiveness(totalWh: number, itWh: number): number {
  requireFinite('itWh', itWh, 0);
  requireFinite('totalWh', totalWh, 0);
  if (totalWh < itWh) throw new InvalidParameterError('totalWh', `must be ≥ itWh (${itWh}), got ${totalWh}`);
  return itWh > 0 ? totalWh / itWh : NaN;
}

/** Energy Reuse Effectiveness (The Green Grid): ERE = (1 − ERF)·PUE = (total − reused) / IT, dimensionless. */
export function energyReuseEffectiveness(erf: number, pue: number): number {
  requireFinite('erf', erf, 0, 1);
  if (!Number.isNaN(pue)) requireFinite('pue', pue, 1);
  return (1 - erf) * pue;
}

/** Energy totals of a fleet or facility over a run, Wh (or any one unit). */
export interface EnergyTotals {
  /** All energy drawn (IT + overheads), including any overflow datacenter's. */
  readonly totalWh: number;
  /** Energy drawn by computing equipment. */
  readonly itWh: number;
  /** Energy put to use outside the facility (heat delivered to rooms and water). */
  readonly reusedWh: number;
}

/** ERF, PUE and ERE of energy totals (see the single functions). */
export function energyReuseKpis(t: EnergyTotals): { readonly erf: number; readonly pue: number; readonly ere: number } {
  const erf = energyReuseFactor(t.reusedWh, t.totalWh);
  const pue = powerUsageEffectiveness(t.totalWh, t.itWh);
  return { erf, pue, ere: energyReuseEffectiveness(erf, pue) };
}

/**
 * Adds an overflow datacenter's work to fleet totals (SCHEDULING.md: ERE includes it): its IT energy overflowItWh
 * (Wh) counts as IT, overflowItWh·pue as total, and none of it is reused.
 */
export function withOverflow(t: EnergyTotals, overflowItWh: number, pue: number = REFERENCE_DATACENTER.pue): EnergyTotals {
  requireFinite('overflowItWh', overflowItWh, 0);
  requireFinite('pue', pue, 1);
  return { totalWh: t.totalWh + overflowItWh * pue, itWh: t.itWh + overflowItWh, reusedWh: t.reusedWh };
}
