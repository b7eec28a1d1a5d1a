// Numbered schema migrations for both backends, applied at open inside one transaction each and recorded in
// `schema_migrations`; re-opening applies nothing. Dialect differences are a handful of type substitutions.
import { sql } from 'kysely';
import type { Kysely } from 'kysely';

/** The SQL dialect a migration is written for. */
export type SqlDialect = 'sqlite' | 'postgres';

/** One migration: its number (1, 2, …, never reused), a name, and its statements for a dialect. */
export interface Migration {
  version: number;
  name: string;
  statements(d: SqlDialect): string[];
}

/**
 * Type words per dialect. `{TEXT_KEY}` is text compared byte-wise (UTF-8 binary order, as S3 lists keys and as
 * SQLite compares by default): PostgreSQL gets COLLATE "C" so both backends order and paginate alike. Integers
 * are 64-bit (`bigint` has INTEGER affinity in SQLite). JSON is stored as text, verbatim (PostgreSQL's jsonb
 * would reject `\u0000` and reorder keys). Program output is UTF-8 bytes (`{BLOB}`), since it may hold NUL.
 * Small rows written once per instance are clustered on their key in SQLite (`{WITHOUT_ROWID}`: one B-tree
 * touched per insert instead of two). Money is integer micro-euros. No autoincrement: ids are UUIDs or come from
 * counters, so both backends behave the same.
 */
function typed(d: SqlDialect, text: string): string {
  return text
    .replaceAll('{TEXT_KEY}', d === 'postgres' ? 'text COLLATE "C"' : 'text')
    .replaceAll('{REAL}', d === 'postgres' ? 'double precision' : 'real')
    .replaceAll('{BLOB}', d === 'postgres' ? 'bytea' : 'blob')
    .replaceAll('{WITHOUT_ROWID}', d === 'postgres' ? '' : ' WITHOUT ROWID');
}

