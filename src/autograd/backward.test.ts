// Early leaf gradients (withGradReady): each leaf is reported once, when nothing can add to its
// gradient any more, holding memory of its own, so that reducing it in place during the pass
// changes that leaf alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withGradReady } from './backward.js';
import { GPT } from '../nn/gpt.js';
import { microConfig } from '../nn/testing/configs.js';
import type { Recompute } from '../nn/recompute.js';
import { WasmBackend } from '../backends/wasm.js';
import { setBackend, scoped } from '../tensor/engine.js';
import { tensor, type Tensor } from '../tensor/tensor.js';
import { Rng } from '../tensor/random.js';

/**
 * Doubles each reported leaf's gradient in place (as an in-place reduction over two equal ranks
 * would), for the leaves in `mine` (recomputation also reports the detached inputs of its passes).
 */
function doubling(reported: Tensor[], mine?: readonly Tensor[]) {
  return (leaf: Tensor) => {
    if (mine !== undefined && !mine.includes(leaf)) return;
    reported.push(leaf);
    const g = leaf.grad!.data;
    for (let i = 0; i < g.length; i++) g[i] = g[i]! * 2;
  };
}

test('leaves that share a gradient (p + q, p used twice) each get their own, doubled exactly once', async () => {
  const run = async (listen: boolean) => {
    const p = tensor([1, 2, 3], [3], true), q = tensor([4, 5, 6], [3], true), r = tensor([0.5, 0.25, 2], [3], true);
    const loss = p.add(q).mul(r).add(p).sum();
    const reported: Tensor[] = [];
    if (listen) await withGradReady(doubling(reported), () => loss.backwardAsync());
    else await loss.backwardAsync();
    return { grads: [p, q, r].map((t) => Array.from(t.grad!.data)), reported: reported.length };
  };
  const plain = await run(false), early = await run(true);
  assert.equal(early.reported, 3);
  assert.deepEqual(early.grads, plain.grads.map((g) => g.map((x) => 2 * x)));
});

for (const mode of ['none', 'full'] as Recompute[]) {
  test(`a MoE GPT's parameters are each reported once, and doubling them in place doubles exactly their gradients (recompute ${mode})`, async () => {
    setBackend(new WasmBackend());
    const cfg = microConfig({ position: 'rope' }), b = 2, t = cfg.seq_len;
    const x = Int32Array.from({ length: b * t }, (_, i) => (i * 7 + 3) % cfg.vocab_size);
    const y = Int32Array.from(x, (v) => (v * 5 + 1) % cfg.vocab_size);
    const grads = (listen: boolean) => scoped(async () => {
      const model = new GPT(cfg, 3);
      model.recompute = mode;
      const { loss } = await model.loss(x, y, b, t, new Rng(11));
      const reported: Tensor[] = [], infos = model.parameterInfo();
      if (listen) await withGradReady(doubling(reported, infos.map((i) => i.param)), () => loss.backwardAsync());
      else await loss.backwardAsync();
      for (const i of infos) if (i.param.grad !== null) assert.equal(reported.filter((r) => r === i.param).length, listen ? 1 : 0, i.name);
      return new Map(infos.map((i) => [i.name, Array.from(i.param.grad?.data ?? [])]));
    });
    const plain = await grads(false), early = await grads(true);
    for (const [name, g] of plain) assert.deepEqual(early.get(name), g.map((v) => 2 * v), name);
  });
}
