// The dashboard's own typecheck (DOM and JSX settings in src/web/tsconfig.json; the root project excludes
// src/web so the server code carries no DOM types).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './harness.ts';

test('src/web typechecks (tsc -p src/web, strict)', () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', join(ROOT, 'src', 'web')], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
