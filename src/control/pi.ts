// PI room thermostat: proportional-integral on the air temperature with optional outdoor feed-forward and
// anti-windup by clamping the integrator to what the heater actually delivered (delivered()).
import { InvalidParameterError, requireFinite } from '../physics/errors.ts';
import { aheadAt, clampW, steadyHeatNeedW } from './forecast.ts';
import type { SharedHeatNeed } from './forecast.ts';
import type { HeatRequest, RoomControlInput, RoomController } from './types.ts';

/** Options of the PI controller. Defaults suit our rooms: UA ≈ 20–60 W/K, heater ≤ 650 W, body τ ≈ 30 min. */
export interface PiOptions {
  /**
   * Proportional gain, W/K (default 200). SIMC tuning of the heater→air path seen as first order plus delay: gain
   * ≈ 5 K/kW over the first hours, lag τ ≈ 1 h (air and surfaces), delay θ ≈ 0.5 h (radiator body); with τc = θ,
   * Kp = τ/(K·2θ) ≈ 200 W/K and Ti = min(τ, 8θ) ≈ 3600 s.
   */
  readonly kpWK?: number;
  /** Integral time, s (default 3600). */
  readonly tiS?: number;
  /** Feed-forward gain on (setpoint − outdoor), W/K (default 0: off). The room's UA is a good value. */
  readonly feedForwardWK?: number;
  /**
   * A delivery shortfall larger than this counts as "the heater could not deliver" (integrator clamped), W
   * (default 5).
   */
  readonly shortfallToleranceW?: number;
  /** Room heat-loss coefficient for the hourly forecast, W/K (default: feedForwardWK if set, else 35). */
  readonly uaWK?: number;
  /** Share of the transmitted sun that offsets heating in the forecast, 0..1 (default 1). */
  readonly solarUse?: number;
  /**
   * Pre-heating horizon, h (default 0: off). While the setpoint is set back and a higher one comes within this many
   * hours (the forecast's setpointAheadC), maxW also offers what holds the room at that coming setpoint: the
   * quasi-steady need at it plus Kp·(coming setpoint − air). The room then stays below its occupied setpoint, so
   * within comfort, and the heat stored is heat the morning does not ask for. Only maxW changes, never powerW.
   */
  readonly preheatH?: number;
}

/**
 * PI thermostat. u = ff + Kp·e + I with e = setpoint − air, ff = feedForwardWK·(setpoint − outdoor now), and
 * I += Kp·e·dt/Ti. Anti-windup by clamping, fed by delivered(): when the heater was limited over the last period
 * (it delivered less than asked, or the request hit maxHeatW), the integrator is capped at what was delivered minus
 * the feed-forward and does not integrate a positive error; when the request is clipped at 0 it does not integrate
 * a negative error. So a heater that could not deliver for hours leaves no wound-up integral behind.
 * minW / maxW are the same law aimed at the edges of the comfort band (setpoint − lowerBandK, setpoint +
 * upperBandK); forecastW is the quasi-steady need per hour (uaWK·(setpoint − outdoor) − gains − solarUse·sun)
 * corrected by the controller's current load estimate (ff + I minus that need now).
 */
export class PiController implements RoomController {
  readonly kind = 'pi' as const;
  private readonly kp: number;
  private readonly ti: number;
  private readonly ff: number;
  private readonly tolW: number;
  private readonly ua: number;
  private readonly solarUse: number;
  private readonly preheatH: number;
  /** Integral term, W. */
  integralW = 0;
  private lastRequestW = NaN;
  private lastMaxW = NaN;
  private lastDeliveredW = NaN;
  private lastUnclippedW = NaN;

  constructor(o: PiOptions = {}) {
    if (typeof o !== 'object' || o === null) throw new InvalidParameterError('options', 'must be an object');
    this.kp = requireFinite('kpWK', o.kpWK ?? 200, 0, 1e5);
    this.ti = requireFinite('tiS', o.tiS ?? 3600, 1, 1e7);
    this.ff = requireFinite('feedForwardWK', o.feedForwardWK ?? 0, 0, 1e4);
    this.tolW = requireFinite('shortfallToleranceW', o.shortfallToleranceW ?? 5, 0, 1e5);
    this.ua = requireFinite('uaWK', o.uaWK ?? (this.ff > 0 ? this.ff : 35), 0, 1e4);
    this.solarUse = requireFinite('solarUse', o.solarUse ?? 1, 0, 1);
    this.preheatH = requireFinite('preheatH', o.preheatH ?? 0, 0, 24 * 14);
    if (!Number.isInteger(this.preheatH)) throw new InvalidParameterError('preheatH', `must be an integer, got ${this.preheatH}`);
    if (!(this.kp > 0 || this.ff > 0)) throw new InvalidParameterError('kpWK', 'must be > 0 unless feedForwardWK is');
  }

