// Model-predictive room controller: the room's own exact linear model, discretised hourly once per archetype, plans
// the heat of each hour ahead by a box-constrained piecewise-quadratic program (projected Newton, warm-started).
import { InvalidParameterError, isList, requireFinite } from '../physics/errors.ts';
import { discretise } from '../physics/discretise.ts';
import { luFactor, luSolve, SingularMatrixError } from '../physics/linalg.ts';
import type { StateSpace } from '../physics/state-space.ts';
import { aheadAt, clampW, SLOT_S } from './forecast.ts';
import type { HeatRequest, RoomControlInput, RoomController } from './types.ts';

/** Which model inputs the forecasts drive. Defaults: building.ts's ROOM_INPUTS. */
export interface MpcInputRoles {
  /** Inputs set to the outdoor temperature forecast, °C (default T_amb, T_sup, T_ambWin). */
  readonly outdoor: readonly string[];
  /** Internal gains input, W (default Q_gains). */
  readonly gains: string;
  /** Transmitted-sun input, W (default Q_sol_1). */
  readonly solar: string;
  /** Heater input, W (default Q_heater): the decision variable. */
  readonly heater: string;
  /** Other inputs, held at 0 (default none; any input not named anywhere is an error). */
  readonly zero: readonly string[];
}

/** Options of buildMpcModel. */
export interface MpcModelOptions {
  /** Planning horizon, hours (integer 2..72; default 24). */
  readonly horizonH?: number;
  /**
   * Move blocking: lengths in hours of the plan's decision blocks, heat held within each (integers ≥ 1, the first
   * = 1, summing to at least the horizon; the last is cut at it). Default: 1 h blocks for the first 6 h, 2 h up to
   * 12 h, 4 h beyond: far hours are re-planned anyway, and fewer, better-conditioned variables make each call cheap.
   */
  readonly blocksH?: readonly number[];
  readonly roles?: Partial<MpcInputRoles>;
  /** State holding the air temperature (default 'T_air'). */
  readonly airState?: string;
}

/**
 * What an MPC needs of one archetype, computed once and shared by all its rooms: the hourly exact model with the
 * inputs grouped by role, the air's hourly response to heat per decision block, and scratch space (calls must not
 * interleave, which JavaScript's single thread guarantees; build one model per worker thread).
 */
export interface MpcModel {
  readonly horizonH: number;
  readonly nx: number;
  readonly airIndex: number;
  /** Hourly state transition e^{A·3600 s}, nx × nx row-major. */
  readonly Ad: Float64Array;
  /** Hourly input columns per role (nx each): °C/°C for outdoor (summed over its inputs), °C/W for the others. */
  readonly bOutdoor: Float64Array;
  readonly bGains: Float64Array;
  readonly bSolar: Float64Array;
  readonly bHeater: Float64Array;
  /**
   * Air temperature m + 1 hours from now per W of heat held over the first hour, K/W (m = 0..horizonH − 1). Every
   * entry is ≥ 0 for a passive thermal network.
   */
  readonly responseKW: Float64Array;
  /** Number of decision blocks, and the first hour of each (blockStartH[nBlocks] = horizonH). */
  readonly nBlocks: number;
  readonly blockStartH: Int32Array;
  /** Air at the end of hour k per kW held over block b, K/kW: horizonH × nBlocks row-major. */
  readonly blockResponse: Float64Array;
  /** Steady state per unit of each role (continuous −A⁻¹B), nx × 4 (outdoor, gains, solar, heater) row-major. */
  readonly steadyGain: Float64Array;
  /**
   * The first hour on a finer grid (SUB_STEPS_PER_HOUR points, the last being the hour's end), so that comfort is
   * checked at the moment a setpoint changes inside it: transition over one sub-step, input columns per role, and
   * the air at the end of sub-step j per kW held from now, K/kW.
   */
  readonly subAd: Float64Array;
  readonly subBOutdoor: Float64Array;
  readonly subBGains: Float64Array;
  readonly subBSolar: Float64Array;
  readonly subResponse: Float64Array;
  /** Scratch (not state). */
  readonly work: MpcWork;
}

/** Scratch space of an MpcModel (opaque to callers). */
export interface MpcWork {
  readonly x: Float64Array;
  readonly y: Float64Array;
  readonly xs: Float64Array;
  readonly ys: Float64Array;
  /** Per hour. */
  readonly free: Float64Array;
  readonly lo: Float64Array;
  readonly hi: Float64Array;
  readonly loTrue: Float64Array;
  readonly hiTrue: Float64Array;
  readonly temp: Float64Array;
  readonly resid: Float64Array;
  readonly curv: Float64Array;
  readonly hourly: Float64Array;
  /** Per sub-step of the first hour: free response, lower bound (NaN: none), curvature. */
  readonly subFree: Float64Array;
  readonly subLo: Float64Array;
  readonly subLoTrue: Float64Array;
  readonly subCurv: Float64Array;
  /** Per block. */
  readonly v: Float64Array;
  readonly trial: Float64Array;
  readonly dir: Float64Array;
  readonly grad: Float64Array;
  readonly hess: Float64Array;
  readonly freeIdx: Int32Array;
}

/** Sub-steps of the first hour where comfort is also checked (5 min each). */
const SUB_STEPS_PER_HOUR = 12;

