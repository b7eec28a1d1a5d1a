// The embedded MQTT 3.1.1 broker of the device bus (aedes on a TCP port): authenticates every connection against
// the store's device accounts and Home Assistant logins (plus one internal coordinator identity), authorises every
// publish, subscribe and delivery by topic, validates every payload against protocol/mqtt.ts, and counts and logs
// each refusal. The coordinator itself needs no connection: tap() hands it every accepted device message in process,
// already validated, and publishAsCoordinator() sends its commands through the same authorisation as a client's.
import { createServer, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Duplex, Readable } from 'node:stream';
import { Aedes, type AedesOptions, type AuthenticateError, type Client, type ConnectPacket, type PublishPacket, type Subscription } from 'aedes';
import { authenticate as authenticateToken, secretsEqual } from '../auth/tokens.ts';
import type { Store } from '../store/types.ts';
import {
  CHANNELS,
  CHANNEL_QOS,
  CHANNEL_RETAIN,
  COORDINATOR_USERNAME,
  DEVICE_CHANNELS,
  HA_ALL_COMMANDS_FILTER,
  HA_DISCOVERY_PREFIX,
  HA_MAX_COMMAND_BYTES,
  MAX_PACKET_BYTES,
  TOPIC_PREFIX,
  allDevicesFilter,
  decodeMessage,
  decodePayload,
  deviceTopic,
  haStatusTopic,
  isDeviceId,
  isDiscoveryPrefix,
  isHaUsername,
  parseHaConfigTopic,
  parseHaTopic,
  parseTopic,
  type BusMessage,
} from '../../protocol/mqtt.ts';
import { deviceEmail, isHaAccount } from './enrol.ts';

/** Refusals by kind, since the broker started. */
export interface RefusalCounters {
  /** Connections refused: unknown user, wrong secret, client id not the device's, forbidden last will. */
  auth: number;
  /** Publishes refused for their topic (the connection is closed, as MQTT 3.1.1 allows). */
  publish: number;
  /** Subscriptions refused (SUBACK 0x80; the connection stays up). */
  subscribe: number;
  /** Payloads dropped: too large, not UTF-8 JSON, invalid for the channel's schema, naming another device. */
  payload: number;
}

export interface BrokerCounters {
  refused: RefusalCounters;
  /** Connections accepted. */
  connections: number;
  /** Publishes accepted and routed. */
  published: number;
  /** Connections closed for a protocol error (garbage on the socket, bad packets). */
  protocolErrors: number;
}

/** How the coordinator's own client logs in (its secret is random, made at start unless given). */
export interface CoordinatorCredentials {
  username: string;
  password: string;
  clientId: string;
}

export interface BrokerOptions {
  /** Where device accounts and their hashed secrets live. */
  store: Store;
  /** TCP port; default 1883, 0 for any free port. */
  port?: number;
  /** Interface to listen on; default 127.0.0.1 (devices elsewhere need an operator to open it). */
  host?: string;
  /** The coordinator identity's secret; default 32 random bytes. */
  coordinatorSecret?: string;
  /** Where refusals are reported, one line each; default console.warn. */
  log?: (line: string) => void;
  /** Time a socket has to send CONNECT, ms; default 10 000. */
  connectTimeoutMs?: number;
  /** Home Assistant's discovery prefix (what its users may read configs under); default `homeassistant`. */
  discoveryPrefix?: string;
}

/** Where the in-process link hears the devices (see {@link DeviceBroker.tap}). */
export interface DeviceTap {
  /** A message the broker accepted on a device channel (telemetry, instances, state), validated. */
  message(message: BusMessage, topic: string): void;
  /** An empty retained state: the device's state was cleared. */
  cleared(deviceId: string): void;
}

