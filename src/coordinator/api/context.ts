// What every compute-API route sees: the store, the clock, the authenticated caller (set by the auth hook).
import type { FastifyRequest } from 'fastify';
import type { Account, ApiToken, Store } from '../store/types.ts';
import type { EventHub } from '../events.ts';
import { HttpError, invalid } from './http-error.ts';
import { isRoomId } from '../../protocol/mqtt.ts';

/** The caller of a request, set by the auth hook. */
export interface Caller {
  account: Account;
  token: ApiToken;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller (null on public routes and before the auth hook). */
    caller: Caller | null;
  }
  interface FastifyContextConfig {
    /** Route answers without a token (versions, docs). */
    public?: boolean;
  }
}

/** Shared by the route modules (passed as plugin options). */
export interface ApiContext {
  store: Store;
  /** Now, ms since the epoch. */
  clock: () => number;
  /** The storage endpoint's base URL for `GET /settings` (a function of the request when it depends on the host). */
  storageUrl: string | ((req: FastifyRequest) => string);
  /** Seals new tokens for SigV4 (absent: tokens cannot sign storage requests). */
  sealKey?: Buffer;
  /** The live-change hub (absent: what the routes change is not announced on the event stream). */
  events?: EventHub;
}

/** The authenticated caller of a route that requires one. */
export function callerOf(req: FastifyRequest): Caller {
  if (!req.caller) throw new HttpError('UNAUTHORIZED', 'missing or invalid token');
  return req.caller;
}

/** ISO-8601 UTC of an epoch-ms time (null stays null). */
export function iso(ms: number): string;
export function iso(ms: number | null): string | null;
export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** Each id a room of the registry (and usable in MQTT topics); 400 naming `field[i]` for the first that is not. */
export async function requireRooms(store: Store, roomIds: readonly string[], field: string): Promise<void> {
  for (const [i, id] of roomIds.entries()) {
    const row = isRoomId(id) ? await store.getRegistry(id) : undefined;
    if (row?.kind !== 'room') throw invalid(`${field}[${i}]`, `no room ${JSON.stringify(id)}`);
  }
}
