// The scenario file of the twin: types, validation with defaults (every error names its JSON path), a JSON Schema
// for documentation, and the expansion of sites × buildings × replicas into flat lists of rooms and boilers.
import { dwellingRoom, officeRoom, MOZART_100M2, radiatorForPower } from '../physics/archetypes.ts';
import type { Era, RoomArchetype } from '../physics/archetypes.ts';
import { DEFAULT_BOARD } from '../physics/board.ts';
import type { BoardParams } from '../physics/board.ts';
import { InvalidParameterError } from '../physics/errors.ts';
import { createHeaterModel } from '../physics/heater.ts';
import type { HeaterParams } from '../physics/heater.ts';
import { rt2012Dwelling, rt2012Office, validateSchedule } from '../physics/schedules.ts';
import type { ScheduleParams, SetpointsC } from '../physics/schedules.ts';
import { createTankModel, DEFAULT_TANK } from '../physics/tank.ts';
import type { TankParams } from '../physics/tank.ts';
import { checkDhwGenerator } from '../physics/dhw.ts';
import { CLIMATE_ZONES } from '../physics/weather/synthetic.ts';
import type { ClimateZone } from '../physics/weather/synthetic.ts';
import { DEFAULT_COMFORT } from '../control/types.ts';
import type { ComfortLimits } from '../control/types.ts';
import { DEFAULT_CARBON_G_PER_KWH } from './carbon.ts';
import { parseWorkloadSpec, SCHEDULING_TYPES } from './workloads.ts';
import type { SchedulingTypeName, WorkloadSpec } from './workloads.ts';

export type { WorkloadSpec, SchedulingTypeName } from './workloads.ts';

/** Scheduling policies a scenario may compare (SCHEDULING.md): Qarnot's bands, heat-agnostic, plain electric, ours. */
export const POLICY_NAMES = ['qarnot-bands', 'first-fit', 'electric', 'hearth'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

export const ERAS: readonly Era[] = Object.keys(MOZART_100M2) as Era[];
export const CONTROLLER_KINDS = ['pi', 'mpc', 'hysteresis'] as const;
export type ControllerKind = (typeof CONTROLLER_KINDS)[number];

/** Weather of a site: the synthetic generator of a climate zone, or a file (RT2012 or EPW, detected by content). */
export type WeatherSpec =
  | { readonly kind: 'synthetic'; readonly zone: ClimateZone }
  /** `file` as written in the scenario; the CLI resolves it relative to the scenario file. */
  | { readonly kind: 'file'; readonly file: string };

/** Room model: an archetype of archetypes.ts (dwellingRoom / officeRoom). */
export interface ArchetypeSpec {
  readonly use: 'dwelling' | 'office';
  readonly era: Era;
  /** Floor area, m² (default 20 for dwellings, 25 for offices). */
  readonly floorAreaM2: number;
  /** Façade orientation, degrees (0 N, 90 E, 180 S, 270 W). Default 180. */
  readonly facadeAzimuthDeg: number;
}

/** A room's computing heater. */
export interface HeaterSpec {
  /** Boards (1..32). */
  readonly boards: number;
  /** Board parameters over DEFAULT_BOARD (idleW, maxW, offW, freqLevelsGHz, dynamicExponent). */
  readonly board: Partial<BoardParams>;
  /** Resistive booster, W (default 0). */
  readonly boosterW: number;
  readonly coresPerBoard: number;
  readonly memoryMBPerBoard: number;
  readonly gpu: boolean;
  /** Body derating start and cap, °C (defaults of heater.ts: 55 / 65). */
  readonly derateStartC: number;
  readonly capC: number;
}

/** A room's occupancy and setpoint schedule (schedules.ts). */
export interface ScheduleSpec {
  readonly kind: 'rt2012-dwelling' | 'rt2012-office';
  /** Occupants when occupied (default: 2 in a dwelling, one per 10 m² in an office). */
  readonly occupants: number;
  /** Long absences [firstDay, lastDay] inclusive, days of year 0..365 (setpoint drops to longAbsence). */
  readonly longAbsences: readonly (readonly [number, number])[];
  /** Setpoints, °C (default RT2012: 19 / 16 / 7). */
  readonly setpointsC: SetpointsC;
}

/** A kind of room inside a building, repeated `count` times. */
export interface RoomSpec {
  readonly name: string;
  readonly count: number;
  readonly archetype: ArchetypeSpec;
  readonly heater: HeaterSpec;
  readonly schedule: ScheduleSpec;
  readonly comfort: ComfortLimits;
  /** Room thermostat (default 'pi'). */
  readonly controller: ControllerKind;
}

/** Hot-water demand of a boiler: the stochastic draw generator of dhw.ts. */
export interface DhwSpec {
  readonly persons: number;
  /** L per person per day at 40 °C (default 56). */
  readonly litresPerPersonDay: number;
}

/** A computing boiler (hot-water tank heated by boards), repeated `count` times. */
export interface BoilerSpec {
  readonly name: string;
  readonly count: number;
  /** Tank parameters over DEFAULT_TANK. */
  readonly tank: Partial<TankParams>;
  readonly boards: number;
  readonly board: Partial<BoardParams>;
  readonly coresPerBoard: number;
  readonly memoryMBPerBoard: number;
  readonly gpu: boolean;
  readonly dhw: DhwSpec;
}

/** A building, repeated `count` times (× the scenario's scale). */
export interface BuildingSpec {
  readonly name: string;
  readonly count: number;
  readonly rooms: readonly RoomSpec[];
  readonly boilers: readonly BoilerSpec[];
}

export interface SiteSpec {
  readonly name: string;
  /** Climate zone (cold-water temperature, location); from `zone` or a synthetic `weather.zone`. */
  readonly zone: ClimateZone;
  readonly weather: WeatherSpec;
  readonly buildings: readonly BuildingSpec[];
}

/** Prices. */
export interface PricesSpec {
  /** Electricity price for each hour of the day 0..23, €/kWh (a constant is 24 equal values). Default 0.25 (est.). */
  readonly electricityEURPerKWhByHour: readonly number[];
  /** Price of a core-hour at full clock by scheduling type, € (est. defaults: flex 0.02, onDemand 0.04, reserved 0.03). */
  readonly coreHourEUR: Readonly<Record<SchedulingTypeName, number>>;
  /** Value of heat given to residents, €/kWh; null: the electricity price at the time (the electricity it replaced). */
  readonly heatValueEURPerKWh: number | null;
}

/** Grid carbon intensity: a constant, or a CSV series (carbon.ts), `file` resolved relative to the scenario file. */
export type CarbonSpec = { readonly kind: 'constant'; readonly gPerKWh: number } | { readonly kind: 'csv'; readonly file: string };

/** The overflow datacenter. */
export interface OverflowSpec {
  /** Default 1.58 (industry average 2023). */
  readonly pue: number;
  /** Our cost per core-hour there, € (default 0.01, est.). */
  readonly priceEURPerCoreH: number;
  /** Its grid intensity, gCO2e/kWh (default DEFAULT_CARBON_G_PER_KWH). */
  readonly carbonGPerKWh: number;
}

/** How the buildings would heat themselves without hearth (for the carbon comparison). */
export interface ReferenceHeatingSpec {
  readonly kind: 'electric' | 'gas';
  /** Heat out / energy in (default 1 for electric, 0.92 for a gas condensing boiler, est.). */
  readonly efficiency: number;
  /** Emission factor of the fuel, gCO2e/kWh of fuel (gas default 227, ADEME Base Carbone natural gas, est.;
   * electric: null = the grid intensity at the time). */
  readonly fuelGPerKWh: number | null;
}

/** A validated scenario with every default filled. */
export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** First day, YYYY-MM-DD; the simulation starts at 00:00 (time s = 0). */
  readonly startDate: string;
  /** Duration, days (may be fractional). */
  readonly days: number;
  /** Physics step, s (default 60). */
  readonly stepS: number;
  /** Control and scheduling period, s (default 300; a whole multiple of stepS). */
  readonly decisionPeriodS: number;
  /** Seed of every random stream (weather, draws, workloads), a 32-bit unsigned integer (default 1). */
  readonly seed: number;
  readonly policies: readonly PolicyName[];
  readonly sites: readonly SiteSpec[];
  readonly workloads: readonly WorkloadSpec[];
  readonly prices: PricesSpec;
  readonly carbon: CarbonSpec;
  readonly overflow: OverflowSpec;
  readonly referenceHeating: ReferenceHeatingSpec;
  /** Multiplies every building's count (default 1). */
  readonly scale: number;
}

