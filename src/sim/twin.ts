// The twin engine: weather, rooms, tanks, residents and workloads stepped together over typed arrays, driven by
// the same room/tank controllers and scheduling policies the live platform runs; returns the scorecard and series.
import { InvalidParameterError } from '../physics/errors.ts';
import { buildKernelArchetype } from '../physics/building.ts';
import { AIR_RHO_CP_JM3K } from '../physics/room.ts';
import { allocateFleetArrays, RoomKernel } from '../physics/kernel.ts';
import type { FleetArrays, KernelArchetype, KernelGroup, StateWatch } from '../physics/kernel.ts';
import { createHeaterModel, heaterPowerW, planHeat } from '../physics/heater.ts';
import type { HeaterModel } from '../physics/heater.ts';
import { scheduleAt } from '../physics/schedules.ts';
import { createTankModel, createTankState, createTankStepResult, stepTank, tankStoredWh } from '../physics/tank.ts';
import type { TankModel, TankState, TankStepResult } from '../physics/tank.ts';
import { generateDraws } from '../physics/dhw.ts';
import { coldWaterTempC, generateWeather, zoneParams, CLIMATE_ZONES } from '../physics/weather/synthetic.ts';
import type { ClimateZone } from '../physics/weather/synthetic.ts';
import { surfaceIrradiance, windowSolarGainW } from '../physics/weather/solar.ts';
import { emptySample, weatherAt } from '../physics/weather/types.ts';
import type { WeatherSeries } from '../physics/weather/types.ts';
import { isRt2012Text, parseRt2012 } from '../physics/weather/rt2012.ts';
import { isEpwText, parseEpw } from '../physics/weather/epw.ts';
import { DEFAULT_COMFORT } from '../control/types.ts';
import type { ComfortLimits, HeatRequest, RoomControlInput, RoomController, TankControlInput, TankController } from '../control/types.ts';
import { energyReuseKpis, hingeIntegral, REFERENCE_DATACENTER, withOverflow } from '../control/kpi.ts';
import { SharedHeatNeed, wantHeatHours } from '../control/forecast.ts';
import { PiBank, PiController } from '../control/pi.ts';
import type { PiGroupOutputs } from '../control/pi.ts';
import { HysteresisController } from '../control/hysteresis.ts';
import { BOARD_FILLER, BOARD_FREE, InstancePhase, SchedulingType } from '../scheduler/types.ts';
import type { Decision, InstanceTable, OverflowPool, Policy } from '../scheduler/types.ts';
import { buildMpcModel, createRoomController, createTankController } from '../control/index.ts';
import type { MpcModel } from '../control/index.ts';
import { allocateFleetView, createInstanceTable, createPolicy, DecisionBuffer, instanceTableOf } from '../scheduler/index.ts';
import type { FleetViewBuffer } from '../scheduler/index.ts';
import { expandScenario, heaterParamsOf, boilerHeaterParamsOf, POLICY_NAMES } from './scenario.ts';
import type { ControllerKind, ExpandedScenario, PolicyName, Scenario } from './scenario.ts';
import { generateArrivals, SCHEDULING_TYPES } from './workloads.ts';
import type { SchedulingTypeName } from './workloads.ts';
import type { PolicySeries, PolicySummary } from './report.ts';
import { carbonAt, constantCarbon, parseCarbonCsv } from './carbon.ts';
import type { CarbonSource } from './carbon.ts';

// ---------------------------------------------------------------------------------------------------------
// Options and results

/** Overrides and inputs of a run. Files named in the scenario are passed as contents (the CLI reads them). */
export interface TwinOptions {
  /** Duration, days (overrides the scenario). */
  readonly days?: number;
  /** First day, YYYY-MM-DD (overrides the scenario). */
  readonly start?: string;
  /** Physics step, s (overrides the scenario; the decision period must stay a whole multiple of it). */
  readonly stepS?: number;
  /** Control and scheduling period, s (overrides the scenario). */
  readonly decisionPeriodS?: number;
  /** Seed of every random stream (overrides the scenario). */
  readonly seed?: number;
  /** Multiplies every building's count (overrides the scenario). */
  readonly scale?: number;
  /** Synthetic weather of this climate zone for every site (overrides the scenario's weather). */
  readonly weatherZone?: string;
  /** Contents of the files the scenario names (weather, carbon CSV, SWF traces), keyed by the path as written. */
  readonly files?: Readonly<Record<string, string>>;
  /** Forecast horizon handed to the controllers, hours (default 24). */
  readonly horizonH?: number;
  /** Called with the fraction done (0..1) now and then; never affects the result. */
  readonly onProgress?: (fraction: number) => void;
  /** A preparation from prepareTwin for the same scenario and options (shared by the policies of a simulation). */
  readonly prepared?: PreparedTwin;
  /** Factories of the controllers and policies (default: src/control and src/scheduler). */
  readonly deps?: TwinDeps;
  /** Residents open windows in overheating rooms (WINDOW_OPENING; default true). */
  readonly windowOpening?: boolean;
}

/** Where the engine gets its brains from: the same factories the live platform uses. */
export interface TwinDeps {
  createPolicy(name: PolicyName): Policy;
  createRoomController(kind: ControllerKind, room: RoomControllerContext): RoomController;
  createTankController(tank: TankControllerContext): TankController;
}

/** What a room controller may know about its room when created. */
export interface RoomControllerContext {
  /** The room's exact discrete model at the physics step (states ROOM_STATES, inputs ROOM_INPUTS; continuous A, B within). */
  readonly model: KernelArchetype['model'];
  /** Steady-state loss coefficient of the room, W/K. */
  readonly uaWK: number;
  readonly heater: HeaterModel;
  readonly limits: ComfortLimits;
  readonly periodS: number;
  readonly horizonH: number;
}

/** What a tank controller may know about its tank when created. */
export interface TankControllerContext {
  readonly tank: TankModel;
  /** Mean cold-water temperature at the tank's site over the run, °C. */
  readonly coldC: number;
  readonly heater: HeaterModel;
  readonly periodS: number;
  readonly horizonH: number;
}

/** What the engine knows beyond the scorecard (PolicySummary): detail lines and diagnostics of one run. */
export interface TwinDetails {
  readonly policy: PolicyName;
  readonly rooms: number;
  readonly boilers: number;
  readonly comfort: {
    /** Of the mean discomfort per room, K·h: below the band while occupied, and above it. */
    readonly meanLowKh: number;
    readonly meanHighKh: number;
    /** Name of the worst room, and the number of rooms that went above their safety limit. */
    readonly worstRoom: string;
    readonly roomsAboveSafety: number;
    /** Mean air temperature over rooms and hours, °C. */
    readonly meanAirC: number;
  };
  readonly heat: {
    /** Heat from the electric policy's resistive mode, and from boosters, kWh (PolicySummary.heat.boosterKWh adds the tanks' top-up). */
    readonly resistiveKWh: number;
    readonly boosterOnlyKWh: number;
    /** Board heat a tank's exchanger refused, and heat delivered beyond the request, kWh (PolicySummary: vented). */
    readonly tankVentedKWh: number;
    readonly overshotKWh: number;
    /** Heat into rooms (all heaters' electricity), kWh. */
    readonly roomsKWh: number;
  };
  readonly hotWater: {
    /** Energy delivered at the taps and demand the tanks could not meet, kWh (relative to cold water). */
    readonly tapsKWh: number;
    readonly unmetKWh: number;
    readonly lossesKWh: number;
    readonly legionellaHolds: number;
    readonly legionellaMissedPeriods: number;
  };
  readonly energy: {
    /** Grid energy of the fleet (boards, boosters, resistive, top-up), board (IT) energy, overflow IT energy, kWh. */
    readonly fleetKWh: number;
    readonly boardsKWh: number;
    readonly overflowItKWh: number;
  };
  readonly compute: {
    readonly instances: number;
    /** Core-hours done on heaters and boilers, and in the overflow datacenter. */
    readonly coreHoursOnHeaters: number;
    readonly coreHoursOverflow: number;
    /** Board-hours of filler work. */
    readonly fillerBoardHours: number;
    /** Instances with a deadline that was due by the end (or completed): the denominator of the miss share. */
    readonly deadlineInstances: number;
    /** Deadline misses by scheduling type, and of those how many never finished (still waiting at the end). */
    readonly deadlineMissesByType: Readonly<Record<SchedulingTypeName, number>>;
    readonly deadlineMissesUnfinished: number;
    readonly migrated: number;
  };
  readonly money: { readonly revenueByTypeEUR: Readonly<Record<SchedulingTypeName, number>> };
  readonly carbon: {
    readonly referenceDatacenterKgCO2e: number;
    readonly referenceHeatingKgCO2e: number;
    /** Reference − this platform, kgCO2e, and as a share of the reference. */
    readonly savedKgCO2e: number;
    readonly savedShare: number;
  };
  /** Per room, in the order of the expanded scenario: names, discomfort (K·h), minutes above the safety limit. */
  readonly roomNames: readonly string[];
  readonly roomDiscomfortKh: Float64Array;
  readonly roomAboveSafetyMin: Float64Array;
}

/** The result of one policy's run: the scorecard, hourly series for the report, and the details. */
export interface TwinResult {
  readonly summary: PolicySummary;
  readonly series: PolicySeries;
  readonly details: TwinDetails;
}

// ---------------------------------------------------------------------------------------------------------
// Preparation: everything that is the same for every policy (weather, sun, schedules, draws, arrivals, models)

/** Pre-heating horizon of the rooms' PI thermostats, h (PiOptions.preheatH): a set-back room may take heat up to its next setpoint. */
export const PREHEAT_H = 12;
/** Bounded-slowdown threshold τ, s (SCHEDULING.md). */
export const BSLD_TAU_S = 10;
/** Ambient temperature around hot-water tanks, °C (est.: a heated utility room). */
export const TANK_AMBIENT_C = 20;
/** Reference temperature of draw volumes (dhw.ts generator), °C. */
const DRAW_REFERENCE_C = 40;
/** A room controller that can take its forecast's quasi-steady need from a SharedHeatNeed. */
type SharedRoomController = PiController | HysteresisController;

/** Default forecast horizon, hours. */
export const DEFAULT_HORIZON_H = 24;

/** One room group: rooms of one room kind, contiguous in kernel order, sharing their weather and sun. */
/**
 * Residents open windows when a room overheats (no cooling is modelled otherwise), est.: a window opens while the
 * room is occupied, its air is more than OPEN_ABOVE_K over the comfort setpoint and the outdoor air is at least
 * OPEN_MIN_DELTA_K cooler; it closes below CLOSE_BELOW_K over the comfort setpoint or when the room empties.
 * An open window ventilates OPEN_WINDOW_ACH air changes per hour.
 */
export const WINDOW_OPENING = { OPEN_ABOVE_K: 4, CLOSE_BELOW_K: 2, OPEN_MIN_DELTA_K: 2, OPEN_WINDOW_ACH: 3 } as const;

interface PreparedGroup {
  readonly kind: number;
  readonly site: number;
  readonly archetype: number;
  readonly start: number;
  readonly count: number;
  /** Transmitted sun through the room's windows, W, per hour of the run (+ horizon). */
  readonly solarW: Float64Array;
  /** Schedule per hour of the run (+ horizon): setpoint °C, internal gains W, occupied 0/1. */
  readonly setpointC: Float64Array;
  readonly gainsW: Float64Array;
  readonly occupied: Uint8Array;
  /** The schedule's comfort (occupied) setpoint, °C: the reference of the "too warm" side of discomfort. */
  readonly comfortSetpointC: number;
  readonly limits: ComfortLimits;
  readonly controller: ControllerKind;
  readonly heater: HeaterModel;
  readonly heaterModel: number;
  readonly coresPerBoard: number;
  readonly memoryMBPerBoard: number;
  readonly gpu: boolean;
  readonly uaWK: number;
  /** Energy balance: Σ_outputs C·Sx (per state) and C·Su + D·dt (per input), for the boundary heat flows. */
  readonly lossX: Float64Array;
  readonly lossU: Float64Array;
  /** Heat capacity of each state, J/K. */
  readonly capacityJK: Float64Array;
  /** Radiator body: capacity J/K and coupling W/K (for the derating watch bound). */
  readonly bodyCapJK: number;
  readonly bodyCouplingWK: number;
  /** Ventilation conductance of an opened window, W/K (WINDOW_OPENING). */
  readonly openWindowWK: number;
}

interface PreparedBoiler {
  readonly name: string;
  readonly site: number;
  readonly tank: TankModel;
  readonly heater: HeaterModel;
  readonly heaterModel: number;
  readonly coresPerBoard: number;
  readonly memoryMBPerBoard: number;
  readonly gpu: boolean;
  /** Draws: start s, end s, volume L at DRAW_REFERENCE_C. */
  readonly drawStartS: Float64Array;
  readonly drawEndS: Float64Array;
  readonly drawVolumeL: Float64Array;
  /** Draw energy wanted per hour of the run (+ horizon), Wh above cold water. */
  readonly drawHourlyWh: Float64Array;
}

interface PreparedSite {
  readonly weather: WeatherSeries;
  /** Weather-series time of the run's time 0, s. */
  readonly weatherOffsetS: number;
  /** Outdoor temperature and cold-water temperature per hour of the run (+ horizon), °C. */
  readonly outdoorC: Float64Array;
  /** Outdoor temperature at the middle of each physics step, °C (linear between the weather's samples). */
  readonly outdoorStepC: Float64Array;
  readonly coldWaterC: Float64Array;
}

