// Twin: lists the `hearth sim` runs the coordinator has (written under <dataDir>/sims/NAME, GET /hearth/v1/sims),
// or opens a summary.json from the disk (file input), and compares its policies side by side, metric by metric,
// marking the best value of each row where "better" is known (lower for costs and misses, higher for reuse). A
// run's full report (self-contained HTML with inline scripts) is shown in an iframe sandboxed without same-origin:
// its scripts run in an opaque origin, away from the dashboard's token and the API. A form starts a run on one of
// the scenarios the coordinator ships (POST /hearth/v1/sims); the list follows it until it is done.
import { useCallback, useEffect, useState, type JSX } from 'react';
import { ApiError, call, fmt, followEvents, get } from '../api.ts';
import { EVENT_TYPES, isLiveEvent, type SimScenario } from '../../protocol/platform.ts';

/** A run as GET /hearth/v1/sims lists it. */
interface SimRun {
  name: string;
  scenario: string | null;
  startDate: string | null;
  days: number | null;
  policies: string[];
  writtenAt: string;
  report: boolean;
  state: 'done' | 'running' | 'failed' | 'interrupted';
  error: string | null;
  /** A running run's fraction done and the policy it simulates now. */
  progress: number | null;
  label: string | null;
}

/**
 * How often the list is read again while a run is running, ms: its progress and its end come on the live event
 * stream (sim.progress); this read only covers a stream that dropped frames.
 */
const RUNNING_POLL_MS = 30_000;

