// Time of collectives on a hierarchical network: ring and hierarchical algorithms, all-to-all, point-to-point.
import { effectiveBandwidth, effectiveLatency, type Efficiency } from './cluster.js';
import type { Tier } from '../layout/tiers.js';

/**
 * How a communication group sits in the network: `inside[j]` = members of the group that share one
 * tier-j block with a given member (aligned blocks of tier.group_size consecutive ranks).
 * inside[last] = size, because the outermost tier spans every device.
 */
export interface GroupLayout {
  size: number;
  inside: number[];
}

/**
 * Layout of the group spanned by `dims`, when rank = sum_d coord_d * stride_d (mixed radix, innermost
 * first). For nested strides the members inside a block of G ranks are prod_d clamp(floor(G/stride_d), 1, n_d).
 */
export function groupLayout(sizes: Readonly<Record<string, number>>, order: readonly string[], dims: readonly string[], tiers: readonly Tier[]): GroupLayout {
  const strides: Record<string, number> = {};
  let stride = 1;
  for (const d of order) {
    strides[d] = stride;
    stride *= sizes[d] ?? 1;
  }
  let size = 1;
  for (const d of dims) size *= sizes[d] ?? 1;
  const inside = tiers.map((t) => {
    let c = 1;
    for (const d of dims) c *= Math.max(1, Math.min(sizes[d] ?? 1, Math.floor(t.group_size / (strides[d] ?? 1))));
    return c;
  });
  inside[inside.length - 1] = size;
  return { size, inside };
}

/** Index of the innermost tier whose block holds the whole group (the tier its traffic crosses). */
export function spanTier(g: GroupLayout): number {
  return g.inside.findIndex((c) => c >= g.size);
}

/** t(S) = latency + perByte * S. */
export interface Linear {
  latency: number;
  perByte: number;
}

/** A collective's cost under two algorithms; the cheaper one is used for each message size. */
export interface CollectiveCost {
  flat: Linear;
  hier: Linear;
}

const ZERO: Linear = { latency: 0, perByte: 0 };

export function seconds(c: CollectiveCost, bytes: number): number {
  if (bytes <= 0) return 0;
  return Math.min(c.flat.latency + c.flat.perByte * bytes, c.hier.latency + c.hier.perByte * bytes);
}

/** Members added at each level: r_j = inside[j] / inside[j-1] (r_0 = inside[0]). */
function levels(g: GroupLayout): number[] {
  return g.inside.map((c, j) => (j === 0 ? c : c / g.inside[j - 1]!));
}

/**
 * All-reduce of S bytes per member.
 * Ring over the slowest tier crossed: 2(n-1)/n * S/B + 2(n-1) latency (Patarasuk & Yuan 2009; Thakur et al. 2005).
 * Hierarchical (reduce-scatter up the tiers, all-reduce at the top, all-gather down; as NCCL's
 * multi-ring or Horovod's 2D): sum_j 2(r_j-1)/r_j * S_j/B_j + 2(r_j-1) latency_j with S_j = S / prod_{i<j} r_i.
 */
export function allReduceCost(g: GroupLayout, tiers: readonly Tier[], e: Efficiency): CollectiveCost {
  if (g.size <= 1) return { flat: ZERO, hier: ZERO };
  const n = g.size;
  const top = tiers[spanTier(g)]!;
  const flat = { latency: 2 * (n - 1) * effectiveLatency(top, e), perByte: (2 * (n - 1)) / n / effectiveBandwidth(top, e) };
  const hier = { latency: 0, perByte: 0 };
  let share = 1; // fraction of S still being reduced at this level
  levels(g).forEach((r, j) => {
    if (r <= 1) return;
    const t = tiers[j]!;
    hier.latency += 2 * (r - 1) * effectiveLatency(t, e);
    hier.perByte += (2 * (r - 1)) / r * share / effectiveBandwidth(t, e);
    share /= r;
  });
  return { flat, hier };
}

/** Reduce-scatter or all-gather: half the traffic and steps of an all-reduce, (n-1)/n * S/B. */
export function halfAllReduceCost(g: GroupLayout, tiers: readonly Tier[], e: Efficiency): CollectiveCost {
  const c = allReduceCost(g, tiers, e);
  const half = (l: Linear): Linear => ({ latency: l.latency / 2, perByte: l.perByte / 2 });
  return { flat: half(c.flat), hier: half(c.hier) };
}

/**
 * All-to-all where each member sends S bytes in all (S/n to each member, itself included).
 * Flat (pairwise exchange): the bytes leaving a member's tier-(j-1) block, S (n - inside[j-1])/n, cross
 * tier j; the slowest tier bounds the time; one message per peer.
 * Hierarchical (2D, Tutel arXiv 2206.03382 §3.3): exchange within the inner block first, then across
 * with aggregated messages: sum_j S (r_j-1)/r_j / B_j and only r_j - 1 messages per level.
 */
export function allToAllCost(g: GroupLayout, tiers: readonly Tier[], e: Efficiency): CollectiveCost {
  if (g.size <= 1) return { flat: ZERO, hier: ZERO };
  const n = g.size;
  const flat = { latency: 0, perByte: 0 };
  const hier = { latency: 0, perByte: 0 };
  let innerCount = 1;
  levels(g).forEach((r, j) => {
    const t = tiers[j]!;
    const b = effectiveBandwidth(t, e);
    const reached = innerCount * r;
    if (reached > innerCount) {
      flat.latency += (reached - innerCount) * effectiveLatency(t, e);
      flat.perByte = Math.max(flat.perByte, (n - innerCount) / n / b);
      hier.latency += (r - 1) * effectiveLatency(t, e);
      hier.perByte += (r - 1) / r / b;
    }
    innerCount = reached;
  });
  return { flat, hier };
}

/** One point-to-point message between neighbouring pipeline stages: latency + S/B on the tier crossed. */
export function p2pCost(g: GroupLayout, tiers: readonly Tier[], e: Efficiency): CollectiveCost {
  if (g.size <= 1) return { flat: ZERO, hier: ZERO };
  const j = g.inside.findIndex((c) => c >= 2);
  const t = tiers[j]!;
  const l = { latency: effectiveLatency(t, e), perByte: 1 / effectiveBandwidth(t, e) };
  return { flat: l, hier: l };
}
