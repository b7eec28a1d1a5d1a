// The platform as one process: opens the data directory (store, blobs, seal key), makes sure an operator can log
// in, mounts the compute API, the hearth API and the S3 storage endpoint on one Fastify server, and listens.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp, type ExtraPlugin } from './app.ts';
import { createSealKey, ensureBootstrapOperator, type BootstrapResult } from './auth/tokens.ts';
import { s3Plugin } from './s3/plugin.ts';
import { openStore } from './store/index.ts';
import type { Store } from './store/types.ts';

/** Where the storage endpoint is mounted on the coordinator's origin. */
export const STORAGE_PREFIX = '/storage';

export interface PlatformOptions {
  /** TCP port (0: any free port). Default 8080. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1 (the platform is not exposed until an operator says so). */
  host?: string;
  /** Data directory: the SQLite file, the blobs, the seal key. Created if missing. Default ./data. */
  dataDir?: string;
  /** Store URL (`postgres://…` or a SQLite path/URL). Default: SQLite `hearth.db` in the data directory. */
  db?: string;
  /** Where HEARTH_BOOTSTRAP_TOKEN is read. Default process.env. */
  env?: Record<string, string | undefined>;
  /** Now, ms since the epoch. Default Date.now. */
  clock?: () => number;
  /** Public base URL clients should use (e.g. behind a proxy); default http://host:port. */
  publicUrl?: string;
  /** Structured logs (Fastify's pino): true, false or pino options. Default false. */
  logger?: boolean | Record<string, unknown>;
  /** Further plugins (mounted beside the API). */
  plugins?: ExtraPlugin[];
  /** Hook run once the store is open and the operator exists, before listening (e.g. to seed a demo fleet). */
  beforeListen?: (p: { store: Store; app: FastifyInstance; sealKey: Buffer; dataDir: string }) => Promise<void>;
}

export interface Platform {
  /** Base URL of the API (and of the storage endpoint under {@link STORAGE_PREFIX}). */
  url: string;
  port: number;
  app: FastifyInstance;
  store: Store;
  dataDir: string;
  sealKey: Buffer;
  bootstrap: BootstrapResult;
  /** Stops listening, then closes the store. Idempotent. */
  close(): Promise<void>;
}

/**
 * Reads the key that seals API tokens for SigV4 (`seal.key` in the data directory, 0600), creating it on first
 * start. The key never enters the database: a stolen database alone does not reveal a usable secret.
 */
export function loadSealKey(dataDir: string): Buffer {
  const path = join(dataDir, 'seal.key');
  if (existsSync(path)) {
    const hex = readFileSync(path, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/i.test(hex)) throw new Error(`${path}: not a 32-byte hex key (delete it only if no token needs SigV4)`);
    return Buffer.from(hex, 'hex');
  }
  const key = createSealKey();
  writeFileSync(path, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return key;
}

/** Opens the data directory and its store (migrations applied), and the seal key. */
export async function openDataDir(dataDir: string, db?: string): Promise<{ dir: string; store: Store; sealKey: Buffer }> {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const sealKey = loadSealKey(dir);
  const store = await openStore(db ?? `sqlite:${join(dir, 'hearth.db')}`);
  return { dir, store, sealKey };
}

/** Starts the platform and resolves once it listens. */
export async function startPlatform(options: PlatformOptions = {}): Promise<Platform> {
  const host = options.host ?? '127.0.0.1';
  const { dir, store, sealKey } = await openDataDir(options.dataDir ?? './data', options.db);
  let app: FastifyInstance | undefined;
  try {
    const bootstrap = await ensureBootstrapOperator(store, { env: options.env ?? process.env, sealKey });
    let base = options.publicUrl?.replace(/\/+$/, '');
    app = await buildApp({
      store,
      clock: options.clock,
      sealKey,
      logger: options.logger ?? false,
      storageUrl: (req) => `${base ?? `${req.protocol}://${req.host}`}${STORAGE_PREFIX}`,
      plugins: [{ plugin: s3Plugin, options: { prefix: STORAGE_PREFIX, store, blobDir: join(dir, 'blobs'), sealKey, clock: options.clock } }, ...(options.plugins ?? [])],
    });
    if (options.beforeListen) await options.beforeListen({ store, app, sealKey, dataDir: dir });
    await app.listen({ port: options.port ?? 8080, host });
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : (options.port ?? 8080);
    base ??= `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    let closed: Promise<void> | undefined;
    const listening = app;
    return {
      url: base,
      port,
      app: listening,
      store,
      dataDir: dir,
      sealKey,
      bootstrap,
      close: () =>
        (closed ??= (async () => {
          try {
            await listening.close();
          } finally {
            await store.close();
          }
        })()),
    };
  } catch (e) {
    if (app) await app.close().catch(() => undefined);
    await store.close();
    throw e;
  }
}
