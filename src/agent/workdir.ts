// An instance's working directory: object keys mapped safely to paths under it, inputs staged without
// following symlinks, and the files the instance left collected (filtered, symlinks skipped) for upload.
import { constants as fsConstants } from 'node:fs';
import type { Dirent } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, rm } from 'node:fs/promises';
import { isAbsolute, join, parse, resolve, sep } from 'node:path';

/** Size and modification time of a file, as captured by {@link snapshotFiles}. */
export interface FileStamp {
  /** Bytes. */
  size: number;
  /** Modification time, ms since the epoch (sub-ms precision where the filesystem has it). */
  mtimeMs: number;
}

/** Options of {@link collectResults}. */
export interface CollectOptions {
  /** The task's `resultsWhitelist`: a JS regular expression a relative path must match to be kept. */
  whitelist?: string;
  /** The task's `resultsBlacklist`: a JS regular expression; a relative path that matches is dropped. */
  blacklist?: string;
  /** Relative paths never collected. */
  exclude?: ReadonlySet<string>;
  /** Files as staged before the run ({@link snapshotFiles}): skipped when their size and mtime are unchanged. */
  unchangedSince?: ReadonlyMap<string, FileStamp>;
}

/** Checks a relative object key/path and returns its segments; throws an Error saying what is wrong. */
function segmentsOf(relativePath: string): string[] {
  const shown = JSON.stringify(relativePath.length > 200 ? `${relativePath.slice(0, 200)}…` : relativePath);
  if (relativePath.length === 0) throw new Error('path is empty');
  if (relativePath.includes('\0')) throw new Error(`path ${shown} contains a NUL byte`);
  if (relativePath.startsWith('/') || isAbsolute(relativePath)) throw new Error(`path ${shown} is absolute`);
  const segments = relativePath.split('/');
  for (const s of segments) {
    if (s === '') throw new Error(`path ${shown} has an empty segment`);
    if (s === '..') throw new Error(`path ${shown} climbs out with '..'`);
    if (s === '.') throw new Error(`path ${shown} has a '.' segment`);
  }
  return segments;
}

/**
 * The absolute path of `relativePath` (an object key such as `a/b/c.txt`, '/'-separated) under `root`. Throws an
 * Error for an empty path, a NUL byte, an absolute path, and empty, '.' or '..' segments. Pure (no filesystem
 * access: symlinks are the business of {@link stageFile} and {@link collectResults}).
 */
export function safeJoin(root: string, relativePath: string): string {
  const segments = segmentsOf(relativePath);
  const base = resolve(root);
  const full = join(base, ...segments);
  const prefix = base.endsWith(sep) ? base : base + sep;
  if (!full.startsWith(prefix)) throw new Error(`path ${JSON.stringify(relativePath)} resolves outside the working directory`);
  return full;
}

/**
 * Writes `data` to `relPath` under `root`, creating the directories on the way (mode 0755), replacing a regular
 * file already there. Never follows a symlink: a directory on the way or the file itself being a symlink (or not
 * a directory/regular file) is an Error. Returns the number of bytes written.
 */
export async function stageFile(root: string, relPath: string, data: Buffer | Uint8Array | NodeJS.ReadableStream): Promise<number> {
  const segments = segmentsOf(relPath);
  let dir = resolve(root);
  for (const s of segments.slice(0, -1)) {
    dir = join(dir, s);
    const st = await lstat(dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null;
      throw e;
    });
    if (st === null) {
      await mkdir(dir, { mode: 0o755 }).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
      const again = await lstat(dir);
      if (!again.isDirectory()) throw new Error(`cannot stage ${JSON.stringify(relPath)}: ${JSON.stringify(s)} is not a directory`);
    } else if (!st.isDirectory()) {
      throw new Error(`cannot stage ${JSON.stringify(relPath)}: ${JSON.stringify(s)} is ${st.isSymbolicLink() ? 'a symlink' : 'not a directory'}`);
    }
  }
  const file = join(dir, segments[segments.length - 1]);
  // O_NOFOLLOW: a symlink planted at the file's own name fails (ELOOP) instead of being written through;
  // O_NONBLOCK: a FIFO there fails (ENXIO) instead of blocking.
  const fh = await open(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK, 0o644).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ELOOP') throw new Error(`cannot stage ${JSON.stringify(relPath)}: it is a symlink`);
    throw e;
  });
  let size = 0;
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Error(`cannot stage ${JSON.stringify(relPath)}: not a regular file`);
    if (data instanceof Uint8Array) {
      await fh.write(data);
      size = data.byteLength;
    } else {
      for await (const chunk of data as AsyncIterable<Buffer | string>) {
        const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        await fh.write(b);
        size += b.byteLength;
      }
    }
  } finally {
    await fh.close();
  }
  return size;
}