/** Every migration, in order. Append new ones; never edit one that has shipped. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    statements: (d) =>
      [
        `CREATE TABLE accounts (
          id {TEXT_KEY} PRIMARY KEY,
          email {TEXT_KEY} NOT NULL UNIQUE,
          role text NOT NULL,
          credits_micro bigint NOT NULL DEFAULT 0,
          quotas text NOT NULL,
          scope text NOT NULL,
          created_at bigint NOT NULL,
          updated_at bigint NOT NULL
        )`,
        `CREATE INDEX accounts_role ON accounts (role, id)`,
        `CREATE TABLE api_tokens (
          id {TEXT_KEY} PRIMARY KEY,
          account_id {TEXT_KEY} NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
          hash text NOT NULL UNIQUE,
          prefix text NOT NULL,
          name text,
          created_at bigint NOT NULL,
          last_used_at bigint,
          revoked_at bigint,
          sealed_secret text
        )`,
        `CREATE INDEX api_tokens_account ON api_tokens (account_id)`,
        `CREATE TABLE jobs (
          uuid {TEXT_KEY} PRIMARY KEY,
          account_id {TEXT_KEY} NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
          shortname {TEXT_KEY} NOT NULL,
          name {TEXT_KEY} NOT NULL,
          state text NOT NULL,
          use_dependencies integer NOT NULL,
          max_wall_time_sec {REAL},
          creation_date bigint NOT NULL,
          last_modified bigint NOT NULL,
          end_date bigint,
          body text NOT NULL,
          CONSTRAINT jobs_account_shortname UNIQUE (account_id, shortname)
        )`,
        `CREATE INDEX jobs_account_created ON jobs (account_id, creation_date, uuid)`,
        `CREATE TABLE tasks (
          uuid {TEXT_KEY} PRIMARY KEY,
          account_id {TEXT_KEY} NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
          shortname {TEXT_KEY} NOT NULL,
          name {TEXT_KEY} NOT NULL,
          profile text NOT NULL,
          state {TEXT_KEY} NOT NULL,
          previous_state text,
          state_transition_time bigint NOT NULL,
          creation_date bigint NOT NULL,
          end_date bigint,
          body text NOT NULL,
          scheduling_type text NOT NULL,
          deadline bigint,
          est_instance_duration_sec {REAL},
          checkpoint text NOT NULL,
          instance_count integer NOT NULL,
          advanced_ranges text,
          tags text NOT NULL,
          labels text NOT NULL,
          job_uuid {TEXT_KEY},
          depends_on text NOT NULL,
          retry_settings text NOT NULL,
          retry_count integer NOT NULL DEFAULT 0,
          status text NOT NULL,
          version integer NOT NULL DEFAULT 1,
          output_seq bigint NOT NULL DEFAULT 0,
          updated_at bigint NOT NULL,
          CONSTRAINT tasks_account_shortname UNIQUE (account_id, shortname)
        )`,
        `CREATE INDEX tasks_account_created ON tasks (account_id, creation_date, uuid)`,
        `CREATE INDEX tasks_created ON tasks (creation_date, uuid)`,
        `CREATE INDEX tasks_state ON tasks (state, creation_date)`,
        `CREATE TABLE task_tags (
          task_uuid {TEXT_KEY} NOT NULL REFERENCES tasks (uuid) ON DELETE CASCADE,
          tag {TEXT_KEY} NOT NULL,
          PRIMARY KEY (task_uuid, tag)
        )`,
        `CREATE INDEX task_tags_tag ON task_tags (tag, task_uuid)`,
        `CREATE TABLE task_labels (
          task_uuid {TEXT_KEY} NOT NULL REFERENCES tasks (uuid) ON DELETE CASCADE,
          key {TEXT_KEY} NOT NULL,
          value {TEXT_KEY} NOT NULL,
          PRIMARY KEY (task_uuid, key)
        )`,
        `CREATE INDEX task_labels_kv ON task_labels (key, value, task_uuid)`,
        `CREATE TABLE instances (
          task_uuid {TEXT_KEY} NOT NULL REFERENCES tasks (uuid) ON DELETE CASCADE,
          instance_id integer NOT NULL,
          state {TEXT_KEY} NOT NULL,
          phase text,
          attempt integer NOT NULL DEFAULT 0,
          last_seq bigint NOT NULL DEFAULT -1,
          heater_id text,
          board_index integer,
          progress {REAL} NOT NULL DEFAULT 0,
          started_at bigint,
          ended_at bigint,
          updated_at bigint NOT NULL,
          energy_wh {REAL} NOT NULL DEFAULT 0,
          ghz_seconds {REAL} NOT NULL DEFAULT 0,
          exec_time_sec {REAL} NOT NULL DEFAULT 0,
          wall_time_sec {REAL} NOT NULL DEFAULT 0,
          clock_ratio {REAL},
          results text NOT NULL,
          info text NOT NULL,
          PRIMARY KEY (task_uuid, instance_id)
        ){WITHOUT_ROWID}`,
        `CREATE INDEX instances_state ON instances (state, task_uuid, instance_id)`,
        `CREATE TABLE instance_attempts (
          task_uuid {TEXT_KEY} NOT NULL,
          instance_id integer NOT NULL,
          attempt integer NOT NULL,
          state text,
          last_seq bigint NOT NULL DEFAULT -1,
          heater_id text,
          board_index integer,
          started_at bigint,
          ended_at bigint,
          energy_wh {REAL} NOT NULL DEFAULT 0,
          ghz_seconds {REAL} NOT NULL DEFAULT 0,
          exec_time_sec {REAL} NOT NULL DEFAULT 0,
          wall_time_sec {REAL} NOT NULL DEFAULT 0,
          clock_ratio {REAL},
          PRIMARY KEY (task_uuid, instance_id, attempt),
          FOREIGN KEY (task_uuid, instance_id) REFERENCES instances (task_uuid, instance_id) ON DELETE CASCADE
        )`,
        `CREATE TABLE instance_events (
          task_uuid {TEXT_KEY} NOT NULL,
          instance_id integer NOT NULL,
          attempt integer NOT NULL,
          seq bigint NOT NULL,
          applied_at bigint NOT NULL,
          PRIMARY KEY (task_uuid, instance_id, attempt, seq),
          FOREIGN KEY (task_uuid, instance_id) REFERENCES instances (task_uuid, instance_id) ON DELETE CASCADE
        )`,
        `CREATE TABLE output_chunks (
          task_uuid {TEXT_KEY} NOT NULL REFERENCES tasks (uuid) ON DELETE CASCADE,
          seq bigint NOT NULL,
          instance_id integer NOT NULL,
          stream text NOT NULL,
          attempt integer,
          chunk_seq bigint,
          data {BLOB} NOT NULL,
          at bigint NOT NULL,
          PRIMARY KEY (task_uuid, seq)
        )`,
        `CREATE INDEX output_chunks_instance ON output_chunks (task_uuid, instance_id, seq)`,
        `CREATE UNIQUE INDEX output_chunks_key ON output_chunks (task_uuid, instance_id, stream, attempt, chunk_seq)`,
        `CREATE TABLE output_cursors (
          reader_id {TEXT_KEY} NOT NULL,
          task_uuid {TEXT_KEY} NOT NULL REFERENCES tasks (uuid) ON DELETE CASCADE,
          stream text NOT NULL,
          instance_id integer NOT NULL,
          last_seq bigint NOT NULL,
          PRIMARY KEY (reader_id, task_uuid, stream, instance_id)
        )`,
        `CREATE INDEX output_cursors_task ON output_cursors (task_uuid)`,
        `CREATE TABLE buckets (
          name {TEXT_KEY} PRIMARY KEY,
          account_id {TEXT_KEY} NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
          created_at bigint NOT NULL
        )`,
        `CREATE INDEX buckets_account ON buckets (account_id, name)`,
        `CREATE TABLE objects (
          bucket {TEXT_KEY} NOT NULL REFERENCES buckets (name) ON DELETE CASCADE,
          key {TEXT_KEY} NOT NULL,
          size bigint NOT NULL,
          etag text NOT NULL,
          content_type text,
          blob_hash {TEXT_KEY} NOT NULL,
          metadata text NOT NULL,
          last_modified bigint NOT NULL,
          PRIMARY KEY (bucket, key)
        )`,
        `CREATE INDEX objects_blob ON objects (blob_hash)`,
        `CREATE TABLE multipart_uploads (
          upload_id {TEXT_KEY} PRIMARY KEY,
          bucket {TEXT_KEY} NOT NULL REFERENCES buckets (name) ON DELETE CASCADE,
          key {TEXT_KEY} NOT NULL,
          account_id {TEXT_KEY} NOT NULL,
          content_type text,
          metadata text NOT NULL,
          created_at bigint NOT NULL
        )`,
        `CREATE INDEX multipart_uploads_bucket ON multipart_uploads (bucket, key, upload_id)`,
        `CREATE TABLE multipart_parts (
          upload_id {TEXT_KEY} NOT NULL REFERENCES multipart_uploads (upload_id) ON DELETE CASCADE,
          part_number integer NOT NULL,
          size bigint NOT NULL,
          etag text NOT NULL,
          blob_hash {TEXT_KEY} NOT NULL,
          last_modified bigint NOT NULL,
          PRIMARY KEY (upload_id, part_number)
        )`,
        `CREATE INDEX multipart_parts_blob ON multipart_parts (blob_hash)`,
        `CREATE TABLE idempotency_keys (
          account_id {TEXT_KEY} NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
          key {TEXT_KEY} NOT NULL,
          fingerprint text NOT NULL,
          status integer NOT NULL,
          response text NOT NULL,
          created_at bigint NOT NULL,
          PRIMARY KEY (account_id, key)
        )`,
        `CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at)`,
        `CREATE TABLE registry (
          id {TEXT_KEY} PRIMARY KEY,
          kind text NOT NULL,
          site_id {TEXT_KEY},
          parent_id {TEXT_KEY},
          name text NOT NULL,
          account_id {TEXT_KEY},
          spec text NOT NULL,
          created_at bigint NOT NULL,
          updated_at bigint NOT NULL
        )`,
        `CREATE INDEX registry_kind_site ON registry (kind, site_id, id)`,
        `CREATE INDEX registry_parent ON registry (parent_id, id)`,
        `CREATE TABLE telemetry (
          device_id {TEXT_KEY} NOT NULL,
          time bigint NOT NULL,
          data text NOT NULL,
          PRIMARY KEY (device_id, time)
        )`,
        `CREATE INDEX telemetry_time ON telemetry (time)`,
        `CREATE TABLE events (
          id bigint PRIMARY KEY,
          type text NOT NULL,
          account_id {TEXT_KEY},
          payload text NOT NULL,
          at bigint NOT NULL
        )`,
        `CREATE INDEX events_account ON events (account_id, id)`,
        `CREATE INDEX events_at ON events (at)`,
        `CREATE TABLE counters (
          name {TEXT_KEY} PRIMARY KEY,
          value bigint NOT NULL
        )`,
        `INSERT INTO counters (name, value) VALUES ('events', 0)`,
      ].map((s) => typed(d, s)),
  },
  {
    version: 2,
    name: 'accounts.task_count',
    // How many tasks each account holds, kept by the store in the transaction that inserts or deletes them: the
    // task quota is then one conditional UPDATE instead of a count(*) over the account's tasks.
    statements: () => [
      `ALTER TABLE accounts ADD COLUMN task_count bigint NOT NULL DEFAULT 0`,
      `UPDATE accounts SET task_count = (SELECT count(*) FROM tasks WHERE tasks.account_id = accounts.id)`,
    ],
  },
  {
    version: 3,
    name: 'charges',
    // The charges ledger: one row per instance report that billed something, written in the transaction that
    // applies the report (so a report's usage and its charge land together, and a replay charges nothing). Rows
    // outlive their task (no foreign key: a bill stays when the task is deleted). `amount_eur` is the exact amount;
    // `charged_micro` what was taken from the credits for it, so that an account's charges add up to its exact
    // running total `accounts.billed_eur` rounded once (sub-micro-euro reports are not each rounded away).
    statements: (d) =>
      [
        `CREATE TABLE charges (
          task_uuid {TEXT_KEY} NOT NULL,
          instance_id integer NOT NULL,
          attempt integer NOT NULL,
          seq bigint NOT NULL,
          account_id {TEXT_KEY} NOT NULL,
          at bigint NOT NULL,
          scheduling_type text NOT NULL,
          core_seconds {REAL} NOT NULL,
          amount_eur {REAL} NOT NULL,
          charged_micro bigint NOT NULL,
          PRIMARY KEY (task_uuid, instance_id, attempt, seq)
        ){WITHOUT_ROWID}`,
        `CREATE INDEX charges_account_at ON charges (account_id, at)`,
        `ALTER TABLE accounts ADD COLUMN billed_eur {REAL} NOT NULL DEFAULT 0`,
      ].map((s) => typed(d, s)),
  },
];

/** Highest migration number this build knows. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

/** A database newer than this build (a later migration applied): opening it would risk misreading rows. */
export class SchemaTooNewError extends Error {
  constructor(
    readonly found: number,
    readonly known: number,
  ) {
    super(`database schema version ${found} is newer than this build knows (${known}): upgrade hearth`);
    this.name = 'SchemaTooNewError';
  }
}

