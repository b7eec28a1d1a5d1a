// Buckets: the S3 storage endpoint spoken directly with the SDK's own SigV4 signer (path-style URLs). Create,
// list, delete buckets; put (string, bytes or a file streamed from disk), get (to memory or to a file), list
// (ListObjectsV2 with continuation), delete objects; and directory sync both ways by MD5/ETag.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { HearthApiError, HearthNetworkError } from './errors.ts';
import { backoffMs, isIdempotentRead, retryAfterSeconds, sleep, type FetchLike, type RetryOptions } from './http.ts';
import { EMPTY_SHA256, sha256Hex, signV4, UNSIGNED_PAYLOAD, uriEncode } from './sigv4.ts';

/** Credentials and endpoint of the storage client. */
export interface StorageOptions {
  /** Base URL of the S3 endpoint (what `GET /settings` answers as `storage`), e.g. `http://host:8080/storage`. */
  endpoint: string;
  /** Access key: the account's email. */
  accessKeyId: string;
  /** Secret: the account's API token. */
  secretAccessKey: string;
  region?: string;
  fetch?: FetchLike;
  retry: Required<RetryOptions>;
}

/** A bucket as ListBuckets shows it. */
export interface BucketInfo {
  name: string;
  creationDate: string;
}

/** An object as ListObjectsV2 shows it. */
export interface ObjectInfo {
  key: string;
  size: number;
  /** The ETag without quotes (the MD5 hex of a single-part object). */
  etag: string;
  lastModified: string;
}

/** One page of ListObjectsV2. */
export interface ObjectPage {
  objects: ObjectInfo[];
  /** Common prefixes when a delimiter was given. */
  prefixes: string[];
  isTruncated: boolean;
  nextContinuationToken?: string;
}

/** What {@link Buckets.put} uploads: text (UTF-8), bytes, or a file streamed from disk. */
export type PutBody = string | Uint8Array | { file: string };

/** Transfer progress: bytes done of `total` (when known). */
export type TransferProgress = (done: number, total: number | undefined) => void;

/** What a sync did. */
export interface SyncReport {
  /** Keys (sync-to) or relative paths (sync-from) copied. */
  copied: string[];
  /** Unchanged, left alone. */
  skipped: string[];
  /** Removed on the destination because the source has them no more (with `delete: true`). */
  deleted: string[];
  bytes: number;
}

const NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function decodeXml(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, e: string) => {
    switch (e) {
      case 'amp': return '&';
      case 'lt': return '<';
      case 'gt': return '>';
      case 'quot': return '"';
      case 'apos': return "'";
      default: return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    }
  });
}

function tag(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  return m ? decodeXml(m[1]) : undefined;
}

function blocks(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, 'g'))].map((m) => m[1]);
}

/** Checks a bucket name (S3 rules: 3–63 of a–z 0–9 . -, starting and ending with a letter or digit). */
export function checkBucketName(name: string, field = 'bucket'): void {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new HearthApiError(400, 'VALIDATION', `bucket name ${JSON.stringify(name)}: 3–63 characters of a–z, 0–9, '.', '-', starting and ending with a letter or digit`, field);
  }
}

/** Checks an object key (1–1024 bytes; no `.` or `..` path segment, which URLs would resolve away). */
export function checkKey(key: string, field = 'key'): void {
  if (typeof key !== 'string' || key === '' || Buffer.byteLength(key) > 1024) throw new HearthApiError(400, 'VALIDATION', `object key must be 1–1024 bytes, got ${JSON.stringify(key)}`, field);
  if (key.split('/').some((s) => s === '.' || s === '..')) {
    throw new HearthApiError(400, 'VALIDATION', `object key ${JSON.stringify(key)} has a "." or ".." segment, which an HTTP URL cannot carry`, field);
  }
}

/** The storage (S3) client of one account. */
export class Buckets {
  private readonly endpoint: URL;
  private readonly fetch: FetchLike;

