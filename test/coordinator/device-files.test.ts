// The device file routes over a real SQLite store and blob directory: the device holding an attempt lists and
// downloads its inputs and uploads results; another device, a stale attempt, a customer (even the owner) get 404;
// keys are opaque. Then the agent's HttpFiles over real HTTP, and an Agent running an assignment end to end.
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment -- response bodies are untyped JSON, checked by the assertions */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { Agent, AgentFilesError, type AgentTransport } from '../../src/agent/agent.ts';
import { HttpFiles } from '../../src/agent/http-files.ts';
import { RoomTwin } from '../../src/agent/room-twin.ts';
import { buildApp } from '../../src/coordinator/app.ts';
import { deviceFileRoutes } from '../../src/coordinator/api/device-files.ts';
import { createAccount } from '../../src/coordinator/auth/tokens.ts';
import { BlobStore } from '../../src/coordinator/s3/blobs.ts';
import { openStore } from '../../src/coordinator/store/index.ts';
import type { Store } from '../../src/coordinator/store/types.ts';
import type { Assignment, InstanceReport } from '../../src/protocol/device.ts';
import { testAssignment } from '../helpers/assignment.ts';

const D = '/hearth/v1/device';

interface World {
  app: FastifyInstance;
  store: Store;
  blobs: BlobStore;
  dir: string;
  task: string;
  owner: string;
  tokens: { h1: string; h2: string; owner: string; other: string; operator: string };
  req(token: string | undefined, opts: InjectOptions): Promise<LightMyRequestResponse>;
}

let w: World;

async function putInput(store: Store, blobs: BlobStore, owner: string, bucket: string, key: string, text: string): Promise<void> {
  const b = await blobs.write(Readable.from([Buffer.from(text)]));
  await store.putObject(owner, { bucket, key, size: b.size, etag: b.md5, blobHash: b.hash });
  b.release();
}

/** Moves instance `id` of the task to `attempt` on `heaterId` (null: requeued), as the live loop does. */
async function dispatch(instanceId: number, attempt: number, heaterId: string | null, seq = 0): Promise<void> {
  await w.store.applyInstanceEvent({
    taskUuid: w.task,
    instanceId,
    attempt,
    sequence: seq,
    set: heaterId === null ? { state: 'queued', heaterId: null, boardIndex: null } : { state: 'dispatched', heaterId, boardIndex: 0 },
  });
}

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-devfiles-'));
  const store = await openStore(`sqlite:${join(dir, 'hearth.db')}`);
  const blobDir = join(dir, 'blobs');
  const blobs = new BlobStore(blobDir);
  await blobs.init();
  const owner = await createAccount(store, { email: 'c@example.com', credits: 10 });
  const other = await createAccount(store, { email: 'c2@example.com', credits: 10 });
  const operator = await createAccount(store, { email: 'op@example.com', role: 'operator' });
  const h1 = await createAccount(store, { email: 'h1@devices', role: 'device', scope: { deviceId: 'h1' } });
  const h2 = await createAccount(store, { email: 'h2@devices', role: 'device', scope: { deviceId: 'h2' } });
  await store.createBucket({ name: 'in', accountId: owner.account.id });
  await store.createBucket({ name: 'secret', accountId: owner.account.id });
  await store.createBucket({ name: 'theirs', accountId: other.account.id });
  await putInput(store, blobs, owner.account.id, 'in', 'data/a.txt', 'alpha\n');
  await putInput(store, blobs, owner.account.id, 'in', '../../etc/passwd', 'just a key\n');
  await putInput(store, blobs, owner.account.id, 'secret', 's.txt', 'nope');
  const task = await store.createTask({
    accountId: owner.account.id,
    name: 't',
    profile: 'docker-batch',
    body: { name: 't', profile: 'docker-batch', resourceBuckets: ['in'], resultBucket: 'out' },
    instanceIds: [0, 1, 2],
  });
  const ctx = { store, clock: () => Date.UTC(2025, 0, 1), storageUrl: 'http://storage.test' };
  // Mounted outside the compute API's auth hook here (app.ts is not ours): the plugin then authenticates itself.
  const app = await buildApp({ ...ctx, rateLimit: false, plugins: [{ plugin: deviceFileRoutes, options: { ...ctx, blobDir, prefix: D } }] });
  w = {
    app,
    store,
    blobs,
    dir,
    task: task.uuid,
    owner: owner.account.id,
    tokens: { h1: h1.token, h2: h2.token, owner: owner.token, other: other.token, operator: operator.token },
    req: (token, opts) => app.inject({ ...opts, headers: { ...(token === undefined ? {} : { authorization: token }), ...(opts.headers ?? {}) } }),
  };
  await dispatch(0, 1, 'h1');
});

