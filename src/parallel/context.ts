// What a model needs to know about the parallel layout it runs in: its groups, passed
// explicitly (never a global), and how each parameter is split.
import type { ParallelLayout, ProcessGroups } from '../comm/groups.js';
import { LocalGroup } from '../comm/local-group.js';
import type { ProcessGroup } from '../comm/process-group.js';

/** Groups and sizes of this rank. One rank is a world of size 1 (singleContext), not a special case. */
export interface ParallelContext {
  groups: ProcessGroups;
  dp: number;
  tp: number;
  ep: number;
  /** Pipeline stages. */
  pp: number;
  /** This rank's coordinates in the grid. */
  dpIndex: number;
  tpIndex: number;
  epIndex: number;
  ppIndex: number;
}

/** The context of a rank placed in a grid by makeProcessGroups. */
export function contextOf(layout: ParallelLayout): ParallelContext {
  const { sizes, coords } = layout;
  return { groups: layout, dp: sizes.dp, tp: sizes.tp, ep: sizes.ep, pp: sizes.pp ?? 1, dpIndex: coords.dpIndex, tpIndex: coords.tpIndex,
    epIndex: coords.epIndex, ppIndex: coords.ppIndex };
}

/** One rank: every group is `world` (of size 1), so every collective is an identity. */
export function singleContext(world: ProcessGroup = new LocalGroup()): ParallelContext {
  if (world.size !== 1) throw new Error(`singleContext: a world of ${world.size} ranks is not one rank`);
  return { groups: { world, dp: world, tp: world, ep: world, expertDp: world, pp: world }, dp: 1, tp: 1, ep: 1, pp: 1,
    dpIndex: 0, tpIndex: 0, epIndex: 0, ppIndex: 0 };
}

/**
 * How a parameter is split: along `dim` into `parts` equal blocks over the tp or ep group; this
 * rank holds block `index`. A parameter without a spec is replicated.
 */
export interface ShardSpec {
  axis: 'tp' | 'ep';
  dim: number;
  parts: number;
  index: number;
  globalShape: readonly number[];
}

/** The block of `full` (row-major, shape) that spec selects, as a new array. */
export function sliceBlock(full: Float32Array, shape: readonly number[], dim: number, parts: number, index: number): Float32Array {
  const size = shape[dim]!;
  if (size % parts !== 0) throw new Error(`cannot split dimension ${dim} of [${shape}] into ${parts} parts`);
  const outer = shape.slice(0, dim).reduce((p, d) => p * d, 1);
  const inner = shape.slice(dim + 1).reduce((p, d) => p * d, 1);
  const block = size / parts;
  const out = new Float32Array(outer * block * inner);
  for (let o = 0; o < outer; o++) {
    const src = (o * size + index * block) * inner;
    out.set(full.subarray(src, src + block * inner), o * block * inner);
  }
  return out;
}

/** Shape of one block. */
export function blockShape(shape: readonly number[], dim: number, parts: number): number[] {
  return shape.map((d, i) => (i === dim ? d / parts : d));
}

/** A spec splitting `dim` over the tp group; undefined (replicated) when tp is 1. */
export function tpSpec(ctx: ParallelContext, dim: number, globalShape: readonly number[]): ShardSpec | undefined {
  return ctx.tp > 1 ? { axis: 'tp', dim, parts: ctx.tp, index: ctx.tpIndex, globalShape } : undefined;
}

/** A spec splitting `dim` over the ep group; undefined (replicated) when ep is 1. */
export function epSpec(ctx: ParallelContext, dim: number, globalShape: readonly number[]): ShardSpec | undefined {
  return ctx.ep > 1 ? { axis: 'ep', dim, parts: ctx.ep, index: ctx.epIndex, globalShape } : undefined;
}
