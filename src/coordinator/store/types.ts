// The coordinator's storage of record: one repository interface (accounts, tokens, tasks, instances, output,
// buckets, objects, registry, telemetry, event log) that every backend (SQLite, PostgreSQL) implements alike.

/** Milliseconds since the Unix epoch (UTC). Every time in the store is one of these. */
export type EpochMs = number;

/**
 * Marks a call made by the platform itself (scheduler loop, device bus, operator tools) rather than on behalf
 * of one account: such calls see every account's rows. Every read of a customer resource takes an `Owner`, so
 * scoping is the store's job and an unscoped read is explicit and greppable.
 */
export const SYSTEM: unique symbol = Symbol('hearth.store.system');
/** An account id (scoped: another account's rows are invisible) or {@link SYSTEM} (unscoped). */
export type Owner = string | typeof SYSTEM;

// ---------------------------------------------------------------------------------------------------------
// Errors (the API's central handler maps them by `status`)

/** A uniqueness rule was broken (shortname taken in the account, bucket name taken, email taken…): HTTP 409. */
export class StoreConflictError extends Error {
  readonly status = 409;
  readonly code = 'conflict';
  /**
   * @param field which rule: 'shortname' | 'jobShortname' | 'bucket' | 'email' | 'tokenHash' | 'id' | 'version' | …
   * @param ownedByCaller for 'bucket': true when the existing bucket belongs to the caller (S3
   *   BucketAlreadyOwnedByYou rather than BucketAlreadyExists)
   */
  constructor(
    readonly field: string,
    message: string,
    readonly ownedByCaller = false,
  ) {
    super(message);
    this.name = 'StoreConflictError';
  }
}

/**
 * The store refused a value it cannot keep verbatim on every backend (a NUL character or a lone UTF-16
 * surrogate in a text field) or a malformed page token: HTTP 400. The API validates first; this is the backstop.
 */
export class StoreInputError extends Error {
  readonly status = 400;
  readonly code = 'invalid-input';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'StoreInputError';
  }
}

// ---------------------------------------------------------------------------------------------------------
// Pagination

/** One page of a keyset-paginated list: `nextToken` is null on the last page. Order is stable across pages. */
export interface Page<T> {
  items: T[];
  nextToken: string | null;
}

/** Page size and opaque continuation token (from the previous page's `nextToken`). */
export interface PageRequest {
  /** Items per page: default 100, at most 1000. */
  limit?: number;
  pageToken?: string | null;
}

// ---------------------------------------------------------------------------------------------------------
// Accounts and tokens

export type Role = 'operator' | 'customer' | 'resident' | 'device';

/** Account quotas (the API's `/info`); absent fields mean the platform default. */
export interface Quotas {
  maxTask?: number;
  maxRunningTask?: number;
  maxInstances?: number;
  maxBucket?: number;
  quotaBytesBucket?: number;
  maxCores?: number;
}

/** What a scoped account may touch: a resident its rooms, a device its one heater or boiler. */
export interface AccountScope {
  roomIds?: string[];
  deviceId?: string;
  /** A Home Assistant login: the account that issued it. */
  issuedBy?: string;
}

export interface Account {
  id: string;
  email: string;
  role: Role;
  /** Remaining credits, euros (kept exactly to the micro-euro). */
  creditsEUR: number;
  quotas: Quotas;
  scope: AccountScope;
  createdAt: EpochMs;
  /**
   * How many tasks the account holds now (every state). Kept by the store in the same transaction as each task
   * insert and delete, so it equals a count of the account's tasks; a task creation with `maxAccountTasks`
   * checks and raises it atomically.
   */
  taskCount: number;
}

export interface NewAccount {
  /** Default: a random UUID. */
  id?: string;
  email: string;
  role: Role;
  creditsEUR?: number;
  quotas?: Quotas;
  scope?: AccountScope;
}

/** An API token as stored: never the token itself, only its SHA-256 hash and a short prefix for display. */
export interface ApiToken {
  id: string;
  accountId: string;
  /** Hex SHA-256 of the token. */
  hash: string;
  /** The first characters of the token (e.g. `hth_AbCd1234`), to tell tokens apart in listings. */
  prefix: string;
  name: string | null;
  createdAt: EpochMs;
  lastUsedAt: EpochMs | null;
  revokedAt: EpochMs | null;
  /**
   * The token sealed (encrypted) with the server's key, or null. Only needed where the server must know the
   * secret itself — AWS Signature V4 verification of S3 requests, whose secret key is the API token. Opaque to
   * the store; see `auth/tokens.ts`.
   */
  sealedSecret: string | null;
}

