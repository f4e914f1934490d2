// Data generators against exact solutions and by self-convergence at the expected order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { burgersExact, gaussHermite } from './cole-hopf.js';
import { burgersPeriodic, kdv, kdvTwoSoliton } from './generators.js';
import { solveSpectral } from './spectral.js';

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

test('KdV: ETDRK4 matches the exact two-soliton and converges at fourth order in time', () => {
  const opts = { nt: 3, tEnd: 12 }; // through the collision near t = 11
  const errs = [200, 400].map((steps) => { // h = 0.03 and 0.015
    const f = kdv({ ...opts, steps });
    const exact = new Float64Array(f.u.length);
    for (let i = 0; i < f.t.length; i++) for (let j = 0; j < f.x.length; j++) exact[i * f.x.length + j] = kdvTwoSoliton(f.x[j]!, f.t[i]!);
    return maxAbs(f.u, exact);
  });
  assert.ok(errs[1]! < 1e-4, `error ${errs[1]} against the exact solution (amplitude 0.98)`);
  const order = Math.log2(errs[0]! / errs[1]!);
  assert.ok(order > 3.5 && order < 5.5, `observed order ${order.toFixed(2)}, errors ${errs.join(', ')}`);
});

test('KdV on the default grid (512 x 201, h = 0.005) is within 1e-4 of the exact solution', () => {
  const f = kdv();
  assert.equal(f.u.length, 512 * 201);
  let err = 0;
  for (let i = 0; i < f.t.length; i++) for (let j = 0; j < f.x.length; j++) err = Math.max(err, Math.abs(f.u[i * f.x.length + j]! - kdvTwoSoliton(f.x[j]!, f.t[i]!)));
  assert.ok(err < 1e-4, `max error ${err}`);
});

test('Burgers (PDE-FIND grid): fourth-order self-convergence in time, mass conserved', () => {
  const coarse = [4, 8].map((steps) => burgersPeriodic({ nt: 11, steps }));
  const fine = burgersPeriodic({ nt: 11, steps: 64 });
  const e1 = maxAbs(coarse[0]!.u, fine.u), e2 = maxAbs(coarse[1]!.u, fine.u);
  const order = Math.log2(e1 / e2);
  assert.ok(order > 3.3, `observed order ${order.toFixed(2)} (${e1}, ${e2})`);
  const nx = fine.x.length;
  const mass = (i: number): number => fine.u.subarray(i * nx, (i + 1) * nx).reduce((s, v) => s + v, 0);
  assert.ok(Math.abs(mass(10) - mass(0)) < 1e-10 * Math.abs(mass(0)), 'the integral of u is invariant');
  assert.equal(fine.x.length, 256);
  assert.equal(fine.x[0], -8);
});

test('spectral Burgers and the Cole-Hopf formula agree (two independent methods), spectrally in n', () => {
  const nu = 0.1 / Math.PI, times = [0.25, 0.75];
  const q = gaussHermite(120);
  const errs = [32, 64, 128].map((n) => {
    const f = solveSpectral({ n, x0: -1, length: 2, linear: (k) => [-nu * k * k, 0], flux: (u) => 0.5 * u * u, u0: (x) => -Math.sin(Math.PI * x) }, times, 50);
    let e = 0;
    for (let i = 0; i < times.length; i++) for (let j = 0; j < n; j++) e = Math.max(e, Math.abs(f.u[i * n + j]! - burgersExact(f.x[j]!, times[i]!, nu, q)));
    return e;
  });
  assert.ok(errs[2]! < 1e-6, `errors ${errs.join(', ')}`);
  assert.ok(errs[0]! / errs[1]! > 10 && errs[1]! / errs[2]! > 10, `errors must fall fast with n: ${errs.join(', ')}`);
});
