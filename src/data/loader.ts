// Batches of token windows for training: deterministic from (seed, step), split train/validation,
// and independent of the data-parallel layout.
//
// Window b of step s starts at offset hash(seed, s, b) mod (n - seq), so a batch is a pure
// function of its step: resuming needs only the step number (no sampler state to save), and the
// global batch is the same whether 1 rank draws all of it or `world` ranks draw slices of it.
import type { TokenArray } from './shards.js';

/** One batch: inputs x and next-token targets y, both (batch, seq), row-major. */
export interface Batch {
  x: Int32Array;  // (B, T)
  y: Int32Array;  // (B, T): y[b, t] = x[b, t + 1] in the token stream
  batch: number;
  seq: number;
}

export type Tokens = TokenArray | Int32Array;

/** The last `valFraction` of the stream is validation (issue 2: the last 10% of the text). */
export function splitTrainVal(tokens: Tokens, valFraction = 0.1): { train: Tokens; val: Tokens } {
  if (!(valFraction >= 0 && valFraction < 1)) throw new RangeError(`valFraction: must be in [0, 1), got ${valFraction}`);
  const cut = Math.floor(tokens.length * (1 - valFraction));
  return { train: tokens.subarray(0, cut), val: tokens.subarray(cut) };
}

/** splitmix32-style hash of (seed, step, row): the start of a window. */
function mix(seed: number, step: number, row: number): number {
  let h = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(step + 1, 0xc2b2ae35) + Math.imul(row + 1, 0x27d4eb2f)) | 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

export class BatchSampler {
  /**
   * @param batch rows per rank and step; the global batch is batch x world.
   * @param seq   tokens per row (the model's context length).
   */
  constructor(private readonly tokens: Tokens, readonly batch: number, readonly seq: number, readonly seed: number) {
    if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batch: must be a positive integer, got ${batch}`);
    if (!Number.isInteger(seq) || seq < 1) throw new RangeError(`seq: must be a positive integer, got ${seq}`);
    if (tokens.length < seq + 1) {
      throw new RangeError(`corpus too small: ${tokens.length} tokens, one window needs seq + 1 = ${seq + 1}`);
    }
  }

  /** Rows [rank x batch, (rank + 1) x batch) of the global batch of step `step`. */
  batchAt(step: number, rank = 0, world = 1): Batch {
    if (!(rank >= 0 && rank < world)) throw new RangeError(`rank ${rank} outside world of ${world}`);
    const { batch: B, seq: T, tokens } = this;
    const starts = tokens.length - T;  // valid window starts: [0, n - T - 1]
    const x = new Int32Array(B * T), y = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      const o = mix(this.seed, step, rank * B + b) % starts;
      for (let t = 0; t < T; t++) {
        x[b * T + t] = tokens[o + t]!;
        y[b * T + t] = tokens[o + t + 1]!;
      }
    }
    return { x, y, batch: B, seq: T };
  }

  /** Consecutive windows covering `tokens` once (for evaluation): at most `maxBatches` batches. */
  *sequential(maxBatches = Infinity): Generator<Batch> {
    const { batch: B, seq: T, tokens } = this;
    const windows = Math.floor((tokens.length - 1) / T);
    for (let w0 = 0, k = 0; w0 < windows && k < maxBatches; w0 += B, k++) {
      const rows = Math.min(B, windows - w0);
      const x = new Int32Array(rows * T), y = new Int32Array(rows * T);
      for (let b = 0; b < rows; b++) {
        const o = (w0 + b) * T;
        for (let t = 0; t < T; t++) { x[b * T + t] = tokens[o + t]!; y[b * T + t] = tokens[o + t + 1]!; }
      }
      yield { x, y, batch: rows, seq: T };
    }
  }
}
