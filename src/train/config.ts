// The training configuration: one schema, presets, and validation at the boundary.
import { z } from 'zod';
import { InputError, errorMessage } from '../util/errors.js';
import { formatIssues } from '../util/schema.js';
import type { ModelConfig } from '../nn/gpt.js';
import { chunkSplit, splitLayers } from '../nn/gpt-stage.js';
import { BALANCE_SCOPES, GATES } from '../nn/moe/router.js';
import { PRECISIONS } from '../backends/backend.js';
import { COMM_PRECISIONS } from '../comm/bf16-group.js';
import { RECOMPUTE_MODES } from '../nn/recompute.js';

// Every field has an upper bound: sizes far past any model this trainer can hold are refused here,
// at once, rather than by an allocation failure or a loop that never ends. Whether a config within
// the bounds fits in memory is the preflight's question (./preflight.ts).
const posInt = (max: number) => z.number().int().positive().max(max);
const nonNegInt = (max: number) => z.number().int().nonnegative().max(max);
const prob = z.number().min(0).lt(1);
const MAX_STEPS = 1e9;

export const modelSchema = z.strictObject({
  vocab_size: z.number().int().min(256).max(65536),
  seq_len: posInt(1 << 16),
  d_model: posInt(1 << 16),
  n_layers: posInt(1024),
  n_heads: posInt(1024),
  d_ff: posInt(1 << 20),
  /** 0 = dense model. */
  n_experts: nonNegInt(4096),
  top_k: posInt(64),
  /** Layer i is MoE when n_experts > 0 and (i + 1) % moe_every === 0. */
  moe_every: posInt(1024),
  gate: z.enum(GATES),
  /** 0 = dropless. */
  capacity_factor: z.number().min(0).max(64),
  expert_d_ff: posInt(1 << 20),
  aux_loss_coef: z.number().min(0).max(1e3),
  /** Positions: a learned table added to the input (GPT-2; the default), or rotary q/k (RoPE). */
  position: z.enum(['learned', 'rope']).exactOptional(),
  /** Weight of the router z-loss (ST-MoE; 1e-3 there); absent or 0: off. */
  router_z_loss_coef: z.number().min(0).max(1e3).exactOptional(),
  /** Aux-loss-free balancing: the router bias's step per update (DeepSeek-V3: 0.001); absent or 0: off. */
  router_bias_rate: z.number().min(0).max(1).exactOptional(),
  /** The balance loss's statistics: over the global batch (the default) or per sequence. */
  balance_scope: z.enum(BALANCE_SCOPES).exactOptional(),
  /** Always-on experts of width expert_d_ff added to every MoE layer's routed output; absent or 0: none. */
  shared_experts: nonNegInt(64).exactOptional(),
  /** With --ep > 1: the expert batch's all-to-all in this many chunks, each overlapping the experts' work on the previous one (default 2; 1: one exchange). */
  moe_overlap_chunks: posInt(64).exactOptional(),
});

export const trainSchema = z.strictObject({
  batch_size: posInt(1 << 20),
  steps: posInt(MAX_STEPS),
  lr: z.number().positive().max(10),
  min_lr: z.number().min(0).max(10),
  warmup_steps: nonNegInt(MAX_STEPS),
  weight_decay: z.number().min(0).max(100),
  grad_clip: z.number().min(0).max(1e6),
  beta1: prob,
  beta2: prob,
  eval_every: nonNegInt(MAX_STEPS),
  eval_batches: posInt(1e6),
  log_every: posInt(MAX_STEPS),
  seed: nonNegInt(2 ** 32 - 1),
  /** adamw (the default), or muon: orthogonalized momentum for weight matrices, AdamW for the rest. */
  optimizer: z.enum(['adamw', 'muon']).exactOptional(),
  /** GEMM inputs: fp32 (default), or bf16 with float32 master weights, optimizer state and sums (no loss scaling). */
  precision: z.enum(PRECISIONS).exactOptional(),
  /** Payloads of gradient all-reduces and MoE all-to-alls: fp32 (default), or bf16 (half the bytes, float32 sums; comm/bf16-group.ts). */
  comm_precision: z.enum(COMM_PRECISIONS).exactOptional(),
  /** Activation recomputation per block: none, selective (attention), full (whole block). Default none. */
  recompute: z.enum(RECOMPUTE_MODES).exactOptional(),
  /** Gradient all-reduce in buckets started during the backward pass (default true); false: after it. Same sums either way. */
  overlap_grad_reduce: z.boolean().exactOptional(),
});