/** The form that starts a run on a shipped scenario; `onStarted` once the coordinator took it. */
function StartRun(props: { onStarted: () => void }): JSX.Element | null {
  const [scenarios, setScenarios] = useState<SimScenario[] | null>(null);
  const [id, setId] = useState('');
  const [days, setDays] = useState('');
  const [chosen, setChosen] = useState<string[]>([]);
  const [message, setMessage] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const ac = new AbortController();
    get<SimScenario[]>('/hearth/v1/sims/scenarios', ac.signal).then(
      (list) => {
        setScenarios(list);
        if (list.length > 0) {
          setId(list[0].id);
          setChosen(list[0].policies);
        }
      },
      () => setScenarios([]),
    );
    return () => ac.abort();
  }, []);
  if (!scenarios || scenarios.length === 0) return null;
  const scenario = scenarios.find((x) => x.id === id);
  return (
    <form
      className="submit"
      data-testid="sim-start-form"
      onSubmit={(e) => {
        e.preventDefault();
        setBusy(true);
        setMessage('');
        const body = { scenario: id, policies: chosen, ...(days.trim() === '' ? {} : { days: Number(days) }) };
        call<SimRun>('POST', '/hearth/v1/sims', body)
          .then((r) => {
            setMessage(`Started ${r.name}`);
            props.onStarted();
          })
          .catch((err: unknown) => setMessage(err instanceof ApiError ? `${err.message}${err.field ? ` (${err.field})` : ''}` : String(err)))
          .finally(() => setBusy(false));
      }}
    >
      <h2>Run the twin</h2>
      <label>
        Scenario{' '}
        <select
          value={id}
          data-testid="sim-scenario"
          onChange={(e) => {
            setId(e.target.value);
            setChosen(scenarios.find((x) => x.id === e.target.value)?.policies ?? []);
          }}
        >
          {scenarios.map((x) => (
            <option key={x.id} value={x.id}>
              {x.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        Days{' '}
        <input type="number" min={0.25} max={366} step="any" placeholder={scenario?.days === null || scenario === undefined ? '' : String(scenario.days)} value={days} onChange={(e) => setDays(e.target.value)} data-testid="sim-days" />
      </label>
      <fieldset className="policies">
        {(scenario?.policies ?? []).map((p) => (
          <label key={p}>
            <input type="checkbox" checked={chosen.includes(p)} onChange={(e) => setChosen(e.target.checked ? [...chosen, p] : chosen.filter((x) => x !== p))} data-testid={`sim-policy-${p}`} /> {p}
          </label>
        ))}
      </fieldset>
      <button type="submit" disabled={busy || chosen.length === 0} data-testid="sim-start">
        Run
      </button>
      {message && (
        <p className="note" data-testid="sim-start-message">
          {message}
        </p>
      )}
    </form>
  );
}

interface Summary {
  scenario?: string;
  days?: number;
  startDate?: string;
  rooms?: number;
  boilers?: number;
  policies: Record<string, unknown>;
}

/** Flattens the numeric leaves of an object into `a.b.c` → value. */
function flatten(x: unknown, prefix = '', out = new Map<string, number>()): Map<string, number> {
  if (typeof x === 'number' && Number.isFinite(x)) out.set(prefix, x);
  else if (x !== null && typeof x === 'object' && !Array.isArray(x)) for (const [k, v] of Object.entries(x)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  return out;
}

/** +1 when higher is better, −1 when lower is, 0 when unknown. */
function better(metric: string): number {
  if (/erf|reused|revenue|margin|heatValue|coreHours|instancesDone|deliveredByCompute/i.test(metric)) return 1;
  if (/miss|minutes|kgCO2e$|electricityEUR|overflow|killed|restarts|lost|wait|turnaround|slowdown|coldEvents|vented|ere|pue|residual|unfinished|booster/i.test(metric)) return -1;
  return 0;
}

export function parseSummary(text: string): Summary {
  const s = JSON.parse(text) as Summary;
  if (!s || typeof s !== 'object' || typeof s.policies !== 'object' || s.policies === null) throw new Error('not a hearth sim summary.json: no "policies"');
  return s;
}

export function Twin(): JSX.Element {
  const [summary, setSummary] = useState<Summary | null>(null);
  const [error, setError] = useState('');
  const [runs, setRuns] = useState<SimRun[] | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [report, setReport] = useState<string | null>(null);
  const policies = summary ? Object.keys(summary.policies) : [];
  const flat = policies.map((p) => flatten(summary?.policies[p]));
  const metrics = [...new Set(flat.flatMap((m) => [...m.keys()]))];
  const [reads, setReads] = useState(0);
  const reload = useCallback(() => setReads((n) => n + 1), []);
  useEffect(() => {
    const ac = new AbortController();
    get<SimRun[]>('/hearth/v1/sims', ac.signal).then(setRuns, (e: unknown) => {
      if (!ac.signal.aborted) setError(String((e as Error).message));
    });
    return () => ac.abort();
  }, [reads]);
  // A run's progress moves its row in place; its end reads the list again (the run is listed done, or failed).
  useEffect(
    () =>
      followEvents((events) => {
        let ended = false;
        const moved = new Map<string, { progress: number; label: string | null }>();
        for (const e of events) {
          if (!isLiveEvent(e, EVENT_TYPES.simProgress)) continue;
          if (e.payload.state === 'running') moved.set(e.payload.name, e.payload);
          else ended = true;
        }
        if (moved.size > 0) setRuns((cur) => cur && cur.map((r) => (r.state === 'running' && moved.has(r.name) ? { ...r, ...moved.get(r.name)! } : r)));
        if (ended) reload();
      }),
    [reload],
  );
  // While a run is running, the list is read again now and then (see RUNNING_POLL_MS).
  const running = runs?.some((r) => r.state === 'running') ?? false;
  useEffect(() => {
    if (!running) return;
    const t = setTimeout(reload, RUNNING_POLL_MS);
    return () => clearTimeout(t);
  }, [running, runs, reload]);
  const openRun = (name: string): void => {
    setError('');
    setReport(null);
    setOpen(name);
    call<string>('GET', `/hearth/v1/sims/${encodeURIComponent(name)}/summary`, undefined, { text: true })
      .then((t) => setSummary(parseSummary(t)))
      .catch((err: unknown) => {
        setSummary(null);
        setError(String((err as Error).message));
      });
  };
  const run = runs?.find((r) => r.name === open);
  return (
    <div className="twin" data-testid="twin">
      <h1>Twin: compare policies</h1>
      <StartRun onStarted={reload} />
      <h2>Runs on this coordinator</h2>
      {runs === null ? (
        <p className="muted">Loading the runs…</p>
      ) : runs.length === 0 ? (
        <p className="muted" data-testid="sim-none">
          No run yet: run one above, or <code>hearth sim SCENARIO.json --out DATA_DIR/sims/NAME</code> writes one where this page finds it.
        </p>
      ) : (
        <table className="compare" data-testid="sim-runs">
          <thead>
            <tr>
              <th>Run</th>
              <th>Scenario</th>
              <th>Days</th>
              <th>Policies</th>
              <th>State</th>
              <th>Written</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.name} data-testid="sim-run" data-run={r.name} data-state={r.state} className={r.name === open ? 'selected' : undefined}>
                <td>
                  {r.state === 'done' ? (
                    <button type="button" className="link" onClick={() => openRun(r.name)} data-testid="sim-open">
                      {r.name}
                    </button>
                  ) : (
                    r.name
                  )}
                </td>
                <td>{r.scenario ?? '—'}</td>
                <td>
                  {fmt(r.days, r.days !== null && r.days % 1 !== 0 ? 2 : 0)} from {r.startDate ?? '?'}
                </td>
                <td>{r.policies.join(', ')}</td>
                <td data-testid="sim-state" title={r.error ?? undefined}>
                  {r.state === 'running' ? (
                    <>
                      <progress max={1} value={r.progress ?? 0} data-testid="sim-progress" /> {fmt(100 * (r.progress ?? 0), 0)} %{r.label ? ` · ${r.label}` : ''}
                    </>
                  ) : (
                    r.state
                  )}
                  {r.error ? `: ${r.error.split('\n').slice(-1)[0]}` : ''}
                </td>
                <td>{new Date(r.writtenAt).toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p className="muted">
        Or open a summary.json written by <code>hearth sim SCENARIO.json</code> from your disk:
      </p>
      <input
        type="file"
        accept="application/json,.json"
        data-testid="twin-file"
        onChange={(e) => {
          const f = e.target.files?.[0];
          if (!f) return;
          setError('');
          setOpen(null);
          setReport(null);
          f.text()
            .then((t) => setSummary(parseSummary(t)))
            .catch((err: unknown) => {
              setSummary(null);
              setError(String((err as Error).message));
            });
        }}
      />
      {error && <p className="error">{error}</p>}
      {summary && (
        <>
          <h2 data-testid="twin-scenario">
            {summary.scenario ?? 'scenario'} · {summary.days ?? '?'} days from {summary.startDate ?? '?'} · {summary.rooms ?? '?'} rooms, {summary.boilers ?? 0} boilers
          </h2>
          <table className="compare" data-testid="twin-table">
            <thead>
              <tr>
                <th>Metric</th>
                {policies.map((p) => (
                  <th key={p}>{p}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {metrics.map((m) => {
                const values = flat.map((f) => f.get(m));
                const dir = better(m);
                const known = values.filter((v): v is number => v !== undefined);
                const best = dir === 0 || known.length < 2 ? undefined : dir > 0 ? Math.max(...known) : Math.min(...known);
                return (
                  <tr key={m}>
                    <td>{m}</td>
                    {values.map((v, k) => (
                      <td key={policies[k]} className={v !== undefined && v === best ? 'best' : undefined}>
                        {v === undefined ? '—' : Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3)}
                      </td>
                    ))}
                  </tr>
                );
              })}
            </tbody>
          </table>
          {run?.report && (
            <p>
              <button
                type="button"
                data-testid="sim-report-open"
                onClick={() => {
                  call<string>('GET', `/hearth/v1/sims/${encodeURIComponent(run.name)}/report`, undefined, { text: true }).then(setReport, (err: unknown) => setError(String((err as Error).message)));
                }}
              >
                Open the full report
              </button>
            </p>
          )}
          {report !== null && (
            // No allow-same-origin: the report's scripts get an opaque origin (no token, no API, no parent DOM).
            <iframe className="report" title={`report of ${open ?? ''}`} sandbox="allow-scripts" referrerPolicy="no-referrer" srcDoc={report} data-testid="sim-report" />
          )}
        </>
      )}
    </div>
  );
}
