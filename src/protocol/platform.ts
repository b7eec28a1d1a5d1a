// Wire schemas of hearth's platform API under /hearth/v1 (sites, rooms, heaters, boilers, telemetry, fleet,
// energy, host statements, live events) and the pure helpers both ends share (setpoint schedules, month ranges).
import { Type, type Static, type TSchema } from 'typebox';

// ---------------------------------------------------------------------------------------------------------
// Constants

/**
 * Grid carbon intensity used when a site gives none, gCO2e/kWh: the 2020 mean of the French series, the figure the
 * carbon facts and the twin use by default (physics/carbon-csv.ts FR_2020_MEAN_G_PER_KWH; the protocol imports
 * nothing, so it is written here too and a test keeps the two equal).
 */
export const DEFAULT_CARBON_G_PER_KWH = 56.3;

/** The RT2012 climate zones of metropolitan France. */
export const CLIMATE_ZONE_NAMES = ['H1a', 'H1b', 'H1c', 'H2a', 'H2b', 'H2c', 'H2d', 'H3'] as const;
export type ClimateZoneName = (typeof CLIMATE_ZONE_NAMES)[number];

/** Event types the live stream carries (others may appear; clients ignore what they do not know). */
export const EVENT_TYPES = {
  /** A task changed state: payload a {@link TaskStatePayload}. */
  taskState: 'task.state',
  /**
   * An instance changed state or phase, or its progress crossed a step (the task's owner and operators): payload an
   * {@link InstanceStatePayload}. At most one per instance per scheduling period.
   */
  instanceState: 'instance.state',
  /**
   * An instance wrote to its stdout or stderr (the task's owner, and operators): payload an
   * {@link InstanceOutputPayload}, the chunk as stored. Live only (sent without an event id, never replayed): what
   * was written before the stream opened is in `GET /tasks/{uuid}/stdout` and `/stderr`.
   */
  instanceOutput: 'instance.output',
  /** A device reported a sample: payload `{deviceId, time, data}` (a {@link TelemetryData}). */
  telemetry: 'telemetry',
  /** A room's setpoint or schedule changed: payload `{roomId, comfortC?, schedule?, by}`. */
  setpoint: 'setpoint',
  /** A registry row (site, room, heater, boiler) was written or deleted: payload `{op, kind, id}`. */
  registry: 'registry',
  /**
   * The latest sample of every device that reported in one scheduling period (operators): payload a
   * {@link TelemetryBatch}. Live only: sent without an event id, never replayed (the history is in telemetry).
   */
  telemetryBatch: 'telemetry.batch',
  /**
   * The latest figures of the rooms the caller may see (residents their rooms, a site's host the site's rooms) whose
   * heaters reported in one scheduling period: payload a {@link RoomTelemetryBatch}. Live only, like
   * `telemetry.batch`; not sent to operators (they have `telemetry.batch`).
   */
  roomTelemetry: 'room.telemetry',
  /** A Home Assistant login was revoked (operators): payload `{username}`; the broker ends its connections. */
  integrationRevoked: 'integration.revoked',
  /**
   * A twin run started from the API (POST /hearth/v1/sims) progressed or ended (operators): payload a
   * {@link SimProgressPayload}. Live only: `GET /hearth/v1/sims` lists the runs as they are.
   */
  simProgress: 'sim.progress',
} as const;

/** Payload of a `sim.progress` event. */
export interface SimProgressPayload {
  name: string;
  /** running, or how it ended: done (its summary is there) or failed. */
  state: 'running' | 'done' | 'failed';
  /** Fraction of the run done, 0..1 (1 when done). */
  progress: number;
  /** The policy it simulates now (null before the first and once it has ended). */
  label: string | null;
}

// ---------------------------------------------------------------------------------------------------------
// Building blocks

/** A registry id: URL-safe, 1–128 characters. */
export const RegistryId = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]*$' });
/** A path parameter `{id}` (any text: an id that cannot exist is simply not found). */
export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) });
export type IdParams = Static<typeof IdParams>;
/** A display name. */
const Name = Type.String({ minLength: 1, maxLength: 256 });
/** A room or water temperature, °C. */
const TempC = Type.Number({ minimum: -50, maximum: 120 });
/** 'HH:MM', 00:00…23:59. */
const ClockFrom = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' });
/** 'HH:MM', 00:00…24:00 (24:00 = end of the day). */
const ClockTo = Type.String({ pattern: '^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$' });
/** An ISO-8601 time. */
const IsoTime = Type.String({ format: 'date-time' });
/** A time in a query string: ISO-8601. */
const QueryTime = Type.String({ format: 'date-time', maxLength: 64 });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

