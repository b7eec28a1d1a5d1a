// Synthetic hourly weather for the French climate zones, from parameters fitted to the RT2012 files
// (scripts/fit-weather.ts): climatology harmonics, AR(1) day-to-day anomaly, daily clearness, diurnal shape.
import { InvalidParameterError } from '../errors.ts';
import { createRng } from '../random.ts';
import type { Rng } from '../random.ts';
import { extraterrestrialNormalWm2, intervalGeometry, solarDeclinationRad } from './solar.ts';
import type { SolarSite } from './solar.ts';
import type { WeatherSeries } from './types.ts';
import { ZONE_PARAMS } from './zones.ts';

/** The French RT2012 climate zones. */
export const CLIMATE_ZONES = ['H1a', 'H1b', 'H1c', 'H2a', 'H2b', 'H2c', 'H2d', 'H3'] as const;
/** One French RT2012 climate zone. */
export type ClimateZone = (typeof CLIMATE_ZONES)[number];

/**
 * Fitted parameters of the generator for one zone. Seasonal terms use Θ = 2π(doy + 0.5)/365 with doy the
 * 0-based day of the year; "harmonics" arrays are [c0, cos Θ, sin Θ, cos 2Θ, sin 2Θ, …].
 */
export interface ZoneClimateParams {
  /** Latitude, ° north; longitude, ° east (sun geometry of the generated series). */
  readonly latitudeDeg: number;
  readonly longitudeDeg: number;
  /** Climatological daily mean dry-bulb temperature, °C, harmonics. */
  readonly meanHarmonicsC: readonly number[];
  /**
   * Month-scale departures of the typical year from the harmonics, K: 12 nodes at mid-month, linear between
   * them (cyclic), chosen so that each month's mean departure equals the file's (mean-preserving).
   */
  readonly meanMonthlyNodesK: readonly number[];
  /** Standard deviation of the daily-mean anomaly, K, harmonics. */
  readonly anomalySigmaHarmonicsK: readonly number[];
  /** Lag-1 (one day) autocorrelation of the standardised daily-mean anomaly. */
  readonly anomalyLag1: number;
  /** Per month, 11 quantiles (p = 0, 0.1, …, 1) of the daily clearness index Kt (daily global / extraterrestrial horizontal). */
  readonly clearnessQuantiles: readonly (readonly number[])[];
  /** Lag-1 autocorrelation of the clearness latent Gaussian's own part. */
  readonly clearnessLag1: number;
  /** Correlation of the clearness latent Gaussian with the standardised temperature anomaly, harmonics. */
  readonly clearnessTempCorrHarmonics: readonly number[];
  /** Daily diffuse fraction D/H = 1 / (1 + exp(c0 + c1·Kt)). */
  readonly diffuseFractionLogistic: readonly number[];
  /**
   * Mean diurnal cycle about the daily-mean curve, K: coefficients of cos(jω), sin(jω) (ω = 2π·hour/24, j = 1, 2),
   * each × [1, cos Θ, sin Θ] → 12 numbers [cos ω ×3, sin ω ×3, cos 2ω ×3, sin 2ω ×3]. Normalised per day to a
   * unit range: the shape.
   */
  readonly diurnalShape: readonly number[];
  /** Diurnal amplitude A (K, range of the shape) = [1, cos Θ, sin Θ, Kt, Kt·cos Θ, Kt·sin Θ] · these + monthly nodes. */
  readonly diurnalAmplitude: readonly number[];
  /** Month-scale departures of A from that regression, K, as mid-month nodes (mean-preserving, like `meanMonthlyNodesK`). */
  readonly diurnalAmplitudeMonthlyNodesK: readonly number[];
  /** Standard deviation of the day-to-day residual of A, K. */
  readonly diurnalAmplitudeSigmaK: number;
  /** Hourly residual temperature noise (AR(1) in hours): σ, K, harmonics, and lag-1 autocorrelation. */
  readonly hourlyNoiseSigmaHarmonicsK: readonly number[];
  readonly hourlyNoiseLag1: number;
  /** Dew-point depression T − Td, K = [1, cos Θ, sin Θ, Kt, T − M] · these (M: daily-mean curve), ≥ 0. */
  readonly dewPointDepression: readonly number[];
  readonly dewPointNoiseSigmaK: number;
  readonly dewPointNoiseLag1: number;
  /** Sky depression T − Tsky, K = [1, cos Θ, sin Θ, Kt, T − Td] · these, ≥ 0. */
  readonly skyDepression: readonly number[];
  readonly skyNoiseSigmaK: number;
  readonly skyNoiseLag1: number;
  /** Mean atmospheric pressure, Pa (held constant). */
  readonly pressurePa: number;
  /** Hourly wind: ln(speed + 0.5 m/s) is AR(1) with this mean, σ and lag-1 autocorrelation; direction is the prevailing one, °. */
  readonly windLogMean: number;
  readonly windLogSigma: number;
  readonly windLag1: number;
  readonly windPrevailingDirDeg: number;
  /** Cold-water inlet temperature, °C, harmonics. */
  readonly coldWaterHarmonicsC: readonly number[];
}

