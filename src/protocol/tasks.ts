// Wire schemas of tasks: the creation body with its limits, the task as the API shows it, updates, bulk answers,
// pagination and search (Qarnot's selector filters), and stdout/stderr parameters.
import { Type, type Static } from 'typebox';
import { HardwareConstraintSchema } from './hardware.ts';
import { Nullable, Opt, Uuid } from './common.ts';
import { TASK_STATES } from './task-state.ts';

/** Limits of the creation body (COMPUTE-API.md). */
export const TASK_LIMITS = {
  /** A name is shorter than this many characters. */
  nameLength: 2048,
  shortnameLength: 2047,
  constants: 150,
  constraints: 150,
  tags: 10,
  tagLength: 256,
  labels: 100,
  keyLength: 1024,
  constantValueLength: 65_536,
  buckets: 100,
  /** Most instances one task may have. */
  instances: 100_000,
  /** Most tasks in one bulk POST. */
  bulk: 1000,
} as const;

/** `[A-Za-z0-9-]`, not ending in `-`. */
export const SHORTNAME_PATTERN = '^[A-Za-z0-9-]*[A-Za-z0-9]$';

/** Prefix of a write-only constant, shown as {@link SECRET_MASK}. */
export const SECRET_CONSTANT_PREFIX = 'QARNOT_SECRET__';
export const SECRET_MASK = '[SECRET]';

const Key = Type.String({ minLength: 1, maxLength: TASK_LIMITS.keyLength });
/** A task constant (environment variable of the instances). */
export const ConstantSchema = Type.Object({ key: Key, value: Nullable(Type.String({ maxLength: TASK_LIMITS.constantValueLength })) });
export type Constant = Static<typeof ConstantSchema>;
export const ConstraintSchema = Type.Object({ key: Key, value: Nullable(Type.String({ maxLength: TASK_LIMITS.constantValueLength })) });

export const Shortname = Type.String({ minLength: 1, maxLength: TASK_LIMITS.shortnameLength, pattern: SHORTNAME_PATTERN });
export const TagsSchema = Type.Array(Type.String({ minLength: 1, maxLength: TASK_LIMITS.tagLength }), { maxItems: TASK_LIMITS.tags });
export const ConstantsSchema = Type.Array(ConstantSchema, { maxItems: TASK_LIMITS.constants });
const BucketName = Type.String({ minLength: 1, maxLength: 255 });
const Regex = Type.String({ maxLength: 4096 });
export const SchedulingTypeSchema = Type.Union([Type.Literal('flex'), Type.Literal('onDemand'), Type.Literal('reserved')]);
export type SchedulingType = Static<typeof SchedulingTypeSchema>;
export const RetrySettingsSchema = Type.Object({
  maxTotalRetries: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
  maxPerInstanceRetries: Type.Integer({ minimum: 0, maximum: 1000 }),
});

/**
 * `POST /tasks` body. Unknown fields are accepted and ignored (SDKs send more than hearth reads, e.g. `poolUuid`),
 * and every optional field may be `null`. `instanceCount` xor `advancedRanges` is checked after the schema.
 */
export const TaskCreateSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: TASK_LIMITS.nameLength - 1 }),
    shortname: Opt(Shortname),
    profile: Opt(Type.String({ minLength: 1, maxLength: 256 })),
    instanceCount: Opt(Type.Integer({ minimum: 1, maximum: TASK_LIMITS.instances })),
    advancedRanges: Opt(Type.String({ minLength: 1, maxLength: 65_536 })),
    constants: Opt(ConstantsSchema),
    constraints: Opt(Type.Array(ConstraintSchema, { maxItems: TASK_LIMITS.constraints })),
    hardwareConstraints: Opt(Type.Array(HardwareConstraintSchema, { maxItems: 32 })),
    tags: Opt(TagsSchema),
    labels: Opt(Type.Record(Type.String({ maxLength: TASK_LIMITS.keyLength }), Type.String({ maxLength: 4096 }), { maxProperties: TASK_LIMITS.labels })),
    resourceBuckets: Opt(Type.Array(BucketName, { maxItems: TASK_LIMITS.buckets })),
    resultBucket: Opt(BucketName),
    resultsWhitelist: Opt(Regex),
    resultsBlacklist: Opt(Regex),
    jobUuid: Opt(Uuid),
    dependencies: Opt(Type.Object({ dependsOn: Opt(Type.Array(Uuid, { maxItems: 1000 })) })),
    retrySettings: Opt(RetrySettingsSchema),
    schedulingType: Opt(SchedulingTypeSchema),
    maxTimeQueueSeconds: Opt(Type.Integer({ minimum: 0 })),
    autoDeleteOnCompletion: Opt(Type.Boolean()),
    completionTimeToLive: Opt(Type.String({ maxLength: 64 })),
    uploadResultsOnCancellation: Opt(Type.Boolean()),
    /** (ext) ISO time by which every instance should be done. */
    deadline: Opt(Type.String({ format: 'date-time' })),
    /** (ext) expected duration of one instance, s. */
    estimatedInstanceDurationSec: Opt(Type.Number({ minimum: 0, maximum: 1e9 })),
    /** (ext) `snapshot`: the instance may be paused and moved. */
    checkpoint: Opt(Type.Union([Type.Literal('none'), Type.Literal('snapshot')])),
  },
);
export type TaskCreate = Static<typeof TaskCreateSchema>;

