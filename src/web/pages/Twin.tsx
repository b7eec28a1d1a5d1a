// Twin: lists the `hearth sim` runs the coordinator has (written under <dataDir>/sims/NAME, GET /hearth/v1/sims),
// or opens a summary.json from the disk (file input), and compares its policies side by side, metric by metric,
// marking the best value of each row where "better" is known (lower for costs and misses, higher for reuse). A
// run's full report (self-contained HTML with inline scripts) is shown in an iframe sandboxed without same-origin:
// its scripts run in an opaque origin, away from the dashboard's token and the API.
import { useEffect, useState, type JSX } from 'react';
import { call, fmt, get } from '../api.ts';

/** A run as GET /hearth/v1/sims lists it. */
interface SimRun {
  name: string;
  scenario: string | null;
  startDate: string | null;
  days: number | null;
  policies: string[];
  writtenAt: string;
  report: boolean;
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
  useEffect(() => {
    const ac = new AbortController();
    get<SimRun[]>('/hearth/v1/sims', ac.signal).then(setRuns, (e: unknown) => {
      if (!ac.signal.aborted) setError(String((e as Error).message));
    });
    return () => ac.abort();
  }, []);
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
      <h2>Runs on this coordinator</h2>
      {runs === null ? (
        <p className="muted">Loading the runs…</p>
      ) : runs.length === 0 ? (
        <p className="muted" data-testid="sim-none">
          No run yet: <code>hearth sim SCENARIO.json --out DATA_DIR/sims/NAME</code> writes one where this page finds it.
        </p>
      ) : (
        <table className="compare" data-testid="sim-runs">
          <thead>
            <tr>
              <th>Run</th>
              <th>Scenario</th>
              <th>Days</th>
              <th>Policies</th>
              <th>Written</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.name} data-testid="sim-run" className={r.name === open ? 'selected' : undefined}>
                <td>
                  <button type="button" className="link" onClick={() => openRun(r.name)} data-testid="sim-open">
                    {r.name}
                  </button>
                </td>
                <td>{r.scenario ?? '—'}</td>
                <td>
                  {fmt(r.days, 0)} from {r.startDate ?? '?'}
                </td>
                <td>{r.policies.join(', ')}</td>
                <td>{new Date(r.writtenAt).toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p className="muted">Or open a summary.json written by `hearth sim SCENARIO.json` from your disk:</p>
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