export interface NewApiToken {
  id?: string;
  accountId: string;
  hash: string;
  prefix: string;
  name?: string | null;
  sealedSecret?: string | null;
}

// ---------------------------------------------------------------------------------------------------------
// Tasks, instances, jobs

/** Task states of the compute API. */
export type TaskState =
  | 'Submitted'
  | 'PartiallyDispatched'
  | 'FullyDispatched'
  | 'PartiallyExecuting'
  | 'FullyExecuting'
  | 'UploadingResults'
  | 'Success'
  | 'Failure'
  | 'Cancelled'
  | 'PendingCancel'
  | 'PendingDelete';

export type SchedulingTypeName = 'flex' | 'onDemand' | 'reserved';
/** Every scheduling type, in the order the API lists them. */
export const SCHEDULING_TYPE_NAMES: readonly SchedulingTypeName[] = ['flex', 'onDemand', 'reserved'];
export type CheckpointMode = 'none' | 'snapshot';

export interface RetrySettings {
  maxTotalRetries: number;
  maxPerInstanceRetries: number;
}

export interface TaskRecord {
  uuid: string;
  accountId: string;
  /** Unique within the account. */
  shortname: string;
  name: string;
  profile: string;
  state: TaskState;
  previousState: TaskState | null;
  stateTransitionTime: EpochMs;
  creationDate: EpochMs;
  endDate: EpochMs | null;
  /** The creation body as received (JSON), kept verbatim (secret constants included: the API masks them). */
  body: unknown;
  schedulingType: SchedulingTypeName;
  /** (ext) Time by which every instance should be done, or null. */
  deadline: EpochMs | null;
  estimatedInstanceDurationSec: number | null;
  checkpoint: CheckpointMode;
  instanceCount: number;
  /** The `advancedRanges` string when the task was created with one, else null. */
  advancedRanges: string | null;
  tags: string[];
  labels: Record<string, string>;
  jobUuid: string | null;
  dependsOn: string[];
  retrySettings: RetrySettings;
  /** Retries used so far over the whole task (against `retrySettings.maxTotalRetries`). */
  retryCount: number;
  /** Whatever derived status the API keeps on the task (progress, errors, counters…), JSON. */
  status: unknown;
  /** Incremented by every write to the task row (optimistic concurrency: `updateTask(…, {expectVersion})`). */
  version: number;
}

export interface NewTask {
  /** Default: a new time-ordered UUID (version 7: new tasks land at the end of the B-trees). */
  uuid?: string;
  accountId: string;
  /** Default: the uuid. */
  shortname?: string;
  name: string;
  profile: string;
  body: unknown;
  /** The instance ids (INSTANCE_ID) to create, expanded from `instanceCount` or `advancedRanges` by the API. */
  instanceIds: number[];
  advancedRanges?: string | null;
  state?: TaskState;
  /** Default: the store's clock. */
  creationDate?: EpochMs;
  schedulingType?: SchedulingTypeName;
  deadline?: EpochMs | null;
  estimatedInstanceDurationSec?: number | null;
  checkpoint?: CheckpointMode;
  tags?: string[];
  labels?: Record<string, string>;
  jobUuid?: string | null;
  dependsOn?: string[];
  retrySettings?: RetrySettings;
  status?: unknown;
  /**
   * The account's task quota: the creation is refused, with `StoreConflictError('maxTask')` and nothing written,
   * when the account would then hold more tasks than this (checked and counted atomically, so concurrent
   * creations cannot pass it together). In a bulk creation the tasks of one account are counted together against
   * the smallest quota among them. Absent: no limit.
   */
  maxAccountTasks?: number;
}

/** Fields of a task that may change after creation (state changes go through `transitionTask`). */
export interface TaskPatch {
  name?: string;
  body?: unknown;
  tags?: string[];
  labels?: Record<string, string>;
  deadline?: EpochMs | null;
  estimatedInstanceDurationSec?: number | null;
  endDate?: EpochMs | null;
  retryCount?: number;
  status?: unknown;
  jobUuid?: string | null;
}

export interface TaskFilter {
  states?: TaskState[];
  /** Tasks carrying every one of these tags. */
  tagsAll?: string[];
  /** Tasks carrying at least one of these tags. */
  tagsAny?: string[];
  /** Tasks whose labels include every one of these key/value pairs. */
  labels?: Record<string, string>;
  jobUuid?: string;
  name?: string;
  shortname?: string;
  uuids?: string[];
  createdFrom?: EpochMs;
  createdBefore?: EpochMs;
}

