// `hearth bench kernel`: heater-steps per second of the room kernel on one core and all cores, next to a bare
// typed-array loop in the same run; `hearth bench twin`: the full twin next to the kernel, and a season's wall time.
// `hearth bench http`: runs bench/http.ts (the coordinator's HTTP API under autocannon) in a child node.
// `hearth bench devices`: runs bench/devices.ts (simulated devices on the MQTT bus, submit-to-running) likewise.
// Each prints one JSON line per figure (with --json), the summary object last.
import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { benchKernel, DEFAULT_KERNEL_BENCH } from '../../sim/bench-kernel.ts';
import { benchTwin, DEFAULT_TWIN_BENCH, KERNEL_CHUNK_STEPS } from '../../sim/bench-twin.ts';
import { parseScenario } from '../../sim/scenario.ts';
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
  bench
    .command('twin')
    .description('full twin heater-steps/s (physics, controllers, hearth policy, workload) vs the kernel alone; season time of every policy')
    .option('--heaters <n>', 'heated rooms (a multiple of 10)', String(DEFAULT_TWIN_BENCH.heaters))
    .option('--days <n>', 'simulated days', String(DEFAULT_TWIN_BENCH.days))
    .option('--no-season', 'skip timing the Gironde season for every policy')
    .option('--json', 'print JSON lines only')
    .action(async (o: { heaters: string; days: string; season: boolean; json?: boolean }) => {
      const heaters = positiveInt('--heaters', o.heaters);
      if (heaters % 10 !== 0) throw new InvalidParameterError('--heaters', `must be a multiple of 10, got ${heaters}`);
      const season = o.season ? parseScenario(JSON.parse(readFileSync(new URL('../../../scenarios/gironde-social-hub.json', import.meta.url), 'utf8'))) : undefined;
      const bar = createProgress('bench twin');
      const r = await benchTwin({ heaters, days: positiveInt('--days', o.days), season, onProgress: (f, label) => bar.update(f, label) });
      bar.stop();
      const figures: [string, number | undefined, string][] = [
        ['twinHeaterStepsPerSec', r.twinHeaterStepsPerSec, `heater-steps/s (${r.heaters} heaters, ${r.days} days, hearth policy)`],
        ['kernelHeaterStepsPerSec', r.kernelHeaterStepsPerSec, `heater-steps/s (kernel alone, same fleet and weather, one core; in chunks of ${KERNEL_CHUNK_STEPS} steps between the twin's periods)`],
        ['twinOverKernel', r.twinOverKernel, 'ratio (goal ≥ 0.333; the second, warm, twin run in this process)'],
        ['twinOverKernelCold', r.twinOverKernelCold, 'ratio (the first, cold, twin run: its code compiled as it goes)'],
        ['engineHeaterStepsPerSec', r.engineHeaterStepsPerSec, 'heater-steps/s (the same twin with stub controllers and policy: the engine alone)'],
        ['engineOverKernel', r.engineOverKernel, 'ratio'],
        ['seasonAllPoliciesS', r.seasonAllPoliciesS, `s (${r.seasonDays ?? 0} days × ${r.seasonPolicies ?? 0} policies; goal < 60)`],
      ];
      for (const [figure, value, unit] of figures) {
        if (value === undefined) continue;
        process.stdout.write(o.json ? JSON.stringify({ figure, value, unit }) + '\n' : `${figure.padEnd(26)} ${value.toPrecision(4).padStart(12)}  ${unit}\n`);
      }
      process.stdout.write(JSON.stringify({ bench: 'twin', ...r }) + '\n');
    });
  bench
    .command('http')
    .description('coordinator HTTP API under autocannon (server in a child process) vs GET /versions; JSON lines')
    .option('--duration <s>', 'seconds per scenario', '5')
    .option('--warmup <s>', 'warm-up seconds before each scenario', '1')
    .option('--connections <n>', 'concurrent connections', '64')
    .option('--scenarios <list>', 'comma-separated subset (baseline always runs)')
    .option('--pool <n>', 'tasks read by the GET and stdout scenarios', '1000')
    .option('--cpu-prof <dir>', "write the server's CPU profile to this directory")
    .action((o: { duration: string; warmup: string; connections: string; scenarios?: string; pool: string; cpuProf?: string }) => {
      const script = fileURLToPath(new URL('../../../bench/http.ts', import.meta.url));
      const args = ['--duration', o.duration, '--warmup', o.warmup, '--connections', o.connections, '--pool', o.pool];
      if (o.scenarios !== undefined) args.push('--scenarios', o.scenarios);
      if (o.cpuProf !== undefined) args.push('--cpu-prof', o.cpuProf);
      const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), script, ...args], { stdio: 'inherit' });
      process.exitCode = r.status ?? 1;
    });
  bench
    .command('devices')
    .description('device bus: connected devices, telemetry ingest/s and p99 (raw aedes, embedded broker, mosquitto), submit-to-running; JSON lines')
    .option('--devices <n>', 'simulated devices to connect', '10000')
    .option('--rates <list>', 'offered telemetry messages/s, one step each, until one is not sustained', '10000,15000,22000,30000,40000')
    .option('--step <s>', 'seconds per telemetry step', '8')
    .option('--brokers <list>', 'raw, aedes-default, embedded, mosquitto (comma-separated)', 'raw,embedded,mosquitto')
    .option('--generators <n>', 'processes holding the simulated devices (default: 1 on ≤ 2 cores, else 2)')
    .option('--drain-ms <ms>', "how often the coordinator drains the link (the live loop's period)", '100')
    .option('--periods <list>', 'loop periods (s) for submit-to-running', '0.5')
    .option('--samples <n>', 'submissions per period', '40')
    .option('--no-submit', 'skip submit-to-running')
    .option('--cpu-prof <dir>', 'write CPU profiles of the coordinator (and platform) to this directory')
    .action((o: { devices: string; rates: string; step: string; brokers: string; generators?: string; drainMs: string; periods: string; samples: string; submit: boolean; cpuProf?: string }) => {
      const script = fileURLToPath(new URL('../../../bench/devices.ts', import.meta.url));
      const args = ['--devices', o.devices, '--rates', o.rates, '--step', o.step, '--brokers', o.brokers, '--drain-ms', o.drainMs, '--periods', o.periods, '--samples', o.samples];
      if (o.generators !== undefined) args.push('--generators', o.generators);
      if (!o.submit) args.push('--no-submit');
      if (o.cpuProf !== undefined) args.push('--cpu-prof', o.cpuProf);
      const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), script, ...args], { stdio: 'inherit' });
      process.exitCode = r.status ?? 1;
    });
}
