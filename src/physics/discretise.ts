// Exact discretisation of a StateSpace at a step dtS by one Van Loan augmented matrix exponential, plus small
// reference stepping routines (zero-order hold and first-order hold inputs). Time in s, states in °C.
import { InvalidParameterError, requireFinite } from './errors.ts';
import { expm, matmul } from './linalg.ts';
import type { DiscreteStateSpace, StateSpace } from './state-space.ts';

/**
 * A DiscreteStateSpace that also carries the matrix needed for inputs that vary linearly over the step
 * (first-order hold). With u(s) = u0 + s·du on [0, dt]:
 *   x(dt)       = Ad x0 + Bd u0 + Su du
 *   ∫_0^dt x ds = Sx x0 + Su u0 + Sw du
 */
export interface DiscreteStateSpaceFoh extends DiscreteStateSpace {
  /** nx × nu: ∫_0^dt e^{As} (dt − s)²/2 ds · B */
  readonly Sw: Float64Array;
}

/**
 * Discretises the continuous model exactly at step dtS (s > 0): Ad = e^{A dt}, Bd = ∫e^{As}ds·B, Sx = ∫e^{As}ds,
 * Su = ∫∫e^{Ar}dr ds·B and Sw (first-order-hold term), all from one exponential of the 4nx × 4nx matrix
 * [[A dt, I, 0, 0], [0, 0, I, 0], [0, 0, 0, I], [0, 0, 0, 0]], whose first block row is
 * [e^{A dt}, S1/dt, S2/dt², S3/dt³] with S_k = ∫_0^dt e^{As}(dt − s)^{k−1}/(k−1)! ds.
 */
export function discretise(ss: StateSpace, dtS: number): DiscreteStateSpaceFoh {
  requireFinite('dtS', dtS);
  if (!(dtS > 0)) throw new InvalidParameterError('dtS', `must be > 0, got ${dtS}`);
  const { nx, nu } = ss;
  const m = 4 * nx;
  const M = new Float64Array(m * m);
  for (let i = 0; i < nx; i++) {
    for (let j = 0; j < nx; j++) M[i * m + j] = ss.A[i * nx + j] * dtS;
    M[i * m + nx + i] = 1;
    M[(nx + i) * m + 2 * nx + i] = 1;
    M[(2 * nx + i) * m + 3 * nx + i] = 1;
  }
  const E = expm(M, m);
  const Ad = new Float64Array(nx * nx);
  const S1 = new Float64Array(nx * nx);
  const S2 = new Float64Array(nx * nx);
  const S3 = new Float64Array(nx * nx);
  const h2 = dtS * dtS;
  const h3 = h2 * dtS;
  for (let i = 0; i < nx; i++) {
    for (let j = 0; j < nx; j++) {
      Ad[i * nx + j] = E[i * m + j];
      S1[i * nx + j] = E[i * m + nx + j] * dtS;
      S2[i * nx + j] = E[i * m + 2 * nx + j] * h2;
      S3[i * nx + j] = E[i * m + 3 * nx + j] * h3;
    }
  }
  return {
    ...ss,
    dtS,
    Ad,
    Bd: matmul(S1, ss.B, nx, nx, nu),
    Sx: S1,
    Su: matmul(S2, ss.B, nx, nx, nu),
    Sw: matmul(S3, ss.B, nx, nx, nu),
  };
}

/** One exact step with inputs held over the step: xOut = Ad x + Bd u (°C). `xOut` must not alias `x`. */
export function stepDiscrete<T extends Float64Array>(d: DiscreteStateSpace, x: ArrayLike<number>, u: ArrayLike<number>, xOut: T): T {
  const { nx, nu, Ad, Bd } = d;
  for (let i = 0; i < nx; i++) {
    let s = 0;
    for (let j = 0; j < nx; j++) s += Ad[i * nx + j] * x[j];
    for (let j = 0; j < nu; j++) s += Bd[i * nu + j] * u[j];
    xOut[i] = s;
  }
  return xOut;
}

/** Exact integral of the state over one step with inputs held: intOut = Sx x + Su u (°C·s). */
export function integrateDiscrete<T extends Float64Array>(d: DiscreteStateSpace, x: ArrayLike<number>, u: ArrayLike<number>, intOut: T): T {
  const { nx, nu, Sx, Su } = d;
  for (let i = 0; i < nx; i++) {
    let s = 0;
    for (let j = 0; j < nx; j++) s += Sx[i * nx + j] * x[j];
    for (let j = 0; j < nu; j++) s += Su[i * nu + j] * u[j];
    intOut[i] = s;
  }
  return intOut;
}

/**
 * One exact step with inputs varying linearly from u0 (start) to u1 (end of the step): writes the end state
 * (°C) into xOut and, when given, the exact state integral over the step (°C·s) into intOut. Neither may alias x.
 */
export function stepLinearInput(
  d: DiscreteStateSpaceFoh,
  x: ArrayLike<number>,
  u0: ArrayLike<number>,
  u1: ArrayLike<number>,
  xOut: Float64Array,
  intOut?: Float64Array,
): void {
  const { nx, nu, Ad, Bd, Sx, Su, Sw, dtS } = d;
  for (let i = 0; i < nx; i++) {
    let s = 0;
    let q = 0;
    for (let j = 0; j < nx; j++) {
      s += Ad[i * nx + j] * x[j];
      q += Sx[i * nx + j] * x[j];
    }
    for (let j = 0; j < nu; j++) {
      const a = u0[j];
      const du = (u1[j] - a) / dtS;
      s += Bd[i * nu + j] * a + Su[i * nu + j] * du;
      q += Su[i * nu + j] * a + Sw[i * nu + j] * du;
    }
    xOut[i] = s;
    if (intOut) intOut[i] = q;
  }
}

/**
 * Outputs y = C x + D u of a model (°C or W) into yOut. Works for continuous and discrete models alike.
 */
export function outputs<T extends Float64Array>(ss: StateSpace, x: ArrayLike<number>, u: ArrayLike<number>, yOut: T): T {
  const { nx, nu, ny, C, D } = ss;
  for (let i = 0; i < ny; i++) {
    let s = 0;
    for (let j = 0; j < nx; j++) s += C[i * nx + j] * x[j];
    for (let j = 0; j < nu; j++) s += D[i * nu + j] * u[j];
    yOut[i] = s;
  }
  return yOut;
}
