// Accounting: billing arithmetic (clock ratio, incremental charges that add up to the whole), carbon sources and
// their CSV parser, carbon facts of a hand-computed case, the French 2020 grid series, and the carbon-facts route.
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument -- response bodies are untyped JSON, checked by the assertions */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import Fastify from 'fastify';
import {
  billAttempt,
  chargeIncrement,
  DEFAULT_PRICES,
  NO_BILLING_YET,
  priceTable,
  shouldSuspend,
  toMicroEUR,
  type BillingCursor,
} from '../../src/coordinator/accounting/billing.ts';
import {
  CarbonRangeError,
  carbonFacts,
  constantCarbonSource,
  DEFAULT_GRID_G_PER_KWH,
  meanIntensity,
  parseCarbonCsv,
  REFERENCE_DATACENTERS,
  referenceDatacenter,
  seriesCarbonSource,
  type AttemptEnergy,
  type ReferenceDatacenter,
} from '../../src/coordinator/accounting/carbon.ts';
import { carbonRoutes } from '../../src/coordinator/api/carbon.ts';
import { HttpError } from '../../src/coordinator/api/http-error.ts';
import { validatorCompiler } from '../../src/coordinator/api/validation.ts';
import { createAccount } from '../../src/coordinator/auth/tokens.ts';
import { openStore } from '../../src/coordinator/store/index.ts';
import type { Store } from '../../src/coordinator/store/types.ts';
import { CarbonFactsSchema } from '../../src/protocol/carbon.ts';
import { DEFAULT_CARBON_G_PER_KWH } from '../../src/protocol/platform.ts';
import { DEFAULT_OVERFLOW } from '../../src/coordinator/fleet/loop.ts';
import { InvalidParameterError, ParseError } from '../../src/physics/errors.ts';
import { sharedFile, skipUnlessShared } from '../helpers/shared-data.ts';
import { harness, taskBody, type Harness } from './api-helpers.ts';

