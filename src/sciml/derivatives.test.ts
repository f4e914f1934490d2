// Finite-difference and local-polynomial stencils: textbook weights, design orders, noise gain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyStencil, centralStencil, fornberg, polynomialStencil } from './derivatives.js';
import { Rng } from '../tensor/random.js';

test('Fornberg weights reproduce the textbook stencils', () => {
  assert.deepEqual(Array.from(fornberg([-1, 0, 1], 2)), [1, -2, 1]);
  const d1 = fornberg([-2, -1, 0, 1, 2], 1).map((v) => v * 12);
  [1, -8, 0, 8, -1].forEach((v, i) => assert.ok(Math.abs(d1[i]! - v) < 1e-12));
  const d3 = centralStencil(3, 4).weights.map((v) => v * 8); // (u_-3 - 8u_-2 + 13u_-1 - 13u_1 + 8u_2 - u_3) / 8h^3
  [1, -8, 13, 0, -13, 8, -1].forEach((v, i) => assert.ok(Math.abs(d3[i]! - v) < 1e-12, `${d3[i]} vs ${v}`));
});

test('central differences converge at their design order for derivatives 1 to 4', () => {
  for (const acc of [2, 4]) for (let d = 1; d <= 4; d++) {
    const errs = [0.1, 0.05].map((h) => {
      const s = centralStencil(d, acc);
      let v = 0;
      for (let q = -s.half; q <= s.half; q++) v += s.weights[q + s.half]! * Math.sin(0.7 + q * h);
      const exact = [Math.cos, (x: number) => -Math.sin(x), (x: number) => -Math.cos(x), Math.sin][d - 1]!(0.7);
      return Math.abs(v / h ** d - exact);
    });
    const order = Math.log2(errs[0]! / errs[1]!);
    assert.ok(Math.abs(order - acc) < 0.3, `d=${d} acc=${acc}: order ${order.toFixed(2)}`);
  }
});

test('polynomial stencils differentiate polynomials up to their degree exactly and average out noise', () => {
  const s = polynomialStencil(2, 6, 4);
  const p = (x: number): number => 3 - x + 0.5 * x * x - 0.2 * x ** 3 + 0.01 * x ** 4;
  let v = 0;
  for (let q = -6; q <= 6; q++) v += s.weights[q + 6]! * p(1 + q * 0.1);
  assert.ok(Math.abs(v / 0.01 - (1 - 1.2 + 0.12)) < 1e-9, `p''(1) = ${v / 0.01}`);
  // Smoothing (d = 0) of white noise: variance shrinks by sum(w^2) < 1.
  const sm = polynomialStencil(0, 10, 4);
  const gain = sm.weights.reduce((a, w) => a + w * w, 0);
  assert.ok(gain < 0.2, `noise gain ${gain}`);
  const rng = new Rng(5), n = 4000;
  const data = Float64Array.from({ length: n }, () => rng.normal());
  const out = applyStencil({ nt: 1, nx: n, data }, sm, 1, 1).data.filter(Number.isFinite);
  const varOut = out.reduce((a, x) => a + x * x, 0) / out.length;
  assert.ok(Math.abs(varOut / gain - 1) < 0.15, `measured gain ${varOut} vs ${gain}`);
});

test('applyStencil works along t and marks points without a full stencil as NaN', () => {
  const nt = 7, nx = 3, data = new Float64Array(nt * nx);
  for (let i = 0; i < nt; i++) for (let j = 0; j < nx; j++) data[i * nx + j] = (i * 0.5) ** 2 + j;
  const g = applyStencil({ nt, nx, data }, centralStencil(1, 2), 0, 0.5);
  assert.ok(Number.isNaN(g.data[0]!) && Number.isNaN(g.data[(nt - 1) * nx]!));
  for (let i = 1; i < nt - 1; i++) for (let j = 0; j < nx; j++) assert.ok(Math.abs(g.data[i * nx + j]! - 2 * i * 0.5) < 1e-12);
});
