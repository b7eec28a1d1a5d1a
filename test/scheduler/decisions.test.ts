// Decision sinks: a round of the hearth policy written to a DecisionBuffer (typed columns, what the twin passes) is the
// round it writes to an array, decision for decision and in order, over rounds that start, pause, resume, migrate and
// switch filler; the buffer's own contract (order across typed and pushed decisions, scratch objects, growth, bounds).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecisionBuffer, HearthPolicy } from '../../src/scheduler/index.ts';
import type { Decision } from '../../src/scheduler/types.ts';
import { advance, applyDecisions, POOL, scaleFixture } from './helpers.ts';

test('decision sinks: the hearth policy writes the same decisions to a DecisionBuffer as to an array, round after round', () => {
  const a = scaleFixture(400, 3000, 5);
  const b = scaleFixture(400, 3000, 5);
  const pa = new HearthPolicy();
  const pb = new HearthPolicy();
  pa.onSubmit(a.ids, a.t);
  pb.onSubmit(b.ids, b.t);
  const buf = new DecisionBuffer();
  const kinds = new Set<string>();
  for (let round = 0; round < 12; round++) {
    const viaArray: Decision[] = [];
    pa.decide(a.f, a.t, POOL, viaArray);
    const unused: Decision[] = [];
    buf.clear();
    pb.decide(b.f, b.t, POOL, unused, buf);
    assert.deepEqual(unused, [], 'with a sink, nothing goes to the array');
    const viaBuffer = buf.toArray();
    assert.deepEqual(viaBuffer, viaArray, `round ${round}`);
    for (const d of viaArray) kinds.add(d.kind);
    for (const [f, t, p, ds] of [[a.f, a.t, pa, viaArray], [b.f, b.t, pb, viaBuffer]] as const) {
      for (const i of applyDecisions(f, t, ds)) p.onChange(i, t);
      // The rooms swing between wanting heat and not: work pauses, resumes and moves.
      for (let h = 0; h < f.heaters; h++) {
        f.diffK[h] = -f.diffK[h] + (round % 3 === 0 ? 2 : -1);
        f.airC[h] = 20 - f.diffK[h];
        f.requestW[h] = f.diffK[h] > 0 ? 150 * f.diffK[h] : 0;
        f.minW[h] = 0.5 * f.requestW[h];
      }
      advance(f, t, p, 900);
    }
  }
  for (const k of ['start', 'level', 'filler', 'pause']) assert.ok(kinds.has(k), `rounds made ${[...kinds].join(', ')}`);
});

test('DecisionBuffer: order across typed and pushed decisions, one scratch object per kind, growth and bounds', () => {
  const buf = new DecisionBuffer();
  buf.start(7, 3, 1);
  buf.push({ kind: 'pause', instance: 9 });
  buf.level(3, 2);
  buf.filler(4, 0, true);
  buf.booster(5, 0.25);
  buf.filler(4, 1, false);
  assert.equal(buf.length, 6);
  assert.deepEqual(buf.toArray(), [
    { kind: 'start', instance: 7, heater: 3, board: 1 },
    { kind: 'pause', instance: 9 },
    { kind: 'level', heater: 3, level: 2 },
    { kind: 'filler', heater: 4, board: 0, on: true },
    { kind: 'booster', heater: 5, fraction: 0.25 },
    { kind: 'filler', heater: 4, board: 1, on: false },
  ]);
  // The scratch object of a kind is rewritten by the next read of that kind (documented: read, then let go).
  const first = buf.at(3);
  assert.equal(buf.at(5), first);
  assert.deepEqual(first, { kind: 'filler', heater: 4, board: 1, on: false });
  assert.throws(() => buf.at(6), RangeError);
  assert.throws(() => buf.at(-1), RangeError);
  buf.clear();
  assert.equal(buf.length, 0);
  for (let k = 0; k < 5000; k++) buf.level(k, k % 7);
  assert.equal(buf.length, 5000);
  assert.deepEqual(buf.at(4999), { kind: 'level', heater: 4999, level: 4999 % 7 });
  assert.deepEqual(buf.at(0), { kind: 'level', heater: 0, level: 0 });
});
