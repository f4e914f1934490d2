// The cost model against Megatron-LM's published weak-scaling runs on Selene (arXiv 2104.04473, Table 1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitEfficiency, type Observation } from './calibrate.js';
import { DEFAULT_EFFICIENCY, efficiencyOf, type ClusterSpec } from './cluster.js';
import { prepare } from './context.js';
import { MODEL_PRESETS, CLUSTER_PRESETS } from './presets.js';
import { search } from './search.js';
import { modelStats, type ModelSpec } from './model.js';

/** Table 1: model, TP, PP, GPUs, global batch (sequences of 2,048), achieved TFLOP/s per GPU (of 312).
 * All runs used full activation recompute and no ZeRO; DP = GPUs / (TP x PP). */
const TABLE1 = [
  ['megatron-1.7b', 1, 1, 32, 512, 137],
  ['megatron-3.6b', 2, 1, 64, 512, 138],
  ['megatron-7.5b', 4, 1, 128, 512, 142],
  ['megatron-18.4b', 8, 1, 256, 1024, 135],
  ['megatron-39.1b', 8, 2, 512, 1536, 138],
  ['megatron-76.1b', 8, 4, 1024, 1792, 140],
  ['megatron-145.6b', 8, 8, 1536, 2304, 148],
  ['megatron-310.1b', 8, 16, 1920, 2160, 155],
  ['megatron-529.6b', 8, 35, 2520, 2520, 163],
  ['megatron-1t', 8, 64, 3072, 3072, 163],
] as const;

const selene = CLUSTER_PRESETS['a100-selene'] as ClusterSpec;
const training = (batch: number) => ({ global_batch_tokens: batch * 2048, dtype: 'bf16' as const, optimizer: 'adam' as const });

/** Megatron's FLOPs per iteration with full recompute: 96 B s l h^2 (1 + s/6h + V/16lh) (§5.1). */
function megatronFlops(m: ModelSpec, batch: number): number {
  const { layers: l, hidden: h, seq_len: s, vocab: v } = m;
  return 96 * batch * s * l * h * h * (1 + s / (6 * h) + v / (16 * l * h));
}

test('parameter counts of the Table 1 models round to the published sizes (1.7B ... 1008B)', () => {
  const published = [1.7, 3.6, 7.5, 18.4, 39.1, 76.1, 145.6, 310.1, 529.6, 1008.0];
  TABLE1.forEach(([name], i) => {
    const billions = modelStats(MODEL_PRESETS[name]!).totalParams / 1e9;
    assert.ok(Math.abs(billions - published[i]!) <= 0.05 + 1e-3 * published[i]!, `${name}: ${billions.toFixed(2)}B`);
  });
});

test('predicted throughput at the published layouts is within 10% of Table 1 (all ten rows)', () => {
  for (const [name, tp, pp, gpus, batch, tflops] of TABLE1) {
    const m = MODEL_PRESETS[name]!;
    const ctx = prepare(m, selene, training(batch));
    const r = search(ctx, { fix: { tp, pp, dp: gpus / (tp * pp), ep: 1, zero: 0, recompute: 'full', microBatch: 1 }, top: 1 });
    const e = r.plans[0];
    assert.ok(e !== undefined, `${name}: the published layout must fit in 80 GB`);
    assert.equal(r.devices, gpus);
    // Megatron counts recomputed FLOPs (hardware FLOPs): compare like with like.
    const predicted = megatronFlops(m, batch) / (gpus * e.stepTime) / 1e12;
    assert.ok(Math.abs(e.hfu * 312 / predicted - 1) < 0.01, `${name}: hfu agrees with Megatron's FLOP count`);
    const err = predicted / tflops - 1;
    assert.ok(Math.abs(err) < 0.10, `${name}: predicted ${predicted.toFixed(1)} vs published ${tflops} TFLOP/s (${(100 * err).toFixed(1)}%)`);
  }
});

test('the a100-selene efficiency is what a fit to rows 1 and 10 alone gives (the other rows are held out)', () => {
  const obs: Observation[] = [TABLE1[0], TABLE1[9]].map(([name, tp, pp, gpus, batch, tflops]) => {
    const m = MODEL_PRESETS[name]!;
    return {
      label: name, model: m, training: training(batch),
      plan: { dp: gpus / (tp * pp), tp, pp, ep: 1, zero: 0, microBatch: 1, recompute: 'full', placement: { order: ['tp', 'ep', 'edp', 'pp'] } },
      measured: megatronFlops(m, batch) / (gpus * tflops * 1e12),
    };
  });
  const generic = { ...selene, efficiency: { ...selene.efficiency, gemm: DEFAULT_EFFICIENCY.gemm, memory: DEFAULT_EFFICIENCY.memory } };
  const fit = fitEfficiency(obs, generic, ['gemm', 'memory']);
  assert.ok(fit.after < 0.01, `two factors fit two rows: ${fit.after}`);
  const preset = efficiencyOf(selene);
  assert.ok(Math.abs(fit.efficiency.gemm / preset.gemm - 1) < 0.01, `gemm ${fit.efficiency.gemm} vs preset ${preset.gemm}`);
  assert.ok(Math.abs(fit.efficiency.memory / preset.memory - 1) < 0.02, `memory ${fit.efficiency.memory} vs preset ${preset.memory}`);
});
