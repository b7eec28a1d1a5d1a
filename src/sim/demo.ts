// The start demo (until the live platform exists): one building in zone H2c heated by computing radiators for a
// week of January at 1-minute steps, driven by a simple PI thermostat per room; returns tables and series.
import { dwellingRoom, officeRoom } from '../physics/archetypes.ts';
import type { RoomArchetype } from '../physics/archetypes.ts';
import { buildKernelArchetype } from '../physics/building.ts';
import { allocateFleetArrays, RoomKernel } from '../physics/kernel.ts';
import type { KernelGroup } from '../physics/kernel.ts';
import { planHeat, QC1_HEATER, DEFAULT_HEATER } from '../physics/heater.ts';
import type { HeaterParams } from '../physics/heater.ts';
import { rt2012Dwelling, rt2012Office, scheduleAt } from '../physics/schedules.ts';
import type { ScheduleParams } from '../physics/schedules.ts';
import { generateWeather } from '../physics/weather/synthetic.ts';
import type { ClimateZone } from '../physics/weather/synthetic.ts';
import { surfaceIrradiance, windowSolarGainW } from '../physics/weather/solar.ts';
import { weatherAt } from '../physics/weather/types.ts';
import { InvalidParameterError } from '../physics/errors.ts';

export interface DemoOptions {
  readonly zone: ClimateZone;
  readonly seed: number;
  /** First day (0-based day of year, a Monday by convention of the schedules). */
  readonly startDay: number;
  readonly days: number;
  readonly dtS: number;
  readonly onProgress?: (fraction: number) => void;
}

export const DEFAULT_DEMO: DemoOptions = { zone: 'H2c', seed: 1, startDay: 7, days: 7, dtS: 60 };

interface DemoRoom {
  readonly label: string;
  readonly facade: string;
  readonly arch: RoomArchetype;
  readonly heater: Partial<HeaterParams>;
  readonly schedule: ScheduleParams;
}

/** A small renovated (RT2005-era) social building: flats on four façades, an office, one room with a booster. */
function demoBuilding(): DemoRoom[] {
  const facades: [string, number][] = [['S', 180], ['N', 0], ['E', 90], ['W', 270]];
  const rooms: DemoRoom[] = [];
  facades.forEach(([f, az], i) => {
    const area = 14 + 2 * i;
    rooms.push({ label: `flat ${i + 1} living`, facade: f, arch: dwellingRoom('rt2005', area, { facadeAzimuthDeg: az }), heater: DEFAULT_HEATER, schedule: rt2012Dwelling(area, 1) });
  });
  rooms.push({ label: 'flat 5 bedroom', facade: 'N', arch: dwellingRoom('1989-2000', 16, { facadeAzimuthDeg: 0 }), heater: QC1_HEATER, schedule: rt2012Dwelling(16, 1) });
  rooms.push({ label: 'social office', facade: 'S', arch: officeRoom('rt2005', 20, { facadeAzimuthDeg: 180 }), heater: DEFAULT_HEATER, schedule: rt2012Office(20, 2) });
  return rooms;
}

export interface DemoRoomResult {
  readonly label: string;
  readonly facade: string;
  readonly areaM2: number;
  readonly meanC: number;
  readonly minC: number;
  readonly maxC: number;
  /** Time-integral of the shortfall below (setpoint − 0.5 K) while occupied, K·h. */
  readonly discomfortKh: number;
  /** Heat released by the heater (= electricity drawn), kWh. */
  readonly heatKWh: number;
  /** Board-hours of compute at full throughput. */
  readonly computeBoardHours: number;
}

export interface DemoResult {
  readonly zone: ClimateZone;
  readonly days: number;
  readonly dtS: number;
  readonly outdoor: { readonly meanC: number; readonly minC: number; readonly maxC: number };
  readonly rooms: readonly DemoRoomResult[];
  /** Sampled every 10 minutes: hours from the start, outdoor, each room's air, the first room's setpoint. */
  readonly series: { readonly hours: number[]; readonly outdoorC: number[]; readonly roomsC: number[][]; readonly setpointC: number[] };
}

/** PI thermostat gains for the demo (W/K and s); the real controllers come with the control part. */
const KP_WK = 200;
/** Days simulated before the reported period so that the walls' stored heat settles (not recorded). */
const WARMUP_DAYS = 3;
const TI_S = 1800;

