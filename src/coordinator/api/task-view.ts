// How a stored task looks on the wire: the full task (creation fields, state, instances, status with ranges and
// .NET time spans) and the lighter summary; secret constants masked.
import { formatRanges } from '../../protocol/ranges.ts';
import { formatTimeSpan } from '../../protocol/timespan.ts';
import { SECRET_CONSTANT_PREFIX, SECRET_MASK, type TaskCreate, type TaskOutput, type TaskSummary } from '../../protocol/tasks.ts';
import type { InstanceRecord, InstanceSummary, Store, TaskRecord, TaskState } from '../store/types.ts';
import { iso } from './context.ts';

/** Task states that count as running for quotas and `/info`. */
export const RUNNING_STATES: TaskState[] = ['PartiallyDispatched', 'FullyDispatched', 'PartiallyExecuting', 'FullyExecuting', 'UploadingResults'];

/** The creation body as stored (validated at creation; read defensively). */
export function bodyOf(task: TaskRecord): Partial<TaskCreate> {
  const empty: Partial<TaskCreate> = {};
  if (task.body === null || typeof task.body !== 'object' || Array.isArray(task.body)) return empty;
  return task.body;
}

/** Constants as shown: `QARNOT_SECRET__…` values replaced by `[SECRET]`, null values as "". */
export function maskConstants(constants: TaskCreate['constants']): Array<{ key: string; value: string }> {
  return (constants ?? []).map((c) => ({ key: c.key, value: c.key.startsWith(SECRET_CONSTANT_PREFIX) ? SECRET_MASK : (c.value ?? '') }));
}

function num(x: unknown, fallback = 0): number {
  return typeof x === 'number' && Number.isFinite(x) ? x : fallback;
}
function str(x: unknown): string | null {
  return typeof x === 'string' ? x : null;
}
function record(x: unknown): Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, unknown>) : {};
}

/** The summary of a task (list views): no instances, no status. */
export function taskSummary(task: TaskRecord, summary: InstanceSummary | undefined): TaskSummary {
  const running = (summary?.byState.running ?? 0) + (summary?.byState.paused ?? 0);
  const status = record(task.status);
  return {
    uuid: task.uuid,
    name: task.name,
    shortname: task.shortname,
    profile: task.profile,
    jobUuid: task.jobUuid,
    poolUuid: null,
    state: task.state,
    previousState: task.previousState,
    stateTransitionTime: iso(task.stateTransitionTime),
    previousStateTransitionTime: typeof status.previousStateTransitionTime === 'number' ? iso(status.previousStateTransitionTime) : null,
    lastModified: iso(task.stateTransitionTime),
    creationDate: iso(task.creationDate),
    endDate: iso(task.endDate),
    progress: summary?.progress ?? 0,
    runningInstanceCount: running,
    runningCoreCount: running,
    executionTime: formatTimeSpan(summary?.execTimeSec ?? 0),
    wallTime: formatTimeSpan(summary?.wallTimeSec ?? 0),
    instanceCount: task.instanceCount,
    advancedRanges: task.advancedRanges,
    tags: task.tags,
    labels: task.labels,
    schedulingType: task.schedulingType,
    deadline: iso(task.deadline),
    estimatedInstanceDurationSec: task.estimatedInstanceDurationSec,
    checkpoint: task.checkpoint,
  };
}

/** What the view reports about an instance that has finished (success or failure). */
type CompletedInstance = TaskOutput['completedInstances'][number];
/** What the view reports about a running or paused instance. */
type RunningInstance = TaskOutput['status']['runningInstancesInfo']['perRunningInstanceInfo'][number];

function resultsOf(i: InstanceRecord): string[] {
  return Array.isArray(i.results) ? i.results.filter((r): r is string => typeof r === 'string') : [];
}

/**
 * The full task of `GET /tasks/{uuid}`, from its record and every one of its instances. One pass over the
 * instances, and the summary's object extended in place (no copies: this runs on every read of a changed task).
 */
