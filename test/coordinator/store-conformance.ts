// The one conformance suite every Store backend passes (SQLite, PostgreSQL): scoping, uniqueness, idempotent
// instance events, output cursors, transactions, migrations, telemetry downsampling, pagination, verbatim text.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  LATEST_SCHEMA_VERSION,
  SYSTEM,
  StoreConflictError,
  StoreInputError,
  openStore,
  type Account,
  type InstanceCharge,
  type InstanceEvent,
  type InstanceRecord,
  type NewTask,
  type ObjectRecord,
  type Store,
  type TaskOrderBy,
  type TaskRecord,
} from '../../src/coordinator/store/index.ts';

/** What a backend's test file provides: how to get a URL to an empty store, and how to clean up. */
export interface ConformanceTarget {
  name: string;
  /** node:test skip option (a reason string skips the whole suite). */
  skip: string | false;
  start(): Promise<string>;
  stop(): Promise<void>;
}

/** UTF-8 byte order (= code-point order): how both backends order text. */
const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** Strings that must survive verbatim: paths, quotes, SQL, emoji, astral and combining characters, RTL. */
const HOSTILE = [
  '../../etc/passwd',
  "'; DROP TABLE tasks; --",
  '"quoted" \\ back\\slash',
  'spaces  and\ttabs\nnewlines\r\n',
  'émoji 🔥🏠 𝄞 a\u0301 ﷽ עברית',
  '\u{10FFFF}\uFFFF\uE000\uD7FF',
  '%00%2e%2e/',
  '',
];
/** Any well-formed text without NUL (what the store promises to keep verbatim). */
const anyText = (maxLength = 24): fc.Arbitrary<string> =>
  fc.oneof(fc.string({ unit: 'binary', maxLength }).map((s) => s.replaceAll('\u0000', '')), fc.constantFrom(...HOSTILE));

