// On/off room thermostat with a band around the setpoint: asks for the heater's full power or nothing, like the
// bimetal thermostat of a plain electric radiator; the band and forecast come from simple room physics.
import { InvalidParameterError, requireFinite } from '../physics/errors.ts';
import { steadyHeatNeedW } from './forecast.ts';
import type { SharedHeatNeed } from './forecast.ts';
import type { HeatRequest, RoomControlInput, RoomController } from './types.ts';

/** Options of the hysteresis thermostat. */
export interface HysteresisOptions {
  /** Width of the switching band centred on the setpoint, K (default 0.5: on below sp − 0.25, off above sp + 0.25). */
  readonly bandK?: number;
  /** Room heat-loss coefficient for the hourly forecast, W/K (default 35). */
  readonly uaWK?: number;
  /** Share of the transmitted sun that offsets heating in the forecast, 0..1 (default 1). */
  readonly solarUse?: number;
}

/**
 * On/off thermostat: turns on below setpoint − bandK/2, off above setpoint + bandK/2, and asks for maxHeatW when on,
 * 0 when off. It is always off at or above the upper comfort edge (setpoint + upperBandK) or the safety limit.
 * minW = powerW while the air is below the lower comfort edge (setpoint − lowerBandK), else 0 (the room can coast);
 * maxW = maxHeatW while the air is below the upper comfort edge, else 0; forecastW = the quasi-steady need per hour,
 * uaWK·(setpoint − outdoor) − gains − solarUse·sun, clamped to [0, maxHeatW] (the mean of the on/off cycle).
 */
export class HysteresisController implements RoomController {
  readonly kind = 'hysteresis' as const;
  private readonly halfBandK: number;
  private readonly ua: number;
  private readonly solarUse: number;
  /** Whether the thermostat is calling for heat. */
  on = false;

  constructor(o: HysteresisOptions = {}) {
    if (typeof o !== 'object' || o === null) throw new InvalidParameterError('options', 'must be an object');
    this.halfBandK = requireFinite('bandK', o.bandK ?? 0.5, 0, 10) / 2;
    this.ua = requireFinite('uaWK', o.uaWK ?? 35, 0, 1e4);
    this.solarUse = requireFinite('solarUse', o.solarUse ?? 1, 0, 1);
  }

  /** Switches and writes the request into `out` (no allocation). */
  request(input: RoomControlInput, out: HeatRequest): HeatRequest {
    return this.requestShared(input, out, null);
  }

  /** request(), with the forecast copied from `shared` (see SharedHeatNeed; null: computed here). Same results. */
  requestShared(input: RoomControlInput, out: HeatRequest, shared: SharedHeatNeed | null): HeatRequest {
    const maxHeatW = input.maxHeatW > 0 ? input.maxHeatW : 0;
    const sp = input.setpointC;
    const air = input.airC;
    const lim = input.limits;
    if (air < sp - this.halfBandK) this.on = true;
    else if (air > sp + this.halfBandK) this.on = false;
    const roomFull = !(air < sp + lim.upperBandK && air < lim.safetyMaxC);
    if (roomFull) this.on = false;
    out.powerW = this.on ? maxHeatW : 0;
    out.minW = air < sp - lim.lowerBandK ? out.powerW : 0;
    out.maxW = roomFull ? 0 : maxHeatW;
    if (shared === null) steadyHeatNeedW(input, this.ua, this.solarUse, out.forecastW);
    else out.forecastW.set(shared.need(input, this.ua, this.solarUse, out.forecastW.length));
    return out;
  }

  /** An on/off thermostat keeps no integral: nothing to do (W). */
  delivered(_powerW: number): void {
    // No state depends on delivery.
  }
}

/** Creates a hysteresis room controller (see HysteresisController). */
export function createHysteresisController(options: HysteresisOptions = {}): HysteresisController {
  return new HysteresisController(options);
}
