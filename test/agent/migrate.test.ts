// Snapshot-and-migrate of checkpointable instances with real processes: the platform (coordinator, embedded MQTT
// broker, live loop with the first-fit policy) and two in-process agents running instances in the sandbox. A task
// whose program counts in a file of its working directory starts on heater A; a move ordered through the loop
// (the same path as the policy's `migrate`) stops it with SIGTERM, A uploads its working directory, and heater B
// resumes from the count it had reached. When A cannot upload its checkpoint, B starts from zero and the task still
// succeeds. Sent to the overflow datacenter instead, it resumes there the same way (its executor is an agent too).
// The archive's unpacking stays in the working directory whatever the archive says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform, type Platform } from '../../src/coordinator/server.ts';
import { enrolDevice } from '../../src/coordinator/bus/enrol.ts';
import { SYSTEM } from '../../src/coordinator/store/types.ts';
import { Agent, AgentFilesError, type AgentFiles } from '../../src/agent/agent.ts';
import { MqttTransport } from '../../src/agent/mqtt-transport.ts';
import { HttpFiles } from '../../src/agent/http-files.ts';
import { packCheckpoint, unpackCheckpoint } from '../../src/agent/checkpoint.ts';
import { until } from '../helpers/until.ts';
import { OVERFLOW_DEVICE } from '../../src/coordinator/fleet/link.ts';
import { InvalidParameterError } from '../../src/physics/errors.ts';
import { COUNTER } from '../helpers/counter.ts';

const OPERATOR = 'hth_migrate_test_operator_token_0123456789';
const A = 'demo-heater-1';
const B = 'demo-heater-2';

interface Running {
  agent: Agent;
  transport: MqttTransport;
  timer: NodeJS.Timeout;
}

async function startAgent(platform: Platform, dir: string, id: string, secret: string, wrap?: (f: HttpFiles) => AgentFiles, room = true): Promise<Running> {
  const transport = await MqttTransport.connect({ url: platform.fleet!.broker!.url, deviceId: id, secret, log: () => undefined });
  const http = new HttpFiles({ baseUrl: platform.url, token: secret });
  const agent = new Agent({
    deviceId: id,
    boards: 3,
    coresPerBoard: 4,
    workRoot: join(dir, id),
    files: wrap ? wrap(http) : http,
    transport,
    clock: Date.now,
    limits: { setpointC: 20, safetyC: 28 },
    // A cold room (the policy never evicts for heat) whose filler heat is booked, not burnt; none for the overflow
    // datacenter's executor.
    ...(room ? { sensor: () => ({ airC: 15, bodyC: 15 }), fillerMode: 'accounted' as const } : {}),
  });
  const timer = setInterval(() => agent.tick(Date.now()), 200);
  return { agent, transport, timer };
}

