// The agent's on-disk outbox: order across reopenings, compaction of acknowledged entries, a torn last line, the
// oldest telemetry dropped when full, and recovery after the disk refused a write.
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Outbox } from '../../src/agent/outbox.ts';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'hearth-outbox-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const lines = (dir: string): number => readFileSync(join(dir, 'outbox.jsonl'), 'utf8').split('\n').filter(Boolean).length;

test('entries survive reopening in order; acknowledged ones are compacted away; a torn last line is ignored', async () => {
  const dir = join(root, 'a');
  const o = new Outbox(dir, { compactAfter: 100 });
  for (let i = 0; i < 1000; i++) o.append(i % 2 ? 'telemetry' : 'instances', { i });
  await o.durable();
  o.ack(o.pending().slice(0, 997).map((e) => e.id));
  await o.durable();
  o.append('telemetry', { i: 1000 });
  await o.durable();
  assert.ok(lines(dir) < 20, `compacted to ${lines(dir)} lines`);
  await o.close();
  appendFileSync(join(dir, 'outbox.jsonl'), '{"i":5000,"k":"tele');
  const warnings: string[] = [];
  const again = new Outbox(dir, { onWarning: (m) => warnings.push(m) });
  assert.deepEqual(
    again.pending().map((e) => (e.payload as { i: number }).i),
    [997, 998, 999, 1000],
  );
  assert.deepEqual(warnings, [], 'a torn last line is not damage');
  const next = again.append('telemetry', { i: 1001 });
  assert.ok(next.id > again.pending()[3].id, 'ids keep growing');
  await again.close();
  assert.deepEqual(
    Outbox.peek(dir).map((e) => (e.payload as { i: number }).i),
    [997, 998, 999, 1000, 1001],
  );
});

test('when full, the oldest telemetry goes and instance reports stay', async () => {
  const dir = join(root, 'b');
  const warnings: string[] = [];
  const o = new Outbox(dir, { maxEntries: 10, onWarning: (m) => warnings.push(m) });
  o.append('instances', { n: 'first' });
  for (let i = 0; i < 20; i++) o.append('telemetry', { i });
  await o.close();
  const kept = Outbox.peek(dir);
  assert.equal(kept.length, 10);
  assert.equal(kept[0].kind, 'instances');
  assert.deepEqual(
    kept.slice(1).map((e) => (e.payload as { i: number }).i),
    [11, 12, 13, 14, 15, 16, 17, 18, 19],
  );
  assert.ok(warnings.some((m) => /full/.test(m)));
});

test('a refused write keeps the entries in memory; the next append writes the file again, whole', async () => {
  const dir = join(root, 'c');
  const warnings: string[] = [];
  const o = new Outbox(dir, { compactAfter: 1, onWarning: (m) => warnings.push(m) });
  o.append('instances', { n: 1 });
  await o.durable();
  // The directory vanishes: the next write (a compaction, after this acknowledgement) fails.
  o.ack(o.pending()[0].id);
  o.append('instances', { n: 2 });
  await rm(dir, { recursive: true, force: true });
  await assert.rejects(o.durable(), /outbox write failed/);
  assert.deepEqual(o.pending().map((e) => e.payload), [{ n: 2 }]);
  o.append('instances', { n: 3 });
  await assert.rejects(o.durable());
  await mkdir(dir);
  o.append('instances', { n: 4 });
  await o.durable();
  assert.deepEqual(
    Outbox.peek(dir).map((e) => e.payload),
    [{ n: 2 }, { n: 3 }, { n: 4 }],
  );
  assert.ok(warnings.some((m) => /kept in memory/.test(m)) && warnings.some((m) => /writing again/.test(m)), warnings.join('; '));
  await o.close();
});
