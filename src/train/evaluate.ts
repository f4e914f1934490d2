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
  let nats = 0, count = 0, batches = 0;
  const rng = new Rng(0); // unused in eval mode (no jitter, no random routing)
  for (const b of evalWindows(tokens, t, batchSize)) {
    if (maxBatches !== undefined && batches >= maxBatches) break;
    let n = 0;
    for (const y of b.y) if (y >= 0) n++;
    const loss = await scoped(() => noGradAsync(async () => ops.crossEntropy((await model.forward(b.x, b.rows, t, rng)).logits, b.y).item()));
    nats += loss * n;
    count += n;
    batches++;
  }
  model.train(wasTraining);
  return { loss: count > 0 ? nats / count : NaN, tokens: count, nats };
}

/** Bits per byte from nats over a text of `bytes` UTF-8 bytes. */
export function bitsPerByte(nats: number, bytes: number): number {
  return nats / Math.LN2 / bytes;
}
