// A/B timing of the hearth policy of two checkouts of this repository, drift-proof: one twin (this checkout's engine,
// the bench fleet of `hearth bench twin`) drives both policies with the same calls — every arrival and change goes to
// both, and each round both decide on the same fleet view, in alternating order, the second into a scratch buffer —
// so the machine's speed (it drifts by up to 1.6× from one minute to the next here) falls on both alike. Whole runs
// alternated one after the other misled us; this does not (the same code on both sides measures 0.99–1.01 for the
// rounds at the default 50,000 heaters; smaller fleets are noisier, ±5 % at 20,000).
// Compare git worktrees (`git worktree add /tmp/a <rev>`), not bare copies of src/: tsx compiles a file outside the
// repository's tsconfig differently (class fields), which changes the speed of the code.
// Run: node --import tsx bench/policy-pair.ts DIR_A DIR_B [heaters]. Prints one JSON line: the rounds' time of each
// policy, B / A, the same for scanAll, finishAll and placeQueue, and whether they ever decided differently.
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { benchScenario } from '../src/sim/bench-twin.ts';
import { defaultDeps, prepareTwin, runTwin } from '../src/sim/twin.ts';
import { DecisionBuffer } from '../src/scheduler/decisions.ts';
import type { Decision, DecisionSink, FleetView, InstanceTable, OverflowPool, Policy } from '../src/scheduler/types.ts';

const [dirA, dirB] = [process.argv[2], process.argv[3]];
if (dirA === undefined || dirB === undefined) {
  console.error('usage: node --import tsx bench/policy-pair.ts DIR_A DIR_B [heaters]');
  process.exit(2);
}
const heaters = Number(process.argv[4] ?? 50_000);
if (!(Number.isInteger(heaters) && heaters > 0 && heaters % 10 === 0)) {
  console.error(`heaters: must be a positive multiple of 10, got ${process.argv[4]}`);
  process.exit(2);
}

type PolicyClass = new () => Policy;
const load = async (dir: string): Promise<PolicyClass> => ((await import(resolve(dir, 'src/scheduler/hearth.ts'))) as { HearthPolicy: PolicyClass }).HearthPolicy;
const policies = [new (await load(dirA))(), new (await load(dirB))()];

/** Per policy, the time of its rounds and of three of its steps, ms. */
const STEPS = ['scanAll', 'finishAll', 'placeQueue'] as const;
const times = policies.map(() => ({ round: 0, scanAll: 0, finishAll: 0, placeQueue: 0 }));
policies.forEach((p, k) => {
  const o = p as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const step of STEPS) {
    const f = o[step];
    if (typeof f !== 'function') continue;
    o[step] = function (this: unknown, ...a: unknown[]) {
      const t = performance.now();
      const r = f.apply(this, a);
      times[k][step] += performance.now() - t;
      return r;
    };
  }
});

const scratch = new DecisionBuffer();
let rounds = 0;
let mismatches = 0;
const pair: Policy = {
  name: 'hearth',
  onSubmit: (instances: readonly number[], table: InstanceTable) => policies.forEach((p) => p.onSubmit(instances, table)),
  onChange: (instance: number, table: InstanceTable) => policies.forEach((p) => p.onChange(instance, table)),
  decide(fleet: FleetView, table: InstanceTable, overflow: OverflowPool, out: Decision[], sink?: DecisionSink) {
    rounds++;
    const order = rounds % 2 === 0 ? [0, 1] : [1, 0];
    const counts: number[] = [];
    order.forEach((k, j) => {
      // The first to decide writes the twin's decisions; the other the same ones into the scratch buffer.
      const arr: Decision[] = [];
      if (j > 0) scratch.clear();
      const t = performance.now();
      policies[k].decide(fleet, table, overflow, j === 0 ? out : arr, j === 0 ? sink : scratch);
      times[k].round += performance.now() - t;
      counts.push(j === 0 ? out.length + (sink instanceof DecisionBuffer ? sink.length : 0) : arr.length + scratch.length);
    });
    if (counts[0] !== counts[1]) mismatches++;
  },
};

const scenario = benchScenario(heaters, 2);
const run = runTwin(scenario, 'hearth', { prepared: prepareTwin(scenario), deps: { ...defaultDeps(), createPolicy: () => pair } });
const ms = (x: number): number => Math.round(x);
const ratio = (b: number, a: number): number => Math.round((b / a) * 1000) / 1000;
console.log(
  JSON.stringify({
    bench: 'policy-pair',
    heaters,
    rounds,
    a: dirA,
    b: dirB,
    roundMs: [ms(times[0].round), ms(times[1].round)],
    bOverA: ratio(times[1].round, times[0].round),
    ...Object.fromEntries(STEPS.map((s) => [s, { ms: [ms(times[0][s]), ms(times[1][s])], bOverA: ratio(times[1][s], times[0][s]) }])),
    decidedDifferently: mismatches,
    energyBalanceResidual: run.summary.energyBalanceResidual,
  }),
);
