// Tasks and jobs through the compute API: validation naming fields, limits, shortname conflicts, scoping, credits,
// bulk 207, pagination, update, abort/retry/recover/resume/clone/delete on the store, stdout whole vs fresh,
// jobs with dependencies, and hostile bodies never producing a 500.
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call -- response bodies are untyped JSON, checked by the assertions */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SYSTEM } from '../../src/coordinator/store/types.ts';
import { taskDependencyGate } from '../../src/coordinator/api/dependencies.ts';
import { TaskViewCache, viewCacheOf } from '../../src/coordinator/api/task-view.ts';
import type { TaskOutput } from '../../src/protocol/tasks.ts';
import { harness, taskBody, type Harness } from './api-helpers.ts';

async function create(h: Harness, token: string, body: unknown): Promise<string> {
  const r = await h.req(token, { method: 'POST', url: '/tasks', payload: body as object });
  assert.equal(r.statusCode, 201, r.body);
  return r.json().uuid as string;
}

test('validation: each broken rule is a 400 naming its field', async () => {
  const h = await harness();
  try {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: undefined }, 'name'],
      [{ name: 'x'.repeat(2048) }, 'name'],
      [{ constants: Array.from({ length: 151 }, (_, i) => ({ key: `K${i}`, value: 'v' })) }, 'constants'],
      [{ constants: [{ key: '', value: 'v' }] }, 'constants[0].key'],
      [{ constants: [{ key: 'A', value: '1' }, { key: 'A', value: '2' }] }, 'constants[1].key'],
      [{ tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }, 'tags'],
      [{ shortname: 'bad_name' }, 'shortname'],
      [{ shortname: 'ends-' }, 'shortname'],
      [{ instanceCount: 0 }, 'instanceCount'],
      [{ instanceCount: '5' }, 'instanceCount'],
      [{ instanceCount: undefined }, 'instanceCount'],
      [{ advancedRanges: '1,3-8' }, 'instanceCount'],
      [{ instanceCount: undefined, advancedRanges: '8-3' }, 'advancedRanges'],
      [{ profile: 'no-such' }, 'profile'],
      [{ deadline: 'tomorrow' }, 'deadline'],
      [{ hardwareConstraints: [{ discriminator: 'MinimumCoreHardwareConstraint', coreCount: 'many' }] }, 'hardwareConstraints[0].coreCount'],
      [{ dependencies: { dependsOn: ['00000000-0000-4000-8000-000000000000'] } }, 'dependencies.dependsOn'],
    ];
    for (const [extra, field] of cases) {
      const r = await h.req(h.a, { method: 'POST', url: '/tasks', payload: taskBody(extra) });
      assert.equal(r.statusCode, 400, `${JSON.stringify(extra).slice(0, 80)}: ${r.body}`);
      assert.equal(r.json().code, 'VALIDATION');
      assert.equal(r.json().field, field, `${JSON.stringify(extra).slice(0, 80)}: ${r.body}`);
    }
    // At the limits, and with the nulls SDKs send for unset fields, it is accepted.
    await create(h, h.a, taskBody({ constants: Array.from({ length: 150 }, (_, i) => ({ key: `K${i}`, value: null })), tags: Array.from({ length: 10 }, (_, i) => `t${i}`), shortname: 'ok-Name-1', jobUuid: null, poolUuid: null, advancedRanges: null }));
    const id = await create(h, h.a, taskBody({ instanceCount: null, advancedRanges: '1,3-8', deadline: '2025-02-01T00:00:00Z', checkpoint: 'snapshot', estimatedInstanceDurationSec: 60 }));
    const t = (await h.req(h.a, { method: 'GET', url: `/tasks/${id}` })).json();
    assert.equal(t.instanceCount, 7);
    assert.equal(t.advancedRanges, '1,3-8');
    assert.equal(t.deadline, '2025-02-01T00:00:00.000Z');
    assert.equal(t.checkpoint, 'snapshot');
  } finally {
    await h.close();
  }
});