// ---------------------------------------------------------------------------------------------------------
// Registry specs (what `spec` holds in each kind of registry row; validated on every write)

/** A site (building): its climate, its host's electricity price, where it sits on the dashboard map. */
export const SiteSpecSchema = Type.Object(
  {
    /** RT2012 climate zone. */
    climateZone: Type.Union(CLIMATE_ZONE_NAMES.map((z) => Type.Literal(z))),
    /** The host's electricity price, €/kWh: what hearth pays back per kWh drawn on the host's meter. */
    tariffEURPerKWh: Type.Number({ minimum: 0, maximum: 100 }),
    address: Type.Optional(Type.String({ maxLength: 1000 })),
    /** Position on the dashboard's map, arbitrary units. */
    layout: Type.Optional(Type.Object({ x: Type.Number(), y: Type.Number() }, { additionalProperties: false })),
    /** Grid carbon intensity at this site, gCO2e/kWh (default {@link DEFAULT_CARBON_G_PER_KWH}). */
    carbonGPerKWh: Type.Optional(Type.Number({ minimum: 0, maximum: 5000 })),
  },
  { additionalProperties: false },
);
export type SiteSpec = Static<typeof SiteSpecSchema>;

/** One period of a weekly schedule: on `day` (0 = Sunday … 6 = Saturday), from `from` (inclusive) to `to` (exclusive). */
export const ScheduleEntrySchema = Type.Object(
  {
    day: Type.Integer({ minimum: 0, maximum: 6 }),
    from: ClockFrom,
    to: ClockTo,
    /** Setpoint during the period, °C (within the room's [minC, maxC]). */
    setpointC: TempC,
  },
  { additionalProperties: false },
);
export type ScheduleEntry = Static<typeof ScheduleEntrySchema>;

/** A room's weekly schedule (local time of the site); outside every period the room is at its setback. */
export const ScheduleSchema = Type.Object({ weekly: Type.Array(ScheduleEntrySchema, { maxItems: 336 }) }, { additionalProperties: false });
export type Schedule = Static<typeof ScheduleSchema>;

/** A room: thermal archetype, comfort and safety limits, optional schedule. */
export const RoomSpecSchema = Type.Object(
  {
    /** Name of the thermal archetype (e.g. `dwelling:rt2012`). */
    archetype: Type.String({ minLength: 1, maxLength: 128 }),
    /** Floor area, m². */
    areaM2: Type.Number({ exclusiveMinimum: 0, maximum: 100_000 }),
    /** Setpoint when occupied (and always, when the room has no schedule), °C. */
    comfortC: TempC,
    /** Setpoint outside the schedule's periods, °C. */
    setbackC: TempC,
    /** Lowest setpoint a resident may set, °C. */
    minC: TempC,
    /** Highest setpoint a resident may set, °C. */
    maxC: TempC,
    /** Air temperature the heaters must never push the room beyond, °C. */
    safetyC: TempC,
    schedule: Type.Optional(ScheduleSchema),
  },
  { additionalProperties: false },
);
export type RoomSpec = Static<typeof RoomSpecSchema>;

const computeFields = {
  /** Computers inside the device. */
  boards: Type.Integer({ minimum: 1, maximum: 16 }),
  coresPerBoard: Type.Integer({ minimum: 1, maximum: 1024 }),
  /** Memory of one board, MB. */
  memoryMBPerBoard: Type.Number({ exclusiveMinimum: 0, maximum: 1e7 }),
  gpu: Type.Boolean(),
  /** Most electrical power the device draws, W. */
  maxW: Type.Number({ exclusiveMinimum: 0, maximum: 100_000 }),
};

/** A computing radiator (its row's parentId is its room). */
export const HeaterSpecSchema = Type.Object({ model: Type.String({ minLength: 1, maxLength: 128 }), ...computeFields }, { additionalProperties: false });
export type HeaterSpec = Static<typeof HeaterSpecSchema>;

/** A computing hot-water tank (its row's parentId is null, siteId its site). */
export const BoilerSpecSchema = Type.Object(
  {
    /** Tank volume, L. */
    volumeL: Type.Number({ exclusiveMinimum: 0, maximum: 100_000 }),
    /** Water setpoint (top of the tank), °C. */
    setpointC: Type.Number({ minimum: 0, maximum: 100 }),
    /** Water temperature never to exceed, °C. */
    safetyC: Type.Number({ minimum: 0, maximum: 120 }),
    ...computeFields,
  },
  { additionalProperties: false },
);
export type BoilerSpec = Static<typeof BoilerSpecSchema>;

// ---------------------------------------------------------------------------------------------------------
// Telemetry

