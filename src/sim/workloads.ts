// Workloads of the twin: scenario parameters of each customer workload (bank risk runs, render frames, science
// jobs, SWF traces) and seeded generators turning them into instance arrivals sorted by submission time.
import { InvalidParameterError } from '../physics/errors.ts';
import { createRng, poisson } from '../physics/random.ts';
import type { Rng } from '../physics/random.ts';
import { parseSwf, swfToArrivals } from './swf.ts';

/** Scheduling type names of the compute API (COMPUTE-API.md `schedulingType`). */
export const SCHEDULING_TYPES = ['flex', 'onDemand', 'reserved'] as const;
export type SchedulingTypeName = (typeof SCHEDULING_TYPES)[number];

/** One instance entering the system: what the engine appends to the scheduler's InstanceTable. */
export interface InstanceArrival {
  /** Task number, unique across all workloads of a run (0-based, in order of task creation). */
  readonly taskId: number;
  /** Index of the instance within its task (INSTANCE_ID), 0-based. */
  readonly instanceIndex: number;
  /** Index of the workload in the scenario's `workloads` list that produced it. */
  readonly workload: number;
  /** Submission time, s from the scenario start (00:00 of its start date). */
  readonly submittedS: number;
  readonly type: SchedulingTypeName;
  /** Higher runs first within a type. */
  readonly priority: number;
  readonly cores: number;
  readonly memoryMB: number;
  readonly gpu: boolean;
  /** True work, board-seconds at the top frequency level. */
  readonly workS: number;
  /** The customer's estimate of the work, board-seconds at top frequency (what the scheduler may use). */
  readonly estWorkS: number;
  /** Absolute deadline, s from the scenario start, or null when none. */
  readonly deadlineS: number | null;
  readonly checkpointable: boolean;
  /** Input data size, MB, and the site index where it sits (−1: none / anywhere). */
  readonly dataMB: number;
  readonly dataSite: number;
}

/** What every generated workload says about its instances. */
export interface InstanceShape {
  /** Display name of the workload (customer). */
  readonly name: string;
  readonly type: SchedulingTypeName;
  readonly priority: number;
  /** Cores and memory each instance needs (it must fit one board). */
  readonly cores: number;
  readonly memoryMB: number;
  readonly gpu: boolean;
  readonly checkpointable: boolean;
  /** Input data per instance, MB. */
  readonly dataMB: number;
  /** Site index where the input data sits (−1 none). In JSON: a site name, an index, or null. */
  readonly dataSite: number;
  /**
   * Spread of the customer's estimate around the true work: estWorkS = workS · LogNormal(median 1, this
   * coefficient of variation). 0 = exact estimates. Default 0.2 (est.).
   */
  readonly estimateCv: number;
}

/**
 * A bank's nightly risk runs: on each weekday evening (Mon–Fri) `tasksPerNight` tasks are submitted at a uniform
 * time between submitFromH and submitToH, each of about `instancesPerTask` instances; every instance of a task
 * must finish by deadlineH on the next morning (07:00). onDemand, checkpointable.
 */
export interface BankParams extends InstanceShape {
  readonly kind: 'bank';
  /** Tasks per evening (a fractional part is the probability of one more). Default 1. */
  readonly tasksPerNight: number;
  /** Mean instances per task (log-normal, cv instancesCv). Default 200. */
  readonly instancesPerTask: number;
  readonly instancesCv: number;
  /** Mean work of an instance, board-seconds at top frequency (log-normal, cv workCv). Default 2700 (45 min). */
  readonly workMeanS: number;
  readonly workCv: number;
  /** Submission window, hours of the day [from, to). Default 19–22. */
  readonly submitFromH: number;
  readonly submitToH: number;
  /** Deadline hour on the day after submission. Default 7. */
  readonly deadlineH: number;
  /** Only Monday–Friday evenings (default true); false: every evening. */
  readonly weekdaysOnly: boolean;
}

/**
 * A render studio's frames: on working days (Mon–Fri) a Poisson number of tasks (mean tasksPerDay) arrive at
 * uniform times during working hours, each of framesMin..framesMax frames (uniform); a task's frames share a
 * mean duration drawn uniformly in [frameMinS, frameMaxS], each frame varying around it (cv 0.2, clamped to the
 * range). Flex, not checkpointable; deadline deadlineH on the next day.
 */