  /** Computes the request for the next period into `out` (no allocation). */
  request(input: RoomControlInput, out: HeatRequest): HeatRequest {
    return this.requestShared(input, out, null);
  }

  /**
   * request(), with the quasi-steady need of the forecast taken from `shared` (computed once per shared key for all
   * the rooms that see the same inputs, see SharedHeatNeed); null: computed here. Same results either way.
   */
  requestShared(input: RoomControlInput, out: HeatRequest, shared: SharedHeatNeed | null): HeatRequest {
    const maxHeatW = input.maxHeatW > 0 ? input.maxHeatW : 0;
    const sp = input.setpointC;
    const air = input.airC;
    const e = sp - air;
    const outdoor = aheadAt(input.outdoorAheadC, 0, sp);
    const ffRaw = this.ff * (sp - outdoor);
    const ff = Number.isFinite(ffRaw) ? ffRaw : 0;
    if (!Number.isFinite(e)) {
      // No valid measurement or setpoint: ask for nothing and leave the integral as it was.
      out.powerW = 0;
      out.minW = 0;
      out.maxW = 0;
      out.forecastW.fill(0);
      this.lastRequestW = NaN;
      return out;
    }

    // Anti-windup from the last period: was the heater limited?
    if (!Number.isNaN(this.lastRequestW)) {
      const got = Number.isNaN(this.lastDeliveredW) ? this.lastRequestW : this.lastDeliveredW;
      const limitedHigh = got < this.lastRequestW - this.tolW || this.lastUnclippedW >= this.lastMaxW;
      const limitedLow = this.lastUnclippedW <= 0;
      if (limitedHigh) {
        const cap = got - ff;
        if (this.integralW > cap) this.integralW = cap;
      }
      const dI = (this.kp * e * input.periodS) / this.ti;
      if (!((limitedHigh && dI > 0) || (limitedLow && dI < 0))) this.integralW += dI;
    } else {
      this.integralW += (this.kp * e * input.periodS) / this.ti;
    }
    if (this.integralW > maxHeatW) this.integralW = maxHeatW;
    else if (this.integralW < -maxHeatW) this.integralW = -maxHeatW;

    const v = ff + this.kp * e + this.integralW;
    const lim = input.limits;
    let powerW = clampW(v, maxHeatW);
    let minW = clampW(v - this.kp * lim.lowerBandK, powerW);
    let maxW = clampW(v + this.kp * lim.upperBandK, maxHeatW);
    if (this.preheatH > 0) {
      const pre = preheatW(input, this.preheatH, this.kp, this.ua, this.solarUse, maxHeatW);
      if (pre > maxW) maxW = pre;
    }
    if (maxW < powerW) maxW = powerW;
    if (!(air < lim.safetyMaxC)) {
      powerW = 0;
      minW = 0;
      maxW = 0;
    }
    this.lastUnclippedW = v;
    this.lastRequestW = powerW;
    this.lastMaxW = maxHeatW;
    this.lastDeliveredW = NaN;

    out.powerW = powerW;
    out.minW = minW;
    out.maxW = maxW;
    const f = out.forecastW;
    const n = f.length;
    const need = shared === null ? steadyHeatNeedW(input, this.ua, this.solarUse, f) : shared.need(input, this.ua, this.solarUse, n);
    if (n > 0) {
      const bias = ff + this.integralW - need[0];
      for (let k = 0; k < n; k++) {
        const w = need[k] + bias;
        f[k] = w > maxHeatW ? maxHeatW : w > 0 ? w : 0;
      }
    }
    return out;
  }

  /** Records the heat the heater actually delivered over the last period, W (anti-windup). */
  delivered(powerW: number): void {
    this.lastDeliveredW = powerW;
  }

