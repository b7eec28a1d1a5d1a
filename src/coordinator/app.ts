// The coordinator's HTTP application: the compute API (auth, rate limit, one error handler, every route both
// unversioned and under /v1), OpenAPI 3.1 at /openapi.json with docs at /docs, and a hook for further plugins
// (the S3 storage endpoint) that bring their own auth and error format.
import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyPluginAsync, type FastifyPluginCallback, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { codeForStatus, ERROR_CODES, type ApiErrorBody } from '../protocol/errors.ts';
import { authenticate, tokenFromHeader } from './auth/tokens.ts';
import { StoreConflictError, StoreInputError, type Store } from './store/types.ts';
import type { ApiContext } from './api/context.ts';
import { HttpError } from './api/http-error.ts';
import { RateLimiter, type RateLimitOptions } from './api/rate-limit.ts';
import { fieldOf, messageOf, validatorCompiler, type AjvErrorLike } from './api/validation.ts';
import { metaRoutes } from './api/meta.ts';
import { taskRoutes } from './api/tasks.ts';
import { jobRoutes } from './api/jobs.ts';
import { accountRoutes } from './api/accounts.ts';
import { integrationRoutes } from './api/integrations.ts';
import { platformRoutes } from './api/platform.ts';
import { EventHub } from './events.ts';
import { carbonRoutes, type CarbonRouteOptions } from './api/carbon.ts';
import { snapshotRoutes } from './api/snapshots.ts';
import { deviceFileRoutes } from './api/device-files.ts';
import { simRoutes } from './api/sims.ts';
import { metricsPlugin, metricsPluginOptions, type MetricsOptions, type MetricsRegistry } from './api/metrics.ts';

/** A plugin mounted beside the compute API (outside its auth hook and rate limit), e.g. the S3 endpoint. */
export interface ExtraPlugin {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- plugins carry their own option types
  plugin: FastifyPluginAsync<any> | FastifyPluginCallback<any>;
  options?: Record<string, unknown> & { prefix?: string };
}

export interface BuildAppOptions {
  store: Store;
  /** Now, ms since the epoch (rate limiting, timestamps). Default Date.now. */
  clock?: () => number;
  /** Base URL of the storage endpoint for `GET /settings`; default: this server's origin + `/storage`. */
  storageUrl?: string | ((req: FastifyRequest) => string);
  /** Largest request body, bytes (413 beyond). Default 16 MiB. */
  bodyLimit?: number;
  /** Per-token request budget (429 beyond), or false for none. Default 2,000/s with bursts of 4,000. */
  rateLimit?: RateLimitOptions | false;
  /** Plugins registered after the compute API, each in its own context (they do their own auth). */
  plugins?: ExtraPlugin[];
  /** Fastify's logger option (default off; pass true or pino options for structured logs). */
  logger?: boolean | Record<string, unknown>;
  /** Prometheus metrics: a registry to record into (default a new one, `app.metrics`); `GET /metrics` is public unless `{public: false}` (operators' token): firewall it. */
  metrics?: MetricsRegistry | MetricsOptions;
  /** The blob directory of the storage endpoint: when given, agents reach their inputs and results under /hearth/v1/device. */
  blobDir?: string;
  /** The twin's runs (`hearth sim --out <dataDir>/sims/NAME`) served under /hearth/v1/sims; default `sims` beside blobDir (in the data directory), none without it. */
  simsDir?: string;
  /** Carbon facts: the grid intensity source and reference datacenter (default: a constant 56.3 gCO2e/kWh). */
  carbon?: CarbonRouteOptions;
  /** Key that seals new tokens so the S3 endpoint can verify SigV4 with them (see auth/tokens.ts); none: no sealing. */
  sealKey?: Buffer;
  /** Live-change hub behind `GET /hearth/v1/events` (share it with whatever publishes). Default: a new one. */
  events?: EventHub;
  /**
   * The built dashboard served at `/` (static files, index.html for the client's routes), or false for none.
   * Default: src/web/dist when it exists (`node scripts/ensure-deps.mjs` builds it).
   */
  webDir?: string | false;
}

/** Where the dashboard's build lands (vite.config.ts). */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../web/dist', import.meta.url));

