// Workload generators: deterministic per seed, with the documented calendars, deadlines and statistics; the
// merged arrival stream is sorted with task ids unique across workloads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidParameterError } from '../../src/physics/errors.ts';
import { DEFAULT_BANK, DEFAULT_RENDER, DEFAULT_SCIENCE, generateArrivals, generateWorkload, parseWorkloadSpec, workloadSeed } from '../../src/sim/workloads.ts';
import type { InstanceArrival, WorkloadContext } from '../../src/sim/workloads.ts';

const DAY = 86400;
/** 28 days from a Monday. */
const ctx = (seed = 1, workload = 0, firstTaskId = 0): WorkloadContext => ({ days: 28, startDayOfWeek: 0, seed, workload, firstTaskId });
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const byTask = (as: readonly InstanceArrival[]): Map<number, InstanceArrival[]> => {
  const m = new Map<number, InstanceArrival[]>();
  for (const a of as) m.set(a.taskId, [...(m.get(a.taskId) ?? []), a]);
  return m;
};
const sorted = (as: readonly InstanceArrival[]): boolean => as.every((a, i) => i === 0 || as[i - 1].submittedS <= a.submittedS);

test('generators are deterministic per seed and differ across seeds', () => {
  for (const kind of ['bank', 'render', 'science'] as const) {
    const spec = parseWorkloadSpec({ kind }, 'w');
    const a = generateWorkload(spec, ctx(5));
    assert.deepEqual(a, generateWorkload(spec, ctx(5)), kind);
    assert.notDeepEqual(a, generateWorkload(spec, ctx(6)), kind);
    assert.ok(a.length > 0 && sorted(a), kind);
  }
  assert.notEqual(workloadSeed(1, 0), workloadSeed(1, 1));
  assert.equal(workloadSeed(1, 0), workloadSeed(1, 0));
});

test('bank: weekday evenings 19–22 h, all due 07:00 next morning, onDemand checkpointable, documented sizes', () => {
  const a = generateWorkload(parseWorkloadSpec({ kind: 'bank' }, 'w'), ctx(11));
  const tasks = byTask(a);
  assert.equal(tasks.size, 20, 'one task per weekday evening over four weeks');
  for (const [, inst] of tasks) {
    const t = inst[0].submittedS;
    const day = Math.floor(t / DAY);
    const hour = (t % DAY) / 3600;
    assert.ok(day % 7 < 5, 'Monday–Friday');
    assert.ok(hour >= 19 && hour < 22, `submitted at ${hour} h`);
    for (const x of inst) {
      assert.equal(x.deadlineS, (day + 1) * DAY + 7 * 3600);
      assert.equal(x.submittedS, t);
      assert.equal(x.type, 'onDemand');
      assert.equal(x.checkpointable, true);
    }
    assert.deepEqual(inst.map((x) => x.instanceIndex), inst.map((_, i) => i));
  }
  const perTask = mean([...tasks.values()].map((x) => x.length));
  assert.ok(Math.abs(perTask / DEFAULT_BANK.instancesPerTask - 1) < 0.15, `mean instances per task ${perTask}`);
  const work = mean(a.map((x) => x.workS));
  assert.ok(Math.abs(work / DEFAULT_BANK.workMeanS - 1) < 0.03, `mean work ${work} s`);
  assert.ok(Math.abs(mean(a.map((x) => Math.log(x.estWorkS / x.workS)))) < 0.02, 'estimates unbiased in log');
  const every = generateWorkload(parseWorkloadSpec({ kind: 'bank', weekdaysOnly: false, tasksPerNight: 2.5 }, 'w'), ctx(11));
  const n = byTask(every).size;
  assert.ok(n >= 55 && n <= 85, `2.5 tasks × 28 evenings ≈ 70, got ${n}`);
});

test('render: working-hours arrivals, 20–300 frames of 10–60 min, flex, due 09:00 next day', () => {
  const a = generateWorkload(parseWorkloadSpec({ kind: 'render' }, 'w'), ctx(12));
  const tasks = byTask(a);
  assert.ok(tasks.size >= 60 && tasks.size <= 105, `≈4 × 20 working days, got ${tasks.size}`);
  for (const [, inst] of tasks) {
    const t = inst[0].submittedS;
    const day = Math.floor(t / DAY);
    const hour = (t % DAY) / 3600;
    assert.ok(day % 7 < 5 && hour >= 9 && hour < 18);
    assert.ok(inst.length >= DEFAULT_RENDER.framesMin && inst.length <= DEFAULT_RENDER.framesMax);
    for (const x of inst) {
      assert.equal(x.deadlineS, (day + 1) * DAY + 9 * 3600);
      assert.ok(x.workS >= 600 && x.workS <= 3600);
      assert.equal(x.type, 'flex');
      assert.equal(x.checkpointable, false);
    }
  }
  const frames = mean([...tasks.values()].map((x) => x.length));
  assert.ok(frames > 130 && frames < 190, `mean frames ${frames} (uniform 20–300: 160)`);
});

