// The MoE feed-forward layer in four steps: route, dispatch, experts, combine. With expert
// parallelism the experts' padded batches travel to the ranks holding them by all-to-all and
// back (GShard/Tutel's layout: every rank sends E/ep experts x capacity rows to each peer).
import type { Tensor } from '../../tensor/tensor.js';
import type { Rng } from '../../tensor/random.js';
import { Module } from '../module.js';
import { MLP, type FeedForward, type FeedForwardOutput } from '../layers.js';
import { Router, routerZLoss, scopedBalanceLoss, type BalanceScope, type GateKind } from './router.js';
import { Experts } from './experts.js';
import { swipeRouting } from './swipe.js';
import { capacityFor, combine, dispatch, expertLoad, planDispatch } from './dispatch.js';
import { allToAllBlocks } from '../../parallel/ops.js';
import { nonblockingFor } from '../../comm/progress.js';
import { pipelinedExperts } from './pipelined.js';
import { singleContext, type ParallelContext } from '../../parallel/context.js';

export interface MoEConfig {
  dim: number;
  hidden: number;
  numExperts: number;
  topK: number;
  gate: GateKind;
  /** Capacity factor; 0 = dropless. */
  capacityFactor: number;
  /** Compute the router z-loss. */
  zLoss?: boolean;
  /** Aux-loss-free balancing: the router keeps a selection bias (Router.bias). */
  routerBias?: boolean;
  /** Where the balance loss takes its statistics; default 'global'. */
  balance?: BalanceScope;
  /** Hidden width of the always-on shared experts (their count x F); 0 or absent: none. */
  sharedHidden?: number;
  /** With expert parallelism: chunks whose all-to-all overlaps the experts' computation (pipelined.ts); 1 or absent: one exchange. */
  overlapChunks?: number;
}

export class MoELayer extends Module implements FeedForward {
  readonly router: Router;
  readonly experts: Experts;
  /**
   * DeepSeekMoE's shared experts (Dai et al. 2024, section 3.2): always on, added to the routed
   * output. n shared experts of width F are one MLP of width n F (their hidden units side by side:
   * sum_i GELU(x W1_i) W2_i = GELU(x [W1_1 .. W1_n]) [W2_1; ..; W2_n]), tensor-parallel as a dense
   * MLP and replicated over ep. Null when there are none.
   */
  readonly shared: MLP | null;
  constructor(readonly cfg: MoEConfig, rng: Rng, projStd: number, private readonly ctx: ParallelContext = singleContext()) {
    super();
    this.router = this.child('router', new Router(cfg.dim, cfg.numExperts, cfg.topK, cfg.gate, rng, undefined, cfg.routerBias === true));
    this.experts = this.child('experts', new Experts(cfg.numExperts, cfg.dim, cfg.hidden, rng, projStd, ctx));
    const sh = cfg.sharedHidden ?? 0;
    this.shared = sh > 0 ? this.child('shared', new MLP(cfg.dim, sh, rng, projStd, ctx)) : null;
  }

  /** x (N, C) of whole sequences of seqLen tokens -> y (N, C), with the layer's losses and routing counts. */
  async forward(x: Tensor, rng: Rng, seqLen: number = x.shape[0]!): Promise<FeedForwardOutput> {
    const e = this.cfg.numExperts, n = x.shape[0]!, c = x.shape[1]!;
    const ep = this.ctx.groups.ep, dp = this.ctx.groups.dp;
    // SWIPE balances the training choices exactly (dropless by construction); evaluation routes by top-k.
    const swipe = this.cfg.gate === 'swipe' && this.training;
    const routing = swipe ? await swipeRouting(this.router.forward(x, rng), e, dp) : this.router.forward(x, rng);
    const load = expertLoad(routing, e);
    const factor = this.training && !swipe ? this.cfg.capacityFactor : 0;
    let capacity = capacityFor(factor, n, routing.k, load);
    // A capacity factor gives every rank the same capacity (training splits the batch evenly over dp,
    // so every ep rank holds n tokens): only dropless capacities, set by the local load, are agreed on.
    if (ep.size > 1 && factor <= 0) {
      // Every rank of the ep group must send blocks of one size: take the largest capacity.
      const cap = Float32Array.of(capacity);
      await ep.allReduce(cap, 'max');
      capacity = cap[0]!;
    }
    const plan = planDispatch(routing, e, capacity);
    const xin = dispatch(x, plan); // (E, cap, C)
    let out: Tensor;
    if (ep.size === 1) {
      // Every expert is here: no exchange.
      out = this.experts.forward(xin, { rows: plan.filled, segs: 1 });
    } else {
      const p = ep.size, el = e / p;
      // How many of each peer's slots are filled, per expert of mine: (E_l, ep) after the transpose.
      const filledFrom = new Float32Array(e);
      await ep.allToAll(Float32Array.from(plan.filled), filledFrom); // block j: rank j's fills of my experts
      const chunks = this.cfg.overlapChunks ?? 1;
      if (chunks > 1) {
        out = await pipelinedExperts(xin, this.experts, { p, el, cap: capacity, c, filledFrom, chunks, engine: await nonblockingFor(ep) });
      } else {
        // (ep, E_l, cap, C): block j holds the tokens for rank j's experts.
        const recv = await allToAllBlocks(xin.reshape([p, el * capacity * c]), ep); // block j: rank j's tokens for my experts
        const mine = recv.reshape([p, el, capacity, c]).permute([1, 0, 2, 3]).reshape([el, p * capacity, c]);
        const rows = new Int32Array(e);
        for (let l = 0; l < el; l++) for (let j = 0; j < p; j++) rows[l * p + j] = filledFrom[j * el + l]!;
        const y = this.experts.forward(mine, { rows, segs: p }).reshape([el, p, capacity, c]).permute([1, 0, 2, 3]);
        out = (await allToAllBlocks(y.reshape([p, el * capacity * c]), ep)).reshape([e, capacity, c]);
      }
    }
    let y = combine(out, routing.gates, plan, n);
    if (this.shared !== null) y = y.add((await this.shared.forward(x)).y);
    const auxLoss = await scopedBalanceLoss(routing, e, this.cfg.balance ?? 'global', seqLen, dp);
    const zLoss = this.cfg.zLoss ? await routerZLoss(routing, dp) : null;
    return { y, moe: { auxLoss, zLoss, load, dropped: plan.dropped } };
  }
}