export interface RenderParams extends InstanceShape {
  readonly kind: 'render';
  /** Mean tasks per working day (Poisson). Default 4. */
  readonly tasksPerDay: number;
  /** Frames per task, uniform integer in [framesMin, framesMax]. Default 20–300. */
  readonly framesMin: number;
  readonly framesMax: number;
  /** Frame work range, board-seconds at top frequency. Default 600–3600 (10–60 min). */
  readonly frameMinS: number;
  readonly frameMaxS: number;
  /** Arrival window, hours of the day [from, to). Default 9–18. */
  readonly workStartH: number;
  readonly workEndH: number;
  /** Deadline hour on the day after submission. Default 9. */
  readonly deadlineH: number;
  /** Only Monday–Friday (default true). */
  readonly workingDaysOnly: boolean;
}

/**
 * Long low-priority science jobs (also what a free "filler" science workload looks like): every day a Poisson
 * number of jobs (mean jobsPerDay) arrive at uniform times, each of about instancesPerJob instances (log-normal,
 * cv 0.5) of long work (log-normal, mean workMeanS, cv workCv). Flex, checkpointable, no deadline.
 */
export interface ScienceParams extends InstanceShape {
  readonly kind: 'science';
  /** Mean jobs per day (Poisson), every day of the week. Default 2. */
  readonly jobsPerDay: number;
  /** Mean instances per job. Default 20. */
  readonly instancesPerJob: number;
  /** Mean work of an instance, board-seconds at top frequency. Default 14400 (4 h). */
  readonly workMeanS: number;
  readonly workCv: number;
}

/**
 * A Standard Workload Format trace (swf.ts): each job becomes ⌈processors / coresPerInstance⌉ instances of
 * `cores` = min(processors, coresPerInstance) whose work is the job's run time.
 */
export interface SwfParams {
  readonly kind: 'swf';
  readonly name: string;
  /** Trace path as written in the scenario (the CLI resolves it relative to the scenario file). */
  readonly file: string;
  readonly type: SchedulingTypeName;
  readonly priority: number;
  /** Multiplies the trace's submit times (< 1 compresses the trace: more load per day). Default 1. */
  readonly timeScale: number;
  /** Multiplies run times and requested times (board speed relative to the traced machine). Default 1. */
  readonly workScale: number;
  /** Import at most this many jobs (after skipping), or null for all. */
  readonly maxJobs: number | null;
  /** Processors of a job are cut into instances of at most this many cores (one board). Default 8. */
  readonly coresPerInstance: number;
  /** Memory per instance when the trace does not say, MB. Default 2048. */
  readonly memoryMB: number;
  readonly checkpointable: boolean;
  readonly dataMB: number;
  readonly dataSite: number;
  /** Keep jobs whose status is 0 (failed: they used the machine). Cancelled (5) jobs are always skipped. Default true. */
  readonly keepFailed: boolean;
}

export type WorkloadSpec = BankParams | RenderParams | ScienceParams | SwfParams;
export type WorkloadKind = WorkloadSpec['kind'];
export const WORKLOAD_KINDS: readonly WorkloadKind[] = ['bank', 'render', 'science', 'swf'];

/** Defaults of the shape fields per generated kind. */
const SHAPE_DEFAULTS: Readonly<Record<'bank' | 'render' | 'science', Omit<InstanceShape, 'name'>>> = {
  bank: { type: 'onDemand', priority: 10, cores: 4, memoryMB: 4096, gpu: false, checkpointable: true, dataMB: 50, dataSite: -1, estimateCv: 0.2 },
  render: { type: 'flex', priority: 5, cores: 8, memoryMB: 8192, gpu: false, checkpointable: false, dataMB: 200, dataSite: -1, estimateCv: 0.3 },
  science: { type: 'flex', priority: 0, cores: 4, memoryMB: 2048, gpu: false, checkpointable: true, dataMB: 20, dataSite: -1, estimateCv: 0.5 },
};

/** Default bank parameters (est.): one task of ≈200 × 45 min instances each weekday evening 19–22 h, due 07:00. */
export const DEFAULT_BANK: Omit<BankParams, 'name'> = {
  kind: 'bank',
  ...SHAPE_DEFAULTS.bank,
  tasksPerNight: 1,
  instancesPerTask: 200,
  instancesCv: 0.2,
  workMeanS: 2700,
  workCv: 0.3,
  submitFromH: 19,
  submitToH: 22,
  deadlineH: 7,
  weekdaysOnly: true,
};

