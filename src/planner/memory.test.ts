// Memory per device against the closed forms of ZeRO (arXiv 1910.02054) and Korthikanti et al. (arXiv 2205.05198).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterSpec } from './cluster.js';
import { prepare } from './context.js';
import { memoryPerDevice, stageParams } from './memory.js';
import { modelStats, type ModelSpec } from './model.js';
import type { ParallelPlan, Recompute, ZeroStage } from './plan.js';
import { CLUSTER_PRESETS, megatronGpt } from './presets.js';

const cluster = CLUSTER_PRESETS['a100-selene'] as ClusterSpec;
const gpt = megatronGpt('gpt', 8, 1024, 16);
const plan = (over: Partial<ParallelPlan>): ParallelPlan => ({ dp: 1, tp: 1, pp: 1, ep: 1, zero: 0, microBatch: 2, recompute: 'none', placement: { order: ['tp', 'ep', 'edp', 'pp'] }, ...over });
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a / b - 1) < 1e-9, `${what}: ${a} vs ${b}`);

test('mixed-precision Adam with ZeRO: 16 P, then 4 + 12/N, 2 + 14/N, 16/N bytes per parameter', () => {
  const ctx = prepare(gpt, cluster, { global_batch_tokens: 64 * 2048, dtype: 'bf16', optimizer: 'adam' });
  const P = modelStats(gpt).totalParams - 2 * gpt.hidden; // the final norm sits outside the stage count
  const N = 8;
  const expect: Record<ZeroStage, number> = { 0: 16, 1: 4 + 12 / N, 2: 2 + 14 / N, 3: 16 / N };
  for (const zero of [0, 1, 2, 3] as const) {
    const m = memoryPerDevice(ctx, plan({ dp: N, zero }));
    close(m.weights + m.grads + m.optimizer, expect[zero] * P, `ZeRO-${zero}`);
  }
  const fp32 = prepare(gpt, cluster, { global_batch_tokens: 64 * 2048, dtype: 'fp32', optimizer: 'sgd' });
  const m = memoryPerDevice(fp32, plan({}));
  close(m.weights + m.grads + m.optimizer, 12 * P, 'fp32 SGD with momentum: 4 + 4 + 4');
});

test('activations per layer: s b h (34/t + 5 a s / h t) bytes, 34/t with selective recompute, 2/t with full', () => {
  for (const tp of [1, 4]) {
    const ctx = prepare(gpt, cluster, { global_batch_tokens: 64 * 2048, dtype: 'bf16', optimizer: 'adam' });
    const { seq_len: s, hidden: h, heads: a, layers: L, vocab: V } = gpt;
    const b = 2;
    const logits = s * b * 2 * 4 * V / tp;
    const act = (r: Recompute) => memoryPerDevice(ctx, plan({ tp, recompute: r })).activations - logits;
    const full = s * b * h * (34 / tp + (5 * a * s) / (h * tp));
    close(act('none'), L * full, `tp=${tp} none`);
    close(act('selective'), L * s * b * h * 34 / tp, `tp=${tp} selective`);
    close(act('full'), L * 2 * s * b * h / tp + full, `tp=${tp} full`);
  }
});

test('1F1B keeps min(pp, micro-batches) in flight on the first stage', () => {
  // a small vocabulary, so that the last stage's logits do not dominate
  const ctx = prepare({ ...gpt, vocab: 512 }, cluster, { global_batch_tokens: 64 * 2048, dtype: 'bf16', optimizer: 'adam' });
  const act = (pp: number, micro: number) => memoryPerDevice(ctx, plan({ pp, dp: 64 / 2 / micro, microBatch: 2, recompute: 'selective' })).activations;
  // pp=4 with 8 micro-batches: 4 in flight x 2 layers = 8 layers' worth, the same as pp=1's 8 layers
  const perLayer = 2048 * 2 * 1024 * 34;
  assert.ok(act(4, 8) >= 8 * perLayer && act(4, 8) < 8.01 * perLayer);
  // only 2 micro-batches: 2 in flight x 2 layers
  assert.ok(act(4, 2) >= 4 * perLayer && act(4, 2) < 4.01 * perLayer);
});

test('experts are split over ep and ZeRO shards them over edp = dp / ep', () => {
  const moe: ModelSpec = { ...gpt, experts: 16, top_k: 2, moe_every: 2 };
  const ctx = prepare(moe, cluster, { global_batch_tokens: 64 * 2048, dtype: 'bf16', optimizer: 'adam' });
  const one = stageParams(ctx, plan({ dp: 8 }), true), eight = stageParams(ctx, plan({ dp: 8, ep: 8 }), true);
  close(eight.expert * 8, one.expert, 'expert parameters / ep');
  assert.equal(eight.dense, one.dense);
  const s = modelStats(moe);
  close(one.expert, s.moeLayers * 16 * s.expertParams, 'all experts without ep');
  const z0 = memoryPerDevice(ctx, plan({ dp: 8, ep: 4, zero: 0 })), z1 = memoryPerDevice(ctx, plan({ dp: 8, ep: 4, zero: 1 }));
  const expertsPerDevice = s.moeLayers * 4 * s.expertParams;
  // ZeRO-1 saves 12 bytes x (1 - 1/2) per expert parameter (edp = 2) and 12 x (1 - 1/8) per dense one
  close(z0.optimizer - z1.optimizer, 12 * expertsPerDevice / 2 + 12 * one.dense * 7 / 8, 'ZeRO-1 over edp and dp');
});
