// Tests of the thermal network reduction (massless nodes, outputs, validation) and of its exact discretisation
// (time constant, step halving, exact integrals, energy closure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildStateSpace } from '../../src/physics/network.ts';
import type { NetworkHeatInput, NetworkLink, NetworkNode, ThermalNetwork } from '../../src/physics/network.ts';
import { discretise, integrateDiscrete, outputs, stepDiscrete, stepLinearInput } from '../../src/physics/discretise.ts';
import { InvalidParameterError } from '../../src/physics/errors.ts';
import { createRng } from '../../src/physics/random.ts';

function near(a: number, b: number, rel: number, what = ''): void {
  assert.ok(Math.abs(a - b) <= rel * Math.max(1, Math.abs(a), Math.abs(b)), `${what}: ${a} vs ${b} (diff ${a - b})`);
}

/** A small room-like network: air (small capacity), two massless surfaces, wall and mass capacities. */
function sampleNetwork(): ThermalNetwork {
  return {
    nodes: [
      { name: 'air', capacityJK: 5e4 },
      { name: 'sE', capacityJK: 0 },
      { name: 'sI', capacityJK: 0 },
      { name: 'wall', capacityJK: 1.6e6 },
      { name: 'mass', capacityJK: 1.5e7 },
      { name: 'oE', capacityJK: 0 },
    ],
    boundaries: ['Tout', 'Tsup'],
    links: [
      { a: 'air', b: 'sE', conductanceWK: 28 },
      { a: 'air', b: 'sI', conductanceWK: 169 },
      { a: 'sE', b: 'sI', conductanceWK: 52 },
      { a: 'sE', b: 'wall', conductanceWK: 229 },
      { a: 'wall', b: 'oE', conductanceWK: 25.7 },
      { a: 'oE', b: 'Tout', conductanceWK: 262 },
      { a: 'sI', b: 'mass', conductanceWK: 1679 },
      { a: 'air', b: 'Tsup', conductanceWK: 30 },
    ],
    heatInputs: [
      { name: 'Qconv', targets: [{ node: 'air', weight: 1 }] },
      {
        name: 'Qrad',
        targets: [
          { node: 'sE', weight: 0.12 },
          { node: 'sI', weight: 0.88 },
        ],
      },
    ],
  };
}

test('a one-node room (C, UA) relaxes with time constant C/UA', () => {
  const C = 2e6;
  const UA = 150;
  const tau = C / UA;
  const ss = buildStateSpace({
    nodes: [{ name: 'room', capacityJK: C }],
    boundaries: ['Tout'],
    links: [{ a: 'room', b: 'Tout', conductanceWK: UA }],
    heatInputs: [{ name: 'Q', targets: [{ node: 'room', weight: 1 }] }],
  });
  near(ss.A[0], -1 / tau, 1e-15, 'A');
  // from 20 °C towards 0 °C outdoors: after τ, 1 − 1/e of the way
  const d = discretise(ss, tau);
  const x = stepDiscrete(d, [20], [0, 0], new Float64Array(1));
  near(x[0], 20 * Math.exp(-1), 1e-13, 'one step of τ');
  // the same with 60 s steps, and towards a heated steady state Q/UA
  const d60 = discretise(ss, 60);
  let y = new Float64Array([0]);
  const tmp = new Float64Array(1);
  const Q = 1500;
  for (let k = 0; k < Math.round(tau / 60); k++) {
    stepDiscrete(d60, y, [0, Q], tmp);
    y = Float64Array.from(tmp);
  }
  const tEnd = Math.round(tau / 60) * 60;
  near(y[0], (Q / UA) * (1 - Math.exp(-tEnd / tau)), 1e-12, '60 s steps');
});

