// The coordinator's side of the device bus: a DeviceLink over MQTT (the embedded broker or an external one such
// as mosquitto). Subscribes to every device's telemetry, instance reports and retained state, validates each
// message with protocol/mqtt.ts, queues the valid ones for drain(), and publishes commands at QoS 1.
import mqtt, { type MqttClient } from 'mqtt';
import type { DeviceCommand, DeviceReport, InstanceReport } from '../../protocol/device.ts';
import { CHANNEL_QOS, COORDINATOR_USERNAME, DEVICE_CHANNELS, allDevicesFilter, decodeMessage, deviceTopic, encodePayload, parseTopic, type DeviceState } from '../../protocol/mqtt.ts';
import type { DeviceLink, Inbox } from '../fleet/link.ts';

export interface MqttLinkOptions {
  /** `mqtt://host:port` of the broker. */
  url: string;
  /** Default {@link COORDINATOR_USERNAME}. */
  username?: string;
  password: string;
  /** Default the username. Keep it stable: the broker keeps the session (and QoS 1 messages) across reconnections. */
  clientId?: string;
  /** Start a clean session (drop what the broker kept for this client id); default false. */
  clean?: boolean;
  /** Where dropped messages and send failures are reported; default console.warn. */
  log?: (line: string) => void;
  /** Most reports of each kind held between two drains; beyond it new ones are dropped and counted. Default 100 000. */
  maxQueued?: number;
  /** Give up the first connection after this long, ms; default 10 000. */
  connectTimeoutMs?: number;
  /** Wait between reconnection attempts, ms; default 1 000. */
  reconnectPeriodMs?: number;
}

export interface LinkCounters {
  /** Valid messages received. */
  received: number;
  dropped: {
    /** On a topic that is not a device channel of the bus. */
    topic: number;
    /** Invalid payloads (an external broker does not validate them). */
    payload: number;
    /** Queue full (drain() not called for too long). */
    overflow: number;
  };
  /** Commands the broker did not acknowledge (logged). */
  sendErrors: number;
}

/** A device's retained state changed (`undefined`: cleared). */
export type StateListener = (deviceId: string, state: DeviceState | undefined) => void;

/** A DeviceLink over MQTT. Create it with {@link MqttLink.connect}. */
export class MqttLink implements DeviceLink {
  readonly counters: LinkCounters = { received: 0, dropped: { topic: 0, payload: 0, overflow: 0 }, sendErrors: 0 };
  readonly #client: MqttClient;
  readonly #log: (line: string) => void;
  readonly #maxQueued: number;
  #reports: DeviceReport[] = [];
  #instances: InstanceReport[] = [];
  /** Devices whose state turned offline since the last drain (their last will, or a clean goodbye). */
  #offline: string[] = [];
  readonly #states = new Map<string, DeviceState>();
  readonly #listeners = new Set<StateListener>();

