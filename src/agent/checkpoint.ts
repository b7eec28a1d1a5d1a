// Application-level checkpoints: the files an instance left in its working directory (those changed since its
// inputs were staged), packed into one archive the coordinator keeps, and unpacked into the working directory of a
// later attempt before its process starts. A program that resumes from the files it left continues where it was.
//
// The archive: the line `HEARTH-CHECKPOINT 1`, the byte length of a JSON header on its own line, the header
// `{"files":[{"path","size","mode"}…]}`, then the files' bytes in header order. Unpacking goes through stageFile
// (no '..', no absolute path, no symlink followed on the way or at the file) and checks every size and the total.
import { createReadStream } from 'node:fs';
import { chmod, lstat, open } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { collectResults, safeJoin, stageFile, type FileStamp } from './workdir.ts';

const MAGIC = 'HEARTH-CHECKPOINT 1\n';
/** Largest header accepted, bytes. */
const MAX_HEADER_BYTES = 64 * 1024 * 1024;
/** Most files in one checkpoint. */
export const MAX_CHECKPOINT_FILES = 100_000;

/** One file of a checkpoint. */
export interface CheckpointEntry {
  /** Relative POSIX path under the working directory. */
  path: string;
  size: number;
  /** Permission bits kept (0o755 at most: no setuid, no group/other write). */
  mode: number;
}

/** A packed checkpoint, ready to stream. */
export interface PackedCheckpoint {
  files: CheckpointEntry[];
  /** Bytes of the whole archive. */
  size: number;
  /** The archive's bytes (a fresh stream per call); fails if a file changed size meanwhile. */
  stream(): Readable;
}

/**
 * Packs the files of `dir` that changed since `staged` (the inputs as staged; undefined: every file). Symlinks and
 * other non-regular files are skipped, as for results.
 */
export async function packCheckpoint(dir: string, staged?: ReadonlyMap<string, FileStamp>): Promise<PackedCheckpoint> {
  const listed = await collectResults(dir, { unchangedSince: staged });
  if (listed.length > MAX_CHECKPOINT_FILES) throw new Error(`the working directory holds over ${MAX_CHECKPOINT_FILES} files`);
  const files: CheckpointEntry[] = [];
  for (const f of listed) {
    const st = await lstat(join(dir, f.path)).catch(() => null);
    if (!st?.isFile()) continue;
    files.push({ path: f.path, size: st.size, mode: st.mode & 0o755 });
  }
  const header = Buffer.from(JSON.stringify({ files }), 'utf8');
  const head = Buffer.concat([Buffer.from(MAGIC, 'utf8'), Buffer.from(`${header.length}\n`, 'utf8'), header]);
  const size = head.length + files.reduce((s, f) => s + f.size, 0);
  const stream = (): Readable =>
    Readable.from(
      (async function* () {
        yield head;
        for (const f of files) {
          let n = 0;
          if (f.size > 0) {
            for await (const chunk of createReadStream(join(dir, f.path), { start: 0, end: f.size - 1 }) as AsyncIterable<Buffer>) {
              n += chunk.length;
              yield chunk;
            }
          }
          if (n !== f.size) throw new Error(`${JSON.stringify(f.path)} changed while it was packed`);
        }
      })(),
      { objectMode: false },
    );
  return { files, size, stream };
}

/** Reads exactly `n` bytes at `pos` of an open file. */
async function readAt(fh: Awaited<ReturnType<typeof open>>, pos: number, n: number): Promise<Buffer> {
  const buf = Buffer.alloc(n);
  let got = 0;
  while (got < n) {
    const { bytesRead } = await fh.read(buf, got, n - got, pos + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

/**
 * Reads and checks the header of the archive at `file`: returns its entries and where the bytes start. Throws an
 * Error saying what is wrong (not an archive, a bad entry, sizes that do not add up to the file's).
 */
export async function readCheckpointHeader(file: string): Promise<{ files: CheckpointEntry[]; dataStart: number }> {
  const fh = await open(file, 'r');
  try {
    const total = (await fh.stat()).size;
    const first = await readAt(fh, 0, Math.min(total, MAGIC.length + 24));
    if (first.subarray(0, MAGIC.length).toString('latin1') !== MAGIC) throw new Error('not a hearth checkpoint');
    const rest = first.subarray(MAGIC.length).toString('latin1');
    const nl = rest.indexOf('\n');
    if (nl <= 0 || !/^\d{1,12}$/.test(rest.slice(0, nl))) throw new Error('checkpoint header length unreadable');
    const headerLen = Number(rest.slice(0, nl));
    if (headerLen > MAX_HEADER_BYTES) throw new Error(`checkpoint header over ${MAX_HEADER_BYTES} bytes`);
    const headerStart = MAGIC.length + nl + 1;
    if (headerStart + headerLen > total) throw new Error('checkpoint truncated in its header');
    let parsed: unknown;
    try {
      parsed = JSON.parse((await readAt(fh, headerStart, headerLen)).toString('utf8'));
    } catch {
      throw new Error('checkpoint header is not JSON');
    }
    const list = (parsed as { files?: unknown } | null)?.files;
    if (!Array.isArray(list)) throw new Error('checkpoint header lists no files');
    if (list.length > MAX_CHECKPOINT_FILES) throw new Error(`checkpoint holds over ${MAX_CHECKPOINT_FILES} files`);
    const files: CheckpointEntry[] = [];
    const seen = new Set<string>();
    let sum = 0;
    for (const [k, x] of list.entries()) {
      const o = (x ?? {}) as Record<string, unknown>;
      const { path, size, mode } = o;
      if (typeof path !== 'string' || typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0 || typeof mode !== 'number' || !Number.isInteger(mode)) {
        throw new Error(`checkpoint entry ${k} is malformed`);
      }
      safeJoin('/checkpoint', path); // throws for '', NUL, absolute, '.', '..', empty segments
      if (seen.has(path)) throw new Error(`checkpoint holds ${JSON.stringify(path)} twice`);
      seen.add(path);
      files.push({ path, size, mode: mode & 0o755 });
      sum += size;
    }
    const dataStart = headerStart + headerLen;
    if (dataStart + sum !== total) throw new Error(`checkpoint is ${total} bytes, its header accounts for ${dataStart + sum}`);
    return { files, dataStart };
  } finally {
    await fh.close();
  }
}

/**
 * Unpacks the archive at `file` into `dir` (replacing files already there, e.g. staged inputs: the checkpoint's
 * files win). Paths are checked and written as input staging writes them (stageFile: never through a symlink,
 * never outside `dir`). Returns how many files were written. Throws on a malformed archive or a path refused; what
 * was written before stays (the caller starts over from a fresh directory).
 */
export async function unpackCheckpoint(file: string, dir: string): Promise<number> {
  const { files, dataStart } = await readCheckpointHeader(file);
  let pos = dataStart;
  for (const f of files) {
    const data = f.size === 0 ? Buffer.alloc(0) : createReadStream(file, { start: pos, end: pos + f.size - 1 });
    const n = await stageFile(dir, f.path, data);
    if (n !== f.size) throw new Error(`checkpoint file ${JSON.stringify(f.path)}: wrote ${n} bytes of ${f.size}`);
    // stageFile made a regular file there (never a symlink): its mode may now follow the archive's.
    const target = safeJoin(dir, f.path);
    const st = await lstat(target);
    if (st.isFile()) await chmod(target, f.mode | 0o600);
    pos += f.size;
  }
  return files.length;
}
