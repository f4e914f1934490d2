// Muon (Jordan et al. 2024, the modded-nanoGPT speedrun): SGD momentum whose update for each weight
// matrix is orthogonalized by a Newton-Schulz iteration, scaled to AdamW's update size (Liu et al.
// 2025, "Muon is Scalable for LLM Training", section 2.2) so that one learning rate and weight
// decay serve both. Embeddings, norms and the router stay with AdamW (usesMuon).
import { noGrad, keep } from '../tensor/engine.js';
import { type Tensor, tensor, zeros } from '../tensor/tensor.js';
import type { ParamInfo } from '../nn/module.js';
import type { ParallelContext } from '../parallel/context.js';
import type { ProcessGroup } from '../comm/process-group.js';
import { sliceBlock } from '../parallel/context.js';
import { joinBlocks } from '../parallel/gather.js';
import { backend } from '../tensor/engine.js';

/** The speedrun's quintic coefficients: a fast rise of small singular values, ending in about [0.7, 1.2]. */
const NS = { a: 3.4445, b: -4.775, c: 2.0315 } as const;

/** Momentum of Muon's SGD (the speedrun's 0.95, Nesterov). */
export const MUON_MOMENTUM = 0.95;

/**
 * Which parameters Muon trains: the weight matrices of attention, MLPs and experts (2-D, or 3-D
 * stacks of per-expert matrices). Embeddings (their rows are looked up, not multiplied: the
 * speedrun keeps them on Adam), the router (its probabilities feed the balance statistics) and
 * every 1-D norm or bias stay with AdamW. The fused qkv projection (C, 3C) is orthogonalized as one
 * matrix, as stored.
 */
export function usesMuon(info: ParamInfo): boolean {
  return info.param.ndim >= 2 && !/(^|\.)(tok_emb|pos_emb|router)\./.test(info.name);
}

/**
 * Newton-Schulz orthogonalization of a stack g (batch, rows, cols): each matrix G = U S V^T goes to
 * about U V^T (its singular values into about [0.7, 1.2]) by 5 steps of X <- a X + (b A + c A^2) X,
 * A = X X^T, from X = G / ||G||_F; X is (min, max)-shaped so that A is the smaller Gram matrix.
 */
export function newtonSchulz(g: Float32Array, batch: number, rows: number, cols: number, steps = 5): Float32Array {
  return noGrad(() => {
    const tall = rows > cols;
    let x: Tensor = tensor(g, [batch, rows, cols]);
    if (tall) x = x.transpose(); // (batch, cols, rows)
    const size = rows * cols, inv = new Float32Array(batch);
    for (let i = 0; i < batch; i++) inv[i] = 1 / (Math.sqrt(backend().sumSquares(g.subarray(i * size, (i + 1) * size))) + 1e-7);
    x = x.mul(tensor(inv, [batch, 1, 1]));
    for (let s = 0; s < steps; s++) {
      const a = x.matmul(x, false, true); // (batch, m, m)
      const b = a.mul(NS.b).add(a.matmul(a).mul(NS.c));
      x = x.mul(NS.a).add(b.matmul(x));
    }
    return Float32Array.from((tall ? x.transpose() : x).data);
  });
}

/** Matrices of one parameter as (batch, rows, cols): a 2-D weight is one, an expert stack (E, rows, cols) is E. */
function matrixShape(shape: readonly number[]): [number, number, number] {
  const rows = shape[shape.length - 2]!, cols = shape[shape.length - 1]!;
  return [shape.slice(0, -2).reduce((p, d) => p * d, 1), rows, cols];
}

/**
 * Muon over this rank's blocks of the matrices. A matrix split over tensor parallelism is
 * orthogonalized whole, as one rank would: its update is all-gathered over tp, orthogonalized on
 * every tp rank alike, and each keeps its block. Expert stacks split over ep hold whole experts,
 * so they need no exchange. The gradients must already be summed over data parallelism, so every
 * data-parallel replica holds the same updates: the Newton-Schulz work is dealt out over the
 * replicas (matrix k to replica k mod size, as the speedrun's distributed Muon) and the results
 * shared by one all-reduce, in which every other replica adds zeros (exact).
 */
export class Muon {
  /** Momentum buffers, one per matrix block (the checkpointed state). */
  readonly momentum: Tensor[];
  constructor(readonly infos: readonly ParamInfo[], readonly ctx: ParallelContext, readonly weightDecay: number,
    readonly beta = MUON_MOMENTUM) {
    this.momentum = infos.map((i) => keep(zeros(i.param.shape)));
  }

  /** p <- p (1 - lr wd) - lr 0.2 sqrt(max(rows, cols)) NS(g + beta buf), buf <- beta buf + g, g = scale x grad. */
  async update(lr: number, scale: number): Promise<void> {
    const u = this.infos.map((info, k) => {
      const buf = this.momentum[k]!.data, g = info.param.grad!.data, out = new Float32Array(g.length);
      for (let i = 0; i < g.length; i++) { // Nesterov: g + beta buf after buf <- beta buf + g
        const gi = g[i]! * scale;
        buf[i] = this.beta * buf[i]! + gi;
        out[i] = gi + this.beta * buf[i]!;
      }
      return out;
    });
    const o = new Array<Float32Array>(this.infos.length);
    const dense = this.infos.flatMap((i, k) => (i.expert ? [] : [k])), expert = this.infos.flatMap((i, k) => (i.expert ? [k] : []));
    await this.shared(dense, this.ctx.groups.dp, u, o);
    await this.shared(expert, this.ctx.groups.expertDp, u, o);
    this.infos.forEach((info, k) => {
      const [, rows, cols] = matrixShape(info.spec?.axis === 'tp' ? info.spec.globalShape : info.param.shape);
      const p = info.param.data, ok = o[k]!, step = lr * 0.2 * Math.sqrt(Math.max(rows, cols)), decay = 1 - lr * this.weightDecay;
      for (let i = 0; i < p.length; i++) p[i] = p[i]! * decay - step * ok[i]!;
    });
  }

  /** o[k] for the matrices ks replicated over `group`: each replica orthogonalizes its share, one all-reduce shares them. */
  private async shared(ks: readonly number[], group: ProcessGroup, u: readonly Float32Array[], o: Float32Array[]): Promise<void> {
    if (group.size === 1) {
      for (const k of ks) o[k] = await this.orthogonalized(this.infos[k]!, u[k]!);
      return;
    }
    const offsets: number[] = [];
    let n = 0;
    for (const k of ks) { offsets.push(n); n += u[k]!.length; }
    const flat = new Float32Array(n);
    for (let j = 0; j < ks.length; j++) {
      if (j % group.size === group.rank) flat.set(await this.orthogonalized(this.infos[ks[j]!]!, u[ks[j]!]!), offsets[j]);
    }
    await group.allReduce(flat);
    ks.forEach((k, j) => { o[k] = flat.subarray(offsets[j]!, offsets[j]! + u[k]!.length); });
  }

  /** NS of the whole matrices u belongs to, cut back to this rank's block. */
  private async orthogonalized(info: ParamInfo, u: Float32Array): Promise<Float32Array> {
    const s = info.spec;
    if (s === undefined || s.axis === 'ep') return newtonSchulz(u, ...matrixShape(info.param.shape));
    const stacked = new Float32Array(u.length * s.parts);
    await this.ctx.groups.tp.allGather(u, stacked);
    const whole = joinBlocks(stacked, info.param.shape, s.dim, s.parts);
    return sliceBlock(newtonSchulz(whole, ...matrixShape(s.globalShape)), s.globalShape, s.dim, s.parts, s.index);
  }
}
