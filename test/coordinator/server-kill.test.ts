// kill -9 of the real `hearth start` process loses nothing acknowledged: tasks answered with their uuid and
// objects answered with their ETag are all there, intact, after a restart on the same data directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { repoRoot } from '../helpers/shared-data.ts';

const OPERATOR = 'hth_kill_test_operator_token_0123456789';

/** Starts `hearth start` on a free port; resolves with its URL once it prints its banner. */
function startServer(dataDir: string): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'hearth.mjs'), 'start', '--local', '--port', '0', '--data', dataDir], {
    cwd: repoRoot,
    env: { ...process.env, HEARTH_BOOTSTRAP_TOKEN: OPERATOR },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /hearth is running at (http:\/\/\S+)/.exec(out);
      if (m) resolve({ child, url: m[1], output: () => out });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => reject(new Error(`hearth start exited (${code}) before listening:\n${out}`)));
  });
}

test('kill -9 of hearth start: every acknowledged task and object survives the restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-kill-'));
  let first: ChildProcess | undefined;
  let second: ChildProcess | undefined;
  try {
    const a = await startServer(dir);
    first = a.child;
    const exited = new Promise<NodeJS.Signals | null>((r) => a.child.on('exit', (_c, sig) => r(sig)));
    const post = (path: string, token: string, body: unknown): Promise<Response> =>
      fetch(a.url + path, { method: 'POST', headers: { authorization: token, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const acc = await (await post('/hearth/v1/accounts', OPERATOR, { email: 'durable@example.com', credits: 100 })).json() as { token: string };
    const s3 = (url: string): S3Client =>
      new S3Client({ endpoint: `${url}/storage`, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'durable@example.com', secretAccessKey: acc.token }, maxAttempts: 1 });
    await s3(a.url).send(new CreateBucketCommand({ Bucket: 'keep' }));

    const tasks: string[] = [];
    const objects = new Map<string, string>();
    let n = 0;
    let stop = false;
    // Writers that never stop on their own: the kill lands in the middle of their requests.
    const taskWriter = async (): Promise<void> => {
      while (!stop) {
        const k = n++;
        try {
          const res = await post('/tasks', acc.token, { name: `t${k}`, shortname: `t-${k}`, profile: 'docker-batch', instanceCount: 2, constants: [{ key: 'DOCKER_CMD', value: 'true' }] });
          if (res.status === 201 || res.status === 200) tasks.push(((await res.json()) as { uuid: string }).uuid);
        } catch {
          return; // the server died under this request: not acknowledged
        }
      }
    };
    const objectWriter = async (): Promise<void> => {
      const client = s3(a.url);
      while (!stop) {
        const body = randomBytes(1000 + (n % 50_000));
        const key = `obj-${n++}`;
        try {
          const r = await client.send(new PutObjectCommand({ Bucket: 'keep', Key: key, Body: body }));
          const md5 = createHash('md5').update(body).digest('hex');
          assert.equal(r.ETag?.replaceAll('"', ''), md5);
          objects.set(key, md5);
        } catch {
          return;
        }
      }
    };
    const writers = [taskWriter(), taskWriter(), objectWriter()];
    while (tasks.length < 60 || objects.size < 15) await new Promise((r) => setTimeout(r, 20));
    a.child.kill('SIGKILL');
    stop = true;
    assert.equal(await exited, 'SIGKILL');
    await Promise.all(writers);

    const b = await startServer(dir);
    second = b.child;
    const missing: string[] = [];
    for (const uuid of tasks) {
      const res = await fetch(`${b.url}/tasks/${uuid}`, { headers: { authorization: acc.token } });
      if (res.status !== 200) missing.push(uuid);
      else await res.arrayBuffer();
    }
    assert.deepEqual(missing, [], `${missing.length} of ${tasks.length} acknowledged tasks lost`);
    const client = s3(b.url);
    for (const [key, md5] of objects) {
      const got = await client.send(new GetObjectCommand({ Bucket: 'keep', Key: key }));
      const bytes = await got.Body!.transformToByteArray();
      assert.equal(createHash('md5').update(bytes).digest('hex'), md5, `object ${key} damaged`);
    }
  } finally {
    first?.kill('SIGKILL');
    if (second && second.exitCode === null) {
      const gone = new Promise((r) => second!.on('exit', r));
      second.kill('SIGTERM');
      await gone;
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