/**
 * One sample of one device (heater or boiler) for one scheduling period. Every field is a number; extra
 * numeric fields are allowed.
 */
export const TelemetryDataSchema = Type.Object(
  {
    /** Room air, °C (boiler: water at the top of the tank). */
    airC: Type.Optional(Type.Number()),
    /** Setpoint in force, °C. */
    setpointC: Type.Optional(Type.Number()),
    /** Radiator body (or board) temperature, °C. */
    bodyC: Type.Optional(Type.Number()),
    /** Everything the device draws, W. */
    powerW: Type.Optional(Type.Number()),
    /** Part of powerW spent on paid compute, W. */
    computeW: Type.Optional(Type.Number()),
    /** Part of powerW spent on filler work, W. */
    fillerW: Type.Optional(Type.Number()),
    /** Part of powerW spent on the resistive booster, W. */
    boosterW: Type.Optional(Type.Number()),
    /** Boards running an instance. */
    busyBoards: Type.Optional(Type.Number()),
    /** Outdoor air, °C. */
    outdoorC: Type.Optional(Type.Number()),
    /** The device's cumulative electricity meter, Wh (never decreases). */
    meterWh: Type.Optional(Type.Number()),
  },
  { additionalProperties: Type.Number() },
);
export type TelemetryData = Static<typeof TelemetryDataSchema>;

// ---------------------------------------------------------------------------------------------------------
// Registry rows: request bodies and views

/** `POST /sites`. The id is generated when absent. */
export const SiteCreateSchema = Type.Object(
  { id: Type.Optional(RegistryId), name: Name, accountId: Type.Optional(Nullable(Type.String({ maxLength: 256 }))), spec: SiteSpecSchema },
  { additionalProperties: false },
);
export type SiteCreate = Static<typeof SiteCreateSchema>;
/** `PUT /sites/{id}`: replaces the site. */
export const SitePutSchema = Type.Object(
  { name: Name, accountId: Type.Optional(Nullable(Type.String({ maxLength: 256 }))), spec: SiteSpecSchema },
  { additionalProperties: false },
);
export type SitePut = Static<typeof SitePutSchema>;

/** `POST /rooms`. */
export const RoomCreateSchema = Type.Object({ id: Type.Optional(RegistryId), siteId: RegistryId, name: Name, spec: RoomSpecSchema }, { additionalProperties: false });
export type RoomCreate = Static<typeof RoomCreateSchema>;
/** `PUT /rooms/{id}`: replaces the room (it stays in its site). */
export const RoomPutSchema = Type.Object({ name: Name, spec: RoomSpecSchema }, { additionalProperties: false });
export type RoomPut = Static<typeof RoomPutSchema>;

/** `POST /heaters`. */
export const HeaterCreateSchema = Type.Object({ id: Type.Optional(RegistryId), roomId: RegistryId, name: Name, spec: HeaterSpecSchema }, { additionalProperties: false });
export type HeaterCreate = Static<typeof HeaterCreateSchema>;
/** `PUT /heaters/{id}`: replaces the heater; `roomId` moves it (default: where it is). */
export const HeaterPutSchema = Type.Object({ roomId: Type.Optional(RegistryId), name: Name, spec: HeaterSpecSchema }, { additionalProperties: false });
export type HeaterPut = Static<typeof HeaterPutSchema>;

/** `POST /boilers`. */
export const BoilerCreateSchema = Type.Object({ id: Type.Optional(RegistryId), siteId: RegistryId, name: Name, spec: BoilerSpecSchema }, { additionalProperties: false });
export type BoilerCreate = Static<typeof BoilerCreateSchema>;
/** `PUT /boilers/{id}`: replaces the boiler (it stays in its site). */
export const BoilerPutSchema = Type.Object({ name: Name, spec: BoilerSpecSchema }, { additionalProperties: false });
export type BoilerPut = Static<typeof BoilerPutSchema>;

/** What every row view carries. `spec` is the kind's spec as stored (see the *SpecSchema of the kind). */
const rowFields = {
  id: Type.String(),
  name: Type.String(),
  spec: Type.Unknown({ description: 'the spec of the kind (SiteSpec, RoomSpec, HeaterSpec or BoilerSpec)' }),
  createdAt: IsoTime,
  updatedAt: IsoTime,
};
export const SiteSchema = Type.Object({ ...rowFields, accountId: Nullable(Type.String()) });
export type Site = Static<typeof SiteSchema>;
export const RoomSchema = Type.Object({ ...rowFields, siteId: Nullable(Type.String()) });
export type Room = Static<typeof RoomSchema>;
export const HeaterSchema = Type.Object({ ...rowFields, siteId: Nullable(Type.String()), roomId: Nullable(Type.String()) });
export type Heater = Static<typeof HeaterSchema>;
export const BoilerSchema = Type.Object({ ...rowFields, siteId: Nullable(Type.String()) });
export type Boiler = Static<typeof BoilerSchema>;

