// Every policy's decisions are valid on random fleets and tables, round after round (fast-check): no two
// instances on a board, starts only on free/filler boards of online heaters that fit, levels in range, nothing on
// ended instances; hearth never heats a heater near its safety limit. Plus the incremental indexes against brute force.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createHeaterModel, QC1_HEATER } from '../../src/physics/heater.ts';
import { allocateFleetView, createInstanceTable, createPolicy, POLICY_NAMES } from '../../src/scheduler/index.ts';
import type { FleetViewBuffer, PolicyName } from '../../src/scheduler/index.ts';
import { BOARD_FILLER, InstancePhase } from '../../src/scheduler/types.ts';
import type { Decision, InstanceTable } from '../../src/scheduler/types.ts';
import { heatBucket, HeaterBuckets, IndexedHeap, StampedHeap } from '../../src/scheduler/indexes.ts';
import { addInstance, advance, applyDecisions, POOL } from './helpers.ts';

/** Uniform-ish decimals in [min, max] (fc.double favours the bounds too much for fleet values). */
const num = (min: number, max: number): fc.Arbitrary<number> => fc.integer({ min: 0, max: 1000 }).map((k) => min + ((max - min) * k) / 1000);

const MODELS = [createHeaterModel(), createHeaterModel(QC1_HEATER)];

const heaterArb = fc.record({
  model: fc.integer({ min: 0, max: 1 }),
  boards: fc.integer({ min: 1, max: 3 }),
  cores: fc.constantFrom(2, 4, 8),
  memoryMB: fc.constantFrom(2048, 8192),
  gpu: fc.integer({ min: 0, max: 3 }).map((x) => (x === 0 ? 1 : 0)),
  online: fc.integer({ min: 0, max: 7 }).map((x) => (x === 0 ? 0 : 1)),
  kind: fc.integer({ min: 0, max: 3 }).map((x) => (x === 0 ? 1 : 0)),
  site: fc.integer({ min: 0, max: 2 }),
  diffK: num(-12, 4),
  safetyGapK: num(-1, 8),
  requestW: num(0, 700),
  minFrac: num(0, 1),
  maxW: num(0, 700),
  wantHeatH: num(0, 40),
  level: fc.integer({ min: 0, max: 4 }),
  bodyC: num(20, 70),
  slots: fc.array(fc.constantFrom('free', 'free', 'filler', 'run', 'run', 'pause'), { minLength: 3, maxLength: 3 }),
});

const instanceArb = fc.record({
  task: fc.integer({ min: 0, max: 3 }),
  type: fc.integer({ min: 0, max: 2 }),
  priority: fc.integer({ min: 0, max: 2 }),
  cores: fc.constantFrom(1, 2, 4, 8, 16),
  memoryMB: fc.constantFrom(512, 4096, 16000),
  gpu: fc.integer({ min: 0, max: 4 }).map((x) => (x === 0 ? 1 : 0)),
  deadlineS: fc.option(num(50, 30000), { nil: undefined }),
  workS: num(30, 20000),
  estFactor: num(0, 2),
  checkpointable: fc.integer({ min: 0, max: 1 }),
  dataSite: fc.integer({ min: -1, max: 2 }),
  phase: fc.constantFrom(InstancePhase.queued, InstancePhase.queued, InstancePhase.queued, InstancePhase.done, InstancePhase.failed, InstancePhase.overflow),
});

const scenarioArb = fc.record({
  heaters: fc.array(heaterArb, { minLength: 1, maxLength: 5 }),
  instances: fc.array(instanceArb, { maxLength: 14 }),
  drift: fc.array(num(-3, 3), { minLength: 3, maxLength: 3 }),
  later: fc.array(instanceArb, { maxLength: 4 }),
});

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer S> ? S : never;

function build(sc: Scenario): { f: FleetViewBuffer; t: InstanceTable; queued: number[] } {
  const f = allocateFleetView(sc.heaters.length, 3, MODELS);
  const t = createInstanceTable(4);
  sc.heaters.forEach((x, h) => {
    f.model[h] = x.model;
    f.boards[h] = x.boards;
    f.coresPerBoard[h] = x.cores;
    f.memoryMBPerBoard[h] = x.memoryMB;
    f.gpu[h] = x.gpu;
    f.online[h] = x.online;
    f.kind[h] = x.kind;
    f.site[h] = x.site;
    f.diffK[h] = x.diffK;
    f.safetyC[h] = 28;
    f.airC[h] = 28 - x.safetyGapK;
    f.requestW[h] = x.requestW;
    f.minW[h] = x.requestW * x.minFrac;
    f.maxW[h] = x.maxW;
    f.wantHeatH[h] = x.wantHeatH;
    f.level[h] = x.level;
    f.bodyC[h] = x.bodyC;
    for (let b = 0; b < x.boards; b++) {
      const s = x.slots[b];
      if (s === 'filler') f.boardInstance[h * 3 + b] = BOARD_FILLER;
      else if (s === 'run' || s === 'pause') {
        const i = addInstance(t, { cores: 1, memoryMB: 512, workS: 5000, checkpointable: b % 2, deadlineS: b === 0 ? 3000 : Infinity });
        t.phase[i] = s === 'run' ? InstancePhase.running : InstancePhase.paused;
        t.heater[i] = h;
        t.board[i] = b;
        f.boardInstance[h * 3 + b] = i;
      }
    }
  });
  const queued: number[] = [];
  for (const x of sc.instances) queued.push(add(t, x));
  return { f, t, queued };
}