  private constructor(client: MqttClient, log: (line: string) => void, maxQueued: number) {
    this.#client = client;
    this.#log = log;
    this.#maxQueued = maxQueued;
    client.on('message', (topic, payload) => this.#receive(topic, payload));
  }

  /**
   * Connects, subscribes to the devices' channels and resolves once the broker granted them; reconnects by itself
   * afterwards.
   * @throws when the broker refuses the credentials or a subscription, or does not answer within connectTimeoutMs
   */
  static async connect(options: MqttLinkOptions): Promise<MqttLink> {
    const username = options.username ?? COORDINATOR_USERNAME;
    const log = options.log ?? ((line: string) => console.warn(line));
    const client = mqtt.connect(options.url, {
      protocolVersion: 4,
      username,
      password: options.password,
      clientId: options.clientId ?? username,
      clean: options.clean ?? false,
      connectTimeout: options.connectTimeoutMs ?? 10_000,
      reconnectPeriod: options.reconnectPeriodMs ?? 1_000,
      keepalive: 30,
      resubscribe: true,
    });
    const link = new MqttLink(client, log, options.maxQueued ?? 100_000);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer from ${options.url} within ${options.connectTimeoutMs ?? 10_000} ms`)), options.connectTimeoutMs ?? 10_000);
        const done = (e?: Error): void => {
          clearTimeout(timer);
          client.off('connect', onConnect);
          client.off('error', onError);
          if (e) reject(e);
          else resolve();
        };
        const onConnect = (): void => done();
        const onError = (e: Error): void => done(new Error(`cannot connect to ${options.url}: ${e.message}`));
        client.on('connect', onConnect);
        client.on('error', onError);
      });
      const filters = Object.fromEntries(DEVICE_CHANNELS.map((c) => [allDevicesFilter(c), { qos: 1 as const }]));
      try {
        await client.subscribeAsync(filters);
      } catch (e) {
        // mqtt.js rejects when any filter comes back 0x80.
        throw new Error(`the broker refused the subscriptions to ${Object.keys(filters).join(', ')}: ${e instanceof Error ? e.message : String(e)}`);
      }
    } catch (e) {
      await client.endAsync(true);
      throw e;
    }
    client.on('error', (e) => log(`mqtt link: ${e.message}`));
    return link;
  }

  /** True while connected to the broker. */
  get connected(): boolean {
    return this.#client.connected;
  }

  /**
   * Publishes a command for a device at QoS 1 (queued by the client while disconnected, in order).
   * @throws TypeError for an invalid device id or command (a bug on the coordinator's side)
   */
  send(deviceId: string, command: DeviceCommand): void {
    const topic = deviceTopic(deviceId, 'commands');
    const payload = encodePayload('commands', command);
    this.#client.publish(topic, payload, { qos: CHANNEL_QOS.commands, retain: false }, (e) => {
      if (!e) return;
      this.counters.sendErrors++;
      this.#log(`mqtt link: ${command.kind} command for ${deviceId} not delivered: ${e.message}`);
    });
  }

  /** Everything received since the previous call, in arrival order. */
  drain(): Inbox {
    const out = { reports: this.#reports, instances: this.#instances, offline: this.#offline };
    this.#reports = [];
    this.#instances = [];
    this.#offline = [];
    return out;
  }

  /** True when the device's retained state says online (false when offline or never seen). */
  online(deviceId: string): boolean {
    return this.#states.get(deviceId)?.status === 'online';
  }

  /** The device's last retained state, if any. */
  state(deviceId: string): DeviceState | undefined {
    return this.#states.get(deviceId);
  }

  /** Calls the listener on every state change (a device connecting, its last will); returns the unsubscribe. */
  onStateChange(listener: StateListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Disconnects (after sending what is in flight). Idempotent. */
  async close(): Promise<void> {
    await this.#client.endAsync();
  }

  #receive(topic: string, payload: Buffer): void {
    const parsed = parseTopic(topic);
    if (parsed?.channel === 'state' && payload.byteLength === 0) {
      // An empty retained message clears the state (a decommissioned device).
      this.#setState(parsed.deviceId, undefined);
      return;
    }
    if (!parsed || parsed.channel === 'commands') {
      this.counters.dropped.topic++;
      this.#log(`mqtt link: dropped a message on ${JSON.stringify(topic.slice(0, 200))}: not a device channel`);
      return;
    }
    const m = decodeMessage(topic, payload);
    if (!m.ok) {
      this.counters.dropped.payload++;
      this.#log(`mqtt link: dropped a message on ${topic}: ${m.message}`);
      return;
    }
    const message = m.value;
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
        this.#setState(message.deviceId, message.payload);
        break;
      case 'commands':
        break;
    }
    this.counters.received++;
  }

  #overflow(topic: string): void {
    this.counters.dropped.overflow++;
    if (this.counters.dropped.overflow === 1 || this.counters.dropped.overflow % 10_000 === 0) {
      this.#log(`mqtt link: queue full (${this.#maxQueued}), dropped a message on ${topic} (${this.counters.dropped.overflow} so far)`);
    }
  }

  #setState(deviceId: string, state: DeviceState | undefined): void {
    if (this.#states.get(deviceId)?.status === 'online' && state?.status !== 'online') this.#offline.push(deviceId);
    if (state) this.#states.set(deviceId, state);
    else this.#states.delete(deviceId);
    for (const l of this.#listeners) {
      try {
        l(deviceId, state);
      } catch (e) {
        this.#log(`mqtt link: state listener failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
}
