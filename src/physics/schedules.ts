// Occupancy, heating setpoints and internal gains by hour of the week: the RT2012 (Th-BCE) conventional scenario
// as default for dwellings and offices, and any custom weekly profile with long-absence periods.
import { InvalidParameterError, requireFinite } from './errors.ts';

/** Occupancy state of a room during one hour. */
export type OccupancyState = 'occupied' | 'short_absence' | 'long_absence';

/** Heating setpoints per occupancy state, °C. RT2012 Th-BCE: 19 / 16 / 7. */
export interface SetpointsC {
  readonly occupied: number;
  readonly shortAbsence: number;
  readonly longAbsence: number;
}

/** Parameters of a weekly schedule. Hours are 0..167 from Monday 00:00. */
export interface ScheduleParams {
  /** 168 values: 1 when the room is occupied during that hour of the week, else 0. */
  readonly occupiedHours: readonly number[];
  readonly setpointsC: SetpointsC;
  /** Number of occupants present when occupied. */
  readonly occupants: number;
  /** Sensible heat per occupant, W (RT2012: 90 W per adult). */
  readonly perOccupantW: number;
  /** Floor area, m² (for per-area gains). */
  readonly floorAreaM2: number;
  /** Appliance gains while occupied, W/m² (RT2012 dwellings: 5.7). */
  readonly appliancesWm2: number;
  /** Appliance gains while absent (stand-by), W/m². */
  readonly appliancesAbsentWm2: number;
  /** Lighting gains in occupied hours when lights are in use, W/m² (RT2012: 2). */
  readonly lightingWm2: number;
  /** 24 values: 1 when lighting is in use during that hour of the day (occupied hours only). */
  readonly lightingHours: readonly number[];
  /** Fraction of internal gains released by radiation (rest is convective). */
  readonly radiativeFraction: number;
  /** Long absences: [firstDay, lastDay] inclusive, as day of year 0..365; setpoint drops to longAbsence. */
  readonly longAbsences: readonly (readonly [number, number])[];
}

/** What a schedule says for one hour. */
export interface ScheduleHour {
  readonly state: OccupancyState;
  readonly setpointC: number;
  readonly occupants: number;
  /** Internal gains split for the room model, W. */
  readonly convectiveW: number;
  readonly radiativeW: number;
}

/** RT2012 Th-BCE conventional setpoints: 19 °C occupied, 16 °C absence < 48 h, 7 °C longer absence. */
export const RT2012_SETPOINTS_C: SetpointsC = { occupied: 19, shortAbsence: 16, longAbsence: 7 };

const weekHours = (occupied: (day: number, hour: number) => boolean): number[] =>
  Array.from({ length: 168 }, (_, h) => (occupied(Math.floor(h / 24), h % 24) ? 1 : 0));

/**
 * RT2012 conventional dwelling: occupied every night and all weekend; absent 10:00–18:00 Monday to Friday,
 * except Wednesday afternoon (occupied from 14:00). Lighting in use 07:00–09:00 and 18:00–23:00 when occupied.
 */
export function rt2012Dwelling(floorAreaM2: number, occupants = 2, overrides: Partial<ScheduleParams> = {}): ScheduleParams {
  return validateSchedule({
    occupiedHours: weekHours((d, h) => d >= 5 || h < 10 || h >= 18 || (d === 2 && h >= 14)),
    setpointsC: RT2012_SETPOINTS_C,
    occupants,
    perOccupantW: 90,
    floorAreaM2,
    appliancesWm2: 5.7,
    appliancesAbsentWm2: 1.1,
    lightingWm2: 2,
    lightingHours: Array.from({ length: 24 }, (_, h) => (h >= 7 && h < 9) || (h >= 18 && h < 23) ? 1 : 0),
    radiativeFraction: 0.5,
    longAbsences: [],
    ...overrides,
  });
}

/** RT2012 conventional office: occupied 08:00–18:00 Monday to Friday; lights in use whenever occupied. */
export function rt2012Office(floorAreaM2: number, occupants = Math.max(1, Math.round(floorAreaM2 / 10)), overrides: Partial<ScheduleParams> = {}): ScheduleParams {
  return validateSchedule({
    occupiedHours: weekHours((d, h) => d < 5 && h >= 8 && h < 18),
    setpointsC: RT2012_SETPOINTS_C,
    occupants,
    perOccupantW: 90,
    floorAreaM2,
    appliancesWm2: 12,
    appliancesAbsentWm2: 1.5,
    lightingWm2: 6,
    lightingHours: Array.from({ length: 24 }, () => 1),
    radiativeFraction: 0.5,
    longAbsences: [],
    ...overrides,
  });
}