// ---------------------------------------------------------------------------------------------------------
// Validation helpers

type Obj = Record<string, unknown>;

const describe = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'string' ? `'${v}'` : typeof v === 'object' ? 'an object' : typeof v === 'number' || typeof v === 'boolean' ? String(v) : typeof v);
const join = (path: string, key: string): string => (path ? `${path}.${key}` : key);

function asObject(path: string, v: unknown): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidParameterError(path || '(scenario)', `must be an object, got ${describe(v)}`);
  return v as Obj;
}

function asArray(path: string, v: unknown, minLength = 0): unknown[] {
  if (!Array.isArray(v)) throw new InvalidParameterError(path, `must be an array, got ${describe(v)}`);
  if (v.length < minLength) throw new InvalidParameterError(path, `needs at least ${minLength} element${minLength === 1 ? '' : 's'}`);
  return v as unknown[];
}

function onlyKeys(path: string, o: Obj, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (o[k] !== undefined && !allowed.includes(k)) throw new InvalidParameterError(join(path, k), `unknown field; expected one of ${allowed.join(', ')}`);
  }
}

function num(path: string, v: unknown, min: number, max: number, integer = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidParameterError(path, `must be a finite number, got ${describe(v)}`);
  if (v < min) throw new InvalidParameterError(path, `must be ≥ ${min}, got ${v}`);
  if (v > max) throw new InvalidParameterError(path, `must be ≤ ${max}, got ${v}`);
  if (integer && !Number.isInteger(v)) throw new InvalidParameterError(path, `must be an integer, got ${v}`);
  return v;
}

function bool(path: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new InvalidParameterError(path, `must be true or false, got ${describe(v)}`);
  return v;
}

function str(path: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) throw new InvalidParameterError(path, `must be a non-empty string, got ${describe(v)}`);
  return v;
}

function oneOf<T extends string>(path: string, v: unknown, options: readonly T[]): T {
  if (typeof v !== 'string' || !options.includes(v as T)) throw new InvalidParameterError(path, `must be one of ${options.join(', ')}, got ${describe(v)}`);
  return v as T;
}

/** Runs a physics validator whose errors name fields relative to `path`, and re-roots them under `path`. */
function under<T>(path: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof InvalidParameterError) {
      const field = e.field === path || e.field.startsWith(`${path}.`) || e.field.startsWith(`${path}[`) ? e.field : join(path, e.field);
      throw new InvalidParameterError(field, e.message.slice(e.field.length + 2));
    }
    throw e;
  }
}

function uniqueNames(path: string, items: readonly { name: string }[]): void {
  const seen = new Set<string>();
  items.forEach((it, i) => {
    if (seen.has(it.name)) throw new InvalidParameterError(`${path}[${i}].name`, `duplicate name '${it.name}'`);
    seen.add(it.name);
  });
}

type FieldKind = 'number' | 'boolean' | 'numbers';
const kindOf = (v: unknown): FieldKind => (Array.isArray(v) ? 'numbers' : typeof v === 'boolean' ? 'boolean' : 'number');
const BOARD_FIELDS: Readonly<Record<string, FieldKind>> = Object.fromEntries(Object.entries(DEFAULT_BOARD).map(([k, v]) => [k, kindOf(v)]));
const TANK_FIELDS: Readonly<Record<string, FieldKind>> = {
  ...Object.fromEntries(Object.entries(DEFAULT_TANK).map(([k, v]) => [k, kindOf(v)])),
  uaWK: 'number',
  lossWeights: 'numbers',
  hxLayerWeights: 'numbers',
  topUpLayer: 'number',
  legionellaLayers: 'number',
};