/** Default render parameters (est.): 4 tasks per working day of 20–300 frames of 10–60 min, due 09:00 next day. */
export const DEFAULT_RENDER: Omit<RenderParams, 'name'> = {
  kind: 'render',
  ...SHAPE_DEFAULTS.render,
  tasksPerDay: 4,
  framesMin: 20,
  framesMax: 300,
  frameMinS: 600,
  frameMaxS: 3600,
  workStartH: 9,
  workEndH: 18,
  deadlineH: 9,
  workingDaysOnly: true,
};

/** Default science parameters (est.): 2 jobs a day of ≈20 instances of ≈4 h, no deadline. */
export const DEFAULT_SCIENCE: Omit<ScienceParams, 'name'> = {
  kind: 'science',
  ...SHAPE_DEFAULTS.science,
  jobsPerDay: 2,
  instancesPerJob: 20,
  workMeanS: 14400,
  workCv: 0.5,
};

/** Default SWF import parameters. */
export const DEFAULT_SWF: Omit<SwfParams, 'name' | 'file'> = {
  kind: 'swf',
  type: 'flex',
  priority: 0,
  timeScale: 1,
  workScale: 1,
  maxJobs: null,
  coresPerInstance: 8,
  memoryMB: 2048,
  checkpointable: false,
  dataMB: 0,
  dataSite: -1,
  keepFailed: true,
};

// ---------------------------------------------------------------------------------------------------------
// Parsing (pure): every error names the JSON path

type Obj = Record<string, unknown>;

const describe = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'string' ? `'${v}'` : typeof v === 'object' ? 'an object' : typeof v === 'number' || typeof v === 'boolean' ? String(v) : typeof v);

function asObject(path: string, v: unknown): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidParameterError(path, `must be an object, got ${describe(v)}`);
  return v as Obj;
}

function onlyKeys(path: string, o: Obj, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (o[k] !== undefined && !allowed.includes(k)) throw new InvalidParameterError(path ? `${path}.${k}` : k, `unknown field; expected one of ${allowed.join(', ')}`);
  }
}

function numberAt(path: string, v: unknown, min: number, max: number, integer = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidParameterError(path, `must be a finite number, got ${describe(v)}`);
  if (v < min) throw new InvalidParameterError(path, `must be ≥ ${min}, got ${v}`);
  if (v > max) throw new InvalidParameterError(path, `must be ≤ ${max}, got ${v}`);
  if (integer && !Number.isInteger(v)) throw new InvalidParameterError(path, `must be an integer, got ${v}`);
  return v;
}

function boolAt(path: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new InvalidParameterError(path, `must be true or false, got ${describe(v)}`);
  return v;
}

function stringAt(path: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) throw new InvalidParameterError(path, `must be a non-empty string, got ${describe(v)}`);
  return v;
}

/** Resolves a `dataSite` JSON value (site name, index, or null) against the scenario's site names. */
function dataSiteAt(path: string, v: unknown, siteNames: readonly string[]): number {
  if (v === null || v === undefined) return -1;
  if (typeof v === 'string') {
    const i = siteNames.indexOf(v);
    if (i < 0) throw new InvalidParameterError(path, `unknown site '${v}'; sites are ${siteNames.join(', ') || '(none)'}`);
    return i;
  }
  return numberAt(path, v, -1, Math.max(-1, siteNames.length - 1), true);
}

const SHAPE_KEYS = ['name', 'type', 'priority', 'cores', 'memoryMB', 'gpu', 'checkpointable', 'dataMB', 'dataSite', 'estimateCv'] as const;

function shapeAt(path: string, o: Obj, d: Omit<InstanceShape, 'name'>, defaultName: string, siteNames: readonly string[]): InstanceShape {
  const type = o.type ?? d.type;
  if (!SCHEDULING_TYPES.includes(type as SchedulingTypeName)) throw new InvalidParameterError(`${path}.type`, `must be one of ${SCHEDULING_TYPES.join(', ')}, got ${describe(type)}`);
  return {
    name: o.name === undefined ? defaultName : stringAt(`${path}.name`, o.name),
    type: type as SchedulingTypeName,
    priority: numberAt(`${path}.priority`, o.priority ?? d.priority, -1e6, 1e6, true),
    cores: numberAt(`${path}.cores`, o.cores ?? d.cores, 1, 1024, true),
    memoryMB: numberAt(`${path}.memoryMB`, o.memoryMB ?? d.memoryMB, 0, 1e7),
    gpu: boolAt(`${path}.gpu`, o.gpu ?? d.gpu),
    checkpointable: boolAt(`${path}.checkpointable`, o.checkpointable ?? d.checkpointable),
    dataMB: numberAt(`${path}.dataMB`, o.dataMB ?? d.dataMB, 0, 1e9),
    dataSite: o.dataSite === undefined ? d.dataSite : dataSiteAt(`${path}.dataSite`, o.dataSite, siteNames),
    estimateCv: numberAt(`${path}.estimateCv`, o.estimateCv ?? d.estimateCv, 0, 10),
  };
}

