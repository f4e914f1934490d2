// Routers (gates): which experts each token goes to, with what weight, and the balance loss.
// Returned as values (no hidden state): Megatron's router shape, not FastMoE's set_loss/get_loss.
import { type Tensor, tensor, zeros } from '../../tensor/tensor.js';
import * as ops from '../../tensor/ops.js';
import type { Rng } from '../../tensor/random.js';
import { Module, normalParam } from '../module.js';
import type { ProcessGroup } from '../../comm/process-group.js';
import { LocalGroup } from '../../comm/local-group.js';
import { reduceFromParallel } from '../../parallel/ops.js';

export const GATES = ['topk', 'switch', 'gshard', 'swipe'] as const;
/**
 * topk: naive top-k, gates renormalized over the chosen experts when k > 1.
 * switch: Switch Transformer top-1 (Fedus et al. 2021), multiplicative jitter on the router
 *   input while training, gate = the chosen expert's probability.
 * gshard: GShard top-2 (Lepikhin et al. 2020), gates renormalized over the two, the second expert
 *   kept with probability 2 * g2 while training (random routing).
 * swipe: BaGuaLu's exact-balance gate (swipe.ts): top-k here; while training the MoE layer
 *   reassigns the choices over the global batch so that every expert gets exactly its share.
 */
export type GateKind = (typeof GATES)[number];

export const BALANCE_SCOPES = ['global', 'sequence'] as const;
/**
 * Where the balance loss takes its statistics. global: over the whole global batch, across the
 * data-parallel ranks (Qwen's global-batch balance, Qiu et al. 2025). sequence: per sequence,
 * averaged over the batch (DeepSeek-V3's complementary sequence-wise loss, section 2.1.2). Both
 * are the same in every layout: neither depends on how the batch is split over ranks.
 */
export type BalanceScope = (typeof BALANCE_SCOPES)[number];

export interface Routing {
  /** Router logits (N, E), differentiable. */
  logits: Tensor;
  /** Router probabilities (N, E), differentiable. */
  probs: Tensor;
  /** Chosen experts (N, k), row-major; -1 where a choice was dropped by random routing. */
  experts: Int32Array;
  /** Each token's first choice (N), before random routing: the f of the balance loss. */
  first: Int32Array;
  /** Gate weight per choice (N, k), differentiable. */
  gates: Tensor;
  k: number;
}

/**
 * Switch balance loss (Fedus et al. 2021, eq. 4): E * sum_e f_e * P_e, f_e the fraction of tokens
 * whose first choice is e (a constant), P_e the mean router probability of e. With data
 * parallelism both are taken over the global batch: the per-rank sums are all-reduced over the dp
 * group (forward sum, backward identity), so every layout optimizes the same loss.
 */
export async function balanceLoss(r: Routing, numExperts: number, dp: ProcessGroup = new LocalGroup()): Promise<Tensor> {
  const n = r.first.length;
  const counts = new Float32Array(numExperts + 1);
  for (const e of r.first) counts[e]!++;
  counts[numExperts] = n;
  await dp.allReduce(counts);
  const total = counts[numExperts]!;
  const f = tensor(counts.subarray(0, numExperts).map((c) => c / total), [numExperts]); // a constant
  const probSum = await reduceFromParallel(r.probs.sum(0), dp); // (E)
  return probSum.mul(f).sum().mul(numExperts / total);
}

/**
 * Sequence-wise balance loss (DeepSeek-V3, eq. 17-20, with the Switch f of first choices): the
 * Switch loss of each sequence of seqLen tokens, averaged over the global batch's sequences:
 * E / S * sum_s sum_e f_se P_se, S sequences. The per-rank sums are all-reduced over dp as in
 * balanceLoss.
 */
export async function sequenceBalanceLoss(r: Routing, numExperts: number, seqLen: number,
  dp: ProcessGroup = new LocalGroup()): Promise<Tensor> {
  const n = r.first.length, e = numExperts, s = n / seqLen;
  if (!Number.isInteger(s)) throw new Error(`sequence balance: ${n} tokens are not whole sequences of ${seqLen}`);
  const f = new Float32Array(s * e); // (S, E): fraction of the sequence's first choices per expert, a constant
  r.first.forEach((x, i) => { f[Math.floor(i / seqLen) * e + x]! += 1 / seqLen; });
  const pSum = r.probs.reshape([s, seqLen, e]).sum(1); // (S, E): P_se * seqLen
  const local = pSum.mul(tensor(f, [s, e])).sum();
  return (await reduceFromParallel(local, dp)).mul(e / (seqLen * s * dp.size));
}

