// Domestic hot-water demand: EN 16147 tapping cycles (parser), energy ↔ volume conversion, a seeded stochastic
// draw generator calibrated in litres per person per day, and the RT2012 hourly cold-water temperature files.
import type { ColdWaterSeries } from './weather/rt2012.ts';
import { InvalidParameterError, ParseError, requireFinite, isList } from './errors.ts';
import { createRng, poisson } from './random.ts';
import { WATER_CV_JLK } from './tank.ts';

/** Length of an EN 16147 tapping cycle, s (24 h). */
export const TAPPING_CYCLE_S = 86400;

/** One draw of a tapping cycle: start time, useful energy and flow rate. */
export interface TappingDraw {
  /** Start time, s after midnight (or after the start of a repeated sequence). */
  readonly timeS: number;
  /** Useful energy of the draw, Wh, relative to cold water (EN 16147: ρ·c·V·(θ − θ_cold), θ_cold = 10 °C). */
  readonly energyWh: number;
  /** Flow rate, L/min. */
  readonly flowLpm: number;
}

/** A parsed tapping cycle. */
export interface TappingCycle {
  readonly draws: readonly TappingDraw[];
  /** Sum of draw energies over the 24 h cycle, Wh. */
  readonly totalEnergyWh: number;
}

const NUMBER_RE = /^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$/;

/** Parses a decimal number accepting a decimal comma; undefined when malformed. */
function parseDecimal(s: string): number | undefined {
  const t = s.trim();
  if (!NUMBER_RE.test(t)) return undefined;
  return Number(t.replace(',', '.'));
}

/**
 * Parses an EN 16147 / EU 814/2013 tapping cycle as shipped in BuildSysPro (`tapping_cycle_{S,M,L}.csv`):
 * one row per draw, `time of day (s);energy (kWh);flow (L/min)`, ';'-separated, decimal point or comma, no
 * header (one non-numeric header line is tolerated first). Rows with zero energy and flow (the final
 * `86400;0;0` end-of-cycle marker) are not draws. Times must increase strictly within [0, 86400] s; energies
 * are converted to Wh. Throws ParseError naming the 1-based line.
 */
export function parseTappingCycle(text: string, source = 'tapping cycle'): TappingCycle {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const draws: TappingDraw[] = [];
  let lastTimeS = -Infinity;
  let seenLine = false;
  let totalEnergyWh = 0;
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li].trim();
    const lineNo = li + 1;
    if (line === '') continue;
    const fields = line.split(';');
    const first = !seenLine;
    seenLine = true;
    if (first && parseDecimal(fields[0]) === undefined && !/^[\d+\-.,]/.test(fields[0].trim())) continue; // a header line
    if (fields.length !== 3) throw new ParseError(source, lineNo, `expected 3 ';'-separated fields (time s; energy kWh; flow L/min), got ${fields.length}`);
    const [timeS, energyKWh, flowLpm] = fields.map(parseDecimal);
    if (timeS === undefined) throw new ParseError(source, lineNo, `time '${fields[0]}' is not a number`);
    if (energyKWh === undefined) throw new ParseError(source, lineNo, `energy '${fields[1]}' is not a number`);
    if (flowLpm === undefined) throw new ParseError(source, lineNo, `flow '${fields[2]}' is not a number`);
    if (timeS < 0 || timeS > TAPPING_CYCLE_S) throw new ParseError(source, lineNo, `time ${timeS} s is outside 0..${TAPPING_CYCLE_S}`);
    if (!(timeS > lastTimeS)) throw new ParseError(source, lineNo, `time ${timeS} s does not increase (previous ${lastTimeS} s)`);
    if (energyKWh < 0) throw new ParseError(source, lineNo, `energy ${energyKWh} kWh is negative`);
    if (flowLpm < 0) throw new ParseError(source, lineNo, `flow ${flowLpm} L/min is negative`);
    lastTimeS = timeS;
    if (energyKWh === 0) continue; // end-of-cycle marker
    if (flowLpm === 0) throw new ParseError(source, lineNo, `a draw of ${energyKWh} kWh needs a positive flow`);
    if (timeS >= TAPPING_CYCLE_S) throw new ParseError(source, lineNo, `a draw must start before ${TAPPING_CYCLE_S} s`);
    const energyWh = energyKWh * 1000;
    draws.push({ timeS, energyWh, flowLpm });
    totalEnergyWh += energyWh;
  }
  if (draws.length === 0) throw new ParseError(source, lines.length, 'no draws');
  return { draws, totalEnergyWh };
}

