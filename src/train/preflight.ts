// Resource preflight: the memory a model needs, estimated from its config before anything is
// allocated, against the limit it must fit (the 4 GiB wasm heap, the machine's memory).
import { countParams, isMoeLayer, type ModelConfig } from '../nn/gpt.js';
import { checkMemory, gib } from '../util/memory.js';
import { fmt } from '../util/output.js';
import { InputError } from '../util/errors.js';
import type { ParallelPlan } from '../planner/plan.js';
import { runnableBy } from '../planner/runnable.js';

export interface MemoryEstimate {
  params: number;
  /** Bytes by part, float32 throughout. */
  weights: number;
  grads: number;
  optimizer: number;
  activations: number;
  total: number;
}

/**
 * Bytes one rank needs (float32 everywhere). P parameters (1/tp of them per rank), B sequences of
 * T tokens per rank, C = d_model, H heads, V vocabulary, L layers:
 *   weights 4P; training adds gradients 4P and AdamW moments 8P;
 *   activations kept for backward, per layer about 4 B T (16 C + 2 H T) plus the feed-forward
 *   hidden 4 B T (2 F) with F = d_ff, or top_k * max(1, capacity_factor) * expert_d_ff for MoE;
 *   logits and their gradient 8 B T V.
 * Buffers (staging, collectives) are a few times the largest tensor and fall under the margin
 * the limit check leaves.
 */
export function estimateMemory(m: ModelConfig, o: { batch: number; training: boolean; tp?: number }): MemoryEstimate {
  const tp = Math.max(1, o.tp ?? 1);
  const params = countParams(m).total;
  const B = o.batch, T = m.seq_len, C = m.d_model;
  const weights = (4 * params) / tp;
  const grads = o.training ? weights : 0;
  const optimizer = o.training ? 2 * weights : 0;
  let perLayer = 0;
  for (let i = 0; i < m.n_layers; i++) {
    const hidden = isMoeLayer(m, i) ? m.top_k * Math.max(1, m.capacity_factor) * m.expert_d_ff : m.d_ff;
    perLayer += 4 * B * T * (16 * C + (2 * m.n_heads * T) / tp + (2 * hidden) / tp);
  }
  // Inference keeps one layer's activations at a time; training keeps every layer's.
  const layers = o.training ? perLayer : perLayer / Math.max(1, m.n_layers);
  const activations = layers + 8 * B * T * m.vocab_size;
  return { params, weights, grads, optimizer, activations, total: weights + grads + optimizer + activations };
}

/**
 * Refuses a config that cannot fit, before anything is allocated: one line with the estimate and
 * the limit. `flag` names where the config came from (--config FILE, --ckpt DIR).
 */
export function preflight(m: ModelConfig, o: { batch: number; training: boolean; backend: string; ranks?: number; tp?: number; where: string }): MemoryEstimate {
  const est = estimateMemory(m, { batch: o.batch, training: o.training, ...(o.tp !== undefined ? { tp: o.tp } : {}) });
  const parts = o.training ? `weights ${gib(est.weights)}, gradients ${gib(est.grads)}, AdamW ${gib(est.optimizer)}, activations ${gib(est.activations)}`
    : `weights ${gib(est.weights)}, activations ${gib(est.activations)}`;
  checkMemory(est.total, { backend: o.backend, ...(o.ranks !== undefined ? { ranks: o.ranks } : {}), where: `${o.where}: the model`,
    detail: `${fmt(est.params)} parameters; ${parts}` });
  return est;
}

/** Refuses a plan file (`train --plan FILE`) that needs what this trainer does not run, naming it (exit 2;
 * train/capabilities.ts says what runs). */
export function checkPlanRunnable(plan: ParallelPlan, file: string): void {
  const r = runnableBy(plan);
  if (!r.runnable) throw new InputError(`${file}: ${r.reason}; plan one it runs with --fix (e.g. pp=1,zero=1,recompute=none)`);
}
