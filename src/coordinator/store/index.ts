// Opens the storage of record from a URL: SQLite (`sqlite:/path/file.db` or a plain path) by default, PostgreSQL
// for `postgres://…`. The rest of the coordinator sees only the Store interface.
import { resolve } from 'node:path';
import { openPostgresStore, type PostgresStoreOptions } from './postgres.ts';
import { openSqliteStore, type SqliteStoreOptions, type SqliteSync } from './sqlite.ts';
import type { Store } from './types.ts';

export * from './types.ts';
export { LATEST_SCHEMA_VERSION, SchemaTooNewError } from './migrations.ts';

/** Options for either backend (each ignores the other's). */
export type OpenStoreOptions = SqliteStoreOptions & PostgresStoreOptions;

/** The backend and location a store URL designates. */
export type StoreLocation =
  | { backend: 'sqlite'; path: string; synchronous?: SqliteSync }
  | { backend: 'postgres'; url: string };

/**
 * Parses a store URL:
 * - `postgres://…` or `postgresql://…` → PostgreSQL (the URL is passed to pg as is);
 * - `sqlite:/abs/file.db`, `sqlite:///abs/file.db`, `sqlite:rel/file.db`, `sqlite::memory:` → SQLite, with an
 *   optional `?synchronous=normal|full` (see sqlite.ts for what each guarantees);
 * - anything else is a file path for SQLite.
 * Relative paths resolve against the current directory.
 */
export function parseStoreUrl(url: string): StoreLocation {
  if (/^postgres(ql)?:\/\//i.test(url)) return { backend: 'postgres', url };
  let rest = url;
  let synchronous: SqliteSync | undefined;
  if (/^sqlite:/i.test(url)) {
    rest = url.slice('sqlite:'.length);
    const q = rest.indexOf('?');
    if (q >= 0) {
      const params = new URLSearchParams(rest.slice(q + 1));
      rest = rest.slice(0, q);
      const sync = params.get('synchronous')?.toLowerCase();
      if (sync !== undefined) {
        if (sync !== 'normal' && sync !== 'full') throw new Error(`store URL: synchronous must be normal or full, got ${JSON.stringify(sync)}`);
        synchronous = sync;
      }
      for (const k of params.keys()) if (k !== 'synchronous') throw new Error(`store URL: unknown SQLite parameter ${JSON.stringify(k)}`);
    }
    if (rest.startsWith('//')) rest = rest.slice(2); // sqlite:///abs → /abs
    rest = decodeURIComponent(rest);
  }
  if (rest === '') throw new Error('store URL: no SQLite file path');
  const path = rest === ':memory:' ? rest : resolve(rest);
  return synchronous ? { backend: 'sqlite', path, synchronous } : { backend: 'sqlite', path };
}

/** Opens the store the URL designates and brings its schema up to date (see {@link parseStoreUrl}). */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  const loc = parseStoreUrl(url);
  if (loc.backend === 'postgres') return openPostgresStore(loc.url, options);
  return openSqliteStore(loc.path, { ...options, synchronous: loc.synchronous ?? options.synchronous });
}

/** Closes the store (waits for the connection(s) to be released). */
export async function closeStore(store: Store): Promise<void> {
  await store.close();
}
