// The S3-compatible storage endpoint as a Fastify plugin (register it under a prefix, e.g. `/s3`; path-style
// URLs `/s3/<bucket>/<key>`). Every request is authenticated with AWS Signature V4 (access key = account email,
// secret = one of the account's API tokens, recovered from its sealed copy); every bucket is scoped to its
// owner. Bodies stream from the socket to the blob store (never buffered whole), with the payload hash,
// flexible checksums (x-amz-checksum-*) and Content-MD5 checked before anything is committed.
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { StoreConflictError, StoreInputError } from '../store/types.ts';
import type { Account, ObjectRecord, Store } from '../store/types.ts';
import { unsealToken } from '../auth/tokens.ts';
import { BlobStore, BlobTooLargeError } from './blobs.ts';
import type { WrittenBlob } from './blobs.ts';
import { ChunkedBodyError, decodeAwsChunked, headerMap, parseQuery, parseSigV4, SigV4Error, splitUrl, verifySigV4 } from './sigv4.ts';
import type { ParsedSigV4 } from './sigv4.ts';
import { child, el, errorDocument, parseXml, S3Error, xmlDocument } from './xml.ts';
import type { XmlChild } from './xml.ts';

/** Options of {@link s3Plugin}. */
export interface S3PluginOptions {
  store: Store;
  /** Root directory of the blob store (created if missing). */
  blobDir: string;
  /** Key that unseals the accounts' tokens (see `auth/tokens.ts`). Tokens stored without a sealed copy cannot sign. */
  sealKey: Buffer;
  /** Source of "now" (ms) for the clock-skew check. Default Date.now. */
  clock?: () => number;
  /** Largest body of one PutObject or UploadPart, bytes. Default 5 GiB (S3's limit). */
  maxObjectBytes?: number;
  /** Smallest part but the last of a multipart upload, bytes. Default 5 MiB (S3's limit). */
  minPartBytes?: number;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const MAX_KEY_BYTES = 1024;
const MAX_METADATA_BYTES = 2048;
/** Largest XML request body (DeleteObjects of 1000 keys of 1 KiB, with markup). */
const MAX_XML_BYTES = 2 * MiB;
const MAX_PARTS = 10000;
const UNSUPPORTED_SUBRESOURCES = [
  'acl', 'accelerate', 'analytics', 'attributes', 'cors', 'encryption', 'intelligent-tiering', 'inventory', 'legal-hold',
  'lifecycle', 'logging', 'metrics', 'notification', 'object-lock', 'ownershipControls', 'policy', 'policyStatus',
  'publicAccessBlock', 'replication', 'requestPayment', 'restore', 'retention', 'select', 'tagging', 'torrent',
  'versioning', 'versions', 'website',
];

/** An authenticated caller. */
interface Caller {
  account: Account;
  parsed: ParsedSigV4;
  signingKey: Buffer;
}

/** What a handler needs about one request. */
interface Ctx {
  request: FastifyRequest;
  reply: FastifyReply;
  caller: Caller;
  query: Map<string, string>;
  headers: Map<string, string>;
  bucket: string;
  key: string;
}

/**
 * The S3 endpoint. Register with a prefix: `app.register(s3Plugin, { prefix: '/s3', store, blobDir, sealKey })`.
 * The plugin is encapsulated: its raw-body content-type parser and XML error handler apply to its routes only.
 */
export const s3Plugin: FastifyPluginAsync<S3PluginOptions> = async (app: FastifyInstance, opts: S3PluginOptions) => {
  const store = opts.store;
  const clock = opts.clock ?? Date.now;
  const maxObjectBytes = opts.maxObjectBytes ?? 5 * GiB;
  const minPartBytes = opts.minPartBytes ?? 5 * MiB;
  const blobs = new BlobStore(opts.blobDir);
  await blobs.init();
  const prefix = app.prefix;

  // Bodies stay unread until the handler streams them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));

  app.setErrorHandler((err, request, reply) => {
    const s3 = toS3Error(err);
    if (s3.status >= 500) request.log.error({ err }, 's3: internal error');
    void reply
      .code(s3.status)
      .headers({ ...s3.headers, 'content-type': 'application/xml', 'x-amz-request-id': request.id });
    if (request.method === 'HEAD') return reply.send();
    return reply.send(errorDocument(s3, splitUrl(request.url).path, request.id));
  });

  const gc = async (hashes: Iterable<string | undefined>): Promise<void> => {
    for (const h of new Set(hashes)) {
      if (h === undefined) continue;
      try {
        await blobs.deleteIfUnreferenced(h, (x) => store.isBlobReferenced(x));
      } catch (err) {
        app.log.warn({ err, blob: h }, 's3: blob collection failed');
      }
    }
  };

  const authenticate = async (request: FastifyRequest): Promise<Caller> => {
    let parsed: ParsedSigV4 | undefined;
    try {
      parsed = parseSigV4({ method: request.method, url: request.url, rawHeaders: request.raw.rawHeaders }, clock());
    } catch (e) {
      if (e instanceof SigV4Error) throw new S3Error(e.code, e.message);
      throw e;
    }
    if (!parsed) throw new S3Error('AccessDenied', 'Anonymous access is not allowed: sign requests with AWS Signature V4');
    const account = parsed.accessKeyId.includes('\0') ? undefined : await store.getAccountByEmail(parsed.accessKeyId);
    if (!account) throw new S3Error('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
    for (const t of await store.listTokens(account.id)) {
      if (t.sealedSecret === null) continue;
      let secret: string;
      try {
        secret = unsealToken(opts.sealKey, t.sealedSecret);
      } catch {
        continue;
      }
      const key = verifySigV4(parsed, secret);
      if (key) return { account, parsed, signingKey: key };
    }
    throw new S3Error('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
  };

  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    void reply.header('x-amz-request-id', request.id);
    const caller = await authenticate(request);
    const { path, query } = splitUrl(request.url);
    let rest = path.startsWith(prefix) ? path.slice(prefix.length) : path;
    if (rest.startsWith('/')) rest = rest.slice(1);
    const slash = rest.indexOf('/');
    const bucket = decodePart(slash < 0 ? rest : rest.slice(0, slash));
    const key = slash < 0 ? '' : decodePart(rest.slice(slash + 1));
    const ctx: Ctx = { request, reply, caller, query: new Map(parseQuery(query)), headers: headerMap(request.raw.rawHeaders), bucket, key };
    for (const sub of UNSUPPORTED_SUBRESOURCES) {
      if (ctx.query.has(sub)) throw new S3Error('NotImplemented', `The ${sub} subresource is not implemented`);
    }
    const m = request.method;
    if (bucket === '') {
      if (m === 'GET') return listBuckets(ctx);
      throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
    }
    checkBucketName(bucket);
    if (key === '') {
      if (m === 'PUT') return createBucket(ctx);
      if (m === 'HEAD') return headBucket(ctx);
      if (m === 'DELETE') return deleteBucket(ctx);
      if (m === 'GET' && ctx.query.has('location')) return getBucketLocation(ctx);
      if (m === 'GET' && ctx.query.has('uploads')) return listUploads(ctx);
      if (m === 'GET') return listObjectsV2(ctx);
      if (m === 'POST' && ctx.query.has('delete')) return deleteObjects(ctx);
      throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
    }
    checkKey(key);
    const uploadId = ctx.query.get('uploadId');
    if (m === 'PUT') {
      if (uploadId !== undefined) return uploadPart(ctx, uploadId);
      if (ctx.headers.has('x-amz-copy-source')) return copyObject(ctx);
      return putObject(ctx);
    }
    if (m === 'GET' && uploadId !== undefined) return listParts(ctx, uploadId);
    if (m === 'GET' || m === 'HEAD') return getObject(ctx);
    if (m === 'DELETE') return uploadId !== undefined ? abortUpload(ctx, uploadId) : deleteObject(ctx);
    if (m === 'POST' && ctx.query.has('uploads')) return createUpload(ctx);
    if (m === 'POST' && uploadId !== undefined) return completeUpload(ctx, uploadId);
    throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
  };

  for (const url of ['/', '/*']) {
    app.route({ method: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'], url, exposeHeadRoute: false, handler });
  }

  // -------------------------------------------------------------------------------------------------------
  // Helpers

  const owner = (ctx: Ctx): string => ctx.caller.account.id;

  const requireBucket = async (ctx: Ctx, name = ctx.bucket): Promise<void> => {
    if (!(await store.getBucket(owner(ctx), name))) throw noSuchBucket(name);
  };

  /** Streams the (decoded, checked) body into a blob; on any failure nothing is kept. */
  const writeBody = async (ctx: Ctx, limit: number): Promise<WrittenBlob> => {
    const check = new BodyCheck(ctx);
    const declared = check.declaredLength();
    if (declared !== undefined && declared > limit) throw new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', { MaxSizeAllowed: String(limit) });
    const written = await blobs.write(check.source(), { maxBytes: limit });
    try {
      check.verify(written);
    } catch (e) {
      written.release();
      await gc([written.hash]);
      throw e;
    }
    return written;
  };

  /** Reads a small body (XML) whole, checked. */
  const readSmallBody = async (ctx: Ctx): Promise<string> => {
    const check = new BodyCheck(ctx);
    const chunks: Buffer[] = [];
    let size = 0;
    const sha = createHash('sha256');
    const md5 = createHash('md5');
    for await (const c of check.source()) {
      size += c.length;
      if (size > MAX_XML_BYTES) throw new S3Error('MalformedXML', 'The XML you provided is too large');
      chunks.push(Buffer.from(c));
      sha.update(c);
      md5.update(c);
    }
    check.verify({ hash: sha.digest('hex'), md5: md5.digest('hex'), size });
    return Buffer.concat(chunks).toString('utf8');
  };

  const sendXml = (ctx: Ctx, body: XmlChild & object, status = 200): FastifyReply =>
    ctx.reply.code(status).header('content-type', 'application/xml').send(xmlDocument(body));

  // -------------------------------------------------------------------------------------------------------
  // Buckets

  const listBuckets = async (ctx: Ctx): Promise<void> => {
    const list = await store.listBuckets(owner(ctx));
    await sendXml(
      ctx,
      el(
        'ListAllMyBucketsResult',
        el('Owner', el('ID', ctx.caller.account.id), el('DisplayName', ctx.caller.account.email)),
        el('Buckets', ...list.map((b) => el('Bucket', el('Name', b.name), el('CreationDate', iso(b.createdAt))))),
      ),
    );
  };

  const createBucket = async (ctx: Ctx): Promise<void> => {
    const body = await readSmallBody(ctx);
    if (body.trim() !== '') {
      const doc = parseXml(body);
      if (doc.name !== 'CreateBucketConfiguration') throw new S3Error('MalformedXML', 'expected CreateBucketConfiguration');
    }
    const max = ctx.caller.account.quotas.maxBucket;
    if (max !== undefined && (await store.listBuckets(owner(ctx))).length >= max) {
      throw new S3Error('TooManyBuckets', 'You have attempted to create more buckets than allowed');
    }
    try {
      await store.createBucket({ name: ctx.bucket, accountId: owner(ctx) });
    } catch (e) {
      if (e instanceof StoreConflictError && e.field === 'bucket') {
        if (e.ownedByCaller) throw new S3Error('BucketAlreadyOwnedByYou', 'Your previous request to create the named bucket succeeded and you already own it.', { BucketName: ctx.bucket });
        throw new S3Error('BucketAlreadyExists', 'The requested bucket name is not available.', { BucketName: ctx.bucket });
      }
      throw e;
    }
    await ctx.reply.code(200).header('location', `/${ctx.bucket}`).send();
  };

  const headBucket = async (ctx: Ctx): Promise<void> => {
    await requireBucket(ctx);
    await ctx.reply.code(200).header('x-amz-bucket-region', ctx.caller.parsed.region).send();
  };

  const getBucketLocation = async (ctx: Ctx): Promise<void> => {
    await requireBucket(ctx);
    await sendXml(ctx, el('LocationConstraint'));
  };

  const deleteBucket = async (ctx: Ctx): Promise<void> => {
    const r = await store.deleteBucket(owner(ctx), ctx.bucket);
    switch (r.outcome) {
      case 'deleted':
        await ctx.reply.code(204).send();
        return;
      case 'not-found':
        throw noSuchBucket(ctx.bucket);
      case 'not-empty':
        throw new S3Error('BucketNotEmpty', 'The bucket you tried to delete is not empty', { BucketName: ctx.bucket });
    }
  };

  const listObjectsV2 = async (ctx: Ctx): Promise<void> => {
    const q = ctx.query;
    if (q.get('list-type') !== '2') throw new S3Error('NotImplemented', 'Only ListObjectsV2 (list-type=2) is implemented');
    const maxKeysRaw = q.get('max-keys');
    let maxKeys = 1000;
    if (maxKeysRaw !== undefined) {
      if (!/^\d{1,9}$/.test(maxKeysRaw)) throw new S3Error('InvalidArgument', 'max-keys must be a non-negative integer', { ArgumentName: 'max-keys' });
      maxKeys = Math.min(1000, Number(maxKeysRaw));
    }
    const encodingType = q.get('encoding-type');
    if (encodingType !== undefined && encodingType !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type' });
    const enc = (s: string): string => (encodingType === 'url' ? encodeURIComponent(s) : s);
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') || undefined;
    const startAfter = q.get('start-after') || undefined;
    const token = q.get('continuation-token');
    for (const s of [prefix, delimiter, startAfter]) if (s !== undefined) checkText(s);
    let list;
    if (maxKeys === 0) {
      await requireBucket(ctx);
      list = { objects: [], commonPrefixes: [], isTruncated: false, nextContinuationToken: null };
    } else {
      list = await store.listObjects(owner(ctx), ctx.bucket, { prefix, delimiter, startAfter, continuationToken: token, maxKeys });
      if (!list) throw noSuchBucket(ctx.bucket);
    }
    await sendXml(
      ctx,
      el(
        'ListBucketResult',
        el('Name', ctx.bucket),
        el('Prefix', enc(prefix)),
        delimiter === undefined ? null : el('Delimiter', enc(delimiter)),
        el('MaxKeys', maxKeys),
        el('KeyCount', list.objects.length + list.commonPrefixes.length),
        el('IsTruncated', list.isTruncated),
        encodingType ? el('EncodingType', encodingType) : null,
        token === undefined ? null : el('ContinuationToken', token),
        list.nextContinuationToken === null ? null : el('NextContinuationToken', list.nextContinuationToken),
        startAfter === undefined ? null : el('StartAfter', enc(startAfter)),
        ...list.objects.map((o) =>
          el('Contents', el('Key', enc(o.key)), el('LastModified', iso(o.lastModified)), el('ETag', `"${o.etag}"`), el('Size', o.size), el('StorageClass', 'STANDARD')),
        ),
        ...list.commonPrefixes.map((p) => el('CommonPrefixes', el('Prefix', enc(p)))),
      ),
    );
  };

  const deleteObjects = async (ctx: Ctx): Promise<void> => {
    await requireBucket(ctx);
    const doc = parseXml(await readSmallBody(ctx));
    if (doc.name !== 'Delete') throw new S3Error('MalformedXML', 'expected a Delete element');
    const quiet = child(doc, 'Quiet')?.text.trim() === 'true';
    const objects = doc.children.filter((c) => c.name === 'Object');
    if (objects.length === 0 || objects.length > 1000) throw new S3Error('MalformedXML', 'Delete needs 1 to 1000 Object elements');
    const results: XmlChild[] = [];
    for (const o of objects) {
      const k = child(o, 'Key');
      if (!k) throw new S3Error('MalformedXML', 'every Object needs a Key');
      const key = k.text;
      try {
        checkKey(key);
        if (key === '') throw new S3Error('InvalidArgument', 'empty key');
        const removed = await store.deleteObject(owner(ctx), ctx.bucket, key);
        if (removed) await gc([removed.blobHash]);
        if (!quiet) results.push(el('Deleted', el('Key', key)));
      } catch (e) {
        const s3 = toS3Error(e);
        results.push(el('Error', el('Key', key), el('Code', s3.code), el('Message', s3.message)));
      }
    }
    await sendXml(ctx, el('DeleteResult', ...results));
  };

  const listUploads = async (ctx: Ctx): Promise<void> => {
    const ups = await store.listMultipartUploads(owner(ctx), ctx.bucket);
    if (!ups) throw noSuchBucket(ctx.bucket);
    const prefix = ctx.query.get('prefix') ?? '';
    await sendXml(
      ctx,
      el(
        'ListMultipartUploadsResult',
        el('Bucket', ctx.bucket),
        el('Prefix', prefix),
        el('IsTruncated', false),
        ...ups
          .filter((u) => u.key.startsWith(prefix))
          .map((u) => el('Upload', el('Key', u.key), el('UploadId', u.uploadId), el('Initiated', iso(u.createdAt)), el('StorageClass', 'STANDARD'))),
      ),
    );
  };

  // -------------------------------------------------------------------------------------------------------
  // Objects

  const putObject = async (ctx: Ctx): Promise<void> => {
    await requireBucket(ctx);
    const metadata = userMetadata(ctx.request);
    const contentType = ctx.headers.get('content-type') ?? null;
    const written = await writeBody(ctx, maxObjectBytes);
    let previous: ObjectRecord | undefined;
    try {
      const r = await store.putObject(owner(ctx), {
        bucket: ctx.bucket,
        key: ctx.key,
        size: written.size,
        etag: written.md5,
        contentType,
        blobHash: written.hash,
        metadata,
        lastModified: clock(),
      });
      if (!r) throw noSuchBucket(ctx.bucket);
      previous = r.previous;
    } finally {
      written.release();
    }
    await gc(previous && previous.blobHash !== written.hash ? [previous.blobHash] : []);
    await ctx.reply.code(200).header('etag', `"${written.md5}"`).send();
  };

  const getObject = async (ctx: Ctx): Promise<void> => {
    const obj = await store.getObject(owner(ctx), ctx.bucket, ctx.key);
    if (!obj) {
      await requireBucket(ctx);
      throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: ctx.key });
    }
    const range = parseRange(ctx.headers.get('range'), obj.size);
    const headers: Record<string, string> = {
      'content-type': obj.contentType ?? 'binary/octet-stream',
      etag: `"${obj.etag}"`,
      'last-modified': new Date(obj.lastModified).toUTCString(),
      'accept-ranges': 'bytes',
    };
    for (const [k, v] of Object.entries(obj.metadata)) headers[`x-amz-meta-${k}`] = v;
    if (range) {
      headers['content-range'] = `bytes ${range.start}-${range.end}/${obj.size}`;
      headers['content-length'] = String(range.end - range.start + 1);
    } else headers['content-length'] = String(obj.size);
    void ctx.reply.code(range ? 206 : 200).headers(headers);
    if (ctx.request.method === 'HEAD' || obj.size === 0) {
      await ctx.reply.send();
      return;
    }
    await ctx.reply.send(await blobs.read(obj.blobHash, range));
  };

  const deleteObject = async (ctx: Ctx): Promise<void> => {
    await requireBucket(ctx);
    const removed = await store.deleteObject(owner(ctx), ctx.bucket, ctx.key);
    if (removed) await gc([removed.blobHash]);
    await ctx.reply.code(204).send();
  };

  const copyObject = async (ctx: Ctx): Promise<void> => {
    await requireBucket(ctx);
    const src = parseCopySource(ctx.headers.get('x-amz-copy-source')!);
    if (!(await store.getBucket(owner(ctx), src.bucket))) throw noSuchBucket(src.bucket);
    const directive = ctx.headers.get('x-amz-metadata-directive') ?? 'COPY';
    if (directive !== 'COPY' && directive !== 'REPLACE') throw new S3Error('InvalidArgument', 'Unknown metadata directive.', { ArgumentName: 'x-amz-metadata-directive' });
    const metadata = directive === 'REPLACE' ? userMetadata(ctx.request) : undefined;
    const source = await store.getObject(owner(ctx), src.bucket, src.key);
    if (!source) throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: src.key });
    const release = await blobs.pinExisting(source.blobHash);
    if (!release) throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: src.key });
    let result;
    try {
      result = await store.putObject(owner(ctx), {
        bucket: ctx.bucket,
        key: ctx.key,
        size: source.size,
        etag: source.etag,
        blobHash: source.blobHash,
        contentType: directive === 'REPLACE' ? (ctx.headers.get('content-type') ?? null) : source.contentType,
        metadata: metadata ?? source.metadata,
        lastModified: clock(),
      });
      if (!result) throw noSuchBucket(ctx.bucket);
    } finally {
      release();
    }
    if (result.previous && result.previous.blobHash !== source.blobHash) await gc([result.previous.blobHash]);
    await sendXml(ctx, el('CopyObjectResult', el('LastModified', iso(result.object.lastModified)), el('ETag', `"${result.object.etag}"`)));
  };

  // -------------------------------------------------------------------------------------------------------
  // Multipart uploads

  const requireUpload = async (ctx: Ctx, uploadId: string): Promise<void> => {
    await requireBucket(ctx);
    const up = uploadId === '' || uploadId.includes('\0') ? undefined : await store.getMultipartUpload(owner(ctx), ctx.bucket, uploadId);
    if (!up || up.key !== ctx.key) {
      throw new S3Error('NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', { UploadId: uploadId });
    }
  };

  const createUpload = async (ctx: Ctx): Promise<void> => {
    const up = await store.createMultipartUpload(owner(ctx), {
      bucket: ctx.bucket,
      key: ctx.key,
      contentType: ctx.headers.get('content-type') ?? null,
      metadata: userMetadata(ctx.request),
    });
    if (!up) throw noSuchBucket(ctx.bucket);
    await sendXml(ctx, el('InitiateMultipartUploadResult', el('Bucket', ctx.bucket), el('Key', ctx.key), el('UploadId', up.uploadId)));
  };

  const uploadPart = async (ctx: Ctx, uploadId: string): Promise<void> => {
    const pn = ctx.query.get('partNumber') ?? '';
    if (!/^\d{1,5}$/.test(pn) || Number(pn) < 1 || Number(pn) > MAX_PARTS) {
      throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { ArgumentName: 'partNumber' });
    }
    if (ctx.headers.has('x-amz-copy-source')) throw new S3Error('NotImplemented', 'UploadPartCopy is not implemented');
    await requireUpload(ctx, uploadId);
    const written = await writeBody(ctx, maxObjectBytes);
    let previousHash: string | undefined;
    try {
      const r = await store.putPart(owner(ctx), { uploadId, partNumber: Number(pn), size: written.size, etag: written.md5, blobHash: written.hash });
      if (!r) throw new S3Error('NoSuchUpload', 'The specified upload does not exist.', { UploadId: uploadId });
      previousHash = r.previous?.blobHash;
    } finally {
      written.release();
    }
    if (previousHash !== undefined && previousHash !== written.hash) await gc([previousHash]);
    await ctx.reply.code(200).header('etag', `"${written.md5}"`).send();
  };

  const listParts = async (ctx: Ctx, uploadId: string): Promise<void> => {
    await requireUpload(ctx, uploadId);
    const parts = (await store.listParts(owner(ctx), ctx.bucket, uploadId)) ?? [];
    const markerRaw = ctx.query.get('part-number-marker') ?? '0';
    const maxRaw = ctx.query.get('max-parts') ?? '1000';
    if (!/^\d{1,9}$/.test(markerRaw) || !/^\d{1,9}$/.test(maxRaw)) throw new S3Error('InvalidArgument', 'part-number-marker and max-parts must be integers');
    const marker = Number(markerRaw);
    const max = Math.min(1000, Number(maxRaw));
    const after = parts.filter((p) => p.partNumber > marker).sort((a, b) => a.partNumber - b.partNumber);
    const page = after.slice(0, max);
    const truncated = after.length > page.length;
    await sendXml(
      ctx,
      el(
        'ListPartsResult',
        el('Bucket', ctx.bucket),
        el('Key', ctx.key),
        el('UploadId', uploadId),
        el('PartNumberMarker', marker),
        el('NextPartNumberMarker', page.length > 0 ? page[page.length - 1].partNumber : marker),
        el('MaxParts', max),
        el('IsTruncated', truncated),
        el('StorageClass', 'STANDARD'),
        ...page.map((p) => el('Part', el('PartNumber', p.partNumber), el('LastModified', iso(p.lastModified)), el('ETag', `"${p.etag}"`), el('Size', p.size))),
      ),
    );
  };

  const completeUpload = async (ctx: Ctx, uploadId: string): Promise<void> => {
    await requireUpload(ctx, uploadId);
    const doc = parseXml(await readSmallBody(ctx));
    if (doc.name !== 'CompleteMultipartUpload') throw new S3Error('MalformedXML', 'expected a CompleteMultipartUpload element');
    const requested = doc.children
      .filter((c) => c.name === 'Part')
      .map((p) => {
        const n = child(p, 'PartNumber')?.text.trim() ?? '';
        const e = child(p, 'ETag')?.text.trim() ?? '';
        if (!/^\d{1,5}$/.test(n)) throw new S3Error('MalformedXML', 'every Part needs a PartNumber');
        return { partNumber: Number(n), etag: e.replace(/^"|"$/g, '') };
      });
    if (requested.length === 0 || requested.length > MAX_PARTS) throw new S3Error('MalformedXML', 'CompleteMultipartUpload needs 1 to 10000 parts');
    for (let i = 1; i < requested.length; i++) {
      if (requested[i].partNumber <= requested[i - 1].partNumber) {
        throw new S3Error('InvalidPartOrder', 'The list of parts was not in ascending order. The parts list must be specified in order by part number.');
      }
    }
    const stored = new Map(((await store.listParts(owner(ctx), ctx.bucket, uploadId)) ?? []).map((p) => [p.partNumber, p]));
    const chosen = requested.map((r, i) => {
      const p = stored.get(r.partNumber);
      if (!p || p.etag !== r.etag) {
        throw new S3Error('InvalidPart', "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag.", { PartNumber: String(r.partNumber) });
      }
      if (i < requested.length - 1 && p.size < minPartBytes) {
        throw new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.', { PartNumber: String(r.partNumber) });
      }
      return p;
    });
    const releases: Array<() => void> = [];
    let written: WrittenBlob | undefined;
    let completed;
    try {
      for (const p of chosen) {
        const r = await blobs.pinExisting(p.blobHash);
        if (!r) throw new Error(`blob of part ${p.partNumber} is missing`);
        releases.push(r);
      }
      written = await blobs.write(
        (async function* () {
          for (const p of chosen) yield* await blobs.read(p.blobHash);
        })(),
      );
      const md5s = Buffer.concat(chosen.map((p) => Buffer.from(p.etag, 'hex')));
      const etag = `${createHash('md5').update(md5s).digest('hex')}-${chosen.length}`;
      completed = await store.completeMultipartUpload(owner(ctx), ctx.bucket, uploadId, { size: written.size, etag, blobHash: written.hash, lastModified: clock() });
      if (!completed) throw new S3Error('NoSuchUpload', 'The specified upload does not exist.', { UploadId: uploadId });
    } finally {
      for (const r of releases) r();
      written?.release();
    }
    const assembled = written!.hash;
    await gc([...completed.parts.map((p) => p.blobHash), completed.previous?.blobHash].filter((h) => h !== assembled));
    await sendXml(
      ctx,
      el(
        'CompleteMultipartUploadResult',
        el('Location', `${prefix}/${ctx.bucket}/${ctx.key}`),
        el('Bucket', ctx.bucket),
        el('Key', ctx.key),
        el('ETag', `"${completed.object.etag}"`),
      ),
    );
  };

  const abortUpload = async (ctx: Ctx, uploadId: string): Promise<void> => {
    await requireUpload(ctx, uploadId);
    const parts = await store.abortMultipartUpload(owner(ctx), ctx.bucket, uploadId);
    if (!parts) throw new S3Error('NoSuchUpload', 'The specified upload does not exist.', { UploadId: uploadId });
    await gc(parts.map((p) => p.blobHash));
    await ctx.reply.code(204).send();
  };
};

