// Home Assistant MQTT discovery (issue 6): a real mqtt.js client acting as Home Assistant against the embedded broker
// of a real platform on loopback. It sees the retained climate configs and states of its rooms only, sets a valid
// target (the API and the device's thermostat follow) and is refused an invalid one (counted, logged, the state
// republished); the attacks of a Home Assistant login are refused and counted. Ticks are driven by the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { closed, grants } from '../helpers/mqtt-client.ts';
import { startPlatform, type Platform } from '../../src/coordinator/server.ts';
import { enrolDevice, enrolHomeAssistant } from '../../src/coordinator/bus/enrol.ts';
import { createAccount } from '../../src/coordinator/auth/tokens.ts';
import {
  HA_ALL_COMMANDS_FILTER,
  decodeHaCommand,
  deviceTopic,
  haClimateConfig,
  haCommandTopic,
  haConfigTopic,
  haObjectId,
  haStateTopic,
  isHaUsername,
  parseHaConfigTopic,
  parseHaTopic,
  roomIdOfObjectId,
} from '../../src/protocol/mqtt.ts';
import type { DeviceReport } from '../../src/protocol/device.ts';
import { SYSTEM } from '../../src/coordinator/store/types.ts';
import { until } from '../helpers/until.ts';

const OPERATOR = 'hth_operator-token-for-the-home-assistant-test';

// ---------------------------------------------------------------------------------------------------------
// Helpers

/** Messages a client received, in order, with a wait for the next one matching (existing ones count from `from`). */
class Inbox {
  readonly messages: Array<{ topic: string; payload: string; retain: boolean }> = [];
  #waiters: Array<{ match: (m: { topic: string; payload: string }) => boolean; from: number; resolve: (p: string) => void }> = [];
  constructor(client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      const m = { topic, payload: payload.toString(), retain: packet.retain };
      this.messages.push(m);
      this.#waiters = this.#waiters.filter((w) => !(w.match(m) && (w.resolve(m.payload), true)));
    });
  }
  /** How many messages arrived on `topic` so far. */
  count(topic: string): number {
    return this.messages.filter((m) => m.topic === topic).length;
  }
  /**
   * The first message on `topic` (with `payload`, when given) among those from index `from` on, waiting for it if
   * needed; rejects after `timeoutMs` (a failure, not a timing assumption).
   */
  wait(topic: string, payload?: string, from = 0, timeoutMs = 10_000): Promise<string> {
    const match = (m: { topic: string; payload: string }): boolean => m.topic === topic && (payload === undefined || m.payload === payload);
    const found = this.messages.slice(from).find(match);
    if (found) return Promise.resolve(found.payload);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no message on ${topic}${payload === undefined ? '' : ` = ${payload}`} within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({
        match: (m) => match(m),
        from,
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p);
        },
      });
    });
  }
}

/** until(), polling every 10 ms (the bus answers within milliseconds). */
function soon<T>(fn: () => Promise<T | undefined> | T | undefined, what: string): Promise<T> {
  return until(fn, what, 10_000, 10);
}

