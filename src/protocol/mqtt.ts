// The device bus on MQTT 3.1.1, defined once: the versioned topic scheme (`hearth/v1/devices/{deviceId}/…`), who
// publishes what with which QoS and retain flag, the size limits, and compiled validators for every payload.
import { Type, type Static, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { DeviceCommandSchema, DeviceReportSchema, InstanceReportSchema } from './device.ts';
import type { DeviceCommand, DeviceReport, InstanceReport } from './device.ts';

/** Every topic of the bus starts with this; the `v1` changes when a payload changes incompatibly. */
export const TOPIC_PREFIX = 'hearth/v1/devices';

/** A device id as it appears in topics, MQTT usernames and client ids: 1–128 of `A-Z a-z 0-9 . _ : -`. */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The coordinator's MQTT username (and client id). `@` is outside the device-id alphabet, so no enrolled device
 * can ever be taken for the coordinator.
 */
export const COORDINATOR_USERNAME = '@coordinator';

/** Largest payload accepted on any topic, bytes (256 KiB); a larger publish is dropped. */
export const MAX_PAYLOAD_BYTES = 256 * 1024;

/**
 * Largest MQTT packet a broker accepts, bytes: a payload at the limit plus room for the fixed header, topic and
 * packet id. A larger packet closes the connection before it is buffered.
 */
export const MAX_PACKET_BYTES = MAX_PAYLOAD_BYTES + 4096;

/** What a device publishes, each under its own prefix. */
export const DEVICE_CHANNELS = ['telemetry', 'instances', 'state'] as const;
export type DeviceChannel = (typeof DEVICE_CHANNELS)[number];
/** Every channel: the device's three and `commands` (coordinator → device). */
export const CHANNELS = [...DEVICE_CHANNELS, 'commands'] as const;
export type Channel = (typeof CHANNELS)[number];

/**
 * Delivery of each channel. Telemetry is periodic and the meter is cumulative, so a lost sample costs nothing
 * (QoS 0); instance reports, state and commands are at least once (QoS 1; the coordinator deduplicates instance
 * reports by attempt and seq). Only `state` is retained: a subscriber learns at once which devices are online.
 */
export const CHANNEL_QOS: Readonly<Record<Channel, 0 | 1>> = { telemetry: 0, instances: 1, state: 1, commands: 1 };
export const CHANNEL_RETAIN: Readonly<Record<Channel, boolean>> = { telemetry: false, instances: false, state: true, commands: false };

/** True when `id` may name a device on the bus. */
export function isDeviceId(id: unknown): id is string {
  return typeof id === 'string' && DEVICE_ID_PATTERN.test(id);
}

/**
 * The topic of one device's channel: `hearth/v1/devices/{deviceId}/{channel}`.
 * @throws TypeError when the device id is outside {@link DEVICE_ID_PATTERN}
 */
export function deviceTopic(deviceId: string, channel: Channel): string {
  if (!isDeviceId(deviceId)) throw new TypeError(`invalid device id ${JSON.stringify(deviceId)}: expected ${DEVICE_ID_PATTERN.source}`);
  return `${TOPIC_PREFIX}/${deviceId}/${channel}`;
}

/** The subscription filter for one channel of every device: `hearth/v1/devices/+/{channel}`. */
export function allDevicesFilter(channel: Channel): string {
  return `${TOPIC_PREFIX}/+/${channel}`;
}

/** A topic of the bus, read back. */
export interface ParsedTopic {
  deviceId: string;
  channel: Channel;
}

const CHANNEL_SET: ReadonlySet<string> = new Set(CHANNELS);

/** Reads a concrete topic (no wildcards) back into device id and channel; undefined for anything else. */
export function parseTopic(topic: string): ParsedTopic | undefined {
  if (!topic.startsWith(`${TOPIC_PREFIX}/`)) return undefined;
  const rest = topic.slice(TOPIC_PREFIX.length + 1).split('/');
  if (rest.length !== 2) return undefined;
  const [deviceId, channel] = rest;
  if (!isDeviceId(deviceId) || !CHANNEL_SET.has(channel)) return undefined;
  return { deviceId, channel: channel as Channel };
}

// ---------------------------------------------------------------------------------------------------------
// Payloads

/** The retained `state` of a device: online when it connects; the last will publishes `offline` (retained). */
export const DeviceStateSchema = Type.Object({
  status: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
  /** The agent's version string, e.g. `0.1.0`. */
  agentVersion: Type.Optional(Type.String({ maxLength: 64 })),
  /** When the device published it, epoch ms (absent in a last will, which is written at connection time). */
  at: Type.Optional(Type.Number()),
});
export type DeviceState = Static<typeof DeviceStateSchema>;

/** The payload type of each channel. */
export interface ChannelPayload {
  telemetry: DeviceReport;
  instances: InstanceReport;
  state: DeviceState;
  commands: DeviceCommand;
}

/** A validated value, or the first failure: the field's path (`assignment.cores`, `` for the whole) and why. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; field: string; message: string };

interface ErrorLike {
  instancePath?: string;
  keyword?: string;
  params?: Record<string, unknown>;
  message?: string;
}

/** `/assignment/env/0` → `assignment.env[0]`; the first missing property is appended for `required`. */
function fieldOf(error: ErrorLike): string {
  const parts = (error.instancePath ?? '')
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const missing = error.params?.requiredProperties;
  if (error.keyword === 'required' && Array.isArray(missing) && typeof missing[0] === 'string') parts.push(missing[0]);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out === '' ? p : `.${p}`;
  return out;
}

function failure(error: ErrorLike | undefined): { ok: false; field: string; message: string } {
  const field = error ? fieldOf(error) : '';
  const where = field === '' ? 'payload' : field;
  if (error?.keyword === 'required') return { ok: false, field, message: `${where} is required` };
  return { ok: false, field, message: `${where} ${error?.message ?? 'is invalid'}` };
}

/** A compiled check of one schema, returning {@link Parsed}. */
function validator<T>(schema: TSchema): (value: unknown) => Parsed<T> {
  const compiled = Compile(schema);
  return (value) => (compiled.Check(value) ? { ok: true, value: value as T } : failure(compiled.Errors(value)[0]));
}

/**
 * Commands are a union on `kind`: a known kind is checked against its own variant, so the error names the field
 * that is wrong in it (not "must match one of seven schemas").
 */
function commandValidator(): (value: unknown) => Parsed<DeviceCommand> {
  const byKind = new Map<string, (value: unknown) => Parsed<DeviceCommand>>();
  for (const variant of DeviceCommandSchema.anyOf) byKind.set(variant.properties.kind.const, validator<DeviceCommand>(variant));
  const kinds = [...byKind.keys()].join(', ');
  return (value) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, field: '', message: 'payload must be an object' };
    const kind = (value as { kind?: unknown }).kind;
    const check = typeof kind === 'string' ? byKind.get(kind) : undefined;
    if (!check) return { ok: false, field: 'kind', message: `kind must be one of ${kinds}` };
    return check(value);
  };
}