/** Path prefixes of the APIs: an unknown path under them is a JSON 404, never the dashboard's index.html. */
const API_PATHS = ['/tasks', '/jobs', '/v1', '/hearth', '/storage', '/docs', '/openapi.json', '/metrics', '/settings', '/info', '/versions', '/profiles', '/carbon', '/snapshots', '/pools'];

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** The dashboard's files last read, by path: read again only when their size or time changes (a rebuild). */
const webFiles = new Map<string, { body: Buffer; etag: string; key: string }>();

/** A regular file's bytes and validator, or undefined. */
async function fileOf(path: string): Promise<{ body: Buffer; etag: string } | undefined> {
  try {
    const st = await stat(path);
    if (!st.isFile()) return undefined;
    const key = `${st.size}-${st.mtimeMs}`;
    const known = webFiles.get(path);
    if (known?.key === key) return known;
    const file = { body: await readFile(path), etag: `W/"${st.size.toString(16)}-${Math.round(st.mtimeMs).toString(16)}"`, key };
    if (webFiles.size > 256) webFiles.clear();
    webFiles.set(path, file);
    return file;
  } catch {
    return undefined;
  }
}

/**
 * Answers a GET/HEAD that no route matched from the dashboard's build: the file at that path, or index.html for
 * a page navigation outside the API paths (the client's routes). Returns false when it did not answer.
 */
async function serveWeb(webDir: string, req: FastifyRequest, reply: FastifyReply): Promise<boolean> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  let path: string;
  try {
    path = decodeURIComponent(req.url.split('?')[0]);
  } catch {
    return false;
  }
  if (path.includes('\u0000')) return false;
  const target = resolve(webDir, '.' + path);
  if (target !== webDir && !target.startsWith(webDir + sep)) return false;
  const api = API_PATHS.some((p) => path === p || path.startsWith(p + '/') || path.startsWith(p + '?'));
  let found = api || path.endsWith('/') ? undefined : await fileOf(target);
  let file = target;
  if (!found && !api) {
    const accept = String(req.headers.accept ?? '');
    if (path !== '/' && !accept.includes('text/html')) return false;
    file = resolve(webDir, 'index.html');
    found = await fileOf(file);
  }
  if (!found) return false;
  // Vite's assets carry their content's hash in their names: cached for good. The rest (index.html) is
  // revalidated at each load, answered 304 while unchanged.
  const immutable = path.startsWith('/assets/');
  void reply
    .header('content-type', CONTENT_TYPES[extname(file)] ?? 'application/octet-stream')
    .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
    .header('etag', found.etag)
    .header('x-content-type-options', 'nosniff');
  if (String(req.headers['if-none-match'] ?? '').split(/\s*,\s*/).includes(found.etag)) void reply.code(304).send();
  else void reply.code(200).send(found.body);
  return true;
}

/** Default per-token budget. */
export const DEFAULT_RATE_LIMIT: RateLimitOptions = { perSecond: 2000, burst: 4000 };

/** The API version prefix every compute route is also served under. */
export const API_PREFIXES = ['', '/v1'] as const;

/**
 * Builds the coordinator's Fastify app (not listening: call `listen` or use `inject`). The caller owns the store.
 */
