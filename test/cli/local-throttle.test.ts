// Power following with the local executor (`hearth start --local`), as on an agent (test/agent/throttle.test.ts): the
// demo heater's processes run at the machine's top clock and are held to a level by the CPU share that draws the
// level's power there; power is booked at the top clock from the CPU they used, and the clock ratio billed is the
// share held. Real processes (a busy loop), real SQLite store, the duty-cycle mechanism (works on any machine).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { LocalFleet } from '../../src/cli/local-fleet.ts';
import { openSqliteStore } from '../../src/coordinator/store/sqlite.ts';
import { createBoardModel, levelShare } from '../../src/physics/board.ts';
import type { InstanceReport } from '../../src/protocol/device.ts';
import { testAssignment } from '../helpers/assignment.ts';


test('local executor: an instance follows the power level by its CPU share; power at the top clock, the clock ratio billed is the share', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-local-throttle-'));
  const store = await openSqliteStore(join(dir, 'hearth.db'));
  const fleet = new LocalFleet({ store, blobDir: join(dir, 'blobs'), workRoot: join(dir, 'work'), throttle: 'signals' });
  t.after(async () => {
    await fleet.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await store.upsertRegistry({ id: 'site', kind: 'site', name: 'site', spec: { climateZone: 'H2c' } });
  await store.upsertRegistry({ id: 'room', kind: 'room', siteId: 'site', name: 'room', spec: { archetype: 'dwelling-1974-1982', areaM2: 20, comfortC: 20 } });
  await store.upsertRegistry({ id: 'h1', kind: 'heater', siteId: 'site', parentId: 'room', name: 'h1', spec: { boards: 3 } });
  await fleet.syncDevices(Date.now());
  const m = createBoardModel();
  const reports: InstanceReport[] = [];
  const tick = (): void => {
    fleet.step(Date.now());
    reports.push(...fleet.drain().instances);
  };
  const until = async (pred: () => boolean, what: string): Promise<void> => {
    for (let i = 0; i < 200 && !pred(); i++) {
      await delay(50);
      tick();
    }
    assert.ok(pred(), what);
  };

  fleet.send('h1', { kind: 'start', assignment: testAssignment({ taskUuid: 'task-local-throttle', command: 'while :; do :; done' }) });
  await until(() => reports.some((r) => r.phase === 'execution'), 'the busy loop starts');
  // The top level: no throttling, the clock ratio is 1.
  for (let i = 0; i < 6; i++) {
    await delay(100);
    tick();
  }
  const atTop = reports.filter((r) => r.add);
  assert.ok(atTop.length > 0);
  for (const r of atTop) assert.equal(r.clockRatio, 1);
  // Level 1: held to its share.
  const share1 = levelShare(m, 1);
  fleet.send('h1', { kind: 'power', level: 1, booster: 0, filler: [false, false, false], resistiveW: null });
  const from = reports.length;
  for (let i = 0; i < 20; i++) {
    await delay(100);
    tick();
  }
  const held = reports.slice(from).filter((r) => r.add);
  assert.ok(held.length >= 10, `usage reports at level 1: ${held.length}`);
  const exec = held.reduce((s, r) => s + r.add!.execTimeSec, 0);
  const wall = held.reduce((s, r) => s + r.add!.wallTimeSec, 0);
  t.diagnostic(`local device at level 1 (share ${share1.toFixed(3)}): the instance used ${(exec / wall).toFixed(3)} CPU-s/s over ${wall.toFixed(2)} s`);
  assert.ok(exec / wall < 0.75 * 0.9, `the instance is held: ${exec / wall} CPU-s/s`);
  for (const r of held) {
    assert.ok(Math.abs(r.clockRatio! - share1) < 1e-9, `clock ratio ${r.clockRatio} = share ${share1}`);
    assert.equal(r.add!.ghzSeconds, r.add!.execTimeSec * m.freqLevelsGHz[m.levels - 1], 'CPU seconds at the top clock');
    // Power at the top clock from the CPU used: between a board's idle and its full power, never the level's own
    // figure at full utilisation unless the loop really used the whole share.
    const w = (r.add!.energyWh * 3600) / r.add!.wallTimeSec;
    assert.ok(w >= m.idleW - 1e-9 && w <= m.idleW + m.dynTopW + 1e-9, `power ${w} W`);
  }
  // Back to the top level: the clock ratio returns to 1 and the loop runs unthrottled.
  fleet.send('h1', { kind: 'power', level: m.levels - 1, booster: 0, filler: [false, false, false], resistiveW: null });
  const back = reports.length;
  for (let i = 0; i < 5; i++) {
    await delay(100);
    tick();
  }
  const last = reports.slice(back).filter((r) => r.add);
  assert.ok(last.length > 0);
  assert.equal(last.at(-1)!.clockRatio, 1);
});
