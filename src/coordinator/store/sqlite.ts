// The embedded backend: one SQLite file (better-sqlite3, WAL) in the data directory, behind kysely with a small
// driver of our own that caches prepared statements, begins write transactions IMMEDIATE, and leaves WAL
// checkpoints to a second connection in a worker thread so they never stall the event loop.
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler } from 'kysely';
import type { CompiledQuery, DatabaseConnection, Dialect, Driver, QueryResult } from 'kysely';
import { KyselyStore, type Database, type KyselyStoreInit } from './kysely-store.ts';
import { migrate } from './migrations.ts';
import type { StoreOptions } from './types.ts';

/**
 * How hard a commit waits for the disk.
 *
 * - `normal` (default): in WAL mode a commit has appended its frames to the WAL file with write(2) before it
 *   returns, so the bytes are in the kernel's page cache: a crash or `kill -9` of the coordinator at any moment
 *   loses nothing acknowledged (the kernel still writes them). Only a power loss or kernel crash can lose the
 *   last commits — never corrupt the file. A commit costs ~30 µs here.
 * - `full`: fsync the WAL at every commit, so an acknowledged write also survives power loss, at ~0.3–0.4 ms per
 *   commit on this machine (a ceiling near 2,500 single-row commits/s, and the event loop blocks meanwhile).
 */
export type SqliteSync = 'normal' | 'full';

export interface SqliteStoreOptions extends StoreOptions {
  synchronous?: SqliteSync;
  /** How long a writer waits for another process's write lock (e.g. `hearth account create` beside a server), ms. */
  busyTimeoutMs?: number;
  /** Write transactions between background checkpoints (default 200, ≈ a few MB of WAL). */
  checkpointEvery?: number;
  /** How long a token lookup may be answered from memory, ms (see KyselyStoreInit.authCacheMs; 0: never). */
  authCacheMs?: number;
}

/** Result of `PRAGMA wal_checkpoint(PASSIVE)`: frames in the WAL and frames copied into the database. */
export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

/**
 * Safety net: if the background checkpointer falls behind (or is gone), the writing connection checkpoints by
 * itself once the WAL holds this many pages (~80 MB at 4 KiB).
 */
const FALLBACK_AUTOCHECKPOINT_PAGES = 20_000;
/**
 * Page cache of the connection: 64 MiB (SQLite's default is 2 MiB, which a few thousand tasks with their
 * instances and indexes outgrow, so hot pages were re-read from the OS). Negative = KiB.
 */
const CACHE_SIZE_KIB = 65_536;
/** Reads through a memory map of the first 256 MiB of the file instead of read(2) calls into the page cache. */
const MMAP_SIZE_BYTES = 268_435_456;

