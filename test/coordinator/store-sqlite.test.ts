// Runs the store conformance suite on SQLite (a fresh file in a temp folder), plus what only SQLite has: WAL
// mode, the background checkpointer, and the store URL forms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { SYSTEM, parseStoreUrl } from '../../src/coordinator/store/index.ts';
import { openSqliteStore } from '../../src/coordinator/store/sqlite.ts';
import { runStoreConformance } from './store-conformance.ts';

let dir = '';
runStoreConformance({
  name: 'sqlite',
  skip: false,
  start: () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-store-'));
    return Promise.resolve(`sqlite:${join(dir, 'hearth.db')}`);
  },
  stop: () => {
    rmSync(dir, { recursive: true, force: true });
    return Promise.resolve();
  },
});

test('sqlite: WAL mode; checkpoints run off the main thread; close folds the WAL back', async () => {
  const d = mkdtempSync(join(tmpdir(), 'hearth-wal-'));
  try {
    const file = join(d, 'sub', 'dir', 'hearth.db'); // parent folders are created
    const store = await openSqliteStore(file, { checkpointEvery: 10 });
    const a = await store.createAccount({ email: 'wal@example.com', role: 'customer' });
    const uuids: string[] = [];
    for (let i = 0; i < 40; i++) uuids.push((await store.createTask({ accountId: a.id, name: `t${i}`, profile: 'p', body: {}, instanceIds: [0, 1] })).uuid);
    const r = await store.checkpoint();
    assert.ok(r && r.log > 0 && r.checkpointed === r.log, `everything committed was copied: ${JSON.stringify(r)}`);
    assert.equal(await store.countTasks(SYSTEM), 40);
    assert.ok(existsSync(`${file}-wal`));
    await store.close();
    assert.equal(existsSync(`${file}-wal`), false, 'the last connection out checkpoints and removes the WAL');
    const raw = new BetterSqlite3(file, { readonly: true });
    try {
      assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
      assert.deepEqual(raw.prepare('SELECT count(*) AS n FROM tasks').get(), { n: 40 });
    } finally {
      raw.close();
    }
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('store URLs: sqlite forms, synchronous option, postgres passthrough, bad input named', () => {
  assert.deepEqual(parseStoreUrl('sqlite:/var/hearth/db.sqlite'), { backend: 'sqlite', path: '/var/hearth/db.sqlite' });
  assert.deepEqual(parseStoreUrl('sqlite:///var/hearth/db.sqlite?synchronous=full'), { backend: 'sqlite', path: '/var/hearth/db.sqlite', synchronous: 'full' });
  assert.deepEqual(parseStoreUrl('sqlite:data/hearth.db'), { backend: 'sqlite', path: resolve('data/hearth.db') });
  assert.deepEqual(parseStoreUrl('./data/hearth.db'), { backend: 'sqlite', path: resolve('data/hearth.db') });
  assert.deepEqual(parseStoreUrl('sqlite::memory:'), { backend: 'sqlite', path: ':memory:' });
  assert.deepEqual(parseStoreUrl('postgres://u:p@db:5432/hearth'), { backend: 'postgres', url: 'postgres://u:p@db:5432/hearth' });
  assert.deepEqual(parseStoreUrl('postgresql://db/hearth'), { backend: 'postgres', url: 'postgresql://db/hearth' });
  assert.throws(() => parseStoreUrl('sqlite:/x.db?synchronous=off'), /synchronous/);
  assert.throws(() => parseStoreUrl('sqlite:/x.db?journal=delete'), /unknown SQLite parameter/);
  assert.throws(() => parseStoreUrl('sqlite:'), /no SQLite file path/);
});
