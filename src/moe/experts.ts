// E feed-forward experts held as stacked weights, applied with one batched GEMM per matrix.
import type { Tensor } from '../tensor/tensor.js';
import type { Rng } from '../tensor/random.js';
import { Module, normalParam } from '../nn/module.js';

export class Experts extends Module {
  readonly w1: Tensor;
  readonly w2: Tensor;
  /** numExperts here is the number held by this rank (all of them without expert parallelism). */
  constructor(readonly numExperts: number, readonly dim: number, readonly hidden: number, rng: Rng, projStd: number) {
    super();
    this.w1 = this.param('w1', normalParam([numExperts, dim, hidden], 0.02, rng)); // (E, C, F)
    this.w2 = this.param('w2', normalParam([numExperts, hidden, dim], projStd, rng)); // (E, F, C)
  }
  /** x (E, cap, C) -> (E, cap, C). */
  forward(x: Tensor): Tensor {
    return x.matmul(this.w1).gelu().matmul(this.w2);
  }
}