test('shortname unique per account (409), free in another; secrets masked; 402 without credits', async () => {
  const h = await harness();
  try {
    await create(h, h.a, taskBody({ shortname: 'render-1', constants: [{ key: 'QARNOT_SECRET__PW', value: 'hunter2' }] }));
    const dup = await h.req(h.a, { method: 'POST', url: '/tasks', payload: taskBody({ shortname: 'render-1' }) });
    assert.equal(dup.statusCode, 409);
    assert.equal(dup.json().field, 'shortname');
    await create(h, h.b, taskBody({ shortname: 'render-1' }));
    const list = (await h.req(h.a, { method: 'GET', url: '/tasks' })).json();
    assert.equal(list.length, 1);
    assert.deepEqual(list[0].constants, [{ key: 'QARNOT_SECRET__PW', value: '[SECRET]' }]);
    const acc = (await h.store.findTokenByHash((await import('../../src/coordinator/auth/tokens.ts')).hashToken(h.b)))!.account;
    await h.store.adjustCredits(acc.id, -acc.creditsEUR);
    const broke = await h.req(h.b, { method: 'POST', url: '/tasks', payload: taskBody() });
    assert.equal(broke.statusCode, 402);
    assert.equal(broke.json().code, 'NO_CREDITS');
  } finally {
    await h.close();
  }
});

test('scoping: another account\'s task is 404 for every verb', async () => {
  const h = await harness();
  try {
    const id = await create(h, h.a, taskBody());
    for (const [method, url] of [
      ['GET', `/tasks/${id}`],
      ['PUT', `/tasks/${id}`],
      ['DELETE', `/tasks/${id}`],
      ['POST', `/tasks/${id}/abort`],
      ['POST', `/tasks/${id}/retry`],
      ['POST', `/tasks/${id}/clone`],
      ['GET', `/tasks/${id}/stdout`],
      ['POST', `/tasks/${id}/stderr`],
      ['GET', `/tasks/${id}/stdout/0`],
    ] as const) {
      const r = await h.req(h.b, { method, url, ...(method === 'PUT' ? { payload: { tags: ['x'] } } : {}) });
      assert.equal(r.statusCode, 404, `${method} ${url}: ${r.body}`);
    }
    assert.equal((await h.req(h.b, { method: 'GET', url: '/tasks' })).json().length, 0);
    assert.equal((await h.req(h.a, { method: 'GET', url: `/tasks/${id}` })).statusCode, 200);
  } finally {
    await h.close();
  }
});

test('bulk: an array body answers 207 with one entry per task, failures in place', async () => {
  const h = await harness();
  try {
    const r = await h.req(h.a, {
      method: 'POST',
      url: '/v1/tasks',
      payload: [taskBody({ shortname: 's1' }), { name: 'no instances', profile: 'docker-batch' }, taskBody({ shortname: 's1' }), 42, taskBody({ shortname: 's2' })],
    });
    assert.equal(r.statusCode, 207);
    const e = r.json<Array<{ statusCode: number; uuid?: string; field?: string }>>();
    assert.deepEqual(e.map((x) => x.statusCode), [201, 400, 409, 400, 201]);
    assert.equal(e[1].field, 'instanceCount');
    assert.equal(e[2].field, 'shortname');
    for (const i of [0, 4]) assert.equal((await h.req(h.a, { method: 'GET', url: `/tasks/${e[i].uuid}` })).statusCode, 200);
  } finally {
    await h.close();
  }
});

