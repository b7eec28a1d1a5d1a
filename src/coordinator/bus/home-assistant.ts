// Home Assistant MQTT discovery on the embedded broker: each room with a heater appears as a `climate` entity. Once
// per loop period the coordinator retains, for every room whose values changed, its discovery config and states
// (protocol/mqtt.ts); commands from Home Assistant go through the setpoint route's own validation (api/setpoint.ts).
import mqtt, { type MqttClient } from 'mqtt';
import {
  COORDINATOR_USERNAME,
  HA_ALL_COMMANDS_FILTER,
  HA_DISCOVERY_PREFIX,
  HA_STATES,
  decodeHaCommand,
  haClimateConfig,
  haConfigTopic,
  haStatePayloads,
  haStateTopic,
  isDiscoveryPrefix,
  isRoomId,
  parseHaTopic,
  type HaCommand,
  type HaRoomState,
} from '../../protocol/mqtt.ts';
import { RoomSpecSchema, setpointAt, type RoomSpec } from '../../protocol/platform.ts';
import { HttpError } from '../api/http-error.ts';
import { writeRoomSetpoint } from '../api/setpoint.ts';
import { compileBody } from '../api/validation.ts';
import type { EventHub } from '../events.ts';
import type { RegistryRow, Store } from '../store/types.ts';

const isRoomSpec = compileBody(RoomSpecSchema);

/** The `by` of setpoint events that came from Home Assistant. */
export const HA_ACTOR = 'home-assistant';

export interface HomeAssistantOptions {
  /** `mqtt://host:port` of the embedded broker. */
  url: string;
  /** The coordinator's secret. */
  password: string;
  /** Default {@link COORDINATOR_USERNAME}. */
  username?: string;
  /** Default `@coordinator/home-assistant` (the broker wants the coordinator's client ids to start with `@coordinator`). */
  clientId?: string;
  store: Store;
  /** Where setpoint events are announced (the API's live streams). */
  events?: EventHub;
  /** Default `homeassistant`; must be the broker's. */
  discoveryPrefix?: string;
  /** A room is available while one of its heaters reported within this, s; default 60. */
  onlineWithinS?: number;
  /** Refused commands and publish failures, one line each; default console.warn. */
  log?: (line: string) => void;
  /** Give up the first connection after this long, ms; default 10 000. */
  connectTimeoutMs?: number;
}

export interface HomeAssistantCounters {
  /** Retained messages published (configs, states, clearings). */
  published: number;
  commands: {
    /** Setpoints stored, modes acknowledged. */
    accepted: number;
    /** Commands refused: not a number, oversized, outside the room's limits, unknown mode or room. */
    refused: number;
  };
  /** Publishes the broker did not acknowledge. */
  sendErrors: number;
}

/** What a room's entity shows, computed from the registry and the latest telemetry. */
interface RoomView {
  config: string;
  states: Record<string, string | undefined>;
}

/** The coordinator's side of Home Assistant discovery. Create it with {@link HomeAssistantBridge.connect}. */
export class HomeAssistantBridge {
  readonly counters: HomeAssistantCounters = { published: 0, commands: { accepted: 0, refused: 0 }, sendErrors: 0 };
  readonly discoveryPrefix: string;
  readonly #client: MqttClient;
  readonly #o: HomeAssistantOptions;
  readonly #log: (line: string) => void;
  /** Last payload retained per topic ('' = cleared). */
  readonly #last = new Map<string, string>();
  /** Rooms whose entity is published. */
  readonly #rooms = new Set<string>();
  /** Commands are applied one at a time, in arrival order. */
  #queue: Promise<void> = Promise.resolve();

  private constructor(client: MqttClient, o: HomeAssistantOptions, prefix: string) {
    this.#client = client;
    this.#o = o;
    this.discoveryPrefix = prefix;
    this.#log = o.log ?? ((line: string) => console.warn(line));
    client.on('message', (topic, payload) => {
      this.#queue = this.#queue.then(() => this.#command(topic, payload));
    });
  }

