// The agent's on-disk outbox: every report is appended here (JSON lines, fsync'd in batches) before it is sent, and
// forgotten only once the transport has acknowledged it, so reports survive a lost connection and a crash of the
// agent and are replayed in order afterwards.
//
// File format (<dir>/outbox.jsonl): one JSON object per line, either an entry `{"i":id,"k":kind,"p":payload}` or
// an acknowledgement `{"a":[id,…]}`. On opening, acknowledged entries are dropped and a torn last line (a crash in
// the middle of a write) is ignored. The file is rewritten with only the live entries (to a temp file, fsync'd,
// renamed) when enough dead lines have piled up.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { open, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/** One buffered report. */
export interface OutboxEntry {
  /** Grows by one per append, across restarts. */
  id: number;
  kind: string;
  payload: unknown;
}

/** Options of an {@link Outbox}. */
export interface OutboxOptions {
  /** Rewrite the file once this many dead lines (acknowledged entries and acknowledgements) have piled up. Default 512. */
  compactAfter?: number;
  /**
   * Most entries kept. Beyond it the oldest entries of a kind in `droppable` are dropped (telemetry is periodic and
   * its meter cumulative, so a gap costs little); other kinds are never dropped. Default 200,000.
   */
  maxEntries?: number;
  /** Kinds that may be dropped when the outbox is full. Default ['telemetry']. */
  droppable?: readonly string[];
  /** Told about damaged lines skipped on opening and entries dropped when full. */
  onWarning?: (message: string) => void;
}

const FILE = 'outbox.jsonl';

/**
 * See the file comment. Opening reads the file synchronously (an agent opens it once, at start). Appends are
 * written and fsync'd together by one writer; {@link durable} resolves when everything appended so far is on disk.
 */
export class Outbox {
  readonly path: string;
  private readonly dir: string;
  private readonly live = new Map<number, OutboxEntry>();
  private nextId = 1;
  private lines: string[] = [];
  private waiters: Array<(err?: Error) => void> = [];
  private writing: Promise<void> | null = null;
  private fh: FileHandle | null = null;
  private deadLines = 0;
  private readonly compactAfter: number;
  private readonly maxEntries: number;
  private readonly droppable: ReadonlySet<string>;
  private readonly warn: (m: string) => void;
  /** A write failed: the writer waits for the next append or durable() to try again, rewriting the file whole. */
  private stalled = false;
  private damaged = false;
  private failures = 0;
  private closed = false;
  /** Entries dropped because the outbox was full. */
  dropped = 0;

  constructor(dir: string, options: OutboxOptions = {}) {
    this.dir = dir;
    this.path = join(dir, FILE);
    this.compactAfter = options.compactAfter ?? 512;
    this.maxEntries = options.maxEntries ?? 200_000;
    this.droppable = new Set(options.droppable ?? ['telemetry']);
    this.warn = options.onWarning ?? (() => undefined);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (existsSync(this.path)) this.load();
  }

  /**
   * The entries an outbox directory holds, without opening it for writing (inspection, tests). Opening an
   * {@link Outbox} rewrites the file, which would cut off another Outbox still writing it.
   */
  static peek(dir: string): OutboxEntry[] {
    const path = join(dir, FILE);
    if (!existsSync(path)) return [];
    return [...parse(readFileSync(path, 'utf8')).live.values()];
  }

  private load(): void {
    const { live, bad } = parse(readFileSync(this.path, 'utf8'));
    for (const e of live.values()) {
      this.live.set(e.id, e);
      this.nextId = Math.max(this.nextId, e.id + 1);
    }
    if (bad > 0) this.warn(`outbox: skipped ${bad} damaged line(s) in ${this.path}`);
    // A clean file (no torn line, no acknowledged entries) for the appends to come.
    this.rewriteSync();
  }

  /** Replaces the file with the live entries only (temp file, fsync, rename, fsync of the directory). */
  private rewriteSync(): void {
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      const text = this.liveText();
      if (text !== '') writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    syncDirSync(this.dir);
    this.deadLines = 0;
  }

  private liveText(): string {
    let text = '';
    for (const e of this.live.values()) text += `${JSON.stringify({ i: e.id, k: e.kind, p: e.payload })}\n`;
    return text;
  }

  /** Entries not acknowledged yet, oldest first (including ones whose write is still in progress). */
  pending(): OutboxEntry[] {
    return [...this.live.values()];
  }

  /** How many entries are not acknowledged yet. */
  get size(): number {
    return this.live.size;
  }

  /**
   * Appends a report; it is written with the next batch (see {@link durable}). The payload must be JSON. While the
   * disk refuses writes the entry lives in memory only (it is still sent) and each append tries the disk again.
   * @throws Error after {@link close}
   */
  append(kind: string, payload: unknown): OutboxEntry {
    if (this.closed) throw new Error('outbox is closed');
    const e: OutboxEntry = { id: this.nextId++, kind, payload };
    this.live.set(e.id, e);
    this.lines.push(`${JSON.stringify({ i: e.id, k: kind, p: payload })}\n`);
    if (this.live.size > this.maxEntries) this.dropOldest();
    this.kick(true);
    return e;
  }

