// Computing heater: several boards plus an optional resistive booster, derated by the radiator body temperature;
// scalar fast paths for struct-of-arrays kernels and a planner that turns a heat request (W) into boards and levels.
import { createBoardModel, boardPower, DEFAULT_BOARD, levelShare } from './board.ts';
import type { BoardModel, BoardOperatingPoint, BoardParams } from './board.ts';
import { InvalidParameterError, requireFinite } from './errors.ts';

/** Parameters of one heater. Defaults are estimates (PHYSICS.md "est."). */
export interface HeaterParams {
  /** Number of boards (1..32). Est. 3 for a ≈ 500 W "Q.rad"-like unit. */
  readonly boards: number;
  /** Board parameters (defaults: DEFAULT_BOARD). */
  readonly board: Partial<BoardParams>;
  /** Resistive booster power when fully on, W (0 = no booster). Qarnot QC-1: 200 W. */
  readonly boosterW: number;
  /** Body temperature where derating starts, °C (est. 55). Below it boards run unrestricted. */
  readonly derateStartC: number;
  /** Body temperature cap, °C (est. 65; 60–70). At or above it boards only idle and the booster is off. */
  readonly capC: number;
  /** Whether the booster is derated like the boards' dynamic power (default true: a cap is a safety limit). */
  readonly boosterDerates: boolean;
}

/** Default heater (est.): three DEFAULT_BOARDs (≈ 495 W), no booster, derating from 55 °C to a 65 °C cap. */
export const DEFAULT_HEATER: HeaterParams = {
  boards: 3,
  board: DEFAULT_BOARD,
  boosterW: 0,
  derateStartC: 55,
  capC: 65,
  boosterDerates: true,
};

/** Qarnot QC-1-like heater: 450 W of compute (3 × 150 W boards, est.) + a 200 W resistive booster [press reports]. */
export const QC1_HEATER: HeaterParams = {
  ...DEFAULT_HEATER,
  board: { ...DEFAULT_BOARD, maxW: 150 },
  boosterW: 200,
};

/** A validated heater, ready for the fast paths. Treat as immutable. */
export interface HeaterModel {
  readonly boards: number;
  readonly board: BoardModel;
  readonly boosterW: number;
  readonly derateStartC: number;
  readonly capC: number;
  /** 1 / (capC − derateStartC), 1/K. */
  readonly invDerateSpanK: number;
  readonly boosterDerates: boolean;
  /** All boards at full load, top level, no derating, W. */
  readonly maxComputeW: number;
  /** maxComputeW + boosterW, W. */
  readonly maxW: number;
}

/** Validates heater parameters (defaults fill the gaps; `board` is merged over DEFAULT_BOARD); `field` prefixes error paths. */
export function createHeaterModel(params: Partial<HeaterParams> = {}, field = 'heater'): HeaterModel {
  const p: HeaterParams = { ...DEFAULT_HEATER, ...params };
  const boards = requireFinite(`${field}.boards`, p.boards, 1, 32);
  if (!Number.isInteger(boards)) throw new InvalidParameterError(`${field}.boards`, `must be an integer, got ${boards}`);
  const board = createBoardModel(p.board, `${field}.board`);
  const boosterW = requireFinite(`${field}.boosterW`, p.boosterW, 0);
  const capC = requireFinite(`${field}.capC`, p.capC, -50, 150);
  const derateStartC = requireFinite(`${field}.derateStartC`, p.derateStartC, -50, 150);
  if (!(derateStartC < capC)) throw new InvalidParameterError(`${field}.derateStartC`, `must be below capC (${capC} °C), got ${derateStartC}`);
  if (typeof p.boosterDerates !== 'boolean') throw new InvalidParameterError(`${field}.boosterDerates`, 'must be a boolean');
  const maxComputeW = boards * board.maxW;
  return {
    boards,
    board,
    boosterW,
    derateStartC,
    capC,
    invDerateSpanK: 1 / (capC - derateStartC),
    boosterDerates: p.boosterDerates,
    maxComputeW,
    maxW: maxComputeW + boosterW,
  };
}