const DEFAULT_ROLES: MpcInputRoles = { outdoor: ['T_amb', 'T_sup', 'T_ambWin'], gains: 'Q_gains', solar: 'Q_sol_1', heater: 'Q_heater', zero: [] };

/** Default move blocking for a horizon of H hours: 1 h × 6, 2 h up to 12 h, 4 h beyond (cut at H). */
function defaultBlocks(H: number): number[] {
  const b: number[] = [];
  let t = 0;
  while (t < H) {
    const len = t < 6 ? 1 : t < 12 ? 2 : 4;
    b.push(len);
    t += len;
  }
  return b;
}

/**
 * Precomputes the MPC model of one archetype from its continuous state space (a DiscreteStateSpace works too: its
 * continuous A, B are used), discretised exactly at one hour. Throws InvalidParameterError naming the field when an
 * input has no role, a named input or state is missing, the blocks are invalid, or the model has no steady state.
 */
export function buildMpcModel(ss: StateSpace, options: MpcModelOptions = {}): MpcModel {
  const H = requireFinite('horizonH', options.horizonH ?? 24, 2, 72);
  if (!Number.isInteger(H)) throw new InvalidParameterError('horizonH', `must be an integer, got ${H}`);
  const roles: MpcInputRoles = { ...DEFAULT_ROLES, ...options.roles };
  const { nx, nu } = ss;
  const airName = options.airState ?? 'T_air';
  const airIndex = ss.stateNames.indexOf(airName);
  if (airIndex < 0) throw new InvalidParameterError('airState', `no state '${airName}' in the model (${ss.stateNames.join(', ')})`);
  const role = new Int8Array(nu).fill(-1); // 0 outdoor, 1 gains, 2 solar, 3 heater, 4 zero
  const assign = (field: string, name: string, r: number): void => {
    const i = ss.inputNames.indexOf(name);
    if (i < 0) throw new InvalidParameterError(field, `no input '${name}' in the model (${ss.inputNames.join(', ')})`);
    if (role[i] >= 0) throw new InvalidParameterError(field, `input '${name}' has two roles`);
    role[i] = r;
  };
  roles.outdoor.forEach((n, k) => assign(`roles.outdoor[${k}]`, n, 0));
  assign('roles.gains', roles.gains, 1);
  assign('roles.solar', roles.solar, 2);
  assign('roles.heater', roles.heater, 3);
  roles.zero.forEach((n, k) => assign(`roles.zero[${k}]`, n, 4));
  role.forEach((r, i) => {
    if (r < 0) throw new InvalidParameterError(`model.inputNames[${i}]`, `input '${ss.inputNames[i]}' has no role (outdoor, gains, solar, heater or zero)`);
  });

  // Decision blocks.
  const lens = options.blocksH ?? defaultBlocks(H);
  if (!isList(lens) || lens.length === 0) throw new InvalidParameterError('blocksH', 'must be a non-empty array of hours');
  const starts: number[] = [0];
  for (let b = 0; b < lens.length && starts[b] < H; b++) {
    const len = requireFinite(`blocksH[${b}]`, lens[b], 1, 72);
    if (!Number.isInteger(len)) throw new InvalidParameterError(`blocksH[${b}]`, `must be an integer, got ${len}`);
    if (b === 0 && len !== 1) throw new InvalidParameterError('blocksH[0]', `must be 1 (the first hour is the request), got ${len}`);
    starts.push(Math.min(H, starts[b] + len));
  }
  if (starts[starts.length - 1] < H) throw new InvalidParameterError('blocksH', `must cover the horizon (${H} h), covers ${starts[starts.length - 1]} h`);
  const nb = starts.length - 1;

  const d = discretise(ss, SLOT_S);
  const cols = [new Float64Array(nx), new Float64Array(nx), new Float64Array(nx), new Float64Array(nx)];
  const Bc = new Float64Array(nx * 4);
  for (let i = 0; i < nx; i++) {
    for (let j = 0; j < nu; j++) {
      const r = role[j];
      if (r > 3) continue;
      cols[r][i] += d.Bd[i * nu + j];
      Bc[i * 4 + r] += ss.B[i * nu + j];
    }
  }

  // Air response to one hour of unit heat, K/W, at the end of each hour.
  const G = new Float64Array(H);
  let x = Float64Array.from(cols[3]);
  let y = new Float64Array(nx);
  for (let m = 0; m < H; m++) {
    G[m] = Math.max(0, x[airIndex]);
    for (let i = 0; i < nx; i++) {
      let s = 0;
      for (let j = 0; j < nx; j++) s += d.Ad[i * nx + j] * x[j];
      y[i] = s;
    }
    [x, y] = [y, x];
  }
  if (!(G[0] > 0)) throw new InvalidParameterError('roles.heater', `heat on '${roles.heater}' does not reach '${airName}' within an hour`);
  const Gb = new Float64Array(H * nb);
  for (let k = 0; k < H; k++) {
    for (let b = 0; b < nb; b++) {
      let s = 0;
      for (let j = starts[b]; j < starts[b + 1] && j <= k; j++) s += G[k - j];
      Gb[k * nb + b] = s * 1000;
    }
  }

  // The first hour on the sub-step grid.
  const sub = discretise(ss, SLOT_S / SUB_STEPS_PER_HOUR);
  const subCols = [new Float64Array(nx), new Float64Array(nx), new Float64Array(nx), new Float64Array(nx)];
  for (let i = 0; i < nx; i++) {
    for (let j = 0; j < nu; j++) {
      const r = role[j];
      if (r <= 3) subCols[r][i] += sub.Bd[i * nu + j];
    }
  }
  const subResponse = new Float64Array(SUB_STEPS_PER_HOUR);
  {
    let xs = new Float64Array(nx);
    let ys = new Float64Array(nx);
    for (let j = 0; j < SUB_STEPS_PER_HOUR; j++) {
      for (let i = 0; i < nx; i++) {
        let acc = subCols[3][i];
        for (let k = 0; k < nx; k++) acc += sub.Ad[i * nx + k] * xs[k];
        ys[i] = acc;
      }
      [xs, ys] = [ys, xs];
      subResponse[j] = Math.max(0, xs[airIndex]) * 1000;
    }
  }

  // Steady state per role: −A⁻¹·B_role.
  let steadyGain: Float64Array;
  try {
    const negA = Float64Array.from(ss.A, (a) => -a);
    steadyGain = luSolve(luFactor(negA, nx), Bc, 4);
  } catch (e) {
    if (e instanceof SingularMatrixError) throw new InvalidParameterError('model.A', 'is singular: the room has no steady state (no loss to the outdoors?)');
    throw e;
  }

  const perHour = (): Float64Array => new Float64Array(H);
  const perBlock = (): Float64Array => new Float64Array(nb);
  return {
    horizonH: H,
    nx,
    airIndex,
    Ad: d.Ad,
    bOutdoor: cols[0],
    bGains: cols[1],
    bSolar: cols[2],
    bHeater: cols[3],
    responseKW: G,
    nBlocks: nb,
    blockStartH: Int32Array.from(starts),
    blockResponse: Gb,
    steadyGain,
    subAd: sub.Ad,
    subBOutdoor: subCols[0],
    subBGains: subCols[1],
    subBSolar: subCols[2],
    subResponse,
    work: {
      x: new Float64Array(nx),
      y: new Float64Array(nx),
      xs: new Float64Array(nx),
      ys: new Float64Array(nx),
      free: perHour(),
      lo: perHour(),
      hi: perHour(),
      loTrue: perHour(),
      hiTrue: perHour(),
      temp: perHour(),
      resid: perHour(),
      curv: perHour(),
      hourly: perHour(),
      subFree: new Float64Array(SUB_STEPS_PER_HOUR),
      subLo: new Float64Array(SUB_STEPS_PER_HOUR),
      subLoTrue: new Float64Array(SUB_STEPS_PER_HOUR),
      subCurv: new Float64Array(SUB_STEPS_PER_HOUR),
      v: perBlock(),
      trial: perBlock(),
      dir: perBlock(),
      grad: perBlock(),
      hess: new Float64Array(nb * nb),
      freeIdx: new Int32Array(nb),
    },
  };
}

