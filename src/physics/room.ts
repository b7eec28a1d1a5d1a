// The VDI 6007-1 two-element room (IBPSA ThermalZones.ReducedOrder.RC.TwoElements) as a thermal network, plus our
// heater's radiator-body node, and the pure helpers of its test benches (equivalent air temperature, sky, sun blind).
import { InvalidParameterError, requireFinite } from './errors.ts';
import { buildStateSpace } from './network.ts';
import type { HeatTarget, NetworkHeatInput, NetworkLink, NetworkNode, NetworkOutput, ThermalNetwork } from './network.ts';
import type { StateSpace } from './state-space.ts';

/** Specific heat of air, J/(kg·K) (Modelica.Media.Air.SimpleAir). */
export const AIR_CP_JKGK = 1005.45;
/** Default volumetric heat capacity of room air ρ·c_p, J/(m³·K) (SimpleAir at 20 °C, 101325 Pa: ρ ≈ 1.2041 kg/m³). */
export const AIR_RHO_CP_JM3K = (101325 / ((8.314462618 / 0.0289651159) * 293.15)) * AIR_CP_JKGK;

/** The radiator body of a computing heater: the boards' electrical power heats it; it heats the room. */
export interface RadiatorBodyParams {
  /** Heat capacity of the body, J/K (≈ 24 kJ/K for 27 kg of aluminium; 0 = massless). */
  readonly capacityJK: number;
  /** Total body-to-room conductance, W/K (≈ 12–17 W/K). */
  readonly conductanceWK: number;
  /** Fraction of the conductance that is radiative to the wall surfaces (split by area); the rest goes to the air. Default 0. */
  readonly radiativeFraction?: number;
}

/**
 * Parameters of the two-element room. Names follow the IBPSA parameters (in brackets) with units appended.
 * Per-orientation arrays (extAreasM2, winAreasM2, transparentAreasM2) share one length = number of orientations.
 */
export interface RoomParams {
  /** Air volume, m³ [VAir]; 0 = massless air node. */
  readonly airVolumeM3: number;
  /** Volumetric heat capacity of air ρ·c_p, J/(m³·K); default AIR_RHO_CP_JM3K. */
  readonly airHeatCapacityJM3K?: number;
  /** Linearised long-wave coefficient between wall surfaces, W/(m²·K) [hRad]. */
  readonly hRadWm2K: number;
  /** Exterior wall areas per orientation, m² [AExt]. */
  readonly extAreasM2: readonly number[];
  /** Indoor convective coefficient of exterior walls, W/(m²·K) [hConExt]. */
  readonly hConExtWm2K: number;
  /** Exterior chain resistances, inside to outside, K/W [RExt] (length nExt ≥ 1). */
  readonly extResistancesKW: readonly number[];
  /** Remaining resistance from the last exterior capacity to the outdoor port, K/W [RExtRem]. */
  readonly extRemResistanceKW: number;
  /** Exterior chain capacities, J/K [CExt] (length nExt). */
  readonly extCapacitiesJK: readonly number[];
  /** Interior wall area, m² [AInt]. */
  readonly intAreaM2: number;
  /** Indoor convective coefficient of interior walls, W/(m²·K) [hConInt]. */
  readonly hConIntWm2K: number;
  /** Interior chain resistances, surface to centre, K/W [RInt] (length nInt ≥ 1). */
  readonly intResistancesKW: readonly number[];
  /** Interior chain capacities, J/K [CInt] (length nInt). */
  readonly intCapacitiesJK: readonly number[];
  /** Window areas per orientation for heat transfer, m² [AWin]; all 0 = no window element. */
  readonly winAreasM2: readonly number[];
  /** Solar-transmitting window areas per orientation, m² [ATransparent]. */
  readonly transparentAreasM2: readonly number[];
  /** Indoor convective coefficient of windows, W/(m²·K) [hConWin] (used only with a window element). */
  readonly hConWinWm2K: number;
  /** Window resistance from the window surface to the window outdoor port, K/W [RWin] (used only with a window element). */
  readonly winResistanceKW: number;
  /** Total solar energy transmittance of the windows [gWin]. */
  readonly gWin: number;
  /** Fraction of transmitted solar heat released convectively to the air [ratioWinConRad]. */
  readonly ratioWinConRad: number;
  /** Conductance between the outdoor port of the exterior chain and T_amb, W/K (e.g. 25 W/(m²K)·ΣAExt). */
  readonly extOutdoorConductanceWK: number;
  /** Optional conductance between the window outdoor port and T_ambWin, W/K; absent = RWin ends at T_ambWin. */
  readonly winOutdoorConductanceWK?: number;
  /** Ventilation conductance ṁ·c_p between the air and T_sup, W/K; default 0. Build one model per rate. */
  readonly ventilationWK?: number;
  /** Our heater's radiator body; absent = no body node and no Q_heater input. */
  readonly radiator?: RadiatorBodyParams;
}

