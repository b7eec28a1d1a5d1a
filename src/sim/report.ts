// The simulation report: the summary and series types the twin engine fills, and renderReport, which turns them
// into one self-contained report.html (inline SVG charts, the scorecard of SCHEDULING.md side by side per policy).
import { lineChartSvg } from './charts.ts';
import type { ChartSeries } from './charts.ts';
import type { SchedulingTypeName } from './workloads.ts';

/** The scorecard of one policy over a run (SCHEDULING.md). Energies kWh, times s, money €, carbon kg. */
export interface PolicySummary {
  readonly comfort: {
    /**
     * Mean over rooms of the discomfort integral, K·h: below (setpoint − lowerBand) when occupied, above (comfort
     * setpoint + upperBand) at any time — the comfort (occupied) setpoint, since a set-back is a floor, not a ceiling.
     */
    readonly discomfortKhPerRoom: number;
    /** Worst room's discomfort, K·h. */
    readonly worstRoomKh: number;
    /** Room-minutes above the safety limit while the room's heater released heat (what a policy causes; must be 0). */
    readonly minutesAboveSafety: number;
    /** Room-minutes above the safety limit for any cause (sun, people; no cooling is modelled), for information. */
    readonly minutesAboveSafetyAnyCause?: number;
  };
  readonly heat: {
    /** Heat asked for by the room controllers, kWh. */
    readonly askedKWh: number;
    /** Heat delivered by paid compute, by filler work, by resistive means (boosters and the electric policy's resistive mode), kWh. */
    readonly deliveredByComputeKWh: number;
    readonly fillerKWh: number;
    readonly boosterKWh: number;
    /** Heat vented or overshot (delivered beyond what was asked, or rejected), kWh. */
    readonly ventedKWh: number;
  };
  readonly hotWater: {
    /** Heat put into the tanks (boards + top-up), kWh, and hot water drawn (relative to cold water), kWh. */
    readonly deliveredKWh: number;
    readonly drawnKWh: number;
    /** Times a tank's outlet fell below its usable temperature. */
    readonly coldEvents: number;
    /** Of deliveredKWh, from the tanks' resistive top-up elements, kWh (optional). */
    readonly topUpKWh?: number;
  };
  readonly energy: {
    /** Energy reuse factor = reused / total energy (The Green Grid), including the overflow datacenter. */
    readonly erf: number;
    readonly pue: number;
    /** ERE = (1 − ERF)·PUE. */
    readonly ere: number;
    /** Total electricity of the platform plus the overflow datacenter (facility), kWh (optional). */
    readonly totalKWh?: number;
    /** Energy reused as heat, kWh (optional). */
    readonly reusedKWh?: number;
  };
  readonly compute: {
    /** Core-hours done (on heaters, boilers and in overflow), scaled by clock ratio, and by scheduling type. */
    readonly coreHours: number;
    readonly coreHoursByClass: Readonly<Record<SchedulingTypeName, number>>;
    readonly deadlineMisses: number;
    /** Misses / instances with a deadline, 0..1. */
    readonly deadlineMissShare: number;
    readonly killedInstances: number;
    readonly pausedInstances: number;
    readonly restarts: number;
    /** Work lost by kills of non-checkpointable instances, core-h. */
    readonly lostCoreHours: number;
    /** Share of core-hours done in the overflow datacenter, 0..1. */
    readonly overflowShare: number;
    readonly meanWaitS: number;
    readonly meanTurnaroundS: number;
    /** Mean bounded slowdown max(1, turnaround / max(run, τ)) with τ = 10 s. */
    readonly meanBoundedSlowdown: number;
    readonly gbMoved: number;
    /** Instances finished, and still unfinished at the end of the run (optional). */
    readonly instancesDone?: number;
    readonly instancesUnfinished?: number;
  };
  readonly money: {
    readonly revenueEUR: number;
    readonly electricityEUR: number;
    /** Value of the heat given to residents (at the price of the electricity it replaced), €. */
    readonly heatValueEUR: number;
    /** revenue − electricity − overflow cost, €. */
    readonly marginEUR: number;
    /** Cost of the overflow datacenter, € (optional). */
    readonly overflowEUR?: number;
  };
  readonly carbon: {
    /** This platform (heaters, boilers, overflow), kgCO2e, grid intensity at the time of use. */
    readonly kgCO2e: number;
    /** A datacenter doing the same compute plus the buildings heating themselves (scenario's reference heating), kgCO2e. */
    readonly referenceKgCO2e: number;
  };
  /** |electricity in − (heat into rooms and tanks + Δ stored + losses)| / electricity in (must be < 0.001). */
  readonly energyBalanceResidual: number;
}

