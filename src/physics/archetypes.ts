// Room archetypes for French dwellings and offices by construction era, as parameters (PHYSICS.md numbers):
// whole-house UA and heat capacity of EDF's reference "Mozart" house scaled to a room, plus geometry.
import { InvalidParameterError, requireFinite } from './errors.ts';
import { AIR_RHO_CP_JM3K } from './room.ts';

/** Construction eras of the EDF BuildSysPro "Mozart" reference house. */
export type Era = 'pre1974' | '1974-1982' | '1989-2000' | 'rt2005' | 'rt2012';

/** Whole-house figures for a 100 m² reference house, per era [EDF BuildSysPro records, derived]. */
export interface HouseFigures {
  /** Heat loss coefficient including ventilation, W/K. */
  readonly uaWK: number;
  /** Effective heat capacity, J/K (the least certain figure). */
  readonly capacityJK: number;
  /** Air changes per hour assumed for the ventilation share of UA (est.). */
  readonly airChangesPerH: number;
}

/** PHYSICS.md: before 1974 589 W/K 61 MJ/K; 1974–82 276/46; 1989–2000 189/46; RT2005 142/53; RT2012 108/7.5–40 (mid 24). */
export const MOZART_100M2: Readonly<Record<Era, HouseFigures>> = {
  pre1974: { uaWK: 589, capacityJK: 61e6, airChangesPerH: 1.0 },
  '1974-1982': { uaWK: 276, capacityJK: 46e6, airChangesPerH: 0.7 },
  '1989-2000': { uaWK: 189, capacityJK: 46e6, airChangesPerH: 0.6 },
  rt2005: { uaWK: 142, capacityJK: 53e6, airChangesPerH: 0.5 },
  rt2012: { uaWK: 108, capacityJK: 24e6, airChangesPerH: 0.4 },
};

/** ISO 13790 mass classes, J/(m²·K) of floor. */
export const ISO13790_MASS_JM2K = { light: 110e3, medium: 165e3, heavy: 260e3 } as const;

/** The radiator body of a computing heater (est.: 27 kg aluminium ≈ 24 kJ/K, coupling 12–17 W/K). */
export interface RadiatorBody {
  readonly capacityJK: number;
  readonly conductanceWK: number;
  /** Fraction of the body's heat released by radiation to the wall surfaces (rest convective to air). */
  readonly radiativeFraction: number;
}

export const DEFAULT_RADIATOR: RadiatorBody = { capacityJK: 24e3, conductanceWK: 15, radiativeFraction: 0.3 };

/** Electrical power of the unit DEFAULT_RADIATOR describes (three ≈165 W boards), W. */
export const DEFAULT_RADIATOR_POWER_W = 495;

/**
 * The radiator body of a heater of `maxPowerW` (boards at full load + booster): DEFAULT_RADIATOR scaled with
 * power, since a bigger unit has proportionally more metal and more surface (capacity and coupling scale
 * together, so the body's time constant and its temperature rise at full power stay those of the reference unit).
 */
export function radiatorForPower(maxPowerW: number): RadiatorBody {
  const k = requireFinite('maxPowerW', maxPowerW, 1) / DEFAULT_RADIATOR_POWER_W;
  return { ...DEFAULT_RADIATOR, capacityJK: DEFAULT_RADIATOR.capacityJK * k, conductanceWK: DEFAULT_RADIATOR.conductanceWK * k };
}

/** A room archetype: everything needed to build its two-element room model, in plain physical terms. */
export interface RoomArchetype {
  readonly name: string;
  readonly use: 'dwelling' | 'office';
  readonly era: Era;
  readonly floorAreaM2: number;
  readonly heightM: number;
  /** Conduction loss coefficient of the envelope (walls, roof/floor share, windows), W/K. */
  readonly envelopeWK: number;
  /** Ventilation/infiltration coefficient (ρ c_p V̇), W/K. */
  readonly ventilationWK: number;
  /** Heat capacity of the exterior envelope, J/K. */
  readonly exteriorCapacityJK: number;
  /** Heat capacity of interior walls, floors and furniture, J/K. */
  readonly interiorCapacityJK: number;
  /** Exterior wall area (opaque + glazed), m². */
  readonly exteriorAreaM2: number;
  /** Interior surface area (partitions, floor, ceiling), m². */
  readonly interiorAreaM2: number;
  /** Glazed area, m², and its total solar energy transmittance g. */
  readonly windowAreaM2: number;
  readonly windowG: number;
  /** Compass azimuth of the façade's outward normal, degrees (0 N, 90 E, 180 S, 270 W), as in weather/solar.ts. */
  readonly facadeAzimuthDeg: number;
  /** Position of the exterior capacity in the wall, as a fraction of the wall's resistance from the inside. */
  readonly exteriorCapacityDepth: number;
  /** Surface-to-mass conductance of interior elements per m², W/(m²·K). */
  readonly interiorMassCouplingWm2K: number;
  /** Effective air-node capacity multiplier over the air's own ρ c_p V (furniture in contact with air). */
  readonly airCapacityFactor: number;
  readonly radiator: RadiatorBody;
}

