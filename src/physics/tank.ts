// Stratified hot-water tank of a computing boiler: layers of equal volume, plug-flow draws, inversion mixing,
// standing losses, a board heat exchanger, a resistive top-up with thermostat and an anti-legionella hold.
import { InvalidParameterError, requireFinite, isList } from './errors.ts';

/** Volumetric heat capacity of water ρ·c, J/(L·K): 0.837 MJ/K per 200 L (PHYSICS.md). */
export const WATER_CV_JLK = 4185;

/** Parameters of a tank. Layer 0 is the bottom (cold inlet), layer N−1 the top (hot outlet). Defaults are est. */
export interface TankParams {
  /** Number of layers, 3..10. */
  readonly layers: number;
  /** Water volume, L. */
  readonly volumeL: number;
  /** Inner height, m (a vertical cylinder; sets the surfaces for the loss split and the conduction path). Est. 1.2. */
  readonly heightM: number;
  /** Standing loss coefficient to ambient, W/K. Default 1.9 W/K per 200 L, scaled with volume (est.). */
  readonly uaWK?: number;
  /** Split of uaWK across layers (weights ≥ 0, any sum). Default: by outer surface (side, plus top/bottom discs). */
  readonly lossWeights?: readonly number[];
  /** Volumetric heat capacity, J/(L·K). Default WATER_CV_JLK. */
  readonly cvJLK: number;
  /** Effective vertical conductivity between layers, W/(m·K): 0.6 is still water (est.); 0 disables conduction. */
  readonly conductivityWmK: number;
  /** Conductance of the board heat exchanger, W/K (est. 50). */
  readonly hxUaWK: number;
  /** Highest water temperature the boards can reach through the exchanger, °C (est. ≈ 60). */
  readonly hxMaxTempC: number;
  /** Split of the exchanger over layers (weights ≥ 0, any positive sum). Default: equal over the bottom ⌈N/3⌉ layers. */
  readonly hxLayerWeights?: readonly number[];
  /** Resistive top-up element power, W (est. 1500; 0 = none). */
  readonly topUpW: number;
  /** Layer holding the top-up element and its thermostat sensor. Default: the top layer. */
  readonly topUpLayer?: number;
  /** Thermostat setpoint of the top-up, °C (est. 55; French hot water is held at 55–65 °C). */
  readonly topUpSetpointC: number;
  /** Thermostat dead band, K: the element switches on below setpoint − band, off at the setpoint (est. 5). */
  readonly topUpDeadbandK: number;
  /** Anti-legionella hold temperature, °C (60). */
  readonly legionellaTempC: number;
  /** Minimum continuous hold duration, s (3600). */
  readonly legionellaHoldS: number;
  /** A hold is required at least once per this period, s (est. 7 days). */
  readonly legionellaPeriodS: number;
  /** The program starts heating this long before the period ends, s (est. 12 h). */
  readonly legionellaLeadS: number;
  /** The program heats to legionellaTempC + this margin, K (est. 2). */
  readonly legionellaMarginK: number;
  /** Number of top layers that must all be at or above legionellaTempC. Default: those at and above topUpLayer. */
  readonly legionellaLayers?: number;
  /** Whether the top-up runs the anti-legionella program (compliance is tracked either way). Default true. */
  readonly legionellaProgram: boolean;
}

/** Default tank (est.): 200 L, 1.2 m, 10 layers, 1.9 W/K, exchanger 50 W/K up to 60 °C, 1.5 kW top-up at 55 °C. */
export const DEFAULT_TANK: TankParams = {
  layers: 10,
  volumeL: 200,
  heightM: 1.2,
  cvJLK: WATER_CV_JLK,
  conductivityWmK: 0.6,
  hxUaWK: 50,
  hxMaxTempC: 60,
  topUpW: 1500,
  topUpSetpointC: 55,
  topUpDeadbandK: 5,
  legionellaTempC: 60,
  legionellaHoldS: 3600,
  legionellaPeriodS: 7 * 86400,
  legionellaLeadS: 12 * 3600,
  legionellaMarginK: 2,
  legionellaProgram: true,
};

