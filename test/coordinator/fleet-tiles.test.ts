// GET /hearth/v1/fleet/tiles: the operator page's first load in one compact answer. Operators only; the same
// devices, names, sites, rooms, boards and latest figures as the per-resource routes and /fleet/latest say
// (rounded as the page shows them); revalidated by ETag; well under 200 KB for a 1,010-device fleet.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- response bodies are untyped JSON, checked by the assertions */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/coordinator/app.ts';
import { createAccount } from '../../src/coordinator/auth/tokens.ts';
import { EventHub } from '../../src/coordinator/events.ts';
import { openStore } from '../../src/coordinator/store/index.ts';
import type { Store } from '../../src/coordinator/store/types.ts';
import { EVENT_TYPES, type FleetTiles, type TelemetryBatch } from '../../src/protocol/platform.ts';

const P = '/hearth/v1';
const TILES = `${P}/fleet/tiles`;
const siteSpec = (extra: Record<string, unknown> = {}) => ({ climateZone: 'H2c', tariffEURPerKWh: 0.2, ...extra });
const roomSpec = { archetype: 'dwelling:rt2012', areaM2: 20, comfortC: 20, setbackC: 16, minC: 17, maxC: 23, safetyC: 28 };
const heaterSpec = (boards = 3) => ({ model: 'QH-1', boards, coresPerBoard: 4, memoryMBPerBoard: 8192, gpu: false, maxW: 500 });
const boilerSpec = { volumeL: 200, setpointC: 55, safetyC: 80, boards: 2, coresPerBoard: 8, memoryMBPerBoard: 16384, gpu: false, maxW: 1000 };

let store: Store;
let app: FastifyInstance;
let events: EventHub;
const now = { ms: Date.UTC(2025, 1, 10, 12) };
const tokens = { operator: '', customer: '', resident: '', device: '' };
const req = (token: string | undefined, opts: InjectOptions): Promise<LightMyRequestResponse> =>
  app.inject({ ...opts, headers: { ...(token === undefined ? {} : { authorization: token }), ...(opts.headers ?? {}) } });
const get = async (path: string): Promise<any> => {
  const r = await req(tokens.operator, { method: 'GET', url: P + path });
  assert.equal(r.statusCode, 200, r.body);
  return r.json();
};

before(async () => {
  store = await openStore('sqlite::memory:');
  events = new EventHub();
  tokens.operator = (await createAccount(store, { email: 'op@example.com', role: 'operator' })).token;
  tokens.customer = (await createAccount(store, { email: 'c@example.com', credits: 10 })).token;
  tokens.resident = (await createAccount(store, { email: 'res@example.com', role: 'resident', scope: { roomIds: ['r1'] } })).token;
  tokens.device = (await createAccount(store, { email: 'dev@example.com', role: 'device', scope: { deviceId: 'h1' } })).token;
  app = await buildApp({ store, clock: () => now.ms, storageUrl: 'http://storage.test', rateLimit: false, events });
  const must = async (url: string, payload: Record<string, unknown>): Promise<void> => {
    const r = await req(tokens.operator, { method: 'POST', url: P + url, payload });
    assert.equal(r.statusCode, 201, `${url}: ${r.body}`);
  };
  await must('/sites', { id: 's1', name: 'Rue des Lilas', spec: siteSpec({ layout: { x: 1, y: 2 } }) });
  await must('/sites', { id: 's2', name: 'Quai Ouest', spec: siteSpec() });
  await must('/rooms', { id: 'r1', siteId: 's1', name: 'living', spec: roomSpec });
  await must('/rooms', { id: 'r2', siteId: 's1', name: 'bedroom', spec: roomSpec });
  await must('/rooms', { id: 'r3', siteId: 's2', name: 'office', spec: roomSpec });
  await must('/heaters', { id: 'h1', roomId: 'r1', name: 'radiator 1', spec: heaterSpec() });
  await must('/heaters', { id: 'h2', roomId: 'r2', name: 'radiator 2', spec: heaterSpec(2) });
  await must('/heaters', { id: 'h3', roomId: 'r3', name: 'radiator 3', spec: heaterSpec() });
  await must('/boilers', { id: 'b1', siteId: 's1', name: 'tank', spec: boilerSpec });
  // h1 and b1 have stored samples (b1's older one is superseded); h2 reports live; h3 never did.
  await store.appendTelemetry([
    { deviceId: 'h1', time: now.ms - 5000, data: { airC: 19.4567, setpointC: 20, powerW: 300.4, computeW: 200.6, fillerW: 49.5, boosterW: 0, busyBoards: 2, meterWh: 1000, note: 'not a figure' } },
    { deviceId: 'b1', time: now.ms - 9000, data: { airC: 50, setpointC: 55, powerW: 1 } },
    { deviceId: 'b1', time: now.ms - 4000, data: { airC: 54.004, setpointC: 55, powerW: 800 } },
  ]);
});