export type TaskOrderBy = 'creationDate' | 'name' | 'shortname' | 'state' | 'stateTransitionTime';

export interface TaskListOptions extends PageRequest {
  filter?: TaskFilter;
  /** Default creationDate; ties are broken by uuid, so the order is total and stable. */
  orderBy?: TaskOrderBy;
  order?: 'asc' | 'desc';
}

/** State of one instance. */
export type InstanceState =
  | 'queued'
  | 'dispatched'
  | 'running'
  | 'paused'
  | 'overflow'
  | 'success'
  | 'failure'
  | 'cancelled';

/** Qarnot's instance phases (what a running instance is doing). */
export type InstancePhaseName = 'download' | 'dispatch' | 'environment' | 'execution' | 'shutdown' | 'upload';

export interface InstanceRecord {
  taskUuid: string;
  instanceId: number;
  state: InstanceState;
  phase: InstancePhaseName | null;
  /** Current attempt (0 before the first dispatch, 1 on the first start; retries and kills add one). */
  attempt: number;
  heaterId: string | null;
  boardIndex: number | null;
  /** 0…100 %. */
  progress: number;
  startedAt: EpochMs | null;
  endedAt: EpochMs | null;
  updatedAt: EpochMs;
  /** Totals over every attempt (energy drawn by a killed attempt was drawn all the same). */
  energyWh: number;
  ghzSeconds: number;
  execTimeSec: number;
  wallTimeSec: number;
  /** Clock ratio of the current attempt (1 = full speed), or null. */
  clockRatio: number | null;
  /** Result descriptors (JSON), e.g. uploaded file names. */
  results: unknown;
  /** Free JSON the API shows (cpuModel, coreCount, peakMemoryMB, error…). */
  info: unknown;
}

/** Accounting of one attempt of one instance (billing is per attempt). */
export interface InstanceAttempt {
  taskUuid: string;
  instanceId: number;
  attempt: number;
  state: InstanceState | null;
  heaterId: string | null;
  boardIndex: number | null;
  startedAt: EpochMs | null;
  endedAt: EpochMs | null;
  energyWh: number;
  ghzSeconds: number;
  execTimeSec: number;
  wallTimeSec: number;
  clockRatio: number | null;
}

/** Absolute fields an event sets (the latest event of the current attempt wins). */
export interface InstanceSet {
  state?: InstanceState;
  phase?: InstancePhaseName | null;
  progress?: number;
  heaterId?: string | null;
  boardIndex?: number | null;
  startedAt?: EpochMs | null;
  endedAt?: EpochMs | null;
  clockRatio?: number | null;
  results?: unknown;
  info?: unknown;
}

/** Amounts an event adds (to the attempt and to the instance's totals), exactly once. */
export interface InstanceAdd {
  energyWh?: number;
  ghzSeconds?: number;
  execTimeSec?: number;
  wallTimeSec?: number;
}

/**
 * One report about one attempt of one instance (from an agent, the local executor or the coordinator itself).
 * Keyed by (taskUuid, instanceId, attempt, sequence): applying the same event twice changes nothing. `add` is
 * always applied (once); `set` only when the event is the newest seen for the instance's current attempt
 * (an older attempt, or an older sequence arriving late, cannot roll the instance back).
 */
export interface InstanceEvent {
  taskUuid: string;
  instanceId: number;
  attempt: number;
  sequence: number;
  /** Default: the store's clock. */
  at?: EpochMs;
  set?: InstanceSet;
  add?: InstanceAdd;
  /**
   * What the event's usage costs the task's owner (the caller prices it): written to the charges ledger and taken
   * from the owner's credits in the same transaction as the event, so a replayed event charges nothing.
   */
  charge?: InstanceCharge;
}

/** One report's bill (see {@link InstanceEvent.charge}). */
export interface InstanceCharge {
  schedulingType: SchedulingTypeName;
  /** Core-seconds billed: wall time × cores × clock ratio, s (≥ 0). */
  coreSeconds: number;
  /** The exact amount, € (≥ 0): the credits go down by the account's running total rounded to the micro-euro. */
  amountEUR: number;
}

/** What the store keeps of an applied {@link InstanceEvent}: its key within the instance, and its time. */
export interface InstanceEventKey {
  attempt: number;
  sequence: number;
  /** The event's `at` (or the store's clock when it had none). */
  at: EpochMs;
}

