// Tasks and jobs of the compute API: create/submit, read, list, abort, delete, retry, update; wait for the end
// (live events when the server has them, polling with backoff otherwise), stdout/stderr whole, fresh and streamed,
// results download and carbon facts.
import type { CarbonFactsOutput } from '../protocol/carbon.ts';
import type { JobCreate, JobOutput } from '../protocol/jobs.ts';
import { FINAL_STATES, type TaskStateName } from '../protocol/task-state.ts';
import type { BulkEntry, Paginate, TaskCreate, TaskOutput, TaskPage, TaskSummary, TaskUpdate } from '../protocol/tasks.ts';
import type { Buckets, SyncReport, TransferProgress } from './buckets.ts';
import { HearthApiError, HearthTimeoutError } from './errors.ts';
import { SharedEvents } from './events.ts';
import { sleep, type Transport } from './http.ts';
import { EVENT_TYPES, type TaskBill } from '../protocol/platform.ts';

/** Which output stream. */
export type OutputStream = 'stdout' | 'stderr';

/** Options of {@link Tasks.wait}. */
export interface WaitOptions {
  /** Called with the task each time its state or progress changes (and once at the start). */
  onProgress?: (task: TaskOutput) => void;
  /** Stops waiting (rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Rejects with {@link HearthTimeoutError} after this many ms (default: no limit). */
  timeoutMs?: number;
  /** Use the live event stream to learn of changes (default true); polling goes on beside it, slower. */
  useEvents?: boolean;
  /** First polling interval, ms (default 250); grows ×1.5 up to `maxPollMs`. */
  pollMs?: number;
  /** Longest polling interval, ms (default 5,000 without events, 10,000 with). */
  maxPollMs?: number;
}

/**
 * Wakes a polling loop early on the live events it cares about, from the client's shared event stream (subscribed
 * until `signal` aborts): `nap(ms)` resolves after ms (false) or at the next matching event (true), whichever is
 * first (an event that came while the loop was busy ends the next nap at once; so does the stream's (re)opening,
 * after which the loop reads again what it may have missed). `live()`: the stream is open. Without a stream (an
 * older server, a refusal) the loop just polls.
 */
