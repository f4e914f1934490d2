// The inputs of one planning problem, validated together and with the per-problem constants precomputed.
import { efficiencyOf, type ClusterSpec, type Efficiency } from './cluster.js';
import { modelStats, type ModelSpec, type ModelStats } from './model.js';
import { bytesPerParam, dtypeBytes, globalBatchSequences, type TrainingSpec } from './training.js';

export interface PlanContext {
  model: ModelSpec;
  cluster: ClusterSpec;
  training: TrainingSpec;
  eff: Efficiency;
  stats: ModelStats;
  /** Global batch in sequences. */
  batch: number;
  /** Peak FLOP/s of one device in the training dtype. */
  peak: number;
  /** Bytes of one activation / gradient value. */
  actBytes: number;
  perParam: { weights: number; grads: number; optimizer: number };
  capacity: number;
  /** Expert compute per routed token relative to exact balance: the capacity when padding is computed, else 1. */
  expertCompute: number;
  /** The busiest expert's computed load over the mean (>= 1): training.expert_imbalance, else the capacity
   * factor, which caps every expert's load (dropless routing without a measurement: 1). */
  imbalance: number;
  headDim: number;
  /** layerActivationBytes by tp (dense, moe), filled on first use. */
  actCache: Map<number, [LayerActivations, LayerActivations]>;
  /** The cost-balanced stage split by pp (stages.ts), filled on first use. */
  splitCache: Map<number, number[]>;
}

/**
 * The busiest ep rank's expert load over the mean rank's, when each of ep ranks holds k = E/ep experts and the
 * busiest expert carries `imbalance` x the mean: that expert plus k-1 experts sharing the rest evenly,
 * r = (i + (k-1)(E-i)/(E-1)) / k. r = i with one expert per rank, 1 with every expert on every rank (ep = 1:
 * each rank computes its own tokens' experts, whatever the routing). A lower bound where busy experts sit
 * together; training.rank_imbalance (measured from a run's loads) replaces it for the ep values it gives.
 */
export function rankImbalance(ctx: PlanContext, ep: number): number {
  const e = ctx.model.experts, i = Math.min(ctx.imbalance, e);
  if (ep <= 1 || e <= 1) return 1;
  const measured = ctx.training.rank_imbalance?.[String(ep)];
  if (measured !== undefined) return measured;
  const k = e / ep;
  return (i + (k - 1) * (e - i) / (e - 1)) / k;
}

export interface LayerActivations {
  kept: number;
  scores: number;
}

export function prepare(model: ModelSpec, cluster: ClusterSpec, training: TrainingSpec): PlanContext {
  return {
    model, cluster, training,
    eff: efficiencyOf(cluster),
    stats: modelStats(model),
    batch: globalBatchSequences(training, model.seq_len),
    peak: training.dtype === 'fp32' ? cluster.device.flops.fp32 : cluster.device.flops.bf16,
    actBytes: dtypeBytes(training.dtype),
    perParam: bytesPerParam(training),
    capacity: training.capacity_factor ?? 1,
    expertCompute: training.padded_compute === false ? 1 : training.capacity_factor ?? 1,
    imbalance: model.experts > 0 ? training.expert_imbalance ?? training.capacity_factor ?? 1 : 1,
    headDim: model.hidden / model.heads,
    actCache: new Map(),
    splitCache: new Map(),
  };
}

/**
 * Bytes of activations one layer keeps per token for its backward pass, 16-bit, with tensor parallelism t
 * and sequence parallelism (Korthikanti et al., arXiv 2205.05198, §4.1-4.2: 34 s b h / t + 5 a s^2 b / t
 * per layer), generalized to ffn width f and to MoE layers whose expert MLP runs k x capacity copies of
 * each token. `scores` is the 5 a s / t softmax/dropout part that selective recompute drops.
 */
export function layerActivationBytes(ctx: PlanContext, tp: number, moe: boolean): LayerActivations {
  let cached = ctx.actCache.get(tp);
  if (cached === undefined) ctx.actCache.set(tp, cached = [activationBytes(ctx, tp, false), activationBytes(ctx, tp, true)]);
  return cached[moe ? 1 : 0];
}

function activationBytes(ctx: PlanContext, tp: number, moe: boolean): LayerActivations {
  const m = ctx.model, h = m.hidden;
  const scale = ctx.actBytes / 2;
  // attention 11h, two norms 4h; MLP: input 2h, fc1 out 2f, activation out 2f, dropout mask h.
  const attn = 11 * h + 4 * h;
  const mlp = moe
    ? m.top_k * ctx.capacity * (4 * h + 4 * (m.expert_ffn_hidden ?? m.ffn_hidden)) + h + 4 * m.experts
    : 3 * h + 4 * m.ffn_hidden;
  return { kept: (scale * (attn + mlp)) / tp, scores: (scale * 5 * m.heads * m.seq_len) / tp };
}
