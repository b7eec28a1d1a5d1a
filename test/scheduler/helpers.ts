// Test helpers for the scheduler: tiny fleets and tables built by hand, and a minimal engine that checks every
// decision against the state it applies to (sequentially, as the twin engine will) and then applies it.
import { createHeaterModel } from '../../src/physics/heater.ts';
import { createRng } from '../../src/physics/random.ts';
import type { HeaterModel } from '../../src/physics/heater.ts';
import { allocateFleetView, createInstanceTable, growInstanceTable } from '../../src/scheduler/index.ts';
import type { FleetViewBuffer } from '../../src/scheduler/index.ts';
import type { Decision, InstanceTable, OverflowPool, Policy } from '../../src/scheduler/types.ts';
import { BOARD_FILLER, BOARD_FREE, InstancePhase, SchedulingType } from '../../src/scheduler/types.ts';

export const MODEL: HeaterModel = createHeaterModel();
export const TOP = MODEL.board.levels - 1;
export const POOL: OverflowPool = { pue: 1.58, priceEURPerCoreH: 0.05, carbonGPerKWh: 50 };

/** Per-board power at the lowest level of the default model, W (≈ 46.9). */
export const P0 = MODEL.board.maxWByLevel[0];

/** A fleet of `heaters` default heaters (3 boards), all online, sites 0..heaters−1 unless given. */
export function fleetOf(heaters: number, init: Partial<{ diffK: number; requestW: number; maxW: number; wantHeatH: number; sameSite: boolean }> = {}): FleetViewBuffer {
  const f = allocateFleetView(heaters, 3, [MODEL]);
  for (let h = 0; h < heaters; h++) {
    f.site[h] = init.sameSite ? 0 : h;
    f.diffK[h] = init.diffK ?? 0;
    f.airC[h] = 20 - f.diffK[h];
    f.requestW[h] = init.requestW ?? 0;
    f.maxW[h] = init.maxW ?? MODEL.maxW;
    f.wantHeatH[h] = init.wantHeatH ?? 0;
  }
  return f;
}

/** Fields of one instance (defaults: flex, 1 core, 1 GB, 1 h of work, no deadline, not checkpointable). */
export interface InstanceSpec {
  task?: number;
  type?: number;
  priority?: number;
  cores?: number;
  memoryMB?: number;
  gpu?: number;
  submittedS?: number;
  deadlineS?: number;
  workS?: number;
  estWorkS?: number;
  doneS?: number;
  checkpointable?: number;
  dataSite?: number;
}

/** Appends an instance (phase queued) and returns its index. */
export function addInstance(t: InstanceTable, s: InstanceSpec = {}): number {
  if (t.count === t.taskId.length) growInstanceTable(t, t.count * 2 + 8);
  const i = t.count++;
  t.taskId[i] = s.task ?? 0;
  t.instanceIndex[i] = i;
  t.type[i] = s.type ?? SchedulingType.flex;
  t.priority[i] = s.priority ?? 0;
  t.cores[i] = s.cores ?? 1;
  t.memoryMB[i] = s.memoryMB ?? 1024;
  t.gpu[i] = s.gpu ?? 0;
  t.submittedS[i] = s.submittedS ?? 0;
  t.deadlineS[i] = s.deadlineS ?? Infinity;
  t.workS[i] = s.workS ?? 3600;
  t.estWorkS[i] = s.estWorkS ?? t.workS[i];
  t.doneS[i] = s.doneS ?? 0;
  t.checkpointable[i] = s.checkpointable ?? 0;
  t.dataSite[i] = s.dataSite ?? -1;
  t.phase[i] = InstancePhase.queued;
  return i;
}

/** A table with room for `n` instances. */
export function tableOf(n = 16): InstanceTable {
  return createInstanceTable(n);
}

/** Puts instance i on board (h, b) as running (or paused), as if an earlier round had started it. */
export function placeRunning(f: FleetViewBuffer, t: InstanceTable, i: number, h: number, b: number, paused = false): void {
  t.phase[i] = paused ? InstancePhase.paused : InstancePhase.running;
  t.heater[i] = h;
  t.board[i] = b;
  t.attempts[i] = 1;
  t.startedS[i] = 0;
  f.boardInstance[h * f.maxBoards + b] = i;
}

/** Runs one round and returns its decisions. */
export function decide(p: Policy, f: FleetViewBuffer, t: InstanceTable): Decision[] {
  const out: Decision[] = [];
  p.decide(f, t, POOL, out);
  return out;
}

/** Decisions of one kind. */
export function ofKind<K extends Decision['kind']>(ds: readonly Decision[], kind: K): Extract<Decision, { kind: K }>[] {
  return ds.filter((d): d is Extract<Decision, { kind: K }> => d.kind === kind);
}

/**
 * Checks each decision against the state left by the previous ones and applies it (phases, boards, levels).
 * Throws with the offending decision on the first invalid one. Returns the instances whose phase went back to
 * queued (kills), for onChange.
 */
