// The twin engine on short runs of the Gironde scenario: determinism, the energy balance, a complete scorecard for
// every policy, validation of decisions, and the targets of issue 4.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseScenario, POLICY_NAMES } from '../../src/sim/scenario.ts';
import type { PolicyName, Scenario } from '../../src/sim/scenario.ts';
import { defaultDeps, InvalidDecisionError, prepareTwin, runTwin } from '../../src/sim/twin.ts';
import type { PreparedTwin, TwinResult } from '../../src/sim/twin.ts';
import { runSimulation } from '../../src/sim/sim.ts';
import { SCORECARD_METRICS, metricValue } from '../../src/sim/report.ts';
import { repoRoot } from '../helpers/shared-data.ts';

const gironde: Scenario = parseScenario(JSON.parse(readFileSync(join(repoRoot, 'scenarios', 'gironde-social-hub.json'), 'utf8')));
/** Three days of January (a Monday), in the heart of the heating season. */
const RUN = { start: '2026-01-12', days: 3 } as const;
const prepared: PreparedTwin = prepareTwin(gironde, RUN);
const results = new Map<PolicyName, TwinResult>();
const run = (p: PolicyName): TwinResult => {
  let r = results.get(p);
  if (!r) {
    r = runTwin(gironde, p, { prepared });
    results.set(p, r);
  }
  return r;
};

/** Every number in a nested object, with its dotted path. */
function numbers(o: unknown, path = ''): [string, number][] {
  if (typeof o === 'number') return [[path, o]];
  if (o === null || typeof o !== 'object') return [];
  return Object.entries(o).flatMap(([k, v]) => numbers(v, path ? `${path}.${k}` : k));
}

test('same seed, same result: a policy run twice gives deep-equal summaries and series', () => {
  const a = runTwin(gironde, 'hearth', { ...RUN, days: 2 });
  const b = runTwin(gironde, 'hearth', { ...RUN, days: 2 });
  assert.deepEqual(a.summary, b.summary);
  assert.deepEqual(a.series, b.series);
  const c = runTwin(gironde, 'hearth', { ...RUN, days: 2, seed: 34 });
  assert.notDeepEqual(c.summary, a.summary, 'another seed gives another run');
});

for (const policy of POLICY_NAMES) {
  test(`${policy}: energy closes to < 0.1 %, every scorecard field is present and finite`, () => {
    const r = run(policy);
    const s = r.summary;
    assert.ok(s.energyBalanceResidual < 1e-3, `residual ${s.energyBalanceResidual}`);
    for (const m of SCORECARD_METRICS) {
      const v = metricValue(s, m.key);
      assert.ok(v !== undefined && Number.isFinite(v), `${m.key} = ${String(v)}`);
    }
    for (const [path, v] of numbers(s)) assert.ok(Number.isFinite(v), `${path} = ${v}`);
    assert.equal(r.series.timeH.length, RUN.days * 24);
    assert.ok(s.heat.askedKWh > 0 && s.hotWater.drawnKWh > 0);
    assert.ok(s.compute.instancesDone! > 0, 'some work got done');
    assert.equal(r.details.rooms, 60);
    assert.equal(r.details.boilers, 1);
  });
}

test('electric: heaters deliver what the thermostats ask, all compute goes to the overflow datacenter', () => {
  const s = run('electric').summary;
  assert.equal(s.heat.deliveredByComputeKWh, 0);
  assert.equal(s.compute.overflowShare, 1);
  assert.equal(s.compute.deadlineMisses, 0);
  // Never more than asked; less only where the radiator body's temperature cap derates the big heaters.
  const resistiveKWh = s.heat.boosterKWh - (s.hotWater.topUpKWh ?? 0);
  assert.ok(resistiveKWh <= 1.001 * s.heat.askedKWh && resistiveKWh >= 0.85 * s.heat.askedKWh, `${resistiveKWh} vs ${s.heat.askedKWh} kWh`);
  assert.equal(s.energy.erf, 0);
});

test('hearth: no minute above the safety limit in a January run', () => {
  assert.equal(run('hearth').summary.comfort.minutesAboveSafety, 0);
});

