// The SDK against a real platform on loopback (in-process coordinator, SQLite, S3 endpoint, the live loop with the
// local executor running real processes): tasks from submit to results, buckets with the SDK's own SigV4 signer,
// typed errors, retries only of what is safe (counted by a local proxy), the live event stream, jobs and the
// hearth platform API.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform, type Platform as RunningPlatform } from '../../src/coordinator/server.ts';
import { localExecutor } from '../../src/cli/local-fleet.ts';
import { EVENT_TYPES, HearthApiError, HearthClient, isFinal, isLiveEvent, signV4, type LiveEvent, type TaskOutput } from '../../src/sdk/index.ts';

const OPERATOR_TOKEN = 'hth_test_operator_token_sdk_0123456789ab';
let platform: RunningPlatform;
let dir: string;
let operator: HearthClient;
let customer: HearthClient;
let other: HearthClient;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-sdk-'));
  platform = await startPlatform({ port: 0, dataDir: join(dir, 'data'), env: { HEARTH_BOOTSTRAP_TOKEN: OPERATOR_TOKEN }, fleet: { executor: localExecutor, periodS: 0.2, demoRooms: 2 } });
  operator = new HearthClient({ url: platform.url, token: OPERATOR_TOKEN });
  const a = await operator.platform.createAccount({ email: 'sdk@example.com', credits: 50 });
  const b = await operator.platform.createAccount({ email: 'rival@example.com', credits: 5 });
  customer = new HearthClient({ url: platform.url, token: a.token });
  other = new HearthClient({ url: platform.url, token: b.token });
});

after(async () => {
  await platform.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SigV4 signer', () => {
  test('reproduces the AWS documentation example (GET Object with a range)', () => {
    const h = signV4({
      method: 'GET',
      path: '/test.txt',
      host: 'examplebucket.s3.amazonaws.com',
      headers: { range: 'bytes=0-9' },
      payloadHash: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      nowMs: Date.UTC(2013, 4, 24),
    });
    assert.match(h.authorization, /SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41$/);
  });

  test('reproduces the AWS documentation example (list objects, query sorted)', () => {
    const h = signV4({
      method: 'GET',
      path: '/',
      query: [['max-keys', '2'], ['prefix', 'J']],
      host: 'examplebucket.s3.amazonaws.com',
      payloadHash: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      nowMs: Date.UTC(2013, 4, 24),
    });
    assert.match(h.authorization, /Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7$/);
  });
});