async function withPlatform(name: string, body: (p: { platform: Platform; dir: string; secrets: Record<string, string>; agents: Running[]; warnings: string[] }) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `hearth-${name}-`));
  const warnings: string[] = [];
  const platform = await startPlatform({
    port: 0,
    dataDir: dir,
    env: { HEARTH_BOOTSTRAP_TOKEN: OPERATOR },
    // A grace shorter than the default (the counter saves at once on SIGTERM) and a timeout given (hearth start's flags).
    fleet: { bus: { port: 0 }, periodS: 0.3, demoRooms: 2, policy: 'first-fit', checkpointGraceS: 4, checkpointTimeoutS: 300, hooks: { onWarning: (m) => warnings.push(m) } },
  });
  const agents: Running[] = [];
  try {
    const secrets: Record<string, string> = {};
    for (const id of [A, B]) secrets[id] = (await enrolDevice(platform.store, id)).secret;
    await body({ platform, dir, secrets, agents, warnings });
  } catch (e) {
    throw new Error(`${(e as Error).message}\nwarnings:\n${warnings.join('\n')}`, { cause: e });
  } finally {
    for (const a of agents) {
      clearInterval(a.timer);
      await a.agent.close();
      await a.transport.close();
    }
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function api(platform: Platform, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> {
  const res = await fetch(platform.url + path, { method, headers: { authorization: token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : undefined, text };
}

const online = (platform: Platform, id: string): true | undefined => (platform.fleet!.loop.snapshot().find((d) => d.id === id)?.online ? true : undefined);

/**
 * Starts agent A, submits the counting task, waits until it counted to 8 on A, starts the target (heater B, or the
 * overflow datacenter's executor) and orders the move.
 */
async function runAndMove(p: { platform: Platform; dir: string; secrets: Record<string, string>; agents: Running[] }, email: string, wrapA?: (f: HttpFiles) => AgentFiles, to = B): Promise<{ uuid: string; token: string; submittedMs: number }> {
  const { platform } = p;
  p.agents.push(await startAgent(platform, p.dir, A, p.secrets[A], wrapA));
  await until(() => online(platform, A), 'heater A online');
  const customer = (await api(platform, 'POST', '/hearth/v1/accounts', OPERATOR, { email, credits: 20 })).json as { token: string };
  const submittedMs = Date.now();
  const created = await api(platform, 'POST', '/tasks', customer.token, {
    name: 'counter',
    profile: 'docker-batch',
    instanceCount: 1,
    checkpoint: 'snapshot',
    constants: [{ key: 'DOCKER_CMD', value: COUNTER }],
    resultBucket: `${email.split('@')[0]}-results`,
  });
  assert.equal(created.status, 201, created.text);
  const uuid = (created.json as { uuid: string }).uuid;
  await until(async () => (/count 8\b/.test((await api(platform, 'GET', `/tasks/${uuid}/stdout`, customer.token)).text) ? true : undefined), 'the count to reach 8 on heater A');
  const inst = await platform.store.getInstance(SYSTEM, uuid, 0);
  assert.equal(inst?.heaterId, A);
  // No checkpoint was ordered: neither heater may store one for the attempt.
  for (const id of [A, B]) {
    const res = await fetch(`${platform.url}/hearth/v1/device/assignments/${uuid}/0/1/checkpoint`, { method: 'PUT', headers: { authorization: p.secrets[id], 'content-type': 'application/octet-stream' }, body: 'junk' });
    assert.equal(res.status, 404, `an unordered checkpoint from ${id} is refused`);
    await res.text();
  }
  if (to === OVERFLOW_DEVICE) {
    const since = Date.now();
    p.agents.push(await startAgent(platform, p.dir, to, (await enrolDevice(platform.store, to)).secret, undefined, false));
    // Its first telemetry says it is connected and subscribed to its commands.
    await until(async () => ((await platform.store.readTelemetry(to, { from: since, to: Date.now() + 60_000, limit: 1 })).length > 0 ? true : undefined), 'the overflow executor connected');
  } else {
    p.agents.push(await startAgent(platform, p.dir, B, p.secrets[B]));
    await until(() => online(platform, B), 'heater B online');
  }
  platform.fleet!.loop.orderMove({ taskUuid: uuid, instanceId: 0, deviceId: to, board: 0 });
  return { uuid, token: customer.token, submittedMs };
}

async function finalView(platform: Platform, uuid: string, token: string): Promise<{ state: string; errors: unknown[] }> {
  return until(async () => {
    const t = (await api(platform, 'GET', `/tasks/${uuid}`, token)).json as { state: string; errors: unknown[] };
    return ['Success', 'Failure', 'Cancelled'].includes(t.state) ? t : undefined;
  }, 'the task to finish', 90_000);
}

async function resultText(platform: Platform, uuid: string): Promise<string> {
  const task = await platform.store.getTask(SYSTEM, uuid);
  const bucket = (task?.body as { resultBucket: string }).resultBucket;
  const obj = await platform.store.getObject(task!.accountId, bucket, 'result.txt');
  assert.ok(obj, 'result.txt was uploaded');
  const { BlobStore } = await import('../../src/coordinator/s3/blobs.ts');
  const blobs = new BlobStore(join(platform.dataDir, 'blobs'));
  const chunks: Buffer[] = [];
  for await (const c of (await blobs.read(obj.blobHash)) as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

test('migrate: a checkpointable instance moved from heater A resumes on heater B from the count it had reached', { timeout: 150_000 }, async () => {
  await withPlatform('migrate', async (p) => {
    assert.deepEqual(p.platform.fleet!.loop.settings, { policy: 'first-fit', periodS: 0.3, offlineAfterS: 30, checkpointGraceS: 4, checkpointTimeoutS: 300 });
    const { uuid, token, submittedMs } = await runAndMove(p, 'mover@example.com');
    const final = await finalView(p.platform, uuid, token);
    assert.equal(final.state, 'Success', JSON.stringify(final.errors));
    const stdout = (await api(p.platform, 'GET', `/tasks/${uuid}/stdout`, token)).text;
    const saved = /saved (\d+)/.exec(stdout);
    assert.ok(saved, `A saved its count on SIGTERM:\n${stdout}`);
    const resumed = [...stdout.matchAll(/resume from (\d+)/g)].map((m) => Number(m[1]));
    assert.deepEqual(resumed, [0, Number(saved[1])], `B resumed from the saved count, not from zero:\n${stdout}`);
    assert.ok(Number(saved[1]) >= 8);
    assert.equal([...stdout.matchAll(/count 3\n/g)].length, 1, 'no step was counted twice from zero');
    assert.match(stdout, /count 40/);
    assert.equal((await resultText(p.platform, uuid)).trim(), `done 40 started at ${saved[1]}`);
    const inst = await p.platform.store.getInstance(SYSTEM, uuid, 0);
    assert.equal(inst?.heaterId, B);
    assert.equal(inst?.attempt, 2);
    assert.equal((inst?.info as Record<string, unknown>).checkpointRestoredFrom, 1, JSON.stringify(inst?.info));
    // Accounting: both attempts' wall time together is no more than the task's life (no overlap counted twice).
    const attempts = await p.platform.store.listAttempts(SYSTEM, uuid, 0);
    assert.equal(attempts.length, 2);
    const wall = attempts.reduce((s, a) => s + a.wallTimeSec, 0);
    assert.ok(wall > 0 && wall <= (Date.now() - submittedMs) / 1000 + 1, `wall time ${wall} s`);
    assert.ok(Math.abs(wall - (inst?.wallTimeSec ?? 0)) < 1e-6);
  });
});

test('migrate: when heater A cannot upload its checkpoint, heater B restarts from zero and the task still succeeds', { timeout: 150_000 }, async () => {
  await withPlatform('migrate-lost', async (p) => {
    const refuse = (http: HttpFiles): AgentFiles => ({
      listInputs: (a) => http.listInputs(a),
      download: (a, i) => http.download(a, i),
      upload: (a, k, b, s) => http.upload(a, k, b, s),
      uploadCheckpoint: (_a, body) => {
        body.destroy();
        return Promise.reject(new AgentFilesError('PUT 413: the checkpoint is over 0 bytes', false, 413));
      },
      downloadCheckpoint: (a, from) => http.downloadCheckpoint(a, from),
    });
    const { uuid, token } = await runAndMove(p, 'loser@example.com', refuse);
    const final = await finalView(p.platform, uuid, token);
    assert.equal(final.state, 'Success', JSON.stringify(final.errors));
    const stdout = (await api(p.platform, 'GET', `/tasks/${uuid}/stdout`, token)).text;
    assert.deepEqual([...stdout.matchAll(/resume from (\d+)/g)].map((m) => Number(m[1])), [0, 0], stdout);
    assert.equal((await resultText(p.platform, uuid)).trim(), 'done 40 started at 0');
    const inst = await p.platform.store.getInstance(SYSTEM, uuid, 0);
    assert.equal(inst?.attempt, 2);
    assert.match(String((inst?.info as Record<string, unknown>).checkpointRestore), /restarted from zero/, JSON.stringify(inst?.info));
    assert.ok(p.warnings.some((w) => /checkpoint .* lost/.test(w)), p.warnings.join('\n'));
  });
});

test('overflow: a checkpointable instance sent from heater A to the overflow datacenter resumes there from its count', { timeout: 150_000 }, async () => {
  await withPlatform('overflow-ckpt', async (p) => {
    const { uuid, token } = await runAndMove(p, 'dc@example.com', undefined, OVERFLOW_DEVICE);
    const final = await finalView(p.platform, uuid, token);
    assert.equal(final.state, 'Success', JSON.stringify(final.errors));
    const stdout = (await api(p.platform, 'GET', `/tasks/${uuid}/stdout`, token)).text;
    const saved = /saved (\d+)/.exec(stdout);
    assert.ok(saved, `A saved its count on SIGTERM:\n${stdout}`);
    assert.deepEqual([...stdout.matchAll(/resume from (\d+)/g)].map((m) => Number(m[1])), [0, Number(saved[1])], stdout);
    assert.equal((await resultText(p.platform, uuid)).trim(), `done 40 started at ${saved[1]}`);
    const inst = await p.platform.store.getInstance(SYSTEM, uuid, 0);
    assert.equal(inst?.heaterId, OVERFLOW_DEVICE);
    assert.equal(inst?.attempt, 2);
    assert.equal((inst?.info as Record<string, unknown>).checkpointRestoredFrom, 1, JSON.stringify(inst?.info));
  });
});

/** Builds an archive by hand (the format of src/agent/checkpoint.ts). */
function archive(files: Array<{ path: string; data: string; mode?: number; size?: number }>): Buffer {
  const header = Buffer.from(JSON.stringify({ files: files.map((f) => ({ path: f.path, size: f.size ?? Buffer.byteLength(f.data), mode: f.mode ?? 0o644 })) }));
  return Buffer.concat([Buffer.from(`HEARTH-CHECKPOINT 1\n${header.length}\n`), header, ...files.map((f) => Buffer.from(f.data))]);
}

test('startPlatform refuses loop settings out of range before it starts anything', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-settings-'));
  try {
    await assert.rejects(
      startPlatform({ port: 0, dataDir: dir, env: { HEARTH_BOOTSTRAP_TOKEN: OPERATOR }, fleet: { bus: { port: 0 }, checkpointGraceS: 30, checkpointTimeoutS: 20 } }),
      (e: unknown) => e instanceof InvalidParameterError && e.field === 'checkpointTimeoutS',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checkpoint archives: round trip of changed files with their modes; unpacking never leaves the working directory', async () => {
  const root = mkdtempSync(join(tmpdir(), 'hearth-ckpt-'));
  try {
    // Round trip: only files changed since staging travel; modes are kept.
    const src = join(root, 'src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'input.dat'), 'staged input');
    const { snapshotFiles } = await import('../../src/agent/workdir.ts');
    const staged = await snapshotFiles(src);
    writeFileSync(join(src, 'count'), '17\n');
    writeFileSync(join(src, 'sub', 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
    symlinkSync('/etc/passwd', join(src, 'link'));
    const packed = await packCheckpoint(src, staged);
    assert.deepEqual(packed.files.map((f) => f.path), ['count', 'sub/run.sh']);
    const chunks: Buffer[] = [];
    for await (const c of packed.stream() as AsyncIterable<Buffer>) chunks.push(c);
    const bytes = Buffer.concat(chunks);
    assert.equal(bytes.length, packed.size);
    const file = join(root, 'a.ckpt');
    writeFileSync(file, bytes);
    const dst = join(root, 'dst');
    mkdirSync(dst);
    writeFileSync(join(dst, 'count'), 'stale input');
    assert.equal(await unpackCheckpoint(file, dst), 2);
    assert.equal(readFileSync(join(dst, 'count'), 'utf8'), '17\n', "the checkpoint's file wins over a staged one");
    assert.equal(statSync(join(dst, 'sub', 'run.sh')).mode & 0o777, 0o755);

    // Hostile archives: each refused, nothing written outside the directory.
    const outside = join(root, 'outside');
    mkdirSync(outside);
    const work = join(root, 'work');
    mkdirSync(work);
    symlinkSync(outside, join(work, 'escape'));
    const cases: Array<[string, Buffer, RegExp]> = [
      ['dot-dot', archive([{ path: '../outside/pwned', data: 'x' }]), /climbs out/],
      ['absolute', archive([{ path: '/tmp/pwned', data: 'x' }]), /absolute/],
      ['through a symlink', archive([{ path: 'escape/pwned', data: 'x' }]), /symlink/],
      ['onto a symlink', archive([{ path: 'escape', data: 'x' }]), /symlink/],
      ['sizes', archive([{ path: 'a', data: 'xyz', size: 2 }]), /header accounts/],
      ['twice', archive([{ path: 'a', data: 'x' }, { path: 'a', data: 'y' }]), /twice/],
      ['not an archive', Buffer.from('PK\u0003\u0004 a zip file'), /not a hearth checkpoint/],
      ['bad header', Buffer.from('HEARTH-CHECKPOINT 1\n5\n{"fi'), /not JSON|truncated/],
    ];
    for (const [name, buf, why] of cases) {
      const f = join(root, `${name}.ckpt`);
      writeFileSync(f, buf);
      await assert.rejects(unpackCheckpoint(f, work), why, name);
    }
    assert.equal(existsSync(join(outside, 'pwned')), false);
    assert.equal(existsSync('/tmp/pwned'), false);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
