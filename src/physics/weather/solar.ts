// Solar geometry and irradiance on building surfaces: sun position (solar or standard clock time), angle of
// incidence, isotropic-sky tilted irradiance and solar gains through glazing (Fresnel incidence-angle modifier).
import { InvalidParameterError } from '../errors.ts';
import type { WeatherSeries } from './types.ts';

const DEG = Math.PI / 180;
/** Solar constant, W/m² (WMO 1981 value, as used by Duffie & Beckman). */
export const SOLAR_CONSTANT_WM2 = 1367;

/** Where and on which clock: latitude/longitude in degrees (north/east), time zone in hours east of UTC. */
export interface SolarSite {
  readonly latitudeDeg: number;
  readonly longitudeDeg: number;
  /** Hours east of UTC of the standard clock; unused when `solarTime`. */
  readonly timeZoneH: number;
  /** True when times are apparent (true) solar time, as in the RT2012 files. */
  readonly solarTime: boolean;
}

/** A plane surface: tilt from horizontal (0 roof, 90 wall) and compass azimuth of its outward normal (0 N, 90 E, 180 S, 270 W), degrees. */
export interface SurfaceOrientation {
  readonly tiltDeg: number;
  readonly azimuthDeg: number;
}

/** A unit vector in local (east, north, up) coordinates. */
export interface Vec3 {
  readonly east: number;
  readonly north: number;
  readonly up: number;
}

/** Position of the sun at one instant. */
export interface SunPosition extends Vec3 {
  /** Declination, rad. */
  readonly declinationRad: number;
  /** Hour angle, rad (0 at solar noon, negative in the morning). */
  readonly hourAngleRad: number;
  /** Cosine of the zenith angle (= `up`; negative below the horizon). */
  readonly cosZenith: number;
}

/** Fractional angle of the year, rad: Γ = 2π(n − 1)/365 for day of year n (1 = 1 January 00:00). */
function dayAngleRad(dayOfYear: number): number {
  return (2 * Math.PI * (dayOfYear - 1)) / 365;
}

/** Solar declination, rad, for day of year `dayOfYear` (1 = 1 January; fractional allowed). Spencer (1971) series, error < 0.0006 rad. */
export function solarDeclinationRad(dayOfYear: number): number {
  const g = dayAngleRad(dayOfYear);
  return (
    0.006918 -
    0.399912 * Math.cos(g) +
    0.070257 * Math.sin(g) -
    0.006758 * Math.cos(2 * g) +
    0.000907 * Math.sin(2 * g) -
    0.002697 * Math.cos(3 * g) +
    0.00148 * Math.sin(3 * g)
  );
}

/** Equation of time, minutes (apparent minus mean solar time), for day of year `dayOfYear` (1 = 1 January). Spencer (1971). */
export function equationOfTimeMin(dayOfYear: number): number {
  const g = dayAngleRad(dayOfYear);
  return (
    229.18 *
    (0.000075 + 0.001868 * Math.cos(g) - 0.032077 * Math.sin(g) - 0.014615 * Math.cos(2 * g) - 0.040849 * Math.sin(2 * g))
  );
}

/** Extraterrestrial irradiance on a plane normal to the sun, W/m², for day of year `dayOfYear` (orbit eccentricity). */
export function extraterrestrialNormalWm2(dayOfYear: number): number {
  return SOLAR_CONSTANT_WM2 * (1 + 0.033 * Math.cos(dayAngleRad(dayOfYear)));
}

/**
 * Apparent solar time, hours (12 = solar noon), at `timeS` seconds from 1 January 00:00 on the site's clock.
 * Solar-time clocks pass through; a standard clock is corrected by 4 min per degree of longitude from the zone
 * meridian (15°·timeZoneH) and by the equation of time. May fall outside 0..24 near midnight.
 */
export function apparentSolarHour(timeS: number, site: SolarSite): number {
  const dayS = timeS - Math.floor(timeS / 86400) * 86400;
  const clockH = dayS / 3600;
  if (site.solarTime) return clockH;
  const n = dayOfYearAt(timeS);
  return clockH + (4 * (site.longitudeDeg - 15 * site.timeZoneH) + equationOfTimeMin(n)) / 60;
}

/** Fractional day of year (1 = 1 January 00:00) at `timeS` seconds from 1 January 00:00; years of 365 days repeat. */
export function dayOfYearAt(timeS: number): number {
  const d = timeS / 86400;
  return d - Math.floor(d / 365) * 365 + 1;
}

