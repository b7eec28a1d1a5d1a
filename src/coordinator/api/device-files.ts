// (ext) The device file routes under /hearth/v1/device: an agent, with its own device token, lists and downloads the
// inputs of an attempt it holds and uploads the attempt's results (and snapshots) into the task owner's buckets.
// Only the device the store says holds the attempt, and only for the attempt now current, gets an answer; anything
// else is a 404 that reveals nothing. Object keys are opaque (never paths here): `../../etc/passwd` is just a key.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AttemptParamsSchema, DeviceInputListSchema, DeviceUploadSchema, MAX_KEY_BYTES, type AttemptParams, type DeviceInput, type DeviceUpload } from '../../protocol/device-files.ts';
import { ApiErrorSchema } from '../../protocol/errors.ts';
import { authenticate, tokenFromHeader } from '../auth/tokens.ts';
import { BlobStore, BlobTooLargeError } from '../s3/blobs.ts';
import { StoreConflictError, SYSTEM, type InstanceState, type Store, type TaskRecord } from '../store/types.ts';
import type { ApiContext } from './context.ts';
import { HttpError, invalid, notFound } from './http-error.ts';
import { snapshotOrders } from './snapshots.ts';
import { bodyOf } from './task-view.ts';

/** What the device file routes take as plugin options. */
export interface DeviceFilesOptions extends ApiContext {
  /** The blob directory of the storage endpoint (inputs are read from it, results written to it). */
  blobDir: string;
  /**
   * The storage endpoint's BlobStore, when the composer can share it: pins then also hold off the endpoint's
   * blob collection while a result is being committed. Default: a store of our own over `blobDir`.
   */
  blobs?: BlobStore;
  /** Largest result or snapshot file, bytes (413 beyond). Default 5 GiB. */
  maxUploadBytes?: number;
  /** Largest checkpoint archive, bytes (413 beyond: the instance then restarts from zero). Default 2 GiB. */
  maxCheckpointBytes?: number;
  /** Where checkpoint archives are kept. Default: `checkpoints` beside the blob directory. */
  checkpointDir?: string;
}

/**
 * Where the live loop records, in an instance's info, the attempt whose checkpoint it ordered and the device that
 * runs it (fleet/loop.ts writes it; the upload route accepts that device and attempt only).
 */
export const CHECKPOINT_INFO_KEY = 'checkpointFrom';

/** The checkpoint the loop awaits for an instance, from its info (undefined when none). */
export function checkpointPointer(info: unknown): { attempt: number; deviceId: string } | undefined {
  const v = info && typeof info === 'object' ? (info as Record<string, unknown>)[CHECKPOINT_INFO_KEY] : undefined;
  if (!v || typeof v !== 'object') return undefined;
  const { attempt, deviceId } = v as Record<string, unknown>;
  return typeof attempt === 'number' && Number.isInteger(attempt) && typeof deviceId === 'string' ? { attempt, deviceId } : undefined;
}

/** Task ids that name a checkpoint directory as they are (the store's uuids). */
const PLAIN_ID = /^[A-Za-z0-9-]{1,64}$/;

/** Where checkpoint archives are kept when nothing else is said: `checkpoints` beside the blob directory. */
export function defaultCheckpointDir(blobDir: string): string {
  return join(dirname(resolve(blobDir)), 'checkpoints');
}

/**
 * The file holding the checkpoint of an attempt of an instance (the routes and the local executor keep them there);
 * the task id must be a plain one (letters, digits, dashes).
 */
export function checkpointFilePath(checkpointDir: string, taskUuid: string, instanceId: number, attempt: number): string {
  if (!PLAIN_ID.test(taskUuid)) throw new Error(`task id ${JSON.stringify(taskUuid)} cannot name a checkpoint directory`);
  return join(checkpointDir, taskUuid, `${instanceId}-${attempt}.ckpt`);
}

