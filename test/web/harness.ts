// Shared by the dashboard's browser tests and bench/dashboard.ts: builds the dashboard if needed, starts Debian
// chromium through playwright-core, signs a page in, seeds a large fleet, and measures first load and DOM
// mutations under live telemetry. Page-side code is passed as strings (this program has no DOM types).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Platform } from '../../src/coordinator/server.ts';
import { EVENT_TYPES, type LiveSample, type TelemetryBatch } from '../../src/protocol/platform.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CHROMIUM = process.env.HEARTH_CHROMIUM ?? '/usr/bin/chromium';
/** Flags for Debian chromium in containers (STACK.md); headless is playwright's own option. */
export const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
export const RESULTS_DIR = join(ROOT, 'test-results');

/** Why the browser tests cannot run here, or undefined when they can. */
export function skipReason(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `no chromium at ${CHROMIUM} (apt-get install chromium, or set HEARTH_CHROMIUM): browser tests skipped`;
}

/** Builds src/web/dist when missing or stale (what `npm test` and `npm start` do first). */
export function ensureBuilt(): void {
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'ensure-deps.mjs')], { cwd: ROOT, stdio: 'inherit' });
}

export async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
}

/** A screenshot under test-results/ (kept as a CI artefact, not committed). */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `dashboard-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Signs in through the form. */
export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url + '/');
  await page.getByTestId('token').fill(token);
  await page.getByTestId('sign-in').click();
  await page.getByTestId('who').waitFor({ state: 'attached' });
}

/**
 * Seeds `sites` × `roomsPerSite` rooms with one heater each (and one boiler per site) straight into the store,
 * each with a fresh telemetry sample. Returns the heater ids.
 */
export async function seedFleet(platform: Platform, sites: number, roomsPerSite: number): Promise<{ heaters: string[]; boilers: string[] }> {
  const { store } = platform;
  const heaters: string[] = [];
  const boilers: string[] = [];
  const now = Date.now();
  await store.transaction(async (tx) => {
    for (let s = 0; s < sites; s++) {
      const siteId = `bench-site-${s}`;
      await tx.upsertRegistry({ id: siteId, kind: 'site', name: `Building ${s + 1}`, spec: { climateZone: 'H1a', tariffEURPerKWh: 0.2, layout: { x: s % 5, y: Math.floor(s / 5) } } });
      for (let r = 0; r < roomsPerSite; r++) {
        const roomId = `${siteId}-room-${r}`;
        await tx.upsertRegistry({ id: roomId, kind: 'room', siteId, name: `Flat ${r + 1}`, spec: { archetype: 'dwelling-rt2005', areaM2: 30, comfortC: 20, setbackC: 16, minC: 16, maxC: 23, safetyC: 28 } });
        const id = `${siteId}-heater-${r}`;
        await tx.upsertRegistry({ id, kind: 'heater', siteId, parentId: roomId, name: `Radiator ${r + 1}`, spec: { model: 'hearth-q3', boards: 3, coresPerBoard: 4, memoryMBPerBoard: 8192, gpu: false, maxW: 495 } });
        heaters.push(id);
      }
      const b = `${siteId}-boiler`;
      await tx.upsertRegistry({ id: b, kind: 'boiler', siteId, name: 'Boiler', spec: { volumeL: 300, setpointC: 55, safetyC: 70, boards: 3, coresPerBoard: 4, memoryMBPerBoard: 8192, gpu: false, maxW: 495 } });
      boilers.push(b);
    }
  });
  await store.appendTelemetry([
    ...heaters.map((deviceId, k) => ({ deviceId, time: now, data: { airC: 18 + (k % 7) * 0.6, setpointC: 20, powerW: 300, computeW: 200, fillerW: 50, boosterW: 50, busyBoards: k % 4, meterWh: 1000 } })),
    ...boilers.map((deviceId) => ({ deviceId, time: now, data: { airC: 54, setpointC: 55, powerW: 400, computeW: 400, fillerW: 0, boosterW: 0, busyBoards: 3, meterWh: 1000 } })),
  ]);
  return { heaters, boilers };
}

/** One synthetic telemetry batch for these devices (deterministic in `round`), broadcast to the live streams. */
export function broadcastTelemetry(platform: Platform, ids: string[], round: number): void {
  const time = Date.now();
  const samples: LiveSample[] = ids.map((deviceId, k) => {
    const wave = Math.sin((k + round) / 3);
    return { deviceId, time, airC: 20 + wave * 2.5, setpointC: 20, powerW: 300 + 100 * wave, computeW: 200, fillerW: 50 + 50 * wave, boosterW: 50, busyBoards: (k + round) % 4 };
  });
  const payload: TelemetryBatch = { samples };
  platform.events.broadcast({ type: EVENT_TYPES.telemetryBatch, accountId: null, payload, at: time });
}

/** Counts DOM mutation records from now on (page side). */
export async function startMutationCount(page: Page): Promise<void> {
  await page.evaluate(`(() => {
    window.__mutations = 0;
    window.__observer = new MutationObserver((records) => { window.__mutations += records.length; });
    window.__observer.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
  })()`);
}
export async function mutationCount(page: Page): Promise<number> {
  return page.evaluate<number>('window.__mutations');
}

export interface DashboardFigures {
  heaters: number;
  boilers: number;
  /** Navigation to all tiles rendered, signed in already (token in sessionStorage), the latest samples read from the store, ms. */
  firstLoadColdMs: number;
  /** The same once the fleet has reported through this process (latest samples from memory), ms. */
  firstLoadMs: number;
  /** The same browser loading a tiny JSON route of the same server, ms (baseline of the run). */
  baselineLoadMs: number;
  /**
   * The same three on the page's own clock (performance.now(), from the navigation's start, when the check saw every
   * tile; for the baseline its load event): free of the time this process takes to hear of it (on loopback the
   * server may share this process's event loop).
   */
  firstLoadColdPageMs: number;
  firstLoadPageMs: number;
  baselinePageMs: number;
  /** Device updates pushed per second during the live phase. */
  deviceUpdatesPerS: number;
  /** DOM mutation records per second under those updates. */
  domMutationsPerS: number;
  liveSeconds: number;
}

/**
 * Loads the operator's fleet page with `heaters + boilers` tiles and pushes synthetic telemetry batches for all of
 * them every `everyMs` for `rounds` rounds, counting DOM mutations.
 */
export async function measureFleet(browser: Browser, platform: Platform, token: string, fleet: { heaters: string[]; boilers: string[] }, rounds = 20, everyMs = 250): Promise<DashboardFigures> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  try {
    const page = await context.newPage();
    await context.addInitScript(`sessionStorage.setItem('hearth.token', ${JSON.stringify(token)})`);
    const total = fleet.heaters.length + fleet.boilers.length;
    // Warm the browser's process and the server's caches once (not measured), then measure a fresh load.
    await page.goto(platform.url + '/versions');
    const b0 = performance.now();
    await page.goto(platform.url + '/versions');
    const baselineLoadMs = performance.now() - b0;
    const baselinePageMs = await page.evaluate<number>(`performance.getEntriesByType('navigation')[0].loadEventEnd`);
    const load = async (): Promise<[number, number]> => {
      const t0 = performance.now();
      await page.goto(platform.url + '/');
      // Checked at every frame; the page notes its own time when it first sees every tile.
      await page.waitForFunction(`document.querySelectorAll('[data-testid="tile"]').length >= ${total} && ((window.__tilesAt ??= performance.now()), true)`, undefined, { timeout: 120_000, polling: 'raf' });
      const ms = performance.now() - t0;
      return [ms, await page.evaluate<number>('window.__tilesAt')];
    };
    const [firstLoadColdMs, firstLoadColdPageMs] = await load();
    const ids = [...fleet.heaters, ...fleet.boilers];
    broadcastTelemetry(platform, ids, 0); // one period of reports, as a running fleet sends
    const [firstLoadMs, firstLoadPageMs] = await load();
    // Let the stream connect and the first render settle before counting.
    await page.waitForFunction(`document.querySelector('[data-testid="heat-chart"] canvas') !== null`, undefined, { timeout: 60_000 });
    await new Promise((r) => setTimeout(r, 500));
    await startMutationCount(page);
    const l0 = performance.now();
    for (let k = 0; k < rounds; k++) {
      broadcastTelemetry(platform, ids, k + 1);
      await new Promise((r) => setTimeout(r, everyMs));
    }
    const liveSeconds = (performance.now() - l0) / 1000;
    const mutations = await mutationCount(page);
    await screenshot(page, `operator-${fleet.heaters.length}-heaters`);
    return {
      heaters: fleet.heaters.length,
      boilers: fleet.boilers.length,
      firstLoadColdMs: Math.round(firstLoadColdMs),
      firstLoadMs: Math.round(firstLoadMs),
      baselineLoadMs: Math.round(baselineLoadMs),
      firstLoadColdPageMs: Math.round(firstLoadColdPageMs),
      firstLoadPageMs: Math.round(firstLoadPageMs),
      baselinePageMs: Math.round(baselinePageMs),
      deviceUpdatesPerS: Math.round((rounds * ids.length) / liveSeconds),
      domMutationsPerS: Math.round(mutations / liveSeconds),
      liveSeconds: Math.round(liveSeconds * 100) / 100,
    };
  } finally {
    await context.close();
  }
}