/** Options of `generateWeather`. */
export interface GenerateOptions {
  /** Seed of the random stream (same seed, same weather). */
  readonly seed: number;
  /** Number of 365-day years to generate (≥ 1, may be fractional: rounded to whole days). */
  readonly years: number;
  /** Day of year of the first day, 1 = 1 January (default 1). */
  readonly startDayOfYear?: number;
}

/** Seasonal angle Θ, rad, of 0-based day of year `doy` (day centre). */
export function seasonAngleRad(doy: number): number {
  return (2 * Math.PI * (doy + 0.5)) / 365;
}

/** Value of harmonics [c0, cos Θ, sin Θ, cos 2Θ, sin 2Θ, …] at season angle `thetaRad`. */
export function evalHarmonics(coeffs: readonly number[], thetaRad: number): number {
  let v = coeffs[0];
  for (let k = 1; 2 * k - 1 < coeffs.length; k++) {
    v += coeffs[2 * k - 1] * Math.cos(k * thetaRad) + (coeffs[2 * k] ?? 0) * Math.sin(k * thetaRad);
  }
  return v;
}

/** Regressors [cos Θ·k, sin Θ·k]… of `evalHarmonics` for `n` harmonics, with the constant first. */
export function harmonicRegressors(thetaRad: number, n: number): number[] {
  const r = [1];
  for (let k = 1; k <= n; k++) r.push(Math.cos(k * thetaRad), Math.sin(k * thetaRad));
  return r;
}

/** 0-based day of year of the middle of each month (365-day year). */
export const MID_MONTH_DAY: readonly number[] = [15, 44.5, 74, 104.5, 135, 165.5, 196, 227, 257.5, 288, 318.5, 349];

/** Piecewise-linear cyclic curve through 12 mid-month `nodes` at 0-based day of year `doy` (day centre doy + 0.5). */
export function monthlyNodesAt(nodes: readonly number[], doy: number): number {
  const t = doy + 0.5;
  let k = 11;
  while (k >= 0 && MID_MONTH_DAY[k] > t) k--;
  const k0 = k < 0 ? 11 : k;
  const k1 = (k0 + 1) % 12;
  const t0 = k < 0 ? MID_MONTH_DAY[11] - 365 : MID_MONTH_DAY[k0];
  const t1 = k0 === 11 ? MID_MONTH_DAY[0] + 365 : MID_MONTH_DAY[k1];
  return nodes[k0] + ((nodes[k1] - nodes[k0]) * (t - t0)) / (t1 - t0);
}

/**
 * Continuous curve through daily means, °C, at hour `hour` (0..24) of day `d`: linear between day centres, then
 * shifted so that its mean over the 24 hourly samples of the day equals `meanC[d]` exactly. `meanC` must hold
 * days d − 1 and d + 1.
 */
export function dailyMeanCurveC(meanC: ArrayLike<number>, d: number, hour: number): number {
  const prev = meanC[d - 1];
  const cur = meanC[d];
  const next = meanC[d + 1];
  const lin = hour < 12 ? cur + ((prev - cur) * (12 - hour)) / 24 : cur + ((next - cur) * (hour - 12)) / 24;
  // Mean of the linear part over hourly samples at h + 0.5: cur + (prev + next − 2·cur)·(Σ|12 − h − 0.5|/2)/(24·24).
  const correction = ((2 * cur - prev - next) * 72) / 576;
  return lin + correction;
}

