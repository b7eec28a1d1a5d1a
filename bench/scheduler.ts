// Benchmark of scheduling rounds: each policy at 100,000 heaters × 3 boards and 1,000,000 queued instances, against
// one sort of the queue measured in the same run (the O(n log n) step a policy must not take every round).
// Run: node --import tsx bench/scheduler.ts [heaters] [instances]. Prints one JSON line per figure, summary last.
import { performance } from 'node:perf_hooks';
import { createRng } from '../src/physics/random.ts';
import { createPolicy, POLICY_NAMES } from '../src/scheduler/index.ts';
import type { Decision, InstanceTable } from '../src/scheduler/types.ts';
import { SchedulingType } from '../src/scheduler/types.ts';
import { advance, applyDecisions, POOL, scaleFixture } from '../test/scheduler/helpers.ts';

const HEATERS = Number(process.argv[2] ?? 100_000);
const INSTANCES = Number(process.argv[3] ?? 1_000_000);
const emit = (o: Record<string, unknown>): void => console.log(JSON.stringify({ bench: 'scheduler', heaters: HEATERS, instances: INSTANCES, ...o }));
const ms = (x: number): number => Math.round(x * 10) / 10;

/** The baseline: sort the whole queue in the order hearth serves it (class, deadline, priority, submission, id). */
function sortQueue(t: InstanceTable): { comparatorMs: number; typedKeyMs: number } {
  // A queue built by arrivals is in no particular order: shuffle (seeded) before sorting.
  const ids = new Int32Array(t.count);
  for (let i = 0; i < t.count; i++) ids[i] = i;
  const rng = createRng(7);
  for (let i = t.count - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const x = ids[i];
    ids[i] = ids[j];
    ids[j] = x;
  }
  const rank = (i: number): number => (t.type[i] === SchedulingType.flex ? 1 : 0);
  // Lower bound, prepared before: one numeric key per instance for a native typed-array sort.
  const keys = new Float64Array(t.count);
  for (let k = 0; k < t.count; k++) {
    const i = ids[k];
    keys[k] = rank(i) * 1e12 + Math.min(t.deadlineS[i], 1e11) + i * 1e-7;
  }
  const t0 = performance.now();
  ids.sort(
    (a, b) =>
      rank(a) - rank(b) ||
      (t.deadlineS[a] === t.deadlineS[b] ? 0 : t.deadlineS[a] < t.deadlineS[b] ? -1 : 1) ||
      t.priority[b] - t.priority[a] ||
      t.submittedS[a] - t.submittedS[b] ||
      a - b,
  );
  const comparatorMs = performance.now() - t0;
  const t1 = performance.now();
  keys.sort();
  return { comparatorMs, typedKeyMs: performance.now() - t1 };
}

const base = scaleFixture(HEATERS, INSTANCES);
const sort = sortQueue(base.t);
emit({ figure: 'queue-sort-baseline', ms: ms(sort.comparatorMs), note: 'comparator sort of the queue, once' });
emit({ figure: 'queue-sort-typed-keys', ms: ms(sort.typedKeyMs), note: 'native sort of one float key per instance (lower bound)' });

let worstSteady = 0;
for (const name of POLICY_NAMES) {
  const { f, t, ids } = name === POLICY_NAMES[0] ? base : scaleFixture(HEATERS, INSTANCES);
  const p = createPolicy(name);
  const s0 = performance.now();
  p.onSubmit(ids, t);
  emit({ figure: 'submit', policy: name, ms: ms(performance.now() - s0) });
  for (let round = 1; round <= 3; round++) {
    const out: Decision[] = [];
    const t0 = performance.now();
    p.decide(f, t, POOL, out);
    const dt = performance.now() - t0;
    const starts = out.reduce((n, d) => n + (d.kind === 'start' ? 1 : 0), 0);
    emit({
      figure: 'round',
      policy: name,
      round,
      phase: round === 1 ? 'cold (whole queue new, fleet empty)' : 'steady',
      ms: ms(dt),
      decisions: out.length,
      starts,
      overSort: Math.round((dt / sort.comparatorMs) * 1000) / 1000,
    });
    if (round > 1) worstSteady = Math.max(worstSteady, dt);
    for (const i of applyDecisions(f, t, out)) p.onChange(i, t);
    advance(f, t, p, f.periodS);
  }
}
emit({
  figure: 'summary',
  sortMs: ms(sort.comparatorMs),
  worstSteadyRoundMs: ms(worstSteady),
  worstSteadyOverSort: Math.round((worstSteady / sort.comparatorMs) * 1000) / 1000,
});