test('massless nodes are eliminated exactly (series conductance, algebraic output)', () => {
  const G1 = 40;
  const G2 = 10;
  const ss = buildStateSpace({
    nodes: [
      { name: 'm', capacityJK: 0 },
      { name: 'n', capacityJK: 1e5 },
    ],
    boundaries: ['Tb'],
    links: [
      { a: 'Tb', b: 'm', conductanceWK: G1 },
      { a: 'm', b: 'n', conductanceWK: G2 },
    ],
    heatInputs: [{ name: 'Qm', targets: [{ node: 'm', weight: 1 }] }],
  });
  assert.deepEqual(ss.stateNames, ['n']);
  assert.deepEqual(ss.inputNames, ['Tb', 'Qm']);
  assert.deepEqual(ss.outputNames, ['m', 'n', 'Q_Tb']);
  const Geq = (G1 * G2) / (G1 + G2);
  near(ss.A[0], -Geq / 1e5, 1e-15, 'A');
  near(ss.B[0], Geq / 1e5, 1e-15, 'B Tb');
  near(ss.B[1], G2 / (G1 + G2) / 1e5, 1e-15, 'B Qm');
  // T_m = (G1 Tb + G2 Tn + Qm) / (G1 + G2)
  const y = outputs(ss, [30], [10, 50], new Float64Array(3));
  near(y[0], (G1 * 10 + G2 * 30 + 50) / (G1 + G2), 1e-14, 'T_m');
  near(y[1], 30, 1e-15, 'T_n');
  // heat into the boundary = G1 (T_m − Tb)
  near(y[2], G1 * (y[0] - 10), 1e-13, 'Q_Tb');
});

test('boundary-to-boundary links and heat aimed at a boundary appear only in the boundary flows', () => {
  const ss = buildStateSpace({
    nodes: [{ name: 'n', capacityJK: 1e4 }],
    boundaries: ['A', 'B'],
    links: [
      { a: 'A', b: 'B', conductanceWK: 5 },
      { a: 'n', b: 'A', conductanceWK: 2 },
    ],
    heatInputs: [{ name: 'Q', targets: [{ node: 'B', weight: 1 }] }],
    outputs: [
      { name: 'QA', kind: 'boundaryFlow', boundary: 'A' },
      { name: 'QB', kind: 'boundaryFlow', boundary: 'B' },
      { name: 'mix', kind: 'combination', terms: [{ node: 'n', weight: 0.5 }, { node: 'A', weight: 0.5 }] },
    ],
  });
  const y = outputs(ss, [20], [10, 4, 7], new Float64Array(3));
  near(y[0], 5 * (4 - 10) + 2 * (20 - 10), 1e-14, 'QA');
  near(y[1], 5 * (10 - 4) + 7, 1e-14, 'QB');
  near(y[2], 15, 1e-14, 'mix');
  assert.equal(ss.B[2], 0);
});

test('invalid networks are rejected with the failing field named', () => {
  const base = sampleNetwork();
  const cases: [ThermalNetwork, RegExp][] = [
    [{ ...base, nodes: base.nodes.map((n, i) => (i === 3 ? { ...n, capacityJK: -1 } : n)) }, /^nodes\[3\]\.capacityJK$/],
    [{ ...base, nodes: base.nodes.map((n, i) => (i === 0 ? { ...n, capacityJK: NaN } : n)) }, /^nodes\[0\]\.capacityJK$/],
    [{ ...base, links: base.links.map((l, i) => (i === 2 ? { ...l, conductanceWK: NaN } : l)) }, /^links\[2\]\.conductanceWK$/],
    [{ ...base, links: base.links.map((l, i) => (i === 4 ? { ...l, conductanceWK: -3 } : l)) }, /^links\[4\]\.conductanceWK$/],
    [{ ...base, links: [...base.links, { a: 'air', b: 'nowhere', conductanceWK: 1 }] }, /^links\[8\]\.b$/],
    [{ ...base, links: [...base.links, { a: 'air', b: 'air', conductanceWK: 1 }] }, /^links\[8\]\.b$/],
    [{ ...base, nodes: [...base.nodes, { name: 'air', capacityJK: 1 }] }, /^nodes\[6\]\.name$/],
    [{ ...base, boundaries: [...base.boundaries, 'sE'] }, /^boundaries\[2\]$/],
    [{ ...base, heatInputs: [{ name: 'Q', targets: [{ node: 'ghost', weight: 1 }] }] }, /^heatInputs\[0\]\.targets\[0\]\.node$/],
    [{ ...base, heatInputs: [{ name: 'Tout', targets: [] }] }, /^heatInputs\[0\]\.name$/],
    [{ ...base, outputs: [{ name: 'x', kind: 'boundaryFlow', boundary: 'air' }] }, /^outputs\[0\]\.boundary$/],
    // a massless node whose only conductance is 0 has no path
    [{ ...base, nodes: [...base.nodes, { name: 'lost', capacityJK: 0 }], links: [...base.links, { a: 'lost', b: 'air', conductanceWK: 0 }] }, /^nodes\[6\]$/],
    // two massless nodes joined only to each other
    [
      {
        ...base,
        nodes: [...base.nodes, { name: 'p', capacityJK: 0 }, { name: 'q', capacityJK: 0 }],
        links: [...base.links, { a: 'p', b: 'q', conductanceWK: 3 }],
      },
      /^nodes\[6\]$/,
    ],
  ];
  for (const [net, field] of cases) {
    assert.throws(
      () => buildStateSpace(net),
      (e: unknown) => e instanceof InvalidParameterError && field.test(e.field),
      `expected an error naming ${String(field)}`,
    );
  }
});

