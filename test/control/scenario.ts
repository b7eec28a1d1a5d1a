// Shared test bench of the room controllers: a real archetype room (building.ts, exact discrete model with the
// radiator body in the loop) over winter days of synthetic Trappes weather and the RT2012 dwelling schedule.
import { archetypeUaWK, dwellingRoom } from '../../src/physics/archetypes.ts';
import type { RoomArchetype } from '../../src/physics/archetypes.ts';
import { archetypeStateSpace } from '../../src/physics/building.ts';
import { discretise, stepDiscrete } from '../../src/physics/discretise.ts';
import type { DiscreteStateSpace, StateSpace } from '../../src/physics/state-space.ts';
import { rt2012Dwelling, weeklyTables } from '../../src/physics/schedules.ts';
import { generateWeather } from '../../src/physics/weather/synthetic.ts';
import { surfaceIrradiance, windowSolarGainW } from '../../src/physics/weather/solar.ts';
import { weatherAt } from '../../src/physics/weather/types.ts';
import { createHeatRequest, slotsAhead } from '../../src/control/forecast.ts';
import { ComfortAccumulator } from '../../src/control/kpi.ts';
import { DEFAULT_COMFORT } from '../../src/control/types.ts';
import type { HeatRequest, RoomControlInput, RoomController } from '../../src/control/types.ts';

/** Heater of the bench: a QC-1-like unit (450 W of boards + 200 W booster), delivering what is asked up to 650 W. */
export const MAX_HEAT_W = 650;
/** Control period and simulation step, s: requests hold 5 min; the room is stepped every minute. */
export const PERIOD_S = 300;
export const STEP_S = 60;
export const HORIZON_H = 24;

/** The room: an RT2005-era 20 m² dwelling room (UA ≈ 28 W/K) facing `azimuthDeg`. */
export interface Bench {
  readonly arch: RoomArchetype;
  readonly uaWK: number;
  readonly ss: StateSpace;
  readonly d: DiscreteStateSpace;
  /** Hourly series from the start (a Monday 00:00): outdoor °C, transmitted sun W, gains W, setpoint °C, occupied. */
  readonly outdoorC: Float64Array;
  readonly solarW: Float64Array;
  readonly gainsW: Float64Array;
  readonly setpointC: Float64Array;
  readonly occupied: Uint8Array;
}

/**
 * Builds the bench for `days` days from 8 January (zone H1a, weather seed 3: mean ≈ 4 °C, −1…10 °C); `overrides`
 * change the archetype (e.g. a larger window).
 */
export function makeBench(azimuthDeg: number, days: number, overrides: Partial<RoomArchetype> = {}): Bench {
  const arch = dwellingRoom('rt2005', 20, { facadeAzimuthDeg: azimuthDeg, ...overrides });
  const ss = archetypeStateSpace(arch);
  const d = discretise(ss, STEP_S);
  const n = (days + 2) * 24;
  const w = generateWeather('H1a', { seed: 3, years: (days + 3) / 365, startDayOfYear: 8 });
  const irr = surfaceIrradiance(w, { tiltDeg: 90, azimuthDeg });
  const schedule = rt2012Dwelling(20, 1);
  const tables = weeklyTables(schedule);
  const t0 = 7 * 86400;
  const sample = weatherAt(w, t0);
  const outdoorC = new Float64Array(n);
  const solarW = new Float64Array(n);
  const gainsW = new Float64Array(n);
  const setpointC = new Float64Array(n);
  const occupied = new Uint8Array(n);
  for (let h = 0; h < n; h++) {
    const t = t0 + h * 3600 + 1800;
    weatherAt(w, t, sample);
    outdoorC[h] = sample.tempC;
    const i = Math.round((t - w.startS) / w.stepS);
    const ir = { beamWm2: irr.beamWm2[i], skyDiffuseWm2: irr.skyDiffuseWm2[i], groundWm2: irr.groundWm2[i], totalWm2: irr.totalWm2[i] };
    solarW[h] = windowSolarGainW(ir, irr.cosIncidence[i], 90, arch.windowAreaM2, arch.windowG);
    setpointC[h] = tables.setpointC[h % 168];
    gainsW[h] = tables.gainsW[h % 168];
    occupied[h] = schedule.occupiedHours[h % 168];
  }
  return { arch, uaWK: archetypeUaWK(arch), ss, d, outdoorC, solarW, gainsW, setpointC, occupied };
}

/** Options of a bench run. */
export interface RunOptions {
  readonly days: number;
  /** Days of warm-up before the KPIs start (the controller runs, nothing is counted). */
  readonly warmupDays: number;
  /** Initial temperature of every node, °C (default 18). */
  readonly initialC?: number;
  /** Give the controller the model state (default true); false: air only. */
  readonly withState?: boolean;
  /** Most the heater can deliver at time t (s from the start), W (default MAX_HEAT_W). */
  readonly deliverableW?: (tS: number) => number;
  /** Whether the solar forecast shows the sun (default true); false: the controller is blind to it. */
  readonly sunInForecast?: boolean;
  /**
   * Forecasts aligned on clock hours (slot k = hour floor(t / 3600) + k, as a subarray of the hourly series) instead
   * of hours starting now (forecast.ts slotsAhead, the default).
   */
  readonly clockForecasts?: boolean;
  /** Whether the controller is told what was delivered (default true). */
  readonly tellDelivered?: boolean;
  /** Called after each request with the input and output (for per-call checks). */
  readonly onRequest?: (input: RoomControlInput, out: HeatRequest) => void;
}

