// Causal multi-head self-attention (Vaswani et al. 2017), as in GPT-2.
import { Tensor, full } from '../tensor/tensor.js';
import type { Rng } from '../tensor/random.js';
import { Module } from './module.js';
import { Linear } from './layers.js';

/** Additive causal mask (T, T): 0 on and below the diagonal, -1e9 above. */
export function causalMask(t: number): Tensor {
  const m = full([t, t], 0);
  for (let i = 0; i < t; i++) m.data.fill(-1e9, i * t + i + 1, (i + 1) * t);
  return m;
}

export class CausalSelfAttention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly headDim: number;
  constructor(readonly dim: number, readonly heads: number, rng: Rng, projStd: number) {
    super();
    if (dim % heads !== 0) throw new Error(`d_model ${dim} is not divisible by n_heads ${heads}`);
    this.headDim = dim / heads;
    this.qkv = this.child('qkv', new Linear(dim, 3 * dim, rng));
    this.proj = this.child('proj', new Linear(dim, dim, rng, { std: projStd }));
  }

  /** x (B*T, C) -> (B*T, C). */
  forward(x: Tensor, b: number, t: number): Tensor {
    const h = this.heads, d = this.headDim, c = this.dim;
    const qkv = this.qkv.forward(x).reshape([b, t, 3, h, d]).permute([2, 0, 3, 1, 4]); // (3, B, H, T, D)
    const q = qkv.rows(0, 1).reshape([b, h, t, d]);
    const k = qkv.rows(1, 1).reshape([b, h, t, d]);
    const v = qkv.rows(2, 1).reshape([b, h, t, d]);
    const att = q.matmul(k, false, true).mul(1 / Math.sqrt(d)).add(causalMask(t)).softmax(); // (B, H, T, T)
    const y = att.matmul(v).permute([0, 2, 1, 3]).reshape([b * t, c]); // (B*T, C)
    return this.proj.forward(y);
  }
}