after(async () => {
  await w.app.close();
  await w.store.close();
  rmSync(w.dir, { recursive: true, force: true });
});

const attemptUrl = (instanceId: number, attempt: number): string => `${D}/assignments/${w.task}/${instanceId}/${attempt}`;

async function blobText(bucket: string, key: string): Promise<string | undefined> {
  const o = await w.store.getObject(w.owner, bucket, key);
  if (!o) return undefined;
  const chunks: Buffer[] = [];
  for await (const c of await w.blobs.read(o.blobHash)) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

describe('device file routes', () => {
  test('the device holding the attempt lists and downloads its inputs; keys are opaque', async () => {
    const list = await w.req(w.tokens.h1, { method: 'GET', url: `${attemptUrl(0, 1)}/inputs` });
    assert.equal(list.statusCode, 200, list.body);
    const items = list.json<Array<{ bucket: string; key: string; size: number; etag: string }>>();
    assert.deepEqual(
      items.map((i) => [i.bucket, i.key, i.size]),
      [
        ['in', '../../etc/passwd', 11],
        ['in', 'data/a.txt', 6],
      ],
    );
    assert.match(items[0].etag, /^[0-9a-f]{32}$/);
    const a = await w.req(w.tokens.h1, { method: 'GET', url: `${attemptUrl(0, 1)}/inputs/in/${encodeURIComponent('data/a.txt')}` });
    assert.equal(a.statusCode, 200);
    assert.equal(a.body, 'alpha\n');
    assert.equal(a.headers['content-length'], '6');
    // Unencoded slashes reach the same key.
    assert.equal((await w.req(w.tokens.h1, { method: 'GET', url: `${attemptUrl(0, 1)}/inputs/in/data/a.txt` })).body, 'alpha\n');
    const p = await w.req(w.tokens.h1, { method: 'GET', url: `${attemptUrl(0, 1)}/inputs/in/${encodeURIComponent('../../etc/passwd')}` });
    assert.equal(p.statusCode, 200);
    assert.equal(p.body, 'just a key\n');
    // Only the task's resource buckets: not another bucket of the owner's, not a missing key.
    assert.equal((await w.req(w.tokens.h1, { method: 'GET', url: `${attemptUrl(0, 1)}/inputs/secret/s.txt` })).statusCode, 404);
    assert.equal((await w.req(w.tokens.h1, { method: 'GET', url: `${attemptUrl(0, 1)}/inputs/in/missing` })).statusCode, 404);
  });

  test('the device uploads results into the owner\'s result bucket (created); a hostile key is just a key', async () => {
    const put = await w.req(w.tokens.h1, { method: 'PUT', url: `${attemptUrl(0, 1)}/results/${encodeURIComponent('frames/f1.txt')}`, payload: 'frame one', headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(put.statusCode, 200, put.body);
    assert.deepEqual(put.json(), { bucket: 'out', key: 'frames/f1.txt', size: 9, etag: put.json().etag });
    assert.equal((await w.store.getBucket(w.owner, 'out'))?.accountId, w.owner);
    assert.equal(await blobText('out', 'frames/f1.txt'), 'frame one');
    // Any content type, or none.
    const json = await w.req(w.tokens.h1, { method: 'PUT', url: `${attemptUrl(0, 1)}/results/r.json`, payload: '{"a":1}', headers: { 'content-type': 'application/json' } });
    assert.equal(json.statusCode, 200, json.body);
    assert.equal(await blobText('out', 'r.json'), '{"a":1}');
    const evil = await w.req(w.tokens.h1, { method: 'PUT', url: `${attemptUrl(0, 1)}/results/${encodeURIComponent('../../../../tmp/evil')}`, payload: 'x' });
    assert.equal(evil.statusCode, 200, evil.body);
    assert.equal(await blobText('out', '../../../../tmp/evil'), 'x');
    // Replacing a result keeps one object.
    await w.req(w.tokens.h1, { method: 'PUT', url: `${attemptUrl(0, 1)}/results/r.json`, payload: '{"a":2}' });
    assert.equal(await blobText('out', 'r.json'), '{"a":2}');
    // Snapshots: to the result bucket (or a bucket a snapshot order names), nowhere else.
    assert.equal((await w.req(w.tokens.h1, { method: 'PUT', url: `${attemptUrl(0, 1)}/snapshots/out/snap%2Fa`, payload: 's' })).statusCode, 200);
    assert.equal((await w.req(w.tokens.h1, { method: 'PUT', url: `${attemptUrl(0, 1)}/snapshots/secret/a`, payload: 's' })).statusCode, 404);
    assert.equal((await w.req(w.tokens.h1, { method: 'PUT', url: `${attemptUrl(0, 1)}/snapshots/theirs/a`, payload: 's' })).statusCode, 404);
  });

  test('another device, a customer (even the owner), an operator, a stale or requeued attempt: 404 that says nothing', async () => {
    const routes: InjectOptions[] = [
      { method: 'GET', url: `${attemptUrl(0, 1)}/inputs` },
      { method: 'GET', url: `${attemptUrl(0, 1)}/inputs/in/data%2Fa.txt` },
      { method: 'PUT', url: `${attemptUrl(0, 1)}/results/x`, payload: 'x' },
    ];
    for (const token of [w.tokens.h2, w.tokens.owner, w.tokens.other, w.tokens.operator]) {
      for (const r of routes) {
        const res = await w.req(token, r);
        assert.equal(res.statusCode, 404, `${r.method} ${r.url as string}`);
        assert.equal(res.json().code, 'NOT_FOUND');
        assert.doesNotMatch(res.body, /h1|alpha|out/);
      }
    }
    assert.equal((await w.req(undefined, routes[0])).statusCode, 401);
    assert.equal((await w.req('hth_not-a-token-at-all', routes[0])).statusCode, 401);
    // Wrong attempt numbers, an instance never dispatched, an unknown task.
    assert.equal((await w.req(w.tokens.h1, { method: 'GET', url: `${attemptUrl(0, 2)}/inputs` })).statusCode, 404);
    assert.equal((await w.req(w.tokens.h1, { method: 'GET', url: `${attemptUrl(1, 1)}/inputs` })).statusCode, 404);
    assert.equal((await w.req(w.tokens.h1, { method: 'GET', url: `${D}/assignments/nope/0/1/inputs` })).statusCode, 404);
    // The instance moves on to attempt 2 on h2: h1's attempt 1 is stale, h2 gets attempt 2.
    await dispatch(0, 2, 'h2');
    assert.equal((await w.req(w.tokens.h1, { method: 'GET', url: `${attemptUrl(0, 1)}/inputs` })).statusCode, 404);
    assert.equal((await w.req(w.tokens.h1, { method: 'PUT', url: `${attemptUrl(0, 1)}/results/late`, payload: 'x' })).statusCode, 404);
    assert.equal((await w.req(w.tokens.h2, { method: 'GET', url: `${attemptUrl(0, 2)}/inputs` })).statusCode, 200);
    // Requeued (heater lost): nobody holds it.
    await w.store.applyInstanceEvent({ taskUuid: w.task, instanceId: 0, attempt: 2, sequence: 1_000_000_001, set: { state: 'queued', heaterId: null, boardIndex: null } });
    assert.equal((await w.req(w.tokens.h2, { method: 'GET', url: `${attemptUrl(0, 2)}/inputs` })).statusCode, 404);
    assert.equal(await blobText('out', 'late'), undefined);
  });

  test('bad keys are refused; a resource bucket that is missing or another account\'s fails the listing', async () => {
    await dispatch(2, 1, 'h1');
    const long = encodeURIComponent('k'.repeat(1025));
    assert.equal((await w.req(w.tokens.h1, { method: 'PUT', url: `${attemptUrl(2, 1)}/results/${long}`, payload: 'x' })).statusCode, 400);
    assert.equal((await w.req(w.tokens.h1, { method: 'PUT', url: `${attemptUrl(2, 1)}/results/a%00b`, payload: 'x' })).statusCode, 400);
    assert.equal((await w.req(w.tokens.h1, { method: 'PUT', url: `${attemptUrl(2, 1)}/results/`, payload: 'x' })).statusCode, 404);
    const t2 = await w.store.createTask({ accountId: w.owner, name: 't2', profile: 'docker-batch', body: { resourceBuckets: ['theirs'] }, instanceIds: [0] });
    await w.store.applyInstanceEvent({ taskUuid: t2.uuid, instanceId: 0, attempt: 1, sequence: 0, set: { state: 'dispatched', heaterId: 'h1', boardIndex: 1 } });
    const list = await w.req(w.tokens.h1, { method: 'GET', url: `${D}/assignments/${t2.uuid}/0/1/inputs` });
    assert.equal(list.statusCode, 409);
    assert.match(list.json<{ message: string }>().message, /resource bucket theirs does not exist/);
    const noResults = await w.req(w.tokens.h1, { method: 'PUT', url: `${D}/assignments/${t2.uuid}/0/1/results/x`, payload: 'x' });
    assert.equal(noResults.statusCode, 409);
  });
});

describe('the agent over HTTP', () => {
  let base: string;
  before(async () => {
    await w.app.listen({ port: 0, host: '127.0.0.1' });
    const addr = w.app.server.address();
    assert.ok(addr && typeof addr === 'object');
    base = `http://127.0.0.1:${addr.port}`;
  });

  const assignment = (instanceId: number, attempt: number, command = 'true'): Assignment =>
    testAssignment({ taskUuid: w.task, instanceId, attempt, accountId: w.owner, command, resourceBuckets: ['in'], resultBucket: 'out' });

  test('HttpFiles lists, downloads and uploads; refusals are final, an unreachable coordinator is retryable', async () => {
    await dispatch(1, 1, 'h1');
    const files = new HttpFiles({ baseUrl: base, token: w.tokens.h1 });
    const a = assignment(1, 1);
    const inputs = await files.listInputs(a);
    assert.deepEqual(inputs.map((i) => i.key), ['../../etc/passwd', 'data/a.txt']);
    const chunks: Buffer[] = [];
    for await (const c of await files.download(a, inputs[0])) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), 'just a key\n');
    await files.upload(a, 'up/load.bin', Readable.from([Buffer.from('123'), Buffer.from('45')]), 5);
    assert.equal(await blobText('out', 'up/load.bin'), '12345');
    const other = new HttpFiles({ baseUrl: base, token: w.tokens.h2 });
    await assert.rejects(other.listInputs(a), (e: unknown) => e instanceof AgentFilesError && e.status === 404 && !e.retryable);
    const down = new HttpFiles({ baseUrl: 'http://127.0.0.1:1', token: w.tokens.h1 });
    await assert.rejects(down.listInputs(a), (e: unknown) => e instanceof AgentFilesError && e.retryable);
  });

  test('an Agent runs attempts end to end: inputs from the coordinator, results into the owner\'s bucket; a hostile key fails the attempt', async () => {
    await w.store.createBucket({ name: 'in2', accountId: w.owner });
    await putInput(w.store, w.blobs, w.owner, 'in2', 'data/a.txt', 'alpha\n');
    const t = await w.store.createTask({ accountId: w.owner, name: 'e2e', profile: 'docker-batch', body: { resourceBuckets: ['in2'], resultBucket: 'e2e-out' }, instanceIds: [0, 1] });
    for (const i of [0, 1]) await w.store.applyInstanceEvent({ taskUuid: t.uuid, instanceId: i, attempt: 1, sequence: 0, set: { state: 'dispatched', heaterId: 'h1', boardIndex: i } });
    const reports: InstanceReport[] = [];
    let onCommand: (c: Parameters<Parameters<AgentTransport['onCommand']>[0]>[0]) => void = () => undefined;
    const transport: AgentTransport = {
      connected: true,
      publish: (kind, payload) => {
        if (kind === 'instances') reports.push(payload as InstanceReport);
        return Promise.resolve();
      },
      onCommand: (fn) => {
        onCommand = fn;
      },
      onConnectionChange: () => undefined,
    };
    let now = Date.UTC(2025, 0, 1);
    const agent = new Agent({
      deviceId: 'h1',
      boards: 3,
      coresPerBoard: 4,
      workRoot: join(w.dir, 'agent'),
      files: new HttpFiles({ baseUrl: base, token: w.tokens.h1 }),
      transport,
      clock: () => now,
      room: new RoomTwin(),
      limits: { setpointC: 19, safetyC: 28 },
    });
    agent.tick(now);
    const base0 = { ...assignment(0, 1, 'tr a-z A-Z < data/a.txt > upper.txt'), taskUuid: t.uuid, resourceBuckets: ['in2'], resultBucket: 'e2e-out' };
    onCommand({ kind: 'start', assignment: base0 });
    // The coordinator's view of the task says 'in2', but a device told to read 'in' gets what the task says, not more.
    onCommand({ kind: 'start', assignment: { ...base0, instanceId: 1, boardIndex: 1, resourceBuckets: ['in'] } });
    await agent.settled();
    now += 1000;
    agent.tick(now);
    await agent.flush();
    const end = (i: number): InstanceReport => reports.filter((r) => r.instanceId === i && r.state !== undefined).at(-1)!;
    assert.equal(end(0).state, 'success', JSON.stringify(end(0)));
    assert.deepEqual(end(0).results, [{ key: 'upper.txt', size: 6 }]);
    assert.equal((await w.store.getObject(w.owner, 'e2e-out', 'upper.txt'))?.size, 6);
    assert.equal(end(1).state, 'success', JSON.stringify(end(1)));
    await agent.close();

    // A task whose inputs hold a key that climbs out of the working directory: the attempt fails, nothing is written outside.
    await dispatch(1, 3, 'h1');
    const agent2 = new Agent({
      deviceId: 'h1',
      boards: 3,
      coresPerBoard: 4,
      workRoot: join(w.dir, 'agent'),
      files: new HttpFiles({ baseUrl: base, token: w.tokens.h1 }),
      transport,
      clock: () => now,
      room: new RoomTwin(),
      limits: { setpointC: 19, safetyC: 28 },
    });
    onCommand({ kind: 'start', assignment: assignment(1, 3, 'true') });
    await agent2.settled();
    await agent2.flush();
    const bad = reports.filter((r) => r.taskUuid === w.task && r.instanceId === 1 && r.attempt === 3).at(-1)!;
    assert.equal(bad.state, 'failure');
    assert.match(bad.error ?? '', /climbs out/);
    await agent2.close();
  });
});