  /** Copies this controller's parameters and state into slot j of a PiBank (see PiBank.adopt). */
  saveTo(bank: PiBank, j: number): void {
    bank.setParams(j, [this.kp, this.ti, this.ff, this.tolW, this.ua, this.solarUse, this.preheatH]);
    bank.integralW[j] = this.integralW;
    bank.lastRequestW[j] = this.lastRequestW;
    bank.lastMaxW[j] = this.lastMaxW;
    bank.lastDeliveredW[j] = this.lastDeliveredW;
    bank.lastUnclippedW[j] = this.lastUnclippedW;
  }

  /** Takes back the state of slot j of a PiBank (see PiBank.syncTo). */
  loadFrom(bank: PiBank, j: number): void {
    this.integralW = bank.integralW[j];
    this.lastRequestW = bank.lastRequestW[j];
    this.lastMaxW = bank.lastMaxW[j];
    this.lastDeliveredW = bank.lastDeliveredW[j];
    this.lastUnclippedW = bank.lastUnclippedW[j];
  }
}

/** Creates a PI room controller (see PiController). */
export function createPiController(options: PiOptions = {}): PiController {
  return new PiController(options);
}

/**
 * Many PI controllers stepped together for a fleet (struct of arrays: the per-room state sits in typed arrays instead
 * of one object per room, which is what costs at 100,000 rooms). Slot j takes over the parameters and state of a
 * PiController (adopt) and then runs exactly PiController.request / delivered; request also returns what a fleet
 * needs from the forecast (wantHeatHours of forecastW) without writing the forecast out. syncTo gives the state back.
 * The parameters are kept once per distinct set (rooms of a kind share theirs): a pass over the rooms reads one
 * index per room instead of seven arrays.
 */
export class PiBank {
  /** Slot j's parameter set: an index into kp, ti, ff, tolW, ua, solarUse and preheatH. */
  readonly paramSet: Int32Array;
  kp: Float64Array = new Float64Array(8);
  ti: Float64Array = new Float64Array(8);
  ff: Float64Array = new Float64Array(8);
  tolW: Float64Array = new Float64Array(8);
  ua: Float64Array = new Float64Array(8);
  solarUse: Float64Array = new Float64Array(8);
  preheatH: Float64Array = new Float64Array(8);
  private nSets = 0;
  private lastSet = -1;
  private readonly setIndex = new Map<string, number>();
  readonly integralW: Float64Array;
  readonly lastRequestW: Float64Array;
  readonly lastMaxW: Float64Array;
  readonly lastDeliveredW: Float64Array;
  readonly lastUnclippedW: Float64Array;
  /** The last request's power, minimum and maximum, W (outputs of request). */
  powerW = 0;
  minW = 0;
  maxW = 0;
  private forecast = new Float64Array(0);

  constructor(size: number) {
    const a = (): Float64Array => new Float64Array(size);
    this.paramSet = new Int32Array(size);
    this.integralW = a();
    this.lastRequestW = a().fill(NaN);
    this.lastMaxW = a().fill(NaN);
    this.lastDeliveredW = a().fill(NaN);
    this.lastUnclippedW = a().fill(NaN);
  }

  /** Gives slot j the parameters (kp, ti, ff, tolW, ua, solarUse, preheatH), shared with the slots that have the same. */
  setParams(j: number, params: readonly [number, number, number, number, number, number, number]): void {
    // Slots are usually adopted room after room of a kind: the set of the last one, when it holds the same numbers.
    const last = this.lastSet;
    if (
      last >= 0 &&
      Object.is(this.kp[last], params[0]) &&
      Object.is(this.ti[last], params[1]) &&
      Object.is(this.ff[last], params[2]) &&
      Object.is(this.tolW[last], params[3]) &&
      Object.is(this.ua[last], params[4]) &&
      Object.is(this.solarUse[last], params[5]) &&
      Object.is(this.preheatH[last], params[6])
    ) {
      this.paramSet[j] = last;
      return;
    }
    // Keyed by the exact bits (−0 and NaN payloads included): a shared set holds the very numbers given.
    const key = Array.from(new Uint32Array(Float64Array.from(params).buffer), (u) => u.toString(36)).join(',');
    let k = this.setIndex.get(key);
    if (k === undefined) {
      k = this.nSets++;
      this.setIndex.set(key, k);
      if (k >= this.kp.length) {
        const grow = (x: Float64Array): Float64Array => {
          const y = new Float64Array(2 * x.length);
          y.set(x);
          return y;
        };
        this.kp = grow(this.kp);
        this.ti = grow(this.ti);
        this.ff = grow(this.ff);
        this.tolW = grow(this.tolW);
        this.ua = grow(this.ua);
        this.solarUse = grow(this.solarUse);
        this.preheatH = grow(this.preheatH);
      }
      [this.kp[k], this.ti[k], this.ff[k], this.tolW[k], this.ua[k], this.solarUse[k], this.preheatH[k]] = params;
    }
    this.paramSet[j] = k;
    this.lastSet = k;
  }