/** Options of buildRoomModel. */
export interface RoomModelOptions {
  /**
   * Ideal air-temperature source: the air node becomes the boundary input `T_airSet` (its capacity is dropped)
   * and output `Q_airSource` is the heat flowing from the room into the source (W, > 0 = cooling).
   */
  readonly prescribedAir?: boolean;
}

/** Derived sizes of a room. */
export interface RoomGeometry {
  readonly nOrientations: number;
  readonly aTotExtM2: number;
  readonly aTotWinM2: number;
  readonly aTotM2: number;
  readonly hasWindow: boolean;
}

/** Validates the parameters (InvalidParameterError naming the field, e.g. `params.extCapacitiesJK[0]`) and returns the areas, m². */
export function roomGeometry(p: RoomParams, prefix = 'params'): RoomGeometry {
  const f = (k: string): string => `${prefix}.${k}`;
  const arr = (k: keyof RoomParams, v: unknown, min: number, minLen = 1): readonly number[] => {
    if (!Array.isArray(v)) throw new InvalidParameterError(f(k), 'must be an array of numbers');
    if (v.length < minLen) throw new InvalidParameterError(f(k), `must have at least ${minLen} element(s)`);
    v.forEach((x, i) => requireFinite(`${f(k)}[${i}]`, x, min));
    return v as readonly number[];
  };
  if (typeof p !== 'object' || p === null) throw new InvalidParameterError(prefix, 'must be an object');
  requireFinite(f('airVolumeM3'), p.airVolumeM3, 0);
  if (p.airHeatCapacityJM3K !== undefined) requireFinite(f('airHeatCapacityJM3K'), p.airHeatCapacityJM3K, 0);
  requireFinite(f('hRadWm2K'), p.hRadWm2K, 0);
  const aExt = arr('extAreasM2', p.extAreasM2, 0);
  const no = aExt.length;
  requireFinite(f('hConExtWm2K'), p.hConExtWm2K, 0);
  const rExt = arr('extResistancesKW', p.extResistancesKW, 0);
  rExt.forEach((r, i) => {
    if (!(r > 0)) throw new InvalidParameterError(`${f('extResistancesKW')}[${i}]`, `must be > 0, got ${r}`);
  });
  const cExt = arr('extCapacitiesJK', p.extCapacitiesJK, 0);
  if (cExt.length !== rExt.length) throw new InvalidParameterError(f('extCapacitiesJK'), `must have nExt = ${rExt.length} elements like extResistancesKW, got ${cExt.length}`);
  requireFinite(f('extRemResistanceKW'), p.extRemResistanceKW, 0);
  if (!(p.extRemResistanceKW > 0)) throw new InvalidParameterError(f('extRemResistanceKW'), `must be > 0, got ${p.extRemResistanceKW}`);
  requireFinite(f('intAreaM2'), p.intAreaM2, 0);
  requireFinite(f('hConIntWm2K'), p.hConIntWm2K, 0);
  const rInt = arr('intResistancesKW', p.intResistancesKW, 0);
  rInt.forEach((r, i) => {
    if (!(r > 0)) throw new InvalidParameterError(`${f('intResistancesKW')}[${i}]`, `must be > 0, got ${r}`);
  });
  const cInt = arr('intCapacitiesJK', p.intCapacitiesJK, 0);
  if (cInt.length !== rInt.length) throw new InvalidParameterError(f('intCapacitiesJK'), `must have nInt = ${rInt.length} elements like intResistancesKW, got ${cInt.length}`);
  const aWin = arr('winAreasM2', p.winAreasM2, 0);
  if (aWin.length !== no) throw new InvalidParameterError(f('winAreasM2'), `must have one value per orientation (${no}), got ${aWin.length}`);
  const aTr = arr('transparentAreasM2', p.transparentAreasM2, 0);
  if (aTr.length !== no) throw new InvalidParameterError(f('transparentAreasM2'), `must have one value per orientation (${no}), got ${aTr.length}`);
  requireFinite(f('hConWinWm2K'), p.hConWinWm2K, 0);
  requireFinite(f('winResistanceKW'), p.winResistanceKW, 0);
  requireFinite(f('gWin'), p.gWin, 0);
  requireFinite(f('ratioWinConRad'), p.ratioWinConRad, 0, 1);
  requireFinite(f('extOutdoorConductanceWK'), p.extOutdoorConductanceWK, 0);
  if (!(p.extOutdoorConductanceWK > 0)) throw new InvalidParameterError(f('extOutdoorConductanceWK'), `must be > 0, got ${p.extOutdoorConductanceWK}`);
  if (p.winOutdoorConductanceWK !== undefined) requireFinite(f('winOutdoorConductanceWK'), p.winOutdoorConductanceWK, 0);
  if (p.ventilationWK !== undefined) requireFinite(f('ventilationWK'), p.ventilationWK, 0);
  if (p.radiator !== undefined) {
    if (typeof p.radiator !== 'object' || p.radiator === null) throw new InvalidParameterError(f('radiator'), 'must be an object');
    requireFinite(f('radiator.capacityJK'), p.radiator.capacityJK, 0);
    requireFinite(f('radiator.conductanceWK'), p.radiator.conductanceWK, 0);
    if (!(p.radiator.conductanceWK > 0)) throw new InvalidParameterError(f('radiator.conductanceWK'), `must be > 0, got ${p.radiator.conductanceWK}`);
    if (p.radiator.radiativeFraction !== undefined) requireFinite(f('radiator.radiativeFraction'), p.radiator.radiativeFraction, 0, 1);
  }
  const aTotExtM2 = aExt.reduce((s, a) => s + a, 0);
  const aTotWinM2 = aWin.reduce((s, a) => s + a, 0);
  const hasWindow = aTotWinM2 > 0;
  if (hasWindow && !(p.winResistanceKW > 0)) throw new InvalidParameterError(f('winResistanceKW'), `must be > 0 when there is a window element, got ${p.winResistanceKW}`);
  if (!(aTotExtM2 > 0)) throw new InvalidParameterError(f('extAreasM2'), 'the exterior wall area must be > 0');
  const aTotM2 = aTotExtM2 + aTotWinM2 + p.intAreaM2;
  return { nOrientations: no, aTotExtM2, aTotWinM2, aTotM2, hasWindow };
}