/** Width of the ε-active band of the comfort penalties in the solver's Hessian, K. */
const KINK_K = 0.05;
/** Largest ε of the solver's ε-binding set, kW (10 W). */
const EPS_BIND_KW = 0.01;

/** Options of the MPC controller (weights are per hourly point of the plan). */
export interface MpcOptions {
  /** The archetype's precomputed model (buildMpcModel), shared by its rooms. */
  readonly model: MpcModel;
  /** Weight of the shortfall below the comfort band, per K² (default 1). */
  readonly lowerWeight?: number;
  /** Weight of the excess above the comfort band, per K² (default 1). */
  readonly upperWeight?: number;
  /**
   * Comfort penalties are quadratic up to this distance from the band and linear beyond (Huber), K (default 0.5):
   * smooth near the band, and beyond it as linear as the scorecard's K·h, so that a far excursion (a heater too
   * small, a sunny afternoon) does not outweigh everything else.
   */
  readonly quadraticZoneK?: number;
  /** Weight of energy, K² per kWh (default 0.01: a tie-breaker that makes the plan heat as late as comfort allows). */
  readonly energyWeightPerKWh?: number;
  /** Small quadratic weight on each hour's heat, K² per kW² (default 1e-3): makes the plan unique. */
  readonly smoothWeightPerKW2?: number;
  /** The plan aims this far above the lower comfort bound, K (default 0.3: hourly points, forecast error). */
  readonly comfortMarginK?: number;
  /** The plan aims this far below the upper comfort bound, K (default 0.2). */
  readonly upperMarginK?: number;
  /**
   * The upper bound at a point follows the highest setpoint within this many hours either side, h (default 0: the
   * scorecard's literal bound, setpoint in force + upperBandK). A few hours spare pre-heating and the cool-down after
   * a set-back from counting as overheating; see the class comment.
   */
  readonly upperWindowH?: number;
  /** The upper bound never exceeds limits.safetyMaxC minus this, K (default 2). */
  readonly safetyMarginK?: number;
  /**
   * How the caller's hourly forecasts are aligned: 'now' (default; slot k covers [nowS + k h, nowS + (k+1) h), e.g.
   * from forecast.ts slotsAhead) or 'clock' (slot k is the clock hour floor(nowS / 3600) + k, e.g. a subarray of an
   * hourly series). Clock-aligned forecasts are blended into now-aligned slot means, so that a setpoint change on
   * the hour is located exactly either way.
   */
  readonly forecastAlignment?: 'now' | 'clock';
  /**
   * Newton iterations per call (default 12). The plan is warm-started from the previous call's, so a problem not
   * finished in one call goes on improving in the next (real-time iteration).
   */
  readonly maxIterations?: number;
  /** Stopping tolerance on any block's heat, W (default 0.5). */
  readonly toleranceW?: number;
}

