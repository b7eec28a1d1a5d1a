// Scenario files: the shipped scenarios parse and expand; defaults are filled; every kind of invalid field is
// rejected with its JSON path; random mutations never crash the parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { InvalidParameterError } from '../../src/physics/errors.ts';
import { createHeaterModel } from '../../src/physics/heater.ts';
import { createTankModel } from '../../src/physics/tank.ts';
import { parseScenario, expandScenario, scenarioCalendar, electricityPriceAt, heaterParamsOf, SCENARIO_SCHEMA, POLICY_NAMES } from '../../src/sim/scenario.ts';
import { repoRoot } from '../helpers/shared-data.ts';

const load = (name: string): unknown => JSON.parse(readFileSync(join(repoRoot, 'scenarios', name), 'utf8'));

/** A small valid scenario, as written by a user (defaults left out). */
const minimal = (): Record<string, unknown> => ({
  name: 'tiny',
  startDate: '2026-01-05',
  days: 2,
  sites: [
    {
      name: 'a',
      zone: 'H1a',
      buildings: [
        {
          name: 'b',
          count: 2,
          rooms: [
            { name: 'r', count: 3, archetype: { use: 'dwelling', era: 'rt2005' }, heater: { boards: 3, coresPerBoard: 8, memoryMBPerBoard: 8192 } },
            { name: 'o', archetype: { use: 'office', era: 'pre1974', floorAreaM2: 30 }, heater: { boards: 2, board: { maxW: 150 }, coresPerBoard: 4, memoryMBPerBoard: 4096, gpu: true }, controller: 'mpc' },
          ],
          boilers: [{ name: 't', tank: { volumeL: 300 }, boards: 4, coresPerBoard: 8, memoryMBPerBoard: 8192, dhw: { persons: 4 } }],
        },
      ],
    },
  ],
  workloads: [{ kind: 'bank' }, { kind: 'render', dataSite: 'a' }, { kind: 'science', tasksPerDay: undefined }],
});

test('the shipped scenarios parse, expand to ~60 rooms and a boiler, and cover their seasons', () => {
  const hub = parseScenario(load('gironde-social-hub.json'));
  const summer = parseScenario(load('gironde-summer.json'));
  for (const s of [hub, summer]) {
    const x = expandScenario(s);
    assert.equal(x.rooms.length, 60);
    assert.equal(x.boilers.length, 1);
    assert.deepEqual([...s.policies].sort(), [...POLICY_NAMES].sort());
    assert.equal(s.sites[0].zone, 'H2c');
    assert.deepEqual(new Set(s.workloads.map((w) => w.kind)), new Set(['bank', 'render', 'science']));
    assert.equal(new Set(x.rooms.map((r) => r.name)).size, x.rooms.length, 'room names are unique');
    const eras = new Set(x.roomKinds.map((k) => k.archetype.era));
    assert.ok(eras.size >= 4, 'a mix of eras');
    assert.ok(x.roomKinds.some((k) => k.archetype.use === 'office') && x.roomKinds.some((k) => k.archetype.use === 'dwelling'));
  }
  assert.equal(hub.startDate.slice(5), '10-15');
  assert.equal(hub.days, 182); // 15 Oct – 15 Apr
  assert.equal(summer.startDate.slice(5), '06-01');
  assert.equal(summer.days, 92); // 1 Jun – 31 Aug
});

test('defaults are filled and specs build valid physics models', () => {
  const s = parseScenario(minimal());
  assert.equal(s.stepS, 60);
  assert.equal(s.decisionPeriodS, 300);
  assert.equal(s.seed, 1);
  assert.equal(s.scale, 1);
  assert.equal(s.description, '');
  assert.deepEqual(s.policies, POLICY_NAMES);
  assert.equal(s.overflow.pue, 1.58);
  assert.deepEqual(s.carbon, { kind: 'constant', gPerKWh: 56.3 });
  assert.equal(s.referenceHeating.kind, 'electric');
  assert.equal(s.prices.heatValueEURPerKWh, null);
  assert.equal(s.prices.electricityEURPerKWhByHour.length, 24);
  const site = s.sites[0];
  assert.deepEqual(site.weather, { kind: 'synthetic', zone: 'H1a' });
  const [r, o] = site.buildings[0].rooms;
  assert.equal(r.archetype.floorAreaM2, 20);
  assert.equal(r.archetype.facadeAzimuthDeg, 180);
  assert.equal(r.schedule.kind, 'rt2012-dwelling');
  assert.equal(r.schedule.occupants, 2);
  assert.equal(r.controller, 'pi');
  assert.deepEqual(r.comfort, { lowerBandK: 0.5, upperBandK: 1, safetyMaxC: 28 });
  assert.equal(o.schedule.kind, 'rt2012-office');
  assert.equal(o.schedule.occupants, 3);
  assert.equal(o.heater.gpu, true);
  assert.equal(createHeaterModel(heaterParamsOf(o.heater)).board.maxW, 150);
  const boiler = site.buildings[0].boilers[0];
  assert.equal(boiler.dhw.litresPerPersonDay, 56);
  assert.equal(createTankModel(boiler.tank).volumeL, 300);
  assert.equal(s.workloads[1].kind === 'render' && s.workloads[1].dataSite, 0);
  const x = expandScenario({ ...s, scale: 3 });
  assert.equal(x.rooms.length, 3 * 2 * 4);
  assert.equal(x.boilers.length, 6);
  assert.equal(x.roomKinds.length, 2);
  assert.deepEqual(x.rooms.map((q) => q.index), x.rooms.map((_, i) => i));
  assert.equal(x.rooms[4].name, 'a/b#1/r#0');
});

