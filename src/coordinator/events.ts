// In-process fan-out of live changes: publishing appends an event to the store's log (what the SSE stream
// replays from) and then wakes this process's subscribers (the open SSE streams). Also what feeds it: the
// per-instance states coalesced per loop period, and the per-room figures residents and hosts receive live.
import { EVENT_TYPES, type InstanceStatePayload, type LiveSample, type RoomTelemetry } from '../protocol/platform.ts';
import { SYSTEM, type InstanceRecord, type NewStoreEvent, type Store, type StoreEvent } from './store/types.ts';

/** Called with each event published (or notified) through the hub, after it is in the store. */
export type EventListener = (event: StoreEvent) => void;

/**
 * A live-only event: never stored, never replayed, sent without an id (so a reconnecting client's Last-Event-ID
 * is unaffected). For figures superseded every period, such as the latest telemetry of every device.
 */
export interface EphemeralEvent {
  type: string;
  /** Who may see it: an account id, or null for operators only. */
  accountId: string | null;
  payload: unknown;
  /** ms since the epoch. */
  at: number;
}
export type EphemeralListener = (event: EphemeralEvent) => void;

export interface EventHubOptions {
  /** How often an idle SSE stream fed by this hub sends a keep-alive comment, ms. Default 15,000. */
  heartbeatMs?: number;
  /** Told about a listener that threw (the other listeners are still called). Default: ignore. */
  onListenerError?: (err: unknown) => void;
}

/** Default keep-alive period of the SSE streams, ms. */
export const DEFAULT_HEARTBEAT_MS = 15_000;

/**
 * The live-change hub of one coordinator process. The store's event log is the record; the hub only says
 * "something new": subscribers re-read the log, so an event appended without the hub (another process, a
 * transaction) still arrives, at the latest with the stream's next heartbeat.
 */
export class EventHub {
  /** Keep-alive period of the SSE streams, ms. */
  readonly heartbeatMs: number;
  private readonly listeners = new Set<EventListener>();
  private readonly ephemeralListeners = new Set<EphemeralListener>();
  private readonly roomListeners = new Set<RoomTelemetryListener>();
  private readonly onListenerError: (err: unknown) => void;

  constructor(options: EventHubOptions = {}) {
    this.heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.onListenerError = options.onListenerError ?? (() => undefined);
  }

  /**
   * Appends the event to the store's log, then tells every subscriber. Call it outside a transaction (or call
   * {@link notify} after the commit): a subscriber woken before the commit cannot read the event yet.
   * @returns the stored event (with its id and time, ms since the epoch)
   */
  async publish(store: Store, event: NewStoreEvent): Promise<StoreEvent> {
    const stored = await store.appendEvent(event);
    this.notify(stored);
    return stored;
  }

