// The one implementation of the Store interface, written once with kysely for both backends (SQLite and
// PostgreSQL); sqlite.ts and postgres.ts only build the connection. Dialect differences are confined here to
// row locking (FOR UPDATE on PostgreSQL) and error codes.
import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Compilable, CompiledQuery, Kysely, SelectQueryBuilder } from 'kysely';
import {
  SYSTEM,
  StoreConflictError,
  StoreInputError,
  type Account,
  type AccountScope,
  type ApiToken,
  type BucketRecord,
  type CompletedUpload,
  type DeleteBucketResult,
  type EpochMs,
  type IdempotencyRecord,
  type InstanceAttempt,
  SCHEDULING_TYPE_NAMES,
  type ChargeTotals,
  type InstanceCharge,
  type InstanceEvent,
  type InstanceEventKey,
  type InstanceEventResult,
  type InstanceListOptions,
  type InstancePhaseName,
  type InstanceRecord,
  type InstanceSet,
  type InstanceState,
  type InstanceSummary,
  type JobPatch,
  type JobRecord,
  type JobState,
  type MultipartUpload,
  type NewAccount,
  type NewApiToken,
  type NewIdempotencyRecord,
  type NewJob,
  type NewMultipartUpload,
  type NewObject,
  type NewOutputChunk,
  type NewPart,
  type NewRegistryRow,
  type NewStoreEvent,
  type NewTask,
  type ObjectList,
  type ObjectListOptions,
  type ObjectRecord,
  type OutputChunk,
  type OutputReadOptions,
  type OutputStream,
  type Owner,
  type Page,
  type PageRequest,
  type PartRecord,
  type Quotas,
  type RegistryFilter,
  type RegistryKind,
  type RegistryRow,
  type Role,
  type SchedulingTypeName,
  type Store,
  type StoreEvent,
  type TaskFilter,
  type TaskListOptions,
  type TaskOrderBy,
  type TaskPatch,
  type TaskRecord,
  type TaskState,
  type TelemetryBucket,
  type TelemetrySample,
} from './types.ts';

// ---------------------------------------------------------------------------------------------------------
// Table shapes (as stored: snake_case, JSON as text, money as integer micro-euros)

interface AccountsTable {
  id: string;
  email: string;
  role: string;
  credits_micro: number;
  quotas: string;
  scope: string;
  created_at: number;
  updated_at: number;
  /** Tasks the account holds (migration 2), maintained with every task insert and delete. */
  task_count: number;
  /** Exact total of the account's charges, € (migration 3): the rounding cursor of `charges.charged_micro`. */
  billed_eur: number;
}
interface ApiTokensTable {
  id: string;
  account_id: string;
  hash: string;
  prefix: string;
  name: string | null;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
  sealed_secret: string | null;
}
interface JobsTable {
  uuid: string;
  account_id: string;
  shortname: string;
  name: string;
  state: string;
  use_dependencies: number;
  max_wall_time_sec: number | null;
  creation_date: number;
  last_modified: number;
  end_date: number | null;
  body: string;
}
interface TasksTable {
  uuid: string;
  account_id: string;
  shortname: string;
  name: string;
  profile: string;
  state: string;
  previous_state: string | null;
  state_transition_time: number;
  creation_date: number;
  end_date: number | null;
  body: string;
  scheduling_type: string;
  deadline: number | null;
  est_instance_duration_sec: number | null;
  checkpoint: string;
  instance_count: number;
  advanced_ranges: string | null;
  tags: string;
  labels: string;
  job_uuid: string | null;
  depends_on: string;
  retry_settings: string;
  retry_count: number;
  status: string;
  version: number;
  output_seq: number;
  updated_at: number;
}
interface TaskTagsTable {
  task_uuid: string;
  tag: string;
}
interface TaskLabelsTable {
  task_uuid: string;
  key: string;
  value: string;
}
interface InstancesTable {
  task_uuid: string;
  instance_id: number;
  state: string;
  phase: string | null;
  attempt: number;
  last_seq: number;
  heater_id: string | null;
  board_index: number | null;
  progress: number;
  started_at: number | null;
  ended_at: number | null;
  updated_at: number;
  energy_wh: number;
  ghz_seconds: number;
  exec_time_sec: number;
  wall_time_sec: number;
  clock_ratio: number | null;
  results: string;
  info: string;
}
interface InstanceAttemptsTable {
  task_uuid: string;
  instance_id: number;
  attempt: number;
  state: string | null;
  last_seq: number;
  heater_id: string | null;
  board_index: number | null;
  started_at: number | null;
  ended_at: number | null;
  energy_wh: number;
  ghz_seconds: number;
  exec_time_sec: number;
  wall_time_sec: number;
  clock_ratio: number | null;
}
interface InstanceEventsTable {
  task_uuid: string;
  instance_id: number;
  attempt: number;
  seq: number;
  applied_at: number;
}
/** The charges ledger (migration 3): one row per instance report that billed something. */
interface ChargesTable {
  task_uuid: string;
  instance_id: number;
  attempt: number;
  seq: number;
  account_id: string;
  at: number;
  scheduling_type: string;
  core_seconds: number;
  amount_eur: number;
  charged_micro: number;
}
interface OutputChunksTable {
  task_uuid: string;
  seq: number;
  instance_id: number;
  stream: string;
  attempt: number | null;
  chunk_seq: number | null;
  /** UTF-8 bytes of the text. */
  data: Buffer;
  at: number;
}
interface OutputCursorsTable {
  reader_id: string;
  task_uuid: string;
  stream: string;
  instance_id: number;
  last_seq: number;
}
interface BucketsTable {
  name: string;
  account_id: string;
  created_at: number;
}
interface ObjectsTable {
  bucket: string;
  key: string;
  size: number;
  etag: string;
  content_type: string | null;
  blob_hash: string;
  metadata: string;
  last_modified: number;
}
interface MultipartUploadsTable {
  upload_id: string;
  bucket: string;
  key: string;
  account_id: string;
  content_type: string | null;
  metadata: string;
  created_at: number;
}
interface MultipartPartsTable {
  upload_id: string;
  part_number: number;
  size: number;
  etag: string;
  blob_hash: string;
  last_modified: number;
}
interface IdempotencyKeysTable {
  account_id: string;
  key: string;
  fingerprint: string;
  status: number;
  response: string;
  created_at: number;
}
interface RegistryTable {
  id: string;
  kind: string;
  site_id: string | null;
  parent_id: string | null;
  name: string;
  account_id: string | null;
  spec: string;
  created_at: number;
  updated_at: number;
}
interface TelemetryTable {
  device_id: string;
  time: number;
  data: string;
}
interface EventsTable {
  id: number;
  type: string;
  account_id: string | null;
  payload: string;
  at: number;
}
interface CountersTable {
  name: string;
  value: number;
}

/** The schema as kysely sees it (migrations.ts creates it). */
export interface Database {
  accounts: AccountsTable;
  api_tokens: ApiTokensTable;
  jobs: JobsTable;
  tasks: TasksTable;
  task_tags: TaskTagsTable;
  task_labels: TaskLabelsTable;
  instances: InstancesTable;
  instance_attempts: InstanceAttemptsTable;
  instance_events: InstanceEventsTable;
  charges: ChargesTable;
  output_chunks: OutputChunksTable;
  output_cursors: OutputCursorsTable;
  buckets: BucketsTable;
  objects: ObjectsTable;
  multipart_uploads: MultipartUploadsTable;
  multipart_parts: MultipartPartsTable;
  idempotency_keys: IdempotencyKeysTable;
  registry: RegistryTable;
  telemetry: TelemetryTable;
  events: EventsTable;
  counters: CountersTable;
}

// ---------------------------------------------------------------------------------------------------------
// Helpers

const MAX_PAGE = 1000;
const DEFAULT_PAGE = 100;
/** Rows per multi-row INSERT: keeps bound parameters far below SQLite's 32,766 and PostgreSQL's 65,535. */
const INSERT_CHUNK = 400;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Rejects text that would not round-trip on both backends (NUL; lone surrogates, which UTF-8 cannot encode). */
function text(field: string, value: string): string {
  if (typeof value !== 'string') throw new StoreInputError(field, `${field} must be a string`);
  if (value.includes('\u0000')) throw new StoreInputError(field, `${field} must not contain NUL characters`);
  if (LONE_SURROGATE.test(value)) throw new StoreInputError(field, `${field} must be well-formed Unicode`);
  return value;
}
function optText(field: string, value: string | null | undefined): string | null {
  return value === undefined || value === null ? null : text(field, value);
}
function int(field: string, value: number, min = 0): number {
  if (!Number.isSafeInteger(value) || value < min) throw new StoreInputError(field, `${field} must be an integer ≥ ${min}`);
  return value;
}
function finite(field: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new StoreInputError(field, `${field} must be a finite number`);
  return value;
}
function optNum(field: string, value: number | null | undefined): number | null {
  return value === undefined || value === null ? null : finite(field, value);
}
/** JSON text of any value (undefined → null). Lone surrogates are escaped by JSON.stringify, NUL as \u0000. */
function json(value: unknown): string {
  return JSON.stringify(value ?? null);
}
function parse<T>(s: string): T {
  return JSON.parse(s) as T;
}
/** A validated copy of a string map; own properties only (a `__proto__` key is kept as a key, not a prototype). */
function stringRecord(field: string, r: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(r ?? {}).map(([k, v]) => [text(`${field} key`, k), text(`${field}.${k}`, v)]));
}
const toMicro = (eur: number): number => Math.round(finite('creditsEUR', eur) * 1e6);
const fromMicro = (micro: number): number => Number(micro) / 1e6;
const numberOf = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE;
  return Math.min(MAX_PAGE, int('limit', limit, 1));
}
function encodeToken(v: unknown): string {
  return Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');
}
function decodeToken(token: string, field = 'pageToken'): unknown {
  try {
    return JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
  } catch {
    throw new StoreInputError(field, `${field} is not a token this server issued`);
  }
}
/** True for a unique/primary-key violation on either backend. */
function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
/**
 * Which rule a unique violation broke, from the constraint name (PostgreSQL) or the message (SQLite: "UNIQUE
 * constraint failed: tasks.account_id, tasks.shortname"): `shortnameField` when it names a shortname, else 'id'.
 */
function conflictField(e: unknown, shortnameField: string): string {
  const x = e as { constraint?: unknown; message?: unknown };
  const where = `${typeof x.constraint === 'string' ? x.constraint : ''} ${typeof x.message === 'string' ? x.message : ''}`;
  return where.includes('shortname') ? shortnameField : 'id';
}
/** Compares as both backends do (code-point order = UTF-8 byte order), not as JS `<` does (UTF-16 units). */
export function codePointCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
/**
 * The smallest string greater than every string starting with `prefix` (in code-point order, which is both
 * backends' text order), or undefined when none exists. Turns a prefix match into an index range.
 */
export function prefixSuccessor(prefix: string): string | undefined {
  const cps = Array.from(prefix);
  while (cps.length > 0) {
    const last = cps.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      const next = last === 0xd7ff ? 0xe000 : last + 1;
      return cps.join('') + String.fromCodePoint(next);
    }
  }
  return undefined;
}

const HEX_BYTE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/** Random bytes drawn in blocks (one getrandom call per 409 ids instead of one per id); the last id's time and sequence. */
const uuidState = { pool: Buffer.alloc(0), at: 0, ms: -1, seq: 0 };

/**
 * A new time-ordered UUID (RFC 9562 version 7): 48 bits of Unix time in ms, the version, a 12-bit sequence, the
 * variant, 62 random bits. Ids made close in time sort close together, so inserting them appends to the end of
 * the primary-key B-trees (tasks, and instances keyed by task) instead of touching a random page of each. Within
 * a process they also increase strictly: in one ms the sequence counts up from a random start (method 1 of RFC
 * 9562 §6.2); past 4095 in one ms, or when the clock steps back, the time field runs ahead of the clock.
 * @param nowMs the time stamped into the id, ms since the epoch
 */
export function uuidv7(nowMs: number): string {
  const st = uuidState;
  if (st.at + 10 > st.pool.length) {
    st.pool = randomBytes(4096);
    st.at = 0;
  }
  const r = st.pool;
  const i = st.at;
  st.at += 10;
  let ms = Math.max(0, Math.min(Math.floor(nowMs), 0xffff_ffff_ffff));
  if (ms > st.ms) {
    st.ms = ms;
    st.seq = ((r[i] << 8) | r[i + 1]) & 0x7ff; // random start in the lower half: room to count up
  } else if (st.seq < 0xfff) {
    ms = st.ms;
    st.seq++;
  } else {
    ms = ++st.ms;
    st.seq = 0;
  }
  const t = ms.toString(16).padStart(12, '0');
  const x = HEX_BYTE;
  return (
    `${t.slice(0, 8)}-${t.slice(8, 12)}-${x[0x70 | (st.seq >> 8)]}${x[st.seq & 0xff]}-${x[0x80 | (r[i + 2] & 0x3f)]}${x[r[i + 3]]}-` +
    `${x[r[i + 4]]}${x[r[i + 5]]}${x[r[i + 6]]}${x[r[i + 7]]}${x[r[i + 8]]}${x[r[i + 9]]}`
  );
}

type FoundToken = { token: ApiToken; account: Account };

/**
 * What `findTokenByHash` answered recently, by token hash: every authenticated request asks, and the answer
 * rarely changes. Exact for this process: each write through the store that could change an answer (revoking
 * or touching a token, an account's role, quotas or credits, its task count) invalidates it before and again
 * after its transaction commits, and a read that overlapped an invalidation is not kept. Writes by another
 * process (a CLI on the same file, another coordinator on PostgreSQL) show within `ttlMs`. Misses (unknown or
 * revoked tokens) are never kept. Bounded: least recently used entries go first. Entries are frozen, being
 * shared by every request that presents the token.
 */