/** Checks a partial parameter object of the physics (board, tank): known keys, each of the right JSON type. */
function partialParams(path: string, v: unknown, fields: Readonly<Record<string, FieldKind>>): Obj {
  if (v === undefined) return {};
  const o = asObject(path, v);
  onlyKeys(path, o, Object.keys(fields));
  for (const [k, x] of Object.entries(o)) {
    if (x === undefined) continue;
    const q = join(path, k);
    const kind = fields[k];
    if (kind === 'boolean') bool(q, x);
    else if (kind === 'number') num(q, x, -Infinity, Infinity);
    else asArray(q, x).forEach((y, i) => num(`${q}[${i}]`, y, -Infinity, Infinity));
  }
  return o;
}

function boardParams(path: string, v: unknown): Partial<BoardParams> {
  return partialParams(path, v, BOARD_FIELDS);
}

// ---------------------------------------------------------------------------------------------------------
// Sections

function parseWeather(path: string, v: unknown): WeatherSpec {
  const o = asObject(path, v);
  if ('file' in o) {
    onlyKeys(path, o, ['file']);
    return { kind: 'file', file: str(`${path}.file`, o.file) };
  }
  onlyKeys(path, o, ['zone']);
  if (!('zone' in o)) throw new InvalidParameterError(path, "needs 'zone' (synthetic weather) or 'file' (RT2012/EPW)");
  return { kind: 'synthetic', zone: oneOf(`${path}.zone`, o.zone, CLIMATE_ZONES) };
}

function parseArchetype(path: string, v: unknown): ArchetypeSpec {
  const o = asObject(path, v);
  onlyKeys(path, o, ['use', 'era', 'floorAreaM2', 'facadeAzimuthDeg']);
  const use = oneOf(`${path}.use`, o.use, ['dwelling', 'office'] as const);
  const spec: ArchetypeSpec = {
    use,
    era: oneOf(`${path}.era`, o.era, ERAS),
    floorAreaM2: num(`${path}.floorAreaM2`, o.floorAreaM2 ?? (use === 'dwelling' ? 20 : 25), 1, 10000),
    facadeAzimuthDeg: num(`${path}.facadeAzimuthDeg`, o.facadeAzimuthDeg ?? 180, 0, 360),
  };
  under(path, () => archetypeOf(spec));
  return spec;
}

function parseHeater(path: string, v: unknown): HeaterSpec {
  const o = asObject(path, v);
  onlyKeys(path, o, ['boards', 'board', 'boosterW', 'coresPerBoard', 'memoryMBPerBoard', 'gpu', 'derateStartC', 'capC']);
  const spec: HeaterSpec = {
    boards: num(`${path}.boards`, o.boards, 1, 32, true),
    board: boardParams(`${path}.board`, o.board),
    boosterW: num(`${path}.boosterW`, o.boosterW ?? 0, 0, 1e5),
    coresPerBoard: num(`${path}.coresPerBoard`, o.coresPerBoard, 1, 1024, true),
    memoryMBPerBoard: num(`${path}.memoryMBPerBoard`, o.memoryMBPerBoard, 1, 1e7),
    gpu: bool(`${path}.gpu`, o.gpu ?? false),
    derateStartC: num(`${path}.derateStartC`, o.derateStartC ?? 55, -50, 150),
    capC: num(`${path}.capC`, o.capC ?? 65, -50, 150),
  };
  createHeaterModel(heaterParamsOf(spec), path);
  return spec;
}

function parseSchedule(path: string, v: unknown, archetype: ArchetypeSpec): ScheduleSpec {
  const o = asObject(path, v);
  onlyKeys(path, o, ['kind', 'occupants', 'longAbsences', 'setpointsC']);
  const kind = oneOf(`${path}.kind`, o.kind, ['rt2012-dwelling', 'rt2012-office'] as const);
  const defOcc = kind === 'rt2012-dwelling' ? 2 : Math.max(1, Math.round(archetype.floorAreaM2 / 10));
  const abs = asArray(`${path}.longAbsences`, o.longAbsences ?? []).map((p, i) => {
    const q = `${path}.longAbsences[${i}]`;
    const pair = asArray(q, p, 2);
    if (pair.length !== 2) throw new InvalidParameterError(q, 'must be [firstDay, lastDay] (days of year 0..365)');
    const a = num(`${q}[0]`, pair[0], 0, 365, true);
    const b = num(`${q}[1]`, pair[1], a, 365, true);
    return [a, b] as const;
  });
  const sp = o.setpointsC === undefined ? {} : asObject(`${path}.setpointsC`, o.setpointsC);
  onlyKeys(`${path}.setpointsC`, sp, ['occupied', 'shortAbsence', 'longAbsence']);
  const setpointsC: SetpointsC = {
    occupied: num(`${path}.setpointsC.occupied`, sp.occupied ?? 19, 5, 30),
    shortAbsence: num(`${path}.setpointsC.shortAbsence`, sp.shortAbsence ?? 16, 5, 30),
    longAbsence: num(`${path}.setpointsC.longAbsence`, sp.longAbsence ?? 7, 5, 30),
  };
  const spec: ScheduleSpec = { kind, occupants: num(`${path}.occupants`, o.occupants ?? defOcc, 0, 1000), longAbsences: abs, setpointsC };
  under(path, () => validateSchedule(scheduleOf(spec, archetype.floorAreaM2)));
  return spec;
}

function parseComfort(path: string, v: unknown): ComfortLimits {
  if (v === undefined) return DEFAULT_COMFORT;
  const o = asObject(path, v);
  onlyKeys(path, o, ['lowerBandK', 'upperBandK', 'safetyMaxC']);
  return {
    lowerBandK: num(`${path}.lowerBandK`, o.lowerBandK ?? DEFAULT_COMFORT.lowerBandK, 0, 10),
    upperBandK: num(`${path}.upperBandK`, o.upperBandK ?? DEFAULT_COMFORT.upperBandK, 0, 10),
    safetyMaxC: num(`${path}.safetyMaxC`, o.safetyMaxC ?? DEFAULT_COMFORT.safetyMaxC, 15, 50),
  };
}