export interface InstanceEventResult {
  /** False when the event was already applied, or the instance does not exist. */
  applied: boolean;
  /** The instance after the event (undefined when it does not exist). */
  instance: InstanceRecord | undefined;
  /** What was taken from the owner's credits for the event's charge, € (whole micro-euros; 0 when none). */
  chargedEUR?: number;
}

/** Totals over a task's instances, by state and summed. */
export interface InstanceSummary {
  instanceCount: number;
  byState: Partial<Record<InstanceState, number>>;
  energyWh: number;
  ghzSeconds: number;
  execTimeSec: number;
  wallTimeSec: number;
  /** Mean progress over the instances, %. */
  progress: number;
}

export interface InstanceListOptions {
  taskUuid?: string;
  states?: InstanceState[];
  instanceIds?: number[];
  /** Only instances whose current attempt is placed on one of these devices (what runs where). */
  heaterIds?: string[];
  /** At most this many (default: all). Ordered by task, then instance id. */
  limit?: number;
}

export type JobState = 'Active' | 'Terminating' | 'Completed' | 'Deleting';

export interface JobRecord {
  uuid: string;
  accountId: string;
  shortname: string;
  name: string;
  state: JobState;
  useDependencies: boolean;
  maxWallTimeSec: number | null;
  creationDate: EpochMs;
  lastModified: EpochMs;
  endDate: EpochMs | null;
  body: unknown;
}

export interface NewJob {
  uuid?: string;
  accountId: string;
  shortname?: string;
  name: string;
  useDependencies?: boolean;
  maxWallTimeSec?: number | null;
  body?: unknown;
  creationDate?: EpochMs;
}

export interface JobPatch {
  name?: string;
  state?: JobState;
  endDate?: EpochMs | null;
  body?: unknown;
}

// ---------------------------------------------------------------------------------------------------------
// stdout / stderr

export type OutputStream = 'stdout' | 'stderr';

/** A piece of an instance's output. `seq` grows per task in commit order (both streams share it). */
export interface OutputChunk {
  taskUuid: string;
  instanceId: number;
  stream: OutputStream;
  seq: number;
  text: string;
  at: EpochMs;
}

export interface NewOutputChunk {
  taskUuid: string;
  instanceId: number;
  stream: OutputStream;
  text: string;
  /**
   * Optional idempotency key from the sender: (attempt, chunkSeq). A chunk already stored under the same
   * (task, instance, stream, attempt, chunkSeq) is not appended again.
   */
  attempt?: number;
  chunkSeq?: number;
  at?: EpochMs;
}

export interface OutputReadOptions {
  /** Only this instance (default: the whole task). */
  instanceId?: number;
  /** Only chunks with seq > afterSeq. */
  afterSeq?: number;
  /** At most this many chunks (default 10,000). */
  limit?: number;
}

// ---------------------------------------------------------------------------------------------------------
// Buckets and objects (metadata; the bytes live in the blob store)

export interface BucketRecord {
  /** Globally unique. */
  name: string;
  accountId: string;
  createdAt: EpochMs;
}

export interface ObjectRecord {
  bucket: string;
  key: string;
  /** Bytes. */
  size: number;
  /** As S3 returns it, without quotes (MD5 hex for single-part objects). */
  etag: string;
  contentType: string | null;
  /** Address of the content in the blob store (e.g. hex SHA-256). */
  blobHash: string;
  /** User metadata (`x-amz-meta-*`). */
  metadata: Record<string, string>;
  lastModified: EpochMs;
}

export interface NewObject {
  bucket: string;
  key: string;
  size: number;
  etag: string;
  contentType?: string | null;
  blobHash: string;
  metadata?: Record<string, string>;
  lastModified?: EpochMs;
}

export interface ObjectListOptions {
  prefix?: string;
  delimiter?: string;
  /** Keys strictly after this one (S3 StartAfter). */
  startAfter?: string;
  /** From a previous result's `nextContinuationToken`. */
  continuationToken?: string;
  /** Keys plus common prefixes per page: default 1000, at most 1000. */
  maxKeys?: number;
}

