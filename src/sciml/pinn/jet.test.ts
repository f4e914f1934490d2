// Forward Taylor jets against the engine's nested reverse-mode grad().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grad } from '../../autograd/backward.js';
import { tensor, type Tensor } from '../../tensor/tensor.js';
import { mlpJet } from './jet.js';
import { mlpForward, mlpInit, mlpTensors } from './mlp.js';

const widths = [2, 8, 8, 1];
const scale = { lo: [-1, 0], hi: [1, 1] };

test('forward jets equal nested reverse-mode derivatives (u_x .. u_xxxx, u_t) from grad(createGraph)', () => {
  const p = mlpInit(widths, 3);
  const net = mlpTensors(widths, p);
  const xs = [-0.7, -0.1, 0.35, 0.9], ts = [0.1, 0.5, 0.2, 0.8];
  const x = tensor(xs, [4, 1], true), t = tensor(ts, [4, 1], true);
  const u = mlpForward(net, [x, t], scale);
  const derivs: Tensor[] = [];
  let cur = u;
  for (let k = 1; k <= 4; k++) { cur = grad(cur, [x], { createGraph: true })[0]!; derivs.push(cur); }
  const ut = grad(u, [t])[0]!;
  const jet = mlpJet(net, tensor(xs, [4, 1]), tensor(ts, [4, 1]), scale, 4);
  const close = (a: Tensor, b: Tensor, what: string): void => {
    for (let i = 0; i < 4; i++) assert.ok(Math.abs(a.data[i]! - b.data[i]!) <= 2e-4 * (1 + Math.abs(b.data[i]!)), `${what}[${i}]: ${a.data[i]} vs ${b.data[i]}`);
  };
  close(jet.u, u, 'u');
  close(jet.ut, ut, 'u_t');
  derivs.forEach((d, k) => close(jet.ux[k]!, d, `d^${k + 1}u/dx^${k + 1}`));
});

test('parameter gradients through the jet match nested reverse mode for a residual loss', () => {
  const p = mlpInit(widths, 5);
  const xs = [-0.5, 0.2, 0.6], ts = [0.3, 0.7, 0.1];
  // Loss = sum (u_t + u u_x - 0.1 u_xx)^2, by both routes.
  const netA = mlpTensors(widths, p);
  const jet = mlpJet(netA, tensor(xs, [3, 1]), tensor(ts, [3, 1]), scale, 2);
  const la = jet.ut.add(jet.u.mul(jet.ux[0]!)).sub(jet.ux[1]!.mul(0.1)).square().sum();
  const ga = grad(la, [...netA.w, ...netA.b]);
  const netB = mlpTensors(widths, p);
  const x = tensor(xs, [3, 1], true), t = tensor(ts, [3, 1], true);
  const u = mlpForward(netB, [x, t], scale);
  const [ux, ut] = grad(u, [x, t], { createGraph: true }) as [Tensor, Tensor];
  const uxx = grad(ux, [x], { createGraph: true })[0]!;
  const lb = ut.add(u.mul(ux)).sub(uxx.mul(0.1)).square().sum();
  const gb = grad(lb, [...netB.w, ...netB.b]);
  assert.ok(Math.abs(la.item() - lb.item()) < 1e-5 * (1 + lb.item()));
  ga.forEach((g, k) => {
    for (let i = 0; i < g.size; i++) assert.ok(Math.abs(g.data[i]! - gb[k]!.data[i]!) <= 1e-3 * (1 + Math.abs(gb[k]!.data[i]!)), `param ${k}[${i}]`);
  });
});