/** Repeats a tapping cycle over `days` days (draw times in s from the start of the first day). */
export function repeatTappingCycle(cycle: TappingCycle, days: number): TappingDraw[] {
  const n = requireFinite('days', days, 0, 100000);
  if (!Number.isInteger(n)) throw new InvalidParameterError('days', `must be an integer, got ${n}`);
  const out: TappingDraw[] = [];
  for (let d = 0; d < n; d++) for (const x of cycle.draws) out.push({ ...x, timeS: x.timeS + d * TAPPING_CYCLE_S });
  return out;
}

/**
 * Volume (L) of water at hotC (°C) that carries `energyWh` (Wh) above cold water at coldC (°C):
 * V = E / (ρc·(θ_hot − θ_cold)). EN 16147 draws specify useful energy relative to 10 °C cold water; at a 40 °C
 * tap (30 K rise) 0.105 kWh is 3.0 L, at 50 °C (40 K) 2.3 L. Mixing with cold water at the tap does not change
 * the energy above cold, so a tank can be fed the energy directly (TankInput.drawEnergyWh).
 */
export function drawVolumeL(energyWh: number, hotC: number, coldC: number, cvJLK = WATER_CV_JLK): number {
  requireFinite('energyWh', energyWh, 0);
  const rise = requireFinite('hotC', hotC) - requireFinite('coldC', coldC);
  if (!(rise > 0)) throw new InvalidParameterError('hotC', `must exceed coldC (${coldC} °C), got ${hotC}`);
  return (energyWh * 3600) / (requireFinite('cvJLK', cvJLK, Number.MIN_VALUE) * rise);
}

/** Energy (Wh) above cold water at coldC (°C) of `volumeL` (L) of water at hotC (°C): ρc·V·(θ_hot − θ_cold). */
export function drawEnergyWh(volumeL: number, hotC: number, coldC: number, cvJLK = WATER_CV_JLK): number {
  requireFinite('volumeL', volumeL, 0);
  return (volumeL * requireFinite('cvJLK', cvJLK, Number.MIN_VALUE) * (requireFinite('hotC', hotC) - requireFinite('coldC', coldC))) / 3600;
}

// ---------------------------------------------------------------------------------------------------------
// Stochastic draws

/** A class of draws (hand washing, kitchen, shower, bath…): size, flow, share of the daily volume and timing. */
export interface DrawClass {
  readonly name: string;
  /** Mean volume of one draw at the reference temperature, L. */
  readonly meanVolumeL: number;
  /** Coefficient of variation of the (log-normal) draw volume. */
  readonly volumeCv: number;
  /** Flow rate at the reference temperature, L/min. */
  readonly flowLpm: number;
  /** Share of the daily volume taken by this class (shares are normalised to sum 1). */
  readonly volumeShare: number;
  /** Relative frequency of draws by hour of day on weekdays (24 weights ≥ 0). */
  readonly weekdayHours: readonly number[];
  /** Same on Saturdays and Sundays. */
  readonly weekendHours: readonly number[];
}

/** Parameters of the draw generator. Defaults are estimates. */
export interface DhwGeneratorParams {
  /** Number of residents. */
  readonly persons: number;
  /** Mean daily volume per person at referenceTempC, L (est. 50–60 L at 40 °C for French dwellings; default 56). */
  readonly litresPerPersonDay: number;
  /** Temperature at which volumes are counted, °C (40: water as used at the tap). */
  readonly referenceTempC: number;
  /** Weekend-day volume relative to a weekday (est. 1.15); the weekly mean stays litresPerPersonDay. */
  readonly weekendFactor: number;
  readonly classes: readonly DrawClass[];
}

const h24 = (pairs: Record<number, number>): number[] => Array.from({ length: 24 }, (_, h) => pairs[h] ?? 0);

/**
 * Default draw classes (est.): small (hand washing, 4 L, 20 % of the volume), kitchen (10 L, 15 %), shower
 * (40 L at 8 L/min, 55 %), bath (120 L, 10 %); morning and evening peaks, mornings 1–2 h later at weekends.
 */
