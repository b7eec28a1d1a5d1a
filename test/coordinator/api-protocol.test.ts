// Pure helpers of the protocol: ranges, .NET time spans, the task state machine, dependency gates, field paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatRanges, parseRanges, RangeSyntaxError } from '../../src/protocol/ranges.ts';
import { formatTimeSpan, parseTimeSpan } from '../../src/protocol/timespan.ts';
import { canTransition, dependencyGate, isFinalState, stateFromInstances, statesAllowedBefore, TASK_STATES } from '../../src/protocol/task-state.ts';
import { ERROR_CODES, isRetryable } from '../../src/protocol/errors.ts';
import { fieldOf } from '../../src/coordinator/api/validation.ts';

test('ranges: "1,3-8" ↔ ids, overlaps merged, bad input refused', () => {
  assert.deepEqual(parseRanges('1,3-8'), [1, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(parseRanges(' 5 , 0-2,2-3 '), [0, 1, 2, 3, 5]);
  assert.equal(formatRanges([8, 1, 3, 4, 5, 6, 7, 7]), '1,3-8');
  assert.equal(formatRanges([]), '');
  for (const bad of ['', '1,', 'a', '3-1', '-1', '1-2-3', '0-99999999']) assert.throws(() => parseRanges(bad, 1000), RangeSyntaxError, bad);
});

test('ranges: parse(format(ids)) is the sorted distinct ids', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 500 }), { minLength: 1, maxLength: 60 }), (ids) => {
      assert.deepEqual(parseRanges(formatRanges(ids)), [...new Set(ids)].sort((a, b) => a - b));
    }),
  );
});

test('time spans: hh:mm:ss under a day, d.hh:mm:ss from one day, round trip', () => {
  assert.equal(formatTimeSpan(0), '00:00:00');
  assert.equal(formatTimeSpan(3661.9), '01:01:01');
  assert.equal(formatTimeSpan(86_400 + 7200 + 5), '1.02:00:05');
  assert.equal(formatTimeSpan(-5), '00:00:00');
  assert.equal(parseTimeSpan('1.02:00:05'), 93_605);
  assert.equal(parseTimeSpan('00:00:01.5'), 1.5);
  assert.equal(parseTimeSpan('25:00:00'), undefined);
  assert.equal(parseTimeSpan('nope'), undefined);
  fc.assert(fc.property(fc.integer({ min: 0, max: 1e9 }), (s) => assert.equal(parseTimeSpan(formatTimeSpan(s)), s)));
});

test('state machine: the normal path, cancellation, relaunch, delete', () => {
  const path = ['Submitted', 'PartiallyDispatched', 'FullyDispatched', 'PartiallyExecuting', 'FullyExecuting', 'UploadingResults', 'Success'] as const;
  for (let i = 0; i + 1 < path.length; i++) assert.ok(canTransition(path[i], path[i + 1]), `${path[i]} → ${path[i + 1]}`);
  assert.ok(!canTransition('Submitted', 'Success'));
  assert.ok(canTransition('FullyExecuting', 'PartiallyDispatched'), 'a retried instance goes back to dispatch');
  assert.ok(canTransition('FullyExecuting', 'PendingCancel') && canTransition('PendingCancel', 'Cancelled'));
  assert.ok(!canTransition('PendingCancel', 'Success'));
  for (const f of ['Success', 'Failure', 'Cancelled'] as const) {
    assert.ok(isFinalState(f));
    assert.ok(canTransition(f, 'Submitted'));
    assert.ok(!canTransition(f, 'FullyExecuting'));
    assert.ok(!canTransition(f, 'Cancelled'));
  }
  for (const s of TASK_STATES) {
    assert.ok(!canTransition(s, s));
    assert.ok(!canTransition('PendingDelete', s));
    if (s !== 'PendingDelete') assert.ok(canTransition(s, 'PendingDelete'));
  }
  const beforeSubmitted = statesAllowedBefore('Submitted');
  for (const f of ['Success', 'Failure', 'Cancelled'] as const) assert.ok(beforeSubmitted.includes(f), f);
  assert.ok(!beforeSubmitted.includes('PendingCancel') && !beforeSubmitted.includes('PendingDelete'));
});

test('state machine: the state instances imply', () => {
  const z = { queued: 0, dispatched: 0, executing: 0, uploading: 0, success: 0, failure: 0, cancelled: 0 };
  assert.equal(stateFromInstances({ ...z, queued: 4 }), 'Submitted');
  assert.equal(stateFromInstances({ ...z, queued: 3, dispatched: 1 }), 'PartiallyDispatched');
  assert.equal(stateFromInstances({ ...z, dispatched: 4 }), 'FullyDispatched');
  assert.equal(stateFromInstances({ ...z, dispatched: 3, executing: 1 }), 'PartiallyExecuting');
  assert.equal(stateFromInstances({ ...z, executing: 2, success: 2 }), 'FullyExecuting');
  assert.equal(stateFromInstances({ ...z, uploading: 1, success: 3 }), 'UploadingResults');
  assert.equal(stateFromInstances({ ...z, success: 4 }), 'Success');
  assert.equal(stateFromInstances({ ...z, success: 3, failure: 1 }), 'Failure');
  assert.equal(stateFromInstances({ ...z, success: 3, cancelled: 1 }), 'Cancelled');
  // Whatever the counts, the implied state is reachable from Submitted in at most two moves.
  const n = fc.nat({ max: 5 });
  fc.assert(
    fc.property(fc.record({ queued: n, dispatched: n, executing: n, uploading: n, success: n, failure: n, cancelled: n }), (c) => {
      const s = stateFromInstances(c);
      assert.ok(s === 'Submitted' || canTransition('Submitted', s) || canTransition('PartiallyDispatched', s), s);
    }),
  );
});

test('dependencies: ready only when every dependency succeeded', () => {
  assert.equal(dependencyGate([]), 'ready');
  assert.equal(dependencyGate(['Success', 'Success']), 'ready');
  assert.equal(dependencyGate(['Success', 'FullyExecuting']), 'waiting');
  assert.equal(dependencyGate(['Success', 'Failure']), 'never');
  assert.equal(dependencyGate([undefined]), 'never');
});

test('error taxonomy: statuses and retryability', () => {
  assert.equal(ERROR_CODES.VALIDATION.status, 400);
  assert.equal(ERROR_CODES.NO_CREDITS.status, 402);
  assert.ok(isRetryable('RATE_LIMITED') && isRetryable('INTERNAL') && !isRetryable('CONFLICT') && !isRetryable('VALIDATION'));
});

test('validation paths name the field', () => {
  assert.equal(fieldOf({ instancePath: '/constants/3/key' }), 'constants[3].key');
  assert.equal(fieldOf({ instancePath: '', keyword: 'required', params: { missingProperty: 'name' } }), 'name');
  assert.equal(fieldOf({ instancePath: '/a~1b' }), 'a/b');
});