test('the energy balance is a real check: stepping rooms with another archetype’s physics breaks it', () => {
  // Physics of archetype 1 for every group, balance coefficients of each group's own archetype.
  const wrong: PreparedTwin = { ...prepared, archetypes: prepared.archetypes.map(() => prepared.archetypes[1]) };
  const r = runTwin(gironde, 'electric', { prepared: wrong });
  assert.ok(r.summary.energyBalanceResidual > 1e-3, `residual ${r.summary.energyBalanceResidual}`);
});

test('an invalid decision is a policy bug: the engine throws naming it', () => {
  const d = defaultDeps();
  const deps = {
    ...d,
    createPolicy: () => ({
      name: 'broken',
      onSubmit: () => undefined,
      onChange: () => undefined,
      decide: (_f: unknown, _t: unknown, _o: unknown, out: { kind: string }[]) => {
        out.push({ kind: 'filler', heater: 0, board: 99, on: true } as never);
      },
    }),
  };
  assert.throws(() => runTwin(gironde, 'hearth', { prepared, deps }), (e: unknown) => e instanceof InvalidDecisionError && /board 99/.test(e.message));
});

test('runSimulation: the same summaries in this thread and on worker threads', async () => {
  const opts = { ...RUN, days: 1, policies: ['hearth', 'electric'] };
  const a = await runSimulation(gironde, { ...opts, threads: 1 });
  const b = await runSimulation(gironde, { ...opts, threads: 2 });
  assert.deepEqual(a.summary, b.summary);
  assert.deepEqual(Object.keys(a.summary.policies), ['hearth', 'electric']);
  assert.equal(a.summary.startDate, RUN.start);
});

// Targets of issue 4, on the short January run (they also hold over the whole season of the scenario).
test('target: hearth comfort no worse than electric + 10 %', () => {
  const h = run('hearth').summary.comfort.discomfortKhPerRoom;
  const e = run('electric').summary.comfort.discomfortKhPerRoom;
  assert.ok(h <= 1.1 * e, `hearth ${h.toFixed(1)} K·h vs electric ${e.toFixed(1)} K·h per room`);
});

test('target: hearth deadline misses ≤ 1 %', () => {
  const c = run('hearth').summary.compute;
  assert.ok(c.deadlineMissShare <= 0.01, `${(100 * c.deadlineMissShare).toFixed(2)} % (${c.deadlineMisses} misses)`);
});

test('target: hearth ERF ≥ 0.9 (overflow and vented heat included)', () => {
  const e = run('hearth').summary.energy;
  assert.ok(e.erf >= 0.9, `ERF ${e.erf.toFixed(3)}`);
});

test('target: hearth kills and loses at most half of what qarnot-bands does', () => {
  const h = run('hearth').summary.compute;
  const q = run('qarnot-bands').summary.compute;
  assert.ok(h.killedInstances <= 0.5 * q.killedInstances, `killed: hearth ${h.killedInstances}, qarnot-bands ${q.killedInstances}`);
  assert.ok(h.lostCoreHours <= 0.5 * q.lostCoreHours, `lost: hearth ${h.lostCoreHours.toFixed(1)}, qarnot-bands ${q.lostCoreHours.toFixed(1)} core-h`);
});

test('residents open windows in overheating rooms: less overheating, the energy balance still closes', () => {
  // Three days of mid-October: offices and meeting rooms overheat from people and sun, no heater needed.
  const opts = { start: '2025-10-20', days: 3 } as const;
  const prep = prepareTwin(gironde, opts);
  const open = runTwin(gironde, 'electric', { prepared: prep });
  const shut = runTwin(gironde, 'electric', { prepared: prep, windowOpening: false });
  const anyCause = (r: TwinResult): number => r.summary.comfort.minutesAboveSafetyAnyCause ?? NaN;
  assert.ok(anyCause(shut) > 0, 'the closed building overheats');
  assert.ok(anyCause(open) < anyCause(shut), `${anyCause(open)} < ${anyCause(shut)} room-minutes above safety`);
  assert.ok(open.summary.comfort.discomfortKhPerRoom < shut.summary.comfort.discomfortKhPerRoom);
  assert.ok(open.summary.energyBalanceResidual < 1e-9, `residual ${open.summary.energyBalanceResidual}`);
});
