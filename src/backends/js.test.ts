// The js reference backend against literal values, so that the reference every other backend is compared with
// (conformance.test.ts) is itself checked independently: overflow, NaN, GELU at known points, GEMM per transpose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GemmArgs } from './backend.js';
import { JsBackend } from './js.js';

const js = new JsBackend();
const f32 = (xs: number[]): Float32Array => Float32Array.from(xs);
const close = (got: Float32Array, want: number[], tol: number, what: string): void => {
  assert.equal(got.length, want.length, what);
  want.forEach((w, i) => assert.ok(Math.abs(got[i]! - w) <= tol, `${what}[${i}]: ${got[i]} vs ${w}`));
};

test('softmax: large equal logits do not overflow ([100, 100] -> [0.5, 0.5]); a row is shifted by its max', () => {
  const out = new Float32Array(4);
  js.softmax(f32([100, 100, 1000, 0]), 2, 2, out);
  assert.deepEqual(Array.from(out), [0.5, 0.5, 1, 0]);
  const log = new Float32Array(2);
  js.logSoftmax(f32([100, 100]), 1, 2, log);
  close(log, [-Math.LN2, -Math.LN2], 1e-7, 'logSoftmax');
  js.softmax(f32([-Infinity, 0]), 1, 2, log);
  assert.deepEqual(Array.from(log), [0, 1]);
});

test('NaN propagates through softmax (its row only), element-wise ops, sums and sums of squares', () => {
  const out = new Float32Array(4);
  js.softmax(f32([NaN, 1, 2, 2]), 2, 2, out);
  assert.ok(Number.isNaN(out[0]!) && Number.isNaN(out[1]!), `NaN row: ${Array.from(out)}`);
  assert.deepEqual(Array.from(out.subarray(2)), [0.5, 0.5]);
  for (const op of ['exp', 'log', 'tanh', 'sigmoid', 'gelu', 'silu', 'sqrt'] as const) {
    const y = new Float32Array(2);
    js.unary(op, f32([NaN, 1]), y);
    assert.ok(Number.isNaN(y[0]!) && !Number.isNaN(y[1]!), `${op}(NaN): ${Array.from(y)}`);
  }
  const s = new Float32Array(1);
  js.reduce('sum', f32([1, NaN, 2]), 1, 3, 1, s);
  assert.ok(Number.isNaN(s[0]!));
  assert.ok(Number.isNaN(js.sumSquares(f32([3, NaN]))));
});

test('gelu (tanh form, Hendrycks & Gimpel 2016) at known points', () => {
  const y = new Float32Array(6);
  js.unary('gelu', f32([0, 1, -1, 2, -3, 0.5]), y);
  close(y, [0, 0.8411919906, -0.1588080094, 1.9545976941, -0.0036373921, 0.3457140098], 1e-6, 'gelu');
});

test('gemm: a 2x2 product for each transpose, with alpha and beta', () => {
  // A = [[1, 2], [3, 4]], B = [[5, 6], [7, 8]], row-major.
  const cases: [boolean, boolean, number[]][] = [
    [false, false, [19, 22, 43, 50]], // A B
    [true, false, [26, 30, 38, 44]], // A^T B
    [false, true, [17, 23, 39, 53]], // A B^T
    [true, true, [23, 31, 34, 46]], // A^T B^T
  ];
  for (const [transA, transB, want] of cases) {
    const base: GemmArgs = { transA, transB, m: 2, n: 2, k: 2, alpha: 1, beta: 0, lda: 2, ldb: 2, ldc: 2,
      strideA: 0, strideB: 0, strideC: 0, batch: 1, a: f32([1, 2, 3, 4]), b: f32([5, 6, 7, 8]), c: new Float32Array(4) };
    js.gemm(base);
    assert.deepEqual(Array.from(base.c), want, `transA ${transA} transB ${transB}`);
    // C = 0.5 A B + 2 C
    const c = f32([1, 1, 1, 1]);
    js.gemm({ ...base, alpha: 0.5, beta: 2, c });
    assert.deepEqual(Array.from(c), want.map((w) => 0.5 * w + 2), `alpha/beta, transA ${transA} transB ${transB}`);
  }
});