/** `PUT /rooms/{id}/setpoint`. */
export const SetpointBodySchema = Type.Object({ comfortC: TempC }, { additionalProperties: false });
export type SetpointBody = Static<typeof SetpointBodySchema>;

/** One board of a device, from its spec. */
export const BoardSchema = Type.Object({
  index: Type.Integer(),
  cores: Type.Integer(),
  memoryMB: Type.Number(),
  gpu: Type.Boolean(),
  /** The device's maxW shared evenly, W. */
  maxW: Type.Number(),
});
/** A telemetry sample as the API shows it. */
export const SampleSchema = Type.Object({ time: IsoTime, data: Type.Record(Type.String(), Type.Unknown()) });
export type Sample = Static<typeof SampleSchema>;
/** `GET /heaters/{id}/boards`, `GET /boilers/{id}/boards`: the boards of the spec and the latest sample. */
export const BoardsSchema = Type.Object({
  deviceId: Type.String(),
  kind: Type.Union([Type.Literal('heater'), Type.Literal('boiler')]),
  boards: Type.Array(BoardSchema),
  /** Boards running an instance in the latest sample (null without one). */
  busyBoards: Nullable(Type.Number()),
  latest: Nullable(SampleSchema),
});
export type Boards = Static<typeof BoardsSchema>;

// ---------------------------------------------------------------------------------------------------------
// Telemetry history, fleet, energy, usage, statements

/** `GET /heaters/{id}/telemetry` query. Default range: the last 24 h. */
export const TelemetryQuerySchema = Type.Object({
  from: Type.Optional(QueryTime),
  to: Type.Optional(QueryTime),
  /** Bucket width, s: ≥ 60 downsamples (mean/min/max per bucket); absent or below 60 answers raw samples. */
  bucket: Type.Optional(Type.Integer({ minimum: 0, maximum: 366 * 86_400 })),
  /** Most raw samples answered (default 10,000). */
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
});
export type TelemetryQuery = Static<typeof TelemetryQuerySchema>;

/** One bucket of a downsampled series: statistics of each numeric field over the bucket's samples. */
export const TelemetryBucketSchema = Type.Object({
  time: IsoTime,
  count: Type.Integer(),
  mean: Type.Record(Type.String(), Type.Number()),
  min: Type.Record(Type.String(), Type.Number()),
  max: Type.Record(Type.String(), Type.Number()),
});
/** A device's history: raw `samples`, or `buckets` when a bucket width ≥ 60 s was asked. */
export const TelemetryHistorySchema = Type.Object({
  deviceId: Type.String(),
  from: IsoTime,
  to: IsoTime,
  /** Bucket width, s, or null for raw samples. */
  bucketS: Nullable(Type.Integer()),
  samples: Type.Optional(Type.Array(SampleSchema)),
  buckets: Type.Optional(Type.Array(TelemetryBucketSchema)),
});
export type TelemetryHistory = Static<typeof TelemetryHistorySchema>;

/** Seconds within which a device's latest sample must fall for it to count as online (3 periods of 60 s). */
export const DEFAULT_ONLINE_WITHIN_S = 180;
/** `GET /fleet` query. */
export const FleetQuerySchema = Type.Object({ onlineWithinS: Type.Optional(Type.Integer({ minimum: 1, maximum: 30 * 86_400 })) });
/** `GET /fleet`: the whole fleet at a glance (operators). Power figures sum the latest sample of online devices. */
export const FleetSummarySchema = Type.Object({
  at: IsoTime,
  sites: Type.Integer(),
  rooms: Type.Integer(),
  heaters: Type.Integer(),
  boilers: Type.Integer(),
  boards: Type.Integer(),
  /** Devices with a sample in the last `onlineWithinS` seconds. */
  online: Type.Integer(),
  onlineWithinS: Type.Integer(),
  powerW: Type.Number(),
  computeW: Type.Number(),
  fillerW: Type.Number(),
  boosterW: Type.Number(),
  busyBoards: Type.Number(),
  /** Mean |setpointC − airC| over online devices reporting both, °C (null when none). */
  meanAbsSetpointErrorC: Nullable(Type.Number()),
});
export type FleetSummary = Static<typeof FleetSummarySchema>;

