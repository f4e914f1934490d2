// One training step's statistics (losses, dropped tokens, expert load), and their reduction over
// data parallelism to the global batch's.
import type { Tensor } from '../tensor/tensor.js';
import type { ForwardResult } from '../nn/gpt.js';
import type { ParallelContext } from '../parallel/context.js';

export class StepStats {
  constructor(
    /** Cross-entropy (mean over tokens). */
    readonly ce: number,
    /** Sum of the MoE layers' balance losses. */
    readonly aux: number,
    /** Sum of the MoE layers' router z-losses. */
    readonly zLoss: number,
    /** Tokens dropped by capacity, over all MoE layers. */
    readonly dropped: number,
    /** Per MoE layer (L, E): choices routed to each expert. */
    readonly load: number[][],
  ) {}

  /** The busiest expert's load over the balanced load (mean load), the largest over the MoE layers; NaN when dense. */
  busiest(): number {
    let worst = NaN;
    for (const l of this.load) {
      const total = l.reduce((a, b) => a + b, 0);
      if (total > 0) worst = Math.max(Number.isNaN(worst) ? 0 : worst, (Math.max(...l) * l.length) / total);
    }
    return worst;
  }

  /** This rank's statistics from its forward pass. */
  static of(ce: Tensor, fwd: ForwardResult): StepStats {
    return new StepStats(ce.item(), fwd.auxLoss.item(), fwd.zLoss.item(), fwd.dropped, fwd.load.map((l) => Array.from(l)));
  }

  /**
   * The global batch's statistics (collective over dp): the losses are the mean of the dp ranks'
   * means, dropped tokens and expert loads their sums. In float32, as one all-reduce carries them
   * (also for one rank, so every layout reports the same rounding).
   */
  async reduceOverDp(ctx: ParallelContext): Promise<StepStats> {
    const dp = ctx.groups.dp;
    const v = Float32Array.of(this.ce, this.aux, this.zLoss, this.dropped, ...this.load.flat());
    await dp.allReduce(v);
    const [ce, aux, z, dropped] = v;
    const e = this.load[0]?.length ?? 0, at = (l: number) => 4 + l * e;
    const load = this.load.map((_, l) => Array.from(v.subarray(at(l), at(l + 1))));
    return new StepStats(ce! / dp.size, aux! / dp.size, z! / dp.size, dropped!, load);
  }
}
