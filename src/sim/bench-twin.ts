// Benchmark of the whole twin (physics, controllers, scheduler, workload) at fleet scale next to the room kernel
// alone on the same fleet and inputs in the same run, and the wall time of a season for every policy of a scenario.
import { performance } from 'node:perf_hooks';
import { allocateFleetArrays, RoomKernel } from '../physics/kernel.ts';
import { parseScenario } from './scenario.ts';
import type { Scenario } from './scenario.ts';
import { prepareTwin, runTwin } from './twin.ts';
import type { PreparedTwin, TwinDeps } from './twin.ts';
import type { HeatRequest } from '../control/types.ts';
import { runSimulation } from './sim.ts';

/** Options of benchTwin. */
export interface TwinBenchOptions {
  /** Heated rooms (one heater each), a multiple of 10. */
  readonly heaters: number;
  readonly days: number;
  /** The scenario whose season is timed for every policy (none: skipped). */
  readonly season?: Scenario;
  /** Worker threads for the season (default: one per policy, at most the cores). */
  readonly seasonThreads?: number;
  readonly onProgress?: (fraction: number, label: string) => void;
}

/** Figures of benchTwin. */
export interface TwinBenchResult {
  readonly heaters: number;
  readonly days: number;
  readonly steps: number;
  readonly stepS: number;
  readonly decisionPeriodS: number;
  readonly instances: number;
  /** Heater-steps per second of the full twin ('hearth' policy, warm run) and of the kernel alone on the same fleet. */
  readonly twinHeaterStepsPerSec: number;
  readonly kernelHeaterStepsPerSec: number;
  /**
   * twin / kernel (goal ≥ 1/3), both timed in the same stretch of time: the kernel alone runs in chunks of
   * KERNEL_CHUNK_STEPS steps between the twin's decision periods (each chunk timed apart and taken out of the twin's
   * time), so the machine's drift (its speed changes by up to 1.6× from one minute to the next) falls on both alike.
   */
  readonly twinOverKernel: number;
  /**
   * The engine's own cost: the same twin with stub brains (every controller asks a constant 150 W, the policy does
   * nothing), heater-steps/s, and its ratio to the kernel.
   */
  readonly engineHeaterStepsPerSec: number;
  readonly engineOverKernel: number;
  /**
   * Time of the twin run (its interleaved kernel chunks taken out), s, and of the kernel alone over those chunks, s:
   * the second, warm, run in the process (the figures above are its).
   */
  readonly twinS: number;
  readonly kernelS: number;
  /**
   * The same for the first, cold, run (the twin's code compiled as it goes: about 6 % slower at 100,000 heaters), and
   * its twin / kernel ratio.
   */
  readonly twinColdS: number;
  readonly kernelColdS: number;
  readonly twinOverKernelCold: number;
  /**
   * The kernel alone in one piece, s, before and after the twin runs: a check on the chunked figure (a chunk starts
   * with its rooms out of the cache; the drift shows as the difference between the two).
   */
  readonly kernelRunsS: readonly [number, number];
  /** Preparation (weather, sun, schedules, arrivals, models), s: once per simulation, not in the figures above. */
  readonly prepareS: number;
  /** Wall time of the season scenario for every policy, s (goal < 60), and its days and policies. */
  readonly seasonAllPoliciesS?: number;
  readonly seasonDays?: number;
  readonly seasonPolicies?: number;
  /** Energy-balance residual of the twin run (a check that it did the work). */
  readonly energyBalanceResidual: number;
}

const ERAS = ['pre1974', '1974-1982', '1989-2000', 'rt2005', 'rt2012'] as const;
const FACADES = [180, 90, 270, 0, 180];

/**
 * The bench fleet as a scenario: blocks of ten rooms (dwellings and offices of five eras on four façades, 3-board
 * heaters) in zone H1a from 6 January, with a bank, a render studio and science jobs sized to the fleet (about
 * 0.3 instances per heater per day, a third of the boards' hours).
 */
