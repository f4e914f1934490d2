// MoE parts: capacity accounting, dispatch/combine round trip, balance loss, gates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../tensor/tensor.js';
import { Rng } from '../../tensor/random.js';
import { capacityFor, combine, dispatch, expertLoad, planDispatch } from './dispatch.js';
import { Router, balanceLoss, routerZLoss, type Routing } from './router.js';
import { gradcheck, gradcheckParams } from '../../autograd/gradcheck.js';
import { MoELayer } from './layer.js';

function routing(experts: number[], k: number, gates?: number[]): Routing {
  const n = experts.length / k;
  return {
    logits: tensor(new Float32Array(n * 4), [n, 4]), probs: tensor(new Float32Array(n * 4), [n, 4]), experts: Int32Array.from(experts), k,
    first: Int32Array.from({ length: n }, (_, i) => experts[i * k]!),
    gates: tensor(gates ?? experts.map(() => 1 / k), [n, k]),
  };
}

test('capacity drops overflow choices, first choices before second', () => {
  // 4 tokens, top-2, 2 experts; capacity factor 0.5 -> ceil(0.5 * 4 * 2 / 2) = 2 slots each.
  const r = routing([0, 1, 0, 1, 0, 1, 1, 0], 2);
  const p = planDispatch(r, 2, capacityFor(0.5, 4, 2, expertLoad(r, 2)));
  assert.equal(p.capacity, 2);
  assert.deepEqual(Array.from(p.load), [4, 4]);
  assert.equal(p.dropped, 4);
  // Expert 0 keeps the first choices of tokens 0 and 1; expert 1 the first choice of token 3
  // and then the second choice of token 0.
  assert.deepEqual(Array.from(p.slotToken), [0, 1, 3, 0]);
});

test('dropless capacity is the busiest expert load; nothing dropped', () => {
  const r = routing([2, 2, 2, 0], 1);
  const p = planDispatch(r, 3, capacityFor(0, 4, 1, expertLoad(r, 3)));
  assert.equal(p.capacity, 3);
  assert.equal(p.dropped, 0);
  assert.deepEqual(Array.from(p.load), [1, 0, 3]);
});

test('combine(dispatch(x)) with identity experts and gates summing to 1 gives x back', () => {
  const x = tensor(Array.from({ length: 12 }, (_, i) => i + 1), [4, 3]);
  const r = routing([0, 1, 2, 0, 1, 2, 2, 1], 2, [0.7, 0.3, 0.5, 0.5, 0.1, 0.9, 0.6, 0.4]);
  const p = planDispatch(r, 3, capacityFor(0, 4, 2, expertLoad(r, 3)));
  const y = combine(dispatch(x, p), r.gates, p, 4);
  assert.deepEqual(y.toArray().map((v) => Math.round(v * 1e4) / 1e4), x.toArray());
});

test('dropped tokens get zero output; gradients flow through dispatch and combine', () => {
  const r = routing([0, 0, 0], 1);
  const p = planDispatch(r, 2, capacityFor(1, 3, 1, expertLoad(r, 2))); // ceil(3 / 2) = 2: the third token is dropped
  const x = tensor([1, 2, 3], [3, 1]);
  const y = combine(dispatch(x, p), r.gates, p, 3);
  assert.deepEqual(y.toArray(), [1, 2, 0]);
  const res = gradcheck((xx, g) => combine(dispatch(xx, p).mul(2), g, p, 3), [x, r.gates]);
  assert.ok(res.maxRelError < 1e-2, JSON.stringify(res));
});

test('switch balance loss is 1 under uniform probabilities', async () => {
  const rng = new Rng(1);
  const router = new Router(4, 4, 1, 'topk', rng);
  router.weight.data.fill(0); // uniform probabilities; argmax ties go to expert 0
  const x = tensor(Array.from({ length: 32 }, () => rng.normal()), [8, 4]);
  const r = router.forward(x, rng);
  // f = [1, 0, 0, 0], P = 1/4 each: E * sum f P = 4 * 1/4 = 1.
  assert.ok(Math.abs((await balanceLoss(r, 4)).item() - 1) < 1e-6);
});

test('gshard keeps second choices at random while training, not in evaluation', () => {
  const rng = new Rng(2);
  const router = new Router(4, 4, 2, 'gshard', rng);
  router.weight.data.forEach((_, i, a) => { a[i] = rng.normal() * 2; });
  const x = tensor(Array.from({ length: 400 }, () => rng.normal()), [100, 4]);
  const dropped = (rr: Routing) => Array.from(rr.experts).filter((e) => e < 0).length;
  assert.ok(dropped(router.forward(x, rng)) > 0);
  router.eval();
  assert.equal(dropped(router.forward(x, rng)), 0);
});

test('an MoE layer gradient matches finite differences (input, router and experts)', async () => {
  const rng = new Rng(4);
  const layer = new MoELayer({ dim: 4, hidden: 6, numExperts: 3, topK: 2, gate: 'topk', capacityFactor: 0 }, rng, 0.5);
  for (const p of layer.parameters()) p.data.forEach((_, i, a) => { a[i] = rng.normal() * 0.5; });
  layer.router.weight.data.forEach((_, i, a) => { a[i] = rng.normal() * 3; }); // decisive routing
  const x = tensor(Array.from({ length: 20 }, () => rng.normal()), [5, 4], true);
  const w = tensor(Array.from({ length: 20 }, () => rng.normal()), [5, 4]);
  const res = await gradcheckParams(async () => (await layer.forward(x, rng)).y.mul(w).sum(), [x, ...layer.parameters()], 1e-3, 12);
  assert.ok(res.maxRelError < 3e-2, JSON.stringify(res));
});

test('router z-loss is the mean squared logsumexp of the router logits (its gradient: the whole-model check)', async () => {
  const rng = new Rng(4);
  const router = new Router(3, 4, 2, 'topk', rng);
  router.weight.data.forEach((_, i) => { router.weight.data[i] = 3 * rng.normal(); }); // large logits: lse far from 0
  const x = tensor(Array.from({ length: 15 }, () => rng.normal()), [5, 3]);
  const r = router.forward(x, rng);
  let want = 0;
  for (let i = 0; i < 5; i++) {
    const row = Array.from(r.logits.data.subarray(i * 4, i * 4 + 4));
    const m = Math.max(...row);
    want += (m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0))) ** 2;
  }
  assert.ok(Math.abs((await routerZLoss(r)).item() - want / 5) < 1e-4 * want, 'value');
});