  /** Slot j takes over controller c's parameters and state. */
  adopt(j: number, c: PiController): void {
    c.saveTo(this, j);
  }

  /** Gives slot j's state back to controller c. */
  syncTo(j: number, c: PiController): void {
    c.loadFrom(this, j);
  }

  /** PiController.delivered for slot j, W. */
  delivered(j: number, powerW: number): void {
    this.lastDeliveredW[j] = powerW;
  }

  /**
   * PiController.request for slot j over a forecast of `horizon` slots (need from `shared`, see SharedHeatNeed; null:
   * computed here): sets powerW, minW, maxW and returns wantHeatHours(forecastW, idleW) of the forecast it would write.
   */
  request(j: number, input: RoomControlInput, horizon: number, idleW: number, shared: SharedHeatNeed | null): number {
    const ps = this.paramSet[j];
    const maxHeatW = input.maxHeatW > 0 ? input.maxHeatW : 0;
    const sp = input.setpointC;
    const air = input.airC;
    const e = sp - air;
    const outdoor = aheadAt(input.outdoorAheadC, 0, sp);
    const ffRaw = this.ff[ps] * (sp - outdoor);
    const ff = Number.isFinite(ffRaw) ? ffRaw : 0;
    const kp = this.kp[ps];
    if (!Number.isFinite(e)) {
      this.powerW = 0;
      this.minW = 0;
      this.maxW = 0;
      this.lastRequestW[j] = NaN;
      return horizon > 0 && !(0 >= idleW) ? 0 : horizon;
    }
    let integralW = this.integralW[j];
    const lastRequestW = this.lastRequestW[j];
    if (!Number.isNaN(lastRequestW)) {
      const lastDeliveredW = this.lastDeliveredW[j];
      const got = Number.isNaN(lastDeliveredW) ? lastRequestW : lastDeliveredW;
      const lastUnclippedW = this.lastUnclippedW[j];
      const limitedHigh = got < lastRequestW - this.tolW[ps] || lastUnclippedW >= this.lastMaxW[j];
      const limitedLow = lastUnclippedW <= 0;
      if (limitedHigh) {
        const cap = got - ff;
        if (integralW > cap) integralW = cap;
      }
      const dI = (kp * e * input.periodS) / this.ti[ps];
      if (!((limitedHigh && dI > 0) || (limitedLow && dI < 0))) integralW += dI;
    } else {
      integralW += (kp * e * input.periodS) / this.ti[ps];
    }
    if (integralW > maxHeatW) integralW = maxHeatW;
    else if (integralW < -maxHeatW) integralW = -maxHeatW;
    this.integralW[j] = integralW;

    const v = ff + kp * e + integralW;
    const lim = input.limits;
    let powerW = clampW(v, maxHeatW);
    let minW = clampW(v - kp * lim.lowerBandK, powerW);
    let maxW = clampW(v + kp * lim.upperBandK, maxHeatW);
    const preH = this.preheatH[ps];
    if (preH > 0) {
      const pre = preheatW(input, preH, kp, this.ua[ps], this.solarUse[ps], maxHeatW);
      if (pre > maxW) maxW = pre;
    }
    if (maxW < powerW) maxW = powerW;
    if (!(air < lim.safetyMaxC)) {
      powerW = 0;
      minW = 0;
      maxW = 0;
    }
    this.lastUnclippedW[j] = v;
    this.lastRequestW[j] = powerW;
    this.lastMaxW[j] = maxHeatW;
    this.lastDeliveredW[j] = NaN;
    this.powerW = powerW;
    this.minW = minW;
    this.maxW = maxW;

    if (horizon <= 0) return 0;
    let need: Float64Array;
    if (shared !== null) need = shared.need(input, this.ua[ps], this.solarUse[ps], horizon);
    else {
      if (this.forecast.length !== horizon) this.forecast = new Float64Array(horizon);
      need = steadyHeatNeedW(input, this.ua[ps], this.solarUse[ps], this.forecast);
    }
    const bias = ff + integralW - need[0];
    for (let k = 0; k < horizon; k++) {
      const w = need[k] + bias;
      const f = w > maxHeatW ? maxHeatW : w > 0 ? w : 0;
      if (!(f >= idleW)) return k;
    }
    return horizon;
  }

