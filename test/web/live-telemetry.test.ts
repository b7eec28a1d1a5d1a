// What the dashboard reads besides the existing API: `GET /hearth/v1/me`, `GET /hearth/v1/fleet/latest`,
// `GET /hearth/v1/fleet/queue`, and the live-only `telemetry.batch` events of the SSE stream (one per period, the
// latest sample per device, sent without an id to operators only, with the heat each room or tank asked for), and
// `GET /hearth/v1/fleet/placements` (what runs where, operators only). Runs without a browser, with the live loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform } from '../../src/coordinator/server.ts';
import { localExecutor } from '../../src/cli/local-fleet.ts';
import { createAccount } from '../../src/coordinator/auth/tokens.ts';
import type { FleetPlacements, LiveEvent, Me, TelemetryBatch } from '../../src/protocol/platform.ts';

const OPERATOR = 'hth_test_operator_token_live_telemetry_0123';

/** Reads SSE frames from a stream until `enough` says so; returns the raw frames. */
async function frames(url: string, token: string, enough: (fs: string[]) => boolean): Promise<string[]> {
  const ac = new AbortController();
  const res = await fetch(url, { headers: { authorization: token }, signal: ac.signal });
  assert.equal(res.status, 200);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  const out: string[] = [];
  try {
    while (!enough(out)) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let end: number;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        out.push(buf.slice(0, end));
        buf = buf.slice(end + 2);
      }
    }
  } finally {
    ac.abort();
  }
  return out;
}