/** What a run produced, per policy. */
export interface SimSummary {
  /** Scenario name. */
  readonly scenario: string;
  readonly seed: number;
  /** YYYY-MM-DD. */
  readonly startDate: string;
  readonly days: number;
  /** Physics step, s. */
  readonly stepS: number;
  readonly policies: Readonly<Record<string, PolicySummary>>;
  /** Optional free text shown under the title (the scenario's description). */
  readonly description?: string;
  /** Rooms and boilers simulated (optional, shown in the header). */
  readonly rooms?: number;
  readonly boilers?: number;
}

/** A named temperature trace with its setpoint, °C. */
export interface RoomTrace {
  readonly name: string;
  readonly airC: ArrayLike<number>;
  readonly setpointC: ArrayLike<number>;
}

/** Downsampled time series of one policy's run, all arrays of timeH's length. Powers are totals over the fleet. */
export interface PolicySeries {
  /** Sample times, hours from the start. */
  readonly timeH: ArrayLike<number>;
  /** A few representative rooms (e.g. coldest, warmest, median). */
  readonly rooms: readonly RoomTrace[];
  /** Mean air temperature and mean setpoint over all rooms, °C. */
  readonly meanAirC: ArrayLike<number>;
  readonly meanSetpointC: ArrayLike<number>;
  /** Heat asked for by the controllers, and delivered by paid compute, filler and resistive means, W. */
  readonly heatAskedW: ArrayLike<number>;
  readonly heatComputeW: ArrayLike<number>;
  readonly heatFillerW: ArrayLike<number>;
  readonly heatBoosterW: ArrayLike<number>;
  /** Top-layer temperature of a few tanks, °C. */
  readonly tanks: readonly { readonly name: string; readonly topC: ArrayLike<number> }[];
  /** Queued instances, and core-hours completed per hour. */
  readonly queueLength: ArrayLike<number>;
  readonly throughputCoreHPerH: ArrayLike<number>;
  /** Instances running in overflow (optional). */
  readonly overflowRunning?: ArrayLike<number>;
  /** Outdoor temperature, °C (optional; the first policy that has it gives the report's weather chart). */
  readonly outdoorC?: ArrayLike<number>;
}

/** Series per policy (same keys as SimSummary.policies). */
export interface SimSeries {
  readonly policies: Readonly<Record<string, PolicySeries>>;
}

/** How a scorecard row compares policies: which value is best (highlighted), or none. */
export type Better = 'lower' | 'higher' | 'zero' | 'none';

/** One row of the scorecard. */
export interface ScorecardMetric {
  readonly section: string;
  /** Dotted path into PolicySummary. */
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  readonly better: Better;
  readonly digits: number;
  /** Display factor (e.g. 100 for shares shown in %). */
  readonly factor?: number;
  /** Optional rows show "—" when the engine does not fill them. */
  readonly optional?: boolean;
}

