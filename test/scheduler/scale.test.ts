// Scale: 100,000 heaters × 3 boards and 1,000,000 queued instances; two consecutive rounds of every policy complete
// with valid decisions. Asserts correctness only; the round times are printed for information (bench/ measures).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { createPolicy, POLICY_NAMES } from '../../src/scheduler/index.ts';
import type { Decision } from '../../src/scheduler/types.ts';
import { advance, applyDecisions, POOL, scaleFixture } from './helpers.ts';

const HEATERS = 100_000;
const INSTANCES = 1_000_000;

for (const name of POLICY_NAMES) {
  void test(`${name}: two rounds at ${HEATERS} heaters × 3 boards and ${INSTANCES} queued instances`, () => {
    const { f, t, ids } = scaleFixture(HEATERS, INSTANCES);
    const p = createPolicy(name);
    p.onSubmit(ids, t);
    const counts: Record<string, number>[] = [];
    for (let round = 0; round < 2; round++) {
      const out: Decision[] = [];
      const t0 = performance.now();
      p.decide(f, t, POOL, out);
      const ms = performance.now() - t0;
      const c: Record<string, number> = {};
      for (const d of out) c[d.kind] = (c[d.kind] ?? 0) + 1;
      counts.push(c);
      console.log(JSON.stringify({ policy: name, round: round + 1, ms: Math.round(ms), decisions: out.length, ...c }));
      for (const i of applyDecisions(f, t, out)) p.onChange(i, t);
      advance(f, t, p, f.periodS);
    }
    if (name === 'electric') assert.equal(counts[0].overflow, INSTANCES);
    else {
      assert.ok((counts[0].start ?? 0) > 10_000, `${name} placed work in round 1`);
      assert.ok((counts[0].overflow ?? 0) < INSTANCES / 100, `${name} overflows little`);
    }
  });
}
