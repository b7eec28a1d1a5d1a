// VDI 6007-1 validation runner: parses a case file of the "vdi6007-ibpsa-testcase/1" format (MODEL.md) and simulates
// it exactly (exact ZOH/FOH steps between input breakpoints, controller events located in time), hourly means vs reference.
import { InvalidParameterError, requireFinite } from './errors.ts';
import { discretise, stepLinearInput } from './discretise.ts';
import type { DiscreteStateSpaceFoh } from './discretise.ts';
import { solve, SingularMatrixError } from './linalg.ts';
import { buildRoomModel, equivalentAirTemperatureC, skyTemperatureFromIrradiationC } from './room.ts';
import type { EquivalentAirTemperatureParams, RoomParams } from './room.ts';
import type { StateSpace } from './state-space.ts';

// ---------------------------------------------------------------------------------------------------------------
// Case description
// ---------------------------------------------------------------------------------------------------------------

/** A time table with Modelica CombiTimeTable semantics. Times in s. */
export interface TableSignal {
  readonly kind: 'table';
  readonly interpolation: 'linear' | 'constant_segments';
  readonly extrapolation: 'periodic' | 'hold_last' | 'last_two_points';
  readonly times: Float64Array;
  readonly values: Float64Array;
  /** Period of a periodic table, s (last − first time). */
  readonly periodS: number;
}

/** A signal of a case: a constant, a table, or a block computed from other signals. */
export type SignalDef =
  | { readonly kind: 'constant'; readonly value: number }
  | TableSignal
  | {
      readonly kind: 'sunblind';
      /** 'transmitted': y = u·g; 'closure': y = 1 − g. */
      readonly output: 'transmitted' | 'closure';
      readonly input: string;
      readonly thresholdWm2: number;
      readonly gClosed: number;
      readonly gOpen: number;
    }
  | { readonly kind: 'sky'; readonly input: string; readonly emissivity: number; readonly sigma: number; readonly gain?: number }
  | {
      readonly kind: 'equivalentAir';
      readonly params: EquivalentAirTemperatureParams;
      readonly tDryBul: string;
      readonly tBlaSky: string;
      readonly hSol: readonly string[];
      readonly sunblind: readonly string[];
    };

/** A PI controller (IBPSA LimPID, PI type) driving a heat port, optionally with a heating/cooling mode hysteresis. */
export interface PiHvac {
  readonly kind: 'pi';
  readonly k: number;
  readonly tiS: number;
  readonly ni: number;
  readonly yMax: number;
  readonly yMin: number;
  readonly integratorStart: number;
  readonly setpointSignal: string;
  /** Room input that receives the heat in heating mode / in cooling mode (the same without hysteresis). */
  readonly heatingInput: string;
  readonly coolingInput: string;
  /** Heat per unit controller output, W: for y > 0 and y < 0 without hysteresis; per mode with hysteresis. */
  readonly gainHeatingW: number;
  readonly gainCoolingW: number;
  readonly hysteresis?: { readonly uLow: number; readonly uHigh: number; readonly startHeating: boolean };
}

/** Heating/cooling of a case: none, an ideal prescribed air temperature, or a PI controller. */
export type HvacDef = { readonly kind: 'ideal'; readonly setpointSignal: string } | PiHvac;

/** A parsed, validated VDI 6007 case. */
export interface Vdi6007Case {
  readonly caseNumber: number;
  readonly room: RoomParams;
  /** Room input name → list of signals summed into it (heat ports), or the temperature signal (boundaries). */
  readonly inputSignals: ReadonlyMap<string, readonly { readonly signal: string; readonly factor: number }[]>;
  readonly ventilation?: { readonly flowSignal: string; readonly conductancePerUnitWK: number; readonly supplySignal: string };
  readonly hvac?: HvacDef;
  readonly signals: ReadonlyMap<string, SignalDef>;
  readonly initial: { readonly kind: 'steady_state' | 'fixed_temperature'; readonly tempC: number };
  readonly stopS: number;
  readonly output: {
    readonly quantity: 'air_temperature' | 'heat_load';
    readonly unit: 'degC' | 'W';
    /** Sign applied to the delivered heat for loads: +1 heating positive, −1 cooling positive ('Q_extracted'). */
    readonly sign: 1 | -1;
    readonly substitutionWindowS?: number;
  };
  readonly reference: {
    readonly periods: readonly { readonly name: string; readonly values: readonly (readonly [number, number])[] }[];
    readonly guess?: TableSignal;
  };
  readonly threshold: number;
}

