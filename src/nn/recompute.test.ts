// Activation recomputation: the same loss and bit-identical gradients with and without it, and a lower peak.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GPT } from './gpt.js';
import { microConfig } from './testing/configs.js';
import type { Recompute } from './recompute.js';
import { WasmBackend } from '../backends/wasm.js';
import { setBackend, scoped } from '../tensor/engine.js';
import { Rng } from '../tensor/random.js';
import type { ModelConfig } from './gpt.js';

/** One forward/backward of a fresh model: the loss, every parameter's gradient, and the step's peak tensor bytes. */
async function step(cfg: ModelConfig, mode: Recompute, b: number): Promise<{ loss: number; grads: Map<string, Float32Array>; peak: number }> {
  const be = new WasmBackend();
  setBackend(be);
  const model = new GPT(cfg, 3);
  model.recompute = mode;
  const t = cfg.seq_len;
  const x = Int32Array.from({ length: b * t }, (_, i) => (i * 7 + 3) % cfg.vocab_size);
  const y = Int32Array.from(x, (v) => (v * 5 + 1) % cfg.vocab_size);
  be.resetPeak();
  return scoped(async () => {
    const { loss } = await model.loss(x, y, b, t, new Rng(11));
    await loss.backwardAsync();
    const grads = new Map(model.parameterInfo().map((i) => [i.name, Float32Array.from(i.param.grad!.data)]));
    return { loss: loss.item(), grads, peak: be.memoryUse().peakBytes };
  });
}

for (const [what, over] of [
  ['a MoE model with routing noise and z-loss (RoPE)', { position: 'rope', gate: 'gshard', router_z_loss_coef: 1e-3, capacity_factor: 1.25 }],
  ['a dense/MoE mix with learned positions', { moe_every: 2, n_layers: 4 }],
] as const) {
  test(`recomputation gives bit-identical gradients: ${what}`, async () => {
    const cfg = microConfig(over as Partial<ModelConfig>);
    const ref = await step(cfg, 'none', 4);
    for (const mode of ['selective', 'full'] as const) {
      const r = await step(cfg, mode, 4);
      assert.equal(r.loss, ref.loss, `${mode}: loss`);
      for (const [name, g] of ref.grads) assert.deepEqual(r.grads.get(name), g, `${mode}: gradient of ${name}`);
    }
  });
}

test('recomputation lowers the peak of a step: full < selective < none', async () => {
  const cfg = microConfig({ n_layers: 6, seq_len: 64, d_model: 32, n_heads: 4, d_ff: 128, moe_every: 2, expert_d_ff: 64 });
  const peaks: number[] = [];
  for (const mode of ['none', 'selective', 'full'] as const) peaks.push((await step(cfg, mode, 8)).peak);
  assert.ok(peaks[2]! < peaks[1]! && peaks[1]! < peaks[0]!, `peaks none, selective, full: ${peaks.join(', ')}`);
});