test('paginate: tokens walk every task once, in order, with count; filters and ordering', async () => {
  const h = await harness();
  try {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      h.now.ms += 1000;
      ids.push(await create(h, h.a, taskBody({ name: `t${i}`, tags: i % 2 === 0 ? ['even'] : ['odd'] })));
    }
    await create(h, h.b, taskBody());
    const seen: string[] = [];
    let token: string | null = null;
    do {
      const r = await h.req(h.a, { method: 'POST', url: '/tasks/paginate', payload: { maximumResults: 3, token } });
      assert.equal(r.statusCode, 200, r.body);
      const page = r.json<{ data: Array<{ uuid: string }>; nextToken: string | null; isTruncated: boolean; count: number }>();
      assert.equal(page.count, 7);
      assert.equal(page.isTruncated, page.nextToken !== null);
      seen.push(...page.data.map((d) => d.uuid));
      token = page.nextToken;
    } while (token !== null);
    assert.deepEqual(seen, ids);
    const even = (await h.req(h.a, { method: 'POST', url: '/tasks/paginate', payload: { filter: { operator: 'And', filters: [{ field: 'Tags', operator: 'Equal', value: 'even' }] }, orderBy: 'Name', orderType: 'Descending' } })).json();
    assert.deepEqual(even.data.map((d: { name: string }) => d.name), ['t6', 't4', 't2', 't0']);
    assert.equal(even.count, 4);
    const bad = await h.req(h.a, { method: 'POST', url: '/tasks/paginate', payload: { filter: { operator: 'Or', filters: [] } } });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().field, 'filter');
    const search = (await h.req(h.a, { method: 'POST', url: '/tasks/search', payload: { filter: { field: 'Uuid', operator: 'In', value: [ids[1], ids[2]] } } })).json();
    assert.equal(search.length, 2);
    const summaries = (await h.req(h.a, { method: 'GET', url: '/tasks/summaries?tag=odd' })).json();
    assert.equal(summaries.length, 3);
    assert.equal(summaries[0].executionTime, '00:00:00');
  } finally {
    await h.close();
  }
});