/** The checkpointer's code: plain CommonJS (no TypeScript loader needed in the worker). */
const CHECKPOINTER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path, { timeout: workerData.timeoutMs });
parentPort.on('message', (m) => {
  if (m === 'close') { db.close(); parentPort.close(); return; }
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ ok: true, busy: r.busy, log: r.log, checkpointed: r.checkpointed });
  } catch (e) {
    parentPort.postMessage({ ok: false, message: String(e && e.message || e) });
  }
});
`;

/**
 * Copies committed WAL frames into the database file from its own connection in a worker thread, every
 * \`every\` write transactions of the main connection. A checkpoint (with its fsync) costs milliseconds; on the
 * main thread it would stall every request behind it. PASSIVE never blocks the writer; the writer restarts the
 * WAL from its beginning once a checkpoint has caught up.
 */
class Checkpointer {
  private readonly worker: Worker;
  private writes = 0;
  private inFlight: Promise<CheckpointResult> | undefined;
  private settle: ((r: CheckpointResult) => void) | undefined;
  private fail: ((e: Error) => void) | undefined;
  private dead = false;

  constructor(
    path: string,
    timeoutMs: number,
    private readonly every: number,
  ) {
    const module = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(CHECKPOINTER_SOURCE, { eval: true, workerData: { path, module, timeoutMs } });
    this.worker.unref();
    this.worker.on('message', (m: { ok: true } & CheckpointResult | { ok: false; message: string }) => {
      const settle = this.settle;
      const fail = this.fail;
      this.inFlight = this.settle = this.fail = undefined;
      if (!this.dead) this.worker.unref(); // while closing, stay referenced until the worker has exited
      if (m.ok) settle?.({ busy: m.busy, log: m.log, checkpointed: m.checkpointed });
      else fail?.(new Error(`background checkpoint failed: ${m.message}`));
    });
    this.worker.on('error', (e) => {
      this.dead = true; // the writer's own autocheckpoint takes over
      this.fail?.(e);
      this.inFlight = this.settle = this.fail = undefined;
    });
  }

  /** Counts a committed write transaction; starts a checkpoint every `every` of them. */
  wrote(): void {
    if (++this.writes < this.every || this.inFlight || this.dead) return;
    this.writes = 0;
    this.checkpoint().catch(() => undefined); // a failed background checkpoint is retried on a later write
  }

  /** Runs a checkpoint now (or joins the one running). */
  checkpoint(): Promise<CheckpointResult> {
    if (this.dead) return Promise.reject(new Error('the checkpointer worker is gone'));
    this.inFlight ??= new Promise<CheckpointResult>((resolve, reject) => {
      this.settle = resolve;
      this.fail = reject;
      this.worker.ref(); // an awaited reply must keep the process alive; idle, the worker must not
      this.worker.postMessage('checkpoint');
    });
    return this.inFlight;
  }

  async close(): Promise<void> {
    if (this.dead) return;
    this.dead = true;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.ref();
    this.worker.postMessage('close');
    await exited;
  }
}

type Statement = BetterSqlite3.Statement<unknown[], unknown>;
/** A prepared statement and, for one returning rows, the function that turns a row's values into an object. */
interface Prepared {
  stmt: Statement;
  row: ((values: unknown[]) => unknown) | undefined;
}

/**
 * A function building a row object from the row's values in column order: one object literal of the
 * statement's shape. better-sqlite3 builds row objects in C++ one property at a time (`Object::Set`), which
 * costs about as much as the read itself for a 27-column task row; arrays (raw mode) plus this literal halve
 * that. Undefined (keep objects) for a name a literal would misread (`__proto__`). With repeated names, the
 * last value wins in both.
 */
function rowMaker(columns: string[]): ((values: unknown[]) => unknown) | undefined {
  if (columns.includes('__proto__')) return undefined;
  const fields = columns.map((c, i) => `${JSON.stringify(c)}: v[${i}]`).join(', ');
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the source is built from the statement's own column names, quoted
  return new Function('v', `return { ${fields} };`) as (values: unknown[]) => unknown;
}

/** better-sqlite3 connection that keeps recently used prepared statements (kysely's own prepares every query). */
class CachedConnection implements DatabaseConnection {
  private readonly cache = new Map<string, Prepared>();
  constructor(
    private readonly db: BetterSqlite3.Database,
    private readonly onWrite: () => void,
    private readonly capacity = 256,
  ) {}

  private prepare(text: string): Prepared {
    let p = this.cache.get(text);
    if (p) {
      this.cache.delete(text); // LRU: move to the back
    } else {
      const stmt = this.db.prepare(text);
      const row = stmt.reader ? rowMaker(stmt.columns().map((c) => c.name)) : undefined;
      if (row) stmt.raw(true);
      p = { stmt, row };
      if (this.cache.size >= this.capacity) this.cache.delete(this.cache.keys().next().value!);
    }
    this.cache.set(text, p);
    return p;
  }

  executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
    const { stmt, row } = this.prepare(q.sql);
    const params = q.parameters as unknown[];
    let result: QueryResult<R>;
    if (stmt.reader) {
      const rows = stmt.all(...params);
      result = { rows: (row ? (rows as unknown[][]).map(row) : rows) as R[] };
    } else {
      const { changes, lastInsertRowid } = stmt.run(...params);
      result = { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
    }
    if (!stmt.readonly && !this.db.inTransaction) this.onWrite(); // an autocommitted write
    return Promise.resolve(result);
  }

  // eslint-disable-next-line require-yield -- streaming is not used by the store
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    await Promise.resolve();
    throw new Error('streaming is not supported by the hearth SQLite driver');
  }

  exec(text: string): void {
    this.db.exec(text);
  }
}

/** One connection, handed out under a mutex (SQLite has one writer; better-sqlite3 is synchronous). */
class HearthSqliteDriver implements Driver {
  private connection!: CachedConnection;
  private queue: Promise<void> = Promise.resolve();
  private release: (() => void) | undefined;

  constructor(
    private readonly db: BetterSqlite3.Database,
    private readonly onWrite: () => void,
  ) {}

  init(): Promise<void> {
    this.connection = new CachedConnection(this.db, this.onWrite);
    return Promise.resolve();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const prev = this.queue;
    let release!: () => void;
    this.queue = new Promise<void>((r) => (release = r));
    await prev;
    this.release = release;
    return this.connection;
  }

  /** IMMEDIATE takes the write lock at BEGIN, so a transaction never fails later on a lock upgrade. */
  beginTransaction(): Promise<void> {
    this.connection.exec('BEGIN IMMEDIATE');
    return Promise.resolve();
  }

  commitTransaction(): Promise<void> {
    this.connection.exec('COMMIT');
    this.onWrite();
    return Promise.resolve();
  }

  rollbackTransaction(): Promise<void> {
    if (this.db.inTransaction) this.connection.exec('ROLLBACK');
    return Promise.resolve();
  }

  releaseConnection(): Promise<void> {
    const r = this.release;
    this.release = undefined;
    r?.();
    return Promise.resolve();
  }

  destroy(): Promise<void> {
    if (this.db.open) this.db.close();
    return Promise.resolve();
  }
}

class HearthSqliteDialect implements Dialect {
  constructor(
    private readonly db: BetterSqlite3.Database,
    private readonly onWrite: () => void,
  ) {}
  createDriver(): Driver {
    return new HearthSqliteDriver(this.db, this.onWrite);
  }
  createQueryCompiler(): SqliteQueryCompiler {
    return new SqliteQueryCompiler();
  }
  createAdapter(): SqliteAdapter {
    return new SqliteAdapter();
  }
  createIntrospector(db: Kysely<unknown>): SqliteIntrospector {
    return new SqliteIntrospector(db);
  }
}

/** The SQLite store: the Store interface plus a checkpoint on demand (tests, backups). */
export class SqliteStore extends KyselyStore {
  constructor(
    db: Kysely<Database>,
    init: KyselyStoreInit,
    private readonly checkpointer: Checkpointer | undefined,
  ) {
    super(db, init);
  }

  /** Copies the WAL into the database file now, off the main thread (undefined for `:memory:`). */
  async checkpoint(): Promise<CheckpointResult | undefined> {
    return this.checkpointer?.checkpoint();
  }
}

/**
 * Opens (creating if needed, with its parent directory) the SQLite store at `path` (`:memory:` for a private
 * in-memory database), sets WAL and the chosen synchronous level, and applies pending migrations.
 */
export async function openSqliteStore(path: string, options: SqliteStoreOptions = {}): Promise<SqliteStore> {
  const memory = path === ':memory:';
  if (!memory) mkdirSync(dirname(path), { recursive: true });
  const timeoutMs = options.busyTimeoutMs ?? 5000;
  const db = new BetterSqlite3(path, { timeout: timeoutMs });
  try {
    if (!memory) {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (String(mode).toLowerCase() !== 'wal') throw new Error(`SQLite at ${path} refused WAL mode (got ${String(mode)})`);
      db.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
    }
    db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('foreign_keys = ON');
    db.pragma(`cache_size = -${CACHE_SIZE_KIB}`);
    if (!memory) db.pragma(`mmap_size = ${MMAP_SIZE_BYTES}`);
  } catch (e) {
    db.close();
    throw e;
  }
  const checkpointer = memory ? undefined : new Checkpointer(path, timeoutMs, options.checkpointEvery ?? 200);
  const clock = options.clock ?? Date.now;
  const kysely = new Kysely<Database>({ dialect: new HearthSqliteDialect(db, () => checkpointer?.wrote()) });
  const destroy = async (): Promise<void> => {
    await checkpointer?.close();
  };
  try {
    await migrate(kysely, 'sqlite', clock());
  } catch (e) {
    await destroy();
    await kysely.destroy();
    throw e;
  }
  // close(): the checkpointer's connection closes first, then the main one (last out: checkpoints, removes the WAL).
  return new SqliteStore(kysely, { backend: 'sqlite', clock, destroy, authCacheMs: options.authCacheMs }, checkpointer);
}
