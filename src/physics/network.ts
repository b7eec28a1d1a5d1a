// A generic linear thermal network (capacities in J/K, conductances in W/K, boundary temperatures in °C, heat
// inputs in W) and its exact reduction to a StateSpace, massless nodes eliminated by a Schur complement.
import { InvalidParameterError, requireFinite } from './errors.ts';
import { luFactor, luSolve, SingularMatrixError } from './linalg.ts';
import type { StateSpace } from './state-space.ts';

/** A node of the network. capacityJK = 0 makes it massless (algebraic: its heat balance is instantaneous). */
export interface NetworkNode {
  readonly name: string;
  /** Heat capacity, J/K (≥ 0). */
  readonly capacityJK: number;
}

/** A conductance between two nodes, a node and a boundary, or two boundaries (names of nodes or boundaries). */
export interface NetworkLink {
  readonly a: string;
  readonly b: string;
  /** Conductance, W/K (≥ 0). */
  readonly conductanceWK: number;
}

/** Where a heat input goes: a node (or a boundary, which then absorbs it) with a weight (1 = all of it). */
export interface HeatTarget {
  readonly node: string;
  readonly weight: number;
}

/** A named heat-flow input (W), possibly split over several nodes by weights. */
export interface NetworkHeatInput {
  readonly name: string;
  readonly targets: readonly HeatTarget[];
}

/** A named output: a temperature (°C) of a node or boundary, a weighted sum of them, or a heat flow into a boundary (W). */
export type NetworkOutput =
  | { readonly name: string; readonly kind: 'temperature'; readonly node: string }
  | { readonly name: string; readonly kind: 'combination'; readonly terms: readonly HeatTarget[] }
  | { readonly name: string; readonly kind: 'boundaryFlow'; readonly boundary: string };

/**
 * A thermal network. Inputs of the resulting StateSpace are the boundary temperatures (°C, in `boundaries` order)
 * followed by the heat inputs (W, in `heatInputs` order). States are the nodes with capacity > 0, in `nodes` order.
 * Without `outputs`, the outputs are every node temperature (`T_<node>`... named as the node) then every
 * boundary heat flow (`Q_<boundary>`).
 */
export interface ThermalNetwork {
  readonly nodes: readonly NetworkNode[];
  readonly boundaries: readonly string[];
  readonly links: readonly NetworkLink[];
  readonly heatInputs: readonly NetworkHeatInput[];
  readonly outputs?: readonly NetworkOutput[];
}

/** Kind of a name in the network. */
type Ref = { readonly kind: 'node'; readonly index: number } | { readonly kind: 'boundary'; readonly index: number };

/** The validated network's name table. */
interface Indexed {
  readonly n: number;
  readonly nb: number;
  readonly refs: ReadonlyMap<string, Ref>;
}

/** Array check that does not narrow (Array.isArray narrows readonly arrays to any[]). */
function isArray(v: unknown): boolean {
  return Array.isArray(v);
}

