// The contract between the coordinator and a heater or boiler: the commands it receives (assignments, power,
// pause/resume/kill) and what it reports (device telemetry, instance progress and output). The local executor
// speaks it in-process today; the MQTT device bus carries the same payloads.
import { Type, type Static } from 'typebox';

const Str = Type.String({ maxLength: 4096 });
const Uuid = Type.String({ minLength: 1, maxLength: 64 });
/** A device id (as the MQTT topics allow: `[A-Za-z0-9._:-]{1,128}`). */
const DeviceId = Type.String({ minLength: 1, maxLength: 128 });
/** Keys of string-keyed maps: no control characters (a newline in a key must not escape validation). */
const EnvKey = Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,255}$' });
const InfoKey = Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' });

/** One instance attempt handed to a device. */
export const AssignmentSchema = Type.Object({
  taskUuid: Uuid,
  instanceId: Type.Integer({ minimum: 0 }),
  /** 1 on the first start; every restart (kill, retry, heater loss) adds one. */
  attempt: Type.Integer({ minimum: 1 }),
  /** Account that owns the task (whose buckets the device reads and writes). */
  accountId: Uuid,
  boardIndex: Type.Integer({ minimum: 0, maximum: 31 }),
  /** The profile's command line before `${NAME}` expansion (docker-batch: DOCKER_CMD). */
  command: Type.String({ maxLength: 65536 }),
  /** Environment of the instance: INSTANCE_ID, FRAME_ID, QRANK, QSIZE, TASK_PATH and every task constant. */
  env: Type.Record(EnvKey, Type.String(), { additionalProperties: false }),
  resourceBuckets: Type.Array(Str),
  resultBucket: Type.Union([Str, Type.Null()]),
  resultsWhitelist: Type.Union([Str, Type.Null()]),
  resultsBlacklist: Type.Union([Str, Type.Null()]),
  /** Regexes that read progress (0–100) out of stdout (docker-batch DOCKER_PROGRESS1..3). */
  progressRegexes: Type.Array(Str),
  cores: Type.Integer({ minimum: 1 }),
  memoryMB: Type.Number({ minimum: 0 }),
  checkpointable: Type.Boolean(),
  /** Wall-time limit of the attempt, s (null: none). */
  wallTimeLimitS: Type.Union([Type.Number({ exclusiveMinimum: 0 }), Type.Null()]),
  /**
   * A checkpoint to restore before the process starts (checkpointable tasks moved or evicted): the working directory
   * an earlier attempt of the instance left, uploaded by its device (`checkpoint` command). The device fetches it
   * with `GET …/assignments/{task}/{instance}/{this attempt}/checkpoint`, waiting at most `waitS` for it to arrive
   * (503 meanwhile), and unpacks it over the staged inputs; a 404 or the end of the wait: it starts from zero.
   */
  restore: Type.Optional(Type.Object({ attempt: Type.Integer({ minimum: 1 }), waitS: Type.Number({ minimum: 0, maximum: 86_400 }) })),
});
export type Assignment = Static<typeof AssignmentSchema>;

/** Which attempt a pause, resume or kill is about. */
export const AttemptRefSchema = Type.Object({ taskUuid: Uuid, instanceId: Type.Integer({ minimum: 0 }), attempt: Type.Integer({ minimum: 1 }) });
export type AttemptRef = Static<typeof AttemptRefSchema>;

/** A command from the coordinator to one device. */
export const DeviceCommandSchema = Type.Union([
  Type.Object({ kind: Type.Literal('start'), assignment: AssignmentSchema }),
  Type.Object({ kind: Type.Literal('pause'), ref: AttemptRefSchema }),
  Type.Object({ kind: Type.Literal('resume'), ref: AttemptRefSchema }),
  /**
   * Ends the attempt. With `checkpoint` (checkpointable tasks moved or evicted) the device stops it for a move
   * instead: SIGTERM to its processes (continued first if paused), SIGKILL after `graceS` (default 10), then it packs
   * the files of the working directory that changed since staging, uploads them
   * (`PUT …/assignments/{task}/{instance}/{attempt}/checkpoint`) and reports the attempt `checkpointed` (with
   * `checkpoint`, or `error` when nothing could be saved). A device that knows no checkpoints just kills it.
   */
  Type.Object({
    kind: Type.Literal('kill'),
    ref: AttemptRefSchema,
    checkpoint: Type.Optional(Type.Object({ graceS: Type.Optional(Type.Number({ minimum: 0, maximum: 3600 })) })),
  }),
  /**
   * Power settings: frequency level of the boards, booster fraction 0..1, which free boards run filler (heat
   * only), and a resistive set-point in W (boards off) or null.
   */
  Type.Object({
    kind: Type.Literal('power'),
    level: Type.Integer({ minimum: 0, maximum: 15 }),
    booster: Type.Number({ minimum: 0, maximum: 1 }),
    filler: Type.Array(Type.Boolean(), { maxItems: 32 }),
    resistiveW: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]),
  }),
  /** Upload the attempt's working directory now (filtered by the regexes) to `bucket` under `prefix`. */
  Type.Object({
    kind: Type.Literal('snapshot'),
    ref: AttemptRefSchema,
    bucket: Str,
    prefix: Type.String({ maxLength: 512 }),
    whitelist: Type.Union([Str, Type.Null()]),
    blacklist: Type.Union([Str, Type.Null()]),
  }),
  /** The room's setpoint now, °C (the device's own thermostat and safety limits use it). */
  Type.Object({ kind: Type.Literal('setpoint'), setpointC: Type.Number({ minimum: 5, maximum: 30 }) }),
]);
export type DeviceCommand = Static<typeof DeviceCommandSchema>;

