// How a stored task looks on the wire: the full task (creation fields, state, instances, status with ranges and
// .NET time spans) and the lighter summary; secret constants masked.
import { formatRanges } from '../../protocol/ranges.ts';
import { formatTimeSpan } from '../../protocol/timespan.ts';
import { SECRET_CONSTANT_PREFIX, SECRET_MASK, type TaskCreate, type TaskOutput, type TaskSummary } from '../../protocol/tasks.ts';
import type { InstanceRecord, InstanceSummary, TaskRecord, TaskState } from '../store/types.ts';
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

/** The full task of `GET /tasks/{uuid}`, from its record and every one of its instances. */
export function taskOutput(task: TaskRecord, instances: InstanceRecord[]): TaskOutput {
  const body = bodyOf(task);
  const byState = (s: InstanceRecord['state']) => instances.filter((i) => i.state === s).map((i) => i.instanceId);
  const summary: InstanceSummary = {
    instanceCount: instances.length,
    byState: {},
    energyWh: 0,
    ghzSeconds: 0,
    execTimeSec: 0,
    wallTimeSec: 0,
    progress: 0,
  };
  for (const i of instances) {
    summary.byState[i.state] = (summary.byState[i.state] ?? 0) + 1;
    summary.ghzSeconds += i.ghzSeconds;
    summary.execTimeSec += i.execTimeSec;
    summary.wallTimeSec += i.wallTimeSec;
    summary.progress += i.progress;
  }
  if (instances.length > 0) summary.progress /= instances.length;
  const status = record(task.status);
  const results = (i: InstanceRecord): string[] => (Array.isArray(i.results) ? i.results.filter((r): r is string => typeof r === 'string') : []);
  const completed = instances.filter((i) => i.state === 'success' || i.state === 'failure');
  const running = instances.filter((i) => i.state === 'running' || i.state === 'paused');
  const perRunning = running.map((i) => {
    const info = record(i.info);
    return {
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
  });
  const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
  const errors = Array.isArray(status.errors)
    ? status.errors.map((e) => ({ code: str(record(e).code) ?? 'error', message: str(record(e).message) ?? '' }))
    : [];
  return {
    ...taskSummary(task, summary),
    constants: maskConstants(body.constants),
    constraints: (body.constraints ?? []).map((c) => ({ key: c.key, value: c.value ?? '' })),
    hardwareConstraints: body.hardwareConstraints ?? [],
    resourceBuckets: body.resourceBuckets ?? [],
    resultBucket: body.resultBucket ?? null,
    resultsWhitelist: body.resultsWhitelist ?? null,
    resultsBlacklist: body.resultsBlacklist ?? null,
    dependencies: { dependsOn: task.dependsOn },
    retrySettings: task.retrySettings,
    maxTimeQueueSeconds: body.maxTimeQueueSeconds ?? null,
    autoDeleteOnCompletion: body.autoDeleteOnCompletion ?? false,
    completionTimeToLive: body.completionTimeToLive ?? '00:00:00',
    uploadResultsOnCancellation: body.uploadResultsOnCancellation ?? null,
    errors,
    resultsCount: instances.reduce((n, i) => n + results(i).length, 0),
    completedInstances: completed.map((i) => {
      const info = record(i.info);
      return {
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
        results: results(i),
      };
    }),
    status: {
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
      succeededRange: formatRanges(byState('success')),
      executedRange: formatRanges([...byState('success'), ...byState('failure')]),
      failedRange: formatRanges(byState('failure')),
      cancelledRange: formatRanges(byState('cancelled')),
      startedOnceRange: formatRanges(instances.filter((i) => i.attempt > 0 || i.startedAt !== null).map((i) => i.instanceId)),
      executionTimeGhzByCpuModel: [],
      runningInstancesInfo: {
        timestamp: iso(task.stateTransitionTime),
        averageFrequencyGHz: mean(perRunning.map((p) => p.currentFrequencyGHz)),
        maxFrequencyGHz: Math.max(0, ...perRunning.map((p) => p.maxFrequencyGHz)),
        averageCpuUsage: mean(perRunning.map((p) => p.cpuUsage)),
        clusterPowerIndicator: mean(perRunning.map((p) => p.clockRatio)),
        perRunningInstanceInfo: perRunning,
      },
    },
  };
}
