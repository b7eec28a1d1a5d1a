// Property-based abuse of the S3 endpoint through app.inject(): random and hostile keys, headers, bodies, XML,
// aws-chunked framing and signatures. Never a 500, never a stack trace, what was stored reads back intact, and
// afterwards nothing exists outside the blob directory (nor anything inside it but content-addressed blobs).
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { createAccount, createSealKey } from '../../src/coordinator/auth/tokens.ts';
import { openStore } from '../../src/coordinator/store/index.ts';
import type { Store } from '../../src/coordinator/store/index.ts';
import { s3Plugin, signRequest } from '../../src/coordinator/s3/index.ts';

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const EMAIL = 'fuzz@example.com';
let app: FastifyInstance;
let store: Store;
let root: string;
let token: string;

interface Sent {
  status: number;
  body: Buffer;
  headers: Record<string, unknown>;
}

/** Sends a request signed for the path the server will see (inject normalises URLs as WHATWG does). */
async function send(method: string, url: string, headers: Record<string, string> = {}, body?: Buffer, opts: { secret?: string; payloadHash?: string; tamper?: (h: Record<string, string>) => void } = {}): Promise<Sent> {
  const u = new URL(url, 'http://localhost');
  const target = u.pathname + u.search;
  const h = signRequest({
    method,
    url: target,
    headers: { host: 'localhost:80', ...headers },
    accessKeyId: EMAIL,
    secret: opts.secret ?? token,
    nowMs: NOW,
    body: opts.payloadHash ? undefined : body,
    payloadHash: opts.payloadHash,
  });
  opts.tamper?.(h);
  const r = await app.inject({ method: method as 'GET', url: target, headers: h, payload: body });
  return { status: r.statusCode, body: r.rawPayload, headers: r.headers };
}

function sane(r: Sent): void {
  const text = r.body.toString('utf8');
  // 501 NotImplemented is S3's answer for a subresource the endpoint does not offer; any other 5xx is a bug.
  const notImplemented = r.status === 501 && (text === '' || text.includes('<Code>NotImplemented</Code>'));
  assert.ok(r.status < 500 || notImplemented, `status ${r.status}: ${text.slice(0, 300)}`);
  assert.doesNotMatch(text, /\n\s+at |node_modules|\.ts:\d+/);
  if (r.status >= 400 && text !== '') {
    // Fastify itself answers (JSON) before routing when a URL is undecodable or, once normalised the WHATWG way by
    // inject, falls outside the prefix; everything that reaches the plugin answers S3 XML.
    if (String(r.headers['content-type']).startsWith('application/json')) assert.ok(r.status === 400 || r.status === 404, text);
    else assert.match(text, /^<\?xml[^]*<Error><Code>[A-Za-z0-9]+<\/Code>/);
  }
}

const encodeKey = (k: string): string =>
  k
    .split('/')
    .map((seg) => {
      try {
        return encodeURIComponent(seg);
      } catch {
        return 'x';
      }
    })
    .join('/');

const hostileKey = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }),
  fc.string({ unit: fc.constantFrom('.', '/', '%', '\0', '?', '#', ' ', '\\', 'a', 'é', '\u0001', '+', '&'), minLength: 1, maxLength: 40 }),
  fc.constantFrom('../../etc/passwd', '..', '.', '/', '//', 'a/../../../x', '%2e%2e%2f', 'k'.repeat(1100), '\u0000', 'a\u0000b', '🔥'.repeat(300)),
);
const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 });
const body = fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a));

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    assert.ok(!e.isSymbolicLink(), `symlink ${p}`);
    if (e.isDirectory()) out.push(p, ...(await walk(p)));
    else out.push(p);
  }
  return out;
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'hearth-s3-fuzz-'));
  store = await openStore('sqlite::memory:');
  const sealKey = createSealKey();
  token = (await createAccount(store, { email: EMAIL, sealKey })).token;
  app = Fastify();
  await app.register(s3Plugin, { prefix: '/s3', store, blobDir: join(root, 'blobs'), sealKey, clock: () => NOW, maxObjectBytes: 64 * 1024, minPartBytes: 16 });
  await app.ready();
  assert.equal((await send('PUT', '/s3/fuzz')).status, 200);
});

