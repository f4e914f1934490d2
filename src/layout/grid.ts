// The parallel grid of a job: its dimensions, placement order, rank <-> coordinates and groups (pure, browser-safe).
//
// Composition (the one statement of these rules; the planner, the runtime groups and the dashboard
// all use this module):
//   world = dp x tp x pp ranks. Each rank has one coordinate per dim of DIMS:
//     tp   tensor-parallel index: a tp group shards every weight matrix and all-reduces every layer;
//     ep   expert-parallel index: an ep group shards the experts of each MoE layer and moves tokens
//          inside itself by all-to-all;
//     edp  expert-data-parallel index: ep divides dp and edp = dp / ep; ranks that differ only in
//          edp hold the same experts, so expert gradients are all-reduced over that group (the
//          runtime calls it expertDp; DeepSpeed-MoE, arXiv 2201.05596 §5);
//     pp   pipeline stage.
//   The data-parallel group is ep x edp: ranks that differ in ep or edp hold the same non-expert
//   weights, whose gradients are all-reduced over dp. A rank's data-parallel index (which rows of
//   the global batch it takes) is dpIndex = edp * ep + ep: ep is the inner part.
//   DP only: ep = 1 (edp = dp). DP+EP: tp = 1. ep = dp: every expert lives once and the edp groups
//   are singletons.
// Placement: `order` lists the dims innermost (consecutive world ranks) first, and a rank is the
// mixed-radix number of its coordinates in that order:
//   rank = sum_i c[order[i]] * prod_{j<i} size[order[j]]
// The default order [tp, ep, edp, pp] keeps tp groups on consecutive ranks (the fastest tier
// carries their per-layer all-reduces); with pp = 1 it is rank = dpIndex * tp + tpIndex.
// Megatron-LM's RankGenerator(tp, ep, dp, pp, order) is the same idea.

export const DIMS = ['tp', 'ep', 'edp', 'pp'] as const;
export type Dim = (typeof DIMS)[number];
/** Communication groups: one per dim, plus dp (= ep x edp, replicas of the non-expert weights). */
export const GROUPS = ['tp', 'ep', 'edp', 'pp', 'dp'] as const;
export type Group = (typeof GROUPS)[number];

export const DEFAULT_ORDER: readonly Dim[] = ['tp', 'ep', 'edp', 'pp'];

/** The sizes a job is given: dp includes ep (dp = ep x edp); pp defaults to 1. */
export interface GridSizes {
  dp: number;
  tp: number;
  ep: number;
  pp?: number;
}

/** Where the groups sit: `order` lists the dims innermost first; `tiers` names the network tier each
 * group's traffic crosses (informational: from the topology or cluster the placement was made for). */
export interface Placement {
  order: readonly Dim[];
  tiers?: Partial<Record<Group, string>>;
}

export type Coords = Record<Dim, number>;

/** Ranks along each dim: edp = dp / ep, pp defaults to 1. */
export function dimSizes(s: GridSizes): Coords {
  return { tp: s.tp, ep: s.ep, edp: s.dp / s.ep, pp: s.pp ?? 1 };
}

/** The dims a group spans, inner first: its members differ only in these coordinates. */
const GROUP_DIMS: Record<Group, readonly Dim[]> = { tp: ['tp'], ep: ['ep'], edp: ['edp'], pp: ['pp'], dp: ['ep', 'edp'] };

/** Whether `order` lists each dim once (a placement order). */
export function isOrder(order: readonly string[]): boolean {
  const seen = new Set(order);
  return order.length === DIMS.length && seen.size === DIMS.length && DIMS.every((d) => seen.has(d));
}

/**
 * The grid of one job under one placement order. Rank <-> coordinates is arithmetic both ways;
 * group members are listed by their rank within the group (the key of a split).
 */
export class Grid {
  readonly dp: number;
  readonly tp: number;
  readonly ep: number;
  readonly edp: number;
  readonly pp: number;
  /** dp x tp x pp ranks. */
  readonly world: number;
  readonly order: readonly Dim[];
  private readonly size: Coords;
  /** World-rank distance between neighbours along each dim. */
  private readonly stride: Coords;

