// The contract between room/tank controllers and the scheduler: what a controller sees and the heat request it
// emits (power for the next period plus a forecast), shared by the twin and, later, the live coordinator.

/** Comfort and safety limits of a room, °C. */
export interface ComfortLimits {
  /** Below (setpoint − lowerBandK) during occupied hours counts as discomfort (SCHEDULING.md: 0.5 K). */
  readonly lowerBandK: number;
  /** Above (setpoint + upperBandK) at any time counts as discomfort (SCHEDULING.md: 1 K). */
  readonly upperBandK: number;
  /** Absolute safety limit of the air temperature, °C: compute must stop (pause) above it. */
  readonly safetyMaxC: number;
}

export const DEFAULT_COMFORT: ComfortLimits = { lowerBandK: 0.5, upperBandK: 1, safetyMaxC: 28 };

/** What a room controller sees at the start of a control period. All temperatures °C, powers W, times s. */
export interface RoomControlInput {
  /** Simulation or wall time of the period start, s (a value, never read from a clock). */
  readonly nowS: number;
  /** Period length, s (the request holds for it). */
  readonly periodS: number;
  /** Measured air temperature, °C. */
  readonly airC: number;
  /** Full model state when known (twin; or an observer live), in the model's state order; else undefined. */
  readonly state?: Float64Array;
  /** Setpoint now, °C. */
  readonly setpointC: number;
  /**
   * Setpoint forecast: value for each hour ahead starting at nowS (index 0 = the current hour), °C. Length = the
   * controller's horizon in hours (may be shorter; the last value holds).
   */
  readonly setpointAheadC: ArrayLike<number>;
  /** Outdoor temperature forecast, one value per hour ahead, °C. */
  readonly outdoorAheadC: ArrayLike<number>;
  /** Solar gain forecast through the room's windows, one value per hour ahead, W. */
  readonly solarAheadW: ArrayLike<number>;
  /** Internal gains forecast, one value per hour ahead, W. */
  readonly gainsAheadW: ArrayLike<number>;
  /** Most heat the room's heater can deliver (boards at top level + booster), W. */
  readonly maxHeatW: number;
  readonly limits: ComfortLimits;
}

/** A controller's output for one room or tank. */
export interface HeatRequest {
  /** Heat wanted over the next period, W (≥ 0). */
  powerW: number;
  /** Least heat over the next period that keeps comfort (the scheduler may give less only at a comfort cost), W. */
  minW: number;
  /** Most heat the room can take over the next period without leaving comfort or approaching safety, W. */
  maxW: number;
  /**
   * Forecast of the request, one value per hour ahead (index 0 = the coming hour), W: how long the room will keep
   * wanting heat. A scheduler places long work where this stays high for the work's whole duration.
   */
  readonly forecastW: Float64Array;
}

/** A room controller: stateful (integrators, hysteresis), deterministic, no I/O. */
export interface RoomController {
  readonly kind: 'hysteresis' | 'pi' | 'mpc';
  /** Computes the request for the next period into `out` (no allocation in the hot path). */
  request(input: RoomControlInput, out: HeatRequest): HeatRequest;
  /** Tells the controller what was actually delivered over the last period (anti-windup), W. */
  delivered(powerW: number): void;
}

/** What a tank (boiler) controller sees. */
export interface TankControlInput {
  readonly nowS: number;
  readonly periodS: number;
  /** Layer temperatures, bottom first, °C. */
  readonly layersC: ArrayLike<number>;
  /** Usable energy still absorbable before the tank is full (all layers at the boards' max water temperature), Wh. */
  readonly headroomWh: number;
  /** Forecast of draws, one value per hour ahead, Wh (relative to cold water). */
  readonly drawAheadWh: ArrayLike<number>;
  /** Most heat the boards can put into the water now, W. */
  readonly maxHeatW: number;
}

/** A tank controller: how much heat the tank wants and can absorb. */
export interface TankController {
  request(input: TankControlInput, out: HeatRequest): HeatRequest;
}