/** Result of a validation run. series: [time stamp (s), simulated hourly mean ending then] at every reference time. */
export interface Vdi6007Result {
  readonly case: number;
  readonly quantity: 'air_temperature' | 'heat_load';
  readonly unit: 'degC' | 'W';
  readonly series: [number, number][];
  readonly maxAbsDeviation: number;
  /** Max deviation over hours 1..23 of each day (what IBPSA's VerifyDifferenceThreePeriods checks). */
  readonly maxAbsDeviationHours1to23: number;
  readonly threshold: number;
  readonly pass: boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function obj(v: unknown, field: string): Json {
  if (!isObj(v)) throw new InvalidParameterError(field, `must be an object, got ${describe(v)}`);
  return v;
}
function arr(v: unknown, field: string): unknown[] {
  if (!Array.isArray(v)) throw new InvalidParameterError(field, `must be an array, got ${describe(v)}`);
  return v;
}
function str(v: unknown, field: string): string {
  if (typeof v !== 'string' || v === '') throw new InvalidParameterError(field, `must be a non-empty string, got ${describe(v)}`);
  return v;
}
function num(v: unknown, field: string, min = -Infinity, max = Infinity): number {
  if (typeof v !== 'number') throw new InvalidParameterError(field, `must be a number, got ${describe(v)}`);
  return requireFinite(field, v, min, max);
}
function bool(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') throw new InvalidParameterError(field, `must be a boolean, got ${describe(v)}`);
  return v;
}
function numArr(v: unknown, field: string, min = -Infinity): number[] {
  return arr(v, field).map((x, i) => num(x, `${field}[${i}]`, min));
}
function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return `${typeof v} ${String(v)}`;
  if (typeof v === 'undefined') return 'nothing (missing)';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** A model parameter `{value: …}` (or a bare value); returns [value, path of the value]. */
function param(params: Json, name: string): [unknown, string] {
  const field = `model.parameters.${name}`;
  if (!(name in params)) throw new InvalidParameterError(field, 'is missing');
  const p = params[name];
  if (isObj(p)) {
    if (!('value' in p)) throw new InvalidParameterError(`${field}.value`, 'is missing');
    return [p.value, `${field}.value`];
  }
  return [p, field];
}
function pNum(params: Json, name: string, min = -Infinity): number {
  const [v, f] = param(params, name);
  return num(v, f, min);
}
function pArr(params: Json, name: string, min = -Infinity): number[] {
  const [v, f] = param(params, name);
  return numArr(v, f, min);
}
function pBool(params: Json, name: string, dflt: boolean): boolean {
  if (!(name in params)) return dflt;
  const [v, f] = param(params, name);
  return bool(v, f);
}

function parseTable(s: Json, field: string): TableSignal {
  const rows = arr(s.table, `${field}.table`);
  if (rows.length === 0) throw new InvalidParameterError(`${field}.table`, 'must have at least one row');
  const times = new Float64Array(rows.length);
  const values = new Float64Array(rows.length);
  rows.forEach((r, i) => {
    const row = arr(r, `${field}.table[${i}]`);
    if (row.length < 2) throw new InvalidParameterError(`${field}.table[${i}]`, 'must be a [time, value] pair');
    times[i] = num(row[0], `${field}.table[${i}][0]`);
    values[i] = num(row[1], `${field}.table[${i}][1]`);
    if (i > 0 && times[i] < times[i - 1]) throw new InvalidParameterError(`${field}.table[${i}][0]`, `times must not decrease (${times[i]} < ${times[i - 1]})`);
    if (i > 1 && times[i] === times[i - 2]) throw new InvalidParameterError(`${field}.table[${i}][0]`, `at most two rows may share a time (${times[i]})`);
  });
  const ip = s.interpolation === undefined ? 'linear' : str(s.interpolation, `${field}.interpolation`);
  let interpolation: TableSignal['interpolation'];
  if (ip === 'linear' || ip === 'LinearSegments') interpolation = 'linear';
  else if (ip === 'constant_segments' || ip === 'constant' || ip === 'ConstantSegments') interpolation = 'constant_segments';
  else throw new InvalidParameterError(`${field}.interpolation`, `must be 'linear' or 'constant_segments', got '${ip}'`);
  const ep = s.extrapolation === undefined ? 'last_two_points' : str(s.extrapolation, `${field}.extrapolation`);
  let extrapolation: TableSignal['extrapolation'];
  if (ep === 'periodic' || ep === 'Periodic') extrapolation = 'periodic';
  else if (ep === 'hold_last' || ep === 'HoldLastPoint') extrapolation = 'hold_last';
  else if (ep === 'last_two_points' || ep === 'LastTwoPoints') extrapolation = 'last_two_points';
  else throw new InvalidParameterError(`${field}.extrapolation`, `must be 'periodic', 'hold_last' or 'last_two_points', got '${ep}'`);
  const periodS = times[times.length - 1] - times[0];
  if (extrapolation === 'periodic') {
    if (!(periodS > 0)) throw new InvalidParameterError(`${field}.table`, 'a periodic table must span a positive time');
    if (s.period_s !== undefined) {
      const p = num(s.period_s, `${field}.period_s`, 0);
      if (Math.abs(p - periodS) > 1e-9 * periodS) {
        throw new InvalidParameterError(`${field}.period_s`, `must equal the table span ${periodS} s (CombiTimeTable repeats first..last), got ${p}`);
      }
    }
  }
  return { kind: 'table', interpolation, extrapolation, times, values, periodS };
}

function parseSignal(s: unknown, field: string): SignalDef {
  const o = obj(s, field);
  const type = o.type === undefined ? undefined : str(o.type, `${field}.type`);
  if (type === undefined || type === 'table' || type === 'time_table') {
    if (o.table === undefined) throw new InvalidParameterError(`${field}.table`, 'is missing (a signal needs a type or a table)');
    return parseTable(o, field);
  }
  if (type === 'constant') return { kind: 'constant', value: num(o.value, `${field}.value`) };
  if (type === 'sunblind_transmitted' || type === 'sunblind_closure') {
    const gClosed = num(o.g_closed, `${field}.g_closed`, 0);
    const gOpen = o.g_open === undefined ? 1 : num(o.g_open, `${field}.g_open`, 0);
    return {
      kind: 'sunblind',
      output: type === 'sunblind_transmitted' ? 'transmitted' : 'closure',
      input: str(o.input, `${field}.input`),
      thresholdWm2: num(o.threshold, `${field}.threshold`),
      gClosed,
      gOpen,
    };
  }
  if (type.startsWith('equivalent_air_temperature')) {
    const n = num(o.n, `${field}.n`, 1);
    if (!Number.isInteger(n)) throw new InvalidParameterError(`${field}.n`, `must be an integer, got ${n}`);
    const wfWall = numArr(o.wfWall, `${field}.wfWall`);
    const wfWin = numArr(o.wfWin, `${field}.wfWin`);
    if (wfWall.length !== n) throw new InvalidParameterError(`${field}.wfWall`, `must have n = ${n} elements, got ${wfWall.length}`);
    if (wfWin.length !== n) throw new InvalidParameterError(`${field}.wfWin`, `must have n = ${n} elements, got ${wfWin.length}`);
    const hSol = arr(o.HSol, `${field}.HSol`).map((x, i) => str(x, `${field}.HSol[${i}]`));
    const sunblind = arr(o.sunblind, `${field}.sunblind`).map((x, i) => str(x, `${field}.sunblind[${i}]`));
    if (hSol.length !== n) throw new InvalidParameterError(`${field}.HSol`, `must have n = ${n} elements, got ${hSol.length}`);
    if (sunblind.length !== n) throw new InvalidParameterError(`${field}.sunblind`, `must have n = ${n} elements, got ${sunblind.length}`);
    const withLongwave = bool(o.withLongwave, `${field}.withLongwave`);
    return {
      kind: 'equivalentAir',
      params: {
        aExt: num(o.aExt, `${field}.aExt`),
        hConWallOutWm2K: num(o.hConWallOut, `${field}.hConWallOut`, 0),
        hRadWm2K: num(o.hRad, `${field}.hRad`, 0),
        withLongwave,
        wfWall,
        wfWin,
        wfGro: o.wfGro === undefined ? 0 : num(o.wfGro, `${field}.wfGro`),
        tGroC: o.TGro === undefined ? 0 : num(o.TGro, `${field}.TGro`),
      },
      tDryBul: str(o.TDryBul, `${field}.TDryBul`),
      tBlaSky: str(o.TBlaSky, `${field}.TBlaSky`),
      hSol,
      sunblind,
    };
  }
  if (type.includes('sky')) {
    return {
      kind: 'sky',
      input: str(o.input, `${field}.input`),
      emissivity: o.emissivity === undefined ? 0.93 : num(o.emissivity, `${field}.emissivity`, 0),
      sigma: o.sigma === undefined ? 5.67e-8 : num(o.sigma, `${field}.sigma`, 0),
      ...(o.gain === undefined ? {} : { gain: num(o.gain, `${field}.gain`, 0) }),
    };
  }
  throw new InvalidParameterError(`${field}.type`, `unknown signal type '${type}'`);
}

/** Signals referenced by a signal definition. */
function signalDeps(d: SignalDef): { name: string; field: string }[] {
  switch (d.kind) {
    case 'constant':
    case 'table':
      return [];
    case 'sunblind':
    case 'sky':
      return [{ name: d.input, field: 'input' }];
    case 'equivalentAir':
      return [
        { name: d.tDryBul, field: 'TDryBul' },
        { name: d.tBlaSky, field: 'TBlaSky' },
        ...d.hSol.map((name, i) => ({ name, field: `HSol[${i}]` })),
        ...d.sunblind.map((name, i) => ({ name, field: `sunblind[${i}]` })),
      ];
  }
}

const HEAT_PORTS: Readonly<Record<string, string>> = {
  intGainsConv: 'Q_air',
  intGainsRad: 'Q_rad',
  intWallIndoorSurface: 'Q_surfInt',
  extWallIndoorSurface: 'Q_surfExt',
  windowIndoorSurface: 'Q_surfWin',
};
const PORT_FLAGS: Readonly<Record<string, string>> = {
  intWallIndoorSurface: 'indoorPortIntWalls',
  extWallIndoorSurface: 'indoorPortExtWalls',
  windowIndoorSurface: 'indoorPortWin',
};

/**
 * Parses and validates a VDI 6007 case file (the parsed JSON object). Throws InvalidParameterError naming the
 * failing field as a dotted path (e.g. `model.parameters.CExt.value[0]`, `signals.T_out.table[3][1]`).
 * Units: s, °C, W, W/K, J/K as in the file.
 */
export function parseVdi6007Case(json: unknown): Vdi6007Case {
  const root = obj(json, '(root)');
  const caseNumber = num(root.case, 'case', 0);
  if (!Number.isInteger(caseNumber)) throw new InvalidParameterError('case', `must be an integer, got ${caseNumber}`);
  const model = obj(root.model, 'model');
  const params = obj(model.parameters, 'model.parameters');

  const nOr = pNum(params, 'nOrientations', 1);
  const nExt = pNum(params, 'nExt', 1);
  const nInt = pNum(params, 'nInt', 1);
  for (const [name, v] of [['nOrientations', nOr], ['nExt', nExt], ['nInt', nInt]] as const) {
    if (!Number.isInteger(v)) throw new InvalidParameterError(param(params, name)[1], `must be an integer ≥ 1, got ${v}`);
  }
  const lenCheck = (name: string, a: number[], n: number, what: string): number[] => {
    if (a.length !== n) throw new InvalidParameterError(param(params, name)[1], `must have ${what} = ${n} elements, got ${a.length}`);
    return a;
  };
  const AExt = lenCheck('AExt', pArr(params, 'AExt', 0), nOr, 'nOrientations');
  const AWin = lenCheck('AWin', pArr(params, 'AWin', 0), nOr, 'nOrientations');
  const ATransparent = lenCheck('ATransparent', pArr(params, 'ATransparent', 0), nOr, 'nOrientations');
  const RExt = lenCheck('RExt', pArr(params, 'RExt', 0), nExt, 'nExt');
  const CExt = lenCheck('CExt', pArr(params, 'CExt', 0), nExt, 'nExt');
  const RInt = lenCheck('RInt', pArr(params, 'RInt', 0), nInt, 'nInt');
  const CInt = lenCheck('CInt', pArr(params, 'CInt', 0), nInt, 'nInt');
  const portFlags: Record<string, boolean> = {
    indoorPortIntWalls: pBool(params, 'indoorPortIntWalls', false),
    indoorPortExtWalls: pBool(params, 'indoorPortExtWalls', false),
    indoorPortWin: pBool(params, 'indoorPortWin', false),
  };
  const VAir = pNum(params, 'VAir', 0);
  const T_start = 'T_start' in params ? pNum(params, 'T_start') : undefined;

  // signals
  const sigObj = obj(root.signals, 'signals');
  const signals = new Map<string, SignalDef>();
  for (const [name, s] of Object.entries(sigObj)) signals.set(name, parseSignal(s, `signals.${name}`));
  for (const [name, d] of signals) {
    for (const dep of signalDeps(d)) {
      if (!signals.has(dep.name)) throw new InvalidParameterError(`signals.${name}.${dep.field}`, `unknown signal '${dep.name}'`);
    }
  }
  checkSignalCycles(signals);
  const needSignal = (name: unknown, field: string): string => {
    const s = str(name, field);
    if (!signals.has(s)) throw new InvalidParameterError(field, `unknown signal '${s}'`);
    return s;
  };

  // connections
  const inputSignals = new Map<string, { signal: string; factor: number }[]>();
  const addInput = (input: string, signal: string, factor = 1): void => {
    const l = inputSignals.get(input) ?? [];
    l.push({ signal, factor });
    inputSignals.set(input, l);
  };
  let extOutdoorConductanceWK: number | undefined;
  let winOutdoorConductanceWK: number | undefined;
  let ventilation: Vdi6007Case['ventilation'];
  const gWin = pNum(params, 'gWin', 0);
  const conns = arr(root.connections, 'connections');
  const parseVentilation = (c: Json, f: string): NonNullable<Vdi6007Case['ventilation']> => {
    const flowSignal = needSignal(c.signal ?? c.flow_signal ?? c.volume_flow_signal ?? c.mass_flow_signal, `${f}.signal`);
    const supplySignal = needSignal(c.temperature_signal, `${f}.temperature_signal`);
    let perUnit: number;
    if (c.conductance_per_unit_W_K !== undefined) perUnit = num(c.conductance_per_unit_W_K, `${f}.conductance_per_unit_W_K`, 0);
    else {
      const cp = c.cp_J_kgK !== undefined ? num(c.cp_J_kgK, `${f}.cp_J_kgK`, 0) : 1005.45;
      const unitField = c.kg_per_s_per_unit ?? c.kg_per_s_per_m3h;
      let kgPerUnit: number;
      if (unitField !== undefined) kgPerUnit = num(unitField, `${f}.kg_per_s_per_unit`, 0);
      else {
        const sig = sigObj[flowSignal];
        const unit = isObj(sig) && typeof sig.unit === 'string' ? sig.unit : undefined;
        if (unit === 'kg/s') kgPerUnit = 1;
        else if (unit === 'm3/h') kgPerUnit = 3.30375898e-4;
        else throw new InvalidParameterError(`${f}.kg_per_s_per_unit`, `is missing and the unit of signal '${flowSignal}' is neither 'kg/s' nor 'm3/h'`);
      }
      perUnit = kgPerUnit * cp;
    }
    return { flowSignal, conductancePerUnitWK: perUnit, supplySignal };
  };
  conns.forEach((cu, i) => {
    const f = `connections[${i}]`;
    const c = obj(cu, f);
    const port = str(c.port, `${f}.port`);
    const sol = /^solRad\[(\d+)\]$/.exec(port);
    if (port === 'extWall') {
      if (extOutdoorConductanceWK !== undefined) throw new InvalidParameterError(`${f}.port`, "duplicate 'extWall' connection");
      extOutdoorConductanceWK = num(c.conductance_W_K, `${f}.conductance_W_K`, 0);
      if (!(extOutdoorConductanceWK > 0)) throw new InvalidParameterError(`${f}.conductance_W_K`, 'must be > 0');
      addInput('T_amb', needSignal(c.temperature_signal, `${f}.temperature_signal`));
    } else if (port === 'window') {
      if (c.conductance_W_K !== undefined) winOutdoorConductanceWK = num(c.conductance_W_K, `${f}.conductance_W_K`, 0);
      addInput('T_ambWin', needSignal(c.temperature_signal, `${f}.temperature_signal`));
    } else if (port in HEAT_PORTS) {
      const flag = PORT_FLAGS[port];
      if (flag && !portFlags[flag]) throw new InvalidParameterError(`${f}.port`, `port '${port}' needs model.parameters.${flag} = true`);
      addInput(HEAT_PORTS[port], needSignal(c.signal, `${f}.signal`));
    } else if (sol) {
      const k = Number(sol[1]);
      if (k < 1 || k > nOr) throw new InvalidParameterError(`${f}.port`, `orientation ${k} is outside 1..${nOr}`);
      addInput(`Q_sol_${k}`, needSignal(c.signal, `${f}.signal`), gWin * ATransparent[k - 1]);
    } else if (port === 'ventilation' || port.startsWith('ports')) {
      if (ventilation) throw new InvalidParameterError(`${f}.port`, 'duplicate ventilation connection');
      ventilation = parseVentilation(c, f);
    } else {
      throw new InvalidParameterError(`${f}.port`, `unknown port '${port}'`);
    }
  });
  if (root.ventilation !== undefined) {
    if (ventilation) throw new InvalidParameterError('ventilation', 'ventilation is given twice (also in connections)');
    ventilation = parseVentilation(obj(root.ventilation, 'ventilation'), 'ventilation');
  }
  if (extOutdoorConductanceWK === undefined) throw new InvalidParameterError('connections', "an 'extWall' connection (outdoor conductance and temperature) is required");
  const aTotWin = AWin.reduce((s, a) => s + a, 0);
  if (aTotWin > 0 && !inputSignals.has('T_ambWin')) throw new InvalidParameterError('connections', "a 'window' connection is required when sum(AWin) > 0");

  // hvac
  let hvac: HvacDef | undefined;
  if (root.hvac !== undefined) hvac = parseHvac(obj(root.hvac, 'hvac'), needSignal, portFlags);

  const room: RoomParams = {
    airVolumeM3: VAir,
    hRadWm2K: pNum(params, 'hRad', 0),
    extAreasM2: AExt,
    hConExtWm2K: pNum(params, 'hConExt', 0),
    extResistancesKW: RExt,
    extRemResistanceKW: pNum(params, 'RExtRem', 0),
    extCapacitiesJK: CExt,
    intAreaM2: pNum(params, 'AInt', 0),
    hConIntWm2K: pNum(params, 'hConInt', 0),
    intResistancesKW: RInt,
    intCapacitiesJK: CInt,
    winAreasM2: AWin,
    transparentAreasM2: ATransparent,
    hConWinWm2K: pNum(params, 'hConWin', 0),
    winResistanceKW: pNum(params, 'RWin', 0),
    gWin,
    ratioWinConRad: pNum(params, 'ratioWinConRad', 0),
    extOutdoorConductanceWK,
    ...(winOutdoorConductanceWK === undefined ? {} : { winOutdoorConductanceWK }),
  };
  // validate the room now so errors name the case file's fields
  try {
    buildRoomModel(room);
  } catch (e) {
    if (e instanceof InvalidParameterError) throw new InvalidParameterError(mapRoomField(e.field), e.message.slice(e.field.length + 2));
    throw e;
  }

  // initial conditions
  const ic = obj(root.initial_conditions, 'initial_conditions');
  const icType = str(ic.type, 'initial_conditions.type');
  if (icType !== 'steady_state' && icType !== 'fixed_temperature') {
    throw new InvalidParameterError('initial_conditions.type', `must be 'steady_state' or 'fixed_temperature', got '${icType}'`);
  }
  let tempC: number;
  if (ic.T_capacities_degC !== undefined) tempC = num(ic.T_capacities_degC, 'initial_conditions.T_capacities_degC');
  else if (T_start !== undefined) tempC = T_start;
  else throw new InvalidParameterError('initial_conditions.T_capacities_degC', 'is missing (and model.parameters.T_start too)');

  const sim = obj(root.simulation, 'simulation');
  const startS = sim.start_s === undefined ? 0 : num(sim.start_s, 'simulation.start_s');
  if (startS !== 0) throw new InvalidParameterError('simulation.start_s', `must be 0, got ${startS}`);
  const stopS = num(sim.stop_s, 'simulation.stop_s', 0);
  if (!(stopS > 0)) throw new InvalidParameterError('simulation.stop_s', 'must be > 0');

  // output
  const out = obj(root.output, 'output');
  const unit = str(out.unit, 'output.unit');
  if (unit !== 'degC' && unit !== 'W') throw new InvalidParameterError('output.unit', `must be 'degC' or 'W', got '${unit}'`);
  const variable = str(out.variable, 'output.variable');
  if (unit === 'degC' && !variable.startsWith('T_air')) throw new InvalidParameterError('output.variable', `a degC output must be the air temperature (T_air…), got '${variable}'`);
  if (unit === 'W' && !hvac) throw new InvalidParameterError('output.variable', `a heat-load output needs an 'hvac' block`);
  const sign: 1 | -1 = variable.startsWith('Q_extracted') ? -1 : 1;
  const substitutionWindowS = out.substitution_window_s === undefined ? undefined : num(out.substitution_window_s, 'output.substitution_window_s', 0);

  // reference
  const ref = obj(root.reference, 'reference');
  const periods = arr(ref.periods, 'reference.periods').map((pu, i) => {
    const f = `reference.periods[${i}]`;
    const p = obj(pu, f);
    const name = p.name === undefined ? `period ${i + 1}` : str(p.name, `${f}.name`);
    const values = arr(p.values, `${f}.values`).map((vu, j): [number, number] => {
      const v = arr(vu, `${f}.values[${j}]`);
      if (v.length < 2) throw new InvalidParameterError(`${f}.values[${j}]`, 'must be a [time_s, value] pair');
      const t = num(v[0], `${f}.values[${j}][0]`, 3600, stopS);
      return [t, num(v[1], `${f}.values[${j}][1]`)];
    });
    return { name, values };
  });
  if (periods.length === 0) throw new InvalidParameterError('reference.periods', 'must not be empty');
  let guess: TableSignal | undefined;
  if (substitutionWindowS !== undefined) {
    if (ref.guess_column === undefined) throw new InvalidParameterError('reference.guess_column', 'is required with output.substitution_window_s');
    guess = parseTable(obj(ref.guess_column, 'reference.guess_column'), 'reference.guess_column');
  }
  const check = obj(root.check, 'check');
  const threshold = num(check.threshold, 'check.threshold', 0);

  return {
    caseNumber,
    room,
    inputSignals,
    ...(ventilation ? { ventilation } : {}),
    ...(hvac ? { hvac } : {}),
    signals,
    initial: { kind: icType, tempC },
    stopS,
    output: {
      quantity: unit === 'degC' ? 'air_temperature' : 'heat_load',
      unit,
      sign,
      ...(substitutionWindowS === undefined ? {} : { substitutionWindowS }),
    },
    reference: { periods, ...(guess ? { guess } : {}) },
    threshold,
  };
}

const ROOM_FIELD: Readonly<Record<string, string>> = {
  airVolumeM3: 'VAir',
  hRadWm2K: 'hRad',
  extAreasM2: 'AExt',
  hConExtWm2K: 'hConExt',
  extResistancesKW: 'RExt',
  extRemResistanceKW: 'RExtRem',
  extCapacitiesJK: 'CExt',
  intAreaM2: 'AInt',
  hConIntWm2K: 'hConInt',
  intResistancesKW: 'RInt',
  intCapacitiesJK: 'CInt',
  winAreasM2: 'AWin',
  transparentAreasM2: 'ATransparent',
  hConWinWm2K: 'hConWin',
  winResistanceKW: 'RWin',
  gWin: 'gWin',
  ratioWinConRad: 'ratioWinConRad',
};

/** Maps a room.ts field path (`params.extCapacitiesJK[0]`) to the case file's (`model.parameters.CExt.value[0]`). */
function mapRoomField(field: string): string {
  const m = /^params\.([A-Za-z]+)(.*)$/.exec(field);
  if (!m) return field;
  if (m[1] === 'extOutdoorConductanceWK') return 'connections (extWall).conductance_W_K';
  if (m[1] === 'winOutdoorConductanceWK') return 'connections (window).conductance_W_K';
  const name = ROOM_FIELD[m[1]];
  return name ? `model.parameters.${name}.value${m[2]}` : field;
}

function parseHvac(h: Json, needSignal: (v: unknown, f: string) => string, portFlags: Record<string, boolean>): HvacDef {
  const type = str(h.type, 'hvac.type');
  const setpointSignal = needSignal(h.setpoint_signal, 'hvac.setpoint_signal');
  const portInput = (v: unknown, f: string): string => {
    const p = str(v, f);
    const input = HEAT_PORTS[p];
    if (!input) throw new InvalidParameterError(f, `unknown heat port '${p}' (one of ${Object.keys(HEAT_PORTS).join(', ')})`);
    const flag = PORT_FLAGS[p];
    if (flag && !portFlags[flag]) throw new InvalidParameterError(f, `port '${p}' needs model.parameters.${flag} = true`);
    return input;
  };
  if (type.startsWith('ideal')) {
    const port = str(h.port, 'hvac.port');
    if (port !== 'intGainsConv') throw new InvalidParameterError('hvac.port', `an ideal prescribed air temperature must act on 'intGainsConv', got '${port}'`);
    return { kind: 'ideal', setpointSignal };
  }
  if (h.k === undefined && h.Ti_s === undefined) throw new InvalidParameterError('hvac.type', `unknown hvac type '${type}' (ideal_… or a PI with k and Ti_s)`);
  const k = num(h.k, 'hvac.k', 0);
  if (!(k > 0)) throw new InvalidParameterError('hvac.k', 'must be > 0');
  const tiS = num(h.Ti_s, 'hvac.Ti_s', 0);
  if (!(tiS > 0)) throw new InvalidParameterError('hvac.Ti_s', 'must be > 0');
  const ni = h.Ni === undefined ? 0.9 : num(h.Ni, 'hvac.Ni', 0);
  if (!(ni > 0)) throw new InvalidParameterError('hvac.Ni', 'must be > 0');
  const yMax = h.yMax === undefined ? 1 : num(h.yMax, 'hvac.yMax');
  const yMin = h.yMin === undefined ? -yMax : num(h.yMin, 'hvac.yMin');
  if (!(yMin <= 0 && yMax >= 0 && yMax > yMin)) throw new InvalidParameterError('hvac.yMin', `need yMin ≤ 0 ≤ yMax and yMin < yMax, got [${yMin}, ${yMax}]`);
  const gain = h.gain_W === undefined ? undefined : num(h.gain_W, 'hvac.gain_W', 0);
  const gainHeatingW = h.gain_heating_W !== undefined ? num(h.gain_heating_W, 'hvac.gain_heating_W', 0) : gain;
  const gainCoolingW = h.gain_cooling_W !== undefined ? num(h.gain_cooling_W, 'hvac.gain_cooling_W', 0) : gain;
  if (gainHeatingW === undefined) throw new InvalidParameterError('hvac.gain_heating_W', 'is missing (or give hvac.gain_W)');
  if (gainCoolingW === undefined) throw new InvalidParameterError('hvac.gain_cooling_W', 'is missing (or give hvac.gain_W)');
  const integratorStart = h.integrator_start === undefined ? 0 : num(h.integrator_start, 'hvac.integrator_start');
  const hasHyst = h.hysteresis_uLow !== undefined || h.hysteresis_uHigh !== undefined;
  let heatingInput: string;
  let coolingInput: string;
  if (h.heating_port !== undefined || h.cooling_port !== undefined) {
    heatingInput = portInput(h.heating_port, 'hvac.heating_port');
    coolingInput = portInput(h.cooling_port, 'hvac.cooling_port');
  } else {
    heatingInput = coolingInput = portInput(h.port, 'hvac.port');
  }
  let hysteresis: PiHvac['hysteresis'];
  if (hasHyst) {
    const uLow = num(h.hysteresis_uLow, 'hvac.hysteresis_uLow');
    const uHigh = num(h.hysteresis_uHigh, 'hvac.hysteresis_uHigh');
    if (!(uLow < uHigh)) throw new InvalidParameterError('hvac.hysteresis_uHigh', `must be > hysteresis_uLow (${uLow}), got ${uHigh}`);
    const ms = h.mode_start === undefined ? 'heating' : str(h.mode_start, 'hvac.mode_start');
    if (ms !== 'heating' && ms !== 'cooling') throw new InvalidParameterError('hvac.mode_start', `must be 'heating' or 'cooling', got '${ms}'`);
    hysteresis = { uLow, uHigh, startHeating: ms === 'heating' };
  } else if (heatingInput !== coolingInput) {
    throw new InvalidParameterError('hvac.cooling_port', 'different heating and cooling ports need a mode hysteresis (hysteresis_uLow/uHigh)');
  }
  return {
    kind: 'pi',
    k,
    tiS,
    ni,
    yMax,
    yMin,
    integratorStart,
    setpointSignal,
    heatingInput,
    coolingInput,
    gainHeatingW,
    gainCoolingW,
    ...(hysteresis ? { hysteresis } : {}),
  };
}

function checkSignalCycles(signals: ReadonlyMap<string, SignalDef>): void {
  const state = new Map<string, 1 | 2>();
  const visit = (name: string, path: string[]): void => {
    const s = state.get(name);
    if (s === 2) return;
    if (s === 1) throw new InvalidParameterError(`signals.${name}`, `signals depend on each other in a cycle: ${[...path, name].join(' → ')}`);
    state.set(name, 1);
    for (const d of signalDeps(signals.get(name) as SignalDef)) visit(d.name, [...path, name]);
    state.set(name, 2);
  };
  for (const name of signals.keys()) visit(name, []);
}

// ---------------------------------------------------------------------------------------------------------------
// Signal evaluation (CombiTimeTable semantics); side = which limit at a jump
// ---------------------------------------------------------------------------------------------------------------

type Side = 'left' | 'right';

/** Value of a table at time tS (s); at a jump, the left or right limit. */
export function evalTable(tb: TableSignal, tS: number, side: Side): number {
  const { times, values } = tb;
  const n = times.length;
  const t0 = times[0];
  const tN = times[n - 1];
  let tau = tS;
  if (tb.extrapolation === 'periodic') {
    const P = tb.periodS;
    let r = (tS - t0) % P;
    if (r < 0) r += P;
    // snap to the period boundary against rounding
    if (P - r < 1e-9 * P) r = 0;
    tau = t0 + r;
    if (r === 0 && side === 'left' && tS !== t0) tau = tN;
  }
  // bounds: lo = first index with time ≥ tau, hi = first index with time > tau
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (times[m] < tau) lo = m + 1;
    else hi = m;
  }
  let hi2 = lo;
  while (hi2 < n && times[hi2] === tau) hi2++;
  if (tb.interpolation === 'constant_segments') {
    const idx = side === 'right' ? hi2 - 1 : lo - 1;
    return values[Math.max(idx, 0)];
  }
  if (hi2 > lo) return side === 'right' ? values[hi2 - 1] : values[lo];
  if (lo === 0 || lo === n) {
    if (n === 1 || tb.extrapolation !== 'last_two_points') return lo === 0 ? values[0] : values[n - 1];
    const [i, j] = lo === 0 ? [0, 1] : [n - 2, n - 1];
    if (times[j] === times[i]) return values[lo === 0 ? 0 : n - 1];
    return values[i] + ((values[j] - values[i]) * (tau - times[i])) / (times[j] - times[i]);
  }
  const i = lo - 1;
  return values[i] + ((values[lo] - values[i]) * (tau - times[i])) / (times[lo] - times[i]);
}

