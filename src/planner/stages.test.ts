// Uneven pipeline stages, the 1F1B and interleaved bubbles, expert-load imbalance, plans on at most N devices:
// each against a hand calculation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterSpec } from './cluster.js';
import { prepare, rankImbalance } from './context.js';
import { estimate } from './cost.js';
import { measuredImbalance, measuredRankImbalance } from './calibrate.js';
import { runPlanner } from './api.js';
import { worldSize, type ParallelPlan } from './plan.js';
import { CLUSTER_PRESETS, MODEL_PRESETS, megatronGpt } from './presets.js';
import { search } from './search.js';
import { bubbleFraction, costSplit, splitStages, stageShapes, virtualChoices } from './stages.js';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);
const selene = CLUSTER_PRESETS['a100-selene'] as ClusterSpec;
const h100 = CLUSTER_PRESETS['dgx-h100'] as ClusterSpec;
const order = ['tp', 'ep', 'edp', 'pp'] as const;

test('stage splits: the slowest stage as fast as can be, then as even as can be, the end stages lighter', () => {
  // 126 equal layers on 16 stages, the last one also computing logits worth 0.35 of a layer: the slowest
  // stage holds 8 layers at best (126/16 > 7); 7 + 8 x 14 + 7 = 126 leaves both ends one layer short.
  assert.deepEqual(splitStages(Array(126).fill(1), 16, 0, 0.35), [7, ...Array(14).fill(8), 7]);
  // 96 on 16 divides: 6 each, the logits ride on the last stage (6.35 < 7).
  assert.deepEqual(splitStages(Array(96).fill(1), 16, 0, 0.35), Array(16).fill(6));
  // 5 layers on 2 stages, logits 0.5: [3, 2] costs max(3, 2.5) = 3; [2, 3] costs 3.5.
  assert.deepEqual(splitStages([1, 1, 1, 1, 1], 2, 0, 0.5), [3, 2]);
  // Costs 1, 2, 1, 2 on 2 stages: 3 | 3.
  assert.deepEqual(splitStages([1, 2, 1, 2], 2), [2, 2]);
  // A heavy last stage: logits worth 3 layers push layers forward, 4 | 1 + 3.
  assert.deepEqual(splitStages([1, 1, 1, 1, 1], 2, 0, 3), [4, 1]);
  assert.throws(() => splitStages([1, 1], 3), /pp: 3 stages cannot each hold a layer of 2/);
  // MoE layers of each stage: layers i with (i + 1) % 2 == 0.
  const moe = MODEL_PRESETS['furnace-small']!;
  assert.deepEqual(stageShapes(moe, [1, 3]).map((s) => [s.layers, s.moe, s.embedding, s.logits]), [[1, 0, true, false], [3, 2, false, true]]);
});

test('a 126-layer model plans with --fix pp=16: stages of 7, 8 x 14, 7 layers, named in the plan and explained', () => {
  const m = { ...megatronGpt('m126', 126, 16384, 128), kv_heads: 8, ffn_hidden: 53248, vocab: 128256 };
  const ctx = prepare(m, h100, { global_batch_tokens: 512 * 2048, dtype: 'bf16', optimizer: 'adam' });
  assert.deepEqual(costSplit(ctx, 16), [7, ...Array(14).fill(8), 7]);
  const r = runPlanner({ model: m, cluster: h100, training: ctx.training, fix: { pp: 16 }, top: 1 });
  const best = r.result.plans[0]!;
  assert.deepEqual(best.plan.ppLayers, [7, ...Array(14).fill(8), 7]);
  assert.deepEqual((r.json['plans'] as { pp_layers: number[] }[])[0]!.pp_layers, best.plan.ppLayers);
  assert.ok(r.explanation.some((l) => l.startsWith('pipeline: 16 stages of 7, 8 x 14, 7 layers')), r.explanation.join('\n'));
});

test('bubbles: 1F1B (p-1)/(m+p-1) of the step, interleaved (p-1)/(vm+p-1) with v x the pipeline sends', () => {
  assert.deepEqual(bubbleFraction(4, 8), { ofIdeal: 3 / 8, ofStep: 3 / 11 });
  assert.deepEqual(bubbleFraction(4, 8, 2), { ofIdeal: 3 / 16, ofStep: 3 / 19 });
  const model = megatronGpt('gpt-1.3b', 24, 2048, 16);
  const ctx = prepare(model, h100, { global_batch_tokens: 256 * 2048, dtype: 'bf16', optimizer: 'adam' });
  const plan: ParallelPlan = { dp: 16, tp: 1, pp: 4, ep: 1, zero: 0, microBatch: 2, recompute: 'none', placement: { order: [...order] } };
  const m = 256 / 16 / 2; // 8 micro-batches
  for (const v of [1, 2, 3]) {
    const b = estimate(ctx, { ...plan, virtualStages: v }).breakdown;
    const busy = b.compute + b.tp + b.ep + b.wait + b.pp + b.zero;
    close(b.bubble / (busy + b.bubble), bubbleFraction(4, m, v).ofStep);
  }
  const one = estimate(ctx, plan).breakdown, two = estimate(ctx, { ...plan, virtualStages: 2 }).breakdown;
  close(two.pp, 2 * one.pp);
  close(two.compute, one.compute);
  assert.ok(estimate(ctx, { ...plan, virtualStages: 2 }).memory.activations > estimate(ctx, plan).memory.activations);
  // v needs every stage to hold v layers and m a multiple of p.
  assert.deepEqual(virtualChoices(4, 8, [6, 6, 6, 6]), [1, 2, 4]);
  assert.deepEqual(virtualChoices(4, 6, [6, 6, 6, 6]), [1]);
  assert.deepEqual(virtualChoices(4, 8, [3, 7, 7, 7]), [1, 2]);
});

