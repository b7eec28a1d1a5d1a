// Tests of `hearth weather stats` through the real binary: synthetic, from an RT2012 file, and a bad zone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot, sharedFile, skipUnlessShared } from '../helpers/shared-data.ts';

function hearth(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'hearth.mjs'), ...args], { cwd: repoRoot, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface StatsJson {
  zone: string;
  source: string;
  monthlyMeanC: number[];
  monthlyMeanDailyRangeC: number[];
  hdd18: number;
  annualMeanC: number;
}

test('weather stats --synthetic prints JSON statistics', () => {
  const r = hearth('weather', 'stats', '--zone', 'H2c', '--synthetic', '--seed', '1', '--years', '3');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as StatsJson;
  assert.equal(j.zone, 'H2c');
  assert.equal(j.source, 'synthetic');
  assert.equal(j.monthlyMeanC.length, 12);
  assert.equal(j.monthlyMeanDailyRangeC.length, 12);
  assert.ok(j.monthlyMeanC[6] > j.monthlyMeanC[0] + 8, 'July warmer than January');
  assert.ok(j.hdd18 > 1500 && j.hdd18 < 2400, `hdd18 ${j.hdd18}`);
  assert.ok(j.annualMeanC > 11 && j.annualMeanC < 16);
});

test('weather stats --file reads an RT2012 file', { skip: skipUnlessShared('weather', 'rt2012', 'H1a.txt') }, () => {
  const r = hearth('weather', 'stats', '--zone', 'H1a', '--file', sharedFile('weather', 'rt2012', 'H1a.txt')!);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as StatsJson & { format: string; hdd18MinMax: number };
  assert.equal(j.source, 'file');
  assert.equal(j.format, 'rt2012');
  assert.ok(Math.abs(j.hdd18MinMax - 2295) < 5, `${j.hdd18MinMax}`);
});

test('weather stats with a bad zone exits 2 and names --zone', () => {
  const r = hearth('weather', 'stats', '--zone', 'H9', '--synthetic');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--zone/);
});
