// Task routes of the compute API: create (single and bulk), list, summaries, paginate, search, get, update,
// delete, abort, retry/recover/resume, clone, stdout/stderr whole and fresh (whole task or one instance).
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ApiErrorSchema } from '../../protocol/errors.ts';
import { UuidParams } from '../../protocol/common.ts';
import {
  BulkEntrySchema,
  InstanceParams,
  PaginateSchema,
  SearchSchema,
  TaskCloneSchema,
  TaskCreateBodySchema,
  TaskCreateSchema,
  TaskListQuery,
  TaskOutputSchema,
  TaskPageSchema,
  TaskSummarySchema,
  TaskUpdateSchema,
  UuidResponse,
  type BulkEntry,
  type TaskCreate,
  type TaskOutput,
} from '../../protocol/tasks.ts';
import { StoreConflictError, SYSTEM, type Account, type NewTask, type OutputStream, type TaskFilter, type TaskRecord } from '../store/types.ts';
import { callerOf, type ApiContext } from './context.ts';
import { emptyOk, HttpError, notFound } from './http-error.ts';
import { DEFAULT_QUOTAS } from './meta.ts';
import { readAllFresh, readAllOutput, prefixedLines, rawText } from './output.ts';
import { abortTask, announceTaskChange, buildTask, checkCanCreate, mergeConstants, needsLookups, prepareTask, quotaError, relaunchTask, updateTask, RELAUNCH } from './task-ops.ts';
import { taskFilterOf, taskOrderOf } from './task-filter.ts';
import { bodyOf, taskOutput, taskSummary, viewCacheOf } from './task-view.ts';
import { compileBody, firstError } from './validation.ts';

const validateTaskCreate = compileBody(TaskCreateSchema);
/** The content type fastify gives JSON answers (a string sent with it goes out as is). */
const JSON_UTF8 = 'application/json; charset=utf-8';
/** Sends JSON already serialized (fastify sends a string with a JSON content type as is). */
function sendJson(reply: FastifyReply, json: string): FastifyReply {
  return reply.type(JSON_UTF8).send(json);
}
/** Most tasks a plain `GET /tasks` returns (paginate for more). */
const LIST_CAP = 10_000;

/** The full view of a task (reads its instances). */
export async function viewTask(ctx: ApiContext, accountId: string, task: TaskRecord): Promise<TaskOutput> {
  const instances = await ctx.store.listInstances(accountId, { taskUuid: task.uuid });
  return taskOutput(task, instances);
}

async function listAll(ctx: ApiContext, accountId: string, filter: TaskFilter): Promise<TaskRecord[]> {
  const out: TaskRecord[] = [];
  let pageToken: string | null = null;
  do {
    const page = await ctx.store.listTasks(accountId, { filter, limit: 1000, pageToken });
    out.push(...page.items);
    pageToken = page.nextToken;
  } while (pageToken !== null && out.length < LIST_CAP);
  return out.slice(0, LIST_CAP);
}

function maxTaskOf(account: Account): number {
  return account.quotas.maxTask ?? DEFAULT_QUOTAS.maxTask;
}

/** Creates one validated task for the account. */
async function createOne(ctx: ApiContext, account: Account, body: TaskCreate): Promise<TaskRecord> {
  const maxTask = maxTaskOf(account);
  checkCanCreate(account, 1, maxTask);
  const nt = await prepareTask(ctx.store, account, body);
  try {
    return await ctx.store.createTask({ ...nt, creationDate: ctx.clock(), maxAccountTasks: maxTask });
  } catch (e) {
    throw quotaError(e) ?? e;
  }
}

function entryOfError(e: unknown): BulkEntry {
  if (e instanceof HttpError) return { statusCode: e.status, message: e.message, code: e.code, ...(e.field === undefined ? {} : { field: e.field }) };
  if (e instanceof StoreConflictError) return { statusCode: 409, message: e.message, code: 'CONFLICT', field: e.field };
  throw e;
}

