// Basic layers: Linear, Embedding, RMSNorm, a dense MLP, and the feed-forward contract it shares
// with the MoE layer.
import type { Tensor } from '../tensor/tensor.js';
import * as ops from '../tensor/ops.js';
import type { Rng } from '../tensor/random.js';
import { Module, constParam, normalParam } from './module.js';
import { reduceFromParallel, copyToParallel } from '../parallel/ops.js';
import { tpSpec, type ParallelContext } from '../parallel/context.js';

/** What a feed-forward layer (dense MLP or MoE) returns: y, and the MoE's routing statistics. */
export interface FeedForwardOutput {
  /** (N, C) */
  y: Tensor;
  moe?: MoEStats;
}

/** One MoE layer's losses and routing counts for one forward pass. */
export interface MoEStats {
  /** Balance loss (scalar, differentiable). */
  auxLoss: Tensor;
  /** Router z-loss (scalar, differentiable); null when not computed. */
  zLoss: Tensor | null;
  /** Choices routed to each expert in this call, before capacity (E). */
  load: Int32Array;
  dropped: number;
}

/**
 * A block's feed-forward half: (N, C) -> (N, C) for N tokens in whole sequences of seqLen; rng
 * drives the router's noise (both unused when dense).
 */
export interface FeedForward {
  forward(x: Tensor, rng: Rng, seqLen: number): Promise<FeedForwardOutput>;
}

/**
 * y = x @ W (+ b), W stored (in, out). x (..., in) -> (..., out).
 * Tensor parallel (Megatron-LM, Shoeybi et al. 2019, section 3): 'column' splits W along its
 * second dimension, W = [W_1, ..., W_p], so rank i computes y_i = x W_i (its block of outputs);
 * 'row' splits W along its first dimension, W = [W_1; ...; W_p], so rank i computes the partial
 * sum x_i W_i of y = sum_i x_i W_i over its block x_i of inputs (bias added after the sum).
 */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, rng: Rng,
    opts: { bias?: boolean; std?: number; tp?: { split: 'column' | 'row'; ctx: ParallelContext } } = {}) {
    super();
    const shape = [inFeatures, outFeatures];
    const tp = opts.tp;
    const spec = tp === undefined ? undefined : tpSpec(tp.ctx, tp.split === 'column' ? 1 : 0, shape);
    this.weight = this.param('weight', normalParam(shape, opts.std ?? 0.02, rng), spec);
    if (opts.bias === true && tp?.split === 'row' && spec !== undefined) {
      throw new Error('a row-parallel Linear has no bias (it would be added once per rank before the sum)');
    }
    const biasSpec = tp?.split === 'column' ? tpSpec(tp.ctx, 0, [outFeatures]) : undefined;
    this.bias = opts.bias === true ? this.param('bias', constParam([outFeatures], 0), biasSpec) : null;
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

/**
 * Dense feed-forward block: (N, C) -> GELU(x W1) W2 -> (N, C). With tensor parallelism W1 is
 * column-parallel and W2 row-parallel, so the hidden activations never leave their rank: one
 * all-reduce forward (g) and one backward (f) per block.
 */
export class MLP extends Module implements FeedForward {
  readonly fc: Linear;
  readonly proj: Linear;
  constructor(dim: number, hidden: number, rng: Rng, projStd: number, private readonly ctx: ParallelContext) {
    super();
    this.fc = this.child('fc', new Linear(dim, hidden, rng, { tp: { split: 'column', ctx } }));
    this.proj = this.child('proj', new Linear(hidden, dim, rng, { std: projStd, tp: { split: 'row', ctx } }));
  }
  /** x (N, C) -> (N, C). */
  async forward(x: Tensor): Promise<FeedForwardOutput> {
    const xin = await copyToParallel(x, this.ctx.groups.tp);
    const y = this.proj.forward(this.fc.forward(xin).gelu()); // hidden (N, F/tp) stays on this rank
    return { y: await reduceFromParallel(y, this.ctx.groups.tp) };
  }
}
