// Training data: the split (last 10% of the text is validation) and deterministic batches drawn
// from a seeded generator.
import type { Rng } from '../tensor/random.js';

/** Splits text into the first 90% (training) and the last 10% (validation), at a character. */
export function splitText(text: string, valFraction = 0.1): { train: string; val: string } {
  const cut = Math.floor(text.length * (1 - valFraction));
  return { train: text.slice(0, cut), val: text.slice(cut) };
}

export interface Batch {
  /** (B*T) inputs and (B*T) next-token targets. */
  x: Int32Array;
  y: Int32Array;
}

/** B random windows of T+1 tokens (inputs and shifted targets). */
export function sampleBatch(tokens: Int32Array, b: number, t: number, rng: Rng): Batch {
  const x = new Int32Array(b * t), y = new Int32Array(b * t);
  const span = tokens.length - t - 1;
  for (let i = 0; i < b; i++) {
    const o = rng.int(span + 1);
    x.set(tokens.subarray(o, o + t), i * t);
    y.set(tokens.subarray(o + 1, o + t + 1), i * t);
  }
  return { x, y };
}

/** Consecutive windows covering every token of `tokens` once as a target (for evaluation). */
export function* evalWindows(tokens: Int32Array, t: number, b: number): Generator<Batch & { rows: number }> {
  const windows: number[] = [];
  for (let o = 0; o + 1 < tokens.length; o += t) windows.push(o);
  for (let w = 0; w < windows.length; w += b) {
    const rows = Math.min(b, windows.length - w);
    const x = new Int32Array(rows * t), y = new Int32Array(rows * t).fill(-1);
    for (let r = 0; r < rows; r++) {
      const o = windows[w + r]!;
      const len = Math.min(t, tokens.length - 1 - o);
      x.set(tokens.subarray(o, o + len), r * t);
      y.set(tokens.subarray(o + 1, o + 1 + len), r * t);
    }
    yield { x, y, rows };
  }
}