test('calendar: day of week (0 = Monday) and day of year', () => {
  assert.deepEqual(scenarioCalendar({ startDate: '2026-01-05' }), { startUnixS: Date.UTC(2026, 0, 5) / 1000, startDayOfWeek: 0, startDayOfYear: 4, startYear: 2026 });
  assert.equal(scenarioCalendar({ startDate: '2025-10-15' }).startDayOfWeek, 2);
  assert.equal(scenarioCalendar({ startDate: '2024-12-31' }).startDayOfYear, 365);
});

test('electricity: a constant or time-of-use periods wrapping past midnight', () => {
  const s = parseScenario({ ...minimal(), prices: { electricityEURPerKWh: [{ fromH: 22, toH: 6, EURPerKWh: 0.2 }, { fromH: 6, toH: 22, EURPerKWh: 0.3 }] } });
  assert.equal(electricityPriceAt(s.prices, 23.5), 0.2);
  assert.equal(electricityPriceAt(s.prices, 5), 0.2);
  assert.equal(electricityPriceAt(s.prices, 6), 0.3);
  assert.equal(electricityPriceAt(s.prices, 21.99), 0.3);
  assert.equal(parseScenario({ ...minimal(), prices: { electricityEURPerKWh: 0.1 } }).prices.electricityEURPerKWhByHour[13], 0.1);
  assert.equal(parseScenario({ ...minimal(), prices: { electricityEURPerKWh: [{ fromH: 0, toH: 24, EURPerKWh: 0.15 }] } }).prices.electricityEURPerKWhByHour[23], 0.15);
});

/** Sets a value at a path in a deep copy (undefined deletes the key). */
function mutate(base: Record<string, unknown>, path: (string | number)[], value: unknown): unknown {
  const copy = structuredClone<Record<string, unknown>>(base);
  let o: Record<string | number, unknown> = copy;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (value === undefined) delete o[last];
  else o[last] = value;
  return copy;
}