/** `GET /fleet/queue`: the compute side at a glance (operators): queue, throughput, deadline risk. */
export const FleetQueueSchema = Type.Object({
  at: IsoTime,
  /** Tasks not finished (Submitted … UploadingResults). */
  activeTasks: Type.Integer(),
  /** Active tasks whose instances were counted (the oldest first, at most 200). */
  sampledTasks: Type.Integer(),
  /** Instances of those tasks waiting for a board, placed on one, or sent to the overflow datacenter. */
  queuedInstances: Type.Integer(),
  runningInstances: Type.Integer(),
  overflowInstances: Type.Integer(),
  /** Tasks that ended in Success / Failure within the last hour (of the last 1,000 that ended). */
  succeededLastHour: Type.Integer(),
  failedLastHour: Type.Integer(),
  /** Active tasks with a deadline already passed, and those whose deadline falls within their estimated run. */
  deadlineMissed: Type.Integer(),
  deadlineAtRisk: Type.Integer(),
});
export type FleetQueue = Static<typeof FleetQueueSchema>;

/** `GET /fleet/placements` query: one device's placements, or (absent) every device's. */
export const PlacementsQuerySchema = Type.Object({ deviceId: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })) });
export type PlacementsQuery = Static<typeof PlacementsQuerySchema>;
/** States of an instance placed on a device's board (sent to it, running on it, or paused there). */
export const PLACED_STATES = ['dispatched', 'running', 'paused'] as const;
/** One instance placed on a device's board. */
export const PlacementSchema = Type.Object({
  taskUuid: Type.String(),
  /** The task's name ('' when the task is gone). */
  taskName: Type.String(),
  instanceId: Type.Integer(),
  boardIndex: Nullable(Type.Integer()),
  state: Type.Union(PLACED_STATES.map((s) => Type.Literal(s))),
  /** 0…100 %. */
  progress: Type.Number(),
  startedAt: Nullable(IsoTime),
  /** The task's owner (null when the task is gone). */
  accountId: Nullable(Type.String()),
  accountEmail: Nullable(Type.String()),
});
export type Placement = Static<typeof PlacementSchema>;
/** What runs on one device. */
export const DevicePlacementsSchema = Type.Object({
  deviceId: Type.String(),
  /** null: a device id no longer in the registry. */
  kind: Nullable(Type.Union([Type.Literal('heater'), Type.Literal('boiler')])),
  name: Nullable(Type.String()),
  /** By board, then task and instance. */
  instances: Type.Array(PlacementSchema),
});
export type DevicePlacements = Static<typeof DevicePlacementsSchema>;
/**
 * `GET /fleet/placements` (operators): what runs where — every device with work placed on it (or the one asked for,
 * listed even when idle), and how many instances run in the overflow datacenter instead.
 */
export const FleetPlacementsSchema = Type.Object({
  at: IsoTime,
  devices: Type.Array(DevicePlacementsSchema),
  overflowInstances: Type.Integer(),
});
export type FleetPlacements = Static<typeof FleetPlacementsSchema>;

/** `GET /sites/{id}/energy` query. Default range: from the start of the current UTC month to now. */
export const RangeQuerySchema = Type.Object({ from: Type.Optional(QueryTime), to: Type.Optional(QueryTime) });
export type RangeQuery = Static<typeof RangeQuerySchema>;

/** Energy drawn by one device over a range, what it is owed to the host, and its carbon. */
export const DeviceEnergySchema = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  name: Type.String(),
  kWh: Type.Number(),
  owedEUR: Type.Number(),
  carbonKg: Type.Number(),
});
/** `GET /sites/{id}/energy`. */
export const SiteEnergySchema = Type.Object({
  siteId: Type.String(),
  from: IsoTime,
  to: IsoTime,
  tariffEURPerKWh: Type.Number(),
  carbonGPerKWh: Type.Number(),
  devices: Type.Array(DeviceEnergySchema),
  totalKWh: Type.Number(),
  totalOwedEUR: Type.Number(),
  totalCarbonKg: Type.Number(),
});
export type SiteEnergy = Static<typeof SiteEnergySchema>;

/** What the charges ledger says was billed: core-hours (wall × cores × clock ratio) and euros, in all and per scheduling type. */
export const BilledSchema = Type.Object({
  coreHours: Type.Number(),
  eur: Type.Number(),
  byType: Type.Array(
    Type.Object({
      schedulingType: Type.Union([Type.Literal('flex'), Type.Literal('onDemand'), Type.Literal('reserved')]),
      charges: Type.Integer(),
      coreHours: Type.Number(),
      eur: Type.Number(),
    }),
  ),
});
export type Billed = Static<typeof BilledSchema>;

