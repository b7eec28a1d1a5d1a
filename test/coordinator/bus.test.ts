// The device bus: topics and payload validation (protocol/mqtt.ts), enrolment, the embedded aedes broker with real
// mqtt clients on loopback (round trip, the attacks of issue 6, the last will), then the same round trip and the
// cross-device attack against Debian mosquitto configured by mosquitto-config.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { closed, grants } from '../helpers/mqtt-client.ts';
import type { DeviceCommand, DeviceReport, InstanceReport } from '../../src/protocol/device.ts';
import {
  CHANNELS,
  COORDINATOR_USERNAME,
  MAX_PACKET_BYTES,
  MAX_PAYLOAD_BYTES,
  decodeMessage,
  decodePayload,
  deviceTopic,
  encodePayload,
  isDeviceId,
  parseTopic,
} from '../../src/protocol/mqtt.ts';
import { startBroker, type DeviceBroker } from '../../src/coordinator/bus/broker.ts';
import { MqttLink } from '../../src/coordinator/bus/mqtt-link.ts';
import { LocalLink } from '../../src/coordinator/bus/local-link.ts';
import type { BusLink } from '../../src/coordinator/bus/link-inbox.ts';
import { enrolDevice } from '../../src/coordinator/bus/enrol.ts';
import { mosquittoPasswordHash, renderMosquittoFiles, renderPasswordFile } from '../../src/coordinator/bus/mosquitto-config.ts';
import { authenticate } from '../../src/coordinator/auth/tokens.ts';
import { openStore, type Store } from '../../src/coordinator/store/index.ts';
import { until } from '../helpers/until.ts';

// ---------------------------------------------------------------------------------------------------------
// Helpers

function report(deviceId: string, at = 1_000): DeviceReport {
  return { deviceId, at, airC: 20.5, setpointC: 21, bodyC: 45, outdoorC: 3, powerW: 500, computeW: 450, fillerW: 0, boosterW: 50, busyBoards: 2, level: 7, meterWh: 1234.5 };
}
function instanceReport(deviceId: string, seq = 1): InstanceReport {
  return { taskUuid: 'task-1', instanceId: 0, attempt: 1, seq, at: 1_000, deviceId, state: 'running', progress: 12 };
}
const POWER: DeviceCommand = { kind: 'power', level: 5, booster: 0.5, filler: [true, false], resistiveW: null };
const OFFLINE = JSON.stringify({ status: 'offline', agentVersion: 'test' });

/** until(), polling every 10 ms (the bus answers within milliseconds). */
function soon<T>(fn: () => Promise<T | undefined> | T | undefined, what: string): Promise<T> {
  return until(fn, what, 5_000, 10);
}

/** Log lines of a broker, with a wait for the first one matching. */
class LogLines {
  readonly lines: string[] = [];
  #waiters: Array<{ re: RegExp; resolve: (line: string) => void }> = [];
  readonly log = (line: string): void => {
    this.lines.push(line);
    this.#waiters = this.#waiters.filter((w) => !(w.re.test(line) && (w.resolve(line), true)));
  };
  /** Resolves with the first line, logged from now on, that matches; rejects after `timeoutMs`. */
  next(re: RegExp, timeoutMs = 5_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no log line matching ${re} within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({
        re,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  }
}

/** A device's MQTT client (no automatic reconnection: an attack's disconnection stays visible). */
async function device(url: string, deviceId: string, secret: string, extra: IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(
    url,
    {
      protocolVersion: 4,
      clientId: deviceId,
      username: deviceId,
      password: secret,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
      will: { topic: deviceTopic(deviceId, 'state'), payload: Buffer.from(OFFLINE), qos: 1, retain: true },
      ...extra,
    },
    false,
  );
}

/** Messages a client receives, by topic, with a wait. */
function inbox(client: MqttClient): { messages: Array<{ topic: string; payload: string }>; next: (topic: string) => Promise<string> } {
  const messages: Array<{ topic: string; payload: string }> = [];
  const waiters: Array<{ topic: string; resolve: (p: string) => void }> = [];
  client.on('message', (topic, payload) => {
    messages.push({ topic, payload: payload.toString() });
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i].topic === topic) {
        waiters[i].resolve(payload.toString());
        waiters.splice(i, 1);
      }
    }
  });
  return { messages, next: (topic) => new Promise((resolve) => waiters.push({ topic, resolve })) };
}