/** Everything a run needs that does not depend on the policy. Treat as immutable. */
export interface PreparedTwin {
  readonly scenario: Scenario;
  readonly expanded: ExpandedScenario;
  readonly days: number;
  readonly dtS: number;
  readonly periodS: number;
  readonly steps: number;
  readonly horizonH: number;
  /** Hours covered by the hourly tables (run + horizon). */
  readonly hours: number;
  readonly sites: readonly PreparedSite[];
  readonly archetypes: readonly KernelArchetype[];
  readonly groups: readonly PreparedGroup[];
  /** Kernel order → index in expanded.rooms. */
  readonly roomOrder: Int32Array;
  readonly boilers: readonly PreparedBoiler[];
  readonly models: readonly HeaterModel[];
  readonly maxBoards: number;
  /**
   * The workload's instance arrivals in submission order, as instance-table rows (count of them; the columns of an
   * instance's spec): a run's table shares these columns (see runTable) instead of reading 600,000 scattered
   * objects, and the objects they came from are not kept alive through every run (the old generation's marking walks
   * each). Never written after preparation: runs of several policies on one preparation read the same arrays.
   */
  readonly arrivalRows: InstanceTable;
  /** Grid intensity per hour, gCO2e/kWh; electricity price per hour, €/kWh. */
  readonly carbonGPerKWh: Float64Array;
  readonly priceEURPerKWh: Float64Array;
  readonly overflow: OverflowPool;
  /** Energy of one board-second of work in the overflow datacenter's IT, J (one board at full load, top clock). */
  readonly overflowBoardW: number;
}

/** Applies run options over a scenario (days, start, step, period, seed, scale, weather zone); validates them. */
export function applyOverrides(s: Scenario, o: TwinOptions): Scenario {
  const intIn = (flag: string, v: number, min: number, max: number): number => {
    if (!Number.isInteger(v) || v < min || v > max) throw new InvalidParameterError(flag, `must be an integer in ${min}..${max}, got ${v}`);
    return v;
  };
  let out: Scenario = { ...s };
  if (o.days !== undefined) {
    if (!(Number.isFinite(o.days) && o.days > 0 && o.days <= 3660)) throw new InvalidParameterError('days', `must be a number of days in (0, 3660], got ${o.days}`);
    out = { ...out, days: o.days };
  }
  if (o.start !== undefined) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(o.start);
    const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
    if (!m || !d || d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3])) throw new InvalidParameterError('start', `must be a date YYYY-MM-DD, got '${o.start}'`);
    out = { ...out, startDate: o.start };
  }
  if (o.stepS !== undefined) out = { ...out, stepS: intIn('step', o.stepS, 1, 3600) };
  if (o.decisionPeriodS !== undefined) out = { ...out, decisionPeriodS: intIn('decisionPeriodS', o.decisionPeriodS, 1, 86400) };
  const ratio = out.decisionPeriodS / out.stepS;
  if (!(ratio >= 1 && Math.abs(ratio - Math.round(ratio)) < 1e-9)) {
    throw new InvalidParameterError(o.stepS !== undefined ? 'step' : 'decisionPeriodS', `the decision period (${out.decisionPeriodS} s) must be a whole multiple of the step (${out.stepS} s)`);
  }
  if (o.days !== undefined || o.stepS !== undefined) {
    if (out.days * 86400 < out.stepS) throw new InvalidParameterError('days', `must cover at least one step of ${out.stepS} s`);
  }
  if (o.seed !== undefined) out = { ...out, seed: intIn('seed', o.seed, 0, 0xffffffff) };
  if (o.scale !== undefined) out = { ...out, scale: intIn('scale', o.scale, 1, 1e6) };
  if (o.weatherZone !== undefined) {
    if (!(CLIMATE_ZONES as readonly string[]).includes(o.weatherZone)) throw new InvalidParameterError('weather-zone', `must be one of ${CLIMATE_ZONES.join(', ')}, got '${o.weatherZone}'`);
    const zone = o.weatherZone as ClimateZone;
    out = { ...out, sites: out.sites.map((site) => ({ ...site, zone, weather: { kind: 'synthetic' as const, zone } })) };
  }
  return out;
}

/** A per-stream seed from the scenario seed (independent streams: weather, draws of boiler i…). */
function streamSeed(seed: number, stream: number): number {
  let z = (seed ^ Math.imul(stream + 0x51ed27, 0x9e3779b1)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

function fileText(files: Readonly<Record<string, string>> | undefined, path: string, field: string): string {
  const t = files?.[path];
  if (t === undefined) throw new InvalidParameterError(field, `file '${path}' was not provided`);
  return t;
}

/** Dry-bulb temperature at weather-time tw, °C: linear between samples, periodic (weatherAt's rule, inlined). */
function tempAt(w: WeatherSeries, tw: number): number {
  const n = w.tempC.length;
  let u = (tw - w.startS) / w.stepS;
  u -= Math.floor(u / n) * n;
  if (u >= n) u = 0;
  const i0 = Math.floor(u);
  const i1 = i0 + 1 === n ? 0 : i0 + 1;
  return w.tempC[i0] + (w.tempC[i1] - w.tempC[i0]) * (u - i0);
}

/** Index of weather sample covering weather-time tw (hold semantics, periodic). */
function sampleIndex(w: WeatherSeries, tw: number): number {
  const n = w.tempC.length;
  let k = Math.floor((tw - w.startS) / w.stepS + 0.5);
  k -= Math.floor(k / n) * n;
  return k;
}

/**
 * Prepares a run: applies the options, expands the scenario, builds weather, sun, schedules, hot-water draws,
 * workload arrivals, carbon and prices per hour, and the exact discrete room models. Pure; same inputs, same result.
 */
export function prepareTwin(scenario0: Scenario, options: TwinOptions = {}): PreparedTwin {
  const scenario = applyOverrides(scenario0, options);
  const expanded = expandScenario(scenario);
  const cal = expanded.calendar;
  const dtS = scenario.stepS;
  const periodS = scenario.decisionPeriodS;
  const days = scenario.days;
  const steps = Math.max(1, Math.round((days * 86400) / dtS));
  const horizonH = options.horizonH ?? DEFAULT_HORIZON_H;
  if (!(Number.isInteger(horizonH) && horizonH >= 1 && horizonH <= 24 * 14)) throw new InvalidParameterError('horizonH', `must be an integer in 1..336, got ${horizonH}`);
  const runHours = Math.ceil((steps * dtS) / 3600);
  const hours = runHours + horizonH + 1;
  if (expanded.rooms.length + expanded.boilers.length === 0) throw new InvalidParameterError('sites', 'the scenario has no room and no boiler');

  // Weather per site (synthetic series start on the first day; files are typical years, looked up periodically).
  const weatherCache = new Map<string, WeatherSeries>();
  const sites: PreparedSite[] = scenario.sites.map((site, si) => {
    const w = site.weather;
    const key = w.kind === 'synthetic' ? `zone:${w.zone}` : `file:${w.file}`;
    let series = weatherCache.get(key);
    if (!series) {
      if (w.kind === 'synthetic') {
        series = generateWeather(w.zone, { seed: scenario.seed, years: (hours / 24 + 2) / 365, startDayOfYear: Math.min(365, cal.startDayOfYear + 1) });
      } else {
        const text = fileText(options.files, w.file, `sites[${si}].weather.file`);
        if (isRt2012Text(text)) series = parseRt2012(text, w.file);
        else if (isEpwText(text)) series = parseEpw(text, w.file).series;
        else throw new InvalidParameterError(`sites[${si}].weather.file`, `'${w.file}' is neither an RT2012 nor an EPW weather file`);
      }
      weatherCache.set(key, series);
    }
    const weatherOffsetS = Math.min(364, cal.startDayOfYear) * 86400;
    const outdoorC = new Float64Array(hours);
    const coldWaterC = new Float64Array(hours);
    const sample = emptySample();
    const zp = zoneParams(site.zone);
    for (let h = 0; h < hours; h++) {
      const tw = weatherOffsetS + h * 3600 + 1800;
      outdoorC[h] = weatherAt(series, tw, sample).tempC;
      const cw = series.coldWaterC;
      coldWaterC[h] = cw ? cw[sampleIndex(series, tw)] : coldWaterTempC(zp, (tw / 86400) % 365);
    }
    const outdoorStepC = new Float64Array(steps);
    for (let k = 0; k < steps; k++) outdoorStepC[k] = tempAt(series, weatherOffsetS + (k + 0.5) * dtS);
    return { weather: series, weatherOffsetS, outdoorC, outdoorStepC, coldWaterC };
  });

  // Transmitted sun per unit of (window area × g), per site and façade azimuth, per hour.
  const sunCache = new Map<string, Float64Array>();
  const sunPerAreaG = (site: number, azimuthDeg: number): Float64Array => {
    const key = `${site}:${azimuthDeg}`;
    let out = sunCache.get(key);
    if (out) return out;
    const s = sites[site];
    const irr = surfaceIrradiance(s.weather, { tiltDeg: 90, azimuthDeg });
    out = new Float64Array(hours);
    for (let h = 0; h < hours; h++) {
      const i = sampleIndex(s.weather, s.weatherOffsetS + h * 3600 + 1800);
      out[h] = windowSolarGainW({ beamWm2: irr.beamWm2[i], skyDiffuseWm2: irr.skyDiffuseWm2[i], groundWm2: irr.groundWm2[i], totalWm2: irr.totalWm2[i] }, irr.cosIncidence[i], 90, 1, 1);
    }
    sunCache.set(key, out);
    return out;
  };

  // Heater models (deduplicated) and kernel archetypes (one per distinct archetype + heater).
  const models: HeaterModel[] = [];
  const modelKeys = new Map<string, number>();
  const modelIndex = (params: object): number => {
    const key = JSON.stringify(params);
    let i = modelKeys.get(key);
    if (i === undefined) {
      i = models.length;
      models.push(createHeaterModel(params));
      modelKeys.set(key, i);
    }
    return i;
  };
  const archetypes: KernelArchetype[] = [];
  const archKeys = new Map<string, number>();

  // Groups: one per room kind that has rooms, in kind order; kernel order = rooms sorted by kind (stable).
  const byKind: number[][] = expanded.roomKinds.map(() => []);
  for (const r of expanded.rooms) byKind[r.kind].push(r.index);
  const roomOrder = new Int32Array(expanded.rooms.length);
  const groups: PreparedGroup[] = [];
  let start = 0;
  expanded.roomKinds.forEach((k, ki) => {
    const members = byKind[ki];
    if (members.length === 0) return;
    const hp = heaterParamsOf(k.spec.heater);
    const heaterModel = modelIndex(hp);
    const akey = JSON.stringify([k.archetype, hp]);
    let ai = archKeys.get(akey);
    if (ai === undefined) {
      ai = archetypes.length;
      archetypes.push(buildKernelArchetype(k.archetype, dtS, hp));
      archKeys.set(akey, ai);
    }
    const model = archetypes[ai].model;
    if (model.nx !== 4) throw new InvalidParameterError(`${k.path}.archetype`, `the engine expects 4-state rooms, got ${model.nx}`);
    // Schedules per hour of the run.
    const setpointC = new Float64Array(hours);
    const gainsW = new Float64Array(hours);
    const occupied = new Uint8Array(hours);
    for (let h = 0; h < hours; h++) {
      const day = Math.floor(h / 24);
      const sh = scheduleAt(k.schedule, (cal.startDayOfWeek + day) % 7, h % 24, (cal.startDayOfYear + day) % 365);
      setpointC[h] = sh.setpointC;
      gainsW[h] = sh.convectiveW + sh.radiativeW;
      occupied[h] = sh.state === 'occupied' ? 1 : 0;
    }
    const sun = sunPerAreaG(k.site, k.archetype.facadeAzimuthDeg);
    const solarW = new Float64Array(hours);
    const ag = k.archetype.windowAreaM2 * k.archetype.windowG;
    for (let h = 0; h < hours; h++) solarW[h] = sun[h] * ag;
    // Energy-balance coefficients: boundary flows Q_amb, Q_sup, Q_ambWin (heat leaving the room), integrated exactly.
    const { nx, nu } = model;
    const lossX = new Float64Array(nx);
    const lossU = new Float64Array(nu);
    model.outputNames.forEach((name, o) => {
      if (!(name === 'Q_amb' || name === 'Q_sup' || name === 'Q_ambWin')) return;
      for (let i = 0; i < nx; i++) {
        const c = model.C[o * nx + i];
        if (c === 0) continue;
        for (let j = 0; j < nx; j++) lossX[j] += c * model.Sx[i * nx + j];
        for (let m = 0; m < nu; m++) lossU[m] += c * model.Su[i * nu + m];
      }
      for (let m = 0; m < nu; m++) lossU[m] += model.D[o * nu + m] * dtS;
    });
    for (const i of members) roomOrder[start++] = i;
    groups.push({
      kind: ki,
      site: k.site,
      archetype: ai,
      start: start - members.length,
      count: members.length,
      solarW,
      setpointC,
      gainsW,
      occupied,
      comfortSetpointC: k.schedule.setpointsC.occupied,
      limits: k.spec.comfort,
      controller: k.spec.controller,
      heater: models[heaterModel],
      heaterModel,
      coresPerBoard: k.spec.heater.coresPerBoard,
      memoryMBPerBoard: k.spec.heater.memoryMBPerBoard,
      gpu: k.spec.heater.gpu,
      uaWK: k.archetype.envelopeWK + k.archetype.ventilationWK,
      lossX,
      lossU,
      capacityJK: model.capacityJK,
      bodyCapJK: k.archetype.radiator.capacityJK,
      bodyCouplingWK: k.archetype.radiator.conductanceWK,
      openWindowWK: (AIR_RHO_CP_JM3K * k.archetype.floorAreaM2 * k.archetype.heightM * WINDOW_OPENING.OPEN_WINDOW_ACH) / 3600,
    });
  });

  // Boilers: tank and board models, seeded draws.
  const boilers: PreparedBoiler[] = expanded.boilers.map((b) => {
    const tank = createTankModel(b.spec.tank, `boilers.${b.name}.tank`);
    const hp = boilerHeaterParamsOf(b.spec);
    const heaterModel = modelIndex(hp);
    const drawDays = Math.ceil(hours / 24) + 1;
    const draws = generateDraws({ persons: b.spec.dhw.persons, litresPerPersonDay: b.spec.dhw.litresPerPersonDay }, drawDays, streamSeed(scenario.seed, 1000 + b.index), cal.startDayOfWeek);
    const n = draws.length;
    const drawStartS = new Float64Array(n);
    const drawEndS = new Float64Array(n);
    const drawVolumeL = new Float64Array(n);
    const drawHourlyWh = new Float64Array(hours);
    const cold = sites[b.site].coldWaterC;
    draws.forEach((d, i) => {
      drawStartS[i] = d.timeS;
      drawEndS[i] = d.timeS + Math.max(1, d.durationS);
      drawVolumeL[i] = d.volumeL;
      const h = Math.floor(d.timeS / 3600);
      if (h < hours && cold[h] < DRAW_REFERENCE_C) drawHourlyWh[h] += (d.volumeL * tank.cvJLK * (DRAW_REFERENCE_C - cold[h])) / 3600;
    });
    return {
      name: b.name,
      site: b.site,
      tank,
      heater: models[heaterModel],
      heaterModel,
      coresPerBoard: b.spec.coresPerBoard,
      memoryMBPerBoard: b.spec.memoryMBPerBoard,
      gpu: b.spec.gpu,
      drawStartS,
      drawEndS,
      drawVolumeL,
      drawHourlyWh,
    };
  });
  if (models.length > 65535) throw new InvalidParameterError('sites', 'too many distinct heater models (max 65535)');
  const maxBoards = Math.max(1, ...models.map((m) => m.boards));

  // Workloads, carbon and prices.
  const swfTexts: Record<string, string> = {};
  scenario.workloads.forEach((w, i) => {
    if (w.kind === 'swf') swfTexts[w.file] = fileText(options.files, w.file, `workloads[${i}].file`);
  });
  const arrivals = generateArrivals(scenario.workloads, { days, startDayOfWeek: cal.startDayOfWeek, seed: scenario.seed }, swfTexts);
  const arrivalRows = createInstanceTable(arrivals.length);
  arrivals.forEach((a, i) => {
    arrivalRows.taskId[i] = a.taskId;
    arrivalRows.instanceIndex[i] = a.instanceIndex;
    arrivalRows.type[i] = TYPE_CODE[a.type];
    arrivalRows.priority[i] = a.priority;
    arrivalRows.cores[i] = a.cores;
    arrivalRows.memoryMB[i] = a.memoryMB;
    arrivalRows.gpu[i] = a.gpu ? 1 : 0;
    arrivalRows.submittedS[i] = a.submittedS;
    arrivalRows.deadlineS[i] = a.deadlineS ?? Infinity;
    arrivalRows.workS[i] = a.workS;
    arrivalRows.estWorkS[i] = a.estWorkS;
    arrivalRows.checkpointable[i] = a.checkpointable ? 1 : 0;
    arrivalRows.dataSite[i] = a.dataSite;
    arrivalRows.dataMB[i] = a.dataMB;
  });
  arrivalRows.count = arrivals.length;
  const carbonSrc: CarbonSource =
    scenario.carbon.kind === 'constant' ? constantCarbon(scenario.carbon.gPerKWh) : { kind: 'series', series: parseCarbonCsv(fileText(options.files, scenario.carbon.file, 'carbon.file'), scenario.carbon.file) };
  const carbonGPerKWh = new Float64Array(hours);
  const priceEURPerKWh = new Float64Array(hours);
  for (let h = 0; h < hours; h++) {
    const u = cal.startUnixS + h * 3600;
    carbonGPerKWh[h] = 0.5 * (carbonAt(carbonSrc, u + 900) + carbonAt(carbonSrc, u + 2700));
    priceEURPerKWh[h] = scenario.prices.electricityEURPerKWhByHour[h % 24];
  }
  const overflow: OverflowPool = { pue: scenario.overflow.pue, priceEURPerCoreH: scenario.overflow.priceEURPerCoreH, carbonGPerKWh: scenario.overflow.carbonGPerKWh };
  const overflowBoardW = models.length > 0 ? models[0].board.maxW : 165;
  return {
    scenario,
    expanded,
    days,
    dtS,
    periodS,
    steps,
    horizonH,
    hours,
    sites,
    archetypes,
    groups,
    roomOrder,
    boilers,
    models,
    maxBoards,
    arrivalRows,
    carbonGPerKWh,
    priceEURPerKWh,
    overflow,
    overflowBoardW,
  };
}

// ---------------------------------------------------------------------------------------------------------
// The run

const TYPE_NAMES: readonly SchedulingTypeName[] = SCHEDULING_TYPES;
const TYPE_CODE: Readonly<Record<SchedulingTypeName, number>> = SchedulingType;
/** Rooms and tanks whose hourly temperatures the series keep (the report shows a few of them). */
const MAX_TRACED_ROOMS = 256;
const MAX_TRACED_TANKS = 4;
/** Tanks' safety limit as seen by the scheduler, °C (water well below boiling). */
const TANK_SAFETY_C = 95;

/** A min-heap of (time, instance) pairs: overflow completions in time order, ties by instance index. */
class CompletionHeap {
  private t = new Float64Array(64);
  private id = new Int32Array(64);
  size = 0;
  push(timeS: number, instance: number): void {
    if (this.size === this.t.length) {
      const t = new Float64Array(this.size * 2);
      t.set(this.t);
      this.t = t;
      const id = new Int32Array(this.size * 2);
      id.set(this.id);
      this.id = id;
    }
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.t[p] < timeS || (this.t[p] === timeS && this.id[p] < instance)) break;
      this.t[i] = this.t[p];
      this.id[i] = this.id[p];
      i = p;
    }
    this.t[i] = timeS;
    this.id[i] = instance;
  }
  peekTime(): number {
    return this.size > 0 ? this.t[0] : Infinity;
  }
  /** Removes the earliest entry and returns its instance. */
  pop(): number {
    const top = this.id[0];
    const n = --this.size;
    const lt = this.t[n];
    const lid = this.id[n];
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && (this.t[c + 1] < this.t[c] || (this.t[c + 1] === this.t[c] && this.id[c + 1] < this.id[c]))) c++;
      if (lt < this.t[c] || (lt === this.t[c] && lid < this.id[c])) break;
      this.t[i] = this.t[c];
      this.id[i] = this.id[c];
      i = c;
    }
    this.t[i] = lt;
    this.id[i] = lid;
    return top;
  }
}

