// Dense linear algebra on row-major Float64Arrays for the thermal models: products, LU solves and inverses,
// and the matrix exponential (Padé 13 with scaling and squaring, Higham 2005). Dimensionless: units are the caller's.

/** An n × n identity matrix (row-major). */
export function identity(n: number): Float64Array {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}

/**
 * Matrix product C = A·B with A n×m and B m×p (row-major). Writes into `out` (n×p) when given; `out` must not
 * alias A or B. Returns C.
 */
export function matmul(a: Float64Array, b: Float64Array, n: number, m: number, p: number, out?: Float64Array): Float64Array {
  if (a.length < n * m) throw new RangeError(`matmul: A has ${a.length} entries, need ${n * m}`);
  if (b.length < m * p) throw new RangeError(`matmul: B has ${b.length} entries, need ${m * p}`);
  const c = out ?? new Float64Array(n * p);
  if (c === a || c === b) throw new RangeError('matmul: out must not alias an operand');
  c.fill(0, 0, n * p);
  for (let i = 0; i < n; i++) {
    const ci = i * p;
    for (let k = 0; k < m; k++) {
      const aik = a[i * m + k];
      if (aik === 0) continue;
      const bk = k * p;
      for (let j = 0; j < p; j++) c[ci + j] += aik * b[bk + j];
    }
  }
  return c;
}

/** Matrix–vector product y = A·x with A n×m. Writes into `out` when given (must not alias x). */
export function matvec(a: Float64Array, x: ArrayLike<number>, n: number, m: number, out?: Float64Array): Float64Array {
  const y = out ?? new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    const ai = i * m;
    for (let k = 0; k < m; k++) s += a[ai + k] * x[k];
    y[i] = s;
  }
  return y;
}

/** Induced 1-norm (maximum absolute column sum) of an n×m matrix. */
export function norm1(a: Float64Array, n: number, m: number = n): number {
  let best = 0;
  for (let j = 0; j < m; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.abs(a[i * m + j]);
    if (s > best || Number.isNaN(s)) best = s;
  }
  return best;
}

/** An LU factorisation with partial pivoting: P·A = L·U, L unit lower (below the diagonal of `lu`), U upper. */
export interface LuFactors {
  readonly n: number;
  /** L and U packed row-major in one n×n array. */
  readonly lu: Float64Array;
  /** Row i of P·A is row piv[i] of A. */
  readonly piv: Int32Array;
}

/** Thrown when a matrix is singular to working precision. */
export class SingularMatrixError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SingularMatrixError';
  }
}

/**
 * LU factorisation with partial pivoting of the n×n matrix A (not modified). Throws SingularMatrixError when a
 * pivot is zero or negligible relative to the column scale (|pivot| ≤ n·ε·max|A|).
 */
export function luFactor(a: Float64Array, n: number): LuFactors {
  const lu = Float64Array.from(a.subarray(0, n * n));
  const piv = new Int32Array(n);
  for (let i = 0; i < n; i++) piv[i] = i;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale = Math.max(scale, Math.abs(lu[i]));
  const tiny = scale * n * Number.EPSILON;
  for (let k = 0; k < n; k++) {
    let p = k;
    let best = Math.abs(lu[k * n + k]);
    for (let i = k + 1; i < n; i++) {
      const v = Math.abs(lu[i * n + k]);
      if (v > best) {
        best = v;
        p = i;
      }
    }
    if (!(best > tiny)) throw new SingularMatrixError(`matrix is singular (pivot ${k} is ${best})`);
    if (p !== k) {
      for (let j = 0; j < n; j++) {
        const t = lu[k * n + j];
        lu[k * n + j] = lu[p * n + j];
        lu[p * n + j] = t;
      }
      const t = piv[k];
      piv[k] = piv[p];
      piv[p] = t;
    }
    const d = lu[k * n + k];
    for (let i = k + 1; i < n; i++) {
      const f = (lu[i * n + k] /= d);
      if (f === 0) continue;
      for (let j = k + 1; j < n; j++) lu[i * n + j] -= f * lu[k * n + j];
    }
  }
  return { n, lu, piv };
}

/** Solves A·X = B for X given the LU factors of A; B is n×nrhs (row-major). Returns a new n×nrhs array. */
export function luSolve(f: LuFactors, b: Float64Array, nrhs: number): Float64Array {
  const { n, lu, piv } = f;
  const x = new Float64Array(n * nrhs);
  for (let i = 0; i < n; i++) {
    const src = piv[i] * nrhs;
    for (let j = 0; j < nrhs; j++) x[i * nrhs + j] = b[src + j];
  }
  // forward substitution with unit L
  for (let i = 1; i < n; i++) {
    for (let k = 0; k < i; k++) {
      const l = lu[i * n + k];
      if (l === 0) continue;
      for (let j = 0; j < nrhs; j++) x[i * nrhs + j] -= l * x[k * nrhs + j];
    }
  }
  // back substitution with U
  for (let i = n - 1; i >= 0; i--) {
    for (let k = i + 1; k < n; k++) {
      const u = lu[i * n + k];
      if (u === 0) continue;
      for (let j = 0; j < nrhs; j++) x[i * nrhs + j] -= u * x[k * nrhs + j];
    }
    const d = lu[i * n + i];
    for (let j = 0; j < nrhs; j++) x[i * nrhs + j] /= d;
  }
  return x;
}

