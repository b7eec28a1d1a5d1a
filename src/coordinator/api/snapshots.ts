// Snapshots of running instances: `POST /tasks/{uuid}/snapshot` (one-off) and `/snapshot/periodic` record the
// request on the task; the live loop sees it and has each device holding a running instance upload the instance's
// working directory (filtered) to the bucket.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { UuidParams } from '../../protocol/common.ts';
import { ApiErrorSchema } from '../../protocol/errors.ts';
import { isActiveState } from '../../protocol/task-state.ts';
import { SnapshotSchema, type SnapshotRequest } from '../../protocol/tasks.ts';
import { callerOf, type ApiContext } from './context.ts';
import { emptyOk, HttpError, invalid, notFound } from './http-error.ts';
import { bodyOf } from './task-view.ts';

/** What the task's status keeps of a snapshot request (read by the live loop). */
export interface SnapshotOrder {
  /** Grows with every one-off request (the loop acts once per value). */
  seq: number;
  requestedAt: number;
  bucket: string;
  prefix: string;
  whitelist: string | null;
  blacklist: string | null;
  /** Periodic orders only: seconds between snapshots. */
  intervalS?: number;
}

/** The snapshot orders a task's status holds. */
export function snapshotOrders(status: unknown): { once?: SnapshotOrder; periodic?: SnapshotOrder } {
  const s = (status && typeof status === 'object' ? status : {}) as Record<string, unknown>;
  return { once: s.snapshot as SnapshotOrder | undefined, periodic: s.snapshotPeriodic as SnapshotOrder | undefined };
}

function checkRegex(field: string, source: string | null | undefined): string | null {
  if (source === undefined || source === null || source === '') return null;
  try {
    new RegExp(source);
  } catch (e) {
    throw invalid(field, `not a valid regular expression: ${(e as Error).message}`);
  }
  return source;
}

/** Snapshot routes (mounted with the compute API, unversioned and under /v1). */
export const snapshotRoutes: FastifyPluginAsync<ApiContext> = (base, ctx) => {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  const schema = { tags: ['tasks'], params: UuidParams, body: Type.Union([SnapshotSchema, Type.Null()]), response: { 400: ApiErrorSchema, 404: ApiErrorSchema, 409: ApiErrorSchema } };
  const order = async (accountId: string, uuid: string, body: SnapshotRequest, periodic: boolean): Promise<void> => {
    await ctx.store.transaction(async (tx) => {
      const task = await tx.getTask(accountId, uuid);
      if (!task) throw notFound(`task ${uuid}`);
      if (!isActiveState(task.state)) throw new HttpError('INVALID_STATE', `task is ${task.state}: only a live task can be snapshotted`);
      if (periodic && body.interval === undefined) throw invalid('interval', 'interval (seconds) is required for a periodic snapshot');
      const bucket = body.bucket ?? bodyOf(task).resultBucket ?? null;
      if (!bucket) throw invalid('bucket', 'give a bucket: the task has no result bucket');
      const status = (task.status && typeof task.status === 'object' ? task.status : {}) as Record<string, unknown>;
      const prev = snapshotOrders(status);
      const o: SnapshotOrder = {
        seq: (prev.once?.seq ?? 0) + (periodic ? 0 : 1),
        requestedAt: ctx.clock(),
        bucket,
        prefix: body.bucketPrefix ?? '',
        whitelist: checkRegex('whitelist', body.whitelist),
        blacklist: checkRegex('blacklist', body.blacklist),
      };
      const next = periodic ? { ...status, snapshotPeriodic: { ...o, intervalS: body.interval } } : { ...status, snapshot: o };
      await tx.updateTask(accountId, uuid, { status: next });
    });
  };
  app.post('/tasks/:uuid/snapshot', { schema: { ...schema, summary: 'Upload the running instances\' working directories now' } }, async (req, reply) => {
    await order(callerOf(req).account.id, req.params.uuid, req.body ?? {}, false);
    return emptyOk(reply);
  });
  app.post('/tasks/:uuid/snapshot/periodic', { schema: { ...schema, summary: 'Upload the running instances\' working directories every `interval` s' } }, async (req, reply) => {
    await order(callerOf(req).account.id, req.params.uuid, req.body ?? {}, true);
    return emptyOk(reply);
  });
  return Promise.resolve();
};
