// Training description for planning: batch, precision, optimizer, MoE capacity and checkpoint cadence.
import { InputError } from '../util/errors.js';
import { parseWith, z } from '../util/schema.js';

export const DTYPES = ['bf16', 'fp16', 'fp32'] as const;
export type TrainDtype = (typeof DTYPES)[number];
export const OPTIMIZERS = ['adam', 'adamw', 'sgd'] as const;
export type Optimizer = (typeof OPTIMIZERS)[number];

export const trainingSpecSchema = z.strictObject({
  /** Tokens per optimizer step (global batch in sequences x sequence length). */
  global_batch_tokens: z.number().int().min(1),
  dtype: z.enum(DTYPES),
  optimizer: z.enum(OPTIMIZERS),
  /** Tokens of the whole run; gives the run's duration. */
  tokens_total: z.number().min(1).exactOptional(),
  /** Expert capacity factor (1 = exact balance, as SWIPE or dropless routing give). */
  capacity_factor: z.number().min(1).max(64).exactOptional(),
  /**
   * Whether experts compute the padding rows of their capacity (default true: GShard, DeepSpeed-MoE
   * and Megatron run dense batched GEMMs over the padded batch). false: only the routed tokens are
   * computed (grouped GEMMs, as MegaBlocks and furnace), while all-to-all still carries the padding.
   */
  padded_compute: z.boolean().exactOptional(),
  /**
   * The busiest expert's computed load over the mean expert load (1 = exact balance, as SWIPE gives). With
   * expert parallelism every rank waits at the combine all-to-all for the rank holding the busiest experts.
   * Default: the capacity factor (top-k routing caps each expert there), or a run's measured loads.
   */
  expert_imbalance: z.number().min(1).max(1e6).exactOptional(),
  /**
   * Measured busiest-rank load over the mean rank load by ep (`{"2": 1.23, "4": 1.4}`), each of ep ranks holding
   * E/ep consecutive experts; where given it replaces the estimate from expert_imbalance (context.ts).
   */
  rank_imbalance: z.record(z.string().regex(/^[1-9]\d*$/), z.number().min(1).max(1e6)).exactOptional(),
  /**
   * The gradient all-reduce runs in buckets of this many bytes, each started as soon as backward has
   * made its gradients final (furnace's trainer: 4 MiB; PyTorch DDP: 25 MB). Then only what the last
   * micro-batch's backward cannot hide is exposed, and at least the last bucket, which starts when
   * backward ends (furnace: without ZeRO and pipeline stages, which reduce after backward). Absent:
   * the cluster's flat `overlap` efficiency.
   */
  grad_bucket_bytes: z.number().int().min(1).exactOptional(),
  /**
   * With expert parallelism, each MoE layer's dispatch and combine all-to-all travel in this many
   * chunks, chunk k + 1 while the experts compute chunk k (furnace's model.moe_overlap_chunks, 2 by
   * default; Tutel's pipelining degree). Default 1: the all-to-all is not overlapped.
   */
  moe_overlap_chunks: z.number().int().min(1).max(64).exactOptional(),
  /** Steps between checkpoints; the checkpoint time is then amortized into the step time. */
  checkpoint_every: z.number().int().min(1).exactOptional(),
});
export type TrainingSpec = z.infer<typeof trainingSpecSchema>;

export function parseTraining(value: unknown, where = 'training'): TrainingSpec {
  return parseWith(trainingSpecSchema, value, where);
}

/** Global batch in sequences; the batch must hold whole sequences. */
export function globalBatchSequences(t: TrainingSpec, seqLen: number, where = 'training.global_batch_tokens'): number {
  if (t.global_batch_tokens % seqLen !== 0) {
    throw new InputError(`${where}: ${t.global_batch_tokens} is not a multiple of the model's seq_len ${seqLen}`);
  }
  return t.global_batch_tokens / seqLen;
}

/** Bytes of one value of the training dtype. */
export function dtypeBytes(d: TrainDtype): number {
  return d === 'fp32' ? 4 : 2;
}

/**
 * Bytes per parameter held by the optimizer step, split into weights, gradients and optimizer state.
 * Mixed-precision Adam: 2 + 2 + (4 master + 4 + 4 moments) = 16 bytes (ZeRO, arXiv 1910.02054 §3.1);
 * fp32 Adam: 4 + 4 + 8; SGD with momentum keeps one moment (plus an fp32 master copy when mixed).
 */
export function bytesPerParam(t: TrainingSpec): { weights: number; grads: number; optimizer: number } {
  const mixed = t.dtype !== 'fp32';
  const w = dtypeBytes(t.dtype);
  const moments = t.optimizer === 'sgd' ? 4 : 8;
  return { weights: w, grads: w, optimizer: moments + (mixed ? 4 : 0) };
}