function indexNetwork(net: ThermalNetwork): Indexed {
  if (!isArray(net.nodes)) throw new InvalidParameterError('nodes', 'must be an array');
  if (!isArray(net.boundaries)) throw new InvalidParameterError('boundaries', 'must be an array');
  if (!isArray(net.links)) throw new InvalidParameterError('links', 'must be an array');
  if (!isArray(net.heatInputs)) throw new InvalidParameterError('heatInputs', 'must be an array');
  const refs = new Map<string, Ref>();
  net.nodes.forEach((node, i) => {
    if (typeof node?.name !== 'string' || node.name === '') throw new InvalidParameterError(`nodes[${i}].name`, 'must be a non-empty string');
    if (refs.has(node.name)) throw new InvalidParameterError(`nodes[${i}].name`, `duplicate name '${node.name}'`);
    requireFinite(`nodes[${i}].capacityJK`, node.capacityJK, 0);
    refs.set(node.name, { kind: 'node', index: i });
  });
  net.boundaries.forEach((b, i) => {
    if (typeof b !== 'string' || b === '') throw new InvalidParameterError(`boundaries[${i}]`, 'must be a non-empty string');
    if (refs.has(b)) throw new InvalidParameterError(`boundaries[${i}]`, `duplicate name '${b}'`);
    refs.set(b, { kind: 'boundary', index: i });
  });
  const inputNames = new Set<string>(net.boundaries);
  net.heatInputs.forEach((h, i) => {
    if (typeof h?.name !== 'string' || h.name === '') throw new InvalidParameterError(`heatInputs[${i}].name`, 'must be a non-empty string');
    if (inputNames.has(h.name)) throw new InvalidParameterError(`heatInputs[${i}].name`, `duplicate input name '${h.name}'`);
    inputNames.add(h.name);
    if (!isArray(h.targets)) throw new InvalidParameterError(`heatInputs[${i}].targets`, 'must be an array');
    h.targets.forEach((t, j) => {
      if (!refs.has(t?.node)) throw new InvalidParameterError(`heatInputs[${i}].targets[${j}].node`, `unknown node or boundary '${String(t?.node)}'`);
      requireFinite(`heatInputs[${i}].targets[${j}].weight`, t.weight);
    });
  });
  net.links.forEach((l, i) => {
    if (!refs.has(l?.a)) throw new InvalidParameterError(`links[${i}].a`, `unknown node or boundary '${String(l?.a)}'`);
    if (!refs.has(l.b)) throw new InvalidParameterError(`links[${i}].b`, `unknown node or boundary '${String(l.b)}'`);
    if (l.a === l.b) throw new InvalidParameterError(`links[${i}].b`, `a link must join two different names ('${l.a}')`);
    requireFinite(`links[${i}].conductanceWK`, l.conductanceWK, 0);
  });
  return { n: net.nodes.length, nb: net.boundaries.length, refs };
}

/** Default outputs: every node temperature (named as the node), then every boundary's inflow (`Q_<boundary>`). */
export function defaultOutputs(net: ThermalNetwork): NetworkOutput[] {
  return [
    ...net.nodes.map((nd): NetworkOutput => ({ name: nd.name, kind: 'temperature', node: nd.name })),
    ...net.boundaries.map((b): NetworkOutput => ({ name: `Q_${b}`, kind: 'boundaryFlow', boundary: b })),
  ];
}

/**
 * Builds the continuous state-space model of a thermal network: for every node, C dT/dt = Σ G (T_other − T)
 * + heat inputs (W). Massless nodes are eliminated exactly (Schur complement), so their temperatures are outputs
 * C x + D u. Boundary flows (W) are the heat flowing from the network into the boundary (including heat inputs
 * aimed at the boundary), so Σ heat inputs = d/dt Σ C·T + Σ boundary flows when the weights of each input sum to 1.
 * Throws InvalidParameterError naming the field for negative/NaN capacities or conductances, unknown names,
 * duplicates, or a massless node with no conductive path to a capacity node or a boundary.
 */
