// Routers (gates): which experts each token goes to, with what weight, and the balance loss.
// Returned as values (no hidden state): Megatron's router shape, not FastMoE's set_loss/get_loss.
import { Tensor, tensor } from '../tensor/tensor.js';
import * as ops from '../tensor/ops.js';
import type { Rng } from '../tensor/random.js';
import { noGrad } from '../tensor/engine.js';
import { Module, normalParam } from '../nn/module.js';

export const GATES = ['topk', 'switch', 'gshard'] as const;
/**
 * topk: naive top-k, gates renormalized over the chosen experts when k > 1.
 * switch: Switch Transformer top-1 (Fedus et al. 2021), multiplicative jitter on the router
 *   input while training, gate = the chosen expert's probability.
 * gshard: GShard top-2 (Lepikhin et al. 2020), gates renormalized over the two, the second expert
 *   kept with probability 2 * g2 while training (random routing).
 */
export type GateKind = (typeof GATES)[number];

export interface Routing {
  /** Router probabilities (N, E), differentiable. */
  probs: Tensor;
  /** Chosen experts (N, k), row-major; -1 where a choice was dropped by random routing. */
  experts: Int32Array;
  /** Gate weight per choice (N, k), differentiable. */
  gates: Tensor;
  k: number;
  /** Switch balance loss E * sum_e f_e * P_e (f_e: share of first choices, P_e: mean prob). */
  auxLoss: Tensor;
}

export class Router extends Module {
  readonly weight: Tensor;
  constructor(readonly dim: number, readonly numExperts: number, readonly k: number, readonly kind: GateKind,
    rng: Rng, readonly jitter = 0.01) {
    super();
    if (k < 1 || k > numExperts) throw new Error(`top_k ${k} must be in [1, n_experts=${numExperts}]`);
    if (kind === 'switch' && k !== 1) throw new Error(`the switch gate is top-1; got top_k ${k}`);
    if (kind === 'gshard' && k !== 2) throw new Error(`the gshard gate is top-2; got top_k ${k}`);
    this.weight = this.param('weight', normalParam([dim, numExperts], 0.02, rng));
  }

  /** x (N, C) -> routing; rng drives jitter and random routing while training. */
  forward(x: Tensor, rng: Rng): Routing {
    const n = x.shape[0]!, e = this.numExperts, k = this.k;
    let input = x;
    if (this.kind === 'switch' && this.training && this.jitter > 0) {
      const noise = tensor(Array.from({ length: x.size }, () => 1 - this.jitter + 2 * this.jitter * rng.uniform()), x.shape);
      input = x.mul(noise);
    }
    const probs = input.matmul(this.weight).softmax(); // (N, E)
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
    // f_e: fraction of tokens whose first choice is e (a constant); P_e: mean router probability.
    const f = noGrad(() => {
      const counts = new Float32Array(e);
      for (let i = 0; i < n; i++) counts[indices[i * k]!]! += 1 / n;
      return tensor(counts, [e]);
    });
    const auxLoss = probs.mean(0).mul(f).sum().mul(e);
    return { probs, experts, gates, k, auxLoss };
  }
}