/** `GET /accounts/me/usage`: the caller's compute over attempts that ended (or, still running, started) in the range. */
export const UsageSchema = Type.Object({
  accountId: Type.String(),
  from: Nullable(IsoTime),
  to: Nullable(IsoTime),
  attempts: Type.Integer(),
  /** Board energy, Wh. */
  energyWh: Type.Number(),
  /** Execution time × clock frequency, GHz·s. */
  ghzSeconds: Type.Number(),
  /** CPU core-hours: execTimeSec / 3600 (a process busy on 4 cores for an hour counts 4). */
  coreHours: Type.Number(),
  /** Execution time: CPU time of the instances' processes, summed over the cores they used, s. */
  execTimeSec: Type.Number(),
  /**
   * What was billed, from the charges ledger (one charge per instance report, dated by the report, in [from, to)):
   * core-hours billed (wall time × cores × clock ratio: what the customer pays for, busy or not) and euros taken
   * from the credits for them, in all and per scheduling type (types with no charge are absent).
   */
  billed: BilledSchema,
});
export type Usage = Static<typeof UsageSchema>;

/** `GET /hearth/v1/tasks/{uuid}/bill`: what a task was billed so far (kept after the task is deleted). */
export const TaskBillSchema = Type.Object({ taskUuid: Type.String(), billed: BilledSchema });
export type TaskBill = Static<typeof TaskBillSchema>;

/**
 * `POST /hearth/v1/sims` (operators): run the twin on one of the scenarios the coordinator ships (GET /sims/scenarios)
 * into `<dataDir>/sims/<name>` — every policy of the scenario unless `policies` names some, over its own days unless
 * `days` says, with its seed unless `seed` does. One run at a time.
 */
export const SimStartSchema = Type.Object(
  {
    scenario: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }),
    /** The run's folder name (one path segment); default `<scenario>-<UTC date and time>`. */
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' })),
    days: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 366 })),
    policies: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 8 })),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647 })),
  },
  { additionalProperties: false },
);
export type SimStart = Static<typeof SimStartSchema>;

/** A scenario the coordinator ships, as `GET /hearth/v1/sims/scenarios` lists it. */
export interface SimScenario {
  /** What `POST /sims` takes as `scenario` (the file's name without `.json`). */
  id: string;
  name: string;
  startDate: string | null;
  days: number | null;
  policies: string[];
}

/** A month, `YYYY-MM` (UTC). */
export const Month = Type.String({ pattern: '^[0-9]{4}-(0[1-9]|1[0-2])$' });
export const StatementParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }), month: Month });
export type StatementParams = Static<typeof StatementParams>;

/** `GET /sites/{id}/statements/{month}`: what hearth owes the host for the electricity its devices drew. */
export const StatementSchema = Type.Object({
  site: Type.Object({ id: Type.String(), name: Type.String() }),
  month: Type.String(),
  from: IsoTime,
  to: IsoTime,
  host: Nullable(Type.Object({ id: Type.String(), email: Type.String() })),
  tariffEURPerKWh: Type.Number(),
  devices: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), kWh: Type.Number(), owedEUR: Type.Number() })),
  totalKWh: Type.Number(),
  totalOwedEUR: Type.Number(),
  /** The resident pays nothing for the heat. */
  residentPays: Type.Literal(0),
});
export type Statement = Static<typeof StatementSchema>;
/** `GET /sites/{id}/statements`: months with telemetry, oldest first. */
export const StatementListSchema = Type.Object({ site: Type.Object({ id: Type.String(), name: Type.String() }), months: Type.Array(Type.String()) });
export type StatementList = Static<typeof StatementListSchema>;

/** What each SSE `data:` line holds. */
export const LiveEventSchema = Type.Object({
  /** The stored event's id (what Last-Event-ID resumes after); null for a live-only event (never replayed). */
  id: Nullable(Type.Integer()),
  type: Type.String(),
  accountId: Nullable(Type.String()),
  payload: Type.Unknown(),
  at: IsoTime,
});
export type LiveEvent = Static<typeof LiveEventSchema>;

/** One device's latest figures (the dashboard's live tiles and chart): a `telemetry.batch` entry, a `GET /fleet/latest` row. */
export const LiveSampleSchema = Type.Object({
  deviceId: Type.String(),
  /** Sample time, ms since the epoch. */
  time: Type.Number(),
  airC: Type.Optional(Type.Number()),
  setpointC: Type.Optional(Type.Number()),
  powerW: Type.Optional(Type.Number()),
  computeW: Type.Optional(Type.Number()),
  fillerW: Type.Optional(Type.Number()),
  boosterW: Type.Optional(Type.Number()),
  busyBoards: Type.Optional(Type.Number()),
  /**
   * The heat the device's room (or tank) asked for at the latest scheduling round, W: what its thermostat
   * requested of the scheduler. Live batches only (the loop's, not the device's figure: never in stored samples).
   */
  requestW: Type.Optional(Type.Number()),
});
export type LiveSample = Static<typeof LiveSampleSchema>;
/** Payload of a `telemetry.batch` event, and `GET /fleet/latest` (operators): at most one sample per device. */
export const TelemetryBatchSchema = Type.Object({ samples: Type.Array(LiveSampleSchema) });
export type TelemetryBatch = Static<typeof TelemetryBatchSchema>;

