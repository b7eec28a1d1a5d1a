// Benchmark of the room kernel: heater-steps per second on one core, on all cores (worker threads), and a bare
// typed-array loop doing the same arithmetic in the same run (the machine's memory-bandwidth reference).
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { allocateFleetArrays, RoomKernel } from '../physics/kernel.ts';
import type { FleetArrays, KernelArchetype, KernelGroup } from '../physics/kernel.ts';
import { buildKernelArchetype } from '../physics/building.ts';
import { dwellingRoom, officeRoom } from '../physics/archetypes.ts';
import type { Era } from '../physics/archetypes.ts';
import { createRng } from '../physics/random.ts';
import { allocateSharedInputs, ParallelKernel, stepInputs } from './parallel-kernel.ts';
import type { SharedInputs } from './parallel-kernel.ts';

export interface KernelBenchOptions {
  readonly rooms: number;
  readonly days: number;
  readonly dtS: number;
  readonly threads: number;
  /** Called with the fraction done (0..1) of the whole benchmark. */
  readonly onProgress?: (fraction: number, label: string) => void;
}

export interface KernelBenchResult {
  readonly rooms: number;
  readonly steps: number;
  readonly dtS: number;
  readonly threads: number;
  readonly kernelHeaterStepsPerSec: number;
  readonly kernelAllCoresHeaterStepsPerSec: number;
  readonly bareLoopHeaterStepsPerSec: number;
  /** bare loop speed / kernel speed on one core (goal ≤ 1.5). */
  readonly bareOverKernel: number;
  /** all-cores speed / one-core speed (goal ≥ 1.8 on 2 cores). */
  readonly allCoresSpeedup: number;
  /** Mean air temperature at the end, °C (the runs must agree: a check that all three did the same work). */
  readonly meanAirC: { kernel: number; allCores: number; bare: number };
}

const ERAS: Era[] = ['pre1974', '1974-1982', '1989-2000', 'rt2005', 'rt2012'];

/** The benchmark fleet: 10 archetypes (dwellings and offices of five eras), rooms split evenly between them. */
export function benchFleet(rooms: number, dtS: number): { archetypes: KernelArchetype[]; groups: KernelGroup[] } {
  const specs = ERAS.flatMap((e) => [dwellingRoom(e, 20), officeRoom(e, 25)]);
  const archetypes = specs.map((s) => buildKernelArchetype(s, dtS));
  const groups: KernelGroup[] = [];
  let start = 0;
  archetypes.forEach((_, k) => {
    const count = Math.floor((rooms * (k + 1)) / archetypes.length) - Math.floor((rooms * k) / archetypes.length);
    groups.push({ archetype: k, start, count });
    start += count;
  });
  return { archetypes, groups };
}

/** A winter week of shared inputs: outdoor temperature with a diurnal swing, sun on the façades by day. */
function benchInputs(archetypes: readonly KernelArchetype[], groups: readonly KernelGroup[], steps: number, dtS: number): SharedInputs {
  const nuMax = Math.max(...archetypes.map((a) => a.model.nu));
  const inp = allocateSharedInputs(steps, groups.length, nuMax);
  for (let s = 0; s < steps; s++) {
    const hour = ((s * dtS) / 3600) % 24;
    const outC = 5 + 4 * Math.sin(((hour - 9) / 24) * 2 * Math.PI);
    const sunWm2 = Math.max(0, 300 * Math.sin(((hour - 7) / 10) * Math.PI));
    const row = stepInputs(inp, s);
    groups.forEach((g, k) => {
      const names = archetypes[g.archetype].model.inputNames;
      names.forEach((n, j) => {
        row[k][j] = n.startsWith('T_') ? outC : n.startsWith('Q_sol') ? sunWm2 : 0;
      });
    });
  }
  return inp;
}