/** ListObjectsV2's answer, keys in UTF-8 binary order. */
export interface ObjectList {
  objects: ObjectRecord[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextContinuationToken: string | null;
}

export interface DeleteBucketResult {
  outcome: 'deleted' | 'not-found' | 'not-empty';
}

export interface MultipartUpload {
  uploadId: string;
  bucket: string;
  key: string;
  accountId: string;
  contentType: string | null;
  metadata: Record<string, string>;
  createdAt: EpochMs;
}

export interface NewMultipartUpload {
  uploadId?: string;
  bucket: string;
  key: string;
  contentType?: string | null;
  metadata?: Record<string, string>;
}

export interface PartRecord {
  uploadId: string;
  partNumber: number;
  size: number;
  etag: string;
  blobHash: string;
  lastModified: EpochMs;
}

export interface NewPart {
  uploadId: string;
  partNumber: number;
  size: number;
  etag: string;
  blobHash: string;
}

export interface CompletedUpload {
  object: ObjectRecord;
  /** The object the completion replaced, if any (its blob may now be unreferenced). */
  previous: ObjectRecord | undefined;
  /** Every part the upload held (their blobs may now be unreferenced). */
  parts: PartRecord[];
}

// ---------------------------------------------------------------------------------------------------------
// Idempotency keys (retried POSTs answer what the first one answered)

export interface IdempotencyRecord {
  accountId: string;
  key: string;
  /** What the request was (method, path, body hash): a reused key with another fingerprint is a client error. */
  fingerprint: string;
  status: number;
  response: unknown;
  createdAt: EpochMs;
}

export type NewIdempotencyRecord = Omit<IdempotencyRecord, 'createdAt'> & { createdAt?: EpochMs };

// ---------------------------------------------------------------------------------------------------------
// Registry (sites, rooms, heaters, boilers, boards) and telemetry

export type RegistryKind = 'site' | 'room' | 'heater' | 'boiler' | 'board';

export interface RegistryRow {
  id: string;
  kind: RegistryKind;
  /** The site this row belongs to (null for a site). */
  siteId: string | null;
  /** The containing row: a heater's room, a board's heater or boiler (null when none). */
  parentId: string | null;
  name: string;
  /** The host account (who owns the meter), when known. */
  accountId: string | null;
  /** Archetype and parameters (JSON). */
  spec: unknown;
  createdAt: EpochMs;
  updatedAt: EpochMs;
}

export type NewRegistryRow = Omit<RegistryRow, 'createdAt' | 'updatedAt' | 'siteId' | 'parentId' | 'accountId'> & {
  siteId?: string | null;
  parentId?: string | null;
  accountId?: string | null;
};

export interface RegistryFilter {
  kind?: RegistryKind;
  siteId?: string;
  parentId?: string;
  accountId?: string;
}

/** One telemetry sample of one device (or room) at one time. */
export interface TelemetrySample {
  deviceId: string;
  time: EpochMs;
  data: Record<string, unknown>;
}

/** One bucket of a downsampled series: statistics of the numeric top-level fields of its samples. */
export interface TelemetryBucket {
  /** Start of the bucket (a multiple of the bucket width). */
  time: EpochMs;
  count: number;
  mean: Record<string, number>;
  min: Record<string, number>;
  max: Record<string, number>;
}

// ---------------------------------------------------------------------------------------------------------
// Event log (outbox of live changes for the SSE stream; ids grow in commit order)

export interface StoreEvent {
  id: number;
  type: string;
  /** The account the event concerns (null: platform-wide, operators only). */
  accountId: string | null;
  payload: unknown;
  at: EpochMs;
}

export interface NewStoreEvent {
  type: string;
  accountId?: string | null;
  payload: unknown;
  at?: EpochMs;
}

// ---------------------------------------------------------------------------------------------------------
// The repository

/** Options common to every backend. */
export interface StoreOptions {
  /** Source of "now" for default timestamps (ms). Default: Date.now. Tests pass a fake clock. */
  clock?: () => EpochMs;
}

/**
 * The storage of record. Every method is async and atomic on its own. `transaction` groups calls: inside the
 * callback use only the `tx` it is given (calling the outer store from inside a transaction can deadlock on
 * SQLite, whose single connection the transaction holds). A transaction inside a transaction joins it. When
 * the callback throws, everything it wrote is rolled back and the error is rethrown. On PostgreSQL a failed
 * statement (e.g. a uniqueness conflict) aborts the enclosing transaction: let such errors propagate.
 *
 * Text the store keeps (names, keys, emails…) must be well-formed Unicode without NUL; JSON fields may hold
 * any JSON value. Strings round-trip exactly on both backends.
 */
export interface Store {
  readonly backend: 'sqlite' | 'postgres';

  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;
  /** Highest applied migration number. */
  schemaVersion(): Promise<number>;
  close(): Promise<void>;

