// Customer: my tasks with their state and progress, each instance's status, live stdout, results, credits and
// carbon facts; a form to submit a simple task.
import { useCallback, useEffect, useRef, useState, type JSX } from 'react';
import type { TaskOutput } from '../../protocol/tasks.ts';
import type { CarbonFactsOutput } from '../../protocol/carbon.ts';
import type { Info } from '../../protocol/account.ts';
import { EVENT_TYPES, isLiveEvent, type InstanceStatePayload, type TaskBill, type Usage } from '../../protocol/platform.ts';
import { ApiError, call, fmt, followEvents, get, type StreamEvent } from '../api.ts';
import { singleFlight } from '../single-flight.ts';

const FINAL = new Set(['Success', 'Failure', 'Cancelled']);
const FINAL_INSTANCE = new Set(['success', 'failure', 'cancelled']);

/** Subscribes to the page's event batches (one stream for the page); returns the function that stops it. */
type EventSource = (fn: (events: StreamEvent[]) => void) => () => void;

/** An instance state from the stream and the number of the event batch it came in. */
type LiveInstance = InstanceStatePayload & { batch: number };

/** One row of the instances table. */
interface InstanceRow {
  instanceId: number;
  status: string;
  progress: number;
  timeSec: number | null;
  attempts: number;
  results: string[];
}