export function applyDecisions(f: FleetViewBuffer, t: InstanceTable, ds: readonly Decision[]): number[] {
  const seen = new Set<number>();
  const requeued: number[] = [];
  const mb = f.maxBoards;
  const fail = (d: Decision, why: string): never => {
    throw new Error(`invalid decision ${JSON.stringify(d)}: ${why}`);
  };
  const inst = (d: Decision, i: number): void => {
    if (!Number.isInteger(i) || i < 0 || i >= t.count) fail(d, 'no such instance');
    if (seen.has(i)) fail(d, 'second decision for the same instance in one round');
    seen.add(i);
    const ph = t.phase[i];
    if (ph === InstancePhase.done || ph === InstancePhase.failed || ph === InstancePhase.overflow) fail(d, `instance is ${ph}`);
  };
  const board = (d: Decision, h: number, b: number): number => {
    if (!Number.isInteger(h) || h < 0 || h >= f.heaters) fail(d, 'no such heater');
    if (f.online[h] === 0) fail(d, 'heater offline');
    if (!Number.isInteger(b) || b < 0 || b >= f.boards[h]) fail(d, 'no such board');
    return h * mb + b;
  };
  const fits = (d: Decision, i: number, h: number): void => {
    if (t.cores[i] > f.coresPerBoard[h] || t.memoryMB[i] > f.memoryMBPerBoard[h] || (t.gpu[i] !== 0 && f.gpu[h] === 0)) fail(d, 'does not fit');
  };
  const vacate = (i: number): void => {
    if (t.heater[i] >= 0 && t.board[i] >= 0) f.boardInstance[t.heater[i] * mb + t.board[i]] = BOARD_FREE;
    t.heater[i] = -1;
    t.board[i] = -1;
  };
  for (const d of ds) {
    switch (d.kind) {
      case 'start': {
        inst(d, d.instance);
        if (t.phase[d.instance] !== InstancePhase.queued) fail(d, 'not queued');
        const s = board(d, d.heater, d.board);
        if (f.boardInstance[s] !== BOARD_FREE && f.boardInstance[s] !== BOARD_FILLER) fail(d, 'board busy');
        fits(d, d.instance, d.heater);
        f.boardInstance[s] = d.instance;
        t.phase[d.instance] = InstancePhase.running;
        t.heater[d.instance] = d.heater;
        t.board[d.instance] = d.board;
        t.attempts[d.instance]++;
        if (Number.isNaN(t.startedS[d.instance])) t.startedS[d.instance] = f.nowS;
        break;
      }
      case 'pause':
        inst(d, d.instance);
        if (t.phase[d.instance] !== InstancePhase.running) fail(d, 'not running');
        t.phase[d.instance] = InstancePhase.paused;
        break;
      case 'resume':
        inst(d, d.instance);
        if (t.phase[d.instance] !== InstancePhase.paused) fail(d, 'not paused');
        if (f.online[t.heater[d.instance]] === 0) fail(d, 'heater offline');
        t.phase[d.instance] = InstancePhase.running;
        break;
      case 'migrate': {
        inst(d, d.instance);
        if (t.phase[d.instance] !== InstancePhase.paused) fail(d, 'not paused');
        if (!t.checkpointable[d.instance]) fail(d, 'not checkpointable');
        const s = board(d, d.heater, d.board);
        if (f.boardInstance[s] !== BOARD_FREE) fail(d, 'migration to a board that is not free');
        fits(d, d.instance, d.heater);
        vacate(d.instance);
        f.boardInstance[s] = d.instance;
        t.heater[d.instance] = d.heater;
        t.board[d.instance] = d.board;
        t.phase[d.instance] = InstancePhase.running;
        break;
      }
      case 'kill':
        inst(d, d.instance);
        if (t.phase[d.instance] !== InstancePhase.running && t.phase[d.instance] !== InstancePhase.paused) fail(d, 'not on a board');
        vacate(d.instance);
        t.phase[d.instance] = InstancePhase.queued;
        if (!t.checkpointable[d.instance]) t.doneS[d.instance] = 0;
        requeued.push(d.instance);
        break;
      case 'overflow':
        inst(d, d.instance);
        if (t.phase[d.instance] !== InstancePhase.queued && t.phase[d.instance] !== InstancePhase.paused) fail(d, 'not queued or paused');
        vacate(d.instance);
        t.phase[d.instance] = InstancePhase.overflow;
        break;
      case 'filler': {
        const s = board(d, d.heater, d.board);
        if (d.on && f.boardInstance[s] !== BOARD_FREE) fail(d, 'filler on a busy board');
        if (!d.on && f.boardInstance[s] !== BOARD_FILLER) fail(d, 'no filler to stop');
        f.boardInstance[s] = d.on ? BOARD_FILLER : BOARD_FREE;
        break;
      }
      case 'level': {
        board(d, d.heater, 0);
        const levels = f.models[f.model[d.heater]].board.levels;
        if (!Number.isInteger(d.level) || d.level < 0 || d.level >= levels) fail(d, 'level out of range');
        f.level[d.heater] = d.level;
        break;
      }
      case 'booster':
        board(d, d.heater, 0);
        if (!(d.fraction >= 0 && d.fraction <= 1)) fail(d, 'booster out of 0..1');
        f.booster[d.heater] = d.fraction;
        break;
      case 'resistive':
        board(d, d.heater, 0);
        if (!(d.powerW >= 0 && d.powerW <= f.models[f.model[d.heater]].maxW)) fail(d, 'resistive power out of range');
        break;
      default: {
        const never: never = d;
        throw new Error(`unknown decision ${JSON.stringify(never)}`);
      }
    }
  }
  // Consistency: every board holds at most one instance and the table agrees.
  for (let h = 0; h < f.heaters; h++) {
    for (let b = 0; b < mb; b++) {
      const v = f.boardInstance[h * mb + b];
      if (v >= 0 && (t.heater[v] !== h || t.board[v] !== b)) throw new Error(`board (${h}, ${b}) holds ${v}, which is on (${t.heater[v]}, ${t.board[v]})`);
    }
  }
  return requeued;
}