/**
 * Model-predictive room controller. Each call predicts the air at the end of each hour ahead with no heat (the free
 * response, from the full state and the hourly forecasts), then chooses the heat of each decision block (move
 * blocking; the first block is the coming hour) in [0, maxHeatW] minimising
 *   Σ_k lowerWeight·h(lo_k − T_k) + upperWeight·h(T_k − hi_k) + energyWeight·Σ_hours u + smoothWeight·Σ_hours u²,
 * with T = free + G·u (G: the precomputed hourly step responses) and h the Huber-squared hinge (0 inside the band,
 * quadratic up to quadraticZoneK outside, linear beyond).
 * - Point k (end of hour k) takes the higher setpoint of the two hours meeting there: lo_k = that − lowerBandK +
 *   comfortMarginK, so comfort is due when occupancy starts (pre-heating; the model includes the radiator body's lag).
 * - Inside the first hour the lower bound is also checked every 5 min from the moment the setpoint changes, which the
 *   slot mean s0 between the current setpoint and the next slot's s1 locates (one step, at the fraction
 *   (s1 − s0)/(s1 − setpointC) of the hour): otherwise the receding horizon, always judging the end of a sliding
 *   hour, would reach comfort up to an hour late.
 * - hi_k = the highest setpoint within ±upperWindowH hours + upperBandK − upperMarginK, capped at safetyMaxC −
 *   safetyMarginK, so the plan stops heating ahead of a sunny spell it sees in the solar forecast.
 * When the free response already satisfies every lower bound the plan is zero (no solve). Otherwise projected Newton
 * (Bertsekas' ε-binding sets) with an Armijo search along the projected arc, warm-started from the previous plan
 * shifted by the time elapsed; bounded iterations, deterministic.
 * Outputs: powerW = the first hour's heat; forecastW = the hourly plan (the last value repeats past the horizon);
 * minW = least first-hour heat that, the rest of the plan held, keeps every point (5-min ones included) at or above
 * min(setpoint − lowerBandK, planned); maxW = most first-hour heat that, the rest held, keeps every hourly point at
 * or below max(min(setpoint + upperBandK, safetyMaxC − safetyMarginK), planned). Both hold heat for a whole hour, so
 * for a shorter period minW is a slight over- and maxW a slight under-estimate (the safe side for comfort).
 * Without `state`, the initial state is the quasi-steady one for the current inputs and the last delivered heat,
 * shifted so that the air matches the measurement.
 */
export class MpcController implements RoomController {
  readonly kind = 'mpc' as const;
  readonly horizonH: number;
  private readonly m: MpcModel;
  private readonly wLo: number;
  private readonly wHi: number;
  private readonly zoneK: number;
  private readonly energyK2PerKWh: number;
  private readonly smooth: number;
  private readonly marginLo: number;
  private readonly marginHi: number;
  private readonly windowH: number;
  private readonly safetyMarginK: number;
  private readonly maxIter: number;
  private readonly tolKW: number;
  private readonly clock: boolean;
  /** Fraction of the clock hour already elapsed at the current call (clock-aligned forecasts only). */
  private phase = 0;
  /** Last plan, kW per hour, and when it was made (s). */
  private readonly plan: Float64Array;
  private planS = NaN;
  private lastDeliveredW = 0;
  /** Newton iterations used by the last call (diagnostics; 0 when no solve was needed). */
  lastIterations = 0;

  constructor(o: MpcOptions) {
    if (typeof o !== 'object' || o === null) throw new InvalidParameterError('options', 'must be an object');
    const m = o.model as MpcModel | undefined;
    if (typeof m !== 'object' || m === null || !(m.blockResponse instanceof Float64Array)) throw new InvalidParameterError('model', 'must be an MpcModel from buildMpcModel');
    this.m = m;
    this.horizonH = m.horizonH;
    this.wLo = requireFinite('lowerWeight', o.lowerWeight ?? 1, 0, 1e6);
    this.wHi = requireFinite('upperWeight', o.upperWeight ?? 1, 0, 1e6);
    if (!(this.wLo + this.wHi > 0)) throw new InvalidParameterError('lowerWeight', 'lowerWeight and upperWeight must not both be 0');
    this.zoneK = requireFinite('quadraticZoneK', o.quadraticZoneK ?? 0.5, 1e-3, 100);
    this.energyK2PerKWh = requireFinite('energyWeightPerKWh', o.energyWeightPerKWh ?? 0.01, 0, 1e6);
    this.smooth = requireFinite('smoothWeightPerKW2', o.smoothWeightPerKW2 ?? 1e-3, 1e-9, 1e6);
    this.marginLo = requireFinite('comfortMarginK', o.comfortMarginK ?? 0.3, 0, 5);
    this.marginHi = requireFinite('upperMarginK', o.upperMarginK ?? 0.2, 0, 5);
    this.windowH = requireFinite('upperWindowH', o.upperWindowH ?? 0, 0, 48);
    if (!Number.isInteger(this.windowH)) throw new InvalidParameterError('upperWindowH', `must be an integer, got ${this.windowH}`);
    this.safetyMarginK = requireFinite('safetyMarginK', o.safetyMarginK ?? 2, 0, 20);
    this.maxIter = requireFinite('maxIterations', o.maxIterations ?? 12, 1, 1000);
    if (!Number.isInteger(this.maxIter)) throw new InvalidParameterError('maxIterations', `must be an integer, got ${this.maxIter}`);
    this.tolKW = requireFinite('toleranceW', o.toleranceW ?? 0.5, 0, 1000) / 1000;
    const align = o.forecastAlignment ?? 'now';
    if (align !== 'now' && align !== 'clock') throw new InvalidParameterError('forecastAlignment', `must be 'now' or 'clock', got '${String(align)}'`);
    this.clock = align === 'clock';
    this.plan = new Float64Array(m.horizonH);
  }

