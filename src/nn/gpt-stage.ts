// One pipeline stage of the GPT (gpt.ts): one contiguous run of its blocks, or with the interleaved
// schedule v runs (model chunks) of them, chunk k being virtual stage k x stages + index. The rank
// holding virtual stage 0 also embeds the tokens (and positions); the one holding the last also
// holds the final norm and tied output layer. Parameter names and initial values are the whole
// model's, so checkpoints and the saved model do not depend on the split.
import type { Tensor } from '../tensor/tensor.js';
import { scalar } from '../tensor/tensor.js';
import * as ops from '../tensor/ops.js';
import { Rng } from '../tensor/random.js';
import { Module, type ParamInfo } from './module.js';
import { Embedding, RMSNorm } from './layers.js';
import { Block, isMoeLayer, runBlocks, usesRope, zLossCoef, type ModelConfig } from './gpt.js';
import type { Recompute } from './recompute.js';
import type { ParallelContext } from '../parallel/context.js';

/** Which blocks a stage holds: its chunks, [first, end) of the model's n_layers each, and its place in the pipeline. */
export interface StageSpec {
  index: number;
  stages: number;
  /** Chunk k is virtual stage k x stages + index; one chunk without interleaving. */
  chunks: { first: number; end: number }[];
}

/**
 * Blocks per stage: `given` when set (checked: one positive count per stage, summing to nLayers),
 * else an even split whose remainder goes to the middle stages first, then to the first stage:
 * the first stage also embeds and the last one also holds the output layer (V x C per token, the
 * largest GEMM of a small model), so they take fewer blocks (Narayanan et al. 2021, arXiv
 * 2104.04473, leave the embedding stages lighter for the same reason). Throws RangeError naming
 * what is wrong; callers map it to the flag.
 */
export function splitLayers(nLayers: number, stages: number, given?: readonly number[]): number[] {
  if (given !== undefined) {
    if (given.length !== stages) throw new RangeError(`${given.length} stage sizes for ${stages} stages`);
    if (given.some((n) => !Number.isInteger(n) || n < 1)) throw new RangeError(`every stage needs a positive whole number of layers, got ${given.join(',')}`);
    const sum = given.reduce((a, b) => a + b, 0);
    if (sum !== nLayers) throw new RangeError(`stage sizes ${given.join(',')} sum to ${sum}, the model has ${nLayers} layers`);
    return [...given];
  }
  if (nLayers < stages) throw new RangeError(`${stages} stages need at least ${stages} layers, the model has ${nLayers}`);
  const sizes = new Array<number>(stages).fill(Math.floor(nLayers / stages));
  const order = [...Array.from({ length: Math.max(0, stages - 2) }, (_, i) => i + 1), 0, stages - 1];
  for (let r = nLayers % stages, k = 0; r > 0; r--, k++) sizes[order[k]!]!++;
  return sizes;
}

/** The spec of stage `index` of `stages` under a split into blocks per virtual stage (stages x v entries). */
export function stageOf(split: readonly number[], index: number, stages = split.length): StageSpec {
  const starts = split.map((_, s) => split.slice(0, s).reduce((a, b) => a + b, 0));
  const chunks = [];
  for (let s = index; s < split.length; s += stages) chunks.push({ first: starts[s]!, end: starts[s]! + split[s]! });
  return { index, stages, chunks };
}

/**
 * Blocks per virtual stage (stages x v entries) of an interleaved pipeline from blocks per rank
 * (`perRank`, one per stage): each rank's blocks split evenly over its v chunks, the remainder to its
 * middle chunks first, so that the chunks holding the embedding (rank 0's first) and the output
 * layer (the last rank's last) take fewer.
 */
export function chunkSplit(perRank: readonly number[], v: number): number[] {
  const p = perRank.length, out = new Array<number>(p * v).fill(0);
  perRank.forEach((n, r) => {
    if (n < v) throw new RangeError(`stage ${r}'s ${n} layer${n === 1 ? '' : 's'} cannot fill its ${v} virtual stages`);
    const order = [...Array.from({ length: Math.max(0, v - 2) }, (_, k) => k + 1), ...(r === p - 1 ? [0, v - 1] : [v - 1, 0])];
    for (let k = 0; k < v; k++) out[k * p + r] = Math.floor(n / v);
    for (let e = n % v, i = 0; e > 0; e--, i++) out[order[i]! * p + r]!++;
  });
  return out;
}

/** What a stage's forward pass returns for one micro-batch. */
export interface StageForward {
  /** Hidden states (B*T, C) for the next stage; on the last stage, logits (B*T, V). */
  out: Tensor;
  /** Sum of this stage's MoE balance losses (a constant 0 without MoE layers). */
  auxLoss: Tensor;
  /** Sum of this stage's router z-losses. */
  zLoss: Tensor;
  /** Per MoE layer of this stage: choices routed to each expert. */
  load: Int32Array[];
  dropped: number;
}

export class GPTStage extends Module {
  /** Activation recomputation per block in training (nn/recompute.ts). */
  recompute: Recompute = 'none';
  /** The token embedding: its table on the first stage, the tied output layer on the last (both: one stage). */
  readonly tokEmb: Embedding | null;
  readonly posEmb: Embedding | null;
  /** This stage's blocks, named blocks.<i> by their index in the whole model, in model order. */
  readonly blocks: Block[] = [];
  /** The blocks of each chunk. */
  readonly chunkBlocks: Block[][];
  readonly lnF: RMSNorm | null;
  readonly isFirst: boolean;
  readonly isLast: boolean;