/** Mean diurnal cycle (K, not normalised) at hour `hour` for season angle `thetaRad`, from `diurnalShape` coefficients. */
export function diurnalCycleK(shape: readonly number[], thetaRad: number, hour: number): number {
  const c = Math.cos(thetaRad);
  const s = Math.sin(thetaRad);
  let v = 0;
  for (let j = 1; j <= 2; j++) {
    const w = (2 * Math.PI * j * hour) / 24;
    const b = (j - 1) * 6;
    v += (shape[b] + shape[b + 1] * c + shape[b + 2] * s) * Math.cos(w);
    v += (shape[b + 3] + shape[b + 4] * c + shape[b + 5] * s) * Math.sin(w);
  }
  return v;
}

/** The diurnal shape at the 24 hour centres (h + 0.5) of a day with season angle `thetaRad`: zero mean, unit range. */
export function diurnalShapeValues(shape: readonly number[], thetaRad: number, out = new Float64Array(24)): Float64Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (let h = 0; h < 24; h++) {
    const v = diurnalCycleK(shape, thetaRad, h + 0.5);
    out[h] = v;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const range = hi - lo > 1e-9 ? hi - lo : 1;
  for (let h = 0; h < 24; h++) out[h] /= range;
  return out;
}

/** Standard normal cumulative distribution (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7). Dimensionless. */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

/** Inverse of a piecewise-linear CDF given by quantiles at p = 0, 1/(n−1), …, 1, at probability `p` (0..1). */
export function quantileAt(quantiles: readonly number[], p: number): number {
  const n = quantiles.length - 1;
  const x = Math.min(Math.max(p, 0), 1) * n;
  const i = Math.min(Math.floor(x), n - 1);
  return quantiles[i] + (quantiles[i + 1] - quantiles[i]) * (x - i);
}

/** Month (0..11) of a 0-based day of a 365-day year. */
function monthOf(doy: number): number {
  const starts = [31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];
  let m = 0;
  while (starts[m] <= doy) m++;
  return m;
}

/** Saturation vapour pressure over water, Pa, at `tempC` °C (Magnus, Alduchov & Eskridge 1996). */
export function saturationVapourPressurePa(tempC: number): number {
  return 610.94 * Math.exp((17.625 * tempC) / (tempC + 243.04));
}

/** Per-hour sun geometry of a 365-day year at a site (solar time), for the interval-mean convention. */
export interface YearGeometry {
  /** Mean cos zenith over each hour (night as 0), 365×24. */
  readonly cosZenithMean: Float64Array;
  /** Mean cos zenith over the sunlit part of each hour, 365×24. */
  readonly cosZenithSunlit: Float64Array;
  /** Daily extraterrestrial horizontal irradiation, Wh/m², 365. */
  readonly dailyExtraterrestrialWhm2: Float64Array;
  /** Extraterrestrial normal irradiance of each day, W/m², 365. */
  readonly extraterrestrialNormalWm2: Float64Array;
  /** Collares-Pereira & Rabl weights of global irradiance per hour (sum 1 per day), 365×24. */
  readonly globalWeights: Float64Array;
  /** Weights of diffuse irradiance per hour (Liu–Jordan: ∝ extraterrestrial, sum 1 per day), 365×24. */
  readonly diffuseWeights: Float64Array;
}

/**
 * Sun geometry of every hour of a 365-day year at latitude `latitudeDeg` (solar time; hours [h, h + 1)), with
 * the hourly weights the generator uses to spread daily irradiation: Collares-Pereira & Rabl (1979) for the
 * global, Liu & Jordan (1960) for the diffuse (Duffie & Beckman §2.13).
 */
