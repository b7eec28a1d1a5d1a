// Tokens: random with a recognisable prefix, stored only hashed, shown once; bootstrap operator; sealing; the
// cached token lookup follows revocations and account changes at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  BOOTSTRAP_OPERATOR_EMAIL,
  authenticate,
  createAccount,
  createSealKey,
  ensureBootstrapOperator,
  generateToken,
  hashToken,
  issueToken,
  revokeAllTokens,
  sealToken,
  secretsEqual,
  tokenFromHeader,
  unsealToken,
} from '../../src/coordinator/auth/tokens.ts';
import { SYSTEM, StoreConflictError, openStore } from '../../src/coordinator/store/index.ts';
import { buildApp } from '../../src/coordinator/app.ts';
import { taskBody } from './api-helpers.ts';

test('tokens are 256-bit random, URL-safe, prefixed; the hash is hex SHA-256', () => {
  const a = generateToken();
  assert.match(a, /^hth_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(generateToken(), a);
  assert.equal(hashToken(a), createHash('sha256').update(a).digest('hex'));
  assert.equal(secretsEqual(a, a), true);
  assert.equal(secretsEqual(a, `${a}x`), false);
  assert.equal(tokenFromHeader(`Bearer ${a}`), a);
  assert.equal(tokenFromHeader(`  ${a} `), a);
  assert.equal(tokenFromHeader('Bearer '), undefined);
  assert.equal(tokenFromHeader(undefined), undefined);
});

test('an account is created with a token shown once; only its hash is stored; revocation ends it', async () => {
  const store = await openStore('sqlite::memory:');
  try {
    const { account, token, tokenRecord } = await createAccount(store, { email: 'bank@example.com', credits: 25 });
    assert.equal(account.role, 'customer');
    assert.equal(account.creditsEUR, 25);
    const [stored] = await store.listTokens(account.id);
    assert.equal(stored.hash, hashToken(token));
    assert.equal(stored.sealedSecret, null);
    assert.ok(token.startsWith(stored.prefix) && stored.prefix.length < 16, 'only a short prefix is kept in clear');
    assert.ok(!JSON.stringify(await store.listTokens(SYSTEM, { includeRevoked: true })).includes(token.slice(12)));
    assert.equal((await authenticate(store, token))?.account.id, account.id);
    assert.equal(await authenticate(store, generateToken()), undefined);
    await store.revokeToken(account.id, tokenRecord.id);
    assert.equal(await authenticate(store, token), undefined);
    // Same email again: a conflict, and nothing half-created.
    await assert.rejects(createAccount(store, { email: 'bank@example.com' }), StoreConflictError);
    assert.equal((await store.listAccounts()).items.length, 1);
    // Sealed copy for SigV4, opened only with the key.
    const key = createSealKey();
    const second = await issueToken(store, account.id, { name: 's3', sealKey: key });
    assert.equal(unsealToken(key, second.record.sealedSecret!), second.token);
    assert.throws(() => unsealToken(createSealKey(), second.record.sealedSecret!));
    const sealed = sealToken(key, 'abc');
    assert.throws(() => unsealToken(key, `${sealed.slice(0, -2)}AA`));
  } finally {
    await store.close();
  }
});

test('bootstrap: a generated operator token is reported once; HEARTH_BOOTSTRAP_TOKEN is registered idempotently', async () => {
  const store = await openStore('sqlite::memory:');
  try {
    const first = await ensureBootstrapOperator(store, { env: {} });
    assert.equal(first.source, 'generated');
    assert.equal(first.account.email, BOOTSTRAP_OPERATOR_EMAIL);
    assert.equal((await authenticate(store, first.token!))?.account.role, 'operator');
    const again = await ensureBootstrapOperator(store, { env: {} });
    assert.equal(again.source, 'existing');
    assert.equal(again.token, undefined);

    const envToken = 'my-operator-token-of-enough-length';
    const env = await ensureBootstrapOperator(store, { env: { HEARTH_BOOTSTRAP_TOKEN: envToken } });
    assert.deepEqual([env.source, env.token], ['env', undefined]);
    assert.equal((await authenticate(store, envToken))?.account.id, first.account.id);
    assert.equal((await ensureBootstrapOperator(store, { env: { HEARTH_BOOTSTRAP_TOKEN: envToken } })).source, 'env');
    assert.equal((await store.listTokens(first.account.id)).length, 2);

    await assert.rejects(ensureBootstrapOperator(store, { env: { HEARTH_BOOTSTRAP_TOKEN: 'short' } }), /too short/);
    const customer = await createAccount(store, { email: 'c@example.com' });
    await assert.rejects(ensureBootstrapOperator(store, { env: { HEARTH_BOOTSTRAP_TOKEN: customer.token } }), /another account/);
  } finally {
    await store.close();
  }
});

test('cached lookups: a revoked token is refused at once, and account changes show on the next request', async () => {
  const store = await openStore('sqlite::memory:');
  const app = await buildApp({ store, rateLimit: false, storageUrl: 'http://storage.test' });
  try {
    const { account, token, tokenRecord } = await createAccount(store, { email: 'lab@example.com', credits: 5, quotas: { maxTask: 2 } });
    const other = await issueToken(store, account.id, { name: 'second' });
    const get = (t: string) => app.inject({ method: 'GET', url: '/info', headers: { authorization: t } });
    const create = (t: string) => app.inject({ method: 'POST', url: '/tasks', headers: { authorization: t }, payload: taskBody() });
    for (let i = 0; i < 3; i++) assert.equal((await get(token)).statusCode, 200, 'asked again and again: answered from the cache');
    assert.equal((await authenticate(store, token))?.account.creditsEUR, 5);
    assert.ok(Object.isFrozen((await authenticate(store, token))?.account), 'shared between requests: frozen');

    // The task count and the quota follow creations and deletions made a moment ago.
    const first = await create(token);
    assert.equal(first.statusCode, 201);
    assert.equal((await authenticate(store, token))?.account.taskCount, 1);
    assert.equal((await create(token)).statusCode, 201);
    const over = await create(token);
    assert.equal(over.statusCode, 403);
    const refusal = over.json<{ code: string; message: string }>();
    assert.equal(refusal.code, 'QUOTA_REACHED');
    assert.match(refusal.message, /task quota reached \(2 of 2\)/);
    const del = await app.inject({ method: 'DELETE', url: `/tasks/${first.json<{ uuid: string }>().uuid}`, headers: { authorization: token } });
    assert.equal(del.statusCode, 200);
    assert.equal((await create(token)).statusCode, 201, 'a deletion frees room at once');

    // Credits spent elsewhere in the process (billing): the next creation sees it; topped up: accepted again.
    await store.updateAccount(account.id, { quotas: { maxTask: 100 } });
    await store.adjustCredits(account.id, -5);
    const broke = await create(token);
    assert.equal(broke.statusCode, 402);
    assert.equal(broke.json<{ code: string }>().code, 'NO_CREDITS');
    await store.adjustCredits(account.id, 1);
    assert.equal((await create(token)).statusCode, 201);

    // Revocation: refused on the very next request, by the store or inside a transaction; the other token lives.
    await store.revokeToken(account.id, tokenRecord.id);
    assert.equal((await get(token)).statusCode, 401);
    assert.equal(await authenticate(store, token), undefined);
    assert.equal((await get(other.token)).statusCode, 200);
    assert.equal(await revokeAllTokens(store, account.id), 1);
    assert.equal((await get(other.token)).statusCode, 401);
    assert.equal(await authenticate(store, other.token), undefined);
  } finally {
    await app.close();
    await store.close();
  }
});
