// Routers (gates): which experts each token goes to, with what weight, and the balance loss.
// Returned as values (no hidden state): Megatron's router shape, not FastMoE's set_loss/get_loss.
import { type Tensor, tensor } from '../../tensor/tensor.js';
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
  constructor(readonly dim: number, readonly numExperts: number, readonly k: number, readonly kind: GateKind,
    rng: Rng, readonly jitter = 0.01) {
    super();
    // Invariants (user input is checked by checkConsistency in train/config.ts).
    if (k < 1 || k > numExperts || (kind === 'switch' && k !== 1) || (kind === 'gshard' && k !== 2)) {
      throw new Error(`router: top_k ${k} does not fit gate ${kind} over ${numExperts} experts`);
    }
    this.weight = this.param('weight', normalParam([dim, numExperts], 0.02, rng));
  }

  /** x (N, C) -> routing; rng drives jitter and random routing while training. */
  forward(x: Tensor, rng: Rng): Routing {
    const n = x.shape[0]!, k = this.k;
    let input = x;
    if (this.kind === 'switch' && this.training && this.jitter > 0) {
      const noise = tensor(Array.from({ length: x.size }, () => 1 - this.jitter + 2 * this.jitter * rng.uniform()), x.shape);
      input = x.mul(noise);
    }
    const logits = input.matmul(this.weight); // (N, E)
    const probs = logits.softmax();
    const { values, indices } = ops.topk(probs, k); // (N, k)
    let gates = k > 1 ? values.div(values.sum(-1, true)) : values;
    const experts = Int32Array.from(indices);
    if (this.kind === 'gshard' && this.training) {
      const keep = new Float32Array(n * k).fill(1);
      for (let i = 0; i < n; i++) {
        if (rng.uniform() >= 2 * gates.data[i * k + 1]!) { experts[i * k + 1] = -1; keep[i * k + 1] = 0; }
      }
      gates = gates.mul(tensor(keep, [n, k]));
    }
    const first = new Int32Array(n);
    for (let i = 0; i < n; i++) first[i] = indices[i * k]!;
    return { logits, probs, experts, first, gates, k };
  }
}