  constructor(sizes: GridSizes, order: readonly Dim[] = DEFAULT_ORDER) {
    const pp = sizes.pp ?? 1;
    for (const [k, n] of [['dp', sizes.dp], ['tp', sizes.tp], ['ep', sizes.ep], ['pp', pp]] as const) {
      if (!Number.isInteger(n) || n < 1) throw new RangeError(`grid: ${k} must be a positive integer, got ${n}`);
    }
    if (sizes.dp % sizes.ep !== 0) throw new RangeError(`grid: ep ${sizes.ep} must divide dp ${sizes.dp}`);
    if (!isOrder(order)) {
      throw new RangeError(`grid: placement order must list each of ${DIMS.join(', ')} once, got ${order.join(', ')}`);
    }
    this.dp = sizes.dp;
    this.tp = sizes.tp;
    this.ep = sizes.ep;
    this.edp = sizes.dp / sizes.ep;
    this.pp = pp;
    this.world = sizes.dp * sizes.tp * pp;
    this.order = [...order];
    this.size = dimSizes(sizes);
    this.stride = { tp: 0, ep: 0, edp: 0, pp: 0 };
    let s = 1;
    for (const d of order) {
      this.stride[d] = s;
      s *= this.size[d];
    }
  }

  /** Ranks along one dim. */
  sizeOf(d: Dim): number {
    return this.size[d];
  }

  /** Members of one group of a kind. */
  groupSize(g: Group): number {
    return GROUP_DIMS[g].reduce((n, d) => n * this.size[d], 1);
  }

  /** Coordinates of a world rank: its mixed-radix digits over `order`, innermost first. */
  coordsOf(rank: number): Coords {
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.world) throw new RangeError(`rank ${rank} outside [0, ${this.world})`);
    const c: Coords = { tp: 0, ep: 0, edp: 0, pp: 0 };
    for (const d of DIMS) c[d] = Math.floor(rank / this.stride[d]) % this.size[d];
    return c;
  }

  /** The world rank at the given coordinates (inverse of coordsOf). */
  rankOf(c: Coords): number {
    let r = 0;
    for (const d of DIMS) r += c[d] * this.stride[d];
    return r;
  }

  /** Data-parallel index of a rank (which rows of the global batch it takes): edp * ep + ep. */
  dpIndex(c: Coords): number {
    return c.edp * this.ep + c.ep;
  }

  /** Rank of `rank` within its group of kind `g` (mixed radix over the group's dims, inner first). */
  indexIn(g: Group, rank: number): number {
    const c = this.coordsOf(rank);
    let i = 0;
    for (const d of [...GROUP_DIMS[g]].reverse()) i = i * this.size[d] + c[d];
    return i;
  }

  /** Which group of kind `g` holds `rank`, numbered 0..world/groupSize - 1 (a split's color). */
  groupIndex(g: Group, rank: number): number {
    const c = this.coordsOf(rank);
    const inside = GROUP_DIMS[g];
    let i = 0;
    for (const d of DIMS) if (!inside.includes(d)) i = i * this.size[d] + c[d];
    return i;
  }

  /** World ranks of the group of kind `g` holding `rank`, listed by their rank within the group. */
  groupOf(g: Group, rank: number): number[] {
    const base = this.coordsOf(rank);
    const dims = GROUP_DIMS[g];
    for (const d of dims) base[d] = 0;
    let members = [this.rankOf(base)];
    for (const d of dims) {
      const next: number[] = [];
      for (let i = 0; i < this.size[d]; i++) for (const m of members) next.push(m + i * this.stride[d]);
      members = next;
    }
    return members;
  }

  /** Every group of kind `g`, in groupIndex order: they partition the world. */
  groups(g: Group): number[][] {
    const out: number[][] = [];
    const seen = new Set<number>();
    for (let r = 0; r < this.world; r++) {
      const i = this.groupIndex(g, r);
      if (seen.has(i)) continue;
      seen.add(i);
      out[i] = this.groupOf(g, r);
    }
    return out;
  }
}