export function buildStateSpace(net: ThermalNetwork): StateSpace {
  const { n, nb, refs } = indexNetwork(net);
  const nh = net.heatInputs.length;
  const nu = nb + nh;
  // K: conductance (Laplacian) matrix over nodes; E: input matrix (n × nu): C dT/dt = −K T + E u
  const K = new Float64Array(n * n);
  const E = new Float64Array(n * nu);
  // Boundary flows F = Fn·T + Fu·u (nb × n and nb × nu)
  const Fn = new Float64Array(nb * n);
  const Fu = new Float64Array(nb * nu);
  for (const l of net.links) {
    const g = l.conductanceWK;
    if (g === 0) continue;
    const ra = refs.get(l.a) as Ref;
    const rb = refs.get(l.b) as Ref;
    if (ra.kind === 'node' && rb.kind === 'node') {
      const i = ra.index;
      const j = rb.index;
      K[i * n + i] += g;
      K[j * n + j] += g;
      K[i * n + j] -= g;
      K[j * n + i] -= g;
    } else if (ra.kind === 'node' || rb.kind === 'node') {
      const i = ra.kind === 'node' ? ra.index : rb.index;
      const b = ra.kind === 'boundary' ? ra.index : rb.index;
      K[i * n + i] += g;
      E[i * nu + b] += g;
      Fn[b * n + i] += g;
      Fu[b * nu + b] -= g;
    } else {
      const b1 = ra.index;
      const b2 = rb.index;
      Fu[b1 * nu + b2] += g;
      Fu[b1 * nu + b1] -= g;
      Fu[b2 * nu + b1] += g;
      Fu[b2 * nu + b2] -= g;
    }
  }
  net.heatInputs.forEach((h, k) => {
    const col = nb + k;
    for (const t of h.targets) {
      const r = refs.get(t.node) as Ref;
      if (r.kind === 'node') E[r.index * nu + col] += t.weight;
      else Fu[r.index * nu + col] += t.weight;
    }
  });

  const dyn: number[] = [];
  const mless: number[] = [];
  net.nodes.forEach((nd, i) => (nd.capacityJK > 0 ? dyn : mless).push(i));
  checkMasslessPaths(net, refs, mless);
  const nx = dyn.length;
  const nm = mless.length;

  // Node temperatures T = P x + Q u (n × nx, n × nu)
  const P = new Float64Array(n * nx);
  const Q = new Float64Array(n * nu);
  dyn.forEach((i, s) => (P[i * nx + s] = 1));
  if (nm > 0) {
    const Kmm = new Float64Array(nm * nm);
    const rhs = new Float64Array(nm * (nx + nu)); // [−K_md | E_m]
    for (let a = 0; a < nm; a++) {
      const i = mless[a];
      for (let b = 0; b < nm; b++) Kmm[a * nm + b] = K[i * n + mless[b]];
      for (let s = 0; s < nx; s++) rhs[a * (nx + nu) + s] = -K[i * n + dyn[s]];
      for (let c = 0; c < nu; c++) rhs[a * (nx + nu) + nx + c] = E[i * nu + c];
    }
    let X: Float64Array;
    try {
      X = luSolve(luFactor(Kmm, nm), rhs, nx + nu);
    } catch (e) {
      if (e instanceof SingularMatrixError) throw new InvalidParameterError('links', `massless nodes form a singular system: ${e.message}`);
      throw e;
    }
    for (let a = 0; a < nm; a++) {
      const i = mless[a];
      for (let s = 0; s < nx; s++) P[i * nx + s] = X[a * (nx + nu) + s];
      for (let c = 0; c < nu; c++) Q[i * nu + c] = X[a * (nx + nu) + nx + c];
    }
  }

  // A = C_d⁻¹ (−K_d· P), B = C_d⁻¹ (E_d − K_d· Q): the dynamic rows of −K T + E u with T = P x + Q u
  const A = new Float64Array(nx * nx);
  const B = new Float64Array(nx * nu);
  const capacityJK = new Float64Array(nx);
  dyn.forEach((i, r) => {
    const c = net.nodes[i].capacityJK;
    capacityJK[r] = c;
    for (let j = 0; j < n; j++) {
      const kij = K[i * n + j];
      if (kij === 0) continue;
      for (let s = 0; s < nx; s++) A[r * nx + s] -= kij * P[j * nx + s];
      for (let q = 0; q < nu; q++) B[r * nu + q] -= kij * Q[j * nu + q];
    }
    for (let q = 0; q < nu; q++) B[r * nu + q] += E[i * nu + q];
    for (let s = 0; s < nx; s++) A[r * nx + s] /= c;
    for (let q = 0; q < nu; q++) B[r * nu + q] /= c;
  });

  const outputs = net.outputs ?? defaultOutputs(net);
  const ny = outputs.length;
  const C = new Float64Array(ny * nx);
  const D = new Float64Array(ny * nu);
  const seen = new Set<string>();
  // adds weight × temperature of a node or boundary to output row y
  const addTemp = (y: number, name: string, w: number, field: string): void => {
    const r = refs.get(name);
    if (!r) throw new InvalidParameterError(field, `unknown node or boundary '${name}'`);
    if (r.kind === 'boundary') {
      D[y * nu + r.index] += w;
      return;
    }
    for (let s = 0; s < nx; s++) C[y * nx + s] += w * P[r.index * nx + s];
    for (let q = 0; q < nu; q++) D[y * nu + q] += w * Q[r.index * nu + q];
  };
  outputs.forEach((o, y) => {
    const f = `outputs[${y}]`;
    if (typeof o?.name !== 'string' || o.name === '') throw new InvalidParameterError(`${f}.name`, 'must be a non-empty string');
    if (seen.has(o.name)) throw new InvalidParameterError(`${f}.name`, `duplicate output '${o.name}'`);
    seen.add(o.name);
    switch (o.kind) {
      case 'temperature':
        addTemp(y, o.node, 1, `${f}.node`);
        break;
      case 'combination':
        o.terms.forEach((t, j) => addTemp(y, t.node, requireFinite(`${f}.terms[${j}].weight`, t.weight), `${f}.terms[${j}].node`));
        break;
      case 'boundaryFlow': {
        const r = refs.get(o.boundary);
        if (r?.kind !== 'boundary') throw new InvalidParameterError(`${f}.boundary`, `unknown boundary '${o.boundary}'`);
        const b = r.index;
        for (let i = 0; i < n; i++) {
          const g = Fn[b * n + i];
          if (g === 0) continue;
          for (let s = 0; s < nx; s++) C[y * nx + s] += g * P[i * nx + s];
          for (let q = 0; q < nu; q++) D[y * nu + q] += g * Q[i * nu + q];
        }
        for (let q = 0; q < nu; q++) D[y * nu + q] += Fu[b * nu + q];
        break;
      }
      default: {
        const bad: never = o;
        throw new InvalidParameterError(`${f}.kind`, `unknown output kind '${String((bad as { kind: unknown }).kind)}'`);
      }
    }
  });

  return {
    nx,
    nu,
    ny,
    A,
    B,
    C,
    D,
    stateNames: dyn.map((i) => net.nodes[i].name),
    inputNames: [...net.boundaries, ...net.heatInputs.map((h) => h.name)],
    outputNames: outputs.map((o) => o.name),
    capacityJK,
  };
}

