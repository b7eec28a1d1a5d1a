// The whole customer story over HTTP against the platform `hearth start` runs (in-process, real port, real
// SQLite file, real processes, the live loop with the local executor): an operator creates an account, the
// customer uploads an input with the AWS S3 client, creates a docker-batch task of 4 instances using
// ${INSTANCE_ID}, waits for Success, reads stdout, downloads results, reads its carbon facts and usage.
import { test } from 'node:test';
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- response bodies are untyped JSON, checked by the assertions */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startPlatform, STORAGE_PREFIX } from '../../src/coordinator/server.ts';
import { localExecutor } from '../../src/cli/local-fleet.ts';
import { until } from '../helpers/until.ts';

const OPERATOR_TOKEN = 'hth_test_operator_token_0123456789abcdef';

test('customer story: account, input upload, 4-instance docker-batch task, stdout, results, carbon facts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-story-'));
  const platform = await startPlatform({
    port: 0,
    dataDir: dir,
    env: { HEARTH_BOOTSTRAP_TOKEN: OPERATOR_TOKEN },
    fleet: { executor: localExecutor, periodS: 0.2, demoRooms: 2 },
  });
  try {
    const api = async (method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: any; text: string }> => {
      const res = await fetch(platform.url + path, {
        method,
        headers: { authorization: token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, json, text };
    };

    // The operator creates the customer.
    const created = await api('POST', '/hearth/v1/accounts', OPERATOR_TOKEN, { email: 'bank@example.com', credits: 50 });
    assert.equal(created.status, 201, created.text);
    const token = created.json.token as string;
    const settings = await api('GET', '/settings', token);
    assert.equal(settings.json.storage, platform.url + STORAGE_PREFIX);

    // Input upload with the real AWS client, credentials = email + token.
    const s3 = new S3Client({ endpoint: settings.json.storage, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'bank@example.com', secretAccessKey: token }, maxAttempts: 1 });
    await s3.send(new CreateBucketCommand({ Bucket: 'risk-inputs' }));
    await s3.send(new PutObjectCommand({ Bucket: 'risk-inputs', Key: 'params/scenario.txt', Body: 'scenario=baseline\n' }));

    // The task: 4 instances, each reads the input and leaves a result named after its INSTANCE_ID.
    const task = await api('POST', '/tasks', token, {
      name: 'nightly risk',
      profile: 'docker-batch',
      instanceCount: 4,
      constants: [
        // The sleep makes the bill at least a micro-euro (the unit credits are kept in), whatever the machine's speed.
        { key: 'DOCKER_CMD', value: 'echo "hello from ${INSTANCE_ID} of ${QSIZE}"; cat params/scenario.txt; echo "pnl=${INSTANCE_ID}00" > result-${INSTANCE_ID}.txt; sleep 1' },
        { key: 'DOCKER_REPO', value: 'library/ubuntu' },
      ],
      resourceBuckets: ['risk-inputs'],
      resultBucket: 'risk-results',
      estimatedInstanceDurationSec: 60,
    });
    assert.ok(task.status === 201 || task.status === 200, task.text);
    const uuid = task.json.uuid as string;

    const done = await until(async () => {
      const t = await api('GET', `/tasks/${uuid}`, token);
      return ['Success', 'Failure', 'Cancelled'].includes(t.json.state) ? t.json : undefined;
    }, 'the task to finish');
    assert.equal(done.state, 'Success', JSON.stringify(done.errors));
    assert.equal(done.completedInstances.length, 4);
    for (const ci of done.completedInstances) {
      assert.equal(ci.state, 'Success');
      assert.ok(ci.executionAttemptCount >= 1);
    }

    // stdout: every instance's lines, prefixed "<id>> ".
    const stdout = await api('GET', `/tasks/${uuid}/stdout`, token);
    for (const id of [0, 1, 2, 3]) {
      assert.ok(stdout.text.includes(`${id}> hello from ${id} of 4`), stdout.text);
      assert.ok(stdout.text.includes(`${id}> scenario=baseline`), stdout.text);
    }
    const one = await api('GET', `/tasks/${uuid}/stdout/2`, token);
    assert.match(one.text, /hello from 2 of 4/);
    assert.doesNotMatch(one.text, /hello from 1 of 4/);

    // Results: one file per instance, not the staged input.
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'risk-results' }));
    const keys = (listed.Contents ?? []).map((o) => o.Key).sort();
    assert.deepEqual(keys, ['result-0.txt', 'result-1.txt', 'result-2.txt', 'result-3.txt']);
    const body = await (await s3.send(new GetObjectCommand({ Bucket: 'risk-results', Key: 'result-3.txt' }))).Body!.transformToString();
    assert.equal(body, 'pnl=300\n');

    // Carbon facts from the energy the boards really drew, whose heat went into the demo rooms.
    const facts = await api('GET', `/carbon/v1/tasks/${uuid}/carbon-facts`, token);
    assert.equal(facts.status, 200, facts.text);
    assert.ok(facts.json.total_consumed_energy_Wh > 0, facts.text);
    assert.ok(facts.json.total_reused_energy_Wh > 0, facts.text);
    assert.equal(facts.json.PUE, 1);
    assert.ok(facts.json.saved_carbon_footprint_compute_heat > 0, facts.text);
    // The work was billed: credits went down from 50 € by what the charges ledger says was billed (the account's
    // running total, kept exact, rounded to the micro-euro), for core-hours no more than the instances' wall time allows.
    const info = await api('GET', '/info', token);
    assert.ok(info.json.credits < 50 && info.json.credits > 0, info.text);
    const usage = (await api('GET', '/hearth/v1/accounts/me/usage', token)).json;
    assert.equal(Math.round((50 - info.json.credits) * 1e6), Math.round(usage.billed.eur * 1e6), JSON.stringify(usage));
    const wallH = done.completedInstances.reduce((s: number, ci: { wallTimeSec: number }) => s + ci.wallTimeSec, 0) / 3600;
    assert.ok(usage.billed.coreHours > 0 && usage.billed.coreHours <= wallH + 1e-9, JSON.stringify(usage)); // one core each, clock ratio ≤ 1
    // The attempts carry the accounting the carbon facts used.
    assert.ok(done.completedInstances.every((ci: { wallTimeSec: number; clockRatio: number }) => ci.wallTimeSec > 0 && ci.clockRatio > 0 && ci.clockRatio <= 1));

    // The live event stream replays the task's state changes to its owner, ending in Success.
    const ac = new AbortController();
    const sse = await fetch(`${platform.url}/hearth/v1/events`, { headers: { authorization: token, 'last-event-id': '0' }, signal: ac.signal });
    assert.equal(sse.status, 200);
    const reader = sse.body!.getReader();
    let seen = '';
    while (!seen.includes('"state":"Success"')) {
      const { value, done: end } = await reader.read();
      if (end) break;
      seen += new TextDecoder().decode(value);
    }
    ac.abort();
    assert.match(seen, /event: task\.state/);
    assert.match(seen, new RegExp(`"uuid":"${uuid}","state":"Success"`));

    // Another account sees none of it.
    const other = await api('POST', '/hearth/v1/accounts', OPERATOR_TOKEN, { email: 'studio@example.com', credits: 5 });
    assert.equal((await api('GET', `/tasks/${uuid}`, other.json.token)).status, 404);
    assert.equal((await api('GET', `/tasks/${uuid}/stdout`, other.json.token)).status, 404);
  } finally {
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a running task: snapshot of its working directory, progress from DOCKER_PROGRESS1, then abort kills it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-snap-'));
  const platform = await startPlatform({ port: 0, dataDir: dir, env: { HEARTH_BOOTSTRAP_TOKEN: OPERATOR_TOKEN }, fleet: { executor: localExecutor, periodS: 0.2, demoRooms: 1 } });
  try {
    const call = async (method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: any; text: string }> => {
      const res = await fetch(platform.url + path, { method, headers: { authorization: token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, json: text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : undefined, text };
    };
    const token = (await call('POST', '/hearth/v1/accounts', OPERATOR_TOKEN, { email: 'render@example.com', credits: 10 })).json.token as string;
    const task = await call('POST', '/tasks', token, {
      name: 'long render',
      profile: 'docker-batch',
      instanceCount: 1,
      constants: [
        { key: 'DOCKER_CMD', value: 'echo "frame ${FRAME_ID}" > state.txt; echo "progress 42%"; sleep 60' },
        { key: 'DOCKER_PROGRESS1', value: 'progress (\\d+)%' },
      ],
    });
    const uuid = task.json.uuid as string;
    // Wait until it runs and its progress line has been read.
    await until(async () => {
      const t = await call('GET', `/tasks/${uuid}`, token);
      return t.json.state === 'FullyExecuting' && t.json.status.runningInstancesInfo?.perRunningInstanceInfo?.[0]?.progress === 42 ? true : undefined;
    }, 'the instance to run and report progress');
    // No bucket given and no result bucket: the field is named.
    const bad = await call('POST', `/tasks/${uuid}/snapshot`, token, {});
    assert.equal(bad.status, 400);
    assert.equal(bad.json.field, 'bucket');
    assert.equal((await call('POST', `/tasks/${uuid}/snapshot`, token, { bucket: 'snaps', bucketPrefix: 'run1/' })).status, 200);
    const s3 = new S3Client({ endpoint: platform.url + STORAGE_PREFIX, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'render@example.com', secretAccessKey: token }, maxAttempts: 1 });
    const key = await until(async () => {
      try {
        const l = await s3.send(new ListObjectsV2Command({ Bucket: 'snaps' }));
        return l.Contents?.find((o) => o.Key === 'run1/state.txt')?.Key;
      } catch {
        return undefined; // the bucket is created by the first snapshot
      }
    }, 'the snapshot to land');
    const body = await (await s3.send(new GetObjectCommand({ Bucket: 'snaps', Key: key }))).Body!.transformToString();
    assert.equal(body, 'frame 0\n');
    // Abort: the sleeping process is killed and the task is Cancelled.
    assert.equal((await call('POST', `/tasks/${uuid}/abort`, token)).status, 200);
    await until(() => Promise.resolve(platform.fleet!.executor!.list().every((d) => d.running === 0) ? true : undefined), 'the process to be killed');
    assert.equal((await call('GET', `/tasks/${uuid}`, token)).json.state, 'Cancelled');
  } finally {
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