const close = (a: number, b: number, tol = 1e-9): void => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} ≠ ${b}`);
const H = 3_600_000;

// ---------------------------------------------------------------------------------------------------------
// Billing

test('billing: wall time × cores × clock ratio × price; half clock ratio bills half', () => {
  close(billAttempt({ coreCount: 4, wallTimeSec: 3600, clockRatio: 1, schedulingType: 'flex' }), 4 * 0.02);
  close(billAttempt({ coreCount: 4, wallTimeSec: 3600, clockRatio: 0.5, schedulingType: 'flex' }), 2 * 0.02);
  close(billAttempt({ coreCount: 2, wallTimeSec: 1800, schedulingType: 'onDemand' }), 1 * DEFAULT_PRICES.onDemand); // ratio absent: 1
  close(billAttempt({ wallTimeSec: 7200, clockRatio: null, schedulingType: 'reserved' }), 2 * DEFAULT_PRICES.reserved); // 1 core, ratio null: 1
  const prices = priceTable({ flex: 0.1 });
  assert.equal(prices.flex, 0.1);
  assert.equal(prices.onDemand, DEFAULT_PRICES.onDemand);
  close(billAttempt({ coreCount: 1, wallTimeSec: 3600, clockRatio: 0.25, schedulingType: 'flex' }, prices), 0.025);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 64 }), fc.double({ min: 0, max: 1e6, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (cores, wall, r) => {
      const full = billAttempt({ coreCount: cores, wallTimeSec: wall, clockRatio: 1, schedulingType: 'flex' });
      close(billAttempt({ coreCount: cores, wallTimeSec: wall, clockRatio: r, schedulingType: 'flex' }), full * r);
    }),
  );
});

test('billing: bad inputs name their field', () => {
  assert.throws(() => billAttempt({ wallTimeSec: -1, schedulingType: 'flex' }), (e: unknown) => e instanceof InvalidParameterError && e.field === 'wallTimeSec');
  assert.throws(() => billAttempt({ wallTimeSec: 1, clockRatio: 1.5, schedulingType: 'flex' }), (e: unknown) => e instanceof InvalidParameterError && e.field === 'clockRatio');
  assert.throws(() => priceTable({ flex: -0.01 }), (e: unknown) => e instanceof InvalidParameterError && e.field === 'prices.flex');
  assert.throws(() => priceTable({ spot: 0.01 }), (e: unknown) => e instanceof InvalidParameterError && e.field === 'prices.spot');
});

test('billing: incremental charges add up to the whole bill, never twice', () => {
  // By hand: 4 cores flex, 30 min at full clock then 30 min at half clock = 0.02 × 4 × (0.5 + 0.25) = 0.06 €.
  let c: BillingCursor = NO_BILLING_YET;
  let total = 0;
  for (const [wall, ratio] of [[900, 1], [1800, 1], [1800, 1], [2700, 0.5], [3600, 0.5]] as const) {
    const r = chargeIncrement(c, { coreCount: 4, wallTimeSec: wall, clockRatio: ratio, schedulingType: 'flex' });
    assert.ok(r.deltaEUR >= 0);
    total += toMicroEUR(r.deltaEUR);
    c = r.cursor;
  }
  assert.equal(total, 60_000); // µ€
  assert.equal(c.chargedMicroEUR, 60_000);
  // A period without new wall time charges nothing; wall time going back is refused.
  assert.equal(chargeIncrement(c, { coreCount: 4, wallTimeSec: 3600, clockRatio: 1, schedulingType: 'flex' }).deltaEUR, 0);
  assert.throws(() => chargeIncrement(c, { coreCount: 4, wallTimeSec: 10, schedulingType: 'flex' }), InvalidParameterError);

  // Any split of a constant-ratio run: the charges sum to the rounded whole bill (to the micro-euro).
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: 0, max: 5000, noNaN: true }), { minLength: 1, maxLength: 40 }),
      fc.integer({ min: 1, max: 32 }),
      fc.double({ min: 0.05, max: 1, noNaN: true }),
      fc.constantFrom('flex' as const, 'onDemand' as const, 'reserved' as const),
      (steps, cores, ratio, schedulingType) => {
        let cur = NO_BILLING_YET;
        let wall = 0;
        let sumMicro = 0;
        for (const s of steps) {
          wall += s;
          const r = chargeIncrement(cur, { coreCount: cores, wallTimeSec: wall, clockRatio: ratio, schedulingType });
          assert.ok(r.deltaEUR >= 0);
          // Whole micro-euros (up to the float representation of a decimal euro amount).
          assert.ok(Math.abs(r.deltaEUR * 1e6 - Math.round(r.deltaEUR * 1e6)) < 1e-6, `${r.deltaEUR} € is not whole micro-euros`);
          sumMicro += Math.round(r.deltaEUR * 1e6);
          cur = r.cursor;
        }
        const whole = toMicroEUR(billAttempt({ coreCount: cores, wallTimeSec: wall, clockRatio: ratio, schedulingType }));
        assert.ok(Math.abs(sumMicro - whole) <= 1, `${sumMicro} µ€ charged vs ${whole} µ€ whole`);
        assert.equal(sumMicro, cur.chargedMicroEUR);
      },
    ),
  );
});

test('billing: flex work stops when credits are spent', () => {
  assert.equal(shouldSuspend(0.01), false);
  assert.equal(shouldSuspend(0), true);
  assert.equal(shouldSuspend(-3), true);
  assert.equal(shouldSuspend(Number.NaN), true);
});

// ---------------------------------------------------------------------------------------------------------
// Carbon sources

const SMALL_CSV = ['Time,Carbon Intensity', '2025-01-01 00:00:00,40', '2025-01-01 01:00:00,100', '2025-01-01 02:00:00,60', ''].join('\n');
const T0 = Date.UTC(2025, 0, 1);

function parseError(text: string, line: number, what: RegExp): void {
  assert.throws(
    () => parseCarbonCsv(text, 'grid.csv'),
    (e: unknown) => e instanceof ParseError && e.line === line && e.source === 'grid.csv' && what.test(e.message) && e.message.startsWith(`grid.csv:${line}:`),
  );
}

test('carbon csv: malformed rows are errors naming their line', () => {
  parseError('Time,CI\n2025-01-01 00:00:00,40\n2025-01-01 00:30,abc\n', 3, /bad carbon intensity 'abc'/);
  parseError('Time,CI\n2025-01-01 00:00:00,40\n\n2025-13-01 00:30:00,41\n', 4, /bad time/);
  parseError('Time,CI\n2025-01-01 00:00:00,40\n2025-02-30 00:30:00,41\n', 3, /bad time/);
  parseError('Time,CI\n2025-01-01 00:00:00,40\n2025-01-01 00:30:00\n', 3, /expected 2 cells/);
  parseError('Time,CI\n2025-01-01 00:00:00,40\n2025-01-01 00:30:00,1,2\n', 3, /expected 2 cells/);
  parseError('Time,CI\n2025-01-01 00:00:00,40\n2025-01-01 00:30:00,-1\n', 3, /bad carbon intensity '-1'/);
  parseError('Time,CI\n2025-01-01 01:00:00,40\n2025-01-01 00:30:00,41\n', 3, /not after the previous/);
  parseError('Time,CI\n2025-01-01 01:00:00,40\n2025-01-01 01:00:00,41\n', 3, /not after the previous/);
  parseError('Time,CI\n\n', 3, /no data rows/);
  // Accepted: no header, `;`, CRLF, explicit zones.
  const s = parseCarbonCsv('2025-01-01T00:00:00Z;40\r\n2025-01-01 02:00:00+01:00;50\r\n');
  assert.deepEqual([...s.timesMs], [T0, T0 + H]);
  assert.deepEqual([...s.gPerKWh], [40, 50]);
});

test('carbon csv: any well-formed series parses back to its values (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 1, max: 48 }), fc.double({ min: 0, max: 2000, noNaN: true })), { minLength: 1, maxLength: 60 }),
      fc.boolean(),
      (rows, header) => {
        let t = T0;
        const times: number[] = [];
        const lines = header ? ['Time,Carbon Intensity'] : [];
        for (const [halfHours, v] of rows) {
          t += halfHours * 1_800_000;
          times.push(t);
          lines.push(`${new Date(t).toISOString().slice(0, 19).replace('T', ' ')},${v}`);
        }
        const s = parseCarbonCsv(lines.join('\n'));
        assert.deepEqual([...s.timesMs], times);
        assert.deepEqual([...s.gPerKWh], rows.map(([, v]) => v));
      },
    ),
  );
});

test('carbon sources: constant, step series, and what happens outside the series', () => {
  const k = constantCarbonSource();
  assert.equal(k.intensityAt(0), DEFAULT_GRID_G_PER_KWH);
  // One default grid intensity everywhere: carbon facts, a site's statements (the protocol's copy), the overflow pool.
  assert.equal(DEFAULT_CARBON_G_PER_KWH, DEFAULT_GRID_G_PER_KWH);
  assert.equal(DEFAULT_OVERFLOW.carbonGPerKWh, DEFAULT_GRID_G_PER_KWH);
  assert.equal(meanIntensity(k, 0, 1e12), DEFAULT_GRID_G_PER_KWH);
  const series = parseCarbonCsv(SMALL_CSV);
  const src = seriesCarbonSource(series);
  assert.equal(src.intensityAt(T0), 40);
  assert.equal(src.intensityAt(T0 + H - 1), 40);
  assert.equal(src.intensityAt(T0 + H), 100);
  assert.equal(src.intensityAt(T0 + 2.5 * H), 60); // the last value holds for one step
  close(meanIntensity(src, T0 + 0.5 * H, T0 + 1.5 * H), 70);
  close(meanIntensity(src, T0, T0 + 3 * H), (40 + 100 + 60) / 3);
  assert.equal(meanIntensity(src, T0 + H, T0 + H), 100); // an instant
  // nearest (default)
  assert.equal(src.intensityAt(T0 - 10 * H), 40);
  assert.equal(src.intensityAt(T0 + 100 * H), 60);
  close(meanIntensity(src, T0 - H, T0 + H), 40);
  close(meanIntensity(src, T0 + 2 * H, T0 + 10 * H), 60);
  // error
  const strict = seriesCarbonSource(series, { outside: 'error' });
  assert.equal(strict.intensityAt(T0 + 2.9 * H), 60);
  assert.throws(() => strict.intensityAt(T0 + 3 * H), CarbonRangeError);
  assert.throws(() => meanIntensity(strict, T0 - 1, T0 + H), CarbonRangeError);
  // wrap-year: the same hour of another year
  const wrap = seriesCarbonSource(series, { outside: 'wrap-year' });
  assert.equal(wrap.intensityAt(Date.UTC(2031, 0, 1, 1, 30)), 100);
  close(meanIntensity(wrap, Date.UTC(2030, 0, 1, 0, 30), Date.UTC(2030, 0, 1, 1, 30)), 70);
  assert.equal(wrap.intensityAt(Date.UTC(2030, 5, 1)), 60); // no covered year holds June: nearest
  // A source without meanIntensity is sampled.
  close(meanIntensity({ intensityAt: (t) => (t < T0 + H ? 10 : 30) }, T0, T0 + 2 * H), 20);
});

test('reference datacenters: named presets with a PUE ≥ 1', () => {
  for (const [name, dc] of Object.entries(REFERENCE_DATACENTERS)) {
    assert.equal(dc.name, name);
    assert.ok(dc.pue >= 1);
    assert.ok(dc.description.length > 20);
  }
  assert.equal(referenceDatacenter('french-average')?.pue, 1.58);
  assert.equal(referenceDatacenter('toString'), undefined);
});

// ---------------------------------------------------------------------------------------------------------
// Carbon facts

test('carbon facts: a small case computed by hand', () => {
  const src = seriesCarbonSource(parseCarbonCsv(SMALL_CSV));
  const attempts: AttemptEnergy[] = [
    // room, 1 kWh at 40 g/kWh: 40 g, reference 63.2 g, heat 40 g
    { destination: 'room', energyWh: 1000, startMs: T0, endMs: T0 + H },
    // tank, 0.5 kWh over half an hour at 40 and half at 100 (mean 70): 35 g, reference 55.3 g, heat 35 g
    { destination: 'tank', energyWh: 500, startMs: T0 + 0.5 * H, endMs: T0 + 1.5 * H },
    // overflow at PUE 1.58, 0.2 kWh at 60: 18.96 g, reference 18.96 g, heat 0
    { destination: 'vented', pue: 1.58, energyWh: 200, startMs: T0 + 2 * H, endMs: T0 + 3 * H },
    // a room that wanted half of it, 0.1 kWh at 100 (an instant): 10 g, reference 15.8 g, heat 5 g
    { destination: 'room', reusedFraction: 0.5, energyWh: 100, startMs: T0 + H, endMs: T0 + H },
    // nothing drawn: no effect
    { destination: 'room', energyWh: 0, startMs: T0, endMs: T0 },
  ];
  const f = carbonFacts(attempts, src, REFERENCE_DATACENTERS['french-average']);
  close(f.itEnergyWh, 1800);
  close(f.consumedEnergyWh, 1916);
  close(f.reusedHeatWh, 1550);
  close(f.footprintGCO2e, 103.96);
  close(f.referenceFootprintGCO2e, 153.26);
  close(f.heatSavedGCO2e, 80);
  close(f.computeSavedGCO2e, 49.3);
  close(f.totalSavedGCO2e, 129.3);
  close(f.savedPercent, (100 * 129.3) / 233.26);
  close(f.pue, 1916 / 1800);
  close(f.erf, 1550 / 1916);
  close(f.ere, 366 / 1800);
  assert.equal(f.wueLPerKWh, 0);
  assert.equal(f.referenceDatacenter, 'french-average');

  // A reference on its own grid: IT × PUE × its constant intensity.
  const world = carbonFacts(attempts, src, REFERENCE_DATACENTERS['world-average']);
  close(world.referenceFootprintGCO2e, (1800 * 1.58 * 475) / 1000);
  // Nothing drawn: all zero, PUE 1.
  const none = carbonFacts([], src, REFERENCE_DATACENTERS.hyperscale);
  assert.deepEqual([none.itEnergyWh, none.footprintGCO2e, none.savedPercent, none.pue, none.erf, none.ere], [0, 0, 0, 1, 0, 1]);
});

test('carbon facts: bad attempts name their field', () => {
  const src = constantCarbonSource(50);
  const ref: ReferenceDatacenter = REFERENCE_DATACENTERS['french-average'];
  const bad = (a: Partial<AttemptEnergy>, field: string): void =>
    assert.throws(
      () => carbonFacts([{ destination: 'room', energyWh: 1, startMs: 0, endMs: 1, ...a }], src, ref),
      (e: unknown) => e instanceof InvalidParameterError && e.field === `attempts[0].${field}`,
    );
  bad({ energyWh: -1 }, 'energyWh');
  bad({ startMs: 10, endMs: 5 }, 'endMs');
  bad({ reusedFraction: 1.2 }, 'reusedFraction');
  bad({ destination: 'vented', reusedFraction: 0.3 }, 'reusedFraction');
  bad({ pue: 0.9 }, 'pue');
});

test('carbon facts: savings add up and in-room compute never beats its own footprint (property)', () => {
  const src = seriesCarbonSource(parseCarbonCsv(SMALL_CSV));
  const attempt = fc.record({
    destination: fc.constantFrom('room' as const, 'tank' as const, 'vented' as const),
    energyWh: fc.double({ min: 0, max: 1e5, noNaN: true }),
    startMs: fc.integer({ min: T0 - 5 * H, max: T0 + 5 * H }),
    durMs: fc.integer({ min: 0, max: 10 * H }),
    share: fc.double({ min: 0, max: 1, noNaN: true }),
  });
  fc.assert(
    fc.property(fc.array(attempt, { maxLength: 20 }), fc.constantFrom(...Object.keys(REFERENCE_DATACENTERS)), (rows, name) => {
      const attempts: AttemptEnergy[] = rows.map((r) => ({
        destination: r.destination,
        reusedFraction: r.destination === 'vented' ? 0 : r.share,
        energyWh: r.energyWh,
        startMs: r.startMs,
        endMs: r.startMs + r.durMs,
      }));
      const f = carbonFacts(attempts, src, REFERENCE_DATACENTERS[name]);
      close(f.totalSavedGCO2e, f.computeSavedGCO2e + f.heatSavedGCO2e, 1e-9);
      close(f.computeSavedGCO2e, f.referenceFootprintGCO2e - f.footprintGCO2e, 1e-9);
      assert.ok(f.erf >= 0 && f.erf <= 1 + 1e-12);
      assert.ok(f.pue === 1 && f.reusedHeatWh <= f.itEnergyWh * (1 + 1e-12));
      assert.ok(f.savedPercent <= 100 + 1e-9);
    }),
  );
});

// ---------------------------------------------------------------------------------------------------------
// The French 2020 grid series (test data in ../shared/data)

test('grid data: the French 2020 half-hourly series loads and gives plausible French values', { skip: skipUnlessShared('grid', 'fr_carbon_intensity_2020.csv') }, () => {
  const file = sharedFile('grid', 'fr_carbon_intensity_2020.csv') as string;
  const series = parseCarbonCsv(readFileSync(file, 'utf8'), 'fr_carbon_intensity_2020.csv');
  assert.ok(series.timesMs.length > 17_000, `${series.timesMs.length} rows`);
  for (let i = 0; i < series.gPerKWh.length; i++) {
    const v = series.gPerKWh[i];
    assert.ok(v >= 10 && v <= 150, `row ${i}: ${v} g/kWh is not a French value`);
    if (i > 0) assert.equal(series.timesMs[i] - series.timesMs[i - 1], 1_800_000, `row ${i}: not half-hourly`);
  }
  const src = seriesCarbonSource(series, { outside: 'wrap-year' });
  // The default constant is the 2020 calendar-year mean.
  close(meanIntensity(src, Date.UTC(2020, 0, 1), Date.UTC(2021, 0, 1)), DEFAULT_GRID_G_PER_KWH, 0.001);
  // Winter evenings are dirtier than summer middays (gas and imports at the winter peak; solar and nuclear in summer).
  const winter = meanIntensity(src, Date.UTC(2020, 0, 6), Date.UTC(2020, 0, 31));
  const summer = meanIntensity(src, Date.UTC(2020, 6, 6), Date.UTC(2020, 6, 31));
  assert.ok(winter > summer, `January ${winter} vs July ${summer}`);
  // A 2025 instant reads the same instant of 2020.
  assert.equal(src.intensityAt(Date.UTC(2025, 2, 10, 12)), src.intensityAt(Date.UTC(2020, 2, 10, 12)));
  assert.equal(src.intensityAt(Date.UTC(2025, 11, 25, 18)), src.intensityAt(Date.UTC(2020, 11, 25, 18))); // 2020 before 2019
  // A mean over a wrapped span equals the mean over the same dates of 2020 (segments cut at each midnight).
  close(meanIntensity(src, Date.UTC(2026, 1, 1, 7), Date.UTC(2026, 1, 8, 7)), meanIntensity(src, Date.UTC(2020, 1, 1, 7), Date.UTC(2020, 1, 8, 7)));
});

// ---------------------------------------------------------------------------------------------------------
// The carbon-facts route

const HEATER = 'heater-accounting-1';
const BOILER = 'boiler-accounting-1';

async function taskWithAttempts(h: Harness): Promise<string> {
  const r = await h.req(h.a, { method: 'POST', url: '/tasks', payload: taskBody({ instanceCount: 2 }) });
  assert.equal(r.statusCode, 201, r.body);
  const uuid = r.json().uuid as string;
  await h.store.upsertRegistry({ id: 'site-acc', kind: 'site', name: 'site', spec: {} });
  await h.store.upsertRegistry({ id: 'room-acc', kind: 'room', siteId: 'site-acc', name: 'room', spec: {} });
  await h.store.upsertRegistry({ id: HEATER, kind: 'heater', siteId: 'site-acc', parentId: 'room-acc', name: 'heater', spec: {} });
  await h.store.upsertRegistry({ id: BOILER, kind: 'boiler', siteId: 'site-acc', name: 'boiler', spec: {} });
  const t = h.now.ms - 2 * H;
  // Instance 0: 1 kWh on a heater (room), finished.
  await h.store.applyInstanceEvent({ taskUuid: uuid, instanceId: 0, attempt: 1, sequence: 0, set: { state: 'running', heaterId: HEATER, startedAt: t }, add: { energyWh: 400 } });
  await h.store.applyInstanceEvent({ taskUuid: uuid, instanceId: 0, attempt: 1, sequence: 1, set: { state: 'success', endedAt: t + H }, add: { energyWh: 600 } });
  // Instance 1: 0.2 kWh in the overflow datacenter, then 0.5 kWh on a boiler (tank), still running.
  await h.store.applyInstanceEvent({ taskUuid: uuid, instanceId: 1, attempt: 1, sequence: 0, set: { state: 'overflow', startedAt: t, endedAt: t + H }, add: { energyWh: 200 } });
  await h.store.applyInstanceEvent({ taskUuid: uuid, instanceId: 1, attempt: 2, sequence: 0, set: { state: 'running', heaterId: BOILER, startedAt: t + H }, add: { energyWh: 500 } });
  return uuid;
}

test('route: carbon facts of a task from the store (constant grid, registry destinations), both paths', async () => {
  const h = await harness();
  try {
    const uuid = await taskWithAttempts(h);
    const g = DEFAULT_GRID_G_PER_KWH;
    for (const url of [`/carbon/v1/tasks/${uuid}/carbon-facts`, `/v1/carbon/v1/tasks/${uuid}/carbon-facts`]) {
      const r = await h.req(h.a, { method: 'GET', url });
      assert.equal(r.statusCode, 200, r.body);
      const f = r.json();
      assert.deepEqual(Object.keys(f).sort(), Object.keys(CarbonFactsSchema.properties).sort());
      assert.equal(f.equivalent_datacenter_name, 'french-average');
      close(f.total_energy_it_Wh, 1700);
      close(f.total_consumed_energy_Wh, 1000 + 200 * 1.58 + 500);
      close(f.total_reused_energy_Wh, 1500);
      close(f.qarnot_carbon_footprint, ((1000 + 200 * 1.58 + 500) * g) / 1000);
      close(f.equivalent_DC_carbon_footprint, (1700 * 1.58 * g) / 1000);
      close(f.saved_carbon_footprint_heat, (1500 * g) / 1000);
      close(f.saved_carbon_footprint_compute, f.equivalent_DC_carbon_footprint - f.qarnot_carbon_footprint);
      close(f.saved_carbon_footprint_compute_heat, f.saved_carbon_footprint_compute + f.saved_carbon_footprint_heat);
      close(f.PUE, (1000 + 316 + 500) / 1700);
      close(f.ERF, 1500 / 1816);
      assert.equal(f.WUE, 0);
    }
    const world = await h.req(h.a, { method: 'GET', url: `/carbon/v1/tasks/${uuid}/carbon-facts?comparisonDatacenter=world-average` });
    assert.equal(world.statusCode, 200, world.body);
    assert.equal(world.json().equivalent_datacenter_name, 'world-average');
    close(world.json().equivalent_DC_carbon_footprint, (1700 * 1.58 * 475) / 1000);
  } finally {
    await h.close();
  }
});

test('route: another account\'s task is 404, an unknown datacenter 400 naming comparisonDatacenter, no token 401', async () => {
  const h = await harness();
  try {
    const uuid = await taskWithAttempts(h);
    const other = await h.req(h.b, { method: 'GET', url: `/carbon/v1/tasks/${uuid}/carbon-facts` });
    assert.equal(other.statusCode, 404, other.body);
    assert.equal(other.json().code, 'NOT_FOUND');
    const missing = await h.req(h.a, { method: 'GET', url: `/carbon/v1/tasks/00000000-0000-4000-8000-000000000000/carbon-facts` });
    assert.equal(missing.statusCode, 404);
    const bad = await h.req(h.a, { method: 'GET', url: `/carbon/v1/tasks/${uuid}/carbon-facts?comparisonDatacenter=moon-base` });
    assert.equal(bad.statusCode, 400, bad.body);
    assert.equal(bad.json().field, 'comparisonDatacenter');
    assert.match(bad.json().message, /moon-base/);
    const anon = await h.req(undefined, { method: 'GET', url: `/carbon/v1/tasks/${uuid}/carbon-facts` });
    assert.equal(anon.statusCode, 401);
    const notUuid = await h.req(h.a, { method: 'GET', url: `/carbon/v1/tasks/nope/carbon-facts` });
    assert.equal(notUuid.statusCode, 400);
  } finally {
    await h.close();
  }
});

test('route: the carbon source and destinations come from plugin options', async () => {
  const store: Store = await openStore('sqlite::memory:');
  const app = Fastify();
  try {
    const { account, tokenRecord } = await createAccount(store, { email: 'c@example.com', credits: 1 });
    const task = await store.createTask({ accountId: account.id, name: 't', profile: 'docker-batch', body: {}, instanceIds: [0] });
    await store.applyInstanceEvent({ taskUuid: task.uuid, instanceId: 0, attempt: 1, sequence: 0, set: { startedAt: T0 + 0.5 * H, endedAt: T0 + 1.5 * H }, add: { energyWh: 1000 } });
    app.setValidatorCompiler(validatorCompiler);
    app.decorateRequest('caller', null);
    app.addHook('onRequest', (req, _reply, done) => {
      req.caller = { account, token: tokenRecord };
      done();
    });
    const source = seriesCarbonSource(parseCarbonCsv(SMALL_CSV));
    await app.register(carbonRoutes, { store, clock: () => T0 + 5 * H, storageUrl: '', carbon: { source, destinationOf: () => ({ destination: 'room', reusedFraction: 0.5 }) } });
    const later = parseCarbonCsv('2025-06-01 00:00:00,50\n');
    await app.register(carbonRoutes, { store, clock: () => T0, storageUrl: '', prefix: '/strict', carbon: { source: seriesCarbonSource(later, { outside: 'error' }) } });
    app.setErrorHandler((e, _req, reply) => {
      void reply.code(e instanceof HttpError ? e.status : 500).send({ code: e instanceof HttpError ? e.code : 'INTERNAL' });
    });
    const r = await app.inject({ method: 'GET', url: `/carbon/v1/tasks/${task.uuid}/carbon-facts?comparisonDatacenter=hyperscale` });
    assert.equal(r.statusCode, 200, r.body);
    const f = r.json();
    close(f.qarnot_carbon_footprint, 70); // 1 kWh at a mean of 70 g/kWh
    close(f.equivalent_DC_carbon_footprint, 77); // × PUE 1.1
    close(f.saved_carbon_footprint_heat, 35); // half of it reused
    close(f.total_reused_energy_Wh, 500);
    // A source that refuses instants it has no data for: 503, not a bare 500.
    const strict = await app.inject({ method: 'GET', url: `/strict/carbon/v1/tasks/${task.uuid}/carbon-facts` });
    assert.equal(strict.statusCode, 503, strict.body);
    assert.equal(strict.json().code, 'UNAVAILABLE');
  } finally {
    await app.close();
    await store.close();
  }
});
