// Twin: opens a `hearth sim` summary.json (file input) and compares its policies side by side, metric by metric,
// marking the best value of each row where "better" is known (lower for costs and misses, higher for reuse).
import { useState, type JSX } from 'react';

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
  const policies = summary ? Object.keys(summary.policies) : [];
  const flat = policies.map((p) => flatten(summary?.policies[p]));
  const metrics = [...new Set(flat.flatMap((m) => [...m.keys()]))];
  return (
    <div className="twin" data-testid="twin">
      <h1>Twin: compare policies</h1>
      <p className="muted">Open the summary.json written by `hearth sim SCENARIO.json`.</p>
      <input
        type="file"
        accept="application/json,.json"
        data-testid="twin-file"
        onChange={(e) => {
          const f = e.target.files?.[0];
          if (!f) return;
          setError('');
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
        </>
      )}
    </div>
  );
}
