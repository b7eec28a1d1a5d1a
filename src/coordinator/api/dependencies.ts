// Whether a task may be dispatched: its dependencies (dependsOn) must all have succeeded. For the scheduler
// loop or the local executor: a task whose gate is `waiting` stays Submitted; `never` means it cannot start.
import { dependencyGate } from '../../protocol/task-state.ts';
import type { Owner, Store, TaskRecord } from '../store/types.ts';

/** The dependency gate of a task, read from the store (a deleted dependency counts as `never`). */
export async function taskDependencyGate(store: Store, owner: Owner, task: TaskRecord): Promise<'ready' | 'waiting' | 'never'> {
  if (task.dependsOn.length === 0) return 'ready';
  const states = await Promise.all(task.dependsOn.map(async (uuid) => (await store.getTask(owner, uuid))?.state));
  return dependencyGate(states);
}