/** Mutable totals of a run, J unless named otherwise. */
interface Totals {
  askedJ: number;
  computeJ: number;
  computeByTypeJ: Float64Array;
  fillerJ: number;
  boosterJ: number;
  resistiveJ: number;
  topUpJ: number;
  ventedJ: number;
  overshotJ: number;
  roomsJ: number;
  tankAcceptedJ: number;
  boardsJ: number;
  fleetJ: number;
  overflowItJ: number;
  drawnWh: number;
  deliveredWh: number;
  unmetWh: number;
  tankLossWh: number;
  coldEvents: number;
  fillerBoardS: number;
  // compute
  completed: number;
  coreHByType: Float64Array;
  coreHOnHeaters: number;
  coreHOverflow: number;
  killed: number;
  paused: number;
  migrated: number;
  lostCoreH: number;
  waitSumS: number;
  waits: number;
  turnaroundSumS: number;
  bsldSum: number;
  gbMoved: number;
  // money, €
  revenueByType: Float64Array;
  electricityEUR: number;
  overflowEUR: number;
  heatValueEUR: number;
  // carbon, g
  fleetG: number;
  overflowG: number;
  refDatacenterG: number;
  refHeatingG: number;
}

const newTotals = (): Totals => ({
  askedJ: 0,
  computeJ: 0,
  computeByTypeJ: new Float64Array(3),
  fillerJ: 0,
  boosterJ: 0,
  resistiveJ: 0,
  topUpJ: 0,
  ventedJ: 0,
  overshotJ: 0,
  roomsJ: 0,
  tankAcceptedJ: 0,
  boardsJ: 0,
  fleetJ: 0,
  overflowItJ: 0,
  drawnWh: 0,
  deliveredWh: 0,
  unmetWh: 0,
  tankLossWh: 0,
  coldEvents: 0,
  fillerBoardS: 0,
  completed: 0,
  coreHByType: new Float64Array(3),
  coreHOnHeaters: 0,
  coreHOverflow: 0,
  killed: 0,
  paused: 0,
  migrated: 0,
  lostCoreH: 0,
  waitSumS: 0,
  waits: 0,
  turnaroundSumS: 0,
  bsldSum: 0,
  gbMoved: 0,
  revenueByType: new Float64Array(3),
  electricityEUR: 0,
  overflowEUR: 0,
  heatValueEUR: 0,
  fleetG: 0,
  overflowG: 0,
  refDatacenterG: 0,
  refHeatingG: 0,
});

/** A bug in a policy: a decision that cannot be applied. */
export class InvalidDecisionError extends Error {
  constructor(
    readonly policy: string,
    readonly decision: Decision,
    reason: string,
  ) {
    super(`policy '${policy}' made an invalid decision ${JSON.stringify(decision)}: ${reason}`);
    this.name = 'InvalidDecisionError';
  }
}

/** One policy's run over a prepared twin. */
class TwinRun {
  private readonly p: PreparedTwin;
  private readonly policyName: PolicyName;
  private readonly policy: Policy;
  private readonly nRooms: number;
  private readonly nBoilers: number;
  private readonly nHeaters: number;
  private readonly maxB: number;
  private readonly fleet: FleetArrays;
  /** The room kernel (undefined when the scenario has boilers only). */
  private readonly kernel: RoomKernel | undefined;
  private readonly view: FleetViewBuffer;
  private readonly table: InstanceTable;
  private readonly heap = new CompletionHeap();
  private readonly overflowPool: OverflowPool;
  private readonly out: Decision[] = [];
  /** Where a policy that takes a sink writes its decisions (typed: no object per decision). */
  private readonly buffer = new DecisionBuffer();
  private readonly t = newTotals();

  // Kernel inputs per group.
  private readonly shared: Float64Array[];
  /** Σ over steps of the outdoor temperature (°C) and the transmitted sun (W) of each group: the balance's input sums. */
  private readonly toutSum: Float64Array;
  private readonly solarSum: Float64Array;
  private readonly gainsSum: Float64Array;
  private readonly iAmb: number[];
  private readonly iSup: number[];
  private readonly iWin: number[];
  private readonly iSol: number[];
  private readonly iHeat: number[];
  private readonly iGain: number[];
  /**
   * The comfort bookkeeping the kernel does in its own pass over the rooms (RoomKernel.stepWatch): per group the
   * thresholds of the current hour (lo = −∞ when unoccupied, hi, the safety limit; stand-by power of the heater; the
   * air above which an occupied room may open its window), per room the integrals below lo and above hi, the time
   * above the safety limit (and with the heater above stand-by), and the rooms whose window rule may act.
   */
  private readonly watch: StateWatch;

  // Per room (kernel order).
  private readonly x0: Float64Array[];
  private readonly lossAcc: Float64Array;
  /** Per group, the weights of the boundary-loss functional on the states (PreparedGroup.lossX). */
  private readonly lossW: Float64Array[];
  /** Open windows: flag per room, the list of open rooms with each room's position in it, heat let out (W·steps). */
  private readonly windowOpen: Uint8Array;
  private readonly openList: Int32Array;
  private readonly openPos: Int32Array;
  private openCount = 0;
  private readonly windowSumW: Float64Array;
  private readonly toutStep: Float64Array;
  private readonly lastHeatJ: Float64Array;
  private readonly watched: Uint8Array;
  private readonly watchList: Int32Array;
  private watchCount = 0;
  private readonly progAcc: Float64Array;
  private readonly boostAcc: Float64Array;
  /** Heater power without derating set for the period, W; |energy − nominal| of unwatched heaters, J (a check). */
  private readonly nominalW: Float64Array;
  private splitErrJ = 0;
  /** Start (s) and length (s) of the period closePeriod books (read by bookBoards and progress). */
  private periodT0 = 0;
  private periodEl = 0;
  private readonly groupOf: Int32Array;

  // Per heater (rooms, then boilers).
  private readonly resistiveW: Float64Array;
  private readonly acctJ: Float64Array;
  /** Boards computing (paid work or filler) during the current period. */
  private readonly active: Uint8Array;
  /**
   * Heaters whose controls must be worked out again at the next setControls: 1 after a decision or a completion
   * touched them, 2 for good (resistive heaters: their plan depends on the boards they run). Every other heater keeps
   * the controls, active boards and nominal power it had (the same inputs give the same figures).
   */
  private readonly dirty: Uint8Array;
  /**
   * Per board slot of a room's heater, set with `active` when setControls works the heater out again: 1 when the slot
   * runs paid work (and its instance's work and type then), 0 otherwise. closePeriod reads these in heater order
   * instead of the instance table's phase, work and type at scattered rows (only the progress itself is per instance).
   */
  private readonly slotRunning: Uint8Array;
  private readonly slotWorkS: Float64Array;
  private readonly slotType: Uint8Array;
  /** Rooms that compute or boost (not resistive): those whose body might reach derating within a period. */
  private readonly mayWatch: Uint8Array;
  private readonly roomCtl: RoomController[] = [];
  /** Per room, the request its controller writes (null for PI rooms: the bank writes the view's columns). */
  private readonly roomReq: (HeatRequest | null)[] = [];
  /** Per room, the controller's requestShared (PI, hysteresis), or null: the room asks through request(). */
  private readonly roomShared: (SharedRoomController | null)[] = [];
  /** Per group, the controllers' quasi-steady need, shared by the group's rooms and recomputed once per hour. */
  private readonly groupNeed: SharedHeatNeed[] = [];
  /**
   * The rooms' PI controllers stepped as one bank (slot r = room r; their state lives there during the run and goes
   * back to the controllers at its end): same arithmetic, without touching 100,000 objects per round.
   */
  private readonly piBank: PiBank;
  private readonly isPi: Uint8Array;
  /** Per group, 1 when every room of it has a PI thermostat (the bank steps the group in one call), and its outputs. */
  private readonly groupAllPi: Uint8Array;
  /** Every room runs a PI thermostat (closePeriod then skips the per-room flag). */
  private readonly allPi: boolean;
  /** Rooms whose heater runs as a resistive heater (a 'resistive' decision is never taken back). */
  private resistiveRooms = 0;
  private readonly piOut: PiGroupOutputs;
  private readonly tankCtl: TankController[] = [];
  private readonly tankReq: HeatRequest[] = [];
  private readonly ctlInput: {
    -readonly [K in keyof RoomControlInput]: RoomControlInput[K];
  };
  private readonly stateScratch = new Float64Array(4);