  /** Plans and writes the request into `out` (see the class comment). No allocation. */
  request(input: RoomControlInput, out: HeatRequest): HeatRequest {
    const m = this.m;
    const H = m.horizonH;
    const nx = m.nx;
    const nb = m.nBlocks;
    const air = m.airIndex;
    const w = m.work;
    const Gb = m.blockResponse;
    const maxHeatW = input.maxHeatW > 0 ? input.maxHeatW : 0;
    const uMax = maxHeatW / 1000;
    const lim = input.limits;
    const sp0 = input.setpointC;
    if (this.clock) {
      const f = input.nowS / SLOT_S;
      this.phase = f - Math.floor(f);
    }

    // Initial state: the model's, or quasi-steady for the current inputs shifted to the measured air.
    let x = w.x;
    let y = w.y;
    const st = input.state;
    if (st !== undefined && st.length >= nx) {
      for (let i = 0; i < nx; i++) x[i] = st[i];
    } else {
      const out0 = this.slot(input.outdoorAheadC, 0, input.airC);
      const g0 = this.slot(input.gainsAheadW, 0, 0);
      const s0 = this.slot(input.solarAheadW, 0, 0);
      const K = m.steadyGain;
      for (let i = 0; i < nx; i++) x[i] = K[i * 4] * out0 + K[i * 4 + 1] * g0 + K[i * 4 + 2] * s0 + K[i * 4 + 3] * this.lastDeliveredW;
      const shift = input.airC - x[air];
      for (let i = 0; i < nx; i++) x[i] += shift;
    }

    // The first hour on the sub-step grid: free response and, where the setpoint changes inside the hour, the
    // lower bound from that moment on. The slot mean s0 between the current setpoint and the next slot's s1 tells
    // when a single step happens: at the fraction τ = (s1 − s0)/(s1 − setpointC) of the hour.
    {
      const s0 = this.slot(input.setpointAheadC, 0, sp0);
      const s1 = this.slot(input.setpointAheadC, 1, sp0);
      const inside = (s0 - sp0) * (s1 - s0) > 0;
      const tau = inside ? (s1 - s0) / (s1 - sp0) : 0;
      const tOut = this.slot(input.outdoorAheadC, 0, x[air]);
      const gn = this.slot(input.gainsAheadW, 0, 0);
      const so = this.slot(input.solarAheadW, 0, 0);
      let xs = w.xs;
      let ys = w.ys;
      for (let i = 0; i < nx; i++) xs[i] = x[i];
      const sAd = m.subAd;
      for (let j = 0; j < SUB_STEPS_PER_HOUR - 1; j++) {
        for (let i = 0; i < nx; i++) {
          let acc = m.subBOutdoor[i] * tOut + m.subBGains[i] * gn + m.subBSolar[i] * so;
          for (let k = 0; k < nx; k++) acc += sAd[i * nx + k] * xs[k];
          ys[i] = acc;
        }
        const t = xs;
        xs = ys;
        ys = t;
        w.subFree[j] = xs[air];
        const frac = (j + 1) / SUB_STEPS_PER_HOUR;
        const spSub = inside ? (frac >= tau - 1e-9 ? s1 : sp0) : s0;
        w.subLoTrue[j] = spSub - lim.lowerBandK;
        w.subLo[j] = spSub - lim.lowerBandK + this.marginLo;
      }
    }

    // Free response at the end of each hour, and the bounds there.
    const Ad = m.Ad;
    const cap = lim.safetyMaxC - this.safetyMarginK;
    let needHeat = false;
    for (let k = 0; k < H; k++) {
      const tOut = this.slot(input.outdoorAheadC, k, x[air]);
      const gn = this.slot(input.gainsAheadW, k, 0);
      const so = this.slot(input.solarAheadW, k, 0);
      for (let i = 0; i < nx; i++) {
        let s = m.bOutdoor[i] * tOut + m.bGains[i] * gn + m.bSolar[i] * so;
        for (let j = 0; j < nx; j++) s += Ad[i * nx + j] * x[j];
        y[i] = s;
      }
      const t = x;
      x = y;
      y = t;
      const free = x[air];
      w.free[k] = free;
      const a = this.slot(input.setpointAheadC, k, sp0);
      const b = this.slot(input.setpointAheadC, k + 1, sp0);
      const spHere = a > b ? a : b;
      let spNear = spHere;
      if (this.windowH > 0) {
        const j0 = k - this.windowH;
        for (let j = j0 < 0 ? 0 : j0; j <= k + 1 + this.windowH; j++) {
          const s = this.slot(input.setpointAheadC, j, sp0);
          if (s > spNear) spNear = s;
        }
        if (j0 < 0 && sp0 > spNear) spNear = sp0;
      }
      const loTrue = spHere - lim.lowerBandK;
      let hiTrue = spNear + lim.upperBandK;
      if (hiTrue > cap) hiTrue = cap;
      w.loTrue[k] = loTrue;
      w.hiTrue[k] = hiTrue;
      const lo = loTrue + this.marginLo;
      w.lo[k] = lo;
      w.hi[k] = hiTrue - this.marginHi;
      if (!(free >= lo)) needHeat = true;
    }
    for (let j = 0; j < SUB_STEPS_PER_HOUR - 1; j++) if (!(w.subFree[j] >= w.subLo[j])) needHeat = true;

    // Plan per block: zero when nothing needs heat (heat only adds energy and upper penalties), else solve.
    const v = w.v;
    const start = m.blockStartH;
    if (needHeat && uMax > 0) {
      // Warm start: the previous plan, shifted by the time elapsed, averaged over each block.
      const shiftH = (input.nowS - this.planS) / SLOT_S;
      const ok = shiftH >= 0 && shiftH < H;
      for (let bk = 0; bk < nb; bk++) {
        let acc = 0;
        for (let k = start[bk]; k < start[bk + 1]; k++) {
          if (!ok) continue;
          const p = k + shiftH;
          const i = Math.floor(p);
          const f = p - i;
          const a = this.plan[i < H ? i : H - 1];
          const b = this.plan[i + 1 < H ? i + 1 : H - 1];
          acc += a + (b - a) * f;
        }
        const val = acc / (start[bk + 1] - start[bk]);
        v[bk] = val > uMax ? uMax : val > 0 ? val : 0;
      }
      this.lastIterations = this.solve(v, uMax);
    } else {
      v.fill(0);
      this.lastIterations = 0;
    }
    const u = w.hourly;
    for (let bk = 0; bk < nb; bk++) for (let k = start[bk]; k < start[bk + 1]; k++) u[k] = v[bk];
    this.plan.set(u);
    this.planS = input.nowS;

    // Planned trajectory, then the first hour's band with the rest of the plan held.
    const T = w.temp;
    for (let k = 0; k < H; k++) {
      let s = w.free[k];
      for (let bk = 0; bk < nb; bk++) s += Gb[k * nb + bk] * v[bk];
      T[k] = s;
    }
    const u0 = v[0];
    let minKW = 0;
    let maxKW = uMax;
    for (let k = 0; k < H; k++) {
      const g = Gb[k * nb];
      if (!(g > 1e-6)) continue;
      const slackLo = T[k] - w.loTrue[k];
      const lo = u0 - (slackLo > 0 ? slackLo : 0) / g;
      if (lo > minKW) minKW = lo;
      const slackHi = w.hiTrue[k] - T[k];
      const hi = u0 + (slackHi > 0 ? slackHi : 0) / g;
      if (hi < maxKW) maxKW = hi;
    }
    for (let j = 0; j < SUB_STEPS_PER_HOUR - 1; j++) {
      const g = m.subResponse[j];
      if (!(g > 1e-6)) continue;
      const slackLo = w.subFree[j] + g * u0 - w.subLoTrue[j];
      const lo = u0 - (slackLo > 0 ? slackLo : 0) / g;
      if (lo > minKW) minKW = lo;
    }
    let powerW = clampW(u0 * 1000, maxHeatW);
    let minW = clampW(minKW * 1000, powerW);
    let maxW = clampW(maxKW * 1000, maxHeatW);
    if (maxW < powerW) maxW = powerW;
    // Hard safety: never heat a room already at its safety limit (or with no valid measurement).
    if (!(input.airC < lim.safetyMaxC)) {
      powerW = 0;
      minW = 0;
      maxW = 0;
    }
    out.powerW = powerW;
    out.minW = minW;
    out.maxW = maxW;
    const f = out.forecastW;
    for (let k = 0; k < f.length; k++) f[k] = clampW(u[k < H ? k : H - 1] * 1000, maxHeatW);
    return out;
  }

