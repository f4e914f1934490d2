// Memory accounting of a training rank: peak bytes by component, measured, beside the planner's model of the same layout.
import type { Backend } from '../backends/backend.js';
import type { ParamInfo } from '../nn/module.js';
import type { ModelConfig } from '../nn/gpt.js';
import { prepare } from '../planner/context.js';
import { memoryPerDevice, type MemoryBreakdown } from '../planner/memory.js';
import type { ModelSpec } from '../planner/model.js';
import { DEFAULT_ORDER } from '../layout/grid.js';
import { thisMachine } from '../planner/presets.js';
import type { Recompute } from '../nn/recompute.js';

/** Bytes of one rank at its step's peak, by component; float32 throughout. */
export interface MemoryRecord {
  weights: number;
  grads: number;
  optimizer: number;
  /** Peak tensor bytes less the model states and buffers: activations kept for the backward pass and their gradients. */
  activations: number;
  /** Communication buffers (ZeRO-1's gradient and parameter shards, its staging bucket) and the wasm staging window's peak. */
  buffers: number;
  /** Peak tensor bytes the backend had live during the step. */
  peak: number;
  /** Peak resident bytes of the whole process (every thread rank in it) since it started. */
  rss_peak: number;
}

/** The optimizer's bytes on one rank: its state, and its communication buffers (ParallelAdamW.stateBytes). */
export interface StateBytes { optimizer: number; buffers: number }

/** The run's peak: measured (the step with the highest peak) beside the planner's estimate. */
export interface MemorySummary { measured: MemoryRecord; planner: MemoryBreakdown }

/** Starts a step's peak (no-op on backends without accounting). */
export function resetStepPeak(be: Backend): void {
  be.resetPeak?.();
}

/**
 * The step's record: components from the sizes of what the rank holds, activations as the rest of
 * the backend's peak (gradients are all live at the end of the backward pass, where the peak falls).
 */
export function stepMemory(be: Backend, infos: readonly ParamInfo[], states: StateBytes): MemoryRecord | undefined {
  const use = be.memoryUse?.();
  if (use === undefined) return undefined;
  const weights = infos.reduce((s, i) => s + 4 * i.param.size, 0);
  const grads = weights;
  const buffers = states.buffers + use.stagingPeakBytes;
  const activations = Math.max(0, use.peakBytes - weights - grads - states.optimizer - states.buffers);
  return { weights, grads, optimizer: states.optimizer, activations, buffers, peak: use.peakBytes + use.stagingPeakBytes,
    rss_peak: process.resourceUsage().maxRSS * 1024 };
}

/** The planner's memory model (planner/memory.ts) for this run's model, batch and layout, fp32 AdamW. */
export function plannerMemory(m: ModelConfig, batch: number, l: { dp: number; tp: number; ep: number; zero: boolean; recompute: Recompute }): MemoryBreakdown {
  const model: ModelSpec = { name: 'run', layers: m.n_layers, hidden: m.d_model, heads: m.n_heads, ffn_hidden: m.d_ff, vocab: m.vocab_size,
    seq_len: m.seq_len, experts: m.n_experts, top_k: m.n_experts > 0 ? m.top_k : 0, moe_every: m.n_experts > 0 ? m.moe_every : 1,
    ...(m.n_experts > 0 ? { expert_ffn_hidden: m.expert_d_ff } : {}) };
  const ctx = prepare(model, thisMachine(), { global_batch_tokens: batch * m.seq_len, dtype: 'fp32', optimizer: 'adamw',
    ...(m.n_experts > 0 ? { capacity_factor: Math.max(1, m.capacity_factor), padded_compute: false } : {}) });
  return memoryPerDevice(ctx, { dp: l.dp, tp: l.tp, pp: 1, ep: l.ep, zero: l.zero ? 1 : 0, microBatch: batch / l.dp, recompute: l.recompute,
    placement: { order: [...DEFAULT_ORDER] } });
}
