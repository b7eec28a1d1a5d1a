// Residents through the API (operators): an account created for the rooms it lives in sees those rooms and no
// other; moving it to other rooms changes what it sees and revokes the Home Assistant logins it issued that reach a
// room it left; bad requests name their field and change nothing. The CLI's `account create --room` does the same
// on the coordinator's machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { harness } from './api-helpers.ts';
import { openDataDir } from '../../src/coordinator/server.ts';
import { authenticate } from '../../src/coordinator/auth/tokens.ts';

const P = '/hearth/v1';
const ROOM = { archetype: 'dwelling-1974-1982', areaM2: 20, comfortC: 20, setbackC: 16, minC: 16, maxC: 23, safetyC: 28 };

test('an operator creates a resident for their rooms and moves them; what they see follows; their Home Assistant logins for rooms they left are revoked', async () => {
  const h = await harness();
  try {
    await h.store.upsertRegistry({ id: 's1', kind: 'site', name: 'site', spec: { climateZone: 'H2c', tariffEURPerKWh: 0.2 } });
    for (const id of ['r1', 'r2']) await h.store.upsertRegistry({ id, kind: 'room', siteId: 's1', name: id, spec: ROOM });
    const post = (token: string, body: unknown) => h.req(token, { method: 'POST', url: `${P}/accounts`, payload: body as Record<string, unknown> });

    // Refused, named, nothing created.
    const bad: Array<[unknown, string]> = [
      [{ email: 'x@example.com', role: 'resident', roomIds: ['nowhere'] }, 'roomIds[0]'],
      [{ email: 'x@example.com', role: 'resident', roomIds: ['r1', 'r1'] }, 'roomIds[1]'],
      [{ email: 'x@example.com', role: 'customer', roomIds: ['r1'] }, 'roomIds'],
    ];
    for (const [body, field] of bad) {
      const r = await post(h.operator, body);
      assert.equal(r.statusCode, 400, JSON.stringify(body));
      assert.equal(r.json<{ field?: string }>().field, field, r.body);
    }
    assert.equal((await h.store.getAccountByEmail('x@example.com')), undefined, 'a refused request created nothing');
    assert.equal((await post(h.a, { email: 'y@example.com', role: 'resident', roomIds: ['r1'] })).statusCode, 403);

    const created = await post(h.operator, { email: 'flat1@example.com', role: 'resident', roomIds: ['r1'] });
    assert.equal(created.statusCode, 201, created.body);
    const { id, token, roomIds } = created.json<{ id: string; token: string; roomIds: string[] }>();
    assert.deepEqual(roomIds, ['r1']);
    const sees = async (): Promise<string[]> => ((await h.req(token, { method: 'GET', url: `${P}/rooms` })).json<Array<{ id: string }>>()).map((r) => r.id).sort();
    assert.deepEqual(await sees(), ['r1']);
    assert.equal((await h.req(token, { method: 'GET', url: `${P}/rooms/r2` })).statusCode, 404);

    // The resident links Home Assistant to their room.
    const login = await h.req(token, { method: 'POST', url: `${P}/integrations/home-assistant`, payload: {} });
    assert.equal(login.statusCode, 201, login.body);
    const username = login.json<{ username: string; roomIds: string[] }>().username;

    const put = (who: string, account: string, body: unknown) => h.req(who, { method: 'PUT', url: `${P}/accounts/${account}/rooms`, payload: body as Record<string, unknown> });
    // Refused, named, nothing changed.
    assert.equal((await put(h.a, id, { roomIds: ['r2'] })).statusCode, 403);
    assert.equal((await put(h.operator, 'no-such-account', { roomIds: ['r2'] })).statusCode, 404);
    const customerId = (await authenticate(h.store, h.a))!.account.id;
    const notResident = await put(h.operator, customerId, { roomIds: ['r2'] });
    assert.deepEqual([notResident.statusCode, notResident.json<{ field?: string }>().field], [400, 'id']);
    const badRoom = await put(h.operator, id, { roomIds: ['r2', 'nowhere'] });
    assert.deepEqual([badRoom.statusCode, badRoom.json<{ field?: string }>().field], [400, 'roomIds[1]']);
    assert.deepEqual(await sees(), ['r1']);

    // Moved to room 2: they see it, not room 1, and their login for room 1 is revoked.
    const moved = await put(h.operator, id, { roomIds: ['r2'] });
    assert.equal(moved.statusCode, 200, moved.body);
    assert.deepEqual(moved.json(), { id, email: 'flat1@example.com', roomIds: ['r2'], revokedLogins: [username] });
    assert.deepEqual(await sees(), ['r2']);
    const logins = (await h.req(token, { method: 'GET', url: `${P}/integrations/home-assistant` })).json<Array<{ username: string; revoked: boolean }>>();
    assert.deepEqual(logins.map((l) => [l.username, l.revoked]), [[username, true]]);
    // Moving them again to rooms their (revoked) login never reached revokes nothing more.
    assert.deepEqual((await put(h.operator, id, { roomIds: ['r1', 'r2'] })).json<{ revokedLogins: string[] }>().revokedLogins, []);
    assert.deepEqual(await sees(), ['r1', 'r2']);
  } finally {
    await h.close();
  }
});

test('hearth account create --role resident --room: a resident for rooms of the registry; an unknown room or a room for another role is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-resident-cli-'));
  try {
    const { store } = await openDataDir(dir);
    await store.upsertRegistry({ id: 's1', kind: 'site', name: 'site', spec: { climateZone: 'H2c', tariffEURPerKWh: 0.2 } });
    await store.upsertRegistry({ id: 'r1', kind: 'room', siteId: 's1', name: 'r1', spec: ROOM });
    await store.close();
    const cli = (...args: string[]) => spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'hearth.mjs'), 'account', 'create', '--data', dir, ...args], { encoding: 'utf8' });
    const ok = cli('--email', 'flat@example.com', '--role', 'resident', '--room', 'r1', '--json');
    assert.equal(ok.status, 0, ok.stderr);
    const made = JSON.parse(ok.stdout) as { id: string; role: string };
    assert.equal(made.role, 'resident');
    const unknown = cli('--email', 'other@example.com', '--role', 'resident', '--room', 'nowhere');
    assert.notEqual(unknown.status, 0);
    assert.match(unknown.stderr, /--room: no room "nowhere"/);
    const customer = cli('--email', 'cust@example.com', '--room', 'r1');
    assert.notEqual(customer.status, 0);
    assert.match(customer.stderr, /--room: only a resident has rooms/);
    const again = await openDataDir(dir);
    try {
      assert.deepEqual((await again.store.getAccount(made.id))?.scope.roomIds, ['r1']);
      assert.equal(await again.store.getAccountByEmail('other@example.com'), undefined);
      assert.equal(await again.store.getAccountByEmail('cust@example.com'), undefined);
    } finally {
      await again.store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