  /**
   * Mean of a forecast over the now-aligned slot k (hours from nowS): the value itself for now-aligned forecasts, the
   * time-weighted blend of clock hours k and k + 1 for clock-aligned ones. Units of the forecast.
   */
  private slot(values: ArrayLike<number>, k: number, fallback: number): number {
    const a = aheadAt(values, k, fallback);
    if (!this.clock || this.phase === 0) return a;
    return a + (aheadAt(values, k + 1, fallback) - a) * this.phase;
  }

  /** Records the heat delivered over the last period, W (used for the quasi-steady state when none is given). */
  delivered(powerW: number): void {
    this.lastDeliveredW = powerW > 0 ? powerW : 0;
  }

  /**
   * J at the block plan v (kW) from the bounds in the workspace; with `withDerivatives`, also the gradient (K²/kW)
   * into work.grad and each point's curvature d²J/dT² into work.curv. Predicted air into work.temp.
   */
  private evaluate(v: Float64Array, withDerivatives: boolean): number {
    const m = this.m;
    const w = m.work;
    const Gb = m.blockResponse;
    const H = m.horizonH;
    const nb = m.nBlocks;
    const start = m.blockStartH;
    const r = w.resid;
    const c = w.curv;
    const T = w.temp;
    const z = this.zoneK;
    const wLo = this.wLo;
    const wHi = this.wHi;
    let J = 0;
    for (let k = 0; k < H; k++) {
      let t = w.free[k];
      const row = k * nb;
      for (let b = 0; b < nb; b++) t += Gb[row + b] * v[b];
      T[k] = t;
      let rk = 0;
      let ck = 0;
      // The solver's curvature is that of the quadratic zone for every point outside the band or just inside it
      // (ε-active): past quadraticZoneK it over-estimates the Huber penalty's (zero) curvature, which keeps Newton
      // steps short and well directed (a majorizer), and near the kink it stops the Hessian flipping as iterates
      // cross it.
      const eLo = w.lo[k] - t;
      if (eLo > 0) {
        if (eLo <= z) {
          J += wLo * eLo * eLo;
          rk -= 2 * wLo * eLo;
        } else {
          J += wLo * z * (2 * eLo - z);
          rk -= 2 * wLo * z;
        }
      }
      if (eLo > -KINK_K) ck += 2 * wLo;
      const eHi = t - w.hi[k];
      if (eHi > 0) {
        if (eHi <= z) {
          J += wHi * eHi * eHi;
          rk += 2 * wHi * eHi;
        } else {
          J += wHi * z * (2 * eHi - z);
          rk += 2 * wHi * z;
        }
      }
      if (eHi > -KINK_K) ck += 2 * wHi;
      r[k] = rk;
      c[k] = ck;
    }
    // Sub-steps of the first hour: lower bound only, at full weight. (Weighting them by their share of the hour,
    // as a time integral would, lets the receding horizon postpone the heat from one call to the next: each plan
    // then finds it cheaper to be a little short at the moment occupancy starts and catch up in the next hour.)
    const sw = wLo;
    const sr = m.subResponse;
    let g0 = 0;
    for (let j = 0; j < SUB_STEPS_PER_HOUR - 1; j++) {
      const eLo = w.subLo[j] - (w.subFree[j] + sr[j] * v[0]);
      let rj = 0;
      if (eLo > 0) {
        if (eLo <= z) {
          J += sw * eLo * eLo;
          rj = -2 * sw * eLo;
        } else {
          J += sw * z * (2 * eLo - z);
          rj = -2 * sw * z;
        }
      }
      w.subCurv[j] = eLo > -KINK_K ? 2 * sw : 0;
      g0 += sr[j] * rj;
    }
    const e = this.energyK2PerKWh;
    const q = this.smooth;
    for (let b = 0; b < nb; b++) {
      const len = start[b + 1] - start[b];
      J += len * (e * v[b] + q * v[b] * v[b]);
    }
    if (withDerivatives) {
      const g = w.grad;
      for (let b = 0; b < nb; b++) {
        let s = (start[b + 1] - start[b]) * (e + 2 * q * v[b]);
        for (let k = start[b]; k < H; k++) s += Gb[k * nb + b] * r[k];
        g[b] = s;
      }
      g[0] += g0;
    }
    return J;
  }

