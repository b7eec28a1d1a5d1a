// The coordinator's side of the device bus over an MQTT connection, for an external broker such as mosquitto (the
// embedded broker hands messages over in process: local-link.ts). Subscribes to every device's telemetry, instance
// reports and retained state, validates each message with protocol/mqtt.ts, queues the valid ones for drain()
// (link-inbox.ts), and publishes commands at QoS 1.
import mqtt, { type MqttClient } from 'mqtt';
import type { DeviceCommand } from '../../protocol/device.ts';
import { CHANNEL_QOS, COORDINATOR_USERNAME, DEVICE_CHANNELS, allDevicesFilter, decodeMessage, deviceTopic, encodePayload, parseTopic } from '../../protocol/mqtt.ts';
import { InboxLink, LinkInbox } from './link-inbox.ts';

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

export type { LinkCounters, StateListener } from './link-inbox.ts';

/** A DeviceLink over MQTT. Create it with {@link MqttLink.connect}. */
export class MqttLink extends InboxLink {
  readonly #client: MqttClient;

  private constructor(client: MqttClient, log: (line: string) => void, maxQueued: number) {
    super(new LinkInbox('mqtt link', log, maxQueued));
    this.#client = client;
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
      this.inbox.sendError(`${command.kind} command for ${deviceId} not delivered: ${e.message}`);
    });
  }





  /** Disconnects (after sending what is in flight). Idempotent. */
  async close(): Promise<void> {
    await this.#client.endAsync();
  }

  #receive(topic: string, payload: Buffer): void {
    const parsed = parseTopic(topic);
    if (parsed?.channel === 'state' && payload.byteLength === 0) {
      // An empty retained message clears the state (a decommissioned device).
      this.inbox.setState(parsed.deviceId, undefined);
      return;
    }
    if (!parsed || parsed.channel === 'commands') return this.inbox.dropTopic(topic);
    // An external broker does not read payloads: every message is validated here.
    const m = decodeMessage(topic, payload);
    if (!m.ok) return this.inbox.dropPayload(topic, m.message);
    this.inbox.accept(m.value, topic);
  }
}
