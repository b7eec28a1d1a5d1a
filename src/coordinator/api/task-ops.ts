// What the task routes do to the store: check a creation body beyond its schema and turn it into a NewTask,
// abort, retry/recover/resume, update constants and tags. Each throws HttpError for a client mistake.
import { parseRanges, RangeSyntaxError } from '../../protocol/ranges.ts';
import { isFinalState, statesAllowedBefore } from '../../protocol/task-state.ts';
import { SECRET_CONSTANT_PREFIX, SECRET_MASK, TASK_LIMITS, type Constant, type TaskCreate } from '../../protocol/tasks.ts';
import { StoreConflictError, SYSTEM, type Account, type InstanceState, type NewTask, type Store, type TaskRecord } from '../store/types.ts';
import { publishTaskChange } from '../events.ts';
import type { ApiContext } from './context.ts';
import { HttpError, invalid, notFound } from './http-error.ts';
import { PROFILES } from './profiles.ts';
import { bodyOf } from './task-view.ts';

/** Instance states whose work is not done yet (what an abort cancels). */
export const UNFINISHED_INSTANCE_STATES: InstanceState[] = ['queued', 'dispatched', 'running', 'paused', 'overflow'];

/**
 * Checks what the schema cannot (profile known, instanceCount xor advancedRanges, ranges, deadline, job and
 * dependencies visible to the account, constant keys distinct) and builds the store's NewTask.
 * @throws HttpError naming the field
 */
export async function prepareTask(store: Store, account: Account, body: TaskCreate): Promise<NewTask> {
  const task = buildTask(account, body);
  if (needsLookups(body)) await checkReferences(store, account, body, task.dependsOn ?? []);
  return task;
}

/** Whether a creation body names a job or dependencies (checked against the store by {@link prepareTask}). */
export function needsLookups(body: TaskCreate): boolean {
  return Boolean(body.jobUuid) || (body.dependencies?.dependsOn?.length ?? 0) > 0;
}

/**
 * Everything {@link prepareTask} does without the store: enough on its own for a body with no job and no
 * dependencies (see {@link needsLookups}; the bulk POST runs it synchronously for each such entry).
 * @throws HttpError naming the field
 */
export function buildTask(account: Account, body: TaskCreate): NewTask {
  const profile = body.profile;
  if (profile === undefined || profile === null) throw invalid('profile', 'profile is required (pools are not supported)');
  if (!Object.hasOwn(PROFILES, profile)) throw invalid('profile', `unknown profile ${JSON.stringify(profile)}; see GET /profiles`);
  const hasCount = body.instanceCount !== undefined && body.instanceCount !== null;
  const hasRanges = body.advancedRanges !== undefined && body.advancedRanges !== null;
  if (hasCount === hasRanges) throw invalid('instanceCount', 'give exactly one of instanceCount and advancedRanges');
  let instanceIds: number[];
  if (hasRanges) {
    try {
      instanceIds = parseRanges(body.advancedRanges as string, TASK_LIMITS.instances);
    } catch (e) {
      if (e instanceof RangeSyntaxError) throw invalid('advancedRanges', e.message);
      throw e;
    }
  } else {
    instanceIds = Array.from({ length: body.instanceCount as number }, (_, i) => i);
  }
  const keys = new Set<string>();
  for (const [i, c] of (body.constants ?? []).entries()) {
    if (keys.has(c.key)) throw invalid(`constants[${i}].key`, `constant ${JSON.stringify(c.key)} given twice`);
    keys.add(c.key);
  }
  let deadline: number | null = null;
  if (body.deadline !== undefined && body.deadline !== null) {
    deadline = Date.parse(body.deadline);
    if (!Number.isFinite(deadline)) throw invalid('deadline', 'deadline is not a valid date-time');
  }
  const dependsOn = [...new Set(body.dependencies?.dependsOn ?? [])];
  return {
    accountId: account.id,
    shortname: body.shortname ?? undefined,
    name: body.name,
    profile,
    body,
    instanceIds,
    advancedRanges: hasRanges ? body.advancedRanges : null,
    state: 'Submitted',
    schedulingType: body.schedulingType ?? 'flex',
    deadline,
    estimatedInstanceDurationSec: body.estimatedInstanceDurationSec ?? null,
    checkpoint: body.checkpoint ?? 'none',
    tags: body.tags ?? [],
    labels: body.labels ?? {},
    jobUuid: body.jobUuid ?? null,
    dependsOn,
    retrySettings: body.retrySettings ?? { maxTotalRetries: 0, maxPerInstanceRetries: 0 },
    status: { errors: [] },
  };
}