  /**
   * PiBank.request for slots [from, to) that all see the same input except the air temperature (airC[j] for slot j):
   * what depends on the input only (outdoor now, the preheat setpoint and need) is computed once, the need's forecast
   * comes from `shared`, and wantHeatHours from SharedHeatNeed.firstBelow. Same arithmetic as request, slot by slot.
   */
  requestGroup(
    from: number,
    to: number,
    input: RoomControlInput,
    airC: Float64Array,
    horizon: number,
    idleW: number,
    shared: SharedHeatNeed,
    out: PiGroupOutputs,
  ): void {
    const maxHeatW = input.maxHeatW > 0 ? input.maxHeatW : 0;
    const sp = input.setpointC;
    const outdoor = aheadAt(input.outdoorAheadC, 0, sp);
    const spOut = sp - outdoor;
    const periodS = input.periodS;
    const lim = input.limits;
    const lowerBandK = lim.lowerBandK;
    const upperBandK = lim.upperBandK;
    const safetyMaxC = lim.safetyMaxC;
    const gains0 = aheadAt(input.gainsAheadW, 0, 0);
    const solar0 = aheadAt(input.solarAheadW, 0, 0);
    let cPreH = NaN;
    let cComing = NaN;
    let cUa = NaN;
    let cSolarUse = NaN;
    let cNeed = NaN;
    const { kp: kpA, ti: tiA, ff: ffA, tolW: tolA, ua: uaA, solarUse: suA, preheatH: preA, paramSet } = this;
    const { integralW: intA, lastRequestW: lrA, lastMaxW: lmA, lastDeliveredW: ldA, lastUnclippedW: luA } = this;
    const { powerW: outP, minW: outMin, maxW: outMax, wantHeatH: outWant } = out;
    const rec = shared.records;
    let needFor: Float64Array | null = null;
    let needUa = NaN;
    let needSu = NaN;
    let nRec = 0;
    for (let j = from; j < to; j++) {
      const ps = paramSet[j];
      const air = airC[j];
      const e = sp - air;
      const ffRaw = ffA[ps] * spOut;
      const ff = Number.isFinite(ffRaw) ? ffRaw : 0;
      const kp = kpA[ps];
      if (!Number.isFinite(e)) {
        outP[j] = 0;
        outMin[j] = 0;
        outMax[j] = 0;
        lrA[j] = NaN;
        outWant[j] = horizon > 0 && !(0 >= idleW) ? 0 : horizon;
        continue;
      }
      let integralW = intA[j];
      const lastRequestW = lrA[j];
      if (!Number.isNaN(lastRequestW)) {
        const lastDeliveredW = ldA[j];
        const got = Number.isNaN(lastDeliveredW) ? lastRequestW : lastDeliveredW;
        const lastUnclippedW = luA[j];
        const limitedHigh = got < lastRequestW - tolA[ps] || lastUnclippedW >= lmA[j];
        const limitedLow = lastUnclippedW <= 0;
        if (limitedHigh) {
          const cap = got - ff;
          if (integralW > cap) integralW = cap;
        }
        const dI = (kp * e * periodS) / tiA[ps];
        if (!((limitedHigh && dI > 0) || (limitedLow && dI < 0))) integralW += dI;
      } else {
        integralW += (kp * e * periodS) / tiA[ps];
      }
      if (integralW > maxHeatW) integralW = maxHeatW;
      else if (integralW < -maxHeatW) integralW = -maxHeatW;
      intA[j] = integralW;

      const v = ff + kp * e + integralW;
      // clampW(x, max) = x > max ? max : x > 0 ? x : 0, written out (no call with floating-point arguments per room).
      let powerW = v > maxHeatW ? maxHeatW : v > 0 ? v : 0;
      const vLo = v - kp * lowerBandK;
      let minW = vLo > powerW ? powerW : vLo > 0 ? vLo : 0;
      const vHi = v + kp * upperBandK;
      let maxW = vHi > maxHeatW ? maxHeatW : vHi > 0 ? vHi : 0;
      const preH = preA[ps];
      if (preH > 0) {
        // preheatW(input, preH, kp, ua, solarUse, maxHeatW), its air-independent terms computed once per call.
        if (cPreH !== preH) {
          const ahead = input.setpointAheadC;
          const n = Math.min(preH, ahead.length);
          let coming = sp;
          for (let k = 0; k < n; k++) if (ahead[k] > coming) coming = ahead[k];
          cPreH = preH;
          cComing = coming;
          cUa = NaN;
        }
        const coming = cComing;
        if (coming > sp) {
          const ua = uaA[ps];
          const su = suA[ps];
          if (!(cUa === ua && cSolarUse === su)) {
            cNeed = ua * (coming - aheadAt(input.outdoorAheadC, 0, coming)) - gains0 - su * solar0;
            cUa = ua;
            cSolarUse = su;
          }
          const preRaw = cNeed + kp * (coming - air);
          const pre = preRaw > maxHeatW ? maxHeatW : preRaw > 0 ? preRaw : 0;
          if (pre > maxW) maxW = pre;
        }
      }
      if (maxW < powerW) maxW = powerW;
      if (!(air < safetyMaxC)) {
        powerW = 0;
        minW = 0;
        maxW = 0;
      }
      luA[j] = v;
      lrA[j] = powerW;
      lmA[j] = maxHeatW;
      ldA[j] = NaN;
      outP[j] = powerW;
      outMin[j] = minW;
      outMax[j] = maxW;
      if (horizon <= 0) {
        outWant[j] = 0;
        continue;
      }
      // shared.need(…) and shared.firstBelow(…), inlined: need() is called again only when its arguments change (it
      // returns the same array, untouched, for the same ones), and the first slot below idleW is searched here (no
      // call with floating-point arguments per room).
      const ua = uaA[ps];
      const su = suA[ps];
      if (needFor === null || ua !== needUa || su !== needSu) {
        needFor = shared.need(input, ua, su, horizon);
        needUa = ua;
        needSu = su;
        nRec = shared.recordCount;
      }
      const need = needFor;
      const bias = ff + integralW - need[0];
      let want = need.length;
      if (nRec < 0) {
        for (let k = 0; k < need.length; k++) {
          const w = need[k] + bias;
          const f = w > maxHeatW ? maxHeatW : w > 0 ? w : 0;
          if (!(f >= idleW)) {
            want = k;
            break;
          }
        }
      } else {
        for (let q = 0; q < nRec; q++) {
          const k = rec[q];
          const w = need[k] + bias;
          const f = w > maxHeatW ? maxHeatW : w > 0 ? w : 0;
          if (!(f >= idleW)) {
            want = k;
            break;
          }
        }
      }
      outWant[j] = want;
    }
  }
}

