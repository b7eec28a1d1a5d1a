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
 * for another by writing its id in the body). `field` is `topic` when the topic itself is wrong. Never throws.
 */
export function decodeMessage(topic: string, payload: Uint8Array | string): Parsed<BusMessage> {
  const t = parseTopic(topic);
  if (!t) return { ok: false, field: 'topic', message: `topic ${JSON.stringify(topic.slice(0, 200))} is not a topic of the bus` };
  const decoded = decodePayload(t.channel, payload);
  if (!decoded.ok) return decoded;
  const value = decoded.value;
  if ((t.channel === 'telemetry' || t.channel === 'instances') && (value as DeviceReport | InstanceReport).deviceId !== t.deviceId) {
    return { ok: false, field: 'deviceId', message: `deviceId ${JSON.stringify((value as DeviceReport).deviceId)} does not match the topic's device ${t.deviceId}` };
  }
  return { ok: true, value: { deviceId: t.deviceId, channel: t.channel, payload: value } as BusMessage };
}
