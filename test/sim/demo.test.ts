// The start demo: deterministic, warm rooms, heat delivered by compute; the CLI prints a table and writes a chart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DEMO, runDemo } from '../../src/sim/demo.ts';
import { repoRoot } from '../helpers/shared-data.ts';

test('demo: two days keep every room near its setpoint with heat from compute, same seed same result', () => {
  const a = runDemo({ ...DEFAULT_DEMO, days: 2 });
  const b = runDemo({ ...DEFAULT_DEMO, days: 2 });
  assert.deepEqual(a, b);
  assert.equal(a.rooms.length, 6);
  for (const r of a.rooms) {
    assert.ok(r.minC > 14 && r.maxC < 30, `${r.label}: ${r.minC}..${r.maxC} °C`);
    assert.ok(r.meanC > 17.5, `${r.label}: mean ${r.meanC} °C`);
  }
  assert.ok(a.rooms.reduce((s, r) => s + r.heatKWh, 0) > 5);
  assert.ok(a.outdoor.meanC < 12, 'January in H2c is cold');
  assert.equal(a.series.hours.length, (2 * 86400) / 600);
});

test('hearth demo --days 1 prints the table and writes the SVG chart', () => {
  const out = mkdtempSync(join(tmpdir(), 'hearth-demo-'));
  const r = spawnSync(process.execPath, ['bin/hearth.mjs', 'demo', '--days', '1', '--out', out], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /flat 1 living/);
  assert.match(r.stdout, /building/);
  const svg = join(out, 'demo-indoor-vs-outdoor.svg');
  assert.ok(existsSync(svg));
  assert.match(readFileSync(svg, 'utf8'), /^<svg[^>]+xmlns/);
});

test('hearth start rejects a bad zone naming the flag, exit code 2', () => {
  const r = spawnSync(process.execPath, ['bin/hearth.mjs', 'start', '--zone', 'Z9'], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--zone/);
});