export interface DeviceBroker {
  readonly host: string;
  readonly port: number;
  /** `mqtt://host:port` for clients (127.0.0.1 when listening on every interface). */
  readonly url: string;
  readonly coordinator: CoordinatorCredentials;
  readonly counters: BrokerCounters;
  /** Connected clients. */
  connectedClients(): number;
  /**
   * Hands the tap, in this process, every message the broker accepts on a device channel (after the same
   * authentication, authorisation and validation as for any subscriber; the decoded value is the one the broker
   * validated, so nothing is serialised or parsed again), starting with the retained states. Resolves once
   * subscribed, with the detach.
   */
  tap(tap: DeviceTap): Promise<() => Promise<void>>;
  /**
   * Publishes a command as the coordinator, in process: the coordinator's publish authorisation and the payload's
   * validation as for its connection, then routed like any publish at the channel's QoS (queued in an offline
   * device's session). `done` gets the refusal or routing error.
   */
  publishAsCoordinator(topic: string, payload: Buffer, done: (error?: Error | null) => void): void;
  /** Closes the device's connection, if any (after its secret was rotated); true when there was one. */
  disconnect(deviceId: string): Promise<boolean>;
  /** Closes every connection of a Home Assistant login (after it was revoked); how many there were. */
  disconnectLogin(username: string): Promise<number>;
  /** Stops listening and closes every connection. Idempotent. */
  close(): Promise<void>;
}

/**
 * Who a connection is. A Home Assistant login's rooms are read from its account when it connects (a change of
 * scope applies from its next connection).
 */
type Identity = { kind: 'device'; deviceId: string } | { kind: 'coordinator' } | { kind: 'home-assistant'; username: string; roomIds: ReadonlySet<string> };

/**
 * What authorise() decoded, on the payload buffer itself (aedes hands subscribers a copy of the packet that holds the
 * same buffer), with the topic it was validated for: the tap reuses the value instead of parsing it again. A symbol
 * of this module: nothing else can set it. (A WeakMap cost 1.5 µs more per message, most of it in the collector.)
 */
const VALIDATED = Symbol('hearth.validated');
type Marked = Buffer & { [VALIDATED]?: { topic: string; message: BusMessage } };

/** The coordinator publishing in process (no client). */
const IN_PROCESS: Identity = { kind: 'coordinator' };

/** The topic a payload refusal is re-routed to: nobody may subscribe to it and it is never forwarded. */
const SINK_TOPIC = '$hearth/dropped';
const CHANNEL_SET: ReadonlySet<string> = new Set(CHANNELS);

/**
 * The filters the coordinator may subscribe to: `hearth/v1/devices/#`, `hearth/v1/devices/{id|+}/{channel|+|#}` and
 * Home Assistant's commands, `hearth/v1/rooms/+/ha/+/set`.
 */
function coordinatorMaySubscribe(filter: string): boolean {
  if (filter === HA_ALL_COMMANDS_FILTER) return true;
  if (!filter.startsWith(`${TOPIC_PREFIX}/`)) return false;
  const rest = filter.slice(TOPIC_PREFIX.length + 1).split('/');
  if (rest.length === 1) return rest[0] === '#';
  if (rest.length !== 2) return false;
  const [device, channel] = rest;
  return (device === '+' || isDeviceId(device)) && (channel === '+' || channel === '#' || CHANNEL_SET.has(channel));
}

/** Errors the broker raised itself (refusals, counted and logged already), as aedes hands them back in events. */
const OWN_ERRORS = new WeakSet<Error>();

function ownError<E extends Error>(error: E): E {
  OWN_ERRORS.add(error);
  return error;
}

function authError(message: string, returnCode: 2 | 3 | 4 | 5): AuthenticateError {
  return ownError(Object.assign(new Error(message), { returnCode }));
}

/** Printable and short: what a client sent, for a log line. */
function quote(s: string | undefined, max = 80): string {
  if (s === undefined) return '(none)';
  const t = s.length > max ? `${s.slice(0, max)}…` : s;
  return JSON.stringify(t);
}

/** A reason fit for one log line: control characters (a payload's keys can hold newlines) masked, length capped. */
function printable(s: string, max = 500): string {
  // eslint-disable-next-line no-control-regex
  const t = s.replace(/[\u0000-\u001f\u007f]/g, '?');
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

/**
 * Reads MQTT fixed headers as bytes go by and reports a packet whose remaining length exceeds the limit, before
 * it is buffered (aedes itself would buffer up to 256 MB per packet).
 */
class FrameScanner {
  #inLength = false;
  #length = 0;
  #multiplier = 1;
  #lengthBytes = 0;
  #skip = 0;
  constructor(readonly maxBytes: number) {}

  /** Feeds bytes; returns an error message when the stream must be closed. */
  feed(chunk: Buffer): string | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - i);
        this.#skip -= n;
        i += n;
        continue;
      }
      const b = chunk[i++];
      if (!this.#inLength) {
        this.#inLength = true;
        this.#length = 0;
        this.#multiplier = 1;
        this.#lengthBytes = 0;
        continue;
      }
      this.#length += (b & 0x7f) * this.#multiplier;
      this.#multiplier *= 128;
      this.#lengthBytes++;
      if (b & 0x80) {
        if (this.#lengthBytes === 4) return 'malformed remaining length';
        continue;
      }
      if (this.#length > this.maxBytes) return `packet of ${this.#length} bytes, over the limit of ${this.maxBytes}`;
      this.#inLength = false;
      this.#skip = this.#length;
    }
    return undefined;
  }
}

