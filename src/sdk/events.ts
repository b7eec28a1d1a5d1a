// The live event stream (`GET /hearth/v1/events`, server-sent events) as an async iterator: fetch-based (so the
// token goes in the Authorization header), parsed with eventsource-parser, reconnecting with Last-Event-ID.
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { LiveEvent } from '../protocol/platform.ts';
import { apiErrorOf, HearthApiError } from './errors.ts';
import { backoffMs, retryAfterSeconds, sleep, type Transport } from './http.ts';

/** Options of {@link streamEvents}. */
export interface EventsOptions {
  /** Replay the caller's events after this id (absent: only what happens from now on). */
  lastEventId?: number;
  /** Ends the iteration (the generator returns, no error). */
  signal?: AbortSignal;
  /** Reconnect when the stream drops (default true), resuming after the last event seen. */
  reconnect?: boolean;
  /** Called once the stream is open (each time it (re)connects). */
  onOpen?: () => void;
}

/** Status codes worth reconnecting after. */
const TRANSIENT = new Set([429, 500, 502, 503, 504]);

function isAbort(e: unknown, signal?: AbortSignal): boolean {
  return Boolean(signal?.aborted) || (e instanceof Error && e.name === 'AbortError');
}

/**
 * Iterates the live events the caller may see: stored events in id order, each once, and live-only ones (id null:
 * telemetry batches, room telemetry) as they come. Narrow one with `isLiveEvent(e, EVENT_TYPES.instanceState)` to
 * read its payload typed. Reconnects after a dropped connection or a transient answer with exponential backoff; a
 * 401/403/404 ends the iteration with a {@link HearthApiError}.
 */
export async function* streamEvents(transport: Transport, opts: EventsOptions = {}): AsyncGenerator<LiveEvent> {
  let lastId = opts.lastEventId;
  let failures = 0;
  const signal = opts.signal;
  while (!signal?.aborted) {
    const headers: Record<string, string> = { authorization: transport.token, accept: 'text/event-stream' };
    if (lastId !== undefined) headers['last-event-id'] = String(lastId);
    let res: Response;
    try {
      res = await transport.fetch(transport.urlOf('/hearth/v1/events'), { headers, signal });
    } catch (e) {
      if (isAbort(e, signal)) return;
      if (opts.reconnect === false || failures >= Math.max(transport.retry.retries, 1) * 10) throw e;
      await sleep(backoffMs(Math.min(failures++, 6), transport.retry), signal).catch(() => undefined);
      continue;
    }
    if (res.status !== 200 || !res.body) {
      const text = await res.text().catch(() => '');
      const err = apiErrorOf(res.status, text, 'GET /hearth/v1/events', retryAfterSeconds(res.headers.get('retry-after')));
      if (!TRANSIENT.has(res.status) || opts.reconnect === false) throw err;
      await sleep(backoffMs(Math.min(failures++, 6), transport.retry, err.retryAfterS), signal).catch(() => undefined);
      continue;
    }
    opts.onOpen?.();
    const queue: LiveEvent[] = [];
    let bad: HearthApiError | undefined;
    const parser = createParser({
      onEvent(m: EventSourceMessage) {
        try {
          const e = JSON.parse(m.data) as LiveEvent;
          // A live-only event (telemetry batches, room telemetry) has no id line and a null id: it is yielded as it
          // comes and never moves the Last-Event-ID the stream resumes after.
          if (typeof e.id !== 'number') e.id = m.id !== undefined && /^\d+$/.test(m.id) ? Number(m.id) : null;
          if (typeof e.type !== 'string' && m.event) e.type = m.event;
          queue.push(e);
        } catch {
          bad = new HearthApiError(200, 'BAD_RESPONSE', `event ${m.id ?? '?'} is not JSON`, undefined, 'GET /hearth/v1/events');
        }
      },
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const next = (await reader.read()) as { done: boolean; value?: Uint8Array };
        if (next.done || !next.value) break;
        parser.feed(decoder.decode(next.value, { stream: true }));
        if (bad) throw bad;
        while (queue.length > 0) {
          const e = queue.shift()!;
          if (e.id !== null) {
            if (lastId !== undefined && e.id <= lastId) continue;
            lastId = e.id;
          }
          failures = 0;
          yield e;
        }
      }
    } catch (e) {
      if (isAbort(e, signal)) return;
      if (e instanceof HearthApiError) throw e;
      // a dropped connection: reconnect below
    } finally {
      await reader.cancel().catch(() => undefined);
    }
    if (opts.reconnect === false || signal?.aborted) return;
    await sleep(backoffMs(Math.min(failures++, 6), transport.retry), signal).catch(() => undefined);
  }
}

/** One subscriber of a {@link SharedEvents}. */
interface EventSubscriber {
  readonly onEvent: (e: LiveEvent) => void;
  /** The stream (re)opened: events may have been missed before now. */
  readonly onOpen: () => void;
}

/**
 * One live event stream shared by a client's waits and output streams: opened by the first subscriber, closed when
 * the last one leaves, each event handed to every subscriber. A program following a thousand tasks at once holds
 * one connection, not a thousand. When the stream cannot be had (an older server, a refusal) the subscribers go on
 * without it, and the next subscriber tries again.
 */
export class SharedEvents {
  private readonly subs = new Set<EventSubscriber>();
  private ac: AbortController | null = null;
  private open = false;

  constructor(private readonly transport: Transport) {}

  /** Connections opened so far (each reconnection of one counts once more). */
  opened = 0;

  /**
   * Adds a subscriber until `signal` aborts (or `close()`); `live()` says whether the stream is open now. A
   * subscriber joining an open stream is told `onOpen` at once (what happened before it joined was not seen).
   */
  subscribe(onEvent: (e: LiveEvent) => void, onOpen: () => void, signal: AbortSignal): { live: () => boolean; close: () => void } {
    const sub: EventSubscriber = { onEvent, onOpen };
    const close = (): void => {
      signal.removeEventListener('abort', close);
      if (!this.subs.delete(sub)) return;
      if (this.subs.size === 0) {
        this.ac?.abort();
        this.ac = null;
        this.open = false;
      }
    };
    if (signal.aborted) return { live: () => false, close };
    signal.addEventListener('abort', close, { once: true });
    this.subs.add(sub);
    if (this.ac === null) this.start();
    else if (this.open) onOpen();
    return { live: () => this.open && this.subs.has(sub), close };
  }

  private start(): void {
    const ac = new AbortController();
    this.ac = ac;
    const current = (): boolean => this.ac === ac;
    void (async () => {
      try {
        const events = streamEvents(this.transport, {
          signal: ac.signal,
          onOpen: () => {
            if (!current()) return;
            this.opened++;
            this.open = true;
            for (const s of [...this.subs]) s.onOpen();
          },
        });
        for await (const e of events) {
          if (!current()) break;
          for (const s of [...this.subs]) s.onEvent(e);
        }
      } catch {
        // no stream: the subscribers poll alone
      }
      if (current()) {
        this.ac = null;
        this.open = false;
      }
    })();
  }
}