/** The job and the tasks a creation body names exist for the account (and the job takes new tasks). */
async function checkReferences(store: Store, account: Account, body: TaskCreate, dependsOn: string[]): Promise<void> {
  if (body.jobUuid) {
    const job = await store.getJob(account.id, body.jobUuid);
    if (!job) throw new HttpError('NOT_FOUND', `job ${body.jobUuid} not found`, 'jobUuid');
    if (job.state !== 'Active') throw new HttpError('INVALID_STATE', `job ${body.jobUuid} is ${job.state}: no new tasks`, 'jobUuid');
  }
  for (const dep of dependsOn) {
    if (!(await store.getTask(account.id, dep))) throw invalid('dependencies.dependsOn', `task ${dep} not found`);
  }
}

/**
 * Refuses early a creation of `n` tasks the account cannot afford: 402 without credits (operators exempt),
 * then 403 when the task quota would be passed. Reads no table: `account` is the caller's as authenticated
 * (the store keeps `taskCount` exact). The quota is enforced again, atomically, by the store at insert time
 * (give `maxAccountTasks` and map its refusal with {@link quotaError}).
 */
export function checkCanCreate(account: Account, n: number, maxTask: number): void {
  if (account.role !== 'operator' && !(account.creditsEUR > 0)) throw new HttpError('NO_CREDITS', 'no credits left on this account');
  if (account.taskCount + n > maxTask) throw new HttpError('QUOTA_REACHED', `task quota reached (${account.taskCount} of ${maxTask})`);
}

/** The store's refusal of a creation past the task quota as the API's 403, or undefined for any other error. */
export function quotaError(e: unknown): HttpError | undefined {
  return e instanceof StoreConflictError && e.field === 'maxTask' ? new HttpError('QUOTA_REACHED', e.message) : undefined;
}

/** Aborts a task: unfinished instances cancelled, the task Cancelled. A finished task is left as it is. */
export async function abortTask(store: Store, accountId: string, uuid: string, now: number): Promise<TaskRecord> {
  return store.transaction(async (tx) => {
    const task = await tx.getTask(accountId, uuid);
    if (!task) throw notFound(`task ${uuid}`);
    if (isFinalState(task.state) || task.state === 'PendingDelete') return task;
    await tx.updateInstances(accountId, uuid, { states: UNFINISHED_INSTANCE_STATES }, { state: 'cancelled', endedAt: now });
    const moved = await tx.transitionTask(accountId, uuid, { to: 'Cancelled', from: statesAllowedBefore('Cancelled'), at: now, endDate: now });
    return moved ?? task;
  });
}

/**
 * Announces on the event stream what abortTask (`'abort'`) or relaunchTask (`'relaunch'`) just did to a task at `now`:
 * its new state and its instances' (the loop's feed announces only what the loop itself applies). Nothing when the
 * call changed nothing (an abort of a finished task) or there is no hub. The change is committed already: a failure
 * here loses only the announcement (streams also poll), so it goes to `warn`, never to the caller.
 */