/** Position of the sun at `timeS` (s from 1 January 00:00, on the site's clock). */
export function sunPosition(timeS: number, site: SolarSite): SunPosition {
  const n = dayOfYearAt(timeS);
  const decl = solarDeclinationRad(n);
  const omega = (apparentSolarHour(timeS, site) - 12) * 15 * DEG;
  const phi = site.latitudeDeg * DEG;
  const sd = Math.sin(decl);
  const cd = Math.cos(decl);
  const sp = Math.sin(phi);
  const cp = Math.cos(phi);
  const co = Math.cos(omega);
  const up = sp * sd + cp * cd * co;
  return {
    declinationRad: decl,
    hourAngleRad: omega,
    cosZenith: up,
    east: -cd * Math.sin(omega),
    north: cp * sd - sp * cd * co,
    up,
  };
}

/** Solar altitude, rad (negative below the horizon). */
export function solarAltitudeRad(sun: SunPosition): number {
  return Math.asin(Math.max(-1, Math.min(1, sun.up)));
}

/** Solar azimuth, compass degrees (0 N, 90 E, 180 S, 270 W). */
export function solarAzimuthDeg(sun: SunPosition): number {
  const a = Math.atan2(sun.east, sun.north) / DEG;
  return a < 0 ? a + 360 : a;
}

/** Outward unit normal of a surface of tilt `tiltDeg` (0 = horizontal facing up) and compass azimuth `azimuthDeg`. */
export function surfaceNormal(o: SurfaceOrientation): Vec3 {
  const b = o.tiltDeg * DEG;
  const a = o.azimuthDeg * DEG;
  return { east: Math.sin(b) * Math.sin(a), north: Math.sin(b) * Math.cos(a), up: Math.cos(b) };
}

/** Cosine of the angle of incidence of the sun's rays on a surface (negative when the sun is behind it). Dimensionless. */
export function cosIncidence(sun: Vec3, normal: Vec3): number {
  return sun.east * normal.east + sun.north * normal.north + sun.up * normal.up;
}

/** Mean geometry of an interval for interval-mean irradiances. */
export interface IntervalGeometry {
  /** Fraction of the interval with the sun above the horizon, 0..1. */
  sunlitFraction: number;
  /** Mean of the cosine of the zenith angle over the sunlit part (0 when never sunlit). */
  cosZenithSunlit: number;
  /** Mean of the cosine of the zenith angle over the whole interval, counting night as 0 (for extraterrestrial sums). */
  cosZenithMean: number;
  /** Per surface: mean of max(0, cos incidence) over the sunlit part of the interval. */
  cosIncidenceSunlit: Float64Array;
}

/**
 * Sun geometry averaged over the interval `[midS − durationS/2, midS + durationS/2]` (s, site clock), sampled at
 * `subSteps` midpoints. An interval-mean direct normal irradiance DNI (zero while the sun is down) puts
 * DNI · cosIncidenceSunlit W/m² on a surface: the mean of cosθ must be taken over the sunlit part only, or
 * sunrise and sunset hours are lost or overstated.
 */
export function intervalGeometry(
  site: SolarSite,
  midS: number,
  durationS: number,
  normals: readonly Vec3[],
  subSteps = 12,
): IntervalGeometry {
  const cosInc = new Float64Array(normals.length);
  let lit = 0;
  let cz = 0;
  for (let k = 0; k < subSteps; k++) {
    const t = midS + ((k + 0.5) / subSteps - 0.5) * durationS;
    const sun = sunPosition(t, site);
    if (sun.up <= 0) continue;
    lit++;
    cz += sun.up;
    for (let j = 0; j < normals.length; j++) cosInc[j] += Math.max(0, cosIncidence(sun, normals[j]));
  }
  if (lit > 0) for (let j = 0; j < normals.length; j++) cosInc[j] /= lit;
  return {
    sunlitFraction: lit / subSteps,
    cosZenithSunlit: lit > 0 ? cz / lit : 0,
    cosZenithMean: cz / subSteps,
    cosIncidenceSunlit: cosInc,
  };
}

/** Irradiance on a tilted surface by component, W/m². */
export interface TiltedIrradiance {
  beamWm2: number;
  skyDiffuseWm2: number;
  groundWm2: number;
  totalWm2: number;
}

