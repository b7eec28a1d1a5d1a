// Locates ../shared/data (present on developer machines and in CI, absent in a user's clone) for tests.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Absolute path of ../shared/data, or undefined when the folder is absent. */
export const sharedDataDir: string | undefined = (() => {
  const d = process.env.HEARTH_SHARED_DATA ?? join(repoRoot, '..', 'shared', 'data');
  return existsSync(d) ? d : undefined;
})();

/** Path of a file under ../shared/data, or undefined when absent. */
export function sharedFile(...parts: string[]): string | undefined {
  if (!sharedDataDir) return undefined;
  const p = join(sharedDataDir, ...parts);
  return existsSync(p) ? p : undefined;
}

/** node:test `skip` option: a reason string when the shared data file is missing, else false. */
export function skipUnlessShared(...parts: string[]): string | false {
  return sharedFile(...parts) ? false : `../shared/data/${parts.join('/')} is absent (a user's clone has no ../shared); skipped`;
}
