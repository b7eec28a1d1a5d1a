// Struct-of-arrays kernel: steps many heated rooms (room network + radiator body + board power) of shared
// archetypes at once over typed arrays, with each archetype's exact discrete model compiled into a tight loop.
import { InvalidParameterError } from './errors.ts';
import type { DiscreteStateSpace } from './state-space.ts';
import type { HeaterModel } from './heater.ts';

/** One archetype: its discretised room model and how the kernel's per-room quantities map onto its inputs. */
export interface KernelArchetype {
  readonly name: string;
  readonly model: DiscreteStateSpace;
  /** The heater's electrical model (heater.ts); the step computes its power as heaterPowerW does, bit for bit. */
  readonly heater: HeaterModel;
  /** Input receiving the heater's electrical power (W), e.g. `Q_heater`. */
  readonly heaterInput: string;
  /** Input receiving the per-room internal gains (W), e.g. `Q_air`. */
  readonly gainInput: string;
  /** State holding the radiator body temperature (°C), e.g. `T_body`. */
  readonly bodyState: string;
}

/** A contiguous range of rooms sharing one archetype and one set of shared (weather) inputs. */
export interface KernelGroup {
  readonly archetype: number;
  readonly start: number;
  readonly count: number;
}

/** The fleet's per-room arrays, struct of arrays; may live in SharedArrayBuffers so worker threads share them. */
export interface FleetArrays {
  readonly rooms: number;
  /** One array per state slot (slot i = state i of each room's archetype), °C. */
  readonly x: Float64Array[];
  /** Board utilisation 0..1 (a number even while the boards are off: NaN here makes the heater's power NaN). */
  readonly utilisation: Float32Array;
  /** Number of boards computing (0 = all off). */
  readonly activeBoards: Uint8Array;
  /** Frequency level index of the active boards: one of the model's levels even while they are off (else NaN power). */
  readonly freqLevel: Uint8Array;
  /** Resistive booster fraction 0..1. */
  readonly booster: Float32Array;
  /** Internal gains into the room (people, appliances, sun not included), W. */
  readonly gainsW: Float32Array;
  /** Electrical energy drawn (= heat released) since reset, J. */
  readonly heatJ: Float64Array;
  /** Heater electrical power during the last step, W. */
  readonly powerW: Float32Array;
}