export function taskOutput(task: TaskRecord, instances: InstanceRecord[]): TaskOutput {
  const body = bodyOf(task);
  const summary: InstanceSummary = {
    instanceCount: instances.length,
    byState: {},
    energyWh: 0,
    ghzSeconds: 0,
    execTimeSec: 0,
    wallTimeSec: 0,
    progress: 0,
  };
  const succeeded: number[] = [];
  const failed: number[] = [];
  const cancelled: number[] = [];
  const startedOnce: number[] = [];
  const completed: CompletedInstance[] = [];
  const perRunning: RunningInstance[] = [];
  let resultsCount = 0;
  let frequencySum = 0;
  let maxFrequency = 0;
  let cpuUsageSum = 0;
  let clockRatioSum = 0;
  for (const i of instances) {
    summary.byState[i.state] = (summary.byState[i.state] ?? 0) + 1;
    summary.ghzSeconds += i.ghzSeconds;
    summary.execTimeSec += i.execTimeSec;
    summary.wallTimeSec += i.wallTimeSec;
    summary.progress += i.progress;
    if (i.attempt > 0 || i.startedAt !== null) startedOnce.push(i.instanceId);
    const results = resultsOf(i);
    resultsCount += results.length;
    if (i.state === 'success' || i.state === 'failure') {
      (i.state === 'success' ? succeeded : failed).push(i.instanceId);
      const info = record(i.info);
      completed.push({
        instanceId: i.instanceId,
        state: i.state === 'success' ? 'Success' : 'Failure',
        wallTimeSec: i.wallTimeSec,
        execTimeSec: i.execTimeSec,
        execTimeSecGHz: i.ghzSeconds,
        peakMemoryMB: num(info.peakMemoryMB),
        specificationKey: str(info.specificationKey),
        cpuModel: str(info.cpuModel),
        coreCount: num(info.coreCount, 1),
        clockRatio: i.clockRatio ?? 1,
        executionAttemptCount: i.attempt,
        results,
      });
    } else if (i.state === 'cancelled') {
      cancelled.push(i.instanceId);
    } else if (i.state === 'running' || i.state === 'paused') {
      const info = record(i.info);
      const p: RunningInstance = {
        phase: i.phase,
        instanceId: i.instanceId,
        currentFrequencyGHz: num(info.currentFrequencyGHz),
        maxFrequencyGHz: num(info.maxFrequencyGHz),
        cpuUsage: num(info.cpuUsage),
        progress: i.progress,
        executionTimeSec: i.execTimeSec,
        executionTimeGHz: i.ghzSeconds,
        clockRatio: i.clockRatio ?? 1,
        executionAttemptCount: i.attempt,
        cpuModel: str(info.cpuModel),
        coreCount: num(info.coreCount, 1),
      };
      perRunning.push(p);
      frequencySum += p.currentFrequencyGHz;
      maxFrequency = Math.max(maxFrequency, p.maxFrequencyGHz);
      cpuUsageSum += p.cpuUsage;
      clockRatioSum += p.clockRatio;
    }
  }
  if (instances.length > 0) summary.progress /= instances.length;
  const running = perRunning.length;
  const status = record(task.status);
  const errors = Array.isArray(status.errors)
    ? status.errors.map((e) => ({ code: str(record(e).code) ?? 'error', message: str(record(e).message) ?? '' }))
    : [];
  const out = taskSummary(task, summary) as TaskOutput;
  out.constants = maskConstants(body.constants);
  out.constraints = (body.constraints ?? []).map((c) => ({ key: c.key, value: c.value ?? '' }));
  out.hardwareConstraints = body.hardwareConstraints ?? [];
  out.resourceBuckets = body.resourceBuckets ?? [];
  out.resultBucket = body.resultBucket ?? null;
  out.resultsWhitelist = body.resultsWhitelist ?? null;
  out.resultsBlacklist = body.resultsBlacklist ?? null;
  out.dependencies = { dependsOn: task.dependsOn };
  out.retrySettings = task.retrySettings;
  out.maxTimeQueueSeconds = body.maxTimeQueueSeconds ?? null;
  out.autoDeleteOnCompletion = body.autoDeleteOnCompletion ?? false;
  out.completionTimeToLive = body.completionTimeToLive ?? '00:00:00';
  out.uploadResultsOnCancellation = body.uploadResultsOnCancellation ?? null;
  out.errors = errors;
  out.resultsCount = resultsCount;
  out.completedInstances = completed;
  out.status = {
    downloadProgress: num(status.downloadProgress),
    executionProgress: summary.progress,
    uploadProgress: num(status.uploadProgress),
    instanceCount: task.instanceCount,
    downloadTime: formatTimeSpan(num(status.downloadTimeSec)),
    downloadTimeSec: num(status.downloadTimeSec),
    environmentTime: formatTimeSpan(num(status.environmentTimeSec)),
    environmentTimeSec: num(status.environmentTimeSec),
    executionTime: formatTimeSpan(summary.execTimeSec),
    executionTimeSec: summary.execTimeSec,
    executionTimeGHz: summary.ghzSeconds,
    uploadTime: formatTimeSpan(num(status.uploadTimeSec)),
    uploadTimeSec: num(status.uploadTimeSec),
    wallTime: formatTimeSpan(summary.wallTimeSec),
    wallTimeSec: summary.wallTimeSec,
    succeededRange: formatRanges(succeeded),
    executedRange: formatRanges(succeeded.concat(failed)),
    failedRange: formatRanges(failed),
    cancelledRange: formatRanges(cancelled),
    startedOnceRange: formatRanges(startedOnce),
    executionTimeGhzByCpuModel: [],
    runningInstancesInfo: {
      timestamp: iso(task.stateTransitionTime),
      averageFrequencyGHz: running === 0 ? 0 : frequencySum / running,
      maxFrequencyGHz: maxFrequency,
      averageCpuUsage: running === 0 ? 0 : cpuUsageSum / running,
      clusterPowerIndicator: running === 0 ? 0 : clockRatioSum / running,
      perRunningInstanceInfo: perRunning,
    },
  };
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// The serialized view of GET /tasks/{uuid}, kept between requests

/** A read in progress (see {@link TaskViewCache.begin}); an entry with no JSON yet. */
interface ViewEntry {
  accountId: string;
  json: string | undefined;
}

/**
 * The JSON of recently read task views, by uuid: building the Qarnot view (task row, every instance row, ranges,
 * time spans) and serializing it costs several times the rest of a GET, and a polled task rarely changes between
 * two polls. Exact for this process: the store tells the cache about every write to a task's row or instances
 * ({@link Store.watchTasks}), before the write and again once it is committed, and a read that overlapped such a
 * write is not kept (its placeholder was dropped). Writes by another process (none today: one coordinator owns
 * its database) would show after `maxAgeMs`. An entry answers only its owner (another account reads the store
 * and gets its 404). Bounded by entries and by bytes, least recently used first.
 */
export class TaskViewCache {
  private readonly entries = new Map<string, ViewEntry & { at: number; chars: number }>();
  private chars = 0;
  /** When true, nothing is answered from or kept in the cache (to measure the uncached path: bench/http.ts). */
  bypass = false;

  /**
   * @param maxAgeMs how long a view may be served, ms (bounds what a writer in another process could leave stale)
   * @param now clock, ms
   */
  constructor(
    private readonly maxAgeMs = 60_000,
    private readonly now: () => number = Date.now,
    private readonly capacity = 10_000,
    private readonly maxChars = 16 * 2 ** 20,
    private readonly maxEntryChars = 256 * 2 ** 10,
  ) {}

  /** The JSON of the task's view for this account, if kept and fresh. */
  get(uuid: string, accountId: string): string | undefined {
    const e = this.entries.get(uuid);
    if (e === undefined || e.json === undefined || e.accountId !== accountId || this.bypass) return undefined;
    const age = this.now() - e.at;
    if (age >= this.maxAgeMs || age < 0) {
      this.drop(uuid);
      return undefined;
    }
    this.entries.delete(uuid); // least recently used first: move to the back
    this.entries.set(uuid, e);
    return e.json;
  }

  /** Starts a read of the task: pass the result to {@link put} once the view is built. */
  begin(uuid: string, accountId: string): ViewEntry {
    this.drop(uuid);
    const e = { accountId, json: undefined, at: this.now(), chars: 0 };
    this.entries.set(uuid, e);
    this.evict();
    return e;
  }

  /** Keeps the view read since `begin`, unless the task was written (or the entry evicted) meanwhile. */
  put(uuid: string, ticket: ViewEntry, json: string): void {
    const e = this.entries.get(uuid);
    if (e !== ticket || this.bypass) {
      this.cancel(uuid, ticket);
      return;
    }
    if (json.length > this.maxEntryChars) {
      this.drop(uuid);
      return;
    }
    e.json = json;
    e.chars = json.length;
    this.chars += json.length;
    this.evict();
  }

  /** Ends a read started by {@link begin} that found nothing to keep (the task is invisible to the account). */
  cancel(uuid: string, ticket: ViewEntry): void {
    if (this.entries.get(uuid) === ticket) this.drop(uuid);
  }

  /** Forgets the task's view (its row or instances are being written). */
  invalidate(uuid: string): void {
    this.drop(uuid);
  }

  get size(): number {
    return this.entries.size;
  }

  private drop(uuid: string): void {
    const e = this.entries.get(uuid);
    if (e === undefined) return;
    this.chars -= e.chars;
    this.entries.delete(uuid);
  }

  private evict(): void {
    while (this.entries.size > this.capacity || this.chars > this.maxChars) this.drop(this.entries.keys().next().value!);
  }
}

const viewCaches = new WeakMap<Store, TaskViewCache>();

/** The view cache of a store (one per store, invalidated by its writes). */
export function viewCacheOf(store: Store): TaskViewCache {
  let c = viewCaches.get(store);
  if (c === undefined) {
    const cache = new TaskViewCache();
    store.watchTasks((uuid) => cache.invalidate(uuid));
    viewCaches.set(store, (c = cache));
  }
  return c;
}
