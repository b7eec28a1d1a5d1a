// The `hearth` command as a child process, for the CLI tests (asynchronous: the platform they talk to lives in the
// test's own process).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './shared-data.ts';

/** How a `hearth` run ended. */
export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node bin/hearth.mjs …args` in `cwd` with `env` (a variable set to undefined is removed) and `input` on its
 * standard input; resolves when it exits.
 */
export function runHearth(args: readonly string[], o: { cwd: string; env: Record<string, string | undefined>; input?: string }): Promise<CliRun> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.env)) if (v !== undefined) env[k] = v;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'hearth.mjs'), ...args], { cwd: o.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(o.input ?? '');
  });
}
