// The scheduler's contract: the fleet it sees (struct of arrays, built by the twin or the live coordinator), the
// instance table it schedules from, and the decisions it returns. Pure data; no I/O, no clock.
import type { HeaterModel } from '../physics/heater.ts';

/** Scheduling types of the compute API: flex (cheap, interruptible), onDemand (priority), reserved. */
export const SchedulingType = { flex: 0, onDemand: 1, reserved: 2 } as const;
export type SchedulingTypeCode = (typeof SchedulingType)[keyof typeof SchedulingType];

/** Where an instance stands. */
export const InstancePhase = {
  /** Waiting for a board (new, or restarted after a kill). */
  queued: 0,
  /** Computing on a board. */
  running: 1,
  /** Frozen on its board (progress kept; the board idles). */
  paused: 2,
  /** Sent to the overflow datacenter. */
  overflow: 3,
  /** Finished successfully (on a heater or in overflow). */
  done: 4,
  /** Given up: its task was cancelled or its retries ran out. */
  failed: 5,
} as const;
export type InstancePhaseCode = (typeof InstancePhase)[keyof typeof InstancePhase];

/**
 * The instances, struct of arrays with a growing capacity. An instance occupies one whole board while it runs
 * (Qarnot's model: a board is the unit that runs task instances). Work is counted in board-seconds at the top
 * frequency level: a board at relative frequency f and utilisation 1 progresses f board-seconds per second.
 */
export interface InstanceTable {
  /** Number of instances in use (indexes 0..count−1). */
  count: number;
  taskId: Int32Array;
  /** Index of the instance within its task (INSTANCE_ID). */
  instanceIndex: Int32Array;
  type: Uint8Array;
  /** Higher runs first within a type (Qarnot task priority). */
  priority: Int32Array;
  /** Cores and memory needed; the board must offer at least this. */
  cores: Uint16Array;
  memoryMB: Float32Array;
  /** 1 when a GPU is required. */
  gpu: Uint8Array;
  /** Submission time, s. */
  submittedS: Float64Array;
  /** Absolute deadline, s (Infinity when none). */
  deadlineS: Float64Array;
  /** Total work, board-seconds at top frequency (the estimate the scheduler sees is `estWorkS`). */
  workS: Float64Array;
  /** The customer's estimate of the work, board-seconds at top frequency (what the scheduler may use). */
  estWorkS: Float64Array;
  /** Work done so far, board-seconds at top frequency (reset to 0 by a kill unless checkpointable). */
  doneS: Float64Array;
  /** 1 when the instance may be paused, snapshotted and moved without losing work. */
  checkpointable: Uint8Array;
  /** Site where the instance's input data already sits (−1: none / anywhere). */
  dataSite: Int32Array;
  /** Input data size, MB (moved when the instance starts on another site, or migrates). */
  dataMB: Float32Array;
  phase: Uint8Array;
  /** Heater and board where the instance runs or is paused (−1 when none). */
  heater: Int32Array;
  board: Int16Array;
  /** First start time, s (NaN until started); end time, s (NaN until done/failed). */
  startedS: Float64Array;
  endedS: Float64Array;
  /** Number of starts (1 on the first start; kills and heater losses add restarts). */
  attempts: Uint16Array;
}

/** The fleet at the start of a scheduling round, struct of arrays indexed by heater (heaters and boilers alike). */
export interface FleetView {
  readonly nowS: number;
  /** Scheduling period, s: decisions hold until the next round. */
  readonly periodS: number;
  readonly heaters: number;
  /** Most boards of any heater: board slot (h, b) is index h·maxBoards + b. */
  readonly maxBoards: number;
  /** 0 = room heater, 1 = boiler (hot-water tank). */
  readonly kind: Uint8Array;
  readonly site: Int32Array;
  /** Electrical model of each heater: index into `models`. */
  readonly model: Uint16Array;
  readonly models: readonly HeaterModel[];
  /** Boards of each heater (≤ maxBoards), cores and memory of each of its boards, GPU (1) or not. */
  readonly boards: Uint8Array;
  readonly coresPerBoard: Uint16Array;
  readonly memoryMBPerBoard: Float32Array;
  readonly gpu: Uint8Array;
  /**
   * Optional promise of the view's producer: the hardware columns (coresPerBoard, memoryMBPerBoard, gpu) and `site`
   * of this view object change only together with this number. Given, the policies' hardware and site indexes skip
   * comparing those columns in a round where view and number are the ones they last saw; absent, they compare.
   */
  readonly layoutVersion?: number;
  /** 1 when the heater is reachable (live: connected; twin: always unless a fault is injected). */
  readonly online: Uint8Array;
  /** The controller's request for the next period and its band, W (HeatRequest.powerW, minW, maxW). */
  readonly requestW: Float64Array;
  readonly minW: Float64Array;
  readonly maxW: Float64Array;
  /**
   * How long, in hours from now, the room is forecast to keep wanting heat (first hour of the forecast whose
   * request falls below one idle board; horizon length if never). For boilers: hours of headroom at full power.
   */
  readonly wantHeatH: Float32Array;
  /** Setpoint − air temperature, K (positive: the room wants heat). Boilers: setpoint − top layer. */
  readonly diffK: Float32Array;
  /** Air (or top-layer) temperature and the safety limit, °C. */
  readonly airC: Float32Array;
  readonly safetyC: Float32Array;
  /** Radiator body temperature, °C (derating). */
  readonly bodyC: Float32Array;
  /** Current frequency level of each heater's boards, and booster fraction 0..1. */
  readonly level: Uint8Array;
  readonly booster: Float32Array;
  /**
   * Board slots, heaters × maxBoards: the instance index running or paused there, BOARD_FREE when the board is
   * free (off), BOARD_FILLER when it runs filler work (heat only).
   */
  readonly boardInstance: Int32Array;
}

