// Entry point of the scheduler: the policy factory, and the builders of the instance table and fleet view, so the
// twin engine, the live coordinator and the tests allocate them the same way.
import type { HeaterModel } from '../physics/heater.ts';
import { InvalidParameterError } from '../physics/errors.ts';
import type { InstanceTable, Policy } from './types.ts';
import { BOARD_FREE, InstancePhase } from './types.ts';
import type { FleetViewBuffer, PolicyName, PolicyOptions } from './view.ts';
import { QarnotBandsPolicy } from './qarnot-bands.ts';
import { FirstFitPolicy } from './first-fit.ts';
import { ElectricPolicy } from './electric.ts';
import { HearthPolicy } from './hearth.ts';

export type { FleetViewBuffer, PolicyName, PolicyOptions, HearthOptions, QarnotBandsOptions, FirstFitOptions } from './view.ts';
export { SchedClass } from './view.ts';
export { QarnotBandsPolicy } from './qarnot-bands.ts';
export { FirstFitPolicy } from './first-fit.ts';
export { ElectricPolicy } from './electric.ts';
export { HearthPolicy, HEARTH_DEFAULTS } from './hearth.ts';
export { ArraySink, DecisionBuffer } from './decisions.ts';
export { classOfType } from './indexes.ts';

/** Every policy createPolicy knows, baselines first. */
export const POLICY_NAMES: readonly PolicyName[] = ['qarnot-bands', 'first-fit', 'electric', 'hearth'];

/**
 * A fresh policy by name (each instance keeps its own incremental indexes: use one per simulation run).
 * `options` are read by the policy they belong to (see view.ts). Throws InvalidParameterError on an unknown name.
 */
export function createPolicy(name: PolicyName, options: PolicyOptions = {}): Policy {
  switch (name) {
    case 'qarnot-bands':
      return new QarnotBandsPolicy(options);
    case 'first-fit':
      return new FirstFitPolicy(options);
    case 'electric':
      return new ElectricPolicy();
    case 'hearth':
      return new HearthPolicy(options);
    default:
      throw new InvalidParameterError('policy', `unknown policy '${String(name)}' (known: ${POLICY_NAMES.join(', ')})`);
  }
}

/** The columns of an instance table (every field but `count`). */
export type InstanceColumn = Exclude<keyof InstanceTable, 'count'>;

/**
 * Every column of an instance table, in one place: the array it holds, and whether it is the instance's spec (set
 * when the instance is added and never changed after: task, type, priority, sizes, submission, deadline, work,
 * estimate, checkpointable, data) or its state (progress, phase, place, start and end, attempts). The builders
 * below, and the twin's run tables (which share the spec columns of its prepared arrivals), go through it.
 */
export const INSTANCE_COLUMNS: { readonly [K in InstanceColumn]: { readonly make: (n: number) => InstanceTable[K]; readonly spec: boolean } } = {
  taskId: { make: (n) => new Int32Array(n), spec: true },
  instanceIndex: { make: (n) => new Int32Array(n), spec: true },
  type: { make: (n) => new Uint8Array(n), spec: true },
  priority: { make: (n) => new Int32Array(n), spec: true },
  cores: { make: (n) => new Uint16Array(n), spec: true },
  memoryMB: { make: (n) => new Float32Array(n), spec: true },
  gpu: { make: (n) => new Uint8Array(n), spec: true },
  submittedS: { make: (n) => new Float64Array(n), spec: true },
  deadlineS: { make: (n) => new Float64Array(n), spec: true },
  workS: { make: (n) => new Float64Array(n), spec: true },
  estWorkS: { make: (n) => new Float64Array(n), spec: true },
  doneS: { make: (n) => new Float64Array(n), spec: false },
  checkpointable: { make: (n) => new Uint8Array(n), spec: true },
  dataSite: { make: (n) => new Int32Array(n), spec: true },
  dataMB: { make: (n) => new Float32Array(n), spec: true },
  phase: { make: (n) => new Uint8Array(n), spec: false },
  heater: { make: (n) => new Int32Array(n), spec: false },
  board: { make: (n) => new Int16Array(n), spec: false },
  startedS: { make: (n) => new Float64Array(n), spec: false },
  endedS: { make: (n) => new Float64Array(n), spec: false },
  attempts: { make: (n) => new Uint16Array(n), spec: false },
};

/** The column names, in INSTANCE_COLUMNS' order (every table is built with its fields in this order). */
export const INSTANCE_COLUMN_NAMES = Object.keys(INSTANCE_COLUMNS) as InstanceColumn[];

