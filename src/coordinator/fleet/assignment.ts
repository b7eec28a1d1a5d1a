// What an instance needs to run, read from its task: resources (cores, memory, GPU) for the scheduler's table,
// and the assignment a device receives (command, environment, buckets, result filters, progress regexes).
import type { Assignment } from '../../protocol/device.ts';
import type { TaskCreate } from '../../protocol/tasks.ts';
import type { TaskRecord } from '../store/types.ts';

/** Work assumed for an instance whose task gives no `estimatedInstanceDurationSec`, s (a documented guess). */
export const DEFAULT_ESTIMATED_DURATION_S = 600;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;

/** Resources one instance of the task needs on a board. */
export interface InstanceNeeds {
  cores: number;
  memoryMB: number;
  gpu: boolean;
}

/** The task's creation body (what the API stored verbatim). */
export function taskBody(task: TaskRecord): TaskCreate {
  return (task.body ?? {}) as TaskCreate;
}

/** Cores, memory and GPU an instance asks for, from the task's hardware constraints (defaults: 1 core, no minimum). */
export function instanceNeeds(task: TaskRecord): InstanceNeeds {
  const needs: InstanceNeeds = { cores: 1, memoryMB: 0, gpu: false };
  for (const c of (taskBody(task).hardwareConstraints ?? [])) {
    if (c.discriminator === 'MinimumCoreHardwareConstraint') needs.cores = Math.max(needs.cores, c.coreCount);
    else if (c.discriminator === 'MinimumRamHardwareConstraint') needs.memoryMB = Math.max(needs.memoryMB, c.minimumMemoryMB);
    else if (c.discriminator === 'GpuHardwareConstraint') needs.gpu = true;
  }
  return needs;
}

/** The task's constants as a map (later keys win; null values become empty strings). */
export function constantsOf(task: TaskRecord): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of taskBody(task).constants ?? []) out[c.key] = c.value ?? '';
  return out;
}

/**
 * The assignment of one attempt. Environment as COMPUTE-API.md specifies: every task constant, then INSTANCE_ID
 * and FRAME_ID (the instance id), QRANK (its rank among the task's instances, from 0), QSIZE (how many) — the
 * device adds TASK_PATH (its working directory).
 */
export function buildAssignment(task: TaskRecord, instanceId: number, rank: number, attempt: number, boardIndex: number, needs: InstanceNeeds): Assignment {
  const body = taskBody(task);
  const constants = constantsOf(task);
  // Constants become environment variables where their key can be one (letters, digits, underscore).
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(constants)) if (ENV_NAME.test(k)) env[k] = v;
  env.INSTANCE_ID = String(instanceId);
  env.FRAME_ID = String(instanceId);
  env.QRANK = String(rank);
  env.QSIZE = String(task.instanceCount);
  const progressRegexes = ['DOCKER_PROGRESS1', 'DOCKER_PROGRESS2', 'DOCKER_PROGRESS3'].map((k) => constants[k] ?? '').filter((r) => r !== '');
  return {
    taskUuid: task.uuid,
    instanceId,
    attempt,
    accountId: task.accountId,
    boardIndex,
    command: constants.DOCKER_CMD ?? '',
    env,
    resourceBuckets: (body.resourceBuckets ?? []).filter((b): b is string => typeof b === 'string'),
    resultBucket: typeof body.resultBucket === 'string' && body.resultBucket !== '' ? body.resultBucket : null,
    resultsWhitelist: typeof body.resultsWhitelist === 'string' && body.resultsWhitelist !== '' ? body.resultsWhitelist : null,
    resultsBlacklist: typeof body.resultsBlacklist === 'string' && body.resultsBlacklist !== '' ? body.resultsBlacklist : null,
    progressRegexes,
    cores: needs.cores,
    memoryMB: needs.memoryMB,
    checkpointable: task.checkpoint === 'snapshot',
    wallTimeLimitS: null,
  };
}