test('science: every day, long work, no deadline, checkpointable, low priority', () => {
  const a = generateWorkload(parseWorkloadSpec({ kind: 'science' }, 'w'), ctx(13));
  const tasks = byTask(a);
  assert.ok(tasks.size >= 35 && tasks.size <= 80, `≈2 × 28, got ${tasks.size}`);
  const weekend = [...tasks.values()].filter((x) => Math.floor(x[0].submittedS / DAY) % 7 >= 5).length;
  assert.ok(weekend > 0, 'weekends too');
  assert.ok(a.every((x) => x.deadlineS === null && x.checkpointable && x.type === 'flex' && x.priority === 0));
  const work = mean(a.map((x) => x.workS));
  assert.ok(Math.abs(work / DEFAULT_SCIENCE.workMeanS - 1) < 0.1, `mean work ${work} s`);
});

test('a run starting on a Saturday shifts the calendar; arrivals after the end are dropped', () => {
  const spec = parseWorkloadSpec({ kind: 'bank' }, 'w');
  const a = generateWorkload(spec, { ...ctx(3), days: 2, startDayOfWeek: 5 });
  assert.equal(a.length, 0, 'no bank runs on Saturday and Sunday');
  const b = generateWorkload(spec, { ...ctx(3), days: 0.5, startDayOfWeek: 0 });
  assert.equal(b.length, 0, 'Monday 19 h is after a half-day run');
});

test('generateArrivals merges workloads sorted, with unique task ids and the workload index', () => {
  const specs = [{ kind: 'bank' }, { kind: 'render', dataSite: 'b' }, { kind: 'science', cores: 2 }].map((w, i) => parseWorkloadSpec(w, `workloads[${i}]`, ['a', 'b']));
  const run = { days: 14, startDayOfWeek: 0, seed: 9 };
  const all = generateArrivals(specs, run);
  assert.deepEqual(all, generateArrivals(specs, run));
  assert.ok(sorted(all));
  const owner = new Map<number, number>();
  for (const x of all) {
    assert.equal(owner.get(x.taskId) ?? x.workload, x.workload, 'a task belongs to one workload');
    owner.set(x.taskId, x.workload);
    if (x.workload === 1) assert.equal(x.dataSite, 1);
    if (x.workload === 2) assert.equal(x.cores, 2);
  }
  assert.deepEqual(new Set(all.map((x) => x.workload)), new Set([0, 1, 2]));
  assert.equal(Math.max(...owner.keys()) + 1, owner.size, 'task ids are 0..n−1');
});

test('swf workloads come from the trace text given by file name', () => {
  const spec = parseWorkloadSpec({ kind: 'swf', file: 'trace.swf', timeScale: 0.5, coresPerInstance: 4 }, 'workloads[0]');
  const trace = '; Version: 2.2\n1 100 0 600 6 -1 -1 6 900 -1 1 1 1 1 1 1 -1 -1\n';
  const a = generateArrivals([spec], { days: 1, startDayOfWeek: 0, seed: 1 }, { 'trace.swf': trace });
  assert.equal(a.length, 2);
  assert.deepEqual(a.map((x) => [x.submittedS, x.cores, x.workS, x.estWorkS]), [[50, 4, 600, 900], [50, 2, 600, 900]]);
  assert.throws(() => generateArrivals([spec], { days: 1, startDayOfWeek: 0, seed: 1 }), (e: unknown) => e instanceof InvalidParameterError && e.field === 'workloads[0].file');
});

test('parseWorkloadSpec fills the documented defaults and names bad fields', () => {
  const b = parseWorkloadSpec({ kind: 'bank' }, 'w');
  assert.deepEqual({ ...b, name: undefined }, { ...DEFAULT_BANK, name: undefined });
  assert.throws(() => parseWorkloadSpec({ kind: 'science', workMeanS: -1 }, 'workloads[3]'), (e: unknown) => e instanceof InvalidParameterError && e.field === 'workloads[3].workMeanS');
  assert.throws(() => parseWorkloadSpec([], 'workloads[0]'), (e: unknown) => e instanceof InvalidParameterError && e.field === 'workloads[0]');
  assert.throws(() => parseWorkloadSpec({ kind: 'bank', dataSite: 4 }, 'w', ['a']), (e: unknown) => e instanceof InvalidParameterError && e.field === 'w.dataSite');
});
