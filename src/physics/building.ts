// From a room archetype (archetypes.ts) to room.ts's VDI 6007 two-element room with a window element and our
// radiator-body node, and on to the exact discrete model the kernel steps.
import type { RoomArchetype, Era } from './archetypes.ts';
import { validateArchetype } from './archetypes.ts';
import { buildStateSpace } from './network.ts';
import type { HeatTarget, NetworkHeatInput, ThermalNetwork } from './network.ts';
import { AIR_RHO_CP_JM3K, buildRoomNetwork } from './room.ts';
import type { RoomParams } from './room.ts';
import { discretise } from './discretise.ts';
import type { DiscreteStateSpace, StateSpace } from './state-space.ts';
import { createHeaterModel } from './heater.ts';
import type { HeaterParams } from './heater.ts';
import type { KernelArchetype } from './kernel.ts';
import { InvalidParameterError } from './errors.ts';

/** Inputs of an archetype room model, in StateSpace input order. */
export const ROOM_INPUTS = ['T_amb', 'T_sup', 'T_ambWin', 'Q_gains', 'Q_sol_1', 'Q_heater'] as const;
/** States of an archetype room model: air (with furniture), exterior wall mass, interior mass, radiator body. */
export const ROOM_STATES = ['T_air', 'T_E1', 'T_I1', 'T_body'] as const;

/** Surface heat-transfer coefficients, W/(m²·K) (VDI 6007 / IBPSA typical values; outdoor film 25). */
export const SURFACE_COEFFS = { hConExt: 2.7, hConInt: 2.5, hConWin: 2.7, hRad: 5, hOut: 25 } as const;

/** Window U-value by era, W/(m²·K) (est.: single glazing before 1974 … low-e double glazing for RT2012). */
export const WINDOW_U_WM2K: Readonly<Record<Era, number>> = { pre1974: 4.9, '1974-1982': 3.3, '1989-2000': 2.9, rt2005: 1.8, rt2012: 1.4 };

/** Fraction of transmitted sun released to the air directly (rest to the wall surfaces), VDI ratioWinConRad. */
export const SOLAR_CONVECTIVE_FRACTION = 0.1;
/** Fraction of internal gains released by radiation to the surfaces (people, appliances, lighting; est.). */
export const GAINS_RADIATIVE_FRACTION = 0.5;

/**
 * The archetype as VDI 6007 two-element room parameters (room.ts), with a window element and the radiator body.
 * The envelope's conductance is split between windows (U by era) and opaque walls, whose capacity sits at
 * `exteriorCapacityDepth` of the wall's resistance from the inside.
 */
export function archetypeRoomParams(arch: RoomArchetype): RoomParams {
  const a = validateArchetype(arch);
  const { hConExt, hConInt, hConWin, hRad, hOut } = SURFACE_COEFFS;
  const aWin = a.windowAreaM2;
  const aExt = a.exteriorAreaM2 - aWin;
  const hWin = aWin * WINDOW_U_WM2K[a.era];
  const hOpaque = a.envelopeWK - hWin;
  if (!(hOpaque > 0)) throw new InvalidParameterError('envelopeWK', `must exceed the windows' ${hWin.toFixed(1)} W/K`);
  const rOpaque = 1 / hOpaque;
  const rRem = (1 - a.exteriorCapacityDepth) * rOpaque - 1 / (hOut * aExt);
  if (!(rRem > 0)) throw new InvalidParameterError('envelopeWK', 'too large for the exterior wall area (no resistance left outside the wall mass)');
  return {
    airVolumeM3: a.floorAreaM2 * a.heightM,
    airHeatCapacityJM3K: AIR_RHO_CP_JM3K * a.airCapacityFactor,
    hRadWm2K: hRad,
    extAreasM2: [aExt],
    hConExtWm2K: hConExt,
    extResistancesKW: [a.exteriorCapacityDepth * rOpaque],
    extRemResistanceKW: rRem,
    extCapacitiesJK: [a.exteriorCapacityJK],
    extOutdoorConductanceWK: hOut * aExt,
    intAreaM2: a.interiorAreaM2,
    hConIntWm2K: hConInt,
    intResistancesKW: [1 / (a.interiorAreaM2 * a.interiorMassCouplingWm2K)],
    intCapacitiesJK: [a.interiorCapacityJK],
    winAreasM2: [aWin],
    transparentAreasM2: [aWin],
    hConWinWm2K: hConWin,
    winResistanceKW: 1 / hWin,
    gWin: a.windowG,
    ratioWinConRad: SOLAR_CONVECTIVE_FRACTION,
    ventilationWK: a.ventilationWK,
    radiator: { capacityJK: a.radiator.capacityJK, conductanceWK: a.radiator.conductanceWK, radiativeFraction: a.radiator.radiativeFraction },
  };
}

/**
 * The archetype's thermal network: room.ts's two-element room with internal gains as one input `Q_gains` (W,
 * split convective/radiative by GAINS_RADIATIVE_FRACTION) and only the inputs a heated room uses: boundaries
 * `T_amb`, `T_sup`, `T_ambWin` (°C) and heat inputs `Q_gains`, `Q_sol_1` (transmitted sun, W), `Q_heater` (W).
 */
export function archetypeNetwork(arch: RoomArchetype): ThermalNetwork {
  const net = buildRoomNetwork(archetypeRoomParams(arch));
  const byName = new Map(net.heatInputs.map((h) => [h.name, h]));
  const scaled = (name: string, w: number): HeatTarget[] => (byName.get(name)?.targets ?? []).map((t) => ({ node: t.node, weight: t.weight * w }));
  const gains: NetworkHeatInput = { name: 'Q_gains', targets: [...scaled('Q_air', 1 - GAINS_RADIATIVE_FRACTION), ...scaled('Q_rad', GAINS_RADIATIVE_FRACTION)] };
  return { ...net, heatInputs: [gains, ...net.heatInputs.filter((h) => h.name === 'Q_sol_1' || h.name === 'Q_heater')] };
}

/** Continuous state space of an archetype room (inputs ROOM_INPUTS, states ROOM_STATES). */
export function archetypeStateSpace(a: RoomArchetype): StateSpace {
  return buildStateSpace(archetypeNetwork(a));
}

/** Exact discrete model of an archetype room at step dtS (s). */
export function archetypeModel(a: RoomArchetype, dtS: number): DiscreteStateSpace {
  return discretise(archetypeStateSpace(a), dtS);
}

/** A kernel archetype: the room's discrete model at dtS plus its heater (heater.ts parameters, defaults if omitted). */
export function buildKernelArchetype(a: RoomArchetype, dtS: number, heater: Partial<HeaterParams> = {}): KernelArchetype {
  return {
    name: a.name,
    model: archetypeModel(a, dtS),
    heater: createHeaterModel(heater),
    heaterInput: 'Q_heater',
    gainInput: 'Q_gains',
    bodyState: 'T_body',
  };
}