describe('tasks', () => {
  test('hello from every instance: submit, wait with progress to Success, stdout, results, carbon facts, events', async () => {
    const t0 = await operator.platform.fleet(); // any read: the platform answers
    assert.ok(t0.heaters >= 1);
    const task = await customer.tasks.submit({
      name: 'hello',
      profile: 'docker-batch',
      instanceCount: 4,
      constants: [{ key: 'DOCKER_CMD', value: 'echo "hello from ${INSTANCE_ID} of ${QSIZE}"; echo "done ${INSTANCE_ID}" > out-${INSTANCE_ID}.txt' }],
      resultBucket: 'hello-results',
    });
    const seen: string[] = [];
    const done = await task.wait({ onProgress: (t: TaskOutput) => seen.push(t.state), timeoutMs: 120_000 });
    assert.equal(done.state, 'Success', JSON.stringify(done.errors));
    assert.ok(seen.length >= 1 && seen.at(-1) === 'Success', seen.join(','));
    assert.equal(done.completedInstances.length, 4);

    const out = await task.stdout();
    for (const id of [0, 1, 2, 3]) assert.ok(out.includes(`${id}> hello from ${id} of 4`), out);
    assert.match(await customer.tasks.stdout(task.uuid, { instanceId: 2 }), /^hello from 2 of 4\n?$/);
    assert.equal(await customer.tasks.stderr(task.uuid), '');

    const resultsDir = join(dir, 'results');
    const report = await task.downloadResults(resultsDir);
    assert.deepEqual(report.copied.sort(), ['out-0.txt', 'out-1.txt', 'out-2.txt', 'out-3.txt']);
    assert.equal(readFileSync(join(resultsDir, 'out-3.txt'), 'utf8'), 'done 3\n');
    // A second download finds everything in place.
    assert.equal((await task.downloadResults(resultsDir)).skipped.length, 4);

    // Its bill, typed: every attempt's wall time × cores × clock ratio at the flex price.
    const bill = await task.bill();
    assert.equal(bill.taskUuid, task.uuid);
    assert.ok(bill.billed.coreHours > 0 && bill.billed.byType.every((b) => b.schedulingType === 'flex'), JSON.stringify(bill));
    assert.ok(bill.billed.coreHours <= done.completedInstances.reduce((s, c) => s + c.wallTimeSec * c.coreCount, 0) / 3600 + 1e-9, JSON.stringify(bill));
    const facts = await customer.tasks.carbonFacts(task.uuid);
    assert.ok(facts.total_energy_it_Wh > 0);

    // The event stream replays this task's state changes, ending in Success.
    const ac = new AbortController();
    const states: string[] = [];
    for await (const e of customer.events({ lastEventId: 0, signal: ac.signal })) {
      const p = e.payload as { uuid?: string; state?: string };
      if (e.type === 'task.state' && p.uuid === task.uuid) states.push(p.state!);
      if (states.includes('Success')) ac.abort();
    }
    assert.equal(states.at(-1), 'Success');
    assert.ok(states.length >= 2, states.join(','));

    // The listing shows it; the summaries too.
    assert.ok((await customer.tasks.list()).some((t) => t.uuid === task.uuid));
    assert.ok((await customer.tasks.summaries()).some((t) => t.uuid === task.uuid && t.state === 'Success'));
  });

  test('events iterator follows live changes of a task started after it opened', async () => {
    const ac = new AbortController();
    let opened!: () => void;
    const open = new Promise<void>((r) => (opened = r));
    const got: LiveEvent[] = [];
    let uuid = '';
    const reading = (async () => {
      for await (const e of customer.events({ signal: ac.signal, onOpen: () => opened() })) {
        got.push(e);
        const p = e.payload as { uuid?: string; state?: string };
        if (e.type === 'task.state' && p.uuid === uuid && p.state === 'Success') ac.abort();
      }
    })();
    await open;
    uuid = await customer.tasks.create({ name: 'live', profile: 'docker-batch', instanceCount: 1, constants: [{ key: 'DOCKER_CMD', value: 'echo live' }] });
    await reading;
    const mine = got.filter((e) => (e.payload as { uuid?: string }).uuid === uuid);
    assert.ok(mine.length >= 2, JSON.stringify(got));
    // The task's instances too, typed through the protocol's one definition (the owner sees no device).
    const instances = got.filter((e) => isLiveEvent(e, EVENT_TYPES.instanceState) && e.payload.taskUuid === uuid);
    assert.ok(instances.length >= 1, JSON.stringify(got));
    for (const e of instances) if (isLiveEvent(e, EVENT_TYPES.instanceState)) assert.ok(!('heaterId' in e.payload) && e.payload.instanceId === 0, JSON.stringify(e));
    const stored = got.filter((e) => e.id !== null);
    assert.ok(stored.every((e, k) => k === 0 || e.id! > stored[k - 1].id!), 'ids increase');
  });

  test('streamStdout yields fresh chunks until the task ends; abort and delete', async () => {
    const h = await customer.tasks.submit({
      name: 'stream',
      profile: 'docker-batch',
      instanceCount: 1,
      constants: [{ key: 'DOCKER_CMD', value: 'for i in 1 2 3; do echo "line $i"; sleep 0.3; done' }],
    });
    let text = '';
    for await (const chunk of h.streamStdout()) text += chunk;
    assert.deepEqual(text.trim().split('\n'), ['0> line 1', '0> line 2', '0> line 3']);
    assert.equal((await h.get()).state, 'Success');

    const long = await customer.tasks.submit({ name: 'long', profile: 'docker-batch', instanceCount: 1, constants: [{ key: 'DOCKER_CMD', value: 'sleep 60' }] });
    await long.abort();
    assert.equal((await long.wait({ timeoutMs: 60_000 })).state, 'Cancelled');
    await customer.tasks.delete(long.uuid);
    await assert.rejects(long.get(), (e: unknown) => e instanceof HearthApiError && e.status === 404 && e.code === 'NOT_FOUND');
  });

  test('streamStdout reads when instance.output announces output: with polling slowed to ten minutes, a running task\'s line still arrives', { timeout: 120_000 }, async () => {
    const h = await customer.tasks.submit({ name: 'announced', profile: 'docker-batch', instanceCount: 1, constants: [{ key: 'DOCKER_CMD', value: 'echo "said early"; sleep 60' }] });
    const ac = new AbortController();
    const it = h.streamStdout({ pollMs: 600_000, maxPollMs: 600_000, signal: ac.signal })[Symbol.asyncIterator]();
    try {
      let text = '';
      // The first read comes at once (likely empty); after it only an event can wake the stream before the test's timeout.
      while (!text.includes('said early')) {
        const r = await it.next();
        assert.equal(r.done, false, 'the stream ended before the line');
        text += r.value;
      }
      assert.equal(text, '0> said early\n');
      assert.ok(!isFinal((await h.get()).state), 'the task still runs');
    } finally {
      ac.abort();
      await it.return?.(undefined).catch(() => undefined);
      await h.abort();
    }
  });

  test('waits and output streams of one client share one event stream, which wakes each of them, and closes after the last', { timeout: 120_000 }, async () => {
    const acct = await operator.platform.createAccount({ email: 'many-waits@example.com', credits: 5 });
    const c = new HearthClient({ url: platform.url, token: acct.token });
    const hs = await Promise.all([0, 1, 2].map((k) => c.tasks.submit({ name: `shared-${k}`, profile: 'docker-batch', instanceCount: 1, constants: [{ key: 'DOCKER_CMD', value: `echo "task ${k}"` }] })));
    // Polling slowed to ten minutes: after their first reads, only the shared stream's events can end these.
    const slow = { pollMs: 600_000, maxPollMs: 600_000 };
    const lines = (async () => {
      let text = '';
      for await (const chunk of hs[0].streamStdout(slow)) text += chunk;
      return text;
    })();
    const ends = await Promise.all(hs.map((h) => h.wait(slow)));
    assert.deepEqual(ends.map((t) => t.state), ['Success', 'Success', 'Success']);
    assert.equal(await lines, '0> task 0\n');
    assert.equal(c.tasks.liveEvents.opened, 1, 'one connection for three waits and a stream');
    // The last subscriber gone, the stream is closed: the next wait opens another.
    const next = await c.tasks.submit({ name: 'shared-next', profile: 'docker-batch', instanceCount: 1, constants: [{ key: 'DOCKER_CMD', value: 'echo next' }] });
    assert.equal((await next.wait(slow)).state, 'Success');
    assert.equal(c.tasks.liveEvents.opened, 2);
  });

  test('wait without events (polling alone) and with a timeout', async () => {
    const h = await customer.tasks.submit({ name: 'poll', profile: 'docker-batch', instanceCount: 2, constants: [{ key: 'DOCKER_CMD', value: 'echo poll' }] });
    const t = await h.wait({ useEvents: false, timeoutMs: 120_000 });
    assert.equal(t.state, 'Success');
    const slow = await customer.tasks.submit({ name: 'slow', profile: 'docker-batch', instanceCount: 1, constants: [{ key: 'DOCKER_CMD', value: 'sleep 60' }] });
    await assert.rejects(slow.wait({ timeoutMs: 300 }), (e: unknown) => e instanceof Error && e.name === 'HearthTimeoutError');
    await slow.abort();
  });

  test('a bad body is a typed error carrying the code and the field', async () => {
    await assert.rejects(
      customer.tasks.create({ name: 'bad', profile: 'docker-batch', instanceCount: 0 }),
      (e: unknown) => e instanceof HearthApiError && e.status === 400 && e.code === 'VALIDATION' && e.field === 'instanceCount' && /instanceCount/.test(e.message),
    );
    await assert.rejects(
      customer.tasks.create({ name: 'both', profile: 'docker-batch', instanceCount: 2, advancedRanges: '1-3' }),
      (e: unknown) => e instanceof HearthApiError && e.code === 'VALIDATION' && e.field === 'instanceCount',
    );
    await assert.rejects(
      customer.tasks.create({ name: 'x', profile: 'docker-batch', instanceCount: 1, constants: [{ key: '', value: 'v' }] }),
      (e: unknown) => e instanceof HearthApiError && e.code === 'VALIDATION' && e.field === 'constants[0].key',
    );
  });

  test("another account's task is 404, never visible", async () => {
    const uuid = await customer.tasks.create({ name: 'mine', profile: 'docker-batch', instanceCount: 1, constants: [{ key: 'DOCKER_CMD', value: 'true' }] });
    for (const call of [() => other.tasks.get(uuid), () => other.tasks.stdout(uuid), () => other.tasks.abort(uuid), () => other.tasks.carbonFacts(uuid)]) {
      await assert.rejects(call(), (e: unknown) => e instanceof HearthApiError && e.status === 404 && e.code === 'NOT_FOUND');
    }
    assert.ok(!(await other.tasks.list()).some((t) => t.uuid === uuid));
    await assert.rejects(new HearthClient({ url: platform.url, token: 'hth_not_a_token' }).info(), (e: unknown) => e instanceof HearthApiError && e.status === 401 && e.code === 'UNAUTHORIZED');
  });
});

