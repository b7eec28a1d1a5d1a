// Fits the synthetic weather generator (src/physics/weather/synthetic.ts) to the eight RT2012 typical years and
// writes the numbers to src/physics/weather/zones.ts. Run: node --import tsx scripts/fit-weather.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseRt2012, parseRt2012ColdWater } from '../src/physics/weather/rt2012.ts';
import type { Rt2012Options } from '../src/physics/weather/rt2012.ts';
import { globalHorizontalWm2 } from '../src/physics/weather/solar.ts';
import { dailyTemps, monthOfDay, weatherStats } from '../src/physics/weather/stats.ts';
import {
  CLIMATE_ZONES,
  dailyMeanCurveC,
  diurnalShapeValues,
  generateWeather,
  harmonicRegressors,
  monthlyNodesAt,
  seasonAngleRad,
  yearGeometry,
} from '../src/physics/weather/synthetic.ts';
import type { ClimateZone, ZoneClimateParams } from '../src/physics/weather/synthetic.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = join(process.env.HEARTH_SHARED_DATA ?? join(root, '..', 'shared', 'data'), 'weather', 'rt2012');
const outFile = join(root, 'src', 'physics', 'weather', 'zones.ts');
/** Seed and length of the simulations used for moment matching (independent of any test's seed). */
const FIT_SEED = 20120101;
const FIT_YEARS = 60;
const FIT_ITERATIONS = 6;
/**
 * Clock the files are read on. The readme says solar time (the default); their sunrise/sunset hours fit UTC+1
 * better (`{ timeZoneH: 1 }`), which moves daily irradiation by 1–4 %. Only the daily clearness depends on it.
 */
const FILE_CLOCK: Rt2012Options = {};

/** Station metadata (RT2012 reference stations; altitudes approximate, the data themselves are at sea level). */
const STATIONS: Record<ClimateZone, { station: string; altitudeM: number }> = {
  H1a: { station: 'Trappes', altitudeM: 168 },
  H1b: { station: 'Nancy', altitudeM: 212 },
  H1c: { station: 'Mâcon', altitudeM: 216 },
  H2a: { station: 'Rennes', altitudeM: 36 },
  H2b: { station: 'La Rochelle', altitudeM: 4 },
  H2c: { station: 'Agen', altitudeM: 59 },
  H2d: { station: 'Carpentras', altitudeM: 99 },
  H3: { station: 'Nice', altitudeM: 4 },
};

// ---------- small numerics ----------

/** Ordinary least squares: rows of regressors X, targets y → coefficients (normal equations, Gauss–Jordan). */
function leastSquares(X: readonly number[][], y: readonly number[]): number[] {
  const p = X[0].length;
  const A = Array.from({ length: p }, () => new Array<number>(p + 1).fill(0));
  for (let i = 0; i < X.length; i++) {
    const xi = X[i];
    for (let a = 0; a < p; a++) {
      for (let b = 0; b < p; b++) A[a][b] += xi[a] * xi[b];
      A[a][p] += xi[a] * y[i];
    }
  }
  for (let c = 0; c < p; c++) {
    let piv = c;
    for (let r = c + 1; r < p; r++) if (Math.abs(A[r][c]) > Math.abs(A[piv][c])) piv = r;
    [A[c], A[piv]] = [A[piv], A[c]];
    const d = A[c][c];
    if (Math.abs(d) < 1e-12) throw new Error('singular least-squares system');
    for (let k = c; k <= p; k++) A[c][k] /= d;
    for (let r = 0; r < p; r++) {
      if (r === c) continue;
      const f = A[r][c];
      if (f !== 0) for (let k = c; k <= p; k++) A[r][k] -= f * A[c][k];
    }
  }
  return A.map((row) => row[p]);
}

function dot(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

function std(a: ArrayLike<number>): number {
  const m = mean(a);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - m) ** 2;
  return Math.sqrt(s / a.length);
}

/** Lag-1 autocorrelation of `x`, counting only the pairs that `keep(i)` accepts (pair i−1, i). */
function lag1(x: ArrayLike<number>, keep: (i: number) => boolean = () => true): number {
  const m = mean(x);
  let num = 0;
  let den = 0;
  for (let i = 0; i < x.length; i++) den += (x[i] - m) ** 2;
  let pairs = 0;
  for (let i = 1; i < x.length; i++) {
    if (!keep(i)) continue;
    num += (x[i] - m) * (x[i - 1] - m);
    pairs++;
  }
  return num / pairs / (den / x.length);
}

