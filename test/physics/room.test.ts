// Tests of the two-element room network: topology and splits (MODEL.md), radiator body, window element,
// invariants under random parameters (fast-check), energy closure, and the bench helpers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  buildRoomModel,
  buildRoomNetwork,
  equivalentAirTemperatureC,
  skyTemperatureFromIrradiationC,
  sunblindFactor,
  ventilationConductanceWK,
} from '../../src/physics/room.ts';
import type { RoomParams } from '../../src/physics/room.ts';
import { discretise, outputs, stepLinearInput } from '../../src/physics/discretise.ts';
import { InvalidParameterError } from '../../src/physics/errors.ts';
import { createRng } from '../../src/physics/random.ts';
import type { StateSpace } from '../../src/physics/state-space.ts';

/** VDI 6007 room S (case 1 values of MODEL.md). */
const ROOM_S: RoomParams = {
  airVolumeM3: 0,
  hRadWm2K: 5,
  extAreasM2: [10.5],
  hConExtWm2K: 2.7,
  extResistancesKW: [0.00436791293674],
  extRemResistanceKW: 0.03895919557,
  extCapacitiesJK: [1600848.94],
  intAreaM2: 75.5,
  hConIntWm2K: 2.24,
  intResistancesKW: [0.000595693407511],
  intCapacitiesJK: [14836354.6282],
  winAreasM2: [0],
  transparentAreasM2: [7],
  hConWinWm2K: 2.7,
  winResistanceKW: 1e-8,
  gWin: 1,
  ratioWinConRad: 0.09,
  extOutdoorConductanceWK: 262.5,
};