// ---------------------------------------------------------------------------------------------------------
// Request body checks

const CHECKSUM_ALGOS = ['crc32', 'crc32c', 'sha1', 'sha256'] as const;
type ChecksumAlgo = (typeof CHECKSUM_ALGOS)[number];

/** The decoded body of a request with its integrity checks: payload hash, flexible checksum, Content-MD5, length. */
class BodyCheck {
  private trailers = new Map<string, string>();
  private algo: ChecksumAlgo | undefined;
  private headerValue: string | undefined;
  private crc = 0;
  private hash: ReturnType<typeof createHash> | undefined;
  private count = 0;

  constructor(private readonly ctx: Ctx) {
    const h = ctx.headers;
    const trailer = h.get('x-amz-trailer')?.toLowerCase();
    for (const a of CHECKSUM_ALGOS) {
      const name = `x-amz-checksum-${a}`;
      if (h.has(name) || trailer === name) {
        this.algo = a;
        this.headerValue = h.get(name);
        break;
      }
    }
    if (this.algo === 'sha1' || this.algo === 'sha256') this.hash = createHash(this.algo);
  }

  /** x-amz-decoded-content-length (aws-chunked) or Content-Length, when given. */
  declaredLength(): number | undefined {
    const p = this.ctx.caller.parsed.payload;
    const v = p.kind === 'chunked' ? this.ctx.headers.get('x-amz-decoded-content-length') : this.ctx.headers.get('content-length');
    if (v === undefined) return undefined;
    if (!/^\d{1,16}$/.test(v)) throw new S3Error('InvalidArgument', 'invalid content length');
    return Number(v);
  }