/**
 * Brings the schema up to date: creates `schema_migrations` if missing, then applies each missing migration in
 * its own transaction together with its record. Safe against a concurrent opener (another process): on
 * PostgreSQL an advisory lock serialises migrators; on SQLite the write transaction does (the caller's
 * driver begins transactions IMMEDIATE). Returns the numbers applied now (empty on a re-open).
 * @param now the time recorded for each applied migration, ms
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists
export async function migrate(db: Kysely<any>, dialect: SqlDialect, now: number): Promise<number[]> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see migrate()
  const lock = async (trx: Kysely<any>): Promise<void> => {
    // 0x6865617274 = "heart": one application-wide lock id for hearth's migrator.
    if (dialect === 'postgres') await sql`SELECT pg_advisory_xact_lock(${0x6865617274})`.execute(trx);
  };
  const found = await db.transaction().execute(async (trx) => {
    await lock(trx);
    await sql
      .raw('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)')
      .execute(trx);
    const top = await sql<{ v: number | string | null }>`SELECT max(version) AS v FROM schema_migrations`.execute(trx);
    return Number(top.rows[0]?.v ?? 0);
  });
  if (found > LATEST_SCHEMA_VERSION) throw new SchemaTooNewError(found, LATEST_SCHEMA_VERSION);
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    const done = await db.transaction().execute(async (trx) => {
      await lock(trx);
      const rows = await sql<{ version: number }>`SELECT version FROM schema_migrations WHERE version = ${m.version}`.execute(trx);
      if (rows.rows.length > 0) return false;
      for (const stmt of m.statements(dialect)) await sql.raw(stmt).execute(trx);
      await sql`INSERT INTO schema_migrations (version, name, applied_at) VALUES (${m.version}, ${m.name}, ${now})`.execute(trx);
      return true;
    });
    if (done) applied.push(m.version);
  }
  return applied;
}