  /**
   * Projected Newton on the box [0, uMax]^nBlocks from the warm start in v (kW, overwritten with the result).
   * Variables in the ε-binding set (near a bound, gradient pushing outwards) take a diagonally scaled gradient step;
   * the others a Newton step on the generalized Hessian GᵀCG + 2ρ·diag(block length) (Cholesky); then an Armijo
   * search along the projected arc. Returns the iterations used.
   */
  private solve(v: Float64Array, uMax: number): number {
    const m = this.m;
    const w = m.work;
    const Gb = m.blockResponse;
    const H = m.horizonH;
    const nb = m.nBlocks;
    const start = m.blockStartH;
    const g = w.grad;
    const c = w.curv;
    const A = w.hess;
    const d = w.dir;
    const trial = w.trial;
    const F = w.freeIdx;
    let J = this.evaluate(v, true);
    let it = 0;
    while (it < this.maxIter) {
      it++;
      // ε-binding set (Bertsekas 1982): within ε of a bound with the gradient pushing outwards.
      let eps = 0;
      for (let b = 0; b < nb; b++) {
        let p = v[b] - g[b];
        p = p > uMax ? uMax : p > 0 ? p : 0;
        const dist = p > v[b] ? p - v[b] : v[b] - p;
        if (dist > eps) eps = dist;
      }
      if (eps > EPS_BIND_KW) eps = EPS_BIND_KW;
      let nf = 0;
      for (let b = 0; b < nb; b++) {
        const diag = 2 * this.smooth * (start[b + 1] - start[b]);
        if ((v[b] <= eps && g[b] > 0) || (v[b] >= uMax - eps && g[b] < 0)) {
          d[b] = -g[b] / (diag + this.curvatureOf(b));
          continue;
        }
        F[nf++] = b;
      }
      // Generalized Hessian on the free set (nf × nf, lower triangle in A), then Cholesky in place.
      let maxDiag = 0;
      for (let a = 0; a < nf; a++) {
        const i = F[a];
        for (let bb = 0; bb <= a; bb++) {
          const j = F[bb];
          let s = 0;
          for (let k = start[i > j ? i : j]; k < H; k++) if (c[k] !== 0) s += c[k] * Gb[k * nb + i] * Gb[k * nb + j];
          if (i === 0 && j === 0) s += this.subCurvature();
          A[a * nf + bb] = s;
        }
        A[a * nf + a] += 2 * this.smooth * (start[i + 1] - start[i]);
        if (A[a * nf + a] > maxDiag) maxDiag = A[a * nf + a];
      }
      if (nf > 0 && choleskyInPlace(A, nf, maxDiag * 1e-12)) {
        // Solve L Lᵀ d_F = −g_F.
        for (let a = 0; a < nf; a++) {
          let s = -g[F[a]];
          for (let bb = 0; bb < a; bb++) s -= A[a * nf + bb] * d[F[bb]];
          d[F[a]] = s / A[a * nf + a];
        }
        for (let a = nf - 1; a >= 0; a--) {
          let s = d[F[a]];
          for (let bb = a + 1; bb < nf; bb++) s -= A[bb * nf + a] * d[F[bb]];
          d[F[a]] = s / A[a * nf + a];
        }
      } else {
        for (let a = 0; a < nf; a++) d[F[a]] = -g[F[a]] / maxDiag;
      }
      // Armijo search along the projected arc; if the Newton direction fails, one more try along the diagonally
      // scaled gradient before giving up.
      let accepted = this.arcSearch(v, d, J, uMax);
      if (!accepted) {
        for (let b = 0; b < nb; b++) d[b] = -g[b] / (2 * this.smooth * (start[b + 1] - start[b]) + this.curvatureOf(b));
        accepted = this.arcSearch(v, d, J, uMax);
      }
      if (!accepted) break;
      let change = 0;
      for (let b = 0; b < nb; b++) {
        const db = trial[b] - v[b];
        if (db > change) change = db;
        else if (-db > change) change = -db;
      }
      const change0 = trial[0] > v[0] ? trial[0] - v[0] : v[0] - trial[0];
      v.set(trial);
      const before = J;
      J = this.evaluate(v, true);
      // Done when nothing moves, or when the request (block 0) has settled and the rest barely improves.
      if (change < this.tolKW || (change0 < this.tolKW && before - J <= 1e-4 * (1 + J))) break;
    }
    return it;
  }