const R = ['sites', 0, 'buildings', 0, 'rooms', 1];
const B = ['sites', 0, 'buildings', 0, 'boilers', 0];
const CASES: [string, (string | number)[], unknown, string][] = [
  ['not an object', [], undefined, ''],
  ['missing name', ['name'], undefined, 'name'],
  ['unknown top-level field', ['colour'], 'blue', 'colour'],
  ['bad date', ['startDate'], '2026-02-30', 'startDate'],
  ['date format', ['startDate'], '05/01/2026', 'startDate'],
  ['zero days', ['days'], 0, 'days'],
  ['days as string', ['days'], '2', 'days'],
  ['period not a multiple of the step', ['decisionPeriodS'], 90, 'decisionPeriodS'],
  ['negative seed', ['seed'], -1, 'seed'],
  ['fractional scale', ['scale'], 1.5, 'scale'],
  ['unknown policy', ['policies'], ['hearth', 'greedy'], 'policies[1]'],
  ['duplicate policy', ['policies'], ['hearth', 'hearth'], 'policies[1]'],
  ['empty sites', ['sites'], [], 'sites'],
  ['bad zone', ['sites', 0, 'zone'], 'H4', 'sites[0].zone'],
  ['weather without zone or file', ['sites', 0, 'weather'], {}, 'sites[0].weather'],
  ['weather file not a string', ['sites', 0, 'weather'], { file: 3 }, 'sites[0].weather.file'],
  ['building count negative', ['sites', 0, 'buildings', 0, 'count'], -1, 'sites[0].buildings[0].count'],
  ['rooms not an array', ['sites', 0, 'buildings', 0, 'rooms'], {}, 'sites[0].buildings[0].rooms'],
  ['duplicate room name', [...R, 'name'], 'r', 'sites[0].buildings[0].rooms[1].name'],
  ['archetype missing', [...R, 'archetype'], undefined, 'sites[0].buildings[0].rooms[1].archetype'],
  ['unknown era', [...R, 'archetype', 'era'], '1990', 'sites[0].buildings[0].rooms[1].archetype.era'],
  ['unknown use', [...R, 'archetype', 'use'], 'warehouse', 'sites[0].buildings[0].rooms[1].archetype.use'],
  ['floor area zero', [...R, 'archetype', 'floorAreaM2'], 0, 'sites[0].buildings[0].rooms[1].archetype.floorAreaM2'],
  ['azimuth out of range', [...R, 'archetype', 'facadeAzimuthDeg'], 400, 'sites[0].buildings[0].rooms[1].archetype.facadeAzimuthDeg'],
  ['too many boards', [...R, 'heater', 'boards'], 40, 'sites[0].buildings[0].rooms[1].heater.boards'],
  ['board idle above max', [...R, 'heater', 'board'], { idleW: 200 }, 'sites[0].buildings[0].rooms[1].heater.board.idleW'],
  ['unknown board field', [...R, 'heater', 'board'], { turbo: true }, 'sites[0].buildings[0].rooms[1].heater.board.turbo'],
  ['negative booster', [...R, 'heater', 'boosterW'], -5, 'sites[0].buildings[0].rooms[1].heater.boosterW'],
  ['cores missing', [...R, 'heater', 'coresPerBoard'], undefined, 'sites[0].buildings[0].rooms[1].heater.coresPerBoard'],
  ['gpu not boolean', [...R, 'heater', 'gpu'], 'yes', 'sites[0].buildings[0].rooms[1].heater.gpu'],
  ['derate start above cap', [...R, 'heater', 'derateStartC'], 70, 'sites[0].buildings[0].rooms[1].heater.derateStartC'],
  ['unknown schedule', [...R, 'schedule'], { kind: 'always' }, 'sites[0].buildings[0].rooms[1].schedule.kind'],
  ['bad long absence', [...R, 'schedule'], { kind: 'rt2012-office', longAbsences: [[10, 5]] }, 'sites[0].buildings[0].rooms[1].schedule.longAbsences[0][1]'],
  ['setpoint too high', [...R, 'schedule'], { kind: 'rt2012-office', setpointsC: { occupied: 40 } }, 'sites[0].buildings[0].rooms[1].schedule.setpointsC.occupied'],
  ['comfort band negative', [...R, 'comfort'], { lowerBandK: -1 }, 'sites[0].buildings[0].rooms[1].comfort.lowerBandK'],
  ['unknown controller', [...R, 'controller'], 'fuzzy', 'sites[0].buildings[0].rooms[1].controller'],
  ['tank too few layers', [...B, 'tank'], { layers: 2 }, 'sites[0].buildings[0].boilers[0].tank.layers'],
  ['unknown tank field', [...B, 'tank'], { colour: 1 }, 'sites[0].buildings[0].boilers[0].tank.colour'],
  ['dhw missing', [...B, 'dhw'], undefined, 'sites[0].buildings[0].boilers[0].dhw'],
  ['dhw persons negative', [...B, 'dhw'], { persons: -2 }, 'sites[0].buildings[0].boilers[0].dhw.persons'],
  ['boiler boards zero', [...B, 'boards'], 0, 'sites[0].buildings[0].boilers[0].boards'],
  ['unknown workload kind', ['workloads', 0], { kind: 'mining' }, 'workloads[0].kind'],
  ['bank window reversed', ['workloads', 0], { kind: 'bank', submitFromH: 22, submitToH: 19 }, 'workloads[0].submitToH'],
  ['bank bad type', ['workloads', 0], { kind: 'bank', type: 'spot' }, 'workloads[0].type'],
  ['render frames reversed', ['workloads', 1], { kind: 'render', framesMin: 10, framesMax: 5 }, 'workloads[1].framesMax'],
  ['unknown data site', ['workloads', 1], { kind: 'render', dataSite: 'nowhere' }, 'workloads[1].dataSite'],
  ['science unknown field', ['workloads', 2], { kind: 'science', colour: 1 }, 'workloads[2].colour'],
  ['swf without file', ['workloads', 2], { kind: 'swf' }, 'workloads[2].file'],
  ['swf bad maxJobs', ['workloads', 2], { kind: 'swf', file: 'x.swf', maxJobs: 0 }, 'workloads[2].maxJobs'],
  ['tou gap', ['prices'], { electricityEURPerKWh: [{ fromH: 0, toH: 12, EURPerKWh: 0.2 }] }, 'prices.electricityEURPerKWh'],
  ['tou overlap', ['prices'], { electricityEURPerKWh: [{ fromH: 0, toH: 24, EURPerKWh: 0.2 }, { fromH: 3, toH: 4, EURPerKWh: 0.1 }] }, 'prices.electricityEURPerKWh[1]'],
  ['negative core-hour price', ['prices'], { coreHourEUR: { flex: -1 } }, 'prices.coreHourEUR.flex'],
  ['unknown scheduling type price', ['prices'], { coreHourEUR: { spot: 1 } }, 'prices.coreHourEUR.spot'],
  ['carbon kind', ['carbon'], { kind: 'live' }, 'carbon.kind'],
  ['carbon csv without file', ['carbon'], { kind: 'csv' }, 'carbon.file'],
  ['pue below 1', ['overflow'], { pue: 0.9 }, 'overflow.pue'],
  ['reference heating kind', ['referenceHeating'], { kind: 'wood' }, 'referenceHeating.kind'],
];

