// Hot-water tank (boiler) controller: asks for heat when the usable hot water falls below what the forecast draws
// need plus a reserve, offers the tank's headroom as a heat sink (maxW), and forecasts how much it can absorb.
import { InvalidParameterError, requireFinite } from '../physics/errors.ts';
import type { TankModel } from '../physics/tank.ts';
import { aheadAt, clampW, SLOT_S } from './forecast.ts';
import type { HeatRequest, TankControlInput, TankController } from './types.ts';

/** Options of the tank controller. */
export interface TankControllerOptions {
  /** The tank (physics/tank.ts createTankModel): layer capacity, standing losses, exchanger limit. */
  readonly model: TankModel;
  /** Cold-water inlet temperature, °C (default 12; per zone and season in the twin). */
  readonly coldC?: number;
  /** Layers below this temperature do not count as usable hot water, °C (default 40: a shower's mixed temperature). */
  readonly minUsableC?: number;
  /** Usable energy to keep in hand beyond the forecast draws, Wh (default 1500: one long shower or a small bath). */
  readonly reserveWh?: number;
  /** Draws the tank must be ready for, hours ahead (default 12). */
  readonly lookaheadH?: number;
  /** A shortfall is made up over this long, h (default 2): powerW = shortfall / rechargeH. */
  readonly rechargeH?: number;
  /** Air temperature around the tank for the standing-loss estimate, °C (default 20). */
  readonly ambientC?: number;
}

/**
 * Tank controller. usable = Σ over layers ≥ minUsableC of C_layer·(T − coldC) (Wh); need(h) = draws forecast over
 * the next h hours + standing losses + reserveWh, for h ≤ lookaheadH.
 * powerW = (max_h need(h) − usable) / rechargeH, at least minW, within [0, maxW];
 * minW = least heat over this period such that, with the boards at maxHeatW afterwards, usable never falls below
 * the reserve before a forecast draw (the tank would run cold otherwise);
 * maxW = min(maxHeatW, headroomWh over the period): the tank is the year-round heat sink, it takes heat until full;
 * forecastW[k] = heat it could absorb in hour k if charged at maxHeatW from now (headroom first, then what the
 * draws and losses free up), so the scheduler's wantHeatH reads "hours of headroom at full power".
 */
export class TankHeatController implements TankController {
  private readonly model: TankModel;
  private readonly coldC: number;
  private readonly minUsableC: number;
  private readonly reserveWh: number;
  private readonly lookaheadH: number;
  private readonly rechargeH: number;
  private readonly ambientC: number;

  constructor(o: TankControllerOptions) {
    if (typeof o !== 'object' || o === null) throw new InvalidParameterError('options', 'must be an object');
    const m = o.model as TankModel | undefined;
    if (typeof m !== 'object' || m === null || !(m.layerCapJK > 0)) throw new InvalidParameterError('model', 'must be a TankModel from createTankModel');
    this.model = m;
    this.coldC = requireFinite('coldC', o.coldC ?? 12, -5, 40);
    this.minUsableC = requireFinite('minUsableC', o.minUsableC ?? 40, this.coldC, 100);
    this.reserveWh = requireFinite('reserveWh', o.reserveWh ?? 1500, 0, 1e6);
    this.lookaheadH = requireFinite('lookaheadH', o.lookaheadH ?? 12, 1, 24 * 14);
    if (!Number.isInteger(this.lookaheadH)) throw new InvalidParameterError('lookaheadH', `must be an integer, got ${this.lookaheadH}`);
    this.rechargeH = requireFinite('rechargeH', o.rechargeH ?? 2, 0.1, 48);
    this.ambientC = requireFinite('ambientC', o.ambientC ?? 20, -30, 50);
  }

  /** Usable hot water in the layers (°C, bottom first) relative to coldC, Wh. */
  usableWh(layersC: ArrayLike<number>): number {
    let e = 0;
    for (let i = 0; i < layersC.length; i++) {
      const t = layersC[i];
      if (t >= this.minUsableC) e += t - this.coldC;
    }
    return (e * this.model.layerCapJK) / 3600;
  }

  /** Computes the request for the next period into `out` (no allocation). */
  request(input: TankControlInput, out: HeatRequest): HeatRequest {
    const maxHeatW = input.maxHeatW > 0 ? input.maxHeatW : 0;
    const periodH = (input.periodS > 0 ? input.periodS : SLOT_S) / SLOT_S;
    const layers = input.layersC;
    let mean = 0;
    for (let i = 0; i < layers.length; i++) mean += layers[i];
    mean = layers.length > 0 ? mean / layers.length : this.ambientC;
    const lossW = mean > this.ambientC ? this.model.uaWK * (mean - this.ambientC) : 0;
    const usable = this.usableWh(layers);
    const headroomWh = input.headroomWh > 0 ? input.headroomWh : 0;
    const draws = input.drawAheadWh;

    // Cumulative need and the least heat this period that keeps the reserve before every draw.
    let cum = 0;
    let worstNeedWh = this.reserveWh - usable;
    let minWh = worstNeedWh;
    for (let h = 1; h <= this.lookaheadH; h++) {
      const dk = aheadAt(draws, h - 1, 0);
      cum += (dk > 0 ? dk : 0) + lossW;
      const need = cum + this.reserveWh - usable;
      if (need > worstNeedWh) worstNeedWh = need;
      const later = maxHeatW * (h - periodH > 0 ? h - periodH : 0);
      const m = need - later;
      if (m > minWh) minWh = m;
    }
    let maxW = clampW(headroomWh / periodH, maxHeatW);
    const minW = clampW(minWh / periodH, maxW);
    let powerW = clampW(worstNeedWh / this.rechargeH, maxW);
    if (powerW < minW) powerW = minW;
    if (maxW < powerW) maxW = powerW;
    out.powerW = powerW;
    out.minW = minW;
    out.maxW = maxW;

    // Absorbable heat per hour at full power: headroom first, then what draws and losses free up.
    const f = out.forecastW;
    let room = headroomWh;
    for (let k = 0; k < f.length; k++) {
      const dk = aheadAt(draws, k, 0);
      const avail = room + (dk > 0 ? dk : 0) + lossW;
      const take = avail < maxHeatW ? avail : maxHeatW;
      f[k] = take;
      room = avail - take;
    }
    return out;
  }
}

/** Creates a tank controller (see TankHeatController). */
export function createTankController(options: TankControllerOptions): TankHeatController {
  return new TankHeatController(options);
}