function eventWaker(events: SharedEvents, signal: AbortSignal, matches: (e: { type: string; payload: unknown }) => boolean): { live: () => boolean; nap: (ms: number) => Promise<boolean> } {
  let wake: (() => void) | undefined;
  let poked = false;
  const poke = (): void => {
    poked = true;
    wake?.();
  };
  const sub = events.subscribe((e) => matches(e) && poke(), poke, signal);
  const nap = (ms: number): Promise<boolean> => {
    if (poked) {
      poked = false;
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve, reject) => {
      const t = setTimeout(() => done(false), ms);
      function done(woken: boolean): void {
        clearTimeout(t);
        poked = false;
        wake = undefined;
        signal.removeEventListener('abort', onAbort);
        resolve(woken);
      }
      function onAbort(): void {
        clearTimeout(t);
        wake = undefined;
        reject(signal.reason as Error);
      }
      wake = () => done(true);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  };
  return { live: sub.live, nap };
}

/** Options of {@link Tasks.streamOutput}. */
export interface StreamOutputOptions {
  /** Stops the stream (the iterator rejects with the signal's reason). */
  signal?: AbortSignal;
  /** One instance's raw output instead of every instance's, prefixed. */
  instanceId?: number;
  /** Read when the live event stream announces output (default true); polling goes on beside it, slower. */
  useEvents?: boolean;
  /** First polling interval, ms (default 250). */
  pollMs?: number;
  /** Longest polling interval, ms (default 2,000 without events, 10,000 with). */
  maxPollMs?: number;
}

/** True when a task state is final (Success, Failure, Cancelled). */
export function isFinal(state: string): boolean {
  return (FINAL_STATES as readonly string[]).includes(state);
}

const seg = (s: string): string => encodeURIComponent(s);

/** A submitted task: its uuid and shortcuts to the client's task operations. */
export class TaskHandle {
  constructor(
    readonly uuid: string,
    private readonly tasks: Tasks,
  ) {}
  /** The task now. */
  get(): Promise<TaskOutput> {
    return this.tasks.get(this.uuid);
  }
  /** Waits until the task ends; see {@link Tasks.wait}. */
  wait(opts?: WaitOptions): Promise<TaskOutput> {
    return this.tasks.wait(this.uuid, opts);
  }
  /** All stdout so far. */
  stdout(): Promise<string> {
    return this.tasks.stdout(this.uuid);
  }
  /** All stderr so far. */
  stderr(): Promise<string> {
    return this.tasks.stderr(this.uuid);
  }
  /** Fresh stdout chunks until the task ends. */
  streamStdout(opts?: StreamOutputOptions): AsyncGenerator<string> {
    return this.tasks.streamStdout(this.uuid, opts);
  }
  /** Aborts the task. */
  abort(): Promise<void> {
    return this.tasks.abort(this.uuid);
  }
  /** What the task was billed so far; see {@link Tasks.bill}. */
  bill(): Promise<TaskBill> {
    return this.tasks.bill(this.uuid);
  }
  /** Downloads the result bucket into `dir`. */
  downloadResults(dir: string, opts?: { onFile?: (path: string, bytes: number) => void }): Promise<SyncReport> {
    return this.tasks.downloadResults(this.uuid, dir, opts);
  }
}

/** Task operations of a client. */
export class Tasks {
  /** One live event stream for every wait and output stream of this client at once. */
  readonly liveEvents: SharedEvents;

  constructor(
    private readonly http: Transport,
    private readonly storage: () => Promise<Buckets>,
  ) {
    this.liveEvents = new SharedEvents(http);
  }

  /** Creates and submits a task; returns its uuid. Never retried (a retry could create it twice). */
  async create(body: TaskCreate): Promise<string> {
    const r = await this.http.json<{ uuid: string }>({ method: 'POST', path: '/tasks', json: body });
    return r.uuid;
  }

  /** Creates several tasks in one request; one entry per task (`statusCode` 201 with `uuid`, or the error). */
  createMany(bodies: TaskCreate[]): Promise<BulkEntry[]> {
    return this.http.json<BulkEntry[]>({ method: 'POST', path: '/tasks', json: bodies });
  }

  /** Creates a task and returns a handle on it. */
  async submit(body: TaskCreate): Promise<TaskHandle> {
    return new TaskHandle(await this.create(body), this);
  }

  /** A handle on an existing task. */
  handle(uuid: string): TaskHandle {
    return new TaskHandle(uuid, this);
  }

  /** The task (404 `NOT_FOUND` when absent or another account's). */
  get(uuid: string, opts: { signal?: AbortSignal } = {}): Promise<TaskOutput> {
    return this.http.json<TaskOutput>({ method: 'GET', path: `/tasks/${seg(uuid)}`, signal: opts.signal });
  }

  /** Every task of the account, full (optionally only those carrying every tag). */
  list(opts: { tags?: string[] } = {}): Promise<TaskOutput[]> {
    return this.http.json<TaskOutput[]>({ method: 'GET', path: '/tasks', query: { tag: opts.tags?.join(',') } });
  }

  /** Every task of the account, summaries only. */
  summaries(opts: { tags?: string[] } = {}): Promise<TaskSummary[]> {
    return this.http.json<TaskSummary[]>({ method: 'GET', path: '/tasks/summaries', query: { tag: opts.tags?.join(',') } });
  }

  /** One page of tasks (`POST /tasks/paginate`, a read: safe but not retried, being a POST). */
  page(query: Paginate = {}): Promise<TaskPage> {
    return this.http.json<TaskPage>({ method: 'POST', path: '/tasks/paginate', json: query });
  }

  /** Aborts a live task (its running instances are killed). */
  abort(uuid: string): Promise<void> {
    return this.http.empty({ method: 'POST', path: `/tasks/${seg(uuid)}/abort` });
  }

  /** Deletes a task (aborting it first if needed). */
  delete(uuid: string): Promise<void> {
    return this.http.empty({ method: 'DELETE', path: `/tasks/${seg(uuid)}` });
  }

  /** Runs the failed instances again (`retry`), failed and cancelled (`recover`) or cancelled (`resume`). */
  retry(uuid: string, kind: 'retry' | 'recover' | 'resume' = 'retry'): Promise<void> {
    return this.http.empty({ method: 'POST', path: `/tasks/${seg(uuid)}/${kind}` });
  }

  /** Replaces the constants and/or tags of a live task; returns the task. */
  update(uuid: string, change: TaskUpdate): Promise<TaskOutput> {
    return this.http.json<TaskOutput>({ method: 'PUT', path: `/tasks/${seg(uuid)}`, json: change });
  }

  /** All of a stream's output so far (lines prefixed `<instanceId>> `), or one instance's raw output. */
  output(uuid: string, stream: OutputStream, opts: { instanceId?: number; signal?: AbortSignal } = {}): Promise<string> {
    const path = `/tasks/${seg(uuid)}/${stream}${opts.instanceId === undefined ? '' : `/${opts.instanceId}`}`;
    return this.http.text({ method: 'GET', path, signal: opts.signal });
  }

  /** Only what is new since this token's previous fresh read (`POST …/stdout`). */
  fresh(uuid: string, stream: OutputStream, opts: { instanceId?: number; signal?: AbortSignal } = {}): Promise<string> {
    const path = `/tasks/${seg(uuid)}/${stream}${opts.instanceId === undefined ? '' : `/${opts.instanceId}`}`;
    return this.http.text({ method: 'POST', path, signal: opts.signal });
  }

  /** All stdout so far. */
  stdout(uuid: string, opts: { instanceId?: number; fresh?: boolean } = {}): Promise<string> {
    return opts.fresh ? this.fresh(uuid, 'stdout', opts) : this.output(uuid, 'stdout', opts);
  }

  /** All stderr so far. */
  stderr(uuid: string, opts: { instanceId?: number; fresh?: boolean } = {}): Promise<string> {
    return opts.fresh ? this.fresh(uuid, 'stderr', opts) : this.output(uuid, 'stderr', opts);
  }

  /**
   * Fresh output chunks as they come, until the task has ended and everything is read. Reads the fresh-output route
   * when the live event stream announces new output of the task (instance.output) or its end (task.state), and polls
   * it with backoff beside that (from `pollMs`, default 250 ms, ×1.5 up to `maxPollMs`, default 2 s without events
   * and 10 s with; back to the start when something arrives). `useEvents: false`: polling alone.
   */
  async *streamOutput(uuid: string, stream: OutputStream = 'stdout', opts: StreamOutputOptions = {}): AsyncGenerator<string> {
    const inner = new AbortController();
    const outer = opts.signal;
    if (outer?.aborted) throw outer.reason;
    const onOuter = (): void => inner.abort(outer!.reason);
    outer?.addEventListener('abort', onOuter, { once: true });
    const signal = inner.signal;
    const waker =
      opts.useEvents !== false
        ? eventWaker(this.liveEvents, signal, (e) => {
            const p = e.payload as { uuid?: string; taskUuid?: string; stream?: string; instanceId?: number } | null;
            if (p === null) return false;
            if (e.type === EVENT_TYPES.instanceOutput) return p.taskUuid === uuid && p.stream === stream && (opts.instanceId === undefined || p.instanceId === opts.instanceId);
            return e.type === EVENT_TYPES.taskState && p.uuid === uuid;
          })
        : null;
    const read = { instanceId: opts.instanceId, signal };
    const first = opts.pollMs ?? 250;
    try {
      let delay = first;
      for (;;) {
        const task = await this.get(uuid, { signal });
        const chunk = await this.fresh(uuid, stream, read);
        if (chunk !== '') {
          delay = first;
          yield chunk;
        }
        if (isFinal(task.state)) {
          const last = await this.fresh(uuid, stream, read);
          if (last !== '') yield last;
          return;
        }
        if (chunk === '') delay = Math.min(opts.maxPollMs ?? (waker?.live() === true ? 10_000 : 2000), delay * 1.5);
        if (waker) await waker.nap(delay);
        else await sleep(delay, signal);
      }
    } finally {
      outer?.removeEventListener('abort', onOuter);
      if (!signal.aborted) inner.abort(new Error('stream ended'));
    }
  }

  /** Fresh stdout chunks until the task ends; see {@link Tasks.streamOutput}. */
  streamStdout(uuid: string, opts: StreamOutputOptions = {}): AsyncGenerator<string> {
    return this.streamOutput(uuid, 'stdout', opts);
  }

  /**
   * Waits until the task is in a final state (Success, Failure, Cancelled) and returns it. Learns of changes from
   * the live event stream when the server has one (its task and instance events wake the wait), and polls with
   * backoff beside it (the only source when events are off or unavailable). `onProgress` sees every change of
   * state or progress.
   */
  async wait(uuid: string, opts: WaitOptions = {}): Promise<TaskOutput> {
    const inner = new AbortController();
    const outer = opts.signal;
    const onOuter = (): void => inner.abort(outer!.reason);
    if (outer?.aborted) throw outer.reason;
    outer?.addEventListener('abort', onOuter, { once: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (opts.timeoutMs !== undefined) {
      timer = setTimeout(() => inner.abort(new HearthTimeoutError(`task ${uuid} did not end within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    }
    const signal = inner.signal;
    // State changes wake the wait; output chunks (instance.output, one per instance per period) say nothing of it.
    const waker =
      opts.useEvents !== false
        ? eventWaker(this.liveEvents, signal, (e) => {
            if (e.type === EVENT_TYPES.instanceOutput) return false;
            const p = e.payload as { uuid?: string; taskUuid?: string } | null;
            return p !== null && (p.uuid === uuid || p.taskUuid === uuid);
          })
        : null;
    try {
      let last = '';
      let delay = opts.pollMs ?? 250;
      for (;;) {
        const task = await this.get(uuid, { signal });
        const key = JSON.stringify([task.state, task.progress, task.status.executionProgress, task.runningInstanceCount, task.completedInstances.length, task.status.runningInstancesInfo.perRunningInstanceInfo.map((p) => p.progress)]);
        if (key !== last) {
          last = key;
          delay = opts.pollMs ?? 250;
          opts.onProgress?.(task);
        }
        if (isFinal(task.state)) return task;
        const max = opts.maxPollMs ?? (waker?.live() === true ? 10_000 : 5_000);
        // Woken by an event: read again at once, the interval as it was; else the interval grows.
        const woken = waker ? await waker.nap(delay) : (await sleep(delay, signal), false);
        if (!woken) delay = Math.min(max, delay * 1.5);
      }
    } finally {
      if (timer) clearTimeout(timer);
      outer?.removeEventListener('abort', onOuter);
      if (!signal.aborted) inner.abort(new Error('wait ended'));
    }
  }

  /**
   * Downloads the task's result bucket into `dir` (files already there with the same content are skipped).
   * Throws `VALIDATION` on `resultBucket` when the task has none.
   */
  async downloadResults(uuid: string, dir: string, opts: { onFile?: (path: string, bytes: number) => void; onProgress?: TransferProgress } = {}): Promise<SyncReport> {
    const task = await this.get(uuid);
    if (!task.resultBucket) throw new HearthApiError(400, 'VALIDATION', `task ${uuid} has no result bucket`, 'resultBucket');
    return (await this.storage()).syncFrom(task.resultBucket, dir, { onFile: opts.onFile });
  }

  /** The task's carbon facts (energy, heat reused, footprint vs a reference datacenter). */
  carbonFacts(uuid: string, opts: { comparisonDatacenter?: string } = {}): Promise<CarbonFactsOutput> {
    return this.http.json<CarbonFactsOutput>({ method: 'GET', path: `/carbon/v1/tasks/${seg(uuid)}/carbon-facts`, query: { comparisonDatacenter: opts.comparisonDatacenter } });
  }

  /** (ext) What the task was billed so far (core-hours, €, per scheduling type); still answered after it is deleted. */
  bill(uuid: string): Promise<TaskBill> {
    return this.http.json<TaskBill>({ method: 'GET', path: `/hearth/v1/tasks/${seg(uuid)}/bill` });
  }
}

/** Job operations of a client. */
export class Jobs {
  constructor(private readonly http: Transport) {}

  /** Creates a job; returns its uuid. Never retried. */
  async create(body: JobCreate): Promise<string> {
    return (await this.http.json<{ uuid: string }>({ method: 'POST', path: '/jobs', json: body })).uuid;
  }
  /** Every job of the account. */
  list(): Promise<JobOutput[]> {
    return this.http.json<JobOutput[]>({ method: 'GET', path: '/jobs' });
  }
  /** One job. */
  get(uuid: string): Promise<JobOutput> {
    return this.http.json<JobOutput>({ method: 'GET', path: `/jobs/${seg(uuid)}` });
  }
  /** The tasks of a job. */
  tasks(uuid: string): Promise<TaskOutput[]> {
    return this.http.json<TaskOutput[]>({ method: 'GET', path: `/jobs/${seg(uuid)}/tasks` });
  }
  /** Terminates a job (its live tasks are aborted). */
  terminate(uuid: string): Promise<void> {
    return this.http.empty({ method: 'POST', path: `/jobs/${seg(uuid)}/terminate` });
  }
  /** Deletes a job; `force` also aborts its live tasks. */
  delete(uuid: string, opts: { force?: boolean } = {}): Promise<void> {
    return this.http.empty({ method: 'DELETE', path: `/jobs/${seg(uuid)}`, query: { force: opts.force ? 'true' : undefined } });
  }
}

export type { TaskStateName };
