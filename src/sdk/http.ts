// The HTTP layer of the SDK: one fetch per attempt, JSON in and out, typed errors, and retries of what is safe to
// send again (GET and HEAD only: on network errors and on 429/503, with exponential backoff honouring Retry-After).
import { apiErrorOf, HearthApiError, HearthNetworkError } from './errors.ts';

/** The fetch the SDK calls (web-standard; Node ≥ 20 has it built in). */
export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

/** How the transport retries idempotent reads. */
export interface RetryOptions {
  /** Further attempts after the first (default 3; 0 disables retries). */
  retries?: number;
  /** First backoff delay, ms (default 200); doubles each attempt, with jitter. */
  baseDelayMs?: number;
  /** Longest delay between attempts, ms, whatever Retry-After says (default 30,000). */
  maxDelayMs?: number;
}

/** Options of {@link Transport}. */
export interface TransportOptions extends RetryOptions {
  /** Base URL of the API, e.g. `http://127.0.0.1:8080` (no trailing path needed). */
  url: string;
  /** API token (sent raw in `Authorization`). */
  token: string;
  fetch?: FetchLike;
}

/** Query parameters; undefined values are left out. */
export type Query = Record<string, string | number | boolean | undefined>;

/** One request. */
export interface RequestSpec {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  query?: Query;
  /** A JSON body (serialised) — absent: no body. */
  json?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

const RETRYABLE_STATUS = new Set([429, 503]);

/** True for the methods a retry cannot repeat a side effect of. */
export function isIdempotentRead(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

/** Seconds of a Retry-After header (delta-seconds or an HTTP date), or undefined. */
export function retryAfterSeconds(value: string | null, nowMs = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : Math.max(0, (t - nowMs) / 1000);
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const done = (): void => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Backoff before retry number `attempt` (0-based): base·2^attempt with ±50 % jitter, or Retry-After when given; capped. */
export function backoffMs(attempt: number, opts: Required<RetryOptions>, retryAfterS?: number): number {
  if (retryAfterS !== undefined) return Math.min(opts.maxDelayMs, retryAfterS * 1000);
  const d = opts.baseDelayMs * 2 ** attempt;
  return Math.min(opts.maxDelayMs, d * (0.5 + Math.random()));
}

/** The SDK's HTTP client of the JSON API. */
export class Transport {
  readonly baseUrl: string;
  readonly token: string;
  readonly fetch: FetchLike;
  readonly retry: Required<RetryOptions>;

  constructor(opts: TransportOptions) {
    if (typeof opts.url !== 'string' || !/^https?:\/\//.test(opts.url)) throw new TypeError(`url: must be an http(s) URL, got ${JSON.stringify(opts.url)}`);
    if (typeof opts.token !== 'string' || opts.token.trim() === '') throw new TypeError('token: must be a non-empty API token');
    this.baseUrl = opts.url.replace(/\/+$/, '');
    this.token = opts.token.trim();
    this.fetch = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    const retries = opts.retries ?? 3;
    if (!Number.isInteger(retries) || retries < 0) throw new TypeError(`retries: must be an integer ≥ 0, got ${retries}`);
    this.retry = { retries, baseDelayMs: opts.baseDelayMs ?? 200, maxDelayMs: opts.maxDelayMs ?? 30_000 };
  }

  /** The absolute URL of an API path with its query. */
  urlOf(path: string, query?: Query): string {
    const u = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  /**
   * Sends a request and returns the successful Response (status < 400); throws {@link HearthApiError} for an error
   * answer and {@link HearthNetworkError} when none came. GET/HEAD are retried on network errors and 429/503.
   */
  async send(spec: RequestSpec): Promise<Response> {
    const url = this.urlOf(spec.path, spec.query);
    const what = `${spec.method} ${spec.path}`;
    const headers: Record<string, string> = { authorization: this.token, accept: 'application/json, text/plain;q=0.9', ...spec.headers };
    let body: string | undefined;
    if (spec.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(spec.json);
    }
    const retries = isIdempotentRead(spec.method) ? this.retry.retries : 0;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.fetch(url, { method: spec.method, headers, body, signal: spec.signal });
      } catch (e) {
        if (spec.signal?.aborted) throw e;
        if (attempt < retries) {
          await sleep(backoffMs(attempt, this.retry), spec.signal);
          continue;
        }
        const cause = (e as { cause?: { code?: string; message?: string } }).cause;
        throw new HearthNetworkError(`${what}: cannot reach ${this.baseUrl} (${cause?.code ?? cause?.message ?? (e as Error).message})`, what, { cause: e });
      }
      if (res.status < 400) return res;
      const retryAfter = retryAfterSeconds(res.headers.get('retry-after'));
      const text = await res.text().catch(() => '');
      if (RETRYABLE_STATUS.has(res.status) && attempt < retries) {
        await sleep(backoffMs(attempt, this.retry, retryAfter), spec.signal);
        continue;
      }
      throw apiErrorOf(res.status, text, what, retryAfter);
    }
  }

  /** Sends a request and parses its JSON answer (undefined for an empty body). */
  async json<T>(spec: RequestSpec): Promise<T> {
    const res = await this.send(spec);
    const text = await res.text();
    if (text.trim() === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new HearthApiError(res.status, 'BAD_RESPONSE', `${spec.method} ${spec.path}: the answer is not JSON`, undefined, `${spec.method} ${spec.path}`);
    }
  }

  /** Sends a request and returns its text answer. */
  async text(spec: RequestSpec): Promise<string> {
    return (await this.send(spec)).text();
  }

  /** Sends a request whose answer has no body worth reading. */
  async empty(spec: RequestSpec): Promise<void> {
    const res = await this.send(spec);
    await res.arrayBuffer().catch(() => undefined);
  }
}