interface Bed {
  store: Store;
  broker: DeviceBroker;
  link: BusLink;
  logs: LogLines;
  secrets: Record<string, string>;
  close(): Promise<void>;
}

/**
 * The coordinator's side of the embedded broker: `local` as `hearth start` runs it (in process, broker.tap), `tcp` an
 * MqttLink on a loopback connection (what an external broker needs). Every embedded-broker test runs with both.
 */
type LinkKind = 'local' | 'tcp';
const LINK_KINDS: readonly LinkKind[] = ['local', 'tcp'];

async function bed(kind: LinkKind): Promise<Bed> {
  const store = await openStore('sqlite::memory:');
  const secrets: Record<string, string> = {};
  for (const id of ['heater-1', 'heater-2']) secrets[id] = (await enrolDevice(store, id)).secret;
  const logs = new LogLines();
  const broker = await startBroker({ store, port: 0, log: logs.log });
  const link = kind === 'local' ? await LocalLink.attach(broker, { log: logs.log }) : await MqttLink.connect({ url: broker.url, password: broker.coordinator.password, log: logs.log });
  return {
    store,
    broker,
    link,
    logs,
    secrets,
    async close() {
      await link.close();
      await broker.close();
      await store.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Protocol

test('topics: versioned per-device prefix, built and parsed back; ids outside the alphabet are refused', () => {
  assert.equal(deviceTopic('heater-1', 'telemetry'), 'hearth/v1/devices/heater-1/telemetry');
  assert.deepEqual(parseTopic('hearth/v1/devices/a.b_c:d-9/commands'), { deviceId: 'a.b_c:d-9', channel: 'commands' });
  for (const bad of ['', 'a/b', 'a+b', 'a#', '$SYS', 'é', 'x'.repeat(129), ' a']) {
    assert.equal(isDeviceId(bad), false, bad);
    assert.throws(() => deviceTopic(bad, 'state'), TypeError);
  }
  for (const t of ['hearth/v1/devices/+/telemetry', 'hearth/v1/devices/#', 'hearth/v2/devices/a/state', 'hearth/v1/devices/a/other', 'hearth/v1/devices/a/state/x', '$SYS/x']) {
    assert.equal(parseTopic(t), undefined, t);
  }
  const id = fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/);
  fc.assert(
    fc.property(id, fc.constantFrom(...CHANNELS), (deviceId, channel) => {
      assert.deepEqual(parseTopic(deviceTopic(deviceId, channel)), { deviceId, channel });
    }),
  );
});

test('payloads: validated per channel with the failing field named; garbage never throws', () => {
  assert.deepEqual(decodePayload('telemetry', JSON.stringify(report('h'))), { ok: true, value: report('h') });
  const neg = decodePayload('telemetry', JSON.stringify({ ...report('h'), powerW: -1 }));
  assert.equal(neg.ok, false);
  assert.equal(!neg.ok && neg.field, 'powerW');
  const missing = decodePayload('telemetry', JSON.stringify({ deviceId: 'h' }));
  assert.equal(!missing.ok && missing.field, 'at');
  const cmd = decodePayload('commands', JSON.stringify({ kind: 'start', assignment: { taskUuid: 't' } }));
  assert.equal(!cmd.ok && cmd.field.startsWith('assignment.'), true, JSON.stringify(cmd));
  const kind = decodePayload('commands', JSON.stringify({ kind: 'explode' }));
  assert.equal(!kind.ok && kind.field, 'kind');
  assert.equal(decodePayload('state', '{"status":"online"').ok, false);
  assert.equal(decodePayload('state', Buffer.from([0xff, 0xfe, 0x7b])).ok, false);
  assert.match(JSON.stringify(decodePayload('state', ' '.repeat(MAX_PAYLOAD_BYTES + 1))), /over the limit/);
  const other = decodeMessage(deviceTopic('a', 'telemetry'), JSON.stringify(report('b')));
  assert.equal(!other.ok && other.field, 'deviceId');
  assert.equal(decodeMessage('hearth/v1/devices/a/nope', '{}').ok, false);
  assert.throws(() => encodePayload('commands', { ...POWER, level: 99 }), /level/);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), fc.constantFrom(...CHANNELS), (bytes, channel) => {
      const r = decodePayload(channel, bytes);
      assert.equal(typeof r.ok, 'boolean');
    }),
  );
  fc.assert(
    fc.property(fc.jsonValue(), fc.constantFrom(...CHANNELS), (value, channel) => {
      const r = decodePayload(channel, JSON.stringify(value));
      if (!r.ok) assert.equal(typeof r.message, 'string');
    }),
  );
});