test('update, abort, retry, recover, resume, clone, delete act on the store', async () => {
  const h = await harness();
  try {
    const id = await create(h, h.a, taskBody({ instanceCount: 4, constants: [{ key: 'QARNOT_SECRET__K', value: 's3cret' }, { key: 'A', value: '1' }] }));
    const acc = (await h.store.getTask(SYSTEM, id))!.accountId;
    // PUT: constants and tags; a secret sent back masked keeps its value.
    const up = await h.req(h.a, { method: 'PUT', url: `/tasks/${id}`, payload: { constants: [{ key: 'QARNOT_SECRET__K', value: '[SECRET]' }, { key: 'A', value: '2' }], tags: ['new'] } });
    assert.equal(up.statusCode, 200, up.body);
    assert.deepEqual(up.json().tags, ['new']);
    const stored = (await h.store.getTask(acc, id))!.body as { constants: Array<{ key: string; value: string }> };
    assert.deepEqual(stored.constants, [{ key: 'QARNOT_SECRET__K', value: 's3cret' }, { key: 'A', value: '2' }]);
    assert.equal((await h.req(h.a, { method: 'PUT', url: `/tasks/${id}`, payload: { tags: Array(11).fill('t') } })).json().field, 'tags');
    // Retry of a live task is refused.
    assert.equal((await h.req(h.a, { method: 'POST', url: `/tasks/${id}/retry` })).statusCode, 409);
    // Instances 0, 1 succeed, 2 fails, 3 still queued; abort cancels only 3.
    await h.store.updateInstances(acc, id, { instanceIds: [0, 1] }, { state: 'success' });
    await h.store.updateInstances(acc, id, { instanceIds: [2] }, { state: 'failure' });
    h.now.ms += 5000;
    const ab = await h.req(h.a, { method: 'POST', url: `/tasks/${id}/abort`, headers: { 'content-type': 'application/json' } });
    assert.equal(ab.statusCode, 200, ab.body);
    let t = (await h.req(h.a, { method: 'GET', url: `/tasks/${id}` })).json();
    assert.equal(t.state, 'Cancelled');
    assert.equal(t.endDate, new Date(h.now.ms).toISOString());
    assert.equal(t.status.succeededRange, '0-1');
    assert.equal(t.status.failedRange, '2');
    assert.equal(t.status.cancelledRange, '3');
    assert.equal(t.completedInstances.length, 3);
    assert.equal((await h.req(h.a, { method: 'PUT', url: `/tasks/${id}`, payload: { tags: [] } })).statusCode, 409);
    // Retry: the failed instance back to the queue, the task Submitted.
    assert.equal((await h.req(h.a, { method: 'POST', url: `/tasks/${id}/retry` })).statusCode, 200);
    t = (await h.req(h.a, { method: 'GET', url: `/tasks/${id}` })).json();
    assert.equal(t.state, 'Submitted');
    assert.equal(t.previousState, 'Cancelled');
    assert.equal(t.endDate, null);
    assert.equal((await h.store.getInstance(acc, id, 2))!.state, 'queued');
    assert.equal((await h.store.getInstance(acc, id, 3))!.state, 'cancelled');
    // Abort again, then resume takes the cancelled ones (2 and 3); then nothing is left to resume.
    await h.req(h.a, { method: 'POST', url: `/tasks/${id}/abort` });
    assert.equal((await h.req(h.a, { method: 'POST', url: `/tasks/${id}/resume` })).statusCode, 200);
    assert.deepEqual((await h.store.listInstances(acc, { taskUuid: id, states: ['queued'] })).map((i) => i.instanceId), [2, 3]);
    await h.req(h.a, { method: 'POST', url: `/tasks/${id}/abort` });
    await h.store.updateInstances(acc, id, { instanceIds: [2] }, { state: 'failure' });
    assert.equal((await h.req(h.a, { method: 'POST', url: `/tasks/${id}/recover` })).statusCode, 200);
    assert.deepEqual((await h.store.listInstances(acc, { taskUuid: id, states: ['queued'] })).map((i) => i.instanceId), [2, 3]);
    // Clone keeps the body (secret included) under a new uuid and shortname.
    const cl = await h.req(h.a, { method: 'POST', url: `/tasks/${id}/clone`, payload: { name: 'copy' } });
    assert.equal(cl.statusCode, 201, cl.body);
    const clone = (await h.store.getTask(acc, cl.json().uuid))!;
    assert.equal(clone.name, 'copy');
    assert.equal(clone.instanceCount, 4);
    assert.deepEqual((clone.body as { constants: unknown[] }).constants[0], { key: 'QARNOT_SECRET__K', value: 's3cret' });
    // Delete aborts then deletes.
    assert.equal((await h.req(h.a, { method: 'DELETE', url: `/tasks/${id}` })).statusCode, 200);
    assert.equal(await h.store.getTask(acc, id), undefined);
    assert.equal((await h.req(h.a, { method: 'DELETE', url: `/tasks/${id}` })).statusCode, 404);
  } finally {
    await h.close();
  }
});