after(async () => {
  await app?.close();
  await store?.close();
});

test('operators only: a customer, a resident and a device get 403, no token 401', async () => {
  for (const who of ['customer', 'resident', 'device'] as const) {
    const r = await req(tokens[who], { method: 'GET', url: TILES });
    assert.equal(r.statusCode, 403, `${who}: ${r.body}`);
    assert.equal(r.json().code, 'FORBIDDEN');
    assert.equal(r.headers.etag, undefined);
  }
  assert.equal((await req(undefined, { method: 'GET', url: TILES })).statusCode, 401);
});

test('columns: the devices, sites and rooms the per-resource routes list, and the latest figures rounded as shown', async () => {
  const t: FleetTiles = await get('/fleet/tiles');
  assert.deepEqual(t.sites, [
    { id: 's1', name: 'Rue des Lilas', layout: { x: 1, y: 2 } },
    { id: 's2', name: 'Quai Ouest', layout: null },
  ]);
  assert.deepEqual(t.devices, {
    id: ['h1', 'h2', 'h3', 'b1'],
    kind: ['heater', 'heater', 'heater', 'boiler'],
    name: ['radiator 1', 'radiator 2', 'radiator 3', 'tank'],
    site: [0, 0, 1, 0],
    roomName: ['living', 'bedroom', 'office', 'hot water'],
    boards: [3, 2, 3, 2],
  });
  assert.deepEqual(t.latest, {
    time: [now.ms - 5000, null, null, now.ms - 4000],
    airC: [19.46, null, null, 54],
    setpointC: [20, null, null, 55],
    powerW: [300, null, null, 800],
    computeW: [201, null, null, null],
    fillerW: [50, null, null, null],
    boosterW: [0, null, null, null],
    busyBoards: [2, null, null, null],
    requestW: [null, null, null, null],
  });

  // The same as what the page used to assemble from five routes.
  const heaters = await get('/heaters');
  const boilers = await get('/boilers');
  const rooms = new Map<string, string>((await get('/rooms')).map((r: any) => [r.id, r.name]));
  const sites = await get('/sites');
  const latest: TelemetryBatch = await get('/fleet/latest');
  assert.deepEqual(t.devices.id, [...heaters, ...boilers].map((d: any) => d.id));
  assert.deepEqual(t.devices.name, [...heaters, ...boilers].map((d: any) => d.name));
  assert.deepEqual(t.devices.site.map((k) => (k === null ? null : t.sites[k].id)), [...heaters, ...boilers].map((d: any) => d.siteId));
  assert.deepEqual(t.devices.roomName, [...heaters.map((h: any) => rooms.get(h.roomId)), ...boilers.map(() => 'hot water')]);
  assert.deepEqual(t.devices.boards, [...heaters, ...boilers].map((d: any) => d.spec.boards));
  assert.deepEqual(t.sites.map((s) => [s.id, s.name, s.layout]), sites.map((s: any) => [s.id, s.name, s.spec.layout ?? null]));
  for (const s of latest.samples) {
    const k = t.devices.id.indexOf(s.deviceId);
    assert.equal(t.latest.time[k], s.time);
    assert.ok(Math.abs((t.latest.airC[k] ?? NaN) - (s.airC ?? NaN)) <= 0.005, s.deviceId);
  }
});