export const DEFAULT_DRAW_CLASSES: readonly DrawClass[] = [
  {
    name: 'small',
    meanVolumeL: 4,
    volumeCv: 0.5,
    flowLpm: 4,
    volumeShare: 0.2,
    weekdayHours: h24({ 5: 0.5, 6: 2, 7: 3, 8: 2, 9: 1, 10: 1, 11: 1, 12: 2, 13: 1.5, 14: 1, 15: 1, 16: 1, 17: 1.5, 18: 2, 19: 2.5, 20: 2, 21: 1.5, 22: 1, 23: 0.3, 0: 0.1 }),
    weekendHours: h24({ 7: 0.5, 8: 2, 9: 3, 10: 2, 11: 1.5, 12: 2, 13: 2, 14: 1, 15: 1, 16: 1, 17: 1.5, 18: 2, 19: 2.5, 20: 2, 21: 1.5, 22: 1, 23: 0.5, 0: 0.2 }),
  },
  {
    name: 'kitchen',
    meanVolumeL: 10,
    volumeCv: 0.5,
    flowLpm: 6,
    volumeShare: 0.15,
    weekdayHours: h24({ 6: 0.5, 7: 1.5, 8: 1, 9: 0.3, 10: 0.3, 11: 0.5, 12: 2, 13: 2.5, 14: 0.5, 15: 0.3, 16: 0.3, 17: 0.5, 18: 1, 19: 2.5, 20: 3, 21: 1.5, 22: 0.5 }),
    weekendHours: h24({ 8: 0.5, 9: 1.5, 10: 1, 11: 0.5, 12: 2, 13: 3, 14: 1.5, 15: 0.3, 16: 0.3, 17: 0.5, 18: 1, 19: 2.5, 20: 3, 21: 1.5, 22: 0.5 }),
  },
  {
    name: 'shower',
    meanVolumeL: 40,
    volumeCv: 0.35,
    flowLpm: 8,
    volumeShare: 0.55,
    weekdayHours: h24({ 5: 0.5, 6: 3, 7: 4, 8: 2, 9: 0.5, 10: 0.2, 11: 0.2, 12: 0.2, 13: 0.2, 14: 0.2, 15: 0.2, 16: 0.3, 17: 0.6, 18: 1, 19: 1.5, 20: 1.5, 21: 1.2, 22: 0.8, 23: 0.2 }),
    weekendHours: h24({ 7: 0.5, 8: 2, 9: 3, 10: 2.5, 11: 1, 12: 0.3, 13: 0.2, 14: 0.2, 15: 0.3, 16: 0.5, 17: 0.8, 18: 1.2, 19: 1.5, 20: 1.5, 21: 1.2, 22: 0.8, 23: 0.3 }),
  },
  {
    name: 'bath',
    meanVolumeL: 120,
    volumeCv: 0.2,
    flowLpm: 12,
    volumeShare: 0.1,
    weekdayHours: h24({ 7: 0.2, 8: 0.2, 17: 0.5, 18: 1.5, 19: 2.5, 20: 3, 21: 2, 22: 1, 23: 0.3 }),
    weekendHours: h24({ 9: 0.5, 10: 0.5, 11: 0.3, 16: 0.5, 17: 1, 18: 2, 19: 2.5, 20: 2.5, 21: 2, 22: 1, 23: 0.3 }),
  },
];

/** Default generator (est.): 2 persons, 56 L/person/day at 40 °C, weekends +15 %. */
export const DEFAULT_DHW_GENERATOR: DhwGeneratorParams = {
  persons: 2,
  litresPerPersonDay: 56,
  referenceTempC: 40,
  weekendFactor: 1.15,
  classes: DEFAULT_DRAW_CLASSES,
};

/** One generated draw. Volumes are at the reference temperature; drawEnergyWh converts them with the cold temperature. */
export interface GeneratedDraw {
  /** Start, s from the start of the generated sequence. */
  readonly timeS: number;
  /** Volume at the reference temperature, L. */
  readonly volumeL: number;
  /** Flow at the reference temperature, L/min. */
  readonly flowLpm: number;
  /** Duration of the draw at that flow, s. */
  readonly durationS: number;
  /** Name of the draw class. */
  readonly kind: string;
}

interface PreparedClass {
  readonly c: DrawClass;
  readonly share: number;
  readonly mu: number;
  readonly sigma: number;
  readonly cumWeekday: Float64Array;
  readonly cumWeekend: Float64Array;
}

function cumulative(field: string, w: readonly number[]): Float64Array {
  if (!isList(w) || w.length !== 24) throw new InvalidParameterError(field, 'needs 24 hourly weights');
  const out = new Float64Array(24);
  let s = 0;
  w.forEach((x, i) => {
    s += requireFinite(`${field}[${i}]`, x, 0);
    out[i] = s;
  });
  if (!(s > 0)) throw new InvalidParameterError(field, 'weights must not all be zero');
  for (let i = 0; i < 24; i++) out[i] /= s;
  return out;
}