test('GET /tasks/{uuid} is answered from its kept view only while the task is unchanged: every kind of write shows at once', async () => {
  const h = await harness();
  try {
    const id = await create(h, h.a, taskBody({ instanceCount: 3, tags: ['one'] }));
    const acc = (await h.store.getTask(SYSTEM, id))!.accountId;
    const views = viewCacheOf(h.store);
    const get = async (): Promise<TaskOutput> => {
      const r = await h.req(h.a, { method: 'GET', url: `/tasks/${id}` });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
      return r.json();
    };
    const first = await get();
    assert.notEqual(views.get(id, acc), undefined, 'the view is kept after a read');
    // A kept view is the same document the full path builds, and answers only its owner.
    assert.deepEqual(await get(), first);
    assert.equal((await h.req(h.b, { method: 'GET', url: `/tasks/${id}` })).statusCode, 404);
    assert.deepEqual(await get(), first);

    // PUT (update of constants and tags).
    assert.equal((await h.req(h.a, { method: 'PUT', url: `/tasks/${id}`, payload: { tags: ['two'] } })).statusCode, 200);
    assert.deepEqual((await get()).tags, ['two']);
    // Instance progress as the fleet loop reports it (applyInstanceEvent), then a result.
    await h.store.applyInstanceEvent({ taskUuid: id, instanceId: 0, attempt: 1, sequence: 0, set: { state: 'running', phase: 'execution', progress: 50, startedAt: h.now.ms } });
    let t = await get();
    assert.equal(t.runningInstanceCount, 1);
    assert.equal(t.status.runningInstancesInfo.perRunningInstanceInfo[0].progress, 50);
    assert.equal(t.status.startedOnceRange, '0');
    await h.store.applyInstanceEvent({ taskUuid: id, instanceId: 0, attempt: 1, sequence: 1, set: { state: 'success', progress: 100, results: ['out/0.txt'] }, add: { execTimeSec: 2 } });
    t = await get();
    assert.equal(t.runningInstanceCount, 0);
    assert.equal(t.status.succeededRange, '0');
    assert.equal(t.resultsCount, 1);
    assert.equal(t.status.executionTimeSec, 2);
    // A replayed event changes nothing and the view stays right.
    await h.store.applyInstanceEvent({ taskUuid: id, instanceId: 0, attempt: 1, sequence: 1, set: { state: 'success', progress: 100, results: ['out/0.txt'] } });
    assert.deepEqual(await get(), t);
    // State transition and status written by the loop (unscoped writes).
    await h.store.transitionTask(SYSTEM, id, { to: 'FullyExecuting', at: h.now.ms + 1000 });
    assert.equal((await get()).state, 'FullyExecuting');
    const status = (await h.store.getTask(SYSTEM, id))!.status as Record<string, unknown>;
    await h.store.updateTask(SYSTEM, id, { status: { ...status, errors: [{ code: 'E', message: 'boom' }] } });
    assert.deepEqual((await get()).errors, [{ code: 'E', message: 'boom' }]);
    // Instances updated in bulk (what abort and retry do), then abort and retry through the API.
    await h.store.updateInstances(SYSTEM, id, { instanceIds: [1] }, { state: 'failure' });
    assert.equal((await get()).status.failedRange, '1');
    assert.equal((await h.req(h.a, { method: 'POST', url: `/tasks/${id}/abort` })).statusCode, 200);
    t = await get();
    assert.equal(t.state, 'Cancelled');
    assert.equal(t.status.cancelledRange, '2');
    assert.equal((await h.req(h.a, { method: 'POST', url: `/tasks/${id}/retry` })).statusCode, 200);
    t = await get();
    assert.equal(t.state, 'Submitted');
    assert.equal(t.status.failedRange, '');
    // Delete: 404 from then on, the kept view gone.
    assert.equal((await h.req(h.a, { method: 'DELETE', url: `/tasks/${id}` })).statusCode, 200);
    assert.equal((await h.req(h.a, { method: 'GET', url: `/tasks/${id}` })).statusCode, 404);
    assert.equal(views.get(id, acc), undefined);
  } finally {
    await h.close();
  }
});

