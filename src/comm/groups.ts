// The parallel groups of a training job: world, dp, tp, ep and expertDp, built from --dp --tp --ep.
//
// Composition (pipeline size 1):
//   world = dp x tp ranks. Logical rank = dpIndex * tp + tpIndex: tp is innermost, so a tp group
//     is tp consecutive ranks (the fast tier carries its per-layer all-reduces).
//   ep divides dp: dpIndex = edpIndex * ep + epIndex. An ep group holds the ranks with the same
//     tpIndex and edpIndex (ep consecutive dpIndex): the experts of a layer are sharded over it,
//     and tokens move inside it by all-to-all.
//   expertDp = the ranks with the same tpIndex and epIndex (dp / ep of them): they hold the same
//     experts, so expert gradients are all-reduced over expertDp only, while dense (non-expert)
//     gradients are all-reduced over dp.
//   DP-only: ep = 1 (expertDp = dp). DP+EP (the seed's hybrid): tp = 1. ep = dp: every expert
//     lives once, expertDp groups are singletons.
// With a topology, the logical grid is placed on world ranks by topology.place(), which keeps tp,
// then ep groups in the fastest tier it can; without one, logical rank = world rank.
import type { ProcessGroup } from './process-group.js';
import { place, type Axis, type GridSizes, type Placement, type Topology } from './topology.js';

export interface ProcessGroups {
  world: ProcessGroup;
  dp: ProcessGroup;
  tp: ProcessGroup;
  ep: ProcessGroup;
  expertDp: ProcessGroup;
}

export interface GridCoords {
  dpIndex: number;
  tpIndex: number;
  epIndex: number;
  edpIndex: number;
}

export interface ParallelLayout extends ProcessGroups {
  sizes: GridSizes;
  coords: GridCoords;
  placement: Placement;
}

/** Checks that dp x tp = world and ep divides dp; errors name the flag. */
export function checkSizes(worldSize: number, s: GridSizes): void {
  for (const k of ['dp', 'tp', 'ep'] as const) {
    if (!Number.isInteger(s[k]) || s[k] < 1) throw new RangeError(`--${k}: must be a positive integer, got ${s[k]}`);
  }
  if (s.dp * s.tp !== worldSize) throw new RangeError(`--dp ${s.dp} x --tp ${s.tp} = ${s.dp * s.tp}, but the world has ${worldSize} ranks`);
  if (s.dp % s.ep !== 0) throw new RangeError(`--ep ${s.ep} must divide --dp ${s.dp}`);
}

/** This world rank's grid coordinates under a placement. */
export function coordsOf(worldRank: number, s: GridSizes, placement: Placement): GridCoords {
  const edp = s.dp / s.ep;
  for (let e = 0; e < edp; e++) {
    for (let p = 0; p < s.ep; p++) {
      for (let t = 0; t < s.tp; t++) {
        if (placement.worldRank(t, p, e) === worldRank) return { dpIndex: e * s.ep + p, tpIndex: t, epIndex: p, edpIndex: e };
      }
    }
  }
  throw new RangeError(`rank ${worldRank} is outside the ${s.dp} x ${s.tp} grid`);
}

/**
 * Collective over world: splits it into the dp, tp, ep and expertDp groups of this rank. `order`
 * (axes innermost first, as a plan's placement.order without pp) overrides the placement search.
 */
export async function makeProcessGroups(world: ProcessGroup, sizes: GridSizes, topology?: Topology,
  order?: readonly Axis[]): Promise<ParallelLayout> {
  checkSizes(world.size, sizes);
  const placement = place(sizes, topology, order);
  const c = coordsOf(world.rank, sizes, placement);
  const tp = await world.split(c.dpIndex, c.tpIndex);
  const dp = await world.split(c.tpIndex, c.dpIndex);
  const ep = await world.split(c.edpIndex * sizes.tp + c.tpIndex, c.epIndex);
  const expertDp = await world.split(c.epIndex * sizes.tp + c.tpIndex, c.edpIndex);
  return { world, dp, tp, ep, expertDp, sizes, coords: c, placement };
}