export function yearGeometry(latitudeDeg: number, longitudeDeg = 0): YearGeometry {
  const site: SolarSite = { latitudeDeg, longitudeDeg, timeZoneH: 0, solarTime: true };
  const czMean = new Float64Array(365 * 24);
  const czLit = new Float64Array(365 * 24);
  const h0 = new Float64Array(365);
  const i0n = new Float64Array(365);
  const gw = new Float64Array(365 * 24);
  const dw = new Float64Array(365 * 24);
  const phi = (latitudeDeg * Math.PI) / 180;
  for (let d = 0; d < 365; d++) {
    const i0 = extraterrestrialNormalWm2(d + 1.5);
    i0n[d] = i0;
    const decl = solarDeclinationRad(d + 1.5);
    const ws = Math.acos(Math.max(-1, Math.min(1, -Math.tan(phi) * Math.tan(decl))));
    const a = 0.409 + 0.5016 * Math.sin(ws - Math.PI / 3);
    const b = 0.6609 - 0.4767 * Math.sin(ws - Math.PI / 3);
    let sumG = 0;
    let sumD = 0;
    for (let h = 0; h < 24; h++) {
      const g = intervalGeometry(site, d * 86400 + h * 3600 + 1800, 3600, [], 12);
      const k = d * 24 + h;
      czMean[k] = g.cosZenithMean;
      czLit[k] = g.cosZenithSunlit;
      h0[d] += i0 * g.cosZenithMean;
      const omega = ((h + 0.5 - 12) * Math.PI) / 12;
      dw[k] = g.cosZenithMean;
      gw[k] = g.cosZenithMean * Math.max(0, a + b * Math.cos(omega));
      sumG += gw[k];
      sumD += dw[k];
    }
    for (let h = 0; h < 24; h++) {
      const k = d * 24 + h;
      gw[k] = sumG > 0 ? gw[k] / sumG : 0;
      dw[k] = sumD > 0 ? dw[k] / sumD : 0;
    }
  }
  return {
    cosZenithMean: czMean,
    cosZenithSunlit: czLit,
    dailyExtraterrestrialWhm2: h0,
    extraterrestrialNormalWm2: i0n,
    globalWeights: gw,
    diffuseWeights: dw,
  };
}

const geometryCache = new Map<string, YearGeometry>();

/**
 * Ceiling of the generated hourly mean wind, m/s. The log-normal AR(1) has an unbounded tail: about one hour in
 * 30,000 of zone H2d would otherwise exceed it, and one seed gave 72 m/s — an hourly mean no French station records
 * (storm gusts aside). Nothing in the fitted statistics comes near it.
 */
export const WIND_MAX_MS = 40;
function cachedGeometry(latitudeDeg: number, longitudeDeg: number): YearGeometry {
  const key = `${latitudeDeg}/${longitudeDeg}`;
  let g = geometryCache.get(key);
  if (!g) {
    g = yearGeometry(latitudeDeg, longitudeDeg);
    geometryCache.set(key, g);
  }
  return g;
}

/** An AR(1) Gaussian process with unit variance: x ← φx + √(1 − φ²)·ε. */
function ar1Step(x: number, lag1: number, rng: Rng): number {
  return lag1 * x + Math.sqrt(Math.max(0, 1 - lag1 * lag1)) * rng.normal();
}

/** Resolves a zone name to its fitted parameters; throws InvalidParameterError('zone') if unknown. */
export function zoneParams(zone: string): ZoneClimateParams {
  const p = (ZONE_PARAMS as Partial<Record<string, ZoneClimateParams>>)[zone];
  if (!p) throw new InvalidParameterError('zone', `unknown climate zone "${zone}" (expected one of ${CLIMATE_ZONES.join(', ')})`);
  return p;
}

/** Cold-water inlet temperature, °C, on 0-based day of year `doy` (fractional allowed). */
export function coldWaterTempC(params: ZoneClimateParams, doy: number): number {
  return evalHarmonics(params.coldWaterHarmonicsC, (2 * Math.PI * doy) / 365);
}

/**
 * Generates hourly synthetic weather for a zone (name or fitted parameters), in solar time, hour i stamped at
 * its centre (startS = (startDayOfYear − 1)·86 400 + 1800 s), 365-day years. Temperatures °C, irradiances W/m²,
 * wind m/s. Deterministic: the same seed gives identical arrays (and the same standardised noise in every zone, so
 * two zones generated with one seed have correlated weather, as neighbouring regions do).
 *
 * Model: daily mean = climatology (harmonics + mean-preserving monthly nodes) + σ(season)·AR(1); daily clearness
 * Kt = monthly quantiles of a Gaussian AR(1) correlated with the temperature anomaly; diurnal amplitude linear in Kt
 * (+ monthly nodes, noise) times a fitted unit-range shape; hourly AR(1) residual; dew point and sky temperature
 * from fitted depressions; sun from Kt via a logistic diffuse fraction and Collares-Pereira–Rabl / Liu–Jordan
 * hourly profiles. Pressure and wind direction are held at the fitted (RT2012: constant) values.
 */
