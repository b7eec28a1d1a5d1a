// Content-addressed blob store on local disk: object bytes live at <dir>/<h0h1>/<h2h3>/<sha256>, never at a path
// derived from an object key. Writes stream to a temp file in <dir>/tmp (same filesystem), are fsynced, then
// renamed into place (and the directory fsynced), so an acknowledged blob survives a crash. Identical content
// is stored once. A blob is deleted only when the store says nothing refers to it and no request in flight
// has pinned it (per-hash locks order pins, renames and deletions within this process).
import { createHash, randomUUID } from 'node:crypto';
import type { ReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

const HASH_RE = /^[0-9a-f]{64}$/;

/** The body was longer than allowed. */
export class BlobTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`the body exceeds ${limit} bytes`);
    this.name = 'BlobTooLargeError';
  }
}

/** A blob just written: its address, digests, size, and the pin that keeps it alive until released. */
export interface WrittenBlob {
  /** Hex SHA-256 (the address). */
  hash: string;
  /** Hex MD5 (the S3 ETag of a single-part object). */
  md5: string;
  size: number;
  /** Releases the pin; call once the reference to the blob is committed (or abandoned). Idempotent. */
  release: () => void;
}

/** Options of {@link BlobStore.write}. */
export interface WriteOptions {
  /** Refuse (BlobTooLargeError) beyond this many bytes. */
  maxBytes?: number;
}

/** See the file comment. */
export class BlobStore {
  private readonly pins = new Map<string, number>();
  private readonly locks = new Map<string, Promise<unknown>>();

  /** @param dir the root directory (created by {@link init}) */
  constructor(readonly dir: string) {}

  /** Creates the directories and removes temp files a crash left behind. */
  async init(): Promise<void> {
    await mkdir(join(this.dir, 'tmp'), { recursive: true });
    for (const f of await readdir(join(this.dir, 'tmp'))) await rm(join(this.dir, 'tmp', f), { force: true, recursive: true });
  }

  /** The path of a blob. @throws Error when `hash` is not 64 lower-case hex digits */
  pathOf(hash: string): string {
    if (!HASH_RE.test(hash)) throw new Error('not a blob hash');
    return join(this.dir, hash.slice(0, 2), hash.slice(2, 4), hash);
  }

  /**
   * Streams bytes into a new blob (hashing SHA-256 and MD5 on the way) and pins it. If the source throws,
   * nothing is kept. Dedup: identical content lands on the same path (the rename replaces it atomically).
   */
  async write(source: AsyncIterable<Uint8Array>, options: WriteOptions = {}): Promise<WrittenBlob> {
    const max = options.maxBytes ?? Number.MAX_SAFE_INTEGER;
    const tmp = join(this.dir, 'tmp', randomUUID());
    const sha = createHash('sha256');
    const md5 = createHash('md5');
    let size = 0;
    const fh = await open(tmp, 'wx', 0o600);
    let hash: string;
    try {
      try {
        for await (const chunk of source) {
          size += chunk.length;
          if (size > max) throw new BlobTooLargeError(max);
          sha.update(chunk);
          md5.update(chunk);
          let off = 0;
          while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      hash = sha.digest('hex');
      const final = this.pathOf(hash);
      const sub = join(this.dir, hash.slice(0, 2), hash.slice(2, 4));
      const created = await mkdir(sub, { recursive: true });
      await this.withLock(hash, async () => {
        this.pin(hash);
        await rename(tmp, final);
      });
      await fsyncDir(sub);
      if (created !== undefined) {
        await fsyncDir(join(this.dir, hash.slice(0, 2)));
        await fsyncDir(this.dir);
      }
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return { hash, md5: md5.digest('hex'), size, release: this.releaser(hash) };
  }

  /**
   * Pins an existing blob (e.g. the source of a copy) so no deletion races the reference being committed.
   * @returns the release function, or undefined when the blob does not exist
   */
  async pinExisting(hash: string): Promise<(() => void) | undefined> {
    const path = this.pathOf(hash);
    return this.withLock(hash, async () => {
      try {
        await stat(path);
      } catch {
        return undefined;
      }
      this.pin(hash);
      return this.releaser(hash);
    });
  }

  /** Size of a blob in bytes, or undefined when absent. */
  async size(hash: string): Promise<number | undefined> {
    try {
      return (await stat(this.pathOf(hash))).size;
    } catch {
      return undefined;
    }
  }

  /**
   * Opens a blob for reading, bytes `start`…`end` inclusive (default: all). The file is opened before this
   * returns, so a missing blob fails here rather than midway through a response.
   */
  async read(hash: string, range?: { start: number; end: number }): Promise<ReadStream> {
    const fh = await open(this.pathOf(hash), 'r');
    return fh.createReadStream(range ? { start: range.start, end: range.end, autoClose: true } : { autoClose: true });
  }

  /**
   * Deletes the blob when nothing pins it and `isReferenced` (the store's `isBlobReferenced`) says no.
   * @returns whether it was deleted
   */
  async deleteIfUnreferenced(hash: string, isReferenced: (hash: string) => Promise<boolean>): Promise<boolean> {
    if (!HASH_RE.test(hash)) return false;
    return this.withLock(hash, async () => {
      if (this.pins.has(hash) || (await isReferenced(hash))) return false;
      try {
        await unlink(this.pathOf(hash));
        return true;
      } catch {
        return false;
      }
    });
  }

  private pin(hash: string): void {
    this.pins.set(hash, (this.pins.get(hash) ?? 0) + 1);
  }

  private releaser(hash: string): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const n = (this.pins.get(hash) ?? 1) - 1;
      if (n <= 0) this.pins.delete(hash);
      else this.pins.set(hash, n);
    };
  }

  private async withLock<T>(hash: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(hash) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(hash, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(hash) === tail) this.locks.delete(hash);
    }
  }
}

async function fsyncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