/** Compiled validators of each channel's payload (the decoded JSON value). */
export const validatePayload: { readonly [C in Channel]: (value: unknown) => Parsed<ChannelPayload[C]> } = {
  telemetry: validator<DeviceReport>(DeviceReportSchema),
  instances: validator<InstanceReport>(InstanceReportSchema),
  state: validator<DeviceState>(DeviceStateSchema),
  commands: commandValidator(),
};

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes and validates a payload as it arrives on the wire: at most {@link MAX_PAYLOAD_BYTES}, strict UTF-8 JSON, valid
 * against the channel's schema. Never throws.
 */
export function decodePayload<C extends Channel>(channel: C, payload: Uint8Array | string): Parsed<ChannelPayload[C]> {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.byteLength;
  if (size > MAX_PAYLOAD_BYTES) return { ok: false, field: '', message: `payload is ${size} bytes, over the limit of ${MAX_PAYLOAD_BYTES}` };
  let text: string;
  try {
    text = typeof payload === 'string' ? payload : UTF8.decode(payload);
  } catch {
    return { ok: false, field: '', message: 'payload is not UTF-8' };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, field: '', message: `payload is not JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  return validatePayload[channel](value);
}

/**
 * Encodes a payload for publishing, after checking it against the channel's schema.
 * @throws TypeError when the value is invalid or encodes to more than {@link MAX_PAYLOAD_BYTES}
 */
export function encodePayload<C extends Channel>(channel: C, value: ChannelPayload[C]): Buffer {
  const checked = validatePayload[channel](value);
  if (!checked.ok) throw new TypeError(`invalid ${channel} payload: ${checked.message}`);
  const out = Buffer.from(JSON.stringify(value), 'utf8');
  if (out.byteLength > MAX_PAYLOAD_BYTES) throw new TypeError(`${channel} payload is ${out.byteLength} bytes, over the limit of ${MAX_PAYLOAD_BYTES}`);
  return out;
}

/** One message of the bus, validated: where it came from and what it says. */
export type BusMessage = { [C in Channel]: { deviceId: string; channel: C; payload: ChannelPayload[C] } }[Channel];

/**
 * Reads one received message: the topic must be a concrete topic of the bus and the payload valid for its
 * channel; telemetry and instance reports must name the device whose topic carries them (a device cannot speak
 * for another by writing its id in the body). `field` is `topic` when the topic itself is wrong. `parsed`: the topic
 * already read by {@link parseTopic}, when the caller has it. Never throws.
 */
export function decodeMessage(topic: string, payload: Uint8Array | string, parsed?: ParsedTopic): Parsed<BusMessage> {
  const t = parsed ?? parseTopic(topic);
  if (!t) return { ok: false, field: 'topic', message: `topic ${JSON.stringify(topic.slice(0, 200))} is not a topic of the bus` };
  const decoded = decodePayload(t.channel, payload);
  if (!decoded.ok) return decoded;
  const value = decoded.value;
  if ((t.channel === 'telemetry' || t.channel === 'instances') && (value as DeviceReport | InstanceReport).deviceId !== t.deviceId) {
    return { ok: false, field: 'deviceId', message: `deviceId ${JSON.stringify((value as DeviceReport).deviceId)} does not match the topic's device ${t.deviceId}` };
  }
  return { ok: true, value: { deviceId: t.deviceId, channel: t.channel, payload: value } as BusMessage };
}

