// Tests of `hearth validate vdi6007`: one JSON object on stdout for a shared case; exit 2 naming the field for bad files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, sharedFile, skipUnlessShared } from '../helpers/shared-data.ts';

function hearth(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'hearth.mjs'), ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('validate vdi6007 prints one JSON object with the series at the reference times', { skip: skipUnlessShared('vdi6007', 'case1.json') }, () => {
  const r = hearth('validate', 'vdi6007', sharedFile('vdi6007', 'case1.json') as string);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  const out = JSON.parse(lines[0]) as Record<string, unknown>;
  assert.deepEqual(Object.keys(out).slice(0, 4), ['case', 'quantity', 'unit', 'series']);
  assert.equal(out.case, 1);
  assert.equal(out.quantity, 'air_temperature');
  assert.equal(out.unit, 'degC');
  const series = out.series as [number, number][];
  assert.equal(series.length, 72);
  assert.deepEqual(series[0].length, 2);
  assert.equal(series[6][0], 25200);
  assert.ok(Math.abs(series[6][1] - 27.7) < 0.15);
  assert.equal(out.pass, true);
  assert.equal(out.threshold, 0.15);
});

test('validate vdi6007 exits 2 and names the field for a malformed file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-validate-'));
  try {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ case: 1, model: { parameters: { VAir: { value: 'zero' } } } }));
    const r = hearth('validate', 'vdi6007', bad);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /model\.parameters\.\w+/);
    writeFileSync(bad, JSON.stringify({ case: 'one' }));
    const r1 = hearth('validate', 'vdi6007', bad);
    assert.equal(r1.status, 2);
    assert.match(r1.stderr, /case: must be a number, got string "one"/);
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{\n  "case": 1,\n  "model": }\n');
    const r2 = hearth('validate', 'vdi6007', broken);
    assert.equal(r2.status, 2);
    assert.match(r2.stderr, /broken\.json:3:/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
