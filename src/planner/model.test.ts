// Parameter and FLOP counts of model descriptions, and validation of model files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forwardFlopsPerToken, modelStats, parseModel } from './model.js';
import { MODEL_PRESETS } from './presets.js';
import { InputError } from '../util/errors.js';

test('GPT-3 175B: 174.6 B parameters and 24 l h^2 + 4 l s h + 2 h V forward FLOPs per token', () => {
  const m = MODEL_PRESETS['gpt3-175b']!;
  const s = modelStats(m);
  assert.ok(Math.abs(s.totalParams / 1e9 - 174.6) < 0.1, `${s.totalParams / 1e9}`);
  assert.equal(s.totalParams, s.activeParams);
  const { layers: l, hidden: h, seq_len: sl, vocab: v } = m;
  assert.equal(forwardFlopsPerToken(m), 24 * l * h * h + 4 * l * sl * h + 2 * h * v);
});

test('BaGuaLu presets reach their named sizes; a token touches only top_k experts', () => {
  for (const [name, size] of [['bagualu-174t', 174e12], ['bagualu-14.5t', 14.5e12]] as const) {
    const s = modelStats(MODEL_PRESETS[name]!);
    assert.ok(Math.abs(s.totalParams / size - 1) < 0.01, `${name}: ${s.totalParams}`);
    assert.ok(s.activeParams < 1e-3 * s.totalParams, `${name}: active ${s.activeParams}`);
    assert.equal(s.moeLayers, 12);
  }
});

test('an MoE layer with one expert of the dense width costs the same matmul FLOPs as a dense layer plus its router', () => {
  const dense = { name: 'd', layers: 4, hidden: 64, heads: 4, ffn_hidden: 256, vocab: 100, seq_len: 32, experts: 0, top_k: 0, moe_every: 1 };
  const moe = { ...dense, experts: 1, top_k: 1 };
  const sd = modelStats(dense), sm = modelStats(moe);
  assert.equal(sm.moeLayers, 4);
  assert.equal(sm.moeLayerFlops - sd.denseLayerFlops, 2 * 64 * 1);
  // grouped-query attention shrinks K and V only
  const gqa = modelStats({ ...dense, kv_heads: 1 });
  assert.equal(sd.attnParams - gqa.attnParams, 2 * 64 * 48 + 2 * 48);
});

test('model files: unknown keys, wrong types and impossible shapes name the field', () => {
  const ok = { ...MODEL_PRESETS['furnace-tiny']! };
  assert.deepEqual(parseModel(ok), ok);
  const bad: [unknown, RegExp][] = [
    [{ ...ok, hiden: 64 }, /model\.hiden: unknown key/],
    [{ ...ok, layers: 2.5 }, /model\.layers: expected an integer/],
    [{ ...ok, heads: 5 }, /model\.heads: hidden 64 is not divisible by heads 5/],
    [{ ...ok, top_k: 9 }, /model\.top_k: must be in \[1, experts=4\]/],
    [(({ vocab: _v, ...rest }) => rest)(ok), /model\.vocab: missing/],
    [[1, 2], /model: expected an object, got an array/],
  ];
  for (const [v, re] of bad) assert.throws(() => parseModel(v), (e: unknown) => e instanceof InputError && re.test(e.message));
});
