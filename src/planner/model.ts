// Transformer description for planning (dense or MoE) and the parameter / FLOP counts derived from it.
import { InputError } from '../util/errors.js';
import { parseWith, z } from '../util/schema.js';

const posInt = z.number().int().min(1);

/** A decoder-only transformer; MoE when `experts` > 0 (every `moe_every`-th layer is an MoE layer). */
export const modelSpecSchema = z.strictObject({
  name: z.string().min(1),
  layers: posInt,
  hidden: posInt,
  heads: posInt,
  kv_heads: posInt.exactOptional(),
  ffn_hidden: posInt,
  vocab: posInt,
  seq_len: posInt,
  /** Experts per MoE layer; 0 = dense. */
  experts: z.number().int().min(0),
  top_k: z.number().int().min(0),
  moe_every: posInt,
  expert_ffn_hidden: posInt.exactOptional(),
});
export type ModelSpec = z.infer<typeof modelSpecSchema>;

export function parseModel(value: unknown, where = 'model'): ModelSpec {
  const m = parseWith(modelSpecSchema, value, where);
  if (m.hidden % m.heads !== 0) throw new InputError(`${where}.heads: hidden ${m.hidden} is not divisible by heads ${m.heads}`);
  if (m.kv_heads !== undefined && m.heads % m.kv_heads !== 0) {
    throw new InputError(`${where}.kv_heads: heads ${m.heads} is not divisible by kv_heads ${m.kv_heads}`);
  }
  if (m.experts > 0 && (m.top_k < 1 || m.top_k > m.experts)) {
    throw new InputError(`${where}.top_k: must be in [1, experts=${m.experts}] for an MoE model, got ${m.top_k}`);
  }
  if (m.experts > 0 && m.moe_every > m.layers) {
    throw new InputError(`${where}.moe_every: ${m.moe_every} exceeds layers ${m.layers}, so no layer would be MoE`);
  }
  return m;
}

/** Counts that the cost model needs, all per token unless named otherwise. */
export interface ModelStats {
  /** Parameters of one attention block plus norms and biases (every layer has one). */
  attnParams: number;
  /** Parameters of one dense MLP block. */
  mlpParams: number;
  /** Parameters of one expert (two matrices and biases). */
  expertParams: number;
  /** Router weights of one MoE layer. */
  routerParams: number;
  /** Token + position embedding (the output projection is tied to it, as in Megatron GPT). */
  embedParams: number;
  moeLayers: number;
  denseLayers: number;
  /** All parameters. */
  totalParams: number;
  /** Parameters touched by one token (top_k experts per MoE layer). */
  activeParams: number;
  /** Forward matmul FLOPs per token of one dense layer / one MoE layer (without capacity slack). */
  denseLayerFlops: number;
  moeLayerFlops: number;
  /** The part of moeLayerFlops spent in the top_k experts (scaled by the capacity factor when planning). */
  expertFlops: number;
  /** Forward FLOPs per token of attention scores and values, one layer: 4 s h (arXiv 2104.04473 §5.1). */
  attnScoreFlops: number;
  /** Forward FLOPs per token of the logits: 2 h V. */
  logitFlops: number;
}

/**
 * Parameter and FLOP counts. With kv_heads = heads, ffn_hidden = 4h and no experts this is
 * Megatron's P = 12 l h^2 (1 + 13/(12h) + (V+s)/(12 l h)) and forward FLOPs per token
 * 24 l h^2 + 4 l s h + 2 h V, i.e. 72 B s l h^2 (1 + s/6h + V/12lh) per iteration with full
 * recompute (arXiv 2104.04473, §5.1 and Appendix).
 */
export function modelStats(m: ModelSpec): ModelStats {
  const h = m.hidden;
  const kv = (m.kv_heads ?? m.heads) * (h / m.heads); // width of K and of V
  const fe = m.expert_ffn_hidden ?? m.ffn_hidden;
  // Q and O are h x h; K and V are h x kv. Biases: qkv, o, fc1, fc2; two norms of 2h each.
  const attnMatmul = 2 * h * h + 2 * h * kv;
  const attnParams = attnMatmul + (h + 2 * kv) + h + 4 * h;
  const mlpMatmul = 2 * h * m.ffn_hidden;
  const mlpParams = mlpMatmul + m.ffn_hidden + h;
  const expertMatmul = 2 * h * fe;
  const expertParams = expertMatmul + fe + h;
  const moeLayers = m.experts > 0 ? Math.floor(m.layers / m.moe_every) : 0;
  const denseLayers = m.layers - moeLayers;
  const routerParams = m.experts > 0 ? h * m.experts : 0;
  const embedParams = (m.vocab + m.seq_len) * h;
  const totalParams = m.layers * attnParams + denseLayers * mlpParams
    + moeLayers * (m.experts * expertParams + routerParams) + embedParams + 2 * h;
  const activeParams = m.layers * attnParams + denseLayers * mlpParams
    + moeLayers * (m.top_k * expertParams + routerParams) + embedParams + 2 * h;
  return {
    attnParams, mlpParams, expertParams, routerParams, embedParams, moeLayers, denseLayers,
    totalParams, activeParams,
    denseLayerFlops: 2 * (attnMatmul + mlpMatmul),
    moeLayerFlops: 2 * (attnMatmul + m.top_k * expertMatmul + routerParams),
    expertFlops: 2 * m.top_k * expertMatmul,
    attnScoreFlops: 4 * m.seq_len * h,
    logitFlops: 2 * h * m.vocab,
  };
}

/** Forward FLOPs of one token through the whole model (no capacity slack, no recompute). */
export function forwardFlopsPerToken(m: ModelSpec, s: ModelStats = modelStats(m)): number {
  return s.denseLayers * s.denseLayerFlops + s.moeLayers * s.moeLayerFlops + m.layers * s.attnScoreFlops + s.logitFlops;
}

/**
 * Model FLOPs of one training step over `tokens` tokens: forward + backward = 3x forward
 * (the "model FLOPs" of MFU, PaLM arXiv 2204.02311 App. B: recompute is not counted).
 */
export function trainingFlops(m: ModelSpec, tokens: number): number {
  return 3 * forwardFlopsPerToken(m) * tokens;
}