/**
 * Isotropic-sky (Liu–Jordan) irradiance on a surface, W/m²: beam DNI·max(0, cosθ) + sky diffuse DHI·(1 + cosβ)/2
 * + ground reflection albedo·GHI·(1 − cosβ)/2, with β = `tiltDeg` and `albedo` 0..1 (0.2 for grass and
 * ordinary ground).
 */
export function isotropicTiltedIrradiance(
  directNormalWm2: number,
  diffuseHorizontalWm2: number,
  globalHorizontalWm2: number,
  cosIncidenceValue: number,
  tiltDeg: number,
  albedo = 0.2,
): TiltedIrradiance {
  const cb = Math.cos(tiltDeg * DEG);
  const beamWm2 = directNormalWm2 * Math.max(0, cosIncidenceValue);
  const skyDiffuseWm2 = (diffuseHorizontalWm2 * (1 + cb)) / 2;
  const groundWm2 = (albedo * globalHorizontalWm2 * (1 - cb)) / 2;
  return { beamWm2, skyDiffuseWm2, groundWm2, totalWm2: beamWm2 + skyDiffuseWm2 + groundWm2 };
}

/** Per-step irradiance arrays on one surface, W/m², plus the sunlit-mean cosine of incidence used for the beam. */
export interface SurfaceIrradianceSeries {
  readonly beamWm2: Float64Array;
  readonly skyDiffuseWm2: Float64Array;
  readonly groundWm2: Float64Array;
  readonly totalWm2: Float64Array;
  readonly cosIncidence: Float64Array;
}

function seriesSite(series: WeatherSeries): SolarSite {
  return {
    latitudeDeg: series.latitudeDeg,
    longitudeDeg: series.longitudeDeg,
    timeZoneH: series.timeZoneH,
    solarTime: series.solarTime,
  };
}

/** Global horizontal irradiance of each step, W/m²: DNI·(sunlit-mean cos zenith) + DHI. */
export function globalHorizontalWm2(series: WeatherSeries, subSteps = 12): Float64Array {
  const n = series.tempC.length;
  const out = new Float64Array(n);
  const site = seriesSite(series);
  for (let i = 0; i < n; i++) {
    const dni = series.directNormalWm2[i];
    let beam = 0;
    if (dni > 0) beam = dni * intervalGeometry(site, series.startS + i * series.stepS, series.stepS, [], subSteps).cosZenithSunlit;
    out[i] = beam + series.diffuseHorizontalWm2[i];
  }
  return out;
}

/**
 * Isotropic-sky irradiance of every step of `series` on a surface, W/m² (interval means, sun geometry averaged
 * over the sunlit part of each step). `albedo` is the ground reflectance, 0..1.
 */
export function surfaceIrradiance(
  series: WeatherSeries,
  surface: SurfaceOrientation,
  albedo = 0.2,
  subSteps = 12,
): SurfaceIrradianceSeries {
  if (!(surface.tiltDeg >= 0 && surface.tiltDeg <= 180)) {
    throw new InvalidParameterError('surface.tiltDeg', `must be within 0..180, got ${surface.tiltDeg}`);
  }
  if (!(albedo >= 0 && albedo <= 1)) throw new InvalidParameterError('albedo', `must be within 0..1, got ${albedo}`);
  const n = series.tempC.length;
  const site = seriesSite(series);
  const normal = surfaceNormal(surface);
  const res: SurfaceIrradianceSeries = {
    beamWm2: new Float64Array(n),
    skyDiffuseWm2: new Float64Array(n),
    groundWm2: new Float64Array(n),
    totalWm2: new Float64Array(n),
    cosIncidence: new Float64Array(n),
  };
  for (let i = 0; i < n; i++) {
    const dni = series.directNormalWm2[i];
    const dhi = series.diffuseHorizontalWm2[i];
    let cosInc = 0;
    let ghi = dhi;
    if (dni > 0) {
      const g = intervalGeometry(site, series.startS + i * series.stepS, series.stepS, [normal], subSteps);
      cosInc = g.cosIncidenceSunlit[0];
      ghi += dni * g.cosZenithSunlit;
    }
    const t = isotropicTiltedIrradiance(dni, dhi, ghi, cosInc, surface.tiltDeg, albedo);
    res.beamWm2[i] = t.beamWm2;
    res.skyDiffuseWm2[i] = t.skyDiffuseWm2;
    res.groundWm2[i] = t.groundWm2;
    res.totalWm2[i] = t.totalWm2;
    res.cosIncidence[i] = cosInc;
  }
  return res;
}

