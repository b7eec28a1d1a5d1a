// Tests of the RT2012 conventional schedules and the room archetypes (parameters, validation).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rt2012Dwelling, rt2012Office, scheduleAt, validateSchedule, weeklyTables } from '../../src/physics/schedules.ts';
import { dwellingRoom, officeRoom, archetypeUaWK, MOZART_100M2, validateArchetype, radiatorForPower, DEFAULT_RADIATOR, DEFAULT_RADIATOR_POWER_W } from '../../src/physics/archetypes.ts';
import type { Era } from '../../src/physics/archetypes.ts';
import { InvalidParameterError } from '../../src/physics/errors.ts';

test('RT2012 dwelling: 19 °C occupied, 16 °C weekday daytime absence, 7 °C long absence', () => {
  const s = rt2012Dwelling(20, 2, { longAbsences: [[355, 362]] });
  assert.equal(scheduleAt(s, 0, 8, 10).setpointC, 19); // Monday 08:00
  assert.equal(scheduleAt(s, 0, 12, 10).setpointC, 16); // Monday noon: at work
  assert.equal(scheduleAt(s, 2, 15, 10).setpointC, 19); // Wednesday afternoon: at home
  assert.equal(scheduleAt(s, 5, 12, 10).setpointC, 19); // Saturday
  assert.equal(scheduleAt(s, 0, 8, 358).setpointC, 7); // Christmas week away
  assert.equal(scheduleAt(s, 0, 8, 358).state, 'long_absence');
});

test('RT2012 dwelling gains: 90 W per adult plus 5.7 W/m² appliances and 2 W/m² lighting in use', () => {
  const s = rt2012Dwelling(20, 2);
  const evening = scheduleAt(s, 1, 20, 50);
  assert.ok(Math.abs(evening.convectiveW + evening.radiativeW - (2 * 90 + 20 * (5.7 + 2))) < 1e-9);
  const night = scheduleAt(s, 1, 3, 50);
  assert.ok(Math.abs(night.convectiveW + night.radiativeW - (2 * 90 + 20 * 5.7)) < 1e-9);
  const away = scheduleAt(s, 1, 12, 50);
  assert.equal(away.occupants, 0);
});

test('office: occupied 08–18 on weekdays only; weekly tables agree with scheduleAt', () => {
  const s = rt2012Office(25);
  assert.equal(scheduleAt(s, 3, 9, 10).state, 'occupied');
  assert.equal(scheduleAt(s, 3, 19, 10).state, 'short_absence');
  assert.equal(scheduleAt(s, 6, 9, 10).state, 'short_absence');
  const t = weeklyTables(s);
  for (let h = 0; h < 168; h++) {
    const x = scheduleAt(s, Math.floor(h / 24), h % 24, 10);
    assert.equal(t.setpointC[h], x.setpointC);
    assert.ok(Math.abs(t.gainsW[h] - x.convectiveW - x.radiativeW) < 1e-9);
  }
});

test('invalid schedules are rejected naming the field', () => {
  const s = rt2012Dwelling(20);
  assert.throws(() => validateSchedule({ ...s, occupiedHours: s.occupiedHours.slice(1) }), (e: unknown) => e instanceof InvalidParameterError && e.field === 'occupiedHours');
  assert.throws(() => validateSchedule({ ...s, setpointsC: { ...s.setpointsC, occupied: Number.NaN } }), (e: unknown) => e instanceof InvalidParameterError && e.field === 'setpointsC.occupied');
  assert.throws(() => rt2012Dwelling(20, -1), (e: unknown) => e instanceof InvalidParameterError && e.field === 'occupants');
});

test('archetypes: a room scales the reference house per m², UA falls with the era', () => {
  const eras = Object.keys(MOZART_100M2) as Era[];
  const uas = eras.map((e) => archetypeUaWK(dwellingRoom(e, 100)));
  eras.forEach((e, i) => assert.ok(Math.abs(uas[i] - MOZART_100M2[e].uaWK) < 1e-9, e));
  for (let i = 1; i < uas.length; i++) assert.ok(uas[i] < uas[i - 1]);
  const r = dwellingRoom('rt2005', 20);
  assert.ok(Math.abs(r.exteriorCapacityJK + r.interiorCapacityJK - 53e6 * 0.2) < 1);
  assert.equal(officeRoom('rt2012').use, 'office');
});

test('invalid archetypes are rejected naming the field', () => {
  assert.throws(() => dwellingRoom('rt2012', 20, { interiorCapacityJK: -5 }), (e: unknown) => e instanceof InvalidParameterError && e.field === 'interiorCapacityJK');
  assert.throws(() => dwellingRoom('1900' as Era), (e: unknown) => e instanceof InvalidParameterError && e.field === 'era');
  assert.throws(() => validateArchetype({ ...dwellingRoom('rt2012'), windowG: Number.NaN }), (e: unknown) => e instanceof InvalidParameterError && e.field === 'windowG');
});

test('a radiator body scales with its heater power: same time constant, same temperature rise at full power', () => {
  const big = radiatorForPower(2 * DEFAULT_RADIATOR_POWER_W);
  assert.equal(big.capacityJK, 2 * DEFAULT_RADIATOR.capacityJK);
  assert.equal(big.conductanceWK, 2 * DEFAULT_RADIATOR.conductanceWK);
  assert.ok(Math.abs(big.capacityJK / big.conductanceWK - DEFAULT_RADIATOR.capacityJK / DEFAULT_RADIATOR.conductanceWK) < 1e-9);
  assert.throws(() => radiatorForPower(Number.NaN), (e: unknown) => e instanceof InvalidParameterError && e.field === 'maxPowerW');
});
