// E feed-forward experts held as stacked weights, applied with one batched GEMM per matrix.
// With expert parallelism the stack is split along its first dimension over the ep group.
import type { Tensor } from '../../tensor/tensor.js';
import { groupedMatmul } from '../../tensor/grouped.js';
import type { Rng } from '../../tensor/random.js';
import { Module, normalParam } from '../module.js';
import { epSpec, type ParallelContext } from '../../parallel/context.js';

export class Experts extends Module {
  readonly w1: Tensor;
  readonly w2: Tensor;
  /** Experts held by this rank. */
  readonly localExperts: number;
  constructor(readonly numExperts: number, readonly dim: number, readonly hidden: number, rng: Rng, projStd: number,
    ctx: ParallelContext) {
    super();
    this.expertParams = true;
    // Invariant (user input is checked by checkLayout in train/config.ts).
    if (numExperts % ctx.ep !== 0) throw new Error(`experts: ep ${ctx.ep} must divide n_experts ${numExperts}`);
    this.localExperts = numExperts / ctx.ep;
    const s1 = [numExperts, dim, hidden], s2 = [numExperts, hidden, dim];
    this.w1 = this.param('w1', normalParam(s1, 0.02, rng), epSpec(ctx, 0, s1)); // (E, C, F)
    this.w2 = this.param('w2', normalParam(s2, projStd, rng), epSpec(ctx, 0, s2)); // (E, F, C)
  }
  /**
   * x (E_local, tokens, C) -> (E_local, tokens, C). With `filled`, each expert's tokens are `segs`
   * padded segments and only their filled rows (filled[e * segs + s]) are computed; padding rows
   * of x must be zero, and come out zero.
   */
  forward(x: Tensor, filled?: { rows: Int32Array; segs: number }): Tensor {
    if (filled === undefined) return x.matmul(this.w1).gelu().matmul(this.w2);
    return groupedMatmul(groupedMatmul(x, this.w1, filled.rows, filled.segs).gelu(), this.w2, filled.rows, filled.segs);
  }
}
