// Memory per device of a plan: weights, gradients, optimizer state by ZeRO stage, activations, buffers.
import { layerActivationBytes, type PlanContext } from './context.js';
import type { ParallelPlan } from './plan.js';

export interface MemoryBreakdown {
  weights: number;
  grads: number;
  optimizer: number;
  activations: number;
  buffers: number;
  total: number;
}

/** Parameters one device holds for its pipeline stage, before ZeRO sharding, split into the part
 * replicated over dp and the expert part replicated over edp = dp / ep. */
export function stageParams(ctx: PlanContext, p: ParallelPlan, withEmbedding: boolean): { dense: number; expert: number } {
  const s = ctx.stats, m = ctx.model;
  const layers = m.layers / p.pp;
  const moe = s.moeLayers / p.pp;
  const dense = (layers * s.attnParams + (layers - moe) * s.mlpParams + moe * s.routerParams + (withEmbedding ? s.embedParams : 0)) / p.tp;
  const expert = m.experts > 0 ? (moe * (m.experts / p.ep) * s.expertParams) / p.tp : 0;
  return { dense, expert };
}

/**
 * Model states with ZeRO (Rajbhandari et al., arXiv 1910.02054 §5): stage 1 shards optimizer state over
 * the replicas, stage 2 also gradients, stage 3 also weights. Dense weights replicate over dp, experts
 * over edp, so each part is sharded over its own replica count.
 */
export function modelStates(ctx: PlanContext, p: ParallelPlan, params: { dense: number; expert: number }) {
  const edp = p.dp / p.ep;
  const shard = (n: number, stage: number) => (p.zero >= stage ? n : 1);
  const per = ctx.perParam;
  const part = (count: number, replicas: number) => ({
    weights: (count * per.weights) / shard(replicas, 3),
    grads: (count * per.grads) / shard(replicas, 2),
    optimizer: (count * per.optimizer) / shard(replicas, 1),
  });
  const d = part(params.dense, p.dp), e = part(params.expert, edp);
  return { weights: d.weights + e.weights, grads: d.grads + e.grads, optimizer: d.optimizer + e.optimizer };
}

/**
 * Activations of one stage. With the 1F1B schedule the first stage keeps min(pp, m) micro-batches in
 * flight (Narayanan et al., arXiv 2104.04473 §2.2.1); the last stage keeps one, plus fp32 logits and
 * their gradient (s b V / t x 4 bytes x 2). Full recompute keeps only each layer's input (2 s b h / t bytes
 * with sequence parallelism) plus one layer's working set; selective recompute drops the 5 a s^2 b / t
 * attention part.
 */
function activations(ctx: PlanContext, p: ParallelPlan, inFlight: number, logits: boolean): number {
  const m = ctx.model;
  const tokens = p.microBatch * m.seq_len;
  const layers = m.layers / p.pp;
  const moeFrac = ctx.stats.moeLayers / m.layers;
  const dense = layerActivationBytes(ctx, p.tp, false), moe = layerActivationBytes(ctx, p.tp, true);
  let stored: number;
  if (p.recompute === 'full') {
    const worst = Math.max(dense.kept + dense.scores, moeFrac > 0 ? moe.kept + moe.scores : 0);
    stored = (layers * inFlight * ctx.actBytes * m.hidden) / p.tp + worst;
  } else {
    const scores = p.recompute === 'selective' ? 0 : 1;
    const avg = (1 - moeFrac) * (dense.kept + scores * dense.scores) + moeFrac * (moe.kept + scores * moe.scores);
    stored = layers * inFlight * avg;
  }
  return tokens * (stored + (logits ? (2 * 4 * m.vocab) / p.tp : 0));
}

/** Peak memory of one device: the larger of the first pipeline stage (most micro-batches in flight) and
 * the last (logits); with one stage, both at once. */
export function memoryPerDevice(ctx: PlanContext, p: ParallelPlan): MemoryBreakdown {
  const m = ctx.model;
  const micro = ctx.batch / p.dp / p.microBatch;
  const tokens = p.microBatch * m.seq_len;
  const params = stageParams(ctx, p, true);
  const states = modelStates(ctx, p, params);
  // Buffers: all-to-all send + receive of dispatched tokens; ZeRO-3 gathers one layer ahead (2 layers live).
  const a2a = m.experts > 0 && p.ep > 1 ? (2 * tokens * m.top_k * ctx.capacity * m.hidden * ctx.actBytes) / p.tp : 0;
  const gather = p.zero === 3 ? (2 * (params.dense + params.expert) * ctx.perParam.weights) / (m.layers / p.pp) : 0;
  const act = p.pp === 1
    ? activations(ctx, p, 1, true)
    : Math.max(activations(ctx, p, Math.min(p.pp, micro), false), activations(ctx, p, 1, true));
  const buffers = a2a + gather;
  return { ...states, activations: act, buffers, total: states.weights + states.grads + states.optimizer + act + buffers };
}
