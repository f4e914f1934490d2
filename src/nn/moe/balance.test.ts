// Balancing without the auxiliary loss (the router bias), the sequence-wise balance loss, and
// shared experts: what each changes and what it leaves alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../tensor/tensor.js';
import { Rng } from '../../tensor/random.js';
import { gradcheckParams } from '../../autograd/gradcheck.js';
import { expertLoad } from './dispatch.js';
import { Router, balanceLoss, sequenceBalanceLoss } from './router.js';
import { MoELayer } from './layer.js';

/** Busiest expert's load over the balanced load n k / E. */
function imbalance(load: Int32Array, k: number, n: number): number {
  return (Math.max(...load) * load.length) / (n * k);
}

test('the bias update balances a skewed router; gates stay the unbiased probabilities', () => {
  const rng = new Rng(3);
  const n = 256, e = 8, k = 2, d = 6;
  const router = new Router(d, e, k, 'topk', rng, 0, true);
  // Input feature d-1 is a constant 1 whose weights favour experts 0 and 1 for every token.
  router.weight.data.forEach((_, i, a) => { a[i] = rng.normal() + (i >= (d - 1) * e && i % e < 2 ? 2 : 0); });
  const x = tensor(Array.from({ length: n * d }, (_, i) => (i % d === d - 1 ? 1 : rng.normal())), [n, d]);
  const before = imbalance(expertLoad(router.forward(x, rng), e), k, n);
  assert.ok(before > 2, `the synthetic router is skewed (${before})`);
  // The sign update oscillates around balance: judge the mean over the last 50 of 600 steps.
  let late = 0;
  for (let step = 0; step < 600; step++) {
    const load = expertLoad(router.forward(x, rng), e);
    if (step >= 550) late += imbalance(load, k, n) / 50;
    router.updateBias(Array.from(load), 0.001);
  }
  assert.ok(late < 1.4, `busiest expert ${late}x balanced after the updates (was ${before}x)`);
  const r = router.forward(x, rng);
  // The gates are the router's probabilities at the chosen experts, renormalized; the bias is not in them.
  for (let i = 0; i < n; i++) {
    const p = [0, 1].map((j) => r.probs.data[i * e + r.experts[i * k + j]!]!);
    for (let j = 0; j < k; j++) assert.ok(Math.abs(r.gates.data[i * k + j]! - p[j]! / (p[0]! + p[1]!)) < 1e-6);
  }
});

test('the bias update moves each expert by the rate towards the mean load, not at all when balanced', () => {
  const router = new Router(2, 4, 1, 'topk', new Rng(1), 0, true);
  router.updateBias([10, 2, 4, 0], 0.001); // mean 4
  assert.deepEqual(Array.from(router.bias!.data), [-0.001, 0.001, 0, 0.001].map(Math.fround));
  assert.equal(new Router(2, 4, 1, 'topk', new Rng(1)).bias, null, 'no bias unless asked for');
});

test('sequence-wise balance loss: the mean of each sequence\'s Switch loss; one sequence is the batch loss', async () => {
  const rng = new Rng(5);
  const router = new Router(4, 4, 2, 'topk', rng);
  router.weight.data.forEach((_, i, a) => { a[i] = rng.normal(); });
  const x = tensor(Array.from({ length: 12 * 4 }, () => rng.normal()), [12, 4]);
  const r = router.forward(x, rng);
  const seqLoss = (await sequenceBalanceLoss(r, 4, 4)).item();
  let want = 0;
  for (let s = 0; s < 3; s++) {
    const part = { ...r, first: r.first.subarray(s * 4, s * 4 + 4), probs: r.probs.rows(s * 4, 4) };
    want += (await balanceLoss(part, 4)).item() / 3;
  }
  assert.ok(Math.abs(seqLoss - want) < 1e-5, `${seqLoss} vs ${want}`);
  assert.ok(Math.abs((await sequenceBalanceLoss(r, 4, 12)).item() - (await balanceLoss(r, 4)).item()) < 1e-5);
});

test('an MoE layer with shared experts, the router bias and the sequence-wise loss: gradient matches finite differences', async () => {
  const rng = new Rng(4);
  const layer = new MoELayer({ dim: 4, hidden: 6, numExperts: 3, topK: 2, gate: 'topk', capacityFactor: 0, routerBias: true,
    balance: 'sequence', sharedHidden: 6 }, rng, 0.5);
  for (const p of layer.parameters()) if (p.requiresGrad) p.data.forEach((_, i, a) => { a[i] = rng.normal() * 0.5; });
  layer.router.weight.data.forEach((_, i, a) => { a[i] = rng.normal() * 3; }); // decisive routing
  layer.router.bias!.data.set([0.3, -0.2, 0]);
  const x = tensor(Array.from({ length: 24 }, () => rng.normal()), [6, 4], true);
  const w = tensor(Array.from({ length: 24 }, () => rng.normal()), [6, 4]);
  const objective = async () => {
    const o = await layer.forward(x, rng, 3);
    return o.y.mul(w).sum().add(o.moe!.auxLoss);
  };
  const params = layer.parameters().filter((p) => p.requiresGrad);
  assert.equal(params.length, layer.parameters().length - 1, 'the bias is a buffer, not trained');
  const res = await gradcheckParams(objective, [x, ...params], 1e-3, 12);
  assert.ok(res.maxRelError < 3e-2, JSON.stringify(res));
  // The shared experts' output is added to the routed output of every token.
  const y = (await layer.forward(x, rng, 3)).y.toArray(), shared = (await layer.shared!.forward(x)).y.toArray();
  layer.shared!.proj.weight.data.fill(0);
  const routed = (await layer.forward(x, rng, 3)).y.toArray();
  assert.ok(shared.some((v) => Math.abs(v) > 1e-3));
  y.forEach((v, i) => assert.ok(Math.abs(v - routed[i]! - shared[i]!) < 1e-5, `y[${i}]`));
});