  /** The payload bytes (aws-chunked decoded), digested on the way. */
  source(): AsyncIterable<Uint8Array> {
    const { caller, request } = this.ctx;
    const p = caller.parsed.payload;
    const raw = request.raw as AsyncIterable<Buffer>;
    const decoded: AsyncIterable<Uint8Array> =
      p.kind === 'chunked'
        ? decodeAwsChunked(raw, {
            trailer: p.trailer,
            signing: p.signed ? { key: caller.signingKey, seedSignature: caller.parsed.signature, amzDate: caller.parsed.amzDate, scope: caller.parsed.scope } : undefined,
            onTrailers: (t) => (this.trailers = t),
          })
        : raw;
    return this.digest(decoded);
  }

  private async *digest(src: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const c of src) {
      this.count += c.length;
      if (this.algo === 'crc32') this.crc = crc32(c, this.crc);
      else if (this.algo === 'crc32c') this.crc = crc32c(c, this.crc);
      else this.hash?.update(c);
      yield c;
    }
  }

  /** Throws the S3 error for the first check the received body fails. */
  verify(got: { hash: string; md5: string; size: number }): void {
    const p = this.ctx.caller.parsed.payload;
    if (p.kind === 'hash' && p.sha256 !== got.hash) {
      throw new S3Error('XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.");
    }
    if (p.kind === 'chunked') {
      const declared = this.declaredLength();
      if (declared !== undefined && declared !== got.size) throw new S3Error('IncompleteBody', 'You did not provide the number of bytes specified by the x-amz-decoded-content-length HTTP header');
    }
    const md5 = this.ctx.headers.get('content-md5');
    if (md5 !== undefined) {
      const b = Buffer.from(md5, 'base64');
      if (b.length !== 16) throw new S3Error('InvalidDigest', 'The Content-MD5 you specified is not valid.');
      if (b.toString('hex') !== got.md5) throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.');
    }
    if (this.algo) {
      const expected = this.headerValue ?? this.trailers.get(`x-amz-checksum-${this.algo}`);
      if (expected === undefined) throw new S3Error('InvalidRequest', `x-amz-checksum-${this.algo} was announced but not sent`);
      let actual: string;
      if (this.hash) actual = this.hash.digest('base64');
      else {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(this.crc >>> 0);
        actual = b.toString('base64');
      }
      if (actual !== expected) throw new S3Error('BadDigest', `The ${this.algo.toUpperCase()} you specified did not match the calculated checksum.`);
    }
  }
}