function near(a: number, b: number, tol: number, what = ''): void {
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (diff ${a - b})`);
}
function col(ss: StateSpace, name: string): number {
  const j = ss.inputNames.indexOf(name);
  assert.ok(j >= 0, `input ${name}`);
  return j;
}
function row(ss: StateSpace, name: string): number {
  const i = ss.outputNames.indexOf(name);
  assert.ok(i >= 0, `output ${name}`);
  return i;
}

test('room S has the MODEL.md conductances, splits, inputs and outputs', () => {
  const net = buildRoomNetwork(ROOM_S);
  const g = (a: string, b: string): number => net.links.filter((l) => (l.a === a && l.b === b) || (l.a === b && l.b === a)).reduce((s, l) => s + l.conductanceWK, 0);
  near(g('T_sE', 'T_air'), 28.35, 1e-12, 'G_cE');
  near(g('T_sI', 'T_air'), 169.12, 1e-12, 'G_cI');
  near(g('T_sE', 'T_sI'), 52.5, 1e-12, 'G_rEI');
  near(g('T_sE', 'T_E1'), 228.94229223038315, 1e-9, '1/RExt');
  near(g('T_I1', 'T_sI'), 1678.7159088738683, 1e-9, '1/RInt');
  near(g('T_oE', 'T_amb'), 262.5, 0, 'H_amb');
  const rad = net.heatInputs.find((h) => h.name === 'Q_rad');
  assert.ok(rad);
  near(rad.targets.find((t) => t.node === 'T_sE')?.weight ?? NaN, 0.12209302325581395, 1e-15, 'rad split ext');
  near(rad.targets.find((t) => t.node === 'T_sI')?.weight ?? NaN, 0.877906976744186, 1e-15, 'rad split int');
  const sol = net.heatInputs.find((h) => h.name === 'Q_sol_1');
  assert.ok(sol);
  near(sol.targets.find((t) => t.node === 'T_air')?.weight ?? NaN, 0.09, 1e-15, 'sol conv');
  near(sol.targets.find((t) => t.node === 'T_sI')?.weight ?? NaN, 0.91, 1e-15, 'sol to int (one orientation)');
  near(sol.targets.find((t) => t.node === 'T_sE')?.weight ?? NaN, 0, 1e-15, 'sol to ext (same orientation excluded)');
  const ss = buildRoomModel(ROOM_S);
  assert.deepEqual(ss.stateNames, ['T_E1', 'T_I1']);
  assert.deepEqual(ss.inputNames, ['T_amb', 'T_sup', 'Q_air', 'Q_rad', 'Q_surfExt', 'Q_surfInt', 'Q_sol_1']);
  for (const o of ['T_air', 'T_sE', 'T_sI', 'T_oE', 'T_E1', 'T_I1', 'T_rad', 'Q_amb', 'Q_sup']) row(ss, o);
});

test('two orientations split solar heat by area excluding the same orientation (MODEL.md cases 8/9)', () => {
  const p: RoomParams = { ...ROOM_S, extAreasM2: [10.5, 15], intAreaM2: 60.5, winAreasM2: [0, 0], transparentAreasM2: [7, 7], ratioWinConRad: 0 };
  const net = buildRoomNetwork(p);
  const w = (k: number, node: string): number => net.heatInputs.find((h) => h.name === `Q_sol_${k}`)?.targets.find((t) => t.node === node)?.weight ?? NaN;
  near(w(1, 'T_sE'), 15 / 75.5, 1e-15, 'f_E,1');
  near(w(1, 'T_sI'), 60.5 / 75.5, 1e-15, 'f_I,1');
  near(w(2, 'T_sE'), 10.5 / 71, 1e-15, 'f_E,2');
  near(w(2, 'T_sI'), 60.5 / 71, 1e-15, 'f_I,2');
});

test('a window element adds the window surface, its outdoor path and the radiative pairs', () => {
  const p: RoomParams = { ...ROOM_S, winAreasM2: [4], winResistanceKW: 0.05, winOutdoorConductanceWK: 4 * 25 };
  const net = buildRoomNetwork(p);
  const names = net.nodes.map((n) => n.name);
  assert.ok(names.includes('T_sW') && names.includes('T_oW'));
  const g = (a: string, b: string): number => net.links.filter((l) => (l.a === a && l.b === b) || (l.a === b && l.b === a)).reduce((s, l) => s + l.conductanceWK, 0);
  near(g('T_sW', 'T_air'), 4 * 2.7, 1e-12, 'conv win');
  near(g('T_sE', 'T_sW'), 4 * 5, 1e-12, 'rad ext-win');
  near(g('T_sW', 'T_sI'), 4 * 5, 1e-12, 'rad win-int');
  near(g('T_sW', 'T_oW'), 20, 1e-9, '1/RWin');
  near(g('T_oW', 'T_ambWin'), 100, 0, 'win outdoor');
  for (const h of net.heatInputs) near(h.targets.reduce((s, t) => s + t.weight, 0), 1, 1e-14, `${h.name} weights sum`);
  const ss = buildRoomModel(p);
  assert.ok(ss.inputNames.includes('T_ambWin') && ss.inputNames.includes('Q_surfWin'));
  // with everything at 5 °C outside and no gains the room settles at 5 °C (−A⁻¹B u)
  const d = discretise(ss, 1e7);
  const u = ss.inputNames.map((n) => (n.startsWith('T_') ? 5 : 0));
  const x = new Float64Array(ss.nx);
  stepLinearInput(d, new Float64Array(ss.nx).fill(20), u, u, x);
  const y = outputs(ss, x, u, new Float64Array(ss.ny));
  near(y[row(ss, 'T_air')], 5, 1e-6, 'T_air');
  near(y[row(ss, 'T_sW')], 5, 1e-6, 'T_sW');
});

test('the radiator body turns electrical power into room heat with time constant C_r/H_ri', () => {
  const p: RoomParams = { ...ROOM_S, radiator: { capacityJK: 24e3, conductanceWK: 15 } };
  // with the air held at a fixed temperature the body is a one-node RC: τ = 24e3/15 = 1600 s
  const ss = buildRoomModel(p, { prescribedAir: true });
  const b = ss.stateNames.indexOf('T_body');
  near(ss.A[b * ss.nx + b], -15 / 24e3, 1e-15, 'A body');
  const d = discretise(ss, 1600);
  const u = ss.inputNames.map((n) => (n === 'Q_heater' ? 500 : n.startsWith('T_') ? 20 : 0));
  const x0 = new Float64Array(ss.nx).fill(20);
  const x = new Float64Array(ss.nx);
  stepLinearInput(d, x0, u, u, x);
  near(x[b], 20 + (500 / 15) * (1 - Math.exp(-1)), 1e-9, 'body after τ');
  // all of Q_heater reaches the air source in steady state
  const free = buildRoomModel(p);
  assert.ok(free.inputNames.includes('Q_heater') && free.stateNames.includes('T_body'));
  const y = outputs(ss, x, u, new Float64Array(ss.ny));
  near(y[row(ss, 'Q_airSource')], 15 * (x[b] - 20), 1e-9, 'body heat into the air');
});

test('ventilation, sky temperature, sun blind and equivalent air temperature helpers', () => {
  near(ventilationConductanceWK(100), 100 * 3.30375898e-4 * 1005.45, 1e-9, 'ṁ c_p');
  near(skyTemperatureFromIrradiationC(400) + 273.15, 65.99081593 * Math.pow(400, 0.25), 1e-7, 'sky (MODEL.md constant)');
  assert.equal(sunblindFactor(100), 1);
  assert.equal(sunblindFactor(100.0001), 0.15);
  const p = { aExt: 0.7, hConWallOutWm2K: 20, hRadWm2K: 5, wfWall: [0.2, 0.3], wfWin: [0.1, 0.4], wfGro: 0, tGroC: 12 };
  const tDry = 10;
  const tSky = -5;
  const hSol = [250, 100];
  const sb = [0.85, 0];
  const dLw = ((tSky - tDry) * 5) / 25;
  const withLw = 0.2 * (tDry + dLw + (250 * 0.7) / 25) + 0.3 * (tDry + dLw + (100 * 0.7) / 25) + 0.1 * (tDry + dLw * 0.15) + 0.4 * (tDry + dLw);
  near(equivalentAirTemperatureC({ ...p, withLongwave: true }, tDry, tSky, hSol, sb), withLw, 1e-12, 'with long-wave');
  const noLw = 0.2 * (tDry + 7) + 0.3 * (tDry + 2.8) + 0.5 * tDry;
  near(equivalentAirTemperatureC({ ...p, withLongwave: false }, tDry, tSky, hSol, sb), noLw, 1e-12, 'without long-wave');
  near(equivalentAirTemperatureC({ ...p, wfWall: [0.1, 0], wfWin: [0.2, 0], wfGro: 0.7, withLongwave: false }, tDry, tSky, [0, 0], [0, 0]), 0.3 * 10 + 0.7 * 12, 1e-12, 'ground');
});

test('invalid room parameters are rejected with the field named', () => {
  const bad: [Partial<RoomParams>, string][] = [
    [{ extCapacitiesJK: [-1] }, 'params.extCapacitiesJK[0]'],
    [{ hRadWm2K: NaN }, 'params.hRadWm2K'],
    [{ intResistancesKW: [0] }, 'params.intResistancesKW[0]'],
    [{ intCapacitiesJK: [1, 2] }, 'params.intCapacitiesJK'],
    [{ winAreasM2: [0, 0] }, 'params.winAreasM2'],
    [{ extOutdoorConductanceWK: 0 }, 'params.extOutdoorConductanceWK'],
    [{ ratioWinConRad: 1.5 }, 'params.ratioWinConRad'],
    [{ radiator: { capacityJK: -5, conductanceWK: 10 } }, 'params.radiator.capacityJK'],
    [{ extAreasM2: 'x' as unknown as number[] }, 'params.extAreasM2'],
  ];
  for (const [patch, field] of bad) {
    assert.throws(
      () => buildRoomModel({ ...ROOM_S, ...patch }),
      (e: unknown) => e instanceof InvalidParameterError && e.field === field,
      `expected ${field}`,
    );
  }
});

/** Random valid rooms: 1–3 orientations, chains of 1–3, optional window, body, air capacity, ventilation. */
const roomArb = fc
  .record({
    no: fc.integer({ min: 1, max: 3 }),
    nExt: fc.integer({ min: 1, max: 3 }),
    nInt: fc.integer({ min: 1, max: 3 }),
    areas: fc.array(fc.double({ min: 1, max: 40, noNaN: true }), { minLength: 3, maxLength: 3 }),
    win: fc.array(fc.double({ min: 0, max: 6, noNaN: true }), { minLength: 3, maxLength: 3 }),
    aInt: fc.double({ min: 5, max: 200, noNaN: true }),
    h: fc.array(fc.double({ min: 0.5, max: 8, noNaN: true }), { minLength: 4, maxLength: 4 }),
    r: fc.array(fc.double({ min: 1e-4, max: 0.1, noNaN: true }), { minLength: 8, maxLength: 8 }),
    c: fc.array(fc.double({ min: 1e4, max: 2e7, noNaN: true }), { minLength: 6, maxLength: 6 }),
    air: fc.oneof(fc.constant(0), fc.double({ min: 0.1, max: 100, noNaN: true })),
    vent: fc.double({ min: 0, max: 100, noNaN: true }),
    body: fc.boolean(),
    frac: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(
    (a): RoomParams => ({
      airVolumeM3: a.air,
      hRadWm2K: a.h[0],
      extAreasM2: a.areas.slice(0, a.no),
      hConExtWm2K: a.h[1],
      extResistancesKW: a.r.slice(0, a.nExt),
      extRemResistanceKW: a.r[3],
      extCapacitiesJK: a.c.slice(0, a.nExt),
      intAreaM2: a.aInt,
      hConIntWm2K: a.h[2],
      intResistancesKW: a.r.slice(4, 4 + a.nInt),
      intCapacitiesJK: a.c.slice(3, 3 + a.nInt),
      winAreasM2: a.win.slice(0, a.no),
      transparentAreasM2: a.win.slice(0, a.no),
      hConWinWm2K: a.h[3],
      winResistanceKW: a.r[7],
      gWin: 0.6,
      ratioWinConRad: 0.1,
      extOutdoorConductanceWK: 25 * a.areas.slice(0, a.no).reduce((s, x) => s + x, 0),
      ventilationWK: a.vent,
      ...(a.body ? { radiator: { capacityJK: 24e3, conductanceWK: 15, radiativeFraction: a.frac } } : {}),
    }),
  );

/** Simulates `steps` exact steps of dt with piecewise-linear inputs from `input(k)`; returns min/max of all node temperatures. */
function simulate(ss: StateSpace, x0: number, dt: number, steps: number, input: (k: number) => number[]): { min: number; max: number } {
  const d = discretise(ss, dt);
  const tRows = ss.outputNames.map((n, i) => (n.startsWith('T_') ? i : -1)).filter((i) => i >= 0);
  let x = new Float64Array(ss.nx).fill(x0);
  const xn = new Float64Array(ss.nx);
  const y = new Float64Array(ss.ny);
  let min = Infinity;
  let max = -Infinity;
  let u0 = input(0);
  for (let k = 0; k < steps; k++) {
    const u1 = input(k + 1);
    stepLinearInput(d, x, u0, u1, xn);
    x = Float64Array.from(xn);
    outputs(ss, x, u1, y);
    for (const r of tRows) {
      min = Math.min(min, y[r]);
      max = Math.max(max, y[r]);
    }
    u0 = u1;
  }
  return { min, max };
}

test('property: with no gains and all boundaries at T0 the room stays at T0; temperatures stay finite under bounded inputs', () => {
  fc.assert(
    fc.property(roomArb, fc.double({ min: -20, max: 40, noNaN: true }), fc.integer({ min: 1, max: 1e6 }), (p, t0, seed) => {
      const ss = buildRoomModel(p);
      const still = simulate(ss, t0, 1800, 96, () => ss.inputNames.map((n) => (n.startsWith('T_') ? t0 : 0)));
      assert.ok(Math.abs(still.min - t0) < 1e-9 * (1 + Math.abs(t0)) && Math.abs(still.max - t0) < 1e-9 * (1 + Math.abs(t0)), `${still.min}..${still.max} vs ${t0}`);
      const rng = createRng(seed);
      const r = simulate(ss, 20, 3600, 200, () => ss.inputNames.map((n) => (n.startsWith('T_') ? -15 + 50 * rng.next() : 3000 * (rng.next() - 0.3))));
      assert.ok(Number.isFinite(r.min) && Number.isFinite(r.max));
    }),
    { numRuns: 60 },
  );
});

test('property: with only heat inputs ≥ 0 and equal boundaries, every node stays ≥ the boundary temperature', () => {
  fc.assert(
    fc.property(roomArb, fc.double({ min: -10, max: 30, noNaN: true }), fc.integer({ min: 1, max: 1e6 }), (p, tb, seed) => {
      const ss = buildRoomModel(p);
      const rng = createRng(seed);
      const r = simulate(ss, tb, 900, 200, () => ss.inputNames.map((n) => (n.startsWith('T_') ? tb : 2000 * rng.next())));
      assert.ok(r.min >= tb - 1e-9 * (1 + Math.abs(tb)), `min ${r.min} < ${tb}`);
    }),
    { numRuns: 60 },
  );
});

test('energy: heat inputs·dt = Δ(Σ C·T) + heat to the boundaries, to 1e-9 relative (random room with body and window)', () => {
  const p: RoomParams = {
    ...ROOM_S,
    airVolumeM3: 50,
    extAreasM2: [10.5, 8],
    winAreasM2: [3, 2],
    transparentAreasM2: [3, 2],
    extResistancesKW: [0.002, 0.003],
    extCapacitiesJK: [8e5, 8e5],
    winResistanceKW: 0.1,
    ventilationWK: 20,
    radiator: { capacityJK: 24e3, conductanceWK: 15, radiativeFraction: 0.3 },
  };
  const ss = buildRoomModel(p);
  const d = discretise(ss, 600);
  const rng = createRng(42);
  const heat = ss.inputNames.map((n, j) => (n.startsWith('Q_') ? j : -1)).filter((j) => j >= 0);
  const flows = ['Q_amb', 'Q_sup', 'Q_ambWin'].map((n) => row(ss, n));
  let x = new Float64Array(ss.nx).fill(18);
  const e0 = ss.capacityJK.reduce((s, c, i) => s + c * x[i], 0);
  const xi = new Float64Array(ss.nx);
  const xn = new Float64Array(ss.nx);
  let inJ = 0;
  let outJ = 0;
  let scale = 0;
  const rnd = (): number[] => ss.inputNames.map((n) => (n.startsWith('T_') ? -5 + 30 * rng.next() : 1500 * rng.next()));
  let u0 = rnd();
  for (let k = 0; k < 4 * 24 * 6 * 7; k++) {
    const u1 = rnd();
    stepLinearInput(d, x, u0, u1, xn, xi);
    for (const j of heat) inJ += 0.5 * (u0[j] + u1[j]) * 600;
    for (const r of flows) {
      let f = 0;
      for (let i = 0; i < ss.nx; i++) f += ss.C[r * ss.nx + i] * xi[i];
      for (let j = 0; j < ss.nu; j++) f += ss.D[r * ss.nu + j] * 0.5 * (u0[j] + u1[j]) * 600;
      outJ += f;
      scale += Math.abs(f);
    }
    x = Float64Array.from(xn);
    u0 = u1;
  }
  const e1 = ss.capacityJK.reduce((s, c, i) => s + c * x[i], 0);
  const residual = inJ - (e1 - e0) - outJ;
  assert.ok(Math.abs(residual) <= 1e-9 * (scale + inJ), `residual ${residual} J of ${inJ} J`);
  // sanity: the inputs to the check are of the expected kind
  assert.equal(col(ss, 'Q_heater'), ss.nu - 1);
});
