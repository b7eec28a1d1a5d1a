// A throwaway PostgreSQL for tests: initdb + pg_ctl (from /usr/lib/postgresql/*/bin) into a temp folder, on
// 127.0.0.1 and a free port, one fresh database; or a fresh schema in HEARTH_TEST_PG_URL's database when set.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';

/** A running test database: its connection URL and how to get rid of it. */
export interface TestPostgres {
  url: string;
  /** How it was obtained (for test names and messages). */
  source: 'cluster' | 'HEARTH_TEST_PG_URL';
  stop(): Promise<void>;
}

const hasTools = (dir: string): boolean => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'));

/**
 * The folder holding initdb and pg_ctl: `HEARTH_TEST_PG_BIN` when set (and only there), else the newest
 * /usr/lib/postgresql/<version>/bin (Debian's layout), else the first folder on PATH that has both
 * (Fedora, Homebrew). Undefined when there is none.
 */
export function findPostgresBin(root = '/usr/lib/postgresql'): string | undefined {
  const explicit = process.env.HEARTH_TEST_PG_BIN;
  if (explicit) return hasTools(explicit) ? explicit : undefined;
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => hasTools(join(root, v, 'bin')))
      .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
    if (versions.length > 0) return join(root, versions[0], 'bin');
  }
  return (process.env.PATH ?? '').split(delimiter).find((d) => d !== '' && hasTools(d));
}

/**
 * node:test `skip` option for PostgreSQL tests: a reason when neither HEARTH_TEST_PG_URL nor the binaries are
 * available — except in CI (CI=true), where the tests must run, so they fail in startTestPostgres instead.
 */
export function skipUnlessPostgres(): string | false {
  if (process.env.HEARTH_TEST_PG_URL) return false;
  if (findPostgresBin()) return false;
  if (process.env.CI === 'true') return false;
  return 'no PostgreSQL found (initdb/pg_ctl under /usr/lib/postgresql/*/bin, HEARTH_TEST_PG_BIN or PATH; or HEARTH_TEST_PG_URL): install it (apt-get install postgresql) to run these; skipped';
}

/** A free TCP port on 127.0.0.1 (the OS picks; a tiny race remains, handled by retrying the start). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Runs a PostgreSQL program, as the `postgres` OS user when we are root (initdb and postgres refuse root). */
function run(bin: string, program: string, args: string[], cwd: string): void {
  const exe = join(bin, program);
  const asRoot = process.getuid?.() === 0;
  const [cmd, argv] = asRoot
    ? existsSync('/usr/sbin/runuser') || existsSync('/sbin/runuser')
      ? ['runuser', ['-u', 'postgres', '--', exe, ...args]]
      : ['su', ['postgres', '-s', '/bin/sh', '-c', [exe, ...args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ')]]
    : [exe, args];
  const r = spawnSync(cmd, argv, { cwd, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) {
    throw new Error(`${program} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}\n${r.stderr}`);
  }
}

function uidGid(user: string): { uid: number; gid: number } {
  const uid = spawnSync('id', ['-u', user], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', user], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) throw new Error(`running as root but there is no '${user}' OS user to run PostgreSQL as`);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Starts a private cluster (or takes a schema in HEARTH_TEST_PG_URL) and returns a URL to an empty database. */
export async function startTestPostgres(): Promise<TestPostgres> {
  const external = process.env.HEARTH_TEST_PG_URL;
  if (external) return useExternal(external);

  const bin = findPostgresBin();
  if (!bin) {
    throw new Error('PostgreSQL binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin, HEARTH_TEST_PG_BIN or PATH: install the Debian postgresql package (CI does in .ci/run) or set HEARTH_TEST_PG_URL');
  }
  const dir = mkdtempSync(join(tmpdir(), 'hearth-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  let started = false;
  const stopSync = (): void => {
    if (started) {
      started = false;
      try {
        run(bin, 'pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'], dir);
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // If the test process ends without calling stop(), do not leave a server behind.
  process.once('exit', stopSync);
  try {
    if (process.getuid?.() === 0) {
      const { uid, gid } = uidGid('postgres');
      chownSync(dir, uid, gid);
    }
    run(bin, 'initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'], dir);
    let port = 0;
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      // Throwaway data: no fsync. Unix socket in our own folder; TCP on loopback only.
      const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
      try {
        run(bin, 'pg_ctl', ['-D', data, '-l', log, '-w', '-t', '60', '-o', opts, 'start'], dir);
        started = true;
        break;
      } catch (e) {
        if (attempt >= 2) {
          const tail = existsSync(log) ? readFileSync(log, 'utf8').slice(-2000) : '';
          throw new Error(`${(e as Error).message}\n${tail}`);
        }
      }
    }
    const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
    await admin.connect();
    try {
      await admin.query('CREATE DATABASE hearth_test');
    } finally {
      await admin.end();
    }
    return {
      url: `postgres://postgres@127.0.0.1:${port}/hearth_test`,
      source: 'cluster',
      stop: () => {
        process.removeListener('exit', stopSync);
        stopSync();
        return Promise.resolve();
      },
    };
  } catch (e) {
    process.removeListener('exit', stopSync);
    stopSync();
    throw e;
  }
}

/** A fresh schema in an existing database, selected through the connection's search_path; dropped at stop. */
async function useExternal(base: string): Promise<TestPostgres> {
  const schema = `hearth_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA ${schema}`);
  } finally {
    await admin.end();
  }
  const u = new URL(base);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: u.toString(),
    source: 'HEARTH_TEST_PG_URL',
    stop: async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      try {
        await c.query(`DROP SCHEMA ${schema} CASCADE`);
      } finally {
        await c.end();
      }
    },
  };
}