/** Every row of the scorecard, in display order (SCHEDULING.md "The scorecard"). */
export const SCORECARD_METRICS: readonly ScorecardMetric[] = [
  { section: 'Comfort', key: 'comfort.discomfortKhPerRoom', label: 'discomfort per room (mean)', unit: 'K·h', better: 'lower', digits: 1 },
  { section: 'Comfort', key: 'comfort.worstRoomKh', label: 'discomfort, worst room', unit: 'K·h', better: 'lower', digits: 1 },
  { section: 'Comfort', key: 'comfort.minutesAboveSafety', label: 'minutes above safety limit, heater heating', unit: 'min', better: 'zero', digits: 0 },
  { section: 'Comfort', key: 'comfort.minutesAboveSafetyAnyCause', label: 'minutes above safety limit, any cause', unit: 'min', better: 'lower', digits: 0, optional: true },
  { section: 'Heat', key: 'heat.askedKWh', label: 'heat asked for', unit: 'kWh', better: 'none', digits: 0 },
  { section: 'Heat', key: 'heat.deliveredByComputeKWh', label: 'delivered by paid compute', unit: 'kWh', better: 'higher', digits: 0 },
  { section: 'Heat', key: 'heat.fillerKWh', label: 'delivered by filler', unit: 'kWh', better: 'lower', digits: 0 },
  { section: 'Heat', key: 'heat.boosterKWh', label: 'delivered by resistive top-up', unit: 'kWh', better: 'lower', digits: 0 },
  { section: 'Heat', key: 'heat.ventedKWh', label: 'vented or overshot', unit: 'kWh', better: 'lower', digits: 0 },
  { section: 'Hot water', key: 'hotWater.deliveredKWh', label: 'heat into tanks', unit: 'kWh', better: 'none', digits: 0 },
  { section: 'Hot water', key: 'hotWater.topUpKWh', label: 'of which resistive top-up', unit: 'kWh', better: 'lower', digits: 0, optional: true },
  { section: 'Hot water', key: 'hotWater.drawnKWh', label: 'hot water drawn', unit: 'kWh', better: 'none', digits: 0 },
  { section: 'Hot water', key: 'hotWater.coldEvents', label: 'times a tank ran cold', unit: '', better: 'lower', digits: 0 },
  { section: 'Energy reuse', key: 'energy.erf', label: 'ERF (reused / total)', unit: '', better: 'higher', digits: 3 },
  { section: 'Energy reuse', key: 'energy.pue', label: 'PUE', unit: '', better: 'lower', digits: 3 },
  { section: 'Energy reuse', key: 'energy.ere', label: 'ERE = (1 − ERF)·PUE', unit: '', better: 'lower', digits: 3 },
  { section: 'Energy reuse', key: 'energy.totalKWh', label: 'total electricity (incl. overflow)', unit: 'kWh', better: 'none', digits: 0, optional: true },
  { section: 'Energy reuse', key: 'energy.reusedKWh', label: 'energy reused as heat', unit: 'kWh', better: 'higher', digits: 0, optional: true },
  { section: 'Compute', key: 'compute.coreHours', label: 'core-hours done', unit: 'core-h', better: 'higher', digits: 0 },
  { section: 'Compute', key: 'compute.coreHoursByClass.flex', label: 'core-hours, flex', unit: 'core-h', better: 'higher', digits: 0 },
  { section: 'Compute', key: 'compute.coreHoursByClass.onDemand', label: 'core-hours, onDemand', unit: 'core-h', better: 'higher', digits: 0 },
  { section: 'Compute', key: 'compute.coreHoursByClass.reserved', label: 'core-hours, reserved', unit: 'core-h', better: 'higher', digits: 0 },
  { section: 'Compute', key: 'compute.instancesDone', label: 'instances finished', unit: '', better: 'higher', digits: 0, optional: true },
  { section: 'Compute', key: 'compute.instancesUnfinished', label: 'instances unfinished at the end', unit: '', better: 'lower', digits: 0, optional: true },
  { section: 'Compute', key: 'compute.meanWaitS', label: 'mean wait', unit: 's', better: 'lower', digits: 0 },
  { section: 'Compute', key: 'compute.meanTurnaroundS', label: 'mean turnaround', unit: 's', better: 'lower', digits: 0 },
  { section: 'Compute', key: 'compute.meanBoundedSlowdown', label: 'mean bounded slowdown (τ = 10 s)', unit: '', better: 'lower', digits: 2 },
  { section: 'Compute', key: 'compute.deadlineMisses', label: 'deadline misses', unit: '', better: 'lower', digits: 0 },
  { section: 'Compute', key: 'compute.deadlineMissShare', label: 'deadline misses, share', unit: '%', better: 'lower', digits: 2, factor: 100 },
  { section: 'Compute', key: 'compute.killedInstances', label: 'instances killed', unit: '', better: 'lower', digits: 0 },
  { section: 'Compute', key: 'compute.pausedInstances', label: 'instances paused', unit: '', better: 'lower', digits: 0 },
  { section: 'Compute', key: 'compute.restarts', label: 'restarts', unit: '', better: 'lower', digits: 0 },
  { section: 'Compute', key: 'compute.lostCoreHours', label: 'work lost', unit: 'core-h', better: 'lower', digits: 1 },
  { section: 'Compute', key: 'compute.overflowShare', label: 'share sent to overflow', unit: '%', better: 'lower', digits: 1, factor: 100 },
  { section: 'Compute', key: 'compute.gbMoved', label: 'data moved', unit: 'GB', better: 'lower', digits: 1 },
  { section: 'Money', key: 'money.revenueEUR', label: 'revenue', unit: '€', better: 'higher', digits: 0 },
  { section: 'Money', key: 'money.electricityEUR', label: 'electricity cost', unit: '€', better: 'lower', digits: 0 },
  { section: 'Money', key: 'money.overflowEUR', label: 'overflow cost', unit: '€', better: 'lower', digits: 0, optional: true },
  { section: 'Money', key: 'money.heatValueEUR', label: 'value of heat given to residents', unit: '€', better: 'higher', digits: 0 },
  { section: 'Money', key: 'money.marginEUR', label: 'margin', unit: '€', better: 'higher', digits: 0 },
  { section: 'Carbon', key: 'carbon.kgCO2e', label: 'this platform', unit: 'kgCO2e', better: 'lower', digits: 0 },
  { section: 'Carbon', key: 'carbon.referenceKgCO2e', label: 'datacenter + buildings heating themselves', unit: 'kgCO2e', better: 'none', digits: 0 },
  { section: 'Balance', key: 'energyBalanceResidual', label: 'energy balance residual (must be < 0.1 %)', unit: '%', better: 'zero', digits: 4, factor: 100 },
];