/**
 * Stores the checkpoint of an attempt: `write` fills a temporary file of `checkpointDir` (and may throw to refuse
 * it), which is then renamed into place — never a half-written archive under the final name — and the older
 * checkpoints of the instance, superseded, are removed (best effort).
 */
export async function storeCheckpoint(checkpointDir: string, ref: { taskUuid: string; instanceId: number; attempt: number }, write: (tmp: string) => Promise<void>): Promise<void> {
  const file = checkpointFilePath(checkpointDir, ref.taskUuid, ref.instanceId, ref.attempt);
  const tmp = join(checkpointDir, 'tmp', `${randomUUID()}.part`);
  try {
    await mkdir(dirname(tmp), { recursive: true });
    await write(tmp);
    await mkdir(dirname(file), { recursive: true });
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  for (const name of await readdir(join(checkpointDir, ref.taskUuid)).catch(() => [] as string[])) {
    const m = /^(\d+)-(\d+)\.ckpt$/.exec(name);
    if (m && Number(m[1]) === ref.instanceId && Number(m[2]) < ref.attempt) await rm(join(checkpointDir, ref.taskUuid, name), { force: true }).catch(() => undefined);
  }
}

/**
 * The checkpoint of attempt `from` that attempt `attempt` of an instance is to restore: its file and size when
 * stored; `pending` while on its way (the loop awaits it); `none` when there is none to wait for (never ordered,
 * given up — the attempt marked cancelled — or not an earlier attempt).
 */
export async function findCheckpoint(
  store: Store,
  checkpointDir: string,
  ref: { taskUuid: string; instanceId: number; attempt: number },
  from: number,
): Promise<{ file: string; size: number } | 'pending' | 'none'> {
  if (from >= ref.attempt || !PLAIN_ID.test(ref.taskUuid)) return 'none';
  const file = checkpointFilePath(checkpointDir, ref.taskUuid, ref.instanceId, from);
  const st = await stat(file).catch(() => null);
  if (st?.isFile()) return { file, size: st.size };
  const attempts = await store.listAttempts(SYSTEM, ref.taskUuid, ref.instanceId);
  const earlier = attempts.find((x) => x.attempt === from);
  const inst = await store.getInstance(SYSTEM, ref.taskUuid, ref.instanceId);
  if (!earlier || earlier.state === 'cancelled' || checkpointPointer(inst?.info)?.attempt !== from) return 'none';
  return 'pending';
}
/** How often checkpoint directories of finished or deleted tasks are swept, ms. */
const CHECKPOINT_SWEEP_MS = 10 * 60_000;

/** States in which an attempt is still the device's to work on. */
const LIVE: ReadonlySet<InstanceState> = new Set(['dispatched', 'running', 'paused', 'overflow']);

const KeyParams = Type.Object({ '*': Type.String() });
const InputParams = Type.Intersect([AttemptParamsSchema, Type.Object({ bucket: Type.String({ minLength: 1, maxLength: 255 }) }), KeyParams]);
const ResultParams = Type.Intersect([AttemptParamsSchema, KeyParams]);
const RestoreParams = Type.Intersect([AttemptParamsSchema, Type.Object({ from: Type.Integer({ minimum: 1 }) })]);

/** An attempt the caller may work on: its task and the task owner (whose buckets are read and written). */
interface HeldAttempt {
  task: TaskRecord;
  owner: string;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Checks an object key: 1–1024 UTF-8 bytes, no NUL, well-formed Unicode. */
function checkKey(key: string): string {
  if (key === '') throw invalid('key', 'the object key is empty');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw invalid('key', `the object key is over ${MAX_KEY_BYTES} bytes`);
  if (key.includes('\0') || LONE_SURROGATE.test(key)) throw invalid('key', 'the object key holds a NUL or a lone surrogate');
  return key;
}

/**
 * The routes; register inside the authenticated API context with a prefix, e.g.
 * `api.register(deviceFileRoutes, { ...ctx, blobDir, prefix: '/hearth/v1/device' })`. Registered outside it (no
 * auth hook ran), the plugin authenticates the `Authorization` token itself.
 */
export const deviceFileRoutes: FastifyPluginAsync<DeviceFilesOptions> = async (base, opts) => {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  const store: Store = opts.store;
  const blobs = opts.blobs ?? new BlobStore(opts.blobDir);
  // The blob store's temp directory (not init(): that would sweep the storage endpoint's uploads in progress).
  await mkdir(join(blobs.dir, 'tmp'), { recursive: true });
  const maxUpload = opts.maxUploadBytes ?? 5 * 1024 ** 3;
  const maxCheckpoint = opts.maxCheckpointBytes ?? 2 * 1024 ** 3;
  const checkpointDir = resolve(opts.checkpointDir ?? defaultCheckpointDir(blobs.dir));
  await mkdir(join(checkpointDir, 'tmp'), { recursive: true });
  let lastSweep = Date.now();
  /** Removes the checkpoints of tasks that ended or are gone (best effort). */
  const sweepCheckpoints = async (): Promise<void> => {
    for (const name of await readdir(checkpointDir)) {
      if (name === 'tmp' || !PLAIN_ID.test(name)) continue;
      const task = await store.getTask(SYSTEM, name);
      if (!task || task.state === 'Success' || task.state === 'Failure' || task.state === 'Cancelled') await rm(join(checkpointDir, name), { recursive: true, force: true });
    }
  };

  // Upload bodies stay unread until the handler streams them into a blob.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));

  app.addHook('onRequest', async (req) => {
    if (req.caller) return;
    const presented = tokenFromHeader(req.headers.authorization);
    if (presented === undefined) throw new HttpError('UNAUTHORIZED', 'missing token: send "Authorization: <token>"');
    const found = await authenticate(store, presented);
    if (!found) throw new HttpError('UNAUTHORIZED', 'invalid token');
    req.caller = found;
  });

  /** The attempt of the path, if the caller is the device holding it now; a 404 otherwise. */
  const held = async (req: FastifyRequest, p: AttemptParams): Promise<HeldAttempt> => {
    const account = req.caller?.account;
    const deviceId = account?.role === 'device' ? account.scope.deviceId : undefined;
    const gone = notFound(`attempt ${p.attempt} of instance ${p.instanceId} of task ${p.taskUuid}`);
    if (!deviceId) throw gone;
    const inst = await store.getInstance(SYSTEM, p.taskUuid, p.instanceId);
    if (!inst || inst.heaterId !== deviceId || inst.attempt !== p.attempt || !LIVE.has(inst.state)) throw gone;
    const task = await store.getTask(SYSTEM, p.taskUuid);
    if (!task) throw gone;
    return { task, owner: task.accountId };
  };

  const resourceBuckets = (task: TaskRecord): string[] => (bodyOf(task).resourceBuckets ?? []).filter((b): b is string => typeof b === 'string');

  /** Makes sure the owner has the bucket (created when missing); 409 when the name belongs to another account. */
  const ensureBucket = async (owner: string, bucket: string): Promise<void> => {
    if (await store.getBucket(owner, bucket)) return;
    try {
      await store.createBucket({ name: bucket, accountId: owner });
    } catch (e) {
      if (!(e instanceof StoreConflictError)) throw e;
      if (!(await store.getBucket(owner, bucket))) throw new HttpError('CONFLICT', `bucket ${bucket} is taken by another account`, 'bucket');
    }
  };

  /** Streams the request body into a blob and records it as `key` in the owner's `bucket`. */
  const store1 = async (req: FastifyRequest, owner: string, bucket: string, key: string): Promise<DeviceUpload> => {
    const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    if (declared !== undefined && declared > maxUpload) throw new HttpError('TOO_LARGE', `the file is over ${maxUpload} bytes`);
    let written;
    try {
      written = await blobs.write(req.raw, { maxBytes: maxUpload });
    } catch (e) {
      if (e instanceof BlobTooLargeError) throw new HttpError('TOO_LARGE', `the file is over ${maxUpload} bytes`);
      throw e;
    }
    try {
      if (declared !== undefined && written.size !== declared) throw new HttpError('BAD_REQUEST', `received ${written.size} bytes of the ${declared} announced`);
      await ensureBucket(owner, bucket);
      const r = await store.putObject(owner, { bucket, key, size: written.size, etag: written.md5, blobHash: written.hash, contentType: 'application/octet-stream' });
      if (!r) throw new HttpError('UNAVAILABLE', `bucket ${bucket} vanished: try again`);
      if (r.previous && r.previous.blobHash !== written.hash) await blobs.deleteIfUnreferenced(r.previous.blobHash, (h) => store.isBlobReferenced(h));
      // A collector holding another BlobStore may have removed identical content in the meantime: writing again
      // (the device retries on 503) puts the bytes back under the same address.
      if ((await blobs.size(written.hash)) === undefined) throw new HttpError('UNAVAILABLE', 'the stored file went missing: send it again');
    } finally {
      written.release();
    }
    return { bucket, key, size: written.size, etag: written.md5 };
  };

  const errors = { 400: ApiErrorSchema, 401: ApiErrorSchema, 404: ApiErrorSchema, 409: ApiErrorSchema };
  const tags = ['devices'];

  app.get(
    '/assignments/:taskUuid/:instanceId/:attempt/inputs',
    { schema: { tags, summary: '(ext) The input objects of an attempt this device holds', params: AttemptParamsSchema, response: { 200: DeviceInputListSchema, ...errors } } },
    async (req) => {
      const { task, owner } = await held(req, req.params);
      const out: DeviceInput[] = [];
      for (const bucket of resourceBuckets(task)) {
        let token: string | undefined;
        do {
          const page = await store.listObjects(owner, bucket, { continuationToken: token });
          if (!page) throw new HttpError('INVALID_STATE', `resource bucket ${bucket} does not exist`, 'resourceBuckets');
          for (const o of page.objects) out.push({ bucket, key: o.key, size: o.size, etag: o.etag });
          token = page.nextContinuationToken ?? undefined;
        } while (token);
      }
      return out;
    },
  );

  app.get(
    '/assignments/:taskUuid/:instanceId/:attempt/inputs/:bucket/*',
    { schema: { tags, summary: '(ext) The bytes of one input object (application/octet-stream)', params: InputParams } },
    async (req, reply) => {
      const { task, owner } = await held(req, req.params);
      const key = req.params['*'];
      const bucket = req.params.bucket;
      const missing = notFound(`input ${JSON.stringify(key)} of bucket ${bucket}`);
      if (!resourceBuckets(task).includes(bucket)) throw missing;
      const obj = await store.getObject(owner, bucket, key);
      if (!obj) throw missing;
      const stream = await blobs.read(obj.blobHash);
      return reply.header('content-length', String(obj.size)).header('etag', `"${obj.etag}"`).type('application/octet-stream').send(stream);
    },
  );

  app.put(
    '/assignments/:taskUuid/:instanceId/:attempt/results/*',
    { schema: { tags, summary: '(ext) Store one result file in the task\'s result bucket', params: ResultParams, response: { 200: DeviceUploadSchema, 413: ApiErrorSchema, ...errors } } },
    async (req) => {
      const { task, owner } = await held(req, req.params);
      const key = checkKey(req.params['*']);
      const bucket = bodyOf(task).resultBucket;
      if (typeof bucket !== 'string' || bucket === '') throw new HttpError('INVALID_STATE', 'the task has no result bucket', 'resultBucket');
      return store1(req, owner, bucket, key);
    },
  );

  app.put(
    '/assignments/:taskUuid/:instanceId/:attempt/snapshots/:bucket/*',
    { schema: { tags, summary: '(ext) Store one snapshot file in a bucket the task\'s snapshot order names', params: InputParams, response: { 200: DeviceUploadSchema, 413: ApiErrorSchema, ...errors } } },
    async (req) => {
      const { task, owner } = await held(req, req.params);
      const key = checkKey(req.params['*']);
      const bucket = req.params.bucket;
      const { once, periodic } = snapshotOrders(task.status);
      const allowed = new Set([bodyOf(task).resultBucket, once?.bucket, periodic?.bucket].filter((b): b is string => typeof b === 'string' && b !== ''));
      if (!allowed.has(bucket)) throw notFound(`bucket ${bucket}`);
      return store1(req, owner, bucket, key);
    },
  );

  app.put(
    '/assignments/:taskUuid/:instanceId/:attempt/checkpoint',
    {
      schema: {
        tags,
        summary: '(ext) Store the checkpoint of an attempt this device was told to stop for a move (checkpointable tasks)',
        params: AttemptParamsSchema,
        response: { 200: Type.Object({ size: Type.Integer({ minimum: 0 }) }), 413: ApiErrorSchema, ...errors },
      },
    },
    async (req) => {
      const p = req.params;
      const account = req.caller?.account;
      const deviceId = account?.role === 'device' ? account.scope.deviceId : undefined;
      const gone = notFound(`checkpoint of attempt ${p.attempt} of instance ${p.instanceId} of task ${p.taskUuid}`);
      if (!deviceId || !PLAIN_ID.test(p.taskUuid)) throw gone;
      // Only the device the loop told to checkpoint this attempt, while the instance is not over.
      const inst = await store.getInstance(SYSTEM, p.taskUuid, p.instanceId);
      const ptr = checkpointPointer(inst?.info);
      if (!inst || !ptr || ptr.attempt !== p.attempt || ptr.deviceId !== deviceId || inst.state === 'success' || inst.state === 'failure' || inst.state === 'cancelled') throw gone;
      const task = await store.getTask(SYSTEM, p.taskUuid);
      if (!task || task.checkpoint !== 'snapshot') throw gone;
      const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
      if (declared !== undefined && declared > maxCheckpoint) throw new HttpError('TOO_LARGE', `the checkpoint is over ${maxCheckpoint} bytes`);
      let size = 0;
      const limit = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          size += chunk.length;
          if (size > maxCheckpoint) cb(new HttpError('TOO_LARGE', `the checkpoint is over ${maxCheckpoint} bytes`));
          else cb(null, chunk);
        },
      });
      try {
        // Older checkpoints of the instance are superseded (storeCheckpoint removes them).
        await storeCheckpoint(checkpointDir, p, async (tmp) => {
          await pipeline(req.raw, limit, createWriteStream(tmp, { mode: 0o600 }));
          if (declared !== undefined && size !== declared) throw new HttpError('BAD_REQUEST', `received ${size} bytes of the ${declared} announced`);
        });
      } catch (e) {
        if (e instanceof HttpError) throw e;
        throw new HttpError('UNAVAILABLE', `checkpoint not stored: ${(e as Error).message}: send it again`);
      }
      if (Date.now() - lastSweep >= CHECKPOINT_SWEEP_MS) {
        lastSweep = Date.now();
        void sweepCheckpoints().catch(() => undefined);
      }
      return { size };
    },
  );

  app.get(
    '/assignments/:taskUuid/:instanceId/:attempt/checkpoint/:from',
    {
      schema: {
        tags,
        summary: '(ext) The checkpoint of an earlier attempt of an instance, for the attempt this device holds (503: not arrived yet; 404: there is none)',
        params: RestoreParams,
      },
    },
    async (req, reply) => {
      const p = req.params;
      await held(req, p);
      // Not here: on its way, unless the loop gave it up (the attempt marked cancelled) or never ordered it.
      const found = await findCheckpoint(store, checkpointDir, p, p.from);
      if (found === 'none') throw notFound(`checkpoint of attempt ${p.from}`);
      if (found === 'pending') throw new HttpError('UNAVAILABLE', `the checkpoint of attempt ${p.from} has not arrived yet`);
      return reply.header('content-length', String(found.size)).type('application/octet-stream').send(createReadStream(found.file));
    },
  );
};