/** Advances time: running instances progress at their heater's level; finished ones end (done) and are reported. */
export function advance(f: FleetViewBuffer, t: InstanceTable, p: Policy, dtS: number): void {
  f.nowS += dtS;
  for (let i = 0; i < t.count; i++) {
    if (t.phase[i] !== InstancePhase.running) continue;
    const h = t.heater[i];
    t.doneS[i] += dtS * f.models[f.model[h]].board.relFreqByLevel[f.level[h]];
    if (t.doneS[i] >= t.workS[i]) {
      f.boardInstance[h * f.maxBoards + t.board[i]] = BOARD_FREE;
      t.phase[i] = InstancePhase.done;
      t.heater[i] = -1;
      t.board[i] = -1;
      t.endedS[i] = f.nowS;
      p.onChange(i, t);
    }
  }
}

/** One engine round: decide, validate and apply, report requeued instances. Returns the decisions. */
export function step(p: Policy, f: FleetViewBuffer, t: InstanceTable): Decision[] {
  const ds = decide(p, f, t);
  for (const i of applyDecisions(f, t, ds)) p.onChange(i, t);
  return ds;
}

/**
 * The scale scenario (deterministic): `heaters` default heaters (3 boards; 4 per site; every tenth a boiler) with
 * varied diffs, requests, caps and heat forecasts, and `instances` queued instances in tasks of 100 (one task in
 * five onDemand, the rest flex; three in ten with a deadline 2–48 h ahead; 10 min–2 h of work; half checkpointable).
 */
export function scaleFixture(heaters: number, instances: number, seed = 1): { f: FleetViewBuffer; t: InstanceTable; ids: number[] } {
  const rng = createRng(seed);
  const f = allocateFleetView(heaters, 3, [MODEL]);
  f.nowS = 0;
  for (let h = 0; h < heaters; h++) {
    f.site[h] = h >> 2;
    f.kind[h] = h % 10 === 0 ? 1 : 0;
    f.diffK[h] = -6 + 11 * rng.next();
    f.airC[h] = 20 - f.diffK[h];
    const req = rng.next() < 0.4 ? 0 : 500 * rng.next();
    f.requestW[h] = req;
    f.minW[h] = 0.5 * req;
    f.maxW[h] = Math.min(MODEL.maxW, req + 100 + 200 * rng.next());
    f.wantHeatH[h] = 24 * rng.next();
    f.level[h] = 2;
    f.online[h] = rng.next() < 0.999 ? 1 : 0;
  }
  const t = createInstanceTable(instances);
  const sites = Math.max(1, heaters >> 2);
  for (let i = 0; i < instances; i++) {
    const task = (i / 100) | 0;
    t.taskId[i] = task;
    t.instanceIndex[i] = i % 100;
    t.type[i] = task % 5 === 0 ? SchedulingType.onDemand : SchedulingType.flex;
    t.priority[i] = task % 3;
    t.cores[i] = 1 + (task % 8);
    t.memoryMB[i] = 1024 * (1 + (task % 8));
    t.submittedS[i] = -task;
    const r = ((task * 2654435761) >>> 0) / 4294967296;
    t.deadlineS[i] = r < 0.3 ? 3600 * (2 + 46 * r / 0.3) : Infinity;
    t.workS[i] = 600 + 6600 * rng.next();
    t.estWorkS[i] = t.workS[i];
    t.checkpointable[i] = task & 1;
    t.dataSite[i] = task % 4 === 0 ? -1 : task % sites;
    t.phase[i] = InstancePhase.queued;
  }
  t.count = instances;
  const ids = new Array<number>(instances);
  for (let i = 0; i < instances; i++) ids[i] = i;
  return { f, t, ids };
}