export function generateWeather(zone: ClimateZone | ZoneClimateParams, options: GenerateOptions): WeatherSeries {
  const p = typeof zone === 'string' ? zoneParams(zone) : zone;
  const { seed, years } = options;
  const startDay = options.startDayOfYear ?? 1;
  if (!Number.isFinite(seed)) throw new InvalidParameterError('seed', `must be a finite number, got ${seed}`);
  if (!(years > 0 && years <= 1000)) throw new InvalidParameterError('years', `must be within (0, 1000], got ${years}`);
  if (!(Number.isInteger(startDay) && startDay >= 1 && startDay <= 365)) {
    throw new InvalidParameterError('startDayOfYear', `must be an integer 1..365, got ${startDay}`);
  }
  const nDays = Math.max(1, Math.round(years * 365));
  const geo = cachedGeometry(p.latitudeDeg, p.longitudeDeg);
  const rng = createRng(seed);

  // Daily pass over days −1 … nDays (one spare day each side for the daily-mean curve).
  const nd = nDays + 2;
  const meanC = new Float64Array(nd);
  const kt = new Float64Array(nd);
  const amp = new Float64Array(nd);
  let u = rng.normal();
  let w = rng.normal();
  for (let j = 0; j < nd; j++) {
    const doy = (((startDay - 2 + j) % 365) + 365) % 365;
    const th = seasonAngleRad(doy);
    if (j > 0) {
      u = ar1Step(u, p.anomalyLag1, rng);
      w = ar1Step(w, p.clearnessLag1, rng);
    }
    const sigma = Math.max(0.2, evalHarmonics(p.anomalySigmaHarmonicsK, th));
    meanC[j] = evalHarmonics(p.meanHarmonicsC, th) + monthlyNodesAt(p.meanMonthlyNodesK, doy) + sigma * u;
    const rho = Math.max(-0.95, Math.min(0.95, evalHarmonics(p.clearnessTempCorrHarmonics, th)));
    const z = rho * u + Math.sqrt(1 - rho * rho) * w;
    kt[j] = quantileAt(p.clearnessQuantiles[monthOf(doy)], normalCdf(z));
    const a = p.diurnalAmplitude;
    const c = Math.cos(th);
    const s = Math.sin(th);
    const mean =
      a[0] + a[1] * c + a[2] * s + kt[j] * (a[3] + a[4] * c + a[5] * s) + monthlyNodesAt(p.diurnalAmplitudeMonthlyNodesK, doy);
    amp[j] = Math.max(0, mean + p.diurnalAmplitudeSigmaK * rng.normal());
  }

  const n = nDays * 24;
  const tempC = new Float64Array(n);
  const dewPointC = new Float64Array(n);
  const skyTempC = new Float64Array(n);
  const dni = new Float64Array(n);
  const dhi = new Float64Array(n);
  const rh = new Float64Array(n);
  const pressurePa = new Float64Array(n).fill(p.pressurePa);
  const windMs = new Float64Array(n);
  const windDirDeg = new Float64Array(n).fill(p.windPrevailingDirDeg);
  const coldWaterC = new Float64Array(n);
  // The diurnal shape depends on the day of year only: one table for all years.
  const shapes = new Float64Array(365 * 24);
  for (let d = 0; d < 365; d++) diurnalShapeValues(p.diurnalShape, seasonAngleRad(d), shapes.subarray(d * 24, d * 24 + 24));
  let eta = rng.normal();
  let etaTd = rng.normal();
  let etaSky = rng.normal();
  let etaWind = rng.normal();
  const innov = (lag1: number): number => Math.sqrt(Math.max(0, 1 - lag1 * lag1));
  const [phiT, phiTd, phiSky, phiW] = [p.hourlyNoiseLag1, p.dewPointNoiseLag1, p.skyNoiseLag1, p.windLag1];
  const [inT, inTd, inSky, inW] = [innov(phiT), innov(phiTd), innov(phiSky), innov(phiW)];
  const fdC = p.diffuseFractionLogistic;
  const dd = p.dewPointDepression;
  const sd = p.skyDepression;
  for (let j = 1; j <= nDays; j++) {
    const doy = (((startDay - 2 + j) % 365) + 365) % 365;
    const th = seasonAngleRad(doy);
    const c = Math.cos(th);
    const s = Math.sin(th);
    const k = kt[j];
    const dailyGlobalWhm2 = k * geo.dailyExtraterrestrialWhm2[doy];
    const diffuseFraction = 1 / (1 + Math.exp(fdC[0] + fdC[1] * k));
    const dailyDiffuseWhm2 = dailyGlobalWhm2 * diffuseFraction;
    const dniMax = 0.9 * geo.extraterrestrialNormalWm2[doy];
    const depBase = dd[0] + dd[1] * c + dd[2] * s + dd[3] * k;
    const skyBase = sd[0] + sd[1] * c + sd[2] * s + sd[3] * k;
    const cw0 = coldWaterTempC(p, doy);
    const cwSlope = coldWaterTempC(p, doy + 1) - cw0;
    const prevMean = meanC[j - 1];
    const curMean = meanC[j];
    const nextMean = meanC[j + 1];
    const a = amp[j];
    const noiseSigmaK = Math.max(0.05, evalHarmonics(p.hourlyNoiseSigmaHarmonicsK, th));
    for (let h = 0; h < 24; h++) {
      const i = (j - 1) * 24 + h;
      const g = doy * 24 + h;
      if (i > 0) {
        eta = phiT * eta + inT * rng.normal();
        etaTd = phiTd * etaTd + inTd * rng.normal();
        etaSky = phiSky * etaSky + inSky * rng.normal();
        etaWind = phiW * etaWind + inW * rng.normal();
      }
      // Daily-mean curve (see dailyMeanCurveC), inlined.
      const hour = h + 0.5;
      const m =
        (hour < 12 ? curMean + ((prevMean - curMean) * (12 - hour)) / 24 : curMean + ((nextMean - curMean) * (hour - 12)) / 24) +
        (2 * curMean - prevMean - nextMean) / 8;
      const t = m + a * shapes[g] + noiseSigmaK * eta;
      tempC[i] = t;
      const dep = Math.max(0, depBase + dd[4] * (t - m) + p.dewPointNoiseSigmaK * etaTd);
      const td = t - dep;
      dewPointC[i] = td;
      rh[i] = Math.min(1, saturationVapourPressurePa(td) / saturationVapourPressurePa(t));
      const skyDep = Math.max(0, skyBase + sd[4] * dep + p.skyNoiseSigmaK * etaSky);
      skyTempC[i] = t - skyDep;
      // Sun: daily totals spread over the hours, beam = global − diffuse, DNI from the sunlit-mean cos zenith.
      const ghi = dailyGlobalWhm2 * geo.globalWeights[g];
      if (ghi > 0) {
        const diffuse = dailyDiffuseWhm2 * geo.diffuseWeights[g];
        const cz = geo.cosZenithSunlit[g];
        let normal = cz > 0.02 ? Math.max(0, ghi - diffuse) / cz : 0;
        if (normal > dniMax) normal = dniMax;
        dni[i] = normal;
        dhi[i] = Math.max(0, ghi - normal * cz);
      }
      windMs[i] = Math.min(WIND_MAX_MS, Math.max(0, Math.exp(p.windLogMean + p.windLogSigma * etaWind) - 0.5));
      coldWaterC[i] = cw0 + cwSlope * (hour / 24);
    }
  }
  return {
    stepS: 3600,
    startS: (startDay - 1) * 86400 + 1800,
    solarTime: true,
    latitudeDeg: p.latitudeDeg,
    longitudeDeg: p.longitudeDeg,
    timeZoneH: 0,
    altitudeM: 0,
    tempC,
    dewPointC,
    skyTempC,
    directNormalWm2: dni,
    diffuseHorizontalWm2: dhi,
    relativeHumidity: rh,
    pressurePa,
    windMs,
    windDirDeg,
    coldWaterC,
  };
}
