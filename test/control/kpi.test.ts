// Tests of the scorecard KPIs: comfort accumulators against hand-computed integrals, ERF/PUE/ERE on textbook
// numbers, and rejection of invalid inputs naming the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ComfortAccumulator,
  energyReuseEffectiveness,
  energyReuseFactor,
  energyReuseKpis,
  powerUsageEffectiveness,
  REFERENCE_DATACENTER,
  summarizeComfort,
  withOverflow,
} from '../../src/control/kpi.ts';
import { DEFAULT_COMFORT } from '../../src/control/types.ts';
import { InvalidParameterError } from '../../src/physics/errors.ts';

const near = (a: number, b: number, tol = 1e-9): void => assert.ok(Math.abs(a - b) <= tol * (1 + Math.abs(b)), `${a} ≠ ${b}`);
const field = (name: string) => (e: unknown) => e instanceof InvalidParameterError && e.field === name;

void test('constant signals: shortfall counts only while occupied, excess at any time, safety in minutes', () => {
  const c = new ComfortAccumulator(DEFAULT_COMFORT);
  // 2 h at 17.5 °C with setpoint 19, occupied: 1 K below 18.5 for 2 h = 2 K·h.
  c.accumulate(7200, 17.5, 19, true);
  // 3 h at 15 °C, setpoint 16, unoccupied: 0.5 K below the band but nobody is home: 0.
  c.accumulate(10800, 15, 16, false);
  // 1 h at 18 °C with setpoint 16, unoccupied: 1 K above 17 = 1 K·h (the scorecard counts excess at any time).
  c.accumulate(3600, 18, 16, false);
  // 30 min at 29 °C, setpoint 19: 9 K above 20 for 0.5 h = 4.5 K·h; 30 min above the 28 °C safety limit.
  c.accumulate(1800, 29, 19, true);
  near(c.lowKh, 2);
  near(c.highKh, 1 + 4.5);
  near(c.discomfortKh, 7.5);
  near(c.aboveSafetyMin, 30);
  near(c.occupiedS, 9000);
  near(c.totalS, 23400);
  c.reset();
  assert.equal(c.discomfortKh, 0);
});

void test('ramps: exact integrals of a linear air temperature, crossings included', () => {
  const c = new ComfortAccumulator(DEFAULT_COMFORT);
  // Air from 17.5 to 19.5 over 2 h, setpoint 19, occupied: below 18.5 for the first hour, a triangle 1 K × 1 h / 2.
  c.accumulateRamp(7200, 17.5, 19.5, 19, true);
  near(c.lowKh, 0.5);
  assert.equal(c.highKh, 0);
  // Air from 19 to 22 over 3 h: above 20 for the last 2 h, triangle 2 K × 2 h / 2 = 2 K·h.
  c.accumulateRamp(10800, 19, 22, 19, true);
  near(c.highKh, 2);
  // Air from 27 to 29 over 1 h: above 28 for 30 min.
  c.accumulateRamp(3600, 27, 29, 19, false);
  near(c.aboveSafetyMin, 30);
  // Fully below: trapezoid (18.5 − 16) and (18.5 − 17) over 1 h = 2 K·h.
  const d = new ComfortAccumulator(DEFAULT_COMFORT);
  d.accumulateRamp(3600, 16, 17, 19, true);
  near(d.lowKh, 2);
});

void test('a ramp split into many constant steps converges to the exact ramp integral (property)', () => {
  fc.assert(
    fc.property(
      fc.double({ min: 10, max: 30, noNaN: true }),
      fc.double({ min: 10, max: 30, noNaN: true }),
      fc.double({ min: 14, max: 22, noNaN: true }),
      fc.boolean(),
      (a0, a1, sp, occ) => {
        const exact = new ComfortAccumulator(DEFAULT_COMFORT);
        exact.accumulateRamp(3600, a0, a1, sp, occ);
        const fine = new ComfortAccumulator(DEFAULT_COMFORT);
        const n = 3600;
        for (let i = 0; i < n; i++) fine.accumulate(1, a0 + ((a1 - a0) * (i + 0.5)) / n, sp, occ);
        assert.ok(Math.abs(exact.discomfortKh - fine.discomfortKh) < 1e-4);
        assert.ok(Math.abs(exact.aboveSafetyMin - fine.aboveSafetyMin) < 0.02);
      },
    ),
    { numRuns: 50 },
  );
});