/** Knot times of a table within [aS, bS] (s). */
function tableKnots(tb: TableSignal, aS: number, bS: number, out: number[]): void {
  const { times } = tb;
  if (tb.extrapolation !== 'periodic') {
    for (const t of times) if (t >= aS && t <= bS) out.push(t);
    return;
  }
  const P = tb.periodS;
  const t0 = times[0];
  const kFirst = Math.floor((aS - t0) / P) - 1;
  const kLast = Math.ceil((bS - t0) / P) + 1;
  for (let k = kFirst; k <= kLast; k++) {
    for (const t of times) {
      const tt = t + k * P;
      if (tt >= aS && tt <= bS) out.push(tt);
    }
  }
}

class SignalEvaluator {
  constructor(private readonly signals: ReadonlyMap<string, SignalDef>) {}

  /** Value of a signal at tS (°C, W, W/m² … as in the file). */
  value(name: string, tS: number, side: Side): number {
    const d = this.signals.get(name) as SignalDef;
    switch (d.kind) {
      case 'constant':
        return d.value;
      case 'table':
        return evalTable(d, tS, side);
      case 'sunblind': {
        const u = this.value(d.input, tS, side);
        const g = u > d.thresholdWm2 ? d.gClosed : d.gOpen;
        return d.output === 'transmitted' ? u * g : 1 - g;
      }
      case 'sky': {
        const h = this.value(d.input, tS, side);
        return d.gain !== undefined ? d.gain * Math.pow(Math.max(h, 0), 0.25) - 273.15 : skyTemperatureFromIrradiationC(h, d.emissivity, d.sigma);
      }
      case 'equivalentAir': {
        const hs = d.hSol.map((s) => this.value(s, tS, side));
        const sb = d.sunblind.map((s) => this.value(s, tS, side));
        return equivalentAirTemperatureC(d.params, this.value(d.tDryBul, tS, side), this.value(d.tBlaSky, tS, side), hs, sb);
      }
    }
  }