  // accounts
  /** @throws StoreConflictError('email' | 'id') */
  createAccount(account: NewAccount): Promise<Account>;
  getAccount(id: string): Promise<Account | undefined>;
  getAccountByEmail(email: string): Promise<Account | undefined>;
  /** The accounts with these ids that exist, in no particular order (one query per 500 ids). */
  getAccounts(ids: readonly string[]): Promise<Account[]>;
  listAccounts(options?: PageRequest & { role?: Role }): Promise<Page<Account>>;
  /** @throws StoreConflictError('email') */
  updateAccount(
    id: string,
    patch: { email?: string; role?: Role; quotas?: Quotas; scope?: AccountScope },
  ): Promise<Account | undefined>;
  /** Adds `deltaEUR` (negative to charge) atomically; returns the new balance, euros, or undefined. */
  adjustCredits(id: string, deltaEUR: number): Promise<number | undefined>;

  // tokens
  /** @throws StoreConflictError('tokenHash') */
  createToken(token: NewApiToken): Promise<ApiToken>;
  /**
   * The token with this hash and its account, unless revoked. May be answered from a short-lived cache: writes
   * through this store (revocation, account and credit changes, task creation and deletion) are visible at once;
   * writes by another process within about a second.
   */
  findTokenByHash(hash: string): Promise<{ token: ApiToken; account: Account } | undefined>;
  listTokens(owner: Owner, options?: { includeRevoked?: boolean }): Promise<ApiToken[]>;
  /** Records a use (callers should throttle: at most one write per token per minute). */
  touchToken(id: string, at?: EpochMs): Promise<void>;
  /** True when a live token of the owner was revoked now. */
  revokeToken(owner: Owner, id: string, at?: EpochMs): Promise<boolean>;

  // tasks
  /**
   * Creates the task and its instances (state `queued`, attempt 0).
   * @throws StoreConflictError('shortname' | 'id'), or ('maxTask') past `maxAccountTasks`
   */
  createTask(task: NewTask): Promise<TaskRecord>;
  /**
   * Creates several tasks in one transaction (the bulk POST): one entry per input, in order, either the task
   * or the conflict that kept it out (a shortname taken, in the account or earlier in the same batch).
   * @throws StoreConflictError('maxTask') when the accepted tasks would pass `maxAccountTasks` (nothing created)
   * The records returned (here and by createTask) carry the JSON values given (body, status, retrySettings) as
   * they are, not copies read back; getTask reads them back from their stored JSON.
   */
  createTasks(tasks: NewTask[]): Promise<Array<TaskRecord | StoreConflictError>>;
  getTask(owner: Owner, uuid: string): Promise<TaskRecord | undefined>;
  getTaskByShortname(accountId: string, shortname: string): Promise<TaskRecord | undefined>;
  listTasks(owner: Owner, options?: TaskListOptions): Promise<Page<TaskRecord>>;
  countTasks(owner: Owner, filter?: TaskFilter): Promise<number>;
  /** @throws StoreConflictError('version') when `expectVersion` is given and the task has moved on */
  updateTask(
    owner: Owner,
    uuid: string,
    patch: TaskPatch,
    options?: { expectVersion?: number },
  ): Promise<TaskRecord | undefined>;
  /**
   * Moves the task to `to` (previousState ← state, stateTransitionTime ← at) if its state is one of `from`
   * (any state when omitted). Undefined when the task is invisible or not in `from`.
   */
  transitionTask(
    owner: Owner,
    uuid: string,
    change: { to: TaskState; from?: TaskState[]; at?: EpochMs; endDate?: EpochMs | null },
  ): Promise<TaskRecord | undefined>;
  /** Deletes the task with its instances, attempts, events and output. */
  deleteTask(owner: Owner, uuid: string): Promise<boolean>;
  /**
   * Calls `listener` with a task's uuid whenever this store (or a transaction made from it) writes the task's
   * row or its instances (update, transition, delete, instance event, instance update): once before the write
   * and once again after it is committed or rolled back, so that a cache of anything derived from those rows
   * can drop it and refuse what a read overlapping the write found (see TaskViewCache). Creations are not
   * reported (nothing can be cached about a task before it exists). Writes by another process are not seen.
   * Returns the function that stops the calls.
   */
  watchTasks(listener: (uuid: string) => void): () => void;