/** Figures of a run (counted after the warm-up). */
export interface RunResult {
  readonly comfort: ComfortAccumulator;
  /** Heat delivered, kWh; change of the heat stored in the room's nodes, kWh. */
  readonly heatKWh: number;
  readonly storedKWh: number;
  /** Air temperature at the end of every step, °C, and the heat delivered over it, W (whole run). */
  readonly airC: Float64Array;
  readonly heatW: Float64Array;
}

/** Runs `controller` on the bench (pure, deterministic). */
export function runBench(b: Bench, controller: RoomController, o: RunOptions): RunResult {
  const { d } = b;
  const nx = d.nx;
  const x = new Float64Array(nx).fill(o.initialC ?? 18);
  const xn = new Float64Array(nx);
  const u = new Float64Array(d.nu);
  const sp = new Float64Array(HORIZON_H);
  const oa = new Float64Array(HORIZON_H);
  const so = new Float64Array(HORIZON_H);
  const ga = new Float64Array(HORIZON_H);
  const out = createHeatRequest(HORIZON_H);
  const comfort = new ComfortAccumulator(DEFAULT_COMFORT);
  const steps = Math.round((o.days * 86400) / STEP_S);
  const warm = Math.round((o.warmupDays * 86400) / STEP_S);
  const airC = new Float64Array(steps);
  const heatW = new Float64Array(steps);
  const cap = d.capacityJK;
  const stored = (): number => x.reduce((s, v, i) => s + v * cap[i], 0);
  let storedStart = 0;
  let heatJ = 0;
  let powerW = 0;
  const names = d.inputNames;
  const [iAmb, iSup, iWin, iGains, iSol, iHeat] = ['T_amb', 'T_sup', 'T_ambWin', 'Q_gains', 'Q_sol_1', 'Q_heater'].map((s) => names.indexOf(s));
  for (let s = 0; s < steps; s++) {
    const t = s * STEP_S;
    const h = Math.floor(t / 3600);
    if (s === warm) storedStart = stored();
    if (t % PERIOD_S === 0) {
      if (o.clockForecasts === true) {
        const last = b.setpointC.length - 1;
        for (let k = 0; k < HORIZON_H; k++) {
          const i = Math.min(last, h + k);
          sp[k] = b.setpointC[i];
          oa[k] = b.outdoorC[i];
          so[k] = b.solarW[i];
          ga[k] = b.gainsW[i];
        }
      } else {
        slotsAhead(b.setpointC, 0, 3600, t, sp);
        slotsAhead(b.outdoorC, 0, 3600, t, oa);
        slotsAhead(b.solarW, 0, 3600, t, so);
        slotsAhead(b.gainsW, 0, 3600, t, ga);
      }
      if (o.sunInForecast === false) so.fill(0);
      const input: RoomControlInput = {
        nowS: t,
        periodS: PERIOD_S,
        airC: x[0],
        state: o.withState === false ? undefined : x,
        setpointC: b.setpointC[h],
        setpointAheadC: sp,
        outdoorAheadC: oa,
        solarAheadW: so,
        gainsAheadW: ga,
        maxHeatW: MAX_HEAT_W,
        limits: DEFAULT_COMFORT,
      };
      controller.request(input, out);
      o.onRequest?.(input, out);
      const can = o.deliverableW ? o.deliverableW(t) : MAX_HEAT_W;
      powerW = Math.max(0, Math.min(out.powerW, can));
      if (o.tellDelivered !== false) controller.delivered(powerW);
    }
    u[iAmb] = u[iSup] = u[iWin] = b.outdoorC[h];
    u[iGains] = b.gainsW[h];
    u[iSol] = b.solarW[h];
    u[iHeat] = powerW;
    stepDiscrete(d, x, u, xn);
    if (s >= warm) {
      comfort.accumulateRamp(STEP_S, x[0], xn[0], b.setpointC[h], b.occupied[h] === 1);
      heatJ += powerW * STEP_S;
    }
    x.set(xn);
    airC[s] = x[0];
    heatW[s] = powerW;
  }
  return { comfort, heatKWh: heatJ / 3.6e6, storedKWh: (stored() - storedStart) / 3.6e6, airC, heatW };
}

/** One line of figures for the test log. */
export function describe(name: string, r: RunResult): string {
  const c = r.comfort;
  return `${name}: discomfort ${c.discomfortKh.toFixed(2)} K·h (below ${c.lowKh.toFixed(2)}, above ${c.highKh.toFixed(2)}), heat ${r.heatKWh.toFixed(2)} kWh (stored ${r.storedKWh.toFixed(2)}), above safety ${c.aboveSafetyMin.toFixed(0)} min`;
}