/** Reads a dotted path of a summary; undefined when absent or not a number. */
export function metricValue(summary: PolicySummary, key: string): number | undefined {
  let v: unknown = summary;
  for (const k of key.split('.')) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return typeof v === 'number' ? v : undefined;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Formats a number with `digits` decimals and thin-space thousands groups ("—" for undefined, "n/a" for NaN). */
export function formatNumber(v: number | undefined, digits: number): string {
  if (v === undefined) return '—';
  if (Number.isNaN(v)) return 'n/a';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  const [int, frac] = Math.abs(v).toFixed(digits).split('.');
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, '\u202f');
  const neg = v < 0 && Number(Math.abs(v).toFixed(digits)) !== 0;
  return `${neg ? '−' : ''}${grouped}${frac !== undefined ? `.${frac}` : ''}`;
}

/** Indexes of the best values of a row (empty when `better` is none or fewer than two finite values). */
export function bestIndexes(values: readonly (number | undefined)[], better: Better): number[] {
  if (better === 'none') return [];
  const score = (v: number): number => (better === 'lower' ? v : better === 'higher' ? -v : Math.abs(v));
  const finite = values.map((v) => (v !== undefined && Number.isFinite(v) ? score(v) : NaN));
  if (finite.filter((x) => !Number.isNaN(x)).length < 2) return [];
  const best = Math.min(...finite.filter((x) => !Number.isNaN(x)));
  const tol = Math.abs(best) * 1e-9 + 1e-12;
  return finite.flatMap((x, i) => (!Number.isNaN(x) && x - best <= tol ? [i] : []));
}

