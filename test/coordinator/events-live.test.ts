// The live stream's per-account events: `instance.state` (published by the loop's wiring once per period after the
// tick, coalesced, to the task's owner; the device only for an operator's own tasks) and `room.telemetry` (live only,
// each resident its rooms, a site's host the site's rooms, operators and customers none). Ticks are driven by the
// test (a period of an hour never fires), and every "not received" is proven by a stored marker event published
// after the tick: a frame written before the marker would have arrived before it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform, type Platform } from '../../src/coordinator/server.ts';
import { localExecutor } from '../../src/cli/local-fleet.ts';
import { createAccount } from '../../src/coordinator/auth/tokens.ts';
import { EventHub, InstanceStateFeed, RoomTelemetryAggregator, roomsFor, roomTelemetryView } from '../../src/coordinator/events.ts';
import { openStore } from '../../src/coordinator/store/index.ts';
import { SYSTEM, type InstanceRecord } from '../../src/coordinator/store/types.ts';
import { EVENT_TYPES, isLiveEvent, type InstanceOutputPayload, type InstanceStatePayload, type LiveEvent, type RoomTelemetryBatch } from '../../src/protocol/platform.ts';

const OPERATOR = 'hth_test_operator_token_events_live_0123';

/** An open SSE stream: frames parsed as they come. */
class Stream {
  readonly events: LiveEvent[] = [];
  private readonly ac = new AbortController();
  private buf = '';
  private reader!: ReadableStreamDefaultReader<string>;

  static async open(url: string, token: string, lastEventId?: number): Promise<Stream> {
    const s = new Stream();
    const res = await fetch(url + '/hearth/v1/events' + (lastEventId === undefined ? '' : `?lastEventId=${lastEventId}`), { headers: { authorization: token }, signal: s.ac.signal });
    assert.equal(res.status, 200);
    s.reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    // The stream is subscribed once its first bytes (the retry line) are out.
    await s.until(() => s.opened);
    return s;
  }
  private opened = false;

  /** Reads until `done` holds. */
  async until(done: () => boolean): Promise<void> {
    while (!done()) {
      const { value, done: ended } = await this.reader.read();
      if (ended) throw new Error('stream ended');
      this.buf += value;
      let end: number;
      while ((end = this.buf.indexOf('\n\n')) >= 0) {
        const block = this.buf.slice(0, end);
        this.buf = this.buf.slice(end + 2);
        if (block.startsWith('retry:')) this.opened = true;
        const data = block.split('\n').find((l) => l.startsWith('data: '));
        if (data) this.events.push(JSON.parse(data.slice(6)) as LiveEvent);
      }
    }
  }

  /** Reads until the marker event with this tag. */
  untilMarker(tag: string): Promise<void> {
    return this.until(() => this.events.some((e) => e.type === 'test.marker' && (e.payload as { tag?: string }).tag === tag));
  }

  close(): void {
    this.ac.abort();
  }
}

let platform: Platform;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-events-live-'));
  platform = await startPlatform({ port: 0, dataDir: dir, env: { HEARTH_BOOTSTRAP_TOKEN: OPERATOR }, fleet: { executor: localExecutor, periodS: 3600, demoRooms: 2 } });
});