function parseRoom(path: string, v: unknown): RoomSpec {
  const o = asObject(path, v);
  onlyKeys(path, o, ['name', 'count', 'archetype', 'heater', 'schedule', 'comfort', 'controller']);
  const archetype = parseArchetype(`${path}.archetype`, o.archetype);
  return {
    name: str(`${path}.name`, o.name),
    count: num(`${path}.count`, o.count ?? 1, 0, 1e6, true),
    archetype,
    heater: parseHeater(`${path}.heater`, o.heater),
    schedule: parseSchedule(`${path}.schedule`, o.schedule ?? { kind: archetype.use === 'dwelling' ? 'rt2012-dwelling' : 'rt2012-office' }, archetype),
    comfort: parseComfort(`${path}.comfort`, o.comfort),
    controller: oneOf(`${path}.controller`, o.controller ?? 'pi', CONTROLLER_KINDS),
  };
}

function parseBoiler(path: string, v: unknown): BoilerSpec {
  const o = asObject(path, v);
  onlyKeys(path, o, ['name', 'count', 'tank', 'boards', 'board', 'coresPerBoard', 'memoryMBPerBoard', 'gpu', 'dhw']);
  const tank = partialParams(`${path}.tank`, o.tank, TANK_FIELDS);
  createTankModel(tank, `${path}.tank`);
  const dhw = asObject(`${path}.dhw`, o.dhw);
  onlyKeys(`${path}.dhw`, dhw, ['persons', 'litresPerPersonDay']);
  const spec: BoilerSpec = {
    name: str(`${path}.name`, o.name),
    count: num(`${path}.count`, o.count ?? 1, 0, 1e6, true),
    tank: tank,
    boards: num(`${path}.boards`, o.boards, 1, 32, true),
    board: boardParams(`${path}.board`, o.board),
    coresPerBoard: num(`${path}.coresPerBoard`, o.coresPerBoard, 1, 1024, true),
    memoryMBPerBoard: num(`${path}.memoryMBPerBoard`, o.memoryMBPerBoard, 1, 1e7),
    gpu: bool(`${path}.gpu`, o.gpu ?? false),
    dhw: {
      persons: num(`${path}.dhw.persons`, dhw.persons, 0, 1000),
      litresPerPersonDay: num(`${path}.dhw.litresPerPersonDay`, dhw.litresPerPersonDay ?? 56, 0, 1000),
    },
  };
  createHeaterModel({ boards: spec.boards, board: spec.board, boosterW: 0 }, path);
  under(`${path}.dhw`, () => checkDhwGenerator({ persons: spec.dhw.persons, litresPerPersonDay: spec.dhw.litresPerPersonDay }, `${path}.dhw`));
  return spec;
}

function parseBuilding(path: string, v: unknown): BuildingSpec {
  const o = asObject(path, v);
  onlyKeys(path, o, ['name', 'count', 'rooms', 'boilers']);
  const rooms = asArray(`${path}.rooms`, o.rooms ?? []).map((r, i) => parseRoom(`${path}.rooms[${i}]`, r));
  const boilers = asArray(`${path}.boilers`, o.boilers ?? []).map((b, i) => parseBoiler(`${path}.boilers[${i}]`, b));
  uniqueNames(`${path}.rooms`, rooms);
  uniqueNames(`${path}.boilers`, boilers);
  if (rooms.length + boilers.length === 0) throw new InvalidParameterError(`${path}.rooms`, 'a building needs at least one room or boiler');
  return { name: str(`${path}.name`, o.name), count: num(`${path}.count`, o.count ?? 1, 0, 1e6, true), rooms, boilers };
}

function parseSite(path: string, v: unknown): SiteSpec {
  const o = asObject(path, v);
  onlyKeys(path, o, ['name', 'zone', 'weather', 'buildings']);
  const weather = o.weather === undefined ? undefined : parseWeather(`${path}.weather`, o.weather);
  let zone: ClimateZone;
  if (o.zone !== undefined) zone = oneOf(`${path}.zone`, o.zone, CLIMATE_ZONES);
  else if (weather?.kind === 'synthetic') zone = weather.zone;
  else throw new InvalidParameterError(`${path}.zone`, `is required (one of ${CLIMATE_ZONES.join(', ')}) unless weather is {zone}`);
  const buildings = asArray(`${path}.buildings`, o.buildings, 1).map((b, i) => parseBuilding(`${path}.buildings[${i}]`, b));
  uniqueNames(`${path}.buildings`, buildings);
  return { name: str(`${path}.name`, o.name), zone, weather: weather ?? { kind: 'synthetic', zone }, buildings };
}

/** Default electricity price, €/kWh (est.: French regulated "Tarif Bleu" base option, ≈ 0.25 incl. taxes, 2024). */
export const DEFAULT_ELECTRICITY_EUR_PER_KWH = 0.25;
/** Default core-hour prices at full clock, € (est., order of magnitude of public HPC-cloud prices). */
export const DEFAULT_CORE_HOUR_EUR: Readonly<Record<SchedulingTypeName, number>> = { flex: 0.02, onDemand: 0.04, reserved: 0.03 };