/**
 * Derating factor (dimensionless, 0..1) at a radiator body temperature (°C): 1 at or below derateStartC,
 * falling linearly to 0 at capC, 0 above it (and for NaN). Scales the allowed dynamic power of each board.
 */
export function derateFactor(h: HeaterModel, bodyTempC: number): number {
  const d = (h.capC - bodyTempC) * h.invDerateSpanK;
  return d > 1 ? 1 : d > 0 ? d : 0;
}

/**
 * Scalar fast path (allocation-free): heater electrical power, W (= heat, W). `activeBoards` boards compute at
 * frequency `level` and `utilisation` (0..1); the others are off. Each active board draws
 * idleW + min(dynW(level)·u, d·dynTopW), where d = derateFactor(bodyTempC): derating caps the dynamic power
 * (a power limit), so a board already below the limit is untouched and at/above the cap only idles.
 * The booster draws boosterW·min(boosterFraction, d) (or boosterW·boosterFraction if it does not derate).
 * No validation: counts and levels must be in range.
 */
export function heaterPowerW(
  h: HeaterModel,
  activeBoards: number,
  level: number,
  utilisation: number,
  boosterFraction: number,
  bodyTempC: number,
): number {
  let d = (h.capC - bodyTempC) * h.invDerateSpanK;
  d = d > 1 ? 1 : d > 0 ? d : 0;
  const b = h.board;
  let p = (h.boards - activeBoards) * b.offW;
  if (activeBoards > 0) {
    const u = utilisation < 0 ? 0 : utilisation > 1 ? 1 : utilisation;
    let dyn = b.dynWByLevel[level] * u;
    const cap = b.dynTopW * d;
    if (dyn > cap) dyn = cap;
    p += activeBoards * (b.idleW + dyn);
  }
  let bf = boosterFraction < 0 ? 0 : boosterFraction > 1 ? 1 : boosterFraction;
  if (h.boosterDerates && bf > d) bf = d;
  return p + bf * h.boosterW;
}

/**
 * Scalar fast path: relative compute throughput of the heater (1 = one board fully utilised at the top level)
 * for the same arguments as heaterPowerW. A board capped by derating is throttled by duty cycling: its
 * throughput scales with the dynamic power it is allowed.
 */
export function heaterThroughput(h: HeaterModel, activeBoards: number, level: number, utilisation: number, bodyTempC: number): number {
  if (activeBoards <= 0) return 0;
  let d = (h.capC - bodyTempC) * h.invDerateSpanK;
  d = d > 1 ? 1 : d > 0 ? d : 0;
  const b = h.board;
  let u = utilisation < 0 ? 0 : utilisation > 1 ? 1 : utilisation;
  const dynL = b.dynWByLevel[level];
  const cap = b.dynTopW * d;
  if (dynL * u > cap) u = dynL > 0 ? cap / dynL : u;
  return activeBoards * b.relFreqByLevel[level] * u;
}

/** What a heater is asked to do (readable API): one operating point per board (missing boards are off). */
export interface HeaterCommand {
  readonly boards: readonly BoardOperatingPoint[];
  /** Requested booster duty 0..1 (default 0). */
  readonly boosterFraction?: number;
}

/** Allowed electrical power after derating, per board and booster. */
export interface HeaterPower {
  /** Allowed electrical power of each board, W. */
  readonly boardW: readonly number[];
  /** Relative throughput of each board after throttling. */
  readonly boardThroughput: readonly number[];
  /** Allowed booster power, W. */
  readonly boosterW: number;
  /** Total electrical power = heat released, W. */
  readonly totalW: number;
  /** Total relative compute throughput. */
  readonly throughput: number;
  /** Derating factor applied (1 = none, 0 = at/above the cap). */
  readonly derate: number;
}

/**
 * Readable per-object API: given the body temperature (°C, owned by the room model) and the requested
 * operating points, returns the allowed power of each board and of the booster (W) and the throughput.
 * Same physics as heaterPowerW (derating caps each active board's dynamic power at d·dynTopW).
 */