/** Inverse standard normal CDF (Acklam 2003, relative error < 1.2e-9). */
function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

function pearson(x: readonly number[], y: readonly number[]): number {
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

/** Residual σ and lag-1 autocorrelation of an hourly residual series. */
function noiseOf(res: Float64Array): { sigma: number; lag1: number } {
  return { sigma: std(res), lag1: Math.max(0, Math.min(0.99, lag1(res))) };
}

/**
 * Mid-month node values of the piecewise-linear curve (`monthlyNodesAt`) whose mean over each month's days equals
 * that month's mean of `daily` (365 values): a cyclic 12×12 linear system.
 */
function meanPreservingNodes(daily: readonly number[], month: readonly number[]): number[] {
  const target = new Array<number>(12).fill(0);
  const count = new Array<number>(12).fill(0);
  daily.forEach((v, d) => {
    target[month[d]] += v;
    count[month[d]]++;
  });
  // W[m][k]: mean over month m of the curve with node k = 1 and the others 0.
  const W = Array.from({ length: 12 }, () => new Array<number>(12).fill(0));
  for (let k = 0; k < 12; k++) {
    const unit = Array.from({ length: 12 }, (_, i) => (i === k ? 1 : 0));
    for (let d = 0; d < 365; d++) W[month[d]][k] += monthlyNodesAt(unit, d) / count[month[d]];
  }
  return leastSquares(W, target.map((t, m) => t / count[m]));
}

// ---------- the fit of one zone ----------

interface Fit {
  params: ZoneClimateParams;
  report: string;
}

function fitZone(zone: ClimateZone): Fit {
  const series = parseRt2012(readFileSync(join(dataDir, `${zone}.txt`), 'latin1'), `${zone}.txt`, FILE_CLOCK);
  const cold = parseRt2012ColdWater(readFileSync(join(dataDir, `cold_water_${zone}.txt`), 'latin1'), `cold_water_${zone}.txt`);
  if (series.stepS !== 3600 || series.tempC.length !== 8760) throw new Error(`${zone}: expected 8760 hourly rows`);
  const nH = 8760;
  const daily = dailyTemps(series.tempC, series.startS, series.stepS);
  if (daily.day.length !== 365) throw new Error(`${zone}: expected 365 complete days`);
  const theta = Array.from({ length: 365 }, (_, d) => seasonAngleRad(d));
  const month = Array.from({ length: 365 }, (_, d) => monthOfDay(d));
  const sameMonth = (d: number): boolean => month[d] === month[d - 1];

  // 1. Climatology: three harmonics of the daily mean.
  const dm = Array.from(daily.meanC);
  const meanH = leastSquares(theta.map((t) => harmonicRegressors(t, 3)), dm);
  const harm = theta.map((t) => dot(meanH, harmonicRegressors(t, 3)));
  const meanNodes = meanPreservingNodes(dm.map((v, d) => v - harm[d]), month);
  const clim = harm.map((v, d) => v + monthlyNodesAt(meanNodes, d));
  const x = dm.map((v, d) => v - clim[d]);

  // 2. Anomaly σ(season): one harmonic of the variance, then of σ; AR(1) of the standardised anomaly.
  const varH = leastSquares(theta.map((t) => harmonicRegressors(t, 1)), x.map((v) => v * v));
  const sigmaDay = theta.map((t) => Math.sqrt(Math.max(0.1, dot(varH, harmonicRegressors(t, 1)))));
  const sigmaH = leastSquares(theta.map((t) => harmonicRegressors(t, 1)), sigmaDay);
  const sig = theta.map((t) => dot(sigmaH, harmonicRegressors(t, 1)));
  const u = x.map((v, d) => v / sig[d]);
  const phiU = lag1(u, sameMonth); // TMY months come from different years: skip the month joins

  // 3. Daily clearness index Kt = H / H0 (H from the file's direct normal + diffuse horizontal).
  const geo = yearGeometry(series.latitudeDeg, series.longitudeDeg);
  const ghi = globalHorizontalWm2(series);
  const H = new Float64Array(365);
  const D = new Float64Array(365);
  for (let i = 0; i < nH; i++) {
    H[Math.floor(i / 24)] += ghi[i];
    D[Math.floor(i / 24)] += series.diffuseHorizontalWm2[i];
  }
  const kt = Array.from(H, (h, d) => h / geo.dailyExtraterrestrialWhm2[d]);
  const quantiles: number[][] = [];
  const zScore = new Array<number>(365).fill(0);
  const rhoMonth: number[] = [];
  for (let m = 0; m < 12; m++) {
    const days = month.map((mm, d) => (mm === m ? d : -1)).filter((d) => d >= 0);
    const sorted = days.map((d) => kt[d]).sort((a, b) => a - b);
    const q: number[] = [];
    for (let k = 0; k <= 10; k++) {
      const pos = (k / 10) * (sorted.length - 1);
      const lo = Math.floor(pos);
      const hi = Math.min(lo + 1, sorted.length - 1);
      q.push(sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo));
    }
    quantiles.push(q);
    const order = [...days].sort((a, b) => kt[a] - kt[b]);
    order.forEach((d, r) => (zScore[d] = normalQuantile((r + 0.5) / order.length)));
    rhoMonth.push(pearson(days.map((d) => u[d]), days.map((d) => zScore[d])));
  }
  const midTheta = Array.from({ length: 12 }, (_, m) => {
    const starts = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];
    return seasonAngleRad((starts[m] + starts[m + 1] - 1) / 2);
  });
  const rhoH = leastSquares(midTheta.map((t) => harmonicRegressors(t, 1)), rhoMonth);
  const phiZ = lag1(zScore, sameMonth);
  const rho2 = mean(rhoMonth.map((r) => r * r));
  const phiW = Math.max(0, Math.min(0.95, (phiZ - rho2 * phiU) / (1 - rho2)));

  // 4. Daily diffuse fraction: logistic in Kt, fitted on the logit.
  const fdRows: number[][] = [];
  const fdY: number[] = [];
  for (let d = 0; d < 365; d++) {
    if (H[d] <= 0) continue;
    const f = Math.min(0.98, Math.max(0.02, D[d] / H[d]));
    fdRows.push([1, kt[d]]);
    fdY.push(Math.log(1 / f - 1));
  }
  const fd = leastSquares(fdRows, fdY);

  // 5. Diurnal cycle about the daily-mean curve (periodic year: day −1 is day 364).
  const ext = new Float64Array(367);
  for (let d = 0; d < 365; d++) ext[d + 1] = dm[d];
  ext[0] = dm[364];
  ext[366] = dm[0];
  const mCurve = new Float64Array(nH);
  const y = new Float64Array(nH);
  for (let i = 0; i < nH; i++) {
    const d = Math.floor(i / 24);
    mCurve[i] = dailyMeanCurveC(ext, d + 1, (i % 24) + 0.5);
    y[i] = series.tempC[i] - mCurve[i];
  }
  const shapeRows: number[][] = [];
  for (let i = 0; i < nH; i++) {
    const t = theta[Math.floor(i / 24)];
    const c = Math.cos(t);
    const s = Math.sin(t);
    const row: number[] = [];
    for (let j = 1; j <= 2; j++) {
      const w = (2 * Math.PI * j * ((i % 24) + 0.5)) / 24;
      row.push(Math.cos(w), Math.cos(w) * c, Math.cos(w) * s, Math.sin(w), Math.sin(w) * c, Math.sin(w) * s);
    }
    shapeRows.push(row);
  }
  const shape = leastSquares(shapeRows, Array.from(y));
  const amp: number[] = [];
  const resid = new Float64Array(nH);
  const shp = new Float64Array(24);
  for (let d = 0; d < 365; d++) {
    diurnalShapeValues(shape, theta[d], shp);
    let num = 0;
    let den = 0;
    for (let h = 0; h < 24; h++) {
      num += y[d * 24 + h] * shp[h];
      den += shp[h] * shp[h];
    }
    const a = num / den;
    amp.push(a);
    for (let h = 0; h < 24; h++) resid[d * 24 + h] = y[d * 24 + h] - a * shp[h];
  }
  const ampRows = theta.map((t, d) => [1, Math.cos(t), Math.sin(t), kt[d], kt[d] * Math.cos(t), kt[d] * Math.sin(t)]);
  const ampC = leastSquares(ampRows, amp);
  const ampNodes = meanPreservingNodes(amp.map((a, d) => a - dot(ampC, ampRows[d])), month);
  const ampSigma = std(amp.map((a, d) => a - dot(ampC, ampRows[d]) - monthlyNodesAt(ampNodes, d)));
  const hourly = noiseOf(resid);
  // Seasonal σ of the hourly residual: one harmonic of its daily variance, then of σ (as for the anomaly).
  const residVar = Array.from({ length: 365 }, (_, d) => {
    let v = 0;
    for (let h = 0; h < 24; h++) v += resid[d * 24 + h] ** 2;
    return v / 24;
  });
  const rvH = leastSquares(theta.map((t) => harmonicRegressors(t, 1)), residVar);
  const rsDay = theta.map((t) => Math.sqrt(Math.max(0.01, dot(rvH, harmonicRegressors(t, 1)))));
  const hourlySigmaH = leastSquares(theta.map((t) => harmonicRegressors(t, 1)), rsDay);

  // 6. Dew-point and sky depressions.
  const depRows: number[][] = [];
  const dep: number[] = [];
  const skyRows: number[][] = [];
  const skyDep: number[] = [];
  for (let i = 0; i < nH; i++) {
    const d = Math.floor(i / 24);
    const c = Math.cos(theta[d]);
    const s = Math.sin(theta[d]);
    const t = series.tempC[i];
    const dp = t - series.dewPointC[i];
    depRows.push([1, c, s, kt[d], t - mCurve[i]]);
    dep.push(dp);
    skyRows.push([1, c, s, kt[d], dp]);
    skyDep.push(t - series.skyTempC[i]);
  }
  const depC = leastSquares(depRows, dep);
  const depNoise = noiseOf(Float64Array.from(dep, (v, i) => v - dot(depC, depRows[i])));
  const skyC = leastSquares(skyRows, skyDep);
  const skyNoise = noiseOf(Float64Array.from(skyDep, (v, i) => v - dot(skyC, skyRows[i])));

  // 7. Pressure, wind, cold water.
  const lw = Float64Array.from(series.windMs, (w) => Math.log(w + 0.5));
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < nH; i++) {
    const a = (series.windDirDeg[i] * Math.PI) / 180;
    sx += series.windMs[i] * Math.sin(a);
    sy += series.windMs[i] * Math.cos(a);
  }
  let dir = (Math.atan2(sx, sy) * 180) / Math.PI;
  if (dir < 0) dir += 360;
  const cwRows = Array.from(cold.coldWaterC, (_, i) => harmonicRegressors((2 * Math.PI * ((cold.startS + i * cold.stepS) / 86400)) / 365, 2));
  const cwC = leastSquares(cwRows, Array.from(cold.coldWaterC));

  let params: ZoneClimateParams = {
    latitudeDeg: series.latitudeDeg,
    longitudeDeg: series.longitudeDeg,
    meanHarmonicsC: meanH,
    meanMonthlyNodesK: meanNodes,
    anomalySigmaHarmonicsK: sigmaH,
    anomalyLag1: phiU,
    clearnessQuantiles: quantiles,
    clearnessLag1: phiW,
    clearnessTempCorrHarmonics: rhoH,
    diffuseFractionLogistic: fd,
    diurnalShape: shape,
    diurnalAmplitude: ampC,
    diurnalAmplitudeMonthlyNodesK: ampNodes,
    diurnalAmplitudeSigmaK: ampSigma,
    hourlyNoiseSigmaHarmonicsK: hourlySigmaH,
    hourlyNoiseLag1: hourly.lag1,
    dewPointDepression: depC,
    dewPointNoiseSigmaK: depNoise.sigma,
    dewPointNoiseLag1: depNoise.lag1,
    skyDepression: skyC,
    skyNoiseSigmaK: skyNoise.sigma,
    skyNoiseLag1: skyNoise.lag1,
    pressurePa: mean(series.pressurePa),
    windLogMean: mean(lw),
    windLogSigma: std(lw),
    windLag1: lag1(lw),
    windPrevailingDirDeg: dir,
    coldWaterHarmonicsC: cwC,
  };
  // 8. Simulated moments: the measured daily range (max − min of the hours) of generated weather also depends on
  // the hourly noise, the day-to-day trend and the A ≥ 0 clamp, so shift the amplitude nodes by the gap between the
  // file's and a long simulation's monthly mean daily range (fixed fit seed, a few fixed-point steps).
  const fileStats = weatherStats(series);
  let rangeGap = 0;
  for (let iter = 0; iter < FIT_ITERATIONS; iter++) {
    const sim = weatherStats(generateWeather(params, { seed: FIT_SEED, years: FIT_YEARS }));
    const gap = fileStats.monthlyMeanDailyRangeC.map((r, m) => r - sim.monthlyMeanDailyRangeC[m]);
    rangeGap = Math.max(...gap.map(Math.abs));
    if (iter === FIT_ITERATIONS - 1) break;
    const shift = meanPreservingNodes(month.map((m) => gap[m]), month);
    params = { ...params, diurnalAmplitudeMonthlyNodesK: params.diurnalAmplitudeMonthlyNodesK.map((v, k) => v + shift[k]) };
  }
  const report =
    `${zone}: daily-mean σ ${std(x).toFixed(2)} K (season ${sigmaH.map((v) => v.toFixed(2)).join('/')}), lag-1 ${phiU.toFixed(3)}, ` +
    `Kt–T corr ${rhoH.map((v) => v.toFixed(2)).join('/')}, Kt lag-1 ${phiZ.toFixed(2)}, hourly noise ${hourly.sigma.toFixed(2)} K (season ${hourlySigmaH.map((v) => v.toFixed(2)).join('/')}), ` +
    `amplitude nodes ${params.diurnalAmplitudeMonthlyNodesK.map((v) => v.toFixed(1)).join(' ')}, ` +
    `range gap left after moment matching ${rangeGap.toFixed(2)} K`;
  return { params, report };
}