function add(t: InstanceTable, x: Scenario['instances'][number]): number {
  const i = addInstance(t, {
    task: x.task,
    type: x.type,
    priority: x.priority,
    cores: x.cores,
    memoryMB: x.memoryMB,
    gpu: x.gpu,
    deadlineS: x.deadlineS ?? Infinity,
    workS: x.workS,
    estWorkS: x.workS * x.estFactor,
    checkpointable: x.checkpointable,
    dataSite: x.dataSite,
  });
  t.phase[i] = x.phase;
  return i;
}

/** Decisions that would add heat or work on heater h. */
function heats(d: Decision, t: InstanceTable, h: number): boolean {
  if (d.kind === 'start' || d.kind === 'migrate') return d.heater === h;
  if (d.kind === 'resume') return t.heater[d.instance] === h;
  if (d.kind === 'filler') return d.heater === h && d.on;
  if (d.kind === 'booster') return d.heater === h && d.fraction > 0;
  return false;
}

function runScenario(name: PolicyName, sc: Scenario): void {
  const { f, t, queued } = build(sc);
  const p = createPolicy(name);
  p.onSubmit(
    queued.filter((i) => t.phase[i] === InstancePhase.queued),
    t,
  );
  for (let r = 0; r < 3; r++) {
    const levelBefore = Array.from(f.level);
    const out: Decision[] = [];
    p.decide(f, t, POOL, out);
    if (name === 'hearth') {
      for (let h = 0; h < f.heaters; h++) {
        if (!(f.airC[h] >= f.safetyC[h] - 1.5)) continue;
        for (const d of out) {
          assert.ok(!heats(d, t, h), `hearth heats heater ${h} near safety: ${JSON.stringify(d)}`);
          if (d.kind === 'level' && d.heater === h) assert.ok(d.level <= levelBefore[h]);
        }
      }
    }
    for (const i of applyDecisions(f, t, out)) p.onChange(i, t);
    advance(f, t, p, 120);
    for (let h = 0; h < f.heaters; h++) {
      f.diffK[h] += sc.drift[r];
      f.airC[h] -= sc.drift[r];
    }
    if (r === 0 && sc.later.length > 0) {
      const more = sc.later.map((x) => add(t, x)).filter((i) => t.phase[i] === InstancePhase.queued);
      p.onSubmit(more, t);
    }
  }
}

for (const name of POLICY_NAMES) {
  void test(`${name}: decisions are valid on random fleets and tables, over several rounds`, () => {
    fc.assert(
      fc.property(scenarioArb, (sc) => runScenario(name, sc)),
      { numRuns: 150 },
    );
  });
}

void test('StampedHeap pops by its entry keys in turn, then id, and compact drops stale entries', () => {
  // Small key ranges: ties on the first keys are common, so the later keys and the id decide too.
  const key = fc.constantFrom(-1, 0, 2, Infinity);
  const entry = fc.tuple(fc.integer({ min: 0, max: 30 }), key, key, key, key);
  fc.assert(
    fc.property(fc.array(entry, { maxLength: 60 }), (entries) => {
      const h = new StampedHeap();
      // The same id may be added more than once with other keys (an instance enqueued again): each entry keeps its own.
      entries.forEach(([id, a, b, c, d], k) => (k % 2 ? h.push(id, k, a, b, c, d) : h.append(id, k, a, b, c, d)));
      h.heapify();
      h.compact((_id, stamp) => stamp % 3 !== 0);
      const got: number[] = [];
      while (h.size > 0) {
        got.push(h.peekStamp());
        h.pop();
      }
      const want = entries
        .map((e, k) => ({ e, k }))
        .filter(({ k }) => k % 3 !== 0)
        .sort((x, y) => {
          for (let j = 1; j <= 4; j++) if (x.e[j] !== y.e[j]) return x.e[j] < y.e[j] ? -1 : 1;
          return x.e[0] - y.e[0];
        });
      // Entries equal in every key and id may come out in either order: compare what each popped entry holds.
      assert.deepEqual(
        got.map((k) => entries[k]),
        want.map(({ e }) => e),
      );
    }),
  );
});

void test('IndexedHeap keeps order under key updates and removals', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 40 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 20 }), fc.boolean()), { maxLength: 40 }),
      (init, ops) => {
        const key = [...init];
        const h = new IndexedHeap((a, b) => key[a] < key[b] || (key[a] === key[b] && a < b));
        const inside = new Set<number>();
        key.forEach((_, i) => {
          h.push(i);
          inside.add(i);
        });
        for (const [n, k, rm] of ops) {
          const id = n % key.length;
          if (rm) {
            h.remove(id);
            inside.delete(id);
          } else {
            key[id] = k;
            h.update(id);
          }
        }
        const got: number[] = [];
        while (h.size > 0) got.push(h.pop());
        const want = [...inside].sort((a, b) => key[a] - key[b] || a - b);
        assert.deepEqual(got, want);
      },
    ),
  );
});

void test('HeaterBuckets.find is the best fit: smallest bucket covering the need, else the largest', () => {
  fc.assert(
    fc.property(fc.array(num(0, 80), { minLength: 1, maxLength: 30 }), num(0, 80), (want, needH) => {
      const b = new HeaterBuckets();
      b.reset(1);
      want.forEach((w, h) => b.add(0, heatBucket(w), h));
      const need = heatBucket(needH);
      const h = b.find(0, need, { alive: () => true, ok: () => true }, false);
      const buckets = want.map(heatBucket);
      const covering = buckets.filter((x) => x >= need);
      const expect = covering.length > 0 ? Math.min(...covering) : Math.max(...buckets);
      assert.equal(buckets[h], expect);
      assert.equal(b.lastBucket, expect);
    }),
  );
  assert.ok([0, 0.25, 1, 6, 24, 58, 1000].every((x, i, a) => i === 0 || heatBucket(x) >= heatBucket(a[i - 1])));
  assert.equal(heatBucket(0), 0);
  assert.equal(heatBucket(1e6), 63);
});