  // Boilers.
  private readonly tanks: TankState[];
  private readonly tankRes: TankStepResult;
  private readonly tankIn: { boardHeatW: number; drawEnergyWh: number; coldC: number; ambientC: number };
  private readonly boilerOfferW: Float64Array;
  private readonly boilerPeriodAcceptedJ: Float64Array;
  private readonly boilerPeriodTopUpJ: Float64Array;
  private readonly boilerPeriodVentedJ: Float64Array;
  private readonly boilerDrawFirst: Int32Array;
  private readonly boilerCold: Uint8Array;
  private readonly tankStored0Wh: Float64Array;
  private readonly tankLossWh: Float64Array;
  private readonly tankDeliveredWh: Float64Array;
  private readonly tankVentedJ: Float64Array;
  private readonly tankLayersScratch: Float64Array[];

  // Time and series.
  private nextArrival = 0;
  private queued = 0;
  /** Hour of the run the inputs are set for. */
  private hour = -1;
  private readonly runHours: number;
  private readonly series: {
    outdoorC: Float64Array;
    meanAirC: Float64Array;
    meanSetpointC: Float64Array;
    askedJ: Float64Array;
    computeJ: Float64Array;
    fillerJ: Float64Array;
    boosterJ: Float64Array;
    queued: Float64Array;
    overflowRunning: Float64Array;
    throughputCoreH: Float64Array;
    tankTopC: Float64Array[];
  };
  /** Rooms whose hourly air temperature is kept for the report (kernel indexes), and their traces. */
  private readonly traced: Int32Array;
  private readonly traceAir: Float64Array[];
  private inOverflow = 0;

  private readonly windowsEnabled: boolean;

  constructor(prep: PreparedTwin, policyName: PolicyName, deps: TwinDeps, windowOpening = true) {
    this.windowsEnabled = windowOpening;
    this.p = prep;
    this.policyName = policyName;
    this.policy = deps.createPolicy(policyName);
    const nRooms = prep.roomOrder.length;
    const nBoilers = prep.boilers.length;
    this.nRooms = nRooms;
    this.nBoilers = nBoilers;
    this.nHeaters = nRooms + nBoilers;
    this.maxB = prep.maxBoards;
    this.overflowPool = prep.overflow;
    const groups: KernelGroup[] = prep.groups.map((g) => ({ archetype: g.archetype, start: g.start, count: g.count }));
    this.fleet = allocateFleetArrays(nRooms, 4);
    this.kernel = nRooms > 0 ? new RoomKernel(prep.archetypes, groups, this.fleet) : undefined;
    this.view = allocateFleetView(this.nHeaters, this.maxB, prep.models);
    this.view.periodS = prep.periodS;
    this.table = runTable(prep.arrivalRows);

    const G = prep.groups.length;
    this.shared = prep.groups.map((g) => new Float64Array(prep.archetypes[g.archetype].model.nu));
    this.toutSum = new Float64Array(G);
    this.solarSum = new Float64Array(G);
    this.gainsSum = new Float64Array(G);
    const idx = (name: string): number[] => prep.groups.map((g) => prep.archetypes[g.archetype].model.inputNames.indexOf(name));
    this.iAmb = idx('T_amb');
    this.iSup = idx('T_sup');
    this.iWin = idx('T_ambWin');
    this.iSol = idx('Q_sol_1');
    this.iHeat = idx('Q_heater');
    this.iGain = idx('Q_gains');
    this.watch = {
      state: 0,
      dtS: prep.dtS,
      band: hingeIntegral,
      lo: new Float64Array(G),
      hi: new Float64Array(G),
      max: new Float64Array(G),
      hotW: Float64Array.from(prep.groups, (g) => g.heater.boards * g.heater.board.offW),
      listAbove: new Float64Array(G).fill(Infinity),
      below: new Float64Array(nRooms),
      above: new Float64Array(nRooms),
      overS: new Float64Array(nRooms),
      overWhileHotS: new Float64Array(nRooms),
      list: new Int32Array(nRooms),
      count: 0,
    };

    this.lossAcc = new Float64Array(nRooms);
    this.lossW = prep.groups.map((g) => g.lossX);
    this.windowOpen = new Uint8Array(nRooms);
    this.openList = new Int32Array(nRooms);
    this.openPos = new Int32Array(nRooms);
    this.windowSumW = new Float64Array(nRooms);
    this.toutStep = new Float64Array(G);
    this.lastHeatJ = new Float64Array(nRooms);
    this.watched = new Uint8Array(nRooms);
    this.watchList = new Int32Array(nRooms);
    this.progAcc = new Float64Array(nRooms);
    this.boostAcc = new Float64Array(nRooms);
    this.nominalW = new Float64Array(nRooms);
    this.groupOf = new Int32Array(nRooms);
    this.resistiveW = new Float64Array(this.nHeaters).fill(NaN);
    this.acctJ = new Float64Array(this.nHeaters);
    this.active = new Uint8Array(this.nHeaters);
    this.dirty = new Uint8Array(this.nHeaters).fill(1);
    this.slotRunning = new Uint8Array(nRooms * this.maxB);
    this.slotWorkS = new Float64Array(nRooms * this.maxB);
    this.slotType = new Uint8Array(nRooms * this.maxB);
    this.mayWatch = new Uint8Array(nRooms);

    // Static fleet view, initial states, controllers.
    const v = this.view;
    const H = prep.horizonH;
    const electric = policyName === 'electric';
    const forecasts = new Float64Array(this.nHeaters * H);
    this.piBank = new PiBank(nRooms);
    this.isPi = new Uint8Array(nRooms);
    prep.groups.forEach((g, gi) => {
      const spAt0 = g.setpointC[0];
      for (let r = g.start; r < g.start + g.count; r++) {
        this.groupOf[r] = gi;
        v.kind[r] = 0;
        v.site[r] = g.site;
        v.model[r] = g.heaterModel;
        v.boards[r] = g.heater.boards;
        v.coresPerBoard[r] = g.coresPerBoard;
        v.memoryMBPerBoard[r] = g.memoryMBPerBoard;
        v.gpu[r] = g.gpu ? 1 : 0;
        v.safetyC[r] = g.limits.safetyMaxC;
        v.level[r] = g.heater.board.levels - 1;
        for (const x of this.fleet.x) x[r] = spAt0;
        const kind: ControllerKind = electric ? 'pi' : g.controller;
        this.roomCtl.push(
          deps.createRoomController(kind, { model: prep.archetypes[g.archetype].model, uaWK: g.uaWK, heater: g.heater, limits: g.limits, periodS: prep.periodS, horizonH: H }),
        );
        const c = this.roomCtl[r];
        this.roomShared.push(c instanceof PiController || c instanceof HysteresisController ? c : null);
        if (c instanceof PiController) {
          this.piBank.adopt(r, c);
          this.isPi[r] = 1;
        }
        // A forecast view per room costs a typed-array object: only rooms whose controller writes one get it.
        this.roomReq.push(c instanceof PiController ? null : { powerW: 0, minW: 0, maxW: 0, forecastW: forecasts.subarray(r * H, (r + 1) * H) });
      }
      this.groupNeed.push(new SharedHeatNeed());
    });
    this.groupAllPi = Uint8Array.from(prep.groups, (g) => (this.isPi.subarray(g.start, g.start + g.count).every((x) => x === 1) ? 1 : 0));
    this.allPi = this.isPi.every((x) => x === 1);
    this.piOut = { powerW: v.requestW, minW: v.minW, maxW: v.maxW, wantHeatH: v.wantHeatH };
    this.x0 = this.fleet.x.map((a) => Float64Array.from(a));
    this.fleet.utilisation.fill(1);

    this.tanks = prep.boilers.map((b) => createTankState(b.tank, b.tank.topUpSetpointC));
    this.tankRes = createTankStepResult();
    this.tankIn = { boardHeatW: 0, drawEnergyWh: 0, coldC: 10, ambientC: TANK_AMBIENT_C };
    this.boilerOfferW = new Float64Array(nBoilers);
    this.boilerPeriodAcceptedJ = new Float64Array(nBoilers);
    this.boilerPeriodTopUpJ = new Float64Array(nBoilers);
    this.boilerPeriodVentedJ = new Float64Array(nBoilers);
    this.boilerDrawFirst = new Int32Array(nBoilers);
    this.boilerCold = new Uint8Array(nBoilers);
    this.tankStored0Wh = Float64Array.from(prep.boilers, (b, i) => tankStoredWh(b.tank, this.tanks[i]));
    this.tankLossWh = new Float64Array(nBoilers);
    this.tankDeliveredWh = new Float64Array(nBoilers);
    this.tankVentedJ = new Float64Array(nBoilers);
    this.tankLayersScratch = prep.boilers.map((b) => new Float64Array(b.tank.layers));
    prep.boilers.forEach((b, bi) => {
      const h = nRooms + bi;
      v.kind[h] = 1;
      v.site[h] = b.site;
      v.model[h] = b.heaterModel;
      v.boards[h] = b.heater.boards;
      v.coresPerBoard[h] = b.coresPerBoard;
      v.memoryMBPerBoard[h] = b.memoryMBPerBoard;
      v.gpu[h] = b.gpu ? 1 : 0;
      v.safetyC[h] = TANK_SAFETY_C;
      v.bodyC[h] = TANK_AMBIENT_C;
      v.level[h] = b.heater.board.levels - 1;
      const cold = prep.sites[b.site].coldWaterC;
      const coldC = cold.reduce((a, c) => a + c, 0) / Math.max(1, cold.length);
      this.tankCtl.push(deps.createTankController({ tank: b.tank, coldC, heater: b.heater, periodS: prep.periodS, horizonH: H }));
      this.tankReq.push({ powerW: 0, minW: 0, maxW: 0, forecastW: forecasts.subarray(h * H, (h + 1) * H) });
    });

    // The hardware and site columns are set above, once: the policy's indexes need not compare them each round.
    this.view.layoutVersion = 1;
    this.ctlInput = {
      nowS: 0,
      periodS: prep.periodS,
      airC: 0,
      state: this.stateScratch,
      setpointC: 0,
      setpointAheadC: new Float64Array(0),
      outdoorAheadC: new Float64Array(0),
      solarAheadW: new Float64Array(0),
      gainsAheadW: new Float64Array(0),
      maxHeatW: 0,
      limits: DEFAULT_COMFORT,
    };

    this.runHours = Math.ceil((prep.steps * prep.dtS) / 3600);
    const hs = (): Float64Array => new Float64Array(this.runHours);
    this.series = {
      outdoorC: hs(),
      meanAirC: hs(),
      meanSetpointC: hs(),
      askedJ: hs(),
      computeJ: hs(),
      fillerJ: hs(),
      boosterJ: hs(),
      queued: hs(),
      overflowRunning: hs(),
      throughputCoreH: hs(),
      tankTopC: prep.boilers.slice(0, MAX_TRACED_TANKS).map(hs),
    };
    const traced = nRooms <= MAX_TRACED_ROOMS ? Array.from({ length: nRooms }, (_, r) => r) : prep.groups.slice(0, MAX_TRACED_ROOMS).map((g) => g.start);
    this.traced = Int32Array.from(traced);
    this.traceAir = traced.map(hs);
  }

  // -------------------------------------------------------------------------------------------------------
  // Main loop

  run(onProgress?: (fraction: number) => void): TwinResult {
    const p = this.p;
    const dt = p.dtS;
    const S = Math.round(p.periodS / dt);
    const periods = Math.ceil(p.steps / S);
    const every = Math.max(1, Math.floor(periods / 200));
    this.beginHour(0);
    let step = 0;
    for (let k = 0; k < periods; k++) {
      const t0 = k * p.periodS;
      const n = Math.min(S, p.steps - step);
      this.toHour(Math.floor(t0 / 3600));
      this.decide(t0);
      for (let s = 0; s < n; s++, step++) {
        const t = step * dt;
        const h = Math.floor(t / 3600);
        if (h !== this.hour) this.toHour(h);
        this.physicsStep(step, t, h);
      }
      this.closePeriod(t0, n * dt);
      if (onProgress && k % every === 0) onProgress(k / periods);
    }
    this.endHour(this.hour);
    for (let r = 0; r < this.nRooms; r++) if (this.isPi[r] === 1) this.piBank.syncTo(r, this.roomCtl[r] as PiController);
    return this.finish(p.steps * dt);
  }

  /** Moves the clock to hour h: the series snapshot of the hour that ends, the inputs of the one that begins. */
  private toHour(h: number): void {
    if (h === this.hour) return;
    this.endHour(this.hour);
    this.beginHour(h);
  }

