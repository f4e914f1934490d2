// Gauss-Hermite quadrature and the Cole-Hopf Burgers solution: exactness, convergence, the PDE itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { burgersBenchmark, burgersExact, gaussHermite } from './cole-hopf.js';

test('Gauss-Hermite integrates x^2k exp(-x^2) exactly: Gamma(k + 1/2)', () => {
  const q = gaussHermite(20);
  let g = Math.sqrt(Math.PI); // Gamma(1/2)
  for (let k = 0; k < 20; k++) {
    let s = 0;
    for (let i = 0; i < 20; i++) s += q.w[i]! * q.x[i]! ** (2 * k);
    assert.ok(Math.abs(s - g) < 1e-12 * g, `k = ${k}: ${s} vs ${g}`);
    g *= k + 0.5;
  }
  const big = gaussHermite(300); // Newton-on-recurrence breaks near n = 200; Golub-Welsch does not
  assert.ok(Math.abs(big.w.reduce((a, b) => a + b, 0) - Math.sqrt(Math.PI)) < 1e-12);
});

test('Cole-Hopf Burgers: converged in the quadrature, boundary and initial conditions hold', () => {
  const nu = 0.01 / Math.PI, q1 = gaussHermite(100), q2 = gaussHermite(250);
  for (const [x, t] of [[0.1, 0.99], [-0.02, 0.5], [0.3, 0.3], [0.001, 0.8]] as const) {
    assert.ok(Math.abs(burgersExact(x, t, nu, q1) - burgersExact(x, t, nu, q2)) < 1e-9, `(${x}, ${t})`);
  }
  for (const t of [0.2, 0.6, 0.99]) {
    assert.ok(Math.abs(burgersExact(1, t, nu, q1)) < 1e-12 && Math.abs(burgersExact(-1, t, nu, q1)) < 1e-12);
  }
  const f = burgersBenchmark({ nx: 33, nt: 5 });
  for (let j = 0; j < 33; j++) assert.ok(Math.abs(f.u[j]! + Math.sin(Math.PI * f.x[j]!)) < 1e-15);
});

test('Cole-Hopf Burgers satisfies u_t + u u_x = nu u_xx (finite-difference residual shrinks as h^2)', () => {
  const nu = 0.01 / Math.PI, q = gaussHermite(150);
  const u = (x: number, t: number): number => burgersExact(x, t, nu, q);
  const residual = (x: number, t: number, h: number): number => {
    const ut = (u(x, t + h) - u(x, t - h)) / (2 * h);
    const ux = (u(x + h, t) - u(x - h, t)) / (2 * h);
    const uxx = (u(x + h, t) - 2 * u(x, t) + u(x - h, t)) / (h * h);
    return ut + u(x, t) * ux - nu * uxx;
  };
  for (const [x, t] of [[0.5, 0.3], [-0.4, 0.7]] as const) {
    const r1 = Math.abs(residual(x, t, 1e-3)), r2 = Math.abs(residual(x, t, 5e-4));
    assert.ok(r2 < 1e-5, `residual ${r2} at (${x}, ${t})`);
    assert.ok(r1 / r2 > 3, `residual must fall like h^2: ${r1} -> ${r2}`);
  }
});
