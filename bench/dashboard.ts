// Benchmark of the dashboard's operator page with a 1,000-heater fleet on loopback, in Debian chromium: first load
// (navigation to every tile rendered) against a baseline measured in the same run (the same browser loading a tiny
// JSON route of the same server), and DOM mutations per second under live telemetry from every device. Each load
// is timed twice: by this process (navigation → it hears every tile is there) and on the page's own clock (the
// server runs in this process, so its work after the tiles can delay the former).
// Also the bytes of JSON the page's first load reads (its one tiles route, against the five routes it read before
// GET /fleet/tiles): a figure that does not depend on the machine's load.
// Prints one JSON line per figure. usage: node --import tsx bench/dashboard.ts [heaters=1000]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform } from '../src/coordinator/server.ts';
import { FLEET_FIRST_PATHS } from '../src/web/prefetch.ts';
import { ensureBuilt, launch, measureFleet, seedFleet, skipReason } from '../test/web/harness.ts';

const heaters = Number(process.argv[2] ?? 1000);
const skip = skipReason();
if (skip) {
  console.log(JSON.stringify({ figure: 'dashboard', skipped: skip }));
  process.exit(0);
}
ensureBuilt();
const token = 'hth_bench_operator_token_dashboard_0123456789';
const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-web-'));
const platform = await startPlatform({ port: 0, dataDir: dir, env: { HEARTH_BOOTSTRAP_TOKEN: token } });
const browser = await launch();
try {
  const sites = Math.max(1, Math.round(heaters / 100));
  const fleet = await seedFleet(platform, sites, Math.ceil(heaters / sites));
  const f = await measureFleet(browser, platform, token, fleet, 20, 250);
  const common = { heaters: f.heaters, boilers: f.boilers };
  const baseline = { baseline: f.baselineLoadMs, baselineWhat: 'same browser, tiny JSON route' };
  const ratio = (x: number, base: number): number => Math.round((x / Math.max(1, base)) * 10) / 10;
  const page = { baselinePage: f.baselinePageMs, clock: 'page: performance.now() when the check first saw every tile (baselinePage: the JSON route\'s load event)' };
  console.log(JSON.stringify({ figure: 'dashboard.firstLoadColdMs', value: f.firstLoadColdMs, ...baseline, ratio: ratio(f.firstLoadColdMs, f.baselineLoadMs), what: 'latest samples read from the store', ...common }));
  console.log(JSON.stringify({ figure: 'dashboard.firstLoadMs', value: f.firstLoadMs, ...baseline, ratio: ratio(f.firstLoadMs, f.baselineLoadMs), what: 'after one period of reports (latest samples in memory)', ...common }));
  console.log(JSON.stringify({ figure: 'dashboard.firstLoadColdPageMs', value: f.firstLoadColdPageMs, ...page, what: 'latest samples read from the store', ...common }));
  console.log(JSON.stringify({ figure: 'dashboard.firstLoadPageMs', value: f.firstLoadPageMs, ...page, what: 'after one period of reports (latest samples in memory)', ...common }));
  const bytesOf = async (paths: readonly string[]): Promise<number> => {
    let n = 0;
    for (const p of paths) n += (await (await fetch(platform.url + p, { headers: { authorization: token } })).arrayBuffer()).byteLength;
    return n;
  };
  const before = ['/hearth/v1/heaters', '/hearth/v1/boilers', '/hearth/v1/rooms', '/hearth/v1/sites', '/hearth/v1/fleet/latest'];
  console.log(JSON.stringify({ figure: 'dashboard.firstLoadJsonBytes', value: await bytesOf(FLEET_FIRST_PATHS), paths: FLEET_FIRST_PATHS, before: await bytesOf(before), beforePaths: before, ...common }));
  console.log(JSON.stringify({ figure: 'dashboard.domMutationsPerS', value: f.domMutationsPerS, deviceUpdatesPerS: f.deviceUpdatesPerS, liveSeconds: f.liveSeconds, ...common }));
} finally {
  await browser.close();
  await platform.close();
  rmSync(dir, { recursive: true, force: true });
}