/** `POST /tasks` accepts one task or an array of them (bulk: 207 with one entry each). */
export const TaskCreateBodySchema = Type.Union([TaskCreateSchema, Type.Array(Type.Unknown(), { minItems: 1, maxItems: TASK_LIMITS.bulk })]);

/** Answer to a creation. */
export const UuidResponse = Type.Object({ uuid: Uuid });
export type UuidResponse = Static<typeof UuidResponse>;

/** One entry of a bulk creation's 207 answer: the task's uuid, or why it was not created. */
export const BulkEntrySchema = Type.Object({
  statusCode: Type.Integer(),
  uuid: Type.Optional(Uuid),
  message: Type.Optional(Type.String()),
  code: Type.Optional(Type.String()),
  field: Type.Optional(Type.String()),
});
export type BulkEntry = Static<typeof BulkEntrySchema>;

/** `PUT /tasks/{uuid}`: constants and tags of a live task (other fields are ignored). */
export const TaskUpdateSchema = Type.Object({
  constants: Opt(ConstantsSchema),
  tags: Opt(TagsSchema),
});
export type TaskUpdate = Static<typeof TaskUpdateSchema>;

/** `POST /tasks/{uuid}/clone`: fields overriding the original's creation body (all optional). */
export const TaskCloneSchema = Type.Object({
  name: Opt(Type.String({ minLength: 1, maxLength: TASK_LIMITS.nameLength - 1 })),
  shortname: Opt(Shortname),
  constants: Opt(ConstantsSchema),
  tags: Opt(TagsSchema),
});
export type TaskClone = Static<typeof TaskCloneSchema>;

/** One of {@link TASK_STATES}. */
export const TaskStateSchema = Type.Enum(TASK_STATES);

const Str = Type.String();
const Num = Type.Number();
const Int = Type.Integer();
const Date_ = Nullable(Type.String());

/** One finished instance in `completedInstances`. */
export const CompletedInstanceSchema = Type.Object({
  instanceId: Int,
  state: Str,
  wallTimeSec: Num,
  execTimeSec: Num,
  execTimeSecGHz: Num,
  peakMemoryMB: Num,
  specificationKey: Nullable(Str),
  cpuModel: Nullable(Str),
  coreCount: Int,
  clockRatio: Num,
  executionAttemptCount: Int,
  results: Type.Array(Str),
});

export const PerRunningInstanceInfoSchema = Type.Object({
  phase: Nullable(Str),
  instanceId: Int,
  currentFrequencyGHz: Num,
  maxFrequencyGHz: Num,
  cpuUsage: Num,
  progress: Num,
  executionTimeSec: Num,
  executionTimeGHz: Num,
  clockRatio: Num,
  executionAttemptCount: Int,
  cpuModel: Nullable(Str),
  coreCount: Int,
});

/** `status` of a task. Durations are .NET time spans, `…Sec` in seconds. */
export const TaskStatusSchema = Type.Object({
  downloadProgress: Num,
  executionProgress: Num,
  uploadProgress: Num,
  instanceCount: Int,
  downloadTime: Str,
  downloadTimeSec: Num,
  environmentTime: Str,
  environmentTimeSec: Num,
  executionTime: Str,
  executionTimeSec: Num,
  executionTimeGHz: Num,
  uploadTime: Str,
  uploadTimeSec: Num,
  wallTime: Str,
  wallTimeSec: Num,
  succeededRange: Str,
  executedRange: Str,
  failedRange: Str,
  cancelledRange: Str,
  startedOnceRange: Str,
  executionTimeGhzByCpuModel: Type.Array(Type.Object({ model: Str, timeGhz: Num, clockRatio: Num, core: Int })),
  runningInstancesInfo: Type.Object({
    timestamp: Str,
    averageFrequencyGHz: Num,
    maxFrequencyGHz: Num,
    averageCpuUsage: Num,
    clusterPowerIndicator: Num,
    perRunningInstanceInfo: Type.Array(PerRunningInstanceInfoSchema),
  }),
});

/** A task error as shown in `errors[]`. */
export const TaskErrorSchema = Type.Object({ code: Str, message: Str, debug: Type.Optional(Str) });

