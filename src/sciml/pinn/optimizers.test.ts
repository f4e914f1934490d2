// L-BFGS on Rosenbrock and an ill-conditioned quadratic; the first Adam step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Adam, lbfgs, type Objective } from './optimizers.js';

/** Rosenbrock in n dimensions: sum 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2, minimum 0 at all ones. */
const rosenbrock: Objective = (x, g) => {
  let f = 0;
  g.fill(0);
  for (let i = 0; i + 1 < x.length; i++) {
    const a = x[i + 1]! - x[i]! * x[i]!, b = 1 - x[i]!;
    f += 100 * a * a + b * b;
    g[i] = g[i]! - 400 * x[i]! * a - 2 * b;
    g[i + 1] = g[i + 1]! + 200 * a;
  }
  return f;
};

test('L-BFGS solves the 10-D Rosenbrock function to 1e-8 in a few hundred evaluations', () => {
  const x = new Float64Array(10).fill(-1.2);
  const r = lbfgs(rosenbrock, x, { maxIter: 500 });
  assert.ok(r.f < 1e-12, `f = ${r.f} (${r.reason})`);
  for (const v of x) assert.ok(Math.abs(v - 1) < 1e-6);
  assert.ok(r.evaluations < 400, `${r.evaluations} evaluations`);
});

test('L-BFGS reaches the gradient tolerance on a quadratic of condition 1e4 (SciPy L-BFGS-B: 528 iterations)', () => {
  const n = 50, diag = Float64Array.from({ length: n }, (_, i) => 10 ** ((4 * i) / (n - 1)));
  const q: Objective = (x, g) => { let f = 0; for (let i = 0; i < n; i++) { g[i] = diag[i]! * (x[i]! - 1); f += 0.5 * diag[i]! * (x[i]! - 1) ** 2; } return f; };
  const x = new Float64Array(n);
  const r = lbfgs(q, x, { maxIter: 1000, gradTol: 1e-8 });
  assert.equal(r.reason, 'gradient tolerance');
  assert.ok(r.iterations < 700, `${r.iterations} iterations`);
  for (const v of x) assert.ok(Math.abs(v - 1) < 1e-8);
});

test('Adam takes the bias-corrected first step of size lr along -sign(g)', () => {
  const theta = Float64Array.of(1, -2), adam = new Adam(2, 0.1);
  adam.step(theta, Float64Array.of(3, -0.5));
  assert.ok(Math.abs(theta[0]! - 0.9) < 1e-6 && Math.abs(theta[1]! + 1.9) < 1e-6, `${theta}`);
});