function parseElectricity(path: string, v: unknown): number[] {
  if (v === undefined) return new Array<number>(24).fill(DEFAULT_ELECTRICITY_EUR_PER_KWH);
  if (typeof v === 'number') return new Array<number>(24).fill(num(path, v, 0, 100));
  const periods = asArray(path, v, 1);
  const out = new Array<number>(24).fill(NaN);
  periods.forEach((p, i) => {
    const q = `${path}[${i}]`;
    const o = asObject(q, p);
    onlyKeys(q, o, ['fromH', 'toH', 'EURPerKWh']);
    const from = num(`${q}.fromH`, o.fromH, 0, 23, true);
    const to = num(`${q}.toH`, o.toH, 0, 24, true);
    const price = num(`${q}.EURPerKWh`, o.EURPerKWh, 0, 100);
    if (to === from) throw new InvalidParameterError(`${q}.toH`, 'must differ from fromH (periods wrap past midnight when toH < fromH)');
    const len = (((to - from) % 24) + 24) % 24 || 24;
    for (let k = 0; k < len; k++) {
      const h = (from + k) % 24;
      if (!Number.isNaN(out[h])) throw new InvalidParameterError(q, `hour ${h} is already priced by an earlier period`);
      out[h] = price;
    }
  });
  const gap = out.findIndex((x) => Number.isNaN(x));
  if (gap >= 0) throw new InvalidParameterError(path, `time-of-use periods must cover every hour; hour ${gap} has no price`);
  return out;
}

function parsePrices(path: string, v: unknown): PricesSpec {
  const o = v === undefined ? {} : asObject(path, v);
  onlyKeys(path, o, ['electricityEURPerKWh', 'coreHourEUR', 'heatValueEURPerKWh']);
  const ch = o.coreHourEUR === undefined ? {} : asObject(`${path}.coreHourEUR`, o.coreHourEUR);
  onlyKeys(`${path}.coreHourEUR`, ch, SCHEDULING_TYPES);
  const coreHourEUR = Object.fromEntries(SCHEDULING_TYPES.map((t) => [t, num(`${path}.coreHourEUR.${t}`, ch[t] ?? DEFAULT_CORE_HOUR_EUR[t], 0, 1000)])) as Record<SchedulingTypeName, number>;
  return {
    electricityEURPerKWhByHour: parseElectricity(`${path}.electricityEURPerKWh`, o.electricityEURPerKWh),
    coreHourEUR,
    heatValueEURPerKWh: o.heatValueEURPerKWh === undefined || o.heatValueEURPerKWh === null ? null : num(`${path}.heatValueEURPerKWh`, o.heatValueEURPerKWh, 0, 100),
  };
}

function parseCarbon(path: string, v: unknown): CarbonSpec {
  if (v === undefined) return { kind: 'constant', gPerKWh: DEFAULT_CARBON_G_PER_KWH };
  const o = asObject(path, v);
  const kind = oneOf(`${path}.kind`, o.kind, ['constant', 'csv'] as const);
  if (kind === 'constant') {
    onlyKeys(path, o, ['kind', 'gPerKWh']);
    return { kind, gPerKWh: num(`${path}.gPerKWh`, o.gPerKWh ?? DEFAULT_CARBON_G_PER_KWH, 0, 5000) };
  }
  onlyKeys(path, o, ['kind', 'file']);
  return { kind, file: str(`${path}.file`, o.file) };
}

function parseOverflow(path: string, v: unknown): OverflowSpec {
  const o = v === undefined ? {} : asObject(path, v);
  onlyKeys(path, o, ['pue', 'priceEURPerCoreH', 'carbonGPerKWh']);
  return {
    pue: num(`${path}.pue`, o.pue ?? 1.58, 1, 10),
    priceEURPerCoreH: num(`${path}.priceEURPerCoreH`, o.priceEURPerCoreH ?? 0.01, 0, 1000),
    carbonGPerKWh: num(`${path}.carbonGPerKWh`, o.carbonGPerKWh ?? DEFAULT_CARBON_G_PER_KWH, 0, 5000),
  };
}

function parseReferenceHeating(path: string, v: unknown): ReferenceHeatingSpec {
  const o = v === undefined ? { kind: 'electric' } : asObject(path, v);
  onlyKeys(path, o, ['kind', 'efficiency', 'fuelGPerKWh']);
  const kind = oneOf(`${path}.kind`, o.kind, ['electric', 'gas'] as const);
  return {
    kind,
    efficiency: num(`${path}.efficiency`, o.efficiency ?? (kind === 'electric' ? 1 : 0.92), 0.01, 10),
    fuelGPerKWh: o.fuelGPerKWh === undefined || o.fuelGPerKWh === null ? (kind === 'gas' ? 227 : null) : num(`${path}.fuelGPerKWh`, o.fuelGPerKWh, 0, 5000),
  };
}

function parseDate(path: string, v: unknown): string {
  const s = str(path, v);
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  const ok = m !== null && (() => {
    const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
    return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
  })();
  if (!ok) throw new InvalidParameterError(path, `must be a date YYYY-MM-DD, got ${describe(v)}`);
  return s;
}

const TOP_KEYS = ['$schema', 'name', 'description', 'startDate', 'days', 'stepS', 'decisionPeriodS', 'seed', 'policies', 'sites', 'workloads', 'prices', 'carbon', 'overflow', 'referenceHeating', 'scale'];

/**
 * Validates a scenario (the parsed JSON of a scenario file) and fills its defaults. Pure. Throws
 * InvalidParameterError naming the JSON path of the first invalid field (e.g. `sites[0].buildings[1].rooms[2].archetype.era`).
 */
export function parseScenario(json: unknown): Scenario {
  const o = asObject('', json);
  onlyKeys('', o, TOP_KEYS);
  const stepS = num('stepS', o.stepS ?? 60, 1, 3600);
  const decisionPeriodS = num('decisionPeriodS', o.decisionPeriodS ?? 300, stepS, 86400);
  if (Math.abs(decisionPeriodS / stepS - Math.round(decisionPeriodS / stepS)) > 1e-9) {
    throw new InvalidParameterError('decisionPeriodS', `must be a whole multiple of stepS (${stepS} s), got ${decisionPeriodS}`);
  }
  const policies = asArray('policies', o.policies ?? [...POLICY_NAMES], 1).map((p, i) => oneOf(`policies[${i}]`, p, POLICY_NAMES));
  policies.forEach((p, i) => {
    if (policies.indexOf(p) !== i) throw new InvalidParameterError(`policies[${i}]`, `duplicate policy '${p}'`);
  });
  const sites = asArray('sites', o.sites, 1).map((s, i) => parseSite(`sites[${i}]`, s));
  uniqueNames('sites', sites);
  const siteNames = sites.map((s) => s.name);
  const workloads = asArray('workloads', o.workloads ?? []).map((w, i) => parseWorkloadSpec(w, `workloads[${i}]`, siteNames));
  return {
    name: str('name', o.name),
    description: o.description === undefined ? '' : typeof o.description === 'string' ? o.description : str('description', o.description),
    startDate: parseDate('startDate', o.startDate),
    days: num('days', o.days, stepS / 86400, 3660),
    stepS,
    decisionPeriodS,
    seed: num('seed', o.seed ?? 1, 0, 0xffffffff, true),
    policies,
    sites,
    workloads,
    prices: parsePrices('prices', o.prices),
    carbon: parseCarbon('carbon', o.carbon),
    overflow: parseOverflow('overflow', o.overflow),
    referenceHeating: parseReferenceHeating('referenceHeating', o.referenceHeating),
    scale: num('scale', o.scale ?? 1, 1, 1e6, true),
  };
}

