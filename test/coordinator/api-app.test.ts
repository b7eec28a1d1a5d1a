// The compute API's frame: auth, the one error handler (404, 413, 429, bad JSON, 500 without internals),
// account-level routes, operator-only account creation, OpenAPI, and one request over real HTTP.
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call -- response bodies are untyped JSON, checked by the assertions */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/coordinator/app.ts';
import { harness, taskBody } from './api-helpers.ts';

test('auth: no token or a wrong one is 401 JSON; raw and Bearer tokens accepted; /versions is public', async () => {
  const h = await harness();
  try {
    for (const auth of [undefined, 'nope', 'Bearer nope', 'Bearer ']) {
      const r = await h.req(auth, { method: 'GET', url: '/info' });
      assert.equal(r.statusCode, 401, String(auth));
      assert.equal(r.json().code, 'UNAUTHORIZED');
      assert.equal(typeof r.json().message, 'string');
    }
    assert.equal((await h.req(h.a, { method: 'GET', url: '/info' })).json().email, 'a@example.com');
    assert.equal((await h.req(`Bearer ${h.a}`, { method: 'GET', url: '/v1/info' })).json().email, 'a@example.com');
    const v = await h.req(undefined, { method: 'GET', url: '/versions' });
    assert.deepEqual(v.json(), [{ version: 'v1', endOfLife: null }]);
  } finally {
    await h.close();
  }
});

