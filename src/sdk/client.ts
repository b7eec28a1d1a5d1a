// HearthClient: the one entry point of the SDK. Holds the API URL and token, and groups the operations: tasks,
// jobs, buckets (S3 with the SDK's own SigV4 signer), the hearth platform API and the live event stream.
import type { Info, Profile, Settings } from '../protocol/account.ts';
import type { LiveEvent } from '../protocol/platform.ts';
import { Buckets } from './buckets.ts';
import { streamEvents, type EventsOptions } from './events.ts';
import { Transport, type FetchLike } from './http.ts';
import { Platform } from './platform.ts';
import { Jobs, Tasks } from './tasks.ts';

/** Options of {@link HearthClient}. */
export interface HearthClientOptions {
  /** Base URL of the hearth API, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** API token. */
  token: string;
  /** The fetch to use (default the global one). */
  fetch?: FetchLike;
  /** Retries of idempotent reads (GET/HEAD) on network errors and 429/503 (default 3; 0: none). */
  retries?: number;
  /** First retry delay, ms (default 200; doubles each time). */
  retryBaseDelayMs?: number;
  /** Storage endpoint (default: what `GET /settings` says). */
  storageUrl?: string;
  /** S3 access key (default: the account's email from `GET /info`). */
  email?: string;
}

/**
 * A typed client of one hearth account.
 *
 * ```ts
 * const hearth = new HearthClient({ url: 'http://127.0.0.1:8080', token });
 * const task = await hearth.tasks.submit({ name: 'hello', profile: 'docker-batch', instanceCount: 4,
 *   constants: [{ key: 'DOCKER_CMD', value: 'echo hello from ${INSTANCE_ID}' }] });
 * await task.wait({ onProgress: (t) => console.log(t.state) });
 * ```
 */
export class HearthClient {
  readonly http: Transport;
  readonly tasks: Tasks;
  readonly jobs: Jobs;
  readonly platform: Platform;
  private storage?: Promise<Buckets>;

  constructor(private readonly opts: HearthClientOptions) {
    this.http = new Transport({ url: opts.url, token: opts.token, fetch: opts.fetch, retries: opts.retries, baseDelayMs: opts.retryBaseDelayMs });
    this.tasks = new Tasks(this.http, () => this.buckets());
    this.jobs = new Jobs(this.http);
    this.platform = new Platform(this.http);
  }

  /** The storage client (endpoint from `GET /settings`, access key = the account's email from `GET /info`), made once. */
  buckets(): Promise<Buckets> {
    this.storage ??= (async () => {
      const endpoint = this.opts.storageUrl ?? (await this.settings()).storage;
      const email = this.opts.email ?? (await this.info()).email;
      return new Buckets({ endpoint, accessKeyId: email, secretAccessKey: this.http.token, fetch: this.opts.fetch, retry: this.http.retry });
    })();
    this.storage.catch(() => {
      this.storage = undefined; // try again next time
    });
    return this.storage;
  }

  /** `GET /settings`: where storage is. */
  settings(): Promise<Settings> {
    return this.http.json({ method: 'GET', path: '/settings' });
  }

  /** `GET /info`: the account, its quotas and credits. */
  info(): Promise<Info> {
    return this.http.json({ method: 'GET', path: '/info' });
  }

  /** Profile names. */
  profiles(): Promise<string[]> {
    return this.http.json({ method: 'GET', path: '/profiles' });
  }

  /** One profile with its constants. */
  profile(name: string): Promise<Profile> {
    return this.http.json({ method: 'GET', path: `/profiles/${encodeURIComponent(name)}` });
  }

  /**
   * The live events the caller may see (task and instance states, telemetry, setpoints…) as an async iterator;
   * reconnects with Last-Event-ID after a drop. Give `lastEventId` to replay from there; end with `signal` or `break`.
   */
  events(opts: EventsOptions = {}): AsyncGenerator<LiveEvent> {
    return streamEvents(this.http, opts);
  }
}