  constructor(private readonly opts: StorageOptions) {
    this.endpoint = new URL(opts.endpoint.replace(/\/+$/, ''));
    this.fetch = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  private pathOf(bucket?: string, key?: string): string {
    const base = this.endpoint.pathname.replace(/\/+$/, '');
    if (bucket === undefined) return base + '/';
    const b = `${base}/${uriEncode(bucket)}`;
    return key === undefined ? b : `${b}/${uriEncode(key, true)}`;
  }

  /**
   * Sends one signed request; returns the response when its status is below 300 (or in `ok`). GET/HEAD are retried
   * on network errors, 429, 500 and 503; S3 errors become {@link HearthApiError} with the S3 code (`NoSuchKey`…).
   */
  private async request(
    method: 'GET' | 'HEAD' | 'PUT' | 'DELETE' | 'POST',
    path: string,
    opts: { query?: Array<[string, string]>; body?: () => { body: RequestInit['body']; hash: string; length?: number }; headers?: Record<string, string>; signal?: AbortSignal; ok?: number[] } = {},
  ): Promise<Response> {
    const query = opts.query ?? [];
    const qs = query.map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`).join('&');
    const url = `${this.endpoint.origin}${path}${qs ? `?${qs}` : ''}`;
    const what = `${method} ${decodeURIComponent(path)}`;
    const retries = isIdempotentRead(method) ? this.opts.retry.retries : 0;
    for (let attempt = 0; ; attempt++) {
      const b = opts.body?.() ?? { body: undefined, hash: EMPTY_SHA256 };
      const extra: Record<string, string> = { ...opts.headers };
      if (b.length !== undefined) extra['content-length'] = String(b.length);
      const headers = signV4({
        method,
        path,
        query,
        host: this.endpoint.host,
        headers: extra,
        payloadHash: b.hash,
        accessKeyId: this.opts.accessKeyId,
        secretAccessKey: this.opts.secretAccessKey,
        region: this.opts.region,
      });
      let res: Response;
      try {
        const init: RequestInit & { duplex?: 'half' } = { method, headers, body: b.body, signal: opts.signal };
        if (b.body instanceof ReadableStream) init.duplex = 'half';
        res = await this.fetch(url, init);
      } catch (e) {
        if (opts.signal?.aborted) throw e;
        if (attempt < retries) {
          await sleep(backoffMs(attempt, this.opts.retry), opts.signal);
          continue;
        }
        const cause = (e as { cause?: { code?: string; message?: string } }).cause;
        throw new HearthNetworkError(`${what}: cannot reach ${this.endpoint.origin} (${cause?.code ?? cause?.message ?? (e as Error).message})`, what, { cause: e });
      }
      if (res.status < 300 || opts.ok?.includes(res.status)) return res;
      const retryAfter = retryAfterSeconds(res.headers.get('retry-after'));
      const text = await res.text().catch(() => '');
      if ([429, 500, 503].includes(res.status) && attempt < retries) {
        await sleep(backoffMs(attempt, this.opts.retry, retryAfter), opts.signal);
        continue;
      }
      const code = tag(text, 'Code') ?? (res.status === 404 ? 'NotFound' : `HTTP${res.status}`);
      const message = tag(text, 'Message') ?? `${what}: HTTP ${res.status}`;
      throw new HearthApiError(res.status, code, message, undefined, what, retryAfter);
    }
  }

  /** Creates a bucket (an existing one of the caller's is fine). */
  async create(bucket: string): Promise<void> {
    checkBucketName(bucket);
    const res = await this.request('PUT', this.pathOf(bucket), { ok: [409] });
    const text = await res.text();
    if (res.status === 409 && tag(text, 'Code') !== 'BucketAlreadyOwnedByYou') throw new HearthApiError(409, tag(text, 'Code') ?? 'BucketAlreadyExists', tag(text, 'Message') ?? 'bucket exists', 'bucket');
  }

  /** The caller's buckets. */
  async list(): Promise<BucketInfo[]> {
    const xml = await (await this.request('GET', this.pathOf())).text();
    return blocks(xml, 'Bucket').map((b) => ({ name: tag(b, 'Name') ?? '', creationDate: tag(b, 'CreationDate') ?? '' }));
  }

  /** Whether the bucket exists and is the caller's. */
  async exists(bucket: string): Promise<boolean> {
    checkBucketName(bucket);
    const res = await this.request('HEAD', this.pathOf(bucket), { ok: [404] });
    return res.status !== 404;
  }

  /** Deletes an empty bucket (`BucketNotEmpty` otherwise); with `force`, deletes its objects first. */
  async delete(bucket: string, opts: { force?: boolean } = {}): Promise<void> {
    checkBucketName(bucket);
    if (opts.force) for await (const o of this.objects(bucket)) await this.deleteObject(bucket, o.key);
    await (await this.request('DELETE', this.pathOf(bucket))).arrayBuffer();
  }

  /** One page of ListObjectsV2. */
  async listObjects(bucket: string, opts: { prefix?: string; delimiter?: string; maxKeys?: number; continuationToken?: string; signal?: AbortSignal } = {}): Promise<ObjectPage> {
    checkBucketName(bucket);
    const query: Array<[string, string]> = [['list-type', '2']];
    if (opts.prefix) query.push(['prefix', opts.prefix]);
    if (opts.delimiter) query.push(['delimiter', opts.delimiter]);
    if (opts.maxKeys !== undefined) query.push(['max-keys', String(opts.maxKeys)]);
    if (opts.continuationToken) query.push(['continuation-token', opts.continuationToken]);
    const xml = await (await this.request('GET', this.pathOf(bucket), { query, signal: opts.signal })).text();
    return {
      objects: blocks(xml, 'Contents').map((c) => ({
        key: tag(c, 'Key') ?? '',
        size: Number(tag(c, 'Size') ?? 0),
        etag: (tag(c, 'ETag') ?? '').replace(/"/g, ''),
        lastModified: tag(c, 'LastModified') ?? '',
      })),
      prefixes: blocks(xml, 'CommonPrefixes').map((p) => tag(p, 'Prefix') ?? ''),
      isTruncated: tag(xml, 'IsTruncated') === 'true',
      nextContinuationToken: tag(xml, 'NextContinuationToken'),
    };
  }

  /** Every object of a bucket (under `prefix`), following continuation tokens. */
  async *objects(bucket: string, opts: { prefix?: string; pageSize?: number; signal?: AbortSignal } = {}): AsyncGenerator<ObjectInfo> {
    let token: string | undefined;
    do {
      const page = await this.listObjects(bucket, { prefix: opts.prefix, maxKeys: opts.pageSize, continuationToken: token, signal: opts.signal });
      yield* page.objects;
      token = page.isTruncated ? page.nextContinuationToken : undefined;
    } while (token);
  }

  /** Uploads an object; returns its ETag. A file is streamed from disk (its size announced, the payload unsigned). */
  async put(bucket: string, key: string, body: PutBody, opts: { contentType?: string; onProgress?: TransferProgress; signal?: AbortSignal } = {}): Promise<string> {
    checkBucketName(bucket);
    checkKey(key);
    const headers: Record<string, string> = { 'content-type': opts.contentType ?? 'application/octet-stream' };
    let make: () => { body: RequestInit['body']; hash: string; length?: number };
    let total: number;
    if (typeof body === 'string' || body instanceof Uint8Array) {
      const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
      total = bytes.byteLength;
      const hash = sha256Hex(bytes);
      make = () => ({ body: bytes, hash, length: bytes.byteLength });
    } else if (body && typeof body === 'object' && typeof body.file === 'string') {
      const path = body.file;
      const st = await stat(path);
      if (!st.isFile()) throw new HearthApiError(400, 'VALIDATION', `${path} is not a file`, 'file');
      total = st.size;
      make = () => {
        let done = 0;
        const counter = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            done += chunk.length;
            opts.onProgress?.(done, total);
            cb(null, chunk);
          },
        });
        const stream = createReadStream(path).pipe(counter);
        return { body: Readable.toWeb(stream), hash: UNSIGNED_PAYLOAD, length: total };
      };
    } else {
      throw new HearthApiError(400, 'VALIDATION', 'body must be a string, bytes or {file: path}', 'body');
    }
    const res = await this.request('PUT', this.pathOf(bucket, key), { body: make, headers, signal: opts.signal });
    await res.arrayBuffer();
    if (typeof body === 'string' || body instanceof Uint8Array) opts.onProgress?.(total, total);
    return (res.headers.get('etag') ?? '').replace(/"/g, '');
  }

  /** Downloads an object into memory. */
  async get(bucket: string, key: string, opts: { range?: { start: number; end?: number }; signal?: AbortSignal } = {}): Promise<Buffer> {
    checkBucketName(bucket);
    checkKey(key);
    const headers: Record<string, string> = {};
    if (opts.range) headers.range = `bytes=${opts.range.start}-${opts.range.end ?? ''}`;
    const res = await this.request('GET', this.pathOf(bucket, key), { headers, signal: opts.signal });
    return Buffer.from(await res.arrayBuffer());
  }

  /** Downloads an object to a file (streamed; written to a temporary name then renamed). Returns its size. */
  async download(bucket: string, key: string, file: string, opts: { onProgress?: TransferProgress; signal?: AbortSignal } = {}): Promise<number> {
    checkBucketName(bucket);
    checkKey(key);
    const res = await this.request('GET', this.pathOf(bucket, key), { signal: opts.signal });
    const total = Number(res.headers.get('content-length') ?? NaN);
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.hearth-part`;
    let done = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        done += chunk.length;
        opts.onProgress?.(done, Number.isFinite(total) ? total : undefined);
        cb(null, chunk);
      },
    });
    try {
      if (res.body) await pipeline(Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>), counter, createWriteStream(tmp));
      else await pipeline(Readable.from([]), createWriteStream(tmp));
      await rename(tmp, file);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    return done;
  }

  /** Metadata of an object (undefined when there is none). */
  async head(bucket: string, key: string): Promise<{ size: number; etag: string; contentType: string | null } | undefined> {
    checkBucketName(bucket);
    checkKey(key);
    const res = await this.request('HEAD', this.pathOf(bucket, key), { ok: [404] });
    if (res.status === 404) return undefined;
    return { size: Number(res.headers.get('content-length') ?? 0), etag: (res.headers.get('etag') ?? '').replace(/"/g, ''), contentType: res.headers.get('content-type') };
  }

  /** Deletes an object (absent is fine). */
  async deleteObject(bucket: string, key: string): Promise<void> {
    checkBucketName(bucket);
    checkKey(key);
    await (await this.request('DELETE', this.pathOf(bucket, key))).arrayBuffer();
  }

  /**
   * Uploads a local directory to `bucket` under `prefix`: files whose size and MD5 match the object's ETag are
   * skipped; with `delete`, objects under the prefix with no local file are removed. The bucket is created if missing.
   */
  async syncTo(dir: string, bucket: string, opts: { prefix?: string; delete?: boolean; onFile?: (key: string, bytes: number) => void } = {}): Promise<SyncReport> {
    const prefix = opts.prefix ?? '';
    if (!(await this.exists(bucket))) await this.create(bucket);
    const remote = new Map<string, ObjectInfo>();
    for await (const o of this.objects(bucket, { prefix })) remote.set(o.key, o);
    const report: SyncReport = { copied: [], skipped: [], deleted: [], bytes: 0 };
    const local = await walkFiles(dir);
    const seen = new Set<string>();
    for (const rel of local) {
      const key = prefix + rel.split(sep).join('/');
      seen.add(key);
      const path = join(dir, rel);
      const size = (await stat(path)).size;
      const r = remote.get(key);
      if (r && r.size === size && r.etag === (await md5File(path))) {
        report.skipped.push(key);
        continue;
      }
      await this.put(bucket, key, { file: path });
      report.copied.push(key);
      report.bytes += size;
      opts.onFile?.(key, size);
    }
    if (opts.delete) {
      for (const key of remote.keys()) {
        if (seen.has(key)) continue;
        await this.deleteObject(bucket, key);
        report.deleted.push(key);
      }
    }
    return report;
  }

  /**
   * Downloads `bucket` (objects under `prefix`) into a local directory, the prefix stripped: files whose size and
   * MD5 match are skipped; with `delete`, local files with no object are removed. Keys that would escape the
   * directory are refused.
   */
  async syncFrom(bucket: string, dir: string, opts: { prefix?: string; delete?: boolean; onFile?: (path: string, bytes: number) => void } = {}): Promise<SyncReport> {
    const prefix = opts.prefix ?? '';
    const report: SyncReport = { copied: [], skipped: [], deleted: [], bytes: 0 };
    const wanted = new Set<string>();
    for await (const o of this.objects(bucket, { prefix })) {
      const rel = o.key.slice(prefix.length);
      if (rel === '' || rel.endsWith('/')) continue; // "directory" markers
      const path = join(dir, ...rel.split('/'));
      const back = relative(dir, path);
      if (back.startsWith('..') || back === '' || rel.split('/').some((s) => s === '..' || s === '.')) {
        throw new HearthApiError(400, 'VALIDATION', `object key ${JSON.stringify(o.key)} would be written outside ${dir}`, 'key');
      }
      wanted.add(back);
      const have = await stat(path).catch(() => undefined);
      if (have?.isFile() && have.size === o.size && (await md5File(path)) === o.etag) {
        report.skipped.push(back);
        continue;
      }
      const bytes = await this.download(bucket, o.key, path);
      report.copied.push(back);
      report.bytes += bytes;
      opts.onFile?.(back, bytes);
    }
    if (opts.delete) {
      for (const rel of await walkFiles(dir).catch(() => [] as string[])) {
        if (wanted.has(rel)) continue;
        await unlink(join(dir, rel));
        report.deleted.push(rel);
      }
    }
    return report;
  }
}

/** Hex MD5 of a file (what S3 answers as the ETag of a single-part object). */
export async function md5File(path: string): Promise<string> {
  const h = createHash('md5');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Relative paths of every regular file under `dir` (symbolic links are not followed), sorted. */
export async function walkFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && !e.name.endsWith('.hearth-part')) out.push(relative(dir, p));
    }
  };
  await walk(dir);
  return out.sort();
}
