// Tests of the heater: derating by body temperature, booster, scalar fast path vs readable API, heat planner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createHeaterModel, derateFactor, heaterPower, heaterPowerW, heaterThroughput, planHeat, QC1_HEATER, shareThrottledHeater } from '../../src/physics/heater.ts';
import { levelShare } from '../../src/physics/board.ts';
import { InvalidParameterError } from '../../src/physics/errors.ts';

const h = createHeaterModel();
const top = h.board.levels - 1;

void test('below the derate start the boards run at full power; at and above the cap only idle', () => {
  assert.equal(heaterPowerW(h, 3, top, 1, 0, 20), 3 * 165);
  assert.equal(heaterPowerW(h, 3, top, 1, 0, h.derateStartC), 3 * 165);
  assert.equal(heaterPowerW(h, 3, top, 1, 0, h.capC), 3 * 30);
  assert.equal(heaterPowerW(h, 3, top, 1, 0, h.capC + 20), 3 * 30);
  assert.equal(heaterPowerW(h, 3, top, 1, 0, NaN), 3 * 30);
  assert.equal(heaterThroughput(h, 3, top, 1, h.capC), 0);
  const mid = (h.derateStartC + h.capC) / 2;
  assert.ok(Math.abs(heaterPowerW(h, 3, top, 1, 0, mid) - 3 * (30 + 0.5 * 135)) < 1e-9);
  assert.equal(derateFactor(h, mid), 0.5);
});

void test('derating caps dynamic power: a board already below the limit is untouched', () => {
  const mid = (h.derateStartC + h.capC) / 2; // cap at 30 + 67.5 W per board
  assert.equal(heaterPowerW(h, 2, 0, 1, 0, mid), heaterPowerW(h, 2, 0, 1, 0, 20)); // level 0 ≈ 46.9 W
  assert.ok(heaterPowerW(h, 2, top, 0.3, 0, mid) === heaterPowerW(h, 2, top, 0.3, 0, 20));
});

void test('power is non-increasing in body temperature and non-decreasing in boards, level and utilisation', () => {
  const q = createHeaterModel(QC1_HEATER);
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 0, max: top }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 90, noNaN: true }),
      fc.double({ min: 0, max: 90, noNaN: true }),
      (n, l, u, bf, t1, t2) => {
        const [lo, hi] = t1 <= t2 ? [t1, t2] : [t2, t1];
        assert.ok(heaterPowerW(q, n, l, u, bf, hi) <= heaterPowerW(q, n, l, u, bf, lo) + 1e-9);
        if (n < 3) assert.ok(heaterPowerW(q, n, l, u, bf, lo) <= heaterPowerW(q, n + 1, l, u, bf, lo) + 1e-9);
        if (l < top) assert.ok(heaterPowerW(q, n, l, u, bf, lo) <= heaterPowerW(q, n, l + 1, u, bf, lo) + 1e-9);
        assert.ok(heaterPowerW(q, n, l, u * 0.5, bf, lo) <= heaterPowerW(q, n, l, u, bf, lo) + 1e-9);
        assert.ok(heaterPowerW(q, n, l, u, bf, lo) <= q.maxW + 1e-9);
      },
    ),
    { numRuns: 300 },
  );
});

void test('QC-1 booster: 450 W compute + 200 W resistive; the booster is cut at the cap', () => {
  const q = createHeaterModel(QC1_HEATER);
  assert.equal(q.maxComputeW, 450);
  assert.equal(heaterPowerW(q, 3, top, 1, 1, 20), 650);
  assert.equal(heaterPowerW(q, 0, 0, 0, 1, 20), 200);
  assert.equal(heaterPowerW(q, 0, 0, 0, 0.5, 20), 100);
  assert.equal(heaterPowerW(q, 0, 0, 0, 1, q.capC), 0);
  const noDerate = createHeaterModel({ ...QC1_HEATER, boosterDerates: false });
  assert.equal(heaterPowerW(noDerate, 0, 0, 0, 1, noDerate.capC), 200);
  // The planner uses the booster only for what all boards at full power cannot give.
  const p = planHeat(q, 550);
  assert.equal(p.activeBoards, 3);
  assert.ok(Math.abs(p.boosterFraction - 0.5) < 1e-12);
  assert.ok(Math.abs(p.powerW - 550) < 1e-9);
  assert.equal(planHeat(q, 550, { allowBooster: false }).powerW, 450);
  assert.equal(planHeat(q, 300).boosterFraction, 0);
});

void test('readable API agrees with the fast path and reports per-board allowed power', () => {
  const mid = h.derateStartC + 2.5;
  const r = heaterPower(h, { boards: [{ state: 'active', level: top, utilisation: 1 }, { state: 'active', level: 0 }, { state: 'idle' }] }, mid);
  const cap = 30 + 135 * derateFactor(h, mid);
  assert.ok(Math.abs(r.boardW[0] - cap) < 1e-9);
  assert.ok(Math.abs(r.boardW[1] - h.board.maxWByLevel[0]) < 1e-9);
  assert.equal(r.boardW[2], 30);
  assert.ok(Math.abs(r.totalW - (cap + h.board.maxWByLevel[0] + 30)) < 1e-9);
  for (const t of [20, 57, 61, 64.9, 70]) {
    const cmd = { boards: [0, 1, 2].map(() => ({ state: 'active' as const, level: 3, utilisation: 0.8 })) };
    assert.ok(Math.abs(heaterPower(h, cmd, t).totalW - heaterPowerW(h, 3, 3, 0.8, 0, t)) < 1e-9);
    assert.ok(Math.abs(heaterPower(h, cmd, t).throughput - heaterThroughput(h, 3, 3, 0.8, t)) < 1e-9);
  }
  assert.throws(() => heaterPower(h, { boards: [{ state: 'off' }, { state: 'off' }, { state: 'off' }, { state: 'off' }] }, 20), InvalidParameterError);
});