/** A validated tank with derived per-layer constants. Treat as immutable. */
export interface TankModel {
  readonly layers: number;
  readonly volumeL: number;
  readonly layerVolumeL: number;
  readonly heightM: number;
  readonly cvJLK: number;
  /** Heat capacity of one layer, J/K. */
  readonly layerCapJK: number;
  /** Total standing loss coefficient, W/K. */
  readonly uaWK: number;
  /** Standing loss coefficient of each layer, W/K (sums to uaWK). */
  readonly uaLayerWK: Float64Array;
  /** Conductance between adjacent layers, W/K. */
  readonly interLayerWK: number;
  /** Exchanger conductance into each layer, W/K (sums to hxUaWK). */
  readonly hxLayerWK: Float64Array;
  readonly hxMaxTempC: number;
  readonly topUpW: number;
  readonly topUpLayer: number;
  readonly topUpSetpointC: number;
  readonly topUpDeadbandK: number;
  readonly legionellaTempC: number;
  readonly legionellaHoldS: number;
  readonly legionellaPeriodS: number;
  readonly legionellaLeadS: number;
  readonly legionellaMarginK: number;
  /** Lowest layer index checked for the hold (layers from here to the top). */
  readonly legionellaFromLayer: number;
  readonly legionellaProgram: boolean;
}

function weights(field: string, w: readonly number[] | undefined, n: number, fallback: () => number[], allowZeroSum: boolean): number[] {
  if (w === undefined) return fallback();
  if (!isList(w) || w.length !== n) throw new InvalidParameterError(field, `needs ${n} weights (one per layer)`);
  w.forEach((x, i) => requireFinite(`${field}[${i}]`, x, 0));
  const sum = w.reduce((s, x) => s + x, 0);
  if (!(sum > 0) && !allowZeroSum) throw new InvalidParameterError(field, 'weights must not all be zero');
  return w.map((x) => (sum > 0 ? x / sum : 0));
}

/** Validates tank parameters (defaults fill the gaps) and derives per-layer constants; `field` prefixes error paths. */
export function createTankModel(params: Partial<TankParams> = {}, field = 'tank'): TankModel {
  const p: TankParams = { ...DEFAULT_TANK, ...params };
  const n = requireFinite(`${field}.layers`, p.layers, 3, 10);
  if (!Number.isInteger(n)) throw new InvalidParameterError(`${field}.layers`, `must be an integer in 3..10, got ${n}`);
  const volumeL = requireFinite(`${field}.volumeL`, p.volumeL, Number.MIN_VALUE);
  const heightM = requireFinite(`${field}.heightM`, p.heightM, Number.MIN_VALUE);
  const cvJLK = requireFinite(`${field}.cvJLK`, p.cvJLK, Number.MIN_VALUE);
  const uaWK = requireFinite(`${field}.uaWK`, p.uaWK ?? (1.9 * volumeL) / 200, 0);
  const conductivity = requireFinite(`${field}.conductivityWmK`, p.conductivityWmK, 0);
  const hxUaWK = requireFinite(`${field}.hxUaWK`, p.hxUaWK, 0);
  const hxMaxTempC = requireFinite(`${field}.hxMaxTempC`, p.hxMaxTempC, -50, 200);
  const topUpW = requireFinite(`${field}.topUpW`, p.topUpW, 0);
  const topUpLayer = requireFinite(`${field}.topUpLayer`, p.topUpLayer ?? n - 1, 0, n - 1);
  if (!Number.isInteger(topUpLayer)) throw new InvalidParameterError(`${field}.topUpLayer`, `must be an integer layer index, got ${topUpLayer}`);
  const topUpSetpointC = requireFinite(`${field}.topUpSetpointC`, p.topUpSetpointC, -50, 200);
  const topUpDeadbandK = requireFinite(`${field}.topUpDeadbandK`, p.topUpDeadbandK, 0);
  const legionellaTempC = requireFinite(`${field}.legionellaTempC`, p.legionellaTempC, -50, 200);
  const legionellaHoldS = requireFinite(`${field}.legionellaHoldS`, p.legionellaHoldS, 0);
  const legionellaPeriodS = requireFinite(`${field}.legionellaPeriodS`, p.legionellaPeriodS, Number.MIN_VALUE);
  const legionellaLeadS = requireFinite(`${field}.legionellaLeadS`, p.legionellaLeadS, 0, legionellaPeriodS);
  const legionellaMarginK = requireFinite(`${field}.legionellaMarginK`, p.legionellaMarginK, 0);
  const legLayers = requireFinite(`${field}.legionellaLayers`, p.legionellaLayers ?? n - topUpLayer, 1, n);
  if (!Number.isInteger(legLayers)) throw new InvalidParameterError(`${field}.legionellaLayers`, `must be an integer, got ${legLayers}`);
  if (typeof p.legionellaProgram !== 'boolean') throw new InvalidParameterError(`${field}.legionellaProgram`, 'must be a boolean');

  // Geometry of a vertical cylinder: radius from volume and height.
  const areaM2 = volumeL / 1000 / heightM;
  const radiusM = Math.sqrt(areaM2 / Math.PI);
  const sideM2 = (2 * Math.PI * radiusM * heightM) / n;
  const lossW = weights(`${field}.lossWeights`, p.lossWeights, n, () => {
    const a = Array.from({ length: n }, (_, i) => sideM2 + (i === 0 || i === n - 1 ? areaM2 : 0));
    const s = a.reduce((x, y) => x + y, 0);
    return a.map((x) => x / s);
  }, true);
  const hxW = weights(`${field}.hxLayerWeights`, p.hxLayerWeights, n, () => {
    const k = Math.ceil(n / 3);
    return Array.from({ length: n }, (_, i) => (i < k ? 1 / k : 0));
  }, false);
  const layerVolumeL = volumeL / n;
  return {
    layers: n,
    volumeL,
    layerVolumeL,
    heightM,
    cvJLK,
    layerCapJK: cvJLK * layerVolumeL,
    uaWK,
    uaLayerWK: Float64Array.from(lossW, (w) => w * uaWK),
    interLayerWK: (conductivity * areaM2) / (heightM / n),
    hxLayerWK: Float64Array.from(hxW, (w) => w * hxUaWK),
    hxMaxTempC,
    topUpW,
    topUpLayer,
    topUpSetpointC,
    topUpDeadbandK,
    legionellaTempC,
    legionellaHoldS,
    legionellaPeriodS,
    legionellaLeadS,
    legionellaMarginK,
    legionellaFromLayer: n - legLayers,
    legionellaProgram: p.legionellaProgram,
  };
}

