// Shared setup of the compute-API tests: an in-memory store, an operator, customers with tokens, an app.
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp, type BuildAppOptions } from '../../src/coordinator/app.ts';
import { openStore } from '../../src/coordinator/store/index.ts';
import type { Store } from '../../src/coordinator/store/types.ts';
import { createAccount } from '../../src/coordinator/auth/tokens.ts';

export interface Harness {
  app: FastifyInstance;
  store: Store;
  /** A customer with credits. */
  a: string;
  /** Another customer with credits. */
  b: string;
  operator: string;
  /** A fake clock (ms) the app reads; tests move it. */
  now: { ms: number };
  req(token: string | undefined, opts: InjectOptions): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/** An app over a fresh in-memory store with two customers and an operator. */
export async function harness(options: Partial<BuildAppOptions> = {}): Promise<Harness> {
  const store = await openStore('sqlite::memory:');
  const now = { ms: Date.UTC(2025, 0, 1) };
  const a = (await createAccount(store, { email: 'a@example.com', credits: 100 })).token;
  const b = (await createAccount(store, { email: 'b@example.com', credits: 100 })).token;
  const operator = (await createAccount(store, { email: 'op@example.com', role: 'operator' })).token;
  const app = await buildApp({ store, clock: () => now.ms, storageUrl: 'http://storage.test', rateLimit: false, ...options });
  return {
    app,
    store,
    a,
    b,
    operator,
    now,
    req: (token, opts) => app.inject({ ...opts, headers: { ...(token === undefined ? {} : { authorization: token }), ...(opts.headers ?? {}) } }),
    close: async () => {
      await app.close();
      await store.close();
    },
  };
}

/** A minimal valid task body. */
export function taskBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'hello', profile: 'docker-batch', instanceCount: 2, constants: [{ key: 'DOCKER_CMD', value: 'echo ${INSTANCE_ID}' }], ...extra };
}