test('task view cache: a read that overlapped a write is not kept; bounded by entries, bytes and age', () => {
  let now = 0;
  const c = new TaskViewCache(1000, () => now, 3, 100, 50);
  // A write between the start of a read and its end: what the read built may be old, so it is not kept.
  let ticket = c.begin('u1', 'acc');
  c.invalidate('u1');
  c.put('u1', ticket, '{"old":true}');
  assert.equal(c.get('u1', 'acc'), undefined);
  // Otherwise kept, for its owner only.
  ticket = c.begin('u1', 'acc');
  c.put('u1', ticket, '{"v":1}');
  assert.equal(c.get('u1', 'acc'), '{"v":1}');
  assert.equal(c.get('u1', 'other'), undefined);
  // Two reads of one task: only the later one may fill the entry.
  const early = c.begin('u2', 'acc');
  const late = c.begin('u2', 'acc');
  c.put('u2', early, '{"early":true}');
  assert.equal(c.get('u2', 'acc'), undefined);
  c.put('u2', late, '{"late":true}');
  assert.equal(c.get('u2', 'acc'), '{"late":true}');
  // A read that found nothing leaves nothing behind.
  const gone = c.begin('u3', 'acc');
  c.cancel('u3', gone);
  assert.equal(c.size, 2);
  // Least recently used goes first beyond 3 entries; too large a view is not kept; entries age out.
  c.get('u1', 'acc');
  c.put('u4', c.begin('u4', 'acc'), '{}');
  c.put('u6', c.begin('u6', 'acc'), '{}');
  assert.equal(c.get('u2', 'acc'), undefined);
  assert.equal(c.get('u1', 'acc'), '{"v":1}');
  c.put('u5', c.begin('u5', 'acc'), 'x'.repeat(60));
  assert.equal(c.get('u5', 'acc'), undefined);
  now = 1000;
  assert.equal(c.get('u1', 'acc'), undefined);
});

test('stdout: whole reads prefix lines with the instance id; fresh reads return only what is new, per token', async () => {
  const h = await harness();
  try {
    const id = await create(h, h.a, taskBody());
    const put = (instanceId: number, text: string, stream: 'stdout' | 'stderr' = 'stdout') => h.store.appendOutput({ taskUuid: id, instanceId, stream, text });
    await put(0, 'hello from 0\npart');
    await put(1, 'hello from 1\n');
    await put(0, 'ial line\n');
    await put(1, 'oops\n', 'stderr');
    const whole = await h.req(h.a, { method: 'GET', url: `/tasks/${id}/stdout` });
    assert.equal(whole.statusCode, 200);
    assert.match(String(whole.headers['content-type']), /^text\/plain/);
    assert.equal(whole.body, '0> hello from 0\n1> hello from 1\n0> partial line\n');
    assert.equal((await h.req(h.a, { method: 'GET', url: `/tasks/${id}/stdout/0` })).body, 'hello from 0\npartial line\n');
    assert.equal((await h.req(h.a, { method: 'GET', url: `/v1/tasks/${id}/stderr` })).body, '1> oops\n');
    const fresh1 = await h.req(h.a, { method: 'POST', url: `/tasks/${id}/stdout` });
    assert.equal(fresh1.body, whole.body);
    assert.equal((await h.req(h.a, { method: 'POST', url: `/tasks/${id}/stdout` })).body, '');
    await put(1, 'more\n');
    assert.equal((await h.req(h.a, { method: 'POST', url: `/tasks/${id}/stdout` })).body, '1> more\n');
    assert.equal((await h.req(h.a, { method: 'POST', url: `/tasks/${id}/stdout/1` })).body, 'hello from 1\nmore\n');
    // The whole read is unchanged by fresh reads.
    assert.equal((await h.req(h.a, { method: 'GET', url: `/tasks/${id}/stdout` })).body, `${whole.body}1> more\n`);
  } finally {
    await h.close();
  }
});