/** Optical description of glazing for the incidence-angle modifier. */
export interface GlazingOptics {
  /** Number of panes (1 single, 2 double, 3 triple glazing). */
  readonly panes: number;
  /** Refractive index of the glass (1.526 for soda-lime glass). */
  readonly refractiveIndex: number;
  /** Extinction coefficient × thickness of one pane (K·L, dimensionless; 4 m⁻¹ × 4 mm = 0.016). */
  readonly extinctionPerPane: number;
}

/** Uncoated double glazing. */
export const DOUBLE_GLAZING: GlazingOptics = { panes: 2, refractiveIndex: 1.526, extinctionPerPane: 0.016 };

function fresnelTransmittance(thetaRad: number, g: GlazingOptics): number {
  const th = Math.min(Math.max(thetaRad, 0), Math.PI / 2);
  const n = g.refractiveIndex;
  const thr = Math.asin(Math.sin(th) / n);
  let rPerp: number;
  let rPar: number;
  if (th < 1e-6) {
    rPerp = rPar = ((n - 1) / (n + 1)) ** 2;
  } else {
    rPerp = Math.sin(thr - th) ** 2 / Math.sin(thr + th) ** 2;
    rPar = Math.tan(thr - th) ** 2 / Math.tan(thr + th) ** 2;
  }
  const m = 2 * g.panes - 1;
  const tr = 0.5 * ((1 - rPerp) / (1 + m * rPerp) + (1 - rPar) / (1 + m * rPar));
  const ta = Math.exp((-g.panes * g.extinctionPerPane) / Math.cos(thr));
  return tr * ta;
}

/**
 * Incidence-angle modifier of glazing, dimensionless 0..1: transmittance at incidence `incidenceRad` relative to
 * normal incidence, from Fresnel reflection at each surface of `glazing.panes` uncoated panes and absorption along
 * the refracted path (Duffie & Beckman, ch. 5). 1 at normal incidence, 0 at grazing incidence.
 */
export function glazingIncidenceModifier(incidenceRad: number, glazing: GlazingOptics = DOUBLE_GLAZING): number {
  if (incidenceRad >= Math.PI / 2) return 0;
  return fresnelTransmittance(incidenceRad, glazing) / fresnelTransmittance(0, glazing);
}

/** Effective incidence angles of isotropic sky diffuse and ground-reflected light on a surface of tilt `tiltDeg`, rad (Brandemuehl & Beckman 1980). */
export function diffuseIncidenceAnglesRad(tiltDeg: number): { skyRad: number; groundRad: number } {
  const b = tiltDeg;
  return {
    skyRad: (59.7 - 0.1388 * b + 0.001497 * b * b) * DEG,
    groundRad: (90 - 0.5788 * b + 0.002693 * b * b) * DEG,
  };
}

/**
 * Solar heat gain through a window, W: glazed area `areaM2` (m²) × total solar energy transmittance at normal
 * incidence `gValue` (0..1) × Σ over components of irradiance (W/m²) × incidence-angle modifier — the beam at its
 * own angle (from `cosIncidenceValue`), sky diffuse and ground-reflected light at their Brandemuehl–Beckman
 * equivalent angles. External shading and frame fraction are the caller's (multiply or reduce the area).
 */
export function windowSolarGainW(
  irradiance: TiltedIrradiance,
  cosIncidenceValue: number,
  tiltDeg: number,
  areaM2: number,
  gValue: number,
  glazing: GlazingOptics = DOUBLE_GLAZING,
): number {
  if (!(areaM2 >= 0)) throw new InvalidParameterError('areaM2', `must be ≥ 0, got ${areaM2}`);
  if (!(gValue >= 0 && gValue <= 1)) throw new InvalidParameterError('gValue', `must be within 0..1, got ${gValue}`);
  const eq = diffuseIncidenceAnglesRad(tiltDeg);
  const beamIam = cosIncidenceValue > 0 ? glazingIncidenceModifier(Math.acos(Math.min(1, cosIncidenceValue)), glazing) : 0;
  const transmitted =
    irradiance.beamWm2 * beamIam +
    irradiance.skyDiffuseWm2 * glazingIncidenceModifier(eq.skyRad, glazing) +
    irradiance.groundWm2 * glazingIncidenceModifier(eq.groundRad, glazing);
  return areaM2 * gValue * transmitted;
}