test('the exact step at Δt equals two steps at Δt/2 (states and integrals), ZOH and FOH', () => {
  const ss = buildStateSpace(sampleNetwork());
  const x0 = [21, 14, 19];
  const u = [-5, 18, 700, 300];
  const u1 = [3, 20, -200, 900];
  for (const dt of [1, 60, 3600, 86400]) {
    const d = discretise(ss, dt);
    const h = discretise(ss, dt / 2);
    const one = stepDiscrete(d, x0, u, new Float64Array(3));
    const mid = stepDiscrete(h, x0, u, new Float64Array(3));
    const two = stepDiscrete(h, mid, u, new Float64Array(3));
    const i1 = integrateDiscrete(d, x0, u, new Float64Array(3));
    const ia = integrateDiscrete(h, x0, u, new Float64Array(3));
    const ib = integrateDiscrete(h, mid, u, new Float64Array(3));
    for (let i = 0; i < 3; i++) {
      near(one[i], two[i], 1e-12, `x dt=${dt}`);
      near(i1[i], ia[i] + ib[i], 1e-12, `∫x dt=${dt}`);
    }
    // linear inputs from u to u1
    const um = u.map((v, j) => 0.5 * (v + u1[j]));
    const fx = new Float64Array(3);
    const fi = new Float64Array(3);
    stepLinearInput(d, x0, u, u1, fx, fi);
    const hx = new Float64Array(3);
    const hi = new Float64Array(3);
    stepLinearInput(h, x0, u, um, hx, hi);
    const hx2 = new Float64Array(3);
    const hi2 = new Float64Array(3);
    stepLinearInput(h, hx, um, u1, hx2, hi2);
    for (let i = 0; i < 3; i++) {
      near(fx[i], hx2[i], 1e-12, `FOH x dt=${dt}`);
      near(fi[i], hi[i] + hi2[i], 1e-12, `FOH ∫x dt=${dt}`);
    }
  }
});

test('Sx, Su and the FOH integral match a fine trapezoidal integration of the exact trajectory', () => {
  const ss = buildStateSpace(sampleNetwork());
  const dt = 7200;
  const n = 20000;
  const d = discretise(ss, dt);
  const fine = discretise(ss, dt / n);
  const x0 = [25, 10, 18];
  const ua = [0, 20, 1000, 0];
  const ub = [10, 20, 0, 400];
  // ZOH: trapezoid over the exact fine trajectory
  for (const linear of [false, true]) {
    let x = Float64Array.from(x0);
    const nx = new Float64Array(3);
    const acc = [0, 0, 0];
    for (let k = 0; k < n; k++) {
      const uk = linear ? ua.map((v, j) => v + ((ub[j] - v) * k) / n) : ua;
      const uk1 = linear ? ua.map((v, j) => v + ((ub[j] - v) * (k + 1)) / n) : ua;
      stepLinearInput(fine, x, uk, uk1, nx);
      for (let i = 0; i < 3; i++) acc[i] += 0.5 * (x[i] + nx[i]) * (dt / n);
      x = Float64Array.from(nx);
    }
    const exact = new Float64Array(3);
    const xEnd = new Float64Array(3);
    if (linear) stepLinearInput(d, x0, ua, ub, xEnd, exact);
    else {
      integrateDiscrete(d, x0, ua, exact);
      stepDiscrete(d, x0, ua, xEnd);
    }
    for (let i = 0; i < 3; i++) {
      near(exact[i] / dt, acc[i] / dt, 1e-8, `${linear ? 'FOH' : 'ZOH'} mean state ${i}`);
      near(xEnd[i], x[i], 1e-10, `${linear ? 'FOH' : 'ZOH'} end state ${i}`);
    }
  }
});

test('discretise rejects a non-positive or non-finite step', () => {
  const ss = buildStateSpace(sampleNetwork());
  for (const dt of [0, -1, NaN, Infinity]) {
    assert.throws(() => discretise(ss, dt), (e: unknown) => e instanceof InvalidParameterError && e.field === 'dtS');
  }
});

