// The S3 endpoint driven by the real AWS SDK v3 client (and lib-storage for multipart) over loopback HTTP:
// bucket and object operations, ranges, listing, copy, batch delete, multipart, auth failures, scoping, and
// hostile keys that must never reach a path outside the blob directory.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  AbortMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { createAccount, createSealKey } from '../../src/coordinator/auth/tokens.ts';
import { openStore } from '../../src/coordinator/store/index.ts';
import type { Store } from '../../src/coordinator/store/index.ts';
import { s3Plugin, signRequest } from '../../src/coordinator/s3/index.ts';

let app: FastifyInstance;
let store: Store;
let root: string;
let endpoint: string;
let alice: S3Client;
let bob: S3Client;
let aliceToken: string;

function client(email: string, secret: string): S3Client {
  return new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: email, secretAccessKey: secret }, maxAttempts: 1 });
}

async function rejectsWith(p: Promise<unknown>, name: string, status?: number): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof S3ServiceException, `expected an S3 error, got ${String(e)}`);
    assert.equal(e.name, name);
    if (status !== undefined) assert.equal(e.$metadata.httpStatusCode, status);
    return true;
  });
}

async function bodyOf(p: Promise<{ Body?: unknown }>): Promise<Buffer> {
  const r = await p;
  const b = r.Body as { transformToByteArray(): Promise<Uint8Array> };
  return Buffer.from(await b.transformToByteArray());
}

const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('hex');

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(p, ...(await walk(p)));
    else out.push(p);
  }
  return out;
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'hearth-s3-sdk-'));
  store = await openStore('sqlite::memory:');
  const sealKey = createSealKey();
  const a = await createAccount(store, { email: 'alice@example.com', sealKey });
  const b = await createAccount(store, { email: 'bob@example.com', sealKey });
  aliceToken = a.token;
  app = Fastify();
  await app.register(s3Plugin, { prefix: '/s3', store, blobDir: join(root, 'blobs'), sealKey });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address() as { port: number };
  endpoint = `http://127.0.0.1:${addr.port}/s3`;
  alice = client('alice@example.com', a.token);
  bob = client('bob@example.com', b.token);
});

after(async () => {
  alice.destroy();
  bob.destroy();
  await app.close();
  await store.close();
  await rm(root, { recursive: true, force: true });
});