after(async () => {
  await platform.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Submits a task as `token` and ticks the loop until it succeeds (its processes run in real time); its uuid, and the
 * ticks it took before the last one.
 */
async function runToSuccess(token: string, body: Record<string, unknown>): Promise<{ uuid: string; ticks: number }> {
  const submit = await fetch(platform.url + '/tasks', { method: 'POST', headers: { authorization: token, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(submit.status, 201);
  const { uuid } = (await submit.json()) as { uuid: string };
  let ticks = 0;
  for (; ticks < 600; ticks++) {
    await platform.fleet!.tick();
    if ((await platform.store.getTask(SYSTEM, uuid))?.state === 'Success') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal((await platform.store.getTask(SYSTEM, uuid))?.state, 'Success');
  return { uuid, ticks };
}

/** A stored event only `accountId` (and operators) may see, to bound what a stream has received. */
async function marker(accountId: string | null, tag: string): Promise<void> {
  await platform.events.publish(platform.store, { type: 'test.marker', accountId, payload: { tag } });
}

describe('instance.state', () => {
  test('the owner sees each instance go from dispatch to success, without the device; another customer sees none', async () => {
    const alice = await createAccount(platform.store, { email: 'alice-ev@example.com', credits: 20 });
    const bob = await createAccount(platform.store, { email: 'bob-ev@example.com', credits: 20 });
    const before = await platform.store.lastEventId();
    const { uuid, ticks } = await runToSuccess(alice.token, { name: 'events', profile: 'docker-batch', instanceCount: 2, constants: [{ key: 'DOCKER_CMD', value: 'echo hello' }] });
    await marker(alice.account.id, 'alice');
    await marker(bob.account.id, 'bob');
    await marker(null, 'ops');

    const a = await Stream.open(platform.url, alice.token, before);
    const b = await Stream.open(platform.url, bob.token, before);
    const op = await Stream.open(platform.url, OPERATOR, before);
    try {
      await Promise.all([a.untilMarker('alice'), b.untilMarker('bob'), op.untilMarker('ops')]);
      const mine = a.events.filter((e) => isLiveEvent(e, EVENT_TYPES.instanceState)).map((e) => e as LiveEvent & { payload: InstanceStatePayload });
      assert.ok(mine.length >= 2, JSON.stringify(a.events));
      for (const e of mine) {
        assert.equal(e.accountId, alice.account.id);
        assert.equal(e.payload.taskUuid, uuid);
        assert.ok(!('heaterId' in e.payload) && !('boardIndex' in e.payload), `a customer never learns the device: ${JSON.stringify(e.payload)}`);
        assert.equal(typeof e.id, 'number');
      }
      for (const id of [0, 1]) {
        const states = mine.filter((e) => e.payload.instanceId === id).map((e) => e.payload.state);
        assert.equal(states.at(-1), 'success', `instance ${id}: ${states.join(',')}`);
        assert.equal(mine.filter((e) => e.payload.instanceId === id).at(-1)!.payload.progress, 100);
        // Coalesced: at most one event per instance per tick.
        assert.ok(states.length <= ticks + 1, `instance ${id}: ${states.length} events in ${ticks + 1} ticks`);
        // Consecutive events of an instance differ in state, phase, attempt or progress step.
        const ofId = mine.filter((e) => e.payload.instanceId === id).map((e) => e.payload);
        for (let k = 1; k < ofId.length; k++) {
          const p = ofId[k - 1];
          const q = ofId[k];
          assert.ok(p.state !== q.state || p.phase !== q.phase || p.attempt !== q.attempt || Math.floor(p.progress / 10) !== Math.floor(q.progress / 10), JSON.stringify([p, q]));
        }
      }
      // Bob: not one of Alice's instance events (his stream reached his marker, published after them).
      assert.deepEqual(b.events.filter((e) => e.type === EVENT_TYPES.instanceState || e.accountId === alice.account.id), []);
      // Operators see them as they see every account's events.
      assert.ok(op.events.some((e) => e.type === EVENT_TYPES.instanceState && (e.payload as InstanceStatePayload).taskUuid === uuid));
    } finally {
      a.close();
      b.close();
      op.close();
    }
  });

  test('an abort and a resume over the API are announced at once: the task state and each instance, to the owner only', async () => {
    const carol = await createAccount(platform.store, { email: 'carol-ev@example.com', credits: 20 });
    const dave = await createAccount(platform.store, { email: 'dave-ev@example.com', credits: 20 });
    const call = async (method: string, path: string, body?: unknown): Promise<Response> =>
      fetch(platform.url + path, { method, headers: { authorization: carol.token, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    // The loop never ticks here (a period of an hour): the instances stay queued until aborted.
    const submit = await call('POST', '/tasks', { name: 'aborted', profile: 'docker-batch', instanceCount: 3, constants: [{ key: 'DOCKER_CMD', value: 'sleep 60' }] });
    assert.equal(submit.status, 201);
    const { uuid } = (await submit.json()) as { uuid: string };
    const from = await platform.store.lastEventId();
    const c = await Stream.open(platform.url, carol.token, from);
    const d = await Stream.open(platform.url, dave.token, from);
    try {
      assert.equal((await call('POST', `/tasks/${uuid}/abort`)).status, 200);
      const ofTask = (): LiveEvent[] => c.events.filter((e) => (e.payload as { uuid?: string; taskUuid?: string }).uuid === uuid || (e.payload as { taskUuid?: string }).taskUuid === uuid);
      await c.until(() => ofTask().filter((e) => e.type === EVENT_TYPES.instanceState).length === 3);
      assert.deepEqual(ofTask().filter((e) => e.type === EVENT_TYPES.taskState).map((e) => (e.payload as { state: string }).state), ['Cancelled']);
      assert.deepEqual(ofTask().filter((e) => e.type === EVENT_TYPES.instanceState).map((e) => [(e.payload as InstanceStatePayload).instanceId, (e.payload as InstanceStatePayload).state]), [[0, 'cancelled'], [1, 'cancelled'], [2, 'cancelled']]);
      // Aborting again changes nothing and says nothing; resuming brings every instance back to the queue.
      assert.equal((await call('POST', `/tasks/${uuid}/abort`)).status, 200);
      assert.equal((await call('POST', `/tasks/${uuid}/resume`)).status, 200);
      await c.until(() => ofTask().filter((e) => e.type === EVENT_TYPES.instanceState).length === 6);
      assert.deepEqual(ofTask().filter((e) => e.type === EVENT_TYPES.taskState).map((e) => (e.payload as { state: string }).state), ['Cancelled', 'Submitted']);
      assert.deepEqual(ofTask().filter((e) => e.type === EVENT_TYPES.instanceState).slice(3).map((e) => (e.payload as InstanceStatePayload).state), ['queued', 'queued', 'queued']);
      await marker(dave.account.id, 'dave');
      await d.untilMarker('dave');
      assert.deepEqual(d.events.filter((e) => e.accountId === carol.account.id || e.type === EVENT_TYPES.instanceState || e.type === EVENT_TYPES.taskState), []);
    } finally {
      c.close();
      d.close();
    }
  });

  test('coalescing: one event per instance per flush; progress alone only across a step; final states forgotten', async () => {
    const store = await openStore('sqlite::memory:');
    try {
      const hub = new EventHub();
      const acct = await store.createAccount({ email: 'c@example.com', role: 'customer' });
      const op = await store.createAccount({ email: 'o@example.com', role: 'operator' });
      const task = await store.createTask({ accountId: acct.id, name: 't', profile: 'docker-batch', body: {}, instanceIds: [0] });
      const own = await store.createTask({ accountId: op.id, name: 'o', profile: 'docker-batch', body: {}, instanceIds: [0] });
      const feed = new InstanceStateFeed();
      const rec = (taskUuid: string, patch: Partial<InstanceRecord>): InstanceRecord => ({
        taskUuid, instanceId: 0, state: 'running', phase: 'execution', attempt: 1, heaterId: 'h-1', boardIndex: 2, progress: 0, startedAt: 1, endedAt: null, updatedAt: 1,
        energyWh: 0, ghzSeconds: 0, execTimeSec: 0, wallTimeSec: 0, clockRatio: 1, results: null, info: null, ...patch,
      });
      const payloads = async (): Promise<InstanceStatePayload[]> => (await feed.flush(store, hub)).map((e) => e.payload as InstanceStatePayload);

      for (const p of [1, 2, 3]) feed.record(rec(task.uuid, { progress: p }));
      assert.deepEqual((await payloads()).map((p) => [p.state, p.progress]), [['running', 3]], 'three changes, one event');
      feed.record(rec(task.uuid, { progress: 9 }));
      assert.deepEqual(await payloads(), [], 'progress within the same 10 % step: nothing');
      feed.record(rec(task.uuid, { progress: 10 }));
      assert.deepEqual((await payloads()).map((p) => p.progress), [10]);
      feed.record(rec(task.uuid, { progress: 11, state: 'paused' }));
      const paused = await payloads();
      assert.deepEqual(paused.map((p) => p.state), ['paused'], 'a state change always');
      assert.ok(!('heaterId' in paused[0]), 'a customer task: no device');
      feed.record(rec(task.uuid, { progress: 100, state: 'success', phase: null }));
      assert.deepEqual((await payloads()).map((p) => p.state), ['success']);
      feed.record(rec(task.uuid, { progress: 100, state: 'success', phase: null }));
      assert.deepEqual((await payloads()).map((p) => p.state), ['success'], 'forgotten once final (a relaunch starts afresh)');
      // An operator's own task: the device and board are its to see.
      feed.record(rec(own.uuid, { progress: 50 }));
      const mine = await payloads();
      assert.deepEqual([mine[0].heaterId, mine[0].boardIndex], ['h-1', 2]);
      const stored = await store.readEvents(acct.id, { afterId: 0 });
      assert.ok(stored.every((e) => e.accountId === acct.id && e.type === EVENT_TYPES.instanceState));
      assert.equal(stored.length, 5);
    } finally {
      await store.close();
    }
  });
});

describe('instance.output', () => {
  test('the owner receives each output chunk live, stdout and stderr, without an id; another customer none; operators too', async () => {
    const carol = await createAccount(platform.store, { email: 'carol-out@example.com', credits: 20 });
    const dave = await createAccount(platform.store, { email: 'dave-out@example.com', credits: 20 });
    // Live only: the streams are open before the output is written.
    const c = await Stream.open(platform.url, carol.token);
    const d = await Stream.open(platform.url, dave.token);
    const op = await Stream.open(platform.url, OPERATOR);
    try {
      const { uuid } = await runToSuccess(carol.token, { name: 'output', profile: 'docker-batch', instanceCount: 2, constants: [{ key: 'DOCKER_CMD', value: 'echo "out of ${INSTANCE_ID}"; echo "err of ${INSTANCE_ID}" >&2' }] });
      await marker(carol.account.id, 'carol');
      await marker(dave.account.id, 'dave');
      await marker(null, 'ops-out');
      await Promise.all([c.untilMarker('carol'), d.untilMarker('dave'), op.untilMarker('ops-out')]);
      const chunks = c.events.filter((e) => isLiveEvent(e, EVENT_TYPES.instanceOutput)).map((e) => e as LiveEvent & { payload: InstanceOutputPayload });
      for (const e of chunks) {
        assert.equal(e.id, null, 'live only: no event id');
        assert.equal(e.accountId, carol.account.id);
        assert.equal(e.payload.taskUuid, uuid);
        assert.equal(e.payload.attempt, 1);
      }
      for (const id of [0, 1]) {
        const of = (stream: string): string => chunks.filter((e) => e.payload.instanceId === id && e.payload.stream === stream).map((e) => e.payload.text).join('');
        assert.equal(of('stdout'), `out of ${id}\n`);
        assert.equal(of('stderr'), `err of ${id}\n`);
      }
      // What went live is what the API returns afterwards.
      const stdout = await (await fetch(`${platform.url}/tasks/${uuid}/stdout`, { headers: { authorization: carol.token } })).text();
      for (const id of [0, 1]) assert.ok(stdout.includes(`${id}> out of ${id}`), stdout);
      assert.deepEqual(d.events.filter((e) => e.type === EVENT_TYPES.instanceOutput), [], 'another customer receives none');
      assert.equal(op.events.filter((e) => e.type === EVENT_TYPES.instanceOutput && (e.payload as InstanceOutputPayload).taskUuid === uuid).length, chunks.length);
    } finally {
      c.close();
      d.close();
      op.close();
    }
  });
});

describe('room.telemetry', () => {
  test('each resident receives its room only, the host the site’s rooms, a customer and the operators none', async () => {
    const r1 = await createAccount(platform.store, { email: 'r1@example.com', role: 'resident', scope: { roomIds: ['demo-room-1'] } });
    const r2 = await createAccount(platform.store, { email: 'r2@example.com', role: 'resident', scope: { roomIds: ['demo-room-2'] } });
    const host = await createAccount(platform.store, { email: 'host@example.com', role: 'customer' });
    const stranger = await createAccount(platform.store, { email: 'nobody@example.com', role: 'customer' });
    const site = (await platform.store.getRegistry('demo-site'))!;
    await platform.store.upsertRegistry({ ...site, accountId: host.account.id });

    const streams = await Promise.all([r1, r2, host, stranger].map((a) => Stream.open(platform.url, a.token)));
    const op = await Stream.open(platform.url, OPERATOR);
    try {
      await platform.fleet!.tick();
      await platform.fleet!.tick();
      const accounts = [r1, r2, host, stranger];
      for (const [k, a] of accounts.entries()) await marker(a.account.id, `room-${k}`);
      await marker(null, 'room-ops');
      await Promise.all([...streams.map((s, k) => s.untilMarker(`room-${k}`)), op.untilMarker('room-ops')]);
      const roomsSeen = (s: Stream): string[][] =>
        s.events.filter((e) => isLiveEvent(e, EVENT_TYPES.roomTelemetry)).map((e) => e.payload.rooms.map((r) => r.roomId).sort());
      const [s1, s2, sh, ss] = streams;
      assert.ok(roomsSeen(s1).length >= 1, JSON.stringify(s1.events));
      assert.ok(roomsSeen(s1).every((ids) => ids.join() === 'demo-room-1'), JSON.stringify(roomsSeen(s1)));
      assert.ok(roomsSeen(s2).length >= 1);
      assert.ok(roomsSeen(s2).every((ids) => ids.join() === 'demo-room-2'), JSON.stringify(roomsSeen(s2)));
      assert.ok(roomsSeen(sh).length >= 1);
      assert.ok(roomsSeen(sh).every((ids) => ids.join() === 'demo-room-1,demo-room-2'), JSON.stringify(roomsSeen(sh)));
      assert.deepEqual(roomsSeen(ss), []);
      assert.deepEqual(roomsSeen(op), [], 'operators have telemetry.batch');
      // The figures: live only (no id), the room's air temperature, setpoint and power from its heater.
      const e = s1.events.find((x) => x.type === EVENT_TYPES.roomTelemetry)!;
      assert.equal(e.id, null);
      assert.equal(e.accountId, r1.account.id);
      const room = (e.payload as RoomTelemetryBatch).rooms[0];
      assert.equal(room.siteId, 'demo-site');
      assert.equal(room.heaters, 1);
      for (const f of ['airC', 'setpointC', 'powerW', 'time'] as const) assert.equal(typeof room[f], 'number', f);
      // At most one per period: one per tick at most.
      assert.ok(roomsSeen(s1).length <= 2);
      // Never a frame naming the other resident's room or device on a resident's stream.
      for (const [s, other] of [[s1, 'demo-room-2'], [s2, 'demo-room-1']] as const) {
        assert.ok(s.events.every((x) => !JSON.stringify(x).includes(other)), `${other} leaked`);
      }
    } finally {
      for (const s of streams) s.close();
      op.close();
    }
  });

  test('an open stream follows its account: a new room scope applies to the next figures, a revoked token ends it', async () => {
    const r = await createAccount(platform.store, { email: 'mover@example.com', role: 'resident', scope: { roomIds: ['demo-room-1'] } });
    const s = await Stream.open(platform.url, r.token);
    const roomsSeen = (): string[] => s.events.filter((e) => isLiveEvent(e, EVENT_TYPES.roomTelemetry)).map((e) => e.payload.rooms.map((x) => x.roomId).sort().join());
    try {
      await platform.fleet!.tick();
      await marker(r.account.id, 'before-move');
      await s.untilMarker('before-move');
      assert.deepEqual([...new Set(roomsSeen())], ['demo-room-1']);
      // The resident moves to room 2: the stream's next read sees the new scope, and the next figures follow it.
      await platform.store.updateAccount(r.account.id, { scope: { roomIds: ['demo-room-2'] } });
      await marker(r.account.id, 'moved');
      await s.untilMarker('moved');
      const seenBefore = roomsSeen().length;
      await platform.fleet!.tick();
      await marker(r.account.id, 'after-move');
      await s.untilMarker('after-move');
      assert.deepEqual([...new Set(roomsSeen().slice(seenBefore))], ['demo-room-2'], JSON.stringify(roomsSeen()));
      // Its token revoked: the stream ends at its next read, before the event that woke it.
      const [tok] = await platform.store.listTokens(r.account.id);
      assert.ok(await platform.store.revokeToken(SYSTEM, tok.id));
      await marker(r.account.id, 'revoked');
      await assert.rejects(s.untilMarker('revoked'), /stream ended/);
    } finally {
      s.close();
    }
  });

  test('aggregation and scoping are pure: means over a room’s heaters, sums of power, rooms picked by room and by site', () => {
    const agg = new RoomTelemetryAggregator();
    const places = new Map([
      ['h1', { roomId: 'r1', siteId: 's1' }],
      ['h2', { roomId: 'r1', siteId: 's1' }],
      ['h3', { roomId: 'r2', siteId: 's1' }],
      ['h4', { roomId: 'r3', siteId: 's2' }],
    ]);
    const heaters = (room: string): string[] => [...places].filter(([, p]) => p.roomId === room).map(([id]) => id);
    const first = agg.update(
      [
        { deviceId: 'h1', time: 10, airC: 19, setpointC: 20, powerW: 100 },
        { deviceId: 'h2', time: 11, airC: 21, setpointC: 20, powerW: 300 },
        { deviceId: 'b1', time: 11, airC: 55 },
      ],
      (id) => places.get(id),
      heaters,
    );
    assert.deepEqual(first, [{ roomId: 'r1', siteId: 's1', time: 11, heaters: 2, airC: 20, setpointC: 20, powerW: 400 }]);
    // A later period where one heater reports: the room's figure still covers both heaters' latest samples.
    const second = agg.update([{ deviceId: 'h2', time: 20, airC: 23, setpointC: 20, powerW: 0 }, { deviceId: 'h3', time: 20, airC: 18 }, { deviceId: 'h4', time: 20, airC: 17 }], (id) => places.get(id), heaters);
    assert.deepEqual(second.find((r) => r.roomId === 'r1'), { roomId: 'r1', siteId: 's1', time: 20, heaters: 2, airC: 21, setpointC: 20, powerW: 100 });
    const view = roomTelemetryView(second, 20);
    const ids = (roomIds: string[], siteIds: string[]): string[] => roomsFor(view, { roomIds: new Set(roomIds), siteIds: new Set(siteIds) }).map((r) => r.roomId).sort();
    assert.deepEqual(ids(['r1'], []), ['r1']);
    assert.deepEqual(ids(['r2'], []), ['r2']);
    assert.deepEqual(ids([], ['s1']), ['r1', 'r2']);
    assert.deepEqual(ids(['r1'], ['s1']), ['r1', 'r2'], 'a room both lived in and hosted: once');
    assert.deepEqual(ids(['nope'], ['s9']), []);
  });
});

describe('fleet/placements', () => {
  test('the overflow count and the owners come from one counting query and one account read', async () => {
    const store = platform.store;
    const a = await createAccount(store, { email: 'over@example.com', credits: 1 });
    assert.equal(await store.countInstances(SYSTEM, { states: ['overflow'] }), (await store.listInstances(SYSTEM, { states: ['overflow'] })).length);
    const task = await store.createTask({ accountId: a.account.id, name: 'count', profile: 'docker-batch', body: {}, instanceIds: [0, 1, 2] });
    assert.equal(await store.countInstances(SYSTEM, { taskUuid: task.uuid }), 3);
    assert.equal(await store.countInstances(a.account.id, { taskUuid: task.uuid, states: ['queued'] }), 3);
    assert.equal(await store.countInstances('someone-else', { taskUuid: task.uuid }), 0);
    assert.equal(await store.countInstances(SYSTEM, { states: [] }), 0);
    const got = await store.getAccounts([a.account.id, a.account.id, 'missing']);
    assert.deepEqual(got.map((x) => x.email), ['over@example.com']);
    await store.deleteTask(SYSTEM, task.uuid);
  });
});
