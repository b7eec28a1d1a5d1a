// The live scheduling loop: every period it takes in what devices reported (telemetry, instance progress, output,
// exits), picks up new and cancelled work from the store, asks each room's thermostat for heat, runs the same
// scheduler policy as the twin on that FleetView, and turns its decisions into device commands and store events.
// It never reads a clock: `tick(nowMs)` is called by a timer (or a test) with the time.
import { createPiController, type PiController } from '../../control/pi.ts';
import { DEFAULT_COMFORT, type HeatRequest } from '../../control/types.ts';
import { createHeaterModel, shareThrottledHeater, type HeaterModel } from '../../physics/heater.ts';
import { COORDINATOR_SEQ_BASE, type DeviceCommand, type DeviceReport, type InstanceReport } from '../../protocol/device.ts';
import { canTransition, isFinalState, stateFromInstances, dependencyGate, type TaskStateName } from '../../protocol/task-state.ts';
import { allocateFleetView, createInstanceTable, createPolicy, growInstanceTable, type FleetViewBuffer, type PolicyName } from '../../scheduler/index.ts';
import { BOARD_FILLER, BOARD_FREE, InstancePhase, SchedulingType, type Decision, type InstanceTable, type OverflowPool, type Policy } from '../../scheduler/types.ts';
import { SYSTEM, type InstanceCharge, type InstanceRecord, type InstanceState, type RegistryRow, type Store, type TaskRecord } from '../store/types.ts';
import { buildAssignment, DEFAULT_ESTIMATED_DURATION_S, instanceNeeds, type InstanceNeeds } from './assignment.ts';
import { OVERFLOW_DEVICE, type DeviceLink } from './link.ts';
import { billAttempt, DEFAULT_PRICES, shouldSuspend, type PriceTable } from '../accounting/billing.ts';
import { DEFAULT_CARBON_G_PER_KWH, setpointAt, type RoomSpec } from '../../protocol/platform.ts';
import { parseTimeSpan } from '../../protocol/timespan.ts';
import { snapshotOrders, type SnapshotOrder } from '../api/snapshots.ts';
import { CHECKPOINT_INFO_KEY, checkpointPointer } from '../api/device-files.ts';
import { checkLoopOptions, DEFAULT_CHECKPOINT_GRACE_S } from './loop-options.ts';

/** What the loop tells the rest of the platform (billing, the event stream, metrics). */
export interface FleetLoopHooks {
  /** A task changed state. */
  onTaskState?(e: { accountId: string; taskUuid: string; state: TaskStateName; at: number }): Promise<void> | void;
  /** A device reported telemetry. */
  onTelemetry?(r: DeviceReport): Promise<void> | void;
  /** An instance's output chunk was stored (new: a repeated report's is not told again). */
  onOutput?(o: { accountId: string; taskUuid: string; instanceId: number; attempt: number; stream: 'stdout' | 'stderr'; text: string; at: number }): void;
  /** Something went wrong that the loop survived (bad report, invalid decision). */
  onWarning?(message: string, detail?: unknown): void;
}

export interface FleetLoopOptions {
  store: Store;
  link: DeviceLink;
  /** Scheduler policy (default `hearth`, as in the twin). */
  policy?: PolicyName;
  /** Scheduling period, s (decisions hold until the next tick). Default 60. */
  periodS?: number;
  /**
   * A device silent for this many periods, and at least {@link offlineAfterS}, is offline (its work is requeued).
   * Default 3.
   */
  offlineAfterPeriods?: number;
  /**
   * The shortest silence that makes a device offline, s. Default 30: a device that went away is usually known at
   * once by its last will (the broker sends it when the connection drops, or ~1.5 keepalives after it went dead);
   * silence is the fallback, and a requeue throws work away, so a few missed reports at a short period (a busy
   * agent, a garbage collection, a reconnection) must not cause one.
   */
  offlineAfterS?: number;
  /**
   * An instance whose heater was lost (offline: last will or silence) goes back to the queue this many times
   * before it fails; these losses do not count against the task's retry budget (they are not its fault). Default 5.
   */
  maxInfrastructureLosses?: number;
  hooks?: FleetLoopHooks;
  /** The overflow datacenter as the policy sees it. */
  overflow?: OverflowPool;
  /**
   * What the first tick does with the instances the store shows in flight (dispatched, running, paused, overflow),
   * left by a previous coordinator process. true (default): send them all back to the queue — right when the
   * devices died with the coordinator (the local executor). false: the devices outlived it (agents over the bus):
   * adopt each instance on a known heater as running there (its board taken) until its agent reports it, and
   * requeue only those no report confirms within the offline delay (counted from the heater's return when it
   * comes back); instances in overflow or on an unknown heater go back to the queue.
   */
  requeueInFlightAtStart?: boolean;
  /**
   * Checkpointable instances (task `checkpoint: 'snapshot'`) moved or evicted are stopped with a checkpoint: SIGTERM,
   * this grace, SIGKILL, then their working directory is uploaded and restored by their next attempt. Default 10 s.
   */
  checkpointGraceS?: number;
  /**
   * A checkpoint not reported this long after it was ordered is given up: the next attempt starts from zero (and
   * one already waiting for it is told so). Default grace + 330 s (the agent gives up its upload after 5 min).
   */
  checkpointTimeoutS?: number;
  /**
   * Core-hour prices per scheduling type (default DEFAULT_PRICES): each instance report's usage (wall time × cores ×
   * clock ratio) is charged to the task's owner at its task's price, in the store's transaction that applies the
   * report (the charges ledger).
   */
  prices?: PriceTable;
}

/** Default overflow pool: a conventional datacenter (PUE 1.5, the French grid's default intensity, price of onDemand). */
export const DEFAULT_OVERFLOW: OverflowPool = { pue: 1.5, priceEURPerCoreH: 0.05, carbonGPerKWh: DEFAULT_CARBON_G_PER_KWH };

/** Task states whose queued instances may be dispatched. */
const DISPATCHABLE: TaskStateName[] = ['Submitted', 'PartiallyDispatched', 'FullyDispatched', 'PartiallyExecuting', 'FullyExecuting'];

/** A heater or boiler the loop schedules. */
interface Device {
  row: RegistryRow;
  index: number;
  kind: 0 | 1;
  model: HeaterModel;
  coresPerBoard: number;
  memoryMBPerBoard: number;
  gpu: boolean;
  comfortC: number;
  /** The room's spec (setpoint schedule), heaters only. */
  roomSpec: RoomSpec | null;
  safetyC: number;
  controller: PiController | null;
  request: HeatRequest;
  last: DeviceReport | null;
  lastSeenMs: number;
  /** Last power command sent (JSON), to send only changes. */
  sentPower: string;
  resistiveW: number | null;
  sentSetpoint: number;
  /** Online at the previous tick (a fall to offline requeues its work). */
  wasOnline: boolean;
}

/** Where one table row came from. */
interface Entry {
  task: TaskRecord;
  instanceId: number;
  rank: number;
  needs: InstanceNeeds;
  /** Attempt of the current (or last) start. */
  attempt: number;
  /** Device id while on a device (or OVERFLOW_DEVICE). */
  deviceId: string | null;
  /** Coordinator-side sequence of this attempt's own events. */
  seq: number;
  /** Retries used by this instance (task failures only). */
  retries: number;
  /** Times its heater was lost under it. */
  losses: number;
  /** Its current attempt's process has started (reported in phase execution): it has a state worth checkpointing. */
  executing: boolean;
  /** The checkpoint its next (or current) attempt restores, while one is awaited or kept. */
  ckpt: CheckpointState | null;
  /** What became of a checkpoint, said in the info of the attempt's end ("restarted from zero: …"). */
  note: string | null;
}

/** A checkpoint ordered from one attempt of an instance. */
interface CheckpointState {
  attempt: number;
  deviceId: string;
  orderedMs: number;
  state: 'pending' | 'ready' | 'lost';
  why: string;
}

/** A move ordered from outside the policy (an operator, a test): applied after the policy's decisions. */
interface MoveOrder {
  taskUuid: string;
  instanceId: number;
  deviceId: string;
  board: number;
}

/** Counts of one tick (for logs and tests). */
export interface TickResult {
  decisions: number;
  started: number;
  finished: number;
  queued: number;
  running: number;
}

/**
 * The heater model the live loop's policy sees for a device of `boards` boards: our agents hold a frequency level by
 * CPU share at the top clock (agent/throttle.ts), so a level's throughput is its share (shareThrottledHeater), not
 * its relative frequency — with the latter a policy would think a low level computes up to four times faster than
 * it does, and place deadline work where it cannot finish.
 */
export function liveHeaterModel(boards: number): HeaterModel {
  return shareThrottledHeater(createHeaterModel({ boards }));
}

/** Sequence of the "requeued at coordinator start" event: above any the coordinator issues during an attempt. */
const RESTART_SEQ = COORDINATOR_SEQ_BASE + 900_000_000;

/**
 * Coordinator sequences of an attempt adopted at start begin here: above those a previous process may have used on
 * it, below {@link RESTART_SEQ}.
 */
const ADOPTED_SEQ = 500_000_000;

/**
 * Sequence of the event that marks an attempt whose checkpoint was given up (its row's state: cancelled, once a
 * later attempt is the instance's current one).
 */