class AuthCache {
  private readonly entries = new Map<string, { found: FoundToken; gen: number; at: number }>();
  /** Bumped by every invalidation. */
  private gen = 0;
  /** Generation of the latest invalidation of everything / of each account. */
  private allGen = 0;
  private readonly accountGen = new Map<string, number>();

  /**
   * @param ttlMs how long an entry lives, ms
   * @param now the store's clock, ms (an entry from the clock's future, after a step back, is dropped)
   */
  constructor(
    private readonly ttlMs: number,
    private readonly now: () => EpochMs,
    private readonly capacity = 10_000,
  ) {}

  private stale(accountId: string, since: number): boolean {
    return this.allGen > since || (this.accountGen.get(accountId) ?? 0) > since;
  }

  get(hash: string): FoundToken | undefined {
    const e = this.entries.get(hash);
    if (!e) return undefined;
    const now = this.now();
    if (now - e.at >= this.ttlMs || now < e.at || this.stale(e.found.account.id, e.gen)) {
      this.entries.delete(hash);
      return undefined;
    }
    this.entries.delete(hash); // least recently used first: move to the back
    this.entries.set(hash, e);
    return e.found;
  }

  /** The generation to pass to {@link put} for a read starting now. */
  begin(): number {
    return this.gen;
  }

  /** Keeps what a read that began at `gen` found, unless an invalidation of its account happened since. */
  put(hash: string, found: FoundToken, gen: number): FoundToken {
    if (this.ttlMs <= 0 || this.stale(found.account.id, gen)) return found;
    const { account, token } = found;
    Object.freeze(account.quotas);
    Object.freeze(account.scope);
    const frozen = Object.freeze({ token: Object.freeze(token), account: Object.freeze(account) });
    this.entries.delete(hash);
    if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(hash, { found: frozen, gen: this.gen, at: this.now() });
    return frozen;
  }