  /** One physics step of dt from time t (s), hour index h. */
  private physicsStep(step: number, t: number, h: number): void {
    const p = this.p;
    const dt = p.dtS;
    // Weather at mid-step, shared by each group of a site; sun held over the hour (set by beginHour).
    for (let gi = 0; gi < p.groups.length; gi++) {
      const g = p.groups[gi];
      const tout = p.sites[g.site].outdoorStepC[step];
      const u = this.shared[gi];
      u[this.iAmb[gi]] = tout;
      u[this.iSup[gi]] = tout;
      if (this.iWin[gi] >= 0) u[this.iWin[gi]] = tout;
      this.toutSum[gi] += tout;
      this.toutStep[gi] = tout;
      this.solarSum[gi] += u[this.iSol[gi]];
      // The group's gains as the kernel reads them (float32); open windows are booked per room below.
      this.gainsSum[gi] += Math.fround(g.gainsW[this.hour]);
    }
    // Open windows let heat out: a per-room (negative) gain held over the step, booked exactly for the balance.
    if (this.openCount > 0) this.windowsPass();
    // Heaters that may derate this period: exact per-step throughput and booster energy.
    if (this.watchCount > 0) this.watchPass(dt);
    // The kernel step also accumulates each room's boundary-loss functional (lossX · states) and the comfort integrals
    // in the same pass, and lists the occupied rooms above the window-opening threshold.
    if (this.kernel !== undefined) {
      const w = this.watch;
      this.kernel.stepWatch(this.shared, this.lossW, this.lossAcc, w);
      if (this.windowsEnabled) {
        // Open windows may close: last to first, as a window that closes moves the last open one into its place.
        for (let k = this.openCount - 1; k >= 0; k--) this.windowRule(this.openList[k], this.groupOf[this.openList[k]]);
        // Closed windows of the listed rooms may open (a window that closed above did so below the closing threshold
        // or in an empty room: not listed).
        for (let k = 0, n = w.count, list = w.list; k < n; k++) if (this.windowOpen[list[k]] === 0) this.windowRule(list[k], this.groupOf[list[k]]);
      }
    }
    if (this.nBoilers > 0) this.boilersStep(t, h);
  }

  /** Sets the gains of rooms with an open window: base gains − conductance × (air − outdoor), held over the step. */
  private windowsPass(): void {
    const p = this.p;
    const air = this.fleet.x[0];
    const gains = this.fleet.gainsW;
    for (let k = 0; k < this.openCount; k++) {
      const r = this.openList[k];
      const gi = this.groupOf[r];
      const g = p.groups[gi];
      const base = Math.fround(g.gainsW[this.hour]);
      const dT = air[r] - this.toutStep[gi];
      gains[r] = base - (dT > 0 ? g.openWindowWK * dT : 0);
      this.windowSumW[r] += base - gains[r];
    }
  }

  /** Opens or closes room r's window after a step (by its air now); restores its gains when it closes. */
  private windowRule(r: number, gi: number): void {
    const g = this.p.groups[gi];
    const T1 = this.fleet.x[0][r];
    const occupied = g.occupied[this.hour] === 1;
    if (this.windowOpen[r] === 0) {
      if (occupied && T1 > g.comfortSetpointC + WINDOW_OPENING.OPEN_ABOVE_K && this.toutStep[gi] < T1 - WINDOW_OPENING.OPEN_MIN_DELTA_K) {
        this.windowOpen[r] = 1;
        this.openPos[r] = this.openCount;
        this.openList[this.openCount++] = r;
      }
    } else if (!occupied || T1 < g.comfortSetpointC + WINDOW_OPENING.CLOSE_BELOW_K) {
      this.windowOpen[r] = 0;
      const last = this.openList[--this.openCount];
      this.openList[this.openPos[r]] = last;
      this.openPos[last] = this.openPos[r];
      this.fleet.gainsW[r] = g.gainsW[this.hour];
    }
  }

  private watchPass(dt: number): void {
    const f = this.fleet;
    const body = f.x[3];
    const models = this.view.models;
    const vm = this.view.model;
    for (let w = 0; w < this.watchCount; w++) {
      const r = this.watchList[w];
      const m = models[vm[r]];
      let d = (m.capC - body[r]) * m.invDerateSpanK;
      d = d > 1 ? 1 : d > 0 ? d : 0;
      if (f.activeBoards[r] > 0) {
        const lv = f.freqLevel[r];
        const dynL = m.board.dynWByLevel[lv];
        const cap = m.board.dynTopW * d;
        const u = dynL > cap ? (dynL > 0 ? cap / dynL : 1) : 1;
        this.progAcc[r] += m.board.relFreqByLevel[lv] * u * dt;
      }
      let bf = f.booster[r];
      bf = bf < 0 ? 0 : bf > 1 ? 1 : bf;
      if (m.boosterDerates && bf > d) bf = d;
      this.boostAcc[r] += bf * m.boosterW * dt;
    }
  }

  private boilersStep(t: number, h: number): void {
    const p = this.p;
    const dt = p.dtS;
    const res = this.tankRes;
    const inp = this.tankIn;
    for (let b = 0; b < this.nBoilers; b++) {
      const bo = p.boilers[b];
      const m = bo.tank;
      const cold = p.sites[bo.site].coldWaterC[h];
      // Draws overlapping [t, t + dt), volumes at the reference temperature → energy above cold water.
      let first = this.boilerDrawFirst[b];
      const ends = bo.drawEndS;
      const starts = bo.drawStartS;
      while (first < ends.length && ends[first] <= t) first++;
      this.boilerDrawFirst[b] = first;
      let volL = 0;
      for (let j = first; j < starts.length && starts[j] < t + dt; j++) {
        const a = starts[j] > t ? starts[j] : t;
        const e = ends[j] < t + dt ? ends[j] : t + dt;
        if (e > a) volL += (bo.drawVolumeL[j] * (e - a)) / (ends[j] - starts[j]);
      }
      const rise = DRAW_REFERENCE_C - cold;
      const drawWh = rise > 0 ? (volL * m.cvJLK * rise) / 3600 : 0;
      inp.boardHeatW = this.boilerOfferW[b];
      inp.drawEnergyWh = drawWh;
      inp.coldC = cold;
      stepTank(m, this.tanks[b], dt, inp, res);
      const offeredJ = inp.boardHeatW * dt;
      const acceptedJ = res.boardHeatWh * 3600;
      this.boilerPeriodAcceptedJ[b] += acceptedJ;
      this.boilerPeriodVentedJ[b] += offeredJ - acceptedJ;
      this.boilerPeriodTopUpJ[b] += res.topUpWh * 3600;
      this.tankLossWh[b] += res.lossWh;
      this.tankDeliveredWh[b] += res.deliveredWh;
      this.t.drawnWh += drawWh;
      this.t.unmetWh += res.unmetWh;
      const cold1 = res.unmetWh > 1e-9 ? 1 : 0;
      if (cold1 && !this.boilerCold[b]) this.t.coldEvents++;
      this.boilerCold[b] = cold1;
    }
  }

  /** Start of hour h: gains, sun, comfort thresholds. */
  private beginHour(h: number): void {
    const p = this.p;
    this.hour = h;
    const gains = this.fleet.gainsW;
    for (let gi = 0; gi < p.groups.length; gi++) {
      const g = p.groups[gi];
      gains.fill(g.gainsW[h], g.start, g.start + g.count);
      this.shared[gi][this.iSol[gi]] = g.solarW[h];
      const sp = g.setpointC[h];
      const w = this.watch;
      w.lo[gi] = g.occupied[h] ? sp - g.limits.lowerBandK : -Infinity;
      w.hi[gi] = g.comfortSetpointC + g.limits.upperBandK;
      w.max[gi] = g.limits.safetyMaxC;
      // The window rule acts on a closed window only while occupied and above the opening threshold (which is above
      // the closing one): other rooms with a closed window need no look.
      w.listAbove[gi] = this.windowsEnabled && g.occupied[h] === 1 ? g.comfortSetpointC + WINDOW_OPENING.OPEN_ABOVE_K : Infinity;
    }
  }

  /** End of hour h: the series snapshot. */
  private endHour(h: number): void {
    if (h < 0 || h >= this.runHours) return;
    const p = this.p;
    const s = this.series;
    const air = this.fleet.x[0];
    let sum = 0;
    let sp = 0;
    for (const g of p.groups) {
      for (let r = g.start; r < g.start + g.count; r++) sum += air[r];
      sp += g.setpointC[h] * g.count;
    }
    const n = this.nRooms;
    s.meanAirC[h] = n > 0 ? sum / n : NaN;
    s.meanSetpointC[h] = n > 0 ? sp / n : NaN;
    s.outdoorC[h] = p.sites.length > 0 ? p.sites[0].outdoorC[h] : NaN;
    s.queued[h] = this.queued;
    s.overflowRunning[h] = this.inOverflow;
    for (let b = 0; b < s.tankTopC.length; b++) s.tankTopC[b][h] = this.tanks[b].tempC[p.boilers[b].tank.layers - 1];
    for (let k = 0; k < this.traced.length; k++) this.traceAir[k][h] = air[this.traced[k]];
  }

  // -------------------------------------------------------------------------------------------------------
  // Decisions

  /** A scheduling round at time now (s): completions, arrivals, controllers, the policy, its decisions, controls. */
  private decide(now: number): void {
    const p = this.p;
    const table = this.table;
    // Overflow work finished by now.
    while (this.heap.size > 0 && this.heap.peekTime() <= now) {
      const time = this.heap.peekTime();
      this.inOverflow--;
      this.complete(this.heap.pop(), time, false);
    }
    // Arrivals.
    const arr = p.arrivalRows;
    if (this.nextArrival < arr.count && arr.submittedS[this.nextArrival] <= now) {
      const fresh: number[] = [];
      while (this.nextArrival < arr.count && arr.submittedS[this.nextArrival] <= now) {
        fresh.push(this.admit(this.nextArrival++));
      }
      this.policy.onSubmit(fresh, table);
    }
    this.control(now);
    const v = this.view;
    v.nowS = now;
    const out = this.out;
    const buf = this.buffer;
    out.length = 0;
    buf.clear();
    this.policy.decide(v, table, this.overflowPool, out, buf);
    // A policy writes to one of the two (all its decisions, in order).
    for (let k = 0; k < out.length; k++) this.apply(out[k], now);
    for (let k = 0, n = buf.length; k < n; k++) this.apply(buf.at(k), now);
    this.setControls();
  }

  /**
   * Admits arrival k, the next one in order (the table's row k: see runTable), phase queued; returns its index. Its
   * spec columns are the arrival's already; the columns a run changes start here.
   */
  private admit(k: number): number {
    const t = this.table;
    const i = t.count++;
    if (i !== k) throw new Error(`admit: arrival ${k} out of order (table has ${i})`);
    t.doneS[i] = 0;
    t.phase[i] = InstancePhase.queued;
    t.heater[i] = -1;
    t.board[i] = -1;
    t.startedS[i] = NaN;
    t.endedS[i] = NaN;
    t.attempts[i] = 0;
    this.queued++;
    return i;
  }

  /** Runs every room and tank controller and fills the FleetView's heat fields. */
  private control(now: number): void {
    const p = this.p;
    const v = this.view;
    const x = this.fleet.x;
    const H = p.horizonH;
    const hour = Math.floor(now / 3600);
    const inp = this.ctlInput;
    inp.nowS = now;
    const st = this.stateScratch;
    const [X0, X1, X2, X3] = x;
    const ctl = this.roomCtl;
    const reqs = this.roomReq;
    const { requestW, minW, maxW, wantHeatH, diffK, airC, bodyC } = v;
    for (let gi = 0; gi < p.groups.length; gi++) {
      const g = p.groups[gi];
      const site = p.sites[g.site];
      inp.setpointAheadC = g.setpointC.subarray(hour, hour + H);
      inp.outdoorAheadC = site.outdoorC.subarray(hour, hour + H);
      inp.solarAheadW = g.solarW.subarray(hour, hour + H);
      inp.gainsAheadW = g.gainsW.subarray(hour, hour + H);
      inp.maxHeatW = g.heater.maxW;
      inp.limits = g.limits;
      const sp = g.setpointC[hour];
      inp.setpointC = sp;
      const idleW = g.heater.board.idleW;
      // Every input above depends on the group and the hour only: the rooms share one need per hour.
      const shared = this.groupNeed[gi];
      shared.key = hour;
      const sharedCtl = this.roomShared;
      const bank = this.piBank;
      const isPi = this.isPi;
      if (this.groupAllPi[gi] === 1) {
        // Every room of the group runs a PI thermostat: the bank steps them together (same arithmetic).
        for (let r = g.start, end = g.start + g.count; r < end; r++) {
          const air = X0[r];
          diffK[r] = sp - air;
          airC[r] = air;
          bodyC[r] = X3[r];
        }
        bank.requestGroup(g.start, g.start + g.count, inp, X0, H, idleW, shared, this.piOut);
        continue;
      }
      for (let r = g.start; r < g.start + g.count; r++) {
        const air = X0[r];
        st[0] = air;
        st[1] = X1[r];
        st[2] = X2[r];
        const body = X3[r];
        st[3] = body;
        inp.airC = air;
        diffK[r] = sp - air;
        airC[r] = air;
        bodyC[r] = body;
        if (isPi[r] === 1) {
          wantHeatH[r] = bank.request(r, inp, H, idleW, shared);
          requestW[r] = bank.powerW;
          minW[r] = bank.minW;
          maxW[r] = bank.maxW;
          continue;
        }
        const sc = sharedCtl[r];
        const own = reqs[r] as HeatRequest;
        const req = sc !== null ? sc.requestShared(inp, own, shared) : ctl[r].request(inp, own);
        requestW[r] = req.powerW;
        minW[r] = req.minW;
        maxW[r] = req.maxW;
        wantHeatH[r] = wantHeatHours(req.forecastW, idleW);
      }
    }
    for (let b = 0; b < this.nBoilers; b++) {
      const bo = p.boilers[b];
      const m = bo.tank;
      const s = this.tanks[b];
      const layers = this.tankLayersScratch[b];
      let headroomJ = 0;
      let limitW = 0;
      for (let k = 0; k < m.layers; k++) {
        const T = s.tempC[k];
        layers[k] = T;
        if (T < m.hxMaxTempC) {
          headroomJ += (m.hxMaxTempC - T) * m.layerCapJK;
          limitW += m.hxLayerWK[k] * (m.hxMaxTempC - T);
        }
      }
      const maxHeatW = Math.min(bo.heater.maxComputeW, limitW);
      const tin: TankControlInput = {
        nowS: now,
        periodS: p.periodS,
        layersC: layers,
        headroomWh: headroomJ / 3600,
        drawAheadWh: bo.drawHourlyWh.subarray(hour, hour + H),
        maxHeatW,
      };
      const req = this.tankCtl[b].request(tin, this.tankReq[b]);
      const h = this.nRooms + b;
      const top = s.tempC[m.layers - 1];
      v.requestW[h] = req.powerW;
      v.minW[h] = req.minW;
      v.maxW[h] = req.maxW;
      v.wantHeatH[h] = wantHeatHours(req.forecastW, bo.heater.board.idleW);
      v.diffK[h] = m.hxMaxTempC - top;
      v.airC[h] = top;
    }
  }