test('account routes: settings, info, profiles, hardware constraints, unversioned and under /v1', async () => {
  const h = await harness();
  try {
    for (const p of ['', '/v1']) {
      assert.deepEqual((await h.req(h.a, { method: 'GET', url: `${p}/settings` })).json(), { storage: 'http://storage.test' });
      assert.deepEqual((await h.req(h.a, { method: 'GET', url: `${p}/profiles` })).json(), ['docker-batch']);
      const prof = (await h.req(h.a, { method: 'GET', url: `${p}/profiles/docker-batch` })).json();
      assert.ok(prof.constants.some((c: { name: string }) => c.name === 'DOCKER_CMD'));
      assert.equal((await h.req(h.a, { method: 'GET', url: `${p}/profiles/nope` })).statusCode, 404);
      const hw = (await h.req(h.a, { method: 'GET', url: `${p}/hardware-constraints?limit=3&offset=1` })).json();
      assert.equal(hw.data.length, 3);
      assert.equal(hw.offset, 1);
      assert.ok(hw.total > 3);
      assert.equal(hw.data[0].discriminator, 'MinimumCoreHardwareConstraint');
    }
    const info = (await h.req(h.a, { method: 'GET', url: '/info' })).json();
    assert.equal(info.credits, 100);
    assert.equal(info.taskCount, 0);
    assert.equal(typeof info.computingQuotas.userQuotas.flex.maxInstances, 'number');
    const bad = await h.req(h.a, { method: 'GET', url: '/hardware-constraints?limit=0' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().field, 'limit');
  } finally {
    await h.close();
  }
});

test('errors: unknown route 404, bad JSON 400, wrong content type 415, body over the limit 413, all JSON', async () => {
  const h = await harness({ bodyLimit: 1024 });
  try {
    const nf = await h.req(h.a, { method: 'GET', url: '/nowhere' });
    assert.equal(nf.statusCode, 404);
    assert.equal(nf.json().code, 'NOT_FOUND');
    const bj = await h.req(h.a, { method: 'POST', url: '/tasks', payload: '{"name":', headers: { 'content-type': 'application/json' } });
    assert.equal(bj.statusCode, 400);
    assert.equal(bj.json().code, 'BAD_REQUEST');
    const ct = await h.req(h.a, { method: 'POST', url: '/tasks', payload: 'name=x', headers: { 'content-type': 'text/csv' } });
    assert.equal(ct.statusCode, 415);
    const big = await h.req(h.a, { method: 'POST', url: '/tasks', payload: taskBody({ name: 'x'.repeat(2000) }) });
    assert.equal(big.statusCode, 413);
    assert.equal(big.json().code, 'TOO_LARGE');
    const proto = await h.req(h.a, { method: 'POST', url: '/tasks', payload: '{"__proto__":{"x":1},"name":"a"}', headers: { 'content-type': 'application/json' } });
    assert.equal(proto.statusCode, 400);
  } finally {
    await h.close();
  }
});

test('429: a token over its budget is refused until the (fake) clock refills it; other tokens unaffected', async () => {
  const h = await harness({ rateLimit: { perSecond: 1, burst: 3 } });
  try {
    for (let i = 0; i < 3; i++) assert.equal((await h.req(h.a, { method: 'GET', url: '/info' })).statusCode, 200);
    const r = await h.req(h.a, { method: 'GET', url: '/info' });
    assert.equal(r.statusCode, 429);
    assert.equal(r.json().code, 'RATE_LIMITED');
    assert.equal(r.headers['retry-after'], '1');
    assert.equal((await h.req(h.b, { method: 'GET', url: '/info' })).statusCode, 200);
    h.now.ms += 1000;
    assert.equal((await h.req(h.a, { method: 'GET', url: '/info' })).statusCode, 200);
  } finally {
    await h.close();
  }
});

test('500: an unexpected fault answers {message: "internal error"} without internals', async () => {
  const h = await harness();
  try {
    // A store that fails under the app: the store's own error must not leak.
    h.store.countTasks = () => Promise.reject(new Error('SECRET-DETAIL at /var/lib/db'));
    const r = await h.req(h.a, { method: 'GET', url: '/info' });
    assert.equal(r.statusCode, 500);
    assert.deepEqual(r.json(), { message: 'internal error', code: 'INTERNAL' });
    assert.ok(!r.body.includes('SECRET'));
  } finally {
    await h.close();
  }
});

test('accounts (ext): an operator creates a customer whose token works; customers may not; email taken → 409', async () => {
  const h = await harness();
  try {
    const r = await h.req(h.operator, { method: 'POST', url: '/hearth/v1/accounts', payload: { email: 'c@example.com', credits: 5 } });
    assert.equal(r.statusCode, 201);
    const { token, credits, role } = r.json();
    assert.equal(credits, 5);
    assert.equal(role, 'customer');
    assert.equal((await h.req(token, { method: 'GET', url: '/info' })).json().email, 'c@example.com');
    assert.equal((await h.req(h.a, { method: 'POST', url: '/hearth/v1/accounts', payload: { email: 'd@example.com' } })).statusCode, 403);
    const dup = await h.req(h.operator, { method: 'POST', url: '/hearth/v1/accounts', payload: { email: 'c@example.com' } });
    assert.equal(dup.statusCode, 409);
    assert.equal(dup.json().field, 'email');
    const bad = await h.req(h.operator, { method: 'POST', url: '/hearth/v1/accounts', payload: { email: 'not an email' } });
    assert.equal(bad.json().field, 'email');
  } finally {
    await h.close();
  }
});

test('/openapi.json is OpenAPI 3.1 with the task paths; /docs answers', async () => {
  const h = await harness();
  try {
    const r = await h.req(undefined, { method: 'GET', url: '/openapi.json' });
    assert.equal(r.statusCode, 200);
    const doc = JSON.parse(r.body) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    assert.match(doc.openapi, /^3\.1/);
    for (const p of ['/tasks', '/tasks/{uuid}', '/tasks/paginate', '/tasks/{uuid}/stdout', '/jobs', '/hearth/v1/accounts']) assert.ok(doc.paths[p], p);
    assert.ok(doc.paths['/tasks'].post);
    assert.ok(!Object.keys(doc.paths).some((p) => p.startsWith('/v1/')), 'the /v1 copies are not documented twice');
    const docs = await h.req(undefined, { method: 'GET', url: '/docs' });
    assert.ok(docs.statusCode === 200 || docs.statusCode === 302, String(docs.statusCode));
  } finally {
    await h.close();
  }
});

test('real HTTP on 127.0.0.1: create a task and read it back with fetch', async () => {
  const h = await harness();
  const app = await buildApp({ store: h.store, rateLimit: false, storageUrl: 'http://s' });
  try {
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const created = await fetch(`${base}/v1/tasks`, { method: 'POST', headers: { authorization: h.a, 'content-type': 'application/json' }, body: JSON.stringify(taskBody()) });
    assert.equal(created.status, 201);
    const { uuid } = (await created.json()) as { uuid: string };
    const got = await fetch(`${base}/tasks/${uuid}`, { headers: { authorization: `Bearer ${h.a}` } });
    assert.equal(((await got.json()) as { state: string }).state, 'Submitted');
  } finally {
    await app.close();
    await h.close();
  }
});

test('plugins: an extra plugin is mounted beside the API, outside its token auth', async () => {
  const h = await harness({
    plugins: [
      {
        plugin: (app: FastifyInstance, _opts: unknown, done: (err?: Error) => void) => {
          app.get('/ping', () => 'pong');
          done();
        },
        options: { prefix: '/storage' },
      },
    ],
  });
  try {
    const r = await h.req(undefined, { method: 'GET', url: '/storage/ping' });
    assert.equal(r.statusCode, 200);
    assert.equal(r.body, 'pong');
    assert.equal((await h.req(undefined, { method: 'GET', url: '/tasks' })).statusCode, 401);
  } finally {
    await h.close();
  }
});
