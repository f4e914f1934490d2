// Evaluation: mean loss and bits per byte of a token stream under a model.
import * as ops from '../tensor/ops.js';
import { noGradAsync, scoped } from '../tensor/engine.js';
import { Rng } from '../tensor/random.js';
import type { GPT } from '../nn/gpt.js';
import { evalWindows } from './data.js';

export interface EvalResult {
  /** Mean cross-entropy in nats per predicted token. */
  loss: number;
  tokens: number;
  /** Total nats over all predicted tokens. */
  nats: number;
}

/**
 * Loss over consecutive windows of the stream (each token after the first predicted once, with
 * the context inside its window). maxBatches limits the work (undefined: the whole stream).
 */
export async function evaluate(model: GPT, tokens: Int32Array, batchSize: number, maxBatches?: number): Promise<EvalResult> {
  const t = model.cfg.seq_len;
  const wasTraining = model.training;
  model.eval();
  const rng = new Rng(0); // unused in eval mode (no jitter, no random routing)
  const r = await evaluateWith(t, tokens, batchSize, maxBatches,
    (x, y, rows) => scoped(() => noGradAsync(async () => ops.crossEntropy((await model.forward(x, rows, t, rng)).logits, y).item())));
  model.train(wasTraining);
  return r;
}

/** The mean cross-entropy of one window batch: x, y (rows, T). */
export type WindowLoss = (x: Int32Array, y: Int32Array, rows: number) => Promise<number>;

/** The loop of evaluate over windows of length t, with the batch loss computed by `lossOf`. */
export async function evaluateWith(t: number, tokens: Int32Array, batchSize: number, maxBatches: number | undefined,
  lossOf: WindowLoss): Promise<EvalResult> {
  let nats = 0, count = 0, batches = 0;
  for (const b of evalWindows(tokens, t, batchSize)) {
    if (maxBatches !== undefined && batches >= maxBatches) break;
    let n = 0;
    for (const y of b.y) if (y >= 0) n++;
    const loss = await lossOf(b.x, b.y, b.rows);
    nats += loss * n;
    count += n;
    batches++;
  }
  return { loss: count > 0 ? nats / count : NaN, tokens: count, nats };
}

/** Bits per byte from nats over a text of `bytes` UTF-8 bytes. */
export function bitsPerByte(nats: number, bytes: number): number {
  return nats / Math.LN2 / bytes;
}
