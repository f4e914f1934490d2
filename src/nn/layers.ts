// Basic layers: Linear, Embedding, RMSNorm, a dense MLP.
import type { Tensor } from '../tensor/tensor.js';
import * as ops from '../tensor/ops.js';
import type { Rng } from '../tensor/random.js';
import { Module, constParam, normalParam } from './module.js';

/** y = x @ W (+ b), W stored (in, out). x (..., in) -> (..., out). */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, rng: Rng,
    opts: { bias?: boolean; std?: number } = {}) {
    super();
    this.weight = this.param('weight', normalParam([inFeatures, outFeatures], opts.std ?? 0.02, rng));
    this.bias = opts.bias === true ? this.param('bias', constParam([outFeatures], 0)) : null;
  }
  forward(x: Tensor): Tensor {
    const y = x.matmul(this.weight);
    return this.bias === null ? y : y.add(this.bias);
  }
}

export class Embedding extends Module {
  readonly weight: Tensor;
  constructor(readonly num: number, readonly dim: number, rng: Rng, std = 0.02) {
    super();
    this.weight = this.param('weight', normalParam([num, dim], std, rng));
  }
  /** ids (N) -> (N, dim). */
  forward(ids: Int32Array): Tensor {
    return ops.embedding(this.weight, ids);
  }
}

export class RMSNorm extends Module {
  readonly weight: Tensor;
  constructor(readonly dim: number, readonly eps = 1e-5) {
    super();
    this.weight = this.param('weight', constParam([dim], 1));
  }
  forward(x: Tensor): Tensor {
    return ops.rmsnorm(x, this.weight, this.eps);
  }
}

/** Dense feed-forward block: (N, C) -> GELU(x W1) W2 -> (N, C). */
export class MLP extends Module {
  readonly fc: Linear;
  readonly proj: Linear;
  constructor(dim: number, hidden: number, rng: Rng, projStd: number) {
    super();
    this.fc = this.child('fc', new Linear(dim, hidden, rng));
    this.proj = this.child('proj', new Linear(hidden, dim, rng, { std: projStd }));
  }
  forward(x: Tensor): Tensor {
    return this.proj.forward(this.fc.forward(x).gelu());
  }
}