export function benchScenario(heaters: number, days: number): Scenario {
  const rooms = ERAS.flatMap((era, i) => [
    { name: `dwelling-${era}`, archetype: { use: 'dwelling', era, floorAreaM2: 20, facadeAzimuthDeg: FACADES[i] }, heater: { boards: 3, coresPerBoard: 8, memoryMBPerBoard: 16384 } },
    { name: `office-${era}`, archetype: { use: 'office', era, floorAreaM2: 25, facadeAzimuthDeg: FACADES[(i + 2) % 5] }, heater: { boards: 3, coresPerBoard: 8, memoryMBPerBoard: 16384 } },
  ]);
  const k = heaters / 1000;
  return parseScenario({
    name: `bench-${heaters}`,
    startDate: '2026-01-05',
    days,
    seed: 7,
    policies: ['hearth'],
    sites: [{ name: 'fleet', zone: 'H1a', buildings: [{ name: 'block', count: Math.max(1, Math.round(heaters / 10)), rooms }] }],
    workloads: [
      { kind: 'bank', name: 'bank', tasksPerNight: 10 * k, instancesPerTask: 200, cores: 8 },
      { kind: 'render', name: 'render', tasksPerDay: 1 * k, cores: 8, memoryMB: 8192 },
      { kind: 'science', name: 'science', jobsPerDay: 50 * k, instancesPerJob: 20, cores: 8 },
    ],
  });
}

/** Brains that cost nothing: a constant request per room and tank, a policy that never decides anything. */
const STUB_BRAINS: TwinDeps = {
  createPolicy: () => ({ name: 'stub', onSubmit: () => undefined, onChange: () => undefined, decide: () => undefined }),
  createRoomController: () => ({
    kind: 'pi',
    request: (_input, out: HeatRequest) => {
      out.powerW = 150;
      out.minW = 0;
      out.maxW = 300;
      return out;
    },
    delivered: () => undefined,
  }),
  createTankController: () => ({ request: (_input, out: HeatRequest) => out }),
};

/** Steps of the kernel alone per chunk interleaved with the twin (about half a second at 100,000 rooms). */
export const KERNEL_CHUNK_STEPS = 100;

/** The kernel alone on the twin's fleet: same archetypes, groups and weather, controls held; stepped in chunks. */
class KernelAlone {
  private readonly kernel: RoomKernel;
  private readonly shared: Float64Array[];
  private readonly temps: number[][];
  private readonly sol: number[];
  /** Steps done so far, and their time, s. */
  done = 0;
  seconds = 0;

  constructor(private readonly prep: PreparedTwin) {
    const fleet = allocateFleetArrays(prep.roomOrder.length, 4);
    this.kernel = new RoomKernel(
      prep.archetypes,
      prep.groups.map((g) => ({ archetype: g.archetype, start: g.start, count: g.count })),
      fleet,
    );
    this.kernel.fill(19);
    fleet.utilisation.fill(1);
    fleet.activeBoards.fill(2);
    fleet.freqLevel.fill(prep.models[0].board.levels - 1);
    this.shared = prep.groups.map((g) => new Float64Array(prep.archetypes[g.archetype].model.nu));
    const names = prep.groups.map((g) => prep.archetypes[g.archetype].model.inputNames);
    this.temps = names.map((ns) => ns.flatMap((name, j) => (name.startsWith('T_') ? [j] : [])));
    this.sol = names.map((ns) => ns.indexOf('Q_sol_1'));
  }

  /** Back to step 0 with the time at 0, for another run alongside the twin (the rooms keep their states: controls are
   * held, so a step costs the same from any state; the compiled step functions stay warm). */
  restart(): void {
    this.done = 0;
    this.seconds = 0;
  }

  /** Steps on to step `to` (at most the run's steps); returns the seconds this took. */
  stepTo(to: number): number {
    const prep = this.prep;
    const end = Math.min(to, prep.steps);
    const t = performance.now();
    for (let s = this.done; s < end; s++) {
      const h = Math.floor((s * prep.dtS) / 3600);
      for (let k = 0; k < this.shared.length; k++) {
        const g = prep.groups[k];
        const tout = prep.sites[g.site].outdoorStepC[s];
        for (const j of this.temps[k]) this.shared[k][j] = tout;
        this.shared[k][this.sol[k]] = g.solarW[h];
      }
      this.kernel.step(this.shared);
    }
    const dt = (performance.now() - t) / 1000;
    if (end > this.done) this.done = end;
    this.seconds += dt;
    return dt;
  }
}

