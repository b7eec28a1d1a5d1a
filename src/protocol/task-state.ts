// The task state machine of the compute API (which transitions are allowed), the state a task's instances
// imply, and whether a task's dependencies let it start. Pure functions, no I/O.

/** Every task state, in the order a task normally goes through them. */
export const TASK_STATES = [
  'Submitted',
  'PartiallyDispatched',
  'FullyDispatched',
  'PartiallyExecuting',
  'FullyExecuting',
  'UploadingResults',
  'Success',
  'Failure',
  'Cancelled',
  'PendingCancel',
  'PendingDelete',
] as const;
export type TaskStateName = (typeof TASK_STATES)[number];

/** States in which the task's work is still to do or being done. */
export const ACTIVE_STATES: readonly TaskStateName[] = [
  'Submitted',
  'PartiallyDispatched',
  'FullyDispatched',
  'PartiallyExecuting',
  'FullyExecuting',
  'UploadingResults',
];
/** States a task ends in (until retried, recovered, resumed or deleted). */
export const FINAL_STATES: readonly TaskStateName[] = ['Success', 'Failure', 'Cancelled'];

/** True for Success, Failure and Cancelled. */
export function isFinalState(s: TaskStateName): boolean {
  return FINAL_STATES.includes(s);
}
/** True while the task's work is queued or running (not final, not pending cancel or delete). */
export function isActiveState(s: TaskStateName): boolean {
  return ACTIVE_STATES.includes(s);
}

/**
 * Whether a task may move from `from` to `to`:
 * - among the active states any move is allowed (a retried instance sends a task back to dispatching);
 * - an active task may end in Failure or Cancelled, or go to PendingCancel; Success needs the work dispatched
 *   (not from Submitted);
 * - PendingCancel ends in Cancelled;
 * - a final task goes back to Submitted (retry, recover, resume);
 * - any state but PendingDelete may go to PendingDelete, which is the end.
 * Staying in the same state is not a transition.
 */
export function canTransition(from: TaskStateName, to: TaskStateName): boolean {
  if (from === to || from === 'PendingDelete') return false;
  if (to === 'PendingDelete') return true;
  if (isActiveState(from)) {
    if (isActiveState(to) || to === 'Failure' || to === 'Cancelled' || to === 'PendingCancel') return true;
    return to === 'Success' && from !== 'Submitted';
  }
  if (from === 'PendingCancel') return to === 'Cancelled';
  // final
  return to === 'Submitted';
}

/** The states a task may be moved to `to` from (what `transitionTask(…, {from})` takes). */
export function statesAllowedBefore(to: TaskStateName): TaskStateName[] {
  return TASK_STATES.filter((s) => canTransition(s, to));
}

/** Instance counts by kind, the input of {@link stateFromInstances}. */
export interface InstanceCounts {
  /** Waiting to be placed. */
  queued: number;
  /** Placed on a board, not yet running. */
  dispatched: number;
  /** Running, paused or moved to overflow: started and not done. */
  executing: number;
  /** Work done, results being uploaded. */
  uploading: number;
  success: number;
  failure: number;
  cancelled: number;
}

/**
 * The state a task's instances imply: all done → Success, or Failure when one failed (after its retries), or
 * Cancelled when one was cancelled and none failed; otherwise the furthest stage that every unfinished
 * instance has reached (Fully…) or that some have (Partially…); nothing started yet → Submitted.
 */
export function stateFromInstances(c: InstanceCounts): TaskStateName {
  const total = c.queued + c.dispatched + c.executing + c.uploading + c.success + c.failure + c.cancelled;
  const done = c.success + c.failure + c.cancelled;
  if (total === 0) return 'Success';
  if (done === total) return c.failure > 0 ? 'Failure' : c.cancelled > 0 ? 'Cancelled' : 'Success';
  const open = total - done;
  if (c.uploading === open) return 'UploadingResults';
  if (c.executing + c.uploading === open) return 'FullyExecuting';
  if (c.executing + c.uploading > 0) return 'PartiallyExecuting';
  if (c.dispatched === open) return 'FullyDispatched';
  if (c.dispatched > 0 || done > 0) return 'PartiallyDispatched';
  return 'Submitted';
}

/**
 * Whether a task whose `dependencies.dependsOn` are in these states may start: `ready` when every one
 * succeeded, `never` when one ended otherwise or no longer exists (undefined), else `waiting`.
 */
export function dependencyGate(states: ReadonlyArray<TaskStateName | undefined>): 'ready' | 'waiting' | 'never' {
  let ready = true;
  for (const s of states) {
    if (s === undefined || s === 'Failure' || s === 'Cancelled' || s === 'PendingDelete') return 'never';
    if (s !== 'Success') ready = false;
  }
  return ready ? 'ready' : 'waiting';
}
