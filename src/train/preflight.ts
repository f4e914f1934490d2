// Resource preflight: the memory a model needs, estimated from its config before anything is
// allocated, against the limit it must fit (the 4 GiB wasm heap, the machine's memory).
import { totalmem } from 'node:os';
import { InputError } from '../util/errors.js';
import { countParams, isMoeLayer, type ModelConfig } from '../nn/gpt.js';
import { fmt } from '../util/output.js';

/** A wasm32 heap addresses at most 2^32 bytes; the wasm and blas backends keep tensors there. */
export const WASM_HEAP_BYTES = 2 ** 32;

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

/** The limit for one rank: the wasm heap for backends that keep tensors there, and the machine's memory over all ranks. */
export function memoryLimit(backend: string, ranks: number): { bytes: number; what: string } {
  const machine = totalmem() / Math.max(1, ranks);
  const what = ranks > 1 ? `this machine's ${fmt(totalmem() / 2 ** 30)} GiB over ${ranks} ranks` : `this machine's ${fmt(totalmem() / 2 ** 30)} GiB`;
  // 'auto' picks wasm or blas wherever the wasm kernels load, so it gets their limit.
  if (backend !== 'js' && WASM_HEAP_BYTES < machine) return { bytes: WASM_HEAP_BYTES, what: `the ${backend} backend's 4 GiB wasm heap` };
  return { bytes: machine, what };
}

/**
 * Refuses a config that cannot fit, before anything is allocated: one line with the estimate and
 * the limit. `flag` names where the config came from (--config FILE, --ckpt DIR).
 */
export function preflight(m: ModelConfig, o: { batch: number; training: boolean; backend: string; ranks?: number; tp?: number; where: string }): MemoryEstimate {
  const ranks = Math.max(1, o.ranks ?? 1);
  const est = estimateMemory(m, { batch: o.batch, training: o.training, ...(o.tp !== undefined ? { tp: o.tp } : {}) });
  const limit = memoryLimit(o.backend, ranks);
  if (!(est.total <= limit.bytes)) {
    const parts = o.training ? `weights ${gib(est.weights)}, gradients ${gib(est.grads)}, AdamW ${gib(est.optimizer)}, activations ${gib(est.activations)}`
      : `weights ${gib(est.weights)}, activations ${gib(est.activations)}`;
    throw new InputError(`${o.where}: the model needs about ${gib(est.total)} per rank (${fmt(est.params)} parameters; ${parts}), more than ${limit.what}; make it or the batch smaller`);
  }
  return est;
}

function gib(bytes: number): string {
  return `${fmt(bytes / 2 ** 30)} GiB`;
}