/** Every regular file under root (relative POSIX path → lstat), never entering symlinks. */
async function walkFiles(root: string, visit: (rel: string, stamp: FileStamp) => void): Promise<void> {
  const base = resolve(root);
  const stack: string[] = [''];
  while (stack.length > 0) {
    const rel = stack.pop() ?? '';
    let entries: Dirent[];
    try {
      entries = await readdir(rel === '' ? base : join(base, rel), { withFileTypes: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (rel !== '' && (code === 'ENOENT' || code === 'ENOTDIR')) continue; // changed under our feet
      throw e;
    }
    for (const e of entries) {
      const childRel = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isSymbolicLink()) continue;
      if (e.isDirectory()) {
        stack.push(childRel);
      } else if (e.isFile()) {
        const st = await lstat(join(base, childRel)).catch(() => null);
        if (st?.isFile()) visit(childRel, { size: st.size, mtimeMs: st.mtimeMs });
      }
    }
  }
}

/** Size and mtime of every regular file under root, by relative POSIX path (symlinks skipped); call after staging. */
export async function snapshotFiles(root: string): Promise<Map<string, FileStamp>> {
  const out = new Map<string, FileStamp>();
  await walkFiles(root, (rel, stamp) => out.set(rel, stamp));
  return out;
}

function compile(field: 'resultsWhitelist' | 'resultsBlacklist', source: string | undefined): RegExp | null {
  if (source === undefined || source === '') return null;
  try {
    return new RegExp(source);
  } catch (e) {
    throw new Error(`${field} is not a valid regular expression: ${(e as Error).message}`);
  }
}

/**
 * Every regular file under root as {path (relative, POSIX), size (bytes)}, sorted by path, skipping symlinks
 * (never followed) and other non-regular files; kept when it matches `whitelist` (if given, non-empty), and
 * dropped when it matches `blacklist`, is in `exclude`, or has the size and mtime recorded in `unchangedSince`.
 * An invalid regular expression is an Error naming the field (resultsWhitelist / resultsBlacklist).
 */
export async function collectResults(root: string, options: CollectOptions = {}): Promise<Array<{ path: string; size: number }>> {
  const white = compile('resultsWhitelist', options.whitelist);
  const black = compile('resultsBlacklist', options.blacklist);
  const out: Array<{ path: string; size: number }> = [];
  await walkFiles(root, (path, stamp) => {
    if (options.exclude?.has(path)) return;
    const before = options.unchangedSince?.get(path);
    if (before && before.size === stamp.size && before.mtimeMs === stamp.mtimeMs) return;
    if (white && !white.test(path)) return;
    if (black?.test(path)) return;
    out.push({ path, size: stamp.size });
  });
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Creates a fresh, empty working directory `name` (a single path segment) under `base` (created if missing),
 * mode 0700; whatever was there under that name is removed first. Returns its absolute path.
 */
export async function createWorkDir(base: string, name: string): Promise<string> {
  if (name.includes('/')) throw new Error(`work directory name ${JSON.stringify(name)} must be a single path segment`);
  const dir = safeJoin(base, name);
  await mkdir(resolve(base), { recursive: true });
  await removeWorkDir(dir);
  await mkdir(dir, { mode: 0o700 });
  return dir;
}

/** Makes every directory under dir (symlinks not followed) writable and searchable by us, so it can be emptied. */
async function unlockTree(dir: string): Promise<void> {
  await chmod(dir, 0o700).catch(() => undefined);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => [] as Dirent[]);
  for (const e of entries) if (e.isDirectory()) await unlockTree(join(dir, e.name));
}

/**
 * Removes a working directory and everything in it (rm -rf; symlinks inside are removed, never followed). A
 * missing directory is fine. Refuses relative paths and a filesystem root. Directories the instance made
 * unwritable are unlocked first when plain removal is refused.
 */
export async function removeWorkDir(dir: string): Promise<void> {
  if (!isAbsolute(dir)) throw new Error(`refusing to remove ${JSON.stringify(dir)}: not an absolute path`);
  const abs = resolve(dir);
  if (parse(abs).root === abs) throw new Error(`refusing to remove the filesystem root ${JSON.stringify(abs)}`);
  const st = await lstat(abs).catch(() => null);
  if (st === null) return;
  if (!st.isDirectory()) {
    await rm(abs, { force: true });
    return;
  }
  try {
    await rm(abs, { recursive: true, force: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'ENOTEMPTY') throw e;
    await unlockTree(abs);
    await rm(abs, { recursive: true, force: true });
  }
}
