// Prometheus metrics of the coordinator, hand-written (text exposition format 0.0.4, no dependency): a small
// registry of counters, gauges and fixed-bucket histograms, and the Fastify plugin that records every HTTP
// request by route pattern, adds process gauges and serves `GET /metrics`.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { authenticate, tokenFromHeader } from '../auth/tokens.ts';
import type { Store } from '../store/types.ts';
import { HttpError } from './http-error.ts';

/** The content type of the text exposition format this module writes. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Upper bounds (seconds) of the request-duration histogram's buckets; `+Inf` is implicit. */
export const HTTP_DURATION_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** The `route` label of a request no route matched (404s), so that raw URLs never become label values. */
export const UNMATCHED_ROUTE = 'unmatched';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Label values by label name. Every label a metric declares must be given (an empty string is allowed). */
export type Labels = Readonly<Record<string, string | number>>;

/** A sample of a callback gauge that has labels. */
export interface GaugeSample {
  labels: Labels;
  value: number;
}

/** Escapes a label value: backslash, double quote and newline (the only escapes the format defines). */
export function escapeLabelValue(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === '\\' ? '\\\\' : c === '"' ? '\\"' : '\\n'));
}

/** Escapes HELP text: backslash and newline. */
function escapeHelp(v: string): string {
  return v.replace(/[\\\n]/g, (c) => (c === '\\' ? '\\\\' : '\\n'));
}

/** A sample value as the format writes it (`+Inf`, `-Inf`, `NaN`, else the shortest round-trip decimal). */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function checkLabelNames(metric: string, names: readonly string[]): void {
  for (const n of names) {
    if (!LABEL_NAME.test(n) || n.startsWith('__')) throw new Error(`metric ${metric}: invalid label name ${JSON.stringify(n)}`);
  }
  if (new Set(names).size !== names.length) throw new Error(`metric ${metric}: a label name is repeated`);
}

