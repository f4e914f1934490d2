// The model end to end: cached generation equals a full forward pass, a tiny model overfits a
// short text, and training is deterministic from a seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GPT, countParams } from './gpt.js';
import { generate, lastLogits } from './generate.js';
import { microConfig } from './testing/configs.js';
import { AdamW, clipGradNorm } from '../optim/adamw.js';
import { Rng } from '../tensor/random.js';
import { scoped } from '../tensor/engine.js';
import type { ModelConfig } from './gpt.js';
import { gradcheckParams } from '../autograd/gradcheck.js';

for (const [name, over] of [['dense', { n_experts: 0 }], ['MoE', {}], ['MoE every other layer', { moe_every: 2 }],
  ['RoPE', { position: 'rope' }]] as const) {
  test(`KV-cache generation matches full forward passes (${name})`, async () => {
    const model = new GPT(microConfig(over), 3);
    const prompt = Int32Array.from([1, 5, 7]);
    const ids = await generate(model, prompt, { tokens: 6, temperature: 0, topK: 0, seed: 0 });
    // Greedy decoding: every generated token is the argmax of a full forward pass on its prefix.
    for (let i = prompt.length; i < ids.length; i++) {
      const logits = await lastLogits(model, ids.subarray(0, i));
      assert.equal(ids[i], logits.indexOf(Math.max(...logits)), `token ${i}`);
    }
  });
}

test('generation continues past seq_len by rebuilding the cache', async () => {
  const model = new GPT(microConfig({ seq_len: 8 }), 3);
  const ids = await generate(model, Int32Array.from([1]), { tokens: 20, temperature: 1, topK: 5, seed: 1 });
  assert.equal(ids.length, 21);
  for (const t of ids) assert.ok(t >= 0 && t < 32);
});

async function trainSteps(cfg: ModelConfig, steps: number, seed: number): Promise<number[]> {
  const model = new GPT(cfg, seed);
  const named = model.namedParameters();
  const opt = new AdamW(named, { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0 });
  const rng = new Rng(seed);
  // A short repeating "text": the model must memorize it.
  const text = Int32Array.from({ length: 64 }, (_, i) => (i * 7 + (i % 5)) % cfg.vocab_size);
  const b = 4, t = cfg.seq_len;
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    losses.push(await scoped(async () => {
      const x = new Int32Array(b * t), y = new Int32Array(b * t);
      for (let i = 0; i < b; i++) {
        const o = rng.int(text.length - t - 1);
        x.set(text.subarray(o, o + t), i * t);
        y.set(text.subarray(o + 1, o + t + 1), i * t);
      }
      const { loss, ce } = await model.loss(x, y, b, t, rng);
      await loss.backwardAsync();
      clipGradNorm(model.parameters(), 1);
      opt.update(1e-2);
      opt.zeroGrad();
      return ce.item();
    }));
  }
  return losses;
}

test('a tiny MoE model overfits a short text', async () => {
  const losses = await trainSteps(microConfig({ capacity_factor: 1.25 }), 80, 5);
  const first = losses[0]!, last = losses.slice(-5).reduce((p, x) => p + x, 0) / 5;
  assert.ok(first > 3, `initial loss ${first} should be near ln(32) = 3.47`);
  assert.ok(last < 0.3 * first, `loss fell only from ${first} to ${last}`);
});

test('training is deterministic from a seed (switch and gshard gates too)', async () => {
  for (const over of [{}, { gate: 'switch' as const, top_k: 1 }, { gate: 'gshard' as const, capacity_factor: 1 }]) {
    const a = await trainSteps(microConfig(over), 4, 11);
    const b = await trainSteps(microConfig(over), 4, 11);
    assert.deepEqual(a, b);
    const c = await trainSteps(microConfig(over), 4, 12);
    assert.notDeepEqual(a, c);
  }
});

for (const [name, over] of [['dense and MoE layers', {}], ['RoPE', { position: 'rope' }], ['router z-loss', { router_z_loss_coef: 0.5 }]] as const) {
test(`whole-model parameter gradients match finite differences (${name})`, async () => {
  const model = new GPT(microConfig({ moe_every: 2, n_layers: 2, ...over }), 9);
  const rng = new Rng(0);
  const ids = Int32Array.from({ length: 16 }, (_, i) => (i * 5) % 32);
  const tg = Int32Array.from({ length: 16 }, (_, i) => (i * 3 + 1) % 32);
  model.eval(); // deterministic routing: no capacity drops
  const res = await gradcheckParams(async () => (await model.loss(ids, tg, 2, 8, rng)).loss, model.parameters(), 1e-2, 3);
  assert.ok(res.maxRelError < 5e-2, JSON.stringify(res));
});
}

test('RoPE models hold no position table', () => {
  const model = new GPT(microConfig({ position: 'rope' }), 4);
  assert.equal(model.posEmb, null);
  assert.ok(!model.parameterInfo().some((p) => p.name.startsWith('pos_emb')));
  assert.equal(countParams(microConfig({ position: 'rope' })).total + 16 * 16, countParams(microConfig()).total);
});