/**
 * `GET /hearth/v1/fleet/tiles` (operators): what the dashboard's tile grid and sites map draw first, in columns —
 * entry k of every `devices` and `latest` array is the same device (heaters, then boilers, each by id). Numbers
 * are rounded to what the page shows: temperatures to 0.01 °C (the colour band's edges are 0.5 K apart), power to
 * 1 W; null where unknown (no sample, or no such figure in it). The details (specs, rooms, other figures) stay
 * on the per-resource routes.
 */
export const FleetTilesSchema = Type.Object({
  sites: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), layout: Nullable(Type.Object({ x: Type.Number(), y: Type.Number() })) })),
  devices: Type.Object({
    id: Type.Array(Type.String()),
    kind: Type.Array(Type.Union([Type.Literal('heater'), Type.Literal('boiler')])),
    name: Type.Array(Type.String()),
    /** Index in `sites`, null when the device has no site. */
    site: Type.Array(Nullable(Type.Integer())),
    /** The heater's room's name ('' when none); 'hot water' for a boiler. */
    roomName: Type.Array(Type.String()),
    /** Boards in the device's spec (0 when it has none). */
    boards: Type.Array(Type.Integer()),
  }),
  /** Each device's latest sample (what `GET /fleet/latest` has): time in ms since the epoch. */
  latest: Type.Object({
    time: Type.Array(Nullable(Type.Number())),
    airC: Type.Array(Nullable(Type.Number())),
    setpointC: Type.Array(Nullable(Type.Number())),
    powerW: Type.Array(Nullable(Type.Number())),
    computeW: Type.Array(Nullable(Type.Number())),
    fillerW: Type.Array(Nullable(Type.Number())),
    boosterW: Type.Array(Nullable(Type.Number())),
    busyBoards: Type.Array(Nullable(Type.Number())),
    /** Live batches only (see LiveSample.requestW). */
    requestW: Type.Array(Nullable(Type.Number())),
  }),
});
export type FleetTiles = Static<typeof FleetTilesSchema>;
/** The figures of `FleetTiles.latest`, in a LiveSample's names. */
export const FLEET_TILE_FIELDS = ['airC', 'setpointC', 'powerW', 'computeW', 'fillerW', 'boosterW', 'busyBoards', 'requestW'] as const;

/** Payload of a `task.state` event. */
export const TaskStatePayloadSchema = Type.Object({ uuid: Type.String(), state: Type.String() });
export type TaskStatePayload = Static<typeof TaskStatePayloadSchema>;

/** Payload of an `instance.state` event: the instance as it is after the change. */
export const InstanceStatePayloadSchema = Type.Object({
  taskUuid: Type.String(),
  instanceId: Type.Integer(),
  /** queued, dispatched, running, paused, overflow, success, failure, cancelled. */
  state: Type.String(),
  /** What a running instance is doing (download, execution, upload…), or null. */
  phase: Nullable(Type.String()),
  /** 0…100 %. */
  progress: Type.Number(),
  /** Current attempt (0 before the first dispatch; retries add one). */
  attempt: Type.Integer(),
  /**
   * The device and board of the attempt: only when the task's owner is an operator (the compute API never shows
   * customers where their work runs).
   */
  heaterId: Type.Optional(Nullable(Type.String())),
  boardIndex: Type.Optional(Nullable(Type.Integer())),
});
export type InstanceStatePayload = Static<typeof InstanceStatePayloadSchema>;

/** Payload of an `instance.output` event: one chunk of an instance's output, as `GET /tasks/{uuid}/stdout` returns it. */
export const InstanceOutputPayloadSchema = Type.Object({
  taskUuid: Type.String(),
  instanceId: Type.Integer(),
  /** The attempt that wrote it. */
  attempt: Type.Integer(),
  stream: Type.Union([Type.Literal('stdout'), Type.Literal('stderr')]),
  text: Type.String(),
  /** When the device read it, ms since the epoch. */
  at: Type.Number(),
});
export type InstanceOutputPayload = Static<typeof InstanceOutputPayloadSchema>;