/** Log lines with a wait for the first one matching (from now on). */
class LogLines {
  readonly lines: string[] = [];
  #waiters: Array<{ re: RegExp; resolve: () => void }> = [];
  readonly log = (line: string): void => {
    this.lines.push(line);
    this.#waiters = this.#waiters.filter((w) => !(w.re.test(line) && (w.resolve(), true)));
  };
  /** Resolves once a line matching `re` is (or was) logged; rejects after `timeoutMs`. */
  seen(re: RegExp, timeoutMs = 10_000): Promise<void> {
    if (this.lines.some((l) => re.test(l))) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no log line matching ${re} within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({
        re,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }
  /** A pino destination: each JSON line's `msg`. */
  readonly stream = {
    write: (chunk: string): void => {
      for (const line of chunk.split('\n')) {
        if (line.trim() === '') continue;
        try {
          const msg = (JSON.parse(line) as { msg?: unknown }).msg;
          if (typeof msg === 'string') this.log(msg);
        } catch {
          this.log(line);
        }
      }
    },
  };
}

/** Home Assistant's MQTT client, as its MQTT integration connects (birth/will on its status topic). */
function homeAssistant(url: string, username: string, password: string, extra: IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(
    url,
    {
      protocolVersion: 4,
      username,
      password,
      clientId: `ha-test-${Math.random().toString(36).slice(2, 10)}`,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
      will: { topic: 'homeassistant/status', payload: Buffer.from('offline'), qos: 1, retain: false },
      ...extra,
    },
    false,
  );
}

function report(deviceId: string, airC: number, at: number): DeviceReport {
  return { deviceId, at, airC, setpointC: 20, bodyC: 40, outdoorC: 5, powerW: 300, computeW: 250, fillerW: 0, boosterW: 50, busyBoards: 1, level: 5, meterWh: 100 };
}

async function api(p: Platform, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(`${p.url}${path}`, {
    method,
    headers: { authorization: token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

const ROOM_SPEC = { archetype: 'dwelling:rt2012', areaM2: 20, comfortC: 20, setbackC: 16, minC: 16, maxC: 23, safetyC: 28 };
const HEATER_SPEC = { model: 'q.rad', boards: 3, coresPerBoard: 4, memoryMBPerBoard: 8192, gpu: false, maxW: 500 };


// ---------------------------------------------------------------------------------------------------------

test('protocol: room topics, object ids and command payloads', () => {
  for (const id of ['room-a1', 'a.b:c_d', 'X', 'demo-room-1']) {
    assert.equal(roomIdOfObjectId(haObjectId(id)), id);
    assert.match(haObjectId(id), /^[A-Za-z0-9_-]+$/);
    assert.equal(parseHaConfigTopic('homeassistant', haConfigTopic('homeassistant', id)), id);
    assert.deepEqual(parseHaTopic(haStateTopic(id, 'target_temperature')), { roomId: id, kind: 'state', state: 'target_temperature' });
    assert.deepEqual(parseHaTopic(haCommandTopic(id, 'mode')), { roomId: id, kind: 'command', command: 'mode' });
  }
  assert.notEqual(haObjectId('a_b'), haObjectId('a.b'));
  assert.equal(roomIdOfObjectId('room_a_zz'), undefined);
  assert.equal(parseHaTopic('hearth/v1/rooms/+/ha/target_temperature/set'), undefined);
  assert.equal(parseHaTopic('hearth/v1/rooms/a/ha/target_temperature/set/x'), undefined);
  assert.throws(() => haStateTopic('a/b', 'mode'), TypeError);
  assert.equal(HA_ALL_COMMANDS_FILTER, 'hearth/v1/rooms/+/ha/+/set');
  assert.deepEqual(decodeHaCommand('target_temperature', '21.5'), { ok: true, value: 21.5 });
  assert.equal(decodeHaCommand('target_temperature', 'abc').ok, false);
  assert.equal(decodeHaCommand('target_temperature', 'NaN').ok, false);
  assert.equal(decodeHaCommand('target_temperature', '1e400').ok, false);
  assert.equal(decodeHaCommand('target_temperature', '2'.repeat(100)).ok, false);
  assert.equal(decodeHaCommand('target_temperature', Buffer.from([0xff, 0xfe])).ok, false);
  assert.deepEqual(decodeHaCommand('mode', 'heat'), { ok: true, value: 'heat' });
  assert.equal(decodeHaCommand('mode', 'off').ok, false);
  assert.equal(isHaUsername('ha+0123456789abcdef'), true);
  assert.equal(isHaUsername('@coordinator'), false);
  const config = haClimateConfig({ id: 'r1', name: 'Living room', minC: 16, maxC: 23 });
  assert.equal(config.min_temp, 16);
  assert.equal(config.max_temp, 23);
  assert.deepEqual(config.modes, ['heat']);
  assert.equal(config.temperature_command_topic, 'hearth/v1/rooms/r1/ha/target_temperature/set');
});

test('home assistant: discovery, states and setpoints through the real platform and broker; the attacks are refused and counted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-ha-'));
  const logs = new LogLines();
  let platform: Platform | undefined;
  const clients: MqttClient[] = [];
  try {
    platform = await startPlatform({
      port: 0,
      dataDir: dir,
      env: { HEARTH_BOOTSTRAP_TOKEN: OPERATOR },
      // The broker's and the bridge's warnings go to the server's log.
      logger: { level: 'warn', stream: logs.stream },
      // A period far longer than the test: every tick is the test's own.
      fleet: { bus: { port: 0 }, periodS: 3600, demo: false, hooks: { onWarning: logs.log } },
    });
    const p = platform;
    const broker = p.fleet!.broker!;
    const bridge = p.fleet!.homeAssistant!;
    assert.ok(bridge, 'the bridge runs with the embedded broker');
    // The broker's refusals and the bridge's go to the fleet's warnings.
    const brokerLog = logs;

    // Two sites: A with rooms a1 and a2, B with b1; a heater in each room.
    for (const [site, rooms] of [['site-a', ['room-a1', 'room-a2']], ['site-b', ['room-b1']]] as const) {
      assert.equal((await api(p, 'POST', '/hearth/v1/sites', OPERATOR, { id: site, name: site, spec: { climateZone: 'H1a', tariffEURPerKWh: 0.2 } })).status, 201);
      for (const room of rooms) {
        assert.equal((await api(p, 'POST', '/hearth/v1/rooms', OPERATOR, { id: room, siteId: site, name: `Room ${room}`, spec: ROOM_SPEC })).status, 201);
        assert.equal((await api(p, 'POST', '/hearth/v1/heaters', OPERATOR, { id: `heater-${room}`, roomId: room, name: `Heater ${room}`, spec: HEATER_SPEC })).status, 201);
      }
    }
    // The resident of a1 issues Home Assistant's login through the integration route; the operator one for site B.
    const resident = await createAccount(p.store, { email: 'resident@example.org', role: 'resident', scope: { roomIds: ['room-a1'] } });
    const issued = await api(p, 'POST', '/hearth/v1/integrations/home-assistant', resident.token, {});
    assert.equal(issued.status, 201, JSON.stringify(issued.json));
    assert.deepEqual(issued.json.roomIds, ['room-a1']);
    assert.equal(issued.json.discoveryPrefix, 'homeassistant');
    const login = { username: issued.json.username as string, password: issued.json.password as string };
    assert.ok(isHaUsername(login.username));
    // Through the API too, the login is no more than a resident of its rooms (no credits, so no compute).
    const seen = await fetch(`${p.url}/hearth/v1/rooms`, { headers: { authorization: login.password } });
    assert.deepEqual(((await seen.json()) as Array<{ id: string }>).map((r) => r.id), ['room-a1']);
    await assert.rejects(enrolHomeAssistant(p.store, []), TypeError);
    await assert.rejects(enrolHomeAssistant(p.store, ['a/b']), TypeError);
    assert.equal((await api(p, 'POST', '/hearth/v1/integrations/home-assistant', resident.token, { roomIds: ['room-a2'] })).status, 400, 'not their room');
    const siteB = await api(p, 'POST', '/hearth/v1/integrations/home-assistant', OPERATOR, { siteId: 'site-b' });
    assert.equal(siteB.status, 201);
    assert.deepEqual(siteB.json.roomIds, ['room-b1']);
    const customer = await createAccount(p.store, { email: 'customer@example.org', credits: 10 });
    assert.equal((await api(p, 'POST', '/hearth/v1/integrations/home-assistant', customer.token, {})).status, 403);

    // The heater of a1 reports a room at 19.4 °C over the bus; a tick stores it and publishes the entities.
    const deviceSecret = (await enrolDevice(p.store, 'heater-room-a1')).secret;
    const device = await mqtt.connectAsync(broker.url, { protocolVersion: 4, clientId: 'heater-room-a1', username: 'heater-room-a1', password: deviceSecret, reconnectPeriod: 0 }, false);
    clients.push(device);
    const deviceInbox = new Inbox(device);
    await device.subscribeAsync(deviceTopic('heater-room-a1', 'commands'), { qos: 1 });
    await device.publishAsync(deviceTopic('heater-room-a1', 'telemetry'), JSON.stringify(report('heater-room-a1', 19.4, Date.now())), { qos: 1 });
    await soon(async () => {
      await p.fleet!.tick();
      return (await p.store.latestTelemetry(['heater-room-a1']))[0];
    }, 'the telemetry of heater-room-a1 in the store');

    // Home Assistant connects, announces itself and subscribes to discovery as its MQTT integration does.
    const ha = await homeAssistant(broker.url, login.username, login.password);
    clients.push(ha);
    const inbox = new Inbox(ha);
    await ha.publishAsync('homeassistant/status', 'online', { qos: 1 });
    assert.deepEqual(await grants(ha, { 'homeassistant/#': { qos: 1 } }), [1]);
    const configTopic = haConfigTopic('homeassistant', 'room-a1');
    const config = JSON.parse(await inbox.wait(configTopic)) as Record<string, unknown>;
    assert.equal(config.unique_id, `hearth_${haObjectId('room-a1')}`);
    assert.equal(config.min_temp, 16);
    assert.equal(config.max_temp, 23);
    assert.deepEqual(config.modes, ['heat']);
    assert.equal((config.device as { name: string }).name, 'Room room-a1');
    assert.ok(inbox.messages.find((m) => m.topic === configTopic)!.retain, 'the config is retained');

    // It subscribes to the states its config names, and sees the room's temperature, target, mode, availability.
    const states = {
      current: config.current_temperature_topic as string,
      target: config.temperature_state_topic as string,
      mode: config.mode_state_topic as string,
      availability: config.availability_topic as string,
      attributes: config.json_attributes_topic as string,
    };
    assert.deepEqual(await grants(ha, Object.fromEntries(Object.values(states).map((t) => [t, { qos: 1 as const }]))), [1, 1, 1, 1, 1]);
    assert.equal(await inbox.wait(states.current), '19.4');
    assert.equal(await inbox.wait(states.target), '20');
    assert.equal(await inbox.wait(states.mode), 'heat');
    assert.equal(await inbox.wait(states.availability), 'online');
    assert.deepEqual(JSON.parse(await inbox.wait(states.attributes)), { setpointNowC: 20, minC: 16, maxC: 23, scheduled: false, heaters: 1 });

    // Only on change: a tick with nothing new publishes nothing.
    const published = bridge.counters.published;
    await p.fleet!.tick();
    assert.equal(bridge.counters.published, published);

    // A valid target: stored through the setpoint route's validation; the API shows it; the device is told.
    const commandTopic = config.temperature_command_topic as string;
    await ha.publishAsync(commandTopic, '21.5', { qos: 1 });
    assert.equal(await inbox.wait(states.target, '21.5'), '21.5');
    const room = await api(p, 'GET', '/hearth/v1/rooms/room-a1', resident.token);
    assert.equal((room.json.spec as { comfortC: number }).comfortC, 21.5);
    assert.equal(bridge.counters.commands.accepted, 1);
    await p.fleet!.tick();
    const command = await soon(() => Promise.resolve(deviceInbox.messages.find((m) => m.payload.includes('"kind":"setpoint"') && m.payload.includes('21.5'))?.payload), 'the setpoint command');
    assert.deepEqual(JSON.parse(command), { kind: 'setpoint', setpointC: 21.5 });
    // The setpoint event (the live streams') names Home Assistant.
    const events = await p.store.readEvents(SYSTEM, { afterId: 0, limit: 1000 });
    assert.deepEqual(events.filter((e) => e.type === 'setpoint').map((e) => e.payload), [{ roomId: 'room-a1', siteId: 'site-a', comfortC: 21.5, by: 'home-assistant' }]);

    // Invalid targets: out of limits, not a number, oversized. Each refused, counted, logged; the state republished
    // with the current value; the API unchanged.
    let refused = bridge.counters.commands.refused;
    for (const bad of ['30', '15.9', 'abc', '', 'NaN', '2'.repeat(64)]) {
      const before = inbox.count(states.target);
      await ha.publishAsync(commandTopic, bad, { qos: 1 });
      assert.equal(await inbox.wait(states.target, undefined, inboxIndexAfter(inbox, states.target, before)), '21.5', `republished after ${JSON.stringify(bad)}`);
      assert.equal(bridge.counters.commands.refused, ++refused, `counted: ${JSON.stringify(bad)}`);
    }
    await logs.seen(/home assistant: refused target_temperature for room room-a1: comfortC must lie within the room's limits \[16, 23\] °C, got 30/);
    await logs.seen(/home assistant: refused target_temperature for room room-a1: payload is 64 bytes/);
    assert.equal(((await api(p, 'GET', '/hearth/v1/rooms/room-a1', OPERATOR)).json.spec as { comfortC: number }).comfortC, 21.5);
    // The REST route gives the same answer for the same value (one validation).
    const rest = await api(p, 'PUT', '/hearth/v1/rooms/room-a1/setpoint', resident.token, { comfortC: 30 });
    assert.equal(rest.status, 400);
    assert.equal(rest.json.message, "comfortC must lie within the room's limits [16, 23] °C, got 30");

    // Modes: heat acknowledged, anything else refused with heat republished.
    const modeTopic = config.mode_command_topic as string;
    let before = inbox.count(states.mode);
    await ha.publishAsync(modeTopic, 'off', { qos: 1 });
    await inbox.wait(states.mode, 'heat', inboxIndexAfter(inbox, states.mode, before));
    assert.equal(bridge.counters.commands.refused, ++refused);
    before = inbox.count(states.mode);
    await ha.publishAsync(modeTopic, 'heat', { qos: 1 });
    await inbox.wait(states.mode, 'heat', inboxIndexAfter(inbox, states.mode, before));
    assert.equal(bridge.counters.commands.accepted, 2);

    // A setpoint changed through the API reaches Home Assistant at the next tick.
    assert.equal((await api(p, 'PUT', '/hearth/v1/rooms/room-a1/setpoint', resident.token, { comfortC: 19 })).status, 200);
    await p.fleet!.tick();
    await inbox.wait(states.target, '19');

    // Attacks of a Home Assistant login. Subscriptions: everything, device topics, another room's state — refused
    // (SUBACK 0x80), counted, logged; the connection stays up.
    const subRefused = broker.counters.refused.subscribe;
    assert.deepEqual(
      await grants(ha, {
        '#': { qos: 0 },
        'hearth/v1/devices/+/telemetry': { qos: 0 },
        [deviceTopic('heater-room-a1', 'commands')]: { qos: 0 },
        [haStateTopic('room-b1', 'current_temperature')]: { qos: 0 },
        'hearth/v1/rooms/+/ha/#': { qos: 0 },
        [HA_ALL_COMMANDS_FILTER]: { qos: 0 },
      }),
      [128, 128, 128, 128, 128, 128],
    );
    assert.equal(broker.counters.refused.subscribe, subRefused + 6);
    await brokerLog.seen(/mqtt: refused subscribe: subscription to "#" \(client="ha-test-[a-z0-9]+" ha=ha\+/);
    // Another room's config, asked for by name under the discovery prefix: granted, never delivered.
    assert.deepEqual(await grants(ha, { [haConfigTopic('homeassistant', 'room-b1')]: { qos: 1 } }), [1]);

    // Publishing to another room's command topic (on its own connection: the broker closes it) — refused, counted.
    const intruder = await homeAssistant(broker.url, login.username, login.password);
    clients.push(intruder);
    const pubRefused = broker.counters.refused.publish;
    const gone = closed(intruder);
    intruder.publish(haCommandTopic('room-a2', 'target_temperature'), '22', { qos: 1 });
    await gone;
    assert.equal(broker.counters.refused.publish, pubRefused + 1);
    // A device topic and a state topic of its own room: refused the same way.
    for (const topic of [deviceTopic('heater-room-a1', 'telemetry'), states.target, configTopic]) {
      const c = await homeAssistant(broker.url, login.username, login.password);
      clients.push(c);
      const down = closed(c);
      c.publish(topic, '22', { qos: 1 });
      await down;
    }
    assert.equal(broker.counters.refused.publish, pubRefused + 4);
    assert.equal(((await api(p, 'GET', '/hearth/v1/rooms/room-a2', OPERATOR)).json.spec as { comfortC: number }).comfortC, 20, 'room a2 unchanged');

    // Wrong password, another login's password, a device's client id, a last will elsewhere: connection refused.
    const authRefused = broker.counters.refused.auth;
    await assert.rejects(homeAssistant(broker.url, login.username, 'hth_wrong'));
    await assert.rejects(homeAssistant(broker.url, login.username, siteB.json.password as string));
    await assert.rejects(homeAssistant(broker.url, login.username, login.password, { clientId: 'heater-room-a1' }));
    await assert.rejects(homeAssistant(broker.url, login.username, login.password, { will: { topic: deviceTopic('heater-room-a1', 'state'), payload: Buffer.from('{"status":"offline"}'), qos: 1, retain: true } }));
    await assert.rejects(homeAssistant(broker.url, login.username, resident.token), 'the resident token is not the login');
    await assert.rejects(homeAssistant(broker.url, siteB.json.username as string, siteB.json.password as string, { clientId: ha.options.clientId }), 'another login cannot take its session over');
    assert.equal(broker.counters.refused.auth, authRefused + 6);
    assert.ok(ha.connected, 'Home Assistant kept its session');
    await brokerLog.seen(/mqtt: refused auth: wrong secret for ha\+/);
    assert.ok(device.connected, 'the device kept its session');

    // Site B's login sees b1 only.
    const haB = await homeAssistant(broker.url, siteB.json.username as string, siteB.json.password as string);
    clients.push(haB);
    const inboxB = new Inbox(haB);
    assert.deepEqual(await grants(haB, { 'homeassistant/+/+/+/config': { qos: 1 } }), [1]);
    await inboxB.wait(haConfigTopic('homeassistant', 'room-b1'));

    // Nothing crashed: the first login still works end to end.
    await ha.publishAsync(commandTopic, '22', { qos: 1 });
    await inbox.wait(states.target, '22');
    assert.equal(((await api(p, 'GET', '/hearth/v1/rooms/room-a1', OPERATOR)).json.spec as { comfortC: number }).comfortC, 22);

    // After all these round trips, neither login ever received another room's config or state, nor device traffic.
    const foreign = (m: { topic: string }, own: string): boolean =>
      m.topic !== 'homeassistant/status' && parseHaConfigTopic('homeassistant', m.topic) !== own && parseHaTopic(m.topic)?.roomId !== own;
    assert.deepEqual(inbox.messages.filter((m) => foreign(m, 'room-a1')), []);
    assert.deepEqual(inboxB.messages.filter((m) => foreign(m, 'room-b1')), []);
    assert.ok(inbox.messages.some((m) => m.topic === 'homeassistant/status'), 'its own birth message came back');

    // A room deleted (its heater first) disappears from Home Assistant: its retained config is cleared.
    assert.equal((await api(p, 'DELETE', '/hearth/v1/heaters/heater-room-a1', OPERATOR)).status, 204);
    before = inbox.count(configTopic);
    await p.fleet!.tick();
    assert.equal(await inbox.wait(configTopic, '', inboxIndexAfter(inbox, configTopic, before)), '');
  } finally {
    for (const c of clients) await c.endAsync(true).catch(() => undefined);
    await platform?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The index in `inbox.messages` just after the `count`-th message on `topic` (0 when count is 0). */
function inboxIndexAfter(inbox: Inbox, topic: string, count: number): number {
  if (count === 0) return 0;
  let seen = 0;
  for (let i = 0; i < inbox.messages.length; i++) {
    if (inbox.messages[i].topic === topic && ++seen === count) return i + 1;
  }
  return inbox.messages.length;
}

test('home assistant logins are listed (operator: all; resident: those they issued) and revoked: the password stops working and open connections end', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-ha-revoke-'));
  let platform: Platform | undefined;
  const clients: MqttClient[] = [];
  try {
    platform = await startPlatform({ port: 0, dataDir: dir, env: { HEARTH_BOOTSTRAP_TOKEN: OPERATOR }, fleet: { bus: { port: 0 }, periodS: 3600, demo: false } });
    const p = platform;
    const url = p.fleet!.broker!.url;
    assert.equal((await api(p, 'POST', '/hearth/v1/sites', OPERATOR, { id: 'site-r', name: 'R', spec: { climateZone: 'H1a', tariffEURPerKWh: 0.2 } })).status, 201);
    for (const room of ['room-r1', 'room-r2']) assert.equal((await api(p, 'POST', '/hearth/v1/rooms', OPERATOR, { id: room, siteId: 'site-r', name: room, spec: ROOM_SPEC })).status, 201);
    const alice = await createAccount(p.store, { email: 'alice@example.org', role: 'resident', scope: { roomIds: ['room-r1'] } });
    const bob = await createAccount(p.store, { email: 'bob@example.org', role: 'resident', scope: { roomIds: ['room-r2'] } });
    const customer = await createAccount(p.store, { email: 'c@example.org', credits: 1 });
    const issued = await api(p, 'POST', '/hearth/v1/integrations/home-assistant', alice.token, {});
    assert.equal(issued.status, 201);
    const username = issued.json.username as string;
    const password = issued.json.password as string;
    const bobs = await api(p, 'POST', '/hearth/v1/integrations/home-assistant', bob.token, {});
    assert.equal(bobs.status, 201);

    // Listing: never a password; each resident sees their own, the operator every one; a customer none.
    const listed = async (token: string): Promise<{ status: number; items: Array<Record<string, unknown>> }> => {
      const r = await fetch(`${p.url}/hearth/v1/integrations/home-assistant`, { headers: { authorization: token } });
      const text = await r.text();
      assert.ok(!text.includes(password) && !text.includes(bobs.json.password as string), 'no password listed');
      return { status: r.status, items: r.status === 200 ? (JSON.parse(text) as Array<Record<string, unknown>>) : [] };
    };
    const mine = await listed(alice.token);
    assert.deepEqual(mine.items.map((l) => [l.username, l.roomIds, l.issuedBy, l.revoked]), [[username, ['room-r1'], alice.account.id, false]]);
    assert.deepEqual((await listed(bob.token)).items.map((l) => l.username), [bobs.json.username]);
    assert.deepEqual((await listed(OPERATOR)).items.map((l) => l.username).sort(), [username, bobs.json.username].sort());
    assert.equal((await listed(customer.token)).status, 403);

    // Home Assistant is connected with the login.
    const ha = await homeAssistant(url, username, password);
    clients.push(ha);
    assert.ok(ha.connected);

    // Bob cannot revoke Alice's login (as unknown as a missing one); nor can a customer; nor an unknown name.
    const path = `/hearth/v1/integrations/home-assistant/${encodeURIComponent(username)}`;
    assert.equal((await api(p, 'DELETE', path, bob.token)).status, 404);
    assert.equal((await api(p, 'DELETE', path, customer.token)).status, 404);
    assert.equal((await api(p, 'DELETE', '/hearth/v1/integrations/home-assistant/ha%2Bnobody', OPERATOR)).status, 404);
    assert.ok(ha.connected, 'refused revocations change nothing');

    // Alice revokes it: the connection ends, the password no longer connects (MQTT nor API), the list says so.
    const gone = closed(ha);
    const revoked = await api(p, 'DELETE', path, alice.token);
    assert.equal(revoked.status, 200, JSON.stringify(revoked.json));
    assert.equal(revoked.json.revoked, true);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([gone, new Promise((_r, reject) => (timer = setTimeout(() => reject(new Error('the revoked login is still connected after 20 s')), 20_000)))]);
    clearTimeout(timer);
    await assert.rejects(homeAssistant(url, username, password));
    assert.equal((await fetch(`${p.url}/hearth/v1/rooms`, { headers: { authorization: password } })).status, 401);
    assert.deepEqual((await listed(alice.token)).items.map((l) => l.revoked), [true]);
    // Bob's login is untouched.
    const stillBob = await homeAssistant(url, bobs.json.username as string, bobs.json.password as string);
    clients.push(stillBob);
    assert.ok(stillBob.connected);
  } finally {
    for (const c of clients) await c.endAsync(true).catch(() => undefined);
    await platform?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
