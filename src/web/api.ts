// The dashboard's HTTP client: the token (kept in sessionStorage), JSON calls with the server's error codes, and
// the live event stream read with fetch (it needs the Authorization header, which EventSource cannot send).
import type { LiveEvent, Me } from '../protocol/platform.ts';
import { PREFETCH_GLOBAL, ROLE_KEY, TOKEN_KEY } from './prefetch.ts';

export function savedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}
/** Saves (or forgets) the token; the remembered role and any prefetched answer go with the old one. */
export function saveToken(token: string | null): void {
  prefetched = undefined;
  sessionStorage.removeItem(ROLE_KEY);
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}
/** Remembers the token's role for the next load's prefetch (a hint: the server decides). */
export function saveRole(me: Me): void {
  sessionStorage.setItem(ROLE_KEY, me.role);
}

/** Requests index.html's inline script started (prefetch.ts), each taken at most once, with the same token only. */
let prefetched = (globalThis as unknown as Record<string, { token: string; responses: Record<string, Promise<Response>> } | undefined>)[PREFETCH_GLOBAL];
function takePrefetched(path: string): Promise<Response> | undefined {
  if (!prefetched || prefetched.token !== savedToken()) return undefined;
  const r = prefetched.responses[path];
  delete prefetched.responses[path];
  return r;
}

/** A failed call: HTTP status and the server's `code`, `field`, `message`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Calls the API with the saved token; parses JSON (or returns text when `text`). */
export async function call<T>(method: string, path: string, body?: unknown, options: { text?: boolean; signal?: AbortSignal } = {}): Promise<T> {
  const headers: Record<string, string> = { authorization: savedToken() ?? '' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const early = method === 'GET' && body === undefined ? takePrefetched(path) : undefined;
  const res = (await early?.catch(() => undefined)) ?? (await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: options.signal }));
  const text = await res.text();
  if (!res.ok) {
    let err: { code?: string; message?: string; field?: string } = {};
    try {
      err = JSON.parse(text) as typeof err;
    } catch {
      // not JSON
    }
    throw new ApiError(res.status, err.code ?? String(res.status), err.message ?? (text || res.statusText), err.field);
  }
  if (options.text) return text as T;
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

export const get = <T>(path: string, signal?: AbortSignal): Promise<T> => call<T>('GET', path, undefined, { signal });

/** A live event as the dashboard handles it (stored events carry an id; live-only ones null). */
export type StreamEvent = Omit<LiveEvent, 'id'> & { id: number | null };

/**
 * Follows `GET /hearth/v1/events` and hands the events to `onBatch` at most once per animation frame (so a burst
 * of events costs one render). Reconnects after a drop with the last event id seen. Returns the function that
 * stops it.
 */
export function followEvents(onBatch: (events: StreamEvent[]) => void): () => void {
  const ac = new AbortController();
  let lastId: number | undefined;
  let pending: StreamEvent[] = [];
  let frame: number | undefined;
  const flush = (): void => {
    frame = undefined;
    const batch = pending;
    pending = [];
    if (batch.length > 0) onBatch(batch);
  };
  const push = (e: StreamEvent): void => {
    pending.push(e);
    frame ??= requestAnimationFrame(flush);
  };
  const run = async (): Promise<void> => {
    while (!ac.signal.aborted) {
      try {
        const headers: Record<string, string> = { authorization: savedToken() ?? '', accept: 'text/event-stream' };
        if (lastId !== undefined) headers['last-event-id'] = String(lastId);
        const res = await fetch('/hearth/v1/events', { headers, signal: ac.signal });
        if (!res.ok || !res.body) throw new Error(`event stream: HTTP ${res.status}`);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let end: number;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            const data = block
              .split('\n')
              .filter((l) => l.startsWith('data:'))
              .map((l) => l.slice(5).trimStart())
              .join('\n');
            if (data === '') continue;
            try {
              const e = JSON.parse(data) as StreamEvent;
              if (typeof e.id === 'number') lastId = e.id;
              push(e);
            } catch {
              // a malformed frame is skipped
            }
          }
        }
      } catch {
        if (ac.signal.aborted) return;
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
  };
  void run();
  return () => {
    ac.abort();
    if (frame !== undefined) cancelAnimationFrame(frame);
  };
}

/** Formats a number with `digits` decimals, or an em dash. */
export function fmt(x: number | null | undefined, digits = 1): string {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '—';
}
