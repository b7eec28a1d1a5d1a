// Account-level routes of the compute API: settings, info, versions, profiles and hardware constraints.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { InfoSchema, ProfileParams, ProfileSchema, SettingsSchema, VersionsSchema, type Info } from '../../protocol/account.ts';
import { HardwareConstraintsPage, HardwareConstraintsQuery } from '../../protocol/hardware.ts';
import { ApiErrorSchema } from '../../protocol/errors.ts';
import { callerOf, type ApiContext } from './context.ts';
import { notFound } from './http-error.ts';
import { HARDWARE_CATALOGUE, PROFILES } from './profiles.ts';
import { RUNNING_STATES } from './task-view.ts';

/** Platform defaults for quotas an account does not set. */
export const DEFAULT_QUOTAS = {
  maxTask: 100_000,
  maxRunningTask: 1000,
  maxInstances: 10_000,
  maxCores: 100_000,
  maxBucket: 1000,
  quotaBytesBucket: 100 * 1024 ** 3,
} as const;

/** `/settings`, `/info`, `/versions`, `/profiles`, `/hardware-constraints`. */
export const metaRoutes: FastifyPluginAsync<ApiContext> = (base, ctx) => {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  const errors = { 400: ApiErrorSchema, 401: ApiErrorSchema, 404: ApiErrorSchema };

  app.get('/settings', { schema: { tags: ['account'], response: { 200: SettingsSchema, ...errors } } }, (req) => ({
    storage: typeof ctx.storageUrl === 'function' ? ctx.storageUrl(req) : ctx.storageUrl,
  }));

  app.get('/versions', { config: { public: true }, schema: { tags: ['account'], security: [], response: { 200: VersionsSchema } } }, () => [
    { version: 'v1', endOfLife: null },
  ]);

  app.get('/info', { schema: { tags: ['account'], response: { 200: InfoSchema, ...errors } } }, async (req): Promise<Info> => {
    const { account } = callerOf(req);
    const q = { ...DEFAULT_QUOTAS, ...account.quotas };
    const [taskCount, runningTaskCount, jobs, buckets, usage, running] = await Promise.all([
      ctx.store.countTasks(account.id),
      ctx.store.countTasks(account.id, { states: RUNNING_STATES }),
      ctx.store.listJobs(account.id, { limit: 1000 }),
      ctx.store.listBuckets(account.id),
      ctx.store.bucketUsage(account.id),
      ctx.store.listInstances(account.id, { states: ['running', 'paused'], limit: 100_000 }),
    ]);
    const runningInstances = running.length;
    const block = { maxInstances: q.maxInstances, maxCores: q.maxCores, runningInstancesCount: runningInstances, runningCoresCount: runningInstances };
    const quotas = { flex: block, onDemand: block, reserved: [] };
    return {
      email: account.email,
      maxBucket: q.maxBucket,
      bucketCount: buckets.length,
      quotaBytesBucket: q.quotaBytesBucket,
      usedQuotaBytesBucket: usage.bytes,
      quotaBytes: q.quotaBytesBucket,
      usedQuotaBytes: usage.bytes,
      maxTask: q.maxTask,
      taskCount,
      maxJob: q.maxTask,
      jobCount: jobs.items.length,
      maxPool: 0,
      poolCount: 0,
      maxRunningTask: q.maxRunningTask,
      runningTaskCount,
      maxRunningPool: 0,
      runningPoolCount: 0,
      runningInstanceCount: runningInstances,
      runningCoreCount: runningInstances,
      maxInstances: q.maxInstances,
      maxCores: q.maxCores,
      maxFlexInstances: q.maxInstances,
      maxFlexCores: q.maxCores,
      maxOnDemandInstances: q.maxInstances,
      maxOnDemandCores: q.maxCores,
      computingQuotas: { userQuotas: quotas, organizationQuotas: quotas },
      defaultScheduling: 'Flex',
      credits: account.creditsEUR,
    };
  });

  app.get('/profiles', { schema: { tags: ['profiles'], response: { 200: Type.Array(Type.String()), ...errors } } }, () => Object.keys(PROFILES));

  app.get('/profiles/:name', { schema: { tags: ['profiles'], params: ProfileParams, response: { 200: ProfileSchema, ...errors } } }, (req) => {
    const p = Object.hasOwn(PROFILES, req.params.name) ? PROFILES[req.params.name] : undefined;
    if (!p) throw notFound(`profile ${JSON.stringify(req.params.name)}`);
    return p;
  });

  app.get(
    '/hardware-constraints',
    { schema: { tags: ['profiles'], querystring: HardwareConstraintsQuery, response: { 200: HardwareConstraintsPage, ...errors } } },
    (req) => {
      const offset = req.query.offset ?? 0;
      const limit = req.query.limit ?? 50;
      return { data: HARDWARE_CATALOGUE.slice(offset, offset + limit), offset, limit, total: HARDWARE_CATALOGUE.length };
    },
  );
  return Promise.resolve();
};