let CRC32C_TABLE: Uint32Array | undefined;
/** CRC-32C (Castagnoli), incremental like zlib.crc32. */
export function crc32c(data: Uint8Array, value = 0): number {
  if (!CRC32C_TABLE) {
    CRC32C_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
      CRC32C_TABLE[n] = c >>> 0;
    }
  }
  let crc = ~value >>> 0;
  for (let i = 0; i < data.length; i++) crc = CRC32C_TABLE[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

// ---------------------------------------------------------------------------------------------------------
// Small pure helpers

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function noSuchBucket(name: string): S3Error {
  return new S3Error('NoSuchBucket', 'The specified bucket does not exist', { BucketName: name });
}

function decodePart(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new S3Error('InvalidArgument', 'The request path is not valid percent-encoded UTF-8');
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Text the store can keep: no NUL, no lone surrogates. */
function checkText(s: string): void {
  if (s.includes('\0') || LONE_SURROGATE.test(s)) throw new S3Error('InvalidArgument', 'Names and keys cannot contain NUL or invalid Unicode');
}

const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
function checkBucketName(name: string): void {
  if (!BUCKET_RE.test(name) || name.includes('..') || /^\d+\.\d+\.\d+\.\d+$/.test(name)) {
    throw new S3Error('InvalidBucketName', 'The specified bucket is not valid.', { BucketName: name });
  }
}

function checkKey(key: string): void {
  checkText(key);
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw new S3Error('KeyTooLongError', 'Your key is too long');
}

function userMetadata(request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  let bytes = 0;
  for (const [name, value] of Object.entries(request.headers)) {
    if (!name.startsWith('x-amz-meta-') || value === undefined) continue;
    const v = Array.isArray(value) ? value.join(',') : value;
    const k = name.slice('x-amz-meta-'.length);
    bytes += k.length + v.length;
    checkText(v);
    out[k] = v;
  }
  if (bytes > MAX_METADATA_BYTES) throw new S3Error('MetadataTooLarge', 'Your metadata headers exceed the maximum allowed metadata size.');
  return out;
}

/** `Range: bytes=a-b | a- | -n` → inclusive range; undefined to ignore (absent, malformed, multi-range). */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  const unsatisfiable = (): S3Error =>
    new S3Error('InvalidRange', 'The requested range is not satisfiable', { RangeRequested: header, ActualObjectSize: String(size) }, { 'content-range': `bytes */${size}` });
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) throw unsatisfiable();
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Number(m[2]);
  if (m[2] !== '' && end < start) return undefined;
  if (start >= size) throw unsatisfiable();
  return { start, end: Math.min(end, size - 1) };
}