// ---------- output ----------

function num(v: number): string {
  if (v === 0) return '0';
  const s = Number(v.toPrecision(6)).toString();
  return s;
}

function render(value: unknown, indent: string): string {
  if (typeof value === 'number') return num(value);
  if (Array.isArray(value)) {
    const items = value.map((v) => render(v, indent + '  '));
    if (value.every((v) => typeof v === 'number')) return `[${items.join(', ')}]`;
    return `[\n${items.map((s) => `${indent}  ${s},`).join('\n')}\n${indent}]`;
  }
  if (typeof value === 'string') return JSON.stringify(value).replace(/"/g, "'");
  const entries = Object.entries(value as Record<string, unknown>);
  return `{\n${entries.map(([k, v]) => `${indent}  ${k}: ${render(v, indent + '  ')},`).join('\n')}\n${indent}}`;
}

const fits = CLIMATE_ZONES.map((z) => [z, fitZone(z)] as const);
for (const [, f] of fits) console.log(f.report);
const info = Object.fromEntries(
  fits.map(([z, f]) => [
    z,
    { name: z, station: STATIONS[z].station, latitudeDeg: f.params.latitudeDeg, longitudeDeg: f.params.longitudeDeg, altitudeM: STATIONS[z].altitudeM },
  ]),
);
const text = `// GENERATED by scripts/fit-weather.ts from ../shared/data/weather/rt2012 (RT2012 typical years): do not edit by hand.
// To refit, rerun \`node --import tsx scripts/fit-weather.ts\`; the generator itself is in ./synthetic.ts.
import type { ClimateZone, ZoneClimateParams } from './synthetic.ts';

/** Metadata of a climate zone's reference station (altitude approximate: the RT2012 data are reduced to sea level). */
export interface ZoneInfo {
  readonly name: ClimateZone;
  readonly station: string;
  readonly latitudeDeg: number;
  readonly longitudeDeg: number;
  readonly altitudeM: number;
}

/** Reference station of each zone. */
export const ZONE_INFO: Record<ClimateZone, ZoneInfo> = ${render(info, '')};

/** Fitted generator parameters per zone (units in ZoneClimateParams). */
export const ZONE_PARAMS: Record<ClimateZone, ZoneClimateParams> = ${render(Object.fromEntries(fits.map(([z, f]) => [z, f.params])), '')};
`;
writeFileSync(outFile, text);
console.log(`wrote ${outFile}`);
