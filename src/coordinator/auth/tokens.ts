// API tokens: random, shown once, stored as a SHA-256 hash; the bootstrap operator; account creation with its
// first token; optional sealing of a token for the S3 endpoint (SigV4 needs the secret itself).
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { SYSTEM, StoreConflictError } from '../store/types.ts';
import type { Account, AccountScope, ApiToken, Quotas, Role, Store } from '../store/types.ts';

/** Every generated token starts with this, so a leaked one is recognisable (secret scanners, logs). */
export const TOKEN_PREFIX = 'hth_';
/** Random bytes in a generated token: 256 bits. */
const TOKEN_BYTES = 32;
/** Characters of a token kept for display (`hth_` + 8). */
const DISPLAY_CHARS = TOKEN_PREFIX.length + 8;
/** Shortest HEARTH_BOOTSTRAP_TOKEN accepted: a guessable operator token would open the whole platform. */
export const MIN_BOOTSTRAP_TOKEN_LENGTH = 20;
/** Email of the operator account created at bootstrap. */
export const BOOTSTRAP_OPERATOR_EMAIL = 'operator@hearth.local';

/** A new token: `hth_` + 43 URL-safe base64 characters (32 random bytes). */
export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(TOKEN_BYTES).toString('base64url');
}

/**
 * Hex SHA-256 of a token, what the store keeps. A fast hash is right here: tokens are 256-bit random, so there is
 * nothing to brute-force (a slow password hash would only slow every request down).
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The part of a token safe to show in listings (`hth_AbCd1234`). */
export function tokenDisplayPrefix(token: string): string {
  return token.slice(0, DISPLAY_CHARS);
}

/** Constant-time equality of two secrets (compares their SHA-256 digests, so lengths leak nothing either). */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a, 'utf8').digest(), createHash('sha256').update(b, 'utf8').digest());
}

/**
 * Reads the token out of an Authorization header value: the raw token (Qarnot's form) or `Bearer <token>`.
 * Undefined when absent or empty.
 */
export function tokenFromHeader(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const v = value.trim();
  const m = /^Bearer(?:\s+(.*))?$/i.exec(v);
  const t = (m ? (m[1] ?? '') : v).trim();
  return t === '' ? undefined : t;
}

/**
 * The account a presented token authenticates, with the token's record; undefined for an unknown or revoked
 * token. Lookup is by hash (an index probe on a digest of a random secret leaks nothing useful); the stored hash
 * is then compared in constant time. Every request asks: the store answers repeated lookups from a short-lived
 * cache that its own writes keep exact (a token revoked through the store fails on the next call; a change made
 * by another process shows within a second, see `Store.findTokenByHash`). The records returned are shared
 * between requests and frozen: copy before changing.
 */
export async function authenticate(store: Store, presented: string): Promise<{ account: Account; token: ApiToken } | undefined> {
  const hash = hashToken(presented);
  const found = await store.findTokenByHash(hash);
  if (!found || !hashesEqual(found.token.hash, hash)) return undefined;
  return found;
}

/** Constant-time equality of two hex digests (both are SHA-256 hex: equal lengths unless one is corrupt). */
function hashesEqual(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1'));
}

// ---------------------------------------------------------------------------------------------------------
// Sealing (optional): the S3 endpoint verifies AWS Signature V4, whose secret key is the API token, so the
// server must be able to recover a token, not only check it. A sealed copy (AES-256-GCM under a key that lives
// outside the database, e.g. a file in the data directory) keeps a database dump from revealing tokens.

/** A new 32-byte sealing key. */
export function createSealKey(): Buffer {
  return randomBytes(32);
}

/** Encrypts a token: `v1.` + base64url(iv ‖ tag ‖ ciphertext). */
export function sealToken(key: Buffer, token: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([c.update(token, 'utf8'), c.final()]);
  return `v1.${Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64url')}`;
}

/** Decrypts what {@link sealToken} produced; throws if the key is wrong or the value was tampered with. */
export function unsealToken(key: Buffer, sealed: string): string {
  if (!sealed.startsWith('v1.')) throw new Error('unknown sealed-token format');
  const raw = Buffer.from(sealed.slice(3), 'base64url');
  const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
  d.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
}

// ---------------------------------------------------------------------------------------------------------
// Issuing tokens and accounts

export interface IssueOptions {
  name?: string;
  /** When given, the token is also stored sealed with this key (see {@link sealToken}). */
  sealKey?: Buffer;
}