// ---------------------------------------------------------------------------------------------------------
// Enrolment

test('enrolment: a device account scoped to its id, a secret shown once and stored hashed; enrolling again rotates it', async () => {
  const store = await openStore('sqlite::memory:');
  try {
    const first = await enrolDevice(store, 'boiler-7');
    assert.equal(first.rotated, false);
    assert.equal(first.account.role, 'device');
    assert.deepEqual(first.account.scope, { deviceId: 'boiler-7' });
    assert.equal(first.account.email, 'device+boiler-7@devices.hearth.local');
    const [stored] = await store.listTokens(first.account.id);
    assert.notEqual(stored.hash, first.secret);
    assert.equal((await authenticate(store, first.secret))?.account.id, first.account.id);
    const second = await enrolDevice(store, 'boiler-7');
    assert.equal(second.rotated, true);
    assert.equal(second.account.id, first.account.id);
    assert.equal(await authenticate(store, first.secret), undefined);
    assert.equal((await authenticate(store, second.secret))?.account.id, first.account.id);
    await assert.rejects(enrolDevice(store, 'a/b'), TypeError);
    await store.createAccount({ email: 'device+x@devices.hearth.local', role: 'customer' });
    await assert.rejects(enrolDevice(store, 'x'), /not the device account/);
  } finally {
    await store.close();
  }
});

// ---------------------------------------------------------------------------------------------------------
// Embedded broker