/** Runs the demo simulation (pure: no I/O; progress through the callback). */
export function runDemo(o: DemoOptions = DEFAULT_DEMO): DemoResult {
  if (!(o.days > 0 && o.days <= 366)) throw new InvalidParameterError('days', `must be within (0, 366], got ${o.days}`);
  if (!(o.dtS > 0 && o.dtS <= 3600)) throw new InvalidParameterError('dtS', `must be within (0, 3600], got ${o.dtS}`);
  const rooms = demoBuilding();
  const weather = generateWeather(o.zone, { seed: o.seed, years: 1 });
  const archetypes = rooms.map((r) => buildKernelArchetype(r.arch, o.dtS, r.heater));
  const groups: KernelGroup[] = rooms.map((_, k) => ({ archetype: k, start: k, count: 1 }));
  const fleet = allocateFleetArrays(rooms.length, 4);
  const kernel = new RoomKernel(archetypes, groups, fleet);
  const iAir = archetypes[0].model.stateNames.indexOf('T_air');
  const iBody = archetypes[0].model.stateNames.indexOf('T_body');
  kernel.fill(19);
  // Transmitted sun per room, hourly: façade irradiance through the room's windows.
  // Façade irradiance once per orientation (several rooms share a façade).
  const irrByAzimuth = new Map<number, ReturnType<typeof surfaceIrradiance>>();
  const solarW = rooms.map((r) => {
    const az = r.arch.facadeAzimuthDeg;
    const irr = irrByAzimuth.get(az) ?? surfaceIrradiance(weather, { tiltDeg: 90, azimuthDeg: az });
    irrByAzimuth.set(az, irr);
    return Float64Array.from(irr.totalWm2, (_, i) =>
      windowSolarGainW({ beamWm2: irr.beamWm2[i], skyDiffuseWm2: irr.skyDiffuseWm2[i], groundWm2: irr.groundWm2[i], totalWm2: irr.totalWm2[i] }, irr.cosIncidence[i], 90, r.arch.windowAreaM2, r.arch.windowG),
    );
  });
  const steps = Math.round((o.days * 86400) / o.dtS);
  const t0 = o.startDay * 86400;
  const integ = new Float64Array(rooms.length);
  const stats = rooms.map(() => ({ sum: 0, min: Infinity, max: -Infinity, discomfortKs: 0, boardS: 0 }));
  const out = { sum: 0, min: Infinity, max: -Infinity };
  const series = { hours: [] as number[], outdoorC: [] as number[], roomsC: rooms.map(() => [] as number[]), setpointC: [] as number[] };
  const names = archetypes[0].model.inputNames;
  const iIn = (n: string): number => names.indexOf(n);
  const [iAmb, iSup, iWin, iSol] = [iIn('T_amb'), iIn('T_sup'), iIn('T_ambWin'), iIn('Q_sol_1')];
  const shared = rooms.map(() => new Float64Array(names.length));
  const sample = weatherAt(weather, t0);
  const every = Math.max(1, Math.round(600 / o.dtS));
  // Warm-up: the walls start at 19 °C; three days before the reported week let them settle (not recorded).
  const warm = Math.round((WARMUP_DAYS * 86400) / o.dtS);
  for (let s = -warm; s < steps; s++) {
    if (s === 0) fleet.heatJ.fill(0);
    const rec = s >= 0;
    const t = t0 + s * o.dtS;
    weatherAt(weather, t + o.dtS / 2, sample);
    const hourIdx = Math.min(weather.tempC.length - 1, Math.floor((t - weather.startS + weather.stepS / 2) / weather.stepS));
    const dayOfWeek = (((Math.floor((t - t0) / 86400) % 7) + 7) % 7);
    const hourOfDay = Math.floor((t % 86400) / 3600);
    const dayOfYear = Math.floor(t / 86400);
    if (rec) {
      out.sum += sample.tempC;
      out.min = Math.min(out.min, sample.tempC);
      out.max = Math.max(out.max, sample.tempC);
    }
    rooms.forEach((r, k) => {
      const sch = scheduleAt(r.schedule, dayOfWeek, hourOfDay, dayOfYear);
      const airC = fleet.x[iAir][k];
      // PI on air temperature with clamping anti-windup; the plan turns the request into boards and levels.
      const e = sch.setpointC - airC;
      const h = archetypes[k].heater;
      let req = KP_WK * (e + integ[k] / TI_S);
      if (req > 0 && req < h.maxW) integ[k] += e * o.dtS;
      else if (req <= 0 && e > 0) integ[k] += e * o.dtS;
      else if (req >= h.maxW && e < 0) integ[k] += e * o.dtS;
      req = Math.min(h.maxW, Math.max(0, req));
      const plan = planHeat(h, req, { bodyTempC: fleet.x[iBody][k], currentBoards: fleet.activeBoards[k] });
      fleet.activeBoards[k] = plan.activeBoards;
      fleet.freqLevel[k] = plan.level;
      fleet.utilisation[k] = plan.utilisation;
      fleet.booster[k] = plan.boosterFraction;
      fleet.gainsW[k] = sch.convectiveW + sch.radiativeW;
      const u = shared[k];
      u[iAmb] = sample.tempC;
      u[iSup] = sample.tempC;
      u[iWin] = sample.tempC;
      u[iSol] = solarW[k][hourIdx];
      if (!rec) return;
      const st = stats[k];
      st.boardS += plan.throughput * o.dtS;
      if (sch.state === 'occupied') st.discomfortKs += Math.max(0, sch.setpointC - 0.5 - airC) * o.dtS;
      if (k === 0 && s % every === 0) series.setpointC.push(sch.setpointC);
    });
    kernel.step(shared);
    if (!rec) continue;
    rooms.forEach((_, k) => {
      const v = fleet.x[iAir][k];
      const st = stats[k];
      st.sum += v;
      st.min = Math.min(st.min, v);
      st.max = Math.max(st.max, v);
      if (s % every === 0) series.roomsC[k].push(v);
    });
    if (s % every === 0) {
      series.hours.push(((s + 1) * o.dtS) / 3600);
      series.outdoorC.push(sample.tempC);
    }
    if (s % 600 === 0) o.onProgress?.(s / steps);
  }
  o.onProgress?.(1);
  return {
    zone: o.zone,
    days: o.days,
    dtS: o.dtS,
    outdoor: { meanC: out.sum / steps, minC: out.min, maxC: out.max },
    rooms: rooms.map((r, k) => ({
      label: r.label,
      facade: r.facade,
      areaM2: r.arch.floorAreaM2,
      meanC: stats[k].sum / steps,
      minC: stats[k].min,
      maxC: stats[k].max,
      discomfortKh: stats[k].discomfortKs / 3600,
      heatKWh: fleet.heatJ[k] / 3.6e6,
      computeBoardHours: stats[k].boardS / 3600,
    })),
    series,
  };
}
