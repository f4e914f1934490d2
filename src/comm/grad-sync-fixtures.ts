// Rank programs for the gradient-sync tests: data-parallel steps whose results the test compares
// with a serial computation over every rank's gradients.
import type { ProcessGroup } from './process-group.js';
import { GradBuckets, Zero1 } from './grad-sync.js';
import { gen } from './conformance.js';

export const GRAD_SIZES = [7, 300, 1, 2000, 45, 129, 0, 64];

/** Marks gradients ready from last to first; reports how many buckets had started before the
 * last one was ready (overlap), and the averaged gradients. */
export async function bucketed(world: ProcessGroup, args: { bucketBytes: number }) {
  const grads = GRAD_SIZES.map((n, i) => gen(world.rank, n, i));
  const order = [...grads.keys()].reverse();
  const b = new GradBuckets(world, order.map((i) => grads[i] ?? new Float32Array(0)), { bucketBytes: args.bucketBytes });
  let startedEarly = 0;
  for (let k = 0; k < order.length; k++) {
    b.ready(k);
    if (k < order.length - 1) startedEarly = b.started;
  }
  await b.finish();
  return { buckets: b.buckets.length, startedEarly, grads: grads.map((g) => Array.from(g)) };
}

/** Deterministic gradient of rank r at step s for parameters w: a quadratic pull plus noise. */
export function gradOf(r: number, s: number, w: Float32Array): Float32Array {
  const g = gen(r, w.length, s + 20);
  for (let i = 0; i < w.length; i++) g[i] = (g[i] ?? 0) + 0.5 * (w[i] ?? 0);
  return g;
}

/** Adam on elements [lo, hi) of w with gradient g (indexed from lo); m, v are the matching state. */
export function adam(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, lo: number, hi: number, t: number): void {
  const [lr, b1, b2, eps] = [0.01, 0.9, 0.999, 1e-8];
  for (let i = lo; i < hi; i++) {
    const gi = g[i - lo] ?? 0;
    const mi = (m[i - lo] = b1 * (m[i - lo] ?? 0) + (1 - b1) * gi);
    const vi = (v[i - lo] = b2 * (v[i - lo] ?? 0) + (1 - b2) * gi * gi);
    w[i] = (w[i] ?? 0) - (lr * (mi / (1 - b1 ** t))) / (Math.sqrt(vi / (1 - b2 ** t)) + eps);
  }
}

/** Steps of data-parallel Adam with ZeRO-1: optimizer state for this rank's shard only. */
export async function zero1(world: ProcessGroup, args: { numel: number; steps: number }): Promise<number[]> {
  const z = new Zero1(world, args.numel);
  const w = gen(0, args.numel, 99);
  const m = new Float32Array(z.shard);
  const v = new Float32Array(z.shard);
  const gShard = new Float32Array(z.shard);
  const wShard = new Float32Array(z.shard);
  for (let s = 0; s < args.steps; s++) {
    await z.reduceScatterGrads(gradOf(world.rank, s, w), gShard);
    adam(w, gShard, m, v, z.start, z.end, s + 1);
    wShard.set(w.subarray(z.start, z.end));
    await z.allGatherParams(wShard, w);
  }
  return Array.from(w);
}