/** Device telemetry, one per period. Temperatures °C, powers W, the meter Wh (cumulative, monotone). */
export const DeviceReportSchema = Type.Object({
  deviceId: DeviceId,
  at: Type.Number(),
  airC: Type.Number(),
  setpointC: Type.Number(),
  bodyC: Type.Number(),
  outdoorC: Type.Number(),
  powerW: Type.Number({ minimum: 0 }),
  computeW: Type.Number({ minimum: 0 }),
  fillerW: Type.Number({ minimum: 0 }),
  boosterW: Type.Number({ minimum: 0 }),
  busyBoards: Type.Integer({ minimum: 0 }),
  level: Type.Integer({ minimum: 0 }),
  meterWh: Type.Number({ minimum: 0 }),
});
export type DeviceReport = Static<typeof DeviceReportSchema>;

/** Instance states a device reports. */
export const ReportedInstanceState = Type.Union([
  Type.Literal('running'),
  Type.Literal('paused'),
  Type.Literal('success'),
  Type.Literal('failure'),
  /** The attempt stopped on a `checkpoint` command: its state was saved (`checkpoint`) or could not be (`error`). */
  Type.Literal('checkpointed'),
]);

/**
 * A report about one attempt. `seq` grows by one per report of the attempt (the coordinator deduplicates by
 * task, instance, attempt and seq, so a report replayed after a reconnection counts once). `add` holds what the
 * attempt used since its previous report.
 */
export const InstanceReportSchema = Type.Object({
  taskUuid: Uuid,
  instanceId: Type.Integer({ minimum: 0 }),
  attempt: Type.Integer({ minimum: 1 }),
  seq: Type.Integer({ minimum: 1, maximum: 999_999_999 }),
  at: Type.Number(),
  deviceId: DeviceId,
  state: Type.Optional(ReportedInstanceState),
  phase: Type.Optional(Type.Union([Type.Literal('download'), Type.Literal('environment'), Type.Literal('execution'), Type.Literal('upload'), Type.Literal('checkpoint')])),
  progress: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
  add: Type.Optional(
    Type.Object({
      energyWh: Type.Number({ minimum: 0 }),
      ghzSeconds: Type.Number({ minimum: 0 }),
      execTimeSec: Type.Number({ minimum: 0 }),
      wallTimeSec: Type.Number({ minimum: 0 }),
    }),
  ),
  clockRatio: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  stdout: Type.Optional(Type.String()),
  stderr: Type.Optional(Type.String()),
  /** Uploaded result files (keys in the result bucket), on success or failure. */
  results: Type.Optional(Type.Array(Type.Object({ key: Str, size: Type.Number({ minimum: 0 }) }))),
  exitCode: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  /** With state `checkpointed`: the checkpoint stored on the coordinator (bytes of the archive, files in it). */
  checkpoint: Type.Optional(Type.Object({ size: Type.Integer({ minimum: 0 }), files: Type.Integer({ minimum: 0 }) })),
  error: Type.Optional(Type.String({ maxLength: 4096 })),
  /** Free facts shown in the instance's info (cpuModel, sandbox…). */
  info: Type.Optional(Type.Record(InfoKey, Type.Union([Type.String(), Type.Number(), Type.Boolean()]), { additionalProperties: false })),
});
export type InstanceReport = Static<typeof InstanceReportSchema>;

/** Sequence numbers at and above this are the coordinator's own events on an attempt (they outrank device reports). */
export const COORDINATOR_SEQ_BASE = 1_000_000_000;
