// The operator's fleet page with a 1,000-heater fleet (plus 10 boilers) on loopback: first load (navigation to
// every tile rendered) and DOM mutations per second under live telemetry from every device. Prints the figures as
// JSON; asserts only what does not depend on timing (every tile there, updates applied in batches: far fewer
// mutation records than device updates).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { startPlatform, type Platform } from '../../src/coordinator/server.ts';
import { ensureBuilt, launch, measureFleet, seedFleet, skipReason } from './harness.ts';

const OPERATOR = 'hth_test_operator_token_dashboard_speed_01234';
const skip = skipReason();
if (skip) console.log(`# ${skip}`);

let dir: string;
let platform: Platform;
let browser: Browser;

before(async () => {
  if (skip) return;
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'hearth-web-speed-'));
  // API only (no live loop): the test pushes the telemetry itself, at a known rate.
  platform = await startPlatform({ port: 0, dataDir: dir, env: { HEARTH_BOOTSTRAP_TOKEN: OPERATOR } });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await platform?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('1,000 heaters: first load and DOM mutations under live updates (figures printed as JSON)', { skip }, async () => {
  const fleet = await seedFleet(platform, 10, 100);
  assert.equal(fleet.heaters.length, 1000);
  const figures = await measureFleet(browser, platform, OPERATOR, fleet, 12, 250);
  console.log(JSON.stringify({ figure: 'dashboard', ...figures }));
  assert.equal(figures.heaters, 1000);
  // Each round changes every device's figures; the page coalesces them per animation frame and only re-renders
  // tiles whose colour band or busy boards changed, so it makes far fewer mutations than updates received.
  assert.ok(figures.domMutationsPerS < figures.deviceUpdatesPerS, JSON.stringify(figures));
});