// ---------------------------------------------------------------------------------------------------------
// From specs to physics parameters

/**
 * The room archetype of a spec (archetypes.ts dwellingRoom / officeRoom with its façade); with the heater's
 * full power (W), its radiator body is sized for that power (radiatorForPower).
 */
export function archetypeOf(a: ArchetypeSpec, heaterMaxW?: number): RoomArchetype {
  const make = a.use === 'dwelling' ? dwellingRoom : officeRoom;
  return make(a.era, a.floorAreaM2, { facadeAzimuthDeg: a.facadeAzimuthDeg, ...(heaterMaxW === undefined ? {} : { radiator: radiatorForPower(heaterMaxW) }) });
}

/** Heater parameters of a room's heater spec (for createHeaterModel). */
export function heaterParamsOf(h: HeaterSpec): Partial<HeaterParams> {
  return { boards: h.boards, board: h.board, boosterW: h.boosterW, derateStartC: h.derateStartC, capC: h.capC };
}

/** Heater parameters of a boiler's boards (no booster: the tank has its own top-up element). */
export function boilerHeaterParamsOf(b: BoilerSpec): Partial<HeaterParams> {
  return { boards: b.boards, board: b.board, boosterW: 0 };
}

/** The weekly schedule of a room (schedules.ts), floor area m². */
export function scheduleOf(s: ScheduleSpec, floorAreaM2: number): ScheduleParams {
  const make = s.kind === 'rt2012-dwelling' ? rt2012Dwelling : rt2012Office;
  return make(floorAreaM2, s.occupants, { longAbsences: s.longAbsences, setpointsC: s.setpointsC });
}

/** Electricity price at an hour of the day (0..23, fractional allowed), €/kWh. */
export function electricityPriceAt(p: PricesSpec, hourOfDay: number): number {
  const h = ((Math.floor(hourOfDay) % 24) + 24) % 24;
  return p.electricityEURPerKWhByHour[h];
}

// ---------------------------------------------------------------------------------------------------------
// Expansion

/** One simulated room (a replica of a RoomSpec in a replica of a building). */
export interface ExpandedRoom {
  /** Index in `rooms` (0-based). */
  readonly index: number;
  readonly site: number;
  /** Index of the building spec in its site, and of the replica (0..count·scale − 1). */
  readonly building: number;
  readonly buildingReplica: number;
  /** Index of the room spec in its building, and of the replica (0..count − 1). */
  readonly roomSpec: number;
  readonly roomReplica: number;
  /** Index into ExpandedScenario.roomKinds: rooms of one kind share archetype, heater and schedule. */
  readonly kind: number;
  /** `site/building#replica/room#replica`. */
  readonly name: string;
  readonly spec: RoomSpec;
}

/** One simulated boiler. */
export interface ExpandedBoiler {
  readonly index: number;
  readonly site: number;
  readonly building: number;
  readonly buildingReplica: number;
  readonly boilerSpec: number;
  readonly boilerReplica: number;
  readonly name: string;
  readonly spec: BoilerSpec;
}

/** A room kind: one RoomSpec with its JSON path, built archetype and schedule (shared by its replicas). */
export interface RoomKind {
  readonly path: string;
  readonly site: number;
  readonly spec: RoomSpec;
  readonly archetype: RoomArchetype;
  readonly schedule: ScheduleParams;
}

/** The calendar of a scenario. */
export interface ScenarioCalendar {
  /** Unix time of the start (00:00 UTC of startDate), s. */
  readonly startUnixS: number;
  /** Day of week of the first day, 0 = Monday … 6 = Sunday (schedules.ts convention). */
  readonly startDayOfWeek: number;
  /** Day of year of the first day, 0-based (1 January = 0; schedules.ts long absences). */
  readonly startDayOfYear: number;
  readonly startYear: number;
}

/** A scenario flattened for the engine: arrays of rooms and boilers, sites in order. */
export interface ExpandedScenario {
  readonly scenario: Scenario;
  readonly calendar: ScenarioCalendar;
  readonly rooms: readonly ExpandedRoom[];
  readonly boilers: readonly ExpandedBoiler[];
  readonly roomKinds: readonly RoomKind[];
}

/** Calendar facts of a scenario's start date. */
export function scenarioCalendar(s: Pick<Scenario, 'startDate'>): ScenarioCalendar {
  const [y, m, d] = s.startDate.split('-').map(Number);
  const ms = Date.UTC(y, m - 1, d);
  return {
    startUnixS: ms / 1000,
    startDayOfWeek: (new Date(ms).getUTCDay() + 6) % 7,
    startDayOfYear: Math.round((ms - Date.UTC(y, 0, 1)) / 86400000),
    startYear: y,
  };
}

/**
 * Expands a scenario into flat lists: for each site, building spec, building replica (count × scale), room spec
 * and room replica, in that order; boilers likewise. Rooms of one spec share a RoomKind (archetype and schedule
 * built once).
 */
