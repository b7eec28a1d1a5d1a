// `hearth bench kernel`: heater-steps per second of the room kernel on one core and all cores, next to a bare
// typed-array loop in the same run. Prints one JSON line per figure (with --json), the summary object last.
import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { benchKernel, DEFAULT_KERNEL_BENCH } from '../../sim/bench-kernel.ts';
import { InvalidParameterError } from '../../physics/errors.ts';
import { createProgress } from '../progress.ts';

const positiveInt = (flag: string, v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidParameterError(flag, `must be a positive integer, got ${v}`);
  return n;
};

/** Registers `hearth bench …`. */
export function registerBench(program: Command): void {
  const bench = program.command('bench').description('benchmarks (not tests): figures as JSON lines');
  bench
    .command('kernel')
    .description('room kernel heater-steps/s: one core, all cores (worker threads), bare typed-array loop')
    .option('--rooms <n>', 'heated rooms', String(DEFAULT_KERNEL_BENCH.rooms))
    .option('--days <n>', 'simulated days', String(DEFAULT_KERNEL_BENCH.days))
    .option('--step <s>', 'physics step, s', String(DEFAULT_KERNEL_BENCH.dtS))
    .option('--threads <n>', 'worker threads for the all-cores run', String(availableParallelism()))
    .option('--json', 'print JSON lines only')
    .action(async (o: { rooms: string; days: string; step: string; threads: string; json?: boolean }) => {
      const bar = createProgress('bench kernel');
      const r = await benchKernel({
        rooms: positiveInt('--rooms', o.rooms),
        days: positiveInt('--days', o.days),
        dtS: positiveInt('--step', o.step),
        threads: positiveInt('--threads', o.threads),
        onProgress: (f, label) => bar.update(f, label),
      });
      bar.stop();
      const figures: [string, number, string][] = [
        ['kernelHeaterStepsPerSec', r.kernelHeaterStepsPerSec, 'heater-steps/s'],
        ['kernelAllCoresHeaterStepsPerSec', r.kernelAllCoresHeaterStepsPerSec, 'heater-steps/s'],
        ['bareLoopHeaterStepsPerSec', r.bareLoopHeaterStepsPerSec, 'heater-steps/s'],
        ['bareOverKernel', r.bareOverKernel, 'ratio (goal ≤ 1.5)'],
        ['allCoresSpeedup', r.allCoresSpeedup, `ratio on ${r.threads} threads (goal ≥ 1.8 on 2 cores)`],
      ];
      for (const [figure, value, unit] of figures) {
        process.stdout.write(o.json ? JSON.stringify({ figure, value, unit }) + '\n' : `${figure.padEnd(34)} ${value.toPrecision(4).padStart(12)}  ${unit}\n`);
      }
      process.stdout.write(JSON.stringify({ bench: 'kernel', ...r }) + '\n');
    });
}