/** Solar split of orientation k: shares of (1 − ratioWinConRad)·Q_sol,k on the surfaces sE, sW, sI (excluding same orientation). */
export function solarSplit(p: RoomParams, g: RoomGeometry, k: number): { ext: number; win: number; int: number } {
  const denom = g.aTotM2 - p.extAreasM2[k] - p.winAreasM2[k];
  if (!(denom > 0)) {
    throw new InvalidParameterError(`params.extAreasM2[${k}]`, `no surface left to receive the solar radiation of orientation ${k + 1}`);
  }
  return {
    ext: (g.aTotExtM2 - p.extAreasM2[k]) / denom,
    win: (g.aTotWinM2 - p.winAreasM2[k]) / denom,
    int: p.intAreaM2 / denom,
  };
}

/**
 * The room as a ThermalNetwork (see buildRoomModel for names and units). Nodes: T_air, T_sE, T_sI, [T_sW],
 * T_E1..T_En, T_oE, T_I1..T_In, [T_oW], [T_body].
 */
export function buildRoomNetwork(p: RoomParams, options: RoomModelOptions = {}): ThermalNetwork {
  const g = roomGeometry(p);
  const prescribed = options.prescribedAir === true;
  const air = prescribed ? 'T_airSet' : 'T_air';
  const nExt = p.extResistancesKW.length;
  const nInt = p.intResistancesKW.length;
  const nodes: NetworkNode[] = [];
  if (!prescribed) nodes.push({ name: 'T_air', capacityJK: p.airVolumeM3 * (p.airHeatCapacityJM3K ?? AIR_RHO_CP_JM3K) });
  nodes.push({ name: 'T_sE', capacityJK: 0 }, { name: 'T_sI', capacityJK: 0 });
  if (g.hasWindow) nodes.push({ name: 'T_sW', capacityJK: 0 });
  for (let i = 0; i < nExt; i++) nodes.push({ name: `T_E${i + 1}`, capacityJK: p.extCapacitiesJK[i] });
  nodes.push({ name: 'T_oE', capacityJK: 0 });
  for (let i = 0; i < nInt; i++) nodes.push({ name: `T_I${i + 1}`, capacityJK: p.intCapacitiesJK[i] });
  const winOut = g.hasWindow && p.winOutdoorConductanceWK !== undefined;
  if (winOut) nodes.push({ name: 'T_oW', capacityJK: 0 });
  if (p.radiator) nodes.push({ name: 'T_body', capacityJK: p.radiator.capacityJK });

  const boundaries = ['T_amb', 'T_sup'];
  if (g.hasWindow) boundaries.push('T_ambWin');
  if (prescribed) boundaries.push('T_airSet');

  const links: NetworkLink[] = [];
  const link = (a: string, b: string, conductanceWK: number): void => {
    links.push({ a, b, conductanceWK });
  };
  // convection to the air
  link('T_sE', air, g.aTotExtM2 * p.hConExtWm2K);
  link('T_sI', air, p.intAreaM2 * p.hConIntWm2K);
  if (g.hasWindow) link('T_sW', air, g.aTotWinM2 * p.hConWinWm2K);
  // radiative mesh, no star node
  link('T_sE', 'T_sI', Math.min(g.aTotExtM2, p.intAreaM2) * p.hRadWm2K);
  if (g.hasWindow) {
    link('T_sE', 'T_sW', Math.min(g.aTotExtM2, g.aTotWinM2) * p.hRadWm2K);
    link('T_sW', 'T_sI', Math.min(g.aTotWinM2, p.intAreaM2) * p.hRadWm2K);
  }
  // exterior chain
  let prev = 'T_sE';
  for (let i = 0; i < nExt; i++) {
    link(prev, `T_E${i + 1}`, 1 / p.extResistancesKW[i]);
    prev = `T_E${i + 1}`;
  }
  link(prev, 'T_oE', 1 / p.extRemResistanceKW);
  link('T_oE', 'T_amb', p.extOutdoorConductanceWK);
  // interior chain (adiabatic centre)
  prev = 'T_sI';
  for (let i = 0; i < nInt; i++) {
    link(prev, `T_I${i + 1}`, 1 / p.intResistancesKW[i]);
    prev = `T_I${i + 1}`;
  }
  // window
  if (g.hasWindow) {
    if (winOut) {
      link('T_sW', 'T_oW', 1 / p.winResistanceKW);
      link('T_oW', 'T_ambWin', p.winOutdoorConductanceWK ?? 0);
    } else {
      link('T_sW', 'T_ambWin', 1 / p.winResistanceKW);
    }
  }
  // ventilation
  link(air, 'T_sup', p.ventilationWK ?? 0);
  // surfaces by area, for radiative splits
  const byArea = (total: number): HeatTarget[] => {
    const t: HeatTarget[] = [
      { node: 'T_sE', weight: (total * g.aTotExtM2) / g.aTotM2 },
      { node: 'T_sI', weight: (total * p.intAreaM2) / g.aTotM2 },
    ];
    if (g.hasWindow) t.push({ node: 'T_sW', weight: (total * g.aTotWinM2) / g.aTotM2 });
    return t;
  };
  // radiator body
  if (p.radiator) {
    const fr = p.radiator.radiativeFraction ?? 0;
    const gb = p.radiator.conductanceWK;
    link('T_body', air, gb * (1 - fr));
    if (fr > 0) for (const t of byArea(gb * fr)) link('T_body', t.node, t.weight);
  }

  const heatInputs: NetworkHeatInput[] = [
    { name: 'Q_air', targets: [{ node: air, weight: 1 }] },
    { name: 'Q_rad', targets: byArea(1) },
    { name: 'Q_surfExt', targets: [{ node: 'T_sE', weight: 1 }] },
    { name: 'Q_surfInt', targets: [{ node: 'T_sI', weight: 1 }] },
  ];
  if (g.hasWindow) heatInputs.push({ name: 'Q_surfWin', targets: [{ node: 'T_sW', weight: 1 }] });
  for (let k = 0; k < g.nOrientations; k++) {
    const s = solarSplit(p, g, k);
    const r = p.ratioWinConRad;
    const targets: HeatTarget[] = [
      { node: air, weight: r },
      { node: 'T_sE', weight: (1 - r) * s.ext },
      { node: 'T_sI', weight: (1 - r) * s.int },
    ];
    if (g.hasWindow) targets.push({ node: 'T_sW', weight: (1 - r) * s.win });
    heatInputs.push({ name: `Q_sol_${k + 1}`, targets });
  }
  if (p.radiator) heatInputs.push({ name: 'Q_heater', targets: [{ node: 'T_body', weight: 1 }] });

  const outputs: NetworkOutput[] = [{ name: 'T_air', kind: 'temperature', node: air }];
  for (const nd of nodes) if (nd.name !== 'T_air') outputs.push({ name: nd.name, kind: 'temperature', node: nd.name });
  const radTerms: HeatTarget[] = [
    { node: 'T_sE', weight: g.aTotExtM2 / g.aTotM2 },
    { node: 'T_sI', weight: p.intAreaM2 / g.aTotM2 },
  ];
  if (g.hasWindow) radTerms.push({ node: 'T_sW', weight: g.aTotWinM2 / g.aTotM2 });
  outputs.push({ name: 'T_rad', kind: 'combination', terms: radTerms });
  outputs.push({ name: 'Q_amb', kind: 'boundaryFlow', boundary: 'T_amb' });
  outputs.push({ name: 'Q_sup', kind: 'boundaryFlow', boundary: 'T_sup' });
  if (g.hasWindow) outputs.push({ name: 'Q_ambWin', kind: 'boundaryFlow', boundary: 'T_ambWin' });
  if (prescribed) outputs.push({ name: 'Q_airSource', kind: 'boundaryFlow', boundary: 'T_airSet' });
  return { nodes, boundaries, links, heatInputs, outputs };
}

