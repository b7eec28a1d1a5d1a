// heatBucket answers whole hours from a table: the table must give exactly the formula's buckets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HEAT_BUCKETS, heatBucket } from '../../src/scheduler/indexes.ts';

/** The documented formula, written out. */
function formula(hours: number): number {
  if (!(hours > 0)) return 0;
  const b = Math.floor(8 * Math.log2(1 + 4 * hours));
  return b < HEAT_BUCKETS - 1 ? b : HEAT_BUCKETS - 1;
}

test('heatBucket: whole hours (table) and fractions (formula) give the formula bucket', () => {
  for (let h = 0; h < 1000; h++) assert.equal(heatBucket(h), formula(h), `${h} h`);
  for (const h of [-0, -1, NaN, Infinity, -Infinity, 0.25, 0.5, 1.5, 6.000001, 23.9999, 57.5, 511.5, 1e9]) {
    assert.equal(heatBucket(h), formula(h), `${h} h`);
  }
  // Landmarks of the doc comment.
  assert.deepEqual([0, 0.25, 1, 6, 24].map(heatBucket), [0, 8, 18, 37, 52]);
});