test('every kind of invalid field is rejected with an InvalidParameterError naming its JSON path', () => {
  for (const [what, path, value, field] of CASES) {
    const json = path.length === 0 ? 'not a scenario' : mutate(minimal(), path, value);
    assert.throws(
      () => parseScenario(json),
      (e: unknown) => e instanceof InvalidParameterError && (e.field === field || (field === '' && e.field === '(scenario)')),
      `${what}: expected an error at '${field}'`,
    );
  }
});

/** Every path (arrays and object keys) of a JSON value. */
function paths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...prefix, i])));
  else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, k]));
  return out;
}

test('random mutations of a valid scenario either parse or throw InvalidParameterError (fast-check)', () => {
  const base = load('gironde-social-hub.json') as Record<string, unknown>;
  const all = paths(base).filter((p) => p.length > 0);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: all.length - 1 }), fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }), (i, value) => {
      const json = mutate(base, all[i], value);
      try {
        parseScenario(json);
      } catch (e) {
        assert.ok(e instanceof InvalidParameterError, `path ${all[i].join('.')} → ${String(e)}`);
        assert.ok(e.field.length > 0);
      }
    }),
    { numRuns: 300, seed: 42 },
  );
});

test('SCENARIO_SCHEMA documents every top-level field of the shipped scenarios', () => {
  assert.equal(SCENARIO_SCHEMA.$schema, 'https://json-schema.org/draft/2020-12/schema');
  const props = SCENARIO_SCHEMA.properties as Record<string, unknown>;
  for (const k of Object.keys(load('gironde-social-hub.json') as object)) assert.ok(k in props, k);
  assert.deepEqual(SCENARIO_SCHEMA.required, ['name', 'startDate', 'days', 'sites']);
  assert.doesNotThrow(() => JSON.stringify(SCENARIO_SCHEMA));
});

test('physics parameter objects (board, tank) with values of any JSON type never crash the parser (fast-check)', () => {
  const base = load('gironde-social-hub.json') as { sites: { buildings: { boilers: Record<string, unknown>[] }[] }[] };
  const keys = ['layers', 'volumeL', 'lossWeights', 'hxLayerWeights', 'topUpLayer', 'legionellaLayers', 'legionellaProgram', 'freqLevelsGHz', 'idleW', 'dynamicExponent'];
  fc.assert(
    fc.property(fc.constantFrom(...keys), fc.jsonValue({ maxDepth: 2 }), fc.boolean(), (k, v, board) => {
      const json = structuredClone(base);
      const b = json.sites[0].buildings[0].boilers[0];
      if (board) b.board = { [k]: v };
      else b.tank = { ...(b.tank as object), [k]: v };
      try {
        parseScenario(json);
      } catch (e) {
        assert.ok(e instanceof InvalidParameterError, `${k} = ${JSON.stringify(v)}: ${String(e)}`);
        assert.match(e.field, /^sites\[0\]\.buildings\[0\]\.boilers\[0\]\.(tank|board)\./);
      }
    }),
    { numRuns: 300, seed: 7 },
  );
});