test('live samples come from memory with their request; ETag revalidation answers 304 until something changes', async () => {
  const first = await req(tokens.operator, { method: 'GET', url: TILES });
  assert.equal(first.statusCode, 200);
  assert.match(String(first.headers['content-type']), /^application\/json/);
  assert.equal(first.headers['cache-control'], 'private, no-cache');
  const etag = String(first.headers.etag);
  assert.match(etag, /^"[\w-]+"$/);
  const again = await req(tokens.operator, { method: 'GET', url: TILES, headers: { 'if-none-match': etag } });
  assert.equal(again.statusCode, 304);
  assert.equal(again.body, '');

  const sample = { deviceId: 'h2', time: now.ms, airC: 21.23456, setpointC: 20.5, powerW: 123.6, computeW: 100, fillerW: 23.6, boosterW: 0, busyBoards: 1, requestW: 150.2 };
  events.broadcast({ type: EVENT_TYPES.telemetryBatch, accountId: null, payload: { samples: [sample] } satisfies TelemetryBatch, at: now.ms });
  const changed = await req(tokens.operator, { method: 'GET', url: TILES, headers: { 'if-none-match': etag } });
  assert.equal(changed.statusCode, 200);
  assert.notEqual(changed.headers.etag, etag);
  const t: FleetTiles = changed.json();
  const k = t.devices.id.indexOf('h2');
  assert.deepEqual(
    Object.fromEntries(Object.entries(t.latest).map(([f, col]) => [f, col[k]])),
    { time: now.ms, airC: 21.23, setpointC: 20.5, powerW: 124, computeW: 100, fillerW: 24, boosterW: 0, busyBoards: 1, requestW: 150 },
  );
});

test('1,010 devices: well under 200 KB where the five routes the page used to read make about five times more', async () => {
  const t0 = Date.now();
  await store.transaction(async (tx) => {
    for (let s = 0; s < 10; s++) {
      const siteId = `bench-site-${s}`;
      await tx.upsertRegistry({ id: siteId, kind: 'site', name: `Building ${s + 1}`, spec: siteSpec({ layout: { x: s % 5, y: Math.floor(s / 5) } }) });
      for (let r = 0; r < 100; r++) {
        const roomId = `${siteId}-room-${r}`;
        await tx.upsertRegistry({ id: roomId, kind: 'room', siteId, name: `Flat ${r + 1}`, spec: roomSpec });
        await tx.upsertRegistry({ id: `${siteId}-heater-${r}`, kind: 'heater', siteId, parentId: roomId, name: `Radiator ${r + 1}`, spec: heaterSpec() });
      }
      await tx.upsertRegistry({ id: `${siteId}-boiler`, kind: 'boiler', siteId, name: 'Boiler', spec: boilerSpec });
    }
  });
  const ids = (await store.listRegistry()).filter((r) => r.kind === 'heater' || r.kind === 'boiler').map((r) => r.id);
  await store.appendTelemetry(ids.map((deviceId, k) => ({ deviceId, time: t0, data: { airC: 18 + (k % 7) * 0.6137, setpointC: 20, powerW: 300.25, computeW: 200, fillerW: 50, boosterW: 50, busyBoards: k % 4, meterWh: 1000 } })));
  const tiles = await req(tokens.operator, { method: 'GET', url: TILES });
  assert.equal(tiles.json().devices.id.length, ids.length);
  assert.ok(ids.length >= 1010);
  const bytes = tiles.rawPayload.length;
  let before = 0;
  for (const path of ['/heaters', '/boilers', '/rooms', '/sites', '/fleet/latest']) before += (await req(tokens.operator, { method: 'GET', url: P + path })).rawPayload.length;
  console.log(JSON.stringify({ figure: 'fleet.tiles.bytes', devices: ids.length, bytes, fiveRoutesBytes: before }));
  assert.ok(bytes < 150_000, `${bytes} bytes`);
  assert.ok(bytes * 4 < before, `${bytes} vs ${before}`);
});
