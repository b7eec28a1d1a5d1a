// The room (or hot-water tank) an agent heats when it runs as hardware-in-the-loop: the twin's physics (the
// VDI 6007 two-element room with a radiator body, or a mixed tank) heated by the power the agent really draws.
// Time can run faster than the wall clock for demos: the room advances `speed` simulated seconds per wall second.
//
// The room setup duplicates the ~40 lines of physics setup of src/cli/local-fleet.ts (archetypeFromSpec, initial
// state, the mixed tank), which the agent may not import; local-fleet.ts will be retired in favour of this file.
import { archetypeStateSpace } from '../physics/building.ts';
import { dwellingRoom, officeRoom, radiatorForPower, type Era, type RoomArchetype } from '../physics/archetypes.ts';
import { discretise, stepDiscrete } from '../physics/discretise.ts';
import type { DiscreteStateSpace, StateSpace } from '../physics/state-space.ts';
import { CLIMATE_ZONES, generateWeather, type ClimateZone } from '../physics/weather/synthetic.ts';
import { surfaceIrradiance, windowSolarGainW } from '../physics/weather/solar.ts';
import { emptySample, weatherAt, type WeatherSeries } from '../physics/weather/types.ts';

/** The construction eras a spec may name. */
export const ROOM_ERAS: readonly Era[] = ['pre1974', '1974-1982', '1989-2000', 'rt2005', 'rt2012'];

/** What a twin is: a room of an archetype, or a mixed hot-water tank. */
export type TwinSpec = { kind: 'room'; archetype: RoomArchetype } | { kind: 'tank'; volumeL: number };

/**
 * Reads a twin spec string: `dwelling-<era>` or `office-<era>` (era one of {@link ROOM_ERAS}), optionally with a
 * floor area suffix `:<m²>` (default 20 m², 5–500), or `tank` / `tank-<litres>` (default 300 L, 20–5000).
 * `heaterMaxW` (W) sizes the radiator body of a room (see physics/archetypes.ts radiatorForPower).
 * @throws Error naming the spec when it is not one of these
 */
export function twinFromSpec(spec: string, heaterMaxW: number): TwinSpec {
  const tank = /^tank(?:-(\d+(?:\.\d+)?))?$/.exec(spec);
  if (tank) {
    const volumeL = tank[1] === undefined ? 300 : Number(tank[1]);
    if (!(volumeL >= 20 && volumeL <= 5000)) throw new Error(`room twin ${JSON.stringify(spec)}: tank volume must be 20–5000 L`);
    return { kind: 'tank', volumeL };
  }
  const m = /^(dwelling|office)-([a-z0-9-]+?)(?::(\d+(?:\.\d+)?))?$/.exec(spec);
  if (!m || !(ROOM_ERAS as readonly string[]).includes(m[2])) {
    throw new Error(`room twin ${JSON.stringify(spec)}: expected dwelling-<era>[:m²], office-<era>[:m²] or tank[-litres], era one of ${ROOM_ERAS.join(', ')}`);
  }
  const area = m[3] === undefined ? 20 : Number(m[3]);
  if (!(area >= 5 && area <= 500)) throw new Error(`room twin ${JSON.stringify(spec)}: floor area must be 5–500 m²`);
  const era = m[2] as Era;
  const radiator = radiatorForPower(Math.max(1, heaterMaxW));
  return { kind: 'room', archetype: m[1] === 'office' ? officeRoom(era, area, { radiator }) : dwellingRoom(era, area, { radiator }) };
}

/** Options of a {@link RoomTwin}. */
export interface RoomTwinOptions {
  /** A spec string ({@link twinFromSpec}) or a parsed spec. Default `dwelling-1974-1982`. */
  spec?: string | TwinSpec;
  /** Electrical power of the heater at full load, W (sizes a room's radiator body). Default 495. */
  heaterMaxW?: number;
  /**
   * Simulated seconds per wall-clock second (default 1). A demo at 60 shows an hour of heating in a minute: the
   * room then receives the heater's power for 60 s per wall second, so it warms 60 times faster than a real
   * room would. Energy meters and billing stay in wall time; only the simulated room is sped up.
   */
  speed?: number;
  /** Starting air temperature, °C (walls a little cooler, as after a night). Default 18 for a room, 50 for a tank. */
  initialC?: number;
  /**
   * The weather outside the room: a French climate zone's synthetic year (physics/weather/synthetic.ts), whose
   * outdoor temperature and sun through the room's windows drive the room (the `outdoorC` given to {@link step}
   * is then ignored). Absent: the room sees the `outdoorC` it is given and no sun.
   */
  climate?: RoomTwinClimate;
}