/** Solves A·X = B (A n×n, B n×nrhs) by LU with partial pivoting. Throws SingularMatrixError if A is singular. */
export function solve(a: Float64Array, b: Float64Array, n: number, nrhs: number): Float64Array {
  return luSolve(luFactor(a, n), b, nrhs);
}

/** Inverse of the n×n matrix A by LU with partial pivoting. Throws SingularMatrixError if A is singular. */
export function inverse(a: Float64Array, n: number): Float64Array {
  return luSolve(luFactor(a, n), identity(n), n);
}

// Padé coefficients b_0..b_m for the degrees of Higham (2005), and the 1-norm bounds θ_m up to which degree m
// reaches unit roundoff in double precision without scaling.
const PADE: Readonly<Record<number, readonly number[]>> = {
  3: [120, 60, 12, 1],
  5: [30240, 15120, 3360, 420, 30, 1],
  7: [17297280, 8648640, 1995840, 277200, 25200, 1512, 56, 1],
  9: [17643225600, 8821612800, 2075673600, 302702400, 30270240, 2162160, 110880, 3960, 90, 1],
  13: [
    64764752532480000, 32382376266240000, 7771770303897600, 1187353796428800, 129060195264000, 10559470521600,
    670442572800, 33522128640, 1323241920, 40840800, 960960, 16380, 182, 1,
  ],
};
const THETA: readonly (readonly [number, number])[] = [
  [3, 1.495585217958292e-2],
  [5, 2.539398330063230e-1],
  [7, 9.504178996162932e-1],
  [9, 2.097847961257068],
];
const THETA13 = 5.371920351148152;

/** out = Σ c_i M_i + c0·I for n×n matrices (helper of the Padé evaluation). */
function lincomb(n: number, c0: number, terms: readonly (readonly [number, Float64Array])[]): Float64Array {
  const out = new Float64Array(n * n);
  for (const [c, m] of terms) {
    if (c === 0) continue;
    for (let i = 0; i < n * n; i++) out[i] += c * m[i];
  }
  for (let i = 0; i < n; i++) out[i * n + i] += c0;
  return out;
}

/**
 * Matrix exponential e^A of the n×n matrix A (row-major) by the scaling-and-squaring algorithm with Padé
 * approximants of degree 3, 5, 7, 9 or 13 (Higham, SIAM J. Matrix Anal. Appl. 26(4), 2005). A is dimensionless
 * (for a system matrix, pass A·dt). Throws RangeError on non-finite entries.
 */
export function expm(a: Float64Array, n: number): Float64Array {
  if (n === 0) return new Float64Array(0);
  for (let i = 0; i < n * n; i++) {
    if (!Number.isFinite(a[i])) throw new RangeError(`expm: entry ${i} is not finite (${a[i]})`);
  }
  const nrm = norm1(a, n);
  const a2 = matmul(a, a, n, n, n);
  for (const [m, theta] of THETA) {
    if (nrm <= theta) {
      const b = PADE[m];
      // U = A·(Σ b_{2k+1} A^{2k}), V = Σ b_{2k} A^{2k}
      const powers: Float64Array[] = [identity(n), a2];
      for (let k = 2; 2 * k <= m; k++) powers.push(matmul(powers[k - 1], a2, n, n, n));
      const uTerms: [number, Float64Array][] = [];
      const vTerms: [number, Float64Array][] = [];
      for (let k = 1; 2 * k <= m; k++) {
        uTerms.push([b[2 * k + 1], powers[k]]);
        vTerms.push([b[2 * k], powers[k]]);
      }
      const u = matmul(a, lincomb(n, b[1], uTerms), n, n, n);
      const v = lincomb(n, b[0], vTerms);
      return padeSolve(u, v, n);
    }
  }
  const s = Math.max(0, Math.ceil(Math.log2(nrm / THETA13)));
  const scale = 2 ** -s;
  const as = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) as[i] = a[i] * scale;
  const b = PADE[13];
  const s2 = scale * scale;
  const A2 = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) A2[i] = a2[i] * s2;
  const A4 = matmul(A2, A2, n, n, n);
  const A6 = matmul(A4, A2, n, n, n);
  const inner1 = lincomb(n, 0, [
    [b[13], A6],
    [b[11], A4],
    [b[9], A2],
  ]);
  const t1 = matmul(A6, inner1, n, n, n);
  const sumU = lincomb(n, b[1], [
    [1, t1],
    [b[7], A6],
    [b[5], A4],
    [b[3], A2],
  ]);
  const u = matmul(as, sumU, n, n, n);
  const inner2 = lincomb(n, 0, [
    [b[12], A6],
    [b[10], A4],
    [b[8], A2],
  ]);
  const t2 = matmul(A6, inner2, n, n, n);
  const v = lincomb(n, b[0], [
    [1, t2],
    [b[6], A6],
    [b[4], A4],
    [b[2], A2],
  ]);
  let r: Float64Array = padeSolve(u, v, n);
  let tmp: Float64Array = new Float64Array(n * n);
  for (let k = 0; k < s; k++) {
    matmul(r, r, n, n, n, tmp);
    const t = r;
    r = tmp;
    tmp = t;
  }
  return r;
}

/** Solves (V − U)·R = (V + U) for the Padé approximant R. */
function padeSolve(u: Float64Array, v: Float64Array, n: number): Float64Array {
  const p = new Float64Array(n * n);
  const q = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) {
    p[i] = v[i] + u[i];
    q[i] = v[i] - u[i];
  }
  return solve(q, p, n, n);
}
