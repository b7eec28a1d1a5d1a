// Twin runs started from the API (POST /hearth/v1/sims, operators): the coordinator runs the real `hearth sim` on a
// scenario it ships into <dataDir>/sims/NAME, one run at a time; the list shows it running, then done with its
// summary, or failed; bad requests are refused naming the field and start nothing; a run the coordinator stops when
// it closes is listed as failed after a restart.
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument -- untyped JSON answers */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform, type Platform } from '../../src/coordinator/server.ts';
import { createAccount } from '../../src/coordinator/auth/tokens.ts';
import { until } from '../helpers/until.ts';
import { HearthClient } from '../../src/sdk/index.ts';
import { EVENT_TYPES, isLiveEvent, type LiveEvent, type SimProgressPayload } from '../../src/protocol/platform.ts';

const OPERATOR = 'hth_test_operator_token_sims_api_0123456789';

/** The live events `token` receives from now on (the SDK's stream), once `open` resolves. */
function follow(p: Platform, token: string): { events: LiveEvent[]; open: Promise<void>; stop: () => Promise<void> } {
  const events: LiveEvent[] = [];
  const ac = new AbortController();
  let opened!: () => void;
  const open = new Promise<void>((r) => (opened = r));
  const done = (async () => {
    for await (const e of new HearthClient({ url: p.url, token }).events({ signal: ac.signal, onOpen: () => opened() })) events.push(e);
  })();
  return {
    events,
    open,
    stop: async () => {
      ac.abort();
      await done;
    },
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- untyped JSON
async function call(p: Platform, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(p.url + path, { method, headers: { authorization: token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

test('POST /hearth/v1/sims runs a shipped scenario to a listed summary; bad requests name their field; one run at a time; a run stopped by the coordinator is listed failed', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-sims-api-'));
  let platform = await startPlatform({ port: 0, dataDir: dir, env: { HEARTH_BOOTSTRAP_TOKEN: OPERATOR } });
  try {
    const customer = (await createAccount(platform.store, { email: 'sims-api@example.com', credits: 1 })).token;
    const scenarios = await call(platform, OPERATOR, 'GET', '/hearth/v1/sims/scenarios');
    assert.equal(scenarios.status, 200);
    const ids = scenarios.json.map((s: { id: string }) => s.id);
    assert.ok(ids.includes('gironde-social-hub') && ids.includes('gironde-summer'), JSON.stringify(ids));
    assert.equal((await call(platform, customer, 'GET', '/hearth/v1/sims/scenarios')).status, 403);

    // Refused, named, and nothing started or written.
    const bad: Array<[unknown, string]> = [
      [{ scenario: 'no-such-scenario' }, 'scenario'],
      [{ scenario: '../etc/passwd' }, 'scenario'],
      [{ scenario: 'gironde-summer', policies: ['fastest'] }, 'policies'],
      [{ scenario: 'gironde-summer', policies: ['hearth', 'hearth'] }, 'policies'],
      [{ scenario: 'gironde-summer', days: 0 }, 'days'],
      [{ scenario: 'gironde-summer', name: '../outside' }, 'name'],
      [{ scenario: 'gironde-summer', seed: -1 }, 'seed'],
    ];
    for (const [body, field] of bad) {
      const r = await call(platform, OPERATOR, 'POST', '/hearth/v1/sims', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.json.field, field, JSON.stringify([body, r.json]));
    }
    assert.equal((await call(platform, customer, 'POST', '/hearth/v1/sims', { scenario: 'gironde-summer', days: 0.25 })).status, 403);
    assert.ok(!existsSync(join(dir, 'sims')) || readdirSync(join(dir, 'sims')).length === 0, 'a refused request made no run folder');

    // Operators follow a run's progress live (sim.progress); a customer's stream carries none of it.
    const ops = follow(platform, OPERATOR);
    const cust = follow(platform, customer);
    await Promise.all([ops.open, cust.open]);

    // A short run: listed running at once, then done with its summary (two policies, a quarter of a day).
    const started = await call(platform, OPERATOR, 'POST', '/hearth/v1/sims', { scenario: 'gironde-social-hub', name: 'quarter-day', days: 0.25, policies: ['hearth', 'electric'], seed: 3 });
    assert.equal(started.status, 202, JSON.stringify(started.json));
    assert.deepEqual([started.json.name, started.json.state, started.json.policies], ['quarter-day', 'running', ['hearth', 'electric']]);
    const done = await until(async () => {
      const runs = (await call(platform, OPERATOR, 'GET', '/hearth/v1/sims')).json as Array<{ name: string; state: string; error: string | null }>;
      const r = runs.find((x) => x.name === 'quarter-day');
      assert.notEqual(r?.state, 'failed', r?.error ?? '');
      return r?.state === 'done' ? r : undefined;
    }, 'the run done', 180_000, 250);
    assert.deepEqual((done as unknown as { policies: string[] }).policies.sort(), ['electric', 'hearth']);
    const progressOf = (evs: LiveEvent[]): SimProgressPayload[] => evs.filter((e) => isLiveEvent(e, EVENT_TYPES.simProgress)).map((e) => e.payload).filter((p) => p.name === 'quarter-day');
    await until(() => progressOf(ops.events).some((p) => p.state !== 'running') || undefined, 'the end announced', 30_000, 50);
    const told = progressOf(ops.events);
    assert.deepEqual(told.at(-1), { name: 'quarter-day', state: 'done', progress: 1, label: null });
    const running = told.slice(0, -1);
    assert.ok(running.length >= 1 && running.every((p) => p.state === 'running' && p.progress >= 0 && p.progress <= 1), JSON.stringify(told));
    assert.ok(running.some((p) => p.label === 'hearth') && running.some((p) => p.label === 'electric'), 'each policy named as it runs');
    await platform.events.publish(platform.store, { type: 'test.marker', accountId: (await platform.store.getAccountByEmail('sims-api@example.com'))!.id, payload: {} });
    await until(() => cust.events.some((e) => e.type === 'test.marker') || undefined, 'the customer marker', 30_000, 50);
    assert.deepEqual(progressOf(cust.events), [], 'a customer is told nothing of the twin');
    await Promise.all([ops.stop(), cust.stop()]);
    const summary = await call(platform, OPERATOR, 'GET', '/hearth/v1/sims/quarter-day/summary');
    assert.equal(summary.status, 200);
    assert.ok(summary.json.policies.hearth.energy.erf >= 0, JSON.stringify(summary.json.policies.hearth.energy));
    // The name is taken now.
    assert.equal((await call(platform, OPERATOR, 'POST', '/hearth/v1/sims', { scenario: 'gironde-summer', name: 'quarter-day', days: 0.25 })).status, 409);

    // A whole season takes long enough for a second request to find it running: refused, one at a time.
    const long = await call(platform, OPERATOR, 'POST', '/hearth/v1/sims', { scenario: 'gironde-social-hub', name: 'season' });
    assert.equal(long.status, 202);
    const second = await call(platform, OPERATOR, 'POST', '/hearth/v1/sims', { scenario: 'gironde-summer', name: 'another', days: 0.25 });
    assert.equal(second.status, 409, JSON.stringify(second.json));
    assert.match(second.json.message, /season/);
    const season = ((await call(platform, OPERATOR, 'GET', '/hearth/v1/sims')).json as Array<{ name: string; state: string; progress: number | null }>).find((r) => r.name === 'season');
    assert.equal(season?.state, 'running');
    assert.ok(typeof season.progress === 'number' && season.progress >= 0 && season.progress < 1, JSON.stringify(season));
    // The coordinator closing stops it; after a restart the list says it did not finish.
    await platform.close();
    platform = await startPlatform({ port: 0, dataDir: dir, env: { HEARTH_BOOTSTRAP_TOKEN: OPERATOR } });
    const after = ((await call(platform, OPERATOR, 'GET', '/hearth/v1/sims')).json as Array<{ name: string; state: string; error: string | null }>).find((r) => r.name === 'season');
    assert.ok(after && ['failed', 'interrupted'].includes(after.state) && after.error, JSON.stringify(after));
  } finally {
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