export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const clock = options.clock ?? Date.now;
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 16 * 1024 * 1024,
    // Qarnot ids are case-sensitive and paths short: keep defaults otherwise.
    routerOptions: { ignoreTrailingSlash: true },
    // close() ends every connection, idle keep-alives and event streams included (a restart must not wait for them).
    forceCloseConnections: true,
  });
  await app.register(metricsPlugin, metricsPluginOptions(options.metrics, options.store)); // first: its hooks see every route and the 404s
  app.setValidatorCompiler(validatorCompiler);
  app.setErrorHandler(errorHandler);
  const webDir = options.webDir === false ? undefined : resolve(options.webDir ?? DEFAULT_WEB_DIR);
  app.setNotFoundHandler(async (req, reply) => {
    // The dashboard answers only what no route matched, so it never shadows an API route.
    if (webDir !== undefined && (await serveWeb(webDir, req, reply))) return reply;
    return reply.code(404).send({ message: `no route ${req.method} ${req.url.split('?')[0]}`, code: 'NOT_FOUND' } satisfies ApiErrorBody);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'hearth compute API', version: 'v1', description: 'Wire-compatible with the core of Qarnot Computing\'s REST API.' },
      components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
      security: [{ token: [] }],
    },
  });
  // Document each route once (the unversioned path); the /v1 copies are hidden.
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/v1/')) route.schema = { ...(route.schema ?? {}), hide: true };
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());

  const ctx: ApiContext = {
    store: options.store,
    clock,
    storageUrl: options.storageUrl ?? ((req) => `${req.protocol}://${req.host}/storage`),
    sealKey: options.sealKey,
  };
  const limiter = options.rateLimit === false ? null : new RateLimiter(options.rateLimit ?? DEFAULT_RATE_LIMIT, clock);

  await app.register(async (api) => {
    api.decorateRequest('caller', null);
    // An empty body with a JSON content type means "no body" (SDKs send it on POST …/abort).
    const json = api.getDefaultJsonParser('error', 'error');
    api.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
      if (typeof body === 'string' && body.trim() === '') done(null, undefined);
      else void json(req, body as string, done);
    });
    api.addHook('onRequest', async (req, reply) => {
      const presented = tokenFromHeader(req.headers.authorization);
      if (limiter) {
        const wait = limiter.take(presented === undefined ? `ip:${req.ip}` : `t:${presented}`);
        if (wait > 0) {
          void reply.header('retry-after', String(wait));
          throw new HttpError('RATE_LIMITED', 'too many requests: slow down');
        }
      }
      if (req.routeOptions.config.public) return;
      if (presented === undefined) throw new HttpError('UNAUTHORIZED', 'missing token: send "Authorization: <token>"');
      const found = await authenticate(options.store, presented);
      if (!found) throw new HttpError('UNAUTHORIZED', 'invalid token');
      req.caller = found;
    });
    for (const prefix of API_PREFIXES) {
      await api.register(metaRoutes, { ...ctx, prefix });
      await api.register(taskRoutes, { ...ctx, events: options.events, prefix });
      await api.register(jobRoutes, { ...ctx, events: options.events, prefix });
      await api.register(carbonRoutes, { ...ctx, carbon: options.carbon, prefix });
      await api.register(snapshotRoutes, { ...ctx, prefix });
    }
    await api.register(accountRoutes, { ...ctx, events: options.events, prefix: '/hearth/v1' });
    await api.register(integrationRoutes, { ...ctx, events: options.events, prefix: '/hearth/v1' });
    if (options.blobDir) await api.register(deviceFileRoutes, { ...ctx, blobDir: options.blobDir, prefix: '/hearth/v1/device' });
    const simsDir = options.simsDir ?? (options.blobDir ? join(dirname(options.blobDir), 'sims') : undefined);
    if (simsDir) await api.register(simRoutes, { ...ctx, events: options.events, simsDir, prefix: '/hearth/v1' });
    await api.register(platformRoutes, { ...ctx, events: options.events ?? new EventHub(), prefix: '/hearth/v1' });
  });

  for (const p of options.plugins ?? []) await app.register(p.plugin, p.options ?? {});
  return app;
}

/** The one error handler: every failure becomes `{message, code, field?}`; never a stack trace. */
function errorHandler(this: FastifyInstance, err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): void {
  const send = (status: number, body: ApiErrorBody): void => {
    void reply.code(status).type('application/json; charset=utf-8').send(body);
  };
  if (err instanceof HttpError) {
    send(err.status, err.field === undefined ? { message: err.message, code: err.code } : { message: err.message, code: err.code, field: err.field });
    return;
  }
  const fe = err as FastifyError & { validation?: AjvErrorLike[]; validationContext?: string };
  if (Array.isArray(fe.validation) && fe.validation.length > 0) {
    const first = fe.validation[0];
    send(400, { message: messageOf(first, fe.validationContext ?? 'body'), code: 'VALIDATION', field: fieldOf(first) });
    return;
  }
  if (err instanceof StoreConflictError) {
    send(409, { message: err.message, code: 'CONFLICT', field: err.field });
    return;
  }
  if (err instanceof StoreInputError) {
    send(400, { message: err.message, code: 'VALIDATION', field: err.field });
    return;
  }
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    // Fastify's own client errors (bad JSON, 413, 415…): their messages describe the request, not our internals.
    send(status, { message: fe.message, code: codeForStatus(status) });
    return;
  }
  req.log.error({ err }, 'unhandled error');
  send(ERROR_CODES.INTERNAL.status, { message: 'internal error', code: 'INTERNAL' });
}
