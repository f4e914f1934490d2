// `furnace bench memory`: the largest model of a family that fits this machine per layout, and bytes per parameter.
//
// The family is the issue-sized MoE (d_model 1024, 16 heads, d_ff 4096, 8 experts of 4096 every
// other layer, vocabulary 2048) grown in depth. For each layout a binary search over depth finds the
// deepest model whose per-rank estimate (train/preflight.ts, the accounting the trainer reports)
// fits the budget; --train then trains that model for a step or two on worker threads and reports the
// measured peak beside the estimate.
import { freemem, totalmem } from 'node:os';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Output } from '../util/output.js';
import { PRESETS, type TrainConfig } from '../train/config.js';
import { countParams, type ModelConfig } from '../nn/gpt.js';
import { estimateMemory, type MemoryLayout } from '../train/preflight.js';
import { launchRanks, main as rankMain, type RankArgs } from '../train/rank.js';
import { LocalGroup } from '../comm/local-group.js';
import { gib } from '../util/memory.js';

export interface MemoryBenchOptions {
  /** Bytes all ranks together may use. */
  budget: number;
  /** Train the largest model of each layout for `steps` steps and measure its peak. */
  train: boolean;
  steps: number;
  /** Sequences per step (global batch). */
  batch: number;
}

export const LAYOUTS: Record<string, MemoryLayout> = {
  dp1: { dp: 1, tp: 1, ep: 1, zero: false, recompute: 'none' },
  'dp2-ep2': { dp: 2, tp: 1, ep: 2, zero: false, recompute: 'none' },
  'dp2-ep2-zero': { dp: 2, tp: 1, ep: 2, zero: true, recompute: 'none' },
  'dp2-ep2-zero-recompute': { dp: 2, tp: 1, ep: 2, zero: true, recompute: 'full' },
};

/** The family's member of depth `layers` (an even number: half its layers are MoE). */
export function familyModel(layers: number): ModelConfig {
  return { ...PRESETS.small.model, vocab_size: 2048, d_model: 1024, n_heads: 16, d_ff: 4096, n_experts: 8, moe_every: 2, expert_d_ff: 4096,
    n_layers: layers, seq_len: 128 };
}

export interface MemoryRow {
  layout: string;
  n_layers: number;
  params: number;
  /** Estimated bytes of all ranks together, and of model states only (weights, gradients, optimizer, buffers). */
  estimate_bytes: number;
  states_bytes_per_param: number;
  measured?: { rss_peak_bytes: number; tensor_peak_bytes: number; states_bytes_per_param: number; seconds: number };
}

/** World bytes of a layout's estimate: every rank's estimate (ranks are alike). */
function worldEstimate(m: ModelConfig, l: MemoryLayout, batch: number) {
  const e = estimateMemory(m, { batch: batch / l.dp, training: true, layout: l });
  const ranks = l.dp * l.tp;
  return { total: ranks * e.total, states: ranks * (e.weights + e.grads + e.optimizer + e.buffers) };
}

/** The deepest member (2..96 layers, even) whose estimate fits `budget`, by binary search; 0 when none does. */
export function largestFitting(l: MemoryLayout, budget: number, batch: number): number {
  let lo = 0, hi = 48; // in units of 2 layers
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (worldEstimate(familyModel(2 * mid), l, batch).total <= budget) lo = mid; else hi = mid - 1;
  }
  return 2 * lo;
}

export async function benchMemory(o: MemoryBenchOptions, out: Output): Promise<number> {
  out.say(`budget ${gib(o.budget)} (this machine ${gib(totalmem())}, ${gib(freemem())} free); family: d_model 1024, 16 heads, ` +
    `d_ff 4096, 8 experts of 4096 every other layer, vocabulary 2048, seq_len 128, batch ${o.batch}`);
  const rows: MemoryRow[] = [];
  for (const [name, l] of Object.entries(LAYOUTS)) {
    const layers = largestFitting(l, o.budget, o.batch);
    if (layers === 0) { out.say(`${name.padEnd(24)} nothing fits`); continue; }
    const m = familyModel(layers), params = countParams(m).total, est = worldEstimate(m, l, o.batch);
    const row: MemoryRow = { layout: name, n_layers: layers, params, estimate_bytes: est.total, states_bytes_per_param: est.states / params };
    if (o.train) row.measured = await measure(m, l, o);
    rows.push(row);
    const meas = row.measured === undefined ? '' : `; trained ${o.steps} step(s) in ${row.measured.seconds.toFixed(0)} s: peak RSS ${gib(row.measured.rss_peak_bytes)}` +
      ` (${(100 * (row.measured.rss_peak_bytes / est.total - 1)).toFixed(0)}% vs estimate), states ${row.measured.states_bytes_per_param.toFixed(1)} B/param`;
    out.say(`${name.padEnd(24)} ${String(layers).padStart(2)} layers, ${(params / 1e9).toFixed(2)} B params, estimate ${gib(est.total)}, ` +
      `states ${row.states_bytes_per_param.toFixed(1)} B/param${meas}`);
  }
  out.result({ budget_bytes: o.budget, rows });
  return 0;
}

/** Trains the model for o.steps steps in this layout (worker threads, or this thread for one rank) and reads its summary. */
async function measure(m: ModelConfig, l: MemoryLayout, o: MemoryBenchOptions): Promise<NonNullable<MemoryRow['measured']>> {
  const dir = mkdtempSync(join(tmpdir(), 'furnace-bench-memory-'));
  try {
    const corpus = join(dir, 'corpus.txt');
    // Enough text for one batch per step and a validation split, in a vocabulary of 2048.
    writeFileSync(corpus, Array.from({ length: 4000 }, (_, i) => `line ${i} of the memory benchmark, word ${(i * 7919) % 1013}.`).join('\n'));
    const cfg: TrainConfig = { model: m, train: { ...PRESETS.small.train, batch_size: o.batch, steps: o.steps, eval_every: 0, eval_batches: 1,
      log_every: 1, warmup_steps: 1, recompute: l.recompute } };
    const ranks = l.dp * l.tp;
    const args: RankArgs = { cfg, corpus, out: join(dir, 'run'), dp: l.dp, tp: l.tp, ep: l.ep, pp: 1, ppLayers: [m.n_layers], micro: 1, zero: l.zero, comm: ranks > 1 ? 'threads' : 'none',
      topology: undefined, placement: 'topology', backend: undefined, json: true, tty: false, ckpt: undefined, order: undefined, ranksHere: ranks };
    const t0 = performance.now();
    const result = ranks > 1 ? (await launchRanks(ranks, args))[0] : await rankMain(new LocalGroup(), args);
    const mem = result?.summary.memory;
    if (mem === undefined) throw new Error('the run reported no memory accounting (backend js?)');
    const states = mem.ranks.reduce((s, r) => s + r.weights + r.grads + r.optimizer + r.buffers, 0);
    // Every rank's states over the model's parameters; the busiest rank's tensor peak.
    return { rss_peak_bytes: mem.measured.rss_peak, tensor_peak_bytes: mem.measured.peak, states_bytes_per_param: states / countParams(m).total,
      seconds: (performance.now() - t0) / 1000 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
