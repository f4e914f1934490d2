// Causal multi-head self-attention (Vaswani et al. 2017), as in GPT-2.
import { type Tensor, full } from '../tensor/tensor.js';
import { causalAttention, ropeTables, type RopeTables } from '../tensor/attention.js';
import type { Rng } from '../tensor/random.js';
import { Module } from './module.js';
import { Linear } from './layers.js';
import { copyToParallel, reduceFromParallel } from '../parallel/ops.js';
import type { ParallelContext } from '../parallel/context.js';

/** Additive causal mask (T, T): 0 on and below the diagonal, -1e9 above. */
export function causalMask(t: number): Tensor {
  const m = full([t, t], 0);
  for (let i = 0; i < t; i++) m.data.fill(-1e9, i * t + i + 1, (i + 1) * t);
  return m;
}

/**
 * causalAttention composed from differentiable ops (differentiable to any order; the fused op is
 * checked against it). qkv (B*T, H*3*D) with columns (H, 3, D) -> (B*T, H*D).
 */
export function composedAttention(qkv: Tensor, b: number, t: number, h: number, d: number): Tensor {
  const x = qkv.reshape([b, t, h, 3, d]).permute([3, 0, 2, 1, 4]); // (3, B, H, T, D)
  const q = x.rows(0, 1).reshape([b, h, t, d]);
  const k = x.rows(1, 1).reshape([b, h, t, d]);
  const v = x.rows(2, 1).reshape([b, h, t, d]);
  const att = q.matmul(k, false, true).mul(1 / Math.sqrt(d)).add(causalMask(t)).softmax(); // (B, H, T, T)
  return att.matmul(v).permute([0, 2, 1, 3]).reshape([b * t, h * d]); // (B*T, H*D)
}

/**
 * The qkv projection's output columns are ordered (H, 3, D): per head its query, key and value
 * (Megatron-LM's layout), so splitting the columns over tp ranks splits whole heads, and the
 * output projection's rows (H, D) split the same way.
 */
export class CausalSelfAttention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly headDim: number;
  /** Heads held by this rank (all of them without tensor parallelism). */
  readonly localHeads: number;
  /**
   * ropePositions > 0: rotary positions (RoPE) for sequences up to that length; 0: none (the model
   * adds learned positions to its input).
   */
  constructor(readonly dim: number, readonly heads: number, rng: Rng, projStd: number, private readonly ctx: ParallelContext,
    readonly ropePositions = 0) {
    super();
    // Invariants (user input is checked by checkConsistency and checkLayout in train/config.ts).
    if (dim % heads !== 0 || heads % ctx.tp !== 0) throw new Error(`attention: n_heads ${heads} must divide d_model ${dim}, tp ${ctx.tp} n_heads`);
    this.headDim = dim / heads;
    this.localHeads = heads / ctx.tp;
    this.qkv = this.child('qkv', new Linear(dim, 3 * dim, rng, { tp: { split: 'column', ctx } }));
    this.proj = this.child('proj', new Linear(dim, dim, rng, { std: projStd, tp: { split: 'row', ctx } }));
  }

  /** x (B*T, C) -> (B*T, C); H below is this rank's heads (n_heads / tp). */
  async forward(x: Tensor, b: number, t: number): Promise<Tensor> {
    const h = this.localHeads, d = this.headDim;
    const xin = await copyToParallel(x, this.ctx.groups.tp);
    const qkv = this.qkv.forward(xin); // (B*T, H*3*D)
    const y = causalAttention(qkv, b, t, h, d, this.rope()); // (B*T, H*D)
    return reduceFromParallel(this.proj.forward(y), this.ctx.groups.tp); // (B*T, C)
  }

  /** The RoPE tables of this layer's head dim, or undefined without RoPE. */
  rope(): RopeTables | undefined {
    return this.ropePositions > 0 ? ropeTables(this.ropePositions, this.headDim) : undefined;
  }
}
