// The customer CLI as a real process (`node bin/hearth.mjs …`) against a real platform on loopback (in-process
// coordinator with the local executor, so instances really run): config set/show (file 0600 in a 0700 dir), task
// create --wait / stdout / list / info / results / carbon facts, bucket put/get/sync, jobs, fleet and thermostat
// for an operator, `--format json` parseable, and failures that exit non-zero with one clear line.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runHearth, type CliRun } from '../helpers/cli.ts';
import { startPlatform, type Platform } from '../../src/coordinator/server.ts';
import { localExecutor } from '../../src/cli/local-fleet.ts';
import { HearthClient } from '../../src/sdk/index.ts';

const OPERATOR_TOKEN = 'hth_test_operator_token_cli_0123456789ab';
let platform: Platform;
let dir: string;
let token: string;

type Run = CliRun;

/** Runs `hearth …` as a child process with a private config dir. */
function hearth(args: string[], env: Record<string, string | undefined> = {}, input?: string): Promise<Run> {
  const base: Record<string, string | undefined> = { ...process.env, XDG_CONFIG_HOME: join(dir, 'xdg'), HOME: join(dir, 'home'), HEARTH_CONFIG_DIR: undefined, HEARTH_API_URL: undefined, HEARTH_TOKEN: undefined, CI: '1' };
  for (const [k, v] of Object.entries(env)) base[k] = v;
  return runHearth(args, { cwd: dir, env: base, input });
}