/** Checks an hour window [from, to) within a day; `to` may not wrap past midnight. */
function windowAt(path: string, fromKey: string, toKey: string, from: number, to: number): void {
  if (!(to > from)) throw new InvalidParameterError(`${path}.${toKey}`, `must be after ${fromKey} (${from} h), got ${to}`);
}

/**
 * Validates one workload of a scenario (`json` as written) and fills its defaults; `path` is its JSON path
 * (e.g. `workloads[2]`) and prefixes every error; `siteNames` resolves `dataSite` names to indexes.
 */
export function parseWorkloadSpec(json: unknown, path: string, siteNames: readonly string[] = []): WorkloadSpec {
  const o = asObject(path, json);
  const kind = o.kind;
  switch (kind) {
    case 'bank': {
      const d = DEFAULT_BANK;
      onlyKeys(path, o, ['kind', ...SHAPE_KEYS, 'tasksPerNight', 'instancesPerTask', 'instancesCv', 'workMeanS', 'workCv', 'submitFromH', 'submitToH', 'deadlineH', 'weekdaysOnly']);
      const p: BankParams = {
        ...shapeAt(path, o, d, 'bank', siteNames),
        kind,
        tasksPerNight: numberAt(`${path}.tasksPerNight`, o.tasksPerNight ?? d.tasksPerNight, 0, 1000),
        instancesPerTask: numberAt(`${path}.instancesPerTask`, o.instancesPerTask ?? d.instancesPerTask, 1, 1e6),
        instancesCv: numberAt(`${path}.instancesCv`, o.instancesCv ?? d.instancesCv, 0, 10),
        workMeanS: numberAt(`${path}.workMeanS`, o.workMeanS ?? d.workMeanS, 1, 1e8),
        workCv: numberAt(`${path}.workCv`, o.workCv ?? d.workCv, 0, 10),
        submitFromH: numberAt(`${path}.submitFromH`, o.submitFromH ?? d.submitFromH, 0, 24),
        submitToH: numberAt(`${path}.submitToH`, o.submitToH ?? d.submitToH, 0, 24),
        deadlineH: numberAt(`${path}.deadlineH`, o.deadlineH ?? d.deadlineH, 0, 24),
        weekdaysOnly: boolAt(`${path}.weekdaysOnly`, o.weekdaysOnly ?? d.weekdaysOnly),
      };
      windowAt(path, 'submitFromH', 'submitToH', p.submitFromH, p.submitToH);
      return p;
    }
    case 'render': {
      const d = DEFAULT_RENDER;
      onlyKeys(path, o, ['kind', ...SHAPE_KEYS, 'tasksPerDay', 'framesMin', 'framesMax', 'frameMinS', 'frameMaxS', 'workStartH', 'workEndH', 'deadlineH', 'workingDaysOnly']);
      const p: RenderParams = {
        ...shapeAt(path, o, d, 'render', siteNames),
        kind,
        tasksPerDay: numberAt(`${path}.tasksPerDay`, o.tasksPerDay ?? d.tasksPerDay, 0, 1e4),
        framesMin: numberAt(`${path}.framesMin`, o.framesMin ?? d.framesMin, 1, 1e6, true),
        framesMax: numberAt(`${path}.framesMax`, o.framesMax ?? d.framesMax, 1, 1e6, true),
        frameMinS: numberAt(`${path}.frameMinS`, o.frameMinS ?? d.frameMinS, 1, 1e8),
        frameMaxS: numberAt(`${path}.frameMaxS`, o.frameMaxS ?? d.frameMaxS, 1, 1e8),
        workStartH: numberAt(`${path}.workStartH`, o.workStartH ?? d.workStartH, 0, 24),
        workEndH: numberAt(`${path}.workEndH`, o.workEndH ?? d.workEndH, 0, 24),
        deadlineH: numberAt(`${path}.deadlineH`, o.deadlineH ?? d.deadlineH, 0, 24),
        workingDaysOnly: boolAt(`${path}.workingDaysOnly`, o.workingDaysOnly ?? d.workingDaysOnly),
      };
      if (p.framesMax < p.framesMin) throw new InvalidParameterError(`${path}.framesMax`, `must be ≥ framesMin (${p.framesMin}), got ${p.framesMax}`);
      if (p.frameMaxS < p.frameMinS) throw new InvalidParameterError(`${path}.frameMaxS`, `must be ≥ frameMinS (${p.frameMinS}), got ${p.frameMaxS}`);
      windowAt(path, 'workStartH', 'workEndH', p.workStartH, p.workEndH);
      return p;
    }
    case 'science': {
      const d = DEFAULT_SCIENCE;
      onlyKeys(path, o, ['kind', ...SHAPE_KEYS, 'jobsPerDay', 'instancesPerJob', 'workMeanS', 'workCv']);
      return {
        ...shapeAt(path, o, d, 'science', siteNames),
        kind,
        jobsPerDay: numberAt(`${path}.jobsPerDay`, o.jobsPerDay ?? d.jobsPerDay, 0, 1e4),
        instancesPerJob: numberAt(`${path}.instancesPerJob`, o.instancesPerJob ?? d.instancesPerJob, 1, 1e6),
        workMeanS: numberAt(`${path}.workMeanS`, o.workMeanS ?? d.workMeanS, 1, 1e8),
        workCv: numberAt(`${path}.workCv`, o.workCv ?? d.workCv, 0, 10),
      };
    }
    case 'swf': {
      const d = DEFAULT_SWF;
      onlyKeys(path, o, ['kind', 'name', 'file', 'type', 'priority', 'timeScale', 'workScale', 'maxJobs', 'coresPerInstance', 'memoryMB', 'checkpointable', 'dataMB', 'dataSite', 'keepFailed']);
      const type = o.type ?? d.type;
      if (!SCHEDULING_TYPES.includes(type as SchedulingTypeName)) throw new InvalidParameterError(`${path}.type`, `must be one of ${SCHEDULING_TYPES.join(', ')}, got ${describe(type)}`);
      return {
        kind,
        name: o.name === undefined ? 'swf' : stringAt(`${path}.name`, o.name),
        file: stringAt(`${path}.file`, o.file),
        type: type as SchedulingTypeName,
        priority: numberAt(`${path}.priority`, o.priority ?? d.priority, -1e6, 1e6, true),
        timeScale: numberAt(`${path}.timeScale`, o.timeScale ?? d.timeScale, 1e-6, 1e6),
        workScale: numberAt(`${path}.workScale`, o.workScale ?? d.workScale, 1e-6, 1e6),
        maxJobs: o.maxJobs === undefined || o.maxJobs === null ? null : numberAt(`${path}.maxJobs`, o.maxJobs, 1, 1e9, true),
        coresPerInstance: numberAt(`${path}.coresPerInstance`, o.coresPerInstance ?? d.coresPerInstance, 1, 1024, true),
        memoryMB: numberAt(`${path}.memoryMB`, o.memoryMB ?? d.memoryMB, 0, 1e7),
        checkpointable: boolAt(`${path}.checkpointable`, o.checkpointable ?? d.checkpointable),
        dataMB: numberAt(`${path}.dataMB`, o.dataMB ?? d.dataMB, 0, 1e9),
        dataSite: o.dataSite === undefined ? d.dataSite : dataSiteAt(`${path}.dataSite`, o.dataSite, siteNames),
        keepFailed: boolAt(`${path}.keepFailed`, o.keepFailed ?? d.keepFailed),
      };
    }
    default:
      throw new InvalidParameterError(`${path}.kind`, `must be one of ${WORKLOAD_KINDS.join(', ')}, got ${describe(kind)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Generators (pure, seeded)

/** Where a workload is generated: the calendar of the run and the id space of its tasks. */
export interface WorkloadContext {
  /** Duration of the run, days (arrivals at or after days·86400 s are dropped). */
  readonly days: number;
  /** Day of week of day 0, 0 = Monday … 6 = Sunday. */
  readonly startDayOfWeek: number;
  /** Seed of this workload's stream (workloadSeed derives one per workload from the scenario seed). */
  readonly seed: number;
  /** Index of the workload in the scenario (copied into each arrival). */
  readonly workload: number;
  /** Task id of the workload's first task. */
  readonly firstTaskId: number;
}

/** A per-workload seed from the scenario seed and the workload's index (independent streams, same seed same run). */
export function workloadSeed(scenarioSeed: number, workloadIndex: number): number {
  let z = (scenarioSeed ^ Math.imul(workloadIndex + 1, 0x9e3779b1) ^ 0x5bd1e995) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** Log-normal factor with mean 1 and coefficient of variation `cv` (1 when cv = 0). */
function lognormalMean1(rng: Rng, cv: number): number {
  if (cv <= 0) return 1;
  const s2 = Math.log(1 + cv * cv);
  return Math.exp(-s2 / 2 + Math.sqrt(s2) * rng.normal());
}

/** Log-normal factor with median 1 (unbiased in log), coefficient of variation `cv`. */
function lognormalMedian1(rng: Rng, cv: number): number {
  if (cv <= 0) return 1;
  return Math.exp(Math.sqrt(Math.log(1 + cv * cv)) * rng.normal());
}

/** A count with mean `x`: ⌊x⌋ plus one more with probability frac(x). */
function stochasticRound(rng: Rng, x: number): number {
  const f = Math.floor(x);
  return f + (rng.next() < x - f ? 1 : 0);
}

interface TaskDraft {
  readonly submittedS: number;
  readonly deadlineS: number | null;
  readonly works: readonly number[];
}

function emit(shape: InstanceShape, ctx: WorkloadContext, rng: Rng, tasks: readonly TaskDraft[]): InstanceArrival[] {
  const out: InstanceArrival[] = [];
  const endS = ctx.days * 86400;
  let taskId = ctx.firstTaskId;
  const sorted = [...tasks].filter((t) => t.submittedS < endS).sort((a, b) => a.submittedS - b.submittedS);
  for (const t of sorted) {
    t.works.forEach((workS, k) => {
      out.push({
        taskId,
        instanceIndex: k,
        workload: ctx.workload,
        submittedS: t.submittedS,
        type: shape.type,
        priority: shape.priority,
        cores: shape.cores,
        memoryMB: shape.memoryMB,
        gpu: shape.gpu,
        workS,
        estWorkS: workS * lognormalMedian1(rng, shape.estimateCv),
        deadlineS: t.deadlineS,
        checkpointable: shape.checkpointable,
        dataMB: shape.dataMB,
        dataSite: shape.dataSite,
      });
    });
    taskId++;
  }
  return out;
}

const isWeekday = (ctx: WorkloadContext, day: number): boolean => (ctx.startDayOfWeek + day) % 7 < 5;

/**
 * Bank risk runs: instances of `tasksPerNight` tasks per (week)day, submitted in [submitFromH, submitToH), all due
 * at deadlineH on the next day. Work per instance: workMeanS × LogNormal(mean 1, workCv); instances per task:
 * max(1, round(instancesPerTask × LogNormal(mean 1, instancesCv))).
 */
export function generateBank(p: BankParams, ctx: WorkloadContext): InstanceArrival[] {
  const rng = createRng(ctx.seed);
  const tasks: TaskDraft[] = [];
  const days = Math.ceil(ctx.days);
  for (let d = 0; d < days; d++) {
    const n = stochasticRound(rng, p.tasksPerNight);
    if (p.weekdaysOnly && !isWeekday(ctx, d)) continue;
    for (let t = 0; t < n; t++) {
      const submittedS = d * 86400 + (p.submitFromH + (p.submitToH - p.submitFromH) * rng.next()) * 3600;
      const count = Math.max(1, Math.round(p.instancesPerTask * lognormalMean1(rng, p.instancesCv)));
      const works = Array.from({ length: count }, () => p.workMeanS * lognormalMean1(rng, p.workCv));
      tasks.push({ submittedS, deadlineS: (d + 1) * 86400 + p.deadlineH * 3600, works });
    }
  }
  return emit(p, ctx, rng, tasks);
}

/**
 * Render frames: a Poisson(tasksPerDay) number of tasks per working day, submitted uniformly in
 * [workStartH, workEndH), of framesMin..framesMax frames; the task's frames share a mean work drawn uniformly in
 * [frameMinS, frameMaxS], each frame = mean × LogNormal(mean 1, cv 0.2) clamped to the range; due at deadlineH on
 * the next day.
 */
export function generateRender(p: RenderParams, ctx: WorkloadContext): InstanceArrival[] {
  const rng = createRng(ctx.seed);
  const tasks: TaskDraft[] = [];
  const days = Math.ceil(ctx.days);
  for (let d = 0; d < days; d++) {
    const n = poisson(rng, p.tasksPerDay);
    if (p.workingDaysOnly && !isWeekday(ctx, d)) continue;
    for (let t = 0; t < n; t++) {
      const submittedS = d * 86400 + (p.workStartH + (p.workEndH - p.workStartH) * rng.next()) * 3600;
      const frames = p.framesMin + Math.floor(rng.next() * (p.framesMax - p.framesMin + 1));
      const mean = p.frameMinS + (p.frameMaxS - p.frameMinS) * rng.next();
      const works = Array.from({ length: frames }, () => Math.min(p.frameMaxS, Math.max(p.frameMinS, mean * lognormalMean1(rng, 0.2))));
      tasks.push({ submittedS, deadlineS: (d + 1) * 86400 + p.deadlineH * 3600, works });
    }
  }
  return emit(p, ctx, rng, tasks);
}

/**
 * Science jobs: a Poisson(jobsPerDay) number of jobs every day, submitted uniformly over the day, each of
 * max(1, round(instancesPerJob × LogNormal(mean 1, cv 0.5))) instances of workMeanS × LogNormal(mean 1, workCv);
 * no deadline.
 */
export function generateScience(p: ScienceParams, ctx: WorkloadContext): InstanceArrival[] {
  const rng = createRng(ctx.seed);
  const tasks: TaskDraft[] = [];
  const days = Math.ceil(ctx.days);
  for (let d = 0; d < days; d++) {
    const n = poisson(rng, p.jobsPerDay);
    for (let t = 0; t < n; t++) {
      const submittedS = (d + rng.next()) * 86400;
      const count = Math.max(1, Math.round(p.instancesPerJob * lognormalMean1(rng, 0.5)));
      const works = Array.from({ length: count }, () => p.workMeanS * lognormalMean1(rng, p.workCv));
      tasks.push({ submittedS, deadlineS: null, works });
    }
  }
  return emit(p, ctx, rng, tasks);
}

/**
 * Instance arrivals of one workload, sorted by submission time (then task, then instance). `swfText` is the
 * trace's content, required for kind 'swf' (the CLI reads the file); arrivals after the run's end are dropped.
 */
export function generateWorkload(spec: WorkloadSpec, ctx: WorkloadContext, swfText?: string): InstanceArrival[] {
  switch (spec.kind) {
    case 'bank':
      return generateBank(spec, ctx);
    case 'render':
      return generateRender(spec, ctx);
    case 'science':
      return generateScience(spec, ctx);
    case 'swf': {
      if (swfText === undefined) throw new InvalidParameterError(`workloads[${ctx.workload}].file`, `trace '${spec.file}' was not provided`);
      const all = swfToArrivals(parseSwf(swfText, spec.file), spec, ctx.workload, ctx.firstTaskId);
      const endS = ctx.days * 86400;
      return all.filter((a) => a.submittedS < endS);
    }
  }
}

/**
 * All arrivals of a scenario's workloads merged and sorted by submission time (ties: task id, then instance).
 * Task ids are unique across workloads (each workload's ids follow the previous one's). `swfTexts` maps each swf
 * workload's `file` (as written in the scenario) to the trace text.
 */
export function generateArrivals(
  workloads: readonly WorkloadSpec[],
  run: { readonly days: number; readonly startDayOfWeek: number; readonly seed: number },
  swfTexts: Readonly<Record<string, string>> = {},
): InstanceArrival[] {
  const all: InstanceArrival[] = [];
  let firstTaskId = 0;
  workloads.forEach((w, i) => {
    const arrivals = generateWorkload(w, { ...run, seed: workloadSeed(run.seed, i), workload: i, firstTaskId }, w.kind === 'swf' ? swfTexts[w.file] : undefined);
    for (const a of arrivals) {
      all.push(a);
      if (a.taskId >= firstTaskId) firstTaskId = a.taskId + 1;
    }
  });
  all.sort((a, b) => a.submittedS - b.submittedS || a.taskId - b.taskId || a.instanceIndex - b.instanceIndex);
  return all;
}
