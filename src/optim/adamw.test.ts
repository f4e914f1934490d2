// AdamW against a hand-written float64 reference; decay groups; clipping; the schedule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../tensor/tensor.js';
import { AdamW, clipGradNorm } from './adamw.js';
import { learningRate } from './schedule.js';

test('AdamW matches the reference update, with no decay on 1-D parameters', () => {
  const w = tensor([0.5, -1, 2, 0.25], [2, 2], true);
  const b = tensor([0.1, -0.2], [2], true);
  const opt = new AdamW([['w', w], ['b', b]], { lr: 0.1, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.5 });
  const ref = (p: number[], grads: number[][], decay: number) => {
    let m = p.map(() => 0), v = p.map(() => 0);
    grads.forEach((g, t) => {
      m = m.map((mi, i) => 0.9 * mi + 0.1 * g[i]!);
      v = v.map((vi, i) => 0.99 * vi + 0.01 * g[i]! ** 2);
      const bc1 = 1 - 0.9 ** (t + 1), bc2 = 1 - 0.99 ** (t + 1);
      p = p.map((pi, i) => pi - 0.1 * (m[i]! / bc1 / (Math.sqrt(v[i]! / bc2) + 1e-8) + decay * pi));
    });
    return p;
  };
  const gw = [[1, 2, 3, 4], [-1, 0.5, 0, 2]], gb = [[0.3, -0.3], [1, 1]];
  const w0 = w.toArray(), b0 = b.toArray();
  for (let t = 0; t < 2; t++) {
    w.grad = tensor(gw[t]!, [2, 2]);
    b.grad = tensor(gb[t]!, [2]);
    opt.update(0.1);
  }
  ref(w0, gw, 0.5).forEach((x, i) => assert.ok(Math.abs(w.data[i]! - x) < 1e-5, `w[${i}] ${w.data[i]} vs ${x}`));
  ref(b0, gb, 0).forEach((x, i) => assert.ok(Math.abs(b.data[i]! - x) < 1e-5, `b[${i}] ${b.data[i]} vs ${x}`));
});

test('gradient clipping scales the global norm down to the limit', () => {
  const a = tensor([0, 0], [2], true), b = tensor([0], [1], true);
  a.grad = tensor([3, 0], [2]);
  b.grad = tensor([4], [1]);
  assert.equal(clipGradNorm([a, b], 1), 5);
  const n = Math.hypot(a.grad.data[0]!, a.grad.data[1]!, b.grad.data[0]!);
  assert.ok(Math.abs(n - 1) < 1e-5);
  assert.ok(Math.abs(clipGradNorm([a, b], 10) - n) < 1e-6); // below the limit: unchanged
  assert.ok(Math.abs(Math.hypot(a.grad.data[0]!, b.grad.data[0]!) - n) < 1e-6);
});

test('learning rate: linear warmup, cosine decay to min_lr', () => {
  const o = { lr: 1, minLr: 0.1, warmup: 10, total: 110 };
  assert.equal(learningRate(0, o), 0.1);
  assert.equal(learningRate(9, o), 1);
  assert.ok(Math.abs(learningRate(60, o) - 0.55) < 1e-12);
  assert.ok(Math.abs(learningRate(109, o) - 0.1) < 1e-3);
  assert.equal(learningRate(200, o), 0.1);
});
