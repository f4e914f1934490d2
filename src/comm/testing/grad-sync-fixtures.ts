// Rank programs for the gradient-sync tests: data-parallel steps whose results the test compares
// with a serial computation over every rank's gradients.
import type { ProcessGroup } from '../process-group.js';
import { GradBuckets, Zero1, allReduceGrads } from '../grad-sync.js';
import { makeProcessGroups } from '../groups.js';
import { allToAllPair } from '../collective-pairs.js';
import { gen } from './conformance.case.js';
import { nonblocking } from '../progress.js';

export const GRAD_SIZES = [7, 300, 1, 2000, 45, 129, 0, 64];

/** Marks gradients ready from last to first; reports how many buckets had started before the
 * last one was ready (overlap), and the averaged gradients. */
export async function bucketed(world: ProcessGroup, args: { bucketBytes: number }) {
  const grads = GRAD_SIZES.map((n, i) => gen(world.rank, n, i));
  const order = [...grads.keys()].reverse();
  const b = new GradBuckets(world, order.map((i) => GRAD_SIZES[i] ?? 0), { bucketBytes: args.bucketBytes });
  let startedEarly = 0;
  for (let k = 0; k < order.length; k++) {
    b.ready(k, grads[order[k] ?? 0] ?? new Float32Array(0));
    if (k < order.length - 1) startedEarly = b.started;
  }
  await b.finish();
  return { buckets: b.buckets.length, startedEarly, grads: grads.map((g) => Array.from(g)) };
}

/**
 * The same, with gradients in shared memory and the group's nonblocking engine: after the last
 * gradient is marked ready, this thread spins without calling into the backend until the first
 * gradient's bits change, which only a reduction running on another thread can do.
 */
export async function overlapped(world: ProcessGroup, args: { bucketBytes: number }) {
  const engine = await nonblocking(world);
  const grads = GRAD_SIZES.map((n, i) => {
    const g = new Float32Array(new SharedArrayBuffer(4 * n));
    g.set(gen(world.rank, n, i));
    return g;
  });
  const order = [...grads.keys()].reverse();
  const b = new GradBuckets(world, order.map((i) => GRAD_SIZES[i] ?? 0), { bucketBytes: args.bucketBytes }, engine);
  for (const i of order) b.ready(order.indexOf(i), grads[i] ?? new Float32Array(0));
  const bits = new Int32Array(grads[0]!.buffer), before = Atomics.load(bits, 0), t0 = Date.now();
  let progressedAlone = false;
  while (!progressedAlone && Date.now() - t0 < 20_000) progressedAlone = Atomics.load(bits, 0) !== before;
  await b.finish();
  return { overlaps: engine.overlaps, progressedAlone, buckets: b.buckets.length, grads: grads.map((g) => Array.from(g)) };
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

/** Token t of the global batch: its value and its expert. */
export function toyToken(t: number, experts: number): { v: number; e: number } {
  return { v: (((t * 37) % 11) - 5) / 4, e: (t * 7 + (t >> 2)) % experts };
}

/** Parameters of the toy MoE: expert e computes y = w[e] * v; a dense bias b is added after combine. */
export const toyW = (e: number) => 0.5 + 0.25 * e;
export const TOY_B = 0.125;

/**
 * One step of a toy MoE on a dp x ep layout: tokens are dispatched to the rank owning their
 * expert, transformed, combined back; loss_r = mean over local tokens of (y + b - 1)^2 / 2.
 * Returns the synced gradients of this rank's experts and of the dense bias.
 */
export async function toyMoeGrads(world: ProcessGroup, args: { dp: number; ep: number; experts: number; n: number }) {
  const L = await makeProcessGroups(world, { dp: args.dp, tp: 1, ep: args.ep });
  const per = args.experts / L.ep.size;
  const first = L.ep.rank * per;
  const owner = (e: number) => Math.floor(e / per);
  const local = Array.from({ length: args.n }, (_, i) => toyToken(L.coords.dpIndex * args.n + i, args.experts));
  const order = [...local.keys()].sort((a, b) => owner(local[a]?.e ?? 0) - owner(local[b]?.e ?? 0) || a - b);
  const sc = Array.from({ length: L.ep.size }, (_, j) => local.filter((t) => owner(t.e) === j).length);
  const rcBuf = new Float32Array(L.ep.size);
  await L.ep.allToAll(Float32Array.from(sc), rcBuf, new Array<number>(L.ep.size).fill(1), new Array<number>(L.ep.size).fill(1));
  const rc = Array.from(rcBuf);
  const dispatch = allToAllPair(sc, rc);
  const combine = allToAllPair(rc, sc);
  const v = await dispatch.forward(L.ep, Float32Array.from(order, (i) => local[i]?.v ?? 0));
  const e = await dispatch.forward(L.ep, Float32Array.from(order, (i) => local[i]?.e ?? 0));
  const y = await combine.forward(L.ep, v.map((x, k) => toyW(e[k] ?? 0) * x));
  const dy = y.map((x) => (x + TOY_B - 1) / args.n);
  const db = new Float32Array([dy.reduce((s, x) => s + x, 0)]);
  const dyAtExpert = await combine.backward(L.ep, dy.slice());
  const dW = new Float32Array(per);
  dyAtExpert.forEach((g, k) => { dW[(e[k] ?? 0) - first] = (dW[(e[k] ?? 0) - first] ?? 0) + g * (v[k] ?? 0); });
  // Mean gradients of the global loss (the mean of the dp ranks' losses): the dense bias summed over
  // dp; each expert already received, through the all-to-all, the gradients of its whole ep group's
  // tokens, so summing over its replicas (expertDp) covers every dp rank once; both divided by dp
  // (DeepSpeed-MoE, arXiv 2201.05596 section 5).
  await allReduceGrads(L.dp, [db], { scale: 1 / L.dp.size });
  await allReduceGrads(L.expertDp, [dW], { scale: 1 / L.dp.size });
  return { first, dW: Array.from(dW), db: db[0] ?? NaN };
}
