// What a model needs to know about the parallel layout it runs in: its groups, passed
// explicitly (never a global), and how each parameter is split.
import type { ProcessGroups } from '../comm/groups.js';

/** Groups and sizes of this rank; absent (undefined) means one rank. */
export interface ParallelContext {
  groups: ProcessGroups;
  dp: number;
  tp: number;
  ep: number;
  /** This rank's coordinates in the grid. */
  dpIndex: number;
  tpIndex: number;
  epIndex: number;
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

/** A spec splitting `dim` over the tp group, or undefined without tensor parallelism. */
export function tpSpec(ctx: ParallelContext | undefined, dim: number, globalShape: readonly number[]): ShardSpec | undefined {
  return ctx !== undefined && ctx.tp > 1 ? { axis: 'tp', dim, parts: ctx.tp, index: ctx.tpIndex, globalShape } : undefined;
}

/** A spec splitting `dim` over the ep group, or undefined without expert parallelism. */
export function epSpec(ctx: ParallelContext | undefined, dim: number, globalShape: readonly number[]): ShardSpec | undefined {
  return ctx !== undefined && ctx.ep > 1 ? { axis: 'ep', dim, parts: ctx.ep, index: ctx.epIndex, globalShape } : undefined;
}