/** The fields a task summary shows (`GET /tasks/summaries`, and the head of a full task). */
const summaryFields = {
  uuid: Uuid,
  name: Str,
  shortname: Str,
  profile: Str,
  jobUuid: Nullable(Str),
  poolUuid: Type.Null(),
  state: TaskStateSchema,
  previousState: Nullable(TaskStateSchema),
  stateTransitionTime: Str,
  previousStateTransitionTime: Date_,
  lastModified: Str,
  creationDate: Str,
  endDate: Date_,
  progress: Num,
  runningInstanceCount: Int,
  runningCoreCount: Int,
  executionTime: Str,
  wallTime: Str,
  instanceCount: Int,
  advancedRanges: Nullable(Str),
  tags: Type.Array(Str),
  labels: Type.Record(Str, Str),
  schedulingType: SchedulingTypeSchema,
  deadline: Date_,
  estimatedInstanceDurationSec: Nullable(Num),
  checkpoint: Type.Union([Type.Literal('none'), Type.Literal('snapshot')]),
};
export const TaskSummarySchema = Type.Object(summaryFields);
export type TaskSummary = Static<typeof TaskSummarySchema>;

/** `GET /tasks/{uuid}`: the creation fields plus state, progress, instances and status. */
export const TaskOutputSchema = Type.Object(
  {
    ...summaryFields,
    constants: Type.Array(Type.Object({ key: Str, value: Str })),
    constraints: Type.Array(Type.Object({ key: Str, value: Str })),
    hardwareConstraints: Type.Array(HardwareConstraintSchema),
    resourceBuckets: Type.Array(Str),
    resultBucket: Nullable(Str),
    resultsWhitelist: Nullable(Str),
    resultsBlacklist: Nullable(Str),
    dependencies: Type.Object({ dependsOn: Type.Array(Str) }),
    retrySettings: RetrySettingsSchema,
    maxTimeQueueSeconds: Nullable(Num),
    autoDeleteOnCompletion: Type.Boolean(),
    completionTimeToLive: Str,
    uploadResultsOnCancellation: Nullable(Type.Boolean()),
    errors: Type.Array(TaskErrorSchema),
    resultsCount: Int,
    completedInstances: Type.Array(CompletedInstanceSchema),
    status: TaskStatusSchema,
  },
);
export type TaskOutput = Static<typeof TaskOutputSchema>;

/**
 * A Qarnot selector filter: a leaf `{field, operator, value}` or a node `{operator: 'And', filters}`.
 * hearth understands And of leaves on State, Tags, Name, Shortname, Uuid, JobUuid and CreationDate.
 */
export const FilterSchema = Type.Object({
  operator: Type.String({ maxLength: 64 }),
  field: Opt(Type.String({ maxLength: 64 })),
  value: Type.Optional(Type.Unknown()),
  filters: Opt(Type.Array(Type.Unknown(), { maxItems: 100 })),
});
export type Filter = Static<typeof FilterSchema>;

/** `POST /tasks/paginate` body. */
export const PaginateSchema = Type.Object({
  token: Opt(Type.String({ maxLength: 4096 })),
  maximumResults: Opt(Type.Integer({ minimum: 1, maximum: 1000 })),
  filter: Opt(FilterSchema),
  orderBy: Opt(Type.String({ maxLength: 64 })),
  orderType: Opt(Type.String({ maxLength: 16 })),
});
export type Paginate = Static<typeof PaginateSchema>;

/** `POST /tasks/paginate` answer. */
export const TaskPageSchema = Type.Object({
  data: Type.Array(TaskOutputSchema),
  nextToken: Nullable(Str),
  isTruncated: Type.Boolean(),
  count: Int,
});
export type TaskPage = Static<typeof TaskPageSchema>;

/** `POST /tasks/search` body (Qarnot's UserSelector). */
export const SearchSchema = Type.Object({
  filter: Opt(FilterSchema),
  maximumResults: Opt(Type.Integer({ minimum: 1, maximum: 1000 })),
});
export type Search = Static<typeof SearchSchema>;

/** `GET /tasks` query: optional tag filter (comma-separated, every tag required). */
export const TaskListQuery = Type.Object({ tag: Type.Optional(Type.String({ maxLength: 4096 })) });

/** `/tasks/{uuid}/stdout/{instanceId}` path. */
export const InstanceParams = Type.Object({ uuid: Uuid, instanceId: Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 }) });

/**
 * `POST /tasks/{uuid}/snapshot` (one-off) and `/snapshot/periodic` (every `interval` s): upload the running
 * instances' working directories (filtered by the regexes) to `bucket` (default: the result bucket) under
 * `bucketPrefix`.
 */
export const SnapshotSchema = Type.Object(
  {
    interval: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 * 86400 })),
    whitelist: Type.Optional(Type.Union([Type.String({ maxLength: 1024 }), Type.Null()])),
    blacklist: Type.Optional(Type.Union([Type.String({ maxLength: 1024 }), Type.Null()])),
    bucket: Type.Optional(Type.Union([Type.String({ minLength: 3, maxLength: 63 }), Type.Null()])),
    bucketPrefix: Type.Optional(Type.Union([Type.String({ maxLength: 512 }), Type.Null()])),
  },
  { additionalProperties: false },
);
export type SnapshotRequest = Static<typeof SnapshotSchema>;
