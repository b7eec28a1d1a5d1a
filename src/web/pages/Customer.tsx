// Customer: my tasks with their state and progress, each instance's status, live stdout, results, credits and
// carbon facts; a form to submit a simple task.
import { useCallback, useEffect, useRef, useState, type JSX } from 'react';
import type { TaskOutput } from '../../protocol/tasks.ts';
import type { CarbonFactsOutput } from '../../protocol/carbon.ts';
import type { Info } from '../../protocol/account.ts';
import type { Usage } from '../../protocol/platform.ts';
import { ApiError, call, fmt, followEvents, get } from '../api.ts';

const FINAL = new Set(['Success', 'Failure', 'Cancelled']);

export function Customer(): JSX.Element {
  const [tasks, setTasks] = useState<TaskOutput[] | null>(null);
  const [info, setInfo] = useState<Info | null>(null);
  const [usage, setUsage] = useState<Usage | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [error, setError] = useState('');
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
    return followEvents((events) => {
      if (events.some((e) => e.type === 'task.state')) void refresh().catch(() => undefined);
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
        <div className="kpi">
          <span className="kpi-label">Core-hours used</span>
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
      {selected && <TaskDetail key={selected} uuid={selected} stateHint={tasks.find((t) => t.uuid === selected)?.state} />}
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

function TaskDetail(props: { uuid: string; stateHint?: string }): JSX.Element {
  const { uuid } = props;
  const [task, setTask] = useState<TaskOutput | null>(null);
  const [stdout, setStdout] = useState('');
  const [facts, setFacts] = useState<CarbonFactsOutput | null>(null);
  const done = useRef(false);
  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const id = encodeURIComponent(uuid);
    // While the task runs, its detail and stdout are re-read once a second (one task: bounded); once finished,
    // a last read and the carbon facts.
    const load = async (): Promise<void> => {
      const [t, out] = await Promise.all([get<TaskOutput>(`/tasks/${id}`), call<string>('GET', `/tasks/${id}/stdout`, undefined, { text: true })]);
      if (stop) return;
      setTask(t);
      setStdout(out);
      if (FINAL.has(t.state)) {
        done.current = true;
        get<CarbonFactsOutput>(`/carbon/v1/tasks/${id}/carbon-facts`).then((f) => !stop && setFacts(f), () => undefined);
      }
    };
    const loop = (): void => {
      load()
        .catch(() => undefined)
        .finally(() => {
          if (!stop && !done.current) timer = setTimeout(loop, 1000);
        });
    };
    done.current = false;
    loop();
    return () => {
      stop = true;
      if (timer) clearTimeout(timer);
    };
  }, [uuid, props.stateHint]);
  if (!task) return <p className="muted">Loading the task…</p>;
  const running = task.status.runningInstancesInfo.perRunningInstanceInfo;
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
          {running.map((r) => (
            <tr key={`r${r.instanceId}`}>
              <td>{r.instanceId}</td>
              <td>{r.phase ?? 'running'}</td>
              <td>{fmt(r.progress, 0)} %</td>
              <td>{fmt(r.executionTimeSec, 1)} s</td>
              <td>{r.executionAttemptCount}</td>
              <td />
            </tr>
          ))}
          {task.completedInstances.map((c) => (
            <tr key={`c${c.instanceId}`}>
              <td>{c.instanceId}</td>
              <td>{c.state}</td>
              <td>100 %</td>
              <td>{fmt(c.wallTimeSec, 1)} s</td>
              <td>{c.executionAttemptCount}</td>
              <td>{c.results.join(', ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Output</h3>
      <pre className="stdout" data-testid="stdout">
        {stdout || '(nothing yet)'}
      </pre>
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