  /**
   * Connects as the coordinator and subscribes to every room's commands; resolves once the broker granted it.
   * @throws when the broker refuses the login or the subscription, or does not answer within connectTimeoutMs
   */
  static async connect(o: HomeAssistantOptions): Promise<HomeAssistantBridge> {
    const prefix = o.discoveryPrefix ?? HA_DISCOVERY_PREFIX;
    if (!isDiscoveryPrefix(prefix)) throw new TypeError(`invalid discovery prefix ${JSON.stringify(prefix)}`);
    const username = o.username ?? COORDINATOR_USERNAME;
    const client = await mqtt.connectAsync(o.url, {
      protocolVersion: 4,
      username,
      password: o.password,
      clientId: o.clientId ?? `${username}/home-assistant`,
      clean: false,
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      reconnectPeriod: 1_000,
      keepalive: 30,
      resubscribe: true,
    });
    try {
      await client.subscribeAsync(HA_ALL_COMMANDS_FILTER, { qos: 1 });
    } catch (e) {
      await client.endAsync(true);
      throw new Error(`the broker refused the subscription to ${HA_ALL_COMMANDS_FILTER}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const bridge = new HomeAssistantBridge(client, o, prefix);
    client.on('error', (e) => bridge.#log(`home assistant: ${e.message}`));
    return bridge;
  }

  /**
   * Publishes what changed since the last call: each room with a heater gets its discovery config and states
   * (retained); a room that lost its last heater or was deleted is cleared. Call it once per loop period.
   * @param nowMs now, ms since the epoch (availability and the setpoint in force)
   * @returns the number of messages published
   */
  async sync(nowMs: number): Promise<number> {
    const views = await this.#views(nowMs);
    let n = 0;
    for (const [roomId, view] of views) {
      this.#rooms.add(roomId);
      if (this.#publish(haConfigTopic(this.discoveryPrefix, roomId), view.config)) n++;
      for (const state of HA_STATES) {
        const payload = view.states[state];
        if (payload !== undefined && this.#publish(haStateTopic(roomId, state), payload)) n++;
      }
    }
    for (const roomId of [...this.#rooms]) {
      if (views.has(roomId)) continue;
      this.#rooms.delete(roomId);
      for (const topic of [haConfigTopic(this.discoveryPrefix, roomId), ...HA_STATES.map((s) => haStateTopic(roomId, s))]) if (this.#publish(topic, '')) n++;
    }
    return n;
  }

  /** Resolves once every command received so far is applied (or refused). */
  idle(): Promise<void> {
    return this.#queue;
  }

  /** Disconnects (after what is in flight). Idempotent. */
  async close(): Promise<void> {
    await this.#queue;
    await this.#client.endAsync();
  }

  /** Each room with a valid spec, a topic-safe id and at least one heater, as its entity shows it now. */
  async #views(nowMs: number): Promise<Map<string, RoomView>> {
    const { store } = this.#o;
    const rooms = await store.listRegistry({ kind: 'room' });
    const heaters = await store.listRegistry({ kind: 'heater' });
    const byRoom = new Map<string, RegistryRow[]>();
    for (const h of heaters) if (h.parentId !== null) byRoom.set(h.parentId, [...(byRoom.get(h.parentId) ?? []), h]);
    const latest = new Map((await store.latestTelemetry(heaters.map((h) => h.id))).map((s) => [s.deviceId, s]));
    const onlineMs = (this.#o.onlineWithinS ?? 60) * 1000;
    const out = new Map<string, RoomView>();
    for (const room of rooms) {
      const inRoom = byRoom.get(room.id);
      if (!inRoom || !isRoomId(room.id) || !isRoomSpec(room.spec)) continue;
      const spec = room.spec as RoomSpec;
      let sum = 0;
      let count = 0;
      let available = false;
      for (const h of inRoom) {
        const s = latest.get(h.id);
        if (!s) continue;
        const airC = s.data.airC;
        if (typeof airC === 'number' && Number.isFinite(airC)) {
          sum += airC;
          count++;
        }
        if (s.time >= nowMs - onlineMs) available = true;
      }
      const state: HaRoomState = {
        currentC: count === 0 ? null : sum / count,
        targetC: spec.comfortC,
        available,
        attributes: { setpointNowC: setpointAt(spec, nowMs), minC: spec.minC, maxC: spec.maxC, scheduled: (spec.schedule?.weekly.length ?? 0) > 0, heaters: inRoom.length },
      };
      out.set(room.id, { config: JSON.stringify(haClimateConfig({ id: room.id, name: room.name, minC: spec.minC, maxC: spec.maxC })), states: haStatePayloads(state) });
    }
    return out;
  }

  /** Retains `payload` on `topic` unless it is what was last retained there (or `force`); true when published. */
  #publish(topic: string, payload: string, force = false): boolean {
    if (!force && this.#last.get(topic) === payload) return false;
    this.#last.set(topic, payload);
    this.counters.published++;
    this.#client.publish(topic, payload, { qos: 1, retain: true }, (e) => {
      if (!e) return;
      this.counters.sendErrors++;
      this.#log(`home assistant: publish to ${topic} failed: ${e.message}`);
    });
    return true;
  }

  /** Applies one command, or refuses it (counted, logged, the state republished); never throws. */
  async #command(topic: string, payload: Buffer): Promise<void> {
    const t = parseHaTopic(topic);
    if (t?.kind !== 'command') {
      this.#refuse(undefined, undefined, `message on ${JSON.stringify(topic.slice(0, 200))}: not a command topic`);
      return;
    }
    const { roomId, command } = t;
    const decoded = decodeHaCommand(command, payload);
    if (!decoded.ok) {
      await this.#refuseAndRepublish(roomId, command, decoded.message);
      return;
    }
    if (command === 'mode') {
      // `heat` is the only mode: acknowledged by republishing it.
      this.counters.commands.accepted++;
      this.#publish(haStateTopic(roomId, 'mode'), 'heat', true);
      return;
    }
    try {
      const row = await writeRoomSetpoint(this.#o.store, this.#o.events, roomId, decoded.value, { accountId: null, by: HA_ACTOR });
      this.counters.commands.accepted++;
      this.#publish(haStateTopic(roomId, 'target_temperature'), String((row.spec as RoomSpec).comfortC));
    } catch (e) {
      await this.#refuseAndRepublish(roomId, command, e instanceof HttpError ? e.message : `store error: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  #refuse(roomId: string | undefined, command: HaCommand | undefined, reason: string): void {
    this.counters.commands.refused++;
    try {
      // eslint-disable-next-line no-control-regex -- a payload or topic can hold control characters
      this.#log(`home assistant: refused ${command ?? 'command'}${roomId === undefined ? '' : ` for room ${roomId}`}: ${reason.replace(/[\u0000-\u001f\u007f]/g, '?').slice(0, 300)}`);
    } catch {
      // a failing logger must not stop the bridge
    }
  }

  /** Counts and logs a refusal, then republishes the room's current value so Home Assistant shows it again. */
  async #refuseAndRepublish(roomId: string, command: HaCommand, reason: string): Promise<void> {
    this.#refuse(roomId, command, reason);
    if (command === 'mode') {
      this.#publish(haStateTopic(roomId, 'mode'), 'heat', true);
      return;
    }
    try {
      const room = await this.#o.store.getRegistry(roomId);
      if (room?.kind === 'room' && isRoomSpec(room.spec)) this.#publish(haStateTopic(roomId, 'target_temperature'), String((room.spec as RoomSpec).comfortC), true);
    } catch (e) {
      this.#log(`home assistant: cannot read room ${roomId}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}