export function expandScenario(s: Scenario): ExpandedScenario {
  const rooms: ExpandedRoom[] = [];
  const boilers: ExpandedBoiler[] = [];
  const roomKinds: RoomKind[] = [];
  s.sites.forEach((site, si) => {
    site.buildings.forEach((b, bi) => {
      const kindBase = roomKinds.length;
      b.rooms.forEach((r, ri) => {
        roomKinds.push({
          path: `sites[${si}].buildings[${bi}].rooms[${ri}]`,
          site: si,
          spec: r,
          archetype: archetypeOf(r.archetype, createHeaterModel(heaterParamsOf(r.heater)).maxW),
          schedule: scheduleOf(r.schedule, r.archetype.floorAreaM2),
        });
      });
      const replicas = b.count * s.scale;
      for (let k = 0; k < replicas; k++) {
        b.rooms.forEach((r, ri) => {
          for (let j = 0; j < r.count; j++) {
            rooms.push({
              index: rooms.length,
              site: si,
              building: bi,
              buildingReplica: k,
              roomSpec: ri,
              roomReplica: j,
              kind: kindBase + ri,
              name: `${site.name}/${b.name}#${k}/${r.name}#${j}`,
              spec: r,
            });
          }
        });
        b.boilers.forEach((bo, oi) => {
          for (let j = 0; j < bo.count; j++) {
            boilers.push({
              index: boilers.length,
              site: si,
              building: bi,
              buildingReplica: k,
              boilerSpec: oi,
              boilerReplica: j,
              name: `${site.name}/${b.name}#${k}/${bo.name}#${j}`,
              spec: bo,
            });
          }
        });
      }
    });
  });
  return { scenario: s, calendar: scenarioCalendar(s), rooms, boilers, roomKinds };
}

// ---------------------------------------------------------------------------------------------------------
// JSON Schema (documentation; parseScenario is the authority)

const n = (description: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ type: 'number', description, ...extra });
const i = (description: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ type: 'integer', description, ...extra });
const b = (description: string): Record<string, unknown> => ({ type: 'boolean', description });
const s = (description: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ type: 'string', description, ...extra });
const e = (values: readonly string[], description: string): Record<string, unknown> => ({ enum: [...values], description });
const obj = (properties: Record<string, unknown>, required: string[] = [], description?: string): Record<string, unknown> => ({
  type: 'object',
  ...(description ? { description } : {}),
  properties,
  required,
  additionalProperties: false,
});

const boardSchema = obj(
  {
    idleW: n('idle power, W'),
    maxW: n('power at full load, top level, W'),
    offW: n('stand-by power when off, W'),
    freqLevelsGHz: { type: 'array', items: { type: 'number' }, description: 'frequency levels, GHz, ascending' },
    dynamicExponent: n('exponent of dynamic power in frequency'),
  },
  [],
  'board parameters over the default board (idle 30 W, max 165 W, 2.0–4.0 GHz)',
);

const shapeProps = {
  name: s('customer name'),
  type: e(SCHEDULING_TYPES, 'scheduling type'),
  priority: i('priority within the type (higher first)'),
  cores: i('cores per instance'),
  memoryMB: n('memory per instance, MB'),
  gpu: b('needs a GPU'),
  checkpointable: b('may be paused and moved without losing work'),
  dataMB: n('input data per instance, MB'),
  dataSite: { oneOf: [{ type: 'string' }, { type: 'integer' }, { type: 'null' }], description: 'site (name or index) holding the input data' },
  estimateCv: n("coefficient of variation of the customer's work estimate"),
};