  // instances
  getInstance(owner: Owner, taskUuid: string, instanceId: number): Promise<InstanceRecord | undefined>;
  listInstances(owner: Owner, options?: InstanceListOptions): Promise<InstanceRecord[]>;
  /** How many instances {@link listInstances} would return with these filters (one counting query). */
  countInstances(owner: Owner, options?: Pick<InstanceListOptions, 'taskUuid' | 'states' | 'heaterIds'>): Promise<number>;
  summarizeInstances(owner: Owner, taskUuid: string): Promise<InstanceSummary | undefined>;
  /** Idempotent: see {@link InstanceEvent}. */
  applyInstanceEvent(event: InstanceEvent): Promise<InstanceEventResult>;
  /**
   * Sets fields on many instances of one task at once (abort, retry), selected by id and/or current state;
   * touches no attempt accounting. Returns how many changed.
   */
  updateInstances(
    owner: Owner,
    taskUuid: string,
    where: { instanceIds?: number[]; states?: InstanceState[] },
    set: Pick<InstanceSet, 'state' | 'phase' | 'progress' | 'endedAt'>,
  ): Promise<number>;
  listAttempts(owner: Owner, taskUuid: string, instanceId?: number): Promise<InstanceAttempt[]>;
  /**
   * The events applied to one instance (the keys {@link applyInstanceEvent} keeps to apply each once, with their
   * time), by attempt then sequence; with `minSequence`, only those at or above it (e.g. the coordinator's own,
   * out of its devices' many reports). Lets a restarted coordinator learn what its predecessor decided.
   */
  listInstanceEvents(owner: Owner, taskUuid: string, instanceId: number, options?: { minSequence?: number }): Promise<InstanceEventKey[]>;

  // jobs
  /** @throws StoreConflictError('jobShortname') */
  createJob(job: NewJob): Promise<JobRecord>;
  getJob(owner: Owner, uuid: string): Promise<JobRecord | undefined>;
  listJobs(owner: Owner, options?: PageRequest): Promise<Page<JobRecord>>;
  updateJob(owner: Owner, uuid: string, patch: JobPatch): Promise<JobRecord | undefined>;
  deleteJob(owner: Owner, uuid: string): Promise<boolean>;

  // stdout / stderr
  /** Appends a chunk; false when its (attempt, chunkSeq) key was already stored or the task is gone. */
  appendOutput(chunk: NewOutputChunk): Promise<{ appended: boolean; seq: number | null }>;
  /** Output so far, oldest first; undefined when the task is invisible. */
  readOutput(owner: Owner, taskUuid: string, stream: OutputStream, options?: OutputReadOptions): Promise<OutputChunk[] | undefined>;
  /**
   * Output new since this reader's previous fresh read (of the same task, stream and instance selection), and
   * moves the reader's cursor past it. `readerId` is typically the API token id.
   */
  readFreshOutput(
    owner: Owner,
    taskUuid: string,
    stream: OutputStream,
    readerId: string,
    options?: { instanceId?: number; limit?: number },
  ): Promise<OutputChunk[] | undefined>;

  // buckets and objects
  /** @throws StoreConflictError('bucket', …, ownedByCaller) */
  createBucket(bucket: { name: string; accountId: string }): Promise<BucketRecord>;
  getBucket(owner: Owner, name: string): Promise<BucketRecord | undefined>;
  listBuckets(owner: Owner): Promise<BucketRecord[]>;
  /** Only an empty bucket (no objects, no multipart uploads in progress) is deleted. */
  deleteBucket(owner: Owner, name: string): Promise<DeleteBucketResult>;
  /** Bytes and object count over the owner's buckets (for `usedQuotaBytesBucket`). */
  bucketUsage(owner: Owner, bucket?: string): Promise<{ bytes: number; objects: number }>;
  /** Creates or replaces; undefined when the bucket is invisible. `previous` is the replaced object. */
  putObject(owner: Owner, object: NewObject): Promise<{ object: ObjectRecord; previous: ObjectRecord | undefined } | undefined>;
  getObject(owner: Owner, bucket: string, key: string): Promise<ObjectRecord | undefined>;
  /** The removed object, or undefined when there was none. */
  deleteObject(owner: Owner, bucket: string, key: string): Promise<ObjectRecord | undefined>;
  /** Undefined when the bucket is invisible. */
  listObjects(owner: Owner, bucket: string, options?: ObjectListOptions): Promise<ObjectList | undefined>;
  /** True while an object or an upload part refers to the blob (blob garbage collection asks this). */
  isBlobReferenced(blobHash: string): Promise<boolean>;

