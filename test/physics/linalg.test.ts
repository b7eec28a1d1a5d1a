// Tests of the dense linear algebra: products, LU solves and inverses, and expm against analytic exponentials.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { expm, identity, inverse, matmul, matvec, norm1, SingularMatrixError, solve } from '../../src/physics/linalg.ts';

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what = ''): void {
  assert.equal(actual.length, expected.length, `${what} length`);
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    assert.ok(err <= tol * (1 + Math.abs(expected[i])), `${what}[${i}]: ${actual[i]} vs ${expected[i]} (err ${err})`);
  }
}
const F = (a: number[]): Float64Array => Float64Array.from(a);

test('matmul and matvec compute row-major products', () => {
  const a = F([1, 2, 3, 4, 5, 6]); // 2×3
  const b = F([7, 8, 9, 10, 11, 12]); // 3×2
  close(matmul(a, b, 2, 3, 2), [58, 64, 139, 154], 0);
  close(matvec(a, [1, 0, -1], 2, 3), [-2, -2], 0);
  assert.equal(norm1(a, 2, 3), 9);
  assert.throws(() => matmul(a, b, 2, 3, 2, a), RangeError);
});

test('solve and inverse by LU with pivoting', () => {
  const a = F([0, 2, 1, 1, 1, 1, 2, 1, 0]); // needs pivoting (a00 = 0)
  const x = solve(a, F([3, 3, 3]), 3, 1);
  close(matvec(a, x, 3, 3), [3, 3, 3], 1e-14);
  const inv = inverse(a, 3);
  close(matmul(a, inv, 3, 3, 3), identity(3), 1e-14);
  assert.throws(() => inverse(F([1, 2, 2, 4]), 2), SingularMatrixError);
});

test('expm of a diagonal matrix is the exponential of the diagonal', () => {
  for (const d of [[0.001, -0.002], [1, -1], [-50, 3], [-700, -0.5]]) {
    const e = expm(F([d[0], 0, 0, d[1]]), 2);
    close(e, [Math.exp(d[0]), 0, 0, Math.exp(d[1])], 1e-13, `diag ${d.join(',')}`);
  }
});

test('expm of a nilpotent and of a rotation generator match closed forms', () => {
  close(expm(F([0, 1, 0, 0]), 2), [1, 1, 0, 1], 1e-15, 'nilpotent');
  close(expm(F([0, 5, 0, 0, 0, 7, 0, 0, 0]), 3), [1, 5, 17.5, 0, 1, 7, 0, 0, 1], 1e-14, 'nilpotent 3');
  for (const th of [0.01, 0.3, 1, 2.5, 40]) {
    // small norms take the Padé 3..9 paths, large ones the scaled Padé 13 path
    const e = expm(F([0, -th, th, 0]), 2);
    close(e, [Math.cos(th), -Math.sin(th), Math.sin(th), Math.cos(th)], 1e-12, `rotation ${th}`);
  }
});

test('expm of a 2×2 with distinct real eigenvalues (a thermal two-node system)', () => {
  // A = [[-a, a], [b, -b]] has eigenvalues 0 and -(a+b): e^A = I + (1 - e^{-(a+b)})/(a+b) · A
  for (const [a, b] of [
    [0.2, 0.05],
    [3, 7],
    [120, 0.01],
  ]) {
    const A = F([-a, a, b, -b]);
    const s = a + b;
    const f = (1 - Math.exp(-s)) / s;
    close(expm(A, 2), [1 - f * a, f * a, f * b, 1 - f * b], 1e-13, `a=${a} b=${b}`);
  }
});

test('property: expm(A)·expm(−A) = I and expm(2A) = expm(A)² for random small matrices', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5 }), fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 25, maxLength: 25 }), (n, vals) => {
      const A = F(vals.slice(0, n * n));
      const neg = A.map((v) => -v);
      const two = A.map((v) => 2 * v);
      const e = expm(A, n);
      const tol = 1e-11 * Math.exp(2 * norm1(A, n));
      close(matmul(e, expm(neg, n), n, n, n), identity(n), tol, 'e^A e^-A');
      close(expm(two, n), matmul(e, e, n, n, n), tol, 'e^2A');
    }),
    { numRuns: 200 },
  );
});

test('expm rejects non-finite entries', () => {
  assert.throws(() => expm(F([NaN, 0, 0, 1]), 2), RangeError);
});