/** Per-era glazing ratio (window / floor area) and g-value (est.). */
const GLAZING: Readonly<Record<Era, { ratio: number; g: number }>> = {
  pre1974: { ratio: 0.12, g: 0.75 },
  '1974-1982': { ratio: 0.14, g: 0.7 },
  '1989-2000': { ratio: 0.15, g: 0.65 },
  rt2005: { ratio: 0.16, g: 0.6 },
  rt2012: { ratio: 0.18, g: 0.55 },
};

/**
 * A dwelling room of `floorAreaM2` (typ. 14–28 m²) scaled from the era's 100 m² reference house: UA and capacity
 * per m² of floor; the ventilation share from the era's air changes; 30 % of capacity in the exterior envelope.
 */
export function dwellingRoom(era: Era, floorAreaM2 = 20, overrides: Partial<RoomArchetype> = {}): RoomArchetype {
  const h = MOZART_100M2[era];
  if (!h) throw new InvalidParameterError('era', `unknown era '${String(era)}'; one of ${Object.keys(MOZART_100M2).join(', ')}`);
  requireFinite('floorAreaM2', floorAreaM2, 1, 10000);
  const k = floorAreaM2 / 100;
  const heightM = 2.5;
  const ventilationWK = (h.airChangesPerH * floorAreaM2 * heightM * AIR_RHO_CP_JM3K) / 3600;
  const envelopeWK = Math.max(h.uaWK * k - ventilationWK, 0.2 * h.uaWK * k);
  const gl = GLAZING[era];
  const a: RoomArchetype = {
    name: `dwelling-${era}-${floorAreaM2}m2`,
    use: 'dwelling',
    era,
    floorAreaM2,
    heightM,
    envelopeWK,
    ventilationWK,
    exteriorCapacityJK: 0.3 * h.capacityJK * k,
    interiorCapacityJK: 0.7 * h.capacityJK * k,
    exteriorAreaM2: Math.sqrt(floorAreaM2) * heightM * 1.5,
    interiorAreaM2: 2.5 * floorAreaM2,
    windowAreaM2: gl.ratio * floorAreaM2,
    windowG: gl.g,
    facadeAzimuthDeg: 180,
    exteriorCapacityDepth: 0.1,
    interiorMassCouplingWm2K: 20,
    airCapacityFactor: 5,
    radiator: DEFAULT_RADIATOR,
  };
  return validateArchetype({ ...a, ...overrides });
}

/**
 * An office room: same envelope figures per m² as the era's dwellings but 40 % more glazing and lighter
 * interior capacity (partitions, raised floors), est.
 */
export function officeRoom(era: Era, floorAreaM2 = 25, overrides: Partial<RoomArchetype> = {}): RoomArchetype {
  const d = dwellingRoom(era, floorAreaM2);
  return validateArchetype({
    ...d,
    name: `office-${era}-${floorAreaM2}m2`,
    use: 'office',
    heightM: 2.7,
    windowAreaM2: d.windowAreaM2 * 1.4,
    interiorCapacityJK: d.interiorCapacityJK * 0.6,
    ...overrides,
  });
}

/** Checks every field; throws InvalidParameterError naming the first bad one. */
export function validateArchetype(a: RoomArchetype): RoomArchetype {
  requireFinite('floorAreaM2', a.floorAreaM2, 1e-3);
  requireFinite('heightM', a.heightM, 1, 20);
  requireFinite('envelopeWK', a.envelopeWK, 1e-6);
  requireFinite('ventilationWK', a.ventilationWK, 0);
  requireFinite('exteriorCapacityJK', a.exteriorCapacityJK, 1);
  requireFinite('interiorCapacityJK', a.interiorCapacityJK, 1);
  requireFinite('exteriorAreaM2', a.exteriorAreaM2, 1e-3);
  requireFinite('interiorAreaM2', a.interiorAreaM2, 1e-3);
  requireFinite('windowAreaM2', a.windowAreaM2, 0, a.exteriorAreaM2);
  requireFinite('windowG', a.windowG, 0, 1);
  requireFinite('facadeAzimuthDeg', a.facadeAzimuthDeg, 0, 360);
  requireFinite('exteriorCapacityDepth', a.exteriorCapacityDepth, 0.01, 0.99);
  requireFinite('interiorMassCouplingWm2K', a.interiorMassCouplingWm2K, 1e-3);
  requireFinite('airCapacityFactor', a.airCapacityFactor, 1);
  requireFinite('radiator.capacityJK', a.radiator.capacityJK, 1);
  requireFinite('radiator.conductanceWK', a.radiator.conductanceWK, 1e-3);
  requireFinite('radiator.radiativeFraction', a.radiator.radiativeFraction, 0, 1);
  return a;
}

/** Steady-state loss coefficient of the archetype (envelope + ventilation), W/K. */
export function archetypeUaWK(a: RoomArchetype): number {
  return a.envelopeWK + a.ventilationWK;
}