  private dropOldest(): void {
    const drop: number[] = [];
    const excess = this.live.size - this.maxEntries;
    for (const e of this.live.values()) {
      if (drop.length >= excess) break;
      if (this.droppable.has(e.kind)) drop.push(e.id);
    }
    if (drop.length === 0) return;
    this.dropped += drop.length;
    if (this.dropped === drop.length || this.dropped % 1000 < drop.length) this.warn(`outbox: full (${this.maxEntries} entries), dropped ${this.dropped} old ${[...this.droppable].join('/')} entries so far`);
    this.ack(drop);
  }

  /** Forgets acknowledged entries (recorded on disk with the next batch). Unknown ids are ignored. */
  ack(ids: number | readonly number[]): void {
    const list = (typeof ids === 'number' ? [ids] : ids).filter((id) => this.live.delete(id));
    if (list.length === 0 || this.closed) return;
    this.lines.push(`${JSON.stringify({ a: list })}\n`);
    this.deadLines += list.length + 1;
    this.kick(false);
  }

  /**
   * Resolves once everything appended or acknowledged so far is on disk. Rejects when the disk refused the write
   * (the entries stay in memory; the next append or durable() tries again).
   */
  durable(): Promise<void> {
    if (this.lines.length === 0 && this.writing === null && !this.stalled) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push((err) => (err ? reject(err) : resolve()));
      this.kick(true);
    });
  }

  /** Starts the writer unless it runs; after a failure only an append or durable() (`retry`) starts it again. */
  private kick(retry: boolean): void {
    if (this.writing !== null || (this.stalled && !retry)) return;
    this.stalled = false;
    this.writing = this.writeLoop().finally(() => {
      this.writing = null;
      if ((this.lines.length > 0 || this.waiters.length > 0) && !this.stalled) this.kick(false);
    });
  }

  /** The one writer: takes every pending line, writes and fsyncs them together, wakes the waiters of that batch. */
  private async writeLoop(): Promise<void> {
    // Let the appends of the current turn of the event loop join the batch.
    await new Promise<void>((r) => setImmediate(r));
    while (this.lines.length > 0 || this.waiters.length > 0) {
      const batch = this.lines;
      const waiters = this.waiters;
      this.lines = [];
      this.waiters = [];
      let err: Error | undefined;
      try {
        // After a failed write the file may end in a partial line: rewrite it whole from memory.
        if (this.damaged || (this.deadLines >= this.compactAfter && this.deadLines >= this.live.size)) {
          await this.compact();
          this.damaged = false;
        } else if (batch.length > 0) {
          this.fh ??= await open(this.path, 'a', 0o600);
          await this.fh.write(batch.join(''));
          await this.fh.datasync();
        }
        if (this.failures > 0) this.warn(`outbox: writing again after ${this.failures} failed attempt(s)`);
        this.failures = 0;
      } catch (e) {
        err = new Error(`outbox write failed: ${(e as Error).message}`);
        if (this.failures++ === 0) this.warn(`${err.message} (reports are kept in memory until the disk takes them)`);
        this.damaged = true;
        this.stalled = true;
        if (this.fh) await this.fh.close().catch(() => undefined);
        this.fh = null;
      }
      for (const w of waiters) w(err);
      if (err) {
        for (const w of this.waiters) w(err);
        this.waiters = [];
        return;
      }
    }
  }

  private async compact(): Promise<void> {
    const tmp = `${this.path}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.write(this.liveText());
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (this.fh) {
      await this.fh.close();
      this.fh = null;
    }
    await rename(tmp, this.path);
    const d = await open(this.dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
    this.deadLines = 0;
  }

  /** Writes what is pending and closes the file. Later appends throw. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.durable().catch(() => undefined);
    this.closed = true;
    if (this.writing) await this.writing;
    if (this.fh) {
      await this.fh.close();
      this.fh = null;
    }
  }
}

/** Reads outbox lines: the live entries in file order and how many lines were damaged (a torn last line is not). */
function parse(text: string): { live: Map<number, OutboxEntry>; bad: number } {
  const live = new Map<number, OutboxEntry>();
  const lines = text.split('\n');
  const torn = lines[lines.length - 1] !== '';
  let bad = 0;
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    if (line === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      if (!(torn && n === lines.length - 1)) bad++;
      continue;
    }
    const o = v as { i?: unknown; k?: unknown; p?: unknown; a?: unknown };
    if (typeof o.i === 'number' && Number.isSafeInteger(o.i) && typeof o.k === 'string') {
      live.set(o.i, { id: o.i, kind: o.k, payload: o.p });
    } else if (Array.isArray(o.a)) {
      for (const id of o.a) if (typeof id === 'number') live.delete(id);
    } else {
      bad++;
    }
  }
  return { live, bad };
}

function syncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