for (const kind of LINK_KINDS) {
  test(`embedded broker (${kind} link): telemetry and instance reports reach drain(), commands reach the device, state is retained`, async () => {
    const b = await bed(kind);
    try {
      const d = await device(b.broker.url, 'heater-1', b.secrets['heater-1']);
      const got = inbox(d);
      await d.subscribeAsync(deviceTopic('heater-1', 'commands'), { qos: 1 });
      await d.publishAsync(deviceTopic('heater-1', 'state'), JSON.stringify({ status: 'online', agentVersion: '0.1.0', at: 1 }), { qos: 1, retain: true });
      await d.publishAsync(deviceTopic('heater-1', 'telemetry'), JSON.stringify(report('heater-1')), { qos: 0 });
      await d.publishAsync(deviceTopic('heater-1', 'instances'), JSON.stringify(instanceReport('heater-1')), { qos: 1 });
      const inboxed = { reports: [] as DeviceReport[], instances: [] as InstanceReport[] };
      await soon(() => {
        const { reports, instances } = b.link.drain();
        inboxed.reports.push(...reports);
        inboxed.instances.push(...instances);
        return inboxed.reports.length >= 1 && inboxed.instances.length >= 1 ? true : undefined;
      }, 'telemetry and an instance report');
      assert.deepEqual(inboxed.reports, [report('heater-1')]);
      assert.deepEqual(inboxed.instances, [instanceReport('heater-1')]);
      await soon(() => (b.link.online('heater-1') ? true : undefined), 'online state');
      assert.equal(b.link.state('heater-1')?.agentVersion, '0.1.0');
      assert.equal(b.link.online('heater-2'), false);

      const command = got.next(deviceTopic('heater-1', 'commands'));
      b.link.send('heater-1', POWER);
      assert.deepEqual(JSON.parse(await command), POWER);
      assert.throws(() => b.link.send('heater-1', { kind: 'setpoint', setpointC: 99 }), /setpointC/);
      assert.throws(() => b.link.send('a/b', POWER), TypeError);

      // The state is retained: a coordinator connecting later learns it at once.
      const late = await MqttLink.connect({ url: b.broker.url, password: b.broker.coordinator.password, clientId: `${COORDINATOR_USERNAME}-late`, clean: true });
      try {
        await soon(() => (late.online('heater-1') ? true : undefined), 'retained state on a new link');
      } finally {
        await late.close();
      }
      await d.endAsync();
      assert.deepEqual(b.broker.counters.refused, { auth: 0, publish: 0, subscribe: 0, payload: 0 });
    } finally {
      await b.close();
    }
  });

  test(`embedded broker (${kind} link): the attacks are refused, counted and logged; nothing crashes; the honest device still gets through`, async () => {
    const b = await bed(kind);
    const { broker, secrets, logs } = b;
    const refused = broker.counters.refused;
    try {
      // Wrong password, another device's secret, an unknown device, no credentials, the coordinator's name.
      const attempts: Array<[string, IClientOptions]> = [
        ['wrong password', { password: 'hth_nope' }],
        ["another device's secret", { password: secrets['heater-2'] }],
        ['unknown device', { clientId: 'heater-9', username: 'heater-9' }],
        ['no password', { password: undefined }],
        ['coordinator name, device secret', { clientId: COORDINATOR_USERNAME, username: COORDINATOR_USERNAME }],
        ["someone else's client id (session takeover)", { clientId: 'heater-2' }],
        ["a last will on another device's state", { will: { topic: deviceTopic('heater-2', 'state'), payload: Buffer.from(OFFLINE), qos: 1, retain: true } }],
        ['a last will that says online', { will: { topic: deviceTopic('heater-1', 'state'), payload: Buffer.from('{"status":"online"}'), qos: 1, retain: true } }],
      ];
      for (const [what, extra] of attempts) {
        const before = refused.auth;
        await assert.rejects(device(broker.url, 'heater-1', secrets['heater-1'], extra), /Connection refused|Bad username|Not authorized|Identifier rejected/i, what);
        assert.equal(refused.auth, before + 1, what);
      }
      assert.ok(logs.lines.some((l) => /refused auth: wrong secret for device heater-1/.test(l)), logs.lines.join('\n'));

      const honest = await device(broker.url, 'heater-2', secrets['heater-2']);
      const honestBox = inbox(honest);
      await honest.subscribeAsync(deviceTopic('heater-2', 'commands'), { qos: 1 });

      // Subscribing to '#', to another device's commands, to $SYS: SUBACK 0x80, the connection stays up.
      const spy = await device(broker.url, 'heater-1', secrets['heater-1']);
      const spyBox = inbox(spy);
      assert.deepEqual(await grants(spy, { '#': { qos: 1 }, [deviceTopic('heater-2', 'commands')]: { qos: 1 }, '$SYS/#': { qos: 0 }, 'hearth/v1/devices/+/commands': { qos: 1 } }), [128, 128, 128, 128]);
      assert.equal(refused.subscribe, 4);
      await spy.subscribeAsync(deviceTopic('heater-1', 'commands'), { qos: 1 });
      const toHonest = honestBox.next(deviceTopic('heater-2', 'commands'));
      const toSpy = spyBox.next(deviceTopic('heater-1', 'commands'));
      b.link.send('heater-2', { kind: 'setpoint', setpointC: 19 });
      b.link.send('heater-1', { kind: 'setpoint', setpointC: 20 });
      await toHonest;
      await toSpy;
      assert.deepEqual(
        spyBox.messages.map((m) => m.topic),
        [deviceTopic('heater-1', 'commands')],
        'heater-1 saw only its own command',
      );

      // Payloads: malformed JSON, schema-invalid, naming another device, over the size limit: dropped, connection kept.
      const bad: Array<[string, string | Buffer]> = [
        ['malformed JSON', '{"deviceId":"heater-1",'],
        ['schema-invalid', JSON.stringify({ ...report('heater-1'), powerW: -5 })],
        ['missing fields', JSON.stringify({ deviceId: 'heater-1' })],
        ['another device in the body', JSON.stringify(report('heater-2'))],
        ['not UTF-8', Buffer.from([0xc3, 0x28, 0xff])],
        ['oversized', Buffer.alloc(MAX_PAYLOAD_BYTES + 1, 0x20)],
      ];
      for (const [what, payload] of bad) {
        const line = logs.next(/refused payload/);
        await spy.publishAsync(deviceTopic('heater-1', 'telemetry'), payload, { qos: 1 });
        assert.match(await line, /heater-1\/telemetry/, what);
      }
      // A payload cannot put control characters in the log (an invalid value under a key names that key).
      const forged = logs.next(/refused payload/);
      await spy.publishAsync(deviceTopic('heater-1', 'instances'), JSON.stringify({ ...instanceReport('heater-1'), info: { '\u001b[2K\u0007x': {} } }), { qos: 1 });
      const forgedLine = await forged;
      assert.ok(![...forgedLine].some((c) => c.charCodeAt(0) < 0x20), JSON.stringify(forgedLine));
      assert.equal(refused.payload, bad.length + 1);
      assert.equal(spy.connected, true, 'a dropped payload does not cost the connection');
      await spy.publishAsync(deviceTopic('heater-1', 'telemetry'), JSON.stringify(report('heater-1', 42)), { qos: 1 });
      const drained = await soon(() => {
        const r = b.link.drain().reports;
        return r.length > 0 ? r : undefined;
      }, 'the valid report after the bad ones');
      assert.deepEqual(drained, [report('heater-1', 42)], 'the link saw none of the bad payloads');
      assert.deepEqual(b.link.counters.dropped, { topic: 0, payload: 0, overflow: 0 });

      // Publishing as another device, or a command: refused and disconnected.
      for (const [what, topic, payload] of [
        ['telemetry as heater-2', deviceTopic('heater-2', 'telemetry'), JSON.stringify(report('heater-2'))],
        ['a command', deviceTopic('heater-2', 'commands'), JSON.stringify(POWER)],
        ['$SYS', '$SYS/broker/x', '{}'],
        ['outside the bus', 'elsewhere/x', '{}'],
      ] as const) {
        const attacker = await device(broker.url, 'heater-1', secrets['heater-1']);
        const before = refused.publish;
        const gone = closed(attacker);
        attacker.publish(topic, payload, { qos: 1 });
        await gone;
        assert.equal(refused.publish, before + 1, what);
      }
      assert.deepEqual(b.link.drain().reports, [], 'nothing published as heater-2 arrived');

      // A packet over the frame limit closes the connection before it is buffered.
      const big = await device(broker.url, 'heater-1', secrets['heater-1']);
      const gone = closed(big);
      const before = refused.payload;
      big.publish(deviceTopic('heater-1', 'telemetry'), Buffer.alloc(MAX_PACKET_BYTES * 2, 0x20), { qos: 0 });
      await gone;
      assert.equal(refused.payload, before + 1);

      assert.equal(broker.counters.protocolErrors, 0, 'refusals are not counted twice');
      // Garbage on the socket.
      const garbage = tcpConnect(broker.port, '127.0.0.1');
      await new Promise<void>((resolve) => garbage.on('connect', () => resolve()));
      const garbageClosed = new Promise<void>((resolve) => garbage.on('close', () => resolve()));
      garbage.on('error', () => undefined);
      garbage.write(Buffer.from([0xf0, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02, 0x03]));
      await garbageClosed;
      const raw = tcpConnect(broker.port, '127.0.0.1');
      raw.on('error', () => undefined);
      await new Promise<void>((resolve) => raw.on('connect', () => resolve()));
      const rawClosed = new Promise<void>((resolve) => raw.on('close', () => resolve()));
      raw.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      await rawClosed;
      assert.ok(broker.counters.protocolErrors >= 1);

      // Still alive: the honest device's telemetry arrives.
      await honest.publishAsync(deviceTopic('heater-2', 'telemetry'), JSON.stringify(report('heater-2', 7)), { qos: 1 });
      const after = await soon(() => {
        const r = b.link.drain().reports;
        return r.length > 0 ? r : undefined;
      }, 'honest telemetry after the attacks');
      assert.deepEqual(after, [report('heater-2', 7)]);
      assert.equal(honest.connected, true);
      await honest.endAsync();
      await spy.endAsync();
    } finally {
      await b.close();
    }
  });

  test(`embedded broker (${kind} link): a device lost without DISCONNECT is marked offline by its retained last will`, async () => {
    const b = await bed(kind);
    try {
      const d = await device(b.broker.url, 'heater-1', b.secrets['heater-1']);
      await d.publishAsync(deviceTopic('heater-1', 'state'), JSON.stringify({ status: 'online', agentVersion: '0.1.0' }), { qos: 1, retain: true });
      await soon(() => (b.link.online('heater-1') ? true : undefined), 'online');
      const offline = new Promise<void>((resolve) => {
        const stop = b.link.onStateChange((id, state) => {
          if (id === 'heater-1' && state?.status === 'offline') {
            stop();
            resolve();
          }
        });
      });
      b.link.drain();
      d.stream.destroy();
      await offline;
      assert.equal(b.link.online('heater-1'), false);
      // The live loop learns it at its next drain (it requeues the device's work).
      assert.deepEqual(b.link.drain().offline, ['heater-1']);
      d.end(true);
      // Rotating the secret, then kicking the device: the old secret no longer connects.
      const again = await device(b.broker.url, 'heater-1', b.secrets['heater-1']);
      const gone = closed(again);
      const { secret } = await enrolDevice(b.store, 'heater-1');
      assert.equal(await b.broker.disconnect('heater-1'), true);
      await gone;
      await assert.rejects(device(b.broker.url, 'heater-1', b.secrets['heater-1']), /Bad username|refused/i);
      const fresh = await device(b.broker.url, 'heater-1', secret);
      await fresh.endAsync();
      assert.equal(await b.broker.disconnect('heater-1'), false);
    } finally {
      await b.close();
    }
  });

}

