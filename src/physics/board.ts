// Board power model: one computer inside a heater or boiler, with power states (off, idle, active at one of N
// frequency levels); electrical power (= heat) and relative compute throughput from utilisation and frequency.
import { InvalidParameterError, requireFinite, isList } from './errors.ts';

/** Numeric power-state codes (struct-of-arrays friendly): off, idle (on, no work), active (computing). */
export const BoardState = { off: 0, idle: 1, active: 2 } as const;
/** A power-state code: 0 off, 1 idle, 2 active. */
export type BoardStateCode = (typeof BoardState)[keyof typeof BoardState];

/** Parameters of one board. Every default is an estimate (PHYSICS.md "est."). */
export interface BoardParams {
  /** Power when on and idle (at any frequency level), W. Est. 20–40 W per desktop-class board. */
  readonly idleW: number;
  /** Power at full utilisation at the highest frequency level, W. Est. ≈ 165 W. */
  readonly maxW: number;
  /** Power when off (stand-by of the power supply), W. Est. 0. */
  readonly offW: number;
  /** Clock frequency of each level, GHz, strictly ascending (index = level). Only ratios matter. */
  readonly freqLevelsGHz: readonly number[];
  /** Exponent of the dynamic power in frequency, P_max(f) − P_idle ∝ f^exponent (≈ 3: P ∝ f·V², V ∝ f). */
  readonly dynamicExponent: number;
}

/** Default board (est.): idle 30 W, 165 W at full load, five levels 2.0–4.0 GHz, dynamic power ∝ f³. Three make ≈ 500 W. */
export const DEFAULT_BOARD: BoardParams = {
  idleW: 30,
  maxW: 165,
  offW: 0,
  freqLevelsGHz: [2.0, 2.5, 3.0, 3.5, 4.0],
  dynamicExponent: 3,
};

/** A validated board with per-level tables, ready for the scalar fast paths. Treat as immutable. */
export interface BoardModel {
  readonly idleW: number;
  readonly maxW: number;
  readonly offW: number;
  readonly levels: number;
  readonly freqLevelsGHz: readonly number[];
  /** Full-utilisation power at each level, W: P_idle + (P_max − P_idle)·(f/f_top)^exponent. */
  readonly maxWByLevel: Float64Array;
  /** Dynamic power span at each level, W: maxWByLevel − idleW. */
  readonly dynWByLevel: Float64Array;
  /** Relative frequency f/f_top of each level = throughput of one fully utilised board (1 at the top level). */
  readonly relFreqByLevel: Float64Array;
  /** Dynamic span at the top level, W (maxW − idleW). */
  readonly dynTopW: number;
}

/** Validates board parameters (defaults fill the gaps) and builds the per-level tables; `field` prefixes error paths. */
export function createBoardModel(params: Partial<BoardParams> = {}, field = 'board'): BoardModel {
  const p: BoardParams = { ...DEFAULT_BOARD, ...params };
  const idleW = requireFinite(`${field}.idleW`, p.idleW, 0);
  const maxW = requireFinite(`${field}.maxW`, p.maxW, 0);
  if (idleW > maxW) throw new InvalidParameterError(`${field}.idleW`, `idle power ${idleW} W exceeds maxW ${maxW} W`);
  const offW = requireFinite(`${field}.offW`, p.offW, 0, idleW);
  const exponent = requireFinite(`${field}.dynamicExponent`, p.dynamicExponent, 0, 10);
  const f = p.freqLevelsGHz;
  if (!isList(f) || f.length < 1 || f.length > 255) {
    throw new InvalidParameterError(`${field}.freqLevelsGHz`, 'needs 1..255 frequency levels');
  }
  f.forEach((v, i) => {
    requireFinite(`${field}.freqLevelsGHz[${i}]`, v, Number.MIN_VALUE);
    if (i > 0 && !(v > f[i - 1])) throw new InvalidParameterError(`${field}.freqLevelsGHz[${i}]`, 'levels must be strictly ascending');
  });
  const top = f[f.length - 1];
  const n = f.length;
  const maxWByLevel = new Float64Array(n);
  const dynWByLevel = new Float64Array(n);
  const relFreqByLevel = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const rel = i === n - 1 ? 1 : f[i] / top;
    relFreqByLevel[i] = rel;
    dynWByLevel[i] = i === n - 1 ? maxW - idleW : (maxW - idleW) * Math.pow(rel, exponent);
    maxWByLevel[i] = idleW + dynWByLevel[i];
  }
  return { idleW, maxW, offW, levels: n, freqLevelsGHz: [...f], maxWByLevel, dynWByLevel, relFreqByLevel, dynTopW: maxW - idleW };
}