/**
 * A table of `capacity` rows (count 0) of new zeroed columns — but the spec columns of `specOf` itself when given
 * (shared, not copied). Fields in INSTANCE_COLUMN_NAMES' order, so every table has the same shape for the engine's
 * property caches.
 */
export function instanceTableOf(capacity: number, specOf?: InstanceTable): InstanceTable {
  const t: Record<string, unknown> = { count: 0 };
  for (const k of INSTANCE_COLUMN_NAMES) t[k] = specOf !== undefined && INSTANCE_COLUMNS[k].spec ? specOf[k] : INSTANCE_COLUMNS[k].make(capacity);
  return t as unknown as InstanceTable;
}

/**
 * An empty instance table able to hold `capacity` instances (count 0). Defaults of unused rows: phase queued,
 * deadline Infinity, heater/board/dataSite −1, start/end times NaN.
 */
export function createInstanceTable(capacity: number): InstanceTable {
  if (!Number.isInteger(capacity) || capacity < 0) throw new InvalidParameterError('capacity', `must be a non-negative integer, got ${capacity}`);
  const t = instanceTableOf(capacity);
  initRows(t, 0, capacity);
  return t;
}

function initRows(t: InstanceTable, from: number, to: number): void {
  t.deadlineS.fill(Infinity, from, to);
  t.dataSite.fill(-1, from, to);
  t.heater.fill(-1, from, to);
  t.board.fill(-1, from, to);
  t.startedS.fill(NaN, from, to);
  t.endedS.fill(NaN, from, to);
  t.phase.fill(InstancePhase.queued, from, to);
}

/**
 * Grows `table` in place to hold at least `capacity` instances (arrays replaced by larger copies; no-op if already
 * large enough); returns the same table. Policies notice the new arrays on their next call.
 */
export function growInstanceTable(table: InstanceTable, capacity: number): InstanceTable {
  const old = table.taskId.length;
  if (capacity <= old) return table;
  const n = Math.max(capacity, Math.ceil(old * 1.5));
  const cols = table as unknown as Record<InstanceColumn, { set(a: ArrayLike<number>): void } & ArrayLike<number>>;
  for (const k of INSTANCE_COLUMN_NAMES) {
    const b = INSTANCE_COLUMNS[k].make(n);
    b.set(cols[k]);
    cols[k] = b;
  }
  initRows(table, old, n);
  return table;
}

/**
 * A fleet view buffer for `heaters` heaters of at most `maxBoards` boards each, over `models`. Defaults (the
 * builder overwrites them each round): room heaters (kind 0) on site 0 with model 0, boards = min(maxBoards,
 * model boards), 8 cores and 16,384 MB per board, no GPU, online, request/min/max 0 W, wantHeatH 0, diff 0 K,
 * air 20 °C, safety 28 °C (DEFAULT_COMFORT.safetyMaxC), body 20 °C, level 0, booster 0, every board free;
 * nowS 0, periodS 60 s.
 */
export function allocateFleetView(heaters: number, maxBoards: number, models: readonly HeaterModel[]): FleetViewBuffer {
  if (!Number.isInteger(heaters) || heaters < 0) throw new InvalidParameterError('heaters', `must be a non-negative integer, got ${heaters}`);
  if (!Number.isInteger(maxBoards) || maxBoards < 1 || maxBoards > 32) {
    throw new InvalidParameterError('maxBoards', `must be an integer in 1..32, got ${maxBoards}`);
  }
  if (models.length === 0) throw new InvalidParameterError('models', 'needs at least one heater model');
  if (models.length > 65535) throw new InvalidParameterError('models', `at most 65535 models, got ${models.length}`);
  return {
    nowS: 0,
    periodS: 60,
    heaters,
    maxBoards,
    kind: new Uint8Array(heaters),
    site: new Int32Array(heaters),
    model: new Uint16Array(heaters),
    models,
    boards: new Uint8Array(heaters).fill(Math.min(maxBoards, models[0].boards)),
    coresPerBoard: new Uint16Array(heaters).fill(8),
    memoryMBPerBoard: new Float32Array(heaters).fill(16384),
    gpu: new Uint8Array(heaters),
    online: new Uint8Array(heaters).fill(1),
    requestW: new Float64Array(heaters),
    minW: new Float64Array(heaters),
    maxW: new Float64Array(heaters),
    wantHeatH: new Float32Array(heaters),
    diffK: new Float32Array(heaters),
    airC: new Float32Array(heaters).fill(20),
    safetyC: new Float32Array(heaters).fill(28),
    bodyC: new Float32Array(heaters).fill(20),
    level: new Uint8Array(heaters),
    booster: new Float32Array(heaters),
    boardInstance: new Int32Array(heaters * maxBoards).fill(BOARD_FREE),
  };
}