test('embedded broker, in-process link: retained states before it attached, commands under the coordinator\'s authorisation, malformed payloads dropped and counted before the link', async () => {
  const store = await openStore('sqlite::memory:');
  const logs = new LogLines();
  const broker = await startBroker({ store, port: 0, log: logs.log });
  const clients: MqttClient[] = [];
  let link: LocalLink | undefined;
  try {
    const secret = (await enrolDevice(store, 'heater-1')).secret;
    const d = await device(broker.url, 'heater-1', secret);
    clients.push(d);
    const got = inbox(d);
    await d.subscribeAsync(deviceTopic('heater-1', 'commands'), { qos: 1 });
    await d.publishAsync(deviceTopic('heater-1', 'state'), JSON.stringify({ status: 'online', agentVersion: '0.1.0' }), { qos: 1, retain: true });
    // Attached after the device said it is online: the retained state is filed at once.
    link = await LocalLink.attach(broker, { log: logs.log });
    assert.equal(link.online('heater-1'), true);

    // Malformed telemetry on the in-process path: the broker drops and counts it, the link never sees it.
    for (const payload of ['{"deviceId":"heater-1",', JSON.stringify({ ...report('heater-1'), powerW: -1 }), JSON.stringify(report('heater-2')), Buffer.from([0xc3, 0x28])]) {
      const line = logs.next(/refused payload/);
      await d.publishAsync(deviceTopic('heater-1', 'telemetry'), payload, { qos: 1 });
      await line;
    }
    assert.equal(broker.counters.refused.payload, 4);
    await d.publishAsync(deviceTopic('heater-1', 'telemetry'), JSON.stringify(report('heater-1', 5)), { qos: 0 });
    const reports = await soon(() => {
      const r = link!.drain().reports;
      return r.length > 0 ? r : undefined;
    }, 'the valid report');
    assert.deepEqual(reports, [report('heater-1', 5)]);
    assert.deepEqual(link.counters.dropped, { topic: 0, payload: 0, overflow: 0 });
    assert.equal(link.counters.received, 2, 'the retained state and the valid report');

    // Commands go through the broker's authorisation: only command topics, only valid commands.
    const refusedBefore = broker.counters.refused.publish;
    const onTelemetry = await new Promise<Error | null | undefined>((resolve) => broker.publishAsCoordinator(deviceTopic('heater-1', 'telemetry'), encodePayload('telemetry', report('heater-1', 9)), resolve));
    assert.match(String(onTelemetry), /refused/);
    assert.equal(broker.counters.refused.publish, refusedBefore + 1);
    const invalid = await new Promise<Error | null | undefined>((resolve) => broker.publishAsCoordinator(deviceTopic('heater-1', 'commands'), Buffer.from('{"kind":"explode"}'), resolve));
    assert.match(String(invalid), /invalid payload/);
    assert.equal(broker.counters.refused.payload, 5);
    assert.equal(got.messages.length, 0, 'neither reached the device');
    const command = got.next(deviceTopic('heater-1', 'commands'));
    link.send('heater-1', POWER);
    assert.deepEqual(JSON.parse(await command), POWER);
    assert.equal(link.counters.sendErrors, 0);

    // Closed: nothing more is filed.
    await link.close();
    assert.equal(link.connected, false);
    await d.publishAsync(deviceTopic('heater-1', 'telemetry'), JSON.stringify(report('heater-1', 6)), { qos: 1 });
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(link.drain().reports, []);
  } finally {
    for (const c of clients) c.end(true);
    await link?.close();
    await broker.close();
    await store.close();
  }
});