/** Where and when the room twin's weather comes from. */
export interface RoomTwinClimate {
  /** Climate zone, one of {@link CLIMATE_ZONES}. */
  zone: ClimateZone;
  /** The simulated clock at the start, ms since the epoch (the room's date and hour of day; UTC ≈ solar time). */
  startMs: number;
  /** Seed of the synthetic weather (rooms of one site share it, as they share the sky). Default 1. */
  seed?: number;
}

/** Reads a climate zone name, or throws naming the accepted ones. */
export function climateZoneFrom(name: string): ClimateZone {
  const z = CLIMATE_ZONES.find((c) => c.toLowerCase() === name.toLowerCase());
  if (!z) throw new Error(`climate zone ${JSON.stringify(name)}: expected one of ${CLIMATE_ZONES.join(', ')}`);
  return z;
}

/** What {@link RoomTwin.step} answers. */
export interface TwinTemperatures {
  /** Room air (or tank water), °C. */
  airC: number;
  /** Radiator body (a tank: the water), °C. */
  bodyC: number;
}

/** Mixed tank: loss to a 20 °C plant room (W/K) and a steady draw of 4 L/h of 10 °C mains water (W/K). */
const TANK_LOSS_WK = 2;
const TANK_DRAW_WK = (4 / 3600) * 4186;
const WATER_J_PER_LK = 4186;
/** Discrete room models kept per distinct step length. */
const MODEL_CACHE = 8;

/**
 * A simulated room or tank. Each {@link step} advances it exactly (the room model is discretised at the step's own
 * length, inputs held over the step), so ticks of any period give the same trajectory as one long step would.
 */
export class RoomTwin {
  readonly spec: TwinSpec;
  /** Simulated seconds per wall-clock second. */
  readonly speed: number;
  private readonly ss: StateSpace | null;
  private readonly models = new Map<number, DiscreteStateSpace>();
  /** Room: T_air, T_E1, T_I1, T_body (°C). */
  private readonly x: Float64Array;
  private readonly next: Float64Array;
  private readonly u: Float64Array;
  /** Tank: water temperature (°C) and capacity (J/K). */
  private tankC = 0;
  private readonly tankJK: number = 0;
  /** Simulated seconds advanced so far. */
  simulatedS = 0;
  /** The room's weather (one synthetic year, repeated) and the sun through its windows per sample (W). */
  private readonly weather: WeatherSeries | null = null;
  private readonly solarW: Float64Array | null = null;
  /** Seconds from 1 January 00:00 of the simulated clock at the start. */
  private readonly yearStartS: number = 0;
  private readonly sample = emptySample();

  constructor(options: RoomTwinOptions = {}) {
    const maxW = options.heaterMaxW ?? 495;
    this.spec = typeof options.spec === 'object' ? options.spec : twinFromSpec(options.spec ?? 'dwelling-1974-1982', maxW);
    const speed = options.speed ?? 1;
    if (!(Number.isFinite(speed) && speed > 0 && speed <= 100_000)) throw new Error(`room twin speed must be in (0, 100000], got ${speed}`);
    this.speed = speed;
    if (this.spec.kind === 'room') {
      this.ss = archetypeStateSpace(this.spec.archetype);
      const t0 = options.initialC ?? 18;
      // Walls cooler than the air, the radiator at the air's temperature.
      this.x = Float64Array.from([t0, t0 - 2, t0 - 0.5, t0]);
      this.next = new Float64Array(this.ss.nx);
      this.u = new Float64Array(this.ss.nu);
    } else {
      this.ss = null;
      this.x = new Float64Array(0);
      this.next = new Float64Array(0);
      this.u = new Float64Array(0);
      this.tankC = options.initialC ?? 50;
      this.tankJK = this.spec.volumeL * WATER_J_PER_LK;
    }
    const c = options.climate;
    if (c) {
      if (!(CLIMATE_ZONES as readonly string[]).includes(c.zone)) throw new Error(`room twin climate zone must be one of ${CLIMATE_ZONES.join(', ')}`);
      if (!Number.isFinite(c.startMs)) throw new Error('room twin climate startMs must be a finite time');
      this.weather = generateWeather(c.zone, { seed: c.seed ?? 1, years: 1 });
      const start = new Date(c.startMs);
      this.yearStartS = (c.startMs - Date.UTC(start.getUTCFullYear(), 0, 1)) / 1000;
      if (this.spec.kind === 'room') {
        const a = this.spec.archetype;
        const irr = surfaceIrradiance(this.weather, { tiltDeg: 90, azimuthDeg: a.facadeAzimuthDeg });
        this.solarW = Float64Array.from(irr.totalWm2, (_, i) =>
          windowSolarGainW(
            { beamWm2: irr.beamWm2[i], skyDiffuseWm2: irr.skyDiffuseWm2[i], groundWm2: irr.groundWm2[i], totalWm2: irr.totalWm2[i] },
            irr.cosIncidence[i],
            90,
            a.windowAreaM2,
            a.windowG,
          ),
        );
      }
    }
  }