  /** Times in [aS, bS] where the signal may be non-smooth: table rows, and sun-blind threshold crossings. */
  knots(name: string, aS: number, bS: number, out: number[]): void {
    const d = this.signals.get(name) as SignalDef;
    switch (d.kind) {
      case 'constant':
        return;
      case 'table':
        tableKnots(d, aS, bS, out);
        return;
      case 'sunblind': {
        const inner: number[] = [];
        this.knots(d.input, aS, bS, inner);
        const pts = uniqueSorted([aS, ...inner, bS]);
        for (let i = 0; i + 1 < pts.length; i++) {
          const a = pts[i];
          const b = pts[i + 1];
          const va = this.value(d.input, a, 'right') - d.thresholdWm2;
          const vb = this.value(d.input, b, 'left') - d.thresholdWm2;
          if (va * vb < 0) out.push(a + ((b - a) * va) / (va - vb));
        }
        out.push(...inner);
        return;
      }
      case 'sky':
        this.knots(d.input, aS, bS, out);
        return;
      case 'equivalentAir':
        for (const s of [d.tDryBul, d.tBlaSky, ...d.hSol, ...d.sunblind]) this.knots(s, aS, bS, out);
        return;
    }
  }
}

function uniqueSorted(ts: number[]): number[] {
  ts.sort((a, b) => a - b);
  const out: number[] = [];
  for (const t of ts) {
    if (out.length === 0 || t - out[out.length - 1] > 1e-6) out.push(t);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Systems: the room (open loop, or prescribed air), or the room closed by the PI in one of its modes
// ---------------------------------------------------------------------------------------------------------------

/** A mode of the PI loop: which port (hysteresis state) and which piece of the limiter/gain characteristic. */
interface PiMode {
  readonly heating: boolean;
  readonly piece: 'low' | 'neg' | 'pos' | 'high';
}

/** A linear system over z with inputs w, with its output rows: [compared quantity, V (PI only)]. */
interface LoopSystem {
  readonly ss: StateSpace;
  readonly discs: Map<number, DiscreteStateSpaceFoh>;
}

interface Plant {
  readonly ss: StateSpace;
  readonly rowTair: number;
}

/** Linear form over z (nz) and w (nw). */
interface Form {
  z: Float64Array;
  w: Float64Array;
}

class CaseModel {
  readonly pi?: PiHvac;
  readonly plants = new Map<number, Plant>();
  readonly systems = new Map<string, LoopSystem>();
  readonly roomInputNames: readonly string[];
  readonly nu: number;
  readonly nz: number;
  readonly nw: number;

  constructor(readonly c: Vdi6007Case) {
    if (c.hvac?.kind === 'pi') this.pi = c.hvac;
    const p0 = this.plant(0);
    this.roomInputNames = p0.ss.inputNames;
    this.nu = p0.ss.nu;
    this.nz = p0.ss.nx + (this.pi ? 1 : 0);
    this.nw = this.nu + (this.pi ? 2 : 0);
  }

  /** The room model at a ventilation conductance (W/K). */
  plant(ventWK: number): Plant {
    let p = this.plants.get(ventWK);
    if (!p) {
      const ss = buildRoomModel({ ...this.c.room, ventilationWK: ventWK }, { prescribedAir: this.c.hvac?.kind === 'ideal' });
      p = { ss, rowTair: ss.outputNames.indexOf('T_air') };
      this.plants.set(ventWK, p);
    }
    return p;
  }

  /** Port data of the PI in a hysteresis state: input column, γ = ∂θ_air/∂Q (K/W), gains (W). */
  port(plant: Plant, heating: boolean): { col: number; gamma: number; gPos: number; gNeg: number } {
    const pi = this.pi as PiHvac;
    const input = heating ? pi.heatingInput : pi.coolingInput;
    const col = plant.ss.inputNames.indexOf(input);
    if (col < 0) throw new InvalidParameterError('hvac', `room has no input '${input}'`);
    const gamma = plant.ss.D[plant.rowTair * plant.ss.nu + col];
    if (pi.hysteresis) {
      const g = heating ? pi.gainHeatingW : pi.gainCoolingW;
      return { col, gamma, gPos: g, gNeg: g };
    }
    return { col, gamma, gPos: pi.gainHeatingW, gNeg: pi.gainCoolingW };
  }

  /** Controller output y (1) for the unsaturated-candidate V = k(θ_set − θ_air,0 + I) in a hysteresis state. */
  yOfV(plant: Plant, heating: boolean, V: number): { y: number; piece: PiMode['piece'] } {
    const pi = this.pi as PiHvac;
    const { gamma, gPos, gNeg } = this.port(plant, heating);
    const hiV = pi.yMax * (1 + pi.k * gamma * gPos);
    const loV = pi.yMin * (1 + pi.k * gamma * gNeg);
    if (V >= hiV) return { y: pi.yMax, piece: 'high' };
    if (V <= loV) return { y: pi.yMin, piece: 'low' };
    if (V >= 0) return { y: V / (1 + pi.k * gamma * gPos), piece: 'pos' };
    return { y: V / (1 + pi.k * gamma * gNeg), piece: 'neg' };
  }

  /** Mode reached from `mode` at a state where the candidate output is V (hysteresis applied first). */
  classify(plant: Plant, mode: PiMode, V: number): PiMode {
    const pi = this.pi as PiHvac;
    let heating = mode.heating;
    if (pi.hysteresis) {
      const y = this.yOfV(plant, heating, V).y;
      if (heating && y < pi.hysteresis.uLow) heating = false;
      else if (!heating && y > pi.hysteresis.uHigh) heating = true;
    }
    const piece = this.yOfV(plant, heating, V).piece;
    return { heating, piece: this.mergePiece(plant, heating, piece) };
  }

  /** 'neg' and 'pos' are one piece when the gains are equal. */
  private mergePiece(plant: Plant, heating: boolean, piece: PiMode['piece']): PiMode['piece'] {
    if (piece !== 'neg') return piece;
    const { gPos, gNeg } = this.port(plant, heating);
    return gPos === gNeg ? 'pos' : 'neg';
  }

  key(ventWK: number, mode: PiMode | undefined): string {
    return mode ? `${ventWK}|${mode.heating ? 'h' : 'c'}|${mode.piece}` : `${ventWK}`;
  }

  /** The linear system of a ventilation rate and PI mode (outputs: [compared quantity, V]). */
  system(ventWK: number, mode: PiMode | undefined): LoopSystem {
    const key = this.key(ventWK, mode);
    let s = this.systems.get(key);
    if (!s) {
      s = { ss: this.buildSystem(this.plant(ventWK), mode), discs: new Map() };
      this.systems.set(key, s);
    }
    return s;
  }

  private buildSystem(plant: Plant, mode: PiMode | undefined): StateSpace {
    const P = plant.ss;
    const { nx, nu } = P;
    const c = this.c;
    if (!this.pi || !mode) {
      // open loop: compared row = T_air, or the heat into the ideal air source
      const rowName = c.output.quantity === 'air_temperature' ? 'T_air' : 'Q_airSource';
      const r = P.outputNames.indexOf(rowName);
      // Q_airSource > 0 is cooling; sign −1 ('Q_extracted') keeps it, +1 (heating positive) flips it
      const s = c.output.quantity === 'air_temperature' ? 1 : -c.output.sign;
      return {
        ...P,
        ny: 1,
        C: P.C.slice(r * nx, (r + 1) * nx).map((v) => v * s),
        D: P.D.slice(r * nu, (r + 1) * nu).map((v) => v * s),
        outputNames: ['y'],
      };
    }
    const pi = this.pi;
    const nz = nx + 1;
    const nw = nu + 2;
    const iSet = nu;
    const iOne = nu + 1;
    const { col, gamma, gPos, gNeg } = this.port(plant, mode.heating);
    const form = (): Form => ({ z: new Float64Array(nz), w: new Float64Array(nw) });
    const axpy = (dst: Form, a: number, src: Form): void => {
      for (let i = 0; i < nz; i++) dst.z[i] += a * src.z[i];
      for (let i = 0; i < nw; i++) dst.w[i] += a * src.w[i];
    };
    // θ_air,0 = c x + d u (air temperature without the hvac heat)
    const th0 = form();
    for (let i = 0; i < nx; i++) th0.z[i] = P.C[plant.rowTair * nx + i];
    for (let j = 0; j < nu; j++) th0.w[j] = P.D[plant.rowTair * nu + j];
    // V = k (θ_set − θ_air,0 + I)
    const V = form();
    axpy(V, -pi.k, th0);
    V.z[nx] = pi.k;
    V.w[iSet] = pi.k;
    // Q (W) delivered at the port
    const Q = form();
    let ySat: number | undefined;
    if (mode.piece === 'high' || mode.piece === 'low') {
      ySat = mode.piece === 'high' ? pi.yMax : pi.yMin;
      Q.w[iOne] = (mode.piece === 'high' ? gPos : gNeg) * ySat;
    } else {
      const G = mode.piece === 'pos' ? gPos : gNeg;
      axpy(Q, G / (1 + pi.k * gamma * G), V);
    }
    // e = θ_set − θ_air,0 − γ Q
    const e = form();
    axpy(e, -1, th0);
    e.w[iSet] += 1;
    axpy(e, -gamma, Q);
    // dI/dt
    const dI = form();
    if (ySat === undefined) axpy(dI, 1 / pi.tiS, e);
    else {
      axpy(dI, (1 - 1 / pi.ni) / pi.tiS, e);
      dI.z[nx] -= 1 / (pi.ni * pi.tiS);
      dI.w[iOne] += ySat / (pi.k * pi.ni * pi.tiS);
    }
    const A = new Float64Array(nz * nz);
    const B = new Float64Array(nz * nw);
    for (let i = 0; i < nx; i++) {
      const b = P.B[i * nu + col];
      for (let j = 0; j < nx; j++) A[i * nz + j] = P.A[i * nx + j];
      for (let j = 0; j < nz; j++) A[i * nz + j] += b * Q.z[j];
      for (let j = 0; j < nu; j++) B[i * nw + j] = P.B[i * nu + j];
      for (let j = 0; j < nw; j++) B[i * nw + j] += b * Q.w[j];
    }
    A.set(dI.z, nx * nz);
    B.set(dI.w, nx * nw);
    // compared output: T_air = θ_air,0 + γ Q, or the delivered heat with its sign
    const Y = form();
    if (c.output.quantity === 'air_temperature') {
      axpy(Y, 1, th0);
      axpy(Y, gamma, Q);
    } else axpy(Y, c.output.sign, Q);
    const C = new Float64Array(2 * nz);
    const D = new Float64Array(2 * nw);
    C.set(Y.z, 0);
    C.set(V.z, nz);
    D.set(Y.w, 0);
    D.set(V.w, nw);
    return {
      nx: nz,
      nu: nw,
      ny: 2,
      A,
      B,
      C,
      D,
      stateNames: [...P.stateNames, 'I_pi'],
      inputNames: [...P.inputNames, 'T_set', 'one'],
      outputNames: ['y', 'V'],
      capacityJK: Float64Array.from([...P.capacityJK, 0]),
    };
  }

  disc(sys: LoopSystem, hS: number): DiscreteStateSpaceFoh {
    let d = sys.discs.get(hS);
    if (!d) {
      d = discretise(sys.ss, hS);
      if (sys.discs.size > 5000) sys.discs.clear();
      sys.discs.set(hS, d);
    }
    return d;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Simulation
// ---------------------------------------------------------------------------------------------------------------

/** Step control of the controller cases (the steps are exact; these only bound how events are detected). */
export interface Vdi6007RunOptions {
  /** Longest step while a PI controller runs, s (default 60): mode changes are detected at step ends. */
  readonly piMaxStepS?: number;
  /** Step for piFineWindowS after an input jump or a controller event, s (default 1). */
  readonly piFineStepS?: number;
  /** Duration of the fine stepping, s (default 600). */
  readonly piFineWindowS?: number;
}
/** Fixed ladder of step sizes (s) used to locate controller events to within 2^-20 s. */
const LADDER_S: readonly number[] = Array.from({ length: 26 }, (_, i) => 32 * 2 ** -i);

/**
 * Simulates a parsed case over [0, stop_s] and compares the hourly means of the compared quantity (°C or W)
 * with the reference values at every reference time (s). See simulateHourlyMeans for the method.
 */
export function runVdi6007Case(c: Vdi6007Case, options: Vdi6007RunOptions = {}): Vdi6007Result {
  const times = c.reference.periods.flatMap((p) => p.values.map(([t]) => t));
  const means = simulateHourlyMeans(c, times, options);
  const series: [number, number][] = [];
  let maxDev = 0;
  let maxDev23 = 0;
  let i = 0;
  for (const p of c.reference.periods) {
    for (const [tk, ref] of p.values) {
      const mean = means[i++];
      series.push([tk, mean]);
      const dev = Math.abs(mean - ref);
      maxDev = Math.max(maxDev, dev);
      if (Math.round(tk / 3600) % 24 !== 0) maxDev23 = Math.max(maxDev23, dev);
    }
  }
  return {
    case: c.caseNumber,
    quantity: c.output.quantity,
    unit: c.output.unit,
    series,
    maxAbsDeviation: maxDev,
    maxAbsDeviationHours1to23: maxDev23,
    threshold: c.threshold,
    pass: maxDev <= c.threshold,
  };
}

/**
 * Simulates a parsed case over [0, stop_s] and returns the mean of the compared quantity (°C or W) over
 * [t − 3600, t] for each hour end t (s, 3600 ≤ t ≤ stop_s). Exact: the LTI room is stepped with exact
 * zero/first-order-hold discretisations between input breakpoints (inputs are piecewise linear; nonlinear blocks
 * such as the sky temperature are sub-divided until linear to 1e-7); PI saturation and heating/cooling mode
 * changes are located in time to 1e-6 s; means use the exact state integrals.
 */
export function simulateHourlyMeans(c: Vdi6007Case, hourEndsS: readonly number[], options: Vdi6007RunOptions = {}): number[] {
  const piMaxStepS = requireFinite('options.piMaxStepS', options.piMaxStepS ?? 60, 1e-3);
  const piFineStepS = requireFinite('options.piFineStepS', options.piFineStepS ?? 1, 1e-3);
  const piFineWindowS = requireFinite('options.piFineWindowS', options.piFineWindowS ?? 600, 0);
  hourEndsS.forEach((t, i) => {
    if (!(t >= 3600 && t <= c.stopS)) throw new InvalidParameterError(`hourEndsS[${i}]`, `must be within [3600, ${c.stopS}] s, got ${t}`);
  });
  const model = new CaseModel(c);
  const ev = new SignalEvaluator(c.signals);
  const { nz, nw, nu } = model;
  const pi = model.pi;
  const setpointSignal = c.hvac?.setpointSignal;

  // input vector w(t) (room inputs, then T_set and 1 for the PI)
  const inputs = (tS: number, side: Side, out: Float64Array): Float64Array => {
    out.fill(0);
    model.roomInputNames.forEach((name, j) => {
      if (name === 'T_airSet') out[j] = ev.value(setpointSignal as string, tS, side);
      else if (name === 'T_sup') out[j] = c.ventilation ? ev.value(c.ventilation.supplySignal, tS, side) : 0;
      else {
        const l = c.inputSignals.get(name);
        if (l) for (const { signal, factor } of l) out[j] += factor * ev.value(signal, tS, side);
      }
    });
    if (pi) {
      out[nu] = ev.value(pi.setpointSignal, tS, side);
      out[nu + 1] = 1;
    }
    return out;
  };
  const ventAt = (tS: number, side: Side): number =>
    c.ventilation ? c.ventilation.conductancePerUnitWK * ev.value(c.ventilation.flowSignal, tS, side) : 0;

  // breakpoints: signal knots, hours, reference windows
  const used = new Set<string>();
  for (const l of c.inputSignals.values()) for (const { signal } of l) used.add(signal);
  if (c.ventilation) used.add(c.ventilation.flowSignal).add(c.ventilation.supplySignal);
  if (setpointSignal) used.add(setpointSignal);
  const raw: number[] = [0, c.stopS];
  for (const s of used) ev.knots(s, 0, c.stopS, raw);
  for (let t = 3600; t < c.stopS; t += 3600) raw.push(t);
  const queries: number[] = [];
  for (const t of hourEndsS) queries.push(t - 3600, t);
  raw.push(...queries);
  if (c.reference.guess) tableKnots(c.reference.guess, 0, c.stopS, raw);
  const knots = uniqueSorted(raw.filter((t) => t >= 0 && t <= c.stopS));

  // cumulative integral of the compared quantity at query times
  const cumAt = new Map<number, number>();
  const querySet = uniqueSorted([...queries]);
  let qi = 0;
  let cum = 0;

  // state
  const z = new Float64Array(nz);
  let mode: PiMode | undefined;
  const w0 = inputs(0, 'right', new Float64Array(nw));
  const vent0 = ventAt(0, 'right');
  const plant0 = model.plant(vent0);
  if (pi) {
    z[nz - 1] = pi.integratorStart;
    mode = { heating: pi.hysteresis ? pi.hysteresis.startHeating : true, piece: 'pos' };
  }
  if (c.initial.kind === 'fixed_temperature') {
    z.fill(c.initial.tempC, 0, plant0.ss.nx);
    if (pi) mode = model.classify(plant0, mode as PiMode, vOf(model.system(vent0, mode).ss, z, w0));
  } else {
    mode = steadyState(model, vent0, mode, w0, z);
  }

  // substitution (case 11): the averaged signal is the guess column during [0, W) and W after each port change
  const subW = c.output.substitutionWindowS;
  let subUntil = subW !== undefined ? subW : -Infinity;
  const guess = c.reference.guess;

  const z1 = new Float64Array(nz);
  const zi = new Float64Array(nz);
  const u0 = new Float64Array(nw);
  const u1 = new Float64Array(nw);
  const wa = new Float64Array(nw);
  const wb = new Float64Array(nw);
  const wm = new Float64Array(nw);
  let fineUntil = -Infinity;
  let events = 0;

  /** One trial step of h from t in `m`: fills z1, zi; returns the integral of the compared output. */
  const trial = (sys: LoopSystem, t: number, h: number, a: number, slope: Float64Array): number => {
    for (let j = 0; j < nw; j++) {
      u0[j] = wa[j] + slope[j] * (t - a);
      u1[j] = wa[j] + slope[j] * (t + h - a);
    }
    const d = model.disc(sys, h);
    stepLinearInput(d, z, u0, u1, z1, zi);
    const { C, D } = sys.ss;
    let y = 0;
    for (let i = 0; i < nz; i++) y += C[i] * zi[i];
    for (let j = 0; j < nw; j++) y += D[j] * 0.5 * h * (u0[j] + u1[j]);
    return y;
  };
  const vEnd = (sys: LoopSystem): number => {
    const { C, D } = sys.ss;
    let v = 0;
    for (let i = 0; i < nz; i++) v += C[nz + i] * z1[i];
    for (let j = 0; j < nw; j++) v += D[nw + j] * u1[j];
    return v;
  };
  /** Accepts the trial step [t, t+h]: state, cumulative integral (or the guess during substitution). */
  const commit = (t: number, h: number, integral: number): void => {
    z.set(z1);
    if (t < subUntil && guess) cum += evalTable(guess, t + 0.5 * h, 'right') * h;
    else cum += integral;
  };

  const slope = new Float64Array(nw);
  while (qi < querySet.length && querySet[qi] <= 1e-6) cumAt.set(querySet[qi++], 0);
  let t = 0;
  for (let s = 0; s + 1 < knots.length; s++) {
    const segA = knots[s];
    const segB = knots[s + 1];
    // pieces of the segment on which the inputs are linear to within 1e-7 (nonlinear blocks: sky temperature)
    if (c.ventilation) {
      // one room model per ventilation rate: the flow must be constant between breakpoints (hourly steps)
      const va = ventAt(segA, 'right');
      if (va !== ventAt(segB, 'left') || va !== ventAt(0.5 * (segA + segB), 'right')) {
        throw new InvalidParameterError(
          `signals.${c.ventilation.flowSignal}`,
          `the ventilation flow must be piecewise constant (it varies within [${segA}, ${segB}] s)`,
        );
      }
    }
    for (const [a, b] of linearPieces(segA, segB, inputs, wa, wb, wm)) {
      inputs(a, 'right', wa);
      inputs(b, 'left', wb);
      for (let j = 0; j < nw; j++) slope[j] = (wb[j] - wa[j]) / (b - a);
      if (pi) {
        let jump = false;
        inputs(a, 'left', wm);
        for (let j = 0; j < nw; j++) if (Math.abs(wm[j] - wa[j]) > 1e-12 * (1 + Math.abs(wa[j]))) jump = true;
        for (let j = 0; j < nw; j++) if (Math.abs(slope[j]) > 1e-9) jump = true;
        if (jump) fineUntil = a + piFineWindowS;
      }
      const vent = c.ventilation ? ventAt(0.5 * (a + b), 'right') : 0;
      t = a;
      while (b - t > 1e-9) {
        let h = b - t;
        if (pi) h = Math.min(h, t < fineUntil ? piFineStepS : piMaxStepS);
        if (subUntil > t) h = Math.min(h, subUntil - t);
        if (b - (t + h) < 1e-9) h = b - t;
        const sys = model.system(vent, mode);
        const integral = trial(sys, t, h, a, slope);
        if (!pi) {
          commit(t, h, integral);
          t += h;
          continue;
        }
        const plant = model.plant(vent);
        const next = model.classify(plant, mode as PiMode, vEnd(sys));
        if (sameMode(next, mode as PiMode)) {
          commit(t, h, integral);
          t += h;
          continue;
        }
        // an event inside (t, t+h]: bisect on the fixed ladder
        let remaining = h;
        let newMode = next;
        for (const l of LADDER_S) {
          if (l >= remaining) continue;
          const ig = trial(sys, t, l, a, slope);
          const m2 = model.classify(plant, mode as PiMode, vEnd(sys));
          if (sameMode(m2, mode as PiMode)) {
            commit(t, l, ig);
            t += l;
            remaining -= l;
          } else {
            remaining = l;
            newMode = m2;
          }
        }
        if (++events > 1e6) throw new Error(`case ${c.caseNumber}: more than 1e6 controller events (chattering?) at t = ${t} s`);
        if (newMode.heating !== (mode as PiMode).heating && subW !== undefined) subUntil = t + subW;
        mode = newMode;
        fineUntil = Math.max(fineUntil, t + piFineWindowS);
      }
      t = b;
      while (qi < querySet.length && querySet[qi] <= b + 1e-6) {
        cumAt.set(querySet[qi], cum);
        qi++;
      }
    }
  }

  const lookup = (tq: number): number => {
    // query times are knots (merged within 1e-6 s)
    for (const [k, v] of cumAt) if (Math.abs(k - tq) <= 1e-6) return v;
    throw new Error(`internal: no cumulative integral at t = ${tq}`);
  };
  return hourEndsS.map((tk) => (lookup(tk) - lookup(tk - 3600)) / 3600);
}

function sameMode(a: PiMode, b: PiMode): boolean {
  return a.heating === b.heating && a.piece === b.piece;
}

/** V (second output row) of a PI system at state z and inputs w. */
function vOf(ss: StateSpace, z: Float64Array, w: Float64Array): number {
  let v = 0;
  for (let i = 0; i < ss.nx; i++) v += ss.C[ss.nx + i] * z[i];
  for (let j = 0; j < ss.nu; j++) v += ss.D[ss.nu + j] * w[j];
  return v;
}

/**
 * Splits [a, b] into pieces on which every input is linear in time to within 1e-7 (abs + rel), by bisection
 * (the blocks are linear except the sky temperature).
 */
function linearPieces(
  a: number,
  b: number,
  inputs: (t: number, side: Side, out: Float64Array) => Float64Array,
  wa: Float64Array,
  wb: Float64Array,
  wm: Float64Array,
): [number, number][] {
  const out: [number, number][] = [];
  const rec = (x: number, y: number, depth: number): void => {
    inputs(x, 'right', wa);
    inputs(y, 'left', wb);
    const m = 0.5 * (x + y);
    inputs(m, 'right', wm);
    let ok = depth >= 14 || y - x <= 0.5;
    if (!ok) {
      ok = true;
      for (let j = 0; j < wa.length; j++) {
        const lin = 0.5 * (wa[j] + wb[j]);
        if (Math.abs(wm[j] - lin) > 1e-7 * (1 + Math.abs(lin))) ok = false;
      }
    }
    if (ok) out.push([x, y]);
    else {
      rec(x, m, depth + 1);
      rec(m, y, depth + 1);
    }
  };
  rec(a, b, 0);
  return out;
}

/**
 * Steady-state initialisation: all capacity temperatures (and, with the PI, the room under the controller with
 * its integrator fixed at its start value) have zero derivative for the inputs at t = 0. Writes z; returns the mode.
 */
function steadyState(model: CaseModel, vent: number, mode: PiMode | undefined, w0: Float64Array, z: Float64Array): PiMode | undefined {
  const candidates: (PiMode | undefined)[] = mode
    ? (['pos', 'neg', 'high', 'low'] as const).map((piece) => ({ heating: mode.heating, piece }))
    : [undefined];
  const plant = model.plant(vent);
  const nx = plant.ss.nx;
  for (const m of candidates) {
    const ss = model.system(vent, m).ss;
    const nz = ss.nx;
    // rows 0..nx−1 of A z + B w = 0 with z[nx..] fixed
    const Axx = new Float64Array(nx * nx);
    const rhs = new Float64Array(nx);
    for (let i = 0; i < nx; i++) {
      let r = 0;
      for (let j = 0; j < ss.nu; j++) r -= ss.B[i * ss.nu + j] * w0[j];
      for (let j = nx; j < nz; j++) r -= ss.A[i * nz + j] * z[j];
      rhs[i] = r;
      for (let j = 0; j < nx; j++) Axx[i * nx + j] = ss.A[i * nz + j];
    }
    let x: Float64Array;
    try {
      x = solve(Axx, rhs, nx, 1);
    } catch (e) {
      if (e instanceof SingularMatrixError) {
        throw new InvalidParameterError('initial_conditions.type', 'steady state is undefined: some capacity has no path to a boundary');
      }
      throw e;
    }
    z.set(x);
    if (!m) return undefined;
    const got = model.classify(plant, m, vOf(ss, z, w0));
    if (sameMode(got, m)) return m;
  }
  throw new InvalidParameterError('initial_conditions.type', 'no consistent steady state of the controlled room at t = 0');
}