/** Task routes (mounted unversioned and under /v1). */
export const taskRoutes: FastifyPluginAsync<ApiContext> = (base, ctx) => {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  const errors = { 400: ApiErrorSchema, 401: ApiErrorSchema, 402: ApiErrorSchema, 403: ApiErrorSchema, 404: ApiErrorSchema, 409: ApiErrorSchema };
  const tags = ['tasks'];

  app.post(
    '/tasks',
    {
      schema: {
        tags,
        summary: 'Create and submit a task (an array body creates several: 207 with one entry each)',
        body: TaskCreateBodySchema,
        response: { 201: UuidResponse, 207: Type.Array(BulkEntrySchema), ...errors },
      },
    },
    async (req, reply) => {
      const { account } = callerOf(req);
      if (!Array.isArray(req.body)) {
        const task = await createOne(ctx, account, req.body);
        return reply.code(201).send({ uuid: task.uuid });
      }
      const entries: Array<BulkEntry | undefined> = [];
      const ready: Array<{ index: number; task: NewTask }> = [];
      const maxTask = maxTaskOf(account);
      checkCanCreate(account, req.body.length, maxTask);
      const creationDate = ctx.clock();
      for (const [index, raw] of req.body.entries()) {
        const bad = firstError(validateTaskCreate, raw);
        if (bad) {
          entries.push({ statusCode: 400, message: bad.message, code: 'VALIDATION', field: bad.field });
          continue;
        }
        try {
          const body = raw as TaskCreate;
          // Most entries need no lookup: built synchronously (a hundred awaits per request otherwise).
          const task = needsLookups(body) ? await prepareTask(ctx.store, account, body) : buildTask(account, body);
          task.creationDate = creationDate;
          task.maxAccountTasks = maxTask;
          ready.push({ index, task });
          entries.push(undefined);
        } catch (e) {
          entries.push(entryOfError(e));
        }
      }
      let created: Awaited<ReturnType<typeof ctx.store.createTasks>> = [];
      try {
        if (ready.length > 0) created = await ctx.store.createTasks(ready.map((r) => r.task));
      } catch (e) {
        throw quotaError(e) ?? e;
      }
      created.forEach((res, k) => {
        entries[ready[k].index] = res instanceof StoreConflictError ? entryOfError(res) : { statusCode: 201, uuid: res.uuid };
      });
      return reply.code(207).send(entries as BulkEntry[]);
    },
  );

  app.get('/tasks', { schema: { tags, querystring: TaskListQuery, response: { 200: Type.Array(TaskOutputSchema), ...errors } } }, async (req) => {
    const { account } = callerOf(req);
    const tagsAll = req.query.tag ? req.query.tag.split(',').filter((t) => t !== '') : undefined;
    const tasks = await listAll(ctx, account.id, tagsAll ? { tagsAll } : {});
    return Promise.all(tasks.map((t) => viewTask(ctx, account.id, t)));
  });

  app.get('/tasks/summaries', { schema: { tags, querystring: TaskListQuery, response: { 200: Type.Array(TaskSummarySchema), ...errors } } }, async (req) => {
    const { account } = callerOf(req);
    const tagsAll = req.query.tag ? req.query.tag.split(',').filter((t) => t !== '') : undefined;
    const tasks = await listAll(ctx, account.id, tagsAll ? { tagsAll } : {});
    return Promise.all(tasks.map(async (t) => taskSummary(t, await ctx.store.summarizeInstances(account.id, t.uuid))));
  });

  app.post('/tasks/paginate', { schema: { tags, body: Type.Union([PaginateSchema, Type.Null()]), response: { 200: TaskPageSchema, ...errors } } }, async (req) => {
    const { account } = callerOf(req);
    const body = req.body ?? {};
    const filter = taskFilterOf(body.filter);
    const order = taskOrderOf(body.orderBy, body.orderType);
    const page = await ctx.store.listTasks(account.id, { filter, ...order, limit: body.maximumResults ?? 50, pageToken: body.token ?? null });
    const [data, count] = await Promise.all([Promise.all(page.items.map((t) => viewTask(ctx, account.id, t))), ctx.store.countTasks(account.id, filter)]);
    return { data, nextToken: page.nextToken, isTruncated: page.nextToken !== null, count };
  });

  app.post('/tasks/search', { schema: { tags, body: Type.Union([SearchSchema, Type.Null()]), response: { 200: Type.Array(TaskOutputSchema), ...errors } } }, async (req) => {
    const { account } = callerOf(req);
    const body = req.body ?? {};
    const page = await ctx.store.listTasks(account.id, { filter: taskFilterOf(body.filter), limit: body.maximumResults ?? 1000 });
    return Promise.all(page.items.map((t) => viewTask(ctx, account.id, t)));
  });

  // The hot read of a polling client: answered from the serialized view while the task is unchanged (see
  // TaskViewCache; the store tells it about every write to the task or its instances).
  const views = viewCacheOf(ctx.store);
  app.get('/tasks/:uuid', { schema: { tags, params: UuidParams, response: { 200: TaskOutputSchema, ...errors } } }, async (req, reply) => {
    const { account } = callerOf(req);
    const uuid = req.params.uuid;
    const kept = views.get(uuid, account.id);
    if (kept !== undefined) return sendJson(reply, kept);
    const ticket = views.begin(uuid, account.id);
    const task = await ctx.store.getTask(account.id, uuid);
    if (!task) {
      views.cancel(uuid, ticket);
      throw notFound(`task ${uuid}`);
    }
    // The route's own compiled serializer (what fastify would run on the object): the same bytes as before.
    const serialize = reply.getSerializationFunction('200') as (view: TaskOutput) => string;
    // The task is the caller's (read scoped above): its instances need no second ownership check (no join).
    const json = serialize(taskOutput(task, await ctx.store.listInstances(SYSTEM, { taskUuid: uuid })));
    views.put(uuid, ticket, json);
    return sendJson(reply, json);
  });

  app.put('/tasks/:uuid', { schema: { tags, params: UuidParams, body: TaskUpdateSchema, response: { 200: TaskOutputSchema, ...errors } } }, async (req) => {
    const { account } = callerOf(req);
    const task = await updateTask(ctx.store, account.id, req.params.uuid, req.body);
    return viewTask(ctx, account.id, task);
  });

  app.delete('/tasks/:uuid', { schema: { tags, params: UuidParams, response: { 404: ApiErrorSchema } } }, async (req, reply) => {
    const { account } = callerOf(req);
    await abortTask(ctx.store, account.id, req.params.uuid, ctx.clock());
    if (!(await ctx.store.deleteTask(account.id, req.params.uuid))) throw notFound(`task ${req.params.uuid}`);
    return emptyOk(reply);
  });

  app.post('/tasks/:uuid/abort', { schema: { tags, params: UuidParams, response: { 404: ApiErrorSchema } } }, async (req, reply) => {
    const { account } = callerOf(req);
    const now = ctx.clock();
    const task = await abortTask(ctx.store, account.id, req.params.uuid, now);
    await announceTaskChange(ctx, task, 'abort', now, (m) => req.log.warn(m));
    return emptyOk(reply);
  });

  for (const kind of Object.keys(RELAUNCH) as Array<keyof typeof RELAUNCH>) {
    app.post(`/tasks/:uuid/${kind}`, { schema: { tags, params: UuidParams, response: { 404: ApiErrorSchema, 409: ApiErrorSchema } } }, async (req, reply) => {
      const { account } = callerOf(req);
      const now = ctx.clock();
      const task = await relaunchTask(ctx.store, account.id, req.params.uuid, kind, now);
      await announceTaskChange(ctx, task, 'relaunch', now, (m) => req.log.warn(m));
      return emptyOk(reply);
    });
  }

  app.post(
    '/tasks/:uuid/clone',
    { schema: { tags, params: UuidParams, body: Type.Union([TaskCloneSchema, Type.Null()]), response: { 201: UuidResponse, ...errors } } },
    async (req, reply) => {
      const { account } = callerOf(req);
      const original = await ctx.store.getTask(account.id, req.params.uuid);
      if (!original) throw notFound(`task ${req.params.uuid}`);
      const stored = bodyOf(original);
      const over = req.body ?? {};
      const merged: Record<string, unknown> = { ...stored, shortname: over.shortname ?? null };
      if (over.name) merged.name = over.name;
      if (over.constants) merged.constants = mergeConstants(stored.constants, over.constants);
      if (over.tags) merged.tags = over.tags;
      const bad = firstError(validateTaskCreate, merged);
      if (bad) throw new HttpError('VALIDATION', bad.message, bad.field);
      const task = await createOne(ctx, account, merged as TaskCreate);
      return reply.code(201).send({ uuid: task.uuid });
    },
  );

  for (const stream of ['stdout', 'stderr'] as OutputStream[]) {
    const text = { 200: Type.String(), 401: ApiErrorSchema, 404: ApiErrorSchema };
    app.get(`/tasks/:uuid/${stream}`, { schema: { tags, params: UuidParams, response: text } }, async (req, reply) => {
      const { account } = callerOf(req);
      const chunks = await readAllOutput(ctx.store, account.id, req.params.uuid, stream);
      if (!chunks) throw notFound(`task ${req.params.uuid}`);
      return reply.type('text/plain; charset=utf-8').send(prefixedLines(chunks));
    });
    app.post(`/tasks/:uuid/${stream}`, { schema: { tags, params: UuidParams, response: text } }, async (req, reply) => {
      const { account, token } = callerOf(req);
      const chunks = await readAllFresh(ctx.store, account.id, req.params.uuid, stream, token.id);
      if (!chunks) throw notFound(`task ${req.params.uuid}`);
      return reply.type('text/plain; charset=utf-8').send(prefixedLines(chunks));
    });
    app.get(`/tasks/:uuid/${stream}/:instanceId`, { schema: { tags, params: InstanceParams, response: text } }, async (req, reply) => {
      const { account } = callerOf(req);
      const chunks = await readAllOutput(ctx.store, account.id, req.params.uuid, stream, req.params.instanceId);
      if (!chunks) throw notFound(`task ${req.params.uuid}`);
      return reply.type('text/plain; charset=utf-8').send(rawText(chunks));
    });
    app.post(`/tasks/:uuid/${stream}/:instanceId`, { schema: { tags, params: InstanceParams, response: text } }, async (req, reply) => {
      const { account, token } = callerOf(req);
      const chunks = await readAllFresh(ctx.store, account.id, req.params.uuid, stream, token.id, req.params.instanceId);
      if (!chunks) throw notFound(`task ${req.params.uuid}`);
      return reply.type('text/plain; charset=utf-8').send(rawText(chunks));
    });
  }
  return Promise.resolve();
};
