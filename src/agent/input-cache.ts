// The agent's cache of input files: each object is downloaded once per (account, bucket, key, etag, size) and kept
// under <workRoot>/cache, so the second instance of a task (or the next task over the same inputs) stages from
// disk. Concurrent requests for the same object share one download; the oldest entries go when the cache is full.
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** An input object as the coordinator lists it. */
export interface InputRef {
  /** The bucket it comes from (absent: the files source does not say). */
  bucket?: string;
  /** Object key: the relative path the file takes in the working directory. */
  key: string;
  /** Bytes. */
  size: number;
  /** Content tag (S3 ETag); absent: the cache trusts key and size alone (a same-size rewrite is then missed). */
  etag?: string;
}

/** A download that delivered a different number of bytes than listed (the object changed meanwhile, or the link broke). */
export class InputSizeError extends Error {
  constructor(key: string, expected: number, got: number) {
    super(`input ${JSON.stringify(key)}: expected ${expected} bytes, received ${got}`);
    this.name = 'InputSizeError';
  }
}

/** See the file comment. */
export class InputCache {
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly pins = new Map<string, number>();
  private ready: Promise<void> | null = null;
  /** Objects downloaded and objects served from disk (tests, diagnostics). */
  readonly stats = { downloads: 0, hits: 0 };

  /**
   * @param dir the cache directory (created when first used)
   * @param maxBytes total size kept, bytes (default 10 GiB); least recently used entries are removed beyond it
   */
  constructor(
    readonly dir: string,
    private readonly maxBytes = 10 * 1024 ** 3,
  ) {}

  /** The cache file name of an object: a hash of who owns it and what it is. */
  static entryName(accountId: string, input: InputRef): string {
    return createHash('sha256')
      .update(JSON.stringify([accountId, input.bucket ?? '', input.key, input.etag ?? '', input.size]))
      .digest('hex');
  }

  /**
   * Makes the object available on disk (downloading it with `download` unless cached) and calls `use` with its
   * path; the entry cannot be evicted while `use` runs. `use` must not modify the file (copy it).
   * @throws InputSizeError when the download's length differs from `input.size`; whatever `download` throws
   */
  async with<T>(accountId: string, input: InputRef, download: () => Promise<Readable | NodeJS.ReadableStream>, use: (path: string) => Promise<T>): Promise<T> {
    this.ready ??= mkdir(this.dir, { recursive: true, mode: 0o700 }).then(() => undefined);
    await this.ready;
    const name = InputCache.entryName(accountId, input);
    const path = join(this.dir, name);
    this.pins.set(name, (this.pins.get(name) ?? 0) + 1);
    try {
      for (;;) {
        const running = this.inflight.get(name);
        if (running) {
          await running;
          continue;
        }
        // Registered before any await, so that a concurrent request for the same object waits for this one.
        const p = this.ensure(path, input, download);
        this.inflight.set(name, p);
        try {
          await p;
        } finally {
          this.inflight.delete(name);
        }
        break;
      }
      return await use(path);
    } finally {
      const n = (this.pins.get(name) ?? 1) - 1;
      if (n <= 0) this.pins.delete(name);
      else this.pins.set(name, n);
    }
  }

  /** A cache hit (the entry is there with the right size), or a download into the cache. */
  private async ensure(path: string, input: InputRef, download: () => Promise<Readable | NodeJS.ReadableStream>): Promise<void> {
    const st = await stat(path).catch(() => null);
    if (st?.isFile() && st.size === input.size) {
      this.stats.hits++;
      const now = new Date();
      await utimes(path, now, now).catch(() => undefined);
      return;
    }
    await this.fetch(path, input, download);
  }

  private async fetch(path: string, input: InputRef, download: () => Promise<Readable | NodeJS.ReadableStream>): Promise<void> {
    const tmp = join(this.dir, `.tmp-${randomUUID()}`);
    let got = 0;
    try {
      const source = await download();
      const count = new Transform({
        transform(chunk: Buffer, _enc, done) {
          got += chunk.length;
          done(null, chunk);
        },
      });
      await pipeline(source, count, createWriteStream(tmp, { mode: 0o600 }));
      if (got !== input.size) throw new InputSizeError(input.key, input.size, got);
      await rename(tmp, path);
      this.stats.downloads++;
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    await this.evict();
  }

  /** Removes the least recently used entries (not in use) until the cache fits in maxBytes. */
  private async evict(): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const entries: Array<{ name: string; size: number; usedMs: number }> = [];
    let total = 0;
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const st = await stat(join(this.dir, name)).catch(() => null);
      if (!st?.isFile()) continue;
      entries.push({ name, size: st.size, usedMs: st.mtimeMs });
      total += st.size;
    }
    if (total <= this.maxBytes) return;
    entries.sort((a, b) => a.usedMs - b.usedMs);
    for (const e of entries) {
      if (total <= this.maxBytes) break;
      if (this.pins.has(e.name)) continue;
      await rm(join(this.dir, e.name), { force: true });
      total -= e.size;
    }
  }
}
