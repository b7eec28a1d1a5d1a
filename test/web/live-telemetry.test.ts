// What the dashboard reads besides the existing API: `GET /hearth/v1/me`, `GET /hearth/v1/fleet/latest`,
// `GET /hearth/v1/fleet/queue`, and the live-only `telemetry.batch` events of the SSE stream (one per period, the
// latest sample per device, sent without an id to operators only). Runs without a browser, with the live loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform } from '../../src/coordinator/server.ts';
import { localExecutor } from '../../src/cli/local-fleet.ts';
import { createAccount } from '../../src/coordinator/auth/tokens.ts';
import type { LiveEvent, Me, TelemetryBatch } from '../../src/protocol/platform.ts';

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
      for (const s of (data.payload as TelemetryBatch).samples) assert.equal(typeof s.airC, 'number');
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
  } finally {
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
