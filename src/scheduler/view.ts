// Helper types around the scheduler contract (types.ts): the writable buffer behind a FleetView, policy names and
// options, and the scheduling classes the policies share. Additions only; nothing in types.ts changes.
import type { FleetView } from './types.ts';

/**
 * The writable buffer behind a FleetView: the same arrays, but `nowS`, `periodS` and every array may be written by
 * whoever builds the view each round (the twin engine, the live coordinator, tests). Policies read it as a FleetView.
 */
export type FleetViewBuffer = { -readonly [K in keyof FleetView]: FleetView[K] };

/** The policies `createPolicy` knows. */
export type PolicyName = 'qarnot-bands' | 'first-fit' | 'electric' | 'hearth';

/**
 * Scheduling classes of the Qarnot baseline: BKGD is heat-only filler (never a customer instance), LOW and HIGH are
 * paid work. Mapping of the compute API's scheduling types: onDemand and reserved → HIGH, flex → LOW.
 */
export const SchedClass = { bkgd: 0, low: 1, high: 2 } as const;
export type SchedClassCode = (typeof SchedClass)[keyof typeof SchedClass];

/** Options of the qarnot-bands baseline (defaults: SCHEDULING.md's published bands, K). */
export interface QarnotBandsOptions {
  /** Start thresholds on diff = setpoint − air, K: a class may start when diff ≥ its value. */
  readonly startK?: { readonly bkgd: number; readonly low: number; readonly high: number };
  /** Kill thresholds, K: running work of a class is killed when diff < its value. */
  readonly killK?: { readonly bkgd: number; readonly low: number; readonly high: number };
  /** Frequency step thresholds, K: one level up when diff ≥ up, one level down when diff ≤ down. */
  readonly stepUpK?: number;
  readonly stepDownK?: number;
  /** Tasks looked at without placing anything before a round's dispatch gives up (bounds a round's cost). */
  readonly missBudget?: number;
}

/** Options of the first-fit baseline. */
export interface FirstFitOptions {
  /** The thermostat kills everything on a heater when diff < −hotK, K (default 1). */
  readonly hotK?: number;
  /** Instances looked at without placing anything before a round gives up (bounds a round's cost). */
  readonly missBudget?: number;
}

/** Options of the hearth policy (every field has a documented default in hearth.ts). */
export interface HearthOptions {
  /** Pause everything on a heater whose air is within this of its safety limit, K (default 1.5). */
  readonly safetyMarginK?: number;
  /** Closer still (K below the safety limit): paused work is moved away, or killed if it cannot move (default 0.5). */
  readonly evacuateMarginK?: number;
  /** A new board may start while the request exceeds the heater's power by at most this share of a board at the lowest level (default 0.35). */
  readonly startToleranceBoards?: number;
  /** A paused instance resumes when the heater's floor power after resuming stays below this share of maxW (default 0.9). */
  readonly resumeFraction?: number;
  /** Throughput (relative to the top level) assumed when estimating how long placed work runs (default 0.6). */
  readonly plannedRate?: number;
  /** An instance is at risk once finishing by its deadline needs more than this throughput (default 0.5). */
  readonly riskRate?: number;
  /** Margin on deadline estimates, share of the remaining time (default 0.1). */
  readonly deadlineMargin?: number;
  /** A paused checkpointable instance migrates to where heat is wanted after this long, s (default 900). */
  readonly migrateAfterS?: number;
  /**
   * A paused checkpointable instance without a deadline that found nowhere to move for this long goes back to the
   * queue (a kill that keeps its progress): its board switches off instead of idling in a room that wants no heat, s
   * (default 14400; Infinity: never). At least migrateAfterS.
   */
  readonly evictAfterS?: number;
  /**
   * Which work may fill a room beyond its request up to maxW: 'urgent' (at-risk only), 'high' (also
   * onDemand/reserved), 'deadline' (also any work with a deadline), 'all'. Default 'deadline'.
   */
  readonly roomSurplus?: 'urgent' | 'high' | 'deadline' | 'all';
  /** Work that cannot move (not checkpointable) pauses only when its room is this far above setpoint, K (default 1.5). */
  readonly overshootK?: number;
  /** An instance past its estimate is assumed to have this share of the estimate left (default 0.25). */
  readonly overrunShare?: number;
  /** Deadline planning counts the remaining estimated work plus this share of it (estimates err), default 0.7. */
  readonly estimateMargin?: number;
  /** Instances looked at without placing anything before a round gives up (default 4096). */
  readonly missBudget?: number;
}

/** Options accepted by createPolicy (each policy reads its own). */
export type PolicyOptions = QarnotBandsOptions & FirstFitOptions & HearthOptions;