test('live telemetry batches reach operators only, without ids; me, fleet/latest and fleet/queue answer by role', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-live-'));
  const platform = await startPlatform({ port: 0, dataDir: dir, env: { HEARTH_BOOTSTRAP_TOKEN: OPERATOR }, fleet: { executor: localExecutor, periodS: 0.2, demoRooms: 2 } });
  try {
    const resident = (await createAccount(platform.store, { email: 'res@example.com', role: 'resident', scope: { roomIds: ['demo-room-1'] } })).token;
    const get = async <T>(token: string, path: string): Promise<{ status: number; body: T }> => {
      const r = await fetch(platform.url + path, { headers: { authorization: token } });
      return { status: r.status, body: (await r.json()) as T };
    };

    const me = await get<Me>(resident, '/hearth/v1/me');
    assert.equal(me.status, 200);
    assert.deepEqual({ role: me.body.role, email: me.body.email, scope: me.body.scope, hostSiteIds: me.body.hostSiteIds }, { role: 'resident', email: 'res@example.com', scope: { roomIds: ['demo-room-1'] }, hostSiteIds: [] });
    assert.equal((await get<Me>(OPERATOR, '/hearth/v1/me')).body.role, 'operator');
    assert.equal((await fetch(platform.url + '/hearth/v1/me')).status, 401);

    // Operators: a batch per period with every demo device, no id line (Last-Event-ID stays that of stored events).
    const op = await frames(platform.url + '/hearth/v1/events', OPERATOR, (fs) => fs.filter((f) => f.includes('event: telemetry.batch')).length >= 2);
    const batches = op.filter((f) => f.includes('event: telemetry.batch'));
    for (const f of batches) {
      assert.doesNotMatch(f, /^id:/m);
      const data = JSON.parse(f.split('\n').find((l) => l.startsWith('data: '))!.slice(6)) as LiveEvent;
      assert.equal(data.id, null);
      const ids = (data.payload as TelemetryBatch).samples.map((s) => s.deviceId);
      assert.equal(new Set(ids).size, ids.length, 'one sample per device per batch');
      for (const s of (data.payload as TelemetryBatch).samples) {
        assert.equal(typeof s.airC, 'number');
        // The heat asked: the loop's request for the device's room (heaters) or tank (the boiler), W, within its power.
        assert.equal(typeof s.requestW, 'number', `requestW of ${s.deviceId}`);
        assert.ok(s.requestW! >= 0 && s.requestW! <= 2000, `requestW of ${s.deviceId}: ${s.requestW}`);
      }
    }
    assert.ok(batches.some((f) => f.includes('demo-heater-1')));

    // A resident's stream carries its own stored events only: its setpoint change, no telemetry batch.
    const put = await fetch(platform.url + '/hearth/v1/rooms/demo-room-1/setpoint', { method: 'PUT', headers: { authorization: resident, 'content-type': 'application/json' }, body: JSON.stringify({ comfortC: 21 }) });
    assert.equal(put.status, 200);
    const res = await frames(platform.url + '/hearth/v1/events?lastEventId=0', resident, (fs) => fs.some((f) => f.includes('event: setpoint')));
    assert.ok(res.every((f) => !f.includes('telemetry.batch')));

    // The tiles' starting point and the queue figures: operators only.
    const latest = await get<TelemetryBatch>(OPERATOR, '/hearth/v1/fleet/latest');
    assert.equal(latest.status, 200);
    assert.deepEqual(latest.body.samples.map((s) => s.deviceId).sort(), ['demo-boiler-1', 'demo-heater-1', 'demo-heater-2']);
    assert.equal((await get(resident, '/hearth/v1/fleet/latest')).status, 403);
    const queue = await get<{ activeTasks: number; queuedInstances: number }>(OPERATOR, '/hearth/v1/fleet/queue');
    assert.equal(queue.status, 200);
    assert.equal(queue.body.activeTasks, 0);
    assert.equal((await get(resident, '/hearth/v1/fleet/queue')).status, 403);
    // The live cache behind /fleet/latest keeps the request of the batches too.
    assert.ok(latest.body.samples.some((s) => typeof s.requestW === 'number'), JSON.stringify(latest.body.samples));
  } finally {
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fleet/placements: what runs where, per device (task, instance, board, state, progress, owner); operators only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-placements-'));
  const platform = await startPlatform({ port: 0, dataDir: dir, env: { HEARTH_BOOTSTRAP_TOKEN: OPERATOR }, fleet: { executor: localExecutor, periodS: 0.2, demoRooms: 2 } });
  try {
    const call = async <T>(token: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
      const r = await fetch(platform.url + path, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      return { status: r.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
    };
    const account = async (email: string): Promise<string> => (await call<{ token: string }>(OPERATOR, '/hearth/v1/accounts', { email, credits: 20 })).body.token;
    const alice = await account('alice@example.com');
    const bob = await account('bob@example.com');
    const resident = (await createAccount(platform.store, { email: 'res2@example.com', role: 'resident', scope: { roomIds: ['demo-room-1'] } })).token;

    const idle = await call<FleetPlacements>(OPERATOR, '/hearth/v1/fleet/placements');
    assert.equal(idle.status, 200);
    assert.deepEqual({ devices: idle.body.devices, overflow: idle.body.overflowInstances }, { devices: [], overflow: 0 });
    // One device asked for is listed even when idle.
    const one = await call<FleetPlacements>(OPERATOR, '/hearth/v1/fleet/placements?deviceId=demo-heater-1');
    assert.deepEqual(one.body.devices, [{ deviceId: 'demo-heater-1', kind: 'heater', name: one.body.devices[0]?.name ?? null, instances: [] }]);
    assert.equal(typeof one.body.devices[0].name, 'string');

    const submitted = await call<{ uuid: string }>(alice, '/tasks', { name: 'long render', profile: 'docker-batch', instanceCount: 2, constants: [{ key: 'DOCKER_CMD', value: 'sleep 30' }] });
    assert.equal(submitted.status, 201, JSON.stringify(submitted.body));
    const uuid = submitted.body.uuid;
    let placed: FleetPlacements | undefined;
    for (let k = 0; k < 300 && !placed; k++) {
      const p = (await call<FleetPlacements>(OPERATOR, '/hearth/v1/fleet/placements')).body;
      const mine = p.devices.flatMap((d) => d.instances.filter((i) => i.taskUuid === uuid && i.state === 'running'));
      if (mine.length === 2) placed = p;
      else await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(placed, 'both instances running on the demo devices');
    const rows = placed.devices.flatMap((d) => d.instances.map((i) => ({ d, i })));
    assert.deepEqual(rows.map(({ i }) => i.instanceId).sort(), [0, 1]);
    for (const { d, i } of rows) {
      assert.ok(['demo-heater-1', 'demo-heater-2', 'demo-boiler-1'].includes(d.deviceId), d.deviceId);
      assert.ok(d.kind === 'heater' || d.kind === 'boiler');
      assert.equal(i.taskName, 'long render');
      assert.equal(i.accountEmail, 'alice@example.com');
      assert.equal(typeof i.accountId, 'string');
      assert.ok(Number.isInteger(i.boardIndex) && i.boardIndex! >= 0, JSON.stringify(i));
      assert.ok(i.progress >= 0 && i.progress <= 100);
      assert.equal(typeof i.startedAt, 'string');
    }
    // Each instance on its own board.
    assert.equal(new Set(rows.map(({ d, i }) => `${d.deviceId}/${i.boardIndex}`)).size, 2);
    // The device filter answers that device's instances only.
    const dev = rows[0].d.deviceId;
    const filtered = await call<FleetPlacements>(OPERATOR, `/hearth/v1/fleet/placements?deviceId=${dev}`);
    assert.deepEqual(filtered.body.devices.map((d) => d.deviceId), [dev]);
    assert.deepEqual(filtered.body.devices[0].instances.map((i) => i.instanceId).sort(), rows.filter((r) => r.d.deviceId === dev).map((r) => r.i.instanceId).sort());

    // Nobody but an operator: not the task's owner, not another customer, not a resident; not without a token.
    for (const token of [alice, bob, resident]) {
      for (const path of ['/hearth/v1/fleet/placements', `/hearth/v1/fleet/placements?deviceId=${dev}`]) {
        const r = await call<{ code: string }>(token, path);
        assert.equal(r.status, 403, path);
        assert.equal(r.body.code, 'FORBIDDEN');
      }
    }
    assert.equal((await fetch(platform.url + '/hearth/v1/fleet/placements')).status, 401);
    assert.equal((await call(OPERATOR, '/hearth/v1/fleet/placements?deviceId=')).status, 400);

    // Aborted: off the boards.
    const aborted = await call(alice, `/tasks/${uuid}/abort`, {});
    assert.ok(aborted.status < 300, String(aborted.status));
    for (let k = 0; k < 300; k++) {
      const p = (await call<FleetPlacements>(OPERATOR, '/hearth/v1/fleet/placements')).body;
      if (p.devices.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual((await call<FleetPlacements>(OPERATOR, '/hearth/v1/fleet/placements')).body.devices, []);
  } finally {
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