/** Runs `hearth …` and requires success. */
async function ok(args: string[], env?: Record<string, string | undefined>): Promise<Run> {
  const r = await hearth(args, env);
  assert.equal(r.status, 0, `hearth ${args.join(' ')}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-cli-'));
  platform = await startPlatform({ port: 0, dataDir: join(dir, 'data'), env: { HEARTH_BOOTSTRAP_TOKEN: OPERATOR_TOKEN }, fleet: { executor: localExecutor, periodS: 0.2, demoRooms: 2 } });
  const created = await new HearthClient({ url: platform.url, token: OPERATOR_TOKEN }).platform.createAccount({ email: 'cli@example.com', credits: 50 });
  token = created.token;
  mkdirSync(join(dir, 'home'));
});

after(async () => {
  await platform.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('hearth config', () => {
  test('set stores url and token in $XDG_CONFIG_HOME/hearth/config.json (0600, dir 0700); show masks the token; env overrides', async () => {
    await ok(['config', 'set', '--url', platform.url]);
    const empty = await hearth(['config', 'set', '--token-stdin'], {}, '');
    assert.equal(empty.status, 2);
    assert.match(empty.stderr, /^hearth: --token: must be a non-empty token/);
    const r = await hearth(['config', 'set', '--token-stdin'], {}, `${token}\n`);
    assert.equal(r.status, 0, r.stderr);
    const path = join(dir, 'xdg', 'hearth', 'config.json');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'xdg', 'hearth')).mode & 0o777, 0o700);
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { url: platform.url, token });

    const shown = JSON.parse((await ok(['config', 'show', '--format', 'json'])).stdout) as { url: string; token: string; tokenFrom: string; path: string };
    assert.equal(shown.url, platform.url);
    assert.equal(shown.path, path);
    assert.ok(!shown.token.includes(token) && shown.token.startsWith(token.slice(0, 4)), shown.token);
    const table = (await ok(['config', 'show'])).stdout;
    assert.ok(!table.includes(token), table);
    assert.match(table, /url:\s+http:\/\/127\.0\.0\.1:\d+/);

    const env = JSON.parse((await ok(['config', 'show', '--format', 'json'], { HEARTH_API_URL: 'http://example.invalid:1' })).stdout) as { url: string; urlFrom: string };
    assert.deepEqual([env.url, env.urlFrom], ['http://example.invalid:1', 'env HEARTH_API_URL']);

    // HEARTH_CONFIG_DIR moves the file.
    const other = join(dir, 'other-config');
    await ok(['config', 'set', 'url', 'http://127.0.0.1:9'], { HEARTH_CONFIG_DIR: other });
    assert.equal(statSync(join(other, 'config.json')).mode & 0o777, 0o600);
    const bad = await hearth(['config', 'set', '--url', 'ftp://x']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^hearth: --url: must be an http\(s\) URL/);
  });
});

describe('hearth task', () => {
  test('create --wait runs every instance to Success; stdout, list, info, results, carbon facts', async () => {
    const created = await ok([
      'task', 'create', '--name', 'cli hello', '--instances', '3',
      '--cmd', 'echo "hello from ${INSTANCE_ID}"; echo "r${INSTANCE_ID}" > r-${INSTANCE_ID}.txt',
      '--constant', 'GREETING=a=b', '--result', 'cli-results', '--tag', 'cli', '--wait', '--format', 'json',
    ]);
    const t = JSON.parse(created.stdout) as { uuid: string; state: string; constants: Array<{ key: string; value: string }> };
    assert.equal(t.state, 'Success');
    assert.ok(t.constants.some((c) => c.key === 'GREETING' && c.value === 'a=b'));

    const out = (await ok(['task', 'stdout', t.uuid])).stdout;
    for (const id of [0, 1, 2]) assert.ok(out.includes(`${id}> hello from ${id}`), out);
    assert.equal((await ok(['task', 'stdout', t.uuid, '--instance', '1'])).stdout.trim(), 'hello from 1');

    const list = JSON.parse((await ok(['task', 'list', '--tag', 'cli', '--format', 'json'])).stdout) as Array<{ uuid: string }>;
    assert.deepEqual(list.map((x) => x.uuid), [t.uuid]);
    const info = (await ok(['task', 'info', t.uuid])).stdout;
    assert.match(info, /state:\s+Success/);
    assert.match(info, /result bucket:\s+cli-results/);

    const results = join(dir, 'task-results');
    const r = JSON.parse((await ok(['task', 'results', t.uuid, results, '--format', 'json'])).stdout) as { copied: string[] };
    assert.deepEqual(r.copied.sort(), ['r-0.txt', 'r-1.txt', 'r-2.txt']);
    assert.equal(readFileSync(join(results, 'r-2.txt'), 'utf8'), 'r2\n');

    const facts = JSON.parse((await ok(['task', 'carbon-facts', t.uuid, '--format', 'json'])).stdout) as { total_energy_it_Wh: number };
    assert.ok(facts.total_energy_it_Wh > 0);

    const bill = JSON.parse((await ok(['task', 'bill', t.uuid, '--format', 'json'])).stdout) as { taskUuid: string; billed: { coreHours: number; eur: number } };
    assert.ok(bill.taskUuid === t.uuid && bill.billed.coreHours > 0, JSON.stringify(bill));
    assert.match((await ok(['task', 'bill', t.uuid])).stdout, /^ {2}flex:\s+\d+\.\d{6} € for \d+\.\d{4} core-h \(\d+ charges\)$/m);
  });

  test('a failing task: create --wait and wait exit 1 naming the state; abort and delete', async () => {
    const r = await hearth(['task', 'create', '--name', 'fails', '--instances', '1', '--cmd', 'echo oops >&2; exit 3', '--wait']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /ended in Failure/);
    const uuid = /task ([0-9a-f-]{36}) ended/.exec(r.stderr)![1];
    assert.match((await ok(['task', 'stderr', uuid])).stdout, /0> oops/);

    const long = (await ok(['task', 'create', '--name', 'long', '--instances', '1', '--cmd', 'sleep 60'])).stdout.trim();
    await ok(['task', 'abort', long]);
    const cancelled = await hearth(['task', 'wait', long]);
    assert.equal(cancelled.status, 1);
    assert.match(cancelled.stderr, /ended in Cancelled/);
    await ok(['task', 'delete', long]);
    const gone = await hearth(['task', 'info', long]);
    assert.equal(gone.status, 1);
    assert.match(gone.stderr, /NOT_FOUND \(404\)/);
  });

  test('bad input exits non-zero with one line naming the field (client- and server-side)', async () => {
    const both = await hearth(['task', 'create', '--name', 'x', '--instances', '2', '--range', '0-3']);
    assert.equal(both.status, 2);
    assert.match(both.stderr, /^hearth: --instances: give exactly one of/);
    const server = await hearth(['task', 'create', '--name', 'x', '--range', 'not-a-range']);
    assert.equal(server.status, 1);
    assert.match(server.stderr, /^hearth: POST \/tasks: VALIDATION \(400\) advancedRanges: /);
    assert.equal(server.stderr.trim().split('\n').length, 1);
    const uuid = await hearth(['task', 'info', 'not-a-uuid']);
    assert.equal(uuid.status, 1);
    assert.match(uuid.stderr, /VALIDATION \(400\) uuid/);
    const unconfigured = await hearth(['task', 'list'], { XDG_CONFIG_HOME: join(dir, 'empty') });
    assert.equal(unconfigured.status, 2);
    assert.match(unconfigured.stderr, /no API URL: run "hearth config set --url URL"/);
    const down = await hearth(['task', 'list'], { HEARTH_API_URL: 'http://127.0.0.1:9' });
    assert.equal(down.status, 1);
    assert.match(down.stderr, /cannot reach http:\/\/127\.0\.0\.1:9/);
    const badToken = await hearth(['task', 'list'], { HEARTH_TOKEN: 'hth_wrong' });
    assert.equal(badToken.status, 1);
    assert.match(badToken.stderr, /UNAUTHORIZED \(401\)/);
  });
});

describe('hearth usage', () => {
  test('the credits, the compute used and what was billed, by type: credits + billed = the 50 € given; ranges; a bad --from is named', async () => {
    const u = JSON.parse((await ok(['usage', '--format', 'json'])).stdout) as { credits: number; attempts: number; billed: { coreHours: number; eur: number; byType: Array<{ schedulingType: string }> } };
    assert.ok(u.attempts >= 3 && u.billed.coreHours > 0, JSON.stringify(u));
    assert.equal(Math.round((u.credits + u.billed.eur) * 1e6), 50e6, 'every euro taken from the credits is in the ledger');
    assert.deepEqual(u.billed.byType.map((b) => b.schedulingType), ['flex']);
    const table = (await ok(['usage'])).stdout;
    assert.match(table, /^billed:\s+\d+\.\d{6} €$/m);
    assert.match(table, /^flex\s+\d+\s+\d+\.\d{4}\s+\d+\.\d{6}$/m);
    const future = JSON.parse((await ok(['usage', '--from', '2100-01-01', '--format', 'json'])).stdout) as typeof u;
    assert.deepEqual([future.attempts, future.billed.eur, future.billed.byType], [0, 0, []]);
    const bad = await hearth(['usage', '--from', 'yesterday']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^hearth: --from: must be an ISO 8601 date/);
  });
});

describe('hearth bucket', () => {
  test('create, put, list, get (file and stdout), sync-to, sync-from, delete', async () => {
    await ok(['bucket', 'create', 'cli-data']);
    const file = join(dir, 'input data.txt');
    writeFileSync(file, 'some input ✓\n');
    await ok(['bucket', 'put', 'cli-data', file]);
    await ok(['bucket', 'put', 'cli-data', file, 'nested/dir/é.txt']);
    const buckets = JSON.parse((await ok(['bucket', 'list', '--format', 'json'])).stdout) as Array<{ name: string }>;
    assert.ok(buckets.some((b) => b.name === 'cli-data'));
    const objects = JSON.parse((await ok(['bucket', 'list', 'cli-data', '--format', 'json'])).stdout) as Array<{ key: string; size: number }>;
    assert.deepEqual(objects.map((o) => o.key).sort(), ['input data.txt', 'nested/dir/é.txt']);

    assert.equal((await ok(['bucket', 'get', 'cli-data', 'nested/dir/é.txt', '-'])).stdout, 'some input ✓\n');
    await ok(['bucket', 'get', 'cli-data', 'input data.txt', join(dir, 'back.txt')]);
    assert.equal(readFileSync(join(dir, 'back.txt'), 'utf8'), 'some input ✓\n');

    const src = join(dir, 'tree');
    mkdirSync(join(src, 'a'), { recursive: true });
    writeFileSync(join(src, 'a', 'one.txt'), '1');
    writeFileSync(join(src, 'two.txt'), '2');
    const up = JSON.parse((await ok(['bucket', 'sync-to', src, 'cli-tree', '--format', 'json'])).stdout) as { copied: string[] };
    assert.deepEqual(up.copied.sort(), ['a/one.txt', 'two.txt']);
    assert.match((await ok(['bucket', 'sync-to', src, 'cli-tree'])).stdout, /^0 copied, 2 unchanged/);
    const down = join(dir, 'tree-back');
    await ok(['bucket', 'sync-from', 'cli-tree', down]);
    assert.equal(readFileSync(join(down, 'a', 'one.txt'), 'utf8'), '1');

    const notEmpty = await hearth(['bucket', 'delete', 'cli-tree']);
    assert.equal(notEmpty.status, 1);
    assert.match(notEmpty.stderr, /BucketNotEmpty \(409\)/);
    await ok(['bucket', 'delete', 'cli-tree', '--force']);
    await ok(['bucket', 'delete', 'cli-data', 'input data.txt']);
    const listed = JSON.parse((await ok(['bucket', 'list', 'cli-data', '--format', 'json'])).stdout) as Array<{ key: string }>;
    assert.deepEqual(listed.map((o) => o.key), ['nested/dir/é.txt']);
    const noFile = await hearth(['bucket', 'put', 'cli-data', join(dir, 'nope.txt')]);
    assert.equal(noFile.status, 2);
    assert.match(noFile.stderr, /^hearth: file: cannot read/);
  });
});

describe('hearth job, fleet, thermostat', () => {
  test('job create, list, info, terminate, delete', async () => {
    const uuid = (await ok(['job', 'create', '--name', 'cli job'])).stdout.trim();
    assert.match(uuid, /^[0-9a-f-]{36}$/);
    const jobs = JSON.parse((await ok(['job', 'list', '--format', 'json'])).stdout) as Array<{ uuid: string }>;
    assert.ok(jobs.some((j) => j.uuid === uuid));
    assert.match((await ok(['job', 'info', uuid])).stdout, /state:\s+Active/);
    await ok(['job', 'terminate', uuid]);
    await ok(['job', 'delete', uuid, '--force']);
  });

  test('fleet and thermostat for an operator; a customer may not see the fleet', async () => {
    const op = { HEARTH_TOKEN: OPERATOR_TOKEN };
    const view = JSON.parse((await ok(['fleet', '--format', 'json'], op)).stdout) as { summary: { heaters: number }; heaters: Array<{ id: string; roomId: string; boards: number; running: string }> };
    assert.equal(view.heaters.length, view.summary.heaters);
    assert.ok(view.heaters.every((h) => h.boards >= 1 && typeof h.running === 'string'));
    assert.match((await ok(['fleet'], op)).stdout, /heater\s+room\s+air °C\s+setpoint °C/);
    const denied = await hearth(['fleet']);
    assert.equal(denied.status, 1);
    assert.match(denied.stderr, /FORBIDDEN \(403\)/);

    const room = view.heaters[0].roomId;
    assert.match((await ok(['thermostat', 'set', room, '21.5'], op)).stdout, /comfort setpoint 21\.5 °C/);
    const shown = JSON.parse((await ok(['thermostat', 'show', room, '--format', 'json'], op)).stdout) as { comfortC: number };
    assert.equal(shown.comfortC, 21.5);
    const high = await hearth(['thermostat', 'set', room, '95'], op);
    assert.equal(high.status, 1);
    assert.match(high.stderr, /VALIDATION \(400\) comfortC/);
  });
});
