// Equation discovery on PDE-FIND's Burgers and KdV (clean and noisy), advection-diffusion and KPZ.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { discover, type DiscoverResult } from './discover.js';
import { advectionDiffusion, burgersPeriodic, kdv } from './generators.js';
import { addNoise } from './rng.js';
import type { Field } from './spectral.js';

/** Every true term found within `tol` relative error, and nothing else. */
function check(r: DiscoverResult, truth: Record<string, number>, tol: number, what: string): void {
  const found = Object.fromEntries(r.terms.map((t) => [t.term, t.coef]));
  assert.deepEqual(Object.keys(found).sort(), Object.keys(truth).sort(), `${what}: terms ${JSON.stringify(found)}`);
  for (const [k, v] of Object.entries(truth)) {
    const err = Math.abs(found[k]! / v - 1);
    assert.ok(err < tol, `${what}: ${k} = ${found[k]} (true ${v}), error ${(100 * err).toFixed(2)}% > ${100 * tol}%`);
  }
}
const noisy = (f: Field, p: number): Field => ({ ...f, u: addNoise(f.u, p, 1) });

const burgers = burgersPeriodic();
test("PDE-FIND's Burgers: within 1% clean and 5% at 1% noise, no spurious terms", () => {
  const truth = { 'u*u_x': -1, u_xx: 0.1 };
  const clean = discover(burgers, { maxOrder: 4, bags: 4 });
  assert.equal(clean.diff, 'fd');
  check(clean, truth, 0.01, 'clean');
  const n = discover(noisy(burgers, 0.01), { maxOrder: 4, bags: 4 });
  assert.equal(n.diff, 'poly', 'noise is detected and switches to polynomial derivatives');
  assert.ok(Math.abs(n.noiseEstimate - 0.01) < 0.002, `noise estimate ${n.noiseEstimate}`);
  check(n, truth, 0.05, '1% noise');
});

test('KdV two-soliton: within 2% clean and 10% at 1% noise, no spurious terms', () => {
  const f = kdv();
  const truth = { 'u*u_x': -6, u_xxx: -1 };
  check(discover(f, { maxOrder: 4 }), truth, 0.02, 'clean');
  check(discover(noisy(f, 0.01), { maxOrder: 4, bags: 4 }), truth, 0.1, '1% noise');
});

test('advection-diffusion (not used to tune anything above) is found clean and at 1% noise', () => {
  const f = advectionDiffusion();
  const truth = { u_x: -0.5, u_xx: 0.05 };
  check(discover(f, { maxOrder: 4 }), truth, 0.01, 'clean');
  check(discover(noisy(f, 0.01), { maxOrder: 4 }), truth, 0.05, '1% noise');
});

test('custom terms: a deterministic KPZ equation u_t = 0.1 u_xx + 0.5 u_x^2 is found once u_x^2 is offered', () => {
  // Hopf-Cole: u = (nu / a) ln w with w_t = nu w_xx gives u_t = nu u_xx + a u_x^2, exactly.
  const nu = 0.1, a = 0.5, nx = 128, nt = 51;
  const x = Float64Array.from({ length: nx }, (_, j) => (2 * Math.PI * j) / nx);
  const t = Float64Array.from({ length: nt }, (_, i) => 0.1 * i);
  const u = new Float64Array(nx * nt);
  for (let i = 0; i < nt; i++) for (let j = 0; j < nx; j++) {
    const w = 3 + Math.sin(x[j]!) * Math.exp(-nu * t[i]!) + 0.5 * Math.cos(2 * x[j]!) * Math.exp(-4 * nu * t[i]!);
    u[i * nx + j] = (nu / a) * Math.log(w);
  }
  const r = discover({ x, t, u }, { maxOrder: 3, maxPower: 2, custom: ['u_x*u_x', 'u * u_xx'] });
  const names = r.library.map((l) => l.term);
  assert.ok(names.includes('u_x^2'), names.join(' '));
  assert.equal(names.filter((n) => n === 'u*u_xx').length, 1, 'a custom term equal to a library term is not added twice');
  check(r, { u_xx: nu, 'u_x^2': a }, 0.01, 'KPZ');
});