  /** Forgets the answers about one account's tokens, or about every token (`undefined`). */
  invalidate(accountId: string | undefined): void {
    const g = ++this.gen;
    if (accountId === undefined) {
      this.allGen = g;
      this.entries.clear();
      this.accountGen.clear();
    } else {
      this.accountGen.set(accountId, g);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Row mappers

/** An account row (its billing cursor, billed_eur, is the ledger's and not part of the Account). */
function toAccount(r: Omit<AccountsTable, 'billed_eur'>): Account {
  return {
    id: r.id,
    email: r.email,
    role: r.role as Role,
    creditsEUR: fromMicro(r.credits_micro),
    quotas: parse<Quotas>(r.quotas),
    scope: parse<AccountScope>(r.scope),
    createdAt: Number(r.created_at),
    taskCount: Number(r.task_count),
  };
}
function toToken(r: ApiTokensTable): ApiToken {
  return {
    id: r.id,
    accountId: r.account_id,
    hash: r.hash,
    prefix: r.prefix,
    name: r.name,
    createdAt: Number(r.created_at),
    lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
    sealedSecret: r.sealed_secret,
  };
}
const optTime = (v: number | null): EpochMs | null => (v === null ? null : Number(v));
function toTask(r: TasksTable): TaskRecord {
  return {
    uuid: r.uuid,
    accountId: r.account_id,
    shortname: r.shortname,
    name: r.name,
    profile: r.profile,
    state: r.state as TaskState,
    previousState: r.previous_state as TaskState | null,
    stateTransitionTime: Number(r.state_transition_time),
    creationDate: Number(r.creation_date),
    endDate: optTime(r.end_date),
    body: parse(r.body),
    schedulingType: r.scheduling_type as TaskRecord['schedulingType'],
    deadline: optTime(r.deadline),
    estimatedInstanceDurationSec: r.est_instance_duration_sec,
    checkpoint: r.checkpoint as TaskRecord['checkpoint'],
    instanceCount: r.instance_count,
    advancedRanges: r.advanced_ranges,
    tags: parse<string[]>(r.tags),
    labels: parse<Record<string, string>>(r.labels),
    jobUuid: r.job_uuid,
    dependsOn: parse<string[]>(r.depends_on),
    retrySettings: parse<TaskRecord['retrySettings']>(r.retry_settings),
    retryCount: r.retry_count,
    status: parse(r.status),
    version: r.version,
  };
}
function toInstance(r: InstancesTable): InstanceRecord {
  return {
    taskUuid: r.task_uuid,
    instanceId: r.instance_id,
    state: r.state as InstanceState,
    phase: r.phase as InstancePhaseName | null,
    attempt: r.attempt,
    heaterId: r.heater_id,
    boardIndex: r.board_index,
    progress: r.progress,
    startedAt: optTime(r.started_at),
    endedAt: optTime(r.ended_at),
    updatedAt: Number(r.updated_at),
    energyWh: r.energy_wh,
    ghzSeconds: r.ghz_seconds,
    execTimeSec: r.exec_time_sec,
    wallTimeSec: r.wall_time_sec,
    clockRatio: r.clock_ratio,
    results: parse(r.results),
    info: parse(r.info),
  };
}
function toAttempt(r: InstanceAttemptsTable): InstanceAttempt {
  return {
    taskUuid: r.task_uuid,
    instanceId: r.instance_id,
    attempt: r.attempt,
    state: r.state as InstanceState | null,
    heaterId: r.heater_id,
    boardIndex: r.board_index,
    startedAt: optTime(r.started_at),
    endedAt: optTime(r.ended_at),
    energyWh: r.energy_wh,
    ghzSeconds: r.ghz_seconds,
    execTimeSec: r.exec_time_sec,
    wallTimeSec: r.wall_time_sec,
    clockRatio: r.clock_ratio,
  };
}
function toJob(r: JobsTable): JobRecord {
  return {
    uuid: r.uuid,
    accountId: r.account_id,
    shortname: r.shortname,
    name: r.name,
    state: r.state as JobState,
    useDependencies: r.use_dependencies !== 0,
    maxWallTimeSec: r.max_wall_time_sec,
    creationDate: Number(r.creation_date),
    lastModified: Number(r.last_modified),
    endDate: optTime(r.end_date),
    body: parse(r.body),
  };
}
function toChunk(r: OutputChunksTable): OutputChunk {
  return {
    taskUuid: r.task_uuid,
    instanceId: r.instance_id,
    stream: r.stream as OutputStream,
    seq: Number(r.seq),
    text: Buffer.from(r.data).toString('utf8'),
    at: Number(r.at),
  };
}
function toBucket(r: BucketsTable): BucketRecord {
  return { name: r.name, accountId: r.account_id, createdAt: Number(r.created_at) };
}
function toObject(r: ObjectsTable): ObjectRecord {
  return {
    bucket: r.bucket,
    key: r.key,
    size: Number(r.size),
    etag: r.etag,
    contentType: r.content_type,
    blobHash: r.blob_hash,
    metadata: parse<Record<string, string>>(r.metadata),
    lastModified: Number(r.last_modified),
  };
}
function toUpload(r: MultipartUploadsTable): MultipartUpload {
  return {
    uploadId: r.upload_id,
    bucket: r.bucket,
    key: r.key,
    accountId: r.account_id,
    contentType: r.content_type,
    metadata: parse<Record<string, string>>(r.metadata),
    createdAt: Number(r.created_at),
  };
}
function toPart(r: MultipartPartsTable): PartRecord {
  return {
    uploadId: r.upload_id,
    partNumber: r.part_number,
    size: Number(r.size),
    etag: r.etag,
    blobHash: r.blob_hash,
    lastModified: Number(r.last_modified),
  };
}
function toRegistry(r: RegistryTable): RegistryRow {
  return {
    id: r.id,
    kind: r.kind as RegistryKind,
    siteId: r.site_id,
    parentId: r.parent_id,
    name: r.name,
    accountId: r.account_id,
    spec: parse(r.spec),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}
function toEvent(r: EventsTable): StoreEvent {
  return { id: Number(r.id), type: r.type, accountId: r.account_id, payload: parse(r.payload), at: Number(r.at) };
}

/** A new task validated into its row, with what the other tables need. */
interface BuiltTask {
  row: TasksTable;
  tags: string[];
  labels: Record<string, string>;
  instanceIds: number[];
  /** False when the shortname is the uuid generated for the task (nothing can hold it yet). */
  chosenName: boolean;
  /** NewTask.maxAccountTasks (Infinity: none). */
  maxAccountTasks: number;
  /**
   * The record a creation returns: the row's values, with the JSON fields as given (not parsed back from the
   * text just written: a bulk of 100 tasks would parse 600 documents for answers that only need the uuids).
   */
  record: TaskRecord;
}

/** A createTask/createTasks call waiting for its group (see KyselyStore.createGrouped). */
interface PendingCreation {
  built: BuiltTask[];
  single: boolean;
  resolve: (r: Array<TaskRecord | StoreConflictError>) => void;
  reject: (e: unknown) => void;
}
/** Most tasks, and instances, written by one group commit (more wait for the next group). */
const GROUP_MAX_TASKS = 1000;
const GROUP_MAX_INSTANCES = 50_000;

const TASK_ORDER_COLUMN = {
  creationDate: 'creation_date',
  name: 'name',
  shortname: 'shortname',
  state: 'state',
  stateTransitionTime: 'state_transition_time',
} as const satisfies Record<TaskOrderBy, keyof TasksTable>;

// ---------------------------------------------------------------------------------------------------------
// The store

/** Options the backend modules pass when wrapping a connected kysely instance. */
export interface KyselyStoreInit {
  backend: 'sqlite' | 'postgres';
  clock: () => EpochMs;
  /** Releases backend helpers (called once by close(), before the kysely instance is destroyed). */
  destroy: () => Promise<void>;
  /**
   * How long `findTokenByHash` may answer from memory, ms (default {@link DEFAULT_AUTH_CACHE_MS}; 0: always
   * read). Bounds how late a change made by another process (not through this store) is seen.
   */
  authCacheMs?: number;
}

/** Default lifetime of a cached token lookup, ms. */
export const DEFAULT_AUTH_CACHE_MS = 1000;

/**
 * Placeholders for {@link KyselyStore.prepared}: text no caller passes (NUL is refused in stored text), each
 * standing for the argument of its index.
 */
const ARG = Array.from({ length: 4 }, (_, i) => `\u0000hearth-arg-${i}\u0000`);

/** A compiled statement and, per parameter, the index of the argument it takes (-1: a constant). */
interface Prepared {
  compiled: CompiledQuery;
  slots: number[];
}
/** Most compiled statements kept (hot reads, and multi-row inserts by table and row count). */
const PREPARED_CAPACITY = 512;

/** What a store and the transaction stores made from it share. */
interface Shared {
  auth: AuthCache;
  /** Compiled statements by name (the SQL depends only on the dialect: shared by the store and its transactions). */
  prepared: Map<string, Prepared>;
  /** Task creations waiting to be written together, and the last group's completion. */
  group: { pending: PendingCreation[]; scheduled: boolean; chain: Promise<void> };
  /** Who is told about writes to a task or its instances (see watchTasks). */
  taskWatchers: Set<(uuid: string) => void>;
}

/** {@link Store} over a kysely instance whose schema is {@link Database} (already migrated). */
/** Devices probed per statement by latestTelemetry (SQLite allows 500 terms in a compound SELECT). */
const LATEST_PER_STATEMENT = 200;

export class KyselyStore implements Store {
  readonly backend: 'sqlite' | 'postgres';
  private readonly clock: () => EpochMs;
  private closed = false;
  private readonly shared: Shared;
  /** In a transaction: the accounts whose cached token lookups to drop again once it ends (null: all). */
  private readonly touched = new Set<string | null>();
  /** In a transaction: the tasks written, whose watchers are told again once it ends. */
  private readonly touchedTasks = new Set<string>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly init: KyselyStoreInit,
    private readonly inTx = false,
    shared?: Shared,
  ) {
    this.backend = init.backend;
    this.clock = init.clock;
    this.shared = shared ?? {
      auth: new AuthCache(init.authCacheMs ?? DEFAULT_AUTH_CACHE_MS, init.clock),
      group: { pending: [], scheduled: false, chain: Promise.resolve() },
      prepared: new Map(),
      taskWatchers: new Set(),
    };
  }

  // --- plumbing

  async transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    return this.atomic(fn);
  }

  /** Runs fn in a transaction (joining the current one when already inside). */
  private async atomic<T>(fn: (s: KyselyStore) => Promise<T>): Promise<T> {
    if (this.inTx) return fn(this);
    let tx: KyselyStore | undefined;
    try {
      return await this.db.transaction().execute((trx) => fn((tx = new KyselyStore(trx, this.init, true, this.shared))));
    } finally {
      // Again after COMMIT (or ROLLBACK): on PostgreSQL another connection may have read, and cached, the rows
      // as they were before the commit, after the first invalidation.
      if (tx) for (const id of tx.touched) this.shared.auth.invalidate(id ?? undefined);
      if (tx) for (const uuid of tx.touchedTasks) this.tellWatchers(uuid);
    }
  }

  watchTasks(listener: (uuid: string) => void): () => void {
    const watchers = this.shared.taskWatchers;
    // A fresh function per call: the same listener registered twice is removed once per returned stop.
    const own = (uuid: string): void => listener(uuid);
    watchers.add(own);
    return () => void watchers.delete(own);
  }

  private tellWatchers(uuid: string): void {
    for (const w of this.shared.taskWatchers) w(uuid);
  }

  /** Inside a transaction, before writing a task's row or instances: the watchers are told now and once it ends. */
  private taskWritten(uuid: string): void {
    if (!this.inTx) throw new Error('taskWritten() outside a transaction');
    this.tellWatchers(uuid);
    this.touchedTasks.add(uuid);
  }

  /**
   * Runs a write to a task's row or instances, telling the watchers before it and again once it is committed:
   * after the statement when it commits on its own, after the transaction (see atomic) when inside one.
   */
  private async taskChange<T>(uuid: string, write: () => Promise<T>): Promise<T> {
    if (this.shared.taskWatchers.size === 0 && !this.inTx) return write();
    this.tellWatchers(uuid);
    if (this.inTx) {
      this.touchedTasks.add(uuid);
      return write();
    }
    try {
      return await write();
    } finally {
      this.tellWatchers(uuid);
    }
  }

  /**
   * Runs a write that changes what `findTokenByHash` answers for an account's tokens (undefined: any token),
   * dropping the cached answers before it and again once it is committed: after the statement when it commits
   * on its own, after the transaction (see atomic) when inside one.
   */
  private async authChange<T>(accountId: string | undefined, write: () => Promise<T>): Promise<T> {
    this.shared.auth.invalidate(accountId);
    if (this.inTx) {
      this.touched.add(accountId ?? null);
      return write();
    }
    try {
      return await write();
    } finally {
      this.shared.auth.invalidate(accountId);
    }
  }

  /** Row lock for read-modify-write on PostgreSQL; SQLite transactions already hold the write lock. */
  private lock<Q extends { forUpdate(): Q }>(q: Q): Q {
    return this.backend === 'postgres' ? q.forUpdate() : q;
  }

  async schemaVersion(): Promise<number> {
    const r = await sql<{ v: number | string | null }>`SELECT max(version) AS v FROM schema_migrations`.execute(this.db);
    return numberOf(r.rows[0]?.v);
  }

  async close(): Promise<void> {
    if (this.inTx) throw new Error('close() called on a transaction');
    if (this.closed) return;
    this.closed = true;
    // Creations already accepted are written first.
    const g = this.shared.group;
    while (g.pending.length > 0 || g.scheduled) {
      await g.chain;
      await new Promise((r) => setImmediate(r));
    }
    await g.chain;
    await this.init.destroy();
    await this.db.destroy();
  }

  private remember(key: string, p: Prepared): void {
    const m = this.shared.prepared;
    if (m.size >= PREPARED_CAPACITY) m.delete(m.keys().next().value!);
    m.set(key, p);
  }

  /**
   * Runs a hot query compiled once: kysely builds and compiles a query on every call (tens of µs of objects
   * per statement), more than SQLite takes to answer a primary-key read. `build` gets placeholders ({@link ARG})
   * where the arguments go and must use each at most once per value position; `args[i]` replaces `ARG[i]`.
   */
  private async prepared<R>(key: string, build: (a: readonly string[]) => Compilable<R>, args: readonly unknown[]): Promise<R[]> {
    let p = this.shared.prepared.get(key);
    if (!p) {
      const compiled = build(ARG).compile();
      p = { compiled, slots: compiled.parameters.map((v) => ARG.indexOf(v as string)) };
      this.remember(key, p);
    }
    const { compiled, slots } = p;
    const parameters = slots.map((i, k) => (i >= 0 ? args[i] : compiled.parameters[k]));
    return (await this.db.executeQuery<R>({ ...compiled, parameters })).rows;
  }

  /**
   * Inserts rows (all with the same columns, in the same key order) in statements of at most `chunk` rows,
   * each compiled once per row count: a 100-row insert is ~3,000 values, which kysely would otherwise turn into
   * as many frozen nodes on every call. The first compilation of each size checks that kysely orders the
   * parameters as this flattening does (row by row, columns in key order); if not, it is never reused.
   */
  private async insertRows<R extends object>(key: string, rows: R[], chunk: number, build: (part: R[]) => Compilable<unknown>): Promise<void> {
    for (const part of chunks(rows, chunk)) {
      const columns = Object.keys(part[0]) as Array<keyof R>;
      const parameters: unknown[] = [];
      for (const r of part) for (const c of columns) parameters.push(r[c]);
      const k = `${key}:${part.length}:${columns.join(',')}`;
      let p = this.shared.prepared.get(k);
      if (!p) {
        const compiled = build(part).compile();
        const same = compiled.parameters.length === parameters.length && compiled.parameters.every((v, i) => v === parameters[i]);
        if (!same) {
          await this.db.executeQuery(compiled);
          continue;
        }
        p = { compiled, slots: [] };
        this.remember(k, p);
      }
      await this.db.executeQuery({ ...p.compiled, parameters });
    }
  }

  /** Visible task row (scoped), optionally locked. */
  private async taskRow(owner: Owner, uuid: string, forUpdate = false): Promise<TasksTable | undefined> {
    if (!forUpdate || this.backend !== 'postgres') {
      const [r] =
        owner === SYSTEM
          ? await this.prepared('taskRow', (a) => this.db.selectFrom('tasks').selectAll().where('uuid', '=', a[0]), [uuid])
          : await this.prepared('taskRow:owner', (a) => this.db.selectFrom('tasks').selectAll().where('uuid', '=', a[0]).where('account_id', '=', a[1]), [uuid, owner]);
      return r;
    }
    let q = this.db.selectFrom('tasks').selectAll().where('uuid', '=', uuid);
    if (owner !== SYSTEM) q = q.where('account_id', '=', owner);
    return q.forUpdate().executeTakeFirst();
  }
  private async taskVisible(owner: Owner, uuid: string): Promise<boolean> {
    let q = this.db.selectFrom('tasks').select('uuid').where('uuid', '=', uuid);
    if (owner !== SYSTEM) q = q.where('account_id', '=', owner);
    return (await q.executeTakeFirst()) !== undefined;
  }

  // --- accounts

  async createAccount(a: NewAccount): Promise<Account> {
    const now = this.clock();
    const row: AccountsTable = {
      id: text('id', a.id ?? randomUUID()),
      email: text('email', a.email),
      role: a.role,
      credits_micro: toMicro(a.creditsEUR ?? 0),
      quotas: json(a.quotas ?? {}),
      scope: json(a.scope ?? {}),
      created_at: now,
      updated_at: now,
      task_count: 0,
      billed_eur: 0,
    };
    try {
      return await this.atomic(async (s) => {
        const clash = await s.db.selectFrom('accounts').select(['id', 'email']).where((eb) => eb.or([eb('email', '=', row.email), eb('id', '=', row.id)])).executeTakeFirst();
        if (clash) throw new StoreConflictError(clash.email === row.email ? 'email' : 'id', `an account with this ${clash.email === row.email ? 'email' : 'id'} exists`);
        await s.db.insertInto('accounts').values(row).execute();
        return toAccount(row);
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new StoreConflictError('email', 'an account with this email exists');
      throw e;
    }
  }

  async getAccount(id: string): Promise<Account | undefined> {
    const [r] = await this.prepared('account', (a) => this.db.selectFrom('accounts').selectAll().where('id', '=', a[0]), [id]);
    return r && toAccount(r);
  }

  async getAccounts(ids: readonly string[]): Promise<Account[]> {
    const unique = [...new Set(ids)];
    const out: Account[] = [];
    for (let k = 0; k < unique.length; k += 500) {
      const rows = await this.db.selectFrom('accounts').selectAll().where('id', 'in', unique.slice(k, k + 500)).execute();
      for (const r of rows) out.push(toAccount(r));
    }
    return out;
  }

  async getAccountByEmail(email: string): Promise<Account | undefined> {
    const r = await this.db.selectFrom('accounts').selectAll().where('email', '=', email).executeTakeFirst();
    return r && toAccount(r);
  }

  async listAccounts(options: PageRequest & { role?: Role } = {}): Promise<Page<Account>> {
    const limit = pageLimit(options.limit);
    let q = this.db.selectFrom('accounts').selectAll();
    if (options.role) q = q.where('role', '=', options.role);
    if (options.pageToken) {
      const after = decodeToken(options.pageToken);
      if (typeof after !== 'string') throw new StoreInputError('pageToken', 'pageToken is not a token this server issued');
      q = q.where('id', '>', after);
    }
    const rows = await q.orderBy('id').limit(limit + 1).execute();
    const more = rows.length > limit;
    const items = rows.slice(0, limit).map(toAccount);
    return { items, nextToken: more ? encodeToken(items[items.length - 1].id) : null };
  }

  async updateAccount(
    id: string,
    patch: { email?: string; role?: Role; quotas?: Quotas; scope?: AccountScope },
  ): Promise<Account | undefined> {
    const set: Partial<AccountsTable> = { updated_at: this.clock() };
    if (patch.email !== undefined) set.email = text('email', patch.email);
    if (patch.role !== undefined) set.role = patch.role;
    if (patch.quotas !== undefined) set.quotas = json(patch.quotas);
    if (patch.scope !== undefined) set.scope = json(patch.scope);
    try {
      return await this.atomic(async (s) => {
        if (set.email !== undefined) {
          const clash = await s.db.selectFrom('accounts').select('id').where('email', '=', set.email).where('id', '!=', id).executeTakeFirst();
          if (clash) throw new StoreConflictError('email', 'an account with this email exists');
        }
        const r = await s.authChange(id, () => s.db.updateTable('accounts').set(set).where('id', '=', id).returningAll().executeTakeFirst());
        return r && toAccount(r);
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new StoreConflictError('email', 'an account with this email exists');
      throw e;
    }
  }

  async adjustCredits(id: string, deltaEUR: number): Promise<number | undefined> {
    const d = toMicro(deltaEUR);
    const r = await this.authChange(id, () =>
      this.db
        .updateTable('accounts')
        .set((eb) => ({ credits_micro: eb('credits_micro', '+', d), updated_at: this.clock() }))
        .where('id', '=', id)
        .returning('credits_micro')
        .executeTakeFirst(),
    );
    return r && fromMicro(r.credits_micro);
  }

  // --- tokens

  async createToken(t: NewApiToken): Promise<ApiToken> {
    const row: ApiTokensTable = {
      id: text('id', t.id ?? randomUUID()),
      account_id: t.accountId,
      hash: text('hash', t.hash),
      prefix: text('prefix', t.prefix),
      name: optText('name', t.name),
      created_at: this.clock(),
      last_used_at: null,
      revoked_at: null,
      sealed_secret: optText('sealedSecret', t.sealedSecret),
    };
    try {
      return await this.atomic(async (s) => {
        const clash = await s.db.selectFrom('api_tokens').select('id').where((eb) => eb.or([eb('hash', '=', row.hash), eb('id', '=', row.id)])).executeTakeFirst();
        if (clash) throw new StoreConflictError('tokenHash', 'this token exists');
        await s.db.insertInto('api_tokens').values(row).execute();
        return toToken(row);
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new StoreConflictError('tokenHash', 'this token exists');
      throw e;
    }
  }

  async findTokenByHash(hash: string): Promise<{ token: ApiToken; account: Account } | undefined> {
    // Inside a transaction, read through it (the cache only knows what is committed).
    const cache = this.inTx ? undefined : this.shared.auth;
    const hit = cache?.get(hash);
    if (hit) return hit;
    const gen = cache?.begin() ?? 0;
    // One statement for the token and its account (every request without a cached answer runs it).
    const [r] = await this.prepared(
      'tokenByHash',
      (a) =>
        this.db
          .selectFrom('api_tokens as t')
          .innerJoin('accounts as a', 'a.id', 't.account_id')
          .selectAll('t')
          .select([
            'a.email as a_email',
            'a.role as a_role',
            'a.credits_micro as a_credits_micro',
            'a.quotas as a_quotas',
            'a.scope as a_scope',
            'a.created_at as a_created_at',
            'a.updated_at as a_updated_at',
            'a.task_count as a_task_count',
          ])
          .where('t.hash', '=', a[0])
          .where('t.revoked_at', 'is', null),
      [hash],
    );
    if (!r) return undefined;
    const found: FoundToken = {
      token: toToken(r),
      account: toAccount({
        id: r.account_id,
        email: r.a_email,
        role: r.a_role,
        credits_micro: r.a_credits_micro,
        quotas: r.a_quotas,
        scope: r.a_scope,
        created_at: r.a_created_at,
        updated_at: r.a_updated_at,
        task_count: r.a_task_count,
      }),
    };
    return cache ? cache.put(hash, found, gen) : found;
  }

  async listTokens(owner: Owner, options: { includeRevoked?: boolean } = {}): Promise<ApiToken[]> {
    let q = this.db.selectFrom('api_tokens').selectAll();
    if (owner !== SYSTEM) q = q.where('account_id', '=', owner);
    if (!options.includeRevoked) q = q.where('revoked_at', 'is', null);
    return (await q.orderBy('created_at').orderBy('id').execute()).map(toToken);
  }

  async touchToken(id: string, at?: EpochMs): Promise<void> {
    // A cached lookup would show the old lastUsedAt (rare writes: callers throttle them).
    await this.authChange(undefined, () => this.db.updateTable('api_tokens').set({ last_used_at: at ?? this.clock() }).where('id', '=', id).execute());
  }

  async revokeToken(owner: Owner, id: string, at?: EpochMs): Promise<boolean> {
    let q = this.db.updateTable('api_tokens').set({ revoked_at: at ?? this.clock() }).where('id', '=', id).where('revoked_at', 'is', null);
    if (owner !== SYSTEM) q = q.where('account_id', '=', owner);
    // Revoked means refused from the next request on: every cached lookup goes (revocations are rare).
    const r = await this.authChange(undefined, () => q.executeTakeFirst());
    return Number(r.numUpdatedRows) > 0;
  }

  // --- tasks

  async createTask(task: NewTask): Promise<TaskRecord> {
    const [r] = await this.createGrouped([this.taskRow0(task, this.clock())], true);
    if (r instanceof StoreConflictError) throw r;
    return r;
  }

  async createTasks(tasks: NewTask[]): Promise<Array<TaskRecord | StoreConflictError>> {
    const now = this.clock();
    const built = tasks.map((t) => this.taskRow0(t, now));
    return built.length === 0 ? [] : this.createGrouped(built, false);
  }

  /**
   * Group commit: creations that arrive together (in one turn of the event loop, typically many concurrent
   * POST /tasks) are written in one transaction, so they share one COMMIT and the B-tree pages they touch —
   * adjacent, with time-ordered uuids. Each call still gets only its own answer, once committed. When the group
   * fails as a whole (one call past its quota, a uuid taken, an unknown account), each call is run again on its
   * own, so one call's failure is never another's. Inside a transaction, calls write through it directly.
   */
  private createGrouped(built: BuiltTask[], single: boolean): Promise<Array<TaskRecord | StoreConflictError>> {
    if (this.inTx) return this.createNow(built, single);
    const g = this.shared.group;
    return new Promise((resolve, reject) => {
      g.pending.push({ built, single, resolve, reject });
      this.scheduleGroup();
    });
  }

  private scheduleGroup(): void {
    const g = this.shared.group;
    if (g.scheduled) return;
    g.scheduled = true;
    setImmediate(() => {
      g.scheduled = false;
      g.chain = g.chain.then(() => this.flushGroup()).catch(() => undefined); // (flushGroup settles every call itself)
    });
  }

  /** Writes the pending creations, up to a group's size (the rest goes in the next group). */
  private async flushGroup(): Promise<void> {
    const g = this.shared.group;
    const calls: PendingCreation[] = [];
    let tasks = 0;
    let instances = 0;
    while (g.pending.length > 0 && (calls.length === 0 || (tasks < GROUP_MAX_TASKS && instances < GROUP_MAX_INSTANCES))) {
      const c = g.pending.shift()!;
      calls.push(c);
      tasks += c.built.length;
      for (const b of c.built) instances += b.instanceIds.length;
    }
    if (g.pending.length > 0) this.scheduleGroup();
    try {
      await this.writeGroup(calls);
    } catch (e) {
      for (const c of calls) c.reject(e); // (a call already answered ignores this)
    }
  }

  private async writeGroup(calls: PendingCreation[]): Promise<void> {
    if (calls.length > 1) {
      let results: Array<TaskRecord | StoreConflictError> | undefined;
      try {
        results = await this.createNow(calls.flatMap((c) => c.built), false);
      } catch {
        results = undefined; // answered one by one below
      }
      if (results) {
        let at = 0;
        for (const c of calls) c.resolve(results.slice(at, (at += c.built.length)));
        return;
      }
    }
    for (const c of calls) await this.createNow(c.built, c.single).then(c.resolve, c.reject);
  }

  /** Inserts the tasks in one transaction (or the current one); unique violations become StoreConflictError. */
  private async createNow(built: BuiltTask[], single: boolean): Promise<Array<TaskRecord | StoreConflictError>> {
    try {
      return await this.atomic((s) => s.insertTasks(built));
    } catch (e) {
      if (isUniqueViolation(e)) {
        const field = conflictField(e, 'shortname');
        if (single) throw new StoreConflictError(field, field === 'shortname' ? 'this shortname is taken in the account' : 'a task with this uuid exists');
        throw new StoreConflictError(field, field === 'shortname' ? 'a shortname of the batch is taken in the account' : 'a task uuid of the batch exists');
      }
      throw e;
    }
  }

  /** Inserts tasks with their tags, labels and instances; conflicts (existing or within the batch) are returned. */
  private async insertTasks(built: BuiltTask[]): Promise<Array<TaskRecord | StoreConflictError>> {
    // Shortnames already taken, per account. A shortname that defaults to a uuid generated here is new: only
    // the names the caller chose are looked up.
    const taken = new Set<string>();
    const byAccount = new Map<string, string[]>();
    for (const b of built) {
      if (!b.chosenName) continue;
      const names = byAccount.get(b.row.account_id);
      if (names) names.push(b.row.shortname);
      else byAccount.set(b.row.account_id, [b.row.shortname]);
    }
    for (const [account, names] of byAccount) {
      for (const part of chunks(names, INSERT_CHUNK)) {
        const found = await this.db.selectFrom('tasks').select('shortname').where('account_id', '=', account).where('shortname', 'in', part).execute();
        for (const f of found) taken.add(`${account}\u0000${f.shortname}`);
      }
    }
    const result: Array<TaskRecord | StoreConflictError> = [];
    const accepted: BuiltTask[] = [];
    /** Per account: tasks accepted, and the smallest quota among them. */
    const counts = new Map<string, { n: number; max: number }>();
    for (const b of built) {
      const k = `${b.row.account_id}\u0000${b.row.shortname}`;
      if (taken.has(k)) {
        result.push(new StoreConflictError('shortname', `shortname ${JSON.stringify(b.row.shortname)} is taken in the account`));
        continue;
      }
      taken.add(k);
      accepted.push(b);
      result.push(b.record);
      const c = counts.get(b.row.account_id) ?? { n: 0, max: Infinity };
      c.n++;
      c.max = Math.min(c.max, b.maxAccountTasks);
      counts.set(b.row.account_id, c);
    }
    // The task count first: a refusal writes nothing, and on PostgreSQL the account row stays locked until
    // commit, so concurrent creations for one account queue here and each sees the count the previous left.
    // In account order: two bulks spanning the same accounts lock their rows in the same order (no deadlock).
    for (const accountId of [...counts.keys()].sort()) {
      const { n, max } = counts.get(accountId)!;
      await this.addTaskCount(accountId, n, max);
    }
    const taskRows = accepted.map((a) => a.row);
    if (taskRows.length > 0) await this.insertRows('tasks', taskRows, Math.floor(INSERT_CHUNK / 4), (part) => this.db.insertInto('tasks').values(part));
    const tagRows = accepted.flatMap(({ row, tags }) => tags.map((tag) => ({ task_uuid: row.uuid, tag })));
    if (tagRows.length > 0) await this.insertRows('task_tags', tagRows, INSERT_CHUNK, (part) => this.db.insertInto('task_tags').values(part).onConflict((oc) => oc.doNothing()));
    const labelRows = accepted.flatMap(({ row, labels }) => Object.entries(labels).map(([key, value]) => ({ task_uuid: row.uuid, key, value })));
    if (labelRows.length > 0) await this.insertRows('task_labels', labelRows, INSERT_CHUNK, (part) => this.db.insertInto('task_labels').values(part));
    const instanceRows: InstancesTable[] = accepted.flatMap(({ row, instanceIds }) =>
      instanceIds.map((id) => ({
        task_uuid: row.uuid,
        instance_id: id,
        state: 'queued',
        phase: null,
        attempt: 0,
        last_seq: -1,
        heater_id: null,
        board_index: null,
        progress: 0,
        started_at: null,
        ended_at: null,
        updated_at: row.updated_at,
        energy_wh: 0,
        ghz_seconds: 0,
        exec_time_sec: 0,
        wall_time_sec: 0,
        clock_ratio: null,
        results: '[]',
        info: '{}',
      })),
    );
    if (instanceRows.length > 0) await this.insertRows('instances', instanceRows, INSERT_CHUNK, (part) => this.db.insertInto('instances').values(part));
    return result;
  }

  /**
   * Adds `n` (negative: removes) to an account's task count; with a finite `max`, only if the count stays ≤ max,
   * else throws StoreConflictError('maxTask') (one conditional UPDATE: atomic on both backends). An unknown
   * account changes nothing (the task insert that follows fails on its foreign key).
   */
  private async addTaskCount(accountId: string, n: number, max = Infinity): Promise<void> {
    await this.authChange(accountId, async () => {
      let q = this.db
        .updateTable('accounts')
        .set((eb) => ({ task_count: eb('task_count', '+', n) }))
        .where('id', '=', accountId);
      if (max !== Infinity) q = q.where((eb) => eb(eb('task_count', '+', n), '<=', max));
      const r = await q.executeTakeFirst();
      if (Number(r.numUpdatedRows) > 0 || max === Infinity) return;
      const a = await this.db.selectFrom('accounts').select('task_count').where('id', '=', accountId).executeTakeFirst();
      if (a) throw new StoreConflictError('maxTask', `task quota reached (${Number(a.task_count)} of ${max})`);
    });
  }

  /** Validates a new task and builds its row. */
  private taskRow0(t: NewTask, now: EpochMs): BuiltTask {
    const creation = t.creationDate ?? now;
    const uuid = t.uuid === undefined ? uuidv7(creation) : text('uuid', t.uuid);
    const ids = t.instanceIds.map((id) => int('instanceIds', id));
    if (new Set(ids).size !== ids.length) throw new StoreInputError('instanceIds', 'instance ids must be distinct');
    const tags = [...new Set((t.tags ?? []).map((x) => text('tags', x)))];
    const labels = stringRecord('labels', t.labels);
    const dependsOn = (t.dependsOn ?? []).map((x) => text('dependsOn', x));
    const row: TasksTable = {
      uuid,
      account_id: t.accountId,
      shortname: t.shortname === undefined ? uuid : text('shortname', t.shortname),
      name: text('name', t.name),
      profile: text('profile', t.profile),
      state: t.state ?? 'Submitted',
      previous_state: null,
      state_transition_time: creation,
      creation_date: creation,
      end_date: null,
      body: json(t.body),
      scheduling_type: t.schedulingType ?? 'flex',
      deadline: optNum('deadline', t.deadline),
      est_instance_duration_sec: optNum('estimatedInstanceDurationSec', t.estimatedInstanceDurationSec),
      checkpoint: t.checkpoint ?? 'none',
      instance_count: ids.length,
      advanced_ranges: optText('advancedRanges', t.advancedRanges),
      tags: json(tags),
      labels: json(labels),
      job_uuid: optText('jobUuid', t.jobUuid),
      depends_on: json(dependsOn),
      retry_settings: json(t.retrySettings ?? { maxTotalRetries: 0, maxPerInstanceRetries: 0 }),
      retry_count: 0,
      status: json(t.status ?? {}),
      version: 1,
      output_seq: 0,
      updated_at: now,
    };
    const record: TaskRecord = {
      uuid,
      accountId: row.account_id,
      shortname: row.shortname,
      name: row.name,
      profile: row.profile,
      state: row.state as TaskState,
      previousState: null,
      stateTransitionTime: creation,
      creationDate: creation,
      endDate: null,
      body: t.body,
      schedulingType: row.scheduling_type as TaskRecord['schedulingType'],
      deadline: row.deadline,
      estimatedInstanceDurationSec: row.est_instance_duration_sec,
      checkpoint: row.checkpoint as TaskRecord['checkpoint'],
      instanceCount: ids.length,
      advancedRanges: row.advanced_ranges,
      tags,
      labels,
      jobUuid: row.job_uuid,
      dependsOn,
      retrySettings: t.retrySettings ?? { maxTotalRetries: 0, maxPerInstanceRetries: 0 },
      retryCount: 0,
      status: t.status ?? {},
      version: 1,
    };
    return {
      row,
      tags,
      labels,
      instanceIds: ids,
      chosenName: t.shortname !== undefined || t.uuid !== undefined,
      maxAccountTasks: t.maxAccountTasks === undefined ? Infinity : finite('maxAccountTasks', t.maxAccountTasks),
      record,
    };
  }

  async getTask(owner: Owner, uuid: string): Promise<TaskRecord | undefined> {
    const r = await this.taskRow(owner, uuid);
    return r && toTask(r);
  }

  async getTaskByShortname(accountId: string, shortname: string): Promise<TaskRecord | undefined> {
    const r = await this.db.selectFrom('tasks').selectAll().where('account_id', '=', accountId).where('shortname', '=', shortname).executeTakeFirst();
    return r && toTask(r);
  }

  /** Applies owner scoping and a filter to a query over tasks. */
  private filterTasks<O>(q: SelectQueryBuilder<Database, 'tasks', O>, owner: Owner, f: TaskFilter = {}): SelectQueryBuilder<Database, 'tasks', O> {
    if (owner !== SYSTEM) q = q.where('tasks.account_id', '=', owner);
    if (f.states) q = f.states.length === 0 ? q.where(sql<boolean>`1 = 0`) : q.where('tasks.state', 'in', f.states);
    if (f.uuids) q = f.uuids.length === 0 ? q.where(sql<boolean>`1 = 0`) : q.where('tasks.uuid', 'in', f.uuids);
    if (f.jobUuid !== undefined) q = q.where('tasks.job_uuid', '=', f.jobUuid);
    if (f.name !== undefined) q = q.where('tasks.name', '=', f.name);
    if (f.shortname !== undefined) q = q.where('tasks.shortname', '=', f.shortname);
    if (f.createdFrom !== undefined) q = q.where('tasks.creation_date', '>=', f.createdFrom);
    if (f.createdBefore !== undefined) q = q.where('tasks.creation_date', '<', f.createdBefore);
    for (const tag of f.tagsAll ?? []) {
      q = q.where((eb) => eb.exists(eb.selectFrom('task_tags').select('task_tags.tag').whereRef('task_tags.task_uuid', '=', 'tasks.uuid').where('task_tags.tag', '=', tag)));
    }
    if (f.tagsAny) {
      const any = f.tagsAny;
      q = any.length === 0
        ? q.where(sql<boolean>`1 = 0`)
        : q.where((eb) => eb.exists(eb.selectFrom('task_tags').select('task_tags.tag').whereRef('task_tags.task_uuid', '=', 'tasks.uuid').where('task_tags.tag', 'in', any)));
    }
    for (const [key, value] of Object.entries(f.labels ?? {})) {
      q = q.where((eb) =>
        eb.exists(
          eb.selectFrom('task_labels').select('task_labels.key').whereRef('task_labels.task_uuid', '=', 'tasks.uuid').where('task_labels.key', '=', key).where('task_labels.value', '=', value),
        ),
      );
    }
    return q;
  }

  async listTasks(owner: Owner, options: TaskListOptions = {}): Promise<Page<TaskRecord>> {
    const limit = pageLimit(options.limit);
    const orderBy = options.orderBy ?? 'creationDate';
    const dir = options.order ?? 'asc';
    const col = TASK_ORDER_COLUMN[orderBy];
    let q = this.filterTasks(this.db.selectFrom('tasks').selectAll(), owner, options.filter);
    if (options.pageToken) {
      const t = decodeToken(options.pageToken) as { o?: unknown; d?: unknown; v?: unknown; u?: unknown } | null;
      if (!t || t.o !== orderBy || t.d !== dir || (typeof t.v !== 'string' && typeof t.v !== 'number') || typeof t.u !== 'string') {
        throw new StoreInputError('pageToken', 'pageToken does not belong to this listing (order changed?)');
      }
      const v = t.v;
      const u = t.u;
      const cmp = dir === 'asc' ? '>' : '<';
      q = q.where((eb) => eb.or([eb(eb.ref(`tasks.${col}`), cmp, v), eb.and([eb(eb.ref(`tasks.${col}`), '=', v), eb('tasks.uuid', cmp, u)])]));
    }
    const rows = await q.orderBy(`tasks.${col}`, dir).orderBy('tasks.uuid', dir).limit(limit + 1).execute();
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(toTask),
      nextToken: more ? encodeToken({ o: orderBy, d: dir, v: last[col], u: last.uuid }) : null,
    };
  }

  async countTasks(owner: Owner, filter?: TaskFilter): Promise<number> {
    const r = await this.filterTasks(this.db.selectFrom('tasks').select((eb) => eb.fn.countAll().as('n')), owner, filter).executeTakeFirst();
    return numberOf(r?.n);
  }

  async updateTask(owner: Owner, uuid: string, patch: TaskPatch, options: { expectVersion?: number } = {}): Promise<TaskRecord | undefined> {
    const set: Partial<TasksTable> = {};
    if (patch.name !== undefined) set.name = text('name', patch.name);
    if (patch.body !== undefined) set.body = json(patch.body);
    if (patch.deadline !== undefined) set.deadline = optNum('deadline', patch.deadline);
    if (patch.estimatedInstanceDurationSec !== undefined) set.est_instance_duration_sec = optNum('estimatedInstanceDurationSec', patch.estimatedInstanceDurationSec);
    if (patch.endDate !== undefined) set.end_date = optNum('endDate', patch.endDate);
    if (patch.retryCount !== undefined) set.retry_count = int('retryCount', patch.retryCount);
    if (patch.status !== undefined) set.status = json(patch.status);
    if (patch.jobUuid !== undefined) set.job_uuid = optText('jobUuid', patch.jobUuid);
    const tags = patch.tags && [...new Set(patch.tags.map((x) => text('tags', x)))];
    const labels = patch.labels && stringRecord('labels', patch.labels);
    if (tags) set.tags = json(tags);
    if (labels) set.labels = json(labels);
    return this.atomic((s) => s.taskChange(uuid, async () => {
      const cur = await s.taskRow(owner, uuid, true);
      if (!cur) return undefined;
      if (options.expectVersion !== undefined && cur.version !== options.expectVersion) {
        throw new StoreConflictError('version', `task ${uuid} changed (version ${cur.version}, expected ${options.expectVersion})`);
      }
      const r = await s.db
        .updateTable('tasks')
        .set({ ...set, version: cur.version + 1, updated_at: s.clock() })
        .where('uuid', '=', uuid)
        .where('version', '=', cur.version)
        .returningAll()
        .executeTakeFirst();
      if (!r) throw new StoreConflictError('version', `task ${uuid} changed concurrently`);
      if (tags) {
        await s.db.deleteFrom('task_tags').where('task_uuid', '=', uuid).execute();
        if (tags.length) await s.db.insertInto('task_tags').values(tags.map((tag) => ({ task_uuid: uuid, tag }))).execute();
      }
      if (labels) {
        await s.db.deleteFrom('task_labels').where('task_uuid', '=', uuid).execute();
        const lr = Object.entries(labels).map(([key, value]) => ({ task_uuid: uuid, key, value }));
        if (lr.length) await s.db.insertInto('task_labels').values(lr).execute();
      }
      return toTask(r);
    }));
  }

  async transitionTask(
    owner: Owner,
    uuid: string,
    change: { to: TaskState; from?: TaskState[]; at?: EpochMs; endDate?: EpochMs | null },
  ): Promise<TaskRecord | undefined> {
    if (change.from && change.from.length === 0) return undefined;
    const at = change.at ?? this.clock();
    let q = this.db
      .updateTable('tasks')
      .set((eb) => ({
        previous_state: eb.ref('state'),
        state: change.to,
        state_transition_time: at,
        version: eb('version', '+', 1),
        updated_at: at,
        ...(change.endDate !== undefined ? { end_date: change.endDate } : {}),
      }))
      .where('uuid', '=', uuid);
    if (owner !== SYSTEM) q = q.where('account_id', '=', owner);
    if (change.from) q = q.where('state', 'in', change.from);
    const r = await this.taskChange(uuid, () => q.returningAll().executeTakeFirst());
    return r && toTask(r);
  }

  async deleteTask(owner: Owner, uuid: string): Promise<boolean> {
    return this.atomic(async (s) => {
      let q = s.db.deleteFrom('tasks').where('uuid', '=', uuid);
      if (owner !== SYSTEM) q = q.where('account_id', '=', owner);
      const gone = await s.taskChange(uuid, () => q.returning('account_id').executeTakeFirst());
      if (!gone) return false;
      await s.addTaskCount(gone.account_id, -1);
      return true;
    });
  }

  // --- instances

  async getInstance(owner: Owner, taskUuid: string, instanceId: number): Promise<InstanceRecord | undefined> {
    const [r] = await this.listInstances(owner, { taskUuid, instanceIds: [instanceId] });
    return r;
  }

  async listInstances(owner: Owner, options: InstanceListOptions = {}): Promise<InstanceRecord[]> {
    const { taskUuid, states, instanceIds, heaterIds, limit } = options;
    if (taskUuid !== undefined && states === undefined && instanceIds === undefined && heaterIds === undefined && limit === undefined) {
      // The hot case (every GET /tasks/{uuid}): one task's instances.
      const rows =
        owner === SYSTEM
          ? await this.prepared(
              'instancesOfTask',
              (a) => this.db.selectFrom('instances').selectAll().where('task_uuid', '=', a[0]).orderBy('task_uuid').orderBy('instance_id'),
              [taskUuid],
            )
          : await this.prepared(
              'instancesOfTask:owner',
              (a) =>
                this.db
                  .selectFrom('instances')
                  .innerJoin('tasks', 'tasks.uuid', 'instances.task_uuid')
                  .selectAll('instances')
                  .where('tasks.account_id', '=', a[1])
                  .where('instances.task_uuid', '=', a[0])
                  .orderBy('instances.task_uuid')
                  .orderBy('instances.instance_id'),
              [taskUuid, owner],
            );
      return rows.map(toInstance);
    }
    let q = this.db.selectFrom('instances').selectAll('instances');
    if (owner !== SYSTEM) q = q.innerJoin('tasks', 'tasks.uuid', 'instances.task_uuid').where('tasks.account_id', '=', owner);
    if (options.taskUuid !== undefined) q = q.where('instances.task_uuid', '=', options.taskUuid);
    if (options.states) q = options.states.length === 0 ? q.where(sql<boolean>`1 = 0`) : q.where('instances.state', 'in', options.states);
    if (options.instanceIds) q = options.instanceIds.length === 0 ? q.where(sql<boolean>`1 = 0`) : q.where('instances.instance_id', 'in', options.instanceIds);
    if (heaterIds) q = heaterIds.length === 0 ? q.where(sql<boolean>`1 = 0`) : q.where('instances.heater_id', 'in', heaterIds);
    q = q.orderBy('instances.task_uuid').orderBy('instances.instance_id');
    if (options.limit !== undefined) q = q.limit(int('limit', options.limit));
    return (await q.execute()).map(toInstance);
  }

  async countInstances(owner: Owner, options: Pick<InstanceListOptions, 'taskUuid' | 'states' | 'heaterIds'> = {}): Promise<number> {
    let q = this.db.selectFrom('instances');
    if (owner !== SYSTEM) q = q.innerJoin('tasks', 'tasks.uuid', 'instances.task_uuid').where('tasks.account_id', '=', owner);
    if (options.taskUuid !== undefined) q = q.where('instances.task_uuid', '=', options.taskUuid);
    if (options.states) q = options.states.length === 0 ? q.where(sql<boolean>`1 = 0`) : q.where('instances.state', 'in', options.states);
    if (options.heaterIds) q = options.heaterIds.length === 0 ? q.where(sql<boolean>`1 = 0`) : q.where('instances.heater_id', 'in', options.heaterIds);
    const r = await q.select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
    return numberOf(r?.n);
  }

  async summarizeInstances(owner: Owner, taskUuid: string): Promise<InstanceSummary | undefined> {
    if (!(await this.taskVisible(owner, taskUuid))) return undefined;
    const rows = await this.db
      .selectFrom('instances')
      .select((eb) => [
        'state',
        eb.fn.countAll().as('n'),
        eb.fn.sum('energy_wh').as('e'),
        eb.fn.sum('ghz_seconds').as('g'),
        eb.fn.sum('exec_time_sec').as('x'),
        eb.fn.sum('wall_time_sec').as('w'),
        eb.fn.sum('progress').as('p'),
      ])
      .where('task_uuid', '=', taskUuid)
      .groupBy('state')
      .execute();
    const s: InstanceSummary = { instanceCount: 0, byState: {}, energyWh: 0, ghzSeconds: 0, execTimeSec: 0, wallTimeSec: 0, progress: 0 };
    let progressSum = 0;
    for (const r of rows) {
      const n = numberOf(r.n);
      s.instanceCount += n;
      s.byState[r.state as InstanceState] = n;
      s.energyWh += numberOf(r.e);
      s.ghzSeconds += numberOf(r.g);
      s.execTimeSec += numberOf(r.x);
      s.wallTimeSec += numberOf(r.w);
      progressSum += numberOf(r.p);
    }
    s.progress = s.instanceCount > 0 ? progressSum / s.instanceCount : 0;
    return s;
  }

  async applyInstanceEvent(ev: InstanceEvent): Promise<InstanceEventResult> {
    int('attempt', ev.attempt);
    int('sequence', ev.sequence);
    const at = ev.at ?? this.clock();
    const add = ev.add ?? {};
    const adds = {
      energy_wh: finite('energyWh', add.energyWh ?? 0),
      ghz_seconds: finite('ghzSeconds', add.ghzSeconds ?? 0),
      exec_time_sec: finite('execTimeSec', add.execTimeSec ?? 0),
      wall_time_sec: finite('wallTimeSec', add.wallTimeSec ?? 0),
    };
    const set = ev.set ?? {};
    const instanceSet = this.instanceSetRow(set);
    const charge = ev.charge === undefined ? undefined : chargeOf(ev.charge);
    return this.atomic((s) => s.taskChange(ev.taskUuid, async () => {
      const inst = await s.lock(
        s.db.selectFrom('instances').selectAll().where('task_uuid', '=', ev.taskUuid).where('instance_id', '=', ev.instanceId),
      ).executeTakeFirst();
      if (!inst) return { applied: false, instance: undefined };
      const ins = await s.db
        .insertInto('instance_events')
        .values({ task_uuid: ev.taskUuid, instance_id: ev.instanceId, attempt: ev.attempt, seq: ev.sequence, applied_at: at })
        .onConflict((oc) => oc.columns(['task_uuid', 'instance_id', 'attempt', 'seq']).doNothing())
        .executeTakeFirst();
      if (Number(ins.numInsertedOrUpdatedRows ?? 0) === 0) return { applied: false, instance: toInstance(inst) };

      // The attempt's accounting.
      await s.db
        .insertInto('instance_attempts')
        .values({
          task_uuid: ev.taskUuid,
          instance_id: ev.instanceId,
          attempt: ev.attempt,
          state: null,
          last_seq: -1,
          heater_id: null,
          board_index: null,
          started_at: null,
          ended_at: null,
          energy_wh: 0,
          ghz_seconds: 0,
          exec_time_sec: 0,
          wall_time_sec: 0,
          clock_ratio: null,
        })
        .onConflict((oc) => oc.columns(['task_uuid', 'instance_id', 'attempt']).doNothing())
        .execute();
      const att = (await s.db
        .selectFrom('instance_attempts')
        .select('last_seq')
        .where('task_uuid', '=', ev.taskUuid)
        .where('instance_id', '=', ev.instanceId)
        .where('attempt', '=', ev.attempt)
        .executeTakeFirstOrThrow());
      const attemptSet: Partial<InstanceAttemptsTable> = {};
      if (ev.sequence > Number(att.last_seq)) {
        attemptSet.last_seq = ev.sequence;
        if (set.state !== undefined) attemptSet.state = set.state;
        for (const k of ['heater_id', 'board_index', 'started_at', 'ended_at', 'clock_ratio'] as const) {
          if (k in instanceSet) (attemptSet as Record<string, unknown>)[k] = instanceSet[k];
        }
      }
      await s.db
        .updateTable('instance_attempts')
        .set((eb) => ({
          ...attemptSet,
          energy_wh: eb('energy_wh', '+', adds.energy_wh),
          ghz_seconds: eb('ghz_seconds', '+', adds.ghz_seconds),
          exec_time_sec: eb('exec_time_sec', '+', adds.exec_time_sec),
          wall_time_sec: eb('wall_time_sec', '+', adds.wall_time_sec),
        }))
        .where('task_uuid', '=', ev.taskUuid)
        .where('instance_id', '=', ev.instanceId)
        .where('attempt', '=', ev.attempt)
        .execute();

      // The instance: totals always; absolute fields only from the newest event of the newest attempt.
      const newer = ev.attempt > inst.attempt || (ev.attempt === inst.attempt && ev.sequence > Number(inst.last_seq));
      const r = await s.db
        .updateTable('instances')
        .set((eb) => ({
          ...(newer ? { ...instanceSet, attempt: ev.attempt, last_seq: ev.sequence } : {}),
          energy_wh: eb('energy_wh', '+', adds.energy_wh),
          ghz_seconds: eb('ghz_seconds', '+', adds.ghz_seconds),
          exec_time_sec: eb('exec_time_sec', '+', adds.exec_time_sec),
          wall_time_sec: eb('wall_time_sec', '+', adds.wall_time_sec),
          updated_at: at,
        }))
        .where('task_uuid', '=', ev.taskUuid)
        .where('instance_id', '=', ev.instanceId)
        .returningAll()
        .executeTakeFirstOrThrow();
      const chargedEUR = charge && (charge.core_seconds > 0 || charge.amount_eur > 0) ? await s.charge(ev, at, charge) : 0;
      return { applied: true, instance: toInstance(r), chargedEUR };
    }));
  }

  /**
   * Inside applyInstanceEvent's transaction: the event's charge into the ledger, and the task owner's credits down
   * by the account's running total rounded to the micro-euro (what that rounding moved by). Returns that, €.
   */
  private async charge(ev: InstanceEvent, at: EpochMs, c: Pick<ChargesTable, 'scheduling_type' | 'core_seconds' | 'amount_eur'>): Promise<number> {
    const task = await this.db.selectFrom('tasks').select('account_id').where('uuid', '=', ev.taskUuid).executeTakeFirstOrThrow();
    const accountId = task.account_id;
    const acct = await this.lock(this.db.selectFrom('accounts').select('billed_eur').where('id', '=', accountId)).executeTakeFirstOrThrow();
    const before = Number(acct.billed_eur);
    const after = before + c.amount_eur;
    const micro = Math.round(after * 1e6) - Math.round(before * 1e6);
    await this.db
      .insertInto('charges')
      .values({ task_uuid: ev.taskUuid, instance_id: ev.instanceId, attempt: ev.attempt, seq: ev.sequence, account_id: accountId, at, ...c, charged_micro: micro })
      .execute();
    await this.authChange(accountId, () =>
      this.db
        .updateTable('accounts')
        .set((eb) => ({ billed_eur: after, credits_micro: eb('credits_micro', '-', micro), updated_at: this.clock() }))
        .where('id', '=', accountId)
        .execute(),
    );
    return micro / 1e6;
  }

  /** Validated column values of an instance's absolute fields. */
  private instanceSetRow(set: InstanceSet): Partial<InstancesTable> {
    const row: Partial<InstancesTable> = {};
    if (set.state !== undefined) row.state = set.state;
    if (set.phase !== undefined) row.phase = set.phase;
    if (set.progress !== undefined) row.progress = finite('progress', set.progress);
    if (set.heaterId !== undefined) row.heater_id = optText('heaterId', set.heaterId);
    if (set.boardIndex !== undefined) row.board_index = set.boardIndex === null ? null : int('boardIndex', set.boardIndex);
    if (set.startedAt !== undefined) row.started_at = optNum('startedAt', set.startedAt);
    if (set.endedAt !== undefined) row.ended_at = optNum('endedAt', set.endedAt);
    if (set.clockRatio !== undefined) row.clock_ratio = optNum('clockRatio', set.clockRatio);
    if (set.results !== undefined) row.results = json(set.results);
    if (set.info !== undefined) row.info = json(set.info);
    return row;
  }

  async updateInstances(
    owner: Owner,
    taskUuid: string,
    where: { instanceIds?: number[]; states?: InstanceState[] },
    set: Pick<InstanceSet, 'state' | 'phase' | 'progress' | 'endedAt'>,
  ): Promise<number> {
    const row = this.instanceSetRow(set);
    if ((where.instanceIds && where.instanceIds.length === 0) || (where.states && where.states.length === 0)) return 0;
    return this.atomic(async (s) => {
      if (!(await s.taskVisible(owner, taskUuid))) return 0;
      s.taskWritten(taskUuid);
      let q = s.db.updateTable('instances').set({ ...row, updated_at: s.clock() }).where('task_uuid', '=', taskUuid);
      if (where.instanceIds) q = q.where('instance_id', 'in', where.instanceIds);
      if (where.states) q = q.where('state', 'in', where.states);
      return Number((await q.executeTakeFirst()).numUpdatedRows);
    });
  }

  async listAttempts(owner: Owner, taskUuid: string, instanceId?: number): Promise<InstanceAttempt[]> {
    if (!(await this.taskVisible(owner, taskUuid))) return [];
    let q = this.db.selectFrom('instance_attempts').selectAll().where('task_uuid', '=', taskUuid);
    if (instanceId !== undefined) q = q.where('instance_id', '=', instanceId);
    return (await q.orderBy('instance_id').orderBy('attempt').execute()).map(toAttempt);
  }

  async listInstanceEvents(owner: Owner, taskUuid: string, instanceId: number, options: { minSequence?: number } = {}): Promise<InstanceEventKey[]> {
    if (!(await this.taskVisible(owner, taskUuid))) return [];
    let q = this.db.selectFrom('instance_events').select(['attempt', 'seq', 'applied_at']).where('task_uuid', '=', taskUuid).where('instance_id', '=', int('instanceId', instanceId));
    if (options.minSequence !== undefined) q = q.where('seq', '>=', int('minSequence', options.minSequence));
    const rows = await q.orderBy('attempt').orderBy('seq').execute();
    return rows.map((r) => ({ attempt: Number(r.attempt), sequence: Number(r.seq), at: Number(r.applied_at) }));
  }

  // --- jobs

  async createJob(job: NewJob): Promise<JobRecord> {
    const now = this.clock();
    const uuid = text('uuid', job.uuid ?? randomUUID());
    const row: JobsTable = {
      uuid,
      account_id: job.accountId,
      shortname: text('shortname', job.shortname ?? uuid),
      name: text('name', job.name),
      state: 'Active',
      use_dependencies: job.useDependencies ? 1 : 0,
      max_wall_time_sec: optNum('maxWallTimeSec', job.maxWallTimeSec),
      creation_date: job.creationDate ?? now,
      last_modified: now,
      end_date: null,
      body: json(job.body ?? {}),
    };
    try {
      return await this.atomic(async (s) => {
        const clash = await s.db.selectFrom('jobs').select('uuid').where('account_id', '=', row.account_id).where('shortname', '=', row.shortname).executeTakeFirst();
        if (clash) throw new StoreConflictError('jobShortname', `job shortname ${JSON.stringify(row.shortname)} is taken in the account`);
        await s.db.insertInto('jobs').values(row).execute();
        return toJob(row);
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new StoreConflictError(conflictField(e, 'jobShortname'), 'this job shortname or uuid is taken');
      throw e;
    }
  }

  async getJob(owner: Owner, uuid: string): Promise<JobRecord | undefined> {
    let q = this.db.selectFrom('jobs').selectAll().where('uuid', '=', uuid);
    if (owner !== SYSTEM) q = q.where('account_id', '=', owner);
    const r = await q.executeTakeFirst();
    return r && toJob(r);
  }

  async listJobs(owner: Owner, options: PageRequest = {}): Promise<Page<JobRecord>> {
    const limit = pageLimit(options.limit);
    let q = this.db.selectFrom('jobs').selectAll();
    if (owner !== SYSTEM) q = q.where('account_id', '=', owner);
    if (options.pageToken) {
      const t = decodeToken(options.pageToken) as { v?: unknown; u?: unknown } | null;
      if (!t || typeof t.v !== 'number' || typeof t.u !== 'string') throw new StoreInputError('pageToken', 'pageToken is not a token this server issued');
      const v = t.v;
      const u = t.u;
      q = q.where((eb) => eb.or([eb('creation_date', '>', v), eb.and([eb('creation_date', '=', v), eb('uuid', '>', u)])]));
    }
    const rows = await q.orderBy('creation_date').orderBy('uuid').limit(limit + 1).execute();
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page.map(toJob), nextToken: more ? encodeToken({ v: Number(last.creation_date), u: last.uuid }) : null };
  }

  async updateJob(owner: Owner, uuid: string, patch: JobPatch): Promise<JobRecord | undefined> {
    const set: Partial<JobsTable> = { last_modified: this.clock() };
    if (patch.name !== undefined) set.name = text('name', patch.name);
    if (patch.state !== undefined) set.state = patch.state;
    if (patch.endDate !== undefined) set.end_date = optNum('endDate', patch.endDate);
    if (patch.body !== undefined) set.body = json(patch.body);
    let q = this.db.updateTable('jobs').set(set).where('uuid', '=', uuid);
    if (owner !== SYSTEM) q = q.where('account_id', '=', owner);
    const r = await q.returningAll().executeTakeFirst();
    return r && toJob(r);
  }

  async deleteJob(owner: Owner, uuid: string): Promise<boolean> {
    let q = this.db.deleteFrom('jobs').where('uuid', '=', uuid);
    if (owner !== SYSTEM) q = q.where('account_id', '=', owner);
    return Number((await q.executeTakeFirst()).numDeletedRows) > 0;
  }

  // --- stdout / stderr

  async appendOutput(c: NewOutputChunk): Promise<{ appended: boolean; seq: number | null }> {
    if (typeof c.text !== 'string') throw new StoreInputError('text', 'text must be a string');
    // Output is stored as UTF-8 bytes: any text round-trips (NUL included; a lone surrogate becomes U+FFFD).
    const data = Buffer.from(c.text, 'utf8');
    const keyed = c.attempt !== undefined && c.chunkSeq !== undefined;
    const attempt = c.attempt === undefined ? null : int('attempt', c.attempt);
    const chunkSeq = c.chunkSeq === undefined ? null : int('chunkSeq', c.chunkSeq);
    const at = c.at ?? this.clock();
    return this.atomic(async (s) => {
      if (keyed) {
        const dup = await s.db
          .selectFrom('output_chunks')
          .select('seq')
          .where('task_uuid', '=', c.taskUuid)
          .where('instance_id', '=', c.instanceId)
          .where('stream', '=', c.stream)
          .where('attempt', '=', attempt)
          .where('chunk_seq', '=', chunkSeq)
          .executeTakeFirst();
        if (dup) return { appended: false, seq: null };
      }
      // The per-task counter row stays locked until commit, so seqs become visible in order (fresh reads
      // never skip a chunk committed late).
      const r = await s.db
        .updateTable('tasks')
        .set((eb) => ({ output_seq: eb('output_seq', '+', 1) }))
        .where('uuid', '=', c.taskUuid)
        .returning('output_seq')
        .executeTakeFirst();
      if (!r) return { appended: false, seq: null };
      const seq = Number(r.output_seq);
      await s.db
        .insertInto('output_chunks')
        .values({ task_uuid: c.taskUuid, seq, instance_id: c.instanceId, stream: c.stream, attempt, chunk_seq: chunkSeq, data, at })
        .execute();
      return { appended: true, seq };
    });
  }

  private async chunksAfter(taskUuid: string, stream: OutputStream, instanceId: number | undefined, afterSeq: number, limit: number): Promise<OutputChunk[]> {
    let q = this.db.selectFrom('output_chunks').selectAll().where('task_uuid', '=', taskUuid).where('stream', '=', stream).where('seq', '>', afterSeq);
    if (instanceId !== undefined) q = q.where('instance_id', '=', instanceId);
    return (await q.orderBy('seq').limit(limit).execute()).map(toChunk);
  }

  async readOutput(owner: Owner, taskUuid: string, stream: OutputStream, options: OutputReadOptions = {}): Promise<OutputChunk[] | undefined> {
    if (!(await this.taskVisible(owner, taskUuid))) return undefined;
    return this.chunksAfter(taskUuid, stream, options.instanceId, options.afterSeq ?? 0, int('limit', options.limit ?? 10_000, 1));
  }

  async readFreshOutput(
    owner: Owner,
    taskUuid: string,
    stream: OutputStream,
    readerId: string,
    options: { instanceId?: number; limit?: number } = {},
  ): Promise<OutputChunk[] | undefined> {
    const reader = text('readerId', readerId);
    const inst = options.instanceId ?? -1;
    const limit = int('limit', options.limit ?? 10_000, 1);
    return this.atomic(async (s) => {
      if (!(await s.taskVisible(owner, taskUuid))) return undefined;
      await s.db
        .insertInto('output_cursors')
        .values({ reader_id: reader, task_uuid: taskUuid, stream, instance_id: inst, last_seq: 0 })
        .onConflict((oc) => oc.columns(['reader_id', 'task_uuid', 'stream', 'instance_id']).doNothing())
        .execute();
      const cur = await s.lock(
        s.db.selectFrom('output_cursors').select('last_seq').where('reader_id', '=', reader).where('task_uuid', '=', taskUuid).where('stream', '=', stream).where('instance_id', '=', inst),
      ).executeTakeFirstOrThrow();
      const out = await s.chunksAfter(taskUuid, stream, options.instanceId, Number(cur.last_seq), limit);
      if (out.length > 0) {
        await s.db
          .updateTable('output_cursors')
          .set({ last_seq: out[out.length - 1].seq })
          .where('reader_id', '=', reader)
          .where('task_uuid', '=', taskUuid)
          .where('stream', '=', stream)
          .where('instance_id', '=', inst)
          .execute();
      }
      return out;
    });
  }

  // --- buckets and objects

  async createBucket(b: { name: string; accountId: string }): Promise<BucketRecord> {
    const row: BucketsTable = { name: text('bucket', b.name), account_id: b.accountId, created_at: this.clock() };
    try {
      return await this.atomic(async (s) => {
        const existing = await s.db.selectFrom('buckets').select('account_id').where('name', '=', row.name).executeTakeFirst();
        if (existing) {
          const mine = existing.account_id === b.accountId;
          throw new StoreConflictError('bucket', mine ? 'you already own this bucket' : 'this bucket name is taken', mine);
        }
        await s.db.insertInto('buckets').values(row).execute();
        return toBucket(row);
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new StoreConflictError('bucket', 'this bucket name is taken');
      throw e;
    }
  }

  async getBucket(owner: Owner, name: string): Promise<BucketRecord | undefined> {
    let q = this.db.selectFrom('buckets').selectAll().where('name', '=', name);
    if (owner !== SYSTEM) q = q.where('account_id', '=', owner);
    const r = await q.executeTakeFirst();
    return r && toBucket(r);
  }

  async listBuckets(owner: Owner): Promise<BucketRecord[]> {
    let q = this.db.selectFrom('buckets').selectAll();
    if (owner !== SYSTEM) q = q.where('account_id', '=', owner);
    return (await q.orderBy('name').execute()).map(toBucket);
  }

  async deleteBucket(owner: Owner, name: string): Promise<DeleteBucketResult> {
    return this.atomic(async (s) => {
      if (!(await s.getBucket(owner, name))) return { outcome: 'not-found' };
      const obj = await s.db.selectFrom('objects').select('key').where('bucket', '=', name).limit(1).executeTakeFirst();
      const up = await s.db.selectFrom('multipart_uploads').select('upload_id').where('bucket', '=', name).limit(1).executeTakeFirst();
      if (obj || up) return { outcome: 'not-empty' };
      await s.db.deleteFrom('buckets').where('name', '=', name).execute();
      return { outcome: 'deleted' };
    });
  }

  async bucketUsage(owner: Owner, bucket?: string): Promise<{ bytes: number; objects: number }> {
    let q = this.db
      .selectFrom('objects')
      .innerJoin('buckets', 'buckets.name', 'objects.bucket')
      .select((eb) => [eb.fn.countAll().as('n'), eb.fn.sum('objects.size').as('bytes')]);
    if (owner !== SYSTEM) q = q.where('buckets.account_id', '=', owner);
    if (bucket !== undefined) q = q.where('objects.bucket', '=', bucket);
    const r = await q.executeTakeFirst();
    return { bytes: numberOf(r?.bytes), objects: numberOf(r?.n) };
  }

  private async objectRow(bucket: string, key: string): Promise<ObjectsTable | undefined> {
    return this.db.selectFrom('objects').selectAll().where('bucket', '=', bucket).where('key', '=', key).executeTakeFirst();
  }

  async putObject(owner: Owner, o: NewObject): Promise<{ object: ObjectRecord; previous: ObjectRecord | undefined } | undefined> {
    const row: ObjectsTable = {
      bucket: o.bucket,
      key: text('key', o.key),
      size: int('size', o.size),
      etag: text('etag', o.etag),
      content_type: optText('contentType', o.contentType),
      blob_hash: text('blobHash', o.blobHash),
      metadata: json(stringRecord('metadata', o.metadata)),
      last_modified: o.lastModified ?? this.clock(),
    };
    return this.atomic(async (s) => {
      if (!(await s.getBucket(owner, o.bucket))) return undefined;
      const prev = await s.objectRow(row.bucket, row.key);
      await s.upsertObject(row);
      return { object: toObject(row), previous: prev && toObject(prev) };
    });
  }

  private async upsertObject(row: ObjectsTable): Promise<void> {
    await this.db
      .insertInto('objects')
      .values(row)
      .onConflict((oc) =>
        oc.columns(['bucket', 'key']).doUpdateSet({
          size: row.size,
          etag: row.etag,
          content_type: row.content_type,
          blob_hash: row.blob_hash,
          metadata: row.metadata,
          last_modified: row.last_modified,
        }),
      )
      .execute();
  }

  async getObject(owner: Owner, bucket: string, key: string): Promise<ObjectRecord | undefined> {
    let q = this.db.selectFrom('objects').selectAll('objects').where('objects.bucket', '=', bucket).where('objects.key', '=', key);
    if (owner !== SYSTEM) q = q.innerJoin('buckets', 'buckets.name', 'objects.bucket').where('buckets.account_id', '=', owner);
    const r = await q.executeTakeFirst();
    return r && toObject(r);
  }

  async deleteObject(owner: Owner, bucket: string, key: string): Promise<ObjectRecord | undefined> {
    return this.atomic(async (s) => {
      const o = await s.getObject(owner, bucket, key);
      if (!o) return undefined;
      await s.db.deleteFrom('objects').where('bucket', '=', bucket).where('key', '=', key).execute();
      return o;
    });
  }

  async listObjects(owner: Owner, bucket: string, options: ObjectListOptions = {}): Promise<ObjectList | undefined> {
    if (!(await this.getBucket(owner, bucket))) return undefined;
    const prefix = text('prefix', options.prefix ?? '');
    const delimiter = options.delimiter ? text('delimiter', options.delimiter) : '';
    const maxKeys = options.maxKeys === undefined ? 1000 : Math.min(1000, int('maxKeys', options.maxKeys));
    const upper = prefixSuccessor(prefix);
    // Lower bound: strictly after `after`, or at/after `from` (a skipped common prefix's successor).
    let after: string | undefined = options.startAfter;
    let from: string | undefined = prefix || undefined;
    if (options.continuationToken) {
      const t = decodeToken(options.continuationToken, 'continuationToken') as { a?: unknown; f?: unknown } | null;
      if (t && typeof t.a === 'string') after = after !== undefined && codePointCompare(after, t.a) > 0 ? after : t.a;
      else if (t && typeof t.f === 'string') from = from !== undefined && codePointCompare(from, t.f) > 0 ? from : t.f;
      else throw new StoreInputError('continuationToken', 'continuationToken is not a token this server issued');
    }
    const objects: ObjectRecord[] = [];
    const commonPrefixes: string[] = [];
    if (maxKeys === 0) return { objects, commonPrefixes, isTruncated: false, nextContinuationToken: null };
    /** Where the next page resumes: after the last key returned, or at the successor of the last prefix. */
    let resume: { a: string } | { f: string } | undefined;
    let truncated = false;
    const batch = maxKeys + 1;
    scan: for (;;) {
      let q = this.db.selectFrom('objects').selectAll().where('bucket', '=', bucket);
      if (after !== undefined) q = q.where('key', '>', after);
      if (from !== undefined) q = q.where('key', '>=', from);
      if (upper !== undefined) q = q.where('key', '<', upper);
      const rows = await q.orderBy('key').limit(batch).execute();
      for (const r of rows) {
        if (objects.length + commonPrefixes.length >= maxKeys) {
          truncated = true; // one more item exists beyond this page
          break scan;
        }
        const rest = r.key.slice(prefix.length);
        const i = delimiter ? rest.indexOf(delimiter) : -1;
        if (i < 0) {
          objects.push(toObject(r));
          after = r.key;
          resume = { a: r.key };
          continue;
        }
        // A common prefix: report it once and skip every key under it (restart the scan at its successor).
        const cp = prefix + rest.slice(0, i + delimiter.length);
        commonPrefixes.push(cp);
        const succ = prefixSuccessor(cp);
        if (succ === undefined) break scan;
        resume = { f: succ };
        from = succ;
        after = undefined;
        continue scan;
      }
      if (rows.length < batch) break;
    }
    return {
      objects,
      commonPrefixes,
      isTruncated: truncated,
      nextContinuationToken: truncated && resume ? encodeToken(resume) : null,
    };
  }

  async isBlobReferenced(blobHash: string): Promise<boolean> {
    const o = await this.db.selectFrom('objects').select('key').where('blob_hash', '=', blobHash).limit(1).executeTakeFirst();
    if (o) return true;
    const p = await this.db.selectFrom('multipart_parts').select('part_number').where('blob_hash', '=', blobHash).limit(1).executeTakeFirst();
    return p !== undefined;
  }

  // --- multipart uploads

  async createMultipartUpload(owner: Owner, u: NewMultipartUpload): Promise<MultipartUpload | undefined> {
    return this.atomic(async (s) => {
      const b = await s.getBucket(owner, u.bucket);
      if (!b) return undefined;
      const row: MultipartUploadsTable = {
        upload_id: text('uploadId', u.uploadId ?? randomUUID().replaceAll('-', '')),
        bucket: b.name,
        key: text('key', u.key),
        account_id: b.accountId,
        content_type: optText('contentType', u.contentType),
        metadata: json(stringRecord('metadata', u.metadata)),
        created_at: s.clock(),
      };
      await s.db.insertInto('multipart_uploads').values(row).execute();
      return toUpload(row);
    });
  }

  private async uploadRow(owner: Owner, bucket: string | undefined, uploadId: string): Promise<MultipartUploadsTable | undefined> {
    let q = this.db.selectFrom('multipart_uploads').selectAll().where('upload_id', '=', uploadId);
    if (bucket !== undefined) q = q.where('bucket', '=', bucket);
    if (owner !== SYSTEM) q = q.where('account_id', '=', owner);
    return q.executeTakeFirst();
  }

  async getMultipartUpload(owner: Owner, bucket: string, uploadId: string): Promise<MultipartUpload | undefined> {
    const r = await this.uploadRow(owner, bucket, uploadId);
    return r && toUpload(r);
  }

  async listMultipartUploads(owner: Owner, bucket: string): Promise<MultipartUpload[] | undefined> {
    if (!(await this.getBucket(owner, bucket))) return undefined;
    const rows = await this.db.selectFrom('multipart_uploads').selectAll().where('bucket', '=', bucket).orderBy('key').orderBy('upload_id').execute();
    return rows.map(toUpload);
  }

  async putPart(owner: Owner, p: NewPart): Promise<{ part: PartRecord; previous: PartRecord | undefined } | undefined> {
    const row: MultipartPartsTable = {
      upload_id: p.uploadId,
      part_number: int('partNumber', p.partNumber, 1),
      size: int('size', p.size),
      etag: text('etag', p.etag),
      blob_hash: text('blobHash', p.blobHash),
      last_modified: this.clock(),
    };
    return this.atomic(async (s) => {
      if (!(await s.uploadRow(owner, undefined, p.uploadId))) return undefined;
      const prev = await s.db.selectFrom('multipart_parts').selectAll().where('upload_id', '=', row.upload_id).where('part_number', '=', row.part_number).executeTakeFirst();
      await s.db
        .insertInto('multipart_parts')
        .values(row)
        .onConflict((oc) =>
          oc.columns(['upload_id', 'part_number']).doUpdateSet({ size: row.size, etag: row.etag, blob_hash: row.blob_hash, last_modified: row.last_modified }),
        )
        .execute();
      return { part: toPart(row), previous: prev && toPart(prev) };
    });
  }

  async listParts(owner: Owner, bucket: string, uploadId: string): Promise<PartRecord[] | undefined> {
    if (!(await this.uploadRow(owner, bucket, uploadId))) return undefined;
    return (await this.db.selectFrom('multipart_parts').selectAll().where('upload_id', '=', uploadId).orderBy('part_number').execute()).map(toPart);
  }

  async completeMultipartUpload(
    owner: Owner,
    bucket: string,
    uploadId: string,
    object: { size: number; etag: string; blobHash: string; lastModified?: EpochMs },
  ): Promise<CompletedUpload | undefined> {
    return this.atomic(async (s) => {
      const u = await s.uploadRow(owner, bucket, uploadId);
      if (!u) return undefined;
      const parts = (await s.db.selectFrom('multipart_parts').selectAll().where('upload_id', '=', uploadId).orderBy('part_number').execute()).map(toPart);
      const prev = await s.objectRow(u.bucket, u.key);
      const row: ObjectsTable = {
        bucket: u.bucket,
        key: u.key,
        size: int('size', object.size),
        etag: text('etag', object.etag),
        content_type: u.content_type,
        blob_hash: text('blobHash', object.blobHash),
        metadata: u.metadata,
        last_modified: object.lastModified ?? s.clock(),
      };
      await s.upsertObject(row);
      await s.db.deleteFrom('multipart_uploads').where('upload_id', '=', uploadId).execute();
      return { object: toObject(row), previous: prev && toObject(prev), parts };
    });
  }

  async abortMultipartUpload(owner: Owner, bucket: string, uploadId: string): Promise<PartRecord[] | undefined> {
    return this.atomic(async (s) => {
      const u = await s.uploadRow(owner, bucket, uploadId);
      if (!u) return undefined;
      const parts = (await s.db.selectFrom('multipart_parts').selectAll().where('upload_id', '=', uploadId).orderBy('part_number').execute()).map(toPart);
      await s.db.deleteFrom('multipart_uploads').where('upload_id', '=', uploadId).execute();
      return parts;
    });
  }

  // --- idempotency keys

  async getIdempotency(accountId: string, key: string): Promise<IdempotencyRecord | undefined> {
    const r = await this.db.selectFrom('idempotency_keys').selectAll().where('account_id', '=', accountId).where('key', '=', key).executeTakeFirst();
    return r && { accountId: r.account_id, key: r.key, fingerprint: r.fingerprint, status: r.status, response: parse(r.response), createdAt: Number(r.created_at) };
  }

  async saveIdempotency(rec: NewIdempotencyRecord): Promise<{ saved: boolean; record: IdempotencyRecord }> {
    const row: IdempotencyKeysTable = {
      account_id: rec.accountId,
      key: text('key', rec.key),
      fingerprint: text('fingerprint', rec.fingerprint),
      status: int('status', rec.status),
      response: json(rec.response),
      created_at: rec.createdAt ?? this.clock(),
    };
    return this.atomic(async (s) => {
      const r = await s.db
        .insertInto('idempotency_keys')
        .values(row)
        .onConflict((oc) => oc.columns(['account_id', 'key']).doNothing())
        .executeTakeFirst();
      const saved = Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
      const record = (await s.getIdempotency(rec.accountId, rec.key))!;
      return { saved, record };
    });
  }

  async pruneIdempotency(before: EpochMs): Promise<number> {
    return Number((await this.db.deleteFrom('idempotency_keys').where('created_at', '<', before).executeTakeFirst()).numDeletedRows);
  }

  // --- registry

  async upsertRegistry(row: NewRegistryRow): Promise<RegistryRow> {
    const now = this.clock();
    const r: RegistryTable = {
      id: text('id', row.id),
      kind: row.kind,
      site_id: optText('siteId', row.siteId),
      parent_id: optText('parentId', row.parentId),
      name: text('name', row.name),
      account_id: optText('accountId', row.accountId),
      spec: json(row.spec),
      created_at: now,
      updated_at: now,
    };
    return this.atomic(async (s) => {
      await s.db
        .insertInto('registry')
        .values(r)
        .onConflict((oc) =>
          oc.column('id').doUpdateSet({ kind: r.kind, site_id: r.site_id, parent_id: r.parent_id, name: r.name, account_id: r.account_id, spec: r.spec, updated_at: r.updated_at }),
        )
        .execute();
      return (await s.getRegistry(r.id))!;
    });
  }

  async getRegistry(id: string): Promise<RegistryRow | undefined> {
    const r = await this.db.selectFrom('registry').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toRegistry(r);
  }

  async listRegistry(filter: RegistryFilter = {}): Promise<RegistryRow[]> {
    let q = this.db.selectFrom('registry').selectAll();
    if (filter.kind !== undefined) q = q.where('kind', '=', filter.kind);
    if (filter.siteId !== undefined) q = q.where('site_id', '=', filter.siteId);
    if (filter.parentId !== undefined) q = q.where('parent_id', '=', filter.parentId);
    if (filter.accountId !== undefined) q = q.where('account_id', '=', filter.accountId);
    return (await q.orderBy('id').execute()).map(toRegistry);
  }

  async deleteRegistry(id: string): Promise<boolean> {
    return Number((await this.db.deleteFrom('registry').where('id', '=', id).executeTakeFirst()).numDeletedRows) > 0;
  }

  // --- telemetry

  async appendTelemetry(samples: TelemetrySample[]): Promise<number> {
    const rows: TelemetryTable[] = samples.map((x) => ({ device_id: text('deviceId', x.deviceId), time: int('time', x.time, Number.MIN_SAFE_INTEGER), data: json(x.data) }));
    if (rows.length === 0) return 0;
    return this.atomic(async (s) => {
      let n = 0;
      for (const part of chunks(rows, INSERT_CHUNK)) {
        const r = await s.db.insertInto('telemetry').values(part).onConflict((oc) => oc.columns(['device_id', 'time']).doNothing()).executeTakeFirst();
        n += Number(r.numInsertedOrUpdatedRows ?? 0);
      }
      return n;
    });
  }

  async readTelemetry(deviceId: string, range: { from: EpochMs; to: EpochMs; limit?: number }): Promise<TelemetrySample[]> {
    let q = this.db.selectFrom('telemetry').selectAll().where('device_id', '=', deviceId).where('time', '>=', range.from).where('time', '<', range.to).orderBy('time');
    if (range.limit !== undefined) q = q.limit(int('limit', range.limit));
    return (await q.execute()).map((r) => ({ deviceId: r.device_id, time: Number(r.time), data: parse<Record<string, unknown>>(r.data) }));
  }

  async readTelemetryDownsampled(deviceId: string, range: { from: EpochMs; to: EpochMs; bucketMs: number }): Promise<TelemetryBucket[]> {
    const width = int('bucketMs', range.bucketMs, 1);
    const out: TelemetryBucket[] = [];
    let cur: (TelemetryBucket & { sum: Record<string, number>; n: Record<string, number> }) | undefined;
    const flush = (): void => {
      if (!cur) return;
      for (const k of Object.keys(cur.sum)) cur.mean[k] = cur.sum[k] / cur.n[k];
      out.push({ time: cur.time, count: cur.count, mean: cur.mean, min: cur.min, max: cur.max });
    };
    // Keyset pages keep memory bounded however long the range.
    let from = range.from;
    const PAGE = 5000;
    for (;;) {
      const rows = await this.db
        .selectFrom('telemetry')
        .select(['time', 'data'])
        .where('device_id', '=', deviceId)
        .where('time', '>=', from)
        .where('time', '<', range.to)
        .orderBy('time')
        .limit(PAGE)
        .execute();
      for (const r of rows) {
        const t = Number(r.time);
        const b = Math.floor(t / width) * width;
        if (!cur || cur.time !== b) {
          flush();
          cur = { time: b, count: 0, mean: {}, min: {}, max: {}, sum: {}, n: {} };
        }
        cur.count++;
        const data = parse<Record<string, unknown>>(r.data);
        if (data === null || typeof data !== 'object') continue;
        for (const [k, v] of Object.entries(data)) {
          if (typeof v !== 'number' || !Number.isFinite(v)) continue;
          cur.sum[k] = (cur.sum[k] ?? 0) + v;
          cur.n[k] = (cur.n[k] ?? 0) + 1;
          cur.min[k] = Math.min(cur.min[k] ?? Infinity, v);
          cur.max[k] = Math.max(cur.max[k] ?? -Infinity, v);
        }
      }
      if (rows.length < PAGE) break;
      from = Number(rows[rows.length - 1].time) + 1;
    }
    flush();
    return out;
  }

  async pruneTelemetry(before: EpochMs, deviceId?: string): Promise<number> {
    let q = this.db.deleteFrom('telemetry').where('time', '<', before);
    if (deviceId !== undefined) q = q.where('device_id', '=', deviceId);
    return Number((await q.executeTakeFirst()).numDeletedRows);
  }

  // --- event log

  async appendEvent(e: NewStoreEvent): Promise<StoreEvent> {
    const at = e.at ?? this.clock();
    const type = text('type', e.type);
    const accountId = optText('accountId', e.accountId);
    const payload = json(e.payload);
    return this.atomic(async (s) => {
      // The counter row stays locked until commit: ids become visible in increasing order.
      const c = await s.db
        .updateTable('counters')
        .set((eb) => ({ value: eb('value', '+', 1) }))
        .where('name', '=', 'events')
        .returning('value')
        .executeTakeFirstOrThrow();
      const row: EventsTable = { id: Number(c.value), type, account_id: accountId, payload, at };
      await s.db.insertInto('events').values(row).execute();
      return toEvent(row);
    });
  }

  async readEvents(owner: Owner, options: { afterId?: number; limit?: number } = {}): Promise<StoreEvent[]> {
    let q = this.db.selectFrom('events').selectAll().where('id', '>', options.afterId ?? 0);
    if (owner !== SYSTEM) q = q.where('account_id', '=', owner);
    const rows = await q.orderBy('id').limit(pageLimit(options.limit ?? MAX_PAGE)).execute();
    return rows.map(toEvent);
  }

  async pruneEvents(before: EpochMs): Promise<number> {
    return Number((await this.db.deleteFrom('events').where('at', '<', before).executeTakeFirst()).numDeletedRows);
  }

  // --- platform API aggregates

  async lastEventId(): Promise<number> {
    const r = await this.db.selectFrom('counters').select('value').where('name', '=', 'events').executeTakeFirst();
    return numberOf(r?.value);
  }

  async latestTelemetry(deviceIds: string[], before?: EpochMs): Promise<TelemetrySample[]> {
    // One index probe per device on (device_id, time), cheap however long the history, but a few hundred probes per
    // statement (one round trip each was 0.5 s for 1,000 devices): a UNION ALL of one-row subqueries, each a probe.
    const ids = [...new Set(deviceIds)];
    const found = new Map<string, TelemetrySample>();
    for (let k = 0; k < ids.length; k += LATEST_PER_STATEMENT) {
      const probes = ids.slice(k, k + LATEST_PER_STATEMENT).map(
        (id) =>
          sql`SELECT * FROM (SELECT device_id, time, data FROM telemetry WHERE device_id = ${id}${before !== undefined ? sql` AND time < ${before}` : sql``} ORDER BY time DESC LIMIT 1) AS p`,
      );
      const rows = await sql<{ device_id: string; time: number | string; data: string }>`${sql.join(probes, sql` UNION ALL `)}`.execute(this.db);
      for (const r of rows.rows) found.set(r.device_id, { deviceId: r.device_id, time: Number(r.time), data: parse<Record<string, unknown>>(r.data) });
    }
    // In the order asked.
    const out: TelemetrySample[] = [];
    for (const id of ids) {
      const sample = found.get(id);
      if (sample) out.push(sample);
    }
    return out;
  }

  async summarizeAttempts(owner: Owner, range: { from?: EpochMs; to?: EpochMs } = {}): Promise<AttemptUsageRow[]> {
    let q = this.db
      .selectFrom('instance_attempts as a')
      .innerJoin('tasks as t', 't.uuid', 'a.task_uuid')
      .select((eb) => [
        'a.heater_id as heater_id',
        eb.fn.countAll().as('n'),
        eb.fn.sum('a.energy_wh').as('e'),
        eb.fn.sum('a.ghz_seconds').as('g'),
        eb.fn.sum('a.exec_time_sec').as('x'),
        eb.fn.sum('a.wall_time_sec').as('w'),
      ]);
    if (owner !== SYSTEM) q = q.where('t.account_id', '=', owner);
    if (range.from !== undefined) q = q.where((eb) => eb(eb.fn.coalesce('a.ended_at', 'a.started_at'), '>=', range.from!));
    if (range.to !== undefined) q = q.where((eb) => eb(eb.fn.coalesce('a.ended_at', 'a.started_at'), '<', range.to!));
    const rows = await q.groupBy('a.heater_id').execute();
    // Sorted here, not in SQL: the backends disagree on where NULL sorts. No device first, then by id.
    rows.sort((x, y) => (x.heater_id === y.heater_id ? 0 : x.heater_id === null ? -1 : y.heater_id === null ? 1 : x.heater_id < y.heater_id ? -1 : 1));
    return rows.map((r) => ({
      heaterId: r.heater_id,
      attempts: numberOf(r.n),
      energyWh: numberOf(r.e),
      ghzSeconds: numberOf(r.g),
      execTimeSec: numberOf(r.x),
      wallTimeSec: numberOf(r.w),
    }));
  }

  async summarizeCharges(owner: Owner, range: { from?: EpochMs; to?: EpochMs; taskUuid?: string } = {}): Promise<ChargeTotals[]> {
    let q = this.db
      .selectFrom('charges')
      .select((eb) => ['scheduling_type', eb.fn.countAll().as('n'), eb.fn.sum('core_seconds').as('cs'), eb.fn.sum('charged_micro').as('m')]);
    if (owner !== SYSTEM) q = q.where('account_id', '=', owner);
    if (range.from !== undefined) q = q.where('at', '>=', range.from);
    if (range.to !== undefined) q = q.where('at', '<', range.to);
    if (range.taskUuid !== undefined) q = q.where('task_uuid', '=', text('taskUuid', range.taskUuid));
    const rows = await q.groupBy('scheduling_type').execute();
    return rows
      .map((r) => ({ schedulingType: r.scheduling_type as SchedulingTypeName, charges: numberOf(r.n), coreSeconds: numberOf(r.cs), chargedEUR: numberOf(r.m) / 1e6 }))
      .sort((a, b) => SCHEDULING_TYPE_NAMES.indexOf(a.schedulingType) - SCHEDULING_TYPE_NAMES.indexOf(b.schedulingType));
  }
}

/** An InstanceCharge's columns, checked (each field named in the error). */
function chargeOf(c: InstanceCharge): Pick<ChargesTable, 'scheduling_type' | 'core_seconds' | 'amount_eur'> {
  if (!SCHEDULING_TYPE_NAMES.includes(c.schedulingType)) throw new StoreInputError('charge.schedulingType', `charge.schedulingType must be one of ${SCHEDULING_TYPE_NAMES.join(', ')}`);
  const nonNegative = (field: string, v: number): number => {
    if (finite(field, v) < 0) throw new StoreInputError(field, `${field} must be ≥ 0`);
    return v;
  };
  return { scheduling_type: c.schedulingType, core_seconds: nonNegative('charge.coreSeconds', c.coreSeconds), amount_eur: nonNegative('charge.amountEUR', c.amountEUR) };
}

/** One entry of {@link KyselyStore.summarizeAttempts} (the Store interface's AttemptUsage). */
type AttemptUsageRow = Awaited<ReturnType<Store['summarizeAttempts']>>[number];
