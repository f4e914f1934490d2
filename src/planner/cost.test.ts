// Step-time model invariants: the 1F1B bubble, overlap, recompute, and checkpoint writers spread over blocks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterSpec } from './cluster.js';
import { prepare } from './context.js';
import { checkpointWrite, commCosts, estimate, gradExposure, moeExposure, stepWork } from './cost.js';
import { seconds } from './collectives.js';
import type { ParallelPlan } from './plan.js';
import { megatronGpt } from './presets.js';

const cluster: ClusterSpec = {
  name: 'two-tier', devices: 64,
  device: { flops: { fp32: 20e12, bf16: 300e12 }, memory_bytes: 80e9, memory_bandwidth: 2e12 },
  tiers: [
    { name: 'node', group_size: 4, bandwidth: 100e9, latency: 2e-6 },
    { name: 'system', group_size: 64, bandwidth: 10e9, latency: 5e-6, oversubscription: 2 },
  ],
  storage: { bandwidth: 1e12, writer_bandwidth: 10e9 },
};
const model = megatronGpt('gpt-1.3b', 24, 2048, 16);
const train = { global_batch_tokens: 256 * 2048, dtype: 'bf16' as const, optimizer: 'adam' as const };
const plan = (over: Partial<ParallelPlan>): ParallelPlan => ({ dp: 64, tp: 1, pp: 1, ep: 1, zero: 0, microBatch: 1, recompute: 'none', placement: { order: ['tp', 'ep', 'edp', 'pp'] }, ...over });

test('the pipeline bubble is (p-1)/m of the busy time, and the parts add up to the step', () => {
  const ctx = prepare(model, cluster, train);
  for (const [pp, dp, mb] of [[4, 16, 1], [8, 8, 2], [2, 32, 4]] as const) {
    const e = estimate(ctx, plan({ pp, dp, microBatch: mb }));
    const b = e.breakdown, m = 256 / dp / mb;
    const busy = b.compute + b.tp + b.ep + b.pp + b.zero;
    assert.ok(Math.abs(b.bubble / busy - (pp - 1) / m) < 1e-9, `pp=${pp} m=${m}`);
    const sum = Object.values(b).reduce((x, y) => x + y, 0);
    assert.ok(Math.abs(sum - e.stepTime) < 1e-12 * e.stepTime);
    assert.ok(Math.abs(e.tokensPerSecond * e.stepTime - 256 * 2048) < 1e-6);
  }
});

test('overlap hides gradient reduction; full recompute costs one more forward; ZeRO-3 adds gathers', () => {
  const hidden = estimate({ ...prepare(model, cluster, train), eff: { ...prepare(model, cluster, train).eff, overlap: 1 } }, plan({}));
  const exposed = estimate({ ...prepare(model, cluster, train), eff: { ...prepare(model, cluster, train).eff, overlap: 0 } }, plan({}));
  assert.ok(exposed.breakdown.dp > hidden.breakdown.dp);
  const ctx = prepare(model, cluster, train);
  const none = estimate(ctx, plan({})), full = estimate(ctx, plan({ recompute: 'full' }));
  assert.ok(Math.abs(full.breakdown.compute / none.breakdown.compute - 4 / 3) < 0.01);
  assert.ok(Math.abs(full.mfu / full.hfu - 3 / 4) < 0.02);
  const z3 = estimate(ctx, plan({ zero: 3 }));
  assert.ok(z3.breakdown.zero > 0 && z3.breakdown.dp === 0 && z3.memory.total < none.memory.total);
});

