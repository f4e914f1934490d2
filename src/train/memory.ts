// Memory accounting of a training rank: peak bytes by component, measured, beside the planner's model of the same layout.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Backend } from '../backends/backend.js';
import type { ProcessGroup } from '../comm/process-group.js';
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
  /** Communication buffers (ZeRO-1's staging bucket) and the wasm staging window's peak. */
  buffers: number;
  /** Peak tensor bytes the backend had live during the step. */
  peak: number;
  /** Peak resident bytes of the whole process since it started (thread ranks share a process: they report the same). */
  rss_peak: number;
}

/** The optimizer's bytes on one rank: its state, and its communication buffers (ParallelAdamW.stateBytes). */
export interface StateBytes { optimizer: number; buffers: number }

/**
 * The run's peaks beside the planner's estimate for one rank of the layout: each rank's step with
 * the highest tensor peak (by world rank), and the busiest of them (`measured`, from world rank `rank`).
 */
export interface MemorySummary { measured: MemoryRecord; rank: number; ranks: MemoryRecord[]; planner: MemoryBreakdown }

const FIELDS = ['weights', 'grads', 'optimizer', 'activations', 'buffers', 'peak', 'rss_peak'] as const satisfies readonly (keyof MemoryRecord)[];
const HI = 2 ** 24;

/**
 * Every rank's record, by world rank (collective over `world`). Byte counts travel exactly as two
 * float32 each, x = hi 2^24 + lo with hi, lo < 2^24 (exact up to 2^48 bytes).
 */
export async function gatherMemory(world: ProcessGroup, rec: MemoryRecord): Promise<MemoryRecord[]> {
  const mine = new Float32Array(2 * FIELDS.length);
  FIELDS.forEach((f, i) => { const x = Math.round(rec[f]), hi = Math.floor(x / HI); mine[2 * i] = hi; mine[2 * i + 1] = x - hi * HI; });
  const all = new Float32Array(mine.length * world.size);
  await world.allGather(mine, all);
  return Array.from({ length: world.size }, (_, r) => {
    const at = (i: number): number => all[r * mine.length + 2 * i]! * HI + all[r * mine.length + 2 * i + 1]!;
    return { weights: at(0), grads: at(1), optimizer: at(2), activations: at(3), buffers: at(4), peak: at(5), rss_peak: at(6) };
  });
}

/** Keeps, per rank, the record of the step with the highest tensor peak. */
export function keepPeaks(peaks: MemoryRecord[], step: readonly MemoryRecord[]): MemoryRecord[] {
  return step.map((m, r) => (peaks[r] !== undefined && peaks[r].peak >= m.peak ? peaks[r] : m));
}

/** The summary's memory: the busiest rank's peak (the first on a tie), every rank's, and the planner's estimate. */
export function memorySummary(ranks: MemoryRecord[], planner: MemoryBreakdown): MemorySummary {
  const rank = ranks.reduce((best, m, r) => (m.peak > ranks[best]!.peak ? r : best), 0);
  return { measured: ranks[rank]!, rank, ranks, planner };
}

/**
 * Gives freed tensor memory back to the system now: the backend drops its free blocks
 * (Backend.trim), then a full collection runs. Host blocks are SharedArrayBuffers, whose memory
 * returns only when collected; left to V8's heuristics, the optimizer state released at the end of
 * a run stayed resident while the evaluation and export allocated (measured on the 0.9 B MoE with
 * dp2 x ep2: the process peaked 3 GiB above its training peak).
 */
export function releaseMemory(be: Backend): void {
  be.trim?.();
  // A synchronous full collection is exposed only with --expose-gc; set now, the flag applies to
  // contexts made afterwards (and defines a global `gc` in them).
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

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