/** `{a="x",b="y"}` for the given names and values (empty string when there is no label). */
function labelText(names: readonly string[], values: readonly string[], extra?: string): string {
  const parts = names.map((n, i) => `${n}="${escapeLabelValue(values[i])}"`);
  if (extra !== undefined) parts.push(extra);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** Shared by the three kinds: name, help, label names and the series they hold, keyed by label values. */
abstract class Metric<S> {
  protected readonly series = new Map<string, { values: string[]; state: S }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${JSON.stringify(name)}`);
    checkLabelNames(name, labelNames);
  }

  abstract readonly type: 'counter' | 'gauge' | 'histogram';

  protected abstract fresh(): S;

  /** The series of these labels, created on first use. */
  protected seriesOf(labels: Labels | undefined): S {
    const names = this.labelNames;
    if (names.length === 0) {
      let s = this.series.get('');
      if (!s) this.series.set('', (s = { values: [], state: this.fresh() }));
      return s.state;
    }
    if (!labels) throw new Error(`metric ${this.name}: labels ${names.join(', ')} are required`);
    const values = new Array<string>(names.length);
    for (let i = 0; i < names.length; i++) {
      const v = labels[names[i]];
      if (v === undefined) throw new Error(`metric ${this.name}: label ${names[i]} is missing`);
      values[i] = String(v);
    }
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { values, state: this.fresh() }));
    return s.state;
  }

  /** Forgets every series (e.g. between tests). */
  reset(): void {
    this.series.clear();
  }

  /** The HELP and TYPE lines then the samples. */
  render(): string {
    return `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n${this.samples()}`;
  }

  protected abstract samples(): string;
}

/** A value that only goes up (resets to 0 when the process restarts). */
export class Counter extends Metric<{ v: number }> {
  readonly type = 'counter' as const;
  protected fresh(): { v: number } {
    return { v: 0 };
  }

  /** Adds `by` (≥ 0, default 1) to the series of these labels. */
  inc(labels?: Labels, by = 1): void {
    if (!(by >= 0)) throw new Error(`counter ${this.name}: cannot add ${by}`);
    this.seriesOf(labels).v += by;
  }

  /** The current value of a series (0 when never incremented). */
  get(labels?: Labels): number {
    return this.seriesOf(labels).v;
  }

  protected samples(): string {
    let out = '';
    for (const { values, state } of this.series.values()) out += `${this.name}${labelText(this.labelNames, values)} ${formatValue(state.v)}\n`;
    return out;
  }
}

/** What a callback gauge reads at each scrape: one value, or one sample per label set. */
export type GaugeCollect = () => number | readonly GaugeSample[];

/** A value that goes up and down: set directly, or read from a callback at each scrape. */
export class Gauge extends Metric<{ v: number }> {
  readonly type = 'gauge' as const;
  /** When set, the samples come from this callback at render time (set/inc/dec values are ignored). */
  collect: GaugeCollect | undefined;

  protected fresh(): { v: number } {
    return { v: 0 };
  }

  /** Sets the series of these labels. */
  set(value: number, labels?: Labels): void {
    this.seriesOf(labels).v = value;
  }

  /** Adds `by` (default 1; negative allowed). */
  inc(labels?: Labels, by = 1): void {
    this.seriesOf(labels).v += by;
  }

  /** Subtracts `by` (default 1). */
  dec(labels?: Labels, by = 1): void {
    this.seriesOf(labels).v -= by;
  }

  /** The current value of a series (what a callback returns now, for a callback gauge without labels). */
  get(labels?: Labels): number {
    if (this.collect) {
      const c = this.collect();
      if (typeof c === 'number') return c;
      const want = this.labelNames.map((n) => String(labels?.[n]));
      const hit = c.find((s) => this.labelNames.every((n, i) => String(s.labels[n]) === want[i]));
      return hit ? hit.value : 0;
    }
    return this.seriesOf(labels).v;
  }

  protected samples(): string {
    if (!this.collect) {
      let out = '';
      for (const { values, state } of this.series.values()) out += `${this.name}${labelText(this.labelNames, values)} ${formatValue(state.v)}\n`;
      return out;
    }
    const c = this.collect();
    if (typeof c === 'number') {
      if (this.labelNames.length > 0) throw new Error(`gauge ${this.name}: the callback must return samples with labels`);
      return `${this.name} ${formatValue(c)}\n`;
    }
    let out = '';
    for (const s of c) {
      const values = this.labelNames.map((n) => {
        const v = s.labels[n];
        if (v === undefined) throw new Error(`gauge ${this.name}: label ${n} is missing from a sample`);
        return String(v);
      });
      out += `${this.name}${labelText(this.labelNames, values)} ${formatValue(s.value)}\n`;
    }
    return out;
  }
}

interface HistogramState {
  /** Per-bucket (not cumulative) counts; the last slot is `+Inf`. */
  counts: Float64Array;
  sum: number;
  count: number;
}

/** Observations counted into fixed buckets (upper bounds, ascending), with their sum and count. */
export class Histogram extends Metric<HistogramState> {
  readonly type = 'histogram' as const;
  readonly buckets: readonly number[];
  private readonly leText: string[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames);
    if (labelNames.includes('le')) throw new Error(`histogram ${name}: "le" is reserved`);
    const b = buckets.filter((x) => x !== Infinity);
    if (b.length === 0) throw new Error(`histogram ${name}: at least one finite bucket is required`);
    for (let i = 0; i < b.length; i++) {
      if (!Number.isFinite(b[i]) || (i > 0 && !(b[i] > b[i - 1]))) throw new Error(`histogram ${name}: buckets must be finite and ascending`);
    }
    this.buckets = b;
    this.leText = [...b.map(formatValue), '+Inf'];
  }

  protected fresh(): HistogramState {
    return { counts: new Float64Array(this.buckets.length + 1), sum: 0, count: 0 };
  }

  /** Counts one observation (same unit as the buckets) into the series of these labels. */
  observe(value: number, labels?: Labels): void {
    const s = this.seriesOf(labels);
    const b = this.buckets;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    s.counts[i]++;
    s.sum += value;
    s.count++;
  }

  /** Count and sum of a series so far. */
  get(labels?: Labels): { count: number; sum: number } {
    const s = this.seriesOf(labels);
    return { count: s.count, sum: s.sum };
  }

  protected samples(): string {
    let out = '';
    for (const { values, state } of this.series.values()) {
      let cum = 0;
      for (let i = 0; i < state.counts.length; i++) {
        cum += state.counts[i];
        out += `${this.name}_bucket${labelText(this.labelNames, values, `le="${this.leText[i]}"`)} ${formatValue(cum)}\n`;
      }
      const l = labelText(this.labelNames, values);
      out += `${this.name}_sum${l} ${formatValue(state.sum)}\n${this.name}_count${l} ${formatValue(state.count)}\n`;
    }
    return out;
  }
}

/**
 * The metrics of one process. Registering a name again with the same kind and label names returns the metric
 * already there (so two parts, or two apps in a test, can share a registry); a different kind or labels throws.
 * Other parts of the coordinator add their own: `registry.gauge('hearth_queue_instances', '…', { collect })`.
 */
export class MetricsRegistry {
  private readonly metrics = new Map<string, Counter | Gauge | Histogram>();

  private existing<M extends Counter | Gauge | Histogram>(name: string, type: M['type'], labelNames: readonly string[]): M | undefined {
    const m = this.metrics.get(name);
    if (!m) return undefined;
    if (m.type !== type || m.labelNames.join(',') !== labelNames.join(',')) {
      throw new Error(`metric ${name} is already registered as a ${m.type} with labels [${m.labelNames.join(', ')}]`);
    }
    return m as M;
  }

  /** A counter (created, or the one registered under this name). */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    const m = this.existing<Counter>(name, 'counter', labelNames) ?? new Counter(name, help, labelNames);
    this.metrics.set(name, m);
    return m;
  }

  /**
   * A gauge. With `collect`, its samples are read from the callback at each scrape; registering the name again
   * with a callback replaces the callback (the newest owner wins).
   */
  gauge(name: string, help: string, options: { labelNames?: readonly string[]; collect?: GaugeCollect } = {}): Gauge {
    const labelNames = options.labelNames ?? [];
    const m = this.existing<Gauge>(name, 'gauge', labelNames) ?? new Gauge(name, help, labelNames);
    if (options.collect) m.collect = options.collect;
    this.metrics.set(name, m);
    return m;
  }

  /** A histogram with fixed bucket upper bounds (ascending; `+Inf` is added). */
  histogram(name: string, help: string, options: { buckets: readonly number[]; labelNames?: readonly string[] }): Histogram {
    const labelNames = options.labelNames ?? [];
    const m = this.existing<Histogram>(name, 'histogram', labelNames) ?? new Histogram(name, help, labelNames, options.buckets);
    this.metrics.set(name, m);
    return m;
  }

  /** The metric registered under this name, if any. */
  get(name: string): Counter | Gauge | Histogram | undefined {
    return this.metrics.get(name);
  }

  /** Drops a metric (its name can then be registered anew). */
  remove(name: string): boolean {
    return this.metrics.delete(name);
  }

  /** Every metric in the text exposition format 0.0.4, in registration order, ending with a newline. */
  render(): string {
    let out = '';
    for (const m of this.metrics.values()) out += m.render();
    return out;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The Fastify plugin

/** How the coordinator exposes its metrics (buildApp's `metrics` option). */
export interface MetricsOptions {
  /** Where metrics are recorded; default a new registry (reachable afterwards as `app.metrics`). */
  registry?: MetricsRegistry;
  /**
   * Serve `GET /metrics` to anyone (default true). Public metrics reveal traffic shapes and route names, not
   * data: operators should still firewall the port or path from the internet. False requires an operator's token.
   */
  public?: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The coordinator's metrics registry (add your own metrics to it). */
    metrics: MetricsRegistry;
  }
  interface FastifyRequest {
    /** performance.now() when the request arrived (request-duration histogram). */
    metricsStartMs: number;
  }
}

/** Options of {@link metricsPlugin}. */
export interface MetricsPluginOptions extends MetricsOptions {
  /** Checks operator tokens when `public` is false. */
  store: Store;
}

/** Turns buildApp's `metrics` option (a registry or options, or nothing) into the plugin's options. */
export function metricsPluginOptions(option: MetricsRegistry | MetricsOptions | undefined, store: Store): MetricsPluginOptions {
  if (option instanceof MetricsRegistry) return { registry: option, public: true, store };
  return { registry: option?.registry, public: option?.public ?? true, store };
}

/**
 * Records `hearth_http_requests_total{method,route,status}` and `hearth_http_request_duration_seconds{method,route}`
 * for every request of the app (route = the matched pattern such as `/tasks/:uuid`, `unmatched` for 404s), adds
 * process gauges (resident memory, heap, event-loop delay, uptime) and serves `GET /metrics`. Registered on the
 * root instance (not encapsulated) so its hooks see every route, including other plugins' and the 404 handler.
 */
export const metricsPlugin: FastifyPluginAsync<MetricsPluginOptions> = Object.assign(
  (app: FastifyInstance, options: MetricsPluginOptions): Promise<void> => {
    const registry = options.registry ?? new MetricsRegistry();
    app.decorate('metrics', registry);
    app.decorateRequest('metricsStartMs', 0);

    const requests = registry.counter('hearth_http_requests_total', 'HTTP requests answered, by method, route pattern and status.', ['method', 'route', 'status']);
    const duration = registry.histogram('hearth_http_request_duration_seconds', 'Time from request arrival to response sent, seconds, by method and route pattern.', {
      buckets: HTTP_DURATION_BUCKETS_S,
      labelNames: ['method', 'route'],
    });
    registerProcessGauges(app, registry);

    app.addHook('onRequest', (req, _reply, done) => {
      req.metricsStartMs = performance.now();
      done();
    });
    app.addHook('onResponse', (req, reply, done) => {
      const route = req.routeOptions.url ?? UNMATCHED_ROUTE;
      requests.inc({ method: req.method, route, status: reply.statusCode });
      duration.observe((performance.now() - req.metricsStartMs) / 1000, { method: req.method, route });
      done();
    });

    const isPublic = options.public ?? true;
    app.get('/metrics', { schema: { hide: true } }, async (req: FastifyRequest, reply: FastifyReply) => {
      if (!isPublic) await requireOperator(options.store, req);
      return reply.type(METRICS_CONTENT_TYPE).send(registry.render());
    });
    return Promise.resolve();
  },
  // Fastify's documented escape from encapsulation (what fastify-plugin sets): hooks apply to the whole app.
  { [Symbol.for('skip-override')]: true },
);

async function requireOperator(store: Store, req: FastifyRequest): Promise<void> {
  const presented = tokenFromHeader(req.headers.authorization);
  if (presented === undefined) throw new HttpError('UNAUTHORIZED', 'missing token: send "Authorization: <token>"');
  const found = await authenticate(store, presented);
  if (!found) throw new HttpError('UNAUTHORIZED', 'invalid token');
  if (found.account.role !== 'operator') throw new HttpError('FORBIDDEN', 'metrics are for operators');
}

/**
 * Process gauges: resident memory and heap (bytes), event-loop delay (seconds: mean, p50, p99 and max since the
 * previous scrape, from perf_hooks' monitorEventLoopDelay at 10 ms resolution) and uptime (seconds).
 */
function registerProcessGauges(app: FastifyInstance, registry: MetricsRegistry): void {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  app.addHook('onClose', (_app, done) => {
    loop.disable();
    done();
  });
  registry.gauge('process_resident_memory_bytes', 'Resident memory size, bytes.', { collect: () => process.memoryUsage.rss() });
  registry.gauge('nodejs_heap_used_bytes', 'V8 heap in use, bytes.', { collect: () => process.memoryUsage().heapUsed });
  registry.gauge('hearth_process_uptime_seconds', 'Seconds since the process started.', { collect: () => process.uptime() });
  registry.gauge('hearth_event_loop_delay_seconds', 'Event-loop delay since the previous scrape, seconds (stat = mean, p50, p99, max).', {
    labelNames: ['stat'],
    collect: () => {
      // The histogram is in ns; it is empty (NaN mean) until the first 10 ms tick.
      const ns = (v: number): number => (Number.isFinite(v) ? v / 1e9 : 0);
      const out: GaugeSample[] = [
        { labels: { stat: 'mean' }, value: ns(loop.mean) },
        { labels: { stat: 'p50' }, value: ns(loop.percentile(50)) },
        { labels: { stat: 'p99' }, value: ns(loop.percentile(99)) },
        { labels: { stat: 'max' }, value: ns(loop.max) },
      ];
      loop.reset();
      return out;
    },
  });
}
