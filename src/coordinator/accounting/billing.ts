// Billing arithmetic (pure, no I/O): core-hour prices per scheduling type, the bill of one attempt, and the
// incremental charge the live loop takes from an account each period without ever billing the same second twice.
import { InvalidParameterError, requireFinite } from '../../physics/errors.ts';
import { SCHEDULING_TYPE_NAMES, type SchedulingTypeName } from '../store/types.ts';

/** Price of one core-hour at full clock, €/core-h, for each scheduling type. */
export type PriceTable = Readonly<Record<SchedulingTypeName, number>>;

/**
 * Default core-hour prices at full clock, €/core-h. They are ours (estimates of the order of public HPC-cloud
 * prices, not quoted from anyone), and the same as the twin's scenario defaults (src/sim/scenario.ts), so a
 * simulated season's revenue and the live platform's bills agree: flex 0.02 (runs when heat is wanted, may wait),
 * onDemand 0.04 (starts as soon as a board is free, may go to overflow), reserved 0.03 (capacity held for the
 * account).
 */
export const DEFAULT_PRICES: PriceTable = Object.freeze({ flex: 0.02, onDemand: 0.04, reserved: 0.03 });


/**
 * A price table: the defaults with some prices replaced (€/core-h each, finite and ≥ 0).
 * @throws InvalidParameterError naming `prices.<type>` for a bad price or an unknown type
 */
export function priceTable(overrides: Partial<Record<string, number>> = {}): PriceTable {
  const out: Record<SchedulingTypeName, number> = { ...DEFAULT_PRICES };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) continue;
    if (!(SCHEDULING_TYPE_NAMES as readonly string[]).includes(k)) {
      throw new InvalidParameterError(`prices.${k}`, `unknown scheduling type (expected ${SCHEDULING_TYPE_NAMES.join(', ')})`);
    }
    out[k as SchedulingTypeName] = requireFinite(`prices.${k}`, v, 0);
  }
  return Object.freeze(out);
}

/** What is billed of one attempt (or of the part of it run so far). */
export interface BillableAttempt {
  /** Cores of the board the attempt held (the instance's `info.coreCount`; default 1). */
  coreCount?: number;
  /**
   * Wall time the attempt held its board, s (InstanceAttempt.wallTimeSec). This is the time billed: the cores are
   * the customer's for that long whether the program keeps them busy or not (exec time, the CPU time the program
   * used, is not billed).
   */
  wallTimeSec: number;
  /** Clock ratio the board ran at (1 = full speed, 0.5 = throttled to half); null or absent: 1. */
  clockRatio?: number | null;
  schedulingType: SchedulingTypeName;
}

/** Validated core count and clock ratio of an attempt. */
function factors(a: BillableAttempt): { cores: number; ratio: number } {
  const cores = requireFinite('coreCount', a.coreCount ?? 1, 0);
  const ratio = requireFinite('clockRatio', a.clockRatio ?? 1, 0, 1);
  return { cores, ratio };
}

/**
 * The bill of an attempt, € (exact, not rounded): wall time (h) × cores × clock ratio × the price of its
 * scheduling type (€/core-h). A board throttled to half speed bills half.
 * @throws InvalidParameterError for a negative time or core count, or a clock ratio outside 0..1
 */
export function billAttempt(attempt: BillableAttempt, prices: PriceTable = DEFAULT_PRICES): number {
  const wall = requireFinite('wallTimeSec', attempt.wallTimeSec, 0);
  const { cores, ratio } = factors(attempt);
  return (wall / 3600) * cores * ratio * prices[attempt.schedulingType];
}

/** Euros to whole micro-euros (the store keeps credits exactly to the micro-euro), rounding half away from zero. */
export function toMicroEUR(eur: number): number {
  return Math.sign(eur) * Math.round(Math.abs(eur) * 1e6);
}

/**
 * What has been billed of one attempt so far: keep it between periods (start from {@link NO_BILLING_YET}).
 * Amounts are kept exact and the charged total in whole micro-euros, so rounding never drifts: the charges of
 * every period add up to the rounded bill of the whole.
 */
export interface BillingCursor {
  /** Wall time already billed, s. */
  readonly wallTimeSec: number;
  /** Exact amount of that wall time, € (each slice at the clock ratio it ran at). */
  readonly amountEUR: number;
  /** What was actually charged so far, whole micro-euros (= toMicroEUR(amountEUR)). */
  readonly chargedMicroEUR: number;
}

/** The cursor of an attempt nothing of which has been billed. */
export const NO_BILLING_YET: BillingCursor = Object.freeze({ wallTimeSec: 0, amountEUR: 0, chargedMicroEUR: 0 });

/** One period's charge and the cursor to keep for the next one. */
export interface ChargeIncrement {
  /** What to charge now, € (≥ 0, a whole number of micro-euros): call `adjustCredits(account, −deltaEUR)`. */
  readonly deltaEUR: number;
  readonly cursor: BillingCursor;
}

/**
 * The charge for the part of a running attempt not billed yet: the wall time it gained since the cursor, at the
 * clock ratio it runs at now (so a board throttled mid-run bills each slice at its own ratio). Called every period
 * with the attempt's totals so far; a period in which wall time did not grow charges 0. Summing every period's
 * `deltaEUR` gives the whole attempt's bill rounded to the micro-euro when the ratio was constant throughout (to
 * within 1 µ€: float rounding of the exact partial sums may land a half-micro-euro on the other side).
 * @throws InvalidParameterError when the wall time went backwards (a new attempt needs a new cursor)
 */
export function chargeIncrement(previous: BillingCursor, attemptSoFar: BillableAttempt, prices: PriceTable = DEFAULT_PRICES): ChargeIncrement {
  const wall = requireFinite('wallTimeSec', attemptSoFar.wallTimeSec, 0);
  if (wall < previous.wallTimeSec) {
    throw new InvalidParameterError('wallTimeSec', `went back from ${previous.wallTimeSec} s to ${wall} s: start a new cursor for a new attempt`);
  }
  const slice = billAttempt({ ...attemptSoFar, wallTimeSec: wall - previous.wallTimeSec }, prices);
  const amountEUR = previous.amountEUR + slice;
  const chargedMicroEUR = Math.max(previous.chargedMicroEUR, toMicroEUR(amountEUR));
  return {
    deltaEUR: (chargedMicroEUR - previous.chargedMicroEUR) / 1e6,
    cursor: { wallTimeSec: wall, amountEUR, chargedMicroEUR },
  };
}

/**
 * Whether an account's flex work should be stopped: its credits are spent (≤ 0 €). Operators are exempt, as at
 * task creation (task-ops.ts `checkCanCreate`): the caller checks the role.
 */
export function shouldSuspend(creditsEUR: number): boolean {
  return !(creditsEUR > 0);
}