/** Mutable state of one tank: layer temperatures (°C, bottom→top), thermostat and anti-legionella bookkeeping. */
export interface TankState {
  /** Layer temperatures, °C; index 0 = bottom. */
  readonly tempC: Float64Array;
  /** Time since creation, s. */
  timeS: number;
  /** Top-up thermostat demand (hysteresis state). */
  topUpOn: boolean;
  /** The anti-legionella program is heating (or holding) now. */
  legionellaActive: boolean;
  /** Time since the last completed hold (or since creation), s. */
  sinceHoldS: number;
  /** Current continuous time with the checked layers at or above legionellaTempC, s. */
  holdS: number;
  /** Number of completed holds (a continuous stretch at temperature counts once, however long). */
  holdsCompleted: number;
  /** The current stretch at temperature has already been counted. */
  holdCounted: boolean;
  /** Number of whole periods that elapsed without a completed hold. */
  missedPeriods: number;
  /** Total time spent overdue (more than one period since the last hold), s. */
  overdueS: number;
  /** Scratch space for the step (not state). */
  readonly scratch: Float64Array;
  readonly blockSum: Float64Array;
  readonly blockCount: Float64Array;
}

/**
 * Creates a tank state: uniform at `initialTempC` (°C) or from a profile (°C per layer, bottom→top). A
 * Float64Array is used in place, not copied (e.g. a subarray of one fleet-wide buffer, struct-of-arrays style).
 */
export function createTankState(m: TankModel, initialTempC: number | readonly number[] | Float64Array = 50, sinceHoldS = 0): TankState {
  const n = m.layers;
  let temps: Float64Array;
  if (typeof initialTempC === 'number') {
    temps = new Float64Array(n).fill(requireFinite('initialTempC', initialTempC, -50, 200));
  } else if (initialTempC instanceof Float64Array) {
    if (initialTempC.length !== n) throw new InvalidParameterError('initialTempC', `needs ${n} layer temperatures, got ${initialTempC.length}`);
    initialTempC.forEach((t, i) => requireFinite(`initialTempC[${i}]`, t, -50, 200));
    temps = initialTempC;
  } else {
    if (initialTempC.length !== n) throw new InvalidParameterError('initialTempC', `needs ${n} layer temperatures, got ${initialTempC.length}`);
    temps = Float64Array.from(initialTempC, (t, i) => requireFinite(`initialTempC[${i}]`, t, -50, 200));
  }
  return {
    tempC: temps,
    timeS: 0,
    topUpOn: false,
    legionellaActive: false,
    sinceHoldS: requireFinite('sinceHoldS', sinceHoldS, 0),
    holdS: 0,
    holdsCompleted: 0,
    holdCounted: false,
    missedPeriods: 0,
    overdueS: 0,
    scratch: new Float64Array(n),
    blockSum: new Float64Array(n),
    blockCount: new Float64Array(n),
  };
}

