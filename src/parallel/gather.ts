// Whole parameters from their blocks: all-gather over the group that splits them (to save a
// single-file model at the end of a parallel run).
import type { ParamInfo } from '../nn/module.js';
import type { ParallelContext } from './context.js';

/** Joins `parts` equal blocks (stacked block after block) along dim into one row-major array. */
export function joinBlocks(stacked: Float32Array, blockShape: readonly number[], dim: number, parts: number,
  out: Float32Array = new Float32Array(stacked.length)): Float32Array {
  const outer = blockShape.slice(0, dim).reduce((p, d) => p * d, 1);
  const inner = blockShape.slice(dim).reduce((p, d) => p * d, 1); // one block's run per outer index
  const blockSize = outer * inner;
  for (let q = 0; q < parts; q++) {
    for (let o = 0; o < outer; o++) {
      out.set(stacked.subarray(q * blockSize + o * inner, q * blockSize + (o + 1) * inner), (o * parts + q) * inner);
    }
  }
  return out;
}

/** The shape of a parameter whole: its global shape when split, else its own. */
export function wholeShape(info: ParamInfo): number[] {
  return [...(info.spec?.globalShape ?? info.param.shape)];
}

/** Reusable arrays for gathering: the stacked blocks and the joined whole, each as long as the largest split parameter. */
interface GatherScratch { stacked: Float32Array; joined: Float32Array }

/**
 * One parameter whole (collective over the tp or ep group that splits it); null on a rank that
 * does not `keep` it. A replicated parameter is returned as is (its own array, not a copy); a split
 * one in `scratch` when given (valid until the next call with it), else in new arrays.
 */
export async function gatherParam(info: ParamInfo, ctx: ParallelContext, keep = true, scratch?: GatherScratch): Promise<Float32Array | null> {
  const s = info.spec;
  if (s === undefined) return keep ? info.param.data : null;
  const group = s.axis === 'tp' ? ctx.groups.tp : ctx.groups.ep, n = info.param.size * s.parts;
  const stacked = scratch?.stacked.subarray(0, n) ?? new Float32Array(n);
  await group.allGather(info.param.data, stacked);
  return keep ? joinBlocks(stacked, info.param.shape, s.dim, s.parts, scratch?.joined.subarray(0, n)) : null;
}

/**
 * Every parameter whole, one at a time in `infos` order, for a writer that streams them out: a
 * rank that keeps them holds one whole parameter at a time, in arrays reused for the next (write
 * each before asking for the next); the others take part in the collectives and get nothing
 * (drain the generator).
 */
export async function* eachWholeParam(infos: readonly ParamInfo[], ctx: ParallelContext, keep: boolean): AsyncGenerator<Float32Array> {
  const largest = infos.reduce((m, i) => (i.spec !== undefined ? Math.max(m, i.param.size * i.spec.parts) : m), 0);
  const scratch = { stacked: new Float32Array(largest), joined: new Float32Array(keep ? largest : 0) };
  for (const info of infos) {
    const data = await gatherParam(info, ctx, keep, scratch);
    if (data !== null) yield data;
  }
}

/**
 * Every parameter whole, by name (collective over the tp and ep groups). A rank that does not
 * `keep` takes part in the collectives but holds nothing (an empty map): only the rank that writes
 * the model pays for a whole copy of it.
 */
export async function gatherParams(infos: readonly ParamInfo[], ctx: ParallelContext, keep = true): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const info of infos) {
    const data = await gatherParam(info, ctx, keep);
    if (data !== null) out.set(info.name, { shape: wholeShape(info), data });
  }
  return out;
}
