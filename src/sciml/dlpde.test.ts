// DL-PDE: discovery from the derivatives of a fitted network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { discover } from './discover.js';
import { fitNetwork, networkDerivatives } from './dlpde.js';

test('DL-PDE: derivatives of a network fitted to a travelling wave are accurate and give u_t = -0.5 u_x', () => {
  const nx = 32, nt = 16;
  const x = Float64Array.from({ length: nx }, (_, j) => (j * 2 * Math.PI) / nx), t = Float64Array.from({ length: nt }, (_, i) => i * 0.1);
  const u = new Float64Array(nx * nt);
  for (let i = 0; i < nt; i++) for (let j = 0; j < nx; j++) u[i * nx + j] = Math.sin(x[j]! - 0.5 * t[i]!);
  const f = { x, t, u };
  const fit = fitNetwork(f, { widths: [2, 16, 16, 1], adamSteps: 400, lbfgsSteps: 300, batch: 512 });
  assert.ok(fit.mse < 1e-4, `fit mse ${fit.mse}`);
  const d = networkDerivatives(f, fit, 2);
  let e = 0, s = 0;
  for (let i = 0; i < nt; i++) for (let j = 0; j < nx; j++) { const c = Math.cos(x[j]! - 0.5 * t[i]!); e += (d.ux[0]![i * nx + j]! - c) ** 2; s += c * c; }
  assert.ok(Math.sqrt(e / s) < 0.03, `u_x relative error ${Math.sqrt(e / s)}`);
  const r = discover(f, { maxOrder: 2, maxPower: 2, derivatives: d, bags: 0 });
  assert.equal(r.diff, 'given');
  assert.deepEqual(r.terms.map((q) => q.term), ['u_x']);
  assert.ok(Math.abs(r.terms[0]!.coef + 0.5) < 0.01, `${r.terms[0]!.coef}`);
});