  // multipart uploads
  createMultipartUpload(owner: Owner, upload: NewMultipartUpload): Promise<MultipartUpload | undefined>;
  getMultipartUpload(owner: Owner, bucket: string, uploadId: string): Promise<MultipartUpload | undefined>;
  listMultipartUploads(owner: Owner, bucket: string): Promise<MultipartUpload[] | undefined>;
  /** Stores or replaces a part; undefined when the upload is invisible. */
  putPart(owner: Owner, part: NewPart): Promise<{ part: PartRecord; previous: PartRecord | undefined } | undefined>;
  listParts(owner: Owner, bucket: string, uploadId: string): Promise<PartRecord[] | undefined>;
  /** Writes the assembled object and removes the upload; undefined when the upload is invisible. */
  completeMultipartUpload(
    owner: Owner,
    bucket: string,
    uploadId: string,
    object: { size: number; etag: string; blobHash: string; lastModified?: EpochMs },
  ): Promise<CompletedUpload | undefined>;
  /** Removes the upload; its parts (whose blobs may now be unreferenced), or undefined when invisible. */
  abortMultipartUpload(owner: Owner, bucket: string, uploadId: string): Promise<PartRecord[] | undefined>;

  // idempotency keys
  getIdempotency(accountId: string, key: string): Promise<IdempotencyRecord | undefined>;
  /** Saves the first answer under the key; when the key exists, keeps it and returns the existing record. */
  saveIdempotency(record: NewIdempotencyRecord): Promise<{ saved: boolean; record: IdempotencyRecord }>;
  /** Forgets keys created before `before`; returns how many. */
  pruneIdempotency(before: EpochMs): Promise<number>;

  // registry
  /** Inserts or replaces (createdAt kept). */
  upsertRegistry(row: NewRegistryRow): Promise<RegistryRow>;
  getRegistry(id: string): Promise<RegistryRow | undefined>;
  listRegistry(filter?: RegistryFilter): Promise<RegistryRow[]>;
  deleteRegistry(id: string): Promise<boolean>;

  // telemetry
  /** Stores samples; a sample whose (deviceId, time) already exists is ignored. Returns how many were new. */
  appendTelemetry(samples: TelemetrySample[]): Promise<number>;
  /** Raw samples in [from, to), oldest first. */
  readTelemetry(deviceId: string, range: { from: EpochMs; to: EpochMs; limit?: number }): Promise<TelemetrySample[]>;
  /** Samples in [from, to) grouped into buckets of `bucketMs` (aligned to multiples of it); empty buckets omitted. */
  readTelemetryDownsampled(deviceId: string, range: { from: EpochMs; to: EpochMs; bucketMs: number }): Promise<TelemetryBucket[]>;
  /** Deletes samples older than `before`; returns how many. */
  pruneTelemetry(before: EpochMs, deviceId?: string): Promise<number>;

  // event log
  /** Appends an event; its id is greater than every id committed before it. */
  appendEvent(event: NewStoreEvent): Promise<StoreEvent>;
  /** Events with id > afterId, oldest first; scoped to an account's own events (plus none platform-wide). */
  readEvents(owner: Owner, options?: { afterId?: number; limit?: number }): Promise<StoreEvent[]>;
  /** Deletes events older than `before`; returns how many. */
  pruneEvents(before: EpochMs): Promise<number>;

  // platform API aggregates
  /** The id of the newest event committed so far (0 before the first). */
  lastEventId(): Promise<number>;
  /**
   * The newest sample of each device with time < `before` (default: the newest of all), in the order of
   * `deviceIds`; a device without one is left out.
   */
  latestTelemetry(deviceIds: string[], before?: EpochMs): Promise<TelemetrySample[]>;
  /**
   * Totals of the owner's instance attempts, one entry per device they ran on (`heaterId`, null for none).
   * With a range, only attempts whose end (or, while unfinished, start) lies in [from, to).
   */
  summarizeAttempts(owner: Owner, range?: { from?: EpochMs; to?: EpochMs }): Promise<AttemptUsage[]>;
  /**
   * The charges ledger's totals per scheduling type (only types with a charge), for the owner's charges (SYSTEM:
   * everyone's) made in [from, to) by their event's time, of one task when `taskUuid` is given. Charges outlive
   * their task.
   */
  summarizeCharges(owner: Owner, filter?: { from?: EpochMs; to?: EpochMs; taskUuid?: string }): Promise<ChargeTotals[]>;
}

/** Totals of a set of charges of one scheduling type ({@link Store.summarizeCharges}). */
export interface ChargeTotals {
  schedulingType: SchedulingTypeName;
  charges: number;
  coreSeconds: number;
  /** What the credits went down by for them, € (whole micro-euros). */
  chargedEUR: number;
}

/** Totals of a set of instance attempts that ran on one device ({@link Store.summarizeAttempts}). */
export interface AttemptUsage {
  heaterId: string | null;
  attempts: number;
  energyWh: number;
  ghzSeconds: number;
  execTimeSec: number;
  wallTimeSec: number;
}

