// The Prometheus metrics: the registry's exposition text (grammar, escaping, histograms), the HTTP counters by
// route pattern, process gauges, a shared registry, and GET /metrics public or operator-only.
/* eslint-disable @typescript-eslint/no-unsafe-member-access -- response bodies are untyped JSON, checked by the assertions */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeLabelValue, MetricsRegistry, METRICS_CONTENT_TYPE } from '../../src/coordinator/api/metrics.ts';
import { harness, taskBody } from './api-helpers.ts';

// The text exposition format 0.0.4, one line at a time.
const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
const VALUE = '(?:[-+]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][-+]?\\d+)?|[-+]?Inf|NaN)';
const HELP_LINE = new RegExp(`^# HELP (${NAME}) (?:[^\\\\\\n]|\\\\[\\\\n])*$`);
const TYPE_LINE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);
const SAMPLE_LINE = new RegExp(`^(${NAME})(\\{(?:${LABEL}(?:,${LABEL})*,?)?\\})? (${VALUE})(?: -?\\d+)?$`);

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses exposition text, asserting every line against the grammar and every sample against a TYPE seen before. */
function parse(text: string): { samples: Sample[]; types: Map<string, string> } {
  assert.ok(text.endsWith('\n'), 'the text ends with a newline');
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    const help = HELP_LINE.exec(line);
    if (help) {
      assert.ok(!helps.has(help[1]), `one HELP for ${help[1]}`);
      helps.add(help[1]);
      continue;
    }
    const type = TYPE_LINE.exec(line);
    if (type) {
      assert.ok(!types.has(type[1]), `one TYPE for ${type[1]}`);
      types.set(type[1], type[2]);
      continue;
    }
    const s = SAMPLE_LINE.exec(line);
    assert.ok(s, `not exposition grammar: ${JSON.stringify(line)}`);
    const name = s[1];
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    assert.ok(types.has(family), `sample ${name} before its TYPE`);
    if (family !== name) assert.equal(types.get(family), 'histogram', `${name} suffix on a ${types.get(family)}`);
    const labels: Record<string, string> = {};
    for (const m of (s[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[m[1]] = m[2].replace(/\\(.)/g, (_x, c: string) => (c === 'n' ? '\n' : c));
    }
    const v = s[3];
    samples.push({ name, labels, value: v === '+Inf' || v === 'Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v) });
  }
  return { samples, types };
}

function find(samples: Sample[], name: string, labels: Record<string, string>): Sample | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

test('registry: counters, gauges (value and callback), histograms render as valid exposition text', () => {
  const r = new MetricsRegistry();
  const c = r.counter('jobs_total', 'Jobs done.', ['kind']);
  c.inc({ kind: 'a' });
  c.inc({ kind: 'a' }, 2);
  c.inc({ kind: 'b' });
  assert.throws(() => c.inc({ kind: 'a' }, -1));
  assert.throws(() => c.inc({}), /label kind is missing/);
  const g = r.gauge('temp_celsius', 'A temperature.');
  g.set(21.5);
  g.dec(undefined, 0.5);
  r.gauge('queue_instances', 'Queued instances by class.', { labelNames: ['class'], collect: () => [{ labels: { class: 'flex' }, value: 7 }, { labels: { class: 'onDemand' }, value: 0 }] });
  r.gauge('big', 'Infinite.', { collect: () => Infinity });
  const h = r.histogram('lat_seconds', 'Latency.', { buckets: [0.1, 1], labelNames: ['op'] });
  for (const v of [0.05, 0.1, 0.5, 3]) h.observe(v, { op: 'x' });

  const text = r.render();
  const { samples, types } = parse(text);
  assert.equal(types.get('jobs_total'), 'counter');
  assert.equal(types.get('lat_seconds'), 'histogram');
  assert.equal(find(samples, 'jobs_total', { kind: 'a' })?.value, 3);
  assert.equal(find(samples, 'jobs_total', { kind: 'b' })?.value, 1);
  assert.equal(find(samples, 'temp_celsius', {})?.value, 21);
  assert.equal(find(samples, 'queue_instances', { class: 'flex' })?.value, 7);
  assert.match(text, /^big \+Inf$/m);
  // Buckets are cumulative, `le` includes its bound, +Inf equals the count.
  assert.equal(find(samples, 'lat_seconds_bucket', { op: 'x', le: '0.1' })?.value, 2);
  assert.equal(find(samples, 'lat_seconds_bucket', { op: 'x', le: '1' })?.value, 3);
  assert.equal(find(samples, 'lat_seconds_bucket', { op: 'x', le: '+Inf' })?.value, 4);
  assert.equal(find(samples, 'lat_seconds_count', { op: 'x' })?.value, 4);
  assert.equal(find(samples, 'lat_seconds_sum', { op: 'x' })?.value, 3.65);
  assert.deepEqual(h.get({ op: 'x' }), { count: 4, sum: 3.65 });
});

test('registry: label values and HELP are escaped; names are checked; re-registration returns the same metric', () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  const r = new MetricsRegistry();
  r.counter('odd_total', 'Help with a \\ backslash\nand a newline.', ['path']).inc({ path: 'C:\\dir\\"x"\nnext' });
  const text = r.render();
  assert.ok(text.includes('# HELP odd_total Help with a \\\\ backslash\\nand a newline.\n'), text);
  assert.ok(text.includes('odd_total{path="C:\\\\dir\\\\\\"x\\"\\nnext"} 1\n'), text);
  const { samples } = parse(text);
  assert.equal(samples[0].labels.path, 'C:\\dir\\"x"\nnext', 'escaping round-trips');

  assert.equal(r.counter('odd_total', 'again', ['path']), r.get('odd_total'));
  assert.throws(() => r.gauge('odd_total', 'clash', { labelNames: ['path'] }), /already registered as a counter/);
  assert.throws(() => r.counter('odd_total', 'clash', ['other']), /already registered/);
  assert.throws(() => r.counter('bad-name', 'x'), /invalid metric name/);
  assert.throws(() => r.counter('ok_total', 'x', ['__reserved']), /invalid label name/);
  assert.throws(() => r.counter('ok2_total', 'x', ['a', 'a']), /repeated/);
  assert.throws(() => r.histogram('h1', 'x', { buckets: [1, 1] }), /ascending/);
  assert.throws(() => r.histogram('h2', 'x', { buckets: [1], labelNames: ['le'] }), /reserved/);
  assert.ok(r.remove('odd_total'));
  assert.equal(r.render(), '');
});

test('GET /metrics: public text; request counters by route pattern (never the raw URL); 404s as "unmatched"', async () => {
  const h = await harness();
  try {
    const created = await h.req(h.a, { method: 'POST', url: '/tasks', payload: taskBody() });
    assert.equal(created.statusCode, 201);
    const uuid = created.json<{ uuid: string }>().uuid;
    for (let i = 0; i < 3; i++) assert.equal((await h.req(h.a, { method: 'GET', url: `/tasks/${uuid}` })).statusCode, 200);
    assert.equal((await h.req(h.a, { method: 'GET', url: `/v1/tasks/${uuid}?x=1` })).statusCode, 200);
    assert.equal((await h.req(undefined, { method: 'GET', url: `/tasks/${uuid}` })).statusCode, 401);
    assert.equal((await h.req(h.a, { method: 'GET', url: '/no/such/route/secret-123' })).statusCode, 404);

    const r = await h.req(undefined, { method: 'GET', url: '/metrics' });
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['content-type'], METRICS_CONTENT_TYPE);
    const { samples, types } = parse(r.body);
    assert.equal(types.get('hearth_http_requests_total'), 'counter');
    assert.equal(types.get('hearth_http_request_duration_seconds'), 'histogram');
    const total = (labels: Record<string, string>): number | undefined => find(samples, 'hearth_http_requests_total', labels)?.value;
    assert.equal(total({ method: 'GET', route: '/tasks/:uuid', status: '200' }), 3);
    assert.equal(total({ method: 'GET', route: '/v1/tasks/:uuid', status: '200' }), 1);
    assert.equal(total({ method: 'GET', route: '/tasks/:uuid', status: '401' }), 1);
    assert.equal(total({ method: 'POST', route: '/tasks', status: '201' }), 1);
    assert.equal(total({ method: 'GET', route: 'unmatched', status: '404' }), 1);
    assert.ok(!r.body.includes(uuid), 'no raw URL in the labels');
    assert.ok(!r.body.includes('secret-123'));
    assert.equal(find(samples, 'hearth_http_request_duration_seconds_count', { method: 'GET', route: '/tasks/:uuid' })?.value, 4);
    for (const name of ['process_resident_memory_bytes', 'nodejs_heap_used_bytes', 'hearth_process_uptime_seconds']) {
      const s = find(samples, name, {});
      assert.ok(s && s.value > 0, name);
    }
    for (const stat of ['mean', 'p50', 'p99', 'max']) assert.ok((find(samples, 'hearth_event_loop_delay_seconds', { stat })?.value ?? -1) >= 0, stat);

    // The scrape itself is counted by the next one.
    const again = parse((await h.req(undefined, { method: 'GET', url: '/metrics' })).body).samples;
    assert.equal(find(again, 'hearth_http_requests_total', { method: 'GET', route: '/metrics', status: '200' })?.value, 1);
    assert.equal(find(again, 'hearth_http_requests_total', { method: 'GET', route: '/tasks/:uuid', status: '200' })?.value, 3);
  } finally {
    await h.close();
  }
});

test('a registry passed to buildApp is app.metrics; other parts add their own metrics to it', async () => {
  const registry = new MetricsRegistry();
  let queued = 0;
  registry.gauge('hearth_queue_instances', 'Instances waiting for a board.', { collect: () => queued });
  const h = await harness({ metrics: registry });
  try {
    assert.equal(h.app.metrics, registry);
    queued = 42;
    await h.req(undefined, { method: 'GET', url: '/versions' });
    const { samples } = parse((await h.req(undefined, { method: 'GET', url: '/metrics' })).body);
    assert.equal(find(samples, 'hearth_queue_instances', {})?.value, 42);
    assert.equal(find(samples, 'hearth_http_requests_total', { route: '/versions', status: '200' })?.value, 1);
    assert.equal((registry.get('hearth_http_requests_total') as { get(l: Record<string, string>): number }).get({ method: 'GET', route: '/versions', status: '200' }), 1);
  } finally {
    await h.close();
  }
});

test('metrics {public: false}: no token 401, a customer 403, an operator 200', async () => {
  const h = await harness({ metrics: { public: false } });
  try {
    const none = await h.req(undefined, { method: 'GET', url: '/metrics' });
    assert.equal(none.statusCode, 401);
    assert.equal(none.json().code, 'UNAUTHORIZED');
    const customer = await h.req(h.a, { method: 'GET', url: '/metrics' });
    assert.equal(customer.statusCode, 403);
    assert.equal(customer.json().code, 'FORBIDDEN');
    const op = await h.req(h.operator, { method: 'GET', url: '/metrics' });
    assert.equal(op.statusCode, 200);
    assert.ok(parse(op.body).samples.some((s) => s.name === 'hearth_http_requests_total' && s.labels.status === '403'));
  } finally {
    await h.close();
  }
});