export function heaterPower(h: HeaterModel, cmd: HeaterCommand, bodyTempC: number, field = 'heater'): HeaterPower {
  requireFinite(`${field}.bodyTempC`, bodyTempC);
  if (cmd.boards.length > h.boards) {
    throw new InvalidParameterError(`${field}.boards`, `command has ${cmd.boards.length} boards, heater has ${h.boards}`);
  }
  const bf = requireFinite(`${field}.boosterFraction`, cmd.boosterFraction ?? 0, 0, 1);
  const d = derateFactor(h, bodyTempC);
  const b = h.board;
  const cap = b.dynTopW * d;
  const boardW: number[] = [];
  const boardTp: number[] = [];
  for (let i = 0; i < h.boards; i++) {
    const op: BoardOperatingPoint = cmd.boards[i] ?? { state: 'off' };
    const req = boardPower(b, op, `${field}.boards[${i}]`);
    if (op.state === 'active' && req.powerW - b.idleW > cap) {
      const dynReq = req.powerW - b.idleW;
      boardW.push(b.idleW + cap);
      boardTp.push(req.throughput * (cap / dynReq));
    } else {
      boardW.push(req.powerW);
      boardTp.push(req.throughput);
    }
  }
  const boosterW = h.boosterW * (h.boosterDerates ? Math.min(bf, d) : bf);
  const totalW = boardW.reduce((s, w) => s + w, 0) + boosterW;
  return { boardW, boardThroughput: boardTp, boosterW, totalW, throughput: boardTp.reduce((s, t) => s + t, 0), derate: d };
}

/** Options of planHeat. */
export interface HeatPlanOptions {
  /** Radiator body temperature, °C (default: no derating). */
  readonly bodyTempC?: number;
  /**
   * 'duty' (default): pick the lowest level that can reach the per-board target and a utilisation (duty fraction)
   * that delivers it exactly; 'levels': utilisation fixed, pick the level whose power is nearest the target.
   */
  readonly mode?: 'duty' | 'levels';
  /** Boards computing now: kept while the request stays within their modulation range (hysteresis). */
  readonly currentBoards?: number;
  /** Use the booster for what the boards cannot deliver (default true). */
  readonly allowBooster?: boolean;
  /** Utilisation of active boards in 'levels' mode, 0..1 (default 1: CPU-bound work). */
  readonly utilisation?: number;
}

/** Operating point chosen by planHeat: feed activeBoards/level/utilisation/boosterFraction to heaterPowerW. */
export interface HeatPlan {
  readonly activeBoards: number;
  readonly level: number;
  readonly utilisation: number;
  readonly boosterFraction: number;
  /** Electrical power (= heat) of the plan after derating, W. */
  readonly powerW: number;
  /** Relative compute throughput of the plan. */
  readonly throughput: number;
}

/**
 * Picks boards, frequency level and utilisation (or duty fraction) to deliver `requestW` of heat (W).
 * Frequency is modulated before boards are started or stopped: a running set of `currentBoards` is kept while
 * currentBoards × [power at the lowest level, power at the top level] contains the request; otherwise boards
 * are started one range at a time (fewest boards that reach the request) or stopped (most boards whose lowest
 * level stays within the request). Requests below half an idle board give all boards off. The booster covers
 * what all boards at their (derated) maximum cannot. The plan's powerW may differ from requestW when the
 * request is out of range or (in 'levels' mode) between levels.
 */
