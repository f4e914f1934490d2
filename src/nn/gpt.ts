// A GPT-style decoder whose feed-forward layers are dense or Mixture-of-Experts (every
// `moeEvery`-th layer), with learned or rotary (RoPE) positions and tied input/output embeddings.
// Shapes: B batch, T seq_len, C d_model, H heads, D head dim, E experts, F expert hidden, V vocab.
import type { Tensor } from '../tensor/tensor.js';
import { scalar } from '../tensor/tensor.js';
import * as ops from '../tensor/ops.js';
import { Rng } from '../tensor/random.js';
import { Module } from './module.js';
import { Embedding, MLP, RMSNorm, type FeedForward, type MoEStats } from './layers.js';
import { CausalSelfAttention } from './attention.js';
import { MoELayer } from './moe/layer.js';
import type { z } from 'zod';
import type { modelSchema } from '../train/config.js';
import { singleContext, type ParallelContext } from '../parallel/context.js';
import { blockForward, type Recompute } from './recompute.js';

/** The model's shape and MoE settings; the schema (src/train/config.ts) documents each field. */
export type ModelConfig = z.infer<typeof modelSchema>;

export function usesRope(cfg: ModelConfig): boolean {
  return cfg.position === 'rope';
}

/** The router z-loss weight in effect: 0 when off or for a dense model. */
export function zLossCoef(cfg: ModelConfig): number {
  return cfg.n_experts > 0 ? cfg.router_z_loss_coef ?? 0 : 0;
}

/** The aux-loss-free bias update rate in effect: 0 when off or for a dense model. */
export function routerBiasRate(cfg: ModelConfig): number {
  return cfg.n_experts > 0 ? cfg.router_bias_rate ?? 0 : 0;
}

/** Hidden width of one MoE layer's shared experts (shared_experts x expert_d_ff; 0: none). */
/**
 * Chunks of the expert all-to-all when model.moe_overlap_chunks is absent (with --ep > 1): measured
 * with `furnace bench overlap` on 2 cores (small preset), dp2 x ep2's tokens/s over dp2's was higher
 * with 2 chunks than with one exchange in each of 7 rounds, side by side (README, Parallel training).
 */
export const MOE_OVERLAP_CHUNKS = 2;

export function sharedHidden(cfg: ModelConfig): number {
  return (cfg.shared_experts ?? 0) * cfg.expert_d_ff;
}

export function isMoeLayer(cfg: ModelConfig, i: number): boolean {
  return cfg.n_experts > 0 && (i + 1) % cfg.moe_every === 0;
}

/** Pre-norm transformer block (GPT-2): x + attn(ln1(x)), then + ffn(ln2(x)). */
export class Block extends Module {
  readonly ln1: RMSNorm;
  readonly attn: CausalSelfAttention;
  readonly ln2: RMSNorm;
  /** A dense MLP, or an MoE layer every `moe_every`-th block. */
  readonly ffn: FeedForward & Module;
  constructor(cfg: ModelConfig, moe: boolean, rng: Rng, ctx: ParallelContext) {
    super();
    const projStd = 0.02 / Math.sqrt(2 * cfg.n_layers); // GPT-2: scaled residual projections
    this.ln1 = this.child('ln1', new RMSNorm(cfg.d_model));
    this.attn = this.child('attn', new CausalSelfAttention(cfg.d_model, cfg.n_heads, rng, projStd, ctx, usesRope(cfg) ? cfg.seq_len : 0));
    this.ln2 = this.child('ln2', new RMSNorm(cfg.d_model));
    this.ffn = moe
      ? this.child('moe', new MoELayer({ dim: cfg.d_model, hidden: cfg.expert_d_ff, numExperts: cfg.n_experts,
        topK: cfg.top_k, gate: cfg.gate, capacityFactor: cfg.capacity_factor, zLoss: zLossCoef(cfg) > 0,
        routerBias: routerBiasRate(cfg) > 0, balance: cfg.balance_scope ?? 'global', sharedHidden: sharedHidden(cfg),
        overlapChunks: cfg.moe_overlap_chunks ?? MOE_OVERLAP_CHUNKS }, rng, projStd, ctx))
      : this.child('mlp', new MLP(cfg.d_model, cfg.d_ff, rng, projStd, ctx));
  }

