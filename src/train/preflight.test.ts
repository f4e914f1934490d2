// Preflight: per-rank estimates by layout, and a one-line refusal naming the estimate and the limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { totalmem } from 'node:os';
import { estimateMemory, preflight } from './preflight.js';
import { PRESETS } from './config.js';
import { countParams, type ModelConfig } from '../nn/gpt.js';
import { InputError } from '../util/errors.js';

const moe505m: ModelConfig = { ...PRESETS.small.model, vocab_size: 8192, d_model: 1024, n_layers: 12, n_heads: 16, d_ff: 4096, n_experts: 8,
  moe_every: 2, expert_d_ff: 4096, seq_len: 128 };

test('fp32 AdamW on one rank: 16 bytes per parameter before activations', () => {
  const e = estimateMemory(moe505m, { batch: 2, training: true });
  assert.equal(e.weights + e.grads + e.optimizer + e.buffers, 16 * countParams(moe505m).total);
});

test('expert parallelism and ZeRO-1 shrink what one rank holds; recomputation shrinks activations', () => {
  const one = estimateMemory(moe505m, { batch: 2, training: true });
  const ep = estimateMemory(moe505m, { batch: 2, training: true, layout: { dp: 2, tp: 1, ep: 2, zero: false, recompute: 'none' } });
  const zero = estimateMemory(moe505m, { batch: 2, training: true, layout: { dp: 2, tp: 1, ep: 2, zero: true, recompute: 'none' } });
  assert.ok(ep.weights < one.weights && ep.optimizer < one.optimizer);
  assert.ok(zero.optimizer < ep.optimizer && zero.buffers > 0); // dense moments over dp 2; experts have one replica (dp / ep)
  const acts = (['none', 'selective', 'full'] as const).map((recompute) =>
    estimateMemory(moe505m, { batch: 8, training: true, layout: { dp: 1, tp: 1, ep: 1, zero: false, recompute } }).activations);
  assert.ok(acts[0]! > acts[1]! && acts[1]! > acts[2]!, `activations ${acts.join(', ')}`);
});

test('a model larger than the machine is refused in one line naming the estimate and the limit', () => {
  const huge: ModelConfig = { ...moe505m, d_model: 8192, n_heads: 64, d_ff: 32768, expert_d_ff: 32768, n_layers: 48 };
  assert.ok(estimateMemory(huge, { batch: 1, training: true }).total > totalmem(), 'the test model exceeds this machine');
  assert.throws(() => preflight(huge, { batch: 1, training: true, backend: 'native', where: '--config big.json' }), (e: unknown) => {
    assert.ok(e instanceof InputError);
    assert.match(e.message, /^--config big\.json: the model: needs about [\d.]+ GiB \(.*parameters; weights .* GiB.*\), more than this machine's [\d.]+ GiB; make it smaller$/);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
});