function scorecardTable(summary: SimSummary, names: readonly string[]): string {
  const rows: string[] = [];
  let section = '';
  for (const m of SCORECARD_METRICS) {
    const values = names.map((n) => metricValue(summary.policies[n], m.key));
    if (m.optional && values.every((v) => v === undefined)) continue;
    if (m.section !== section) {
      section = m.section;
      rows.push(`<tr class="section"><th colspan="${names.length + 2}">${esc(section)}</th></tr>`);
    }
    const best = new Set(bestIndexes(values, m.better));
    const cells = values.map((v, i) => `<td${best.has(i) ? ' class="best"' : ''}>${formatNumber(v === undefined ? undefined : v * (m.factor ?? 1), m.digits)}</td>`);
    rows.push(`<tr data-metric="${esc(m.key)}"><th scope="row">${esc(m.label)}</th><td class="unit">${esc(m.unit)}</td>${cells.join('')}</tr>`);
  }
  const head = `<tr><th>metric</th><th>unit</th>${names.map((n) => `<th scope="col">${esc(n)}</th>`).join('')}</tr>`;
  return `<table class="scorecard">\n<thead>${head}</thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table>`;
}

/** An inline SVG (the SVG namespace attribute is dropped: inline SVG in HTML needs none, and the page names no URL). */
function chart(series: readonly ChartSeries[], title: string, yLabel: string): string {
  const svg = lineChartSvg(series, { title, xLabel: 'time, h', yLabel, width: 960, height: 360, maxPoints: 1500 });
  return `<figure>${svg.replace(/\s+xmlns="[^"]*"/, '')}</figure>`;
}

/** Legend labels are cut to fit the legend column. */
const short = (label: string): string => (label.length > 24 ? `${label.slice(0, 23)}…` : label);

const scaled = (y: ArrayLike<number>, k: number): number[] => Array.from(y, (v) => v * k);

function policyCharts(p: PolicySeries): string[] {
  const x = p.timeH;
  const out: string[] = [];
  const temps: ChartSeries[] = [];
  p.rooms.forEach((r, k) => {
    temps.push({ label: short(r.name), x, y: r.airC, width: 1.2, color: ROOM_COLORS[k % ROOM_COLORS.length] });
  });
  temps.push({ label: 'mean of rooms', x, y: p.meanAirC, color: '#111', width: 2 });
  temps.push({ label: 'mean setpoint', x, y: p.meanSetpointC, color: '#111', dashed: true, width: 1.5 });
  p.rooms.forEach((r, k) => temps.push({ label: short(`sp ${r.name}`), x, y: r.setpointC, dashed: true, width: 1, color: ROOM_COLORS[k % ROOM_COLORS.length] }));
  out.push(chart(temps, 'Room temperatures vs setpoint', '°C'));
  out.push(
    chart(
      [
        { label: 'asked', x, y: scaled(p.heatAskedW, 1e-3), color: '#111', width: 2 },
        { label: 'paid compute', x, y: scaled(p.heatComputeW, 1e-3), color: '#00798c' },
        { label: 'filler', x, y: scaled(p.heatFillerW, 1e-3), color: '#edae49' },
        { label: 'resistive', x, y: scaled(p.heatBoosterW, 1e-3), color: '#d1495b' },
      ],
      'Heat asked vs delivered',
      'kW',
    ),
  );
  if (p.tanks.length > 0) out.push(chart(p.tanks.map((t) => ({ label: t.name, x, y: t.topC })), 'Tank top temperature', '°C'));
  const queue: ChartSeries[] = [{ label: 'queued instances', x, y: p.queueLength, color: '#30638e' }];
  if (p.overflowRunning) queue.push({ label: 'running in overflow', x, y: p.overflowRunning, color: '#8f2d56' });
  out.push(chart(queue, 'Queue length', 'instances'));
  out.push(chart([{ label: 'throughput', x, y: p.throughputCoreHPerH, color: '#66a182' }], 'Throughput', 'core-h per h'));
  return out;
}