/** Validates generator parameters (defaults fill the gaps); returns the merged parameters. */
export function checkDhwGenerator(params: Partial<DhwGeneratorParams> = {}, field = 'dhw'): DhwGeneratorParams {
  const p: DhwGeneratorParams = { ...DEFAULT_DHW_GENERATOR, ...params };
  requireFinite(`${field}.persons`, p.persons, 0, 1000);
  requireFinite(`${field}.litresPerPersonDay`, p.litresPerPersonDay, 0, 10000);
  requireFinite(`${field}.referenceTempC`, p.referenceTempC, 0, 100);
  requireFinite(`${field}.weekendFactor`, p.weekendFactor, 0, 100);
  if (!isList(p.classes) || p.classes.length === 0) throw new InvalidParameterError(`${field}.classes`, 'needs at least one draw class');
  p.classes.forEach((c, i) => {
    const f = `${field}.classes[${i}]`;
    requireFinite(`${f}.meanVolumeL`, c.meanVolumeL, Number.MIN_VALUE);
    requireFinite(`${f}.volumeCv`, c.volumeCv, 0, 10);
    requireFinite(`${f}.flowLpm`, c.flowLpm, Number.MIN_VALUE);
    requireFinite(`${f}.volumeShare`, c.volumeShare, 0);
    cumulative(`${f}.weekdayHours`, c.weekdayHours);
    cumulative(`${f}.weekendHours`, c.weekendHours);
  });
  if (!(p.classes.reduce((s, c) => s + c.volumeShare, 0) > 0)) throw new InvalidParameterError(`${field}.classes`, 'volume shares must not all be zero');
  return p;
}

/**
 * Generates hot-water draws for `days` days from a seed (same seed, same draws), sorted by time (s).
 * Calibration: the expected volume at referenceTempC is persons × litresPerPersonDay per day on weekly
 * average (weekdays × 7/(5 + 2·weekendFactor), weekend days × weekendFactor of that). Per day and class the
 * number of draws is Poisson with mean persons × dayVolume × share / meanVolumeL, each draw's volume is
 * log-normal with the class mean and CV (so the expected volume is exact), its hour is drawn from the class's
 * weekday or weekend profile and its minute uniformly. Day 0 is weekday `startDayOfWeek` (0 = Monday … 6 = Sunday).
 */
export function generateDraws(params: Partial<DhwGeneratorParams>, days: number, seed: number, startDayOfWeek = 0): GeneratedDraw[] {
  const p = checkDhwGenerator(params);
  const nDays = requireFinite('days', days, 0, 1e6);
  if (!Number.isInteger(nDays)) throw new InvalidParameterError('days', `must be an integer, got ${nDays}`);
  const dow0 = requireFinite('startDayOfWeek', startDayOfWeek, 0, 6);
  if (!Number.isInteger(dow0)) throw new InvalidParameterError('startDayOfWeek', `must be an integer 0..6, got ${dow0}`);
  requireFinite('seed', seed);
  const shareSum = p.classes.reduce((s, c) => s + c.volumeShare, 0);
  const prepared: PreparedClass[] = p.classes.map((c, i) => {
    const sigma2 = Math.log(1 + c.volumeCv * c.volumeCv);
    return {
      c,
      share: c.volumeShare / shareSum,
      sigma: Math.sqrt(sigma2),
      mu: Math.log(c.meanVolumeL) - sigma2 / 2,
      cumWeekday: cumulative(`dhw.classes[${i}].weekdayHours`, c.weekdayHours),
      cumWeekend: cumulative(`dhw.classes[${i}].weekendHours`, c.weekendHours),
    };
  });
  const weekdayL = (p.persons * p.litresPerPersonDay * 7) / (5 + 2 * p.weekendFactor);
  const rng = createRng(seed);
  const out: GeneratedDraw[] = [];
  for (let d = 0; d < nDays; d++) {
    const weekend = (dow0 + d) % 7 >= 5;
    const dayL = weekend ? weekdayL * p.weekendFactor : weekdayL;
    const dayStart = out.length;
    for (const pc of prepared) {
      const count = poisson(rng, (dayL * pc.share) / pc.c.meanVolumeL);
      const cum = weekend ? pc.cumWeekend : pc.cumWeekday;
      for (let j = 0; j < count; j++) {
        const r = rng.next();
        let hour = 0;
        while (hour < 23 && cum[hour] <= r) hour++;
        const timeS = d * 86400 + (hour + rng.next()) * 3600;
        const volumeL = Math.exp(pc.mu + pc.sigma * rng.normal());
        out.push({ timeS, volumeL, flowLpm: pc.c.flowLpm, durationS: (volumeL / pc.c.flowLpm) * 60, kind: pc.c.name });
      }
    }
    const day = out.splice(dayStart).sort((a, b) => a.timeS - b.timeS);
    for (const x of day) out.push(x);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Cold-water temperature (series read by weather/rt2012.ts parseRt2012ColdWater)

/**
 * Cold-water temperature (°C) at time `timeS` (s from 1 January 00:00): linear interpolation between the
 * stamps, periodic over the series length (one year for the RT2012 files), so any time (also negative) works.
 */
export function coldWaterAt(series: ColdWaterSeries, timeS: number): number {
  const t = series.coldWaterC;
  const n = t.length;
  let x = (timeS - series.startS) / series.stepS;
  x -= Math.floor(x / n) * n;
  let i = Math.floor(x);
  if (i >= n) i = n - 1;
  const f = x - i;
  const j = i + 1 === n ? 0 : i + 1;
  return t[i] + f * (t[j] - t[i]);
}
