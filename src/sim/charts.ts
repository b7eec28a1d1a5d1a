// Self-contained SVG line charts (no dependencies, no scripts): used by the demo and by simulation reports.

/** One line of a chart: x values (e.g. hours) and y values of the same length. */
export interface ChartSeries {
  readonly label: string;
  readonly x: ArrayLike<number>;
  readonly y: ArrayLike<number>;
  readonly color?: string;
  readonly dashed?: boolean;
  readonly width?: number;
}

export interface LineChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly width?: number;
  readonly height?: number;
  /** Draw at most this many points per series (min/max decimation keeps peaks). */
  readonly maxPoints?: number;
}

const PALETTE = ['#d1495b', '#edae49', '#00798c', '#30638e', '#003d5b', '#8f2d56', '#66a182', '#4c5760', '#e07a5f', '#3d405b'];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** "Nice" tick values covering [lo, hi] with about `n` ticks. */
export function niceTicks(lo: number, hi: number, n = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Min/max decimation: keeps, per bucket, the first point plus the lowest and highest values. */
function decimate(x: ArrayLike<number>, y: ArrayLike<number>, maxPoints: number): [number, number][] {
  const n = Math.min(x.length, y.length);
  if (n <= maxPoints) return Array.from({ length: n }, (_, i) => [x[i], y[i]]);
  const buckets = Math.max(1, Math.floor(maxPoints / 2));
  const out: [number, number][] = [];
  for (let b = 0; b < buckets; b++) {
    const i0 = Math.floor((b * n) / buckets);
    const i1 = Math.floor(((b + 1) * n) / buckets);
    let lo = i0, hi = i0;
    for (let i = i0; i < i1; i++) {
      if (y[i] < y[lo]) lo = i;
      if (y[i] > y[hi]) hi = i;
    }
    const [a, c] = lo < hi ? [lo, hi] : [hi, lo];
    out.push([x[a], y[a]]);
    if (c !== a) out.push([x[c], y[c]]);
  }
  return out;
}

/** Renders series as one SVG line chart with axes, ticks, grid and a legend. */
export function lineChartSvg(series: readonly ChartSeries[], o: LineChartOptions): string {
  const W = o.width ?? 960, H = o.height ?? 420;
  const m = { l: 60, r: 170, t: 36, b: 46 };
  const pw = W - m.l - m.r, ph = H - m.t - m.b;
  let xmin = Infinity, xmax = -Infinity, ymin = Infinity, ymax = -Infinity;
  for (const s of series) {
    for (let i = 0; i < Math.min(s.x.length, s.y.length); i++) {
      if (!Number.isFinite(s.y[i])) continue;
      xmin = Math.min(xmin, s.x[i]);
      xmax = Math.max(xmax, s.x[i]);
      ymin = Math.min(ymin, s.y[i]);
      ymax = Math.max(ymax, s.y[i]);
    }
  }
  if (!Number.isFinite(xmin)) [xmin, xmax, ymin, ymax] = [0, 1, 0, 1];
  if (xmax === xmin) xmax = xmin + 1;
  const pad = (ymax - ymin) * 0.05 || 1;
  ymin -= pad;
  ymax += pad;
  const sx = (v: number): number => m.l + ((v - xmin) / (xmax - xmin)) * pw;
  const sy = (v: number): number => m.t + ph - ((v - ymin) / (ymax - ymin)) * ph;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${m.l}" y="22" font-size="15" font-weight="600">${esc(o.title)}</text>`,
  ];
  for (const t of niceTicks(ymin, ymax)) {
    const y = sy(t).toFixed(1);
    parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`, `<text x="${m.l - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${t}</text>`);
  }
  for (const t of niceTicks(xmin, xmax, 8)) {
    const x = sx(t).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${m.t}" y2="${m.t + ph}" stroke="#f0f0f0"/>`, `<text x="${x}" y="${m.t + ph + 16}" text-anchor="middle">${t}</text>`);
  }
  parts.push(
    `<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`,
    `<text x="${m.l + pw / 2}" y="${H - 8}" text-anchor="middle">${esc(o.xLabel)}</text>`,
    `<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`,
  );
  series.forEach((s, k) => {
    const color = s.color ?? PALETTE[k % PALETTE.length];
    const pts = decimate(s.x, s.y, o.maxPoints ?? 1200).filter(([, y]) => Number.isFinite(y));
    const d = pts.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="${s.width ?? 1.5}"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`);
    const ly = m.t + 8 + k * 18;
    parts.push(
      `<line x1="${m.l + pw + 12}" x2="${m.l + pw + 36}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`,
      `<text x="${m.l + pw + 42}" y="${ly}" dominant-baseline="middle">${esc(s.label)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}