  /** The outdoor temperature now on the twin's own weather, °C; null without a climate. */
  get outdoorC(): number | null {
    return this.weather ? weatherAt(this.weather, this.yearStartS + this.simulatedS, this.sample).tempC : null;
  }

  /** Sun through the windows now, W (0 without a climate or for a tank). */
  get solarGainW(): number {
    return this.solarAt(this.yearStartS + this.simulatedS);
  }

  /** Transmitted sun at simulated time `s` (s from 1 January), W: the hourly mean of the sample holding `s`. */
  private solarAt(s: number): number {
    const w = this.weather;
    if (!w || !this.solarW) return 0;
    const n = this.solarW.length;
    let i = Math.floor((s - w.startS + w.stepS / 2) / w.stepS);
    i -= Math.floor(i / n) * n;
    return this.solarW[i];
  }

  /** Air (or water) temperature now, °C. */
  get airC(): number {
    return this.spec.kind === 'room' ? this.x[0] : this.tankC;
  }

  /** Radiator body (or water) temperature now, °C. */
  get bodyC(): number {
    return this.spec.kind === 'room' ? this.x[3] : this.tankC;
  }

  /**
   * Advances the room by `dtS` seconds of wall-clock time (`speed × dtS` simulated seconds) with the heater drawing
   * `heaterPowerW` (W, all of it heat) and the outdoors at `outdoorC` (°C), both held over the step. A tank loses
   * to a 20 °C plant room and to a steady draw of cold water instead. With a climate, the room's own weather at the
   * middle of the step replaces `outdoorC`, and the sun through its windows heats it too. Returns the temperatures
   * after the step.
   */
  step(dtS: number, heaterPowerW: number, outdoorC: number): TwinTemperatures {
    const simS = dtS * this.speed;
    if (!(simS > 0) || !Number.isFinite(simS)) return { airC: this.airC, bodyC: this.bodyC };
    const powerW = Number.isFinite(heaterPowerW) && heaterPowerW > 0 ? heaterPowerW : 0;
    const midS = this.yearStartS + this.simulatedS + simS / 2;
    const outC = this.weather ? weatherAt(this.weather, midS, this.sample).tempC : outdoorC;
    this.simulatedS += simS;
    if (this.ss) {
      // Inputs: T_amb, T_sup, T_ambWin, Q_gains, Q_sol_1, Q_heater.
      this.u[0] = outC;
      this.u[1] = outC;
      this.u[2] = outC;
      this.u[3] = 0;
      this.u[4] = this.solarAt(midS);
      this.u[5] = powerW;
      stepDiscrete(this.model(simS), this.x, this.u, this.next);
      this.x.set(this.next);
    } else {
      // Exact solution of C dT/dt = P − k_loss (T − 20) − k_draw (T − 10).
      const k = TANK_LOSS_WK + TANK_DRAW_WK;
      const steadyC = (powerW + TANK_LOSS_WK * 20 + TANK_DRAW_WK * 10) / k;
      this.tankC = steadyC + (this.tankC - steadyC) * Math.exp((-k * simS) / this.tankJK);
    }
    return { airC: this.airC, bodyC: this.bodyC };
  }

  /** The exact discrete model at a step of `simS` simulated seconds (cached per distinct step, to the ms). */
  private model(simS: number): DiscreteStateSpace {
    const key = Math.max(1, Math.round(simS * 1000));
    let d = this.models.get(key);
    if (!d) {
      if (this.models.size >= MODEL_CACHE) this.models.delete(this.models.keys().next().value as number);
      d = discretise(this.ss!, key / 1000);
      this.models.set(key, d);
    }
    return d;
  }
}
