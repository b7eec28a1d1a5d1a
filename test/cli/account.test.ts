// `hearth account create`: creates the account in a data directory's store and prints its token once; bad flags
// exit 2 naming the flag and create nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/shared-data.ts';
import { openStore } from '../../src/coordinator/store/index.ts';
import { authenticate } from '../../src/coordinator/auth/tokens.ts';

function hearth(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'hearth.mjs'), ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('hearth account create: a customer with credits whose printed token authenticates', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-account-'));
  try {
    const r = hearth('account', 'create', '--email', 'lab@example.com', '--credits', '12.5', '--data', dir, '--json');
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { email: string; credits: number; role: string; token: string };
    assert.equal(out.email, 'lab@example.com');
    assert.equal(out.credits, 12.5);
    assert.equal(out.role, 'customer');
    assert.equal(statSync(join(dir, 'seal.key')).mode & 0o777, 0o600);
    const store = await openStore(`sqlite:${join(dir, 'hearth.db')}`);
    try {
      const found = await authenticate(store, out.token);
      assert.equal(found?.account.email, 'lab@example.com');
      // Stored hashed, never in clear.
      const tokens = await store.listTokens(found.account.id);
      assert.ok(tokens.every((t) => !JSON.stringify(t).includes(out.token)));
    } finally {
      await store.close();
    }
    const again = hearth('account', 'create', '--email', 'lab@example.com', '--data', dir);
    assert.equal(again.status, 2);
    assert.match(again.stderr, /--email/);
    for (const [flag, value] of [['--credits', '-3'], ['--credits', 'lots'], ['--email', 'not-an-email'], ['--role', 'king']]) {
      const bad = hearth('account', 'create', '--email', 'x@example.com', flag, value, '--data', dir);
      assert.equal(bad.status, 2, `${flag} ${value}`);
      assert.match(bad.stderr, new RegExp(flag));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
