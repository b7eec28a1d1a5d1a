// The report: one self-contained HTML document with an SVG per chart, the scorecard with every metric and every
// policy (best value per row highlighted), and no external URL or script.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bestIndexes, formatNumber, metricValue, renderReport, SCORECARD_METRICS } from '../../src/sim/report.ts';
import type { PolicySeries, PolicySummary, SimSummary } from '../../src/sim/report.ts';

/** A summary whose every number grows with k (so the best of each row is known). */
function summaryOf(k: number): PolicySummary {
  return {
    comfort: { discomfortKhPerRoom: 1 + k, worstRoomKh: 5 + k, minutesAboveSafety: k },
    heat: { askedKWh: 1000, deliveredByComputeKWh: 500 + k, fillerKWh: 100 + k, boosterKWh: 50 + k, ventedKWh: 10 + k },
    hotWater: { deliveredKWh: 300, drawnKWh: 280, coldEvents: k },
    energy: { erf: 0.5 + k / 10, pue: 1.1 + k / 10, ere: 0.6 },
    compute: {
      coreHours: 1e4 + k,
      coreHoursByClass: { flex: 5000 + k, onDemand: 5000, reserved: 0 },
      deadlineMisses: k,
      deadlineMissShare: k / 100,
      killedInstances: k,
      pausedInstances: k,
      restarts: k,
      lostCoreHours: k,
      overflowShare: k / 10,
      meanWaitS: 60 + k,
      meanTurnaroundS: 3600 + k,
      meanBoundedSlowdown: 1.5 + k,
      gbMoved: k,
    },
    money: { revenueEUR: 400 + k, electricityEUR: 100 + k, heatValueEUR: 150 + k, marginEUR: 300 + k },
    carbon: { kgCO2e: 50 + k, referenceKgCO2e: 120 },
    energyBalanceResidual: 1e-5 * (k - 1),
  };
}

const POLICIES = ['qarnot-bands', 'first-fit', 'electric', 'hearth'];

function seriesOf(k: number): PolicySeries {
  const n = 200;
  const t = Array.from({ length: n }, (_, i) => i / 4);
  const wave = (a: number, b: number): number[] => t.map((h) => a + b * Math.sin((2 * Math.PI * h) / 24 + k));
  return {
    timeH: t,
    rooms: [{ name: 'flat <1>', airC: wave(19, 1), setpointC: wave(19, 0) }, { name: 'office', airC: wave(20, 2), setpointC: wave(19, 0) }],
    meanAirC: wave(19.5, 1),
    meanSetpointC: wave(19, 0),
    heatAskedW: wave(20000, 5000),
    heatComputeW: wave(15000, 5000),
    heatFillerW: wave(3000, 1000),
    heatBoosterW: wave(500, 500),
    tanks: [{ name: 'boiler', topC: wave(55, 3) }],
    queueLength: wave(100, 50),
    throughputCoreHPerH: wave(400, 100),
    outdoorC: wave(8, 4),
  };
}

const summary: SimSummary = {
  scenario: 'test <scenario> & co',
  seed: 7,
  startDate: '2025-10-15',
  days: 182,
  stepS: 60,
  description: 'see https://example.org for nothing',
  policies: Object.fromEntries(POLICIES.map((p, k) => [p, summaryOf(k)])),
};

test('renders one self-contained HTML document with an SVG per chart and no external resource', () => {
  const html = renderReport({ ...summary, description: undefined }, { policies: Object.fromEntries(POLICIES.map((p, k) => [p, seriesOf(k)])) });
  assert.match(html, /^<!DOCTYPE html>\n<html lang="en">/);
  assert.equal(html.match(/<html/g)?.length, 1);
  assert.equal(html.match(/<\/html>/g)?.length, 1);
  // per policy: temperatures, heat, tank, queue, throughput; plus the outdoor and the comparison charts
  assert.equal(html.match(/<svg/g)?.length, POLICIES.length * 5 + 2);
  assert.equal(html.match(/<\/svg>/g)?.length, POLICIES.length * 5 + 2);
  assert.doesNotMatch(html, /https?:|\/\/[a-z]|<script|<link|<img|<iframe|\bsrc=|url\(/i);
  assert.match(html, /Room temperatures vs setpoint/);
  assert.match(html, /Heat asked vs delivered/);
  assert.match(html, /Tank top temperature/);
  assert.match(html, /Queue length/);
  assert.match(html, /Throughput/);
  assert.match(html, /test &lt;scenario&gt; &amp; co/);
  assert.match(html, /flat &lt;1&gt;/);
});

test('the scorecard has a row for every metric with a cell for every policy, best values highlighted', () => {
  const html = renderReport(summary, { policies: {} });
  assert.equal(html.match(/<svg/g), null, 'no series, no charts');
  const table = html.slice(html.indexOf('<table'), html.indexOf('</table>'));
  for (const p of POLICIES) assert.match(table, new RegExp(`<th scope="col">${p}</th>`));
  for (const m of SCORECARD_METRICS) {
    if (m.optional) {
      assert.doesNotMatch(table, new RegExp(`data-metric="${m.key}"`), `${m.key} is left out when no policy fills it`);
      continue;
    }
    const row = new RegExp(`<tr data-metric="${m.key.replace(/\./g, '\\.')}">(.*?)</tr>`).exec(table);
    assert.ok(row, m.key);
    const cells = row[1].match(/<td(?: class="best")?>/g) ?? [];
    assert.equal(cells.length, POLICIES.length, `${m.key}: one cell per policy`);
    const best = [...row[1].matchAll(/<td( class="best")?>/g)].flatMap((c, i) => (c[1] ? [i] : []));
    const expected = m.better === 'none' ? [] : m.better === 'higher' ? [3] : m.better === 'zero' ? [m.key === 'energyBalanceResidual' ? 1 : 0] : [0];
    const allEqual = new Set(POLICIES.map((_, k) => metricValue(summaryOf(k), m.key))).size === 1;
    assert.deepEqual(best, allEqual && m.better !== 'none' ? [0, 1, 2, 3] : expected, m.key);
  }
  assert.match(html, /see https:\/\/example\.org/, 'description is text, escaped');
  const withOptional = renderReport({ ...summary, policies: { a: { ...summaryOf(0), energy: { erf: 0.5, pue: 1.1, ere: 0.55, totalKWh: 1234.5 } } } }, { policies: {} });
  assert.match(withOptional, /data-metric="energy.totalKWh"><th scope="row">[^<]*<\/th><td class="unit">kWh<\/td><td>1\u202f235<\/td>/);
});

test('number formatting and best-of-row helpers', () => {
  assert.equal(formatNumber(1234567.891, 2), '1\u202f234\u202f567.89');
  assert.equal(formatNumber(-0.0001, 2), '0.00');
  assert.equal(formatNumber(-12.5, 1), '−12.5');
  assert.equal(formatNumber(undefined, 0), '—');
  assert.equal(formatNumber(NaN, 0), 'n/a');
  assert.deepEqual(bestIndexes([3, 1, 2], 'lower'), [1]);
  assert.deepEqual(bestIndexes([3, 1, 3], 'higher'), [0, 2]);
  assert.deepEqual(bestIndexes([-0.1, 0.2, undefined], 'zero'), [0]);
  assert.deepEqual(bestIndexes([1, 2], 'none'), []);
  assert.deepEqual(bestIndexes([1, undefined], 'lower'), []);
});
