// Tests of the board power model: states, monotonicity in utilisation and frequency, throughput, validation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { boardPower, boardPowerW, boardThroughput, BoardState, createBoardModel, DEFAULT_BOARD } from '../../src/physics/board.ts';
import { InvalidParameterError } from '../../src/physics/errors.ts';

const m = createBoardModel();

void test('default board: off 0 W, idle 30 W, 165 W at full load on the top level; three boards ≈ 500 W', () => {
  assert.equal(boardPowerW(m, BoardState.off, 0, 1), 0);
  assert.equal(boardPowerW(m, BoardState.idle, 4, 1), 30);
  assert.equal(boardPowerW(m, BoardState.active, m.levels - 1, 1), 165);
  assert.equal(boardPowerW(m, BoardState.active, m.levels - 1, 0), 30);
  assert.ok(Math.abs(3 * m.maxW - 500) <= 10);
  assert.ok(DEFAULT_BOARD.idleW >= 20 && DEFAULT_BOARD.idleW <= 40);
});

void test('P = P_idle + (P_max(f) − P_idle)·u with dynamic power ∝ f³ and throughput ∝ f', () => {
  const top = m.freqLevelsGHz[m.levels - 1];
  for (let l = 0; l < m.levels; l++) {
    const rel = m.freqLevelsGHz[l] / top;
    const pmax = 30 + 135 * rel ** 3;
    assert.ok(Math.abs(boardPowerW(m, BoardState.active, l, 1) - pmax) < 1e-9);
    assert.ok(Math.abs(boardPowerW(m, BoardState.active, l, 0.4) - (30 + 0.4 * (pmax - 30))) < 1e-9);
    assert.ok(Math.abs(boardThroughput(m, BoardState.active, l, 0.5) - 0.5 * rel) < 1e-12);
  }
  assert.equal(boardThroughput(m, BoardState.idle, 4, 1), 0);
  assert.equal(boardThroughput(m, BoardState.off, 4, 1), 0);
});

void test('power is monotonic in utilisation and in frequency level; heat equals electrical power', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 4 }),
      fc.integer({ min: 0, max: 4 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (l1, l2, u1, u2) => {
        const [la, lb] = l1 <= l2 ? [l1, l2] : [l2, l1];
        const [ua, ub] = u1 <= u2 ? [u1, u2] : [u2, u1];
        assert.ok(boardPowerW(m, BoardState.active, la, ua) <= boardPowerW(m, BoardState.active, la, ub));
        assert.ok(boardPowerW(m, BoardState.active, la, ua) <= boardPowerW(m, BoardState.active, lb, ua));
        assert.ok(boardThroughput(m, BoardState.active, la, ua) <= boardThroughput(m, BoardState.active, lb, ub));
        const p = boardPower(m, { state: 'active', level: la, utilisation: ua });
        assert.equal(p.heatW, p.powerW);
        assert.ok(p.powerW >= m.idleW && p.powerW <= m.maxW);
      },
    ),
    { numRuns: 200 },
  );
});

void test('lower frequency computes more per watt (the reason to modulate frequency)', () => {
  const eff = (l: number): number => boardThroughput(m, BoardState.active, l, 1) / boardPowerW(m, BoardState.active, l, 1);
  for (let l = 1; l < m.levels; l++) assert.ok(eff(l - 1) > eff(l));
});

void test('the scalar fast path clamps utilisation and allocates nothing per call', () => {
  assert.equal(boardPowerW(m, BoardState.active, 4, 2), 165);
  assert.equal(boardPowerW(m, BoardState.active, 4, -1), 30);
  let s = 0;
  for (let i = 0; i < 100_000; i++) s += boardPowerW(m, BoardState.active, i % 5, (i % 101) / 100);
  assert.ok(Number.isFinite(s));
});

void test('invalid parameters are rejected naming the field', () => {
  const bad = (p: Parameters<typeof createBoardModel>[0], field: string): void =>
    assert.throws(() => createBoardModel(p), (e: unknown) => e instanceof InvalidParameterError && e.field === field);
  bad({ idleW: 200 }, 'board.idleW');
  bad({ idleW: NaN }, 'board.idleW');
  bad({ maxW: -1 }, 'board.maxW');
  bad({ freqLevelsGHz: [] }, 'board.freqLevelsGHz');
  bad({ freqLevelsGHz: [2, 2] }, 'board.freqLevelsGHz[1]');
  bad({ freqLevelsGHz: [0, 2] }, 'board.freqLevelsGHz[0]');
  bad({ offW: 50 }, 'board.offW');
  bad({ dynamicExponent: Infinity }, 'board.dynamicExponent');
  assert.throws(() => boardPower(m, { state: 'active', level: 5 }), (e: unknown) => e instanceof InvalidParameterError && e.field === 'board.level');
  assert.throws(() => boardPower(m, { state: 'active', utilisation: 1.5 }), (e: unknown) => e instanceof InvalidParameterError && e.field === 'board.utilisation');
});
