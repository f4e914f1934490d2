// The search against brute-force enumeration, and what it finds for GPT-3 on A100s and BaGuaLu on Sunway.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withDevices, type ClusterSpec } from './cluster.js';
import { prepare, type PlanContext } from './context.js';
import { estimate, type Estimate } from './cost.js';
import { modelStats, type ModelSpec } from './model.js';
import { RECOMPUTE, ZERO_STAGES, type ParallelPlan } from './plan.js';
import { CLUSTER_PRESETS, MODEL_PRESETS, defaultTraining } from './presets.js';
import { divisors, placements, search } from './search.js';
import { costSplit, virtualChoices } from './stages.js';

const sunway = CLUSTER_PRESETS['sunway-oceanlight'] as ClusterSpec;
const selene = CLUSTER_PRESETS['a100-selene'] as ClusterSpec;

/** Every candidate, every placement, no pruning: the reference the search must agree with. Layouts: every
 * tp x pp x dp on at most n devices with dp the largest divisor of the batch that fits, using over half of them. */
function bruteForce(ctx: PlanContext): { best: Estimate | undefined; count: number } {
  const m = ctx.model, n = ctx.cluster.devices;
  let best: Estimate | undefined, count = 0;
  for (let tp = 1; tp <= n; tp++) for (let pp = 1; pp <= Math.min(m.layers, n / tp); pp++) {
    let dp = Math.floor(n / tp / pp);
    while (ctx.batch % dp !== 0) dp--;
    if (m.heads % tp !== 0 || m.ffn_hidden % tp !== 0 || 2 * dp * tp * pp <= n) continue;
    // a shallower pipeline with the same dp and as many layers in its fullest stage exists
    const shallower = Array.from({ length: pp - 1 }, (_, i) => i + 1).some((q) => {
      let d = Math.floor(n / tp / q);
      while (ctx.batch % d !== 0) d--;
      return d === dp && 2 * d * tp * q > n && Math.ceil(m.layers / q) === Math.ceil(m.layers / pp);
    });
    if (shallower) continue;
    const split = pp > 1 ? { ppLayers: costSplit(ctx, pp) } : {};
    for (const ep of divisors(dp)) {
      if (m.experts === 0 ? ep > 1 : m.experts % ep !== 0) continue;
      const local = ctx.batch / dp;
      for (const zero of dp > 1 ? ZERO_STAGES : [0 as const]) for (let mb = 1; mb <= local; mb++) {
        if (local % mb !== 0 || (mb & (mb - 1)) !== 0 && mb !== local) continue;
        for (const v of virtualChoices(pp, local / mb, split.ppLayers ?? [m.layers])) {
          for (const recompute of RECOMPUTE) for (const order of placements({ tp, ep, edp: dp / ep, pp })) {
            count++;
            const p: ParallelPlan = { dp, tp, pp, ep, zero, microBatch: mb, recompute, placement: { order }, ...split, ...(v > 1 ? { virtualStages: v } : {}) };
            const e = estimate(ctx, p);
            if (e.fits && (best === undefined || e.stepTime < best.stepTime)) best = e;
          }
        }
      }
    }
  }
  return { best, count };
}

const smallMoe: ModelSpec = { name: 'moe-small', layers: 8, hidden: 1024, heads: 16, ffn_hidden: 4096, vocab: 32000, seq_len: 1024,
  experts: 16, top_k: 2, moe_every: 2 };
const threeTiers: ClusterSpec = {
  name: 'three-tier', devices: 32,
  device: { flops: { fp32: 20e12, bf16: 300e12 }, memory_bytes: 16e9, memory_bandwidth: 2e12 },
  tiers: [
    { name: 'board', group_size: 4, bandwidth: 200e9, latency: 2e-6 },
    { name: 'rack', group_size: 16, bandwidth: 25e9, latency: 5e-6 },
    { name: 'system', group_size: 32, bandwidth: 12.5e9, latency: 8e-6, oversubscription: 4 },
  ],
};

test('the search finds the brute-force optimum and counts the same candidates (MoE, three tiers)', () => {
  const ctx = prepare(smallMoe, threeTiers, { global_batch_tokens: 64 * 1024, dtype: 'bf16', optimizer: 'adam' });
  const bf = bruteForce(ctx);
  const r = search(ctx, { top: 10, maxMicroBatch: 1 << 30 });
  assert.ok(bf.best !== undefined);
  assert.equal(r.searched, bf.count);
  assert.ok(Math.abs(r.plans[0]!.stepTime / bf.best.stepTime - 1) < 1e-12, `${r.plans[0]!.stepTime} vs ${bf.best.stepTime}`);
  for (let i = 1; i < r.plans.length; i++) assert.ok(r.plans[i]!.stepTime >= r.plans[i - 1]!.stepTime * (1 - 1e-3));
  assert.ok(r.plans.every((e) => e.fits));
});