/** Inputs of one step, held constant over it. Give at most one of drawVolumeL, drawFlowLpm, drawEnergyWh. */
export interface TankInput {
  /** Heat the boards offer to the exchanger, W (the exchanger may accept less; see boardHeatWh). */
  readonly boardHeatW?: number;
  /** Hot water drawn from the top during the step, L (cold water enters at the bottom). */
  readonly drawVolumeL?: number;
  /** Same as a flow held over the step, L/min. */
  readonly drawFlowLpm?: number;
  /** Useful energy wanted at the taps during the step, Wh relative to cold water (the volume follows; ≤ one tank). */
  readonly drawEnergyWh?: number;
  /** Cold-water inlet temperature, °C. */
  readonly coldC: number;
  /** Ambient temperature around the tank, °C. */
  readonly ambientC: number;
  /** Whether the top-up element may run (e.g. off-peak hours); default true. */
  readonly topUpAllowed?: boolean;
}

/** Results of one step (energies over the step, Wh). Reused across steps when passed to stepTank. */
export interface TankStepResult {
  /** Board heat accepted by the exchanger, Wh (≤ boardHeatW·dt). */
  boardHeatWh: number;
  /** Most the exchanger could have accepted on average over this step, W (for controllers). */
  boardLimitW: number;
  /** Top-up element energy, Wh. */
  topUpWh: number;
  /** Standing losses to ambient, Wh. */
  lossWh: number;
  /** Energy delivered with the drawn water, Wh relative to the cold inlet. */
  deliveredWh: number;
  /** Volume drawn, L. */
  drawnL: number;
  /** Mean outlet temperature of the drawn water, °C (NaN when nothing was drawn). */
  outletTempC: number;
  /** drawEnergyWh that could not be delivered (tank too cold), Wh. */
  unmetWh: number;
  /** Stored energy at the end of the step, Wh, relative to 0 °C. */
  storedWh: number;
  /** Top-up thermostat demand at the end of the step. */
  topUpOn: boolean;
  /** Anti-legionella program active at the end of the step. */
  legionellaActive: boolean;
}

/** A zeroed result object to reuse across stepTank calls (no allocation per step). */
export function createTankStepResult(): TankStepResult {
  return {
    boardHeatWh: 0,
    boardLimitW: 0,
    topUpWh: 0,
    lossWh: 0,
    deliveredWh: 0,
    drawnL: 0,
    outletTempC: NaN,
    unmetWh: 0,
    storedWh: 0,
    topUpOn: false,
    legionellaActive: false,
  };
}

/** Stored energy of the tank, Wh, relative to 0 °C (Σ layer capacity × temperature). */
export function tankStoredWh(m: TankModel, s: TankState): number {
  let e = 0;
  for (let i = 0; i < m.layers; i++) e += s.tempC[i];
  return (e * m.layerCapJK) / 3600;
}

/** Energy the tank could deliver above `minTempC` (°C), Wh relative to cold water at coldC (°C): layers ≥ minTempC only. */
export function tankUsableWh(m: TankModel, s: TankState, coldC: number, minTempC: number): number {
  let e = 0;
  for (let i = 0; i < m.layers; i++) if (s.tempC[i] >= minTempC) e += s.tempC[i] - coldC;
  return (e * m.layerCapJK) / 3600;
}

/**
 * Shifts the column up by `shift` layers (plug flow, exact for any shift including > 1 or > N), cold water at
 * coldC entering at the bottom. Returns the energy leaving at the top, J relative to coldC. A whole-layer shift
 * moves temperatures without mixing; a fractional one mixes the two layers under each window (upwind).
 */
function plugFlow(m: TankModel, T: Float64Array, shift: number, coldC: number): number {
  const n = m.layers;
  const k = Math.floor(shift);
  const phi = shift - k;
  let outK = 0;
  for (let j = n - 1; j >= n - k && j >= 0; j--) outK += T[j] - coldC;
  if (phi > 0 && n - k - 1 >= 0) outK += phi * (T[n - k - 1] - coldC);
  for (let i = n - 1; i >= 0; i--) {
    const a = i - k;
    const ta = a >= 0 ? T[a] : coldC;
    if (phi > 0) {
      const tb = a - 1 >= 0 ? T[a - 1] : coldC;
      T[i] = (1 - phi) * ta + phi * tb;
    } else {
      T[i] = ta;
    }
  }
  return outK * m.layerCapJK;
}