/** Checks every field of a schedule; throws InvalidParameterError naming the first bad one. */
export function validateSchedule(p: ScheduleParams): ScheduleParams {
  if (!Array.isArray(p.occupiedHours) || p.occupiedHours.length !== 168) throw new InvalidParameterError('occupiedHours', 'needs 168 values (hours of the week from Monday 00:00)');
  p.occupiedHours.forEach((v, i) => {
    if (v !== 0 && v !== 1) throw new InvalidParameterError(`occupiedHours[${i}]`, `must be 0 or 1, got ${String(v)}`);
  });
  if (!Array.isArray(p.lightingHours) || p.lightingHours.length !== 24) throw new InvalidParameterError('lightingHours', 'needs 24 values');
  p.lightingHours.forEach((v, i) => requireFinite(`lightingHours[${i}]`, v, 0, 1));
  requireFinite('setpointsC.occupied', p.setpointsC.occupied, 5, 30);
  requireFinite('setpointsC.shortAbsence', p.setpointsC.shortAbsence, 5, 30);
  requireFinite('setpointsC.longAbsence', p.setpointsC.longAbsence, 5, 30);
  requireFinite('occupants', p.occupants, 0, 1000);
  requireFinite('perOccupantW', p.perOccupantW, 0, 1000);
  requireFinite('floorAreaM2', p.floorAreaM2, 0);
  requireFinite('appliancesWm2', p.appliancesWm2, 0, 200);
  requireFinite('appliancesAbsentWm2', p.appliancesAbsentWm2, 0, 200);
  requireFinite('lightingWm2', p.lightingWm2, 0, 100);
  requireFinite('radiativeFraction', p.radiativeFraction, 0, 1);
  p.longAbsences.forEach(([a, b], i) => {
    requireFinite(`longAbsences[${i}][0]`, a, 0, 365);
    requireFinite(`longAbsences[${i}][1]`, b, a, 365);
  });
  return p;
}

/**
 * The schedule's hour at a given time. `dayOfWeek` 0 = Monday … 6 = Sunday, `hourOfDay` 0..23,
 * `dayOfYear` 0..365 (for long absences). Pure table lookup.
 */
export function scheduleAt(p: ScheduleParams, dayOfWeek: number, hourOfDay: number, dayOfYear: number): ScheduleHour {
  const long = p.longAbsences.some(([a, b]) => dayOfYear >= a && dayOfYear <= b);
  const occ = !long && p.occupiedHours[dayOfWeek * 24 + hourOfDay] === 1;
  const state: OccupancyState = long ? 'long_absence' : occ ? 'occupied' : 'short_absence';
  const setpointC = state === 'occupied' ? p.setpointsC.occupied : state === 'short_absence' ? p.setpointsC.shortAbsence : p.setpointsC.longAbsence;
  const occupants = occ ? p.occupants : 0;
  const totalW = occ
    ? occupants * p.perOccupantW + p.floorAreaM2 * (p.appliancesWm2 + p.lightingWm2 * p.lightingHours[hourOfDay])
    : p.floorAreaM2 * p.appliancesAbsentWm2;
  return { state, setpointC, occupants, convectiveW: totalW * (1 - p.radiativeFraction), radiativeW: totalW * p.radiativeFraction };
}

/** Precomputes 168 hourly setpoints (°C) and total gains (W) of a week without long absences, for fast loops. */
export function weeklyTables(p: ScheduleParams): { setpointC: Float64Array; gainsW: Float64Array } {
  const setpointC = new Float64Array(168);
  const gainsW = new Float64Array(168);
  for (let h = 0; h < 168; h++) {
    const s = scheduleAt({ ...p, longAbsences: [] }, Math.floor(h / 24), h % 24, -1);
    setpointC[h] = s.setpointC;
    gainsW[h] = s.convectiveW + s.radiativeW;
  }
  return { setpointC, gainsW };
}