export async function announceTaskChange(ctx: ApiContext, task: TaskRecord, what: 'abort' | 'relaunch', now: number, warn: (message: string) => void): Promise<void> {
  const events = ctx.events;
  if (!events) return;
  if (what === 'abort' && !(task.state === 'Cancelled' && task.endDate === now)) return;
  try {
    const states: InstanceState[] = what === 'abort' ? ['cancelled'] : ['queued'];
    const changed = (await ctx.store.listInstances(SYSTEM, { taskUuid: task.uuid, states })).filter((i) => what === 'relaunch' || i.endedAt === now);
    await publishTaskChange(ctx.store, events, task, changed, now);
  } catch (e) {
    warn(`${what} of task ${task.uuid} not announced: ${(e as Error).message}`);
  }
}

/** Which instances each relaunch takes back to the queue. */
export const RELAUNCH: Record<'retry' | 'recover' | 'resume', InstanceState[]> = {
  retry: ['failure'],
  recover: ['failure', 'cancelled'],
  resume: ['cancelled'],
};

/**
 * Relaunches the failed (retry), failed and cancelled (recover) or cancelled (resume) instances of a finished
 * task: they go back to `queued` and the task to Submitted.
 * @throws HttpError INVALID_STATE when the task is not finished or has no such instance
 */
export async function relaunchTask(store: Store, accountId: string, uuid: string, kind: keyof typeof RELAUNCH, now: number): Promise<TaskRecord> {
  return store.transaction(async (tx) => {
    const task = await tx.getTask(accountId, uuid);
    if (!task) throw notFound(`task ${uuid}`);
    if (!isFinalState(task.state)) throw new HttpError('INVALID_STATE', `task is ${task.state}: only a finished task can be relaunched (${kind})`);
    const n = await tx.updateInstances(accountId, uuid, { states: RELAUNCH[kind] }, { state: 'queued', phase: null, progress: 0, endedAt: null });
    if (n === 0) throw new HttpError('INVALID_STATE', `no ${RELAUNCH[kind].join(' or ')} instance to relaunch (${kind})`);
    const moved = await tx.transitionTask(accountId, uuid, { to: 'Submitted', from: statesAllowedBefore('Submitted'), at: now, endDate: null });
    if (!moved) throw new HttpError('INVALID_STATE', 'the task changed state meanwhile');
    return moved;
  });
}

/**
 * Constants as updated by a client: a secret constant sent back as `[SECRET]` (what the client read) keeps its
 * stored value.
 */
export function mergeConstants(stored: TaskCreate['constants'], incoming: Constant[]): Constant[] {
  const old = new Map((stored ?? []).map((c) => [c.key, c.value]));
  return incoming.map((c) => (c.key.startsWith(SECRET_CONSTANT_PREFIX) && c.value === SECRET_MASK && old.has(c.key) ? { key: c.key, value: old.get(c.key) ?? null } : c));
}

/** Updates constants and/or tags of a live task. @throws HttpError INVALID_STATE on a finished task */
export async function updateTask(
  store: Store,
  accountId: string,
  uuid: string,
  patch: { constants?: Constant[] | null; tags?: string[] | null },
): Promise<TaskRecord> {
  return store.transaction(async (tx) => {
    const task = await tx.getTask(accountId, uuid);
    if (!task) throw notFound(`task ${uuid}`);
    if (isFinalState(task.state) || task.state === 'PendingDelete' || task.state === 'PendingCancel') {
      throw new HttpError('INVALID_STATE', `task is ${task.state}: only a live task can be updated`);
    }
    const body = { ...bodyOf(task) };
    if (patch.constants) {
      const keys = new Set<string>();
      for (const [i, c] of patch.constants.entries()) {
        if (keys.has(c.key)) throw invalid(`constants[${i}].key`, `constant ${JSON.stringify(c.key)} given twice`);
        keys.add(c.key);
      }
      body.constants = mergeConstants(body.constants, patch.constants);
    }
    if (patch.tags) body.tags = patch.tags;
    const updated = await tx.updateTask(accountId, uuid, patch.tags ? { body, tags: patch.tags } : { body });
    if (!updated) throw notFound(`task ${uuid}`);
    return updated;
  });
}