test('checkpoints: ZeRO makes every rank a writer; writers packed in one node are limited by its uplink', () => {
  const ctx = prepare(model, cluster, train);
  const bytes = 14 * (12 * 24 * 2048 ** 2 + (51200 + 2048) * 2048 + 13 * 24 * 2048 + 2 * 2048);
  // ZeRO-1: 64 writers in 16 nodes: min(1 TB/s, 640 GB/s, 16 x 4 x 10 GB/s x 0.8 / 2 = 256 GB/s)
  const z1 = checkpointWrite(ctx, plan({ zero: 1 }));
  assert.deepEqual([z1.writers, z1.blocks], [64, 16]);
  assert.ok(Math.abs(z1.seconds - bytes / 256e9) < 1e-6 * z1.seconds, `${z1.seconds}`);
  // ZeRO-0 with tp=4 x pp=4: 16 writers; inside 4 nodes (tp in node, pp across) or 16 (pp inner to dp...)
  const packed = checkpointWrite(ctx, plan({ tp: 4, pp: 4, dp: 4, placement: { order: ['tp', 'pp', 'ep', 'edp'] } }));
  const spread = checkpointWrite(ctx, plan({ tp: 4, pp: 4, dp: 4, placement: { order: ['tp', 'edp', 'ep', 'pp'] } }));
  assert.deepEqual([packed.writers, packed.blocks, spread.blocks], [16, 4, 4]);
  const tpOut = checkpointWrite(ctx, plan({ tp: 4, pp: 4, dp: 4, placement: { order: ['edp', 'tp', 'ep', 'pp'] } }));
  assert.equal(tpOut.blocks, 16);
  assert.ok(tpOut.seconds < packed.seconds, 'writers over more nodes write faster when uplinks limit');
});

test("the trainer's overlap by hand: the all-to-all in K chunks hides behind the busiest rank's experts, bucketed gradients behind backward", () => {
  // One MoE layer, all-to-all 1 s each way, experts 3 s forward (6 s backward): compute-bound passes.
  assert.equal(moeExposure(1, 3, false, 1), 4); // dispatch + combine, forward and backward: nothing hidden
  assert.equal(moeExposure(1, 3, false, 2), 2); // each pass: max(2, x) + 2 / 2 - x = 1
  assert.equal(moeExposure(1, 3, false, 4), 1); // each pass: 2 / 4
  assert.equal(moeExposure(1, 3, true, 2), 3); // the recomputed forward is a third pass
  // Communication-bound: 5 s each way around 1 s of experts: forward 10 + 1/2 - 1, backward 10 + 2/2 - 2.
  assert.equal(moeExposure(5, 1, false, 2), 18.5);
  // Gradient all-reduce of 10 s in buckets during a 5 s backward: 5 s exposed; during 20 s: the last bucket (2 s).
  assert.equal(gradExposure(10, 2, 5), 5);
  assert.equal(gradExposure(10, 2, 20), 2);
  assert.equal(gradExposure(1, 2, 20), 1); // one bucket holds it all
  assert.equal(gradExposure(10, 2, 0), 10); // reduced after backward (ZeRO, pipeline stages)
});

test('a plan with chunked all-to-alls and bucketed gradients exposes what the hand formulas say', () => {
  const moe = { ...model, name: 'moe-1.3b', experts: 8, top_k: 2, moe_every: 2 };
  const base = { ...train, padded_compute: false };
  const p = plan({ dp: 64, ep: 8 });
  for (const chunks of [1, 2, 4]) {
    const ctx = prepare(moe, cluster, { ...base, moe_overlap_chunks: chunks, grad_bucket_bytes: 4 * 2 ** 20 });
    const w = stepWork(ctx, p), comm = commCosts(ctx, p), b = estimate(ctx, p).breakdown;
    const a2a = seconds(comm.ep, w.a2aMsg);
    assert.ok(w.moe > 0 && w.expertLayerFwd > 0);
    assert.ok(Math.abs(b.ep - w.micro * w.moe * moeExposure(a2a, w.expertLayerFwd, false, chunks)) <= 1e-12 * b.ep, `${chunks} chunks`);
    const all = seconds(comm.dp, w.grads.dense) + seconds(comm.edp, w.grads.expert);
    const last = Math.max(seconds(comm.dp, Math.min(4 * 2 ** 20, w.grads.dense)), seconds(comm.edp, Math.min(4 * 2 ** 20, w.grads.expert)));
    assert.ok(Math.abs(b.dp - Math.max(Math.min(all, last), all - w.bwdMb)) <= 1e-12 * all);
  }
});