/**
 * Builds the two-element room (VDI 6007-1 / IBPSA TwoElements) with our radiator body as a continuous StateSpace.
 * States (°C): the nodes with capacity, in the order T_air (if airVolumeM3 > 0), T_E1..n, T_I1..n, T_body.
 * Inputs: T_amb (°C, outdoor / equivalent air temperature at the exterior chain), T_sup (°C, ventilation supply),
 * [T_ambWin (°C) with a window element], [T_airSet (°C) with prescribedAir], Q_air (W, convective gains),
 * Q_rad (W, radiative gains split by area), Q_surfExt, Q_surfInt, [Q_surfWin] (W, heat ports at the surfaces),
 * Q_sol_1..n (W, transmitted solar heat gWin·ATransparent[k]·solRad[k]), [Q_heater (W, electrical power into the body)].
 * Outputs: T_air, T_sE, T_sI, [T_sW], T_E*, T_oE, T_I*, [T_oW], [T_body], T_rad (°C), Q_amb, Q_sup, [Q_ambWin],
 * [Q_airSource] (W, heat leaving the room into each boundary).
 */
export function buildRoomModel(params: RoomParams, options: RoomModelOptions = {}): StateSpace {
  return buildStateSpace(buildRoomNetwork(params, options));
}

/**
 * Ventilation conductance ṁ·c_p (W/K) of a volume flow in m³/h at density ρ (kg/m³) and c_p (J/(kg·K)); the
 * default ρ is the VDI 6007 bench's 3.30375898e-4 kg/s per m³/h.
 */