export function Customer(): JSX.Element {
  const [tasks, setTasks] = useState<TaskOutput[] | null>(null);
  const [info, setInfo] = useState<Info | null>(null);
  const [usage, setUsage] = useState<Usage | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [error, setError] = useState('');
  const listeners = useRef(new Set<(events: StreamEvent[]) => void>());
  const subscribe = useCallback<EventSource>((fn) => {
    listeners.current.add(fn);
    return () => listeners.current.delete(fn);
  }, []);
  const refresh = useCallback(async () => {
    const [ts, inf, us] = await Promise.all([get<TaskOutput[]>('/tasks'), get<Info>('/info'), get<Usage>('/hearth/v1/accounts/me/usage')]);
    ts.sort((a, b) => b.creationDate.localeCompare(a.creationDate));
    setTasks(ts);
    setInfo(inf);
    setUsage(us);
  }, []);
  useEffect(() => {
    refresh().catch((e: unknown) => setError(String((e as Error).message)));
    // Task state changes arrive on the live stream; one refresh per animation frame whatever their number.
    // Instance events go to the open task's detail, which applies them in place.
    return followEvents((events) => {
      if (events.some((e) => e.type === EVENT_TYPES.taskState)) void refresh().catch(() => undefined);
      for (const fn of listeners.current) fn(events);
    });
  }, [refresh]);
  if (error) return <p className="error">{error}</p>;
  if (!tasks) return <p className="muted">Loading your tasks…</p>;
  return (
    <div className="customer" data-testid="customer">
      <section className="kpis">
        <div className="kpi" data-testid="credits">
          <span className="kpi-label">Credits</span>
          <span className="kpi-value">€{fmt(info?.credits, 2)}</span>
        </div>
        <div className="kpi">
          <span className="kpi-label">Tasks</span>
          <span className="kpi-value">{tasks.length}</span>
        </div>
        <div className="kpi" data-testid="billed" title="From the charges ledger: wall time × cores × clock ratio, at each task's price">
          <span className="kpi-label">Billed</span>
          <span className="kpi-value">€{fmt(usage?.billed.eur, 6)}</span>
          <span className="kpi-note">{fmt(usage?.billed.coreHours, 4)} core-h</span>
        </div>
        <div className="kpi">
          <span className="kpi-label">CPU core-hours used</span>
          <span className="kpi-value">{fmt(usage?.coreHours, 3)}</span>
        </div>
        <div className="kpi">
          <span className="kpi-label">Energy (all heat reused)</span>
          <span className="kpi-value">{fmt(usage?.energyWh, 1)} Wh</span>
        </div>
      </section>
      <SubmitForm
        onSubmitted={(uuid) => {
          setSelected(uuid);
          void refresh().catch(() => undefined);
        }}
      />
      <h2>My tasks</h2>
      <table className="tasks" data-testid="tasks">
        <thead>
          <tr>
            <th>Name</th>
            <th>State</th>
            <th>Progress</th>
            <th>Instances</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {tasks.map((t) => (
            <tr key={t.uuid} className={t.uuid === selected ? 'selected' : undefined} onClick={() => setSelected(t.uuid)} data-testid="task-row" data-uuid={t.uuid}>
              <td>
                <button type="button" className="link">
                  {t.name}
                </button>
              </td>
              <td data-testid="task-state">
                <span className={`state state-${t.state}`}>{t.state}</span>
              </td>
              <td>
                <progress max={100} value={t.progress} /> {fmt(t.progress, 0)} %
              </td>
              <td>{t.instanceCount}</td>
              <td>{new Date(t.creationDate).toLocaleString()}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {selected && <TaskDetail key={selected} uuid={selected} subscribe={subscribe} />}
    </div>
  );
}

function SubmitForm(props: { onSubmitted: (uuid: string) => void }): JSX.Element {
  const [name, setName] = useState('hello');
  const [instances, setInstances] = useState(2);
  const [command, setCommand] = useState('echo "hello from ${INSTANCE_ID} of ${QSIZE}"');
  const [message, setMessage] = useState('');
  const [busy, setBusy] = useState(false);
  return (
    <form
      className="submit"
      data-testid="submit-form"
      onSubmit={(e) => {
        e.preventDefault();
        setBusy(true);
        setMessage('');
        call<{ uuid: string }>('POST', '/tasks', { name, profile: 'docker-batch', instanceCount: instances, constants: [{ key: 'DOCKER_CMD', value: command }] })
          .then((r) => {
            setMessage(`Submitted ${r.uuid}`);
            props.onSubmitted(r.uuid);
          })
          .catch((err: unknown) => setMessage(err instanceof ApiError ? `${err.message}${err.field ? ` (${err.field})` : ''}` : String(err)))
          .finally(() => setBusy(false));
      }}
    >
      <h2>Submit a task</h2>
      <label>
        Name <input value={name} onChange={(e) => setName(e.target.value)} required data-testid="task-name" />
      </label>
      <label>
        Instances <input type="number" min={1} max={1000} value={instances} onChange={(e) => setInstances(Number(e.target.value))} data-testid="task-instances" />
      </label>
      <label className="wide">
        Command <input value={command} onChange={(e) => setCommand(e.target.value)} required data-testid="task-command" />
      </label>
      <button type="submit" disabled={busy} data-testid="task-submit">
        Submit
      </button>
      {message && <p className="note" data-testid="submit-message">{message}</p>}
    </form>
  );
}

function TaskDetail(props: { uuid: string; subscribe: EventSource }): JSX.Element {
  const { uuid, subscribe } = props;
  const [task, setTask] = useState<TaskOutput | null>(null);
  const [stdout, setStdout] = useState('');
  const [facts, setFacts] = useState<CarbonFactsOutput | null>(null);
  const [bill, setBill] = useState<TaskBill | null>(null);
  // Instance states from the live stream laid over the task view, each with the number of the batch it came in: a
  // reload drops those received before it started for the instances the view lists (running, paused, finished: the
  // view is newer), keeps the others (queued, dispatched, cancelled instances appear in the view's lists not at all).
  const [live, setLive] = useState<ReadonlyMap<number, LiveInstance>>(new Map());
  const batchNo = useRef(0);
  const done = useRef(false);
  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let loading: Promise<void> | undefined;
    let again = false;
    const id = encodeURIComponent(uuid);
    // The task view is read when the detail opens, then again only when the task changes state or an instance
    // ends (its results and times are in the view): at most one read at a time, one more if asked meanwhile.
    // Progress and states in between come from instance.state events.
    const loadTask = (): Promise<void> => {
      if (loading) {
        again = true;
        return loading;
      }
      loading = (async () => {
        do {
          again = false;
          const since = batchNo.current;
          const t = await get<TaskOutput>(`/tasks/${id}`);
          if (stop) return;
          setTask(t);
          const listed = new Set([...t.status.runningInstancesInfo.perRunningInstanceInfo, ...t.completedInstances].map((i) => i.instanceId));
          setLive((cur) => new Map([...cur].filter(([id, l]) => l.batch >= since || !listed.has(id))));
          if (FINAL.has(t.state) && !done.current) {
            done.current = true;
            readStdout();
            get<CarbonFactsOutput>(`/carbon/v1/tasks/${id}/carbon-facts`).then((f) => !stop && setFacts(f), () => undefined);
            get<TaskBill>(`/hearth/v1/tasks/${id}/bill`).then((b) => !stop && setBill(b), () => undefined);
          }
        } while (again && !stop);
      })().finally(() => {
        loading = undefined;
      });
      return loading;
    };
    // The stdout (every instance's lines, prefixed) is read when the detail opens, again when an instance.output
    // event says this task wrote to it, and a last time once loadTask sees it over: at most one read at a time, one
    // more if asked meanwhile (output stored after a read began is announced after it, so nothing is missed). A slow
    // fallback read every 30 s covers a stream that dropped live frames.
    const readStdout = singleFlight(
      () => call<string>('GET', `/tasks/${id}/stdout`, undefined, { text: true }).then((out) => !stop && setStdout(out)),
      () => stop,
    );
    const fallback = (): void => {
      if (stop || done.current) return;
      readStdout();
      timer = setTimeout(fallback, 30_000);
    };
    done.current = false;
    void loadTask()
      .catch(() => undefined)
      .finally(() => {
        if (!done.current) readStdout(); // (loadTask read a finished task's)
        timer = setTimeout(fallback, 30_000);
      });
    const unsubscribe = subscribe((events) => {
      const mine: InstanceStatePayload[] = [];
      let reload = false;
      let output = false;
      for (const e of events) {
        if (isLiveEvent(e, EVENT_TYPES.instanceState) && e.payload.taskUuid === uuid) {
          mine.push(e.payload);
          if (FINAL_INSTANCE.has(e.payload.state)) reload = true;
        } else if (isLiveEvent(e, EVENT_TYPES.instanceOutput) && e.payload.taskUuid === uuid && e.payload.stream === 'stdout') output = true;
        else if (isLiveEvent(e, EVENT_TYPES.taskState) && e.payload.uuid === uuid) reload = true;
      }
      if (output) readStdout();
      if (mine.length > 0) {
        const batch = ++batchNo.current;
        setLive((cur) => {
          const next = new Map(cur);
          for (const p of mine) next.set(p.instanceId, { ...p, batch });
          return next;
        });
      }
      if (reload) void loadTask().catch(() => undefined);
    });
    return () => {
      stop = true;
      unsubscribe();
      if (timer) clearTimeout(timer);
    };
  }, [uuid, subscribe]);
  if (!task) return <p className="muted">Loading the task…</p>;
  const rows = instanceRows(task, live);
  return (
    <section className="task-detail" data-testid="task-detail" data-state={task.state}>
      <h2>
        {task.name} <span className={`state state-${task.state}`} data-testid="detail-state">{task.state}</span>
      </h2>
      <p className="muted">
        {task.uuid} · {task.profile} · {task.instanceCount} instances · scheduling {task.schedulingType}
        {task.resultBucket ? ` · results in bucket ${task.resultBucket} (${task.resultsCount} files)` : ''}
      </p>
      {task.errors.length > 0 && (
        <ul className="error">
          {task.errors.map((e, k) => (
            <li key={k}>
              {e.code}: {e.message}
            </li>
          ))}
        </ul>
      )}
      <h3>Instances</h3>
      <table className="instances" data-testid="instances">
        <thead>
          <tr>
            <th>#</th>
            <th>Status</th>
            <th>Progress</th>
            <th>Time</th>
            <th>Attempts</th>
            <th>Results</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.instanceId} data-testid="instance-row" data-instance={r.instanceId} data-status={r.status}>
              <td>{r.instanceId}</td>
              <td data-testid="instance-status">{r.status}</td>
              <td data-testid="instance-progress">
                <progress max={100} value={r.progress} /> {fmt(r.progress, 0)} %
              </td>
              <td>{r.timeSec === null ? '—' : `${fmt(r.timeSec, 1)} s`}</td>
              <td>{r.attempts}</td>
              <td>{r.results.join(', ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Output</h3>
      <pre className="stdout" data-testid="stdout">
        {stdout || '(nothing yet)'}
      </pre>
      {bill && (
        <p className="muted" data-testid="task-bill">
          Billed €{fmt(bill.billed.eur, 6)} for {fmt(bill.billed.coreHours, 4)} core-hours (wall time × cores × clock ratio)
        </p>
      )}
      {facts && (
        <>
          <h3>Carbon facts</h3>
          <dl className="facts" data-testid="carbon-facts">
            <dt>Energy drawn</dt>
            <dd>{fmt(facts.total_consumed_energy_Wh, 2)} Wh</dd>
            <dt>Heat reused in homes</dt>
            <dd>{fmt(facts.total_reused_energy_Wh, 2)} Wh</dd>
            <dt>Footprint</dt>
            <dd>{fmt(facts.qarnot_carbon_footprint, 2)} gCO₂e</dd>
            <dt>Same work in {facts.equivalent_datacenter_name}</dt>
            <dd>{fmt(facts.equivalent_DC_carbon_footprint, 2)} gCO₂e</dd>
            <dt>Saved (compute + heat)</dt>
            <dd>
              {fmt(facts.saved_carbon_footprint_compute_heat, 2)} gCO₂e ({fmt(facts.saved_carbon_footprint_percent, 0)} %)
            </dd>
          </dl>
        </>
      )}
    </section>
  );
}

/**
 * The instances table: what the task view shows (running and finished instances) with the live states laid over
 * it, plus instances only the live stream has shown so far (queued, dispatched, cancelled), by instance id.
 */
function instanceRows(task: TaskOutput, live: ReadonlyMap<number, LiveInstance>): InstanceRow[] {
  const rows = new Map<number, InstanceRow>();
  for (const r of task.status.runningInstancesInfo.perRunningInstanceInfo) {
    rows.set(r.instanceId, { instanceId: r.instanceId, status: r.phase ?? 'running', progress: r.progress, timeSec: r.executionTimeSec, attempts: r.executionAttemptCount, results: [] });
  }
  for (const c of task.completedInstances) {
    rows.set(c.instanceId, { instanceId: c.instanceId, status: c.state, progress: 100, timeSec: c.wallTimeSec, attempts: c.executionAttemptCount, results: c.results });
  }
  for (const p of live.values()) {
    const cur = rows.get(p.instanceId);
    const status = p.state === 'running' && p.phase ? p.phase : p.state;
    rows.set(p.instanceId, { instanceId: p.instanceId, status, progress: p.progress, timeSec: cur?.timeSec ?? null, attempts: p.attempt, results: cur?.results ?? [] });
  }
  return [...rows.values()].sort((a, b) => a.instanceId - b.instanceId);
}