  private fail(d: Decision, reason: string): never {
    throw new InvalidDecisionError(this.policyName, d, reason);
  }

  private checkInstance(d: Decision, i: number): void {
    if (!(Number.isInteger(i) && i >= 0 && i < this.table.count)) this.fail(d, `no instance ${i} (table has ${this.table.count})`);
  }

  private checkBoard(d: Decision, h: number, b: number): number {
    const v = this.view;
    if (!(Number.isInteger(h) && h >= 0 && h < this.nHeaters)) this.fail(d, `no heater ${h}`);
    if (!(Number.isInteger(b) && b >= 0 && b < v.boards[h])) this.fail(d, `heater ${h} has no board ${b} (it has ${v.boards[h]})`);
    if (!Number.isNaN(this.resistiveW[h])) this.fail(d, `heater ${h} runs as a resistive heater`);
    if (!v.online[h]) this.fail(d, `heater ${h} is offline`);
    return h * this.maxB + b;
  }

  private checkFits(d: Decision, i: number, h: number): void {
    const t = this.table;
    const v = this.view;
    if (t.cores[i] > v.coresPerBoard[h] || t.memoryMB[i] > v.memoryMBPerBoard[h] || (t.gpu[i] === 1 && v.gpu[h] !== 1)) {
      this.fail(d, `instance ${i} (${t.cores[i]} cores, ${t.memoryMB[i]} MB, gpu ${t.gpu[i]}) does not fit heater ${h}'s boards`);
    }
  }

  /** Puts instance i on board b of heater h (board slot `slot`), running. */
  private place(i: number, h: number, b: number, slot: number): void {
    const t = this.table;
    this.view.boardInstance[slot] = i;
    t.phase[i] = InstancePhase.running;
    t.heater[i] = h;
    t.board[i] = b;
  }

  /** Instance i starts (on a board or in the overflow datacenter) at now, s: one more attempt; the first ends its wait. */
  private started(i: number, now: number): void {
    const t = this.table;
    t.attempts[i]++;
    if (Number.isNaN(t.startedS[i])) {
      t.startedS[i] = now;
      this.t.waitSumS += now - t.submittedS[i];
      this.t.waits++;
    }
  }

  /** Moves instance i's input data to `site` if it sits elsewhere (GB moved). */
  private moveData(i: number, site: number): void {
    const t = this.table;
    const ds = t.dataSite[i];
    if (ds >= 0 && ds !== site) {
      this.t.gbMoved += t.dataMB[i] / 1000;
      t.dataSite[i] = site;
    }
  }

  /** Applies one decision (validated first; an invalid decision is a policy bug and throws). */
  private apply(d: Decision, now: number): void {
    const t = this.table;
    const v = this.view;
    const slots = v.boardInstance;
    // The heaters it touches get their controls worked out again (an invalid decision throws below).
    if ('heater' in d && d.heater >= 0 && d.heater < this.nHeaters && this.dirty[d.heater] === 0) this.dirty[d.heater] = 1;
    if ('instance' in d) {
      const from = t.heater[d.instance];
      if (from >= 0 && this.dirty[from] === 0) this.dirty[from] = 1;
    }
    switch (d.kind) {
      case 'start': {
        this.checkInstance(d, d.instance);
        const slot = this.checkBoard(d, d.heater, d.board);
        const i = d.instance;
        if (t.phase[i] !== InstancePhase.queued) this.fail(d, `instance ${i} is not queued (phase ${t.phase[i]})`);
        if (slots[slot] >= 0) this.fail(d, `board ${d.board} of heater ${d.heater} runs instance ${slots[slot]}`);
        this.checkFits(d, i, d.heater);
        this.place(i, d.heater, d.board, slot);
        this.started(i, now);
        this.moveData(i, v.site[d.heater]);
        this.queued--;
        return;
      }
      case 'pause': {
        this.checkInstance(d, d.instance);
        if (t.phase[d.instance] !== InstancePhase.running) this.fail(d, `instance ${d.instance} is not running`);
        t.phase[d.instance] = InstancePhase.paused;
        this.t.paused++;
        return;
      }
      case 'resume': {
        this.checkInstance(d, d.instance);
        if (t.phase[d.instance] !== InstancePhase.paused) this.fail(d, `instance ${d.instance} is not paused`);
        if (!Number.isNaN(this.resistiveW[t.heater[d.instance]])) this.fail(d, 'its heater runs as a resistive heater');
        t.phase[d.instance] = InstancePhase.running;
        return;
      }
      case 'migrate': {
        this.checkInstance(d, d.instance);
        const i = d.instance;
        const slot = this.checkBoard(d, d.heater, d.board);
        if (t.phase[i] !== InstancePhase.paused) this.fail(d, `instance ${i} is not paused`);
        if (!t.checkpointable[i]) this.fail(d, `instance ${i} is not checkpointable`);
        if (slots[slot] >= 0) this.fail(d, `board ${d.board} of heater ${d.heater} runs instance ${slots[slot]}`);
        this.checkFits(d, i, d.heater);
        slots[t.heater[i] * this.maxB + t.board[i]] = BOARD_FREE;
        if (v.site[t.heater[i]] !== v.site[d.heater]) {
          this.t.gbMoved += (t.dataMB[i] + t.memoryMB[i]) / 1000;
          if (t.dataSite[i] >= 0) t.dataSite[i] = v.site[d.heater];
        }
        this.place(i, d.heater, d.board, slot);
        this.t.migrated++;
        return;
      }
      case 'kill': {
        this.checkInstance(d, d.instance);
        const i = d.instance;
        if (t.phase[i] !== InstancePhase.running && t.phase[i] !== InstancePhase.paused) this.fail(d, `instance ${i} is neither running nor paused`);
        slots[t.heater[i] * this.maxB + t.board[i]] = BOARD_FREE;
        if (!t.checkpointable[i]) {
          this.t.lostCoreH += (t.doneS[i] * t.cores[i]) / 3600;
          t.doneS[i] = 0;
        }
        t.phase[i] = InstancePhase.queued;
        t.heater[i] = -1;
        t.board[i] = -1;
        this.t.killed++;
        this.queued++;
        return;
      }
      case 'overflow': {
        this.checkInstance(d, d.instance);
        const i = d.instance;
        const ph = t.phase[i];
        if (ph !== InstancePhase.queued && ph !== InstancePhase.paused) this.fail(d, `instance ${i} is neither queued nor paused`);
        if (ph === InstancePhase.paused) {
          slots[t.heater[i] * this.maxB + t.board[i]] = BOARD_FREE;
          if (!t.checkpointable[i]) {
            this.t.lostCoreH += (t.doneS[i] * t.cores[i]) / 3600;
            t.doneS[i] = 0;
          } else {
            this.t.gbMoved += t.memoryMB[i] / 1000;
          }
        } else {
          this.queued--;
        }
        this.t.gbMoved += t.dataMB[i] / 1000;
        this.started(i, now);
        const remS = Math.max(0, t.workS[i] - t.doneS[i]);
        const itJ = remS * this.p.overflowBoardW;
        const pool = this.overflowPool;
        this.t.overflowItJ += itJ;
        this.t.overflowG += (itJ / 3.6e6) * pool.pue * pool.carbonGPerKWh;
        this.t.overflowEUR += ((remS * t.cores[i]) / 3600) * pool.priceEURPerCoreH;
        t.phase[i] = InstancePhase.overflow;
        t.heater[i] = -1;
        t.board[i] = -1;
        this.heap.push(now + remS, i);
        this.inOverflow++;
        return;
      }
      case 'filler': {
        const slot = this.checkBoard(d, d.heater, d.board);
        if (d.on) {
          if (slots[slot] !== BOARD_FREE) this.fail(d, `board ${d.board} of heater ${d.heater} is not free`);
          slots[slot] = BOARD_FILLER;
        } else {
          if (slots[slot] !== BOARD_FILLER) this.fail(d, `board ${d.board} of heater ${d.heater} runs no filler`);
          slots[slot] = BOARD_FREE;
        }
        return;
      }
      case 'level': {
        const h = d.heater;
        if (!(Number.isInteger(h) && h >= 0 && h < this.nHeaters)) this.fail(d, `no heater ${h}`);
        const levels = v.models[v.model[h]].board.levels;
        if (!(Number.isInteger(d.level) && d.level >= 0 && d.level < levels)) this.fail(d, `level must be an integer in 0..${levels - 1}`);
        v.level[h] = d.level;
        return;
      }
      case 'booster': {
        const h = d.heater;
        if (!(Number.isInteger(h) && h >= 0 && h < this.nHeaters)) this.fail(d, `no heater ${h}`);
        if (!(d.fraction >= 0 && d.fraction <= 1)) this.fail(d, 'fraction must be within 0..1');
        if (d.fraction > 0 && v.models[v.model[h]].boosterW <= 0) this.fail(d, `heater ${h} has no booster`);
        v.booster[h] = d.fraction;
        return;
      }
      case 'resistive': {
        const h = d.heater;
        if (!(Number.isInteger(h) && h >= 0 && h < this.nHeaters)) this.fail(d, `no heater ${h}`);
        const maxW = v.models[v.model[h]].maxW;
        if (!(d.powerW >= 0 && d.powerW <= maxW * (1 + 1e-12))) this.fail(d, `powerW must be within 0..${maxW}`);
        for (let b = 0; b < this.maxB; b++) {
          const s = slots[h * this.maxB + b];
          if (s >= 0) this.fail(d, `heater ${h} still holds instance ${s}`);
          if (s === BOARD_FILLER) slots[h * this.maxB + b] = BOARD_FREE;
        }
        if (h < this.nRooms && Number.isNaN(this.resistiveW[h])) this.resistiveRooms++;
        this.resistiveW[h] = Math.min(d.powerW, maxW);
        this.dirty[h] = 2;
        return;
      }
      default: {
        const never: never = d;
        throw new InvalidDecisionError(this.policyName, never, 'unknown decision kind');
      }
    }
  }

