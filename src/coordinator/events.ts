// In-process fan-out of live changes: publishing appends an event to the store's log (what the SSE stream
// replays from) and then wakes this process's subscribers (the open SSE streams).
import type { NewStoreEvent, Store, StoreEvent } from './store/types.ts';

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

  /** How many subscribers are listening now. */
  get subscriberCount(): number {
    return this.listeners.size;
  }
}