const CHECKPOINT_LOST_SEQ = COORDINATOR_SEQ_BASE + 800_000_000;

/**
 * Sequence of the event that marks an attempt whose checkpoint arrived (it sets nothing: the device's report of it
 * leaves no trace of its own, and a restarted coordinator must know the checkpoint is there to keep it).
 */
const CHECKPOINT_READY_SEQ = COORDINATOR_SEQ_BASE + 700_000_000;

/** Stale attempts remembered as already told to stop (a stale attempt reports every tick until the kill lands). */
const STALE_KILLS_REMEMBERED = 4096;

/** Telemetry samples per store write. */
const TELEMETRY_BATCH = 5000;

/** How often finished tasks are swept for auto-deletion, ms. */
const AUTO_DELETE_SWEEP_MS = 60_000;

const TYPE_CODE: Record<string, 0 | 1 | 2> = { flex: SchedulingType.flex, onDemand: SchedulingType.onDemand, reserved: SchedulingType.reserved };

/** The live loop (one per coordinator). */
export class FleetLoop {
  private readonly store: Store;
  private readonly link: DeviceLink;
  private readonly policy: Policy;
  readonly policyName: PolicyName;
  private readonly periodS: number;
  private readonly offlineMs: number;
  private readonly maxLosses: number;
  private readonly hooks: FleetLoopHooks;
  private readonly prices: PriceTable;
  private readonly overflow: OverflowPool;
  private devices: Device[] = [];
  private readonly byId = new Map<string, Device>();
  private view: FleetViewBuffer | null = null;
  private registryKey = '';
  private table: InstanceTable = createInstanceTable(1024);
  private readonly entries: Entry[] = [];
  private readonly index = new Map<string, number>();
  /** Tasks with instances in the table that are not finished, by uuid → table rows. */
  private readonly live = new Map<string, Set<number>>();
  private readonly decisions: Decision[] = [];
  private ticking = false;
  /** Per task: the one-off snapshot order last acted on, and when the periodic one last ran (ms). */
  private readonly snapshots = new Map<string, { seq: number; periodicAt: number }>();
  /** When finished tasks with `autoDeleteOnCompletion` were last looked for, ms. */
  private lastSweepMs = -Infinity;
  private recovered = false;
  /** When this process's first tick ran, ms (devices it has not heard from yet are counted silent since then). */
  private startedMs = NaN;
  private readonly requeueAtStart: boolean;
  /** Rows adopted at start and not yet confirmed by a report of their attempt → when adopted, ms. */
  private readonly adopted = new Map<number, number>();
  /** Per device: when it was first heard from by this process, ms. */
  private readonly firstSeenMs = new Map<string, number>();
  /**
   * The overflow datacenter's executor (OVERFLOW_DEVICE) is no heater, but its work is lost with it like a heater's:
   * when it last reported, and whether it was reporting at the previous tick (see handleLostDevices).
   */
  private overflowSeenMs = -Infinity;
  private overflowWasOnline = false;
  /** Attempts a device still reports although they are no longer current, already told to stop. */
  private readonly staleKills = new Set<string>();
  private readonly checkpointGraceS: number;
  private readonly checkpointTimeoutMs: number;
  /** Moves ordered by {@link orderMove}, applied at the next tick. */
  private readonly moves: MoveOrder[] = [];

  /** Throws InvalidParameterError (the option's name as field) on a setting out of range; nothing starts then. */
  constructor(o: FleetLoopOptions) {
    checkLoopOptions(o);
    this.store = o.store;
    this.link = o.link;
    this.policyName = o.policy ?? 'hearth';
    this.policy = createPolicy(this.policyName);
    this.periodS = o.periodS ?? 60;
    this.offlineMs = Math.max((o.offlineAfterPeriods ?? 3) * this.periodS, o.offlineAfterS ?? 30) * 1000;
    this.maxLosses = o.maxInfrastructureLosses ?? 5;
    this.hooks = o.hooks ?? {};
    this.prices = o.prices ?? DEFAULT_PRICES;
    this.overflow = o.overflow ?? DEFAULT_OVERFLOW;
    this.requeueAtStart = o.requeueInFlightAtStart !== false;
    this.checkpointGraceS = o.checkpointGraceS ?? DEFAULT_CHECKPOINT_GRACE_S;
    this.checkpointTimeoutMs = (o.checkpointTimeoutS ?? this.checkpointGraceS + 330) * 1000;
  }

  /** The settings the loop runs with (defaults filled in), seconds. */
  get settings(): { policy: PolicyName; periodS: number; offlineAfterS: number; checkpointGraceS: number; checkpointTimeoutS: number } {
    return { policy: this.policyName, periodS: this.periodS, offlineAfterS: this.offlineMs / 1000, checkpointGraceS: this.checkpointGraceS, checkpointTimeoutS: this.checkpointTimeoutMs / 1000 };
  }

  /**
   * Orders an instance moved to a heater's board at the next tick, after the policy's decisions, through the same
   * path as the policy's `migrate` (a running or paused instance; a checkpointable one resumes from its checkpoint
   * there), or to the overflow datacenter (deviceId OVERFLOW_DEVICE: the path of `overflow`, a queued instance too).
   * A move that does not fit then (instance not running, board taken, heater offline) is dropped with a warning.
   */
  orderMove(o: MoveOrder): void {
    this.moves.push({ ...o });
  }

  /** One round at `nowMs`. Rounds never overlap: a tick called while one runs returns null. */
  async tick(nowMs: number): Promise<TickResult | null> {
    if (this.ticking) return null;
    this.ticking = true;
    try {
      const touched = new Set<string>();
      await this.loadDevices();
      if (!this.recovered) {
        this.startedMs = nowMs;
        if (this.requeueAtStart) await this.requeueInFlight(nowMs, touched);
        else await this.adoptInFlight(nowMs, touched);
        this.recovered = true;
      }
      let finished = await this.ingest(nowMs, touched);
      finished += await this.syncTasks(nowMs, touched);
      finished += await this.handleLostDevices(nowMs, touched);
      finished += await this.expireAdopted(nowMs, touched);
      this.fillView(nowMs);
      this.decisions.length = 0;
      if (this.view) this.policy.decide(this.view, this.table, this.overflow, this.decisions);
      let started = 0;
      for (const d of this.decisions) {
        try {
          if (await this.apply(d, nowMs, touched)) started++;
        } catch (e) {
          this.hooks.onWarning?.(`decision ${d.kind} not applied: ${(e as Error).message}`, d);
        }
      }
      for (const m of this.moves.splice(0)) {
        try {
          const i = this.index.get(`${m.taskUuid}/${m.instanceId}`);
          const dev = this.byId.get(m.deviceId);
          const toOverflow = m.deviceId === OVERFLOW_DEVICE;
          if (i === undefined || !this.live.get(m.taskUuid)?.has(i) || (!dev && !toOverflow)) throw new Error('unknown instance or heater');
          const d: Decision = dev ? { kind: 'migrate', instance: i, heater: dev.index, board: m.board } : { kind: 'overflow', instance: i };
          if (await this.apply(d, nowMs, touched)) started++;
          this.policy.onChange(i, this.table);
        } catch (e) {
          this.hooks.onWarning?.(`move of ${m.taskUuid}/${m.instanceId} not applied: ${(e as Error).message}`, m);
        }
      }
      await this.expireCheckpoints(nowMs);
      this.sendPower();
      for (const uuid of touched) await this.refreshTaskState(uuid, nowMs);
      if (nowMs - this.lastSweepMs >= AUTO_DELETE_SWEEP_MS) {
        this.lastSweepMs = nowMs;
        await this.autoDelete(nowMs);
      }
      let queued = 0;
      let running = 0;
      for (const rows of this.live.values()) {
        for (const i of rows) {
          if (this.table.phase[i] === InstancePhase.queued) queued++;
          else if (this.table.phase[i] === InstancePhase.running || this.table.phase[i] === InstancePhase.overflow) running++;
        }
      }
      return { decisions: this.decisions.length, started, finished, queued, running };
    } finally {
      this.ticking = false;
    }
  }

  /**
   * The heat a device's room (or tank) asked for at the latest round, W (read-only: what the thermostat requested
   * of the policy); undefined for an unknown device or before the first round.
   */
  heatRequestW(deviceId: string): number | undefined {
    const d = this.byId.get(deviceId);
    return d && this.view ? this.view.requestW[d.index] : undefined;
  }

  /** Devices the loop schedules, with their last report (for the API and tests). */
  snapshot(): Array<{ id: string; kind: 'heater' | 'boiler'; online: boolean; last: DeviceReport | null; boards: Array<{ taskUuid: string; instanceId: number } | 'filler' | null> }> {
    const v = this.view;
    return this.devices.map((d) => ({
      id: d.row.id,
      kind: d.kind === 0 ? 'heater' : 'boiler',
      online: v ? v.online[d.index] === 1 : false,
      last: d.last,
      boards: Array.from({ length: d.model.boards }, (_, b) => {
        const s = v ? v.boardInstance[d.index * v.maxBoards + b] : BOARD_FREE;
        if (s === BOARD_FILLER) return 'filler';
        if (s < 0) return null;
        const e = this.entries[s];
        return { taskUuid: e.task.uuid, instanceId: e.instanceId };
      }),
    }));
  }

