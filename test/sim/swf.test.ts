// SWF import: a small trace written here parses (header, 18 fields, −1 unknown), maps jobs to board-sized
// instances, skips what the importer documents, and malformed lines fail naming their line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParseError } from '../../src/physics/errors.ts';
import { parseSwf, swfSkipReason, swfToArrivals } from '../../src/sim/swf.ts';
import { parseWorkloadSpec } from '../../src/sim/workloads.ts';
import type { SwfParams } from '../../src/sim/workloads.ts';

const TRACE = [
  '; Version: 2.2',
  '; Computer: Test cluster',
  '; MaxProcs: 64',
  ';',
  '1   0    5  3600  20  -1  -1  20  7200  -1 1 3 1 -1 1 -1 -1 -1',
  '2  60   -1   120   1  -1 512   1    -1  -1 1 3 1 -1 1 -1 -1 -1',
  '3  90    0    -1   4  -1  -1   4  3600  -1 1 4 1 -1 1 -1 -1 -1',
  '4 120    0   300   8  -1  -1   8   600  -1 5 4 1 -1 1 -1 -1 -1',
  '5 150    0   100  -1  -1  -1   2   200 1024 0 4 1 -1 1 -1 -1 -1',
  '',
  '6 200    0  50.5   8  -1  -1   8   100  -1 1 4 1 -1 1 -1 -1 -1',
].join('\n');

const params = (o: Record<string, unknown> = {}): SwfParams => parseWorkloadSpec({ kind: 'swf', file: 't.swf', ...o }, 'w') as SwfParams;

test('parses the header and the 18 fields of every job', () => {
  const t = parseSwf(TRACE, 't.swf');
  assert.equal(t.header.Version, '2.2');
  assert.equal(t.header.Computer, 'Test cluster');
  assert.equal(t.jobs.length, 6);
  const j = t.jobs[0];
  assert.deepEqual([j.line, j.jobNumber, j.submitS, j.waitS, j.runS, j.allocatedProcs, j.requestedProcs, j.requestedTimeS, j.status, j.user], [5, 1, 0, 5, 3600, 20, 20, 7200, 1, 3]);
  assert.equal(t.jobs[5].line, 11);
  assert.equal(t.jobs[5].runS, 50.5);
});

test('maps jobs to board-sized instances and skips cancelled, unknown-runtime and (optionally) failed jobs', () => {
  const t = parseSwf(TRACE);
  assert.equal(swfSkipReason(t.jobs[2]), 'unknown or zero run time');
  assert.equal(swfSkipReason(t.jobs[3]), 'cancelled');
  assert.equal(swfSkipReason(t.jobs[4]), null);
  assert.equal(swfSkipReason(t.jobs[4], false), 'failed');
  const a = swfToArrivals(t, params(), 2, 100);
  // job 1: 20 procs → 8 + 8 + 4; job 2: 1 proc; job 5 (failed, kept): 2 requested procs; job 6: 8 procs.
  assert.deepEqual(a.map((x) => [x.taskId, x.instanceIndex, x.cores]), [[100, 0, 8], [100, 1, 8], [100, 2, 4], [101, 0, 1], [102, 0, 2], [103, 0, 8]]);
  assert.ok(a.every((x) => x.workload === 2 && x.deadlineS === null && x.type === 'flex'));
  assert.equal(a[0].workS, 3600);
  assert.equal(a[0].estWorkS, 7200);
  assert.equal(a[3].estWorkS, 120, 'unknown requested time: the estimate is the run time');
  assert.equal(a[3].memoryMB, 0.5, '512 KB per processor × 1 core');
  assert.equal(a[4].memoryMB, 2, 'requested 1024 KB per processor × 2 cores');
  assert.equal(a[0].memoryMB, 2048, 'unknown memory: the default');
  const b = swfToArrivals(t, params({ keepFailed: false, maxJobs: 2, timeScale: 0.1, workScale: 2, type: 'onDemand', coresPerInstance: 16 }), 0, 0);
  assert.deepEqual(b.map((x) => [x.taskId, x.cores, x.submittedS, x.workS, x.type]), [[0, 16, 0, 7200, 'onDemand'], [0, 4, 0, 7200, 'onDemand'], [1, 1, 6, 240, 'onDemand']]);
});

test('malformed lines fail with a ParseError naming the line', () => {
  const bad = (line: string): string => `; header\n1 0 0 10 1 -1 -1 1 10 -1 1 1 1 1 1 1 -1 -1\n${line}\n`;
  assert.throws(() => parseSwf(bad('2 0 0 10 1 -1 -1 1 10 -1 1 1 1 1 1 1 -1'), 'x.swf'), (e: unknown) => e instanceof ParseError && e.line === 3 && e.source === 'x.swf' && /18 fields, got 17/.test(e.message));
  assert.throws(() => parseSwf(bad('2 0 0 10 1 -1 -1 1 10 -1 1 1 1 1 1 1 -1 -1 7'), 'x.swf'), (e: unknown) => e instanceof ParseError && e.line === 3);
  assert.throws(() => parseSwf(bad('2 0 0 ten 1 -1 -1 1 10 -1 1 1 1 1 1 1 -1 -1'), 'x.swf'), (e: unknown) => e instanceof ParseError && e.line === 3 && /field 4/.test(e.message));
  assert.throws(() => parseSwf(bad('2 0 0 1e5x 1 -1 -1 1 10 -1 1 1 1 1 1 1 -1 -1')), (e: unknown) => e instanceof ParseError && e.line === 3);
  assert.deepEqual(parseSwf('; only comments\n\n').jobs, []);
});