/** Allocates fleet arrays for `rooms` rooms with `nStates` state slots; `shared` puts them in SharedArrayBuffers. */
export function allocateFleetArrays(rooms: number, nStates: number, shared = false): FleetArrays {
  if (!Number.isInteger(rooms) || rooms < 0) throw new InvalidParameterError('rooms', `must be a non-negative integer, got ${rooms}`);
  const mk = (bytes: number): ArrayBuffer | SharedArrayBuffer => (shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  return {
    rooms,
    x: Array.from({ length: nStates }, () => new Float64Array(mk(rooms * 8))),
    utilisation: new Float32Array(mk(rooms * 4)),
    activeBoards: new Uint8Array(mk(rooms)),
    freqLevel: new Uint8Array(mk(rooms)),
    booster: new Float32Array(mk(rooms * 4)),
    gainsW: new Float32Array(mk(rooms * 4)),
    heatJ: new Float64Array(mk(rooms * 8)),
    powerW: new Float32Array(mk(rooms * 4)),
  };
}

/** The buffers behind FleetArrays, to send to a worker thread (only meaningful when allocated shared). */
export function fleetBuffers(f: FleetArrays): { rooms: number; buffers: ArrayBufferLike[] } {
  return {
    rooms: f.rooms,
    buffers: [...f.x.map((a) => a.buffer), f.utilisation.buffer, f.activeBoards.buffer, f.freqLevel.buffer, f.booster.buffer, f.gainsW.buffer, f.heatJ.buffer, f.powerW.buffer],
  };
}

/** Rebuilds FleetArrays over buffers received from fleetBuffers (in a worker thread). */
export function fleetFromBuffers(rooms: number, buffers: ArrayBufferLike[]): FleetArrays {
  const n = buffers.length - 7;
  const b = buffers.slice(n);
  return {
    rooms,
    x: buffers.slice(0, n).map((buf) => new Float64Array(buf)),
    utilisation: new Float32Array(b[0]),
    activeBoards: new Uint8Array(b[1]),
    freqLevel: new Uint8Array(b[2]),
    booster: new Float32Array(b[3]),
    gainsW: new Float32Array(b[4]),
    heatJ: new Float64Array(b[5]),
    powerW: new Float32Array(b[6]),
  };
}

type CompiledStep = (x: Float64Array[], f: FleetArrays, from: number, to: number, bias: Float64Array) => void;
/** The same step, also adding Σ_i w[i]·x_i(after the step) to acc[r] for each room (see RoomKernel.stepAccumulate). */
type CompiledAccStep = (
  x: Float64Array[],
  f: FleetArrays,
  from: number,
  to: number,
  bias: Float64Array,
  w: Float64Array,
  acc: Float64Array,
) => void;

/**
 * Watching one state (e.g. the room's air) through a step, fused into the kernel's pass: with T0 the state before the
 * step and T1 after, per room r of group k,
 *   - below[r] += band(lo[k] − T0, lo[k] − T1, dtS) when either is below lo[k] (band: the exact time integral of the
 *     positive part of a linear ramp, `hingeIntegral`), above[r] likewise over hi[k];
 *   - over the limit max[k]: overS[r] += the time spent above it (linear between T0 and T1), and overWhileHotS[r] too
 *     when the step's power (as powerW stores it, float32) exceeded hotW[k] + 1e-9;
 *   - r is appended to `list` (count in `count`) when T1 > listAbove[k].
 * The bookkeeping is exactly that of a separate pass over the rooms after the step (for finite temperatures),
 * without reading them again; a room between the thresholds costs four comparisons.
 */
export interface StateWatch {
  readonly state: number;
  readonly dtS: number;
  readonly band: (d0: number, d1: number, dtS: number) => number;
  readonly lo: Float64Array;
  readonly hi: Float64Array;
  readonly max: Float64Array;
  readonly hotW: Float64Array;
  readonly listAbove: Float64Array;
  readonly below: Float64Array;
  readonly above: Float64Array;
  readonly overS: Float64Array;
  readonly overWhileHotS: Float64Array;
  readonly list: Int32Array;
  count: number;
}

/** The step with a StateWatch (see RoomKernel.stepWatch): group k, list length n; returns the new length of the list. */
type CompiledWatchStep = (...args: [...Parameters<CompiledAccStep>, k: number, o: StateWatch, n: number]) => number;

const index = (names: readonly string[], name: string, field: string): number => {
  const i = names.indexOf(name);
  if (i < 0) throw new InvalidParameterError(field, `'${name}' is not one of ${names.join(', ')}`);
  return i;
};

/**
 * Compiles one archetype's step into straight-line code (matrix entries as literals): for each room in
 * [from, to), the heater power (heaterPowerW: boards, frequency level, utilisation, booster, derating), then
 * x ← Ad·x + Bd_heater·P + Bd_gain·gains + bias, and heatJ += P·Δt. Power is held over the step (ZOH).
 */
function compile(a: KernelArchetype, field: string): CompiledStep;
function compile(a: KernelArchetype, field: string, accumulate: true): CompiledAccStep;
function compile(a: KernelArchetype, field: string, accumulate: true, watch: number): CompiledWatchStep;
function compile(a: KernelArchetype, field: string, accumulate = false, watch = -1): CompiledStep | CompiledAccStep | CompiledWatchStep {
  const m = a.model;
  const nx = m.nx;
  const ih = index(m.inputNames, a.heaterInput, `${field}.heaterInput`);
  const ig = index(m.inputNames, a.gainInput, `${field}.gainInput`);
  const ib = index(m.stateNames, a.bodyState, `${field}.bodyState`);
  const lit = (v: number): string => (Object.is(v, -0) ? '0' : String(v));
  const lines: string[] = [];
  for (let i = 0; i < nx; i++) lines.push(`const X${i} = x[${i}];`);
  lines.push('const util = f.utilisation, nb = f.activeBoards, lv = f.freqLevel, bo = f.booster, g = f.gainsW, hj = f.heatJ, pw = f.powerW;');
  for (let i = 0; i < nx; i++) lines.push(`const c${i} = bias[${i}];`);
  if (accumulate) for (let i = 0; i < nx; i++) lines.push(`const w${i} = w[${i}];`);
  if (watch >= 0) {
    lines.push('const band = o.band, dt = o.dtS, lo = o.lo[k], hi = o.hi[k], max = o.max[k], hotW = o.hotW[k], listAbove = o.listAbove[k];');
    lines.push('const below = o.below, above = o.above, overS = o.overS, overHotS = o.overWhileHotS, list = o.list;');
    // Below `calm` and at or above lo, a room has nothing to book.
    lines.push('const calm = Math.min(hi, max, listAbove);');
  }
  lines.push('for (let r = from; r < to; r++) {');
  for (let i = 0; i < nx; i++) lines.push(`  const s${i} = X${i}[r];`);
  // Board and booster power (derating by the body temperature at the start of the step).
  {
    // heaterPowerW(h, nb[r], lv[r], util[r], bo[r], body), written out with the model's numbers as literals and with no
    // branch on whether the boards are on: the boards' term is nb·(idle + dyn), zero for nb = 0. A branch there
    // depends on each room's state, and in a fleet of heaters on and off it was mispredicted from room to room (the
    // kernel stepped a mixed fleet 15 % slower than a uniform one). Same operations on the same numbers: bit for bit
    // heaterPowerW, provided the level is one of the model's (DL holds NaN past them) and the utilisation a number,
    // whose values heaterPowerW ignores when the boards are off.
    const h = a.heater;
    const b = h.board;
    lines.push(`  let d = (${lit(h.capC)} - s${ib}) * ${lit(h.invDerateSpanK)};`);
    lines.push('  d = d > 1 ? 1 : d > 0 ? d : 0;');
    lines.push('  const nbr = nb[r];');
    lines.push(`  let p = (${lit(h.boards)} - nbr) * ${lit(b.offW)};`);
    lines.push('  const u0 = util[r];');
    lines.push('  const u = u0 < 0 ? 0 : u0 > 1 ? 1 : u0;');
    lines.push('  let dyn = DL[lv[r]] * u;');
    lines.push(`  const cap = ${lit(b.dynTopW)} * d;`);
    lines.push('  if (dyn > cap) dyn = cap;');
    lines.push(`  p += nbr * (${lit(b.idleW)} + dyn);`);
    lines.push('  const b0 = bo[r];');
    lines.push('  let bf = b0 < 0 ? 0 : b0 > 1 ? 1 : b0;');
    if (h.boosterDerates) lines.push('  if (bf > d) bf = d;');
    lines.push(`  p = p + bf * ${lit(h.boosterW)};`);
  }
  lines.push(`  const q = g[r];`);
  for (let i = 0; i < nx; i++) {
    const terms = [`c${i}`];
    for (let j = 0; j < nx; j++) {
      const v = m.Ad[i * nx + j];
      if (v !== 0) terms.push(`${lit(v)} * s${j}`);
    }
    const bh = m.Bd[i * m.nu + ih];
    const bg = m.Bd[i * m.nu + ig];
    if (bh !== 0) terms.push(`${lit(bh)} * p`);
    if (bg !== 0) terms.push(`${lit(bg)} * q`);
    if (accumulate) {
      lines.push(`  const n${i} = ${terms.join(' + ')};`);
      lines.push(`  X${i}[r] = n${i};`);
    } else lines.push(`  X${i}[r] = ${terms.join(' + ')};`);
  }
  lines.push(`  hj[r] += p * ${lit(m.dtS)};`);
  lines.push(`  pw[r] = p;`);
  if (accumulate) lines.push(`  acc[r] += ${Array.from({ length: nx }, (_, i) => `w${i} * n${i}`).join(' + ')};`);
  if (watch >= 0) {
    lines.push(`  const T0 = s${watch}, T1 = n${watch};`);
    // Four comparisons that are almost always false (well predicted), not a min and max of T0 and T1 (which of the two
    // is larger flips from step to step: a mispredicted branch per room).
    lines.push('  if (T0 < lo || T1 < lo || T0 > calm || T1 > calm) {');
    lines.push('    const top = T0 > T1 ? T0 : T1, bot = T0 > T1 ? T1 : T0;');
    lines.push('    if (bot < lo) below[r] += band(lo - T0, lo - T1, dt);');
    lines.push('    if (top > hi) above[r] += band(T0 - hi, T1 - hi, dt);');
    lines.push('    if (top > max) {');
    lines.push('      const sOver = bot > max ? dt : (dt * (top - max)) / (top - bot);');
    lines.push('      overS[r] += sOver;');
    lines.push('      if (pw[r] > hotW + 1e-9) overHotS[r] += sOver;');
    lines.push('    }');
    lines.push('    if (T1 > listAbove) list[n++] = r;');
    lines.push('  }');
  }
  lines.push('}');
  if (watch >= 0) lines.push('return n;');
  // The parameters of CompiledStep, then CompiledAccStep's, then CompiledWatchStep's.
  const params = ['x', 'f', 'from', 'to', 'bias', ...(accumulate ? ['w', 'acc'] : []), ...(watch >= 0 ? ['k', 'o', 'n'] : [])];
  // Each level's dynamic power, over every index a Uint8Array level can hold (no read out of bounds); the step closes
  // over it.
  const DL = new Float64Array(256).fill(NaN);
  DL.set(a.heater.board.dynWByLevel);
  // Generated from numbers only (no user strings): the per-archetype specialisation is what makes the kernel fast.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const make = new Function('DL', `return function step(${params.join(', ')}) {\n${lines.join('\n')}\n};`) as (dl: Float64Array) => CompiledStep | CompiledAccStep | CompiledWatchStep;
  return make(DL);
}

/**
 * Steps a fleet of rooms. Each group shares an archetype and a vector of shared inputs (outdoor and supply
 * temperature, solar gains…) given per step; per-room inputs (heater power, gains) come from FleetArrays.
 */
export class RoomKernel {
  private readonly steps: CompiledStep[];
  /** The accumulating variants, compiled on first use of stepAccumulate. */
  private accSteps: CompiledAccStep[] | undefined;
  /** The watching variants (stepWatch), compiled on first use for the watched state. */
  private watchSteps: CompiledWatchStep[] | undefined;
  private watchState = -1;
  private readonly sharedIdx: number[][];
  private readonly bias: Float64Array;
  readonly nStates: number;
  readonly dtS: number;

  constructor(
    readonly archetypes: readonly KernelArchetype[],
    readonly groups: readonly KernelGroup[],
    readonly fleet: FleetArrays,
  ) {
    if (archetypes.length === 0) throw new InvalidParameterError('archetypes', 'needs at least one archetype');
    this.dtS = archetypes[0].model.dtS;
    this.nStates = Math.max(...archetypes.map((a) => a.model.nx));
    archetypes.forEach((a, k) => {
      if (a.model.dtS !== this.dtS) throw new InvalidParameterError(`archetypes[${k}].model.dtS`, `must equal ${this.dtS} s like archetype 0`);
    });
    if (fleet.x.length < this.nStates) throw new InvalidParameterError('fleet.x', `needs ${this.nStates} state slots, has ${fleet.x.length}`);
    this.steps = archetypes.map((a, k) => compile(a, `archetypes[${k}]`));
    this.sharedIdx = archetypes.map((a) => {
      const own = new Set([a.heaterInput, a.gainInput]);
      return a.model.inputNames.flatMap((n, i) => (own.has(n) ? [] : [i]));
    });
    let end = 0;
    groups.forEach((g, k) => {
      if (!(g.archetype >= 0 && g.archetype < archetypes.length)) throw new InvalidParameterError(`groups[${k}].archetype`, `no archetype ${g.archetype}`);
      if (g.start !== end) throw new InvalidParameterError(`groups[${k}].start`, `groups must be contiguous: expected ${end}, got ${g.start}`);
      end = g.start + g.count;
    });
    if (end !== fleet.rooms) throw new InvalidParameterError('groups', `cover ${end} rooms, fleet has ${fleet.rooms}`);
    this.bias = new Float64Array(this.nStates);
  }

  /** Names of the inputs of group g's archetype that come from `shared` in step(): the full input vector order. */
  inputNames(group: number): readonly string[] {
    return this.archetypes[this.groups[group].archetype].model.inputNames;
  }

  /** Sets every state of rooms [start, start+count) to tempC (°C). */
  fill(tempC: number, start = 0, count = this.fleet.rooms): void {
    for (const a of this.fleet.x) a.fill(tempC, start, start + count);
  }

  /**
   * Advances rooms [from, to) by one step dtS. `shared[g]` is group g's full input vector (length nu of its
   * archetype; the per-room entries are ignored). Rooms outside the range are untouched, so worker threads
   * can step disjoint ranges of the same shared arrays.
   */
  step(shared: readonly Float64Array[], from = 0, to = this.fleet.rooms): void {
    const { groups, fleet, bias } = this;
    for (let k = 0; k < groups.length; k++) {
      const g = groups[k];
      const lo = Math.max(from, g.start);
      const hi = Math.min(to, g.start + g.count);
      if (lo >= hi) continue;
      this.setBias(g, shared[k]);
      this.steps[g.archetype](fleet.x, fleet, lo, hi, bias);
    }
  }

  /**
   * step() for every room, also adding Σ_i weights[k][i]·x_i to acc[r] for each room r of group k, with the states
   * after the step: a linear functional of the trajectory (e.g. exact boundary heat flows) accumulated in the same
   * pass over the rooms. The states, powers and energies are exactly those of step().
   */
  stepAccumulate(shared: readonly Float64Array[], weights: readonly Float64Array[], acc: Float64Array): void {
    const { groups, fleet, bias } = this;
    if (this.accSteps === undefined) this.accSteps = this.archetypes.map((a, k) => compile(a, `archetypes[${k}]`, true));
    const steps = this.accSteps;
    for (let k = 0; k < groups.length; k++) {
      const g = groups[k];
      if (g.count === 0) continue;
      this.setBias(g, shared[k]);
      steps[g.archetype](fleet.x, fleet, g.start, g.start + g.count, bias, weights[k], acc);
    }
  }

  /**
   * stepAccumulate() that also watches state `watch.state` of every room through the step (StateWatch): band
   * integrals, time over a limit, and a list of rooms to look at afterwards, in room order. Resets watch.count first.
   */
  stepWatch(shared: readonly Float64Array[], weights: readonly Float64Array[], acc: Float64Array, watch: StateWatch): void {
    const { groups, fleet, bias } = this;
    if (this.watchSteps === undefined || this.watchState !== watch.state) {
      if (!(Number.isInteger(watch.state) && watch.state >= 0 && watch.state < this.nStates)) throw new InvalidParameterError('watch.state', `must be a state slot below ${this.nStates}, got ${watch.state}`);
      this.watchSteps = this.archetypes.map((a, k) => compile(a, `archetypes[${k}]`, true, watch.state));
      this.watchState = watch.state;
    }
    const steps = this.watchSteps;
    let n = 0;
    for (let k = 0; k < groups.length; k++) {
      const g = groups[k];
      if (g.count === 0) continue;
      this.setBias(g, shared[k]);
      n = steps[g.archetype](fleet.x, fleet, g.start, g.start + g.count, bias, weights[k], acc, k, watch, n);
    }
    watch.count = n;
  }

  /** The shared inputs' contribution to each state over the step (Bd · shared inputs), into this.bias. */
  private setBias(g: KernelGroup, u: Float64Array): void {
    const m = this.archetypes[g.archetype].model;
    const bias = this.bias;
    for (let i = 0; i < m.nx; i++) {
      let s = 0;
      for (const j of this.sharedIdx[g.archetype]) s += m.Bd[i * m.nu + j] * u[j];
      bias[i] = s;
    }
  }
}