/** Random connected networks: a chain through all nodes, node 0 to a boundary, random extra links. */
const networkArb = fc
  .record({
    caps: fc.array(fc.oneof(fc.constant<number>(0), fc.double({ min: 1e3, max: 1e7, noNaN: true })), { minLength: 2, maxLength: 6 }),
    gs: fc.array(fc.double({ min: 0.5, max: 2000, noNaN: true }), { minLength: 12, maxLength: 12 }),
    extra: fc.array(fc.tuple(fc.nat(), fc.nat(), fc.double({ min: 0, max: 500, noNaN: true })), { maxLength: 4 }),
    seed: fc.integer({ min: 1, max: 1e6 }),
  })
  .map(({ caps, gs, extra, seed }): { net: ThermalNetwork; seed: number } => {
    const n = caps.length;
    if (!caps.some((c) => c > 0)) caps[0] = 1e5;
    const nodes: NetworkNode[] = caps.map((c, i) => ({ name: `n${i}`, capacityJK: c }));
    const links: NetworkLink[] = [];
    for (let i = 0; i + 1 < n; i++) links.push({ a: `n${i}`, b: `n${i + 1}`, conductanceWK: gs[i] });
    links.push({ a: 'n0', b: 'Tb1', conductanceWK: gs[8] });
    links.push({ a: `n${n - 1}`, b: 'Tb2', conductanceWK: gs[9] });
    links.push({ a: 'Tb1', b: 'Tb2', conductanceWK: gs[10] });
    for (const [a, b, g] of extra) if (a % n !== b % n) links.push({ a: `n${a % n}`, b: `n${b % n}`, conductanceWK: g });
    const w = gs[11] / 2000;
    const heatInputs: NetworkHeatInput[] = [
      { name: 'Q1', targets: [{ node: `n${n - 1}`, weight: 1 }] },
      {
        name: 'Q2',
        targets: [
          { node: 'n0', weight: w },
          { node: `n${Math.floor(n / 2)}`, weight: 1 - w },
        ],
      },
    ];
    return { net: { nodes, boundaries: ['Tb1', 'Tb2'], links, heatInputs }, seed };
  });

test('energy balance: Σ heat inputs·dt = Δ(Σ C·T) + ∫ boundary flows, to 1e-9 relative (random networks, random inputs)', () => {
  fc.assert(
    fc.property(networkArb, ({ net, seed }) => {
      const ss = buildStateSpace(net);
      const rng = createRng(seed);
      const d = discretise(ss, 900);
      const flowRows = ss.outputNames.map((n, i) => (n.startsWith('Q_') ? i : -1)).filter((i) => i >= 0);
      let x = new Float64Array(ss.nx).map(() => 10 + 20 * rng.next());
      const e0 = ss.capacityJK.reduce((s, c, i) => s + c * x[i], 0);
      let inJ = 0;
      let outJ = 0;
      let scale = 0;
      const xi = new Float64Array(ss.nx);
      const xn = new Float64Array(ss.nx);
      for (let k = 0; k < 500; k++) {
        const u0 = [-10 + 30 * rng.next(), 5 + 20 * rng.next(), 2000 * rng.next(), 500 * rng.next()];
        const u1 = [-10 + 30 * rng.next(), 5 + 20 * rng.next(), 2000 * rng.next(), 500 * rng.next()];
        stepLinearInput(d, x, u0, u1, xn, xi);
        const qIn = 0.5 * (u0[2] + u1[2] + u0[3] + u1[3]) * 900;
        inJ += qIn;
        scale += Math.abs(qIn);
        for (const r of flowRows) {
          let f = 0;
          for (let i = 0; i < ss.nx; i++) f += ss.C[r * ss.nx + i] * xi[i];
          for (let j = 0; j < ss.nu; j++) f += ss.D[r * ss.nu + j] * 0.5 * (u0[j] + u1[j]) * 900;
          outJ += f;
          scale += Math.abs(f);
        }
        x = Float64Array.from(xn);
      }
      const e1 = ss.capacityJK.reduce((s, c, i) => s + c * x[i], 0);
      const residual = inJ - (e1 - e0) - outJ;
      assert.ok(Math.abs(residual) <= 1e-9 * (scale + Math.abs(e1) + Math.abs(e0)), `residual ${residual} J of ${scale} J`);
    }),
    { numRuns: 60 },
  );
});