/** Registers the whole suite for one backend. */
export function runStoreConformance(target: ConformanceTarget): void {
  describe(`store conformance: ${target.name}`, { skip: target.skip }, () => {
    let url = '';
    let store: Store;
    let now = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    const clock = (): number => now;
    let n = 0;
    const uniq = (p: string): string => `${p}-${++n}-${Math.floor(Math.random() * 1e9).toString(36)}`;
    const account = (role: Account['role'] = 'customer'): Promise<Account> => store.createAccount({ email: `${uniq('user')}@example.com`, role, creditsEUR: 10 });
    const task = (accountId: string, extra: Partial<NewTask> = {}): Promise<TaskRecord> =>
      store.createTask({ accountId, name: 'render', profile: 'docker-batch', body: { name: 'render' }, instanceIds: [0, 1, 2], ...extra });

    before(async () => {
      url = await target.start();
      store = await openStore(url, { clock });
    });
    after(async () => {
      await store?.close();
      await target.stop();
    });

    test('migrations: applied at open, recorded, idempotent on re-open', async () => {
      assert.equal(await store.schemaVersion(), LATEST_SCHEMA_VERSION);
      const a = await account();
      const again = await openStore(url, { clock });
      try {
        assert.equal(await again.schemaVersion(), LATEST_SCHEMA_VERSION);
        assert.equal((await again.getAccount(a.id))?.email, a.email, 'data written before the re-open is there');
      } finally {
        await again.close();
      }
      assert.equal((await store.getAccount(a.id))?.id, a.id, 'the first store still works');
    });

    test('accounts: create, read, email unique, update, exact credits', async () => {
      const a = await store.createAccount({ email: `${uniq('acc')}@x.org`, role: 'resident', creditsEUR: 0.1, scope: { roomIds: ['r1', 'r2'] }, quotas: { maxTask: 5 } });
      assert.deepEqual(await store.getAccount(a.id), a);
      assert.deepEqual(await store.getAccountByEmail(a.email), a);
      assert.equal(a.createdAt, now);
      assert.deepEqual(a.scope, { roomIds: ['r1', 'r2'] });
      await assert.rejects(store.createAccount({ email: a.email, role: 'customer' }), (e) => e instanceof StoreConflictError && e.field === 'email' && e.status === 409);
      assert.equal(await store.adjustCredits(a.id, 0.2), 0.3, 'micro-euros: 0.1 + 0.2 is exactly 0.3');
      assert.equal(await store.adjustCredits(a.id, -0.3), 0);
      assert.equal(await store.adjustCredits('nobody', 1), undefined);
      const dev = await store.updateAccount(a.id, { role: 'device', scope: { deviceId: 'heater-7' }, quotas: {} });
      assert.equal(dev?.role, 'device');
      assert.deepEqual(dev?.scope, { deviceId: 'heater-7' });
      const other = await account();
      await assert.rejects(store.updateAccount(other.id, { email: a.email }), StoreConflictError);
      assert.equal(await store.getAccount('missing'), undefined);
      assert.equal(await store.updateAccount('missing', { role: 'operator' }), undefined);
    });

    test('accounts: listing by role pages through everything in id order', async () => {
      const ops = await Promise.all([1, 2, 3, 4, 5].map(() => account('operator')));
      const seen: string[] = [];
      let token: string | null = null;
      do {
        const page = await store.listAccounts({ role: 'operator', limit: 2, pageToken: token });
        assert.ok(page.items.length <= 2);
        seen.push(...page.items.map((x) => x.id));
        token = page.nextToken;
      } while (token);
      for (const o of ops) assert.ok(seen.includes(o.id));
      assert.deepEqual([...seen].sort(byteOrder), seen);
      assert.equal(new Set(seen).size, seen.length);
    });

    test('tokens: stored by hash, found while live, scoped revocation, use recorded', async () => {
      const a = await account();
      const b = await account();
      const hash = uniq('h').padEnd(64, '0');
      const t = await store.createToken({ accountId: a.id, hash, prefix: 'hth_abcdefgh', name: 'ci' });
      assert.equal(t.revokedAt, null);
      assert.equal(t.sealedSecret, null);
      const found = await store.findTokenByHash(hash);
      assert.equal(found?.account.id, a.id);
      assert.equal(found?.token.id, t.id);
      await assert.rejects(store.createToken({ accountId: b.id, hash, prefix: 'x' }), (e) => e instanceof StoreConflictError && e.field === 'tokenHash');
      now += 1000;
      await store.touchToken(t.id);
      assert.equal((await store.listTokens(a.id))[0].lastUsedAt, now);
      assert.deepEqual(await store.listTokens(b.id), []);
      assert.equal(await store.revokeToken(b.id, t.id), false, "B cannot revoke A's token");
      assert.equal(await store.revokeToken(a.id, t.id), true);
      assert.equal(await store.revokeToken(a.id, t.id), false, 'already revoked');
      assert.equal(await store.findTokenByHash(hash), undefined);
      assert.equal((await store.listTokens(a.id, { includeRevoked: true }))[0].revokedAt, now);
    });

    test("scoping: an account never sees another account's task, instances, output or attempts", async () => {
      const a = await account();
      const b = await account();
      const t = await task(a.id);
      await store.appendOutput({ taskUuid: t.uuid, instanceId: 0, stream: 'stdout', text: 'secret' });
      assert.equal(await store.getTask(b.id, t.uuid), undefined);
      assert.equal((await store.getTask(a.id, t.uuid))?.uuid, t.uuid);
      assert.equal((await store.getTask(SYSTEM, t.uuid))?.uuid, t.uuid);
      assert.equal(await store.getTaskByShortname(b.id, t.shortname), undefined);
      assert.equal((await store.listTasks(b.id)).items.length, 0);
      assert.equal(await store.countTasks(b.id), 0);
      assert.equal(await store.getInstance(b.id, t.uuid, 0), undefined);
      assert.deepEqual(await store.listInstances(b.id, { taskUuid: t.uuid }), []);
      assert.equal(await store.summarizeInstances(b.id, t.uuid), undefined);
      assert.deepEqual(await store.listAttempts(b.id, t.uuid), []);
      assert.equal(await store.readOutput(b.id, t.uuid, 'stdout'), undefined);
      assert.equal(await store.readFreshOutput(b.id, t.uuid, 'stdout', 'rb'), undefined);
      assert.equal(await store.updateTask(b.id, t.uuid, { name: 'mine now' }), undefined);
      assert.equal(await store.transitionTask(b.id, t.uuid, { to: 'Cancelled' }), undefined);
      assert.equal(await store.updateInstances(b.id, t.uuid, {}, { state: 'cancelled' }), 0);
      assert.equal(await store.deleteTask(b.id, t.uuid), false);
      assert.equal((await store.getTask(a.id, t.uuid))?.name, 'render', 'untouched by B');
      assert.equal((await store.listInstances(a.id, { taskUuid: t.uuid })).length, 3);
    });

    test('tasks: creation fields round-trip; instances created queued', async () => {
      const a = await account();
      const job = await store.createJob({ accountId: a.id, name: 'j' });
      const body = { name: 'x', constants: [{ key: 'QARNOT_SECRET__K', value: 's' }], nested: { n: [1, 2.5, null, true] } };
      const t = await store.createTask({
        accountId: a.id,
        shortname: 'my-task',
        name: 'x',
        profile: 'docker-batch',
        body,
        instanceIds: [1, 3, 4, 5],
        advancedRanges: '1,3-5',
        schedulingType: 'onDemand',
        deadline: now + 3600_000,
        estimatedInstanceDurationSec: 12.5,
        checkpoint: 'snapshot',
        tags: ['a', 'b', 'a'],
        labels: { team: 'risk' },
        jobUuid: job.uuid,
        dependsOn: ['d1'],
        retrySettings: { maxTotalRetries: 3, maxPerInstanceRetries: 1 },
        status: { progress: 0 },
      });
      const got = await store.getTask(a.id, t.uuid);
      assert.deepEqual(got, t);
      assert.deepEqual(got?.body, body);
      assert.equal(got?.state, 'Submitted');
      assert.equal(got?.previousState, null);
      assert.equal(got?.creationDate, now);
      assert.equal(got?.stateTransitionTime, now);
      assert.equal(got?.instanceCount, 4);
      assert.deepEqual(got?.tags, ['a', 'b']);
      assert.equal(got?.version, 1);
      assert.deepEqual((await store.getTaskByShortname(a.id, 'my-task'))?.uuid, t.uuid);
      const inst = await store.listInstances(a.id, { taskUuid: t.uuid });
      assert.deepEqual(inst.map((i) => [i.instanceId, i.state, i.attempt, i.energyWh]), [
        [1, 'queued', 0, 0],
        [3, 'queued', 0, 0],
        [4, 'queued', 0, 0],
        [5, 'queued', 0, 0],
      ]);
      const dflt = await task(a.id);
      assert.equal(dflt.shortname, dflt.uuid, 'shortname defaults to the uuid');
      await assert.rejects(task(a.id, { instanceIds: [1, 1] }), StoreInputError);
      await assert.rejects(task(a.id, { uuid: t.uuid, shortname: 'other' }), (e) => e instanceof StoreConflictError && e.field === 'id');
    });

    test('tasks: shortname unique per account (conflict → 409), free across accounts; bulk reports per entry', async () => {
      const a = await account();
      const b = await account();
      await task(a.id, { shortname: 'nightly' });
      await assert.rejects(task(a.id, { shortname: 'nightly' }), (e) => e instanceof StoreConflictError && e.field === 'shortname' && e.status === 409);
      await task(b.id, { shortname: 'nightly' });
      const out = await store.createTasks([
        { accountId: a.id, shortname: 'one', name: 'n', profile: 'p', body: {}, instanceIds: [0] },
        { accountId: a.id, shortname: 'nightly', name: 'n', profile: 'p', body: {}, instanceIds: [0] },
        { accountId: a.id, shortname: 'two', name: 'n', profile: 'p', body: {}, instanceIds: [0, 1] },
        { accountId: a.id, shortname: 'two', name: 'n', profile: 'p', body: {}, instanceIds: [0] },
      ]);
      assert.deepEqual(out.map((r) => (r instanceof StoreConflictError ? 'conflict' : r.shortname)), ['one', 'conflict', 'two', 'conflict']);
      assert.equal(await store.countTasks(a.id), 3);
      assert.equal((await store.listInstances(a.id, { taskUuid: (out[2] as TaskRecord).uuid })).length, 2);
    });

    test('tasks: the account task count follows creations, bulk creations, conflicts, rollbacks and deletions', async () => {
      const a = await account();
      const b = await account();
      const real = async (id: string): Promise<void> => {
        assert.equal((await store.getAccount(id))?.taskCount, await store.countTasks(id), 'taskCount equals the rows');
      };
      assert.equal(a.taskCount, 0);
      const t1 = await task(a.id);
      await task(a.id, { shortname: 'kept' });
      await real(a.id);
      assert.equal((await store.getAccount(a.id))?.taskCount, 2);
      const out = await store.createTasks([
        { accountId: a.id, name: 'n', profile: 'p', body: {}, instanceIds: [0] },
        { accountId: a.id, shortname: 'kept', name: 'n', profile: 'p', body: {}, instanceIds: [0] },
        { accountId: b.id, name: 'n', profile: 'p', body: {}, instanceIds: [0, 1] },
        { accountId: a.id, shortname: 'fresh', name: 'n', profile: 'p', body: {}, instanceIds: [0, 1, 2] },
      ]);
      assert.deepEqual(out.map((r) => r instanceof StoreConflictError), [false, true, false, false]);
      await real(a.id);
      await real(b.id);
      assert.equal((await store.getAccount(a.id))?.taskCount, 4);
      assert.equal((await store.getAccount(b.id))?.taskCount, 1);
      // A refused creation counts nothing; nor does a rolled-back transaction.
      await assert.rejects(task(a.id, { shortname: 'kept' }), StoreConflictError);
      await assert.rejects(task(a.id, { uuid: t1.uuid, shortname: 'other' }), StoreConflictError);
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.createTask({ accountId: a.id, name: 'n', profile: 'p', body: {}, instanceIds: [0] });
          throw new Error('boom');
        }),
        /boom/,
      );
      await real(a.id);
      assert.equal(await store.deleteTask(b.id, t1.uuid), false, "B cannot delete A's task");
      assert.equal(await store.deleteTask(a.id, t1.uuid), true);
      assert.equal(await store.deleteTask(SYSTEM, (out[0] as TaskRecord).uuid), true);
      assert.equal(await store.deleteTask(a.id, t1.uuid), false);
      await real(a.id);
      assert.equal((await store.getAccount(a.id))?.taskCount, 2);
      await store.transaction(async (tx) => {
        await tx.deleteTask(a.id, (out[3] as TaskRecord).uuid);
        await tx.createTask({ accountId: a.id, name: 'n', profile: 'p', body: {}, instanceIds: [0] });
      });
      await real(a.id);
      assert.equal((await store.getAccount(a.id))?.taskCount, 2);
    });

    test('tasks: the task quota (maxAccountTasks) holds under concurrent creations and refuses a bulk whole', async () => {
      const a = await account();
      const attempts = await Promise.allSettled(Array.from({ length: 12 }, () => task(a.id, { maxAccountTasks: 5 })));
      const refused = attempts.filter((r) => r.status === 'rejected');
      assert.equal(attempts.length - refused.length, 5, 'exactly the quota was created');
      for (const r of refused) assert.ok(r.reason instanceof StoreConflictError && r.reason.field === 'maxTask', String(r.reason));
      assert.match(String((refused[0].reason as Error).message), /task quota reached \(5 of 5\)/);
      assert.equal(await store.countTasks(a.id), 5);
      assert.equal((await store.getAccount(a.id))?.taskCount, 5);
      // A bulk creation is counted as a whole: over the quota, nothing of it is written.
      const b = await account();
      await task(b.id);
      const bulk = (n: number, max: number) =>
        store.createTasks(Array.from({ length: n }, (_, i) => ({ accountId: b.id, shortname: `bulk-${n}-${i}`, name: 'n', profile: 'p', body: {}, instanceIds: [0], maxAccountTasks: max })));
      await assert.rejects(bulk(3, 3), (e) => e instanceof StoreConflictError && e.field === 'maxTask');
      assert.equal(await store.countTasks(b.id), 1);
      assert.equal((await store.getTaskByShortname(b.id, 'bulk-3-0')), undefined);
      assert.equal((await bulk(2, 3)).filter((r) => !(r instanceof StoreConflictError)).length, 2);
      assert.equal((await store.getAccount(b.id))?.taskCount, 3);
      // Deleting frees room again; concurrent bulks of several accounts each stay within their own quota.
      const [c, d] = [await account(), await account()];
      const racers = [c, d, c, d, c, d].map((acc, k) =>
        store.createTasks([0, 1, 2].map((i) => ({ accountId: acc.id, shortname: `r${k}-${i}`, name: 'n', profile: 'p', body: {}, instanceIds: [0, 1], maxAccountTasks: 7 }))),
      );
      const settled = await Promise.allSettled(racers);
      assert.equal(settled.filter((r) => r.status === 'fulfilled').length, 4, 'two bulks of 3 per account fit under 7');
      for (const acc of [c, d]) {
        assert.equal(await store.countTasks(acc.id), 6);
        assert.equal((await store.getAccount(acc.id))?.taskCount, 6);
      }
      const first = (await store.listTasks(c.id, { limit: 1 })).items[0];
      await store.deleteTask(c.id, first.uuid);
      await task(c.id, { maxAccountTasks: 6 });
      await assert.rejects(task(c.id, { maxAccountTasks: 6 }), (e) => e instanceof StoreConflictError && e.field === 'maxTask');
    });

    test("tasks: concurrent creations each get their own answer; one's failure is never another's", async () => {
      const a = await account();
      const b = await account();
      const taken = await task(a.id, { shortname: 'taken' });
      await task(b.id);
      const base = { name: 'n', profile: 'p', body: {}, instanceIds: [0, 1] };
      const calls = await Promise.allSettled([
        store.createTask({ ...base, accountId: a.id, shortname: 'g1' }),
        store.createTask({ ...base, accountId: a.id, shortname: 'taken' }),
        store.createTask({ ...base, accountId: a.id, uuid: taken.uuid, shortname: 'g-dup-uuid' }),
        store.createTask({ ...base, accountId: 'no-such-account' }),
        store.createTask({ ...base, accountId: b.id, maxAccountTasks: 1 }),
        store.createTasks([
          { ...base, accountId: a.id, shortname: 'g2' },
          { ...base, accountId: a.id, shortname: 'g1' },
        ]),
        store.createTask({ ...base, accountId: b.id, shortname: 'g3' }),
      ]);
      const [ok1, dupName, dupUuid, noAccount, overQuota, bulk, ok3] = calls;
      assert.equal(ok1.status, 'fulfilled');
      assert.ok(dupName.status === 'rejected' && dupName.reason instanceof StoreConflictError && dupName.reason.field === 'shortname');
      assert.ok(dupUuid.status === 'rejected' && dupUuid.reason instanceof StoreConflictError && dupUuid.reason.field === 'id', String((dupUuid as PromiseRejectedResult).reason));
      assert.equal(noAccount.status, 'rejected');
      assert.ok(overQuota.status === 'rejected' && overQuota.reason instanceof StoreConflictError && overQuota.reason.field === 'maxTask');
      assert.ok(bulk.status === 'fulfilled');
      assert.deepEqual(bulk.value.map((r) => (r instanceof StoreConflictError ? r.field : r.shortname)), ['g2', 'shortname'], 'g1 went to the earlier call');
      assert.ok(ok3.status === 'fulfilled' && ok3.value.shortname === 'g3');
      assert.equal(await store.countTasks(a.id), 3);
      assert.equal(await store.countTasks(b.id), 2);
      for (const id of [a.id, b.id]) assert.equal((await store.getAccount(id))?.taskCount, await store.countTasks(id));
      assert.ok(ok1.status === 'fulfilled');
      assert.equal((await store.listInstances(a.id, { taskUuid: ok1.value.uuid })).length, 2);
    });

    test('tasks: generated uuids are time-ordered (version 7) and increase in creation order', async () => {
      const a = await account();
      const made = [await task(a.id), await task(a.id)];
      const bulk = await store.createTasks(Array.from({ length: 50 }, () => ({ accountId: a.id, name: 'n', profile: 'p', body: {}, instanceIds: [0] })));
      const uuids = [...made, ...(bulk as TaskRecord[])].map((t) => t.uuid);
      for (const u of uuids) assert.match(u, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.deepEqual([...uuids].sort(byteOrder), uuids);
      assert.equal(uuids[0].slice(0, 13).replace('-', ''), now.toString(16).padStart(12, '0'), 'the first 48 bits are the creation time, ms');
    });

    test('tokens: lookups see this store\'s revocations, account, credit and task changes at once, and commits only', async () => {
      const a = await account();
      const hash = uniq('cache').padEnd(64, '0');
      const t = await store.createToken({ accountId: a.id, hash, prefix: 'hth_cache', name: 'c' });
      assert.equal((await store.findTokenByHash(hash))?.account.creditsEUR, 10);
      assert.equal((await store.findTokenByHash(hash))?.account.taskCount, 0, 'asked twice: the second may be cached');
      await store.adjustCredits(a.id, -4);
      assert.equal((await store.findTokenByHash(hash))?.account.creditsEUR, 6);
      await store.updateAccount(a.id, { role: 'resident', quotas: { maxTask: 3 } });
      const changed = await store.findTokenByHash(hash);
      assert.deepEqual([changed?.account.role, changed?.account.quotas], ['resident', { maxTask: 3 }]);
      const t1 = await task(a.id);
      await store.createTasks([{ accountId: a.id, name: 'n', profile: 'p', body: {}, instanceIds: [0] }]);
      assert.equal((await store.findTokenByHash(hash))?.account.taskCount, 2);
      await store.deleteTask(a.id, t1.uuid);
      assert.equal((await store.findTokenByHash(hash))?.account.taskCount, 1);
      now += 1000;
      await store.touchToken(t.id);
      assert.equal((await store.findTokenByHash(hash))?.token.lastUsedAt, now);
      // What a transaction writes shows once committed, and not at all when it rolls back.
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.adjustCredits(a.id, 100);
          await tx.revokeToken(a.id, t.id);
          assert.equal(await tx.findTokenByHash(hash), undefined, 'the transaction sees its own revocation');
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal((await store.findTokenByHash(hash))?.account.creditsEUR, 6, 'rolled back: still valid, same credits');
      await store.transaction(async (tx) => {
        await tx.adjustCredits(a.id, 1);
        await tx.revokeToken(SYSTEM, t.id);
      });
      assert.equal(await store.findTokenByHash(hash), undefined, 'revoked in a committed transaction: refused at once');
      assert.equal((await store.getAccount(a.id))?.creditsEUR, 7);
      // Another store on the same database (another process) revokes: seen within the cache's lifetime.
      const h2 = uniq('cache2').padEnd(64, '0');
      const t2 = await store.createToken({ accountId: a.id, hash: h2, prefix: 'hth_cache2' });
      assert.equal((await store.findTokenByHash(h2))?.token.id, t2.id);
      const other = await openStore(url, { clock });
      try {
        assert.equal(await other.revokeToken(a.id, t2.id), true);
      } finally {
        await other.close();
      }
      now += 1000;
      assert.equal(await store.findTokenByHash(h2), undefined, 'a revocation by another process shows within a second');
    });

    test('tasks: pagination is stable and complete for every order, with ties broken by uuid', async () => {
      const a = await account();
      const names = ['b', 'a', 'é', 'B', 'a', '🔥', 'z', 'a b', '', 'ab'];
      for (let i = 0; i < 23; i++) {
        if (i % 3 === 0) now += 1000; // creation-date ties in groups of three
        await task(a.id, { name: names[i % names.length], shortname: `t${i}`, instanceIds: [0] });
      }
      const all = (await store.listTasks(a.id, { limit: 1000 })).items;
      assert.equal(all.length, 23);
      const keyOf: Record<TaskOrderBy, (t: TaskRecord) => string | number> = {
        creationDate: (t) => t.creationDate,
        name: (t) => t.name,
        shortname: (t) => t.shortname,
        state: (t) => t.state,
        stateTransitionTime: (t) => t.stateTransitionTime,
      };
      for (const orderBy of Object.keys(keyOf) as TaskOrderBy[]) {
        for (const order of ['asc', 'desc'] as const) {
          const k = keyOf[orderBy];
          const cmp = (x: TaskRecord, y: TaskRecord): number => {
            const kx = k(x);
            const ky = k(y);
            const c = typeof kx === 'number' ? kx - (ky as number) : byteOrder(kx, ky as string);
            return c !== 0 ? c : byteOrder(x.uuid, y.uuid);
          };
          const expected = [...all].sort((x, y) => (order === 'asc' ? cmp(x, y) : cmp(y, x))).map((t) => t.uuid);
          const seen: string[] = [];
          let token: string | null = null;
          do {
            const page = await store.listTasks(a.id, { limit: 4, orderBy, order, pageToken: token });
            seen.push(...page.items.map((t) => t.uuid));
            token = page.nextToken;
          } while (token);
          assert.deepEqual(seen, expected, `${orderBy} ${order}`);
        }
      }
      const first = await store.listTasks(a.id, { limit: 2, orderBy: 'name' });
      await assert.rejects(store.listTasks(a.id, { limit: 2, orderBy: 'shortname', pageToken: first.nextToken }), StoreInputError);
      await assert.rejects(store.listTasks(a.id, { pageToken: 'not a token' }), StoreInputError);
    });

    test('tasks: filters by state, tags, labels, job, name; count agrees', async () => {
      const a = await account();
      const job = await store.createJob({ accountId: a.id, name: 'j', shortname: 'j1' });
      const t1 = await task(a.id, { tags: ['x', 'y'], labels: { env: 'prod', team: 'r' }, jobUuid: job.uuid, name: 'alpha' });
      const t2 = await task(a.id, { tags: ['y'], labels: { env: 'dev' } });
      const t3 = await task(a.id, { tags: [] });
      await store.transitionTask(a.id, t3.uuid, { to: 'Cancelled' });
      const uuids = async (f: Parameters<Store['listTasks']>[1]): Promise<string[]> => (await store.listTasks(a.id, f)).items.map((t) => t.uuid).sort();
      const sorted = (...ts: TaskRecord[]): string[] => ts.map((t) => t.uuid).sort();
      assert.deepEqual(await uuids({ filter: { tagsAll: ['x', 'y'] } }), sorted(t1));
      assert.deepEqual(await uuids({ filter: { tagsAny: ['x', 'y'] } }), sorted(t1, t2));
      assert.deepEqual(await uuids({ filter: { labels: { env: 'prod' } } }), sorted(t1));
      assert.deepEqual(await uuids({ filter: { labels: { env: 'prod', team: 'x' } } }), []);
      assert.deepEqual(await uuids({ filter: { jobUuid: job.uuid } }), sorted(t1));
      assert.deepEqual(await uuids({ filter: { states: ['Cancelled'] } }), sorted(t3));
      assert.deepEqual(await uuids({ filter: { states: [] } }), []);
      assert.deepEqual(await uuids({ filter: { name: 'alpha' } }), sorted(t1));
      assert.deepEqual(await uuids({ filter: { uuids: [t2.uuid, 'nope'] } }), sorted(t2));
      assert.equal(await store.countTasks(a.id, { tagsAny: ['y'] }), 2);
      assert.equal(await store.countTasks(a.id), 3);
    });

    test('tasks: update bumps the version, replaces tags and labels; stale expectVersion conflicts', async () => {
      const a = await account();
      const t = await task(a.id, { tags: ['old'], labels: { k: 'v' } });
      const u = await store.updateTask(a.id, t.uuid, { tags: ['new'], labels: { k2: 'v2' }, status: { progress: 50 }, retryCount: 2 }, { expectVersion: 1 });
      assert.equal(u?.version, 2);
      assert.deepEqual(u?.tags, ['new']);
      assert.deepEqual(u?.status, { progress: 50 });
      assert.equal(u?.retryCount, 2);
      assert.equal(await store.countTasks(a.id, { tagsAll: ['old'] }), 0);
      assert.equal(await store.countTasks(a.id, { tagsAll: ['new'], labels: { k2: 'v2' } }), 1);
      await assert.rejects(store.updateTask(a.id, t.uuid, { name: 'late' }, { expectVersion: 1 }), (e) => e instanceof StoreConflictError && e.field === 'version');
      assert.equal(await store.updateTask(a.id, 'missing', { name: 'x' }), undefined);
    });

    test('tasks: transitions are guarded by the current state and keep the previous one', async () => {
      const a = await account();
      const t = await task(a.id);
      now += 5000;
      const r = await store.transitionTask(a.id, t.uuid, { from: ['Submitted'], to: 'FullyDispatched' });
      assert.equal(r?.state, 'FullyDispatched');
      assert.equal(r?.previousState, 'Submitted');
      assert.equal(r?.stateTransitionTime, now);
      assert.equal(r?.version, 2);
      assert.equal(await store.transitionTask(a.id, t.uuid, { from: ['Submitted'], to: 'Cancelled' }), undefined, 'no longer Submitted');
      const done = await store.transitionTask(SYSTEM, t.uuid, { to: 'Success', endDate: now });
      assert.equal(done?.previousState, 'FullyDispatched');
      assert.equal(done?.endDate, now);
    });

    test('tasks: delete removes instances, attempts, events and output with the task', async () => {
      const a = await account();
      const t = await task(a.id);
      await store.applyInstanceEvent({ taskUuid: t.uuid, instanceId: 0, attempt: 1, sequence: 0, add: { energyWh: 1 } });
      await store.appendOutput({ taskUuid: t.uuid, instanceId: 0, stream: 'stdout', text: 'x' });
      await store.readFreshOutput(a.id, t.uuid, 'stdout', 'r');
      assert.equal(await store.deleteTask(a.id, t.uuid), true);
      assert.equal(await store.getTask(SYSTEM, t.uuid), undefined);
      assert.deepEqual(await store.listInstances(SYSTEM, { taskUuid: t.uuid }), []);
      assert.deepEqual(await store.listAttempts(SYSTEM, t.uuid), []);
      assert.equal(await store.readOutput(SYSTEM, t.uuid, 'stdout'), undefined);
      assert.equal(await store.deleteTask(a.id, t.uuid), false);
      // The same uuid could not be reused if rows were left behind (foreign keys would catch orphans).
      const again = await task(a.id, { uuid: t.uuid });
      assert.equal((await store.applyInstanceEvent({ taskUuid: again.uuid, instanceId: 0, attempt: 1, sequence: 0 })).applied, true);
    });

    test('watchTasks: every write to a task or its instances is told before it and again once committed', async () => {
      const a = await account();
      const t = await task(a.id);
      const other = await task(a.id);
      const told: string[] = [];
      const stop = store.watchTasks((uuid) => told.push(uuid));
      try {
        /** Runs a write; returns how often the watcher heard of `uuid` meanwhile (and never of another task). */
        const heard = async (uuid: string, write: () => Promise<unknown>): Promise<number> => {
          told.length = 0;
          await write();
          assert.ok(told.every((u) => u === uuid), `only ${uuid} is told: ${told.join(', ')}`);
          return told.length;
        };
        assert.ok((await heard(t.uuid, () => store.updateTask(a.id, t.uuid, { name: 'renamed' }))) >= 2, 'updateTask');
        assert.ok((await heard(t.uuid, () => store.transitionTask(SYSTEM, t.uuid, { to: 'FullyDispatched' }))) >= 2, 'transitionTask');
        assert.ok((await heard(t.uuid, () => store.applyInstanceEvent({ taskUuid: t.uuid, instanceId: 0, attempt: 1, sequence: 0, set: { state: 'running', progress: 10 } }))) >= 2, 'applyInstanceEvent');
        assert.ok((await heard(t.uuid, () => store.updateInstances(a.id, t.uuid, { instanceIds: [1] }, { state: 'cancelled' }))) >= 2, 'updateInstances');
        // Creations are not told (nothing can be kept about a task before it exists); reads are not either.
        assert.equal(await heard('-', () => task(a.id)), 0);
        assert.equal(await heard('-', () => store.getTask(a.id, t.uuid)), 0);
        // In a transaction: told at the write, and again once it has committed (the rows then read are new).
        let inside = 0;
        const afterCommit = await heard(other.uuid, () =>
          store.transaction(async (tx) => {
            await tx.updateInstances(SYSTEM, other.uuid, { instanceIds: [0] }, { state: 'success' });
            inside = told.length;
            await tx.transitionTask(SYSTEM, other.uuid, { to: 'Success' });
          }),
        );
        assert.ok(inside >= 1 && afterCommit > inside + 1, `told ${inside} inside, ${afterCommit} in all`);
        // And after a rollback too (a reader may have kept what it read while the transaction was open).
        told.length = 0;
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.updateTask(SYSTEM, other.uuid, { name: 'never' });
            inside = told.length;
            throw new Error('roll back');
          }),
          /roll back/,
        );
        assert.ok(inside >= 1 && told.length > inside, 'told again after the rollback');
        assert.equal((await store.getTask(SYSTEM, other.uuid))?.name, 'render');
        assert.ok((await heard(t.uuid, () => store.deleteTask(a.id, t.uuid))) >= 2, 'deleteTask');
      } finally {
        stop();
      }
      told.length = 0;
      await store.updateTask(SYSTEM, other.uuid, { name: 'after stop' });
      assert.deepEqual(told, [], 'a stopped watcher hears nothing');
    });

    test('instances: an event applied twice changes nothing; late and stale events cannot roll back', async () => {
      const a = await account();
      const t = await task(a.id);
      const ev: InstanceEvent = { taskUuid: t.uuid, instanceId: 1, attempt: 1, sequence: 1, set: { state: 'running', phase: 'execution', heaterId: 'h1', boardIndex: 2, startedAt: now, clockRatio: 0.8 }, add: { energyWh: 5, ghzSeconds: 30, execTimeSec: 10 } };
      const r1 = await store.applyInstanceEvent(ev);
      assert.equal(r1.applied, true);
      const r2 = await store.applyInstanceEvent(ev);
      assert.equal(r2.applied, false);
      assert.deepEqual(r2.instance, r1.instance);
      assert.equal(r1.instance?.energyWh, 5);
      assert.equal(r1.instance?.attempt, 1);
      // A later event, then an earlier one arriving late: the earlier one's amounts count, its fields do not.
      await store.applyInstanceEvent({ taskUuid: t.uuid, instanceId: 1, attempt: 1, sequence: 3, set: { progress: 60 }, add: { energyWh: 1 } });
      const late = await store.applyInstanceEvent({ taskUuid: t.uuid, instanceId: 1, attempt: 1, sequence: 2, set: { progress: 30, state: 'paused' }, add: { energyWh: 1 } });
      assert.equal(late.applied, true);
      assert.equal(late.instance?.progress, 60);
      assert.equal(late.instance?.state, 'running');
      assert.equal(late.instance?.energyWh, 7);
      // A second attempt (after a kill), then a stale report from the first.
      await store.applyInstanceEvent({ taskUuid: t.uuid, instanceId: 1, attempt: 2, sequence: 0, set: { state: 'running', heaterId: 'h2', progress: 0 }, add: { energyWh: 2 } });
      const stale = await store.applyInstanceEvent({ taskUuid: t.uuid, instanceId: 1, attempt: 1, sequence: 9, set: { state: 'failure' }, add: { energyWh: 0.5 } });
      assert.equal(stale.instance?.state, 'running');
      assert.equal(stale.instance?.heaterId, 'h2');
      assert.equal(stale.instance?.attempt, 2);
      assert.equal(stale.instance?.energyWh, 9.5);
      const attempts = await store.listAttempts(a.id, t.uuid, 1);
      assert.deepEqual(attempts.map((x) => [x.attempt, x.energyWh, x.heaterId, x.state]), [
        [1, 7.5, 'h1', 'failure'],
        [2, 2, 'h2', 'running'],
      ]);
      assert.equal(attempts[0].clockRatio, 0.8);
      const sum = await store.summarizeInstances(a.id, t.uuid);
      assert.equal(sum?.instanceCount, 3);
      assert.deepEqual(sum?.byState, { queued: 2, running: 1 });
      assert.equal(sum?.energyWh, 9.5);
      assert.equal(sum?.ghzSeconds, 30);
      assert.equal((await store.applyInstanceEvent({ taskUuid: t.uuid, instanceId: 99, attempt: 1, sequence: 0 })).applied, false, 'unknown instance');
      // Bulk state change (abort).
      assert.equal(await store.updateInstances(a.id, t.uuid, { states: ['queued'] }, { state: 'cancelled', endedAt: now }), 2);
      assert.deepEqual((await store.listInstances(SYSTEM, { taskUuid: t.uuid, states: ['cancelled'] })).map((i) => i.instanceId), [0, 2]);
    });

    test('instances: the events applied are listed with their time, once each, by attempt and sequence, scoped to the owner', async () => {
      const a = await account();
      const b = await account();
      const t = await task(a.id);
      const base = 1_000_000_000;
      // Out of order, one of them twice; another instance's events are not this one's.
      await store.applyInstanceEvent({ taskUuid: t.uuid, instanceId: 0, attempt: 2, sequence: 0, at: now + 30, set: { state: 'running' } });
      await store.applyInstanceEvent({ taskUuid: t.uuid, instanceId: 0, attempt: 1, sequence: base + 1, at: now + 20, set: { state: 'queued' } });
      await store.applyInstanceEvent({ taskUuid: t.uuid, instanceId: 0, attempt: 1, sequence: 3, at: now + 10 });
      await store.applyInstanceEvent({ taskUuid: t.uuid, instanceId: 0, attempt: 1, sequence: 3, at: now + 99 });
      await store.applyInstanceEvent({ taskUuid: t.uuid, instanceId: 0, attempt: 1, sequence: base + 800_000_000, at: now + 40 });
      await store.applyInstanceEvent({ taskUuid: t.uuid, instanceId: 1, attempt: 1, sequence: base + 1, at: now + 50 });
      const all = await store.listInstanceEvents(a.id, t.uuid, 0);
      assert.deepEqual(all, [
        { attempt: 1, sequence: 3, at: now + 10 },
        { attempt: 1, sequence: base + 1, at: now + 20 },
        { attempt: 1, sequence: base + 800_000_000, at: now + 40 },
        { attempt: 2, sequence: 0, at: now + 30 },
      ]);
      assert.deepEqual(await store.listInstanceEvents(SYSTEM, t.uuid, 0, { minSequence: base }), [all[1], all[2]]);
      assert.deepEqual(await store.listInstanceEvents(b.id, t.uuid, 0), [], "another account's task is invisible");
      assert.deepEqual(await store.listInstanceEvents(SYSTEM, t.uuid, 7), []);
      await assert.rejects(store.listInstanceEvents(SYSTEM, t.uuid, 0, { minSequence: -1 }), StoreInputError);
    });

    test('instances: listed by the device their current attempt is placed on, with states, scoped to the owner', async () => {
      const a = await account();
      const b = await account();
      const ta = await task(a.id);
      const tb = await task(b.id, { instanceIds: [0] });
      const hx = uniq('hx');
      const hy = uniq('hy');
      const place = (t: TaskRecord, instanceId: number, attempt: number, heaterId: string, state: 'running' | 'paused' | 'success'): Promise<unknown> =>
        store.applyInstanceEvent({ taskUuid: t.uuid, instanceId, attempt, sequence: 0, set: { state, heaterId, boardIndex: instanceId } });
      await place(ta, 0, 1, hx, 'running');
      await place(ta, 1, 1, hy, 'paused');
      await place(ta, 2, 1, hx, 'success');
      await place(tb, 0, 1, hx, 'running');
      // Moved: a second attempt elsewhere takes the instance off its first device.
      await place(ta, 1, 2, hx, 'running');
      const key = (i: InstanceRecord): string => `${i.taskUuid === ta.uuid ? 'a' : 'b'}${i.instanceId}@${i.heaterId}/${i.boardIndex}:${i.state}`;
      const onX = await store.listInstances(SYSTEM, { heaterIds: [hx], states: ['running', 'paused'] });
      assert.deepEqual(onX.map(key).sort(), [`a0@${hx}/0:running`, `a1@${hx}/1:running`, `b0@${hx}/0:running`]);
      assert.deepEqual(await store.listInstances(SYSTEM, { heaterIds: [hy] }), []);
      assert.equal((await store.listInstances(SYSTEM, { heaterIds: [hx, hy] })).length, 4, 'finished ones too without a state filter');
      assert.deepEqual(await store.listInstances(SYSTEM, { heaterIds: [] }), []);
      assert.deepEqual((await store.listInstances(b.id, { heaterIds: [hx] })).map(key), [`b0@${hx}/0:running`], 'B sees only its own instance on the device');
      assert.deepEqual((await store.listInstances(a.id, { taskUuid: ta.uuid, heaterIds: [hx], states: ['success'] })).map(key), [`a2@${hx}/2:success`]);
    });

    test('instances: property — any order, any duplication of events gives the same totals and final fields', async () => {
      const a = await account();
      const events = fc.uniqueArray(
        fc.record({ attempt: fc.integer({ min: 1, max: 3 }), sequence: fc.integer({ min: 0, max: 6 }), energyWh: fc.integer({ min: 0, max: 100 }), progress: fc.integer({ min: 0, max: 100 }) }),
        { minLength: 1, maxLength: 8, selector: (e) => `${e.attempt}/${e.sequence}` },
      );
      await fc.assert(
        fc.asyncProperty(events, fc.array(fc.nat(), { maxLength: 12 }), async (evs, dupPicks) => {
          const t = await task(a.id, { instanceIds: [0] });
          const sendOrder = [...evs, ...dupPicks.map((i) => evs[i % evs.length])];
          for (const e of sendOrder) {
            await store.applyInstanceEvent({ taskUuid: t.uuid, instanceId: 0, attempt: e.attempt, sequence: e.sequence, set: { progress: e.progress }, add: { energyWh: e.energyWh } });
          }
          const i = (await store.getInstance(a.id, t.uuid, 0))!;
          assert.equal(i.energyWh, evs.reduce((s, e) => s + e.energyWh, 0));
          // Fields come from the newest event of the newest attempt... among those applied while newest: the
          // first-sent events are the unique ones, so the winner is the max (attempt, sequence) event.
          const win = [...evs].sort((x, y) => x.attempt - y.attempt || x.sequence - y.sequence).at(-1)!;
          assert.equal(i.attempt, win.attempt);
          assert.equal(i.progress, win.progress);
        }),
        { numRuns: 12 },
      );
    });

    test('instances: concurrent duplicates apply once', async () => {
      const a = await account();
      const t = await task(a.id, { instanceIds: [0] });
      const ev = { taskUuid: t.uuid, instanceId: 0, attempt: 1, sequence: 0, add: { energyWh: 3 } };
      const rs = await Promise.all([1, 2, 3, 4, 5, 6].map(() => store.applyInstanceEvent(ev)));
      assert.equal(rs.filter((r) => r.applied).length, 1);
      assert.equal((await store.getInstance(a.id, t.uuid, 0))?.energyWh, 3);
    });

    test('charges: written with the event, charged once, exact to the micro-euro over many small ones, kept after the task', async () => {
      const a = await account(); // 10 €
      const b = await account();
      const t = await task(a.id);
      const t0 = 1_800_000_000_000;
      // 0.4 µ€ each: rounded one by one, every one of these would be charged nothing.
      const small = { schedulingType: 'flex' as const, coreSeconds: 0.072, amountEUR: 0.4e-6 };
      let charged = 0;
      for (let k = 0; k < 25; k++) {
        const r = await store.applyInstanceEvent({ taskUuid: t.uuid, instanceId: 0, attempt: 1, sequence: k, at: t0 + k * 1000, add: { wallTimeSec: 0.072 }, charge: small });
        assert.equal(r.applied, true);
        charged += r.chargedEUR ?? NaN;
      }
      // A replay (same key) charges nothing; an event without a charge neither.
      const again = await store.applyInstanceEvent({ taskUuid: t.uuid, instanceId: 0, attempt: 1, sequence: 3, add: { wallTimeSec: 0.072 }, charge: small });
      assert.deepEqual([again.applied, again.chargedEUR], [false, undefined]);
      assert.equal((await store.applyInstanceEvent({ taskUuid: t.uuid, instanceId: 1, attempt: 1, sequence: 0, add: { wallTimeSec: 1 } })).chargedEUR, 0);
      assert.equal(Math.round(charged * 1e6), 10, '25 × 0.4 µ€ = 10 µ€, charged as the running total rounds');
      assert.equal((await store.getAccount(a.id))?.creditsEUR, 9.99999);
      // A larger one of another type, later.
      const r = await store.applyInstanceEvent({ taskUuid: t.uuid, instanceId: 2, attempt: 2, sequence: 0, at: t0 + 3_600_000, add: { wallTimeSec: 3600 }, charge: { schedulingType: 'onDemand', coreSeconds: 7200, amountEUR: 0.08 } });
      assert.equal(r.chargedEUR, 0.08);
      assert.equal((await store.getAccount(a.id))?.creditsEUR, 9.91999);
      const all = await store.summarizeCharges(a.id);
      assert.deepEqual(all.map((c) => [c.schedulingType, c.charges, Math.round(c.coreSeconds * 1000) / 1000, c.chargedEUR]), [
        ['flex', 25, 1.8, 0.00001],
        ['onDemand', 1, 7200, 0.08],
      ]);
      // Ranges by the event's time, half-open; scoped to the owner; SYSTEM sees everyone's.
      assert.deepEqual((await store.summarizeCharges(a.id, { from: t0 + 3_600_000 })).map((c) => c.schedulingType), ['onDemand']);
      assert.deepEqual((await store.summarizeCharges(a.id, { to: t0 + 3_600_000 })).map((c) => c.schedulingType), ['flex']);
      assert.deepEqual(await store.summarizeCharges(a.id, { from: t0 + 10_000, to: t0 + 10_000 }), []);
      assert.deepEqual(await store.summarizeCharges(b.id), []);
      assert.ok((await store.summarizeCharges(SYSTEM)).some((c) => c.schedulingType === 'onDemand' && c.charges >= 1));
      // Bad charges are refused, naming the field, and change nothing.
      for (const [charge, field] of [
        [{ ...small, amountEUR: -1 }, 'charge.amountEUR'],
        [{ ...small, coreSeconds: Number.NaN }, 'charge.coreSeconds'],
        [{ ...small, schedulingType: 'free' }, 'charge.schedulingType'],
      ] as const) {
        await assert.rejects(store.applyInstanceEvent({ taskUuid: t.uuid, instanceId: 1, attempt: 1, sequence: 9, add: { wallTimeSec: 1 }, charge: charge as InstanceCharge }), (e: Error & { field?: string }) => e.field === field);
      }
      assert.equal((await store.getInstance(a.id, t.uuid, 1))?.wallTimeSec, 1);
      assert.equal((await store.getAccount(a.id))?.creditsEUR, 9.91999);
      // The bill outlives the task.
      assert.equal(await store.deleteTask(a.id, t.uuid), true);
      assert.equal((await store.summarizeCharges(a.id)).reduce((n, c) => n + c.charges, 0), 26);
    });

    test('charges: concurrent reports of one account are each charged once, in whole micro-euros adding up to the exact total', async () => {
      const a = await account();
      const ts = await Promise.all([task(a.id), task(a.id)]);
      const evs = ts.flatMap((t) => [0, 1, 2].flatMap((i) => [0, 1, 2].map((seq) => ({ taskUuid: t.uuid, instanceId: i, attempt: 1, sequence: seq, add: { wallTimeSec: 10 }, charge: { schedulingType: 'reserved' as const, coreSeconds: 10, amountEUR: 1 / 12000 } }))));
      // Each event twice, all at once.
      const rs = await Promise.all([...evs, ...evs].map((ev) => store.applyInstanceEvent(ev)));
      assert.equal(rs.filter((r) => r.applied).length, evs.length);
      const [c] = await store.summarizeCharges(a.id);
      assert.equal(c.charges, evs.length);
      assert.equal(Math.round(c.chargedEUR * 1e6), Math.round((evs.length / 12000) * 1e6));
      assert.equal((await store.getAccount(a.id))?.creditsEUR, (10e6 - Math.round((evs.length / 12000) * 1e6)) / 1e6);
    });

    test('output: ordered, per instance or whole task, verbatim; fresh reads per reader and selection', async () => {
      const a = await account();
      const b = await account();
      const t = await task(a.id);
      const texts = ['line 1\n', 'ünïcödé 🔥\n', 'nul \u0000 inside\n', '', 'x'.repeat(10_000)];
      for (const [i, text] of texts.entries()) {
        const r = await store.appendOutput({ taskUuid: t.uuid, instanceId: i % 2, stream: 'stdout', text });
        assert.equal(r.appended, true);
      }
      await store.appendOutput({ taskUuid: t.uuid, instanceId: 0, stream: 'stderr', text: 'oops' });
      const all = (await store.readOutput(a.id, t.uuid, 'stdout'))!;
      assert.deepEqual(all.map((c) => c.text), texts);
      assert.deepEqual(all.map((c) => c.instanceId), [0, 1, 0, 1, 0]);
      assert.ok(all.every((c, i) => i === 0 || c.seq > all[i - 1].seq));
      assert.deepEqual((await store.readOutput(a.id, t.uuid, 'stdout', { instanceId: 1 }))!.map((c) => c.text), [texts[1], texts[3]]);
      assert.deepEqual((await store.readOutput(a.id, t.uuid, 'stderr'))!.map((c) => c.text), ['oops']);
      assert.deepEqual((await store.readOutput(a.id, t.uuid, 'stdout', { afterSeq: all[2].seq }))!.map((c) => c.seq), [all[3].seq, all[4].seq]);

      // Fresh: each reader has its own cursor, per stream and per instance selection.
      assert.equal((await store.readFreshOutput(a.id, t.uuid, 'stdout', 'tokA'))!.length, 5);
      assert.deepEqual(await store.readFreshOutput(a.id, t.uuid, 'stdout', 'tokA'), []);
      assert.equal((await store.readFreshOutput(a.id, t.uuid, 'stdout', 'tokB', { instanceId: 0 }))!.length, 3);
      assert.equal((await store.readFreshOutput(a.id, t.uuid, 'stderr', 'tokA'))!.length, 1);
      await store.appendOutput({ taskUuid: t.uuid, instanceId: 0, stream: 'stdout', text: 'new' });
      assert.deepEqual((await store.readFreshOutput(a.id, t.uuid, 'stdout', 'tokA'))!.map((c) => c.text), ['new']);
      assert.deepEqual((await store.readFreshOutput(a.id, t.uuid, 'stdout', 'tokB', { instanceId: 0 }))!.map((c) => c.text), ['new']);
      assert.deepEqual((await store.readFreshOutput(a.id, t.uuid, 'stdout', 'tokB', { instanceId: 1 }))!.length, 2);
      assert.equal((await store.readFreshOutput(a.id, t.uuid, 'stdout', 'tokC', { limit: 2 }))!.length, 2, 'a limited read moves the cursor only past what it returned');
      assert.equal((await store.readFreshOutput(a.id, t.uuid, 'stdout', 'tokC'))!.length, 4);
      assert.equal(await store.readFreshOutput(b.id, t.uuid, 'stdout', 'tokA'), undefined);

      // Idempotent chunks from a retrying sender; unknown task.
      const k = { taskUuid: t.uuid, instanceId: 1, stream: 'stdout' as const, text: 'once', attempt: 1, chunkSeq: 7 };
      assert.equal((await store.appendOutput(k)).appended, true);
      assert.equal((await store.appendOutput(k)).appended, false);
      assert.equal((await store.appendOutput({ ...k, chunkSeq: 8 })).appended, true);
      assert.deepEqual(await store.appendOutput({ ...k, taskUuid: 'gone' }), { appended: false, seq: null });
    });

    test('output: concurrent appends get distinct increasing seqs and a fresh reader sees each once', async () => {
      const a = await account();
      const t = await task(a.id);
      const seen: string[] = [];
      const writes = Array.from({ length: 30 }, (_, i) => store.appendOutput({ taskUuid: t.uuid, instanceId: i % 3, stream: 'stdout', text: `c${i}` }));
      const reads = Array.from({ length: 5 }, () => store.readFreshOutput(a.id, t.uuid, 'stdout', 'r').then((cs) => seen.push(...cs!.map((c) => c.text))));
      const rs = await Promise.all(writes);
      await Promise.all(reads);
      seen.push(...(await store.readFreshOutput(a.id, t.uuid, 'stdout', 'r'))!.map((c) => c.text));
      const seqs = rs.map((r) => r.seq!);
      assert.equal(new Set(seqs).size, 30);
      assert.deepEqual([...seen].sort(), Array.from({ length: 30 }, (_, i) => `c${i}`).sort());
    });

    test('jobs: shortname unique per account, scoped reads, paged list, update, delete', async () => {
      const a = await account();
      const b = await account();
      const j = await store.createJob({ accountId: a.id, name: 'nightly', shortname: 'nightly', useDependencies: true, maxWallTimeSec: 3600, body: { x: 1 } });
      assert.deepEqual(await store.getJob(a.id, j.uuid), j);
      assert.equal(j.state, 'Active');
      assert.equal(j.useDependencies, true);
      await assert.rejects(store.createJob({ accountId: a.id, name: 'x', shortname: 'nightly' }), (e) => e instanceof StoreConflictError && e.field === 'jobShortname');
      await store.createJob({ accountId: b.id, name: 'x', shortname: 'nightly' });
      assert.equal(await store.getJob(b.id, j.uuid), undefined);
      for (let i = 0; i < 4; i++) await store.createJob({ accountId: a.id, name: `j${i}` });
      const seen: string[] = [];
      let token: string | null = null;
      do {
        const p = await store.listJobs(a.id, { limit: 2, pageToken: token });
        seen.push(...p.items.map((x) => x.uuid));
        token = p.nextToken;
      } while (token);
      assert.equal(seen.length, 5);
      assert.equal(new Set(seen).size, 5);
      now += 10;
      const u = await store.updateJob(a.id, j.uuid, { state: 'Terminating', endDate: now });
      assert.equal(u?.state, 'Terminating');
      assert.equal(u?.lastModified, now);
      assert.equal(await store.updateJob(b.id, j.uuid, { state: 'Completed' }), undefined);
      assert.equal(await store.deleteJob(b.id, j.uuid), false);
      assert.equal(await store.deleteJob(a.id, j.uuid), true);
      assert.equal(await store.getJob(SYSTEM, j.uuid), undefined);
    });

    test('buckets: names global (taken vs owned-by-you), scoped, delete only when empty, usage', async () => {
      const a = await account();
      const b = await account();
      const name = uniq('bkt');
      const bk = await store.createBucket({ name, accountId: a.id });
      assert.deepEqual(await store.getBucket(a.id, name), bk);
      await assert.rejects(store.createBucket({ name, accountId: b.id }), (e) => e instanceof StoreConflictError && e.field === 'bucket' && !e.ownedByCaller);
      await assert.rejects(store.createBucket({ name, accountId: a.id }), (e) => e instanceof StoreConflictError && e.ownedByCaller);
      assert.equal(await store.getBucket(b.id, name), undefined);
      assert.deepEqual(await store.listBuckets(b.id), []);
      assert.deepEqual((await store.listBuckets(a.id)).map((x) => x.name), [name]);
      assert.equal(await store.putObject(b.id, { bucket: name, key: 'k', size: 1, etag: 'e', blobHash: 'h' }), undefined);
      await store.putObject(a.id, { bucket: name, key: 'k1', size: 10, etag: 'e', blobHash: 'h1' });
      await store.putObject(a.id, { bucket: name, key: 'k2', size: 32, etag: 'e', blobHash: 'h2' });
      assert.deepEqual(await store.bucketUsage(a.id), { bytes: 42, objects: 2 });
      assert.deepEqual(await store.bucketUsage(b.id), { bytes: 0, objects: 0 });
      assert.deepEqual(await store.deleteBucket(b.id, name), { outcome: 'not-found' });
      assert.deepEqual(await store.deleteBucket(a.id, name), { outcome: 'not-empty' });
      await store.deleteObject(a.id, name, 'k1');
      await store.deleteObject(a.id, name, 'k2');
      const up = await store.createMultipartUpload(a.id, { bucket: name, key: 'big' });
      assert.deepEqual(await store.deleteBucket(a.id, name), { outcome: 'not-empty' }, 'an upload in progress counts');
      await store.abortMultipartUpload(a.id, name, up!.uploadId);
      assert.deepEqual(await store.deleteBucket(a.id, name), { outcome: 'deleted' });
      assert.equal(await store.getBucket(SYSTEM, name), undefined);
      await store.createBucket({ name, accountId: b.id }); // the name is free again
    });

    test('objects: put replaces and returns the previous, get scoped, delete returns the removed, blob references', async () => {
      const a = await account();
      const b = await account();
      const bucket = uniq('obj');
      await store.createBucket({ name: bucket, accountId: a.id });
      const p1 = await store.putObject(a.id, { bucket, key: 'dir/f.txt', size: 3, etag: 'md5a', contentType: 'text/plain', blobHash: 'blobA', metadata: { owner: 'me' } });
      assert.equal(p1?.previous, undefined);
      assert.equal(p1?.object.lastModified, now);
      now += 1000;
      const p2 = await store.putObject(a.id, { bucket, key: 'dir/f.txt', size: 4, etag: 'md5b', blobHash: 'blobB' });
      assert.deepEqual(p2?.previous, p1?.object);
      const got = await store.getObject(a.id, bucket, 'dir/f.txt');
      assert.deepEqual(got, { bucket, key: 'dir/f.txt', size: 4, etag: 'md5b', contentType: null, blobHash: 'blobB', metadata: {}, lastModified: now });
      assert.equal(await store.getObject(b.id, bucket, 'dir/f.txt'), undefined);
      assert.equal(await store.deleteObject(b.id, bucket, 'dir/f.txt'), undefined);
      assert.equal(await store.isBlobReferenced('blobB'), true);
      assert.equal(await store.isBlobReferenced('blobA'), false);
      assert.deepEqual(await store.deleteObject(a.id, bucket, 'dir/f.txt'), got);
      assert.equal(await store.deleteObject(a.id, bucket, 'dir/f.txt'), undefined);
      assert.equal(await store.isBlobReferenced('blobB'), false);
    });

    test('objects: listing matches S3 semantics (prefix, delimiter, start-after, continuation) on random keys', async () => {
      const a = await account();
      const b = await account();
      const mine = uniq('list');
      await store.createBucket({ name: mine, accountId: a.id });
      assert.equal(await store.listObjects(b.id, mine), undefined);
      assert.deepEqual(await store.listObjects(a.id, mine), { objects: [], commonPrefixes: [], isTruncated: false, nextContinuationToken: null });
      const keyArb = fc.oneof(
        fc.array(fc.constantFrom('a', 'b', '/', 'é', '🔥', '-', '\uFFFF', '\u{10FFFF}'), { minLength: 1, maxLength: 6 }).map((x) => x.join('')),
        anyText(8).filter((s) => s.length > 0),
      );
      const keys = fc.uniqueArray(keyArb, { minLength: 0, maxLength: 20 });
      await fc.assert(
        fc.asyncProperty(
          keys,
          fc.constantFrom('', 'a', 'b/', 'é'),
          fc.constantFrom('', '/', 'b'),
          fc.integer({ min: 1, max: 7 }),
          fc.option(keyArb, { nil: undefined }),
          async (ks, prefix, delimiter, maxKeys, startAfter) => {
            const bucket = uniq('list');
            await store.createBucket({ name: bucket, accountId: a.id });
            await store.transaction(async (tx) => {
              for (const k of ks) await tx.putObject(a.id, { bucket, key: k, size: 1, etag: 'e', blobHash: 'h' });
            });
            // Reference: S3 ListObjectsV2 over the sorted keys.
            const expected: string[] = [];
            for (const k of [...ks].sort(byteOrder)) {
              if (!k.startsWith(prefix) || (startAfter !== undefined && byteOrder(k, startAfter) <= 0)) continue;
              const i = delimiter ? k.slice(prefix.length).indexOf(delimiter) : -1;
              const item = i >= 0 ? `P:${prefix}${k.slice(prefix.length, prefix.length + i + delimiter.length)}` : `K:${k}`;
              if (expected.at(-1) !== item) expected.push(item);
            }
            const got: string[] = [];
            let token: string | undefined;
            for (let guard = 0; guard < 100; guard++) {
              const page = (await store.listObjects(a.id, bucket, { prefix, delimiter, maxKeys, startAfter, continuationToken: token }))!;
              const items = [...page.objects.map((o) => `K:${o.key}`), ...page.commonPrefixes.map((p) => `P:${p}`)].sort((x, y) => byteOrder(x.slice(2), y.slice(2)));
              assert.ok(items.length <= maxKeys);
              got.push(...items);
              if (!page.isTruncated) break;
              token = page.nextContinuationToken!;
            }
            assert.deepEqual(got, expected);
          },
        ),
        { numRuns: 15 },
      );
      await assert.rejects(store.listObjects(a.id, mine, { continuationToken: '%%%' }), StoreInputError);
    });

    test('multipart: parts replaced by number, completion writes the object and drops the upload, abort, scoping', async () => {
      const a = await account();
      const b = await account();
      const bucket = uniq('mp');
      await store.createBucket({ name: bucket, accountId: a.id });
      assert.equal(await store.createMultipartUpload(b.id, { bucket, key: 'x' }), undefined);
      const up = (await store.createMultipartUpload(a.id, { bucket, key: 'video.mp4', contentType: 'video/mp4', metadata: { m: '1' } }))!;
      assert.deepEqual(await store.getMultipartUpload(a.id, bucket, up.uploadId), up);
      assert.equal(await store.getMultipartUpload(b.id, bucket, up.uploadId), undefined);
      assert.equal(await store.putPart(b.id, { uploadId: up.uploadId, partNumber: 1, size: 5, etag: 'e', blobHash: 'p1' }), undefined);
      await store.putPart(a.id, { uploadId: up.uploadId, partNumber: 2, size: 7, etag: 'e2', blobHash: 'p2' });
      await store.putPart(a.id, { uploadId: up.uploadId, partNumber: 1, size: 5, etag: 'e1', blobHash: 'p1' });
      const re = await store.putPart(a.id, { uploadId: up.uploadId, partNumber: 1, size: 6, etag: 'e1b', blobHash: 'p1b' });
      assert.equal(re?.previous?.blobHash, 'p1');
      assert.deepEqual((await store.listParts(a.id, bucket, up.uploadId))!.map((p) => [p.partNumber, p.size, p.blobHash]), [
        [1, 6, 'p1b'],
        [2, 7, 'p2'],
      ]);
      assert.equal(await store.listParts(b.id, bucket, up.uploadId), undefined);
      assert.equal(await store.isBlobReferenced('p2'), true);
      assert.deepEqual((await store.listMultipartUploads(a.id, bucket))!.map((u) => u.uploadId), [up.uploadId]);
      const done = (await store.completeMultipartUpload(a.id, bucket, up.uploadId, { size: 13, etag: 'abc-2', blobHash: 'whole' }))!;
      assert.equal(done.parts.length, 2);
      assert.equal(done.previous, undefined);
      assert.deepEqual(await store.getObject(a.id, bucket, 'video.mp4'), done.object);
      assert.equal(done.object.contentType, 'video/mp4');
      assert.deepEqual(done.object.metadata, { m: '1' });
      assert.equal(await store.getMultipartUpload(a.id, bucket, up.uploadId), undefined);
      assert.equal(await store.isBlobReferenced('p2'), false);
      assert.equal(await store.completeMultipartUpload(a.id, bucket, up.uploadId, { size: 1, etag: 'x', blobHash: 'y' }), undefined);
      const up2 = (await store.createMultipartUpload(a.id, { bucket, key: 'k' }))!;
      await store.putPart(a.id, { uploadId: up2.uploadId, partNumber: 1, size: 1, etag: 'e', blobHash: 'q1' });
      assert.equal(await store.abortMultipartUpload(b.id, bucket, up2.uploadId), undefined);
      assert.deepEqual((await store.abortMultipartUpload(a.id, bucket, up2.uploadId))!.map((p) => p.blobHash), ['q1']);
      assert.deepEqual(await store.listMultipartUploads(a.id, bucket), []);
    });

    test('idempotency keys: the first answer is kept, per account; pruned by age', async () => {
      const a = await account();
      const b = await account();
      const first = await store.saveIdempotency({ accountId: a.id, key: 'k1', fingerprint: 'POST /tasks#1', status: 201, response: { uuid: 'u1' } });
      assert.equal(first.saved, true);
      const second = await store.saveIdempotency({ accountId: a.id, key: 'k1', fingerprint: 'POST /tasks#2', status: 201, response: { uuid: 'u2' } });
      assert.equal(second.saved, false);
      assert.deepEqual(second.record.response, { uuid: 'u1' });
      assert.equal((await store.saveIdempotency({ accountId: b.id, key: 'k1', fingerprint: 'f', status: 200, response: null })).saved, true);
      assert.equal((await store.getIdempotency(a.id, 'k1'))?.fingerprint, 'POST /tasks#1');
      assert.equal(await store.getIdempotency(a.id, 'nope'), undefined);
      now += 10_000;
      assert.ok((await store.pruneIdempotency(now)) >= 2);
      assert.equal(await store.getIdempotency(a.id, 'k1'), undefined);
    });

    test('registry: upsert keeps createdAt, lists by kind, site and parent, deletes', async () => {
      const site = uniq('site');
      const s = await store.upsertRegistry({ id: site, kind: 'site', name: 'Agen HQ', spec: { zone: 'H2c' } });
      assert.equal(s.siteId, null);
      const room = await store.upsertRegistry({ id: uniq('room'), kind: 'room', siteId: site, name: 'Salon', spec: { archetype: 'dwelling-1975' } });
      const heater = await store.upsertRegistry({ id: uniq('heater'), kind: 'heater', siteId: site, parentId: room.id, name: 'Q.rad 1', spec: { boards: 3 } });
      await store.upsertRegistry({ id: uniq('board'), kind: 'board', siteId: site, parentId: heater.id, name: 'b0', spec: {} });
      now += 1000;
      const renamed = await store.upsertRegistry({ id: room.id, kind: 'room', siteId: site, name: 'Séjour', spec: { archetype: 'dwelling-1975', areaM2: 20 } });
      assert.equal(renamed.createdAt, room.createdAt);
      assert.equal(renamed.updatedAt, now);
      assert.equal(renamed.name, 'Séjour');
      assert.deepEqual((await store.listRegistry({ siteId: site })).length, 3);
      assert.deepEqual((await store.listRegistry({ kind: 'heater', siteId: site })).map((r) => r.id), [heater.id]);
      assert.deepEqual((await store.listRegistry({ parentId: heater.id })).map((r) => r.kind), ['board']);
      assert.deepEqual(await store.getRegistry(heater.id), heater);
      assert.equal(await store.deleteRegistry(heater.id), true);
      assert.equal(await store.getRegistry(heater.id), undefined);
      assert.equal(await store.deleteRegistry(heater.id), false);
    });

    test('telemetry: duplicates ignored, ranges half-open, downsampled mean/min/max per aligned bucket, pruning', async () => {
      const dev = uniq('dev');
      const base = 1_767_225_600_000;
      const samples = Array.from({ length: 120 }, (_, i) => ({ deviceId: dev, time: base + i * 30_000, data: { tempC: 20 + (i % 10), powerW: i, mode: 'eco', nested: { x: 1 } } }));
      assert.equal(await store.appendTelemetry(samples), 120);
      assert.equal(await store.appendTelemetry(samples.slice(0, 10)), 0, 'same (device, time) again');
      assert.equal(await store.appendTelemetry([]), 0);
      const raw = await store.readTelemetry(dev, { from: base, to: base + 10 * 30_000 });
      assert.equal(raw.length, 10);
      assert.deepEqual(raw[3], samples[3]);
      const buckets = await store.readTelemetryDownsampled(dev, { from: base, to: base + 3600_000, bucketMs: 600_000 });
      assert.equal(buckets.length, 6);
      for (const [k, bkt] of buckets.entries()) {
        const inBucket = samples.filter((s) => s.time >= base + k * 600_000 && s.time < base + (k + 1) * 600_000);
        assert.equal(bkt.time, base + k * 600_000);
        assert.equal(bkt.count, inBucket.length);
        assert.equal(bkt.mean.powerW, inBucket.reduce((s, x) => s + x.data.powerW, 0) / inBucket.length);
        assert.equal(bkt.min.tempC, Math.min(...inBucket.map((x) => x.data.tempC)));
        assert.equal(bkt.max.tempC, Math.max(...inBucket.map((x) => x.data.tempC)));
        assert.equal('mode' in bkt.mean, false, 'only numeric fields are aggregated');
      }
      const offset = await store.readTelemetryDownsampled(dev, { from: base + 45_000, to: base + 125_000, bucketMs: 60_000 });
      assert.deepEqual(offset.map((b) => [b.time - base, b.count]), [[60_000, 2], [120_000, 1]]);
      assert.deepEqual(await store.readTelemetryDownsampled(uniq('none'), { from: 0, to: base, bucketMs: 1000 }), []);
      assert.equal(await store.pruneTelemetry(base + 60 * 30_000, dev), 60);
      assert.equal((await store.readTelemetry(dev, { from: 0, to: base * 2 })).length, 60);
    });

    test('event log: ids increase in commit order, reads resume after an id, scoped, pruned', async () => {
      const a = await account();
      const b = await account();
      const e1 = await store.appendEvent({ type: 'task.created', accountId: a.id, payload: { uuid: 'u' } });
      const e2 = await store.appendEvent({ type: 'site.updated', payload: { id: 's' } });
      const e3 = await store.appendEvent({ type: 'task.state', accountId: b.id, payload: { state: 'Success' } });
      assert.ok(e1.id < e2.id && e2.id < e3.id);
      const concurrent = await Promise.all(Array.from({ length: 10 }, (_, i) => store.appendEvent({ type: 'x', accountId: a.id, payload: i })));
      assert.equal(new Set(concurrent.map((e) => e.id)).size, 10);
      assert.deepEqual((await store.readEvents(SYSTEM, { afterId: e1.id, limit: 2 })).map((e) => e.id), [e2.id, e3.id]);
      const mine = await store.readEvents(a.id, { afterId: e1.id - 1 });
      assert.equal(mine.length, 11);
      assert.ok(mine.every((e) => e.accountId === a.id));
      assert.deepEqual(mine[0], e1);
      now += 1;
      assert.ok((await store.pruneEvents(now)) >= 13);
      assert.deepEqual(await store.readEvents(a.id, { afterId: 0 }), []);
    });

    test('transactions: a throw rolls everything back; nested transactions join; results pass through', async () => {
      const a = await account();
      const email = `${uniq('tx')}@x`;
      let uuid = '';
      await assert.rejects(
        store.transaction(async (tx) => {
          const acc = await tx.createAccount({ email, role: 'customer' });
          uuid = (await tx.createTask({ accountId: acc.id, name: 'n', profile: 'p', body: {}, instanceIds: [0] })).uuid;
          await tx.adjustCredits(a.id, 100);
          await tx.transaction(async (inner) => {
            await inner.appendEvent({ type: 'inner', payload: null });
          });
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal(await store.getAccountByEmail(email), undefined);
      assert.equal(await store.getTask(SYSTEM, uuid), undefined);
      assert.equal((await store.getAccount(a.id))?.creditsEUR, 10);
      // A conflict inside a transaction aborts it as a whole.
      await task(a.id, { shortname: 'dup' });
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.adjustCredits(a.id, 5);
          await tx.createTask({ accountId: a.id, shortname: 'dup', name: 'n', profile: 'p', body: {}, instanceIds: [0] });
        }),
        StoreConflictError,
      );
      assert.equal((await store.getAccount(a.id))?.creditsEUR, 10);
      const r = await store.transaction(async (tx) => {
        const t = await tx.createTask({ accountId: a.id, name: 'n', profile: 'p', body: {}, instanceIds: [0] });
        return tx.transaction((inner) => inner.getTask(a.id, t.uuid));
      });
      assert.equal((await store.getTask(a.id, r!.uuid))?.uuid, r?.uuid);
    });

    test('text: hostile and random Unicode names, keys, tags, labels, metadata and JSON round-trip exactly', async () => {
      const a = await account();
      const bucket = uniq('uni');
      await store.createBucket({ name: bucket, accountId: a.id });
      await fc.assert(
        fc.asyncProperty(anyText(), anyText(), fc.uniqueArray(anyText(8), { maxLength: 3 }), fc.dictionary(anyText(6), anyText(6), { maxKeys: 3 }), fc.jsonValue({ maxDepth: 2 }), async (name, key, tags, labels, body) => {
          const t = await store.createTask({ accountId: a.id, shortname: uniq('s'), name, profile: name, body, instanceIds: [0], tags, labels });
          const got = (await store.getTask(a.id, t.uuid))!;
          assert.equal(got.name, name);
          assert.equal(got.profile, name);
          assert.deepEqual(got.tags, tags);
          const plain = Object.fromEntries(Object.entries(labels)); // fast-check may build null-prototype objects
          assert.deepEqual(got.labels, plain);
          assert.deepEqual(got.body, JSON.parse(JSON.stringify(body)) as unknown);
          if (tags.length > 0) assert.equal(await store.countTasks(a.id, { tagsAll: tags, uuids: [t.uuid] }), 1);
          if (key !== '') {
            await store.putObject(a.id, { bucket, key, size: 1, etag: 'e', blobHash: 'h', metadata: labels, contentType: name });
            const o = (await store.getObject(a.id, bucket, key)) as ObjectRecord;
            assert.equal(o.key, key);
            assert.deepEqual(o.metadata, plain);
            assert.equal(o.contentType, name);
            assert.equal((await store.listObjects(a.id, bucket, { prefix: key }))!.objects.some((x) => x.key === key), true);
          }
          const em = `${name}@${uniq('d')}`;
          assert.equal((await store.createAccount({ email: em, role: 'customer' })).email, em);
          assert.equal((await store.getAccountByEmail(em))?.email, em);
        }),
        { numRuns: 30 },
      );
      // Keys that are special to JavaScript objects stay plain keys.
      const protoLabels = JSON.parse('{"__proto__":"p","constructor":"c","toString":"t"}') as Record<string, string>;
      const pt = await task(a.id, { labels: protoLabels });
      assert.deepEqual(Object.entries((await store.getTask(a.id, pt.uuid))!.labels), Object.entries(protoLabels));
      assert.equal(await store.countTasks(a.id, { labels: JSON.parse('{"__proto__":"p"}') as Record<string, string>, uuids: [pt.uuid] }), 1);
      assert.equal(await store.countTasks(a.id, { labels: JSON.parse('{"__proto__":"x"}') as Record<string, string>, uuids: [pt.uuid] }), 0);
      // JSON keeps what text columns cannot: NUL and lone surrogates inside JSON strings.
      const weird = { s: 'a\u0000b', lone: '\uD800x', k: { '\u0000': 1 } };
      const t = await task(a.id, { body: weird, status: weird });
      assert.deepEqual((await store.getTask(a.id, t.uuid))?.body, weird);
      assert.deepEqual((await store.getTask(a.id, t.uuid))?.status, weird);
      // Text fields refuse what a backend could not keep verbatim — the same way on both.
      await assert.rejects(task(a.id, { name: 'nul\u0000' }), (e) => e instanceof StoreInputError && e.field === 'name' && e.status === 400);
      await assert.rejects(task(a.id, { name: 'lone \uDC00' }), StoreInputError);
      await assert.rejects(store.putObject(a.id, { bucket, key: 'k\u0000', size: 1, etag: 'e', blobHash: 'h' }), StoreInputError);
      await assert.rejects(store.createBucket({ name: '\uD83D', accountId: a.id }), StoreInputError);
    });

    test('platform aggregates: last event id, latest sample per device before a time, attempt totals per device in a range', async () => {
      const e = await store.appendEvent({ type: 'x', payload: null });
      assert.equal(await store.lastEventId(), e.id);
      assert.equal(await store.lastEventId(), (await store.readEvents(SYSTEM, { afterId: e.id - 1 }))[0].id);

      const [d1, d2, d3] = [uniq('dev'), uniq('dev'), uniq('dev')];
      const t0 = 1_800_000_000_000;
      await store.appendTelemetry([
        ...[0, 1, 2].map((i) => ({ deviceId: d1, time: t0 + i * 60_000, data: { meterWh: i * 10 } })),
        { deviceId: d2, time: t0, data: { meterWh: 5 } },
      ]);
      const latest = await store.latestTelemetry([d2, d1, d3]);
      assert.deepEqual(latest, [
        { deviceId: d2, time: t0, data: { meterWh: 5 } },
        { deviceId: d1, time: t0 + 120_000, data: { meterWh: 20 } },
      ]);
      assert.deepEqual((await store.latestTelemetry([d1, d2], t0 + 120_000)).map((s) => [s.deviceId, s.time]), [[d1, t0 + 60_000], [d2, t0]], 'before is exclusive');
      assert.deepEqual(await store.latestTelemetry([d1], t0), []);
      assert.deepEqual(await store.latestTelemetry([]), []);
      // More devices than one statement probes (200), asked in an order of their own, with duplicates.
      const many = Array.from({ length: 450 }, () => uniq('dev'));
      await store.appendTelemetry(many.flatMap((id, i) => [{ deviceId: id, time: t0, data: { i, old: true } }, { deviceId: id, time: t0 + 1000, data: { i } }]));
      const asked = [...many].reverse();
      const got = await store.latestTelemetry([...asked, many[0]]);
      assert.deepEqual(got.map((x) => x.deviceId), asked);
      assert.ok(got.every((x) => x.time === t0 + 1000 && x.data.old === undefined));

      const a = await account();
      const b = await account();
      const ta = await task(a.id);
      const tb = await task(b.id);
      const [hA, hB] = [uniq('heater'), uniq('heater')];
      await store.applyInstanceEvent({ taskUuid: ta.uuid, instanceId: 0, attempt: 1, sequence: 0, set: { state: 'running', heaterId: hA, startedAt: t0 }, add: { energyWh: 2, ghzSeconds: 10, execTimeSec: 4, wallTimeSec: 5 } });
      await store.applyInstanceEvent({ taskUuid: ta.uuid, instanceId: 0, attempt: 1, sequence: 1, set: { state: 'success', endedAt: t0 + 10_000 }, add: { energyWh: 1, ghzSeconds: 5, execTimeSec: 2, wallTimeSec: 2 } });
      await store.applyInstanceEvent({ taskUuid: ta.uuid, instanceId: 1, attempt: 1, sequence: 0, set: { state: 'running', heaterId: hB, startedAt: t0 + 20_000 }, add: { energyWh: 3, execTimeSec: 1 } });
      await store.applyInstanceEvent({ taskUuid: ta.uuid, instanceId: 2, attempt: 1, sequence: 0, set: { state: 'success', startedAt: t0 + 3_600_000, endedAt: t0 + 3_700_000 }, add: { energyWh: 7 } });
      await store.applyInstanceEvent({ taskUuid: tb.uuid, instanceId: 0, attempt: 1, sequence: 0, set: { state: 'running', heaterId: hA, startedAt: t0 }, add: { energyWh: 100 } });

      assert.deepEqual(await store.summarizeAttempts(a.id), [
        { heaterId: null, attempts: 1, energyWh: 7, ghzSeconds: 0, execTimeSec: 0, wallTimeSec: 0 },
        ...[
          { heaterId: hA, attempts: 1, energyWh: 3, ghzSeconds: 15, execTimeSec: 6, wallTimeSec: 7 },
          { heaterId: hB, attempts: 1, energyWh: 3, ghzSeconds: 0, execTimeSec: 1, wallTimeSec: 0 },
        ].sort((x, y) => (x.heaterId < y.heaterId ? -1 : 1)),
      ]);
      const early = await store.summarizeAttempts(a.id, { from: t0, to: t0 + 60_000 });
      assert.deepEqual(early.map((g) => [g.heaterId, g.energyWh]).sort(), [[hA, 3], [hB, 3]].sort(), 'ended (or, running, started) in the range');
      assert.deepEqual((await store.summarizeAttempts(a.id, { from: t0 + 60_000 })).map((g) => g.energyWh), [7]);
      assert.deepEqual(await store.summarizeAttempts(a.id, { to: t0 + 10_000 }), [], 'to is exclusive');
      assert.equal((await store.summarizeAttempts(b.id)).reduce((s, g) => s + g.energyWh, 0), 100, 'scoped to the owner');
      const all = await store.summarizeAttempts(SYSTEM, { from: t0, to: t0 + 4_000_000 });
      assert.ok(all.reduce((s, g) => s + g.energyWh, 0) >= 113);
    });
  });
}