  /** Draws the whole model's initial values in GPT's order (same seed, same weights) and keeps this stage's. */
  constructor(readonly cfg: ModelConfig, seed: number, readonly ctx: ParallelContext, readonly stage: StageSpec) {
    super();
    const rng = new Rng(seed);
    this.isFirst = stage.index === 0;
    this.isLast = stage.index === stage.stages - 1;
    const emb = new Embedding(cfg.vocab_size, cfg.d_model, rng);
    this.tokEmb = this.isFirst || this.isLast ? this.child('tok_emb', emb) : drop(emb);
    const pos = usesRope(cfg) ? null : new Embedding(cfg.seq_len, cfg.d_model, rng, 0.01);
    this.posEmb = pos !== null && this.isFirst ? this.child('pos_emb', pos) : drop(pos);
    this.chunkBlocks = stage.chunks.map(() => []);
    for (let i = 0; i < cfg.n_layers; i++) {
      const blk = new Block(cfg, isMoeLayer(cfg, i), rng, ctx);
      const k = stage.chunks.findIndex((c) => i >= c.first && i < c.end);
      if (k < 0) {
        drop(blk);
        continue;
      }
      this.blocks.push(this.child(`blocks.${i}`, blk));
      this.chunkBlocks[k]!.push(blk);
    }
    this.lnF = this.isLast ? this.child('ln_f', new RMSNorm(cfg.d_model)) : null;
  }

  /**
   * Across stages, the tied embedding is held twice, by the first stage (copy 0) and the last (copy
   * 1); their gradients are summed, so the copies stay equal.
   */
  override parameterInfo(prefix = ''): ParamInfo[] {
    const infos = super.parameterInfo(prefix);
    if (!this.tiedAcrossStages) return infos;
    const tied = { copy: this.isFirst ? 0 : 1, copies: 2 };
    return infos.map((i) => (i.param === this.tokEmb?.weight ? { ...i, tied } : i));
  }

  /** The tied weight's gradient must be summed over the first and last stage (they differ). */
  get tiedAcrossStages(): boolean {
    return this.stage.stages > 1 && (this.isFirst || this.isLast);
  }

  /** Whether chunk k is the model's first virtual stage (it embeds) or its last (it computes the logits). */
  holdsEmbedding(k: number): boolean {
    return this.isFirst && k === 0;
  }

  holdsOutput(k: number): boolean {
    return this.isLast && k === this.stage.chunks.length - 1;
  }

  /** The parameters chunk k's forward uses (its blocks; the embedding or the output layer where it holds them). */
  chunkParameters(k: number): Tensor[] {
    const mods: (Module | null)[] = [...this.chunkBlocks[k]!];
    if (this.holdsEmbedding(k)) mods.push(this.tokEmb, this.posEmb);
    if (this.holdsOutput(k)) mods.push(this.tokEmb, this.lnF);
    return [...new Set(mods.flatMap((m) => (m === null ? [] : m.parameters())))];
  }

  /**
   * One micro-batch through chunk k: token ids (B*T) on virtual stage 0, else the previous virtual
   * stage's hidden states (B*T, C); -> hidden states (B*T, C), or logits (B*T, V) on the last.
   */
  async forward(k: number, input: Int32Array | Tensor, b: number, t: number, rng: Rng): Promise<StageForward> {
    const x = input instanceof Int32Array ? this.embed(input, b, t) : input;
    const r = await runBlocks(this.chunkBlocks[k]!, x, b, t, rng, this.recompute);
    if (!this.holdsOutput(k) || this.lnF === null || this.tokEmb === null) return r;
    return { ...r, out: this.lnF.forward(r.out).matmul(this.tokEmb.weight, false, true) }; // (B*T, V), tied
  }

  /** ids (B*T) -> (B*T, C): token embedding, plus the position table when learned. */
  private embed(ids: Int32Array, b: number, t: number): Tensor {
    if (this.tokEmb === null) throw new Error(`invariant: stage ${this.stage.index} has no embedding`);
    let x = this.tokEmb.forward(ids);
    if (this.posEmb !== null) {
      const pos = new Int32Array(b * t);
      for (let i = 0; i < b * t; i++) pos[i] = i % t;
      x = x.add(this.posEmb.forward(pos));
    }
    return x;
  }

  /**
   * This stage's share of the training objective for one of `micro` micro-batches: on the last
   * stage cross-entropy / (dp x micro), so that gradients summed over micro-batches and dp ranks are
   * the global batch's; on every stage its MoE losses / micro (each micro-batch's balance loss is
   * global over dp, as in gpt.ts, and micro-batches weigh equally).
   */
  objective(f: StageForward, targets: Int32Array | null, micro: number): { loss: Tensor; ce: Tensor | null } {
    const moe = this.cfg.n_experts > 0 && this.cfg.aux_loss_coef > 0 ? f.auxLoss.mul(this.cfg.aux_loss_coef / micro) : null;
    const zc = zLossCoef(this.cfg);
    let loss: Tensor | null = moe;
    if (zc > 0) loss = loss === null ? f.zLoss.mul(zc / micro) : loss.add(f.zLoss.mul(zc / micro));
    if (targets === null) return { loss: loss ?? scalar(0), ce: null };
    const ce = ops.crossEntropy(f.out, targets);
    const scaled = ce.mul(1 / (this.ctx.dp * micro));
    return { loss: loss === null ? scaled : scaled.add(loss), ce };
  }
}

/** Frees a module drawn only to keep the random stream in step with the whole model. */
function drop(m: Module | null): null {
  if (m !== null) for (const p of m.parameters()) p.dispose();
  return null;
}
