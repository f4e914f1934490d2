// Gradient reduction and the global gradient norm under data, tensor and expert parallelism.
//
// Each rank's objective is already scaled (cross-entropy / dp), so gradients are SUMMED: dense
// parameters over the dp group, expert parameters over the expert-data-parallel group (the ranks
// holding the same experts; the ep all-to-all already brought the other tokens' contributions).
import { GradBuckets, allReduceGrads } from '../comm/grad-sync.js';
import { nonblocking } from '../comm/progress.js';
import { withGradReady } from '../autograd/backward.js';
import type { Tensor } from '../tensor/tensor.js';
import type { ParamInfo } from '../nn/module.js';
import { backend } from '../tensor/engine.js';
import { zeros } from '../tensor/tensor.js';
import type { ParallelContext } from './context.js';
import type { ProcessGroup } from '../comm/process-group.js';

/** Ensures every parameter has a gradient (zeros where none flowed), so all ranks reduce alike. */
export function fillMissingGrads(infos: readonly ParamInfo[]): void {
  for (const i of infos) if (i.param.grad === null) i.param.grad = zeros(i.param.shape);
}

/** Sums every gradient over the ranks holding the same parameter block (dp, or expertDp for experts). */
export async function sumGradients(infos: readonly ParamInfo[], ctx: ParallelContext): Promise<void> {
  fillMissingGrads(infos);
  const dense = infos.filter((i) => !i.expert).map((i) => i.param.grad!.data);
  const expert = infos.filter((i) => i.expert).map((i) => i.param.grad!.data);
  if (ctx.groups.dp.size > 1 && dense.length > 0) await allReduceGrads(ctx.groups.dp, dense, { average: false });
  if (ctx.groups.expertDp.size > 1 && expert.length > 0) await allReduceGrads(ctx.groups.expertDp, expert, { average: false });
}

/** Bucket capacity of the overlapped sums: small enough that the first buckets start early in the backward pass. */
const OVERLAP_BUCKET_BYTES = 4 * 2 ** 20;

/**
 * sumGradients started during the backward pass: each parameter's gradient joins its bucket as soon
 * as it is final (autograd withGradReady), and a full bucket's sum starts at once on the group's
 * nonblocking engine (comm/progress.ts), while backward computes the earlier layers. The sums are
 * those of sumGradients, gradient for gradient.
 */
export class OverlappedSums {
  private constructor(private readonly sets: { infos: readonly ParamInfo[]; buckets: GradBuckets; index: Map<Tensor, number> }[]) {}

  /** Collective over the dp and expertDp groups (each gets its nonblocking engine). */
  static async create(infos: readonly ParamInfo[], ctx: ParallelContext): Promise<OverlappedSums> {
    const sets = [];
    for (const [expert, group] of [[false, ctx.groups.dp], [true, ctx.groups.expertDp]] as const) {
      // Backward produces the last layer's gradients first.
      const mine = infos.filter((i) => i.expert === expert).reverse();
      if (group.size === 1 || mine.length === 0) continue;
      const buckets = new GradBuckets(group, mine.map((i) => i.param.size), { average: false, bucketBytes: OVERLAP_BUCKET_BYTES },
        await nonblocking(group));
      sets.push({ infos: mine, buckets, index: new Map(mine.map((i, k) => [i.param, k])) });
    }
    return new OverlappedSums(sets);
  }

  /** Runs `pass` (the backward pass), starting the buckets whose gradients are final on the way. */
  async backward(pass: () => Promise<void>): Promise<void> {
    if (this.sets.length === 0) return pass(); // nothing to sum: one rank per group
    for (const s of this.sets) s.buckets.reset();
    await withGradReady((leaf) => {
      for (const s of this.sets) {
        const k = s.index.get(leaf);
        if (k !== undefined) s.buckets.ready(k, leaf.grad!.data);
      }
    }, pass);
  }

  /** After backward: parameters no gradient reached join as zeros (as in sumGradients); waits for every sum. */
  async finish(): Promise<void> {
    for (const s of this.sets) {
      s.infos.forEach((i, k) => {
        if (s.buckets.has(k)) return;
        if (i.param.grad === null) i.param.grad = zeros(i.param.shape);
        s.buckets.ready(k, i.param.grad.data);
      });
      await s.buckets.finish();
    }
  }
}

/** How a parameter's squared gradient norm combines across ranks. */
export function normKind(i: ParamInfo): 'replicated' | 'tp' | 'ep' {
  return i.spec === undefined ? 'replicated' : i.spec.axis;
}

/** Whether a parameter's gradient counts in the global norm (the second copy of a tied one does not). */
export function inNorm(i: ParamInfo): boolean {
  return i.tied === undefined || i.tied.copy === 0;
}

/**
 * Global L2 norm from per-kind sums of squares that are already complete over data parallelism:
 * replicated parameters count once; blocks split over tp or ep add up over that group; pipeline
 * stages hold disjoint parameters, so their sums add up over pp.
 */
export async function combineNorm(ss: { replicated: number; tp: number; ep: number }, ctx: ParallelContext): Promise<number> {
  const stage = ss.replicated + (await sumOver(ctx.groups.tp, ss.tp)) + (await sumOver(ctx.groups.ep, ss.ep));
  return Math.sqrt(await sumOver(ctx.groups.pp, stage));
}

/** x summed over the group, in float32 as the collectives reduce (x itself over a group of one). */
async function sumOver(group: ProcessGroup, x: number): Promise<number> {
  if (group.size === 1) return x;
  const v = Float32Array.of(x);
  await group.allReduce(v);
  return v[0]!;
}

/** Sums of squares of the (reduced) gradients, by kind. */
export function localSquares(infos: readonly ParamInfo[]): { replicated: number; tp: number; ep: number } {
  const ss = { replicated: 0, tp: 0, ep: 0 };
  for (const i of infos) if (i.param.grad !== null && inNorm(i)) ss[normKind(i)] += backend().sumSquares(i.param.grad.data);
  return ss;
}