// ---------------------------------------------------------------------------------------------------------
// mosquitto

const MOSQUITTO = '/usr/sbin/mosquitto';

test('mosquitto config: password hashes in mosquitto_passwd format, the ACL, usernames mosquitto cannot hold', () => {
  // Known answer from `mosquitto_passwd -b` (Debian mosquitto 2.0.11) for the password "secret".
  assert.equal(
    mosquittoPasswordHash('secret', Buffer.from('41ujLwdG4Zvbpn/i', 'base64')),
    '$7$101$41ujLwdG4Zvbpn/i$xxPuDI+1uiP9Ya8csYCPM2JSPRKt+yXEY5cIDQzvFNQVOfoNzNSVuxaHFOZ6zHfloxXDvV63JtVmEaeGF69BPA==',
  );
  assert.throws(() => renderPasswordFile([{ username: 'a:b', password: 'x' }]), /cannot hold/);
  assert.throws(() => renderPasswordFile([{ username: 'a', password: 'x' }, { username: 'a', password: 'y' }]), /twice/);
  const files = renderMosquittoFiles({ devices: [{ deviceId: 'h1', secret: 's1' }], coordinatorSecret: 'c' }, { port: 1884, passwordFile: '/p', aclFile: '/a' });
  assert.match(files.acl, /^pattern write hearth\/v1\/devices\/%u\/telemetry$/m);
  assert.match(files.acl, /^pattern read hearth\/v1\/devices\/%u\/commands$/m);
  assert.match(files.conf, /^allow_anonymous false$/m);
  // Listener options only after the listener line (else mosquitto also opens a default listener on 1883).
  assert.match(files.conf, /^listener 1884 127\.0\.0\.1\nuse_username_as_clientid true$/m);
  assert.match(files.passwords, /^@coordinator:\$7\$101\$/m);
  assert.match(files.passwords, /^h1:\$7\$101\$/m);
  assert.throws(() => renderMosquittoFiles({ devices: [{ deviceId: 'a/b', secret: 's' }], coordinatorSecret: 'c' }, { port: 1, passwordFile: '/p', aclFile: '/a' }), TypeError);
});

