// Resource preflight: the memory a model needs, estimated from its config and layout before anything
// is allocated, against the limit it must fit (the machine's memory over the ranks on it).
import { countParams, isMoeLayer, type ModelConfig } from '../nn/gpt.js';
import { checkMemory, gib } from '../util/memory.js';
import { fmt } from '../util/output.js';
import { InputError } from '../util/errors.js';
import type { ParallelPlan } from '../planner/plan.js';
import type { MemoryBreakdown } from '../planner/memory.js';
import { runnableBy } from '../planner/runnable.js';
import type { Recompute } from '../nn/recompute.js';
import { ZERO_STAGING_FLOATS } from '../optim/zero-shards.js';

/** Bytes by part (float32 throughout; buffers: ZeRO-1's staging bucket), in the planner's breakdown. */
export interface MemoryEstimate extends MemoryBreakdown {
  params: number;
}

/** How the ranks split the model: dp x tp ranks, experts over ep, ZeRO-1, activation recomputation. */
export interface MemoryLayout { dp: number; tp: number; ep: number; zero: boolean; recompute: Recompute }

const ONE_RANK: MemoryLayout = { dp: 1, tp: 1, ep: 1, zero: false, recompute: 'none' };

/** Parameters one rank holds: dense ones (1/tp of them) and its experts (1/(ep tp)), the split ZeRO-1 shards by. */
function rankParams(m: ModelConfig, l: MemoryLayout): { dense: number; expert: number } {
  let expert = 0;
  for (let i = 0; i < m.n_layers; i++) if (isMoeLayer(m, i)) expert += m.n_experts * 2 * m.d_model * m.expert_d_ff;
  const dense = countParams(m).total - expert;
  return { dense: dense / l.tp, expert: expert / (l.ep * l.tp) };
}

/**
 * Bytes one rank needs (float32 everywhere), the accounting the trainer reports (train/memory.ts).
 * P parameters on the rank (dense over tp, experts over ep x tp), B sequences of T tokens per rank,
 * C = d_model, H heads, V vocabulary, L layers:
 *   weights 4P; training adds gradients 4P and AdamW moments 8P, the moments split over the
 *   replicas with ZeRO-1 (dp for dense, dp/ep for experts), which also keeps a 16 MiB staging
 *   bucket (buffers) for each set with more than one replica;
 *   activations kept for backward, per layer about 4 B T (16 C + 2 H T) plus the feed-forward
 *   hidden 4 B T (2 F) with F = d_ff, or top_k * max(1, capacity_factor) * expert_d_ff for MoE;
 *   selective recomputation drops the attention part (16 C -> 8 C and the 2 H T scores), full keeps
 *   each layer's input 4 B T C and one layer's working set; logits and their gradient 8 B T V.
 * Staging (host arrays through the wasm heap) is a few chunks and falls under the margin.
 */
export function estimateMemory(m: ModelConfig, o: { batch: number; training: boolean; tp?: number; layout?: MemoryLayout }): MemoryEstimate {
  const l = { ...(o.layout ?? ONE_RANK), ...(o.tp !== undefined ? { tp: Math.max(1, o.tp) } : {}) };
  const p = rankParams(m, l), params = countParams(m).total;
  const local = p.dense + p.expert;
  const weights = 4 * local;
  const grads = o.training ? weights : 0;
  const replicas = { dense: l.zero ? l.dp : 1, expert: l.zero ? Math.max(1, l.dp / l.ep) : 1 };
  const optimizer = o.training ? 8 * (p.dense / replicas.dense + p.expert / replicas.expert) : 0;
  // A ZeRO-1 part (a set of more than one replica) keeps a staging bucket and its own row (optim/zero-shards.ts).
  const part = (r: number): number => (r > 1 ? 4 * ZERO_STAGING_FLOATS * (1 + 1 / r) : 0);
  const buffers = o.training && l.zero ? part(replicas.dense) + (p.expert > 0 ? part(replicas.expert) : 0) : 0;
  const B = o.batch, T = m.seq_len, C = m.d_model, tp = l.tp;
  const layer = (i: number): number => {
    const hidden = isMoeLayer(m, i) ? m.top_k * Math.max(1, m.capacity_factor) * m.expert_d_ff : m.d_ff;
    const attn = l.recompute === 'none' ? 8 * C + (2 * m.n_heads * T) / tp : 0;
    return 4 * B * T * (8 * C + attn + (2 * hidden) / tp);
  };
  let perLayer = 0, widest = 0;
  for (let i = 0; i < m.n_layers; i++) { perLayer += layer(i); widest = Math.max(widest, layer(i)); }
  // Inference and full recomputation keep one layer's activations at a time (full also each layer's input).
  const kept = !o.training ? widest : l.recompute === 'full' ? m.n_layers * 4 * B * T * C + widest : perLayer;
  const activations = kept + 8 * B * T * m.vocab_size;
  return { params, weights, grads, optimizer, activations, buffers, total: weights + grads + optimizer + activations + buffers };
}

/**
 * Refuses a config that cannot fit, before anything is allocated: one line with the estimate and
 * the limit. `where` names where the config came from (--config FILE, --ckpt DIR).
 */
export function preflight(m: ModelConfig, o: { batch: number; training: boolean; backend: string; ranks?: number; tp?: number; layout?: MemoryLayout;
  where: string }): MemoryEstimate {
  const est = estimateMemory(m, { batch: o.batch, training: o.training, ...(o.tp !== undefined ? { tp: o.tp } : {}),
    ...(o.layout !== undefined ? { layout: o.layout } : {}) });
  const zero = est.buffers > 0 ? `, ZeRO-1 buffers ${gib(est.buffers)}` : '';
  const parts = o.training ? `weights ${gib(est.weights)}, gradients ${gib(est.grads)}, AdamW ${gib(est.optimizer)}${zero}, activations ${gib(est.activations)}`
    : `weights ${gib(est.weights)}, activations ${gib(est.activations)}`;
  checkMemory(est.total, { backend: o.backend, ...(o.ranks !== undefined ? { ranks: o.ranks } : {}), where: `${o.where}: the model`,
    detail: `${fmt(est.params)} parameters; ${parts}` });
  return est;
}

/** Refuses a plan file (`train --plan FILE`) that needs what this trainer does not run, naming it (exit 2;
 * train/capabilities.ts says what runs). */
export function checkPlanRunnable(plan: ParallelPlan, file: string): void {
  const r = runnableBy(plan);
  if (!r.runnable) throw new InputError(`${file}: ${r.reason}; plan one it runs with --fix (e.g. zero=1)`);
}