export const BOARD_FREE = -1;
export const BOARD_FILLER = -2;

/** One decision of a round. Heater and board indexes refer to the FleetView; instance indexes to the table. */
export type Decision =
  /** Start a queued instance on a free (or filler) board. */
  | { readonly kind: 'start'; readonly instance: number; readonly heater: number; readonly board: number }
  /** Freeze a running instance where it is (its board idles). */
  | { readonly kind: 'pause'; readonly instance: number }
  /** Resume a paused instance on its board. */
  | { readonly kind: 'resume'; readonly instance: number }
  /** Move a paused checkpointable instance to a free board elsewhere and resume it there (data moves). */
  | { readonly kind: 'migrate'; readonly instance: number; readonly heater: number; readonly board: number }
  /** Stop an instance; it goes back to the queue and, unless checkpointable, loses its progress. */
  | { readonly kind: 'kill'; readonly instance: number }
  /** Send a queued (or paused) instance to the overflow datacenter. */
  | { readonly kind: 'overflow'; readonly instance: number }
  /** Run or stop filler work (heat only) on a free board. */
  | { readonly kind: 'filler'; readonly heater: number; readonly board: number; readonly on: boolean }
  /** Set the frequency level of a heater's boards. */
  | { readonly kind: 'level'; readonly heater: number; readonly level: number }
  /** Set a heater's resistive booster (0..1). */
  | { readonly kind: 'booster'; readonly heater: number; readonly fraction: number }
  /**
   * Run the heater as a plain resistive heater at this power, W (0..model maxW), boards off: the `electric`
   * comfort reference. Stays in force until the next 'resistive' decision for that heater.
   */
  | { readonly kind: 'resistive'; readonly heater: number; readonly powerW: number };

/**
 * Where a round's decisions may go instead of an array: the same decisions, in the same order; the four hot kinds
 * (a heater's level, filler, booster; a start) have a call of their own, so a sink that stores them typed makes no
 * object per decision (scheduler/decisions.ts: ArraySink over an array, DecisionBuffer in typed columns).
 */
export interface DecisionSink {
  push(d: Decision): void;
  level(heater: number, level: number): void;
  filler(heater: number, board: number, on: boolean): void;
  booster(heater: number, fraction: number): void;
  start(instance: number, heater: number, board: number): void;
}

/** The overflow datacenter the scheduler may send work to. */
export interface OverflowPool {
  readonly pue: number;
  /** Price per core-hour, €, and grid carbon intensity, gCO2e/kWh. */
  readonly priceEURPerCoreH: number;
  readonly carbonGPerKWh: number;
}

/**
 * A scheduling policy. Policies keep their own incremental indexes (queues per class, free-board sets…) fed by
 * the events below, so that a round costs what changed, not a full sort of a million instances.
 */
export interface Policy {
  readonly name: string;
  /** New instances entered the table (phase queued). */
  onSubmit(instances: readonly number[], table: InstanceTable): void;
  /** An instance left the policy's care (done, failed, or returned to the queue by a heater loss: phase tells). */
  onChange(instance: number, table: InstanceTable): void;
  /**
   * One round: append decisions to `out` — or, when the caller gives a `sink`, a policy may write all of them there
   * instead (in order; the caller reads both). Must not mutate the fleet or the table (the caller applies decisions).
   */
  decide(fleet: FleetView, table: InstanceTable, overflow: OverflowPool, out: Decision[], sink?: DecisionSink): void;
}