/** A loopback proxy in front of the platform that counts requests and answers 503 where told. */
async function proxy(target: string, fail: (method: string, path: string, nth: number) => boolean): Promise<{ url: string; count: Map<string, number>; close: () => Promise<void> }> {
  const t = new URL(target);
  const count = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const key = `${req.method} ${(req.url ?? '').split('?')[0]}`;
    const n = (count.get(key) ?? 0) + 1;
    count.set(key, n);
    if (fail(req.method ?? '', (req.url ?? '').split('?')[0], n)) {
      req.resume();
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' }).end(JSON.stringify({ message: 'try later', code: 'UNAVAILABLE' }));
      return;
    }
    const up = httpRequest({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    count,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('retries', () => {
  test('a GET is retried after a 503; a POST create never is', async () => {
    const p = await proxy(platform.url, (method, path, nth) => (method === 'POST' && path === '/tasks') || (method === 'GET' && path === '/info' && nth === 1));
    try {
      const token = customer.http.token;
      const c = new HearthClient({ url: p.url, token, retryBaseDelayMs: 1 });
      const info = await c.info();
      assert.equal(info.email, 'sdk@example.com');
      assert.equal(p.count.get('GET /info'), 2);
      await assert.rejects(
        c.tasks.create({ name: 'once', profile: 'docker-batch', instanceCount: 1 }),
        (e: unknown) => e instanceof HearthApiError && e.status === 503 && e.code === 'UNAVAILABLE',
      );
      assert.equal(p.count.get('POST /tasks'), 1);
      // With retries off, the GET fails at once; with 2, it is sent 3 times.
      const q = await proxy(platform.url, (method, path) => method === 'GET' && path === '/settings');
      try {
        await assert.rejects(new HearthClient({ url: q.url, token, retries: 0 }).settings(), (e: unknown) => e instanceof HearthApiError && e.status === 503);
        assert.equal(q.count.get('GET /settings'), 1);
        await assert.rejects(new HearthClient({ url: q.url, token, retries: 2, retryBaseDelayMs: 1 }).settings(), (e: unknown) => e instanceof HearthApiError && e.status === 503);
        assert.equal(q.count.get('GET /settings'), 4); // 1 + 3 more
      } finally {
        await q.close();
      }
    } finally {
      await p.close();
    }
  });

  test('a network error on a GET is retried, then reported as a HearthNetworkError', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const c = new HearthClient({ url: `http://127.0.0.1:${port}`, token: 'x', retries: 2, retryBaseDelayMs: 1 });
    await assert.rejects(c.info(), (e: unknown) => e instanceof Error && e.name === 'HearthNetworkError' && /cannot reach/.test(e.message));
  });
});

describe('buckets (own SigV4 signer)', () => {
  test('round trip: create, put (text, bytes > 5 MB, file, spaces and unicode), list with continuation, get, download, delete', async () => {
    const s3 = await customer.buckets();
    await s3.create('sdk-trip');
    await s3.create('sdk-trip'); // again: fine
    assert.ok((await s3.list()).some((b) => b.name === 'sdk-trip'));
    assert.ok(!(await (await other.buckets()).list()).some((b) => b.name === 'sdk-trip'));

    const big = randomBytes(6 * 1024 * 1024 + 123);
    const unicode = 'dir/héllo wörld ☃ + (1).txt';
    await s3.put('sdk-trip', 'a.txt', 'alpha\n');
    const etag = await s3.put('sdk-trip', 'big.bin', big);
    assert.match(etag, /^[0-9a-f]{32}$/);
    await s3.put('sdk-trip', unicode, 'unicode body ✓');
    const file = join(dir, 'upload.bin');
    const fileBytes = randomBytes(2 * 1024 * 1024 + 7);
    writeFileSync(file, fileBytes);
    const progress: number[] = [];
    await s3.put('sdk-trip', 'from file.bin', { file }, { onProgress: (d) => progress.push(d) });
    assert.equal(progress.at(-1), fileBytes.length);

    const keys: string[] = [];
    for await (const o of s3.objects('sdk-trip', { pageSize: 2 })) keys.push(o.key);
    assert.deepEqual(keys.sort(), ['a.txt', 'big.bin', unicode, 'from file.bin'].sort());
    const page = await s3.listObjects('sdk-trip', { maxKeys: 1 });
    assert.equal(page.objects.length, 1);
    assert.ok(page.isTruncated && page.nextContinuationToken);
    const dirs = await s3.listObjects('sdk-trip', { delimiter: '/' });
    assert.deepEqual(dirs.prefixes, ['dir/']);

    assert.equal((await s3.get('sdk-trip', 'a.txt')).toString(), 'alpha\n');
    assert.equal((await s3.get('sdk-trip', unicode)).toString(), 'unicode body ✓');
    assert.ok((await s3.get('sdk-trip', 'big.bin')).equals(big));
    assert.equal((await s3.get('sdk-trip', 'a.txt', { range: { start: 1, end: 3 } })).toString(), 'lph');
    const dest = join(dir, 'down', 'big.bin');
    assert.equal(await s3.download('sdk-trip', 'big.bin', dest), big.length);
    assert.ok(readFileSync(dest).equals(big));
    assert.equal((await s3.head('sdk-trip', 'from file.bin'))?.size, fileBytes.length);

    await assert.rejects(s3.get('sdk-trip', 'missing'), (e: unknown) => e instanceof HearthApiError && e.status === 404 && e.code === 'NoSuchKey');
    await assert.rejects(s3.delete('sdk-trip'), (e: unknown) => e instanceof HearthApiError && e.code === 'BucketNotEmpty');
    await assert.rejects(s3.put('sdk-trip', '../x', 'no'), (e: unknown) => e instanceof HearthApiError && e.field === 'key');
    await assert.rejects(s3.create('Bad_Name'), (e: unknown) => e instanceof HearthApiError && e.field === 'bucket');
    for (const k of keys) await s3.deleteObject('sdk-trip', k);
    assert.equal(await s3.head('sdk-trip', 'a.txt'), undefined);
    await s3.delete('sdk-trip');
    assert.equal(await s3.exists('sdk-trip'), false);
  });

  test('sync a directory to a bucket and back; unchanged files are skipped', async () => {
    const s3 = await customer.buckets();
    const src = join(dir, 'sync-src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'one.txt'), '1');
    writeFileSync(join(src, 'sub', 'two words.txt'), '22');
    const r1 = await s3.syncTo(src, 'sdk-sync', { prefix: 'in/' });
    assert.deepEqual(r1.copied.sort(), ['in/one.txt', 'in/sub/two words.txt']);
    writeFileSync(join(src, 'one.txt'), 'changed');
    const r2 = await s3.syncTo(src, 'sdk-sync', { prefix: 'in/' });
    assert.deepEqual(r2.copied, ['in/one.txt']);
    assert.deepEqual(r2.skipped, ['in/sub/two words.txt']);
    const back = join(dir, 'sync-back');
    const r3 = await s3.syncFrom('sdk-sync', back, { prefix: 'in/' });
    assert.equal(r3.copied.length, 2);
    assert.equal(readFileSync(join(back, 'one.txt'), 'utf8'), 'changed');
    assert.equal(readFileSync(join(back, 'sub', 'two words.txt'), 'utf8'), '22');
    assert.ok(statSync(join(back, 'sub')).isDirectory());
    await s3.delete('sdk-sync', { force: true });
  });
});

describe('jobs and the platform API', () => {
  test('jobs: create, list, get, tasks, terminate, delete', async () => {
    const uuid = await customer.jobs.create({ name: 'nightly', useDependencies: false });
    assert.ok((await customer.jobs.list()).some((j) => j.uuid === uuid));
    const t = await customer.tasks.create({ name: 'in job', profile: 'docker-batch', instanceCount: 1, jobUuid: uuid, constants: [{ key: 'DOCKER_CMD', value: 'sleep 30' }] });
    assert.deepEqual((await customer.jobs.tasks(uuid)).map((x) => x.uuid), [t]);
    await customer.jobs.terminate(uuid);
    assert.notEqual((await customer.jobs.get(uuid)).state, 'Active');
    await customer.jobs.delete(uuid, { force: true });
    await assert.rejects(customer.jobs.get(uuid), (e: unknown) => e instanceof HearthApiError && e.status === 404);
    await assert.rejects(other.jobs.get(uuid), (e: unknown) => e instanceof HearthApiError && e.status === 404);
  });

  test('sites, rooms, heaters, setpoint, fleet, energy, usage; a customer may not see the fleet', async () => {
    const sites = await operator.platform.sites();
    assert.ok(sites.length >= 1);
    const rooms = await operator.platform.siteRooms(sites[0].id);
    assert.ok(rooms.length >= 1);
    const heaters = await operator.platform.roomHeaters(rooms[0].id);
    assert.ok(heaters.length >= 1);
    const boards = await operator.platform.boards(heaters[0].id);
    assert.ok(boards.boards.length >= 1);
    const room = await operator.platform.setSetpoint(rooms[0].id, 20.5);
    assert.equal((room.spec as { comfortC: number }).comfortC, 20.5);
    await assert.rejects(operator.platform.setSetpoint(rooms[0].id, 99), (e: unknown) => e instanceof HearthApiError && e.status === 400 && e.field === 'comfortC');
    const fleet = await operator.platform.fleet();
    assert.equal(fleet.rooms, (await operator.platform.rooms()).length);
    const hist = await operator.platform.telemetry(heaters[0].id, { from: Date.now() - 3600_000 });
    assert.equal(hist.deviceId, heaters[0].id);
    const energy = await operator.platform.siteEnergy(sites[0].id);
    assert.equal(energy.siteId, sites[0].id);
    const usage = await customer.platform.usage();
    assert.ok(usage.attempts >= 1);
    await assert.rejects(customer.platform.fleet(), (e: unknown) => e instanceof HearthApiError && e.status === 403 && e.code === 'FORBIDDEN');
    await assert.rejects(customer.platform.room(rooms[0].id), (e: unknown) => e instanceof HearthApiError && e.status === 404);
  });

  test('placements: what runs where, typed (operators); a customer may not see them, not even its own', async () => {
    const h = await customer.tasks.submit({ name: 'placed', profile: 'docker-batch', instanceCount: 1, constants: [{ key: 'DOCKER_CMD', value: 'sleep 60' }] });
    try {
      let found: { deviceId: string; boardIndex: number | null; taskName: string; accountEmail: string | null; state: string } | undefined;
      for (let k = 0; k < 300 && !found; k++) {
        const p = await operator.platform.placements();
        assert.equal(typeof p.overflowInstances, 'number');
        for (const d of p.devices) for (const i of d.instances) if (i.taskUuid === h.uuid && i.state === 'running') found = { deviceId: d.deviceId, ...i };
        if (!found) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(found, 'the instance runs on a device');
      assert.equal(found.taskName, 'placed');
      assert.equal(found.accountEmail, 'sdk@example.com');
      const one = await operator.platform.placements({ deviceId: found.deviceId });
      assert.deepEqual(one.devices.map((d) => d.deviceId), [found.deviceId]);
      assert.ok(one.devices[0].instances.some((i) => i.taskUuid === h.uuid && i.boardIndex === found.boardIndex));
      await assert.rejects(customer.platform.placements(), (e: unknown) => e instanceof HearthApiError && e.status === 403 && e.code === 'FORBIDDEN');
      await assert.rejects(customer.platform.placements({ deviceId: found.deviceId }), (e: unknown) => e instanceof HearthApiError && e.status === 403);
    } finally {
      await h.abort();
    }
  });
});
