// E feed-forward experts held as stacked weights, applied with one batched GEMM per matrix.
// With expert parallelism the stack is split along its first dimension over the ep group.
import type { Tensor } from '../tensor/tensor.js';
import type { Rng } from '../tensor/random.js';
import { Module, normalParam } from '../nn/module.js';
import { epSpec, type ParallelContext } from '../parallel/context.js';

export class Experts extends Module {
  readonly w1: Tensor;
  readonly w2: Tensor;
  /** Experts held by this rank. */
  readonly localExperts: number;
  constructor(readonly numExperts: number, readonly dim: number, readonly hidden: number, rng: Rng, projStd: number,
    ctx?: ParallelContext) {
    super();
    this.expertParams = true;
    const ep = ctx?.ep ?? 1;
    if (numExperts % ep !== 0) throw new Error(`n_experts ${numExperts} is not divisible by ep ${ep}`);
    this.localExperts = numExperts / ep;
    const s1 = [numExperts, dim, hidden], s2 = [numExperts, hidden, dim];
    this.w1 = this.param('w1', normalParam(s1, 0.02, rng), epSpec(ctx, 0, s1)); // (E, C, F)
    this.w2 = this.param('w2', normalParam(s2, projStd, rng), epSpec(ctx, 0, s2)); // (E, F, C)
  }
  /** x (E_local, tokens, C) -> (E_local, tokens, C). */
  forward(x: Tensor): Tensor {
    return x.matmul(this.w1).gelu().matmul(this.w2);
  }
}