const ROOM_COLORS = ['#d1495b', '#edae49', '#00798c', '#30638e', '#8f2d56', '#66a182', '#e07a5f'];

const CSS = `
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1040px;color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:4px}h2{margin-top:40px;border-bottom:1px solid #ddd}h3{margin-top:28px}
.meta{color:#555}
table.scorecard{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
.scorecard th,.scorecard td{padding:3px 8px;border-bottom:1px solid #eee;text-align:right}
.scorecard th[scope=row],.scorecard thead th:first-child{text-align:left;font-weight:normal}
.scorecard thead th{border-bottom:2px solid #999}
.scorecard tr.section th{text-align:left;background:#f4f4f4;font-weight:600}
.scorecard td.unit{color:#777;text-align:left}
.scorecard td.best{background:#d9f2e3;font-weight:600}
figure{margin:12px 0}svg{max-width:100%;height:auto}
`;

/**
 * Renders the report: one self-contained HTML document (inline CSS and SVG, no scripts, no external resource),
 * with the scorecard table (every SCORECARD_METRICS row, one column per policy, best value per row highlighted)
 * and, per policy, charts of room temperatures vs setpoint, heat asked vs delivered, tank temperature, queue
 * length and throughput; plus the outdoor temperature and the policies' mean room temperatures compared. Policies
 * come in the order of `summary.policies`; a policy without series gets no charts.
 */
export function renderReport(summary: SimSummary, series: SimSeries): string {
  const names = Object.keys(summary.policies);
  const meta = [
    `start ${esc(summary.startDate)}`,
    `${formatNumber(summary.days, summary.days % 1 === 0 ? 0 : 2)} days`,
    `step ${summary.stepS} s`,
    `seed ${summary.seed}`,
    ...(summary.rooms !== undefined ? [`${summary.rooms} rooms`] : []),
    ...(summary.boilers !== undefined ? [`${summary.boilers} boilers`] : []),
    `policies: ${names.map(esc).join(', ')}`,
  ].join(' · ');
  const parts: string[] = [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>hearth report — ${esc(summary.scenario)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    `<h1>${esc(summary.scenario)}</h1>`,
    `<p class="meta">${meta}</p>`,
    ...(summary.description ? [`<p>${esc(summary.description)}</p>`] : []),
    '<h2>Scorecard</h2>',
    '<p class="meta">Best value of each row highlighted (lowest, highest, or closest to zero as the row asks).</p>',
    scorecardTable(summary, names),
  ];
  const withSeries = names.filter((n) => series.policies[n] !== undefined);
  const outdoor = withSeries.map((n) => series.policies[n]).find((p) => p.outdoorC !== undefined);
  if (outdoor?.outdoorC) parts.push('<h2>Weather</h2>', chart([{ label: 'outdoor', x: outdoor.timeH, y: outdoor.outdoorC, color: '#6c7a89' }], 'Outdoor temperature', '°C'));
  if (withSeries.length > 1) {
    const first = series.policies[withSeries[0]];
    parts.push(
      '<h2>Policies compared</h2>',
      chart(
        withSeries.map((n) => ({ label: n, x: series.policies[n].timeH, y: series.policies[n].meanAirC })).concat([{ label: 'mean setpoint', x: first.timeH, y: first.meanSetpointC, dashed: true, color: '#111' } as ChartSeries]),
        'Mean room temperature by policy',
        '°C',
      ),
    );
  }
  for (const n of withSeries) {
    parts.push(`<h2 id="policy-${esc(n)}">Policy: ${esc(n)}</h2>`, ...policyCharts(series.policies[n]));
  }
  parts.push('</body>', '</html>', '');
  return parts.join('\n');
}
