// Training description for planning: batch, precision, optimizer, MoE capacity and checkpoint cadence.
import { InputError, int, num, oneOf, record } from './validate.js';

export const DTYPES = ['bf16', 'fp16', 'fp32'] as const;
export type TrainDtype = (typeof DTYPES)[number];
export const OPTIMIZERS = ['adam', 'adamw', 'sgd'] as const;
export type Optimizer = (typeof OPTIMIZERS)[number];

export interface TrainingSpec {
  /** Tokens per optimizer step (global batch in sequences x sequence length). */
  global_batch_tokens: number;
  dtype: TrainDtype;
  optimizer: Optimizer;
  /** Tokens of the whole run; gives the run's duration. */
  tokens_total?: number;
  /** Expert capacity factor (1 = exact balance, as SWIPE or dropless routing give). */
  capacity_factor?: number;
  /**
   * Whether experts compute the padding rows of their capacity (default true: GShard, DeepSpeed-MoE
   * and Megatron run dense batched GEMMs over the padded batch). false: only the routed tokens are
   * computed (grouped GEMMs, as MegaBlocks and furnace), while all-to-all still carries the padding.
   */
  padded_compute?: boolean;
  /** Steps between checkpoints; the checkpoint time is then amortized into the step time. */
  checkpoint_every?: number;
}

export function parseTraining(value: unknown, where = 'training'): TrainingSpec {
  const o = record(value, where, ['global_batch_tokens', 'dtype', 'optimizer'], ['tokens_total', 'capacity_factor', 'padded_compute', 'checkpoint_every']);
  const t: TrainingSpec = {
    global_batch_tokens: int(o['global_batch_tokens'], `${where}.global_batch_tokens`, 1),
    dtype: oneOf(o['dtype'], `${where}.dtype`, DTYPES),
    optimizer: oneOf(o['optimizer'], `${where}.optimizer`, OPTIMIZERS),
  };
  if (o['tokens_total'] !== undefined) t.tokens_total = num(o['tokens_total'], `${where}.tokens_total`, 1);
  if (o['capacity_factor'] !== undefined) t.capacity_factor = num(o['capacity_factor'], `${where}.capacity_factor`, 1, 64);
  if (o['padded_compute'] !== undefined) {
    if (typeof o['padded_compute'] !== 'boolean') throw new InputError(`${where}.padded_compute: expected true or false`);
    t.padded_compute = o['padded_compute'];
  }
  if (o['checkpoint_every'] !== undefined) t.checkpoint_every = int(o['checkpoint_every'], `${where}.checkpoint_every`, 1);
  return t;
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
