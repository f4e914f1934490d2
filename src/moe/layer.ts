// The MoE feed-forward layer in four steps: route, dispatch, experts, combine.
import type { Tensor } from '../tensor/tensor.js';
import type { Rng } from '../tensor/random.js';
import { Module } from '../nn/module.js';
import { Router, type GateKind } from './router.js';
import { Experts } from './experts.js';
import { combine, dispatch, planDispatch } from './dispatch.js';

export interface MoEConfig {
  dim: number;
  hidden: number;
  numExperts: number;
  topK: number;
  gate: GateKind;
  /** Capacity factor; 0 = dropless. */
  capacityFactor: number;
}

export interface MoEOutput {
  y: Tensor;
  auxLoss: Tensor;
  /** Choices routed to each expert in this call (before capacity). */
  load: Int32Array;
  dropped: number;
}

export class MoELayer extends Module {
  readonly router: Router;
  readonly experts: Experts;
  constructor(readonly cfg: MoEConfig, rng: Rng, projStd: number) {
    super();
    this.router = this.child('router', new Router(cfg.dim, cfg.numExperts, cfg.topK, cfg.gate, rng));
    this.experts = this.child('experts', new Experts(cfg.numExperts, cfg.dim, cfg.hidden, rng, projStd));
  }

  /** x (N, C) -> y (N, C). */
  forward(x: Tensor, rng: Rng): MoEOutput {
    const routing = this.router.forward(x, rng);
    const plan = planDispatch(routing, this.cfg.numExperts, this.training ? this.cfg.capacityFactor : 0);
    const expertOut = this.experts.forward(dispatch(x, plan)); // (E, cap, C)
    const y = combine(expertOut, routing.gates, plan, x.shape[0]!);
    return { y, auxLoss: routing.auxLoss, load: plan.load, dropped: plan.dropped };
  }
}