after(async () => {
  await app.close();
  await store.close();
  await rm(root, { recursive: true, force: true });
});

describe('S3 endpoint under random and hostile input', () => {
  test('random keys and bodies: a stored object reads back intact; nothing fails with 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(hostileKey, body, fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/), printable, { maxKeys: 3 }), async (key, data, meta) => {
        await send('PUT', '/s3/fuzz'); // keys like '.' normalise (inject) to the bucket itself, which DELETE then removes
        const url = `/s3/fuzz/${encodeKey(key)}`;
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(meta)) headers[`x-amz-meta-${k}`] = v;
        const put = await send('PUT', url, headers, data);
        sane(put);
        const get = await send('GET', url);
        sane(get);
        if (put.status === 200 && new URL(url, 'http://localhost').pathname === `/s3/fuzz/${encodeKey(key)}`) {
          assert.equal(get.status, 200);
          assert.ok(get.body.equals(data));
        }
        sane(await send('HEAD', url));
        sane(await send('GET', `/s3/fuzz?list-type=2&prefix=${encodeURIComponent(Array.from(key).slice(0, 3).join('').replace(/[\uD800-\uDFFF]/g, ''))}&delimiter=%2F`));
        sane(await send('DELETE', url));
      }),
      { numRuns: 120 },
    );
  });

  test('random headers (ranges, digests, checksums, copy sources, content types) never cause a 5xx', async () => {
    await send('PUT', '/s3/fuzz/target', {}, Buffer.from('0123456789'));
    const header = fc.oneof(
      fc.tuple(fc.constant('range'), fc.oneof(printable, fc.tuple(fc.nat(20), fc.nat(20)).map(([a, b]) => `bytes=${a}-${b}`), fc.nat(20).map((n) => `bytes=-${n}`))),
      fc.tuple(fc.constant('content-md5'), printable),
      fc.tuple(fc.constantFrom('x-amz-checksum-crc32', 'x-amz-checksum-crc32c', 'x-amz-checksum-sha1', 'x-amz-checksum-sha256'), printable),
      fc.tuple(fc.constant('x-amz-copy-source'), fc.oneof(printable, fc.constantFrom('fuzz/target', '/fuzz/target', 'nope/x', 'fuzz/../x', 'fuzz/target?versionId=3'))),
      fc.tuple(fc.constant('x-amz-metadata-directive'), fc.oneof(printable, fc.constantFrom('COPY', 'REPLACE'))),
      fc.tuple(fc.constant('content-type'), printable),
      fc.tuple(fc.constant('x-amz-decoded-content-length'), printable),
      fc.tuple(fc.constant('x-amz-trailer'), printable),
    );
    const query = fc.constantFrom('', '?uploads', '?uploadId=zz', '?partNumber=1&uploadId=zz', '?partNumber=0', '?acl', '?delete', '?list-type=2&max-keys=-1', '?list-type=2&continuation-token=%00bad', '?location');
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'HEAD', 'PUT', 'POST', 'DELETE'),
        fc.constantFrom('/s3', '/s3/', '/s3/fuzz', '/s3/fuzz/', '/s3/fuzz/target', '/s3/fuzz/copy', '/s3/nope/x', '/s3/BAD/x', '/s3/%ff/x'),
        query,
        fc.uniqueArray(header, { selector: (h) => h[0], maxLength: 4 }),
        body,
        async (method, path, q, headers, data) => {
          if (path.startsWith('/s3/fuzz')) await send('PUT', '/s3/fuzz');
          const r = await send(method, path + q, Object.fromEntries(headers), method === 'GET' || method === 'HEAD' ? undefined : data);
          sane(r);
        },
      ),
      { numRuns: 250 },
    );
  });

  test('random XML bodies for DeleteObjects and CompleteMultipartUpload', async () => {
    await send('PUT', '/s3/fuzz'); // (the header fuzz may have deleted it)
    const up = await send('POST', '/s3/fuzz/mp?uploads');
    assert.equal(up.status, 200);
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(up.body.toString())![1];
    await send('PUT', `/s3/fuzz/mp?partNumber=1&uploadId=${uploadId}`, {}, Buffer.from('x'.repeat(20)));
    const xmlish = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.array(fc.tuple(fc.constantFrom('Delete', 'Object', 'Key', 'Quiet', 'CompleteMultipartUpload', 'Part', 'PartNumber', 'ETag', '!DOCTYPE x', '?xml', 'a:b'), fc.string({ maxLength: 20 })), { maxLength: 12 }).map((parts) =>
        parts.map(([t, txt], i) => (i % 3 === 2 ? `</${t}>` : `<${t}>${txt}`)).join(''),
      ),
      fc.array(fc.tuple(fc.integer({ min: -1, max: 3 }), fc.constantFrom('"abc"', '', '&amp;', '&#0;', '&bogus;')), { maxLength: 4 }).map(
        (ps) => `<CompleteMultipartUpload>${ps.map(([n, e]) => `<Part><PartNumber>${n}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`,
      ),
      fc.array(hostileKey, { maxLength: 5 }).map((ks) => `<Delete>${ks.map((k) => `<Object><Key>${k.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</Key></Object>`).join('')}</Delete>`),
    );
    await fc.assert(
      fc.asyncProperty(xmlish, fc.boolean(), async (xml, del) => {
        const url = del ? '/s3/fuzz?delete' : `/s3/fuzz/mp?uploadId=${uploadId}`;
        sane(await send('POST', url, { 'content-type': 'application/xml' }, Buffer.from(xml)));
      }),
      { numRuns: 200 },
    );
  });

  test('random aws-chunked framing and payload modes', async () => {
    await send('PUT', '/s3/fuzz');
    const framed = fc.oneof(
      fc.array(body, { maxLength: 4 }).map((chunks) => Buffer.concat([...chunks.flatMap((c) => [Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')]), Buffer.from('0\r\n\r\n')])),
      body,
      fc.string({ maxLength: 100 }).map((s) => Buffer.from(s)),
    );
    await fc.assert(
      fc.asyncProperty(
        framed,
        fc.constantFrom('STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', 'UNSIGNED-PAYLOAD', 'bogus', '0'.repeat(64)),
        fc.option(fc.nat(5000)),
        async (data, mode, declared) => {
          const headers: Record<string, string> = { 'content-encoding': 'aws-chunked' };
          if (declared !== null) headers['x-amz-decoded-content-length'] = String(declared);
          sane(await send('PUT', '/s3/fuzz/chunked', headers, data, { payloadHash: mode }));
        },
      ),
      { numRuns: 150 },
    );
  });

  test('random signatures and credentials are refused with 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.constant<((h: Record<string, string>) => void) | undefined>(undefined),
          printable.map((s) => (h: Record<string, string>) => (h.authorization = s)),
          fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 }).map((s) => (h: Record<string, string>) => (h.authorization = h.authorization.replace(/Signature=.*$/, `Signature=${s}`))),
          printable.map((s) => (h: Record<string, string>) => (h['x-amz-date'] = s)),
          fc.constant((h: Record<string, string>) => delete h.authorization),
        ),
        fc.option(printable),
        async (tamper, secret) => {
          const r = await send('GET', '/s3/fuzz/target', {}, undefined, { secret: secret ?? undefined, tamper: tamper ?? undefined });
          sane(r);
          if (tamper !== undefined || (secret !== null && secret !== token)) assert.ok(r.status >= 400, `accepted: ${r.status}`);
        },
      ),
      { numRuns: 150 },
    );
  });

  test('afterwards: nothing outside the blob directory, only content-addressed files inside, no temp files left', async () => {
    assert.deepEqual(await readdir(root), ['blobs']);
    for (const p of await walk(join(root, 'blobs'))) {
      const rel = p.slice(join(root, 'blobs').length + 1);
      assert.match(rel, /^(tmp|[0-9a-f]{2}(\/[0-9a-f]{2}(\/[0-9a-f]{64})?)?)$/, rel);
    }
    assert.deepEqual(await readdir(join(root, 'blobs', 'tmp')), []);
  });
});
