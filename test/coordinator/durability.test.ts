// kill -9 loses nothing acknowledged: a real child process writes tasks to the SQLite store and prints each uuid
// once its write resolved; we SIGKILL it mid-stream, reopen the store and find every printed uuid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SYSTEM, openStore } from '../../src/coordinator/store/index.ts';
import { repoRoot } from '../helpers/shared-data.ts';

/** Acknowledged tasks to wait for before the kill (no clock involved: we count lines). */
const KILL_AFTER = 400;

test('SQLite: every task acknowledged before a SIGKILL is there after reopening', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-durability-'));
  try {
    const url = `sqlite:${join(dir, 'hearth.db')}`;
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'test', 'fixtures', 'store-writer.ts'), url], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acknowledged: string[] = [];
    let account = '';
    let stderr = '';
    let partial = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    // Everything the child wrote before it died is still in the pipe: read to the end, so the lines printed in
    // its last microseconds count too (those are the ones a premature acknowledgement would lose).
    const drained = new Promise<void>((resolve) => child.stdout.on('end', resolve));
    child.stdout.on('data', (d: Buffer) => {
      partial += d.toString();
      const lines = partial.split('\n');
      partial = lines.pop()!; // only complete lines count: a torn last line was not fully acknowledged
      for (const line of lines) {
        const [kind, id] = line.split(' ');
        if (kind === 'account') account = id;
        else if (kind === 'task') acknowledged.push(id);
      }
      // Mid-write: the child never stops writing on its own.
      if (acknowledged.length >= KILL_AFTER && !child.killed) child.kill('SIGKILL');
    });
    const { code, signal } = await exited;
    await drained;
    assert.equal(signal, 'SIGKILL', `writer exited on its own (code ${code}):\n${stderr}`);
    assert.ok(acknowledged.length >= KILL_AFTER);

    const store = await openStore(url);
    try {
      const missing: string[] = [];
      for (const uuid of acknowledged) if (!(await store.getTask(SYSTEM, uuid))) missing.push(uuid);
      assert.deepEqual(missing, [], `${missing.length} of ${acknowledged.length} acknowledged tasks were lost`);
      // The instances written in the same transactions are whole too.
      const some = await store.getTask(account, acknowledged[acknowledged.length - 1]);
      assert.equal((await store.listInstances(account, { taskUuid: some!.uuid })).length, some!.instanceCount);
      assert.ok((await store.countTasks(account)) >= acknowledged.length);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