  /** Tells every subscriber about an event already committed to the store. */
  notify(event: StoreEvent): void {
    for (const fn of [...this.listeners]) {
      try {
        fn(event);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  /** Calls `fn` with each event from now on; returns the function that stops it. */
  subscribe(fn: EventListener): () => void {
    // A wrapper per call, so subscribing the same function twice yields two independent subscriptions.
    const entry: EventListener = (e) => fn(e);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  /** Tells every live-only subscriber about an event that is not stored (see {@link EphemeralEvent}). */
  broadcast(event: EphemeralEvent): void {
    for (const fn of [...this.ephemeralListeners]) {
      try {
        fn(event);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  /** Calls `fn` with each live-only event from now on; returns the function that stops it. */
  subscribeEphemeral(fn: EphemeralListener): () => void {
    const entry: EphemeralListener = (e) => fn(e);
    this.ephemeralListeners.add(entry);
    return () => {
      this.ephemeralListeners.delete(entry);
    };
  }

  /**
   * Tells every room subscriber (the residents' and hosts' streams) one period's room figures; each stream sends
   * its account only the rooms it may see (see {@link roomsFor}). Live only, like {@link broadcast}.
   */
  broadcastRooms(view: RoomTelemetryView): void {
    for (const fn of [...this.roomListeners]) {
      try {
        fn(view);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  /** Calls `fn` with each period's room figures from now on; returns the function that stops it. */
  subscribeRooms(fn: RoomTelemetryListener): () => void {
    const entry: RoomTelemetryListener = (v) => fn(v);
    this.roomListeners.add(entry);
    return () => {
      this.roomListeners.delete(entry);
    };
  }

  /** How many streams listen to room figures now (none: the figures need not be computed). */
  get roomSubscriberCount(): number {
    return this.roomListeners.size;
  }

  /** How many subscribers are listening now. */
  get subscriberCount(): number {
    return this.listeners.size;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Room telemetry (residents and hosts): one view per loop period, each stream picks the rooms it may see

/** Where a heater is: its room and the room's site. */
export interface HeaterPlace {
  roomId: string;
  siteId: string | null;
}

/** One period's room figures, indexed so that a stream finds its rooms without scanning the others. */
export interface RoomTelemetryView {
  /** ms since the epoch. */
  at: number;
  byRoom: ReadonlyMap<string, RoomTelemetry>;
  bySite: ReadonlyMap<string, readonly RoomTelemetry[]>;
}
export type RoomTelemetryListener = (view: RoomTelemetryView) => void;

/** Who a stream serves: the rooms the account lives in, the sites it hosts. */
export interface RoomAudience {
  roomIds: ReadonlySet<string>;
  siteIds: ReadonlySet<string>;
}

/** The entries of a view an audience may see: its own rooms and every room of the sites it hosts, each once. */
export function roomsFor(view: RoomTelemetryView, audience: RoomAudience): RoomTelemetry[] {
  const out: RoomTelemetry[] = [];
  for (const id of audience.roomIds) {
    const r = view.byRoom.get(id);
    if (r && (r.siteId === null || !audience.siteIds.has(r.siteId))) out.push(r);
  }
  for (const id of audience.siteIds) for (const r of view.bySite.get(id) ?? []) out.push(r);
  return out;
}

/**
 * Turns telemetry samples into room figures: keeps each heater's latest sample and, for the rooms whose heaters
 * reported in a batch, the mean air temperature and setpoint and the summed power over all the room's heaters'
 * latest samples (what Home Assistant shows too).
 */
export class RoomTelemetryAggregator {
  private readonly latest = new Map<string, LiveSample>();

  /**
   * @param samples the period's samples (one per device at most)
   * @param placeOf where a device is (undefined: not a heater in a room, e.g. a boiler)
   * @param heatersOf the heaters of a room
   */
  update(samples: readonly LiveSample[], placeOf: (deviceId: string) => HeaterPlace | undefined, heatersOf: (roomId: string) => readonly string[]): RoomTelemetry[] {
    const touched = new Map<string, HeaterPlace>();
    for (const s of samples) {
      const place = placeOf(s.deviceId);
      if (!place) {
        this.latest.delete(s.deviceId);
        continue;
      }
      this.latest.set(s.deviceId, s);
      touched.set(place.roomId, place);
    }
    const out: RoomTelemetry[] = [];
    for (const [roomId, place] of touched) {
      let time = 0;
      let heaters = 0;
      const air: number[] = [];
      const set: number[] = [];
      let powerW: number | undefined;
      for (const id of heatersOf(roomId)) {
        const s = this.latest.get(id);
        if (!s) continue;
        heaters++;
        time = Math.max(time, s.time);
        if (finite(s.airC)) air.push(s.airC);
        if (finite(s.setpointC)) set.push(s.setpointC);
        if (finite(s.powerW)) powerW = (powerW ?? 0) + s.powerW;
      }
      const r: RoomTelemetry = { roomId, siteId: place.siteId, time, heaters };
      if (air.length > 0) r.airC = mean(air);
      if (set.length > 0) r.setpointC = mean(set);
      if (powerW !== undefined) r.powerW = powerW;
      out.push(r);
    }
    return out;
  }

  /** Forgets a device (deleted or moved). */
  forget(deviceId: string): void {
    this.latest.delete(deviceId);
  }
}

function finite(x: number | undefined): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}
function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Indexes one period's room figures by room and by site. */
export function roomTelemetryView(rooms: readonly RoomTelemetry[], at: number): RoomTelemetryView {
  const byRoom = new Map<string, RoomTelemetry>();
  const bySite = new Map<string, RoomTelemetry[]>();
  for (const r of rooms) {
    byRoom.set(r.roomId, r);
    if (r.siteId !== null) {
      const list = bySite.get(r.siteId);
      if (list) list.push(r);
      else bySite.set(r.siteId, [r]);
    }
  }
  return { at, byRoom, bySite };
}

// ---------------------------------------------------------------------------------------------------------
// Instance states: recorded as the loop applies instance events, published once per period after the commit

/** Progress moves publish an `instance.state` event when they cross a multiple of this many percent. */
export const INSTANCE_PROGRESS_STEP = 10;

const FINAL_INSTANCE_STATES = new Set<string>(['success', 'failure', 'cancelled']);

/** What was last published of an instance. */
interface PublishedInstance {
  state: string;
  phase: string | null;
  attempt: number;
  step: number;
}

export interface InstanceStateFeedOptions {
  /** Percent step of progress that is worth an event alone. Default {@link INSTANCE_PROGRESS_STEP}. */
  progressStep?: number;
  /** Told about a flush that failed (its changes are published with the next flush that sees them again). */
  onError?: (err: unknown) => void;
}

/**
 * Coalesces instance changes into `instance.state` events: {@link record} keeps the latest record of each
 * instance changed since the last {@link flush}; a flush (once per loop period, after the tick: every change is
 * committed by then) publishes one event per instance whose state, phase or attempt changed, or whose progress
 * crossed a step, to the task's owner (operators see it as every account's events). All of a flush's events are
 * appended in one transaction. The device and board are included only when the owner is an operator.
 */
export class InstanceStateFeed {
  private pending = new Map<string, InstanceRecord>();
  private readonly published = new Map<string, PublishedInstance>();
  /** Task uuid → owner account id (a task never changes owner); cleared when large. */
  private readonly owners = new Map<string, string>();
  private readonly progressStep: number;
  private readonly onError: (err: unknown) => void;

  constructor(options: InstanceStateFeedOptions = {}) {
    this.progressStep = options.progressStep ?? INSTANCE_PROGRESS_STEP;
    this.onError = options.onError ?? (() => undefined);
  }

  /** Notes an instance as it is after an applied event (cheap: no I/O). */
  record(instance: InstanceRecord): void {
    this.pending.set(`${instance.taskUuid}/${instance.instanceId}`, instance);
  }

  /** How many instances wait for the next flush. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Publishes what changed since the last flush; returns the stored events. */
  async flush(store: Store, hub: EventHub): Promise<StoreEvent[]> {
    if (this.pending.size === 0) return [];
    const batch = this.pending;
    this.pending = new Map();
    const changed: Array<[string, InstanceRecord]> = [];
    for (const [key, i] of batch) {
      const prev = this.published.get(key);
      const step = Math.floor(i.progress / this.progressStep);
      if (prev && prev.state === i.state && prev.phase === i.phase && prev.attempt === i.attempt && prev.step === step) continue;
      changed.push([key, i]);
    }
    if (changed.length === 0) return [];
    try {
      if (this.owners.size > 100_000) this.owners.clear();
      const { events, sent } = await instanceStateEvents(store, changed.map(([, i]) => i), this.owners);
      const keys = sent.map((i): [string, InstanceRecord] => [`${i.taskUuid}/${i.instanceId}`, i]);
      const stored = await appendAll(store, events);
      for (const [key, i] of keys) {
        if (FINAL_INSTANCE_STATES.has(i.state)) this.published.delete(key);
        else this.published.set(key, { state: i.state, phase: i.phase, attempt: i.attempt, step: Math.floor(i.progress / this.progressStep) });
      }
      for (const e of stored) hub.notify(e);
      return stored;
    } catch (err) {
      // Not published: those instances are tried again with the next flush (unless a newer record replaced them).
      for (const [key, i] of changed) if (!this.pending.has(key)) this.pending.set(key, i);
      this.onError(err);
      return [];
    }
  }
}

/**
 * The `instance.state` events of these instances, to each task's owner (the device and board only for operators);
 * instances of tasks that are gone are left out (`sent` lists the others). `owners` caches task → owner account.
 */
async function instanceStateEvents(store: Store, instances: readonly InstanceRecord[], owners: Map<string, string>): Promise<{ events: NewStoreEvent[]; sent: InstanceRecord[] }> {
  for (const uuid of new Set(instances.map((i) => i.taskUuid))) {
    if (owners.has(uuid)) continue;
    const task = await store.getTask(SYSTEM, uuid);
    if (task) owners.set(uuid, task.accountId);
  }
  const operators = new Set<string>();
  for (const accountId of new Set(instances.map((i) => owners.get(i.taskUuid)))) {
    if (accountId !== undefined && (await store.getAccount(accountId))?.role === 'operator') operators.add(accountId);
  }
  const events: NewStoreEvent[] = [];
  const sent: InstanceRecord[] = [];
  for (const i of instances) {
    const accountId = owners.get(i.taskUuid);
    if (accountId === undefined) continue; // the task is gone
    const payload: InstanceStatePayload = { taskUuid: i.taskUuid, instanceId: i.instanceId, state: i.state, phase: i.phase, progress: i.progress, attempt: i.attempt };
    if (operators.has(accountId)) {
      payload.heaterId = i.heaterId;
      payload.boardIndex = i.boardIndex;
    }
    events.push({ type: EVENT_TYPES.instanceState, accountId, payload, at: i.updatedAt });
    sent.push(i);
  }
  return { events, sent };
}

/** Appends events in one transaction; returns them as stored. */
async function appendAll(store: Store, events: readonly NewStoreEvent[]): Promise<StoreEvent[]> {
  if (events.length === 0) return [];
  return store.transaction(async (tx) => {
    const out: StoreEvent[] = [];
    for (const e of events) out.push(await tx.appendEvent(e));
    return out;
  });
}

/**
 * Publishes what an API call did to a task at once (abort, relaunch): its `task.state` when `task` is given, and an
 * `instance.state` event for each of `instances` (the loop's feed publishes only what the loop applies). One
 * transaction; live streams are told after it commits.
 */
export async function publishTaskChange(store: Store, hub: EventHub, task: { uuid: string; accountId: string; state: string } | null, instances: readonly InstanceRecord[], at: number): Promise<StoreEvent[]> {
  const { events } = await instanceStateEvents(store, instances, new Map(task ? [[task.uuid, task.accountId]] : []));
  if (task) events.unshift({ type: EVENT_TYPES.taskState, accountId: task.accountId, payload: { uuid: task.uuid, state: task.state }, at });
  const stored = await appendAll(store, events);
  for (const e of stored) hub.notify(e);
  return stored;
}

/**
 * The store as the live loop should see it: the same store, except that every instance event it applies is also
 * recorded in `feed` (the one place instance changes are seen; published by {@link InstanceStateFeed.flush}).
 * Transactions opened through it are the plain store's (the loop applies instance events outside them).
 */
export function withInstanceFeed(store: Store, feed: InstanceStateFeed): Store {
  const applyInstanceEvent: Store['applyInstanceEvent'] = async (event) => {
    const result = await store.applyInstanceEvent(event);
    if (result.applied && result.instance) feed.record(result.instance);
    return result;
  };
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'applyInstanceEvent') return applyInstanceEvent;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
}