/** The kernel alone over the whole run in one piece, s. */
function kernelOnly(prep: PreparedTwin): number {
  return new KernelAlone(prep).stepTo(prep.steps);
}

/** Runs the benchmark: the twin with the 'hearth' policy, the kernel alone, and (optionally) a season. */
export async function benchTwin(o: TwinBenchOptions): Promise<TwinBenchResult> {
  const scenario = benchScenario(o.heaters, o.days);
  let t = performance.now();
  const prep = prepareTwin(scenario);
  const prepareS = (performance.now() - t) / 1000;
  o.onProgress?.(0.02, 'kernel');
  const kernelBeforeS = kernelOnly(prep);
  o.onProgress?.(0.05, 'engine with stub brains');
  t = performance.now();
  runTwin(scenario, 'hearth', { prepared: prep, deps: STUB_BRAINS, onProgress: (f) => o.onProgress?.(0.05 + 0.1 * f, 'engine with stub brains') });
  const engineS = (performance.now() - t) / 1000;
  // The twin twice, each time with the kernel alone stepped in chunks between its decision periods (as far as the
  // twin has got), the same KernelAlone both times. The first run is cold (the policy's and the controllers' code is
  // compiled as it goes, its deoptimisations on first use of a branch); the figures are those of the second, warm, run
  // — the steady state a season-long simulation runs at — and the cold run's are reported next to them.
  const alone = new KernelAlone(prep);
  const timed = (from: number, to: number, label: string): { twinS: number; kernelS: number; residual: number } => {
    alone.restart();
    let inChunksS = 0;
    const t0 = performance.now();
    const r = runTwin(scenario, 'hearth', {
      prepared: prep,
      onProgress: (f) => {
        const at = Math.floor(f * prep.steps);
        if (at - alone.done >= KERNEL_CHUNK_STEPS) inChunksS += alone.stepTo(at);
        o.onProgress?.(from + (to - from) * f, label);
      },
    });
    const twinS = (performance.now() - t0) / 1000 - inChunksS;
    alone.stepTo(prep.steps);
    return { twinS, kernelS: alone.seconds, residual: r.summary.energyBalanceResidual };
  };
  const cold = timed(0.15, 0.37, 'twin (hearth, cold), kernel alone between its periods');
  const warm = timed(0.37, 0.6, 'twin (hearth, warm), kernel alone between its periods');
  const { twinS, kernelS } = warm;
  o.onProgress?.(0.6, 'kernel again');
  const kernelAfterS = kernelOnly(prep);
  const hs = prep.roomOrder.length * prep.steps;
  let season: { seasonAllPoliciesS: number; seasonDays: number; seasonPolicies: number } | undefined;
  if (o.season) {
    const sc = o.season;
    t = performance.now();
    await runSimulation(sc, { threads: o.seasonThreads, onProgress: (f) => o.onProgress?.(0.65 + 0.35 * f, `season of ${sc.name}`) });
    season = { seasonAllPoliciesS: (performance.now() - t) / 1000, seasonDays: sc.days, seasonPolicies: sc.policies.length };
  }
  o.onProgress?.(1, 'done');
  return {
    heaters: prep.roomOrder.length,
    days: o.days,
    steps: prep.steps,
    stepS: prep.dtS,
    decisionPeriodS: prep.periodS,
    instances: prep.arrivalRows.count,
    twinHeaterStepsPerSec: hs / twinS,
    kernelHeaterStepsPerSec: hs / kernelS,
    twinOverKernel: kernelS / twinS,
    engineHeaterStepsPerSec: hs / engineS,
    engineOverKernel: kernelS / engineS,
    twinS,
    kernelS,
    twinColdS: cold.twinS,
    kernelColdS: cold.kernelS,
    twinOverKernelCold: cold.kernelS / cold.twinS,
    kernelRunsS: [kernelBeforeS, kernelAfterS],
    prepareS,
    ...season,
    energyBalanceResidual: warm.residual,
  };
}

/** Default options: 100,000 heaters over 2 days at the scenario's 60 s steps and 300 s decision period. */
export const DEFAULT_TWIN_BENCH = { heaters: 100_000, days: 2 } as const;