/** A socket as aedes sees it, with a frame-size guard on the way in. */
class GuardedSocket extends Duplex {
  readonly #socket: Socket;
  constructor(socket: Socket, maxFrameBytes: number, onOversize: (reason: string) => void) {
    super({ allowHalfOpen: false });
    this.#socket = socket;
    const scanner = new FrameScanner(maxFrameBytes);
    socket.on('data', (chunk: Buffer) => {
      const bad = scanner.feed(chunk);
      if (bad !== undefined) {
        onOversize(bad);
        socket.destroy();
        return;
      }
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (e) => this.destroy(e));
    socket.on('close', () => this.destroy());
  }
  override _read(): void {
    this.#socket.resume();
  }
  /**
   * Writes are held (corked) until the check phase of the event loop and leave together: aedes writes each delivery
   * from its own setImmediate and mqtt-packet writes a packet in three or four pieces, so uncorked the link's
   * socket took a system call per piece (a fifth of the coordinator's busy time at 10,000 telemetry messages/s).
   * Backpressure is unchanged: a write past the socket's high-water mark completes only on 'drain'.
   */
  #corked = false;
  readonly #uncork = (): void => {
    this.#corked = false;
    this.#socket.uncork();
  };
  #send(chunks: Buffer[], callback: (error?: Error | null) => void): void {
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      setImmediate(this.#uncork);
    }
    let ok = true;
    for (const c of chunks) ok = this.#socket.write(c);
    if (ok) callback();
    else this.#socket.once('drain', () => callback());
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#send([chunk], callback);
  }
  override _writev(chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>, callback: (error?: Error | null) => void): void {
    this.#send(
      chunks.map((c) => c.chunk),
      callback,
    );
  }
  override _final(callback: (error?: Error | null) => void): void {
    this.#socket.end(() => callback());
  }
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // What is corked leaves first (a refusing CONNACK is written just before the connection is closed).
    if (this.#corked) this.#uncork();
    this.#socket.destroy();
    callback(error);
  }
}

/**
 * aedes options set for throughput, also used by the raw-aedes baseline of bench/devices.ts.
 *
 * `concurrency: 0`: no global cap on messages in flight (aedes' default is 100). With the cap, (1) about 100
 * deliveries complete per turn of the event loop (each completes in a setImmediate); (2) messages beyond it wait in
 * mqemitter's queue, which is drained recursively when deliveries complete synchronously (no subscriber: the link
 * reconnecting, $SYS events during a reconnection storm): with a backlog of a few thousand the process died of a
 * stack overflow (github.com/mcollina/mqemitter/pull/204); (3) a few subscribers that stop reading would hold every
 * slot until drainTimeout. Memory stays bounded without it: aedes reads a client's next chunk only once the
 * publishes of the previous one are delivered, and waits for a subscriber's socket to drain.
 */
export const AEDES_TUNING = { concurrency: 0 } as const satisfies AedesOptions;

/** The part of aedes' persistence that holds retained messages (its default is in memory). */
export interface RetainedStore {
  storeRetained(packet: PublishPacket): Promise<void>;
  createRetainedStreamCombi(patterns: string[]): Readable;
}

/**
 * Indexes retained messages by topic. The default persistence answers every SUBSCRIBE by testing each retained
 * message against the filter: every device retains its state, and every device subscribes to its commands when it
 * connects, so connecting n devices cost O(n²) (150 s for 10,000). A filter without wildcards (every device's) is
 * now one map lookup; a wildcard filter (the coordinator's, once per connection) still scans. Call it on the
 * persistence of a broker just created, before any client connects.
 */
