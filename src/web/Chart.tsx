// A uPlot line chart as a React component: created once, fed new data with setData (no re-creation per update).
import { useEffect, useRef, type JSX } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  color: string;
  dash?: number[];
  /** Another y scale, drawn with its own axis on the right (e.g. a count beside kW); default the first. */
  scale?: string;
}

/** Tick steps of a count axis (whole numbers only). */
const COUNT_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000, 1_000_000];

/** `data[0]` are times (s since the epoch), then one array per series. */
/** `xRange`: the time axis's fixed span (s since the epoch), else the data's. */
export function Chart(props: { title: string; series: Series[]; data: (number | null)[][]; height?: number; testId?: string; xRange?: [number, number] }): JSX.Element {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const { series, title, height } = props;
  const [x0, x1] = props.xRange ?? [undefined, undefined];
  const key = series.map((s) => `${s.label}:${s.scale ?? ''}`).join('|');
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const extra = [...new Set(series.flatMap((s) => (s.scale === undefined ? [] : [s.scale])))];
    const p = new uPlot(
      {
        title,
        width: Math.max(280, el.clientWidth),
        height: height ?? 220,
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, dash: s.dash, scale: s.scale ?? 'y' }))],
        axes: [{}, { size: 60 }, ...extra.map((scale) => ({ scale, side: 1, size: 50, grid: { show: false }, incrs: COUNT_STEPS }))],
        // A lone point gets a few minutes of axis around it, not years.
        scales: {
          x: {
            time: true,
            range: (u, min, max) => {
              if (x0 !== undefined && x1 !== undefined) return [x0, x1];
              // From the data itself: uPlot pads a degenerate span of a time scale by years.
              const xs = u.data[0] as ArrayLike<number> | undefined;
              const first = xs && xs.length > 0 ? xs[0] : min;
              const last = xs && xs.length > 0 ? xs[xs.length - 1] : max;
              return last - first < 60 ? [last - 300, last + 60] : [first, last];
            },
          },
          // Counts start at zero and show at least 0…1.
          ...Object.fromEntries(extra.map((scale) => [scale, { range: (_u: uPlot, _min: number, max: number): uPlot.Range.MinMax => [0, Math.max(1, max)] }])),
        },
        // Legend values follow the cursor only: live data must not rewrite the DOM.
        legend: { live: false },
      },
      props.data as uPlot.AlignedData,
      el,
    );
    plot.current = p;
    const resize = (): void => p.setSize({ width: Math.max(280, el.clientWidth), height: height ?? 220 });
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      p.destroy();
      plot.current = null;
    };
    // The chart is rebuilt only when its series change; data goes through setData below.
  }, [key, title, height, x0, x1]);
  useEffect(() => {
    plot.current?.setData(props.data as uPlot.AlignedData);
  }, [props.data]);
  return <div className="chart" ref={box} data-testid={props.testId} />;
}