/** Pipeline parallelism in a config file; the flags --pp, --pp-virtual, --pp-layers and --micro-batches override it. */
export const parallelSchema = z.strictObject({
  pp: posInt(1024),
  /** Model chunks per stage of the interleaved 1F1B schedule (default 1: plain 1F1B). */
  virtual_stages: posInt(64),
  /** Blocks per stage, first stage first (default: an even split, lighter first and last stages); with
   * virtual stages, per virtual stage (pp x v entries) or per stage (pp entries, each split over its chunks). */
  pp_layers: z.array(posInt(1024)).min(1).max(1 << 16),
  /** Micro-batches per step through the pipeline (default: the most up to 2 x pp that divide the rows per dp rank). */
  micro_batches: posInt(1 << 20),
}).partial();

export type TrainOptions = z.infer<typeof trainSchema>;
export type ParallelOptions = z.infer<typeof parallelSchema>;
export interface TrainConfig { model: ModelConfig; train: TrainOptions; parallel?: ParallelOptions }

const fileSchema = z.strictObject({
  preset: z.enum(['tiny', 'small']).optional(),
  model: modelSchema.partial().optional(),
  train: trainSchema.partial().optional(),
  parallel: parallelSchema.optional(),
});

export const PRESETS: Record<'tiny' | 'small', TrainConfig> = {
  // Trains in under a minute on 2 cores. Byte-level (no merges): a model this small learns more
  // per step from 256 symbols than from a larger vocabulary.
  tiny: {
    model: { vocab_size: 256, seq_len: 64, d_model: 64, n_layers: 2, n_heads: 4, d_ff: 256, n_experts: 4, top_k: 2,
      moe_every: 1, gate: 'topk', capacity_factor: 1.25, expert_d_ff: 128, aux_loss_coef: 0.01, position: 'rope' },
    train: { batch_size: 16, steps: 1000, lr: 3e-3, min_lr: 3e-4, warmup_steps: 50, weight_decay: 0.1, grad_clip: 1,
      beta1: 0.9, beta2: 0.95, eval_every: 100, eval_batches: 8, log_every: 10, seed: 1337 },
  },
  // A real MoE model: 8 experts in every other of 4 layers; about 5 minutes on 2 cores.
  // Both presets use rotary positions: measured against a learned table (1000 steps each), held-out
  // bits per byte 2.60 vs 2.83 (tiny) and 1.95 vs 2.04 (small), at the same speed.
  small: {
    model: { vocab_size: 2048, seq_len: 128, d_model: 256, n_layers: 4, n_heads: 4, d_ff: 1024, n_experts: 8, top_k: 2,
      moe_every: 2, gate: 'topk', capacity_factor: 1.25, expert_d_ff: 512, aux_loss_coef: 0.01, position: 'rope' },
    train: { batch_size: 16, steps: 1000, lr: 2e-3, min_lr: 1e-4, warmup_steps: 100, weight_decay: 0.1, grad_clip: 1,
      beta1: 0.9, beta2: 0.95, eval_every: 250, eval_batches: 16, log_every: 10, seed: 1337 },
  },
};