describe('S3 endpoint with the AWS SDK v3', () => {
  test('buckets: create, list, head, conflict, delete', async () => {
    await alice.send(new CreateBucketCommand({ Bucket: 'alpha' }));
    await alice.send(new HeadBucketCommand({ Bucket: 'alpha' }));
    const list = await alice.send(new ListBucketsCommand({}));
    assert.deepEqual(
      list.Buckets?.map((b) => b.Name),
      ['alpha'],
    );
    await rejectsWith(alice.send(new CreateBucketCommand({ Bucket: 'alpha' })), 'BucketAlreadyOwnedByYou', 409);
    await rejectsWith(bob.send(new CreateBucketCommand({ Bucket: 'alpha' })), 'BucketAlreadyExists', 409);
    await rejectsWith(alice.send(new CreateBucketCommand({ Bucket: 'Bad_Name' })), 'InvalidBucketName', 400);
    await alice.send(new CreateBucketCommand({ Bucket: 'gone' }));
    await alice.send(new DeleteBucketCommand({ Bucket: 'gone' }));
    await rejectsWith(alice.send(new HeadBucketCommand({ Bucket: 'gone' })), 'NotFound', 404);
  });

  test('objects: put, get, head, metadata, delete; ETag is the MD5', async () => {
    const put = await alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'dir/hello.txt', Body: 'hello world', ContentType: 'text/plain', Metadata: { colour: 'blue' } }));
    assert.equal(put.ETag, `"${md5('hello world')}"`);
    const got = await alice.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'dir/hello.txt' }));
    assert.equal(got.ContentType, 'text/plain');
    assert.equal(got.Metadata?.colour, 'blue');
    assert.equal(got.ETag, `"${md5('hello world')}"`);
    assert.equal(await got.Body?.transformToString(), 'hello world');
    const head = await alice.send(new HeadObjectCommand({ Bucket: 'alpha', Key: 'dir/hello.txt' }));
    assert.equal(head.ContentLength, 11);
    // A streamed body (length known): the SDK sends aws-chunked with a trailing CRC32.
    await alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'streamed', Body: Readable.from([Buffer.from('abc'), Buffer.from('defg')]), ContentLength: 7 }));
    assert.equal((await bodyOf(alice.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'streamed' })))).toString(), 'abcdefg');
    await alice.send(new DeleteObjectCommand({ Bucket: 'alpha', Key: 'streamed' }));
    await rejectsWith(alice.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'streamed' })), 'NoSuchKey', 404);
    await rejectsWith(alice.send(new HeadObjectCommand({ Bucket: 'alpha', Key: 'streamed' })), 'NotFound', 404);
    await alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'empty', Body: '' }));
    assert.equal((await bodyOf(alice.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'empty' })))).length, 0);
  });

  test('blobs are content-addressed, shared, and collected when the last reference goes', async () => {
    const content = 'unique content for gc';
    const sha = createHash('sha256').update(content).digest('hex');
    const path = join(root, 'blobs', sha.slice(0, 2), sha.slice(2, 4), sha);
    await alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'gc/1', Body: content }));
    await alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'gc/2', Body: content }));
    assert.ok(existsSync(path));
    await alice.send(new DeleteObjectCommand({ Bucket: 'alpha', Key: 'gc/1' }));
    assert.ok(existsSync(path), 'still referenced by gc/2');
    await alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'gc/2', Body: 'replaced' }));
    assert.ok(!existsSync(path), 'collected once unreferenced');
    await alice.send(new DeleteObjectCommand({ Bucket: 'alpha', Key: 'gc/2' }));
  });

  test('ranged GET: a-b, a-, -n, and 416', async () => {
    await alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'digits', Body: '0123456789' }));
    const get = (range: string): Promise<Buffer> => bodyOf(alice.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'digits', Range: range })));
    assert.equal((await get('bytes=2-5')).toString(), '2345');
    assert.equal((await get('bytes=7-')).toString(), '789');
    assert.equal((await get('bytes=-3')).toString(), '789');
    assert.equal((await get('bytes=8-100')).toString(), '89');
    const r = await alice.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'digits', Range: 'bytes=1-2' }));
    assert.equal(r.ContentRange, 'bytes 1-2/10');
    await r.Body?.transformToString();
    await rejectsWith(get('bytes=10-'), 'InvalidRange', 416);
  });

  test('ListObjectsV2: prefix, delimiter, pagination, start-after', async () => {
    await alice.send(new CreateBucketCommand({ Bucket: 'listing' }));
    const keys = ['a/1', 'a/2', 'b/1', 'b/x/1', 'c', 'd', 'e'];
    for (const k of keys) await alice.send(new PutObjectCommand({ Bucket: 'listing', Key: k, Body: k }));
    const top = await alice.send(new ListObjectsV2Command({ Bucket: 'listing', Delimiter: '/' }));
    assert.deepEqual(top.CommonPrefixes?.map((p) => p.Prefix), ['a/', 'b/']);
    assert.deepEqual(top.Contents?.map((o) => o.Key), ['c', 'd', 'e']);
    const underB = await alice.send(new ListObjectsV2Command({ Bucket: 'listing', Prefix: 'b/', Delimiter: '/' }));
    assert.deepEqual(underB.Contents?.map((o) => o.Key), ['b/1']);
    assert.deepEqual(underB.CommonPrefixes?.map((p) => p.Prefix), ['b/x/']);
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await alice.send(new ListObjectsV2Command({ Bucket: 'listing', MaxKeys: 3, ContinuationToken: token }));
      seen.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      pages++;
    } while (token);
    assert.deepEqual(seen, keys);
    assert.equal(pages, 3);
    const sa = await alice.send(new ListObjectsV2Command({ Bucket: 'listing', StartAfter: 'b/x/1' }));
    assert.deepEqual(sa.Contents?.map((o) => o.Key), ['c', 'd', 'e']);
    assert.equal(sa.Contents?.[0]?.Size, 1);
  });

  test('CopyObject and DeleteObjects; a non-empty bucket is not deleted', async () => {
    await alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'src', Body: 'copy me', Metadata: { a: '1' } }));
    const c = await alice.send(new CopyObjectCommand({ Bucket: 'listing', Key: 'copied ü', CopySource: 'alpha/src' }));
    assert.equal(c.CopyObjectResult?.ETag, `"${md5('copy me')}"`);
    const got = await alice.send(new GetObjectCommand({ Bucket: 'listing', Key: 'copied ü' }));
    assert.equal(got.Metadata?.a, '1');
    assert.equal(await got.Body?.transformToString(), 'copy me');
    await rejectsWith(alice.send(new CopyObjectCommand({ Bucket: 'listing', Key: 'x', CopySource: 'alpha/nope' })), 'NoSuchKey', 404);
    const d = await alice.send(new DeleteObjectsCommand({ Bucket: 'listing', Delete: { Objects: [{ Key: 'a/1' }, { Key: 'a/2' }, { Key: 'missing' }] } }));
    assert.deepEqual(d.Deleted?.map((x) => x.Key).sort(), ['a/1', 'a/2', 'missing']);
    const left = await alice.send(new ListObjectsV2Command({ Bucket: 'listing', Prefix: 'a/' }));
    assert.equal(left.KeyCount, 0);
    await rejectsWith(alice.send(new DeleteBucketCommand({ Bucket: 'listing' })), 'BucketNotEmpty', 409);
  });

  test('multipart: lib-storage Upload of 12 MB in 5 MB parts; ETag is md5-of-md5s-N', async () => {
    const body = Buffer.alloc(12 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4096) body.writeUInt32LE(i, i);
    const partSize = 5 * 1024 * 1024;
    const up = new Upload({ client: alice, params: { Bucket: 'alpha', Key: 'big.bin', Body: body }, partSize, queueSize: 2 });
    const r = await up.done();
    const parts = [body.subarray(0, partSize), body.subarray(partSize, 2 * partSize), body.subarray(2 * partSize)];
    const expected = `"${md5(Buffer.concat(parts.map((p) => Buffer.from(md5(p), 'hex'))))}-3"`;
    assert.equal(r.ETag, expected);
    const got = await bodyOf(alice.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'big.bin' })));
    assert.equal(got.length, body.length);
    assert.ok(got.equals(body));
    const tail = await bodyOf(alice.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'big.bin', Range: `bytes=${partSize - 2}-${partSize + 1}` })));
    assert.ok(tail.equals(body.subarray(partSize - 2, partSize + 2)));
  });

  test('multipart by hand: ListParts, a too-small part, abort', async () => {
    const c = await alice.send(new CreateMultipartUploadCommand({ Bucket: 'alpha', Key: 'mp' }));
    const id = c.UploadId!;
    const p1 = await alice.send(new UploadPartCommand({ Bucket: 'alpha', Key: 'mp', UploadId: id, PartNumber: 1, Body: 'small' }));
    const p2 = await alice.send(new UploadPartCommand({ Bucket: 'alpha', Key: 'mp', UploadId: id, PartNumber: 2, Body: 'tail' }));
    const complete = (Parts: Array<{ PartNumber: number; ETag?: string }>): Promise<unknown> =>
      alice.send(new CompleteMultipartUploadCommand({ Bucket: 'alpha', Key: 'mp', UploadId: id, MultipartUpload: { Parts } }));
    await rejectsWith(complete([{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: p2.ETag }]), 'EntityTooSmall', 400);
    await rejectsWith(complete([{ PartNumber: 2, ETag: p2.ETag }, { PartNumber: 1, ETag: p1.ETag }]), 'InvalidPartOrder', 400);
    await rejectsWith(complete([{ PartNumber: 1, ETag: p2.ETag }]), 'InvalidPart', 400);
    await rejectsWith(complete([{ PartNumber: 3, ETag: p2.ETag }]), 'InvalidPart', 400);
    const lp = await alice.send(new ListPartsCommand({ Bucket: 'alpha', Key: 'mp', UploadId: id }));
    assert.deepEqual(lp.Parts?.map((p) => [p.PartNumber, p.Size, p.ETag]), [
      [1, 5, p1.ETag],
      [2, 4, `"${md5('tail')}"`],
    ]);
    await rejectsWith(bob.send(new ListPartsCommand({ Bucket: 'alpha', Key: 'mp', UploadId: id })), 'NoSuchBucket', 404);
    await alice.send(new AbortMultipartUploadCommand({ Bucket: 'alpha', Key: 'mp', UploadId: id }));
    await rejectsWith(alice.send(new ListPartsCommand({ Bucket: 'alpha', Key: 'mp', UploadId: id })), 'NoSuchUpload', 404);
  });

  test('a wrong secret or an unknown access key is refused', async () => {
    const wrong = client('alice@example.com', `${aliceToken}x`);
    await rejectsWith(wrong.send(new ListBucketsCommand({})), 'SignatureDoesNotMatch', 403);
    await rejectsWith(wrong.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'evil', Body: 'x' })), 'SignatureDoesNotMatch', 403);
    wrong.destroy();
    const nobody = client('nobody@example.com', aliceToken);
    await rejectsWith(nobody.send(new ListBucketsCommand({})), 'InvalidAccessKeyId', 403);
    nobody.destroy();
    await rejectsWith(alice.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'evil' })), 'NoSuchKey', 404);
  });

  test('a malformed aws-chunked body over real HTTP gets an XML error, not a reset', async () => {
    const url = new URL(`${endpoint}/alpha/chunky`);
    const body = Buffer.from('5\r\nhelloXXzz\r\n0\r\n\r\n');
    const headers = signRequest({
      method: 'PUT',
      url: url.pathname,
      headers: { host: url.host, 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': '5' },
      accessKeyId: 'alice@example.com',
      secret: aliceToken,
      nowMs: Date.now(),
      payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
    });
    delete headers.host;
    const r = await fetch(url, { method: 'PUT', headers, body });
    assert.equal(r.status, 400);
    assert.match(await r.text(), /<Code>InvalidRequest<\/Code>/);
    // The connection (keep-alive) is still usable.
    assert.equal((await alice.send(new HeadBucketCommand({ Bucket: 'alpha' }))).$metadata.httpStatusCode, 200);
  });

  test("another account's bucket is NoSuchBucket", async () => {
    await rejectsWith(bob.send(new GetObjectCommand({ Bucket: 'alpha', Key: 'dir/hello.txt' })), 'NoSuchBucket', 404);
    await rejectsWith(bob.send(new ListObjectsV2Command({ Bucket: 'alpha' })), 'NoSuchBucket', 404);
    await rejectsWith(bob.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'x', Body: 'x' })), 'NoSuchBucket', 404);
    await rejectsWith(bob.send(new DeleteBucketCommand({ Bucket: 'alpha' })), 'NoSuchBucket', 404);
    await rejectsWith(bob.send(new HeadBucketCommand({ Bucket: 'alpha' })), 'NotFound', 404);
    await rejectsWith(bob.send(new CopyObjectCommand({ Bucket: 'alpha', Key: 'x', CopySource: 'alpha/dir/hello.txt' })), 'NoSuchBucket', 404);
    assert.deepEqual((await bob.send(new ListBucketsCommand({}))).Buckets ?? [], []);
  });

  test('hostile keys are just keys: nothing lands outside the blob directory', async () => {
    const keys = ['../../etc/passwd', '../escape', 'a/../../b', './x', '..', 'ünï/çødé 🔥', '%2e%2e/%2F', 'k'.repeat(1024), 'ctl\u0001\u001f'];
    for (const [i, k] of keys.entries()) {
      await alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: k, Body: `v${i}` }));
      assert.equal((await bodyOf(alice.send(new GetObjectCommand({ Bucket: 'alpha', Key: k })))).toString(), `v${i}`);
    }
    const listed = await alice.send(new ListObjectsV2Command({ Bucket: 'alpha', Prefix: '..' }));
    assert.deepEqual(listed.Contents?.map((o) => o.Key), ['..', '../../etc/passwd', '../escape']);
    await rejectsWith(alice.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'k'.repeat(1025), Body: 'x' })), 'KeyTooLongError', 400);
    assert.deepEqual(await readdir(root), ['blobs']);
    for (const p of await walk(join(root, 'blobs'))) {
      const rel = p.slice(join(root, 'blobs').length + 1);
      assert.match(rel, /^(tmp|[0-9a-f]{2}(\/[0-9a-f]{2}(\/[0-9a-f]{64})?)?)$/, rel);
    }
  });
});
