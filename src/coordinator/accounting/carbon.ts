// Carbon accounting (pure, no I/O): grid carbon-intensity sources (a constant, or a series parsed from CSV text),
// named reference datacenters, and the carbon facts of a task from its attempts' energy and where their heat went.
import { InvalidParameterError, requireFinite } from '../../physics/errors.ts';
import { energyReuseKpis } from '../../control/kpi.ts';
import { FR_2020_MEAN_G_PER_KWH, seriesSegments, type CarbonSeries, type OutsideSeries } from '../../physics/carbon-csv.ts';

// ---------------------------------------------------------------------------------------------------------
// Sources

/** Grid carbon intensity as a function of time. */
export interface CarbonSource {
  /** Intensity at an instant, gCO2e/kWh. `epochMs`: ms since the Unix epoch (UTC). */
  intensityAt(epochMs: number): number;
  /**
   * Time-weighted mean intensity over [fromMs, toMs], gCO2e/kWh (exact for a step series). Optional: without it,
   * {@link meanIntensity} samples `intensityAt`.
   */
  meanIntensity?(fromMs: number, toMs: number): number;
}

/** Default grid intensity, gCO2e/kWh: the French 2020 mean (physics/carbon-csv.ts), as in the twin. */
export const DEFAULT_GRID_G_PER_KWH = FR_2020_MEAN_G_PER_KWH;

/** A source that is the same at every instant, gCO2e/kWh (default {@link DEFAULT_GRID_G_PER_KWH}). */
export function constantCarbonSource(gPerKWh: number = DEFAULT_GRID_G_PER_KWH): CarbonSource {
  requireFinite('gPerKWh', gPerKWh, 0);
  return { intensityAt: () => gPerKWh, meanIntensity: () => gPerKWh };
}

/**
 * Time-weighted mean intensity of a source over [fromMs, toMs], gCO2e/kWh: the source's own `meanIntensity` when it
 * has one, else the midpoint rule on at most 2,000 slices of at least 15 min. An empty interval gives the intensity
 * at `fromMs`.
 */
export function meanIntensity(source: CarbonSource, fromMs: number, toMs: number): number {
  if (!(toMs > fromMs)) return source.intensityAt(fromMs);
  if (source.meanIntensity) return source.meanIntensity(fromMs, toMs);
  const n = Math.max(1, Math.min(2000, Math.ceil((toMs - fromMs) / 900_000)));
  const dt = (toMs - fromMs) / n;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += source.intensityAt(fromMs + (i + 0.5) * dt);
  return sum / n;
}

// The CSV format is read in one place (physics/carbon-csv.ts), shared with the twin.
export { CarbonRangeError, parseCarbonCsv, parseTimestampMs, type CarbonSeries, type OutsideSeries } from '../../physics/carbon-csv.ts';

/**
 * A step source over a parsed series: each value holds from its sample time until the next sample; the last one
 * for one more step (the last interval). Outside that span, see {@link OutsideSeries} (default `nearest`).
 */