test('--fix pins choices and leaves the rest to the search', () => {
  const ctx = prepare(smallMoe, threeTiers, { global_batch_tokens: 64 * 1024, dtype: 'bf16', optimizer: 'adam' });
  const r = search(ctx, { fix: { tp: 2, zero: 1, recompute: 'selective' }, top: 20 });
  assert.ok(r.plans.length > 1);
  for (const e of r.plans) assert.deepEqual([e.plan.tp, e.plan.zero, e.plan.recompute], [2, 1, 'selective']);
  assert.ok(new Set(r.plans.map((e) => `${e.plan.pp}/${e.plan.ep}/${e.plan.microBatch}`)).size > 1);
  const pinned = search(ctx, { fix: { tp: 1, pp: 1, dp: 8 }, top: 3 });
  assert.equal(pinned.devices, 8, 'a fully pinned layout uses tp x pp x dp devices');
});

test('GPT-3 175B on 1,024 A100: TP stays inside NVLink, the plan fits, MFU is plausible', (t) => {
  const m = MODEL_PRESETS['gpt3-175b']!;
  const c = withDevices(selene, 1024);
  const r = search(prepare(m, c, defaultTraining(m, c.devices)), { top: 5 });
  const best = r.plans[0]!;
  t.diagnostic(`best tp=${best.plan.tp} pp=${best.plan.pp} dp=${best.plan.dp} zero=${best.plan.zero} ${best.plan.recompute}: ${best.stepTime.toFixed(2)} s, MFU ${(100 * best.mfu).toFixed(1)}%, searched ${r.searched}`);
  assert.ok(r.searched > 10000);
  assert.ok(best.memory.total <= 80e9);
  assert.ok(best.plan.tp <= 8 && best.plan.placement.tiers?.tp === 'nvlink');
  assert.ok(best.mfu > 0.35 && best.mfu < 0.65, `MFU ${best.mfu}`);
});

test('BaGuaLu 174T on the whole Sunway: a DP+EP plan fits in 96 GB per node; without EP nothing fits', (t) => {
  const m = MODEL_PRESETS['bagualu-174t']!;
  const ctx = prepare(m, sunway, defaultTraining(m, sunway.devices));
  const r = search(ctx, { top: 3 });
  const best = r.plans[0]!;
  t.diagnostic(`best tp=${best.plan.tp} pp=${best.plan.pp} dp=${best.plan.dp} ep=${best.plan.ep}: ${best.stepTime.toFixed(2)} s, ${(best.memory.total / 1e9).toFixed(1)} GB, MFU ${(100 * best.mfu).toFixed(1)}%, searched ${r.searched}`);
  assert.ok(r.searched > 1e6);
  assert.ok(best.memory.total <= 96e9);
  assert.ok(best.plan.ep > 1);
  assert.equal(search(ctx, { top: 1, noExpertParallel: true }).plans.length, 0);
});

test('hybrid DP+EP against the best plan without expert parallelism (ratio of step times)', (t) => {
  const cases: [ModelSpec, ClusterSpec][] = [
    [{ ...smallMoe, name: 'moe-116b', layers: 24, hidden: 4096, heads: 32, ffn_hidden: 16384, vocab: 51200, experts: 64, expert_ffn_hidden: 18432 }, withDevices(sunway, 256)],
    [MODEL_PRESETS['bagualu-14.5t']!, sunway],
  ];
  for (const [m, c] of cases) {
    const ctx = prepare(m, c, defaultTraining(m, c.devices));
    const withEp = search(ctx, { top: 1 }).plans[0]!, without = search(ctx, { top: 1, noExpertParallel: true }).plans[0]!;
    const ratio = without.stepTime / withEp.stepTime;
    t.diagnostic(`${m.name} on ${c.devices} ${c.name} nodes: DP+EP ${withEp.stepTime.toFixed(2)} s (ep=${withEp.plan.ep}) vs ${without.stepTime.toFixed(2)} s without EP (tp=${without.plan.tp} pp=${without.plan.pp} zero=${without.plan.zero}): ${ratio.toFixed(2)}x`);
    assert.ok(withEp.plan.ep > 1 && ratio > 1);
  }
});

test('when nothing fits, the leanest candidate is 16 bytes x parameters / devices (ZeRO-3 or full model parallelism)', () => {
  const m = MODEL_PRESETS['gpt3-175b']!;
  const c = withDevices(selene, 8);
  const r = search(prepare(m, c, defaultTraining(m, c.devices)));
  assert.equal(r.plans.length, 0);
  const P = modelStats(m).totalParams;
  assert.ok(r.leanestBytes >= 16 * P / 8 * 0.99 && r.leanestBytes < 16 * P / 8 * 1.05, `${r.leanestBytes}`);
});
