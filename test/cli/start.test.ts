// `hearth start`'s flags: ports, directories and the store URL checked before anything starts; the grid carbon
// series of --carbon-csv parsed with its errors naming the line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { carbonSourceFromFile, startOptionsFromFlags, type StartFlags } from '../../src/cli/commands/start.ts';
import { InvalidParameterError, ParseError } from '../../src/physics/errors.ts';
import { sharedFile, skipUnlessShared } from '../helpers/shared-data.ts';

test('hearth start flags: defaults, HEARTH_DB, and bad values named', () => {
  const o = startOptionsFromFlags({ port: '8080', host: '127.0.0.1', data: './data' }, {});
  assert.deepEqual({ ...o, loop: undefined }, { port: 8080, host: '127.0.0.1', dataDir: './data', db: undefined, logger: false, loop: undefined });
  assert.equal(startOptionsFromFlags({ port: '0', host: '::1', data: 'd' }, { HEARTH_DB: 'postgres://x/y' }).db, 'postgres://x/y');
  assert.equal(startOptionsFromFlags({ port: '1', host: 'h', data: 'd', db: 'sqlite:a.db' }, { HEARTH_DB: 'postgres://x/y' }).db, 'sqlite:a.db');
  for (const [k, v, flag] of [['port', '65536', '--port'], ['port', 'http', '--port'], ['host', ' ', '--host'], ['data', '', '--data']] as const) {
    assert.throws(() => startOptionsFromFlags({ port: '8080', host: 'h', data: 'd', [k]: v }, {}), (e: unknown) => e instanceof InvalidParameterError && e.message.includes(flag), `${k}=${v}`);
  }
});

test('hearth start loop flags: policy, period, offline delay and checkpoint grace and timeout reach the loop; bad values named', () => {
  const base = { port: '8080', host: 'h', data: 'd' };
  assert.deepEqual(startOptionsFromFlags(base, {}).loop, { policy: undefined, periodS: undefined, offlineAfterS: undefined, checkpointGraceS: undefined, checkpointTimeoutS: undefined });
  const o = startOptionsFromFlags({ ...base, policy: 'first-fit', period: '2.5', offlineAfter: '45', checkpointGrace: '3', checkpointTimeout: '120' }, {});
  assert.deepEqual(o.loop, { policy: 'first-fit', periodS: 2.5, offlineAfterS: 45, checkpointGraceS: 3, checkpointTimeoutS: 120 });
  const bad: Array<[Partial<StartFlags>, string]> = [
    [{ policy: 'fastest' }, '--policy'],
    [{ period: '0' }, '--period'],
    [{ period: 'soon' }, '--period'],
    [{ period: '' }, '--period'],
    [{ offlineAfter: '-1' }, '--offline-after'],
    [{ checkpointGrace: '3601' }, '--checkpoint-grace'],
    // The timeout must leave the grace time to run out first: here 20 s against the default 10 s grace is fine, 5 s is not.
    [{ checkpointTimeout: '5' }, '--checkpoint-timeout'],
    [{ checkpointGrace: '60', checkpointTimeout: '30' }, '--checkpoint-timeout'],
  ];
  for (const [flags, name] of bad) {
    assert.throws(
      () => startOptionsFromFlags({ ...base, ...flags }, {}),
      (e: unknown) => e instanceof InvalidParameterError && e.field === name && e.message.startsWith(`${name}: `),
      JSON.stringify(flags),
    );
  }
  assert.equal(startOptionsFromFlags({ ...base, checkpointTimeout: '20' }, {}).loop.checkpointTimeoutS, 20);
});

test('hearth start --carbon-csv: a series file gives hourly intensities; a bad row names its line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-carbon-'));
  try {
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'time,g\n2026-01-01T00:00:00Z,50\n2026-01-01T01:00:00Z,lots\n');
    assert.throws(() => carbonSourceFromFile(bad), (e: unknown) => e instanceof ParseError && /:3:/.test(e.message));
    assert.throws(() => carbonSourceFromFile(join(dir, 'missing.csv')), (e: unknown) => e instanceof InvalidParameterError && e.message.includes('--carbon-csv'));
    const good = join(dir, 'good.csv');
    writeFileSync(good, 'time,g\n2026-01-01T00:00:00Z,50\n2026-01-01T01:00:00Z,70\n');
    assert.equal(carbonSourceFromFile(good).intensityAt(Date.UTC(2026, 0, 1, 1, 30)), 70);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hearth start --carbon-csv with the French 2020 series', { skip: skipUnlessShared('grid', 'fr_carbon_intensity_2020.csv') }, () => {
  const fr = carbonSourceFromFile(sharedFile('grid', 'fr_carbon_intensity_2020.csv') as string);
  // A date outside 2020 reads the same instant of 2020 (a typical year): French grid values.
  const g = fr.intensityAt(Date.UTC(2026, 0, 15, 18));
  assert.ok(g > 10 && g < 150, `${g} g/kWh`);
});