/**
 * A free loopback port below Linux's ephemeral range (32768+), so no client socket of a concurrent test takes it
 * between our check and mosquitto's bind.
 */
async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + randomInt(12_000);
    const server = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return port;
    }
  }
}

/** True when something accepts TCP connections on the loopback port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

interface Mosquitto {
  url: string;
  output: () => string;
  stop(): Promise<void>;
}

/** Starts mosquitto on a free loopback port with the rendered files; resolves once it accepts connections. */
async function startMosquitto(fleet: Parameters<typeof renderMosquittoFiles>[0]): Promise<Mosquitto> {
  for (let attempt = 1; ; attempt++) {
    const m = await startMosquittoOnce(fleet, await freePort());
    if (typeof m !== 'string') return m;
    if (!/Address already in use/.test(m) || attempt === 5) throw new Error(`mosquitto did not start: ${m}`);
  }
}

/** One try; the output as a string when mosquitto exited. */
async function startMosquittoOnce(fleet: Parameters<typeof renderMosquittoFiles>[0], port: number): Promise<Mosquitto | string> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-mosquitto-'));
  // Run as root (CI), mosquitto would switch to its own user, who cannot read these 0600 files: stay as we are.
  const files = renderMosquittoFiles(fleet, { port, passwordFile: join(dir, 'passwd'), aclFile: join(dir, 'acl'), user: userInfo().username });
  writeFileSync(join(dir, 'passwd'), files.passwords, { mode: 0o600 });
  writeFileSync(join(dir, 'acl'), files.acl, { mode: 0o600 });
  writeFileSync(join(dir, 'mosquitto.conf'), files.conf, { mode: 0o600 });
  const child = spawn(MOSQUITTO, ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  for (let k = 0; ; k++) {
    if (child.exitCode !== null) {
      await stop();
      return out || `exit code ${child.exitCode}`;
    }
    if (await accepts(port)) break;
    if (k > 300) {
      await stop();
      throw new Error(`mosquitto does not listen on ${port}: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return { url: `mqtt://127.0.0.1:${port}`, output: () => out, stop };
}

test('mosquitto: device ↔ link round trip, last will, and a device cannot publish or read as another', { skip: existsSync(MOSQUITTO) ? false : `${MOSQUITTO} not installed (apt-get install mosquitto)` }, async () => {
  assert.equal(spawnSync(MOSQUITTO, ['-h']).error, undefined);
  const secrets = { 'heater-1': 'hth_secret_one_0123456789', 'heater-2': 'hth_secret_two_0123456789' };
  const coordinatorSecret = 'coordinator-secret-0123456789';
  const m = await startMosquitto({ devices: Object.entries(secrets).map(([deviceId, secret]) => ({ deviceId, secret })), coordinatorSecret });
  const lines: string[] = [];
  let link: MqttLink | undefined;
  const clients: MqttClient[] = [];
  try {
    link = await MqttLink.connect({ url: m.url, password: coordinatorSecret, clean: true, log: (l) => lines.push(l) });
    await assert.rejects(device(m.url, 'heater-1', 'wrong'), /Not authorized|Bad username|refused/i);

    const d1 = await device(m.url, 'heater-1', secrets['heater-1']);
    const d2 = await device(m.url, 'heater-2', secrets['heater-2']);
    clients.push(d1, d2);
    const box1 = inbox(d1);
    const box2 = inbox(d2);
    await d1.subscribeAsync(deviceTopic('heater-1', 'commands'), { qos: 1 });
    await d2.subscribeAsync(deviceTopic('heater-2', 'commands'), { qos: 1 });
    // mosquitto grants or refuses '#' depending on version; either way the ACL filters what is delivered.
    await grants(d1, { '#': { qos: 1 }, [deviceTopic('heater-2', 'commands')]: { qos: 1 } });

    await d1.publishAsync(deviceTopic('heater-1', 'state'), JSON.stringify({ status: 'online' }), { qos: 1, retain: true });
    // heater-1 speaking as heater-2 (both on the topic and in the body): mosquitto drops it.
    await d1.publishAsync(deviceTopic('heater-2', 'telemetry'), JSON.stringify(report('heater-2', 666)), { qos: 1 });
    // Garbage on its own topic passes mosquitto (it does not read payloads): the link drops it.
    await d1.publishAsync(deviceTopic('heater-1', 'telemetry'), '{not json', { qos: 1 });
    await d1.publishAsync(deviceTopic('heater-1', 'telemetry'), JSON.stringify(report('heater-1', 1)), { qos: 1 });
    await d2.publishAsync(deviceTopic('heater-2', 'instances'), JSON.stringify(instanceReport('heater-2')), { qos: 1 });
    const got = { reports: [] as DeviceReport[], instances: [] as InstanceReport[] };
    await soon(() => {
      const x = link!.drain();
      got.reports.push(...x.reports);
      got.instances.push(...x.instances);
      return got.reports.length >= 1 && got.instances.length >= 1 ? true : undefined;
    }, 'reports through mosquitto');
    assert.deepEqual(got.reports, [report('heater-1', 1)], 'the forged heater-2 report never arrived');
    assert.deepEqual(got.instances, [instanceReport('heater-2')]);
    assert.equal(link.counters.dropped.payload, 1);
    await soon(() => (link!.online('heater-1') ? true : undefined), 'online through mosquitto');

    const c2 = box2.next(deviceTopic('heater-2', 'commands'));
    const c1 = box1.next(deviceTopic('heater-1', 'commands'));
    link.send('heater-2', POWER);
    link.send('heater-1', { kind: 'setpoint', setpointC: 20 });
    assert.deepEqual(JSON.parse(await c2), POWER);
    await c1;
    assert.deepEqual(
      box1.messages.map((x) => x.topic),
      [deviceTopic('heater-1', 'commands')],
      "heater-1 did not read heater-2's command",
    );

    // Last will through mosquitto.
    const offline = new Promise<void>((resolve) => {
      const stop = link!.onStateChange((id, state) => {
        if (id === 'heater-1' && state?.status === 'offline') {
          stop();
          resolve();
        }
      });
    });
    d1.stream.destroy();
    await offline;
    assert.equal(link.online('heater-1'), false);
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\nmosquitto said:\n${m.output()}`, { cause: e });
  } finally {
    for (const c of clients) c.end(true);
    await link?.close();
    await m.stop();
  }
});