export function seriesCarbonSource(series: CarbonSeries, options: { outside?: OutsideSeries } = {}): CarbonSource {
  const segment = seriesSegments(series, options.outside ?? 'nearest');
  return {
    intensityAt: (epochMs) => segment(epochMs).g,
    meanIntensity(fromMs, toMs) {
      if (!(toMs > fromMs)) return segment(fromMs).g;
      let acc = 0;
      let t = fromMs;
      while (t < toMs) {
        const s = segment(t);
        const next = Math.min(toMs, s.untilMs > t ? s.untilMs : t + 1);
        acc += s.g * (next - t);
        t = next;
      }
      return acc / (toMs - fromMs);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Reference datacenters

/** A conventional datacenter the platform is compared with. */
export interface ReferenceDatacenter {
  readonly name: string;
  /** Power usage effectiveness (total facility energy / IT energy), ≥ 1. */
  readonly pue: number;
  /** Its grid intensity, gCO2e/kWh, or 'grid': the platform's own source at the same instants (same country). */
  readonly gPerKWh: number | 'grid';
  /** What it stands for and where the numbers come from. */
  readonly description: string;
}

/** Name of the reference datacenter used when a request names none. */
export const DEFAULT_REFERENCE_DATACENTER = 'french-average';

/**
 * Named reference datacenters (`?comparisonDatacenter=`). PUE 1.58 is the industry average of the Uptime Institute
 * Global Data Center Survey 2023, the reference of SCHEDULING.md and PHYSICS.md (src/control/kpi.ts); 1.10 is the
 * best-in-class figure of PHYSICS.md (what hyperscalers report fleet-wide). Grid figures are stated per preset.
 */
export const REFERENCE_DATACENTERS: Readonly<Record<string, ReferenceDatacenter>> = Object.freeze({
  'french-average': {
    name: 'french-average',
    pue: 1.58,
    gPerKWh: 'grid',
    description: 'an average datacenter (PUE 1.58, Uptime Institute 2023) on the same French grid at the same instants',
  },
  hyperscale: {
    name: 'hyperscale',
    pue: 1.1,
    gPerKWh: 'grid',
    description: 'a best-in-class hyperscale datacenter (PUE 1.10, PHYSICS.md) on the same French grid at the same instants',
  },
  'european-average': {
    name: 'european-average',
    pue: 1.6,
    gPerKWh: 250,
    description:
      'an average European datacenter: PUE 1.6 and 250 gCO2e/kWh, both our estimates (the order of the EU-27 ' +
      "generation intensity the European Environment Agency reports for 2020-2022), not quoted figures",
  },
  'world-average': {
    name: 'world-average',
    pue: 1.58,
    gPerKWh: 475,
    description: 'an average datacenter (PUE 1.58, Uptime Institute 2023) on the world-average grid (475 gCO2/kWh, IEA Global Energy & CO2 Status Report 2019)',
  },
});

/** The preset of this name, or undefined. */
export function referenceDatacenter(name: string): ReferenceDatacenter | undefined {
  return Object.hasOwn(REFERENCE_DATACENTERS, name) ? REFERENCE_DATACENTERS[name] : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Carbon facts

/** Where an attempt's heat went: a room, a hot-water tank, or nowhere useful (overflow datacenter, unwanted heat). */
export type HeatDestination = 'room' | 'tank' | 'vented';

/** Where one attempt's heat went, and the overheads of where it ran. */
export interface AttemptHeat {
  destination: HeatDestination;
  /**
   * Share of the attempt's energy that warmed the room or tank usefully, 0..1 (default 1 for room and tank; 0 and
   * only 0 for vented). Lower it for a heater whose room did not want all of the heat.
   */
  reusedFraction?: number;
  /** PUE of the place it ran, ≥ 1 (default 1: a board in a room or tank has no cooling; an overflow datacenter's). */
  pue?: number;
}

/** One attempt's energy, when it was drawn and where its heat went. */
export interface AttemptEnergy extends AttemptHeat {
  /** Energy the board drew, Wh (measured; IT energy). */
  energyWh: number;
  /** When it was drawn, ms since the epoch: assumed evenly over [startMs, endMs] (an instant when equal). */
  startMs: number;
  endMs: number;
}

/** The carbon facts of a task (energies Wh, footprints gCO2e; savings may be negative). */
export interface CarbonFacts {
  /** Energy drawn, IT plus overheads (Σ IT × PUE), Wh. */
  consumedEnergyWh: number;
  /** Energy the boards drew, Wh. */
  itEnergyWh: number;
  /** Heat reused in rooms and tanks, Wh. */
  reusedHeatWh: number;
  /** This platform's footprint: Σ IT × PUE × grid intensity over the attempt, gCO2e. */
  footprintGCO2e: number;
  /** Name of the reference datacenter. */
  referenceDatacenter: string;
  /** The reference datacenter's footprint: Σ IT × its PUE × its intensity, gCO2e. */
  referenceFootprintGCO2e: number;
  /**
   * Heat saving: Σ reused heat × grid intensity over the attempt, gCO2e. The heat would otherwise have come from the
   * building's own heating, taken as resistive electric heating (efficiency 1) on the same grid at the same time.
   */
  heatSavedGCO2e: number;
  /** Compute saving: reference footprint − this platform's, gCO2e. */
  computeSavedGCO2e: number;
  /** computeSaved + heatSaved, gCO2e. */
  totalSavedGCO2e: number;
  /** totalSaved / (reference footprint + heating that the reused heat replaced), % (0 when both are 0). */
  savedPercent: number;
  /** consumed / IT (1 when nothing was drawn). */
  pue: number;
  /** (1 − ERF)·PUE. */
  ere: number;
  /** reused / consumed, 0..1 (0 when nothing was drawn). */
  erf: number;
  /** Water usage effectiveness, L/kWh: 0 (heaters use no water; an overflow datacenter's water is not measured). */
  wueLPerKWh: number;
}

/**
 * The carbon facts of a task from its attempts (pure). Each attempt's grid intensity is the source's time-weighted
 * mean over [startMs, endMs]; a reference datacenter with `gPerKWh: 'grid'` sees the same intensity.
 * @throws InvalidParameterError naming `attempts[i].<field>` for a negative energy, an end before the start, a
 *   reused fraction outside 0..1 (or above 0 for a vented attempt) or a PUE below 1
 */
export function carbonFacts(attempts: readonly AttemptEnergy[], source: CarbonSource, reference: ReferenceDatacenter): CarbonFacts {
  requireFinite('reference.pue', reference.pue, 1);
  if (reference.gPerKWh !== 'grid') requireFinite('reference.gPerKWh', reference.gPerKWh, 0);
  let itWh = 0;
  let consumedWh = 0;
  let reusedWh = 0;
  let footprintG = 0;
  let referenceG = 0;
  let heatG = 0;
  attempts.forEach((a, i) => {
    const f = (field: string) => `attempts[${i}].${field}`;
    const e = requireFinite(f('energyWh'), a.energyWh, 0);
    const start = requireFinite(f('startMs'), a.startMs);
    const end = requireFinite(f('endMs'), a.endMs, start);
    const pue = requireFinite(f('pue'), a.pue ?? 1, 1);
    const vented = a.destination === 'vented';
    const share = requireFinite(f('reusedFraction'), a.reusedFraction ?? (vented ? 0 : 1), 0, 1);
    if (vented && share > 0) throw new InvalidParameterError(f('reusedFraction'), `must be 0 for vented heat, got ${share}`);
    if (e === 0) return;
    const g = meanIntensity(source, start, end);
    const gRef = reference.gPerKWh === 'grid' ? g : reference.gPerKWh;
    itWh += e;
    consumedWh += e * pue;
    reusedWh += e * share;
    footprintG += (e * pue * g) / 1000;
    referenceG += (e * reference.pue * gRef) / 1000;
    heatG += (e * share * g) / 1000;
  });
  const k = itWh > 0 ? energyReuseKpis({ totalWh: consumedWh, itWh, reusedWh: Math.min(reusedWh, consumedWh) }) : { erf: 0, pue: 1, ere: 1 };
  const computeSavedGCO2e = referenceG - footprintG;
  const totalSavedGCO2e = computeSavedGCO2e + heatG;
  const baseline = referenceG + heatG;
  return {
    consumedEnergyWh: consumedWh,
    itEnergyWh: itWh,
    reusedHeatWh: reusedWh,
    footprintGCO2e: footprintG,
    referenceDatacenter: reference.name,
    referenceFootprintGCO2e: referenceG,
    heatSavedGCO2e: heatG,
    computeSavedGCO2e,
    totalSavedGCO2e,
    savedPercent: baseline > 0 ? (100 * totalSavedGCO2e) / baseline : 0,
    pue: k.pue,
    ere: k.ere,
    erf: k.erf,
    wueLPerKWh: 0,
  };
}