  // ---------------------------------------------------------------------------------------------------------
  // Devices

  private async loadDevices(): Promise<void> {
    const rows = [...(await this.store.listRegistry({ kind: 'heater' })), ...(await this.store.listRegistry({ kind: 'boiler' }))];
    const rooms = new Map((await this.store.listRegistry({ kind: 'room' })).map((r) => [r.id, r]));
    const key = rows.map((r) => `${r.id}@${r.updatedAt}`).join(',') + '|' + [...rooms.values()].map((r) => `${r.id}@${r.updatedAt}`).join(',');
    if (key === this.registryKey) return;
    this.registryKey = key;
    const old = this.byId;
    const devices: Device[] = [];
    for (const row of rows) {
      const spec = (row.spec ?? {}) as Record<string, unknown>;
      const num = (k: string, d: number): number => (typeof spec[k] === 'number' && Number.isFinite(spec[k]) ? spec[k] : d);
      const boards = Math.max(1, Math.min(16, Math.round(num('boards', 3))));
      const room = row.parentId ? rooms.get(row.parentId) : undefined;
      const roomSpec = (room?.spec ?? {}) as Record<string, unknown>;
      const rnum = (k: string, d: number): number => (typeof roomSpec[k] === 'number' && Number.isFinite(roomSpec[k]) ? roomSpec[k] : d);
      const kind: 0 | 1 = row.kind === 'boiler' ? 1 : 0;
      const prev = old.get(row.id);
      const comfortC = kind === 1 ? num('setpointC', 55) : rnum('comfortC', 19);
      devices.push({
        row,
        index: devices.length,
        kind,
        model: liveHeaterModel(boards),
        coresPerBoard: Math.max(1, Math.round(num('coresPerBoard', 4))),
        memoryMBPerBoard: num('memoryMBPerBoard', 8192),
        gpu: spec.gpu === true,
        comfortC,
        roomSpec: kind === 0 && typeof roomSpec.comfortC === 'number' ? (roomSpec as unknown as RoomSpec) : null,
        safetyC: kind === 1 ? num('safetyC', 70) : rnum('safetyC', DEFAULT_COMFORT.safetyMaxC),
        controller: kind === 0 ? (prev?.controller ?? createPiController()) : null,
        request: prev?.request ?? { powerW: 0, minW: 0, maxW: 0, forecastW: new Float64Array(24) },
        last: prev?.last ?? null,
        lastSeenMs: prev?.lastSeenMs ?? -Infinity,
        sentPower: '',
        resistiveW: prev?.resistiveW ?? null,
        sentSetpoint: NaN,
        wasOnline: prev?.wasOnline ?? false,
      });
    }
    this.devices = devices;
    this.byId.clear();
    for (const d of devices) this.byId.set(d.row.id, d);
    const maxBoards = Math.max(1, ...devices.map((d) => d.model.boards));
    const view = allocateFleetView(devices.length, maxBoards, devices.map((d) => d.model));
    view.boardInstance.fill(BOARD_FREE);
    // Hardware and site columns are written below, once for this view (a reload makes a new view).
    view.layoutVersion = 1;
    const prevView = this.view;
    for (const d of devices) {
      view.kind[d.index] = d.kind;
      view.model[d.index] = d.index;
      view.boards[d.index] = d.model.boards;
      view.coresPerBoard[d.index] = d.coresPerBoard;
      view.memoryMBPerBoard[d.index] = d.memoryMBPerBoard;
      view.gpu[d.index] = d.gpu ? 1 : 0;
      view.safetyC[d.index] = d.safetyC;
      const p = old.get(d.row.id);
      if (p && prevView) {
        view.level[d.index] = prevView.level[p.index];
        view.booster[d.index] = prevView.booster[p.index];
        for (let b = 0; b < d.model.boards && b < prevView.maxBoards; b++) {
          if (prevView.boardInstance[p.index * prevView.maxBoards + b] === BOARD_FILLER) view.boardInstance[d.index * maxBoards + b] = BOARD_FILLER;
        }
      } else {
        view.level[d.index] = d.model.board.levels - 1;
      }
    }
    // Work on a heater that disappeared goes back to the queue; the rest is re-pinned to the new indexes.
    const t = this.table;
    for (const rows of this.live.values()) {
      for (const i of rows) {
        if (t.phase[i] !== InstancePhase.running && t.phase[i] !== InstancePhase.paused) continue;
        const e = this.entries[i];
        const d = e.deviceId ? this.byId.get(e.deviceId) : undefined;
        if (!d) {
          t.phase[i] = InstancePhase.queued;
          t.heater[i] = -1;
          t.board[i] = -1;
          e.deviceId = null;
          this.policy.onChange(i, t);
          continue;
        }
        t.heater[i] = d.index;
        view.boardInstance[d.index * maxBoards + t.board[i]] = i;
      }
    }
    this.view = view;
  }

  /**
   * A device that fell offline since the previous tick loses its work: each of its instances goes back to the
   * queue (its attempt ends; `executionAttemptCount` grows at the next start), or fails after too many losses.
   * Returns how many instances ended.
   */
  private async handleLostDevices(nowMs: number, touched: Set<string>): Promise<number> {
    let ended = 0;
    const t = this.table;
    for (const d of this.devices) {
      const online = d.last !== null && nowMs - d.lastSeenMs <= this.offlineMs;
      const fell = d.wasOnline && !online;
      // A device that appears (or comes back) gets its power settings and setpoint again this tick: what was sent
      // while it was away (or before it first subscribed) never reached it, and they are sent only when they change.
      if (online && !d.wasOnline) {
        d.sentPower = '';
        d.sentSetpoint = NaN;
      }
      d.wasOnline = online;
      if (!fell) continue;
      this.hooks.onWarning?.(`device ${d.row.id} is offline: its instances go back to the queue`);
      for (const rows of this.live.values()) {
        for (const i of [...rows]) {
          const e = this.entries[i];
          if (e.deviceId !== d.row.id || (t.phase[i] !== InstancePhase.running && t.phase[i] !== InstancePhase.paused)) continue;
          if (await this.loseInstance(i, d.row.id, nowMs, touched)) ended++;
        }
      }
    }
    // The overflow datacenter's executor: once it has reported, its silence loses its work too (an executor that never
    // reported — none runs, or the local executor — leaves overflow work where it is).
    const dcOnline = nowMs - this.overflowSeenMs <= this.offlineMs;
    const dcFell = this.overflowWasOnline && !dcOnline;
    this.overflowWasOnline = dcOnline;
    if (dcFell) {
      this.hooks.onWarning?.(`the overflow datacenter's executor is offline: its instances go back to the queue`);
      for (const rows of this.live.values()) {
        for (const i of [...rows]) {
          const e = this.entries[i];
          if (e.deviceId !== OVERFLOW_DEVICE || t.phase[i] !== InstancePhase.overflow) continue;
          if (await this.loseInstance(i, OVERFLOW_DEVICE, nowMs, touched)) ended++;
        }
      }
    }
    return ended;
  }

  /**
   * An instance's heater was lost under it (or never confirmed it ran it): its attempt ends and it goes back to the
   * queue, or fails after too many losses. True when it ended (failed).
   */
  private async loseInstance(i: number, deviceId: string, nowMs: number, touched: Set<string>): Promise<boolean> {
    const t = this.table;
    const e = this.entries[i];
    this.freeSlot(i);
    this.adopted.delete(i);
    e.deviceId = null;
    e.losses++;
    touched.add(e.task.uuid);
    if (e.losses > this.maxLosses) {
      await this.coordinatorEvent(e, nowMs, { state: 'failure', phase: null, endedAt: nowMs });
      await this.recordError(e.task, { taskUuid: e.task.uuid, instanceId: e.instanceId, attempt: e.attempt, seq: 1, at: nowMs, deviceId, error: `lost its heater ${e.losses} times` });
      t.phase[i] = InstancePhase.failed;
      t.endedS[i] = nowMs / 1000;
      this.policy.onChange(i, t);
      this.forget(e.task.uuid, i);
      return true;
    }
    await this.coordinatorEvent(e, nowMs, { state: 'queued', phase: null, heaterId: null, boardIndex: null, progress: 0 });
    t.phase[i] = InstancePhase.queued;
    if (!t.checkpointable[i]) t.doneS[i] = 0;
    this.policy.onChange(i, t);
    return false;
  }

  /**
   * Adopted instances no report of their attempt confirmed within the offline delay — counted from the adoption,
   * or from their heater's first report to this process when it came back later — go back to the queue (the agent
   * restarted meanwhile, or never received the start). Their heater is told to kill the attempt, in case. Returns
   * how many ended.
   */
  private async expireAdopted(nowMs: number, touched: Set<string>): Promise<number> {
    if (this.adopted.size === 0) return 0;
    const t = this.table;
    let ended = 0;
    for (const [i, since] of [...this.adopted]) {
      const e = this.entries[i];
      const deviceId = e.deviceId;
      if (deviceId === null || (t.phase[i] !== InstancePhase.running && t.phase[i] !== InstancePhase.paused) || this.live.get(e.task.uuid)?.has(i) !== true) {
        this.adopted.delete(i);
        continue;
      }
      const back = this.firstSeenMs.get(deviceId);
      if (nowMs - Math.max(since, back ?? since) <= this.offlineMs) continue;
      this.hooks.onWarning?.(`${deviceId} did not report ${e.task.uuid}/${e.instanceId} (attempt ${e.attempt}) since this coordinator started: it goes back to the queue`);
      this.link.send(deviceId, { kind: 'kill', ref: { taskUuid: e.task.uuid, instanceId: e.instanceId, attempt: e.attempt } });
      if (await this.loseInstance(i, deviceId, nowMs, touched)) ended++;
    }
    return ended;
  }

