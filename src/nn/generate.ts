// Autoregressive sampling with a key/value cache: each new token attends to cached keys and
// values instead of recomputing the whole prefix.
import { type Tensor, tensor } from '../tensor/tensor.js';
import { backend, scoped, noGradAsync, keep } from '../tensor/engine.js';
import { Rng } from '../tensor/random.js';
import type { GPT } from './gpt.js';

export interface SampleOptions {
  tokens: number;
  temperature: number;
  /** 0 = no top-k filtering. */
  topK: number;
  seed: number;
}

/** Per-layer caches (H, seq_len, D) of keys and values for one sequence. */
class KVCache {
  readonly k: Tensor[];
  readonly v: Tensor[];
  length = 0;
  constructor(layers: number, readonly heads: number, readonly maxLen: number, readonly headDim: number) {
    const make = () => keep(tensor(new Float32Array(heads * maxLen * headDim), [heads, maxLen, headDim]));
    this.k = Array.from({ length: layers }, make);
    this.v = Array.from({ length: layers }, make);
  }
  dispose(): void {
    for (const t of [...this.k, ...this.v]) t.dispose();
  }
}

/** Logits (V) for `token` at position cache.length, appending its keys and values to the cache. */
async function stepToken(model: GPT, cache: KVCache, token: number, rng: Rng): Promise<Float32Array> {
  const cfg = model.cfg, c = cfg.d_model, h = cfg.n_heads, d = c / h, pos = cache.length;
  let x = model.tokEmb.forward(Int32Array.of(token)); // (1, C)
  if (model.posEmb !== null) x = x.add(model.posEmb.forward(Int32Array.of(pos)));
  for (let l = 0; l < model.blocks.length; l++) {
    const blk = model.blocks[l]!;
    const qkv = blk.attn.qkv.forward(blk.ln1.forward(x)); // (1, 3C) laid out (H, 3, D)
    const rope = blk.attn.rope();
    if (rope !== undefined) backend().rope(qkv.data, 1, 1, pos, h, d, rope.cos, rope.sin, false, qkv.data); // q, k at position pos
    const kc = cache.k[l]!.data, vc = cache.v[l]!.data;
    for (let hh = 0; hh < h; hh++) {
      kc.set(qkv.data.subarray((3 * hh + 1) * d, (3 * hh + 2) * d), (hh * cache.maxLen + pos) * d);
      vc.set(qkv.data.subarray((3 * hh + 2) * d, (3 * hh + 3) * d), (hh * cache.maxLen + pos) * d);
    }
    const n = pos + 1;
    const scores = tensor(new Float32Array(h * n), [h, 1, n]);
    // scores_h (1, n) = q_h (1, D) @ K_h[0:n]^T, one batched GEMM over heads.
    backend().gemm({ transA: false, transB: true, m: 1, n, k: d, alpha: 1 / Math.sqrt(d), beta: 0,
      a: qkv.data, lda: d, strideA: 3 * d, b: kc, ldb: d, strideB: cache.maxLen * d,
      c: scores.data, ldc: n, strideC: n, batch: h });
    const att = scores.softmax();
    const y = tensor(new Float32Array(c), [h, 1, d]);
    // y_h (1, D) = att_h (1, n) @ V_h[0:n].
    backend().gemm({ transA: false, transB: false, m: 1, n: d, k: n, alpha: 1, beta: 0,
      a: att.data, lda: n, strideA: n, b: vc, ldb: d, strideB: cache.maxLen * d,
      c: y.data, ldc: d, strideC: d, batch: h });
    x = x.add(blk.attn.proj.forward(y.reshape([1, c])));
    const hn = blk.ln2.forward(x);
    x = x.add((await blk.ffn.forward(hn, rng, 1)).y); // one token: a sequence of 1
  }
  cache.length++;
  const logits = model.lnF.forward(x).matmul(model.tokEmb.weight, false, true); // (1, V)
  return Float32Array.from(logits.data);
}

/** Draws the next token from logits with temperature and top-k. */
export function sampleToken(logits: Float32Array, opts: SampleOptions, rng: Rng): number {
  if (opts.temperature <= 0) return logits.indexOf(Math.max(...logits));
  const order = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]!);
  const keepN = opts.topK > 0 ? Math.min(opts.topK, order.length) : order.length;
  const maxL = logits[order[0]!]!;
  const w = order.slice(0, keepN).map((i) => Math.exp((logits[i]! - maxL) / opts.temperature));
  let u = rng.uniform() * w.reduce((p, q) => p + q, 0);
  for (let i = 0; i < keepN; i++) {
    u -= w[i]!;
    if (u <= 0) return order[i]!;
  }
  return order[keepN - 1]!;
}

/**
 * Continues `prompt` by opts.tokens tokens. When the context fills seq_len, the cache is rebuilt
 * from the last half of the context (learned positions and the RoPE tables end at seq_len).
 */
export async function generate(model: GPT, prompt: Int32Array, opts: SampleOptions): Promise<Int32Array> {
  const cfg = model.cfg;
  const rng = new Rng(opts.seed);
  const wasTraining = model.training;
  model.eval();
  const out: number[] = Array.from(prompt);
  let cache = new KVCache(cfg.n_layers, cfg.n_heads, cfg.seq_len, cfg.d_model / cfg.n_heads);
  const feed = (tok: number) => scoped(() => noGradAsync(() => stepToken(model, cache, tok, rng)));
  let context = out.length > cfg.seq_len ? out.slice(-Math.floor(cfg.seq_len / 2)) : out.slice();
  if (context.length === 0) context = [0];
  let logits: Float32Array = new Float32Array(0);
  for (const tok of context) logits = await feed(tok);
  for (let i = 0; i < opts.tokens; i++) {
    const next = sampleToken(logits, opts, rng);
    out.push(next);
    if (cache.length >= cfg.seq_len) {
      cache.dispose();
      cache = new KVCache(cfg.n_layers, cfg.n_heads, cfg.seq_len, cfg.d_model / cfg.n_heads);
      for (const tok of out.slice(-Math.floor(cfg.seq_len / 2))) logits = await feed(tok);
    } else {
      logits = await feed(next);
    }
  }
  cache.dispose();
  model.train(wasTraining);
  return Int32Array.from(out);
}

/** Logits of the last position by a full forward pass (no cache): the reference for the cache. */
export async function lastLogits(model: GPT, ids: Int32Array): Promise<Float32Array> {
  return scoped(() => noGradAsync(async () => {
    const wasTraining = model.training;
    model.eval();
    const logits = (await model.forward(ids, 1, ids.length, new Rng(0))).logits;
    model.train(wasTraining);
    const v = model.cfg.vocab_size;
    return Float32Array.from(logits.data.subarray((ids.length - 1) * v));
  }));
}