test('jobs: create, tasks in the job, dependencies gate, terminate, delete with force', async () => {
  const h = await harness();
  try {
    const jr = await h.req(h.a, { method: 'POST', url: '/jobs', payload: { name: 'pipeline', shortname: 'pipe', useDependencies: true, maxWallTime: '1.00:00:00' } });
    assert.equal(jr.statusCode, 201, jr.body);
    const job = jr.json().uuid as string;
    assert.equal((await h.req(h.a, { method: 'POST', url: '/jobs', payload: { name: 'x', shortname: 'pipe' } })).statusCode, 409);
    const first = await create(h, h.a, taskBody({ jobUuid: job }));
    const second = await create(h, h.a, taskBody({ jobUuid: job, dependencies: { dependsOn: [first] } }));
    const acc = (await h.store.getTask(SYSTEM, first))!.accountId;
    const j = (await h.req(h.a, { method: 'GET', url: `/jobs/${job}` })).json();
    assert.equal(j.taskCount, 2);
    assert.equal(j.maxWallTime, '1.00:00:00');
    assert.equal(j.state, 'Active');
    assert.deepEqual((await h.req(h.a, { method: 'GET', url: `/jobs/${job}/tasks` })).json().map((t: { uuid: string }) => t.uuid).sort(), [first, second].sort());
    assert.equal((await h.req(h.b, { method: 'GET', url: `/jobs/${job}` })).statusCode, 404);
    assert.equal((await h.req(h.b, { method: 'POST', url: '/tasks', payload: taskBody({ jobUuid: job }) })).statusCode, 404);
    // The dependent task waits until its dependency succeeds.
    const secondRec = (await h.store.getTask(acc, second))!;
    assert.equal(await taskDependencyGate(h.store, acc, secondRec), 'waiting');
    await h.store.transitionTask(acc, first, { to: 'FullyExecuting' });
    await h.store.transitionTask(acc, first, { to: 'Success' });
    assert.equal(await taskDependencyGate(h.store, acc, secondRec), 'ready');
    // Deleting a job with live tasks needs force; terminate aborts them and completes the job.
    assert.equal((await h.req(h.a, { method: 'DELETE', url: `/jobs/${job}` })).statusCode, 409);
    assert.equal((await h.req(h.a, { method: 'POST', url: `/jobs/${job}/terminate` })).statusCode, 200);
    assert.equal((await h.store.getTask(acc, second))!.state, 'Cancelled');
    assert.equal((await h.req(h.a, { method: 'GET', url: `/jobs/${job}` })).json().state, 'Completed');
    assert.equal((await h.req(h.a, { method: 'POST', url: '/tasks', payload: taskBody({ jobUuid: job }) })).statusCode, 409);
    assert.equal((await h.req(h.a, { method: 'DELETE', url: `/jobs/${job}?force=true` })).statusCode, 200);
    assert.equal(await h.store.getTask(acc, first), undefined);
    assert.equal((await h.req(h.a, { method: 'GET', url: `/jobs/${job}` })).statusCode, 404);
  } finally {
    await h.close();
  }
});

test('hostile bodies to POST /tasks never produce a 500 and never crash the app', async () => {
  const h = await harness();
  try {
    const field = fc.constantFrom('name', 'shortname', 'profile', 'instanceCount', 'advancedRanges', 'constants', 'tags', 'labels', 'hardwareConstraints', 'dependencies', 'deadline', 'jobUuid', 'retrySettings', '__proto__', 'constructor');
    const nearTask = fc.dictionary(field, fc.jsonValue(), { maxKeys: 8 }).map((extra) => ({ ...taskBody(), ...extra }));
    const body = fc.oneof(fc.jsonValue(), nearTask, fc.array(nearTask, { maxLength: 4 }), fc.string().map((s) => ({ raw: s })));
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const raw = typeof b === 'object' && b !== null && 'raw' in b && Object.keys(b).length === 1 ? String((b as { raw: string }).raw) : JSON.stringify(b);
        const r = await h.req(h.a, { method: 'POST', url: '/tasks', payload: raw ?? '', headers: { 'content-type': 'application/json' } });
        assert.ok(r.statusCode < 500, `${r.statusCode} ${r.body} for ${String(raw).slice(0, 200)}`);
        assert.ok([201, 207, 400, 404, 409].includes(r.statusCode), `${r.statusCode} ${r.body}`);
        if (r.statusCode >= 400) assert.equal(typeof r.json().code, 'string');
      }),
      { numRuns: 300 },
    );
    assert.equal((await h.req(h.a, { method: 'GET', url: '/info' })).statusCode, 200);
  } finally {
    await h.close();
  }
});
