// `hearth sim` through the real binary: report.html and summary.json, --json on stdout, bad flags and scenarios.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/shared-data.ts';
import type { SimSummary } from '../../src/sim/report.ts';
import { simOptionsFromFlags } from '../../src/cli/commands/sim.ts';
import { parseScenario } from '../../src/sim/scenario.ts';

const scenario = join(repoRoot, 'scenarios', 'gironde-social-hub.json');
const gironde = parseScenario(JSON.parse(readFileSync(scenario, 'utf8')));

function hearth(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'hearth.mjs'), ...args], { cwd: repoRoot, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('hearth sim writes report.html and summary.json with every policy of the scenario', () => {
  const out = mkdtempSync(join(tmpdir(), 'hearth-sim-'));
  const r = hearth('sim', scenario, '--days', '0.5', '--start', '2026-01-12', '--out', out, '--threads', '1');
  assert.equal(r.status, 0, r.stderr);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(html, /^<!DOCTYPE html>/);
  assert.match(html, /gironde-social-hub/);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as SimSummary;
  assert.deepEqual(Object.keys(summary.policies), ['qarnot-bands', 'first-fit', 'electric', 'hearth']);
  assert.equal(summary.startDate, '2026-01-12');
  assert.equal(summary.days, 0.5);
  for (const p of Object.values(summary.policies)) assert.ok(p.energyBalanceResidual < 1e-3);
  assert.match(r.stdout, /report:/);
});

test('hearth sim --json prints the summary on stdout', () => {
  const out = mkdtempSync(join(tmpdir(), 'hearth-sim-'));
  const r = hearth('sim', scenario, '--json', '--policies', 'hearth,electric', '--days', '0.25', '--seed', '5', '--out', out, '--threads', '1');
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as SimSummary;
  assert.deepEqual(Object.keys(summary.policies), ['hearth', 'electric']);
  assert.equal(summary.seed, 5);
  assert.ok(existsSync(join(out, 'summary.json')));
});

test('hearth sim names a bad flag and exits 2', () => {
  const r = hearth('sim', scenario, '--days', 'abc');
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--days/);
  for (const [flag, value] of [
    ['--days', '0'],
    ['--policies', 'hearth,magic'],
    ['--weather-zone', 'H9'],
    ['--start', '2026-02-30'],
    ['--step', '0'],
    ['--scale', '1.5'],
    ['--seed', '-1'],
    ['--threads', 'two'],
  ]) {
    const key = flag.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    assert.throws(() => simOptionsFromFlags({ [key]: value }, gironde), (e: unknown) => e instanceof Error && e.message.startsWith(`${flag}:`), `${flag} ${value}`);
  }
  // A step that does not divide the scenario's decision period (300 s) names --step.
  assert.throws(() => simOptionsFromFlags({ step: '7' }, gironde), /--step:/);
  assert.deepEqual(simOptionsFromFlags({ days: '2', policies: 'hearth, electric', weatherZone: 'H1a' }, gironde), {
    policies: ['hearth', 'electric'],
    start: undefined,
    weatherZone: 'H1a',
    days: 2,
    seed: undefined,
    scale: undefined,
    step: undefined,
    threads: undefined,
  });
});

test('hearth sim names the invalid path of a bad scenario and exits 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-sim-'));
  const bad = JSON.parse(readFileSync(scenario, 'utf8')) as { sites: { buildings: { rooms: { archetype: { era: string } }[] }[] }[] };
  bad.sites[0].buildings[1].rooms[2].archetype.era = 'medieval';
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify(bad));
  const r = hearth('sim', file, '--days', '0.1');
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /sites\[0\]\.buildings\[1\]\.rooms\[2\]\.archetype\.era/);
  // A malformed file the scenario names fails inside the worker threads: still exit 2, naming the file and line.
  const withTrace = JSON.parse(readFileSync(scenario, 'utf8')) as { workloads: unknown[] };
  withTrace.workloads.push({ kind: 'swf', name: 'trace', file: 'bad.swf' });
  writeFileSync(join(dir, 'trace.json'), JSON.stringify(withTrace));
  writeFileSync(join(dir, 'bad.swf'), '; a header\n1 2 3 garbage\n');
  const trace = hearth('sim', join(dir, 'trace.json'), '--days', '0.1', '--policies', 'hearth,electric', '--threads', '2', '--out', join(dir, 'out'));
  assert.equal(trace.status, 2, trace.stderr);
  assert.match(trace.stderr, /bad\.swf:2/);
  const missing = hearth('sim', join(dir, 'nope.json'));
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /nope\.json/);
});