/**
 * Scalar fast path (allocation-free): electrical power of one board, W (= heat released, W).
 * `state` is a BoardState code, `level` an integer index into the frequency levels (only read when active),
 * `utilisation` 0..1 (clamped). Off → offW; idle → idleW; active → idleW + dynW(level)·u.
 * No validation: an out-of-range level yields NaN.
 */
export function boardPowerW(m: BoardModel, state: number, level: number, utilisation: number): number {
  if (state === BoardState.active) {
    const u = utilisation < 0 ? 0 : utilisation > 1 ? 1 : utilisation;
    return m.idleW + m.dynWByLevel[level] * u;
  }
  return state === BoardState.idle ? m.idleW : m.offW;
}

/**
 * Scalar fast path: relative compute throughput of one board (dimensionless; 1 = fully utilised at the top
 * level): u·f/f_top when active, else 0. Throughput ∝ f for CPU-bound work.
 */
export function boardThroughput(m: BoardModel, state: number, level: number, utilisation: number): number {
  if (state !== BoardState.active) return 0;
  const u = utilisation < 0 ? 0 : utilisation > 1 ? 1 : utilisation;
  return m.relFreqByLevel[level] * u;
}

/** Operating point of one board (readable API). */
export interface BoardOperatingPoint {
  readonly state: 'off' | 'idle' | 'active';
  /** Frequency level index (ignored unless active). */
  readonly level?: number;
  /** Utilisation 0..1 (ignored unless active; default 1). */
  readonly utilisation?: number;
}

/** Electrical power and compute of one board at an operating point. */
export interface BoardPower {
  /** Electrical power, W. */
  readonly powerW: number;
  /** Heat released, W (= electrical power). */
  readonly heatW: number;
  /** Relative compute throughput (1 = one board fully utilised at the top level). */
  readonly throughput: number;
}

/** Readable per-object API: validates the operating point and returns power (W), heat (W) and relative throughput. */
export function boardPower(m: BoardModel, op: BoardOperatingPoint, field = 'board'): BoardPower {
  const code = BoardState[op.state] as number | undefined;
  if (code === undefined) throw new InvalidParameterError(`${field}.state`, `unknown state '${String(op.state)}'`);
  let level = 0;
  let u = 1;
  if (code === BoardState.active) {
    level = op.level ?? m.levels - 1;
    if (!Number.isInteger(level) || level < 0 || level >= m.levels) {
      throw new InvalidParameterError(`${field}.level`, `must be an integer in 0..${m.levels - 1}, got ${String(level)}`);
    }
    u = requireFinite(`${field}.utilisation`, op.utilisation ?? 1, 0, 1);
  }
  const powerW = boardPowerW(m, code, level, u);
  return { powerW, heatW: powerW, throughput: boardThroughput(m, code, level, u) };
}

/** Smallest CPU share a level is held to (a level whose computed share is below it still lets the instance progress). */
export const MIN_SHARE = 0.01;

/**
 * CPU share (0..1] of full-speed CPU that makes a board at the top frequency draw the power of `level` at full
 * utilisation: dynWByLevel[level] / dynTopW. 1 at the top level (and for a level out of range or a board whose
 * dynamic span is zero), never below {@link MIN_SHARE}. Hardware without frequency control of
 * ours (the agents: see agent/throttle.ts) holds a level by this share, so it is also the level's throughput there.
 */
export function levelShare(board: Pick<BoardModel, 'levels' | 'dynWByLevel' | 'dynTopW'>, level: number): number {
  const top = board.levels - 1;
  if (!Number.isInteger(level) || level >= top || level < 0 || !(board.dynTopW > 0)) return 1;
  const s = board.dynWByLevel[level] / board.dynTopW;
  if (!(s < 1)) return 1;
  return Math.max(MIN_SHARE, s);
}