  /** Fills the view's per-round fields from the latest reports and each room's thermostat. */
  private fillView(nowMs: number): void {
    const v = this.view;
    if (!v) return;
    v.nowS = nowMs / 1000;
    v.periodS = this.periodS;
    for (const d of this.devices) {
      const h = d.index;
      const r = d.last;
      if (d.roomSpec) d.comfortC = setpointAt(d.roomSpec, nowMs);
      const online = r !== null && nowMs - d.lastSeenMs <= this.offlineMs;
      v.online[h] = online ? 1 : 0;
      const airC = r?.airC ?? d.comfortC;
      const outdoorC = r?.outdoorC ?? 10;
      v.airC[h] = airC;
      v.bodyC[h] = r?.bodyC ?? airC;
      v.diffK[h] = d.comfortC - airC;
      if (d.kind === 1) {
        const want = airC < d.comfortC ? d.model.maxW : 0;
        v.requestW[h] = want;
        v.minW[h] = 0;
        v.maxW[h] = airC < d.safetyC - 2 ? d.model.maxW : 0;
        v.wantHeatH[h] = airC < d.comfortC ? 24 : 0;
        continue;
      }
      const ahead = (x: number): number[] => new Array<number>(24).fill(x);
      const req = d.controller!.request(
        {
          nowS: nowMs / 1000,
          periodS: this.periodS,
          airC,
          setpointC: d.comfortC,
          setpointAheadC: ahead(d.comfortC),
          outdoorAheadC: ahead(outdoorC),
          solarAheadW: ahead(0),
          gainsAheadW: ahead(0),
          maxHeatW: d.model.maxW,
          limits: { ...DEFAULT_COMFORT, safetyMaxC: d.safetyC },
        },
        d.request,
      );
      v.requestW[h] = req.powerW;
      v.minW[h] = req.minW;
      v.maxW[h] = req.maxW;
      let hours = req.forecastW.length;
      for (let k = 0; k < req.forecastW.length; k++) {
        if (req.forecastW[k] < d.model.board.idleW) {
          hours = k;
          break;
        }
      }
      v.wantHeatH[h] = hours;
    }
  }