test('uneven stages: the slowest stage sets the pace; its memory is the largest stage\'s', () => {
  const model = { ...megatronGpt('d16', 16, 2048, 16), vocab: 1024 }; // logits well under a layer
  const ctx = prepare(model, h100, { global_batch_tokens: 64 * 2048, dtype: 'bf16', optimizer: 'adam' });
  const p = (ppLayers: number[]): ParallelPlan => ({ dp: 16, tp: 1, pp: 4, ep: 1, zero: 0, microBatch: 1, recompute: 'none', placement: { order: [...order] }, ppLayers });
  // [3,5,5,3] and [5,5,5,1] both have 5-layer stages as their slowest (the last one's logits < 4 layers).
  close(estimate(ctx, p([3, 5, 5, 3])).breakdown.compute, estimate(ctx, p([5, 5, 5, 1])).breakdown.compute);
  close(estimate(ctx, p([3, 5, 5, 3])).breakdown.compute / estimate(ctx, p([4, 4, 4, 4])).breakdown.compute, 1.25, 0.02);
  assert.throws(() => estimate(ctx, p([3, 5, 5, 2])), /plan\.pp_layers: 3,5,5,2 holds 15 layers, the model has 16/);
});

test('expert-load imbalance: the busiest ep rank sets the pace of unpadded experts; ep = 1 never waits', () => {
  const m = MODEL_PRESETS['furnace-small']!; // 8 experts
  const train = { global_batch_tokens: 16 * 128, dtype: 'fp32' as const, optimizer: 'adamw' as const, capacity_factor: 1.25, padded_compute: false, expert_imbalance: 2 };
  const machine = { ...(CLUSTER_PRESETS['dgx-h100'] as ClusterSpec), devices: 8, tiers: [{ name: 'node', group_size: 8, bandwidth: 1e11, latency: 1e-6 }] };
  const ctx = prepare(m, machine, train);
  // i = 2 over E = 8: the busiest rank holds that expert and k - 1 others sharing (8 - 2)/7 each.
  close(rankImbalance(ctx, 2), (2 + 3 * 6 / 7) / 4);
  close(rankImbalance(ctx, 8), 2);
  close(rankImbalance(ctx, 1), 1);
  const plan = (ep: number): ParallelPlan => ({ dp: 2, tp: 1, pp: 1, ep, zero: 0, microBatch: 8, recompute: 'none', placement: { order: [...order] } });
  assert.equal(estimate(ctx, plan(1)).breakdown.wait, 0);
  const w2 = estimate(ctx, plan(2)).breakdown.wait;
  const balanced = estimate(prepare(m, machine, { ...train, expert_imbalance: 1 }), plan(2)).breakdown;
  assert.equal(balanced.wait, 0);
  assert.ok(w2 > 0);
  // Padded experts all compute their capacity: nobody waits.
  assert.equal(estimate(prepare(m, machine, { ...train, padded_compute: true }), plan(2)).breakdown.wait, 0);
  // Default: the capacity factor caps the busiest expert.
  const { expert_imbalance: given, ...unmeasured } = train;
  assert.equal(given, 2);
  assert.equal(prepare(m, machine, unmeasured).imbalance, 1.25);
  // From logged loads: capped at 1.25 x 512 = 640, computed [0,2,640,0,640,0,408,640], mean 291.25.
  close(measuredImbalance([[[0, 2, 1021, 0, 1718, 0, 408, 947]]], 1.25), 640 / 291.25);
  close(measuredImbalance([[[1, 1], [3, 1]]], 0), (1 + 1.5) / 2);
  // ep = 2 over the same loads: ranks of 4 consecutive experts, 642 and 1688 computed, mean 1165.
  close(measuredRankImbalance([[[0, 2, 1021, 0, 1718, 0, 408, 947]]], 1.25, 2), 1688 / 1165);
  // A measured table replaces the estimate for the ep values it holds.
  const measured = prepare(m, machine, { ...train, rank_imbalance: { '2': 1.5 } });
  close(rankImbalance(measured, 2), 1.5);
  close(rankImbalance(measured, 4), rankImbalance(ctx, 4));
});

test('plans on at most N devices: GPT-3 on all 4,480 A100s of Selene leaves some idle, and says so', () => {
  const r = runPlanner({ model: MODEL_PRESETS['gpt3-175b']!, cluster: selene, top: 3 });
  const best = r.result.plans[0]!;
  const used = worldSize(best.plan);
  assert.ok(used <= 4480 && used > 2240, `${used}`);
  assert.equal(1536 % best.plan.dp, 0);
  const json = (r.json['plans'] as { idle_devices: number; devices_used: number }[])[0]!;
  assert.deepEqual([json.devices_used, json.idle_devices], [used, 4480 - used]);
  assert.ok(r.explanation.some((l) => l.startsWith(`devices: uses ${used} of 4480, ${4480 - used} idle`)), r.explanation.join('\n'));
  // An exact layout is still found when one exists.
  const exact = search(prepare(MODEL_PRESETS['gpt3-175b']!, { ...selene, devices: 1024 }, { global_batch_tokens: 1536 * 2048, dtype: 'bf16', optimizer: 'adam' }), { top: 1 });
  assert.equal(worldSize(exact.plans[0]!.plan), 1024);
});
