// Memory per device of a plan: weights, gradients, optimizer state by ZeRO stage, activations, buffers.
import { layerActivationBytes, type PlanContext } from './context.js';
import type { ParallelPlan } from './plan.js';
import { interleavedMemoryFactor, layersOf, stageShapes, type StageShape } from './stages.js';

export interface MemoryBreakdown {
  weights: number;
  grads: number;
  optimizer: number;
  activations: number;
  buffers: number;
  total: number;
}

/** Parameters one device of one stage holds, before ZeRO sharding, split into the part replicated over dp
 * and the expert part replicated over edp = dp / ep. The stages at both ends hold the (tied) embedding. */
export function shapeParams(ctx: PlanContext, p: ParallelPlan, st: StageShape, withEmbedding: boolean): { dense: number; expert: number } {
  const s = ctx.stats, m = ctx.model;
  const emb = withEmbedding && (st.embedding || st.logits) ? s.embedParams : 0;
  const dense = (st.layers * s.attnParams + (st.layers - st.moe) * s.mlpParams + st.moe * s.routerParams + emb) / p.tp;
  const expert = m.experts > 0 ? (st.moe * (m.experts / p.ep) * s.expertParams) / p.tp : 0;
  return { dense, expert };
}

/** Parameters of the stage that holds the most (see shapeParams). */
export function stageParams(ctx: PlanContext, p: ParallelPlan, withEmbedding: boolean): { dense: number; expert: number } {
  let best = { dense: 0, expert: 0 };
  for (const st of stageShapes(ctx.model, layersOf(ctx, p))) {
    const q = shapeParams(ctx, p, st, withEmbedding);
    if (q.dense + q.expert > best.dense + best.expert) best = q;
  }
  return best;
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
 * Activations of one stage holding `inFlight` micro-batches. With the 1F1B schedule stage s keeps
 * min(pp - s, m) micro-batches in flight (Narayanan et al., arXiv 2104.04473 §2.2.1); the last stage keeps
 * one, plus fp32 logits and their gradient (s b V / t x 4 bytes x 2). Full recompute keeps only each layer's
 * input (2 s b h / t bytes with sequence parallelism) plus one layer's working set; selective recompute drops
 * the 5 a s^2 b / t attention part.
 */
function activations(ctx: PlanContext, p: ParallelPlan, st: StageShape, inFlight: number): number {
  const m = ctx.model;
  const tokens = p.microBatch * m.seq_len;
  const moeFrac = st.moe / st.layers;
  const dense = layerActivationBytes(ctx, p.tp, false), moe = layerActivationBytes(ctx, p.tp, true);
  let stored: number;
  if (p.recompute === 'full') {
    const worst = Math.max(dense.kept + dense.scores, moeFrac > 0 ? moe.kept + moe.scores : 0);
    stored = (st.layers * inFlight * ctx.actBytes * m.hidden) / p.tp + worst;
  } else {
    const scores = p.recompute === 'selective' ? 0 : 1;
    const avg = (1 - moeFrac) * (dense.kept + scores * dense.scores) + moeFrac * (moe.kept + scores * moe.scores);
    stored = st.layers * inFlight * avg;
  }
  return tokens * (stored + (st.logits ? (2 * 4 * m.vocab) / p.tp : 0));
}

/** Peak memory of one device: the stage whose states, activations in flight and buffers add up to the most
 * (the first stage keeps the most micro-batches, the last the logits; uneven stages differ in layers). */
export function memoryPerDevice(ctx: PlanContext, p: ParallelPlan): MemoryBreakdown {
  const m = ctx.model;
  const micro = ctx.batch / p.dp / p.microBatch;
  const tokens = p.microBatch * m.seq_len;
  const interleave = interleavedMemoryFactor(p.pp, p.virtualStages ?? 1);
  // Buffers: all-to-all send + receive of dispatched tokens; ZeRO-3 gathers one layer ahead (2 layers live).
  const a2a = m.experts > 0 && p.ep > 1 ? (2 * tokens * m.top_k * ctx.capacity * m.hidden * ctx.actBytes) / p.tp : 0;
  let worst: MemoryBreakdown | undefined;
  stageShapes(m, layersOf(ctx, p)).forEach((st, s) => {
    const params = shapeParams(ctx, p, st, true);
    const states = modelStates(ctx, p, params);
    const gather = p.zero === 3 ? (2 * (params.dense + params.expert) * ctx.perParam.weights) / st.layers : 0;
    const act = activations(ctx, p, st, Math.min(p.pp - s, micro)) * (s === 0 ? interleave : 1);
    const buffers = a2a + gather;
    const total = states.weights + states.grads + states.optimizer + act + buffers;
    if (worst === undefined || total > worst.total) worst = { ...states, activations: act, buffers, total };
  });
  return worst!;
}