/** Layers (from the top) to draw so that the outflow carries `energyJ` above coldC; at most the whole tank. */
function shiftForEnergy(m: TankModel, T: Float64Array, energyJ: number, coldC: number): number {
  const n = m.layers;
  if (!(energyJ > 0)) return 0;
  let remaining = energyJ;
  for (let j = n - 1; j >= 0; j--) {
    const e = m.layerCapJK * (T[j] - coldC);
    if (e > 0 && e >= remaining) return n - 1 - j + remaining / e;
    remaining -= e;
  }
  return n;
}

/**
 * Mixes inverted layers (pool-adjacent-violators): any layer warmer than the one above merges with it into a
 * block at the capacity-weighted mean, repeated until temperatures are non-decreasing from bottom to top.
 * Conserves energy (equal layer capacities) to rounding.
 */
export function mixInversions(T: Float64Array, blockSum: Float64Array, blockCount: Float64Array): void {
  const n = T.length;
  let nb = 0;
  for (let i = 0; i < n; i++) {
    blockSum[nb] = T[i];
    blockCount[nb] = 1;
    nb++;
    while (nb > 1 && blockSum[nb - 2] / blockCount[nb - 2] > blockSum[nb - 1] / blockCount[nb - 1]) {
      blockSum[nb - 2] += blockSum[nb - 1];
      blockCount[nb - 2] += blockCount[nb - 1];
      nb--;
    }
  }
  if (nb === n) return;
  let i = 0;
  for (let b = 0; b < nb; b++) {
    const mean = blockSum[b] / blockCount[b];
    for (let c = 0; c < blockCount[b]; c++) T[i++] = mean;
  }
}

/**
 * Advances the tank by dtS (s) with inputs held constant; mutates `s` and returns `out` (energies in Wh).
 * Order within the step (operator splitting; each transfer computed once and booked once, so the balance
 * boardHeatWh + topUpWh = ΔstoredWh + lossWh + deliveredWh closes to rounding):
 *  1. plug-flow draw from the top (cold water in at the bottom);
 *  2. board heat through the exchanger: each exchanger layer k can take at most
 *     C·(hxMax − T_k)·(1 − e^(−UA_k·dt/C)) (never above hxMaxTempC); the accepted heat is
 *     min(offered, Σ capacities), shared in proportion to the capacities;
 *  3. top-up element with thermostat (hysteresis, or the anti-legionella target without dead band), stopping
 *     exactly at its target within the step;
 *  4. standing losses, exact per layer: C·(T − T_amb)·(1 − e^(−UA_i·dt/C));
 *  5. conduction between adjacent layers, exact per pair;
 *  6. mixing of inverted layers; then the anti-legionella bookkeeping on the end-of-step temperatures.
 * No transfer overshoots its driving temperature, so layer temperatures stay within the range of the
 * initial, cold, ambient, exchanger-maximum and top-up target temperatures.
 */