/** Creates and stores a new token for the account; the returned `token` is the only time it is ever visible. */
export async function issueToken(store: Store, accountId: string, options: IssueOptions = {}): Promise<{ token: string; record: ApiToken }> {
  const token = generateToken();
  const record = await store.createToken({
    accountId,
    hash: hashToken(token),
    prefix: tokenDisplayPrefix(token),
    name: options.name ?? null,
    sealedSecret: options.sealKey ? sealToken(options.sealKey, token) : null,
  });
  return { token, record };
}

export interface CreateAccountInput {
  email: string;
  role?: Role;
  /** Starting credits, euros. */
  credits?: number;
  quotas?: Quotas;
  scope?: AccountScope;
  sealKey?: Buffer;
}

/**
 * Creates an account (customer by default) with its first token, in one transaction; returns the token once.
 * @throws StoreConflictError('email') when the email is taken
 */
export async function createAccount(store: Store, input: CreateAccountInput): Promise<{ account: Account; token: string; tokenRecord: ApiToken }> {
  return store.transaction(async (tx) => {
    const account = await tx.createAccount({
      email: input.email,
      role: input.role ?? 'customer',
      creditsEUR: input.credits ?? 0,
      quotas: input.quotas,
      scope: input.scope,
    });
    const { token, record } = await issueToken(tx, account.id, { name: 'initial', sealKey: input.sealKey });
    return { account, token, tokenRecord: record };
  });
}

export interface BootstrapResult {
  account: Account;
  /**
   * - `env`: HEARTH_BOOTSTRAP_TOKEN is (now) a valid operator token — nothing to print;
   * - `generated`: first start without it: a token was generated; print `token` once, it is never shown again;
   * - `existing`: an operator exists already and no env token was given — nothing to do.
   */
  source: 'env' | 'generated' | 'existing';
  /** Only for `generated`. */
  token?: string;
}

/**
 * Makes sure an operator can log in. With `HEARTH_BOOTSTRAP_TOKEN` (≥ 20 characters), that token is registered
 * for the bootstrap operator (idempotent across restarts). Without it, the first start creates the operator and a
 * random token, returned for `hearth start` to print once; later starts change nothing.
 * @param env where to read HEARTH_BOOTSTRAP_TOKEN (default process.env)
 */
export async function ensureBootstrapOperator(
  store: Store,
  options: { env?: Record<string, string | undefined>; sealKey?: Buffer } = {},
): Promise<BootstrapResult> {
  const envToken = (options.env ?? process.env).HEARTH_BOOTSTRAP_TOKEN?.trim();
  if (envToken !== undefined && envToken !== '' && envToken.length < MIN_BOOTSTRAP_TOKEN_LENGTH) {
    throw new Error(`HEARTH_BOOTSTRAP_TOKEN is too short: use at least ${MIN_BOOTSTRAP_TOKEN_LENGTH} random characters`);
  }
  const attempt = (): Promise<BootstrapResult> =>
    store.transaction(async (tx) => {
      const operator = (await tx.getAccountByEmail(BOOTSTRAP_OPERATOR_EMAIL)) ?? (await tx.createAccount({ email: BOOTSTRAP_OPERATOR_EMAIL, role: 'operator' }));
      if (envToken) {
        const hash = hashToken(envToken);
        const found = await tx.findTokenByHash(hash);
        if (found) {
          if (found.account.id !== operator.id || found.account.role !== 'operator') {
            throw new Error('HEARTH_BOOTSTRAP_TOKEN is already the token of another account');
          }
          return { account: operator, source: 'env' };
        }
        await tx.createToken({
          accountId: operator.id,
          hash,
          prefix: tokenDisplayPrefix(envToken),
          name: 'HEARTH_BOOTSTRAP_TOKEN',
          sealedSecret: options.sealKey ? sealToken(options.sealKey, envToken) : null,
        });
        return { account: operator, source: 'env' };
      }
      const anyOperator = await tx.listAccounts({ role: 'operator', limit: 2 });
      const live = await tx.listTokens(operator.id);
      if (live.length > 0 || anyOperator.items.some((a) => a.id !== operator.id)) return { account: operator, source: 'existing' };
      const { token } = await issueToken(tx, operator.id, { name: 'bootstrap', sealKey: options.sealKey });
      return { account: operator, source: 'generated', token };
    });
  try {
    return await attempt();
  } catch (e) {
    // Two processes bootstrapping at once: the loser retries and finds the winner's rows.
    if (e instanceof StoreConflictError) return attempt();
    throw e;
  }
}

/** Revokes every live token of an account (e.g. when it is disabled); returns how many. */
export async function revokeAllTokens(store: Store, accountId: string): Promise<number> {
  return store.transaction(async (tx) => {
    let n = 0;
    for (const t of await tx.listTokens(accountId)) if (await tx.revokeToken(SYSTEM, t.id)) n++;
    return n;
  });
}