/** Every connected group of massless nodes must reach a capacity node or a boundary through a conductance > 0. */
function checkMasslessPaths(net: ThermalNetwork, refs: ReadonlyMap<string, Ref>, mless: readonly number[]): void {
  if (mless.length === 0) return;
  const isMassless = new Uint8Array(net.nodes.length);
  for (const i of mless) isMassless[i] = 1;
  // union-find over massless nodes
  const parent = net.nodes.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  const anchored = new Uint8Array(net.nodes.length);
  for (const l of net.links) {
    if (l.conductanceWK === 0) continue;
    const ra = refs.get(l.a) as Ref;
    const rb = refs.get(l.b) as Ref;
    const am = ra.kind === 'node' && isMassless[ra.index] === 1;
    const bm = rb.kind === 'node' && isMassless[rb.index] === 1;
    if (am && bm) parent[find(ra.index)] = find(rb.index);
    else if (am) anchored[ra.index] = 1;
    else if (bm) anchored[rb.index] = 1;
  }
  const rootAnchored = new Uint8Array(net.nodes.length);
  for (const i of mless) if (anchored[i]) rootAnchored[find(i)] = 1;
  for (const i of mless) {
    if (!rootAnchored[find(i)]) {
      throw new InvalidParameterError(
        `nodes[${i}]`,
        `massless node '${net.nodes[i].name}' has no conductive path to a capacity node or a boundary (give it a capacity or a conductance)`,
      );
    }
  }
}