export function ventilationConductanceWK(volumeFlowM3h: number, rhoKgM3 = 3.30375898e-4 * 3600, cpJKgK = AIR_CP_JKGK): number {
  requireFinite('volumeFlowM3h', volumeFlowM3h, 0);
  return (volumeFlowM3h / 3600) * rhoKgM3 * cpJKgK;
}

/** Transmitted solar heat of orientation k (0-based), W, from the radiation solRad (W/m², after any sun blind). */
export function solarGainW(p: RoomParams, k: number, solRadWm2: number): number {
  return p.gWin * p.transparentAreasM2[k] * solRadWm2;
}

/** Sun-blind transmittance factor g (1): gClosed when the irradiance (W/m²) is strictly above the threshold, else gOpen. */
export function sunblindFactor(irradianceWm2: number, thresholdWm2 = 100, gClosed = 0.15, gOpen = 1): number {
  return irradianceWm2 > thresholdWm2 ? gClosed : gOpen;
}

/**
 * Black-body sky temperature (°C) from the long-wave sky irradiation H (W/m²), isotropic sky:
 * θ_sky = (H / (ε σ))^(1/4) − 273.15. The defaults ε = 0.93 and σ = 5.67e-8 W/(m²K⁴) give the VDI 6007 test
 * bench's 65.99081593·H^(1/4) K (MODEL.md §6.4).
 */