  /** x (B*T, C) -> (B*T, C), and the MoE layer's statistics (none when dense). */
  async forward(x: Tensor, b: number, t: number, rng: Rng): Promise<{ x: Tensor; moe?: MoEStats }> {
    return this.feedForward(x.add(await this.attention(x, b, t)), rng, t);
  }

  /** The attention half's update: attn(ln1(x)), (B*T, C). */
  attention(x: Tensor, b: number, t: number): Promise<Tensor> {
    return this.attn.forward(this.ln1.forward(x), b, t);
  }

  /** The feed-forward half: x + ffn(ln2(x)), with the MoE layer's statistics. */
  async feedForward(x: Tensor, rng: Rng, t: number): Promise<{ x: Tensor; moe?: MoEStats }> {
    const f = await this.ffn.forward(this.ln2.forward(x), rng, t);
    return { x: x.add(f.y), ...(f.moe !== undefined ? { moe: f.moe } : {}) };
  }
}

export interface ForwardResult {
  /** (B*T, V) */
  logits: Tensor;
  /** Sum of the MoE layers' balance losses (0 for a dense model). */
  auxLoss: Tensor;
  /** Sum of the MoE layers' router z-losses (0 when off or dense). */
  zLoss: Tensor;
  /** Per MoE layer: choices routed to each expert. */
  load: Int32Array[];
  dropped: number;
}

export class GPT extends Module {
  /** Activation recomputation per block in training (nn/recompute.ts). */
  recompute: Recompute = 'none';
  readonly tokEmb: Embedding;
  /** The learned position table; null with RoPE. */
  readonly posEmb: Embedding | null;
  readonly blocks: Block[];
  readonly lnF: RMSNorm;

  /**
   * The same seed gives the same global weights in every parallel layout: each rank draws the
   * full initial values and keeps its block (ctx: this rank's groups; by default one rank).
   */
  constructor(readonly cfg: ModelConfig, seed: number, readonly ctx: ParallelContext = singleContext()) {
    super();
    const rng = new Rng(seed);
    this.tokEmb = this.child('tok_emb', new Embedding(cfg.vocab_size, cfg.d_model, rng));
    this.posEmb = usesRope(cfg) ? null : this.child('pos_emb', new Embedding(cfg.seq_len, cfg.d_model, rng, 0.01));
    this.blocks = [];
    for (let i = 0; i < cfg.n_layers; i++) this.blocks.push(this.child(`blocks.${i}`, new Block(cfg, isMoeLayer(cfg, i), rng, ctx)));
    this.lnF = this.child('ln_f', new RMSNorm(cfg.d_model));
  }

  /** ids (B*T) token ids of B sequences of length T -> logits (B*T, V). */
  async forward(ids: Int32Array, b: number, t: number, rng: Rng): Promise<ForwardResult> {
    if (ids.length !== b * t) throw new Error(`forward: ${ids.length} ids for batch ${b} x ${t}`);
    if (t > this.cfg.seq_len) throw new Error(`sequence length ${t} exceeds seq_len ${this.cfg.seq_len}`);
    let x = this.tokEmb.forward(ids); // (B*T, C)
    if (this.posEmb !== null) {
      const pos = new Int32Array(b * t);
      for (let i = 0; i < b * t; i++) pos[i] = i % t;
      x = x.add(this.posEmb.forward(pos));
    }
    const { out: h, ...moe } = await runBlocks(this.blocks, x, b, t, rng, this.recompute);
    const logits = this.lnF.forward(h).matmul(this.tokEmb.weight, false, true); // (B*T, V), tied
    return { logits, ...moe };
  }

  /** The MoE layers, in order (the order of ForwardResult.load). */
  moeLayers(): MoELayer[] {
    return moeLayersOf(this.blocks);
  }

  /** Aux-loss-free balancing after a step (see updateRouterBiases); returns the biases (L, E). */
  updateRouterBias(load: readonly (readonly number[])[]): number[][] {
    return updateRouterBiases(this.moeLayers(), this.cfg, load);
  }

