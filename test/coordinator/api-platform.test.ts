// The platform API under /hearth/v1 over a real SQLite file: registry CRUD and validation, scoping per role,
// setpoints and schedules, telemetry history, fleet, energy and host statements, usage, SSE, hostile bodies.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- response bodies are untyped JSON, checked by the assertions */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/coordinator/app.ts';
import { createAccount } from '../../src/coordinator/auth/tokens.ts';
import { EventHub } from '../../src/coordinator/events.ts';
import { openStore } from '../../src/coordinator/store/index.ts';
import type { Store } from '../../src/coordinator/store/types.ts';
import { DEFAULT_CARBON_G_PER_KWH, monthOf, monthRange, setpointAt, type LiveEvent, type RoomSpec } from '../../src/protocol/platform.ts';

const P = '/hearth/v1';

interface World {
  app: FastifyInstance;
  store: Store;
  events: EventHub;
  now: { ms: number };
  tokens: { operator: string; customer: string; resident: string; host: string; otherHost: string; device: string };
  ids: { customer: string; resident: string; host: string; otherHost: string };
  req(token: string | undefined, opts: InjectOptions): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

const siteSpec = (extra: Record<string, unknown> = {}) => ({ climateZone: 'H2c', tariffEURPerKWh: 0.2, ...extra });
const roomSpec = (extra: Record<string, unknown> = {}): RoomSpec & Record<string, unknown> => ({
  archetype: 'dwelling:rt2012',
  areaM2: 20,
  comfortC: 20,
  setbackC: 16,
  minC: 17,
  maxC: 23,
  safetyC: 28,
  ...extra,
});
const heaterSpec = (extra: Record<string, unknown> = {}) => ({ model: 'QH-1', boards: 3, coresPerBoard: 4, memoryMBPerBoard: 8192, gpu: false, maxW: 500, ...extra });
const boilerSpec = (extra: Record<string, unknown> = {}) => ({ volumeL: 200, setpointC: 55, safetyC: 80, boards: 2, coresPerBoard: 8, memoryMBPerBoard: 16384, gpu: false, maxW: 1000, ...extra });

/**
 * An app over a fresh SQLite file with accounts of every kind and a small fleet: site s1 (hosted by `host`) with
 * rooms r1 (the resident's) and r2, heaters h1 (in r1) and h2 (in r2, the device account's), boiler b1; site s2
 * (hosted by `otherHost`) with room r3 and heater h3.
 */
async function world(options: { heartbeatMs?: number } = {}): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-platform-'));
  const store = await openStore(`sqlite:${join(dir, 'hearth.db')}`);
  const now = { ms: Date.UTC(2025, 1, 10, 12) };
  const events = new EventHub({ heartbeatMs: options.heartbeatMs });
  const mk = (email: string, role: 'operator' | 'customer' | 'resident' | 'device', scope?: { roomIds?: string[]; deviceId?: string }) => createAccount(store, { email, role, scope, credits: 10 });
  const operator = await mk('op@example.com', 'operator');
  const customer = await mk('c@example.com', 'customer');
  const resident = await mk('res@example.com', 'resident', { roomIds: ['r1'] });
  const host = await mk('host@example.com', 'resident');
  const otherHost = await mk('other@example.com', 'customer');
  const device = await mk('dev@example.com', 'device', { deviceId: 'h2' });
  const app = await buildApp({ store, clock: () => now.ms, storageUrl: 'http://storage.test', rateLimit: false, events });
  const req = (token: string | undefined, opts: InjectOptions) => app.inject({ ...opts, headers: { ...(token === undefined ? {} : { authorization: token }), ...(opts.headers ?? {}) } });
  const op = operator.token;
  const must = async (opts: InjectOptions & { url: string }): Promise<void> => {
    const r = await req(op, opts);
    assert.equal(r.statusCode, 201, `${opts.url}: ${r.body}`);
  };
  await must({ method: 'POST', url: `${P}/sites`, payload: { id: 's1', name: 'Rue des Lilas', accountId: host.account.id, spec: siteSpec({ layout: { x: 1, y: 2 } }) } });
  await must({ method: 'POST', url: `${P}/sites`, payload: { id: 's2', name: 'Quai Ouest', accountId: otherHost.account.id, spec: siteSpec({ tariffEURPerKWh: 0.25, carbonGPerKWh: 30 }) } });
  await must({ method: 'POST', url: `${P}/rooms`, payload: { id: 'r1', siteId: 's1', name: 'living', spec: roomSpec() } });
  await must({ method: 'POST', url: `${P}/rooms`, payload: { id: 'r2', siteId: 's1', name: 'bedroom', spec: roomSpec() } });
  await must({ method: 'POST', url: `${P}/rooms`, payload: { id: 'r3', siteId: 's2', name: 'office', spec: roomSpec() } });
  await must({ method: 'POST', url: `${P}/heaters`, payload: { id: 'h1', roomId: 'r1', name: 'h1', spec: heaterSpec() } });
  await must({ method: 'POST', url: `${P}/heaters`, payload: { id: 'h2', roomId: 'r2', name: 'h2', spec: heaterSpec() } });
  await must({ method: 'POST', url: `${P}/heaters`, payload: { id: 'h3', roomId: 'r3', name: 'h3', spec: heaterSpec() } });
  await must({ method: 'POST', url: `${P}/boilers`, payload: { id: 'b1', siteId: 's1', name: 'tank', spec: boilerSpec() } });
  return {
    app,
    store,
    events,
    now,
    tokens: { operator: op, customer: customer.token, resident: resident.token, host: host.token, otherHost: otherHost.token, device: device.token },
    ids: { customer: customer.account.id, resident: resident.account.id, host: host.account.id, otherHost: otherHost.account.id },
    req,
    close: async () => {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const ids = (r: LightMyRequestResponse): string[] => r.json().map((x: { id: string }) => x.id);

describe('platform API', () => {
  let w: World;
  before(async () => {
    w = await world();
  });
  after(async () => {
    await w.close();
  });

  test('registry CRUD: create, read, replace, delete; ids unique across kinds; dependants block deletion', async () => {
    const op = w.tokens.operator;
    const site = (await w.req(op, { method: 'GET', url: `${P}/sites/s1` })).json();
    assert.equal(site.name, 'Rue des Lilas');
    assert.equal(site.accountId, w.ids.host);
    assert.deepEqual(site.spec, siteSpec({ layout: { x: 1, y: 2 } }));
    assert.match(site.createdAt, /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(ids(await w.req(op, { method: 'GET', url: `${P}/sites` })), ['s1', 's2']);
    assert.deepEqual(ids(await w.req(op, { method: 'GET', url: `${P}/sites/s1/rooms` })), ['r1', 'r2']);
    assert.deepEqual(ids(await w.req(op, { method: 'GET', url: `${P}/rooms/r1/heaters` })), ['h1']);
    assert.deepEqual(ids(await w.req(op, { method: 'GET', url: `${P}/sites/s1/boilers` })), ['b1']);
    const h1 = (await w.req(op, { method: 'GET', url: `${P}/heaters/h1` })).json();
    assert.deepEqual([h1.siteId, h1.roomId], ['s1', 'r1']);

    // A generated id; the kinds do not mix (a room id is no site).
    const gen = await w.req(op, { method: 'POST', url: `${P}/sites`, payload: { name: 'new', spec: siteSpec() } });
    assert.equal(gen.statusCode, 201);
    assert.match(gen.json().id, /^[0-9a-f-]{36}$/);
    assert.equal((await w.req(op, { method: 'GET', url: `${P}/sites/r1` })).statusCode, 404);
    const dup = await w.req(op, { method: 'POST', url: `${P}/sites`, payload: { id: 'r1', name: 'x', spec: siteSpec() } });
    assert.equal(dup.statusCode, 409);
    assert.equal(dup.json().field, 'id');
    // The overflow datacenter's executor is device `overflow`: no row may take its id.
    const reserved = await w.req(op, { method: 'POST', url: `${P}/sites`, payload: { id: 'overflow', name: 'x', spec: siteSpec() } });
    assert.equal(reserved.statusCode, 409, reserved.body);
    assert.equal(reserved.json().field, 'id');
    assert.match(reserved.json().message, /overflow datacenter/);

    // Replace: the host is kept when accountId is absent; a heater moves to another room (and site).
    const put = await w.req(op, { method: 'PUT', url: `${P}/sites/${gen.json().id}`, payload: { name: 'renamed', spec: siteSpec({ tariffEURPerKWh: 0.3 }) } });
    assert.equal(put.json().name, 'renamed');
    assert.equal(put.json().spec.tariffEURPerKWh, 0.3);
    assert.equal((await w.req(op, { method: 'PUT', url: `${P}/sites/nope`, payload: { name: 'x', spec: siteSpec() } })).statusCode, 404);
    const room = await w.req(op, { method: 'POST', url: `${P}/rooms`, payload: { siteId: gen.json().id, name: 'attic', spec: roomSpec() } });
    assert.equal(room.statusCode, 201);
    const hx = await w.req(op, { method: 'POST', url: `${P}/heaters`, payload: { id: 'hx', roomId: 'r2', name: 'hx', spec: heaterSpec() } });
    assert.equal(hx.json().siteId, 's1');
    const moved = await w.req(op, { method: 'PUT', url: `${P}/heaters/hx`, payload: { roomId: room.json().id, name: 'hx', spec: heaterSpec({ boards: 2 }) } });
    assert.deepEqual([moved.json().siteId, moved.json().roomId, moved.json().spec.boards], [gen.json().id, room.json().id, 2]);
    const bx = await w.req(op, { method: 'POST', url: `${P}/boilers`, payload: { id: 'bx', siteId: gen.json().id, name: 'bx', spec: boilerSpec() } });
    assert.equal(bx.statusCode, 201);
    assert.equal((await w.req(op, { method: 'PUT', url: `${P}/boilers/bx`, payload: { name: 'bx2', spec: boilerSpec({ volumeL: 300 }) } })).json().spec.volumeL, 300);

    // Deletion order: heaters, then rooms, then the site.
    const blocked = await w.req(op, { method: 'DELETE', url: `${P}/sites/${gen.json().id}` });
    assert.equal(blocked.statusCode, 409);
    assert.equal(blocked.json().field, 'rooms');
    assert.equal((await w.req(op, { method: 'DELETE', url: `${P}/rooms/${room.json().id}` })).json().field, 'heaters');
    assert.equal((await w.req(op, { method: 'DELETE', url: `${P}/heaters/hx` })).statusCode, 204);
    assert.equal((await w.req(op, { method: 'DELETE', url: `${P}/heaters/hx` })).statusCode, 404);
    assert.equal((await w.req(op, { method: 'DELETE', url: `${P}/rooms/${room.json().id}` })).statusCode, 204);
    assert.equal((await w.req(op, { method: 'DELETE', url: `${P}/sites/${gen.json().id}` })).json().field, 'boilers');
    assert.equal((await w.req(op, { method: 'DELETE', url: `${P}/boilers/bx` })).statusCode, 204);
    assert.equal((await w.req(op, { method: 'DELETE', url: `${P}/sites/${gen.json().id}` })).statusCode, 204);
    assert.equal((await w.req(op, { method: 'GET', url: `${P}/sites/${gen.json().id}` })).statusCode, 404);

    // Every write was announced on the event log (platform-wide).
    const log = await w.store.readEvents(w.ids.customer);
    assert.deepEqual(log, [], 'registry events are platform-wide');
  });

  test('validation: every bad body answers 400 naming the field', async () => {
    const op = w.tokens.operator;
    const cases: Array<['POST' | 'PUT', string, Record<string, unknown>, string]> = [
      ['POST', '/sites', { name: 'x', spec: { climateZone: 'H2c' } }, 'spec.tariffEURPerKWh'],
      ['POST', '/sites', { name: 'x', spec: siteSpec({ tariffEURPerKWh: -1 }) }, 'spec.tariffEURPerKWh'],
      ['POST', '/sites', { name: 'x', spec: siteSpec({ climateZone: 'H9' }) }, 'spec.climateZone'],
      ['POST', '/sites', { name: 'x', spec: siteSpec({ colour: 'red' }) }, 'spec.colour'],
      ['POST', '/sites', { name: 'x', spec: siteSpec({ layout: { x: 1 } }) }, 'spec.layout.y'],
      ['POST', '/sites', { name: '', spec: siteSpec() }, 'name'],
      ['POST', '/sites', { id: '../etc', name: 'x', spec: siteSpec() }, 'id'],
      ['POST', '/sites', { name: 'x', accountId: 'nobody', spec: siteSpec() }, 'accountId'],
      ['POST', '/rooms', { siteId: 's1', name: 'x', spec: roomSpec({ comfortC: 25 }) }, 'spec.comfortC'],
      ['POST', '/rooms', { siteId: 's1', name: 'x', spec: roomSpec({ minC: 24 }) }, 'spec.maxC'],
      ['POST', '/rooms', { siteId: 's1', name: 'x', spec: roomSpec({ safetyC: 22 }) }, 'spec.safetyC'],
      ['POST', '/rooms', { siteId: 's1', name: 'x', spec: roomSpec({ areaM2: 0 }) }, 'spec.areaM2'],
      ['POST', '/rooms', { siteId: 's1', name: 'x', spec: roomSpec({ schedule: { weekly: [{ day: 7, from: '08:00', to: '09:00', setpointC: 20 }] } }) }, 'spec.schedule.weekly[0].day'],
      ['POST', '/rooms', { siteId: 's1', name: 'x', spec: roomSpec({ schedule: { weekly: [{ day: 1, from: '8:00', to: '09:00', setpointC: 20 }] } }) }, 'spec.schedule.weekly[0].from'],
      ['POST', '/rooms', { siteId: 's1', name: 'x', spec: roomSpec({ schedule: { weekly: [{ day: 1, from: '08:00', to: '09:00', setpointC: 30 }] } }) }, 'spec.schedule.weekly[0].setpointC'],
      ['POST', '/rooms', { siteId: 'nope', name: 'x', spec: roomSpec() }, 'siteId'],
      ['POST', '/rooms', { siteId: 'r1', name: 'x', spec: roomSpec() }, 'siteId'],
      ['POST', '/heaters', { roomId: 'r1', name: 'x', spec: heaterSpec({ boards: 17 }) }, 'spec.boards'],
      ['POST', '/heaters', { roomId: 'r1', name: 'x', spec: heaterSpec({ coresPerBoard: 2.5 }) }, 'spec.coresPerBoard'],
      ['POST', '/heaters', { roomId: 'r1', name: 'x', spec: heaterSpec({ gpu: 'yes' }) }, 'spec.gpu'],
      ['POST', '/heaters', { roomId: 'nope', name: 'x', spec: heaterSpec() }, 'roomId'],
      ['POST', '/heaters', { name: 'x', spec: heaterSpec() }, 'roomId'],
      ['POST', '/boilers', { siteId: 's1', name: 'x', spec: boilerSpec({ setpointC: 90 }) }, 'spec.setpointC'],
      ['POST', '/boilers', { siteId: 's1', name: 'x', spec: boilerSpec({ volumeL: -5 }) }, 'spec.volumeL'],
      ['PUT', '/rooms/r1', { name: 'x', spec: roomSpec({ maxC: 19 }) }, 'spec.comfortC'],
      ['PUT', '/heaters/h1', { name: 'x', spec: heaterSpec(), roomId: 'nope' }, 'roomId'],
    ];
    for (const [method, url, payload, field] of cases) {
      const r = await w.req(op, { method, url: `${P}${url}`, payload });
      assert.equal(r.statusCode, 400, `${method} ${url} ${JSON.stringify(payload)}: ${r.body}`);
      assert.equal(r.json().code, 'VALIDATION');
      assert.equal(r.json().field, field, `${method} ${url}: ${r.body}`);
    }
    assert.equal((await w.req(op, { method: 'GET', url: `${P}/rooms/r1` })).json().spec.maxC, 23, 'a refused PUT changed nothing');
  });

  test('writes are operator-only: 403 for everyone else, whatever they may read', async () => {
    for (const token of [w.tokens.customer, w.tokens.resident, w.tokens.host, w.tokens.device]) {
      for (const [method, url, payload] of [
        ['POST', '/sites', { name: 'x', spec: siteSpec() }],
        ['PUT', '/sites/s1', { name: 'x', spec: siteSpec() }],
        ['DELETE', '/sites/s1', undefined],
        ['POST', '/rooms', { siteId: 's1', name: 'x', spec: roomSpec() }],
        ['PUT', '/rooms/r1', { name: 'x', spec: roomSpec() }],
        ['DELETE', '/heaters/h1', undefined],
        ['POST', '/boilers', { siteId: 's1', name: 'x', spec: boilerSpec() }],
      ] as const) {
        const r = await w.req(token, { method, url: `${P}${url}`, ...(payload ? { payload } : {}) });
        assert.equal(r.statusCode, 403, `${method} ${url}`);
        assert.equal(r.json().code, 'FORBIDDEN');
      }
    }
    assert.equal((await w.req(undefined, { method: 'GET', url: `${P}/sites` })).statusCode, 401);
  });

  test('scoping: resident its rooms and their heaters; host its site; device its device; customer nothing; operator all', async () => {
    const get = (token: string, url: string) => w.req(token, { method: 'GET', url: `${P}${url}` });
    const { resident, host, otherHost, customer, device, operator } = w.tokens;

    assert.deepEqual(ids(await get(resident, '/rooms')), ['r1']);
    assert.deepEqual(ids(await get(resident, '/heaters')), ['h1']);
    assert.deepEqual(ids(await get(resident, '/sites')), []);
    assert.deepEqual(ids(await get(resident, '/boilers')), []);
    assert.deepEqual(ids(await get(resident, '/sites/s1/rooms')), ['r1'], 'only its own rooms of the site');
    assert.deepEqual(ids(await get(resident, '/rooms/r1/heaters')), ['h1']);
    assert.equal((await get(resident, '/rooms/r1')).statusCode, 200);
    for (const url of ['/rooms/r2', '/heaters/h2', '/sites/s1', '/boilers/b1', '/rooms/r2/heaters', '/sites/s2/rooms', '/sites/s1/boilers', '/heaters/h2/telemetry', '/sites/s1/energy', '/sites/s1/statements']) {
      assert.equal((await get(resident, url)).statusCode, 404, url);
    }

    assert.deepEqual(ids(await get(host, '/sites')), ['s1']);
    assert.deepEqual(ids(await get(host, '/rooms')), ['r1', 'r2']);
    assert.deepEqual(ids(await get(host, '/heaters')), ['h1', 'h2']);
    assert.deepEqual(ids(await get(host, '/boilers')), ['b1']);
    assert.equal((await get(host, '/sites/s2')).statusCode, 404);
    assert.equal((await get(host, '/heaters/h3')).statusCode, 404);
    assert.deepEqual(ids(await get(otherHost, '/sites')), ['s2']);

    assert.deepEqual(ids(await get(device, '/heaters')), ['h2']);
    assert.equal((await get(device, '/heaters/h2/boards')).statusCode, 200);
    assert.equal((await get(device, '/heaters/h1')).statusCode, 404);

    for (const url of ['/sites', '/rooms', '/heaters', '/boilers']) assert.deepEqual((await get(customer, url)).json(), [], url);
    for (const url of ['/sites/s1', '/rooms/r1', '/heaters/h1', '/boilers/b1', '/sites/s1/rooms', '/heaters/h1/boards', '/boilers/b1/telemetry', '/sites/s1/statements/2025-01']) {
      assert.equal((await get(customer, url)).statusCode, 404, url);
    }
    assert.equal((await get(customer, '/fleet')).statusCode, 403);
    assert.equal((await get(host, '/fleet')).statusCode, 403);

    assert.deepEqual(ids(await get(operator, '/heaters')), ['h1', 'h2', 'h3']);
  });

  test('setpoints: residents of the room and operators, within [minC, maxC]; schedules; events appended', async () => {
    const { resident, host, customer, operator } = w.tokens;
    const put = (token: string, room: string, what: 'setpoint' | 'schedule', payload: object) => w.req(token, { method: 'PUT', url: `${P}/rooms/${room}/${what}`, payload });
    const lastBefore = await w.store.lastEventId();

    const ok = await put(resident, 'r1', 'setpoint', { comfortC: 21.5 });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().spec.comfortC, 21.5);
    assert.equal(ok.json().spec.maxC, 23, 'the rest of the spec is kept');
    for (const comfortC of [23.5, 16.9]) {
      const bad = await put(resident, 'r1', 'setpoint', { comfortC });
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json().field, 'comfortC');
      assert.match(bad.json().message, /\[17, 23\]/);
    }
    assert.equal((await put(resident, 'r1', 'setpoint', { comfortC: '21' })).json().field, 'comfortC');
    assert.equal((await put(resident, 'r1', 'setpoint', {})).json().field, 'comfortC');
    assert.equal((await put(resident, 'r2', 'setpoint', { comfortC: 20 })).statusCode, 404, 'not its room');
    assert.equal((await put(host, 'r1', 'setpoint', { comfortC: 20 })).statusCode, 403, 'the host sees the room but does not live there');
    assert.equal((await put(customer, 'r1', 'setpoint', { comfortC: 20 })).statusCode, 404);
    assert.equal((await put(operator, 'r2', 'setpoint', { comfortC: 22 })).json().spec.comfortC, 22);

    const weekly = [
      { day: 1, from: '06:30', to: '08:30', setpointC: 21 },
      { day: 1, from: '18:00', to: '24:00', setpointC: 22 },
    ];
    const sch = await put(resident, 'r1', 'schedule', { weekly });
    assert.equal(sch.statusCode, 200, sch.body);
    assert.deepEqual(sch.json().spec.schedule, { weekly });
    const badTo = await put(resident, 'r1', 'schedule', { weekly: [{ day: 1, from: '09:00', to: '08:00', setpointC: 20 }] });
    assert.equal(badTo.json().field, 'weekly[0].to');
    const badC = await put(resident, 'r1', 'schedule', { weekly: [weekly[0], { ...weekly[1], setpointC: 30 }] });
    assert.equal(badC.json().field, 'weekly[1].setpointC');
    assert.equal((await put(resident, 'r1', 'schedule', { weekly: [{ ...weekly[0], day: -1 }] })).json().field, 'weekly[0].day');

    const log = await w.store.readEvents(w.ids.resident, { afterId: lastBefore });
    assert.deepEqual(log.map((e) => e.type), ['setpoint', 'setpoint']);
    assert.deepEqual((log[0].payload as { comfortC: number }).comfortC, 21.5);
  });

  test('setpointAt: comfort without a schedule, the covering period with one, setback outside', () => {
    const spec = roomSpec({ comfortC: 20, setbackC: 16 });
    assert.equal(setpointAt(spec, Date.UTC(2025, 0, 6, 7)), 20);
    const scheduled = {
      ...spec,
      schedule: {
        weekly: [
          { day: 1, from: '06:30', to: '08:30', setpointC: 21 },
          { day: 1, from: '08:00', to: '09:00', setpointC: 19 },
          { day: 0, from: '00:00', to: '24:00', setpointC: 22 },
        ],
      },
    };
    const monday = (h: number, m = 0) => Date.UTC(2025, 0, 6, h, m); // 2025-01-06 is a Monday
    assert.equal(setpointAt(scheduled, monday(6, 29)), 16);
    assert.equal(setpointAt(scheduled, monday(6, 30)), 21);
    assert.equal(setpointAt(scheduled, monday(8, 15)), 19, 'the last listed period wins');
    assert.equal(setpointAt(scheduled, monday(9)), 16, '`to` is exclusive');
    assert.equal(setpointAt(scheduled, Date.UTC(2025, 0, 5, 23, 59)), 22, 'Sunday until 24:00');
    assert.equal(setpointAt(scheduled, monday(5, 30), 60), 21, 'CET: 05:30 UTC is 06:30 local');
    assert.equal(setpointAt(scheduled, monday(0, 30), -60), 22, 'UTC−1: still Sunday locally');
    assert.equal(setpointAt({ ...spec, schedule: { weekly: [] } }, monday(7)), 20);
    assert.deepEqual(monthRange('2025-12'), { from: Date.UTC(2025, 11, 1), to: Date.UTC(2026, 0, 1) });
    assert.equal(new Date(monthRange('0050-03').from).getUTCFullYear(), 50);
    assert.equal(monthOf(Date.UTC(2024, 1, 29, 23, 59)), '2024-02');
  });

  test('telemetry history: raw in [from, to) with a limit, downsampled per bucket ≥ 60 s, range checked, scoped', async () => {
    const t0 = Date.UTC(2025, 1, 1, 0, 0);
    const samples = Array.from({ length: 120 }, (_, i) => ({ deviceId: 'h1', time: t0 + i * 60_000, data: { airC: 19 + (i % 4), powerW: 100 + i, meterWh: i * 2 } }));
    await w.store.appendTelemetry(samples);
    const q = (token: string, query: string, dev = 'heaters/h1') => w.req(token, { method: 'GET', url: `${P}/${dev}/telemetry?${query}` });
    const iso = (ms: number) => encodeURIComponent(new Date(ms).toISOString());

    const raw = (await q(w.tokens.operator, `from=${iso(t0)}&to=${iso(t0 + 30 * 60_000)}`)).json();
    assert.equal(raw.bucketS, null);
    assert.equal(raw.samples.length, 30);
    assert.deepEqual(raw.samples[5], { time: new Date(t0 + 5 * 60_000).toISOString(), data: samples[5].data });
    assert.equal((await q(w.tokens.operator, `from=${iso(t0)}&to=${iso(t0 + 7_200_000)}&limit=7`)).json().samples.length, 7);
    assert.equal((await q(w.tokens.operator, `from=${iso(t0)}&to=${iso(t0 + 7_200_000)}&bucket=30`)).json().samples.length, 120, 'below 60 s: raw');

    const down = (await q(w.tokens.resident, `from=${iso(t0)}&to=${iso(t0 + 7_200_000)}&bucket=900`)).json();
    assert.equal(down.bucketS, 900);
    assert.equal(down.samples, undefined);
    assert.equal(down.buckets.length, 8);
    for (const [k, b] of down.buckets.entries()) {
      const inB = samples.slice(k * 15, (k + 1) * 15);
      assert.equal(b.time, new Date(t0 + k * 900_000).toISOString());
      assert.equal(b.count, 15);
      assert.equal(b.mean.powerW, inB.reduce((s, x) => s + x.data.powerW, 0) / 15);
      assert.equal(b.min.airC, 19);
      assert.equal(b.max.airC, 22);
    }
    // Default window: the last 24 h before now (the fake clock is 2025-02-10 12:00): nothing there.
    assert.deepEqual((await q(w.tokens.operator, '')).json().samples, []);
    const backwards = await q(w.tokens.operator, `from=${iso(t0 + 1000)}&to=${iso(t0)}`);
    assert.equal(backwards.statusCode, 400);
    assert.equal(backwards.json().field, 'from');
    assert.equal((await q(w.tokens.operator, 'from=yesterday')).json().field, 'from');
    assert.equal((await q(w.tokens.operator, 'bucket=-5')).json().field, 'bucket');
    assert.equal((await q(w.tokens.resident, '', 'heaters/h2')).statusCode, 404);
    assert.equal((await q(w.tokens.host, '', 'boilers/b1')).statusCode, 200);

    const boards = (await w.req(w.tokens.resident, { method: 'GET', url: `${P}/heaters/h1/boards` })).json();
    assert.equal(boards.boards.length, 3);
    assert.deepEqual(boards.boards[2], { index: 2, cores: 4, memoryMB: 8192, gpu: false, maxW: 500 / 3 });
    assert.equal(boards.latest.time, new Date(t0 + 119 * 60_000).toISOString());
    assert.equal(boards.busyBoards, null, 'the latest sample reports none');
    const bb = (await w.req(w.tokens.host, { method: 'GET', url: `${P}/boilers/b1/boards` })).json();
    assert.deepEqual([bb.kind, bb.boards.length, bb.latest], ['boiler', 2, null]);
  });

  test('fleet: counts, devices online, power summed over online devices\' latest samples, mean setpoint error', async () => {
    const now = w.now.ms;
    await w.store.appendTelemetry([
      { deviceId: 'h2', time: now - 240_000, data: { powerW: 999, computeW: 999 } },
      { deviceId: 'h2', time: now - 60_000, data: { powerW: 400, computeW: 300, fillerW: 50, boosterW: 50, busyBoards: 2, airC: 19, setpointC: 20 } },
      { deviceId: 'h3', time: now - 30_000, data: { powerW: 200, computeW: 200, busyBoards: 1, airC: 21.5, setpointC: 20 } },
      { deviceId: 'b1', time: now - 600_000, data: { powerW: 1000 } },
    ]);
    const f = (await w.req(w.tokens.operator, { method: 'GET', url: `${P}/fleet` })).json();
    assert.deepEqual(
      { sites: f.sites, rooms: f.rooms, heaters: f.heaters, boilers: f.boilers, boards: f.boards, online: f.online, onlineWithinS: f.onlineWithinS },
      { sites: 2, rooms: 3, heaters: 3, boilers: 1, boards: 3 * 3 + 2, online: 2, onlineWithinS: 180 },
    );
    assert.deepEqual([f.powerW, f.computeW, f.fillerW, f.boosterW, f.busyBoards], [600, 500, 50, 50, 3]);
    assert.equal(f.meanAbsSetpointErrorC, 1.25);
    assert.equal(f.at, new Date(now).toISOString());
    const wide = (await w.req(w.tokens.operator, { method: 'GET', url: `${P}/fleet?onlineWithinS=3600` })).json();
    assert.equal(wide.online, 3);
    assert.equal(wide.powerW, 1600);
    assert.equal((await w.req(w.tokens.operator, { method: 'GET', url: `${P}/fleet?onlineWithinS=0` })).json().field, 'onlineWithinS');
  });
});

describe('energy, money and carbon', () => {
  let w: World;
  // h1 and b1 (site s1, 0.2 €/kWh) and h3 (site s2, 0.25 €/kWh, 30 g/kWh) draw across the January/February boundary.
  const jan = Date.UTC(2025, 0, 1);
  const feb = Date.UTC(2025, 1, 1);
  const mar = Date.UTC(2025, 2, 1);
  before(async () => {
    w = await world();
    const hour = 3_600_000;
    const series = (deviceId: string, startMs: number, endMs: number, whPerHour: number, meter0: number) =>
      Array.from({ length: Math.floor((endMs - startMs) / hour) }, (_, i) => ({ deviceId, time: startMs + i * hour, data: { meterWh: meter0 + i * whPerHour, powerW: whPerHour } }));
    await w.store.appendTelemetry([
      ...series('h1', jan + 10 * 86_400_000, mar, 500, 1_000_000), // from 11 January, 500 Wh per hour
      ...series('b1', jan + 20 * 86_400_000, feb, 1000, 0), // stops before February
      ...series('h3', feb, mar, 250, 42),
    ]);
  });
  after(async () => {
    await w.close();
  });

  test('statements: per-device kWh from the meter, owed at the host\'s tariff, months add up to the meter\'s advance', async () => {
    const st = (month: string, token = w.tokens.host) => w.req(token, { method: 'GET', url: `${P}/sites/s1/statements/${month}` });
    const j = (await st('2025-01')).json();
    // h1: first sample 11 Jan 00:00 (meter 1,000,000), last January sample 31 Jan 23:00: 21 days × 24 h − 1 = 503 h × 0.5 kWh.
    // b1: 21 Jan 00:00 to 31 Jan 23:00: 263 h × 1 kWh.
    assert.deepEqual(j.devices, [
      { id: 'b1', name: 'tank', kWh: 263, owedEUR: 52.6 },
      { id: 'h1', name: 'h1', kWh: 251.5, owedEUR: 50.3 },
      { id: 'h2', name: 'h2', kWh: 0, owedEUR: 0 },
    ]);
    assert.equal(j.totalKWh, 514.5);
    assert.equal(j.totalOwedEUR, 102.9);
    assert.equal(j.tariffEURPerKWh, 0.2);
    assert.equal(j.residentPays, 0);
    assert.deepEqual(j.site, { id: 's1', name: 'Rue des Lilas' });
    assert.deepEqual(j.host, { id: w.ids.host, email: 'host@example.com' });
    assert.deepEqual([j.month, j.from, j.to], ['2025-01', '2025-01-01T00:00:00.000Z', '2025-02-01T00:00:00.000Z']);

    // February starts from the last January reading: the hour across the boundary is paid, once.
    const f = (await st('2025-02')).json();
    assert.deepEqual(f.devices, [
      { id: 'b1', name: 'tank', kWh: 0, owedEUR: 0 },
      { id: 'h1', name: 'h1', kWh: 336, owedEUR: 67.2 },
      { id: 'h2', name: 'h2', kWh: 0, owedEUR: 0 },
    ]);
    const firstReading = 1_000_000;
    const lastReading = 1_000_000 + (49 * 24 - 1) * 500;
    assert.equal(j.devices[1].kWh + f.devices[1].kWh, (lastReading - firstReading) / 1000);
    assert.equal((await st('2025-03')).json().totalKWh, 0);

    assert.deepEqual((await w.req(w.tokens.host, { method: 'GET', url: `${P}/sites/s1/statements` })).json(), { site: { id: 's1', name: 'Rue des Lilas' }, months: ['2025-01', '2025-02'] });
    assert.deepEqual((await w.req(w.tokens.otherHost, { method: 'GET', url: `${P}/sites/s2/statements` })).json().months, ['2025-02']);
    assert.equal((await st('2025-01', w.tokens.operator)).statusCode, 200);
    for (const token of [w.tokens.otherHost, w.tokens.customer, w.tokens.resident]) assert.equal((await st('2025-01', token)).statusCode, 404, 'another host\'s statement');
    for (const month of ['2025-13', '25-01', '2025-1', 'latest']) assert.equal((await st(month)).json().field, 'month', month);
  });

  test('energy: per device and total kWh, owed €, carbon at the site\'s intensity or the 56.3 g/kWh default', async () => {
    const e = (site: string, from: number, to: number, token = w.tokens.operator) =>
      w.req(token, { method: 'GET', url: `${P}/sites/${site}/energy?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}` });
    const day = Date.UTC(2025, 0, 15);
    const s1 = (await e('s1', day, day + 86_400_000, w.tokens.host)).json();
    // h1 across one day: the reading before 15 Jan 00:00 is 14 Jan 23:00; the last before 16 Jan is 15 Jan 23:00.
    assert.deepEqual(s1.devices.map((d: { id: string; kWh: number }) => [d.id, d.kWh]), [['b1', 0], ['h1', 12], ['h2', 0]]);
    assert.equal(s1.devices[1].owedEUR, 2.4);
    assert.equal(s1.carbonGPerKWh, DEFAULT_CARBON_G_PER_KWH);
    // 12 kWh × 56.3 g/kWh = 0.6756 kg, to the gram.
    assert.equal(s1.devices[1].carbonKg, 0.676);
    assert.equal(s1.totalCarbonKg, 0.676);
    const s2 = (await e('s2', feb, mar, w.tokens.otherHost)).json();
    const kWh = ((28 * 24 - 1) * 250) / 1000;
    assert.deepEqual([s2.totalKWh, s2.totalOwedEUR, s2.totalCarbonKg, s2.carbonGPerKWh], [kWh, Math.round(kWh * 0.25 * 100) / 100, Math.round(kWh * 30) / 1000, 30]);
    assert.equal((await e('s2', feb, mar, w.tokens.host)).statusCode, 404);
    assert.equal((await e('s1', feb, jan)).json().field, 'from');
    // Default range: the current month (the fake clock is 10 Feb 12:00), to now.
    const cur = (await w.req(w.tokens.operator, { method: 'GET', url: `${P}/sites/s1/energy` })).json();
    assert.deepEqual([cur.from, cur.to], ['2025-02-01T00:00:00.000Z', new Date(w.now.ms).toISOString()]);
    // h1: last reading before 10 Feb 12:00 is 10 Feb 11:00 (hour 731 of its series), the last before February hour 503.
    assert.equal(cur.devices[1].kWh, (731 - 503) * 0.5);
  });

  test('usage: the caller\'s attempts only, energy, GHz·s and CPU time summed, CPU core-hours = CPU seconds / 3600; what was billed, by type', async () => {
    const a = w.ids.customer;
    const t = await w.store.createTask({ accountId: a, name: 'render', profile: 'docker-batch', body: {}, instanceIds: [0, 1] });
    const other = await w.store.createTask({ accountId: w.ids.otherHost, name: 'x', profile: 'docker-batch', body: {}, instanceIds: [0] });
    const at = Date.UTC(2025, 1, 5);
    const march = Date.UTC(2025, 2, 1);
    // Each report's bill as the live loop writes it (wall time × cores × clock ratio, at the task's price).
    await w.store.applyInstanceEvent({ taskUuid: t.uuid, instanceId: 0, attempt: 1, sequence: 0, at: at + 3_600_000, set: { state: 'success', heaterId: 'h1', boardIndex: 0, startedAt: at, endedAt: at + 3_600_000 }, add: { energyWh: 30, ghzSeconds: 7200, execTimeSec: 3600, wallTimeSec: 3600 }, charge: { schedulingType: 'flex', coreSeconds: 7200, amountEUR: 0.04 } });
    await w.store.applyInstanceEvent({ taskUuid: t.uuid, instanceId: 1, attempt: 1, sequence: 0, at: at + 1800_000, set: { state: 'failure', heaterId: 'b1', boardIndex: 1, startedAt: at, endedAt: at + 1800_000 }, add: { energyWh: 10, ghzSeconds: 100, execTimeSec: 900, wallTimeSec: 1800 }, charge: { schedulingType: 'onDemand', coreSeconds: 900, amountEUR: 0.01 } });
    await w.store.applyInstanceEvent({ taskUuid: t.uuid, instanceId: 1, attempt: 2, sequence: 0, at: march + 3_600_000, set: { state: 'success', heaterId: null, startedAt: march, endedAt: march + 3_600_000 }, add: { energyWh: 5, execTimeSec: 360, wallTimeSec: 360 }, charge: { schedulingType: 'flex', coreSeconds: 360, amountEUR: 0.002 } });
    await w.store.applyInstanceEvent({ taskUuid: other.uuid, instanceId: 0, attempt: 1, sequence: 0, at, set: { state: 'success', heaterId: 'h1' }, add: { energyWh: 1000 }, charge: { schedulingType: 'flex', coreSeconds: 1000, amountEUR: 1 } });

    const all = (await w.req(w.tokens.customer, { method: 'GET', url: `${P}/accounts/me/usage` })).json();
    // CPU seconds are core-seconds already, whatever the board's cores: 3600 + 900 + 360 s = 1.35 core-hours.
    assert.deepEqual(all, {
      accountId: a,
      from: null,
      to: null,
      attempts: 3,
      energyWh: 45,
      ghzSeconds: 7300,
      coreHours: 4860 / 3600,
      execTimeSec: 4860,
      billed: {
        coreHours: 7560 / 3600 + 900 / 3600,
        eur: 0.052,
        byType: [
          { schedulingType: 'flex', charges: 2, coreHours: 7560 / 3600, eur: 0.042 },
          { schedulingType: 'onDemand', charges: 1, coreHours: 0.25, eur: 0.01 },
        ],
      },
    });
    const feb = (await w.req(w.tokens.customer, { method: 'GET', url: `${P}/accounts/me/usage?from=2025-02-01T00:00:00Z&to=2025-03-01T00:00:00Z` })).json();
    assert.deepEqual([feb.attempts, feb.energyWh, feb.coreHours, feb.from], [2, 40, 4500 / 3600, '2025-02-01T00:00:00.000Z']);
    // Charges are dated by their report: the March one is out of February.
    assert.deepEqual([feb.billed.eur, feb.billed.coreHours, feb.billed.byType.map((b: { charges: number }) => b.charges)], [0.05, 2.25, [1, 1]]);

    // One task's bill: the caller's own only; kept when the task is deleted; a task never run bills nothing.
    const bill = async (token: string, uuid: string): Promise<{ statusCode: number; json: () => any }> => w.req(token, { method: 'GET', url: `${P}/tasks/${uuid}/bill` });
    assert.deepEqual((await bill(w.tokens.customer, t.uuid)).json(), { taskUuid: t.uuid, billed: all.billed });
    assert.equal((await bill(w.tokens.customer, other.uuid)).statusCode, 404, "another account's task");
    assert.equal((await bill(w.tokens.customer, '01890a5d-ac96-774b-bcce-b302099a8057')).statusCode, 404);
    const malformed = await bill(w.tokens.customer, 'not-a-uuid');
    assert.deepEqual([malformed.statusCode, malformed.json().field], [400, 'uuid']);
    const idle = await w.store.createTask({ accountId: a, name: 'idle', profile: 'docker-batch', body: {}, instanceIds: [0] });
    assert.deepEqual((await bill(w.tokens.customer, idle.uuid)).json().billed, { coreHours: 0, eur: 0, byType: [] });
    assert.equal(await w.store.deleteTask(a, t.uuid), true);
    assert.deepEqual((await bill(w.tokens.customer, t.uuid)).json().billed, all.billed, 'the bill outlives the task');
    assert.equal((await w.req(w.tokens.resident, { method: 'GET', url: `${P}/accounts/me/usage` })).json().attempts, 0);
  });
});

/** Reads SSE frames from a fetch response body. */
class SseReader {
  private buf = '';
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  constructor(body: ReadableStream<Uint8Array>) {
    this.reader = body.getReader();
  }
  /** The next frame (blank-line separated block) satisfying `pred`, skipping others. */
  async next(pred: (f: string) => boolean = () => true): Promise<string> {
    for (;;) {
      const end = this.buf.indexOf('\n\n');
      if (end >= 0) {
        const f = this.buf.slice(0, end);
        this.buf = this.buf.slice(end + 2);
        if (pred(f)) return f;
        continue;
      }
      const { value, done } = await this.reader.read();
      if (done) throw new Error('stream ended');
      this.buf += this.decoder.decode(value, { stream: true });
    }
  }
  /** The next event frame (skips comments and the retry hint), parsed. */
  async event(): Promise<{ id: number; event: string; data: LiveEvent & { payload: any } }> {
    const f = await this.next((x) => x.startsWith('id: '));
    const field = (k: string) => f.split('\n').find((l) => l.startsWith(`${k}: `))!.slice(k.length + 2);
    return { id: Number(field('id')), event: field('event'), data: JSON.parse(field('data')) };
  }
  async cancel(): Promise<void> {
    await this.reader.cancel();
  }
}

test('SSE: replay after Last-Event-ID, then live from the hub; scoped per account; heartbeats; cleanup on disconnect', async () => {
  const w = await world({ heartbeatMs: 40 });
  const ac = new AbortController();
  const requestless = new Set<Socket>();
  try {
    const address = await w.app.listen({ port: 0, host: '127.0.0.1' });
    // fetch (undici) may open a spare connection that never carries a request; Node does not count it idle, so
    // closing would wait for the client's 4 s keep-alive timeout. Such sockets are dropped before closing.
    w.app.server.on('connection', (s: Socket) => requestless.add(s));
    w.app.server.on('request', (req: IncomingMessage) => requestless.delete(req.socket));
    const open = async (token: string, headers: Record<string, string> = {}, query = '') => {
      const r = await fetch(`${address}${P}/events${query}`, { headers: { authorization: token, ...headers }, signal: ac.signal });
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
      return new SseReader(r.body!);
    };
    const base = await w.store.lastEventId();
    const e1 = await w.store.appendEvent({ type: 'task.state', accountId: w.ids.customer, payload: { uuid: 'u1', state: 'Submitted' } });
    const e2 = await w.store.appendEvent({ type: 'telemetry', accountId: null, payload: { deviceId: 'h1' } });
    const e3 = await w.store.appendEvent({ type: 'task.state', accountId: w.ids.customer, payload: { uuid: 'u1', state: 'Success' } });
    assert.ok(e1.id > base);

    // The operator replays everything after e1, in order.
    const op = await open(w.tokens.operator, { 'last-event-id': String(e1.id) });
    assert.deepEqual([await op.event(), await op.event()].map((e) => [e.id, e.event]), [[e2.id, 'telemetry'], [e3.id, 'task.state']]);
    // The customer replays only its own (from the start: Last-Event-ID 0), via the query form too.
    const cu = await open(w.tokens.customer, {}, '?lastEventId=0');
    const c1 = await cu.event();
    assert.deepEqual([c1.id, c1.event, c1.data.payload], [e1.id, 'task.state', { uuid: 'u1', state: 'Submitted' }]);
    assert.equal(c1.data.at, new Date(e1.at).toISOString());
    assert.equal((await cu.event()).id, e3.id);
    // Without Last-Event-ID: live only.
    const live = await open(w.tokens.customer);

    // Live: published through the hub, delivered to whoever may see it.
    const pub = await w.events.publish(w.store, { type: 'instance.state', accountId: w.ids.customer, payload: { taskUuid: 'u1', instanceId: 0, state: 'running' } });
    await w.events.publish(w.store, { type: 'telemetry', accountId: null, payload: { deviceId: 'h2' } });
    assert.deepEqual([(await op.event()).id, (await op.event()).event], [pub.id, 'telemetry']);
    assert.equal((await cu.event()).id, pub.id, 'the platform-wide event is not the customer\'s');
    assert.equal((await live.event()).id, pub.id);
    // A setpoint change made through the API reaches the resident's own stream.
    const res = await open(w.tokens.resident);
    assert.equal((await w.req(w.tokens.resident, { method: 'PUT', url: `${P}/rooms/r1/setpoint`, payload: { comfortC: 22 } })).statusCode, 200);
    const sp = await res.event();
    assert.deepEqual([sp.event, sp.data.payload.roomId, sp.data.payload.comfortC], ['setpoint', 'r1', 22]);
    // An event appended without the hub still arrives (with the next heartbeat).
    const quiet = await w.store.appendEvent({ type: 'task.state', accountId: w.ids.customer, payload: { uuid: 'u2' } });
    assert.equal((await cu.event()).id, quiet.id);
    await cu.next((f) => f.startsWith(': heartbeat'));

    // Disconnecting unsubscribes.
    assert.equal(w.events.subscriberCount, 4);
    await cu.cancel();
    await live.cancel();
    for (let i = 0; i < 100_000 && w.events.subscriberCount > 2; i++) await new Promise((r) => setImmediate(r));
    assert.equal(w.events.subscriberCount, 2);
    const anon = await fetch(`${address}${P}/events`);
    assert.equal(anon.status, 401);
    assert.equal(((await anon.json()) as { code: string }).code, 'UNAUTHORIZED');
  } finally {
    for (const s of requestless) s.destroy();
    // Closing the app ends the streams still open (the operator's and the resident's).
    await w.close();
    ac.abort();
  }
  assert.equal(w.events.subscriberCount, 0);
});

test('hostile input: random JSON bodies to POST /rooms (and random ids) never give a 500', async () => {
  const w = await world();
  try {
    const specLike = fc.record(
      {
        archetype: fc.oneof(fc.string(), fc.integer()),
        areaM2: fc.oneof(fc.double(), fc.string(), fc.constant(null)),
        comfortC: fc.oneof(fc.double({ min: -100, max: 100, noNaN: true }), fc.jsonValue()),
        setbackC: fc.double({ min: -100, max: 100, noNaN: true }),
        minC: fc.double({ min: -100, max: 100, noNaN: true }),
        maxC: fc.double({ min: -100, max: 100, noNaN: true }),
        safetyC: fc.double({ min: -100, max: 100, noNaN: true }),
        schedule: fc.oneof(fc.jsonValue(), fc.record({ weekly: fc.array(fc.record({ day: fc.integer({ min: -2, max: 9 }), from: fc.string(), to: fc.constantFrom('24:00', '00:00', '12:30', 'x'), setpointC: fc.double({ noNaN: true }) })) })),
      },
      { requiredKeys: [] },
    );
    const body = fc.oneof(
      fc.jsonValue(),
      fc.record({ id: fc.oneof(fc.string(), fc.jsonValue()), siteId: fc.constantFrom('s1', 'r1', 'nope', '', 5), name: fc.string(), spec: fc.oneof(specLike, fc.jsonValue()) }, { requiredKeys: [] }),
      fc.constant({ siteId: 's1', name: 'ok', spec: roomSpec() }),
    );
    await fc.assert(
      fc.asyncProperty(body, async (payload) => {
        const r = await w.req(w.tokens.operator, { method: 'POST', url: `${P}/rooms`, payload: JSON.stringify(payload), headers: { 'content-type': 'application/json' } });
        assert.ok([201, 400, 409].includes(r.statusCode), `${r.statusCode}: ${r.body} for ${JSON.stringify(payload)}`);
        assert.equal(typeof r.json().code === 'string' || r.statusCode === 201, true);
      }),
      { numRuns: 300 },
    );
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }), fc.constantFrom('rooms', 'heaters', 'sites', 'boilers'), async (id, kind) => {
        const url = `${P}/${kind}/${encodeURIComponent(id)}`;
        for (const [token, method] of [[w.tokens.resident, 'GET'], [w.tokens.operator, 'DELETE']] as const) {
          const r = await w.req(token, { method, url });
          assert.ok(r.statusCode < 500, `${method} ${url}: ${r.statusCode} ${r.body}`);
        }
      }),
      { numRuns: 100 },
    );
    const notJson = await w.req(w.tokens.operator, { method: 'POST', url: `${P}/rooms`, payload: '{"siteId": ', headers: { 'content-type': 'application/json' } });
    assert.equal(notJson.statusCode, 400);
  } finally {
    await w.close();
  }
});