export function skyTemperatureFromIrradiationC(hSkyWm2: number, emissivity = 0.93, sigmaWm2K4 = 5.67e-8): number {
  return Math.pow(Math.max(hSkyWm2, 0) / (emissivity * sigmaWm2K4), 0.25) - 273.15;
}

/** Parameters of the VDI 6007 equivalent outdoor air temperature (IBPSA EquivalentAirTemperature.VDI6007). */
export interface EquivalentAirTemperatureParams {
  /** Solar absorptance of the exterior walls (1). */
  readonly aExt: number;
  /** Outdoor convective coefficient of the walls, W/(m²K). */
  readonly hConWallOutWm2K: number;
  /** Outdoor long-wave coefficient, W/(m²K). */
  readonly hRadWm2K: number;
  readonly withLongwave: boolean;
  /** Weights of the walls per orientation (1). */
  readonly wfWall: readonly number[];
  /** Weights of the windows per orientation (1). */
  readonly wfWin: readonly number[];
  /** Weight of the ground (1). */
  readonly wfGro: number;
  /** Ground (or adjacent space) temperature, °C. */
  readonly tGroC: number;
}

/**
 * VDI 6007 equivalent outdoor air temperature (°C): dry-bulb tDryBulC (°C), black-body sky tBlaSkyC (°C), solar
 * irradiation on the walls hSolWm2[i] (W/m²) and sun-blind closure sunblind[i] (0 open … 1 closed) per orientation.
 * Evaluated in kelvin like the source, so weights that do not sum exactly to 1 behave the same.
 */
export function equivalentAirTemperatureC(
  p: EquivalentAirTemperatureParams,
  tDryBulC: number,
  tBlaSkyC: number,
  hSolWm2: ArrayLike<number>,
  sunblind: ArrayLike<number>,
): number {
  const K = 273.15;
  const h = p.hRadWm2K + p.hConWallOutWm2K;
  const tDry = tDryBulC + K;
  const dLw = ((tBlaSkyC - tDryBulC) * p.hRadWm2K) / h;
  let t = p.wfGro * (p.tGroC + K);
  for (let i = 0; i < p.wfWall.length; i++) {
    const dSw = (hSolWm2[i] * p.aExt) / h;
    const tWall = p.withLongwave ? tDry + dLw + dSw : tDry + dSw;
    const tWin = p.withLongwave ? tDry + dLw * (1 - sunblind[i]) : tDry;
    t += p.wfWall[i] * tWall + p.wfWin[i] * tWin;
  }
  return t - K;
}
