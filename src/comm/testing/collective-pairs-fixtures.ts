// Rank program for the adjoint test of the collective pairs.
import type { ProcessGroup } from '../process-group.js';
import {
  allToAllEqualPair, allToAllPair, copyToParallelRegion, gatherFromParallelRegion, gatherFromSequenceParallel, reduceFromParallelRegion,
  reduceScatterToSequenceParallel, scatterToParallelRegion, type CollectivePair, type Layout,
} from '../collective-pairs.js';
import { gen } from './conformance.case.js';

/** <a, b> over the group: per-rank values summed over ranks, replicated ones counted once. */
async function inner(g: ProcessGroup, a: Float32Array, b: Float32Array, layout: Layout): Promise<number> {
  if (a.length !== b.length) throw new Error(`inner product of lengths ${a.length} and ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] ?? 0) * (b[i] ?? 0);
  if (layout === 'replicated') return s;
  const t = new Float32Array([s]);
  await g.allReduce(t);
  return t[0] ?? NaN;
}

function value(g: ProcessGroup, layout: Layout, n: number, salt: number): Float32Array {
  return gen(layout === 'replicated' ? 0 : g.rank + 1, n, salt);
}

/** For each pair: [name, <forward(x), y>, <x, backward(y)>]. */
export async function adjoints(g: ProcessGroup): Promise<[string, number, number][]> {
  const p = g.size;
  const count = (q: number, j: number) => (q * 3 + j * 5) % 4;
  const sc = Array.from({ length: p }, (_, j) => count(g.rank, j));
  const rc = Array.from({ length: p }, (_, q) => count(q, g.rank));
  const cases: [CollectivePair, number, number][] = [
    [copyToParallelRegion, 12, 12],
    [reduceFromParallelRegion, 12, 12],
    [scatterToParallelRegion(3), 3 * 2 * p, 3 * 2],
    [gatherFromParallelRegion(3), 3 * 2, 3 * 2 * p],
    [reduceScatterToSequenceParallel, 5 * p, 5],
    [gatherFromSequenceParallel, 5, 5 * p],
    [allToAllPair(sc, rc), sc.reduce((a, b) => a + b, 0), rc.reduce((a, b) => a + b, 0)],
    [allToAllEqualPair, 3 * p, 3 * p],
  ];
  const out: [string, number, number][] = [];
  for (const [pair, nIn, nOut] of cases) {
    const x = value(g, pair.input, nIn, 1);
    const y = value(g, pair.output, nOut, 2);
    const fx = await pair.forward(g, x.slice());
    const by = await pair.backward(g, y.slice());
    out.push([pair.name, await inner(g, fx, y, pair.output), await inner(g, x, by, pair.input)]);
  }
  return out;
}
