// The room twin's weather: a climate zone's synthetic year drives the outdoor temperature and the sun through the
// windows (hardware-in-the-loop rooms no longer sit in a constant 5 °C world without a sun).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RoomTwin, climateZoneFrom } from '../../src/agent/room-twin.ts';
import { dwellingRoom } from '../../src/physics/archetypes.ts';

const JAN_15 = Date.UTC(2026, 0, 15);
const JUL_15 = Date.UTC(2026, 6, 15);

/** Outdoor temperatures (°C) and sun (W) of a twin over `hours`, one step per hour, unheated. */
function day(twin: RoomTwin, hours = 24): { outC: number[]; sunW: number[]; airC: number } {
  const outC: number[] = [];
  const sunW: number[] = [];
  for (let h = 0; h < hours; h++) {
    outC.push(twin.outdoorC!);
    sunW.push(twin.solarGainW);
    twin.step(3600, 0, 5);
  }
  return { outC, sunW, airC: twin.airC };
}

test('a room twin with a climate follows the zone’s weather: days and nights, winter and summer', () => {
  const winter = day(new RoomTwin({ spec: 'dwelling-rt2012:20', climate: { zone: 'H1a', startMs: JAN_15 } }), 24 * 7);
  const summer = day(new RoomTwin({ spec: 'dwelling-rt2012:20', climate: { zone: 'H1a', startMs: JUL_15 } }), 24 * 7);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(mean(summer.outC) > mean(winter.outC) + 8, `July ${mean(summer.outC)} °C vs January ${mean(winter.outC)} °C`);
  assert.ok(Math.max(...winter.outC) - Math.min(...winter.outC) > 2, 'the outdoor temperature moves within a week');
  // The sun shines by day only, and some of it comes in through the windows over a week.
  assert.ok(winter.sunW.reduce((a, b) => a + b, 0) > 0, 'some sun over a January week');
  for (let d = 0; d < 7; d++) assert.equal(winter.sunW[d * 24 + 1], 0, `no sun at 01:00 UTC on day ${d}`);
});

test('with a climate the outdoorC argument is ignored; the same seed gives the same room, another seed another', () => {
  const mk = (seed: number): RoomTwin => new RoomTwin({ spec: 'dwelling-1974-1982', initialC: 18, climate: { zone: 'H2c', startMs: JAN_15, seed } });
  const a = mk(1);
  const b = mk(1);
  const c = mk(2);
  for (let i = 0; i < 48; i++) {
    a.step(1800, 300, -20);
    b.step(1800, 300, 20);
    c.step(1800, 300, -20);
  }
  assert.equal(a.airC, b.airC);
  assert.notEqual(a.airC, c.airC);
});

test('the sun through the windows warms a room: the same room behind opaque glass (g = 0) ends colder', () => {
  const startMs = Date.UTC(2026, 2, 20); // the equinox: a south façade gets sun every clear day
  const glazed = new RoomTwin({ spec: { kind: 'room', archetype: dwellingRoom('rt2012', 20) }, initialC: 18, climate: { zone: 'H3', startMs } });
  const blind = new RoomTwin({ spec: { kind: 'room', archetype: dwellingRoom('rt2012', 20, { windowG: 0 }) }, initialC: 18, climate: { zone: 'H3', startMs } });
  const g = day(glazed, 24 * 7);
  const b = day(blind, 24 * 7);
  assert.ok(g.sunW.reduce((x, y) => x + y, 0) > 1000, 'over a week of March sun, more than 1 kWh comes in');
  assert.deepEqual(b.sunW, b.sunW.map(() => 0));
  assert.ok(g.airC > b.airC, `glazed ${g.airC} °C vs blind ${b.airC} °C`);
});

test('a room twin without a climate sees the outdoorC it is given and no sun', () => {
  const twin = new RoomTwin({ spec: 'dwelling-1974-1982', initialC: 18 });
  assert.equal(twin.outdoorC, null);
  twin.step(3600, 0, -10);
  assert.equal(twin.solarGainW, 0);
  assert.ok(twin.airC < 18);
});

test('climate zones are named clearly when wrong', () => {
  assert.equal(climateZoneFrom('h2c'), 'H2c');
  assert.throws(() => climateZoneFrom('Z9'), /climate zone "Z9": expected one of H1a, .*H3/);
  assert.throws(() => new RoomTwin({ climate: { zone: 'Z9' as never, startMs: JAN_15 } }), /climate zone must be one of/);
});
