// The collectives a model uses inside its layers, each paired with the collective its gradient
// needs, named after the layout change they perform (Megatron-LM core/tensor_parallel/mappings.py;
// Shoeybi et al. arXiv 1909.08053 section 3, "f" and "g" operators; Korthikanti et al. arXiv
// 2205.05198 section 4.2.2 for the sequence-parallel pair).
//
// Layouts: "replicated" = every rank of the group holds the same full value; "per-rank" = each
// rank holds its own value (a shard, or a partial sum whose total is the logical value). The
// backward of each pair is the adjoint of its forward under that convention, which the tests
// check: sum over ranks of <forward(x), y> = sum over ranks of <x, backward(y)> (replicated
// values counted once).
// Matrices are row-major (rows, cols); sharding is along the last dim unless said otherwise.
import { sumCounts as sum, type Counts, type ProcessGroup } from './process-group.js';

export type Layout = 'replicated' | 'per-rank';

export interface CollectivePair {
  readonly name: string;
  readonly input: Layout;
  readonly output: Layout;
  forward(g: ProcessGroup, x: Float32Array): Promise<Float32Array>;
  backward(g: ProcessGroup, dy: Float32Array): Promise<Float32Array>;
}

/** Own column block of a (rows, cols) matrix: (rows, cols / p). */
function ownColumns(g: ProcessGroup, x: Float32Array, rows: number): Float32Array {
  const cols = x.length / rows;
  if (!Number.isInteger(cols) || cols % g.size !== 0) throw new RangeError(`split: ${cols} columns do not divide over ${g.size} ranks`);
  const c = cols / g.size;
  const out = new Float32Array(rows * c);
  for (let i = 0; i < rows; i++) out.set(x.subarray(i * cols + g.rank * c, i * cols + (g.rank + 1) * c), i * c);
  return out;
}

/** All ranks' (rows, c) blocks side by side: (rows, p * c). */
async function gatherColumns(g: ProcessGroup, x: Float32Array, rows: number): Promise<Float32Array> {
  const c = x.length / rows;
  const stacked = new Float32Array(x.length * g.size); // (p, rows, c)
  await g.allGather(x, stacked);
  const out = new Float32Array(stacked.length);
  const cols = c * g.size;
  for (let q = 0; q < g.size; q++) {
    for (let i = 0; i < rows; i++) out.set(stacked.subarray((q * rows + i) * c, (q * rows + i + 1) * c), i * cols + q * c);
  }
  return out;
}

/** Forward identity, backward all-reduce: the input of a column-parallel linear ("f"). */
export const copyToParallelRegion: CollectivePair = {
  name: 'copyToParallelRegion', input: 'replicated', output: 'per-rank',
  forward: async (_g, x) => x,
  backward: async (g, dy) => { await g.allReduce(dy); return dy; },
};

/** Forward all-reduce, backward identity: the output of a row-parallel linear ("g"). */
export const reduceFromParallelRegion: CollectivePair = {
  name: 'reduceFromParallelRegion', input: 'per-rank', output: 'replicated',
  forward: async (g, x) => { await g.allReduce(x); return x; },
  backward: async (_g, dy) => dy,
};

/** Forward: keep own column block of a replicated (rows, cols); backward: all-gather columns. */
export function scatterToParallelRegion(rows: number): CollectivePair {
  return {
    name: 'scatterToParallelRegion', input: 'replicated', output: 'per-rank',
    forward: async (g, x) => ownColumns(g, x, rows),
    backward: (g, dy) => gatherColumns(g, dy, rows),
  };
}

/** Forward: all-gather column blocks into (rows, p * c); backward: keep own column block. */
export function gatherFromParallelRegion(rows: number): CollectivePair {
  return {
    name: 'gatherFromParallelRegion', input: 'per-rank', output: 'replicated',
    forward: (g, x) => gatherColumns(g, x, rows),
    backward: async (g, dy) => ownColumns(g, dy, rows),
  };
}

/** Sequence parallel: forward reduce-scatter along rows (partial sums -> own row block), backward all-gather. */
export const reduceScatterToSequenceParallel: CollectivePair = {
  name: 'reduceScatterToSequenceParallel', input: 'per-rank', output: 'per-rank',
  forward: async (g, x) => { const y = new Float32Array(x.length / g.size); await g.reduceScatter(x, y); return y; },
  backward: async (g, dy) => { const dx = new Float32Array(dy.length * g.size); await g.allGather(dy, dx); return dx; },
};

/** Sequence parallel: forward all-gather row blocks, backward reduce-scatter. */
export const gatherFromSequenceParallel: CollectivePair = {
  name: 'gatherFromSequenceParallel', input: 'per-rank', output: 'per-rank',
  forward: async (g, x) => { const y = new Float32Array(x.length * g.size); await g.allGather(x, y); return y; },
  backward: async (g, dy) => { const dx = new Float32Array(dy.length / g.size); await g.reduceScatter(dy, dx); return dx; },
};

/**
 * Equal-split all-to-all, x (p, m) -> (p, m): block j goes to rank j; the backward is the same
 * exchange. Every rank passes the same m, so no counts travel (a two-level all-to-all then needs no
 * exchange of the count matrix).
 */
export const allToAllEqualPair: CollectivePair = {
  name: 'allToAll', input: 'per-rank', output: 'per-rank',
  forward: async (g, x) => { const y = new Float32Array(x.length); await g.allToAll(x, y); return y; },
  backward: async (g, dy) => { const dx = new Float32Array(dy.length); await g.allToAll(dy, dx); return dx; },
};

/**
 * Expert dispatch/combine: forward all-to-all sending sendCounts[j] elements to rank j; backward
 * sends the gradients back along the same routes (the counts swap roles).
 */
export function allToAllPair(sendCounts: Counts, recvCounts: Counts): CollectivePair {
  return {
    name: 'allToAll', input: 'per-rank', output: 'per-rank',
    forward: async (g, x) => { const y = new Float32Array(sum(recvCounts)); await g.allToAll(x, y, sendCounts, recvCounts); return y; },
    backward: async (g, dy) => { const dx = new Float32Array(sum(sendCounts)); await g.allToAll(dy, dx, recvCounts, sendCounts); return dx; },
  };
}