/** Checks combinations a schema cannot express; throws InputError naming the field. */
export function checkConsistency(c: TrainConfig, where = 'config'): void {
  const m = c.model, t = c.train;
  if (m.d_model % m.n_heads !== 0) throw new InputError(`${where}: model.n_heads (${m.n_heads}) must divide model.d_model (${m.d_model})`);
  if (m.n_experts > 0 && m.top_k > m.n_experts) throw new InputError(`${where}: model.top_k (${m.top_k}) exceeds model.n_experts (${m.n_experts})`);
  if (m.n_experts > 0 && m.gate === 'switch' && m.top_k !== 1) throw new InputError(`${where}: model.gate 'switch' needs model.top_k 1, got ${m.top_k}`);
  if (m.n_experts > 0 && m.gate === 'gshard' && m.top_k !== 2) throw new InputError(`${where}: model.gate 'gshard' needs model.top_k 2, got ${m.top_k}`);
  if (m.n_experts > 0 && m.gate === 'swipe' && (m.router_bias_rate ?? 0) > 0) {
    throw new InputError(`${where}: model.router_bias_rate needs a topk, switch or gshard gate (swipe balances exactly without it)`);
  }
  if (m.n_experts === 0 && (m.shared_experts ?? 0) > 0) throw new InputError(`${where}: model.shared_experts needs model.n_experts > 0`);
  if (m.n_experts === 1) throw new InputError(`${where}: model.n_experts must be 0 (dense) or at least 2`);
  if (t.min_lr > t.lr) throw new InputError(`${where}: train.min_lr (${t.min_lr}) exceeds train.lr (${t.lr})`);
}

/**
 * Checks a parallel layout against the model and batch, the one place it is checked; throws
 * InputError naming the flag and the field. (dp x tp = world and the groups are checked when the
 * ranks build them.)
 */
export function checkLayout(c: TrainConfig, l: { dp: number; tp: number; ep: number }): void {
  const m = c.model, { dp, tp, ep } = l;
  if (dp % ep !== 0) throw new InputError(`--ep ${ep} must divide --dp ${dp}`);
  if (ep > 1 && (m.n_experts === 0 || m.n_experts % ep !== 0)) throw new InputError(`--ep ${ep} must divide model.n_experts (${m.n_experts})`);
  if (m.n_heads % tp !== 0) throw new InputError(`--tp ${tp} must divide model.n_heads (${m.n_heads})`);
  if (m.d_ff % tp !== 0) throw new InputError(`--tp ${tp} must divide model.d_ff (${m.d_ff})`);
  const shared = (m.shared_experts ?? 0) * m.expert_d_ff;
  if (m.n_experts > 0 && shared % tp !== 0) throw new InputError(`--tp ${tp} must divide model.shared_experts x model.expert_d_ff (${shared})`);
  if (c.train.batch_size % dp !== 0) throw new InputError(`--dp ${dp} must divide train.batch_size (${c.train.batch_size})`);
}

/**
 * The pipeline of a run: stages, virtual stages per stage, blocks per virtual stage and
 * micro-batches, from the flags (else the config's `parallel`), checked against the model and the
 * rows each data-parallel rank takes; throws InputError naming the flag.
 */
export function resolvePipeline(c: TrainConfig, dp: number, flags: { pp?: number | undefined; virtual?: number | undefined;
  layers?: number[] | undefined; micro?: number | undefined }): { pp: number; virtual: number; ppLayers: number[]; micro: number } {
  const pp = flags.pp ?? c.parallel?.pp ?? 1, v = flags.virtual ?? c.parallel?.virtual_stages ?? 1;
  const given = flags.layers ?? c.parallel?.pp_layers, rows = c.train.batch_size / dp;
  const virtualFlag = flags.virtual !== undefined ? '--pp-virtual' : 'parallel.virtual_stages';
  if (v > 1 && pp === 1) throw new InputError(`${virtualFlag} ${v}: virtual stages need pipeline stages (--pp 2 or more)`);
  const ppLayers = stageSplit(c.model.n_layers, pp, v, given, flags.layers !== undefined ? '--pp-layers' : 'parallel.pp_layers', virtualFlag);
  const micro = flags.micro ?? c.parallel?.micro_batches ?? defaultMicro(pp, v, rows);
  const microFlag = flags.micro !== undefined ? '--micro-batches' : 'parallel.micro_batches';
  if (pp === 1 && micro !== 1) throw new InputError(`${microFlag} ${micro}: micro-batches need pipeline stages (--pp 2 or more)`);
  if (!Number.isInteger(rows) || rows % micro !== 0) {
    throw new InputError(`${microFlag} ${micro} must divide the rows of each data-parallel rank (train.batch_size ${c.train.batch_size} / dp ${dp})`);
  }
  if (v > 1 && micro % pp !== 0) {
    const named = flags.micro !== undefined || c.parallel?.micro_batches !== undefined ? `${microFlag} ${micro}:` : `${virtualFlag} ${v}: no multiple of pp ${pp} divides the ${rows} rows per data-parallel rank;`;
    throw new InputError(`${named} the interleaved schedule takes micro-batches in groups of pp: give a multiple of ${pp}`);
  }
  return { pp, virtual: v, ppLayers, micro };
}