void test('summary over rooms: mean, worst and total minutes above safety', () => {
  const rooms = [0, 3, 1].map((k) => {
    const c = new ComfortAccumulator();
    c.accumulate(3600 * k, 17.5, 19, true);
    return c;
  });
  rooms[1].accumulate(120, 30, 19, false);
  const s = summarizeComfort(rooms);
  // Room 1: 3 h × 1 K below, plus 2 min 10 K above 20 °C = 1/3 K·h.
  near(s.meanKh, (0 + 3 + 1 / 3 + 1) / 3);
  near(s.worstKh, 3 + 1 / 3);
  assert.equal(s.worstRoom, 1);
  near(s.aboveSafetyMin, 2);
  assert.deepEqual(summarizeComfort([]), { rooms: 0, meanKh: 0, worstKh: 0, worstRoom: -1, aboveSafetyMin: 0 });
});

void test('ERF, PUE and ERE on textbook numbers (The Green Grid)', () => {
  // A facility drawing 1000 kWh, 625 kWh of it IT, reusing 200 kWh: PUE 1.6, ERF 0.2, ERE (1000 − 200)/625 = 1.28.
  near(powerUsageEffectiveness(1000, 625), 1.6);
  near(energyReuseFactor(200, 1000), 0.2);
  near(energyReuseEffectiveness(0.2, 1.6), 1.28);
  const k = energyReuseKpis({ totalWh: 1000, itWh: 625, reusedWh: 200 });
  near(k.ere, (1000 - 200) / 625);
  // The scorecard's reference datacenter: PUE 1.58, ERF 0 → ERE 1.58.
  near(energyReuseEffectiveness(REFERENCE_DATACENTER.erf, REFERENCE_DATACENTER.pue), 1.58);
  // Computing heaters: all electricity is IT and ends up as heat in rooms: PUE 1, ERF 1, ERE 0.
  assert.deepEqual(energyReuseKpis({ totalWh: 500, itWh: 500, reusedWh: 500 }), { erf: 1, pue: 1, ere: 0 });
  // Adding 100 kWh of overflow compute at PUE 1.58 to that fleet.
  const fleet = withOverflow({ totalWh: 500e3, itWh: 500e3, reusedWh: 500e3 }, 100e3);
  const f = energyReuseKpis(fleet);
  near(f.pue, 658 / 600);
  near(f.erf, 500 / 658);
  near(f.ere, (658 - 500) / 600);
  assert.equal(energyReuseFactor(0, 0), 0);
  assert.ok(Number.isNaN(powerUsageEffectiveness(0, 0)));
});

void test('invalid inputs are rejected naming the field', () => {
  assert.throws(() => new ComfortAccumulator({ ...DEFAULT_COMFORT, lowerBandK: -1 }), field('limits.lowerBandK'));
  assert.throws(() => new ComfortAccumulator({ ...DEFAULT_COMFORT, safetyMaxC: NaN }), field('limits.safetyMaxC'));
  assert.throws(() => energyReuseFactor(2, 1), field('reusedWh'));
  assert.throws(() => energyReuseFactor(-1, 1), field('reusedWh'));
  assert.throws(() => powerUsageEffectiveness(1, 2), field('totalWh'));
  assert.throws(() => energyReuseEffectiveness(1.5, 1.2), field('erf'));
  assert.throws(() => energyReuseEffectiveness(0.5, 0.9), field('pue'));
  assert.throws(() => withOverflow({ totalWh: 1, itWh: 1, reusedWh: 0 }, 1, 0.5), field('pue'));
});

void test('the too-warm bound can be measured against the comfort setpoint instead of a set-back', () => {
  // Out at work: set-back 16 °C, room still at 19 °C. Literal reading: 2 K above 16 + 1; comfort reading: nothing.
  const literal = new ComfortAccumulator(DEFAULT_COMFORT);
  literal.accumulate(3600, 19, 16, false);
  assert.ok(Math.abs(literal.highKh - 2) < 1e-12);
  const comfort = new ComfortAccumulator(DEFAULT_COMFORT);
  comfort.accumulate(3600, 19, 16, false, 19);
  comfort.accumulateRamp(3600, 19, 19, 16, false, 19);
  assert.equal(comfort.highKh, 0);
  comfort.accumulateRamp(3600, 20, 22, 16, false, 19); // above 20 °C from 20 to 22: ∫ = 1 K·h over the hour
  assert.ok(Math.abs(comfort.highKh - 1) < 1e-12);
});
