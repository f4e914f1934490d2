// Whole parameters from their blocks: all-gather over the group that splits them (to save a
// single-file model at the end of a parallel run).
import type { ParamInfo } from '../nn/module.js';
import type { ParallelContext } from './context.js';

/** Joins `parts` equal blocks (stacked block after block) along dim into one row-major array. */
export function joinBlocks(stacked: Float32Array, blockShape: readonly number[], dim: number, parts: number): Float32Array {
  const outer = blockShape.slice(0, dim).reduce((p, d) => p * d, 1);
  const inner = blockShape.slice(dim).reduce((p, d) => p * d, 1); // one block's run per outer index
  const blockSize = outer * inner;
  const out = new Float32Array(stacked.length);
  for (let q = 0; q < parts; q++) {
    for (let o = 0; o < outer; o++) {
      out.set(stacked.subarray(q * blockSize + o * inner, q * blockSize + (o + 1) * inner), (o * parts + q) * inner);
    }
  }
  return out;
}

/**
 * Every parameter whole, by name (collective over the tp and ep groups). A rank that does not
 * `keep` takes part in the collectives but holds nothing (an empty map): only the rank that writes
 * the model pays for a whole copy of it.
 */
export async function gatherParams(infos: readonly ParamInfo[], ctx: ParallelContext, keep = true): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const info of infos) {
    const s = info.spec;
    if (s === undefined) {
      if (keep) out.set(info.name, { shape: [...info.param.shape], data: info.param.data });
      continue;
    }
    const group = s.axis === 'tp' ? ctx.groups.tp : ctx.groups.ep;
    const stacked = new Float32Array(info.param.size * s.parts);
    await group.allGather(Float32Array.from(info.param.data), stacked);
    if (keep) out.set(info.name, { shape: [...s.globalShape], data: joinBlocks(stacked, info.param.shape, s.dim, s.parts) });
  }
  return out;
}