export function indexRetained(persistence: RetainedStore): void {
  const byTopic = new Map<string, PublishPacket>();
  const store = persistence.storeRetained.bind(persistence);
  const combi = persistence.createRetainedStreamCombi.bind(persistence);
  persistence.storeRetained = async (packet) => {
    await store(packet);
    if (packet.payload.length === 0) byTopic.delete(packet.topic);
    else byTopic.set(packet.topic, { ...packet });
  };
  persistence.createRetainedStreamCombi = (patterns) => {
    if (patterns.some((p) => p.includes('+') || p.includes('#'))) return combi(patterns);
    const found: PublishPacket[] = [];
    for (const p of patterns) {
      const packet = byTopic.get(p);
      if (packet) found.push(packet);
    }
    return Readable.from(found);
  };
}

/**
 * Starts the embedded broker and resolves once it listens.
 * @throws when the port cannot be bound
 */
export async function startBroker(options: BrokerOptions): Promise<DeviceBroker> {
  const { store } = options;
  const prefix = options.discoveryPrefix ?? HA_DISCOVERY_PREFIX;
  if (!isDiscoveryPrefix(prefix)) throw new TypeError(`invalid discovery prefix ${JSON.stringify(prefix)}`);
  const statusTopic = haStatusTopic(prefix);
  const log = options.log ?? ((line: string) => console.warn(line));
  const coordinator: CoordinatorCredentials = {
    username: COORDINATOR_USERNAME,
    password: options.coordinatorSecret ?? randomBytes(32).toString('base64url'),
    clientId: COORDINATOR_USERNAME,
  };
  const counters: BrokerCounters = { refused: { auth: 0, publish: 0, subscribe: 0, payload: 0 }, connections: 0, published: 0, protocolErrors: 0 };
  const identities = new WeakMap<Client, Identity>();
  const wills = new WeakMap<Client, ConnectPacket['will'] | null>();
  const addresses = new WeakMap<Client, string>();
  const live = new Map<string, Client>();

  const who = (client: Client | null): string => {
    if (!client) return 'client=(none)';
    const id = identities.get(client);
    const user = id === undefined ? '' : id.kind === 'device' ? ` device=${id.deviceId}` : id.kind === 'home-assistant' ? ` ha=${id.username}` : ' coordinator';
    return `client=${quote(client.id)}${user} addr=${addresses.get(client) ?? '?'}`;
  };
  const refuse = (kind: keyof RefusalCounters, client: Client | null, reason: string): void => {
    counters.refused[kind]++;
    try {
      log(`mqtt: refused ${kind}: ${printable(reason)} (${who(client)})`);
    } catch {
      // a failing logger must not take the broker down
    }
  };

  const preConnect: AedesOptions['preConnect'] = (client, packet, done) => {
    wills.set(client, packet.will ?? null);
    done(null, true);
  };

  /**
   * A Home Assistant login: its account's token, a client id that is not the coordinator's or an enrolled device's
   * (aedes would hand that session over, disconnecting the device), a last will only on Home Assistant's status topic.
   */
  const homeAssistant = async (client: Client, username: string, secret: string, will: ConnectPacket['will'] | null): Promise<Identity> => {
    if (secret.length > 1024) throw authError('secret too long', 4);
    let found: Awaited<ReturnType<typeof authenticateToken>>;
    try {
      found = await authenticateToken(store, secret);
    } catch (e) {
      throw authError(`store unavailable: ${e instanceof Error ? e.message : String(e)}`, 3);
    }
    if (!found || !isHaAccount(found.account, username)) throw authError(`wrong secret for ${username}`, 4);
    if (client.id.startsWith('@') || (isDeviceId(client.id) && (await store.getAccountByEmail(deviceEmail(client.id))) !== undefined)) {
      throw authError(`client id ${quote(client.id)} is reserved`, 2);
    }
    const holder = live.get(client.id);
    const held = holder === undefined ? undefined : identities.get(holder);
    if (held !== undefined && !(held.kind === 'home-assistant' && held.username === username)) throw authError(`client id ${quote(client.id)} is another login's`, 2);
    if (will && (will.topic !== statusTopic || Buffer.byteLength(will.payload) > HA_MAX_COMMAND_BYTES)) throw authError(`last will on ${quote(will.topic)}, not ${statusTopic}`, 5);
    const roomIds = found.account.scope.roomIds;
    return { kind: 'home-assistant', username, roomIds: new Set(Array.isArray(roomIds) ? roomIds : []) };
  };

  /** Filters a Home Assistant login may subscribe to: anything under the discovery prefix, its rooms' states. */
  const haMaySubscribe = (roomIds: ReadonlySet<string>, filter: string): boolean => {
    if (filter.startsWith(`${prefix}/`)) return true; // deliveries are filtered per room (authorizeForward)
    const t = parseHaTopic(filter);
    return t?.kind === 'state' && roomIds.has(t.roomId);
  };

  /** What a Home Assistant login may receive: its rooms' configs and states, Home Assistant's status. */
  const haMayReceive = (roomIds: ReadonlySet<string>, topic: string): boolean => {
    if (topic === statusTopic) return true;
    const configRoom = parseHaConfigTopic(prefix, topic);
    if (configRoom !== undefined) return roomIds.has(configRoom);
    const t = parseHaTopic(topic);
    return t?.kind === 'state' && roomIds.has(t.roomId);
  };

  const authenticate: AedesOptions['authenticate'] = (client, username, password, done) => {
    const check = async (): Promise<Identity> => {
      if (username === undefined || username === '' || password === undefined) throw authError('username and password are required', 4);
      const secret = password.toString('utf8');
      const will = wills.get(client) ?? null;
      wills.delete(client);
      if (username === COORDINATOR_USERNAME) {
        if (!secretsEqual(secret, coordinator.password)) throw authError(`wrong secret for ${COORDINATOR_USERNAME}`, 4);
        if (!client.id.startsWith(COORDINATOR_USERNAME)) throw authError(`the coordinator's client id must start with ${COORDINATOR_USERNAME}`, 2);
        if (will) throw authError('the coordinator may not set a last will', 5);
        return { kind: 'coordinator' };
      }
      if (isHaUsername(username)) return homeAssistant(client, username, secret, will);
      if (!isDeviceId(username)) throw authError(`username ${quote(username)} is not a device id`, 4);
      if (secret.length > 1024) throw authError('secret too long', 4);
      let found: Awaited<ReturnType<typeof authenticateToken>>;
      try {
        found = await authenticateToken(store, secret);
      } catch (e) {
        throw authError(`store unavailable: ${e instanceof Error ? e.message : String(e)}`, 3);
      }
      if (!found || found.account.role !== 'device' || found.account.scope.deviceId !== username) throw authError(`wrong secret for device ${username}`, 4);
      if (client.id !== username) throw authError(`client id ${quote(client.id)} is not the device id ${username}`, 2);
      if (will) {
        if (will.topic !== deviceTopic(username, 'state')) throw authError(`last will on ${quote(will.topic)}, not the device's state topic`, 5);
        const state = decodePayload('state', will.payload);
        if (!state.ok) throw authError(`last will payload: ${state.message}`, 5);
        if (state.value.status !== 'offline') throw authError('a last will must say offline', 5);
      }
      return { kind: 'device', deviceId: username };
    };
    check().then(
      (identity) => {
        identities.set(client, identity);
        done(null, true);
      },
      (e: unknown) => {
        const err = e instanceof Error && OWN_ERRORS.has(e) ? (e as AuthenticateError) : authError(e instanceof Error ? e.message : String(e), 5);
        refuse('auth', client, `${err.message} (user ${quote(username)})`);
        done(err, false);
      },
    );
  };

  const authorizeSubscribe: AedesOptions['authorizeSubscribe'] = (client, sub: Subscription, done) => {
    const id = identities.get(client);
    const allowed =
      id?.kind === 'device'
        ? sub.topic === deviceTopic(id.deviceId, 'commands')
        : id?.kind === 'coordinator'
          ? coordinatorMaySubscribe(sub.topic)
          : id?.kind === 'home-assistant'
            ? haMaySubscribe(id.roomIds, sub.topic)
            : false;
    if (!allowed) {
      refuse('subscribe', client, `subscription to ${quote(sub.topic)}`);
      done(null, null);
      return;
    }
    done(null, sub);
  };

  /**
   * Publishes on Home Assistant's topics: the coordinator retains configs and states (an empty payload clears one);
   * a Home Assistant login sends its rooms' commands and its status (never retained; the coordinator validates
   * commands, the status is `online`/`offline`-sized). Undefined when the topic is none of these.
   */
  const haPublish = (client: Client | null, id: Identity | undefined, packet: PublishPacket, will: boolean): boolean | undefined => {
    const t = parseHaTopic(packet.topic);
    const config = t === undefined ? parseHaConfigTopic(prefix, packet.topic) : undefined;
    const status = packet.topic === statusTopic;
    if (t === undefined && config === undefined && !status) return undefined;
    if (will) return status; // a Home Assistant last will (checked at connect)
    if (id?.kind === 'coordinator') return config !== undefined || t?.kind === 'state';
    if (id?.kind !== 'home-assistant' || client === null) return false;
    packet.retain = false;
    if (status) return packet.payload.length <= HA_MAX_COMMAND_BYTES;
    return t?.kind === 'command' && id.roomIds.has(t.roomId);
  };

  /** Taps attached: payloads are marked {@link VALIDATED} only while there is one. */
  let tapped = 0;

  /**
   * Every publish, from a client (`client` set), a will left behind by a connection this broker no longer has
   * (`client` null, no identity: wills were checked at connect) or the coordinator in process (`client` null,
   * {@link IN_PROCESS}): null when accepted (the packet may be rewritten: retain flag, a dropped payload sent to the
   * sink), else the refusal, counted and logged.
   */
  const authorise = (client: Client | null, id: Identity | undefined, packet: PublishPacket): Error | null => {
    const will = client === null && id === undefined;
    try {
      // A device topic first (every device message): none of Home Assistant's topics is one.
      const topic = parseTopic(packet.topic);
      const ha = topic === undefined ? haPublish(will ? null : client, id, packet, will) : undefined;
      if (ha !== undefined) {
        if (!ha) {
          refuse('publish', client, `publish to ${quote(packet.topic)}`);
          return ownError(new Error(`publish to ${packet.topic} refused`));
        }
        counters.published++;
        return null;
      }
      const allowed =
        topic !== undefined &&
        (will
          ? topic.channel === 'state'
          : id?.kind === 'device'
            ? topic.deviceId === id.deviceId && topic.channel !== 'commands'
            : id?.kind === 'coordinator' && topic.channel === 'commands');
      if (!allowed || topic === undefined) {
        refuse('publish', client, `publish to ${quote(packet.topic)}`);
        return ownError(new Error(`publish to ${packet.topic} refused`));
      }
      const message = decodeMessage(packet.topic, packet.payload, topic);
      if (!message.ok) {
        refuse('payload', client, `on ${packet.topic}: ${message.message}`);
        if (id === IN_PROCESS) return ownError(new Error(`invalid payload on ${packet.topic}: ${message.message}`));
        // Acknowledged and dropped, not disconnected: an agent that replays a bad report from its disk buffer must
        // not be locked out by it.
        packet.topic = SINK_TOPIC;
        packet.payload = Buffer.alloc(0);
        packet.retain = false;
        return null;
      }
      packet.retain = CHANNEL_RETAIN[topic.channel];
      if (tapped > 0 && topic.channel !== 'commands' && typeof packet.payload !== 'string') (packet.payload as Marked)[VALIDATED] = { topic: packet.topic, message: message.value };
      counters.published++;
      return null;
    } catch (e) {
      refuse('publish', client, `publish to ${quote(packet.topic)}: ${e instanceof Error ? e.message : String(e)}`);
      return ownError(e instanceof Error ? e : new Error(String(e)));
    }
  };

  const authorizePublish: AedesOptions['authorizePublish'] = (client, packet: PublishPacket, done) => {
    done(authorise(client, client ? identities.get(client) : undefined, packet));
  };

  const authorizeForward: AedesOptions['authorizeForward'] = (client, packet) => {
    if (packet.topic === SINK_TOPIC) return null;
    const id = identities.get(client);
    // A Home Assistant login subscribed under the discovery prefix sees only its own rooms' configs.
    if (id?.kind === 'home-assistant' && !haMayReceive(id.roomIds, packet.topic)) return null;
    return packet;
  };

  const broker = await Aedes.createBroker({
    connectTimeout: options.connectTimeoutMs ?? 10_000,
    ...AEDES_TUNING,
    preConnect,
    authenticate,
    authorizeSubscribe,
    authorizePublish,
    authorizeForward,
  });

  indexRetained((broker as unknown as { persistence: RetainedStore }).persistence);

  broker.on('client', (client) => {
    counters.connections++;
    live.set(client.id, client);
  });
  broker.on('clientDisconnect', (client) => {
    if (live.get(client.id) === client) live.delete(client.id);
  });
  // Connections already counted: aedes reports an error for every delivery that fails on a closed connection, so
  // the link dropping with a backlog made thousands of lines (9,517 with 10,000 devices) for one connection.
  const closedOnError = new WeakSet<Client>();
  const protocolError = (client: Client | null, error: Error): void => {
    // Refusals surface here too; they were counted and logged already.
    if (OWN_ERRORS.has(error)) return;
    if (client) {
      if (closedOnError.has(client)) return;
      closedOnError.add(client);
    }
    counters.protocolErrors++;
    try {
      log(`mqtt: closed ${client ? who(client) : 'client=(none)'}: ${printable(error.message)}`);
    } catch {
      // ignore
    }
  };
  broker.on('clientError', protocolError);
  broker.on('connectionError', protocolError);

  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.setNoDelay(true);
    const address = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    let client: Client | undefined;
    const conn = new GuardedSocket(socket, MAX_PACKET_BYTES, (reason) => {
      counters.refused.payload++;
      try {
        log(`mqtt: refused payload: ${reason}, connection closed (${client ? who(client) : `addr=${address}`})`);
      } catch {
        // ignore
      }
    });
    conn.on('error', () => undefined);
    try {
      client = broker.handle(conn);
      addresses.set(client, address);
    } catch (e) {
      protocolError(null, e instanceof Error ? e : new Error(String(e)));
      socket.destroy();
    }
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 1883, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => log(`mqtt: server error: ${e.message}`));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : (options.port ?? 1883);
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;

  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    url: `mqtt://${urlHost}:${port}`,
    coordinator,
    counters,
    connectedClients: () => broker.connectedClients,
    tap: async (tap) => {
      const deliver = (packet: PublishPacket, callback: () => void): void => {
        try {
          const seen = typeof packet.payload === 'string' ? undefined : (packet.payload as Marked)[VALIDATED];
          if (seen !== undefined && seen.topic === packet.topic) {
            tap.message(seen.message, packet.topic);
            return;
          }
          // Not validated on the way in (a retained message stored before the tap): validated now, the same way.
          const topic = parseTopic(packet.topic);
          if (topic?.channel === 'state' && packet.payload.length === 0) return tap.cleared(topic.deviceId);
          const message = decodeMessage(packet.topic, packet.payload);
          if (!message.ok) return refuse('payload', null, `on ${packet.topic}: ${message.message}`);
          tap.message(message.value, packet.topic);
        } catch (e) {
          log(`mqtt: in-process delivery on ${quote(packet.topic)} failed: ${printable(e instanceof Error ? e.message : String(e))}`);
        } finally {
          callback();
        }
      };
      const filters = DEVICE_CHANNELS.map((c) => allDevicesFilter(c));
      tapped++;
      for (const f of filters) await new Promise<void>((resolve, reject) => broker.subscribe(f, deliver, (e?: Error) => (e ? reject(e) : resolve())));
      // What was retained before (devices' states): as a new subscriber would get it.
      const persistence = (broker as unknown as { persistence: RetainedStore }).persistence;
      for await (const packet of persistence.createRetainedStreamCombi([allDevicesFilter('state')]) as AsyncIterable<PublishPacket>) deliver(packet, () => undefined);
      let detached: Promise<void> | undefined;
      return () =>
        (detached ??= (async () => {
          tapped--;
          for (const f of filters) await new Promise<void>((resolve) => broker.unsubscribe(f, deliver, () => resolve()));
        })());
    },
    publishAsCoordinator: (topic, payload, done) => {
      const packet = { cmd: 'publish', topic, payload, qos: CHANNEL_QOS.commands, retain: false, dup: false } as PublishPacket;
      const refused = authorise(null, IN_PROCESS, packet);
      if (refused) return done(refused);
      broker.publish(packet, (e?: Error) => done(e ?? null));
    },
    disconnect: (deviceId) =>
      new Promise<boolean>((resolve) => {
        const client = live.get(deviceId);
        if (!client) return resolve(false);
        client.close(() => resolve(true));
      }),
    disconnectLogin: async (username) => {
      const theirs = [...live.values()].filter((c) => {
        const id = identities.get(c);
        return id?.kind === 'home-assistant' && id.username === username;
      });
      await Promise.all(theirs.map((c) => new Promise<void>((resolve) => c.close(() => resolve()))));
      return theirs.length;
    },
    close: () =>
      (closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        await new Promise<void>((resolve) => broker.close(() => resolve()));
        for (const s of sockets) s.destroy();
        await closed;
      })()),
  };
}
