// The dashboard in Debian chromium (playwright-core) against a platform started here on loopback, with the live
// loop and the local executor: each role signs in and sees its own pages only; the resident changes a setpoint and
// sees it applied (in the API, on the heater, and on the page after the live update); the customer submits a task
// from the page and watches it reach Success with its stdout. Screenshots go to test-results/.
import { after, before, describe, test } from 'node:test';
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment -- response bodies are untyped JSON, checked by the assertions */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startPlatform, type Platform } from '../../src/coordinator/server.ts';
import { localExecutor } from '../../src/cli/local-fleet.ts';
import { createAccount } from '../../src/coordinator/auth/tokens.ts';
import { ensureBuilt, launch, screenshot, signIn, skipReason } from './harness.ts';
import { until } from '../helpers/until.ts';
import type { Usage } from '../../src/protocol/platform.ts';

const OPERATOR = 'hth_test_operator_token_dashboard_0123456789';
const skip = skipReason();
if (skip) console.log(`# ${skip}`);

describe('dashboard in chromium', { skip }, () => {
  let dir: string;
  let platform: Platform;
  let browser: Browser;
  let customer: string;
  let resident: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- untyped JSON
  const api = async (token: string, path: string, init: { method?: string; body?: unknown } = {}): Promise<any> => {
    const res = await fetch(platform.url + path, {
      method: init.method ?? 'GET',
      headers: { authorization: token, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await res.text();
    assert.ok(res.ok, `${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  const newPage = async (viewport = { width: 1280, height: 900 }): Promise<Page> => (await browser.newContext({ viewport })).newPage();

  before(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'hearth-web-'));
    platform = await startPlatform({ port: 0, dataDir: dir, env: { HEARTH_BOOTSTRAP_TOKEN: OPERATOR }, fleet: { executor: localExecutor, periodS: 0.5, demoRooms: 2 } });
    customer = (await api(OPERATOR, '/hearth/v1/accounts', { method: 'POST', body: { email: 'render@example.com', credits: 20 } })).token as string;
    resident = (await createAccount(platform.store, { email: 'flat1@example.com', role: 'resident', scope: { roomIds: ['demo-room-1'] } })).token;
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
    await platform?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the dashboard is served at / with its assets, client routes fall back to index.html, API routes are untouched', async () => {
    const index = await fetch(platform.url + '/');
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type') ?? '', /^text\/html/);
    const html = await index.text();
    const js = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(js, html);
    const asset = await fetch(platform.url + js);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.doesNotMatch(html + (await asset.text()), /https?:\/\/(fonts|cdn|unpkg)/, 'nothing fetched from elsewhere');
    const route = await fetch(platform.url + '/sites/demo-site', { headers: { accept: 'text/html' } });
    assert.equal(route.status, 200);
    assert.match(await route.text(), /<div id="root">/);
    const apiMiss = await fetch(platform.url + '/tasks/not-a-task/nothing', { headers: { accept: 'text/html' } });
    assert.equal(apiMiss.status, 404);
    assert.equal(((await apiMiss.json()) as { code: string }).code, 'NOT_FOUND');
    assert.equal((await fetch(platform.url + '/hearth/v1/sites')).status, 401, 'the API still asks for a token');
    assert.equal((await fetch(platform.url + '/versions')).headers.get('content-type')?.startsWith('application/json'), true);
    assert.equal((await fetch(platform.url + '/../../etc/passwd')).status, 404);
  });

  test('sign-in: a wrong token is refused with a message', async () => {
    const page = await newPage();
    await page.goto(platform.url + '/');
    await page.getByTestId('token').fill('hth_not_a_token');
    await page.getByTestId('sign-in').click();
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').innerText(), /not valid/);
    await screenshot(page, 'sign-in');
    await page.context().close();
  });

  test('operator: fleet tiles, live chart and sites map; the building page; the twin compares policies', async () => {
    const page = await newPage();
    await signIn(page, platform.url, OPERATOR);
    assert.match(await page.getByTestId('who').innerText(), /operator/);
    await page.getByTestId('fleet').waitFor();
    // 2 heaters + 1 boiler of the demo site, coloured once telemetry arrived (live: the loop reports every 0.5 s).
    await page.waitForFunction(`document.querySelectorAll('[data-testid="tile"]').length === 3 && document.querySelectorAll('[data-testid="tile"].band-none').length === 0`);
    await page.waitForFunction(`document.querySelector('[data-testid="heat-chart"] canvas') !== null`);
    assert.equal(await page.getByTestId('site-link').count(), 1);
    await page.waitForFunction(`/^\\d+$/.test(document.querySelector('[data-testid="kpi-queue"] .kpi-value')?.textContent ?? '')`);
    await page.getByTestId('tile').first().click();
    await page.getByTestId('device-detail').waitFor();
    await screenshot(page, 'operator-fleet');
    // A reload draws the tiles from one compact route (started by index.html's script, used once), not from the
    // five routes of the heaters, boilers, rooms, sites and latest samples.
    const asked: string[] = [];
    page.on('request', (r) => {
      const path = new URL(r.url()).pathname;
      if (path.startsWith('/hearth/v1/')) asked.push(path);
    });
    await page.reload();
    await page.waitForFunction(`document.querySelectorAll('[data-testid="tile"]').length === 3 && document.querySelectorAll('[data-testid="tile"].band-none').length === 0`);
    assert.equal(await page.getByTestId('site-link').count(), 1);
    assert.deepEqual(asked.filter((p) => ['/hearth/v1/heaters', '/hearth/v1/boilers', '/hearth/v1/rooms', '/hearth/v1/sites', '/hearth/v1/fleet/latest'].includes(p)), []);
    assert.deepEqual(asked.filter((p) => p === '/hearth/v1/fleet/tiles'), ['/hearth/v1/fleet/tiles']);

    await page.getByTestId('site-link').click();
    await page.getByTestId('building').waitFor();
    await page.waitForFunction(`document.querySelectorAll('[data-testid="room-row"]').length === 2`);
    assert.match(await page.getByTestId('heat-free').innerText(), /kWh/);
    await page.getByTestId('boiler').waitFor();
    await page.getByTestId('range-week').click();
    await screenshot(page, 'building');

    await page.getByRole('link', { name: 'Twin' }).click();
    await page.getByTestId('twin').waitFor();
    const summary = {
      scenario: 'winter week',
      days: 7,
      startDate: '2026-01-05',
      rooms: 40,
      boilers: 2,
      policies: {
        hearth: { comfort: { minutesBelow: 12 }, energy: { erf: 0.93 }, money: { marginEUR: 41.5 } },
        'qarnot-bands': { comfort: { minutesBelow: 95 }, energy: { erf: 0.81 }, money: { marginEUR: 30.2 } },
      },
    };
    await page.getByTestId('twin-file').setInputFiles({ name: 'summary.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(summary)) });
    await page.getByTestId('twin-table').waitFor();
    const table = await page.getByTestId('twin-table').innerText();
    assert.match(table, /hearth/i);
    assert.match(table, /qarnot-bands/i);
    assert.match(table, /energy\.erf/);
    assert.equal(await page.locator('td.best').count(), 3, 'the better policy is marked on each known metric');
    await screenshot(page, 'twin');
    await page.context().close();
  });

  test('operator: the building page shows each room\'s latest temperature from its history before (or without) the live stream', async () => {
    // The loop has been reporting for a while: wait for a stored sample of each demo room's heater.
    await until(async () => {
      const hs = (await api(OPERATOR, '/hearth/v1/heaters')) as Array<{ id: string }>;
      for (const h of hs) {
        const t = await api(OPERATOR, `/hearth/v1/heaters/${h.id}/telemetry?bucket=900`);
        if (!(t.buckets?.length > 0)) return undefined;
      }
      return hs.length === 2 ? true : undefined;
    }, 'telemetry history of both heaters');
    const page = await newPage();
    // No live stream at all: what the page shows comes from the history it loads.
    await page.route('**/hearth/v1/events**', (r) => r.abort());
    await signIn(page, platform.url, OPERATOR);
    await page.goto(platform.url + '/sites/demo-site');
    await page.waitForFunction(`document.querySelectorAll('[data-testid="room-row"]').length === 2`);
    await page.waitForFunction(`[...document.querySelectorAll('[data-testid="room-now"]')].every((e) => /^-?[0-9]+(\\.[0-9])? °C$/.test(e.textContent))`);
    await page.context().close();
  });

  test('operator: a device panel shows what runs on it (task, instance, board, progress) and follows the task off it; the chart plots the heat asked', async () => {
    const renderer = (await api(OPERATOR, '/hearth/v1/accounts', { method: 'POST', body: { email: 'placed@example.com', credits: 20 } })).token as string;
    const { uuid } = await api(renderer, '/tasks', { method: 'POST', body: { name: 'frame render on a radiator', profile: 'docker-batch', instanceCount: 1, constants: [{ key: 'DOCKER_CMD', value: 'sleep 60' }] } });
    const where = await until(async () => {
      const p = await api(OPERATOR, '/hearth/v1/fleet/placements');
      for (const d of p.devices) for (const i of d.instances) if (i.taskUuid === uuid && i.state === 'running') return { deviceId: d.deviceId as string, board: i.boardIndex as number };
      return undefined;
    }, 'the instance to run on a device');
    const page = await newPage();
    await signIn(page, platform.url, OPERATOR);
    await page.getByTestId('fleet').waitFor();
    await page.locator(`[data-testid="tile"][data-id="${where.deviceId}"]`).click();
    const row = page.getByTestId('placement');
    await row.waitFor();
    const text = await row.innerText();
    assert.match(text, /frame render on a radiator/);
    assert.match(text, new RegExp(`^${where.board}\\s+frame render on a radiator\\s+0\\s+running\\s+\\d+ %\\s+placed@example\\.com$`), text);
    // The live chart has the heat asked beside what was delivered.
    await page.waitForFunction(`(document.querySelector('[data-testid="heat-chart"] .u-legend')?.textContent ?? '').includes('asked')`);
    assert.match(await page.getByTestId('heat-chart').locator('.u-legend').innerText(), /overflow \(instances\)/i);
    await screenshot(page, 'operator-placements');
    // Aborted: the task state event refreshes the open panel (no polling).
    await api(renderer, `/tasks/${uuid}/abort`, { method: 'POST' });
    await page.getByTestId('placements-none').waitFor({ timeout: 30_000 });
    assert.equal(await page.getByTestId('placement').count(), 0);
    await until(async () => ((await api(renderer, `/tasks/${uuid}`)).state === 'Cancelled' ? true : undefined), 'the task to be cancelled');
    await page.context().close();
  });

  test('resident (phone): my room; a new setpoint is applied in the API, on the heater and on the page after the live update', async () => {
    const page = await newPage({ width: 390, height: 844 });
    await signIn(page, platform.url, resident);
    const card = page.getByTestId('room-card');
    await card.waitFor();
    assert.equal(await page.getByTestId('room-card').count(), 1, 'only my room');
    assert.match(await page.getByTestId('setpoint-applied').innerText(), /^20\.0 °C$/);
    assert.match(await page.getByTestId('free-heat').innerText(), /free of charge/);
    // Outside the building's limits the server refuses and the page says why.
    await page.getByTestId('setpoint-input').fill('26');
    await page.getByTestId('setpoint-save').click();
    await page.getByTestId('setpoint-message').waitFor();
    assert.match(await page.getByTestId('setpoint-message').innerText(), /within the room's limits/);
    // Within them: applied.
    await page.getByTestId('setpoint-input').fill('21.5');
    await page.getByTestId('setpoint-save').click();
    await page.waitForFunction(`document.querySelector('[data-testid="setpoint-applied"]').textContent === '21.5 °C'`);
    const room = await api(OPERATOR, '/hearth/v1/rooms/demo-room-1');
    assert.equal(room.spec.comfortC, 21.5);
    // The live loop sends it to the heater, whose next report carries it.
    await until(async () => {
      const boards = await api(OPERATOR, '/hearth/v1/heaters/demo-heater-1/boards');
      return boards.latest?.data.setpointC === 21.5 ? true : undefined;
    }, 'the heater to report the new setpoint');
    await screenshot(page, 'resident');
    // Another role's page is not offered.
    await page.evaluate(`history.pushState(null, '', '/twin'); dispatchEvent(new PopStateEvent('popstate'))`);
    await page.getByTestId('not-allowed').waitFor();
    assert.equal(await page.getByTestId('fleet').count(), 0);
    await page.context().close();
  });

  test('customer: submits a task from the page and watches it reach Success with its stdout and carbon facts', async () => {
    const page = await newPage();
    await signIn(page, platform.url, customer);
    await page.getByTestId('customer').waitFor();
    assert.match(await page.getByTestId('credits').innerText(), /€20\.00/);
    await page.getByTestId('task-name').fill('hello from the dashboard');
    await page.getByTestId('task-instances').fill('2');
    await page.getByTestId('task-command').fill('echo "hello from ${INSTANCE_ID} of ${QSIZE}"');
    await page.getByTestId('task-submit').click();
    await page.getByTestId('task-detail').waitFor();
    await page.waitForFunction(`document.querySelector('[data-testid="task-detail"]')?.dataset.state === 'Success'`, undefined, { timeout: 60_000 });
    await page.waitForFunction(`(document.querySelector('[data-testid="stdout"]')?.textContent ?? '').includes('1> hello from 1 of 2')`);
    const stdout = await page.getByTestId('stdout').innerText();
    assert.match(stdout, /0> hello from 0 of 2/);
    await page.getByTestId('carbon-facts').waitFor();
    // The list follows the live stream to Success too.
    await page.waitForFunction(`[...document.querySelectorAll('[data-testid="task-state"]')].some((e) => e.textContent === 'Success')`);
    const tasks = (await api(customer, '/tasks')) as Array<{ name: string; state: string }>;
    assert.deepEqual(tasks.map((t) => [t.name, t.state]), [['hello from the dashboard', 'Success']]);
    // What the work cost, as the ledger has it, and the credits it came out of (refreshed with the task's state).
    const usage = (await api(customer, '/hearth/v1/accounts/me/usage')) as Usage;
    assert.ok(usage.billed.coreHours > 0 && usage.billed.byType[0]?.schedulingType === 'flex', JSON.stringify(usage.billed));
    await page.waitForFunction(`(document.querySelector('[data-testid="billed"]')?.textContent ?? '').includes('€${usage.billed.eur.toFixed(6)}')`);
    assert.ok(((await page.getByTestId('billed').textContent()) ?? '').includes(`${usage.billed.coreHours.toFixed(4)} core-h`));
    assert.ok(((await page.getByTestId('credits').textContent()) ?? '').includes(`€${(20 - usage.billed.eur).toFixed(2)}`));
    // The task's own bill on its page: its only task, so the same as the account's.
    await page.getByTestId('task-bill').waitFor();
    assert.ok(((await page.getByTestId('task-bill').textContent()) ?? '').includes(`€${usage.billed.eur.toFixed(6)} for ${usage.billed.coreHours.toFixed(4)} core-hours`));
    await screenshot(page, 'customer');
    // The operator's pages are not offered to a customer, and the server refuses their data anyway.
    await page.evaluate(`history.pushState(null, '', '/sites/demo-site'); dispatchEvent(new PopStateEvent('popstate'))`);
    await page.getByTestId('not-allowed').waitFor();
    for (const path of ['/hearth/v1/fleet/latest', '/hearth/v1/fleet/queue']) {
      assert.equal((await fetch(platform.url + path, { headers: { authorization: customer } })).status, 403, path);
    }
    assert.equal((await api(customer, '/hearth/v1/me')).role, 'customer');
    // The operator's queue figures count the finished task.
    const queue = await api(OPERATOR, '/hearth/v1/fleet/queue');
    assert.ok(queue.succeededLastHour >= 1, JSON.stringify(queue));
    assert.equal(queue.activeTasks, 0);
    await page.context().close();
  });

  test('customer: a running task\'s output shows on its page as it is written (instance.output), before the task ends', async () => {
    const page = await newPage();
    await signIn(page, platform.url, customer);
    await page.getByTestId('customer').waitFor();
    await page.getByTestId('task-name').fill('talking while it runs');
    await page.getByTestId('task-instances').fill('1');
    await page.getByTestId('task-command').fill('echo "first words"; sleep 60');
    await page.getByTestId('task-submit').click();
    await page.getByTestId('task-detail').waitFor();
    // The page reads the output when an instance.output event announces it (no timer under 30 s does).
    await page.waitForFunction(`(document.querySelector('[data-testid="stdout"]')?.textContent ?? '').includes('0> first words')`, undefined, { timeout: 20_000 });
    assert.notEqual(await page.getByTestId('task-detail').getAttribute('data-state'), 'Success');
    const tasks = (await api(customer, '/tasks')) as Array<{ uuid: string; name: string; state: string }>;
    const task = tasks.find((t) => t.name === 'talking while it runs')!;
    assert.ok(!['Success', 'Failure', 'Cancelled'].includes(task.state), `still running: ${task.state}`);
    await api(customer, `/tasks/${task.uuid}/abort`, { method: 'POST' });
    await page.context().close();
  });
});