/** One room's latest figures in a `room.telemetry` event. */
export const RoomTelemetrySchema = Type.Object({
  roomId: Type.String(),
  siteId: Nullable(Type.String()),
  /** Newest sample time among the room's heaters, ms since the epoch. */
  time: Type.Number(),
  /** Mean air temperature over the room's heaters' latest samples, °C. */
  airC: Type.Optional(Type.Number()),
  /** Setpoint in force (as the heaters report it; mean over them), °C. */
  setpointC: Type.Optional(Type.Number()),
  /** Electrical power of the room's heaters, summed, W (all of it is heat in the room). */
  powerW: Type.Optional(Type.Number()),
  /** How many heaters the figures cover. */
  heaters: Type.Integer(),
});
export type RoomTelemetry = Static<typeof RoomTelemetrySchema>;
/** Payload of a `room.telemetry` event: only rooms the receiving account may see, one entry per room. */
export const RoomTelemetryBatchSchema = Type.Object({ rooms: Type.Array(RoomTelemetrySchema) });
export type RoomTelemetryBatch = Static<typeof RoomTelemetryBatchSchema>;

/** The payload of each known event type (one definition, for the SDK and the dashboard). */
export interface LiveEventPayloads {
  'task.state': TaskStatePayload;
  'instance.state': InstanceStatePayload;
  'instance.output': InstanceOutputPayload;
  'telemetry.batch': TelemetryBatch;
  'room.telemetry': RoomTelemetryBatch;
  'sim.progress': SimProgressPayload;
}

/** A live event of a known type with its payload typed (live-only events carry a null id). */
export type TypedLiveEvent<T extends keyof LiveEventPayloads> = Omit<LiveEvent, 'id' | 'type' | 'payload'> & { id: number | null; type: T; payload: LiveEventPayloads[T] };

/** Narrows a live event to a known type: `if (isLiveEvent(e, EVENT_TYPES.instanceState)) e.payload.progress`. */
export function isLiveEvent<T extends keyof LiveEventPayloads>(e: { type: string }, type: T): e is TypedLiveEvent<T> {
  return e.type === type;
}

/** The figures of a telemetry sample's data that a {@link LiveSample} carries. */
export const LIVE_SAMPLE_FIELDS = ['airC', 'setpointC', 'powerW', 'computeW', 'fillerW', 'boosterW', 'busyBoards'] as const;

/** `GET /hearth/v1/me`: who the token is (the dashboard picks its pages from it). */
export const MeSchema = Type.Object({
  id: Type.String(),
  email: Type.String(),
  role: Type.String(),
  scope: Type.Object({ roomIds: Type.Optional(Type.Array(Type.String())), deviceId: Type.Optional(Type.String()) }),
  /** Sites whose host (meter owner) the caller is. */
  hostSiteIds: Type.Array(Type.String()),
});
export type Me = Static<typeof MeSchema>;

// ---------------------------------------------------------------------------------------------------------
// Pure helpers

/** Minutes since midnight of an 'HH:MM' string (24:00 → 1440). */
export function minutesOf(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

/**
 * The setpoint of a room at a time, °C. Without a schedule (or with an empty one) it is `comfortC`; with one,
 * it is the `setpointC` of the period covering the site's local time (the last listed when several do), and
 * `setbackC` outside every period.
 * @param epochMs the time, ms since the epoch (UTC)
 * @param tzOffsetMin the site's offset from UTC, minutes (local = UTC + offset; 60 for CET, 120 for CEST)
 */
export function setpointAt(room: Pick<RoomSpec, 'comfortC' | 'setbackC' | 'schedule'>, epochMs: number, tzOffsetMin = 0): number {
  const weekly = room.schedule?.weekly ?? [];
  if (weekly.length === 0) return room.comfortC;
  const local = new Date(epochMs + tzOffsetMin * 60_000);
  const day = local.getUTCDay();
  const minute = local.getUTCHours() * 60 + local.getUTCMinutes();
  let found: number | undefined;
  for (const e of weekly) if (e.day === day && minutesOf(e.from) <= minute && minute < minutesOf(e.to)) found = e.setpointC;
  return found ?? room.setbackC;
}

/** The UTC bounds of a `YYYY-MM` month, ms since the epoch: [from, to). */
export function monthRange(month: string): { from: number; to: number } {
  const y = Number(month.slice(0, 4));
  const m = Number(month.slice(5, 7)) - 1;
  // setUTCFullYear, unlike Date.UTC, does not map years 0–99 to 1900–1999.
  const at = (month0: number): number => new Date(0).setUTCFullYear(y, month0, 1);
  return { from: at(m), to: at(m + 1) };
}

/** The `YYYY-MM` (UTC) month holding a time given in ms since the epoch. */
export function monthOf(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 7);
}