/** Blocks per virtual stage (pp x v entries): `given` per virtual stage or per stage, else an even split of the layers. */
function stageSplit(layers: number, pp: number, v: number, given: readonly number[] | undefined, layersFlag: string, virtualFlag: string): number[] {
  if (v > 1 && given === undefined && layers < pp * v) {
    throw new InputError(`${virtualFlag} ${v}: pp ${pp} x ${v} virtual stages need at least ${pp * v} layers, the model has ${layers}`);
  }
  try {
    if (v === 1 || given === undefined) return splitLayers(layers, pp * v, given);
    if (given.length === pp * v) return splitLayers(layers, pp * v, given);
    if (given.length === pp) return chunkSplit(splitLayers(layers, pp, given), v);
  } catch (e) {
    throw new InputError(`${given !== undefined ? layersFlag : v > 1 ? virtualFlag : '--pp'}: ${errorMessage(e)}`);
  }
  throw new InputError(`${layersFlag}: ${given.length} stage sizes; give one per virtual stage (pp ${pp} x ${v} = ${pp * v}) or one per stage (${pp})`);
}

/** The most micro-batches up to 2 x pp that divide the rows (a multiple of pp when interleaved): more shrink the bubble, (p - 1) / (v m + p - 1). */
function defaultMicro(pp: number, v: number, rows: number): number {
  if (pp === 1 || !Number.isInteger(rows)) return 1;
  for (let m = 2 * pp; m > 1; m--) if (rows % m === 0 && (v === 1 || m % pp === 0)) return m;
  return 1;
}

/** Reads a config file's JSON text over a preset; unknown keys and wrong types name the field. */
export function parseConfigFile(text: string, file: string, base: 'tiny' | 'small' = 'tiny'): TrainConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${file}: not valid JSON (${errorMessage(e)})`);
  }
  const r = fileSchema.safeParse(raw);
  if (!r.success) throw new InputError(formatIssues(file, r.error));
  const preset = PRESETS[r.data.preset ?? base];
  const cfg: TrainConfig = {
    model: { ...preset.model, ...stripUndefined(r.data.model ?? {}) },
    train: { ...preset.train, ...stripUndefined(r.data.train ?? {}) },
    ...(r.data.parallel !== undefined ? { parallel: stripUndefined(r.data.parallel) } : {}),
  };
  checkConsistency(cfg, file);
  return cfg;
}

function stripUndefined<T extends object>(o: T): { [K in keyof T]-?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]-?: Exclude<T[K], undefined> };
}

/** Validates a whole config object (as saved in a run's config.json). */
export function validateConfig(raw: unknown, where: string): TrainConfig {
  const r = z.strictObject({ model: modelSchema, train: trainSchema }).safeParse(raw);
  if (!r.success) throw new InputError(formatIssues(where, r.error));
  const cfg: TrainConfig = { model: stripUndefined(r.data.model), train: r.data.train }; // optional keys stay absent
  checkConsistency(cfg, where);
  return cfg;
}