// ---------------------------------------------------------------------------------------------------------
// Home Assistant MQTT discovery: each room's thermostat as a `climate` entity. The coordinator retains one
// discovery config per room under the discovery prefix and the entity's state under `hearth/v1/rooms/{roomId}/ha/…`;
// Home Assistant (its own MQTT user, scoped to rooms) publishes commands to `…/{command}/set`.

/** Home Assistant's default discovery prefix (configurable on both sides). */
export const HA_DISCOVERY_PREFIX = 'homeassistant';

/** Every room topic starts with this. */
export const ROOMS_TOPIC_PREFIX = 'hearth/v1/rooms';

/** A room id as it appears in topics (the registry's id alphabet). */
export const ROOM_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** A discovery prefix: topic levels of `A-Z a-z 0-9 _ -`, no wildcards, at most 64 characters. */
export const DISCOVERY_PREFIX_PATTERN = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/;

/**
 * A Home Assistant MQTT user: `ha+` and 16 lower-case letters or digits. `+` is outside the device-id alphabet and
 * `@` starts the coordinator's name, so neither a device nor the coordinator can be taken for one.
 */
export const HA_USERNAME_PATTERN = /^ha\+[a-z0-9]{16}$/;

/** What the coordinator retains for each room's entity. */
export const HA_STATES = ['current_temperature', 'target_temperature', 'mode', 'availability', 'attributes'] as const;
export type HaState = (typeof HA_STATES)[number];
/** What Home Assistant may command: `…/{command}/set`. */
export const HA_COMMANDS = ['target_temperature', 'mode'] as const;
export type HaCommand = (typeof HA_COMMANDS)[number];

/**
 * The modes the entity offers: only `heat`. A room's spec has no mode (its schedule or comfort setpoint always
 * applies) and a hearth heater never stops heating the room below its setpoint; frost protection is the target set
 * to the room's minimum (the entity's `min_temp`).
 */
export const HA_MODES = ['heat'] as const;

/** Largest command payload, bytes (a temperature or a mode name); a larger one is refused. */
export const HA_MAX_COMMAND_BYTES = 32;

/** Step of the target temperature Home Assistant offers, °C. */
export const HA_TEMP_STEP_C = 0.5;

/** True when `id` may name a room in topics. */
export function isRoomId(id: unknown): id is string {
  return typeof id === 'string' && ROOM_ID_PATTERN.test(id);
}

/** True when `prefix` may be a discovery prefix (never under `hearth`, where the bus's own topics live). */
export function isDiscoveryPrefix(prefix: unknown): prefix is string {
  return typeof prefix === 'string' && prefix.length <= 64 && DISCOVERY_PREFIX_PATTERN.test(prefix) && prefix.split('/')[0] !== 'hearth';
}

/** True when `username` names a Home Assistant MQTT user. */
export function isHaUsername(username: unknown): boolean {
  return typeof username === 'string' && HA_USERNAME_PATTERN.test(username);
}

