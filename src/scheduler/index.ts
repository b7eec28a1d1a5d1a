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

/**
 * An empty instance table able to hold `capacity` instances (count 0). Defaults of unused rows: phase queued,
 * deadline Infinity, heater/board/dataSite −1, start/end times NaN.
 */
export function createInstanceTable(capacity: number): InstanceTable {
  if (!Number.isInteger(capacity) || capacity < 0) throw new InvalidParameterError('capacity', `must be a non-negative integer, got ${capacity}`);
  const t: InstanceTable = {
    count: 0,
    taskId: new Int32Array(capacity),
    instanceIndex: new Int32Array(capacity),
    type: new Uint8Array(capacity),
    priority: new Int32Array(capacity),
    cores: new Uint16Array(capacity),
    memoryMB: new Float32Array(capacity),
    gpu: new Uint8Array(capacity),
    submittedS: new Float64Array(capacity),
    deadlineS: new Float64Array(capacity),
    workS: new Float64Array(capacity),
    estWorkS: new Float64Array(capacity),
    doneS: new Float64Array(capacity),
    checkpointable: new Uint8Array(capacity),
    dataSite: new Int32Array(capacity),
    dataMB: new Float32Array(capacity),
    phase: new Uint8Array(capacity),
    heater: new Int32Array(capacity),
    board: new Int16Array(capacity),
    startedS: new Float64Array(capacity),
    endedS: new Float64Array(capacity),
    attempts: new Uint16Array(capacity),
  };
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
  const grow = <T extends ArrayLike<number> & { set(a: ArrayLike<number>): void }>(a: T, make: (n: number) => T): T => {
    const b = make(n);
    b.set(a);
    return b;
  };
  table.taskId = grow(table.taskId, (k) => new Int32Array(k));
  table.instanceIndex = grow(table.instanceIndex, (k) => new Int32Array(k));
  table.type = grow(table.type, (k) => new Uint8Array(k));
  table.priority = grow(table.priority, (k) => new Int32Array(k));
  table.cores = grow(table.cores, (k) => new Uint16Array(k));
  table.memoryMB = grow(table.memoryMB, (k) => new Float32Array(k));
  table.gpu = grow(table.gpu, (k) => new Uint8Array(k));
  table.submittedS = grow(table.submittedS, (k) => new Float64Array(k));
  table.deadlineS = grow(table.deadlineS, (k) => new Float64Array(k));
  table.workS = grow(table.workS, (k) => new Float64Array(k));
  table.estWorkS = grow(table.estWorkS, (k) => new Float64Array(k));
  table.doneS = grow(table.doneS, (k) => new Float64Array(k));
  table.checkpointable = grow(table.checkpointable, (k) => new Uint8Array(k));
  table.dataSite = grow(table.dataSite, (k) => new Int32Array(k));
  table.dataMB = grow(table.dataMB, (k) => new Float32Array(k));
  table.phase = grow(table.phase, (k) => new Uint8Array(k));
  table.heater = grow(table.heater, (k) => new Int32Array(k));
  table.board = grow(table.board, (k) => new Int16Array(k));
  table.startedS = grow(table.startedS, (k) => new Float64Array(k));
  table.endedS = grow(table.endedS, (k) => new Float64Array(k));
  table.attempts = grow(table.attempts, (k) => new Uint16Array(k));
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
