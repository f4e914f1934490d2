// The parallel groups of a training job: world, dp, tp, ep, expertDp and pp, split along the grid of src/layout/.
//
// The composition (which ranks share each group, and each rank's place in it) is stated once in
// src/layout/grid.ts; expertDp is its edp group. The grid is placed on world ranks in a plan's
// order when one is given, else by layout/place.ts, which keeps tp, then ep groups in the fastest
// tier of the topology it can; with neither, in the order [tp, ep, edp, pp]: world rank =
// dpIndex * tp + tpIndex. comm/topology-collectives.ts then makes the collectives of the groups
// that span nodes two-level.
import type { ProcessGroup } from './process-group.js';
import { Grid, type Dim, type Group, type GridSizes, type Placement } from '../layout/grid.js';
import { place } from '../layout/place.js';
import type { TierShape } from '../layout/tiers.js';

export interface ProcessGroups {
  world: ProcessGroup;
  dp: ProcessGroup;
  tp: ProcessGroup;
  ep: ProcessGroup;
  expertDp: ProcessGroup;
  /** The pipeline: this rank's counterparts (same tp, ep, edp index) in every stage, in stage order. */
  pp: ProcessGroup;
}

export interface GridCoords {
  dpIndex: number;
  tpIndex: number;
  epIndex: number;
  edpIndex: number;
  /** Pipeline stage. */
  ppIndex: number;
}

export interface ParallelLayout extends ProcessGroups {
  sizes: GridSizes;
  coords: GridCoords;
  /** The placement this job uses: the order (chosen or given) and the tier each group crosses. */
  placement: Placement;
  /** The rank grid under that placement (coordinates and group members of any rank). */
  grid: Grid;
}

/**
 * Collective over world: splits it into the dp, tp, ep, expertDp and pp groups of this rank. `order`
 * (dims innermost first, as a plan's placement.order) overrides the placement search. The sizes must
 * match the world (dp x tp x pp = world size, ep divides dp): callers validate them against the flags
 * and the model first, so a mismatch here is an invariant error.
 */
export async function makeProcessGroups(world: ProcessGroup, sizes: GridSizes, topology?: { tiers: readonly TierShape[] },
  order?: readonly Dim[]): Promise<ParallelLayout> {
  const placement = place(sizes, topology?.tiers, order);
  const grid = new Grid(sizes, placement.order);
  if (grid.world !== world.size) {
    throw new RangeError(`makeProcessGroups: a dp ${sizes.dp} x tp ${sizes.tp} x pp ${grid.pp} grid needs ${grid.world} ranks, the world has ${world.size}`);
  }
  const c = grid.coordsOf(world.rank);
  // Groups are split in a fixed order on every rank (split is collective); color = which group, key = rank in it.
  const split = (g: Group) => world.split(grid.groupIndex(g, world.rank), grid.indexIn(g, world.rank));
  const tp = await split('tp');
  const dp = await split('dp');
  const ep = await split('ep');
  const expertDp = await split('edp');
  const pp = await split('pp');
  return { world, dp, tp, ep, expertDp, pp, sizes, coords: { dpIndex: grid.dpIndex(c), tpIndex: c.tp, epIndex: c.ep, edpIndex: c.edp, ppIndex: c.pp },
    placement, grid };
}