  /** Sends each device its power settings and setpoint when they changed. */
  private sendPower(): void {
    const v = this.view;
    if (!v) return;
    for (const d of this.devices) {
      const h = d.index;
      const filler = Array.from({ length: d.model.boards }, (_, b) => v.boardInstance[h * v.maxBoards + b] === BOARD_FILLER);
      const cmd: DeviceCommand = { kind: 'power', level: v.level[h], booster: v.booster[h], filler, resistiveW: d.resistiveW };
      const key = JSON.stringify(cmd);
      if (key !== d.sentPower) {
        this.link.send(d.row.id, cmd);
        d.sentPower = key;
      }
      if (d.kind === 0 && d.sentSetpoint !== d.comfortC) {
        this.link.send(d.row.id, { kind: 'setpoint', setpointC: Math.min(30, Math.max(5, d.comfortC)) });
        d.sentSetpoint = d.comfortC;
      }
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Reports in

  private async ingest(nowMs: number, touched: Set<string>): Promise<number> {
    const inbox = this.link.drain();
    const samples: Array<{ deviceId: string; time: number; data: Record<string, unknown> }> = [];
    for (const r of inbox.reports) {
      if (r.deviceId === OVERFLOW_DEVICE) this.overflowSeenMs = nowMs;
      const d = this.byId.get(r.deviceId);
      if (d) {
        if (d.controller && d.last) d.controller.delivered(r.powerW);
        d.last = r;
        d.lastSeenMs = nowMs;
        if (!this.firstSeenMs.has(r.deviceId)) this.firstSeenMs.set(r.deviceId, nowMs);
      }
      samples.push({ deviceId: r.deviceId, time: r.at, data: { ...r } });
    }
    // One write for the round's telemetry (thousands of devices report every period).
    for (let k = 0; k < samples.length; k += TELEMETRY_BATCH) {
      try {
        await this.store.appendTelemetry(samples.slice(k, k + TELEMETRY_BATCH));
      } catch (e) {
        this.hooks.onWarning?.(`telemetry not stored: ${(e as Error).message}`);
      }
    }
    if (this.hooks.onTelemetry) for (const r of inbox.reports) await this.hooks.onTelemetry(r);
    for (const id of inbox.offline ?? []) {
      const d = this.byId.get(id);
      if (d) d.lastSeenMs = -Infinity;
      if (id === OVERFLOW_DEVICE) this.overflowSeenMs = -Infinity;
    }
    let finished = 0;
    for (const rep of inbox.instances) {
      try {
        if (await this.ingestInstance(rep, nowMs, touched)) finished++;
      } catch (e) {
        this.hooks.onWarning?.(`report of ${rep.taskUuid}/${rep.instanceId} not applied: ${(e as Error).message}`, rep);
      }
    }
    return finished;
  }

  /**
   * The bill of a report's usage (billing follows the work really done: the wall time it adds × the cores × the clock
   * ratio it ran at, at its task's price); none when it adds no wall time. A report whose figures cannot be billed
   * (a clock ratio outside 0..1) is applied unbilled, with a warning.
   */
  private chargeOf(rep: InstanceReport, e: Entry): InstanceCharge | undefined {
    const wallTimeSec = rep.add?.wallTimeSec ?? 0;
    if (!(wallTimeSec > 0)) return undefined;
    const schedulingType = e.task.schedulingType;
    const cores = e.needs.cores;
    const clockRatio = rep.clockRatio ?? 1;
    try {
      const amountEUR = billAttempt({ coreCount: cores, wallTimeSec, clockRatio, schedulingType }, this.prices);
      return { schedulingType, coreSeconds: wallTimeSec * cores * clockRatio, amountEUR };
    } catch (err) {
      this.hooks.onWarning?.(`usage of ${rep.taskUuid}/${rep.instanceId} not billed: ${(err as Error).message}`, rep);
      return undefined;
    }
  }

  /** Applies one instance report; true when it ended the instance's work. */
  private async ingestInstance(rep: InstanceReport, nowMs: number, touched: Set<string>): Promise<boolean> {
    const i = this.index.get(`${rep.taskUuid}/${rep.instanceId}`);
    const e = i === undefined ? undefined : this.entries[i];
    const chunkSeq = rep.seq;
    for (const stream of ['stdout', 'stderr'] as const) {
      const text = rep[stream];
      if (!text) continue;
      const { appended } = await this.store.appendOutput({ taskUuid: rep.taskUuid, instanceId: rep.instanceId, stream, text, attempt: rep.attempt, chunkSeq, at: rep.at });
      // Told live to the owner once stored (the task is the loop's: its owner is known without a read).
      if (appended && e !== undefined) this.hooks.onOutput?.({ accountId: e.task.accountId, taskUuid: rep.taskUuid, instanceId: rep.instanceId, attempt: rep.attempt, stream, text, at: rep.at });
    }
    const current = e !== undefined && i !== undefined && e.attempt === rep.attempt && this.live.get(rep.taskUuid)?.has(i) === true;
    // Any report of the attempt, even one seen before, says its heater runs it (an adopted row is confirmed).
    if (current) this.adopted.delete(i);
    if (current && rep.phase === 'execution') e.executing = true;
    const set: Parameters<Store['applyInstanceEvent']>[0]['set'] = {};
    if (rep.progress !== undefined) set.progress = rep.progress;
    if (rep.clockRatio !== undefined) set.clockRatio = rep.clockRatio;
    if (rep.phase !== undefined) set.phase = rep.phase === 'checkpoint' ? 'shutdown' : rep.phase;
    let ended = false;
    // The checkpoint this attempt was told to make (its attempt already ended for the loop).
    const ordered = e?.ckpt && e.ckpt.attempt === rep.attempt && e.ckpt.deviceId === rep.deviceId ? e.ckpt : null;
    if (rep.state === 'running' || rep.state === 'paused') {
      // Work in the overflow datacenter stays 'overflow' while it runs there (counted apart, its heat vented).
      set.state = current && e?.deviceId === OVERFLOW_DEVICE && rep.state === 'running' ? 'overflow' : rep.state;
      if (rep.state === 'running' && rep.phase === undefined) set.phase = 'execution';
    } else if (rep.state === 'success' || rep.state === 'failure') {
      ended = true;
      set.phase = null;
      set.endedAt = rep.at;
      // The compute API lists an instance's results as the keys written to the result bucket.
      if (rep.results) set.results = rep.results.map((r) => r.key);
      set.info = {
        ...(rep.info ?? {}),
        ...(rep.exitCode !== undefined ? { exitCode: rep.exitCode } : {}),
        ...(rep.error ? { error: rep.error } : {}),
        ...(current && e?.note ? { checkpointRestore: e.note } : {}),
      };
      set.state = rep.state;
      if (rep.state === 'success') set.progress = 100;
    }
    const applied = await this.store.applyInstanceEvent({
      taskUuid: rep.taskUuid,
      instanceId: rep.instanceId,
      attempt: rep.attempt,
      sequence: rep.seq,
      at: rep.at,
      set,
      add: rep.add,
      charge: e ? this.chargeOf(rep, e) : undefined,
    });
    // A report seen before (a replay, a resend after a reconnection) changes nothing more.
    if (!applied.applied) return false;
    if (rep.state === 'checkpointed' && ordered?.state === 'pending') {
      if (rep.checkpoint && !rep.error) await this.checkpointReady(e!, nowMs);
      else await this.checkpointLost(e!, rep.error ?? 'the device saved none', nowMs);
    }
    // An attempt stopping for its checkpoint still reports (its last usage, its checkpoint): not a stale one.
    if (!current && !ended && ordered?.state !== 'pending' && rep.state !== 'checkpointed') this.stopStale(rep);
    if (!current || i === undefined || !e) return false;
    touched.add(rep.taskUuid);
    const t = this.table;
    if (rep.progress !== undefined) t.doneS[i] = (t.workS[i] * rep.progress) / 100;
    if (!ended) return false;
    // The retry budget is spent once per failed attempt (after the duplicate check above).
    const requeue = rep.state === 'failure' && (await this.mayRetry(e));
    if (rep.state === 'failure') await this.recordError(e.task, rep);
    this.freeSlot(i);
    e.note = null;
    // A failed attempt is retried from zero (its checkpoint may be what made it fail); a success needs none.
    if (e.ckpt?.state !== 'pending' || e.ckpt.attempt >= e.attempt) e.ckpt = null;
    if (requeue) {
      e.retries++;
      await this.coordinatorEvent(e, nowMs, { state: 'queued', heaterId: null, boardIndex: null, progress: 0, endedAt: null });
      t.phase[i] = InstancePhase.queued;
      t.doneS[i] = 0;
      this.policy.onChange(i, t);
      return false;
    }
    t.phase[i] = rep.state === 'success' ? InstancePhase.done : InstancePhase.failed;
    t.endedS[i] = rep.at / 1000;
    this.policy.onChange(i, t);
    this.forget(rep.taskUuid, i);
    return true;
  }

  /**
   * A device reports an attempt that is no longer current (requeued after its heater was lost, then found running
   * when the heater came back; or of a task that ended): tells it, once, to kill that attempt, so that it neither
   * holds a board the scheduler thinks free nor computes for nothing. Its reports still count their usage once.
   */
  private stopStale(rep: InstanceReport): void {
    if (!this.byId.has(rep.deviceId)) return;
    const key = `${rep.deviceId}/${rep.taskUuid}/${rep.instanceId}/${rep.attempt}`;
    if (this.staleKills.has(key)) return;
    if (this.staleKills.size >= STALE_KILLS_REMEMBERED) this.staleKills.delete(this.staleKills.values().next().value as string);
    this.staleKills.add(key);
    this.hooks.onWarning?.(`${rep.deviceId} still runs ${rep.taskUuid}/${rep.instanceId} attempt ${rep.attempt}, which is no longer current: killing it`);
    this.link.send(rep.deviceId, { kind: 'kill', ref: { taskUuid: rep.taskUuid, instanceId: rep.instanceId, attempt: rep.attempt } });
  }

  /** Whether a failed attempt may run again: the task's retry budgets (maxPerInstanceRetries, maxTotalRetries). */
  private async mayRetry(e: Entry): Promise<boolean> {
    const rs = e.task.retrySettings;
    if (e.retries >= rs.maxPerInstanceRetries) return false;
    const task = await this.store.getTask(SYSTEM, e.task.uuid);
    if (!task || task.retryCount >= rs.maxTotalRetries) return false;
    const updated = await this.store.updateTask(SYSTEM, task.uuid, { retryCount: task.retryCount + 1 });
    if (updated) e.task = updated;
    return true;
  }

  private async recordError(task: TaskRecord, rep: InstanceReport): Promise<void> {
    const fresh = await this.store.getTask(SYSTEM, task.uuid);
    if (!fresh) return;
    const status = (fresh.status && typeof fresh.status === 'object' ? fresh.status : {}) as Record<string, unknown>;
    const errors = Array.isArray(status.errors) ? status.errors.slice(-49) : [];
    const why = rep.error ?? (rep.exitCode !== undefined && rep.exitCode !== null ? `exit code ${rep.exitCode}` : 'failed');
    errors.push({ code: 'InstanceFailure', message: `instance ${rep.instanceId} (attempt ${rep.attempt}): ${why}` });
    await this.store.updateTask(SYSTEM, task.uuid, { status: { ...status, errors } });
  }

  // ---------------------------------------------------------------------------------------------------------
  // Work in: new tasks, relaunched instances, cancellations

  /** Instances left in flight by a previous run go back to the queue (their attempt ends; the next start adds one). */
  private async requeueInFlight(nowMs: number, touched: Set<string>): Promise<void> {
    await this.requeueStored(await this.store.listInstances(SYSTEM, { states: ['dispatched', 'running', 'paused', 'overflow'] }), nowMs, touched);
  }

  /**
   * Instances left in flight by a previous run, on heaters whose agents may still run them: each one on a known
   * heater's board becomes a row running (or paused) there, its board taken, until a report of its attempt
   * confirms it or {@link expireAdopted} gives up on it; the others (overflow, unknown heater or board, a board
   * claimed twice) go back to the queue.
   */
  private async adoptInFlight(nowMs: number, touched: Set<string>): Promise<void> {
    const inFlight = await this.store.listInstances(SYSTEM, { states: ['dispatched', 'running', 'paused', 'overflow'] });
    const v = this.view;
    const tasks = new Map<string, { task: TaskRecord; rank: Map<number, number>; needs: InstanceNeeds } | null>();
    const requeue: InstanceRecord[] = [];
    for (const inst of inFlight) {
      let info = tasks.get(inst.taskUuid);
      if (info === undefined) {
        const task = await this.store.getTask(SYSTEM, inst.taskUuid);
        const all = task ? await this.store.listInstances(SYSTEM, { taskUuid: task.uuid }) : [];
        info = task ? { task, rank: new Map(all.map((x, k) => [x.instanceId, k])), needs: instanceNeeds(task) } : null;
        tasks.set(inst.taskUuid, info);
      }
      const d = inst.heaterId === null ? undefined : this.byId.get(inst.heaterId);
      const b = inst.boardIndex;
      const slot = v && d && b !== null && Number.isInteger(b) && b >= 0 && b < d.model.boards ? d.index * v.maxBoards + b : -1;
      if (inst.state === 'overflow' || info === null || !v || !d || slot < 0 || v.boardInstance[slot] >= 0 || inst.attempt < 1) {
        requeue.push(inst);
        continue;
      }
      // Its attempt runs on: should its checkpoint not be readable now, it is adopted without (as before restarts
      // kept checkpoints), rather than thrown back to the queue.
      let ckpt: CheckpointState | null = null;
      if (info.task.checkpoint === 'snapshot') {
        try {
          ckpt = await this.storedCheckpoint(inst);
        } catch (err) {
          this.hooks.onWarning?.(`the checkpoint of ${inst.taskUuid}/${inst.instanceId} could not be read: ${(err as Error).message}`);
        }
      }
      const i = this.addRow(info.task, inst, info.rank.get(inst.instanceId) ?? inst.instanceId, info.needs);
      const t = this.table;
      t.phase[i] = inst.state === 'paused' ? InstancePhase.paused : InstancePhase.running;
      t.heater[i] = d.index;
      t.board[i] = b!;
      t.startedS[i] = (inst.startedAt ?? nowMs) / 1000;
      t.doneS[i] = (t.workS[i] * Math.max(0, Math.min(100, inst.progress))) / 100;
      v.boardInstance[slot] = i;
      const e = this.entries[i];
      e.deviceId = d.row.id;
      e.seq = ADOPTED_SEQ;
      e.executing = inst.phase === 'execution';
      if (ckpt) this.holdCheckpoint(i, ckpt, inst.progress);
      this.policy.onChange(i, t);
      this.adopted.set(i, nowMs);
      touched.add(inst.taskUuid);
    }
    await this.requeueStored(requeue, nowMs, touched);
    if (this.adopted.size > 0) this.hooks.onWarning?.(`${this.adopted.size} instance(s) in flight at start adopted on their heaters, until their agents report them`);
  }

  /** Sends stored instances back to the queue with the "requeued at coordinator start" event. */
  private async requeueStored(stale: InstanceRecord[], nowMs: number, touched: Set<string>): Promise<void> {
    for (const inst of stale) {
      await this.store.applyInstanceEvent({
        taskUuid: inst.taskUuid,
        instanceId: inst.instanceId,
        attempt: Math.max(1, inst.attempt),
        sequence: RESTART_SEQ,
        at: nowMs,
        set: { state: 'queued', phase: null, heaterId: null, boardIndex: null, progress: 0 },
      });
      touched.add(inst.taskUuid);
    }
    if (stale.length > 0) this.hooks.onWarning?.(`${stale.length} instance(s) in flight at start went back to the queue`);
  }

  private async syncTasks(nowMs: number, touched: Set<string>): Promise<number> {
    let finished = 0;
    // Cancelled or deleted tasks: stop their live instances.
    const liveUuids = [...this.live.keys()];
    const states = new Map<string, TaskRecord>();
    for (let k = 0; k < liveUuids.length; k += 500) {
      let token: string | null = null;
      do {
        const page = await this.store.listTasks(SYSTEM, { filter: { uuids: liveUuids.slice(k, k + 500) }, limit: 1000, pageToken: token });
        for (const t of page.items) states.set(t.uuid, t);
        token = page.nextToken;
      } while (token);
    }
    for (const uuid of liveUuids) {
      const task = states.get(uuid);
      if (task && !isFinalState(task.state) && task.state !== 'PendingDelete' && task.state !== 'PendingCancel') {
        this.snapshotIfOrdered(task, nowMs);
        continue;
      }
      this.snapshots.delete(uuid);
      for (const i of [...(this.live.get(uuid) ?? [])]) {
        this.stopOnDevice(i);
        this.table.phase[i] = InstancePhase.failed;
        this.table.endedS[i] = nowMs / 1000;
        this.policy.onChange(i, this.table);
        this.forget(uuid, i);
        finished++;
      }
      if (task && task.state === 'PendingCancel') {
        await this.store.updateInstances(SYSTEM, uuid, { states: ['queued', 'dispatched', 'running', 'paused', 'overflow'] }, { state: 'cancelled', endedAt: nowMs });
        touched.add(uuid);
      }
    }
    // New work: tasks waiting for dispatch whose queued instances the table does not hold yet.
    let token: string | null = null;
    const fresh: number[] = [];
    do {
      const page = await this.store.listTasks(SYSTEM, { filter: { states: DISPATCHABLE }, limit: 1000, pageToken: token, orderBy: 'creationDate', order: 'asc' });
      for (const task of page.items) await this.admit(task, nowMs, fresh, touched);
      token = page.nextToken;
    } while (token);
    if (fresh.length > 0) this.policy.onSubmit(fresh, this.table);
    return finished;
  }

  /** Sends snapshot commands for a task's running instances when a one-off order is new or a periodic one is due. */
  private snapshotIfOrdered(task: TaskRecord, nowMs: number): void {
    const { once, periodic } = snapshotOrders(task.status);
    if (!once && !periodic) return;
    let seen = this.snapshots.get(task.uuid);
    if (!seen) this.snapshots.set(task.uuid, (seen = { seq: 0, periodicAt: nowMs }));
    const orders: SnapshotOrder[] = [];
    if (once && once.seq > seen.seq) {
      seen.seq = once.seq;
      orders.push(once);
    }
    if (periodic?.intervalS && nowMs - seen.periodicAt >= periodic.intervalS * 1000) {
      seen.periodicAt = nowMs;
      orders.push(periodic);
    }
    for (const o of orders) {
      for (const i of this.live.get(task.uuid) ?? []) {
        const e = this.entries[i];
        if (this.table.phase[i] !== InstancePhase.running || !e.deviceId) continue;
        this.link.send(e.deviceId, {
          kind: 'snapshot',
          ref: { taskUuid: task.uuid, instanceId: e.instanceId, attempt: e.attempt },
          bucket: o.bucket,
          prefix: o.prefix,
          whitelist: o.whitelist,
          blacklist: o.blacklist,
        });
      }
    }
  }

  /** Adds a task's queued instances to the table (when its dependencies allow, within maxTimeQueueSeconds). */
  private async admit(task: TaskRecord, nowMs: number, fresh: number[], touched: Set<string>): Promise<void> {
    const body = (task.body ?? {}) as { maxTimeQueueSeconds?: number | null };
    if (task.dependsOn.length > 0) {
      const deps = await Promise.all(task.dependsOn.map((u) => this.store.getTask(task.accountId, u)));
      const gate = dependencyGate(deps.map((d) => d?.state));
      if (gate === 'waiting') return;
      if (gate === 'never') {
        await this.cancelTask(task, nowMs, 'a task it depends on did not succeed');
        touched.add(task.uuid);
        return;
      }
    }
    const rows = this.live.get(task.uuid);
    const queued = await this.store.listInstances(SYSTEM, { taskUuid: task.uuid, states: ['queued'] });
    if (queued.length === 0) return;
    if (typeof body.maxTimeQueueSeconds === 'number' && task.state === 'Submitted' && nowMs - task.stateTransitionTime > body.maxTimeQueueSeconds * 1000) {
      await this.cancelTask(task, nowMs, `not started within maxTimeQueueSeconds (${body.maxTimeQueueSeconds} s)`);
      touched.add(task.uuid);
      return;
    }
    const account = await this.store.getAccount(task.accountId);
    if (account && account.role !== 'operator' && shouldSuspend(account.creditsEUR)) return;
    const all = await this.store.listInstances(SYSTEM, { taskUuid: task.uuid });
    const rank = new Map(all.map((inst, k) => [inst.instanceId, k]));
    const needs = instanceNeeds(task);
    for (const inst of queued) {
      const key = `${task.uuid}/${inst.instanceId}`;
      const known = this.index.get(key);
      if (known !== undefined && rows?.has(known)) continue; // already waiting or running here
      // An instance this process never held may have a checkpoint its predecessor awaited or kept (an instance it
      // held before had it in memory, and what became of it there stands). Read before the row exists: should the
      // store fail, the instance is simply admitted at a later round.
      let ckpt: CheckpointState | null = null;
      if (known === undefined && task.checkpoint === 'snapshot') {
        try {
          ckpt = await this.storedCheckpoint(inst);
        } catch (err) {
          this.hooks.onWarning?.(`${task.uuid}/${inst.instanceId} not admitted this round: its checkpoint could not be read: ${(err as Error).message}`);
          continue;
        }
      }
      const i = this.addRow(task, inst, rank.get(inst.instanceId) ?? inst.instanceId, needs);
      if (ckpt) this.holdCheckpoint(i, ckpt, inst.progress);
      fresh.push(i);
    }
  }

  private addRow(task: TaskRecord, inst: InstanceRecord, rank: number, needs: InstanceNeeds): number {
    if (this.table.count >= this.table.taskId.length) this.table = growInstanceTable(this.table, this.table.taskId.length * 2);
    const t = this.table;
    const i = t.count++;
    const work = task.estimatedInstanceDurationSec ?? DEFAULT_ESTIMATED_DURATION_S;
    t.taskId[i] = 0;
    t.instanceIndex[i] = inst.instanceId;
    t.type[i] = TYPE_CODE[task.schedulingType] ?? SchedulingType.flex;
    t.priority[i] = 0;
    t.cores[i] = needs.cores;
    t.memoryMB[i] = needs.memoryMB;
    t.gpu[i] = needs.gpu ? 1 : 0;
    t.submittedS[i] = task.creationDate / 1000;
    t.deadlineS[i] = task.deadline === null ? Infinity : task.deadline / 1000;
    t.workS[i] = work;
    t.estWorkS[i] = work;
    t.doneS[i] = 0;
    t.checkpointable[i] = task.checkpoint === 'snapshot' ? 1 : 0;
    t.dataSite[i] = -1;
    t.dataMB[i] = 0;
    t.phase[i] = InstancePhase.queued;
    t.heater[i] = -1;
    t.board[i] = -1;
    t.startedS[i] = NaN;
    t.endedS[i] = NaN;
    t.attempts[i] = inst.attempt;
    this.entries[i] = { task, instanceId: inst.instanceId, rank, needs, attempt: inst.attempt, deviceId: null, seq: 0, retries: 0, losses: 0, executing: false, ckpt: null, note: null };
    this.index.set(`${task.uuid}/${inst.instanceId}`, i);
    let rows = this.live.get(task.uuid);
    if (!rows) this.live.set(task.uuid, (rows = new Set()));
    rows.add(i);
    return i;
  }

  private async cancelTask(task: TaskRecord, nowMs: number, why: string): Promise<void> {
    await this.store.updateInstances(SYSTEM, task.uuid, { states: ['queued', 'dispatched'] }, { state: 'cancelled', endedAt: nowMs });
    const status = (task.status && typeof task.status === 'object' ? task.status : {}) as Record<string, unknown>;
    const errors: unknown[] = Array.isArray(status.errors) ? (status.errors as unknown[]) : [];
    await this.store.updateTask(SYSTEM, task.uuid, { status: { ...status, errors: [...errors, { code: 'Cancelled', message: why }] } });
  }

  private forget(uuid: string, i: number): void {
    const rows = this.live.get(uuid);
    rows?.delete(i);
    if (rows && rows.size === 0) this.live.delete(uuid);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Decisions out

  /** Applies one decision; true when it started an instance. Throws on a decision that does not fit the state. */
  private async apply(d: Decision, nowMs: number, touched: Set<string>): Promise<boolean> {
    const t = this.table;
    const v = this.view!;
    switch (d.kind) {
      case 'start':
      case 'migrate': {
        const i = d.instance;
        const e = this.entries[i];
        const dev = this.devices[d.heater];
        if (!e || !dev) throw new Error('unknown instance or heater');
        if (d.kind === 'start' && t.phase[i] !== InstancePhase.queued) throw new Error(`instance is not queued`);
        if (d.kind === 'migrate' && t.phase[i] !== InstancePhase.paused && t.phase[i] !== InstancePhase.running) throw new Error(`instance is neither paused nor running`);
        const slot = d.heater * v.maxBoards + d.board;
        if (d.board >= dev.model.boards || v.boardInstance[slot] >= 0) throw new Error(`board ${d.board} of heater ${d.heater} is not free`);
        if (!v.online[d.heater]) throw new Error(`heater ${d.heater} is offline`);
        // A checkpointable instance moves with its working directory: its device stops it (SIGTERM, grace, SIGKILL)
        // and uploads what it left, which the new attempt unpacks before starting. Others restart from zero there.
        let stop: (() => void) | null = null;
        if (d.kind === 'migrate') {
          if (this.mayCheckpoint(i)) stop = this.orderCheckpoint(i, nowMs);
          else this.stopOnDevice(i);
        }
        v.boardInstance[slot] = i;
        t.phase[i] = InstancePhase.running;
        t.heater[i] = d.heater;
        t.board[i] = d.board;
        await this.dispatch(i, 'dispatched', dev.row.id, d.board, nowMs, stop);
        touched.add(e.task.uuid);
        return true;
      }
      case 'pause':
      case 'resume': {
        const i = d.instance;
        const e = this.entries[i];
        const want = d.kind === 'pause' ? InstancePhase.running : InstancePhase.paused;
        if (!e || t.phase[i] !== want || !e.deviceId) throw new Error(`instance is not ${d.kind === 'pause' ? 'running' : 'paused'}`);
        t.phase[i] = d.kind === 'pause' ? InstancePhase.paused : InstancePhase.running;
        // The device reports the new state itself: a coordinator event here would outrank its later reports.
        this.link.send(e.deviceId, { kind: d.kind, ref: { taskUuid: e.task.uuid, instanceId: e.instanceId, attempt: e.attempt } });
        return false;
      }
      case 'kill': {
        const i = d.instance;
        const e = this.entries[i];
        if (!e || (t.phase[i] !== InstancePhase.running && t.phase[i] !== InstancePhase.paused)) throw new Error('instance is neither running nor paused');
        if (this.mayCheckpoint(i)) {
          // Evicted with its checkpoint: the next attempt, wherever it runs, resumes from it.
          const from = e.deviceId;
          const stop = this.orderCheckpoint(i, nowMs);
          t.phase[i] = InstancePhase.queued;
          await this.coordinatorEvent(e, nowMs, { state: 'queued', phase: null, heaterId: null, boardIndex: null, info: { [CHECKPOINT_INFO_KEY]: { attempt: e.attempt, deviceId: from } } });
          stop();
          touched.add(e.task.uuid);
          return false;
        }
        this.stopOnDevice(i);
        t.phase[i] = InstancePhase.queued;
        // A checkpointable one stopped before its process ran keeps the checkpoint it was to restore (if any).
        t.doneS[i] = t.checkpointable[i] && e.ckpt ? t.doneS[i] : 0;
        await this.coordinatorEvent(e, nowMs, { state: 'queued', phase: null, heaterId: null, boardIndex: null, progress: 0 });
        touched.add(e.task.uuid);
        return false;
      }
      case 'overflow': {
        const i = d.instance;
        const e = this.entries[i];
        // The policy overflows queued or paused work; an operator's move (orderMove) may send running work too.
        const ph = t.phase[i];
        if (!e || (ph !== InstancePhase.queued && ph !== InstancePhase.paused && ph !== InstancePhase.running)) throw new Error('instance is neither queued, paused nor running');
        // Work on a heater leaves it the way a migration does: a checkpointable one with its working directory.
        let stop: (() => void) | null = null;
        if (ph !== InstancePhase.queued) {
          if (this.mayCheckpoint(i)) stop = this.orderCheckpoint(i, nowMs);
          else this.stopOnDevice(i);
        }
        t.phase[i] = InstancePhase.overflow;
        await this.dispatch(i, 'overflow', OVERFLOW_DEVICE, 0, nowMs, stop);
        touched.add(e.task.uuid);
        return true;
      }
      case 'filler': {
        const slot = d.heater * v.maxBoards + d.board;
        if (d.on ? v.boardInstance[slot] !== BOARD_FREE : v.boardInstance[slot] !== BOARD_FILLER) throw new Error('filler does not fit the board');
        v.boardInstance[slot] = d.on ? BOARD_FILLER : BOARD_FREE;
        return false;
      }
      case 'level': {
        const dev = this.devices[d.heater];
        if (!dev || !(Number.isInteger(d.level) && d.level >= 0 && d.level < dev.model.board.levels)) throw new Error('bad level');
        v.level[d.heater] = d.level;
        return false;
      }
      case 'booster': {
        if (!this.devices[d.heater] || !(d.fraction >= 0 && d.fraction <= 1)) throw new Error('bad booster');
        v.booster[d.heater] = d.fraction;
        return false;
      }
      case 'resistive': {
        const dev = this.devices[d.heater];
        if (!dev) throw new Error('unknown heater');
        dev.resistiveW = Math.max(0, Math.min(d.powerW, dev.model.maxW));
        return false;
      }
      default: {
        const never: never = d;
        throw new Error(`unknown decision ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * Whether stopping the instance should save its state: a checkpointable task, on a heater, whose current attempt's
   * process has started (one still staging or restoring has nothing new: the checkpoint it restores stays the one).
   */
  private mayCheckpoint(i: number): boolean {
    const e = this.entries[i];
    return this.table.checkpointable[i] === 1 && e.executing && e.deviceId !== null && e.deviceId !== OVERFLOW_DEVICE;
  }

  /**
   * A new attempt of instance i on a device (a heater's board, or the overflow datacenter's executor: OVERFLOW_DEVICE,
   * which the store records as the attempt's heater so that the device file routes let it fetch inputs and send
   * results): stored, then sent, with the checkpoint it restores if one is awaited or kept. `stop` sends the
   * checkpointing kill to the device the instance leaves: only once the store holds the pointer to the checkpoint (the
   * upload route reads it).
   */
  private async dispatch(i: number, state: 'dispatched' | 'overflow', deviceId: string, board: number, nowMs: number, stop: (() => void) | null): Promise<void> {
    const t = this.table;
    const e = this.entries[i];
    t.attempts[i]++;
    if (Number.isNaN(t.startedS[i])) t.startedS[i] = nowMs / 1000;
    e.attempt++;
    e.seq = 0;
    e.deviceId = deviceId;
    e.executing = false;
    const restore = this.restoreFor(e);
    const progress = restore.from !== null ? Math.max(0, Math.min(100, (100 * t.doneS[i]) / (t.workS[i] || 1))) : 0;
    if (restore.from === null) t.doneS[i] = 0;
    await this.store.applyInstanceEvent({
      taskUuid: e.task.uuid,
      instanceId: e.instanceId,
      attempt: e.attempt,
      sequence: 0,
      at: nowMs,
      set: { state, phase: 'dispatch', heaterId: deviceId, boardIndex: state === 'overflow' ? null : board, startedAt: nowMs, endedAt: null, progress, ...(restore.info ? { info: restore.info } : {}) },
    });
    stop?.();
    this.link.send(deviceId, {
      kind: 'start',
      assignment: {
        ...buildAssignment(e.task, e.instanceId, e.rank, e.attempt, board, e.needs),
        ...(restore.from !== null ? { restore: { attempt: restore.from, waitS: Math.ceil(this.checkpointTimeoutMs / 1000) + 30 } } : {}),
      },
    });
  }

  /**
   * Stops a checkpointable instance for a move: records the checkpoint awaited from its attempt and device, frees its
   * board, and returns the sending of the checkpointing kill (to call once the store knows the checkpoint's pointer).
   */
  private orderCheckpoint(i: number, nowMs: number): () => void {
    const e = this.entries[i];
    const deviceId = e.deviceId!;
    const ref = { taskUuid: e.task.uuid, instanceId: e.instanceId, attempt: e.attempt };
    e.ckpt = { attempt: e.attempt, deviceId, orderedMs: nowMs, state: 'pending', why: '' };
    this.freeSlot(i);
    e.deviceId = null;
    return () => this.link.send(deviceId, { kind: 'kill', ref, checkpoint: { graceS: this.checkpointGraceS } });
  }

  /**
   * What an attempt about to start restores: the checkpoint awaited or received (and the info pointing at it, which
   * the upload route checks), or none — with the reason in the info when one was lost.
   */
  private restoreFor(e: Entry): { from: number | null; info: Record<string, unknown> | null } {
    const c = e.ckpt;
    e.note = null;
    if (!c) return { from: null, info: null };
    if (c.state === 'lost') {
      e.ckpt = null;
      e.note = `restarted from zero: the checkpoint of attempt ${c.attempt} was lost (${c.why})`;
      return { from: null, info: { checkpointRestore: e.note } };
    }
    return { from: c.attempt, info: { [CHECKPOINT_INFO_KEY]: { attempt: c.attempt, deviceId: c.deviceId } } };
  }

  /**
   * Gives a checkpoint up (its device saved none, went offline, or never answered): the next attempt starts from
   * zero; one already started and waiting for it learns so from the device route (its attempt marked cancelled).
   */
  private async checkpointLost(e: Entry, why: string, nowMs: number): Promise<void> {
    const c = e.ckpt;
    if (!c || c.state !== 'pending') return;
    c.state = 'lost';
    c.why = why.slice(0, 500);
    this.hooks.onWarning?.(`checkpoint of ${e.task.uuid}/${e.instanceId} attempt ${c.attempt} lost: ${c.why}`);
    if (e.attempt > c.attempt) e.note = `restarted from zero: the checkpoint of attempt ${c.attempt} was lost (${c.why})`;
    // Stored either way, so that a restarted coordinator does not await it again. The attempt is marked cancelled (the
    // device route's "there is none") only when it is no longer the instance's current one: an instance evicted with
    // its checkpoint waits in the queue on that attempt, and the mark would cancel the instance.
    await this.store.applyInstanceEvent({ taskUuid: e.task.uuid, instanceId: e.instanceId, attempt: c.attempt, sequence: CHECKPOINT_LOST_SEQ, at: nowMs, set: e.attempt > c.attempt ? { state: 'cancelled' } : {} });
  }

  /**
   * A checkpoint arrived: the next attempt restores it, however long it waits for a heater. Marked in the store too
   * (see CHECKPOINT_READY_SEQ); should that write fail, this process still keeps it, and only a restart before the
   * next attempt would await it again (and give it up after the timeout).
   */
  private async checkpointReady(e: Entry, nowMs: number): Promise<void> {
    const c = e.ckpt;
    if (!c || c.state !== 'pending') return;
    c.state = 'ready';
    try {
      await this.store.applyInstanceEvent({ taskUuid: e.task.uuid, instanceId: e.instanceId, attempt: c.attempt, sequence: CHECKPOINT_READY_SEQ, at: nowMs, set: {} });
    } catch (err) {
      this.hooks.onWarning?.(`checkpoint of ${e.task.uuid}/${e.instanceId} attempt ${c.attempt} received but not marked in the store: ${(err as Error).message}`);
    }
  }

  /**
   * The checkpoint a previous coordinator process awaited or kept for an instance (of a checkpointable task) this one
   * takes over, rebuilt from the store, since it lived in that process's memory; null when none. The instance's info
   * names the attempt and device it was ordered from (written with the order, and replaced only by a later order, a
   * start from zero or the instance's end); the earliest event after the order — the eviction's own `queued` event
   * on that attempt, or the next attempt's start — dates the order, from which its timeout runs; a
   * CHECKPOINT_READY_SEQ event on that attempt says it arrived, a CHECKPOINT_LOST_SEQ one that it was given up.
   * Without it the next attempt would start from zero although the checkpoint is stored (or on its way), and the
   * old device's late report of it would count for nothing.
   */
  private async storedCheckpoint(inst: InstanceRecord): Promise<CheckpointState | null> {
    const ptr = checkpointPointer(inst.info);
    // An earlier attempt's, or the current one's when an eviction left the instance queued on it; anything else is
    // a pointer no process would still act on.
    if (!ptr || !(ptr.attempt < inst.attempt || (ptr.attempt === inst.attempt && inst.state === 'queued'))) return null;
    const marks = (await this.store.listInstanceEvents(SYSTEM, inst.taskUuid, inst.instanceId, { minSequence: COORDINATOR_SEQ_BASE })).filter((x) => x.attempt === ptr.attempt);
    let orderedMs = Infinity;
    for (const x of marks) orderedMs = Math.min(orderedMs, x.at);
    for (const a of await this.store.listAttempts(SYSTEM, inst.taskUuid, inst.instanceId)) {
      if (a.attempt > ptr.attempt && a.startedAt !== null) orderedMs = Math.min(orderedMs, a.startedAt);
    }
    const state = marks.some((x) => x.sequence === CHECKPOINT_LOST_SEQ) ? 'lost' : marks.some((x) => x.sequence === CHECKPOINT_READY_SEQ) ? 'ready' : 'pending';
    // No date found (a store edited by hand): the timeout runs from this process's start.
    return { attempt: ptr.attempt, deviceId: ptr.deviceId, orderedMs: Number.isFinite(orderedMs) ? orderedMs : this.startedMs, state, why: state === 'lost' ? 'given up before the coordinator restarted' : '' };
  }

  /**
   * Row i holds a checkpoint taken over from a previous process ({@link storedCheckpoint}); its next attempt resumes
   * from the progress stored, % (an eviction leaves it as it was; a requeue at start zeroes it, and the restored
   * attempt's reports tell it again).
   */
  private holdCheckpoint(i: number, ckpt: CheckpointState, progress: number): void {
    this.entries[i].ckpt = ckpt;
    if (ckpt.state !== 'lost') this.table.doneS[i] = (this.table.workS[i] * Math.max(0, Math.min(100, progress))) / 100;
  }

  /** Checkpoints awaited from a device that went offline, or for too long, are given up. */
  private async expireCheckpoints(nowMs: number): Promise<void> {
    for (const rows of this.live.values()) {
      for (const i of rows) {
        const e = this.entries[i];
        const c = e.ckpt;
        if (!c || c.state !== 'pending') continue;
        const d = this.byId.get(c.deviceId);
        // A device not heard from since this process started (it may have restarted meanwhile) is given the offline
        // delay from the start, as an adopted instance is: it has had no chance to report yet.
        const seenMs = d && !this.firstSeenMs.has(c.deviceId) ? Math.max(d.lastSeenMs, this.startedMs) : (d?.lastSeenMs ?? -Infinity);
        if (!d || nowMs - seenMs > this.offlineMs) await this.checkpointLost(e, `heater ${c.deviceId} went offline`, nowMs);
        else if (nowMs - c.orderedMs > this.checkpointTimeoutMs) await this.checkpointLost(e, `not received within ${Math.round(this.checkpointTimeoutMs / 1000)} s`, nowMs);
      }
    }
  }

  /** Tells the instance's device to kill its attempt and frees its board in the view. */
  private stopOnDevice(i: number): void {
    const e = this.entries[i];
    if (e.deviceId) this.link.send(e.deviceId, { kind: 'kill', ref: { taskUuid: e.task.uuid, instanceId: e.instanceId, attempt: e.attempt } });
    this.freeSlot(i);
    e.deviceId = null;
  }

  private freeSlot(i: number): void {
    const t = this.table;
    const v = this.view;
    if (v && t.heater[i] >= 0 && t.board[i] >= 0) {
      const slot = t.heater[i] * v.maxBoards + t.board[i];
      if (v.boardInstance[slot] === i) v.boardInstance[slot] = BOARD_FREE;
    }
    t.heater[i] = -1;
    t.board[i] = -1;
  }

  /** An event of the coordinator's own on the current attempt (outranks the device's reports of that attempt). */
  private async coordinatorEvent(
    e: Entry,
    nowMs: number,
    set: { state?: InstanceState; phase?: null; heaterId?: null; boardIndex?: null; progress?: number; endedAt?: number | null; info?: unknown },
  ): Promise<void> {
    e.seq++;
    await this.store.applyInstanceEvent({ taskUuid: e.task.uuid, instanceId: e.instanceId, attempt: e.attempt, sequence: COORDINATOR_SEQ_BASE + e.seq, at: nowMs, set });
  }

  /**
   * Deletes finished tasks created with `autoDeleteOnCompletion` once `completionTimeToLive` (a time span,
   * default 0) has passed since they ended. A sweep over finished tasks, at most once a minute.
   */
  private async autoDelete(nowMs: number): Promise<void> {
    let token: string | null = null;
    do {
      const page = await this.store.listTasks(SYSTEM, { filter: { states: ['Success', 'Failure', 'Cancelled'] }, limit: 1000, pageToken: token });
      for (const t of page.items) {
        const body = (t.body ?? {}) as { autoDeleteOnCompletion?: boolean; completionTimeToLive?: string | null };
        if (body.autoDeleteOnCompletion !== true || t.endDate === null) continue;
        const ttlS = body.completionTimeToLive ? (parseTimeSpan(body.completionTimeToLive) ?? 0) : 0;
        if (nowMs >= t.endDate + ttlS * 1000) await this.store.deleteTask(SYSTEM, t.uuid);
      }
      token = page.nextToken;
    } while (token);
  }

  /** Moves the task to the state its instances imply (when the state machine allows it). */
  private async refreshTaskState(uuid: string, nowMs: number): Promise<void> {
    const task = await this.store.getTask(SYSTEM, uuid);
    if (!task || task.state === 'PendingDelete') return;
    const sum = await this.store.summarizeInstances(SYSTEM, uuid);
    if (!sum) return;
    const b = sum.byState;
    const to = stateFromInstances({
      queued: b.queued ?? 0,
      dispatched: b.dispatched ?? 0,
      executing: (b.running ?? 0) + (b.paused ?? 0) + (b.overflow ?? 0),
      uploading: 0,
      success: b.success ?? 0,
      failure: b.failure ?? 0,
      cancelled: b.cancelled ?? 0,
    });
    if (to === task.state || !canTransition(task.state, to)) return;
    const final = isFinalState(to);
    const moved = await this.store.transitionTask(SYSTEM, uuid, { to, from: [task.state], at: nowMs, endDate: final ? nowMs : null });
    if (moved) await this.hooks.onTaskState?.({ accountId: moved.accountId, taskUuid: uuid, state: to, at: nowMs });
  }
}