void test('planner: duty mode delivers the request exactly within range, with the fewest boards', () => {
  fc.assert(
    fc.property(fc.double({ min: 30, max: 495, noNaN: true }), fc.double({ min: 0, max: 58, noNaN: true }), (req, body) => {
      const p = planHeat(h, req, { bodyTempC: body });
      const max = heaterPowerW(h, 3, top, 1, 0, body);
      if (req <= max) assert.ok(Math.abs(p.powerW - req) < 1e-6, `${req} W at ${body} °C gave ${p.powerW}`);
      else assert.ok(Math.abs(p.powerW - max) < 1e-6);
      assert.equal(p.powerW, heaterPowerW(h, p.activeBoards, p.level, p.utilisation, p.boosterFraction, body));
      assert.ok(p.activeBoards === Math.min(3, Math.max(1, Math.ceil(req / (max / 3) - 1e-12))));
    }),
    { numRuns: 300 },
  );
  assert.equal(planHeat(h, 0).activeBoards, 0);
  assert.equal(planHeat(h, 10).activeBoards, 0);
  assert.equal(planHeat(h, 20).powerW, 30); // nearest achievable: one idle board
});

void test('planner: frequency is modulated before boards are started or stopped', () => {
  // Two boards running: 120 W is within 2 × [46.9, 165] W, so keep two boards at a lower level.
  const keep = planHeat(h, 120, { currentBoards: 2 });
  assert.equal(keep.activeBoards, 2);
  assert.ok(Math.abs(keep.powerW - 120) < 1e-9);
  assert.equal(planHeat(h, 120).activeBoards, 1); // from scratch: fewest boards
  // Rising: start a third board only above 2 × 165 W.
  assert.equal(planHeat(h, 330, { currentBoards: 2 }).activeBoards, 2);
  assert.equal(planHeat(h, 331, { currentBoards: 2 }).activeBoards, 3);
  // Falling below the lowest level of three boards (3 × 46.9 W): stop as few boards as needed.
  const lowFull = h.board.maxWByLevel[0];
  assert.equal(planHeat(h, 3 * lowFull, { currentBoards: 3 }).activeBoards, 3);
  assert.equal(planHeat(h, 3 * lowFull - 1, { currentBoards: 3 }).activeBoards, 2);
  assert.equal(planHeat(h, 40, { currentBoards: 3 }).activeBoards, 1);
  // Levels mode at full utilisation: power is quantised to the nearest level.
  const lv = planHeat(h, 250, { mode: 'levels' });
  assert.equal(lv.utilisation, 1);
  const options = [...h.board.maxWByLevel].map((w) => 2 * w);
  assert.equal(lv.powerW, options.reduce((b, w) => (Math.abs(w - 250) < Math.abs(b - 250) ? w : b)));
});

void test('planner: at the cap only idle power is available', () => {
  const p = planHeat(h, 400, { bodyTempC: h.capC });
  assert.equal(p.powerW, 90);
  assert.equal(p.throughput, 0);
});

void test('invalid heater parameters are rejected naming the field', () => {
  const bad = (p: Parameters<typeof createHeaterModel>[0], field: string): void =>
    assert.throws(() => createHeaterModel(p), (e: unknown) => e instanceof InvalidParameterError && e.field === field);
  bad({ boards: 0 }, 'heater.boards');
  bad({ boards: 2.5 }, 'heater.boards');
  bad({ boosterW: -5 }, 'heater.boosterW');
  bad({ derateStartC: 70, capC: 65 }, 'heater.derateStartC');
  bad({ capC: NaN }, 'heater.capC');
  bad({ board: { idleW: 100, maxW: 50 } }, 'heater.board.idleW');
  assert.throws(() => planHeat(h, NaN), (e: unknown) => e instanceof InvalidParameterError && e.field === 'requestW');
  assert.throws(() => planHeat(h, 100, { currentBoards: 7 }), (e: unknown) => e instanceof InvalidParameterError && e.field === 'currentBoards');
});

test('a heater held by CPU share: same power at every level, throughput the level share', () => {
  const h = createHeaterModel({ boards: 3, boosterW: 200 });
  const s = shareThrottledHeater(h);
  const b = h.board;
  for (let l = 0; l < b.levels; l++) {
    assert.equal(s.board.relFreqByLevel[l], levelShare(b, l));
    for (const u of [0.3, 1]) assert.equal(heaterPowerW(s, 2, l, u, 0.5, 20), heaterPowerW(h, 2, l, u, 0.5, 20), `level ${l}`);
    assert.equal(heaterThroughput(s, 2, l, 1, 20), 2 * levelShare(b, l));
  }
  assert.equal(s.board.relFreqByLevel[b.levels - 1], 1, 'the top level runs at full speed either way');
  // Power grows faster than the clock: a low level computes less than its relative frequency says.
  assert.ok(s.board.relFreqByLevel[0] < 0.5 * b.relFreqByLevel[0], `${s.board.relFreqByLevel[0]} vs ${b.relFreqByLevel[0]}`);
  assert.equal(h.board.relFreqByLevel[0], b.relFreqByLevel[0], 'the original model is untouched');
});