/** The balance loss over the given scope (see BalanceScope). */
export function scopedBalanceLoss(r: Routing, numExperts: number, scope: BalanceScope, seqLen: number,
  dp: ProcessGroup = new LocalGroup()): Promise<Tensor> {
  return scope === 'sequence' ? sequenceBalanceLoss(r, numExperts, seqLen, dp) : balanceLoss(r, numExperts, dp);
}

/**
 * Router z-loss (ST-MoE, Zoph et al. 2022, eq. 5): mean over tokens of logsumexp(router logits)^2,
 * which keeps the logits small (round-off in the router's exp is what destabilizes large MoE runs).
 * Global over data parallelism as balanceLoss: the per-rank sums are all-reduced over dp (forward
 * sum, backward identity) and divided by the global token count.
 */
export async function routerZLoss(r: Routing, dp: ProcessGroup = new LocalGroup()): Promise<Tensor> {
  const n = r.logits.shape[0]!;
  const m = r.logits.max(1, true).detach(); // (N, 1); lse's value and gradient do not depend on it
  const lse = r.logits.sub(m).exp().sum(1, true).log().add(m); // (N, 1)
  const z = await reduceFromParallel(lse.square().sum(), dp);
  return z.mul(1 / (n * dp.size));
}

export class Router extends Module {
  readonly weight: Tensor;
  /**
   * Aux-loss-free balancing (DeepSeek-V3, Wang et al. 2024): a per-expert bias (E) added to the
   * probabilities when choosing the top k, never to the gate values; a buffer, moved after each
   * step by updateBias. Null when off.
   */
  readonly bias: Tensor | null;
  constructor(readonly dim: number, readonly numExperts: number, readonly k: number, readonly kind: GateKind,
    rng: Rng, readonly jitter = 0.01, biased = false) {
    super();
    // Invariants (user input is checked by checkConsistency in train/config.ts).
    if (k < 1 || k > numExperts || (kind === 'switch' && k !== 1) || (kind === 'gshard' && k !== 2)) {
      throw new Error(`router: top_k ${k} does not fit gate ${kind} over ${numExperts} experts`);
    }
    this.weight = this.param('weight', normalParam([dim, numExperts], 0.02, rng));
    this.bias = biased ? this.buffer('bias', zeros([numExperts])) : null;
  }

  /** x (N, C) -> routing; rng drives jitter and random routing while training. */
  forward(x: Tensor, rng: Rng): Routing {
    const n = x.shape[0]!, k = this.k, e = this.numExperts;
    let input = x;
    if (this.kind === 'switch' && this.training && this.jitter > 0) {
      const noise = tensor(Array.from({ length: x.size }, () => 1 - this.jitter + 2 * this.jitter * rng.uniform()), x.shape);
      input = x.mul(noise);
    }
    const logits = input.matmul(this.weight); // (N, E)
    const probs = logits.softmax();
    const experts = this.bias === null ? ops.topk(probs, k).indices : ops.topk(probs.detach().add(this.bias), k).indices; // (N, k)
    let gates = gatesAt(probs, experts, n, e, k);
    if (this.kind === 'gshard' && this.training) {
      const keep = new Float32Array(n * k).fill(1);
      for (let i = 0; i < n; i++) {
        if (rng.uniform() >= 2 * gates.data[i * k + 1]!) { experts[i * k + 1] = -1; keep[i * k + 1] = 0; }
      }
      gates = gates.mul(tensor(keep, [n, k]));
    }
    const first = new Int32Array(n);
    for (let i = 0; i < n; i++) first[i] = experts[i * k]!;
    return { logits, probs, experts, first, gates, k };
  }

  /**
   * The bias update after a step (DeepSeek-V3, section 2.1.2): b_e += rate * sign(mean load - load_e),
   * load (E) the choices each expert received in the step's global batch, so every rank moves its
   * copy alike.
   */
  updateBias(load: readonly number[], rate: number): void {
    if (this.bias === null) return;
    const mean = load.reduce((a, b) => a + b, 0) / load.length;
    for (let i = 0; i < this.numExperts; i++) this.bias.data[i]! += rate * Math.sign(mean - load[i]!);
  }
}

/** Gate weights of the chosen experts: probs (N, E) at experts (N, k), renormalized over the k when k > 1. */
export function gatesAt(probs: Tensor, experts: Int32Array, n: number, e: number, k: number): Tensor {
  const flat = Int32Array.from(experts, (x, c) => Math.floor(c / k) * e + x);
  const g = ops.gatherRows(probs.reshape([n * e, 1]), flat).reshape([n, k]);
  return k > 1 ? g.div(g.sum(-1, true)) : g;
}
