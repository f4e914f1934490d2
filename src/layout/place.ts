// Topology-aware placement: the dim order that keeps tp, then ep groups inside the fastest tier they fit.
import { DEFAULT_ORDER, Grid, GROUPS, type Dim, type Group, type GridSizes, type Placement } from './grid.js';
import { spanTier, tierName, type TierShape } from './tiers.js';

/** How much a group's traffic weighs when it crosses a slower tier: tp all-reduces every layer, ep
 * all-to-alls every MoE layer, pp sends activations and edp reduces expert gradients per step, dp
 * reduces the dense gradients once per step. */
const WEIGHT: Record<Group, number> = { tp: 1000, ep: 100, pp: 10, edp: 10, dp: 1 };

/** Every order of DIMS, DEFAULT_ORDER first, in lexicographic order of DEFAULT_ORDER's positions. */
function allOrders(rest: readonly Dim[] = DEFAULT_ORDER): Dim[][] {
  if (rest.length <= 1) return [[...rest]];
  return rest.flatMap((d, i) => allOrders([...rest.slice(0, i), ...rest.slice(i + 1)]).map((o) => [d, ...o]));
}

/** The slowest tier each group of size > 1 crosses, under one grid. */
export function groupTiers(grid: Grid, tiers: readonly TierShape[]): Partial<Record<Group, string>> {
  const out: Partial<Record<Group, string>> = {};
  for (const g of GROUPS) if (grid.groupSize(g) > 1) out[g] = tierName(tiers, slowest(grid, g, tiers));
  return out;
}

function slowest(grid: Grid, g: Group, tiers: readonly TierShape[]): number {
  return Math.max(0, ...grid.groups(g).map((m) => spanTier(tiers, m)));
}

/**
 * The placement of a grid on a network: `order` when given (a plan's), else the order with the least
 * weighted sum over groups of the slowest tier each crosses; ties go to the earliest order, so without
 * tiers, or when it does as well as any, the order is DEFAULT_ORDER. `tiers` in the result names the
 * slowest tier each group of size > 1 crosses (absent without tiers).
 */
export function place(sizes: GridSizes, tiers?: readonly TierShape[], order?: readonly Dim[]): Placement {
  if (order !== undefined) {
    const grid = new Grid(sizes, order);
    return { order: [...grid.order], ...(tiers !== undefined ? { tiers: groupTiers(grid, tiers) } : {}) };
  }
  if (tiers === undefined) return { order: [...new Grid(sizes).order] };
  let best: { order: Dim[]; cost: number; grid: Grid } | undefined;
  const seen = new Set<string>();
  for (const o of allOrders()) {
    const grid = new Grid(sizes, o);
    // Dims of size 1 do not move any rank: orders that agree on the others are the same placement.
    const key = o.filter((d) => grid.sizeOf(d) > 1).join('/');
    if (seen.has(key)) continue;
    seen.add(key);
    let cost = 0;
    for (const g of GROUPS) if (grid.groupSize(g) > 1) cost += WEIGHT[g] * slowest(grid, g, tiers);
    if (best === undefined || cost < best.cost) best = { order: o, cost, grid };
  }
  const grid = best?.grid ?? new Grid(sizes);
  return { order: [...grid.order], tiers: groupTiers(grid, tiers) };
}
