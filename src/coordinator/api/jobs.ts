// Job routes: create, list, get, terminate (abort its tasks), delete (with ?force=), and the job's tasks.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ApiErrorSchema } from '../../protocol/errors.ts';
import { UuidParams } from '../../protocol/common.ts';
import { JobCreateSchema, JobDeleteQuery, JobOutputSchema, type JobOutput } from '../../protocol/jobs.ts';
import { isFinalState } from '../../protocol/task-state.ts';
import { formatTimeSpan, parseTimeSpan } from '../../protocol/timespan.ts';
import { TaskOutputSchema, UuidResponse } from '../../protocol/tasks.ts';
import type { JobRecord, Store, TaskRecord } from '../store/types.ts';
import { callerOf, iso, type ApiContext } from './context.ts';
import { emptyOk, HttpError, invalid, notFound } from './http-error.ts';
import { abortTask, announceTaskChange } from './task-ops.ts';
import { viewTask } from './tasks.ts';

async function jobTasks(store: Store, accountId: string, jobUuid: string): Promise<TaskRecord[]> {
  const out: TaskRecord[] = [];
  let pageToken: string | null = null;
  do {
    const page = await store.listTasks(accountId, { filter: { jobUuid }, limit: 1000, pageToken });
    out.push(...page.items);
    pageToken = page.nextToken;
  } while (pageToken !== null);
  return out;
}

function jobOutput(job: JobRecord, taskCount: number): JobOutput {
  return {
    uuid: job.uuid,
    name: job.name,
    shortname: job.shortname,
    state: job.state,
    useDependencies: job.useDependencies,
    maxWallTime: job.maxWallTimeSec === null ? null : formatTimeSpan(job.maxWallTimeSec),
    poolUuid: null,
    taskCount,
    creationDate: iso(job.creationDate),
    lastModified: iso(job.lastModified),
    endDate: iso(job.endDate),
  };
}

/** Job routes (mounted unversioned and under /v1). */
export const jobRoutes: FastifyPluginAsync<ApiContext> = (base, ctx) => {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  const errors = { 400: ApiErrorSchema, 401: ApiErrorSchema, 404: ApiErrorSchema, 409: ApiErrorSchema };
  const tags = ['jobs'];

  const getJob = async (accountId: string, uuid: string): Promise<JobRecord> => {
    const job = await ctx.store.getJob(accountId, uuid);
    if (!job) throw notFound(`job ${uuid}`);
    return job;
  };

  app.post('/jobs', { schema: { tags, body: JobCreateSchema, response: { 201: UuidResponse, ...errors } } }, async (req, reply) => {
    const { account } = callerOf(req);
    const b = req.body;
    let maxWallTimeSec: number | null = null;
    if (typeof b.maxWallTime === 'number') maxWallTimeSec = b.maxWallTime;
    else if (typeof b.maxWallTime === 'string') {
      const s = parseTimeSpan(b.maxWallTime);
      if (s === undefined) throw invalid('maxWallTime', 'maxWallTime is a time span "d.hh:mm:ss" or seconds');
      maxWallTimeSec = s;
    }
    const job = await ctx.store.createJob({
      accountId: account.id,
      name: b.name,
      shortname: b.shortname ?? undefined,
      useDependencies: b.useDependencies ?? false,
      maxWallTimeSec,
      body: b,
      creationDate: ctx.clock(),
    });
    return reply.code(201).send({ uuid: job.uuid });
  });

  app.get('/jobs', { schema: { tags, response: { 200: Type.Array(JobOutputSchema), ...errors } } }, async (req) => {
    const { account } = callerOf(req);
    const page = await ctx.store.listJobs(account.id, { limit: 1000 });
    return Promise.all(page.items.map(async (j) => jobOutput(j, await ctx.store.countTasks(account.id, { jobUuid: j.uuid }))));
  });

  app.get('/jobs/:uuid', { schema: { tags, params: UuidParams, response: { 200: JobOutputSchema, ...errors } } }, async (req) => {
    const { account } = callerOf(req);
    const job = await getJob(account.id, req.params.uuid);
    return jobOutput(job, await ctx.store.countTasks(account.id, { jobUuid: job.uuid }));
  });

  app.get('/jobs/:uuid/tasks', { schema: { tags, params: UuidParams, response: { 200: Type.Array(TaskOutputSchema), ...errors } } }, async (req) => {
    const { account } = callerOf(req);
    const job = await getJob(account.id, req.params.uuid);
    const tasks = await jobTasks(ctx.store, account.id, job.uuid);
    return Promise.all(tasks.map((t) => viewTask(ctx, account.id, t)));
  });

  app.post('/jobs/:uuid/terminate', { schema: { tags, params: UuidParams, response: errors } }, async (req, reply) => {
    const { account } = callerOf(req);
    const job = await getJob(account.id, req.params.uuid);
    const now = ctx.clock();
    for (const t of await jobTasks(ctx.store, account.id, job.uuid)) {
      const task = await abortTask(ctx.store, account.id, t.uuid, now);
      await announceTaskChange(ctx, task, 'abort', now, (m) => req.log.warn(m));
    }
    if (job.state === 'Active' || job.state === 'Terminating') await ctx.store.updateJob(account.id, job.uuid, { state: 'Completed', endDate: now });
    return emptyOk(reply);
  });

  app.delete('/jobs/:uuid', { schema: { tags, params: UuidParams, querystring: JobDeleteQuery, response: errors } }, async (req, reply) => {
    const { account } = callerOf(req);
    const job = await getJob(account.id, req.params.uuid);
    const tasks = await jobTasks(ctx.store, account.id, job.uuid);
    const live = tasks.filter((t) => !isFinalState(t.state));
    if (live.length > 0 && !req.query.force) {
      throw new HttpError('INVALID_STATE', `job has ${live.length} unfinished task(s): terminate it first or pass ?force=true`);
    }
    const now = ctx.clock();
    for (const t of tasks) {
      await abortTask(ctx.store, account.id, t.uuid, now);
      await ctx.store.deleteTask(account.id, t.uuid);
    }
    await ctx.store.deleteJob(account.id, job.uuid);
    return emptyOk(reply);
  });
  return Promise.resolve();
};
