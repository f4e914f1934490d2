// Training on the wasm backend holds its memory flat: after the first steps, neither the reserved
// heap nor the live bytes grow step over step (every temporary of a step is freed and reused).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GPT } from './gpt.js';
import { microConfig } from './testing/configs.js';
import { WasmBackend } from '../backends/wasm.js';
import { setBackend, scoped } from '../tensor/engine.js';
import { ParallelAdamW } from '../optim/parallel-adamw.js';
import { singleContext } from '../parallel/context.js';
import { Rng } from '../tensor/random.js';

test('the wasm heap does not grow step over step while a MoE model trains (fused attention, RoPE, grouped experts)', async () => {
  const be = new WasmBackend();
  setBackend(be);
  const cfg = microConfig({ position: 'rope', capacity_factor: 1.25, moe_every: 1 });
  const model = new GPT(cfg, 2);
  const opt = new ParallelAdamW(model.parameterInfo(), { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 }, singleContext(), false);
  const b = 4, t = cfg.seq_len;
  const stats: { reserved: number; live: number }[] = [];
  for (let step = 0; step < 10; step++) {
    // Different tokens every step: routing, expert fill counts and capacity drops change.
    const x = Int32Array.from({ length: b * t }, (_, i) => (i * 7 + step * 13) % cfg.vocab_size);
    const y = Int32Array.from(x, (v) => (v * 5 + 1) % cfg.vocab_size);
    await scoped(async () => {
      const { loss } = await model.loss(x, y, b, t, new Rng(step));
      await loss.backwardAsync();
      await opt.update(1e-3, 1);
      opt.zeroGrad();
    });
    const m = be.memoryStats();
    stats.push({ reserved: m.reservedBytes, live: m.liveBytes });
  }
  for (let s = 3; s < stats.length; s++) {
    assert.equal(stats[s]!.live, stats[2]!.live, `live bytes at step ${s}: ${JSON.stringify(stats)}`);
    assert.equal(stats[s]!.reserved, stats[2]!.reserved, `reserved bytes at step ${s}: ${JSON.stringify(stats)}`);
  }
});
