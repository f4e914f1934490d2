// SWIPE, BaGuaLu's exact-balance gate (Ma et al., PPoPP 2022, section 4.3): while training, every
// expert receives exactly its share of the global batch's choices and no token is dropped.
//
// Capacity per expert c = ceil(N k / E) (exactly N k / E when E divides N k). Choices are assigned
// in rounds j = 0..k-1, tokens in batch order: a token keeps its j-th preference while that expert
// has room; otherwise it goes to its next-best expert (by router score) that has room and that it
// does not hold yet. The assignment is a deterministic function of the scores, computed on the
// scores of the whole data-parallel batch (all-gathered: N x E floats per rank), so every layout
// routes exactly as one rank does; each rank then keeps its own tokens' rows.
import type { ProcessGroup } from '../../comm/process-group.js';
import { gatesAt, type Routing } from './router.js';

/** Experts' capacity under SWIPE: ceil(n k / e). */
export function swipeCapacity(n: number, k: number, e: number): number {
  return Math.ceil((n * k) / e);
}

/**
 * Assigns k distinct experts to each of n tokens from scores (n, e), row-major; returns (n, k),
 * each token's choices in the order assigned. Every expert gets at most swipeCapacity choices.
 */
export function swipeAssign(scores: Float32Array, n: number, e: number, k: number): Int32Array {
  if (k < 1 || k > e) throw new RangeError(`swipe: top_k ${k} must be in [1, ${e}]`);
  if (scores.length !== n * e) throw new RangeError(`swipe: scores hold ${scores.length} values, expected ${n} x ${e}`);
  const cap = swipeCapacity(n, k, e);
  const load = new Int32Array(e);
  const out = new Int32Array(n * k).fill(-1);
  // Each token's experts by descending score (ties: lower index first, as topk).
  const prefs = new Int32Array(n * e);
  const idx = Array.from({ length: e }, (_, x) => x);
  for (let i = 0; i < n; i++) {
    const o = i * e;
    idx.sort((a, b) => scores[o + b]! - scores[o + a]! || a - b);
    prefs.set(idx, o);
  }
  const holds = (t: number, x: number, upto: number) => {
    for (let s = 0; s < upto; s++) if (out[t * k + s] === x) return true;
    return false;
  };
  for (let j = 0; j < k; j++) {
    for (let i = 0; i < n; i++) {
      let pick = -1;
      for (let p = 0; p < e && pick < 0; p++) {
        const x = prefs[i * e + p]!;
        if (load[x]! < cap && !holds(i, x, j)) pick = x;
      }
      if (pick < 0) pick = repair(i, j);
      out[i * k + j] = pick;
      load[pick]!++;
    }
  }
  return out;

  /**
   * Token i (round j) finds room only in experts it already holds. Take such an expert r with
   * room and an assigned slot (token t, expert x) with x not held by i and r not held by t: t moves
   * to r, i takes x. One exists: i holds j < k <= e experts, so some x is not i's and is full (c
   * holders), while r has fewer than c holders, so some holder of x does not hold r.
   */
  function repair(i: number, j: number): number {
    let r = -1;
    for (let s = 0; s < j && r < 0; s++) if (load[out[i * k + s]!]! < cap) r = out[i * k + s]!;
    for (let t = 0; t < n; t++) {
      if (t === i || holds(t, r, k)) continue;
      for (let s = 0; s < k; s++) {
        const x = out[t * k + s]!;
        if (x < 0 || holds(i, x, j)) continue;
        out[t * k + s] = r;
        load[r]!++;
        load[x]!--;
        return x;
      }
    }
    throw new Error(`swipe: no reassignment found for token ${i} (capacity ${cap})`);
  }
}

/**
 * Re-routes a training step's choices by SWIPE over the global batch of the dp group (ranks in
 * dp order hold consecutive slices of it). `first` stays the router's own top choice, so the
 * balance loss still trains the router towards balance.
 */
export async function swipeRouting(r: Routing, numExperts: number, dp?: ProcessGroup): Promise<Routing> {
  const n = r.first.length, e = numExperts, k = r.k;
  let scores = r.probs.data.subarray(0, n * e);
  const ranks = dp !== undefined && dp.size > 1 ? dp.size : 1;
  if (ranks > 1) {
    const all = new Float32Array(ranks * n * e); // (dp * N, E)
    await dp!.allGather(Float32Array.from(scores), all);
    scores = all;
  }
  const mine = ranks > 1 ? dp!.rank * n : 0;
  const experts = swipeAssign(scores, ranks * n, e, k).slice(mine * k, (mine + n) * k);
  return { ...r, experts, gates: gatesAt(r.probs, experts, n, e, k) };
}