/** Outputs of PiBank.requestGroup, per slot (the twin passes its FleetView columns). */
export interface PiGroupOutputs {
  readonly powerW: Float64Array;
  readonly minW: Float64Array;
  readonly maxW: Float64Array;
  readonly wantHeatH: Float32Array | Float64Array;
}

/**
 * What holds a set-back room at the setpoint coming within `horizonH` hours, W (0 when none is higher than now):
 * uaWK·(coming − outdoor) − gains − solarUse·sun (now) + kp·(coming − air), within [0, maxHeatW].
 */
export function preheatW(input: RoomControlInput, horizonH: number, kp: number, uaWK: number, solarUse: number, maxHeatW: number): number {
  const sp = input.setpointC;
  const ahead = input.setpointAheadC;
  const n = Math.min(horizonH, ahead.length);
  let coming = sp;
  for (let k = 0; k < n; k++) if (ahead[k] > coming) coming = ahead[k];
  if (!(coming > sp)) return 0;
  const outdoor = aheadAt(input.outdoorAheadC, 0, coming);
  const need = uaWK * (coming - outdoor) - aheadAt(input.gainsAheadW, 0, 0) - solarUse * aheadAt(input.solarAheadW, 0, 0);
  return clampW(need + kp * (coming - input.airC), maxHeatW);
}