/** JSON Schema (draft 2020-12) of the scenario file, for documentation and editors. parseScenario is the authority. */
export const SCENARIO_SCHEMA: Record<string, unknown> = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://hearth.invalid/schemas/scenario.json',
  title: 'hearth twin scenario',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'startDate', 'days', 'sites'],
  properties: {
    $schema: s('schema reference (ignored)'),
    name: s('scenario name'),
    description: s('free text'),
    startDate: s('first day, YYYY-MM-DD (simulation starts at 00:00)', { pattern: '^\\d{4}-\\d{2}-\\d{2}$' }),
    days: n('duration, days', { exclusiveMinimum: 0 }),
    stepS: n('physics step, s', { default: 60 }),
    decisionPeriodS: n('control/scheduling period, s (multiple of stepS)', { default: 300 }),
    seed: i('seed of every random stream', { default: 1, minimum: 0 }),
    policies: { type: 'array', items: e(POLICY_NAMES, 'policy'), default: [...POLICY_NAMES], uniqueItems: true },
    scale: i('multiplies every building count', { default: 1, minimum: 1 }),
    sites: {
      type: 'array',
      minItems: 1,
      items: obj(
        {
          name: s('site name (unique)'),
          zone: e(CLIMATE_ZONES, 'French climate zone (cold water, location); required unless weather is {zone}'),
          weather: {
            oneOf: [obj({ zone: e(CLIMATE_ZONES, 'synthetic weather of this zone') }, ['zone']), obj({ file: s('RT2012 or EPW file, relative to the scenario file') }, ['file'])],
          },
          buildings: {
            type: 'array',
            minItems: 1,
            items: obj(
              {
                name: s('building name (unique in the site)'),
                count: i('replicas', { default: 1, minimum: 0 }),
                rooms: {
                  type: 'array',
                  items: obj(
                    {
                      name: s('room name (unique in the building)'),
                      count: i('replicas', { default: 1, minimum: 0 }),
                      archetype: obj(
                        {
                          use: e(['dwelling', 'office'], 'use'),
                          era: e(ERAS, 'construction era'),
                          floorAreaM2: n('floor area, m² (default 20 dwelling, 25 office)'),
                          facadeAzimuthDeg: n('façade azimuth, ° (0 N, 180 S)', { default: 180 }),
                        },
                        ['use', 'era'],
                      ),
                      heater: obj(
                        {
                          boards: i('boards', { minimum: 1, maximum: 32 }),
                          board: boardSchema,
                          boosterW: n('resistive booster, W', { default: 0 }),
                          coresPerBoard: i('cores per board'),
                          memoryMBPerBoard: n('memory per board, MB'),
                          gpu: b('boards have a GPU'),
                          derateStartC: n('body temperature where derating starts, °C', { default: 55 }),
                          capC: n('body temperature cap, °C', { default: 65 }),
                        },
                        ['boards', 'coresPerBoard', 'memoryMBPerBoard'],
                      ),
                      schedule: obj(
                        {
                          kind: e(['rt2012-dwelling', 'rt2012-office'], 'RT2012 conventional schedule'),
                          occupants: n('occupants when occupied'),
                          longAbsences: { type: 'array', items: { type: 'array', items: { type: 'integer' }, minItems: 2, maxItems: 2 }, description: '[firstDay, lastDay] days of year 0..365' },
                          setpointsC: obj({ occupied: n('°C', { default: 19 }), shortAbsence: n('°C', { default: 16 }), longAbsence: n('°C', { default: 7 }) }),
                        },
                        ['kind'],
                        'default: the RT2012 schedule of the archetype use',
                      ),
                      comfort: obj({ lowerBandK: n('K', { default: 0.5 }), upperBandK: n('K', { default: 1 }), safetyMaxC: n('°C', { default: 28 }) }),
                      controller: e(CONTROLLER_KINDS, 'room thermostat (default pi)'),
                    },
                    ['name', 'archetype', 'heater'],
                  ),
                },
                boilers: {
                  type: 'array',
                  items: obj(
                    {
                      name: s('boiler name (unique in the building)'),
                      count: i('replicas', { default: 1 }),
                      tank: { type: 'object', description: 'tank parameters over the default 200 L tank (tank.ts TankParams)' },
                      boards: i('boards', { minimum: 1, maximum: 32 }),
                      board: boardSchema,
                      coresPerBoard: i('cores per board'),
                      memoryMBPerBoard: n('memory per board, MB'),
                      gpu: b('boards have a GPU'),
                      dhw: obj({ persons: n('residents served'), litresPerPersonDay: n('L/person/day at 40 °C', { default: 56 }) }, ['persons']),
                    },
                    ['name', 'boards', 'coresPerBoard', 'memoryMBPerBoard', 'dhw'],
                  ),
                },
              },
              ['name'],
            ),
          },
        },
        ['name', 'buildings'],
      ),
    },
    workloads: {
      type: 'array',
      items: {
        oneOf: [
          obj({ kind: { const: 'bank' }, ...shapeProps, tasksPerNight: n('tasks per weekday evening', { default: 1 }), instancesPerTask: n('mean instances per task', { default: 200 }), instancesCv: n('cv', { default: 0.2 }), workMeanS: n('mean work per instance, board-s at top frequency', { default: 2700 }), workCv: n('cv', { default: 0.3 }), submitFromH: n('h', { default: 19 }), submitToH: n('h', { default: 22 }), deadlineH: n('deadline hour next day', { default: 7 }), weekdaysOnly: b('Mon–Fri only (default true)') }, ['kind']),
          obj({ kind: { const: 'render' }, ...shapeProps, tasksPerDay: n('mean tasks per working day', { default: 4 }), framesMin: i('frames per task, min', { default: 20 }), framesMax: i('max', { default: 300 }), frameMinS: n('frame work, min, board-s', { default: 600 }), frameMaxS: n('max', { default: 3600 }), workStartH: n('h', { default: 9 }), workEndH: n('h', { default: 18 }), deadlineH: n('deadline hour next day', { default: 9 }), workingDaysOnly: b('Mon–Fri only (default true)') }, ['kind']),
          obj({ kind: { const: 'science' }, ...shapeProps, jobsPerDay: n('mean jobs per day', { default: 2 }), instancesPerJob: n('mean instances per job', { default: 20 }), workMeanS: n('mean work, board-s', { default: 14400 }), workCv: n('cv', { default: 0.5 }) }, ['kind']),
          obj({ kind: { const: 'swf' }, name: s('name'), file: s('SWF trace, relative to the scenario file'), type: e(SCHEDULING_TYPES, 'scheduling type (default flex)'), priority: i('priority'), timeScale: n('multiplies submit times', { default: 1 }), workScale: n('multiplies run times', { default: 1 }), maxJobs: i('import at most this many jobs'), coresPerInstance: i('cores per instance (board)', { default: 8 }), memoryMB: n('memory per instance when unknown, MB', { default: 2048 }), checkpointable: b('checkpointable'), dataMB: n('MB'), dataSite: shapeProps.dataSite, keepFailed: b('keep failed (status 0) jobs (default true)') }, ['kind', 'file']),
        ],
      },
    },
    prices: obj({
      electricityEURPerKWh: {
        oneOf: [{ type: 'number' }, { type: 'array', items: obj({ fromH: i('h'), toH: i('h (wraps past midnight when < fromH)'), EURPerKWh: n('€/kWh') }, ['fromH', 'toH', 'EURPerKWh']) }],
        description: 'constant €/kWh (default 0.25) or time-of-use periods covering the day',
      },
      coreHourEUR: obj({ flex: n('€', { default: 0.02 }), onDemand: n('€', { default: 0.04 }), reserved: n('€', { default: 0.03 }) }),
      heatValueEURPerKWh: n('value of heat to residents, €/kWh (default: the electricity price at the time)'),
    }),
    carbon: {
      oneOf: [obj({ kind: { const: 'constant' }, gPerKWh: n('gCO2e/kWh', { default: DEFAULT_CARBON_G_PER_KWH }) }, ['kind']), obj({ kind: { const: 'csv' }, file: s('CSV time,gCO2/kWh, relative to the scenario file') }, ['kind', 'file'])],
    },
    overflow: obj({ pue: n('PUE', { default: 1.58 }), priceEURPerCoreH: n('€ per core-hour', { default: 0.01 }), carbonGPerKWh: n('gCO2e/kWh', { default: DEFAULT_CARBON_G_PER_KWH }) }),
    referenceHeating: obj({ kind: e(['electric', 'gas'], 'heating the buildings would otherwise use'), efficiency: n('heat out / energy in'), fuelGPerKWh: n('fuel emission factor, gCO2e/kWh (gas default 227)') }, ['kind']),
  },
};