  /**
   * Training objective: cross-entropy + aux_loss_coef * balance loss + router_z_loss_coef * z-loss.
   * With data parallelism (dp ranks, each holding 1/dp of the batch) the cross-entropy is scaled by
   * 1/dp, so that the sum of gradients over ranks is the gradient of the global batch's loss; the
   * balance and z losses are already global (see balanceLoss, routerZLoss).
   */
  async loss(ids: Int32Array, targets: Int32Array, b: number, t: number, rng: Rng): Promise<{ loss: Tensor; ce: Tensor; fwd: ForwardResult }> {
    const fwd = await this.forward(ids, b, t, rng);
    const ce = ops.crossEntropy(fwd.logits, targets);
    const scaled = ce.mul(1 / this.ctx.dp);
    let loss = this.cfg.n_experts > 0 && this.cfg.aux_loss_coef > 0 ? scaled.add(fwd.auxLoss.mul(this.cfg.aux_loss_coef)) : scaled;
    const zc = zLossCoef(this.cfg);
    if (zc > 0) loss = loss.add(fwd.zLoss.mul(zc));
    return { loss, ce, fwd };
  }
}

/** Parameter counts: total, and active per token (top_k routed experts and the shared ones per MoE layer). */
export function countParams(cfg: ModelConfig): { total: number; active: number } {
  const c = cfg.d_model;
  let total = cfg.vocab_size * c + (usesRope(cfg) ? 0 : cfg.seq_len * c) + c;
  let active = total;
  for (let i = 0; i < cfg.n_layers; i++) {
    const attn = 4 * c * c + 2 * c;
    if (isMoeLayer(cfg, i)) {
      const expert = 2 * c * cfg.expert_d_ff, shared = 2 * c * sharedHidden(cfg);
      total += attn + c * cfg.n_experts + cfg.n_experts * expert + shared;
      active += attn + c * cfg.n_experts + cfg.top_k * expert + shared;
    } else {
      total += attn + 2 * c * cfg.d_ff;
      active += attn + 2 * c * cfg.d_ff;
    }
  }
  return { total, active };
}

/** The MoE layers of some blocks, in order. */
export function moeLayersOf(blocks: readonly Block[]): MoELayer[] {
  return blocks.flatMap((blk) => (blk.ffn instanceof MoELayer ? [blk.ffn] : []));
}

/**
 * Aux-loss-free balancing after a step: each MoE layer's router bias moves by its global load
 * (row l of load, E experts); returns each layer's bias (L, E), empty when the balancing is off.
 */
export function updateRouterBiases(layers: readonly MoELayer[], cfg: ModelConfig, load: readonly (readonly number[])[]): number[][] {
  const rate = routerBiasRate(cfg);
  if (rate > 0) layers.forEach((m, l) => m.router.updateBias(load[l]!, rate));
  return layers.flatMap((m) => (m.router.bias === null ? [] : [Array.from(m.router.bias.data)]));
}

/**
 * x (B*T, C) through `blocks` (recomputed in backward as `recompute` says) -> (B*T, C), with the MoE
 * layers' summed balance and z losses, their loads in order and the dropped choices.
 */
export async function runBlocks(blocks: readonly Block[], x: Tensor, b: number, t: number, rng: Rng, recompute: Recompute): Promise<{
  out: Tensor; auxLoss: Tensor; zLoss: Tensor; load: Int32Array[]; dropped: number }> {
  let auxLoss: Tensor = scalar(0), zLoss: Tensor = scalar(0), dropped = 0;
  const load: Int32Array[] = [];
  for (const blk of blocks) {
    const o = await blockForward(blk, x, b, t, rng, recompute);
    x = o.x;
    if (o.moe === undefined) continue;
    auxLoss = auxLoss.add(o.moe.auxLoss);
    if (o.moe.zLoss !== null) zLoss = zLoss.add(o.moe.zLoss);
    load.push(o.moe.load);
    dropped += o.moe.dropped;
  }
  return { out: x, auxLoss, zLoss, load, dropped };
}