export function planHeat(h: HeaterModel, requestW: number, opts: HeatPlanOptions = {}): HeatPlan {
  requireFinite('requestW', requestW);
  const bodyTempC = opts.bodyTempC === undefined ? -Infinity : requireFinite('bodyTempC', opts.bodyTempC);
  const mode = opts.mode ?? 'duty';
  if (mode !== 'duty' && mode !== 'levels') throw new InvalidParameterError('mode', `must be 'duty' or 'levels', got ${String(mode)}`);
  const uFixed = mode === 'levels' ? requireFinite('utilisation', opts.utilisation ?? 1, 0, 1) : 1;
  const allowBooster = opts.allowBooster ?? true;
  const b = h.board;
  const d = derateFactor(h, bodyTempC);
  const capDyn = b.dynTopW * d;
  const effDyn = (l: number, u: number): number => Math.min(b.dynWByLevel[l] * u, capDyn);
  const perBoardMax = b.idleW + effDyn(b.levels - 1, uFixed);
  const lowFull = b.idleW + effDyn(0, uFixed);
  const minOn = mode === 'duty' ? b.idleW : lowFull;
  const off: HeatPlan = { activeBoards: 0, level: 0, utilisation: 0, boosterFraction: 0, powerW: heaterPowerW(h, 0, 0, 0, 0, bodyTempC), throughput: 0 };
  if (requestW < minOn / 2) return off;

  // Number of boards: hysteresis around the running set.
  const fewest = (): number => Math.min(h.boards, Math.max(1, Math.ceil(requestW / perBoardMax - 1e-12)));
  let n: number;
  const cur = opts.currentBoards;
  if (cur !== undefined && (!Number.isInteger(cur) || cur < 0 || cur > h.boards)) {
    throw new InvalidParameterError('currentBoards', `must be an integer in 0..${h.boards}, got ${String(cur)}`);
  }
  if (cur !== undefined && cur > 0 && requestW >= cur * lowFull && (requestW <= cur * perBoardMax || cur === h.boards)) n = cur;
  else if (cur !== undefined && cur > 0 && requestW < cur * lowFull) n = Math.max(1, Math.min(cur - 1, Math.floor(requestW / lowFull)), fewest());
  else n = fewest();

  // Level and utilisation for the per-board target.
  const t = Math.min(Math.max(requestW / n, minOn), perBoardMax);
  let level = b.levels - 1;
  let u = uFixed;
  if (mode === 'levels') {
    let best = Infinity;
    for (let l = 0; l < b.levels; l++) {
      const err = Math.abs(b.idleW + effDyn(l, uFixed) - t);
      if (err < best - 1e-9) {
        best = err;
        level = l;
      }
    }
  } else {
    const need = t - b.idleW;
    for (let l = 0; l < b.levels; l++) {
      if (effDyn(l, 1) >= need - 1e-9) {
        level = l;
        break;
      }
    }
    const dynL = b.dynWByLevel[level];
    u = dynL > 0 ? Math.min(1, Math.max(0, need / dynL)) : 1;
  }

  // Booster for the remainder once every board is at its maximum.
  let boosterFraction = 0;
  const computeW = heaterPowerW(h, n, level, u, 0, bodyTempC);
  const excess = requestW - computeW;
  if (allowBooster && h.boosterW > 0 && n === h.boards && excess > 1e-9) {
    boosterFraction = mode === 'duty' ? Math.min(1, excess / h.boosterW) : excess >= h.boosterW / 2 ? 1 : 0;
    if (h.boosterDerates) boosterFraction = Math.min(boosterFraction, d);
  }
  return {
    activeBoards: n,
    level,
    utilisation: u,
    boosterFraction,
    powerW: heaterPowerW(h, n, level, u, boosterFraction, bodyTempC),
    throughput: heaterThroughput(h, n, level, u, bodyTempC),
  };
}

/**
 * The same heater on hardware that holds a frequency level by CPU share at the top clock instead of by its clock
 * (our agents: agent/throttle.ts): each level draws the same power, and its throughput — `relFreqByLevel`, what the
 * schedulers and heaterThroughput read — is the level's CPU share (levelShare), below its relative frequency when
 * dynamic power grows faster than the clock (default board: 0.125 against 0.5 at the lowest level).
 */
export function shareThrottledHeater(h: HeaterModel): HeaterModel {
  const b = h.board;
  const relFreqByLevel = Float64Array.from({ length: b.levels }, (_, l) => levelShare(b, l));
  return { ...h, board: { ...b, relFreqByLevel } };
}
