// The agent's side of the device bus: connects with its device id and secret, announces itself online (retained)
// with a retained offline last will, receives its commands (validated against protocol/mqtt.ts), and publishes
// telemetry (QoS 0) and instance reports (QoS 1, resolved on PUBACK) in call order.
import mqtt, { type MqttClient } from 'mqtt';
import { CHANNEL_QOS, CHANNEL_RETAIN, decodePayload, deviceTopic, encodePayload } from '../protocol/mqtt.ts';
import type { DeviceCommand, DeviceReport, InstanceReport } from '../protocol/device.ts';
import { UndeliverableError, type AgentTransport, type ReportKind } from './agent.ts';

export interface MqttTransportOptions {
  /** `mqtt://host:port` of the coordinator's broker. */
  url: string;
  deviceId: string;
  secret: string;
  /** Agent version announced in the retained state. */
  agentVersion?: string;
  /** A publish not acknowledged within this long is failed (the agent keeps the report and retries), ms. Default 15 000. */
  publishTimeoutMs?: number;
  /** Reconnection period, ms. Default 2 000. */
  reconnectPeriodMs?: number;
  log?: (line: string) => void;
}

/** AgentTransport over MQTT 3.1.1. */
export class MqttTransport implements AgentTransport {
  readonly #client: MqttClient;
  readonly #o: MqttTransportOptions;
  readonly #commandFns: Array<(c: DeviceCommand) => void> = [];
  readonly #connFns: Array<(connected: boolean) => void> = [];
  readonly #log: (line: string) => void;
  #wasConnected = false;

  private constructor(client: MqttClient, o: MqttTransportOptions) {
    this.#client = client;
    this.#o = o;
    this.#log = o.log ?? ((l) => console.warn(l));
    client.on('message', (topic, payload) => {
      if (topic !== deviceTopic(o.deviceId, 'commands')) return;
      const parsed = decodePayload('commands', payload);
      if (!parsed.ok) {
        this.#log(`agent: command dropped (${parsed.field}: ${parsed.message})`);
        return;
      }
      for (const fn of this.#commandFns) fn(parsed.value);
    });
    client.on('connect', () => {
      void this.#announce();
      if (!this.#wasConnected) for (const fn of this.#connFns) fn(true);
      this.#wasConnected = true;
    });
    client.on('close', () => {
      if (this.#wasConnected) for (const fn of this.#connFns) fn(false);
      this.#wasConnected = false;
    });
    client.on('error', (e) => this.#log(`agent: mqtt ${e.message}`));
  }

  /**
   * Connects (and keeps reconnecting); resolves once the first connection and subscription are made. A broker that
   * goes away between accepting the connection and granting the subscription is waited for (the credentials were
   * good: the reconnection goes on).
   * @throws when the first connection fails or is refused, or the broker refuses the subscription (nothing is left
   * running then)
   */
  static async connect(o: MqttTransportOptions): Promise<MqttTransport> {
    const state = deviceTopic(o.deviceId, 'state');
    const client = mqtt.connect(o.url, {
      protocolVersion: 4,
      username: o.deviceId,
      password: o.secret,
      clientId: o.deviceId,
      clean: false,
      keepalive: 15,
      reconnectPeriod: o.reconnectPeriodMs ?? 2000,
      will: { topic: state, payload: encodePayload('state', { status: 'offline', agentVersion: o.agentVersion ?? '0.1.0' }), qos: 1, retain: true },
    });
    const t = new MqttTransport(client, o);
    await new Promise<void>((resolve, reject) => {
      const onErr = (e: Error): void => {
        client.off('connect', onOk);
        client.end(true);
        reject(new Error(`cannot connect to ${o.url} as ${o.deviceId}: ${e.message}`));
      };
      const onOk = (): void => {
        client.off('error', onErr);
        resolve();
      };
      client.once('connect', onOk);
      client.once('error', onErr);
    });
    try {
      for (;;) {
        try {
          await client.subscribeAsync(deviceTopic(o.deviceId, 'commands'), { qos: 1 });
          break;
        } catch (e) {
          if (client.connected) throw e;
          // Wait for the reconnection; a broker that now refuses the credentials (a CONNACK code) ends the wait.
          await new Promise<void>((resolve, reject) => {
            const ok = (): void => {
              client.off('error', refused);
              resolve();
            };
            const refused = (err: Error & { code?: unknown }): void => {
              if (typeof err.code !== 'number') return;
              client.off('connect', ok);
              client.off('error', refused);
              reject(new Error(`cannot connect to ${o.url} as ${o.deviceId}: ${err.message}`));
            };
            client.once('connect', ok);
            client.on('error', refused);
          });
        }
      }
    } catch (e) {
      client.end(true);
      throw e;
    }
    t.#wasConnected = true;
    return t;
  }

  async #announce(): Promise<void> {
    try {
      await this.#client.publishAsync(deviceTopic(this.#o.deviceId, 'state'), encodePayload('state', { status: 'online', agentVersion: this.#o.agentVersion ?? '0.1.0', at: Date.now() }), {
        qos: CHANNEL_QOS.state,
        retain: CHANNEL_RETAIN.state,
      });
    } catch (e) {
      this.#log(`agent: state not announced: ${(e as Error).message}`);
    }
  }

  get connected(): boolean {
    return this.#client.connected;
  }

  publish(kind: ReportKind, payload: DeviceReport | InstanceReport): Promise<void> {
    let body: Buffer;
    try {
      body = kind === 'telemetry' ? encodePayload('telemetry', payload as DeviceReport) : encodePayload('instances', payload as InstanceReport);
    } catch (e) {
      return Promise.reject(new UndeliverableError((e as Error).message));
    }
    if (!this.#client.connected) return Promise.reject(new Error('not connected'));
    const timeout = this.#o.publishTimeoutMs ?? 15_000;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no acknowledgement within ${timeout} ms`)), timeout);
      this.#client.publish(deviceTopic(this.#o.deviceId, kind), body, { qos: CHANNEL_QOS[kind], retain: false }, (e) => {
        clearTimeout(timer);
        if (e) reject(e);
        else resolve();
      });
    });
  }

  onCommand(fn: (command: DeviceCommand) => void): void {
    this.#commandFns.push(fn);
  }

  onConnectionChange(fn: (connected: boolean) => void): void {
    this.#connFns.push(fn);
  }

  /** Says goodbye (retained offline) and disconnects. */
  async close(): Promise<void> {
    const connected = this.#client.connected;
    try {
      if (connected) {
        await this.#client.publishAsync(deviceTopic(this.#o.deviceId, 'state'), encodePayload('state', { status: 'offline', agentVersion: this.#o.agentVersion ?? '0.1.0', at: Date.now() }), { qos: 1, retain: true });
      }
    } finally {
      // Disconnected: nothing in flight can be delivered, so do not wait for it.
      await this.#client.endAsync(!connected);
    }
  }
}