function parseCopySource(header: string): { bucket: string; key: string } {
  let v = header;
  const q = v.indexOf('?');
  if (q >= 0) {
    const params = new Map(parseQuery(v.slice(q + 1)));
    const version = params.get('versionId');
    if (version !== undefined && version !== 'null') throw new S3Error('InvalidArgument', 'Versions are not supported', { ArgumentName: 'x-amz-copy-source' });
    v = v.slice(0, q);
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(v);
  } catch {
    throw new S3Error('InvalidArgument', 'Invalid copy source encoding', { ArgumentName: 'x-amz-copy-source' });
  }
  if (decoded.startsWith('/')) decoded = decoded.slice(1);
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) throw new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', { ArgumentName: 'x-amz-copy-source' });
  const bucket = decoded.slice(0, slash);
  const key = decoded.slice(slash + 1);
  checkBucketName(bucket);
  checkKey(key);
  return { bucket, key };
}

/** Maps anything thrown to the S3 error to answer (never a stack trace; unknown errors are InternalError). */
export function toS3Error(err: unknown): S3Error {
  if (err instanceof S3Error) return err;
  if (err instanceof SigV4Error) return new S3Error(err.code, err.message);
  if (err instanceof ChunkedBodyError) return new S3Error(err.code, err.message);
  if (err instanceof BlobTooLargeError) return new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', { MaxSizeAllowed: String(err.limit) });
  if (err instanceof StoreInputError) return new S3Error('InvalidArgument', err.message);
  if (err instanceof StoreConflictError) return new S3Error('InvalidRequest', err.message);
  const e = err as { statusCode?: unknown; code?: unknown };
  if (e.code === 'ECONNRESET' || e.code === 'ERR_STREAM_PREMATURE_CLOSE' || (err instanceof Error && err.message === 'aborted')) {
    return new S3Error('IncompleteBody', 'The request body ended early');
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return e.statusCode === 413 ? new S3Error('EntityTooLarge', 'Request too large') : new S3Error('InvalidRequest', 'Invalid request');
  }
  return new S3Error('InternalError', 'We encountered an internal error. Please try again.');
}
