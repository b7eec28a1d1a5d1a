// The dashboard's live per-account events in chromium, against a platform without a fleet (the test publishes the
// events itself, once the page's stream is subscribed: nothing depends on timing). The customer's task detail
// follows instance.state events in place (no task read per event) and never shows another account's; each
// resident's page shows its own room's temperature from room.telemetry, and the host's building page every room.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startPlatform, type Platform } from '../../src/coordinator/server.ts';
import { createAccount } from '../../src/coordinator/auth/tokens.ts';
import { roomTelemetryView } from '../../src/coordinator/events.ts';
import { EVENT_TYPES, type InstanceStatePayload } from '../../src/protocol/platform.ts';
import { ensureBuilt, launch, screenshot, signIn, skipReason } from './harness.ts';
import { until } from '../helpers/until.ts';

const OPERATOR = 'hth_test_operator_token_live_events_web_01';
const skip = skipReason();
if (skip) console.log(`# ${skip}`);

/** Waits (every 10 ms, at most 20 s) until fn() is true. */
function waitTrue(fn: () => boolean, what: string): Promise<boolean> {
  return until(() => (fn() ? true : undefined), what, 20_000, 10);
}

describe('live per-account events in the dashboard', { skip }, () => {
  let dir: string;
  let platform: Platform;
  let browser: Browser;
  const newPage = async (viewport = { width: 1280, height: 900 }): Promise<Page> => (await browser.newContext({ viewport })).newPage();

  before(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'hearth-web-live-'));
    platform = await startPlatform({ port: 0, dataDir: dir, env: { HEARTH_BOOTSTRAP_TOKEN: OPERATOR } });
    const { store } = platform;
    await store.upsertRegistry({ id: 'live-site', kind: 'site', name: 'Live house', spec: { climateZone: 'H1a', tariffEURPerKWh: 0.2 } });
    for (const r of ['a', 'b']) {
      await store.upsertRegistry({ id: `live-room-${r}`, kind: 'room', siteId: 'live-site', name: `Flat ${r.toUpperCase()}`, spec: { archetype: 'dwelling-rt2005', areaM2: 30, comfortC: 20, setbackC: 16, minC: 16, maxC: 23, safetyC: 28 } });
      await store.upsertRegistry({ id: `live-heater-${r}`, kind: 'heater', siteId: 'live-site', parentId: `live-room-${r}`, name: `Radiator ${r}`, spec: { model: 'hearth-q3', boards: 3, coresPerBoard: 4, memoryMBPerBoard: 8192, gpu: false, maxW: 495 } });
    }
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
    await platform?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('customer: instance states update in place from instance.state, without a task read per event; another account’s never shown', async () => {
    const alice = await createAccount(platform.store, { email: 'alice-web@example.com', credits: 10 });
    const bob = await createAccount(platform.store, { email: 'bob-web@example.com', credits: 10 });
    const res = await fetch(platform.url + '/tasks', {
      method: 'POST',
      headers: { authorization: alice.token, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'live rows', profile: 'docker-batch', instanceCount: 2, constants: [{ key: 'DOCKER_CMD', value: 'true' }] }),
    });
    assert.equal(res.status, 201);
    const { uuid } = (await res.json()) as { uuid: string };
    const page = await newPage();
    let taskReads = 0;
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === `/tasks/${uuid}`) taskReads++;
    });
    const streamsBefore = platform.events.subscriberCount;
    await signIn(page, platform.url, alice.token);
    await page.getByTestId('task-row').first().click();
    await page.getByTestId('task-detail').waitFor();
    await waitTrue(() => platform.events.subscriberCount > streamsBefore, "the page's event stream");
    await waitTrue(() => taskReads === 1, 'the first read of the task');

    const publish = (accountId: string, p: Partial<InstanceStatePayload> & { instanceId: number; state: string }): Promise<unknown> =>
      platform.events.publish(platform.store, { type: EVENT_TYPES.instanceState, accountId, payload: { taskUuid: uuid, phase: null, progress: 0, attempt: 1, ...p } });
    // A burst of progress on instance 0: the row follows, the task is not read again.
    for (const progress of [10, 20, 30, 40]) await publish(alice.account.id, { instanceId: 0, state: 'running', phase: 'execution', progress });
    const row0 = page.locator('[data-testid="instance-row"][data-instance="0"]');
    await page.waitForFunction(`document.querySelector('[data-testid="instance-row"][data-instance="0"] [data-testid="instance-progress"]')?.textContent.trim() === '40 %'`);
    assert.equal(await row0.getAttribute('data-status'), 'execution');
    // Bob's event naming Alice's task (a forgery the server must not deliver to Alice), then one of Alice's own.
    await publish(bob.account.id, { instanceId: 1, state: 'failure', progress: 66 });
    await publish(alice.account.id, { instanceId: 0, state: 'running', phase: 'execution', progress: 70 });
    await page.waitForFunction(`document.querySelector('[data-testid="instance-row"][data-instance="0"] [data-testid="instance-progress"]')?.textContent.trim() === '70 %'`);
    assert.equal(await page.locator('[data-testid="instance-row"][data-instance="1"]').count(), 0, 'no row from another account’s event');
    assert.equal(taskReads, 1, 'progress events apply in place');
    // An instance that ends makes the page read the task once (its results and times are in the view).
    await publish(alice.account.id, { instanceId: 1, state: 'success', progress: 100 });
    await page.waitForFunction(`document.querySelector('[data-testid="instance-row"][data-instance="1"]')?.dataset.status === 'success'`);
    await waitTrue(() => taskReads === 2, 'one read after the instance ended');
    assert.equal(await row0.getAttribute('data-status'), 'execution', 'the live state outlives the reread (the view has it queued)');
    await screenshot(page, 'customer-live-instances');
    await page.context().close();
  });

  test('residents: each page shows its own room’s temperature from room.telemetry; the host’s building page every room', async () => {
    const ra = await createAccount(platform.store, { email: 'flat-a@example.com', role: 'resident', scope: { roomIds: ['live-room-a'] } });
    const rb = await createAccount(platform.store, { email: 'flat-b@example.com', role: 'resident', scope: { roomIds: ['live-room-b'] } });
    const host = await createAccount(platform.store, { email: 'host-web@example.com', role: 'resident' });
    const site = (await platform.store.getRegistry('live-site'))!;
    await platform.store.upsertRegistry({ ...site, accountId: host.account.id });

    const pa = await newPage({ width: 390, height: 844 });
    const pb = await newPage({ width: 390, height: 844 });
    const ph = await newPage();
    await signIn(pa, platform.url, ra.token);
    await signIn(pb, platform.url, rb.token);
    await signIn(ph, platform.url, host.token);
    await ph.goto(platform.url + '/sites/live-site');
    await Promise.all([pa.getByTestId('room-card').waitFor(), pb.getByTestId('room-card').waitFor(), ph.getByTestId('comfort').waitFor()]);
    assert.match(await pa.getByTestId('air').innerText(), /^— °C$/, 'no sample yet');
    // Live-only figures are not replayed: sent once per "period" until every page has shown them (the host's page
    // replaced its first stream when it moved to the building page).
    const shown = async (): Promise<boolean> =>
      (await pa.getByTestId('air').innerText()) === '19.3 °C' &&
      (await pb.getByTestId('air').innerText()) === '22.7 °C' &&
      (await ph.locator('[data-room="live-room-b"] [data-testid="room-now"]').innerText()) === '22.7 °C';
    for (let k = 0; k < 500 && !(await shown()); k++) {
      const now = Date.now();
      platform.events.broadcastRooms(
        roomTelemetryView(
          [
            { roomId: 'live-room-a', siteId: 'live-site', time: now, airC: 19.3, setpointC: 20, powerW: 410, heaters: 1 },
            { roomId: 'live-room-b', siteId: 'live-site', time: now, airC: 22.7, setpointC: 20, powerW: 0, heaters: 1 },
          ],
          now,
        ),
      );
      await new Promise((r) => setTimeout(r, 20));
    }
    await pa.waitForFunction(`document.querySelector('[data-testid="air"]')?.textContent === '19.3 °C'`);
    await pb.waitForFunction(`document.querySelector('[data-testid="air"]')?.textContent === '22.7 °C'`);
    assert.match(await pa.getByTestId('power-now').innerText(), /410 W/);
    await ph.waitForFunction(`document.querySelector('[data-room="live-room-b"] [data-testid="room-now"]')?.textContent === '22.7 °C'`);
    assert.equal(await ph.locator('[data-room="live-room-a"] [data-testid="room-now"]').innerText(), '19.3 °C');
    // Each resident's page holds its own room only.
    assert.ok(!(await pa.content()).includes('22.7'), 'room B on resident A’s page');
    assert.ok(!(await pb.content()).includes('19.3'), 'room A on resident B’s page');
    await screenshot(pa, 'resident-live');
    await screenshot(ph, 'building-live');
    for (const p of [pa, pb, ph]) await p.context().close();
  });
});