function checkRoomId(roomId: string): void {
  if (!isRoomId(roomId)) throw new TypeError(`invalid room id ${JSON.stringify(roomId)}: expected ${ROOM_ID_PATTERN.source}`);
}

/**
 * A room's id as a Home Assistant object id (`[A-Za-z0-9_-]`): `room_` + the id with every character outside
 * `A-Z a-z 0-9 -` written `_` + two hex digits (so `_` itself too, which keeps the mapping one to one).
 */
export function haObjectId(roomId: string): string {
  checkRoomId(roomId);
  return `room_${roomId.replace(/[^A-Za-z0-9-]/g, (c) => `_${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}`;
}

/** The room id of an object id made by {@link haObjectId}; undefined for anything else. */
export function roomIdOfObjectId(objectId: string): string | undefined {
  if (!/^room_(?:[A-Za-z0-9-]|_[0-9a-f]{2})+$/.test(objectId)) return undefined;
  const id = objectId.slice(5).replace(/_([0-9a-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  return isRoomId(id) && haObjectId(id) === objectId ? id : undefined;
}

/** The retained discovery config of a room's climate entity: `{prefix}/climate/hearth/{objectId}/config`. */
export function haConfigTopic(prefix: string, roomId: string): string {
  if (!isDiscoveryPrefix(prefix)) throw new TypeError(`invalid discovery prefix ${JSON.stringify(prefix)}`);
  return `${prefix}/climate/hearth/${haObjectId(roomId)}/config`;
}

/** The room of a discovery config topic under `prefix`; undefined for any other topic. */
export function parseHaConfigTopic(prefix: string, topic: string): string | undefined {
  const head = `${prefix}/climate/hearth/`;
  if (!topic.startsWith(head) || !topic.endsWith('/config')) return undefined;
  const objectId = topic.slice(head.length, -'/config'.length);
  return objectId.includes('/') ? undefined : roomIdOfObjectId(objectId);
}

/** Home Assistant's own status topic (its birth and last will): `{prefix}/status`. */
export function haStatusTopic(prefix: string): string {
  return `${prefix}/status`;
}

/** A retained state of a room's entity: `hearth/v1/rooms/{roomId}/ha/{state}`. */
export function haStateTopic(roomId: string, state: HaState): string {
  checkRoomId(roomId);
  return `${ROOMS_TOPIC_PREFIX}/${roomId}/ha/${state}`;
}

/** A command topic of a room's entity: `hearth/v1/rooms/{roomId}/ha/{command}/set`. */
export function haCommandTopic(roomId: string, command: HaCommand): string {
  checkRoomId(roomId);
  return `${ROOMS_TOPIC_PREFIX}/${roomId}/ha/${command}/set`;
}

/** The filter of every room's commands (the coordinator's subscription): `hearth/v1/rooms/+/ha/+/set`. */
export const HA_ALL_COMMANDS_FILTER = `${ROOMS_TOPIC_PREFIX}/+/ha/+/set`;

/** A room topic, read back. */
export type ParsedHaTopic = { roomId: string; kind: 'state'; state: HaState } | { roomId: string; kind: 'command'; command: HaCommand };

const HA_STATE_SET: ReadonlySet<string> = new Set(HA_STATES);
const HA_COMMAND_SET: ReadonlySet<string> = new Set(HA_COMMANDS);

/** Reads a concrete room topic (no wildcards) back; undefined for anything else. */
export function parseHaTopic(topic: string): ParsedHaTopic | undefined {
  if (!topic.startsWith(`${ROOMS_TOPIC_PREFIX}/`)) return undefined;
  const rest = topic.slice(ROOMS_TOPIC_PREFIX.length + 1).split('/');
  if (!isRoomId(rest[0]) || rest[1] !== 'ha') return undefined;
  if (rest.length === 3 && HA_STATE_SET.has(rest[2])) return { roomId: rest[0], kind: 'state', state: rest[2] as HaState };
  if (rest.length === 4 && rest[3] === 'set' && HA_COMMAND_SET.has(rest[2])) return { roomId: rest[0], kind: 'command', command: rest[2] as HaCommand };
  return undefined;
}

/**
 * Reads a command payload: at most {@link HA_MAX_COMMAND_BYTES} of UTF-8 text; a target temperature is a decimal
 * number (what Home Assistant sends, e.g. `21.5`), a mode one of {@link HA_MODES}. Range and limits are the
 * setpoint route's business. Never throws.
 */
export function decodeHaCommand(command: HaCommand, payload: Uint8Array | string): Parsed<number | string> {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.byteLength;
  if (size > HA_MAX_COMMAND_BYTES) return { ok: false, field: '', message: `payload is ${size} bytes, over the limit of ${HA_MAX_COMMAND_BYTES}` };
  let text: string;
  try {
    text = (typeof payload === 'string' ? payload : UTF8.decode(payload)).trim();
  } catch {
    return { ok: false, field: '', message: 'payload is not UTF-8' };
  }
  if (command === 'mode') {
    if ((HA_MODES as readonly string[]).includes(text)) return { ok: true, value: text };
    return { ok: false, field: 'mode', message: `mode must be one of ${HA_MODES.join(', ')}, got ${JSON.stringify(text)}` };
  }
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(text)) return { ok: false, field: 'comfortC', message: `comfortC must be a number, got ${JSON.stringify(text)}` };
  return { ok: true, value: Number(text) };
}

/** What the coordinator publishes about a room's entity besides its config. */
export interface HaRoomState {
  /** Mean air temperature of the room's heaters' latest samples, °C; null while unknown. */
  currentC: number | null;
  /** The room's comfort setpoint (what the setpoint route sets), °C. */
  targetC: number;
  /** Whether a heater of the room reported recently. */
  available: boolean;
  /** Extra attributes shown in Home Assistant: the setpoint in force now (a schedule may differ), the limits. */
  attributes: { setpointNowC: number; minC: number; maxC: number; scheduled: boolean; heaters: number };
}

/** The retained discovery config of a room's `climate` entity (Home Assistant's MQTT climate schema). */
export function haClimateConfig(room: { id: string; name: string; minC: number; maxC: number }): Record<string, unknown> {
  const objectId = haObjectId(room.id);
  return {
    name: null,
    unique_id: `hearth_${objectId}`,
    device: { identifiers: [`hearth_${objectId}`], name: room.name, manufacturer: 'hearth', model: 'computing heater' },
    availability_topic: haStateTopic(room.id, 'availability'),
    payload_available: 'online',
    payload_not_available: 'offline',
    current_temperature_topic: haStateTopic(room.id, 'current_temperature'),
    temperature_state_topic: haStateTopic(room.id, 'target_temperature'),
    temperature_command_topic: haCommandTopic(room.id, 'target_temperature'),
    mode_state_topic: haStateTopic(room.id, 'mode'),
    mode_command_topic: haCommandTopic(room.id, 'mode'),
    modes: [...HA_MODES],
    json_attributes_topic: haStateTopic(room.id, 'attributes'),
    min_temp: room.minC,
    max_temp: room.maxC,
    temp_step: HA_TEMP_STEP_C,
    precision: 0.1,
    temperature_unit: 'C',
    optimistic: false,
    qos: 1,
    retain: false,
  };
}

/** The retained payloads of a room's states, as text. */
export function haStatePayloads(state: HaRoomState): Record<HaState, string | undefined> {
  return {
    current_temperature: state.currentC === null ? undefined : String(Math.round(state.currentC * 100) / 100),
    target_temperature: String(state.targetC),
    mode: 'heat',
    availability: state.available ? 'online' : 'offline',
    attributes: JSON.stringify(state.attributes),
  };
}

/** `POST /hearth/v1/integrations/home-assistant`: the rooms (operator: a site or rooms; resident: some of theirs, default all). */
export const HaIssueSchema = Type.Object(
  {
    siteId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    roomIds: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { minItems: 1, maxItems: 1000, uniqueItems: true })),
  },
  { additionalProperties: false },
);
export type HaIssue = Static<typeof HaIssueSchema>;

/** Home Assistant's MQTT login, shown once. */
export const HaCredentialsSchema = Type.Object({
  username: Type.String(),
  /** Shown this once; stored hashed. */
  password: Type.String(),
  roomIds: Type.Array(Type.String()),
  discoveryPrefix: Type.String(),
});
export type HaCredentials = Static<typeof HaCredentialsSchema>;

/** A Home Assistant login as listed (never its password). */
export const HaLoginSchema = Type.Object({
  username: Type.String(),
  roomIds: Type.Array(Type.String()),
  /** When it was issued, ISO-8601. */
  createdAt: Type.String(),
  /** The account that issued it (an operator or the resident), when known. */
  issuedBy: Type.Union([Type.String(), Type.Null()]),
  /** Revoked: its password no longer connects. */
  revoked: Type.Boolean(),
});
export type HaLogin = Static<typeof HaLoginSchema>;
