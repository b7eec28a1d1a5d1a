// @hearth/sdk: the typed TypeScript client of hearth. Types come from the protocol's typebox schemas.
export { HearthClient, type HearthClientOptions } from './client.ts';
export { HearthApiError, HearthNetworkError, HearthTimeoutError, apiErrorOf } from './errors.ts';
export { Transport, isIdempotentRead, retryAfterSeconds, type FetchLike, type RetryOptions, type TransportOptions } from './http.ts';
export { Tasks, Jobs, TaskHandle, isFinal, type OutputStream, type StreamOutputOptions, type WaitOptions } from './tasks.ts';
export { Buckets, checkBucketName, checkKey, md5File, walkFiles, type BucketInfo, type ObjectInfo, type ObjectPage, type PutBody, type SyncReport, type TransferProgress } from './buckets.ts';
export { Platform, type TimeLike } from './platform.ts';
export { streamEvents, type EventsOptions } from './events.ts';
export { signV4, uriEncode, sha256Hex, amzDate, canonicalQueryString, UNSIGNED_PAYLOAD, EMPTY_SHA256, type SignRequest } from './sigv4.ts';
export type { TaskCreate, TaskOutput, TaskSummary, TaskUpdate, TaskPage, Paginate, BulkEntry, Constant } from '../protocol/tasks.ts';
export type { JobCreate, JobOutput } from '../protocol/jobs.ts';
export type { CarbonFactsOutput } from '../protocol/carbon.ts';
export type { TaskStateName } from '../protocol/task-state.ts';
export type { Info, Settings, Profile, AccountCreate, AccountCreated } from '../protocol/account.ts';
export type { Site, Room, Heater, Boiler, Boards, FleetSummary, FleetPlacements, DevicePlacements, Placement, SiteEnergy, Usage, Billed, TaskBill, TelemetryHistory, Sample, ScheduleEntry, LiveEvent, RoomSpec, Statement, TypedLiveEvent, LiveEventPayloads, TaskStatePayload, InstanceStatePayload, InstanceOutputPayload, RoomTelemetry, RoomTelemetryBatch, TelemetryBatch, LiveSample } from '../protocol/platform.ts';
export { EVENT_TYPES, isLiveEvent } from '../protocol/platform.ts';
export type { ApiErrorBody } from '../protocol/errors.ts';
