// The scale-out backend: PostgreSQL through a pg Pool and kysely's PostgresDialect; same schema and code as
// SQLite (kysely-store.ts). Durability is PostgreSQL's own: a COMMIT returns after its WAL is flushed.
import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import { KyselyStore, type Database } from './kysely-store.ts';
import { migrate } from './migrations.ts';
import type { Store, StoreOptions } from './types.ts';

export interface PostgresStoreOptions extends StoreOptions {
  /** Pool size (default 10). */
  maxConnections?: number;
  /** Called with errors of idle pooled connections (the server restarted…); the pool drops the connection. */
  onIdleError?: (err: Error) => void;
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/**
 * Type parsers for this pool only (the pg module's global parsers stay untouched): 64-bit integers (times in
 * ms, sizes, sequence numbers, micro-euros — all below 2^53) and numeric aggregates come back as numbers.
 */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): unknown => {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format ?? 'text') as unknown;
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/** Connects to `url` (postgres://user:pass@host:port/db), applies pending migrations, returns the store. */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<Store> {
  const pool = new pg.Pool({ connectionString: url, max: options.maxConnections ?? 10, types });
  // Without a listener, an idle connection's error (server restart) would crash the process.
  pool.on('error', (err) => options.onIdleError?.(err));
  const clock = options.clock ?? Date.now;
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    await migrate(kysely, 'postgres', clock());
  } catch (e) {
    await kysely.destroy();
    throw e;
  }
  // kysely.destroy() ends the pool.
  return new KyselyStore(kysely, { backend: 'postgres', clock, destroy: () => Promise.resolve() });
}
