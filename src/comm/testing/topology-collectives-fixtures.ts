// Rank programs for the topology-collectives tests: hierarchical against flat all-reduce, and the
// groups useTopology wraps.
import { makeProcessGroups } from '../groups.js';
import { HierarchicalGroup } from '../hierarchical-group.js';
import type { ProcessGroup, ReduceOp } from '../process-group.js';
import { TimedGroup } from '../timed-group.js';
import { useTopology, type TopologyTier } from '../topology-collectives.js';
import type { GridSizes } from '../../layout/grid.js';

/** Uniform in [-1, 1) from a seed (mulberry32). */
function random(seed: number, n: number): Float32Array {
  const x = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    x[i] = (((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * 2 - 1;
  }
  return x;
}

export interface Shape {
  /** Sub-groups of the world: world rank r is in group r % groups. */
  groups: number;
  /** Node of world rank r: floor(r / node). */
  node: number;
}

/**
 * For each shape, length and op: the hierarchical all-reduce against the flat one on the same random
 * data, then reduce-scatter and all-gather likewise. Returns the worst |hier - flat| / sum over ranks
 * of |x| for sums (rounding only) and the number of max and all-gather results that differ (must be
 * 0), with the elements compared and the shapes that took the two-level path.
 */
export async function allReduceAgainstFlat(world: ProcessGroup, args: { shapes: Shape[]; lengths: number[] }) {
  let worst = 0, maxDiffs = 0, compared = 0, hierarchical = 0;
  for (const { groups, node } of args.shapes) {
    const g = await world.split(world.rank % groups, world.rank);
    const h = await HierarchicalGroup.create(g, Math.floor(world.rank / node), { allToAll: false, allReduce: true });
    if (h === undefined) throw new Error(`groups ${groups}, nodes of ${node}: units of equal size were refused`);
    if (h.shape.a > 1 && h.shape.b > 1) hierarchical++;
    for (const n of args.lengths) {
      for (const op of ['sum', 'max'] as ReduceOp[]) {
        const x = random(world.rank * 7919 + n, n);
        const flat = x.slice(), hier = x.slice(), mag = x.map(Math.abs);
        await g.allReduce(flat, op);
        await h.allReduce(hier, op);
        await g.allReduce(mag);
        for (let i = 0; i < n; i++) {
          if (op === 'max') maxDiffs += flat[i] === hier[i] ? 0 : 1;
          else worst = Math.max(worst, Math.abs(flat[i]! - hier[i]!) / (mag[i]! + 1e-30));
        }
        compared += n;
      }
      // ZeRO-1's pair: reduce-scatter (rounding only) and all-gather (exact), rows of m = ceil(n / p).
      const m = Math.ceil(n / g.size), x = random(world.rank * 104729 + n, m * g.size);
      const flat = new Float32Array(m), hier = new Float32Array(m), mag = new Float32Array(m);
      await g.reduceScatter(x, flat);
      await h.reduceScatter(x, hier);
      await g.reduceScatter(x.map(Math.abs), mag);
      for (let i = 0; i < m; i++) worst = Math.max(worst, Math.abs(flat[i]! - hier[i]!) / (mag[i]! + 1e-30));
      const gf = new Float32Array(m * g.size), gh = new Float32Array(m * g.size);
      await g.allGather(flat, gf);
      await h.allGather(flat, gh);
      for (let i = 0; i < gf.length; i++) maxDiffs += gf[i] === gh[i] ? 0 : 1;
      compared += m + gf.length;
    }
  }
  return { worst, maxDiffs, compared, hierarchical };
}

/** The layout of a grid on a topology after useTopology: which groups went hierarchical, and the record. */
export async function wrappedGroups(world: ProcessGroup, args: { sizes: GridSizes; tiers: TopologyTier[]; bytes: number }) {
  const L = await makeProcessGroups(new TimedGroup(world), args.sizes, { tiers: args.tiers });
  const { layout, record } = await useTopology(L, args.tiers, args.bytes);
  const kind = (g: ProcessGroup) => {
    const inner = g instanceof TimedGroup ? g.inner : g;
    if (!(inner instanceof HierarchicalGroup)) return 'flat';
    return inner.use.allToAll ? 'hierarchical all-to-all' : 'hierarchical all-reduce';
  };
  // A hybrid step's collectives through the wrapped groups: dispatch, then the gradient reduction.
  const p = layout.ep.size, m = 5;
  const send = Float32Array.from({ length: p * m }, (_, i) => world.rank * 1000 + i);
  const recv = new Float32Array(p * m);
  await layout.ep.allToAll(send, recv);
  const grads = random(world.rank + 1, 6000);
  const flat = grads.slice();
  await L.dp.allReduce(flat);
  await layout.dp.allReduce(grads);
  let worst = 0;
  for (let i = 0; i < grads.length; i++) worst = Math.max(worst, Math.abs(grads[i]! - flat[i]!));
  return { record, ep: kind(layout.ep), dp: kind(layout.dp), expertDp: kind(layout.expertDp),
    recv: Array.from(recv), gradWorst: worst };
}