  /**
   * Turns the board slots, levels and boosters into kernel controls for the coming period: worked out again for the
   * heaters a decision or a completion touched (and resistive heaters and boilers every time); then, for every room
   * that computes or boosts, whether its body could reach derating within the period (such rooms are stepped exactly).
   */
  private setControls(): void {
    const p = this.p;
    const v = this.view;
    const f = this.fleet;
    const x = f.x;
    const slots = v.boardInstance;
    const phase = this.table.phase;
    const maxB = this.maxB;
    const dirty = this.dirty;
    // Only watched rooms accumulated anything in the period that ends.
    for (let w = 0; w < this.watchCount; w++) {
      const r = this.watchList[w];
      this.progAcc[r] = 0;
      this.boostAcc[r] = 0;
      this.watched[r] = 0;
    }
    this.watchCount = 0;
    const [X0, X1, X2, X3] = x;
    const nominalW = this.nominalW;
    const mayWatch = this.mayWatch;
    // Columns in locals: the loop calls planHeat and heaterPowerW, after which V8 would reload each field.
    const { nRooms, groupOf, watched, watchList, slotRunning, slotWorkS, slotType } = this;
    const { workS, type } = this.table;
    const { models, model } = v;
    const groups = p.groups;
    const periodS = p.periodS;
    for (let r = 0, nHeaters = this.nHeaters; r < nHeaters; r++) {
      if (dirty[r] !== 0 || r >= nRooms) {
        if (dirty[r] === 1) dirty[r] = 0;
        const nb = v.boards[r];
        const room = r < nRooms;
        let n = 0;
        for (let b = 0; b < nb; b++) {
          const k = r * maxB + b;
          const s = slots[k];
          let running = 0;
          if (s === BOARD_FILLER) n++;
          else if (s >= 0 && phase[s] === InstancePhase.running) {
            n++;
            running = 1;
            if (room) {
              slotWorkS[k] = workS[s];
              slotType[k] = type[s];
            }
          }
          if (room) slotRunning[k] = running;
        }
        this.active[r] = n;
        const m = models[model[r]];
        if (r >= nRooms) {
          const b = r - nRooms;
          const rw = this.resistiveW[r];
          this.boilerOfferW[b] = Number.isNaN(rw) ? heaterPowerW(m, n, v.level[r], 1, 0, -Infinity) : rw;
          continue;
        }
        const rw = this.resistiveW[r];
        if (!Number.isNaN(rw)) {
          const plan = planHeat(m, rw, { currentBoards: f.activeBoards[r] });
          f.activeBoards[r] = plan.activeBoards;
          f.freqLevel[r] = plan.level;
          f.utilisation[r] = plan.utilisation;
          f.booster[r] = plan.boosterFraction;
          mayWatch[r] = 0;
          continue;
        }
        f.activeBoards[r] = n;
        const lvl = v.level[r];
        f.freqLevel[r] = lvl;
        f.utilisation[r] = 1;
        const bst = v.booster[r];
        f.booster[r] = bst;
        nominalW[r] = heaterPowerW(m, n, lvl, 1, bst, -Infinity);
        mayWatch[r] = n > 0 || f.booster[r] > 0 ? 1 : 0;
      }
      if (mayWatch[r] === 1) {
        // Could the body reach the derating threshold within the period? (Bound on its rise: all power in, no loss.)
        const g = groups[groupOf[r]];
        const body = X3[r];
        const warm = Math.max(X0[r], X1[r], X2[r]) - body;
        const rise = ((nominalW[r] + g.bodyCouplingWK * (warm > 0 ? warm : 0)) * periodS) / g.bodyCapJK;
        if (body + rise + 0.5 >= models[model[r]].derateStartC) {
          watched[r] = 1;
          watchList[this.watchCount++] = r;
        }
      }
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Accounting

  /** Completes instance i at endS (s): on a heater or in the overflow datacenter. */
  private complete(i: number, endS: number, onHeater: boolean): void {
    const p = this.p;
    const t = this.table;
    const tt = this.t;
    t.phase[i] = InstancePhase.done;
    t.endedS[i] = endS;
    t.heater[i] = -1;
    t.board[i] = -1;
    t.doneS[i] = t.workS[i];
    tt.completed++;
    const type = t.type[i];
    const coreH = (t.workS[i] * t.cores[i]) / 3600;
    tt.coreHByType[type] += coreH;
    if (onHeater) tt.coreHOnHeaters += coreH;
    else tt.coreHOverflow += coreH;
    tt.revenueByType[type] += coreH * p.scenario.prices.coreHourEUR[TYPE_NAMES[type]];
    const turn = endS - t.submittedS[i];
    tt.turnaroundSumS += turn;
    const bsld = turn / Math.max(t.workS[i], BSLD_TAU_S);
    tt.bsldSum += bsld > 1 ? bsld : 1;
    const hour = Math.min(p.hours - 1, Math.max(0, Math.floor(endS / 3600)));
    if (hour < this.runHours) this.series.throughputCoreH[hour] += coreH;
    tt.refDatacenterG += ((t.workS[i] * p.overflowBoardW) / 3.6e6) * REFERENCE_DATACENTER.pue * p.carbonGPerKWh[hour];
    this.policy.onChange(i, t);
  }

  /**
   * End of a period that began at t0 and lasted el (s): books each heater's energy by what its boards did, advances
   * running instances (a board whose instance completes keeps heating as filler until the next round), and prices
   * the period's energy (electricity, carbon, heat value).
   */
  private closePeriod(t0: number, el: number): void {
    const p = this.p;
    const v = this.view;
    const f = this.fleet;
    const tt = this.t;
    const hour = Math.min(p.hours - 1, Math.floor(t0 / 3600));
    const sh = Math.min(this.runHours - 1, hour);
    this.periodT0 = t0;
    this.periodEl = el;
    let periodElecJ = 0;
    let periodUsefulJ = 0;
    let periodComputeJ = 0;
    let periodFillerJ = 0;
    let periodBoostJ = 0;
    let periodAskedJ = 0;
    const heatJ = f.heatJ;
    const lastHeatJ = this.lastHeatJ;
    const acctJ = this.acctJ;
    const requestW = v.requestW;
    const ctl = this.roomCtl;
    const isPi = this.isPi;
    const deliveredW = this.piBank.lastDeliveredW;
    const slots = v.boardInstance;
    const maxB = this.maxB;
    const doneS = this.table.doneS;
    const { slotRunning, slotWorkS, slotType } = this;
    const byTypeJ = tt.computeByTypeJ;
    let overshotJ = 0;
    let boosterJ = 0;
    let resistiveJ = 0;
    let splitErrJ = 0;
    let standbyJ = 0;
    // The per-room columns in locals: the loop calls progress() (rarely), after which V8 would load each field again.
    const { resistiveW, watched: watchedA, nominalW, active, boostAcc, progAcc } = this;
    // Two per-room columns read only where they can say something: the PI flags when some room is not PI, the
    // resistive powers when some room runs as a resistive heater (the electric policy).
    const allPi = this.allPi;
    const anyResistive = this.resistiveRooms > 0;
    const booster = f.booster;
    const freqLevel = f.freqLevel;
    const { models, model } = v;
    for (let r = 0, nRooms = this.nRooms; r < nRooms; r++) {
      const e = heatJ[r];
      const dE = e - lastHeatJ[r];
      lastHeatJ[r] = e;
      acctJ[r] += dE;
      if (allPi || isPi[r] === 1) deliveredW[r] = dE / el; // piBank.delivered(r, dE / el)
      else ctl[r].delivered(dE / el);
      periodElecJ += dE;
      const askedJ = requestW[r] * el;
      periodAskedJ += askedJ;
      if (dE > askedJ) overshotJ += dE - askedJ;
      if (anyResistive && resistiveW[r] === resistiveW[r]) {
        resistiveJ += dE;
        continue;
      }
      const watched = watchedA[r] === 1;
      // Unwatched heaters never derate: their energy is their nominal power over the period (checked).
      if (!watched) splitErrJ += Math.abs(dE - nominalW[r] * el);
      if (active[r] === 0 && booster[r] === 0) {
        // Boards off, no booster: stand-by only (filler).
        standbyJ += dE;
        continue;
      }
      const m = models[model[r]];
      let bf = booster[r];
      bf = bf < 0 ? 0 : bf > 1 ? 1 : bf;
      const boostJ = watched ? boostAcc[r] : bf * m.boosterW * el;
      boosterJ += boostJ;
      const boardsJ = dE - boostJ;
      const prog = watched ? progAcc[r] : m.board.relFreqByLevel[freqLevel[r]] * el;
      // this.bookBoards(r, m, boardsJ, prog), written out (same operations in the same order).
      const n = active[r];
      let computeJ = 0;
      if (n > 0) {
        const perBoard = (boardsJ - (m.boards - n) * m.board.offW * el) / n;
        for (let b = 0, base = r * maxB; b < m.boards; b++) {
          const k = base + b;
          const s = slots[k];
          if (s === BOARD_FILLER) tt.fillerBoardS += el;
          else if (slotRunning[k] === 1) {
            // progress(s, r, b, prog, perBoard) for an instance that does not complete, written out (its phase, work
            // and type from setControls' slot copies).
            if (slotWorkS[k] - doneS[s] > prog) {
              doneS[s] += prog;
              byTypeJ[slotType[k]] += perBoard;
              computeJ += perBoard;
            } else computeJ += this.progress(s, r, b, prog, perBoard);
          }
        }
      }
      tt.boardsJ += boardsJ;
      tt.computeJ += computeJ;
      tt.fillerJ += boardsJ - computeJ;
      periodComputeJ += computeJ;
      periodFillerJ += boardsJ - computeJ;
    }
    tt.overshotJ += overshotJ;
    tt.boardsJ += standbyJ;
    tt.fillerJ += standbyJ;
    periodFillerJ += standbyJ;
    tt.boosterJ += boosterJ;
    tt.resistiveJ += resistiveJ;
    this.splitErrJ += splitErrJ;
    periodBoostJ += boosterJ + resistiveJ;
    tt.roomsJ += periodElecJ;
    periodUsefulJ += periodElecJ;
    for (let b = 0; b < this.nBoilers; b++) {
      const h = this.nRooms + b;
      const offerJ = this.boilerOfferW[b] * el;
      const topUpJ = this.boilerPeriodTopUpJ[b];
      const acceptedJ = this.boilerPeriodAcceptedJ[b];
      const ventJ = this.boilerPeriodVentedJ[b];
      this.boilerPeriodTopUpJ[b] = 0;
      this.boilerPeriodAcceptedJ[b] = 0;
      this.boilerPeriodVentedJ[b] = 0;
      this.tankVentedJ[b] += ventJ;
      this.acctJ[h] += offerJ + topUpJ;
      periodElecJ += offerJ + topUpJ;
      periodUsefulJ += acceptedJ + topUpJ;
      periodAskedJ += v.requestW[h] * el;
      periodBoostJ += topUpJ;
      tt.topUpJ += topUpJ;
      tt.ventedJ += ventJ;
      tt.tankAcceptedJ += acceptedJ + topUpJ;
      if (!Number.isNaN(this.resistiveW[h])) {
        tt.resistiveJ += offerJ;
        periodBoostJ += offerJ;
        continue;
      }
      const m = v.models[v.model[h]];
      const computeJ = this.bookBoards(h, m, offerJ, m.board.relFreqByLevel[v.level[h]] * el);
      periodComputeJ += computeJ;
      periodFillerJ += offerJ - computeJ;
    }
    // Prices and carbon of the period's energy.
    const ci = p.carbonGPerKWh[hour];
    const price = p.priceEURPerKWh[hour];
    const ref = p.scenario.referenceHeating;
    tt.askedJ += periodAskedJ;
    tt.fleetJ += periodElecJ;
    tt.fleetG += (periodElecJ / 3.6e6) * ci;
    tt.electricityEUR += (periodElecJ / 3.6e6) * price;
    tt.heatValueEUR += (periodUsefulJ / 3.6e6) * (p.scenario.prices.heatValueEURPerKWh ?? price);
    tt.refHeatingG += ((periodUsefulJ / 3.6e6) * (ref.fuelGPerKWh ?? ci)) / ref.efficiency;
    const s = this.series;
    s.askedJ[sh] += periodAskedJ;
    s.computeJ[sh] += periodComputeJ;
    s.fillerJ[sh] += periodFillerJ;
    s.boosterJ[sh] += periodBoostJ;
  }

  /**
   * Books the energy of heater h's boards over a period (boardsJ, J: its active boards share it equally, the off ones
   * draw their stand-by power): running instances advance by prog board-seconds each and the energy of their boards
   * counts as paid compute, filler boards and stand-by count as filler. Returns the paid compute energy, J.
   */
  private bookBoards(h: number, m: HeaterModel, boardsJ: number, prog: number): number {
    const tt = this.t;
    const el = this.periodEl;
    const n = this.active[h];
    let computeJ = 0;
    if (n > 0) {
      const slots = this.view.boardInstance;
      const phase = this.table.phase;
      const perBoard = (boardsJ - (m.boards - n) * m.board.offW * el) / n;
      for (let b = 0, base = h * this.maxB; b < m.boards; b++) {
        const s = slots[base + b];
        if (s === BOARD_FILLER) tt.fillerBoardS += el;
        else if (s >= 0 && phase[s] === InstancePhase.running) computeJ += this.progress(s, h, b, prog, perBoard);
      }
    }
    tt.boardsJ += boardsJ;
    tt.computeJ += computeJ;
    tt.fillerJ += boardsJ - computeJ;
    return computeJ;
  }

  /**
   * Advances running instance i on board b of heater h by prog board-seconds over a period of el s from t0; returns
   * the share of the board's energy perBoardJ (J) spent on it (the rest of a completing period is filler).
   */
  private progress(i: number, h: number, b: number, prog: number, perBoardJ: number): number {
    const t = this.table;
    const t0 = this.periodT0;
    const el = this.periodEl;
    const rem = t.workS[i] - t.doneS[i];
    const type = t.type[i];
    if (rem > prog) {
      t.doneS[i] += prog;
      this.t.computeByTypeJ[type] += perBoardJ;
      return perBoardJ;
    }
    const frac = prog > 0 && rem > 0 ? rem / prog : 0;
    const paid = frac * perBoardJ;
    this.t.computeByTypeJ[type] += paid;
    this.view.boardInstance[h * this.maxB + b] = BOARD_FREE;
    if (this.dirty[h] === 0) this.dirty[h] = 1;
    this.complete(i, t0 + frac * el, true);
    return paid;
  }

  // -------------------------------------------------------------------------------------------------------
  // The end: scorecard

  private finish(endS: number): TwinResult {
    const p = this.p;
    const tt = this.t;
    const t = this.table;
    while (this.heap.size > 0) {
      const time = this.heap.peekTime();
      this.inOverflow--;
      this.complete(this.heap.pop(), time, false);
    }
    let deadlineInstances = 0;
    let misses = 0;
    let missesUnfinished = 0;
    const missByType = new Float64Array(3);
    let unfinished = 0;
    let restarts = 0;
    for (let i = 0; i < t.count; i++) {
      const ph = t.phase[i];
      const done = ph === InstancePhase.done;
      if (!done && ph !== InstancePhase.failed) unfinished++;
      if (t.attempts[i] > 1) restarts += t.attempts[i] - 1;
      const dl = t.deadlineS[i];
      if (dl === Infinity) continue;
      if (done) {
        deadlineInstances++;
        if (t.endedS[i] > dl) {
          misses++;
          missByType[t.type[i]]++;
        }
      } else if (dl <= endS) {
        deadlineInstances++;
        misses++;
        missesUnfinished++;
        missByType[t.type[i]]++;
      }
    }
    const residual = this.energyBalanceResidual();

    // Comfort.
    let sumKh = 0;
    let sumLow = 0;
    let sumHigh = 0;
    let worst = 0;
    let worstRoom = -1;
    let aboveMin = 0;
    let aboveAnyMin = 0;
    let roomsAbove = 0;
    const roomDiscomfortKh = new Float64Array(this.nRooms);
    const roomAboveSafetyMin = new Float64Array(this.nRooms);
    for (let r = 0; r < this.nRooms; r++) {
      const low = this.watch.below[r] / 3600;
      const high = this.watch.above[r] / 3600;
      const kh = low + high;
      sumKh += kh;
      sumLow += low;
      sumHigh += high;
      if (worstRoom < 0 || kh > worst) {
        worst = kh;
        worstRoom = r;
      }
      aboveMin += this.watch.overWhileHotS[r] / 60;
      aboveAnyMin += this.watch.overS[r] / 60;
      if (this.watch.overS[r] > 0) roomsAbove++;
      roomDiscomfortKh[p.roomOrder[r]] = kh;
      roomAboveSafetyMin[p.roomOrder[r]] = this.watch.overS[r] / 60;
    }
    const nR = Math.max(1, this.nRooms);
    let airSum = 0;
    for (let h = 0; h < this.runHours; h++) airSum += this.series.meanAirC[h];

    // Energy reuse (kpi.ts): boards are the IT on heaters and boilers (no cooling: PUE 1); their heat is reused unless
    // a tank's exchanger refused it. The overflow datacenter adds its IT at its PUE, none of it reused.
    const kWh = (j: number): number => j / 3.6e6;
    const boardsKWh = kWh(tt.boardsJ);
    const reusedKWh = Math.min(boardsKWh, Math.max(0, kWh(tt.boardsJ - tt.ventedJ)));
    const totals = withOverflow({ totalWh: boardsKWh, itWh: boardsKWh, reusedWh: reusedKWh }, kWh(tt.overflowItJ), p.overflow.pue);
    const k = totals.itWh > 0 ? energyReuseKpis(totals) : { erf: 0, pue: 1, ere: 1 };

    const byType = (a: Float64Array): Record<SchedulingTypeName, number> => Object.fromEntries(TYPE_NAMES.map((n, i) => [n, a[i]])) as Record<SchedulingTypeName, number>;
    const coreHours = tt.coreHOnHeaters + tt.coreHOverflow;
    const revenue = tt.revenueByType[0] + tt.revenueByType[1] + tt.revenueByType[2];
    const kg = (tt.fleetG + tt.overflowG) / 1000;
    const refKg = (tt.refDatacenterG + tt.refHeatingG) / 1000;
    const sumTanks = (fn: (b: number) => number): number => {
      let s = 0;
      for (let b = 0; b < this.nBoilers; b++) s += fn(b);
      return s;
    };
    const summary: PolicySummary = {
      comfort: { discomfortKhPerRoom: sumKh / nR, worstRoomKh: worst, minutesAboveSafety: aboveMin, minutesAboveSafetyAnyCause: aboveAnyMin },
      heat: {
        askedKWh: kWh(tt.askedJ),
        deliveredByComputeKWh: kWh(tt.computeJ),
        fillerKWh: kWh(tt.fillerJ),
        boosterKWh: kWh(tt.boosterJ + tt.resistiveJ + tt.topUpJ),
        ventedKWh: kWh(tt.ventedJ + tt.overshotJ),
      },
      hotWater: { deliveredKWh: kWh(tt.tankAcceptedJ), drawnKWh: tt.drawnWh / 1000, coldEvents: tt.coldEvents, topUpKWh: kWh(tt.topUpJ) },
      energy: { erf: k.erf, pue: k.pue, ere: k.ere, totalKWh: kWh(tt.fleetJ) + kWh(tt.overflowItJ) * p.overflow.pue, reusedKWh },
      compute: {
        coreHours,
        coreHoursByClass: byType(tt.coreHByType),
        deadlineMisses: misses,
        deadlineMissShare: deadlineInstances > 0 ? misses / deadlineInstances : 0,
        killedInstances: tt.killed,
        pausedInstances: tt.paused,
        restarts,
        lostCoreHours: tt.lostCoreH,
        overflowShare: coreHours > 0 ? tt.coreHOverflow / coreHours : 0,
        meanWaitS: tt.waits > 0 ? tt.waitSumS / tt.waits : 0,
        meanTurnaroundS: tt.completed > 0 ? tt.turnaroundSumS / tt.completed : 0,
        meanBoundedSlowdown: tt.completed > 0 ? tt.bsldSum / tt.completed : 0,
        gbMoved: tt.gbMoved,
        instancesDone: tt.completed,
        instancesUnfinished: unfinished,
      },
      money: {
        revenueEUR: revenue,
        electricityEUR: tt.electricityEUR,
        heatValueEUR: tt.heatValueEUR,
        marginEUR: revenue - tt.electricityEUR - tt.overflowEUR,
        overflowEUR: tt.overflowEUR,
      },
      carbon: { kgCO2e: kg, referenceKgCO2e: refKg },
      energyBalanceResidual: residual,
    };
    const details: TwinDetails = {
      policy: this.policyName,
      rooms: this.nRooms,
      boilers: this.nBoilers,
      comfort: {
        meanLowKh: sumLow / nR,
        meanHighKh: sumHigh / nR,
        worstRoom: worstRoom >= 0 ? p.expanded.rooms[p.roomOrder[worstRoom]].name : '',
        roomsAboveSafety: roomsAbove,
        meanAirC: this.runHours > 0 ? airSum / this.runHours : 0,
      },
      heat: {
        resistiveKWh: kWh(tt.resistiveJ),
        boosterOnlyKWh: kWh(tt.boosterJ),
        tankVentedKWh: kWh(tt.ventedJ),
        overshotKWh: kWh(tt.overshotJ),
        roomsKWh: kWh(tt.roomsJ),
      },
      hotWater: {
        tapsKWh: sumTanks((b) => this.tankDeliveredWh[b]) / 1000,
        unmetKWh: tt.unmetWh / 1000,
        lossesKWh: sumTanks((b) => this.tankLossWh[b]) / 1000,
        legionellaHolds: sumTanks((b) => this.tanks[b].holdsCompleted),
        legionellaMissedPeriods: sumTanks((b) => this.tanks[b].missedPeriods),
      },
      energy: { fleetKWh: kWh(tt.fleetJ), boardsKWh, overflowItKWh: kWh(tt.overflowItJ) },
      compute: {
        instances: t.count,
        coreHoursOnHeaters: tt.coreHOnHeaters,
        coreHoursOverflow: tt.coreHOverflow,
        fillerBoardHours: tt.fillerBoardS / 3600,
        deadlineInstances,
        deadlineMissesByType: byType(missByType),
        deadlineMissesUnfinished: missesUnfinished,
        migrated: tt.migrated,
      },
      money: { revenueByTypeEUR: byType(tt.revenueByType) },
      carbon: {
        referenceDatacenterKgCO2e: tt.refDatacenterG / 1000,
        referenceHeatingKgCO2e: tt.refHeatingG / 1000,
        savedKgCO2e: refKg - kg,
        savedShare: refKg > 0 ? (refKg - kg) / refKg : 0,
      },
      roomNames: p.expanded.rooms.map((r) => r.name),
      roomDiscomfortKh,
      roomAboveSafetyMin,
    };
    return { summary, series: this.policySeries(), details };
  }

  /**
   * |booked electrical energy − heat found by the physics| / booked energy: each room's heater heat from its exact
   * energy balance (Δ stored in its capacities + boundary losses from the exact state integrals − gains − sun), each
   * tank's from Δ stored + losses + taps + vented; summed as absolute values so that errors cannot cancel.
   */
  private energyBalanceResidual(): number {
    const p = this.p;
    const dt = p.dtS;
    const f = this.fleet;
    const tt = this.t;
    let residualJ = 0;
    let inJ = 0;
    for (let gi = 0; gi < p.groups.length; gi++) {
      const g = p.groups[gi];
      const iT = [this.iAmb[gi], this.iSup[gi], this.iWin[gi]];
      for (let r = g.start; r < g.start + g.count; r++) {
        // Σ_k lossX·x_k over steps k = 0..N−1 (accumulated as x_1..x_N).
        let accX = this.lossAcc[r];
        let dE = 0;
        for (let j = 0; j < 4; j++) {
          accX += g.lossX[j] * (this.x0[j][r] - f.x[j][r]);
          dE += g.capacityJK[j] * (f.x[j][r] - this.x0[j][r]);
        }
        let outJ = accX;
        // This room's gains: the group's, less what its open window let out.
        const gainsR = this.gainsSum[gi] - this.windowSumW[r];
        for (let j = 0; j < g.lossU.length; j++) {
          const U = j === this.iHeat[gi] ? f.heatJ[r] / dt : j === this.iGain[gi] ? gainsR : j === this.iSol[gi] ? this.solarSum[gi] : iT.includes(j) ? this.toutSum[gi] : 0;
          outJ += g.lossU[j] * U;
        }
        const heaterJ = dE + outJ - gainsR * dt - this.solarSum[gi] * dt;
        residualJ += Math.abs(heaterJ - this.acctJ[r]);
        inJ += this.acctJ[r];
      }
    }
    for (let b = 0; b < this.nBoilers; b++) {
      const m = p.boilers[b].tank;
      const physJ = (tankStoredWh(m, this.tanks[b]) - this.tankStored0Wh[b] + this.tankLossWh[b] + this.tankDeliveredWh[b]) * 3600 + this.tankVentedJ[b];
      const h = this.nRooms + b;
      residualJ += Math.abs(physJ - this.acctJ[h]);
      inJ += this.acctJ[h];
    }
    // The categories of the scorecard must add up to the same energy, and heaters assumed not to derate did not.
    residualJ += Math.abs(tt.computeJ + tt.fillerJ + tt.boosterJ + tt.resistiveJ + tt.topUpJ - inJ) + this.splitErrJ;
    return inJ > 0 ? residualJ / inJ : 0;
  }

  /** The report's series (hourly): three traced rooms (coldest, median, warmest by mean air), heat, queue, tanks. */
  private policySeries(): PolicySeries {
    const p = this.p;
    const s = this.series;
    const n = this.runHours;
    const timeH = Float64Array.from({ length: n }, (_, h) => h + 1);
    const means = this.traceAir.map((a) => a.reduce((x, y) => x + y, 0) / Math.max(1, a.length));
    const order = means.map((_, k) => k).sort((a, b) => means[a] - means[b] || a - b);
    const picks = order.length <= 3 ? order : [order[0], order[order.length >> 1], order[order.length - 1]];
    const rooms = picks.map((k) => {
      const r = this.traced[k];
      const g = p.groups[this.groupOf[r]];
      return { name: p.expanded.rooms[p.roomOrder[r]].name, airC: this.traceAir[k], setpointC: g.setpointC.slice(0, n) };
    });
    const watts = (a: Float64Array): Float64Array => a.map((j) => j / 3600);
    return {
      timeH,
      rooms,
      meanAirC: s.meanAirC,
      meanSetpointC: s.meanSetpointC,
      heatAskedW: watts(s.askedJ),
      heatComputeW: watts(s.computeJ),
      heatFillerW: watts(s.fillerJ),
      heatBoosterW: watts(s.boosterJ),
      tanks: s.tankTopC.map((topC, b) => ({ name: p.boilers[b].name, topC })),
      queueLength: s.queued,
      throughputCoreHPerH: s.throughputCoreH,
      overflowRunning: s.overflowRunning,
      outdoorC: s.outdoorC,
    };
  }
}

/**
 * A run's instance table over the prepared arrivals. Row i is arrival i (the run admits arrivals in order and nothing
 * else adds rows), so the columns of an instance's spec (task, type, priority, sizes, submission, deadline, work,
 * estimate, checkpointable, data) are the arrival rows' own arrays, shared and never written: neither copied per
 * instance nor allocated again per run (600,000 rows: 37 MB a run touched for the first time). The columns a run
 * changes (progress, phase, place, start and end, attempts) are its own; admit sets them. Rows from `count` on are
 * arrivals still to come.
 */
function runTable(a: InstanceTable): InstanceTable {
  return instanceTableOf(a.taskId.length, a);
}

/**
 * Runs one policy over a scenario: the same weather, sun, hot-water draws and workload arrivals for every policy
 * (all seeded from the scenario), the policy's decisions applied every decision period, the physics every step.
 * Pure given its inputs: same scenario and options, same result, bit for bit.
 */
export function runTwin(scenario: Scenario, policyName: PolicyName, options: TwinOptions = {}): TwinResult {
  if (!(POLICY_NAMES as readonly string[]).includes(policyName)) throw new InvalidParameterError('policy', `must be one of ${POLICY_NAMES.join(', ')}, got '${String(policyName)}'`);
  const prep = options.prepared ?? prepareTwin(scenario, options);
  const deps = options.deps ?? defaultDeps();
  return new TwinRun(prep, policyName, deps, options.windowOpening ?? true).run(options.onProgress);
}

/**
 * The platform's own factories: createPolicy (scheduler), createRoomController and createTankController (control).
 * MPC models are built once per archetype and shared by its rooms; PI forecasts use the room's UA; tank controllers
 * know their cold water (the site's mean over the run) and ambient temperature.
 */
export function defaultDeps(): TwinDeps {
  const mpcModels = new Map<object, MpcModel>();
  return {
    createPolicy: (name) => createPolicy(name),
    createRoomController: (kind, room) => {
      switch (kind) {
        case 'pi':
          return createRoomController('pi', { uaWK: room.uaWK, preheatH: PREHEAT_H });
        case 'hysteresis':
          return createRoomController('hysteresis', {});
        case 'mpc': {
          let m = mpcModels.get(room.model);
          if (!m) {
            m = buildMpcModel(room.model, { horizonH: Math.max(2, Math.min(72, room.horizonH)) });
            mpcModels.set(room.model, m);
          }
          return createRoomController('mpc', { model: m });
        }
      }
    },
    createTankController: (tank) => createTankController({ model: tank.tank, coldC: tank.coldC, ambientC: TANK_AMBIENT_C }),
  };
}