/** Same initial state and controls for every run, from a fixed seed. */
function initFleet(f: FleetArrays, archetypes: readonly KernelArchetype[]): void {
  const rng = createRng(42);
  for (let r = 0; r < f.rooms; r++) {
    for (const x of f.x) x[r] = 18 + 2 * rng.next();
    f.utilisation[r] = rng.next();
    f.activeBoards[r] = 1 + Math.floor(rng.next() * 3);
    f.freqLevel[r] = Math.floor(rng.next() * archetypes[0].heater.board.levels);
    f.booster[r] = rng.next() < 0.1 ? rng.next() : 0;
    f.gainsW[r] = 100 + 200 * rng.next();
    f.heatJ[r] = 0;
  }
}

function meanAir(f: FleetArrays, airSlot: number): number {
  let s = 0;
  for (let r = 0; r < f.rooms; r++) s += f.x[airSlot][r];
  return s / f.rooms;
}

/**
 * The bare loop: the same arithmetic as the kernel for 4-state archetypes (board power, derating, 4×4 matrix
 * update, heater and gain columns, energy), written by hand with coefficients in locals.
 */
function bareLoop(f: FleetArrays, archetypes: readonly KernelArchetype[], groups: readonly KernelGroup[], inputs: SharedInputs, steps: number): void {
  const [X0, X1, X2, X3] = f.x;
  const util = f.utilisation, nb = f.activeBoards, lv = f.freqLevel, bo = f.booster, gn = f.gainsW, hj = f.heatJ, pw = f.powerW;
  for (let s = 0; s < steps; s++) {
    const row = stepInputs(inputs, s);
    for (let k = 0; k < groups.length; k++) {
      const g = groups[k];
      const a = archetypes[g.archetype];
      const m = a.model;
      const A = m.Ad, B = m.Bd, nu = m.nu;
      const ih = m.inputNames.indexOf(a.heaterInput), ig = m.inputNames.indexOf(a.gainInput);
      const ib = m.stateNames.indexOf(a.bodyState);
      const u = row[k];
      let c0 = 0, c1 = 0, c2 = 0, c3 = 0;
      for (let j = 0; j < nu; j++) {
        if (j === ih || j === ig) continue;
        c0 += B[j] * u[j];
        c1 += B[nu + j] * u[j];
        c2 += B[2 * nu + j] * u[j];
        c3 += B[3 * nu + j] * u[j];
      }
      const a00 = A[0], a01 = A[1], a02 = A[2], a03 = A[3], a10 = A[4], a11 = A[5], a12 = A[6], a13 = A[7];
      const a20 = A[8], a21 = A[9], a22 = A[10], a23 = A[11], a30 = A[12], a31 = A[13], a32 = A[14], a33 = A[15];
      const h0 = B[ih], h1 = B[nu + ih], h2 = B[2 * nu + ih], h3 = B[3 * nu + ih];
      const q0 = B[ig], q1 = B[nu + ig], q2 = B[2 * nu + ig], q3 = B[3 * nu + ig];
      const h = a.heater;
      const bd = h.board, dynL = bd.dynWByLevel, idle = bd.idleW, offW = bd.offW, top = bd.dynTopW, nBoards = h.boards;
      const cap = h.capC, inv = h.invDerateSpanK, boost = h.boosterW, bDer = h.boosterDerates, dt = m.dtS;
      const body = ib === 0 ? X0 : ib === 1 ? X1 : ib === 2 ? X2 : X3;
      for (let r = g.start, end = g.start + g.count; r < end; r++) {
        const s0 = X0[r], s1 = X1[r], s2 = X2[r], s3 = X3[r];
        let d = (cap - body[r]) * inv;
        d = d > 1 ? 1 : d > 0 ? d : 0;
        const n = nb[r];
        let p = (nBoards - n) * offW;
        if (n > 0) {
          const uu = util[r];
          let dyn = dynL[lv[r]] * (uu < 0 ? 0 : uu > 1 ? 1 : uu);
          const lim = top * d;
          if (dyn > lim) dyn = lim;
          p += n * (idle + dyn);
        }
        let bf = bo[r];
        bf = bf < 0 ? 0 : bf > 1 ? 1 : bf;
        if (bDer && bf > d) bf = d;
        p += bf * boost;
        const q = gn[r];
        X0[r] = c0 + a00 * s0 + a01 * s1 + a02 * s2 + a03 * s3 + h0 * p + q0 * q;
        X1[r] = c1 + a10 * s0 + a11 * s1 + a12 * s2 + a13 * s3 + h1 * p + q1 * q;
        X2[r] = c2 + a20 * s0 + a21 * s1 + a22 * s2 + a23 * s3 + h2 * p + q2 * q;
        X3[r] = c3 + a30 * s0 + a31 * s1 + a32 * s2 + a33 * s3 + h3 * p + q3 * q;
        hj[r] += p * dt;
        pw[r] = p;
      }
    }
  }
}

