// SigV4 verification against the worked examples of the AWS S3 documentation (GET Object, PUT Object, GET
// bucket lifecycle, list objects, presigned URL, signed aws-chunked upload), tampering with any signed part,
// the clock-skew window, and the aws-chunked decoder.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  canonicalUris,
  ChunkedBodyError,
  decodeAwsChunked,
  parseSigV4,
  sha256Hex,
  signRequest,
  SigV4Error,
  verifySigV4,
} from '../../src/coordinator/s3/sigv4.ts';
import type { SigV4Request } from '../../src/coordinator/s3/sigv4.ts';

const AK = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const NOW = Date.UTC(2013, 4, 24, 0, 0, 0);
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function auth(signedHeaders: string, signature: string): string {
  return `AWS4-HMAC-SHA256 Credential=${AK}/20130524/us-east-1/s3/aws4_request,SignedHeaders=${signedHeaders},Signature=${signature}`;
}

function verifies(req: SigV4Request, nowMs = NOW, secret = SECRET): boolean {
  const p = parseSigV4(req, nowMs);
  assert.ok(p, 'the request carries SigV4 authentication');
  return verifySigV4(p, secret) !== undefined;
}

/** The AWS documentation's examples ("Signature Calculations for the Authorization Header", S3 API reference). */
const VECTORS: Array<{ name: string; req: SigV4Request }> = [
  {
    name: 'GET Object with a range',
    req: {
      method: 'GET',
      url: '/test.txt',
      rawHeaders: [
        'Host', 'examplebucket.s3.amazonaws.com',
        'Range', 'bytes=0-9',
        'x-amz-content-sha256', EMPTY,
        'x-amz-date', '20130524T000000Z',
        'Authorization', auth('host;range;x-amz-content-sha256;x-amz-date', 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41'),
      ],
    },
  },
  {
    name: 'PUT Object (path with $, Date and storage-class headers signed)',
    req: {
      method: 'PUT',
      url: '/test%24file.text',
      rawHeaders: [
        'Host', 'examplebucket.s3.amazonaws.com',
        'Date', 'Fri, 24 May 2013 00:00:00 GMT',
        'x-amz-date', '20130524T000000Z',
        'x-amz-storage-class', 'REDUCED_REDUNDANCY',
        'x-amz-content-sha256', '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072',
        'Authorization', auth('date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class', '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd'),
      ],
    },
  },
  {
    name: 'GET bucket lifecycle (valueless query parameter)',
    req: {
      method: 'GET',
      url: '/?lifecycle',
      rawHeaders: [
        'Host', 'examplebucket.s3.amazonaws.com',
        'x-amz-date', '20130524T000000Z',
        'x-amz-content-sha256', EMPTY,
        'Authorization', auth('host;x-amz-content-sha256;x-amz-date', 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543'),
      ],
    },
  },
  {
    name: 'GET bucket list objects (query sorted)',
    req: {
      method: 'GET',
      url: '/?max-keys=2&prefix=J',
      rawHeaders: [
        'Host', 'examplebucket.s3.amazonaws.com',
        'x-amz-date', '20130524T000000Z',
        'x-amz-content-sha256', EMPTY,
        'Authorization', auth('host;x-amz-content-sha256;x-amz-date', '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7'),
      ],
    },
  },
  {
    name: 'presigned GET (query authentication)',
    req: {
      method: 'GET',
      url:
        '/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
        '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
      rawHeaders: ['Host', 'examplebucket.s3.amazonaws.com'],
    },
  },
];

describe('SigV4: AWS documentation examples', () => {
  for (const v of VECTORS) {
    test(v.name, () => {
      assert.equal(verifies(v.req), true);
      assert.equal(verifies(v.req, NOW, `${SECRET}x`), false);
    });
  }

  test('signed aws-chunked upload: seed and chunk signatures of the example', async () => {
    const req: SigV4Request = {
      method: 'PUT',
      url: '/examplebucket/chunkObject.txt',
      rawHeaders: [
        'Host', 's3.amazonaws.com',
        'x-amz-date', '20130524T000000Z',
        'x-amz-storage-class', 'REDUCED_REDUNDANCY',
        'Authorization',
        auth(
          'content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class',
          '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
        ),
        'x-amz-content-sha256', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
        'Content-Encoding', 'aws-chunked',
        'x-amz-decoded-content-length', '66560',
        'Content-Length', '66824',
      ],
    };
    const p = parseSigV4(req, NOW)!;
    assert.deepEqual(p.payload, { kind: 'chunked', signed: true, trailer: false });
    const key = verifySigV4(p, SECRET);
    assert.ok(key);
    const a = 'a'.repeat(65536);
    const body = Buffer.from(
      `10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n${a}\r\n` +
        `400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n${'a'.repeat(1024)}\r\n` +
        `0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n`,
    );
    assert.equal(body.length, 66824);
    const signing = { key, seedSignature: p.signature, amzDate: p.amzDate, scope: p.scope };
    const decode = async (bytes: Buffer, pieces = 7): Promise<Buffer> => {
      const step = Math.ceil(bytes.length / pieces);
      const pieces_: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += step) pieces_.push(bytes.subarray(i, i + step));
      const src = Readable.from(pieces_);
      const out: Buffer[] = [];
      for await (const c of decodeAwsChunked(src, { signing, trailer: false })) out.push(c);
      return Buffer.concat(out);
    };
    const out = await decode(body);
    assert.equal(out.length, 66560);
    assert.ok(out.every((b) => b === 0x61));
    // One changed byte of payload breaks the chain.
    const bad = Buffer.from(body);
    bad[100] = 0x62;
    await assert.rejects(decode(bad), (e: unknown) => e instanceof ChunkedBodyError && e.code === 'SignatureDoesNotMatch');
    // Truncated.
    await assert.rejects(decode(body.subarray(0, 60000)), (e: unknown) => e instanceof ChunkedBodyError && e.code === 'IncompleteBody');
  });

  test('unsigned aws-chunked body with a trailing checksum (what the SDK sends for streams)', async () => {
    const body = Buffer.from('5\r\nhello\r\n5\r\nworld\r\n0\r\nx-amz-checksum-crc32:+esgrQ==\r\n\r\n');
    const src = (b: Buffer): AsyncIterable<Buffer> => Readable.from([b]);
    let trailers: Map<string, string> | undefined;
    const out: Buffer[] = [];
    for await (const c of decodeAwsChunked(src(body), { trailer: true, onTrailers: (t) => (trailers = t) })) out.push(c);
    assert.equal(Buffer.concat(out).toString(), 'helloworld');
    assert.equal(trailers?.get('x-amz-checksum-crc32'), '+esgrQ==');
    const garbage = async (b: string): Promise<void> => {
      for await (const _ of decodeAwsChunked(src(Buffer.from(b)), { trailer: true })) void _;
    };
    await assert.rejects(garbage('zz\r\n'), ChunkedBodyError);
    await assert.rejects(garbage('5\r\nhelloXX0\r\n\r\n'), ChunkedBodyError);
    await assert.rejects(garbage('0\r\n\r\nextra'), ChunkedBodyError);
  });
});

describe('SigV4: tampering and the clock', () => {
  const base = {
    method: 'PUT',
    url: '/s3/bucket/some%20key/%C3%BC.txt?partNumber=3&uploadId=abc',
    headers: { host: '127.0.0.1:9000', 'content-type': 'text/plain', 'x-amz-meta-colour': 'blue' },
    accessKeyId: 'alice@example.com',
    secret: 'hth_secret',
    nowMs: NOW,
    body: 'payload',
  };
  const toReq = (method: string, url: string, headers: Record<string, string>): SigV4Request => ({ method, url, rawHeaders: Object.entries(headers).flat() });

  test('a signed request verifies; its own signer agrees with the AWS example', () => {
    const h = signRequest(base);
    assert.equal(verifies(toReq(base.method, base.url, h), NOW, base.secret), true);
    const g = signRequest({ method: 'GET', url: '/test.txt', headers: { host: 'examplebucket.s3.amazonaws.com', range: 'bytes=0-9' }, accessKeyId: AK, secret: SECRET, nowMs: NOW });
    assert.match(g.authorization, /Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41$/);
  });

  test('changing any signed part fails: method, path, query, a signed header, the payload hash, the signature', () => {
    const h = signRequest(base);
    const fails = (req: SigV4Request): void => {
      let p;
      try {
        p = parseSigV4(req, NOW);
      } catch (e) {
        assert.ok(e instanceof SigV4Error);
        return;
      }
      assert.ok(p);
      assert.equal(verifySigV4(p, base.secret), undefined);
    };
    fails(toReq('POST', base.url, h));
    fails(toReq(base.method, base.url.replace('bucket', 'bucket2'), h));
    fails(toReq(base.method, base.url.replace('%C3%BC', 'u'), h));
    fails(toReq(base.method, base.url.replace('partNumber=3', 'partNumber=4'), h));
    fails(toReq(base.method, `${base.url}&extra=1`, h));
    for (const name of ['host', 'content-type', 'x-amz-meta-colour', 'x-amz-date', 'x-amz-content-sha256']) {
      fails(toReq(base.method, base.url, { ...h, [name]: `${h[name]}0` }));
    }
    fails(toReq(base.method, base.url, { ...h, authorization: h.authorization.replace(/.$/, (c) => (c === '0' ? '1' : '0')) }));
    // An unsigned x-amz-* header is refused outright.
    assert.throws(() => parseSigV4(toReq(base.method, base.url, { ...h, 'x-amz-copy-source': 'other/key' }), NOW), (e: unknown) => e instanceof SigV4Error && e.code === 'AccessDenied');
  });

  test('property: flipping any character of the Authorization signature or a signed value fails', () => {
    const h = signRequest(base);
    fc.assert(
      fc.property(fc.constantFrom('host', 'content-type', 'x-amz-meta-colour', 'authorization'), fc.nat(), fc.integer({ min: 33, max: 126 }), (name, pos, code) => {
        const v = h[name];
        const i = name === 'authorization' ? v.length - 1 - (pos % 64) : pos % v.length;
        const ch = String.fromCharCode(code);
        fc.pre(v[i] !== ch);
        const changed = { ...h, [name]: v.slice(0, i) + ch + v.slice(i + 1) };
        let ok: boolean;
        try {
          const p = parseSigV4(toReq(base.method, base.url, changed), NOW);
          ok = p !== undefined && verifySigV4(p, base.secret) !== undefined;
        } catch {
          ok = false;
        }
        assert.equal(ok, false);
      }),
      { numRuns: 300 },
    );
  });

  test('clock skew: 15 minutes either way is accepted, beyond is RequestTimeTooSkewed', () => {
    const h = signRequest(base);
    const req = toReq(base.method, base.url, h);
    const min = 60_000;
    assert.equal(verifies(req, NOW + 15 * min, base.secret), true);
    assert.equal(verifies(req, NOW - 15 * min, base.secret), true);
    for (const now of [NOW + 15 * min + 1000, NOW - 15 * min - 1000, NOW + 86_400_000]) {
      assert.throws(() => parseSigV4(req, now), (e: unknown) => e instanceof SigV4Error && e.code === 'RequestTimeTooSkewed');
    }
  });

  test('a presigned URL expires', () => {
    const req = VECTORS.find((v) => v.name.startsWith('presigned'))!.req;
    assert.equal(verifies(req, NOW + 86_399_000), true);
    assert.throws(() => parseSigV4(req, NOW + 86_401_000), (e: unknown) => e instanceof SigV4Error && e.code === 'AccessDenied');
  });

  test('no authentication is anonymous; malformed authentication is a SigV4Error, never anything else', () => {
    assert.equal(parseSigV4({ method: 'GET', url: '/', rawHeaders: ['host', 'x'] }, NOW), undefined);
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.string({ maxLength: 40 }), (authz, date) => {
        try {
          parseSigV4({ method: 'GET', url: '/b/k', rawHeaders: ['host', 'x', 'authorization', authz, 'x-amz-date', date, 'x-amz-content-sha256', EMPTY] }, NOW);
        } catch (e) {
          assert.ok(e instanceof SigV4Error, String(e));
        }
      }),
      { numRuns: 300 },
    );
  });

  test('canonical URI: S3 encodes once and keeps dot segments', () => {
    assert.deepEqual(canonicalUris('/b/../../etc/passwd'), ['/b/../../etc/passwd']);
    assert.deepEqual(canonicalUris('/b/a%2Fb'), ['/b/a%2Fb']);
    assert.deepEqual(canonicalUris('/b/it!s'), ['/b/it%21s', '/b/it!s']);
    assert.equal(sha256Hex(''), EMPTY);
  });
});
