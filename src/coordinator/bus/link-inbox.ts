// What every coordinator-side link of the device bus shares, whatever carries the messages (mqtt-link.ts over a
// socket to a broker, local-link.ts inside the embedded broker's process): the counters, the queues drained once per
// round by the live loop, the devices' retained states and their listeners. Messages come in already validated
// (protocol/mqtt.ts decodeMessage); this file only files them.
import type { DeviceCommand, DeviceReport, InstanceReport } from '../../protocol/device.ts';
import type { BusMessage, DeviceState } from '../../protocol/mqtt.ts';
import type { DeviceLink, Inbox } from '../fleet/link.ts';

export interface LinkCounters {
  /** Valid messages received. */
  received: number;
  dropped: {
    /** On a topic that is not a device channel of the bus. */
    topic: number;
    /** Invalid payloads (an external broker does not validate them; the embedded broker drops them before). */
    payload: number;
    /** Queue full (drain() not called for too long). */
    overflow: number;
  };
  /** Commands the broker did not acknowledge (logged). */
  sendErrors: number;
}

/** A device's retained state changed (`undefined`: cleared). */
export type StateListener = (deviceId: string, state: DeviceState | undefined) => void;

/** The coordinator's side of the bus, whichever link it is: what the platform, the bench and the tests use. */
export interface BusLink extends DeviceLink {
  readonly counters: LinkCounters;
  /** True while the link can reach the devices (connected to the broker; the embedded broker: until closed). */
  readonly connected: boolean;
  /** True when the device's retained state says online (false when offline or never seen). */
  online(deviceId: string): boolean;
  /** The device's last retained state, if any. */
  state(deviceId: string): DeviceState | undefined;
  /** Calls the listener on every state change (a device connecting, its last will); returns the unsubscribe. */
  onStateChange(listener: StateListener): () => void;
  /** Stops receiving (after sending what is in flight). Idempotent. */
  close(): Promise<void>;
}

/** What every link has from its inbox: the received queue, the devices' states and the counters. */
export abstract class InboxLink implements BusLink {
  protected constructor(protected readonly inbox: LinkInbox) {}

  abstract readonly connected: boolean;
  abstract send(deviceId: string, command: DeviceCommand): void;
  abstract close(): Promise<void>;

  get counters(): LinkCounters {
    return this.inbox.counters;
  }

  /** Everything received since the previous call, in arrival order. */
  drain(): Inbox {
    return this.inbox.drain();
  }

  /** True when the device's retained state says online (false when offline or never seen). */
  online(deviceId: string): boolean {
    return this.inbox.online(deviceId);
  }

  /** The device's last retained state, if any. */
  state(deviceId: string): DeviceState | undefined {
    return this.inbox.state(deviceId);
  }

  /** Calls the listener on every state change (a device connecting, its last will); returns the unsubscribe. */
  onStateChange(listener: StateListener): () => void {
    return this.inbox.onStateChange(listener);
  }
}

/** The queues and states of a link; `accept` files one validated message. */
export class LinkInbox {
  readonly counters: LinkCounters = { received: 0, dropped: { topic: 0, payload: 0, overflow: 0 }, sendErrors: 0 };
  readonly #log: (line: string) => void;
  readonly #maxQueued: number;
  /** What the log lines start with (`mqtt link`, `local link`). */
  readonly #name: string;
  #reports: DeviceReport[] = [];
  #instances: InstanceReport[] = [];
  /** Devices whose state turned offline since the last drain (their last will, or a clean goodbye). */
  #offline: string[] = [];
  readonly #states = new Map<string, DeviceState>();
  readonly #listeners = new Set<StateListener>();

  constructor(name: string, log: (line: string) => void, maxQueued: number) {
    this.#name = name;
    this.#log = log;
    this.#maxQueued = maxQueued;
  }

  /** Files one validated message (`topic` only names it in a log line). */
  accept(message: BusMessage, topic: string): void {
    switch (message.channel) {
      case 'telemetry':
        if (this.#reports.length >= this.#maxQueued) return this.#overflow(topic);
        this.#reports.push(message.payload);
        break;
      case 'instances':
        if (this.#instances.length >= this.#maxQueued) return this.#overflow(topic);
        this.#instances.push(message.payload);
        break;
      case 'state':
        this.setState(message.deviceId, message.payload);
        break;
      case 'commands':
        // Never subscribed to; a broker that delivered one anyway is ignored.
        return this.dropTopic(topic);
    }
    this.counters.received++;
  }

  /** Counts and logs a message on a topic that is not a device channel. */
  dropTopic(topic: string): void {
    this.counters.dropped.topic++;
    this.#log(`${this.#name}: dropped a message on ${JSON.stringify(topic.slice(0, 200))}: not a device channel`);
  }

  /** Counts and logs an invalid payload. */
  dropPayload(topic: string, reason: string): void {
    this.counters.dropped.payload++;
    this.#log(`${this.#name}: dropped a message on ${topic}: ${reason}`);
  }

  /** Counts and logs a command the broker did not take. */
  sendError(line: string): void {
    this.counters.sendErrors++;
    this.#log(`${this.#name}: ${line}`);
  }

  log(line: string): void {
    this.#log(`${this.#name}: ${line}`);
  }

  /** Everything received since the previous call, in arrival order. */
  drain(): Inbox {
    const out = { reports: this.#reports, instances: this.#instances, offline: this.#offline };
    this.#reports = [];
    this.#instances = [];
    this.#offline = [];
    return out;
  }

  online(deviceId: string): boolean {
    return this.#states.get(deviceId)?.status === 'online';
  }

  state(deviceId: string): DeviceState | undefined {
    return this.#states.get(deviceId);
  }

  onStateChange(listener: StateListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A device's retained state (`undefined`: an empty retained message cleared it, a decommissioned device). */
  setState(deviceId: string, state: DeviceState | undefined): void {
    if (this.#states.get(deviceId)?.status === 'online' && state?.status !== 'online') this.#offline.push(deviceId);
    if (state) this.#states.set(deviceId, state);
    else this.#states.delete(deviceId);
    for (const l of this.#listeners) {
      try {
        l(deviceId, state);
      } catch (e) {
        this.#log(`${this.#name}: state listener failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  #overflow(topic: string): void {
    this.counters.dropped.overflow++;
    if (this.counters.dropped.overflow === 1 || this.counters.dropped.overflow % 10_000 === 0) {
      this.#log(`${this.#name}: queue full (${this.#maxQueued}), dropped a message on ${topic} (${this.counters.dropped.overflow} so far)`);
    }
  }
}
