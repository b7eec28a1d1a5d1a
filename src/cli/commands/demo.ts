// `hearth demo`: the physics demo — one H2c building, a January week at 1-minute steps — printing a table and
// writing a chart of indoor against outdoor temperatures (what `hearth start` ran before the platform existed).
import type { Command } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_DEMO, runDemo } from '../../sim/demo.ts';
import type { DemoResult } from '../../sim/demo.ts';
import { lineChartSvg } from '../../sim/charts.ts';
import { CLIMATE_ZONES } from '../../physics/weather/synthetic.ts';
import type { ClimateZone } from '../../physics/weather/synthetic.ts';
import { InvalidParameterError } from '../../physics/errors.ts';
import { createProgress } from '../progress.ts';

/** Formats the demo result as a compact text table. */
export function demoTable(r: DemoResult): string {
  const head = ['room', 'façade', 'm²', 'mean °C', 'min °C', 'max °C', 'discomfort K·h', 'heat kWh', 'compute board-h'];
  const rows = r.rooms.map((x) => [x.label, x.facade, x.areaM2.toFixed(0), x.meanC.toFixed(1), x.minC.toFixed(1), x.maxC.toFixed(1), x.discomfortKh.toFixed(1), x.heatKWh.toFixed(1), x.computeBoardHours.toFixed(0)]);
  const sum = (f: (x: DemoResult['rooms'][number]) => number): number => r.rooms.reduce((a, x) => a + f(x), 0);
  rows.push(['building', '', sum((x) => x.areaM2).toFixed(0), '', '', '', sum((x) => x.discomfortKh).toFixed(1), sum((x) => x.heatKWh).toFixed(1), sum((x) => x.computeBoardHours).toFixed(0)]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(head), w.map((n) => '─'.repeat(n)).join('  '), ...rows.slice(0, -1).map(line), w.map((n) => '─'.repeat(n)).join('  '), line(rows[rows.length - 1])].join('\n');
}

/** The indoor-vs-outdoor chart of a demo run, as SVG. */
export function demoChart(r: DemoResult): string {
  return lineChartSvg(
    [
      { label: 'outdoor', x: r.series.hours, y: r.series.outdoorC, color: '#222', width: 2 },
      { label: 'setpoint (flat 1)', x: r.series.hours, y: r.series.setpointC, color: '#888', dashed: true },
      ...r.rooms.map((room, k) => ({ label: room.label, x: r.series.hours, y: r.series.roomsC[k] })),
    ],
    { title: `hearth demo — zone ${r.zone}, ${r.days} days of January, rooms heated by computing radiators`, xLabel: 'hours', yLabel: '°C' },
  );
}

/** Registers `hearth demo`. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('simulate an H2c building heated by compute for a January week and chart it')
    .option('--zone <zone>', 'climate zone', DEFAULT_DEMO.zone)
    .option('--days <n>', 'days to simulate', String(DEFAULT_DEMO.days))
    .option('--seed <n>', 'weather seed', String(DEFAULT_DEMO.seed))
    .option('--out <dir>', 'where to write the chart', 'out')
    .action((opts: { zone: string; days: string; seed: string; out: string }) => {
      if (!(CLIMATE_ZONES as readonly string[]).includes(opts.zone)) throw new InvalidParameterError('--zone', `must be one of ${CLIMATE_ZONES.join(', ')}`);
      const days = Number(opts.days);
      const seed = Number(opts.seed);
      if (!Number.isInteger(seed)) throw new InvalidParameterError('--seed', `must be an integer, got ${opts.seed}`);
      const bar = createProgress('simulating');
      const r = runDemo({ ...DEFAULT_DEMO, zone: opts.zone as ClimateZone, days, seed, onProgress: (f) => bar.update(f, `${Math.round(f * days * 24)} h`) });
      bar.stop();
      const dir = resolve(opts.out);
      mkdirSync(dir, { recursive: true });
      const chart = join(dir, 'demo-indoor-vs-outdoor.svg');
      writeFileSync(chart, demoChart(r));
      process.stdout.write(`hearth demo: zone ${r.zone}, ${r.days} days from 8 January at ${r.dtS} s steps; outdoor mean ${r.outdoor.meanC.toFixed(1)} °C (min ${r.outdoor.minC.toFixed(1)}, max ${r.outdoor.maxC.toFixed(1)})\n\n`);
      process.stdout.write(demoTable(r) + '\n\n');
      process.stdout.write(`chart: ${chart}\n`);
    });
}