export function stepTank(m: TankModel, s: TankState, dtS: number, input: TankInput, out: TankStepResult = createTankStepResult()): TankStepResult {
  requireFinite('dtS', dtS, Number.MIN_VALUE);
  const coldC = requireFinite('input.coldC', input.coldC, -50, 200);
  const ambientC = requireFinite('input.ambientC', input.ambientC, -50, 200);
  const boardW = requireFinite('input.boardHeatW', input.boardHeatW ?? 0, 0);
  const n = m.layers;
  const T = s.tempC;
  const C = m.layerCapJK;

  // 1. Draw.
  let drawsGiven = 0;
  let shift = 0;
  let energyWantedJ = 0;
  if (input.drawVolumeL !== undefined) {
    drawsGiven++;
    shift = requireFinite('input.drawVolumeL', input.drawVolumeL, 0) / m.layerVolumeL;
  }
  if (input.drawFlowLpm !== undefined) {
    drawsGiven++;
    shift = (requireFinite('input.drawFlowLpm', input.drawFlowLpm, 0) * dtS) / 60 / m.layerVolumeL;
  }
  if (input.drawEnergyWh !== undefined) {
    drawsGiven++;
    energyWantedJ = requireFinite('input.drawEnergyWh', input.drawEnergyWh, 0) * 3600;
    shift = shiftForEnergy(m, T, energyWantedJ, coldC);
  }
  if (drawsGiven > 1) throw new InvalidParameterError('input', 'give at most one of drawVolumeL, drawFlowLpm, drawEnergyWh');
  let deliveredJ = 0;
  if (shift > 0) deliveredJ = plugFlow(m, T, shift, coldC);
  out.drawnL = shift * m.layerVolumeL;
  out.deliveredWh = deliveredJ / 3600;
  out.outletTempC = shift > 0 ? coldC + deliveredJ / (C * shift) : NaN;
  out.unmetWh = energyWantedJ > deliveredJ ? (energyWantedJ - deliveredJ) / 3600 : 0;

  // 2. Board heat exchanger.
  const q = s.scratch;
  let capJ = 0;
  for (let k = 0; k < n; k++) {
    const ua = m.hxLayerWK[k];
    const dT = m.hxMaxTempC - T[k];
    const c = ua > 0 && dT > 0 ? C * dT * -Math.expm1((-ua * dtS) / C) : 0;
    q[k] = c;
    capJ += c;
  }
  const offeredJ = boardW * dtS;
  const acceptedJ = offeredJ < capJ ? offeredJ : capJ;
  if (acceptedJ > 0) {
    const r = acceptedJ / capJ;
    for (let k = 0; k < n; k++) if (q[k] > 0) T[k] += (q[k] * r) / C;
  }
  out.boardHeatWh = acceptedJ / 3600;
  out.boardLimitW = capJ / dtS;

  // 3. Top-up element.
  const L = m.topUpLayer;
  if (m.legionellaProgram && !s.legionellaActive && s.sinceHoldS >= m.legionellaPeriodS - m.legionellaLeadS) s.legionellaActive = true;
  let target: number;
  if (s.legionellaActive) {
    target = Math.max(m.legionellaTempC + m.legionellaMarginK, m.topUpSetpointC);
    s.topUpOn = T[L] < target;
  } else {
    target = m.topUpSetpointC;
    if (T[L] < target - m.topUpDeadbandK) s.topUpOn = true;
    else if (T[L] >= target) s.topUpOn = false;
  }
  let topUpJ = 0;
  if (s.topUpOn && (input.topUpAllowed ?? true) && m.topUpW > 0 && T[L] < target) {
    const full = m.topUpW * dtS;
    const toTarget = C * (target - T[L]);
    if (toTarget <= full) {
      topUpJ = toTarget;
      T[L] = target;
      if (!s.legionellaActive) s.topUpOn = false;
    } else {
      topUpJ = full;
      T[L] += full / C;
    }
  }
  out.topUpWh = topUpJ / 3600;

  // 4. Standing losses.
  let lossJ = 0;
  for (let i = 0; i < n; i++) {
    const ua = m.uaLayerWK[i];
    if (ua <= 0) continue;
    const dT = (T[i] - ambientC) * -Math.expm1((-ua * dtS) / C);
    T[i] -= dT;
    lossJ += dT * C;
  }
  out.lossWh = lossJ / 3600;

  // 5. Conduction between adjacent layers (each pair exact; equal capacities).
  if (m.interLayerWK > 0) {
    const g = -0.5 * Math.expm1((-2 * m.interLayerWK * dtS) / C);
    for (let i = 0; i < n - 1; i++) {
      const x = (T[i + 1] - T[i]) * g;
      T[i + 1] -= x;
      T[i] += x;
    }
  }

  // 6. Inversion mixing, then anti-legionella bookkeeping.
  mixInversions(T, s.blockSum, s.blockCount);
  s.timeS += dtS;
  let held = true;
  for (let i = m.legionellaFromLayer; i < n; i++) if (!(T[i] >= m.legionellaTempC)) held = false;
  s.holdS = held ? s.holdS + dtS : 0;
  if (held && s.holdS >= m.legionellaHoldS) {
    // A continuous stretch counts once; while it lasts the water stays disinfected (sinceHoldS held at 0).
    if (!s.holdCounted) s.holdsCompleted++;
    s.holdCounted = true;
    s.sinceHoldS = 0;
    s.legionellaActive = false;
  } else {
    if (!held) s.holdCounted = false;
    const before = s.sinceHoldS;
    s.sinceHoldS += dtS;
    const P = m.legionellaPeriodS;
    if (s.sinceHoldS > P) s.overdueS += Math.min(dtS, s.sinceHoldS - P);
    s.missedPeriods += Math.floor(s.sinceHoldS / P) - Math.floor(before / P);
  }

  out.storedWh = tankStoredWh(m, s);
  out.topUpOn = s.topUpOn;
  out.legionellaActive = s.legionellaActive;
  return out;
}