/** Runs the three measurements on one fleet and one week of inputs; returns heater-steps per second. */
export async function benchKernel(o: KernelBenchOptions): Promise<KernelBenchResult> {
  const steps = Math.round((o.days * 86400) / o.dtS);
  const { archetypes, groups } = benchFleet(o.rooms, o.dtS);
  if (archetypes.some((a) => a.model.nx !== 4)) throw new Error('the bare loop is written for 4-state archetypes');
  const inputs = benchInputs(archetypes, groups, steps, o.dtS);
  const airSlot = archetypes[0].model.stateNames.indexOf('T_air');
  const chunk = Math.max(1, Math.round(3600 / o.dtS));
  const report = (phase: number, s: number, label: string): void => o.onProgress?.((phase + s / steps) / 3, label);

  // 1. Kernel, one core (this thread).
  const f1 = allocateFleetArrays(o.rooms, 4);
  initFleet(f1, archetypes);
  const k1 = new RoomKernel(archetypes, groups, f1);
  let t = performance.now();
  for (let s = 0; s < steps; s++) {
    k1.step(stepInputs(inputs, s));
    if (s % chunk === 0) report(0, s, 'kernel, 1 core');
  }
  const kernelS = (performance.now() - t) / 1000;

  // 2. Bare loop, one core.
  const f2 = allocateFleetArrays(o.rooms, 4);
  initFleet(f2, archetypes);
  t = performance.now();
  for (let s = 0; s < steps; s += chunk) {
    bareLoop(f2, archetypes, groups, { ...inputs, values: inputs.values.subarray(s * groups.length * inputs.nuMax) }, Math.min(chunk, steps - s));
    report(1, s, 'bare loop, 1 core');
  }
  const bareS = (performance.now() - t) / 1000;

  // 3. Kernel on all cores, hourly chunks (the twin's decision period).
  const pk = await ParallelKernel.create(archetypes, groups, o.rooms, inputs, o.threads);
  initFleet(pk.fleet, archetypes);
  t = performance.now();
  for (let s = 0; s < steps; s += chunk) {
    await pk.run(s, Math.min(steps, s + chunk));
    report(2, s, `kernel, ${pk.threads} threads`);
  }
  const allS = (performance.now() - t) / 1000;
  const threads = pk.threads;
  await pk.close();
  o.onProgress?.(1, 'done');

  const hs = o.rooms * steps;
  return {
    rooms: o.rooms,
    steps,
    dtS: o.dtS,
    threads,
    kernelHeaterStepsPerSec: hs / kernelS,
    kernelAllCoresHeaterStepsPerSec: hs / allS,
    bareLoopHeaterStepsPerSec: hs / bareS,
    bareOverKernel: kernelS / bareS,
    allCoresSpeedup: kernelS / allS,
    meanAirC: { kernel: meanAir(f1, airSlot), allCores: meanAir(pk.fleet, airSlot), bare: meanAir(f2, airSlot) },
  };
}

/** Default options: 100,000 rooms, one week, 60 s steps, all cores. */
export const DEFAULT_KERNEL_BENCH = { rooms: 100_000, days: 7, dtS: 60, threads: availableParallelism() } as const;