  /** Σ_k c_k·G_kb² (+ the first hour's sub-steps for block 0): block b's diagonal of GᵀCG, K²/kW². */
  private curvatureOf(b: number): number {
    const m = this.m;
    const c = m.work.curv;
    const Gb = m.blockResponse;
    const nb = m.nBlocks;
    let h = b === 0 ? this.subCurvature() : 0;
    for (let k = m.blockStartH[b]; k < m.horizonH; k++) h += c[k] * Gb[k * nb + b] * Gb[k * nb + b];
    return h;
  }

  /** Curvature of the first hour's sub-step penalties in block 0's heat, K²/kW². */
  private subCurvature(): number {
    const w = this.m.work;
    const sr = this.m.subResponse;
    let h = 0;
    for (let j = 0; j < SUB_STEPS_PER_HOUR - 1; j++) h += w.subCurv[j] * sr[j] * sr[j];
    return h;
  }

  /**
   * Armijo backtracking along the projected arc P(v + α·d), α = 1, ½, ¼…: on success the point is in work.trial
   * and true is returned. J is the objective at v; work.grad its gradient.
   */
  private arcSearch(v: Float64Array, d: Float64Array, J: number, uMax: number): boolean {
    const w = this.m.work;
    const g = w.grad;
    const trial = w.trial;
    const nb = this.m.nBlocks;
    let alpha = 1;
    for (let ls = 0; ls < 30; ls++) {
      let pred = 0;
      for (let b = 0; b < nb; b++) {
        let val = v[b] + alpha * d[b];
        val = val > uMax ? uMax : val > 0 ? val : 0;
        trial[b] = val;
        pred += g[b] * (val - v[b]);
      }
      if (!(pred < 0)) return false;
      if (this.evaluate(trial, false) <= J + 1e-4 * pred) return true;
      alpha *= 0.5;
    }
    return false;
  }
}

/** In-place Cholesky of the leading n × n block (row-major, lower triangle used). False if not positive definite. */
function choleskyInPlace(A: Float64Array, n: number, tiny: number): boolean {
  for (let j = 0; j < n; j++) {
    let s = A[j * n + j];
    for (let k = 0; k < j; k++) s -= A[j * n + k] * A[j * n + k];
    if (!(s > tiny)) return false;
    const l = Math.sqrt(s);
    A[j * n + j] = l;
    for (let i = j + 1; i < n; i++) {
      let t = A[i * n + j];
      for (let k = 0; k < j; k++) t -= A[i * n + k] * A[j * n + k];
      A[i * n + j] = t / l;
    }
  }
  return true;
}

/** Creates an MPC room controller (see MpcController). */
export function createMpcController(options: MpcOptions): MpcController {
  return new MpcController(options);
}
