// A process group whose all-to-all and all-reduce go through the network's fast tier first:
// BaGuaLu's (PPoPP 2022, section 4.3) and Tutel's (arXiv 2206.03382, section 3.3) two-level
// collectives, behind the ProcessGroup contract so the layers and the optimizer need not know.
//
// The group's ranks sit in b units (nodes) of a ranks each. All-reduce of x (n):
//   1. reduce-scatter inside the unit: local rank l gets the unit's sum of slice l (ceil(n / a));
//   2. all-reduce across units, among the b ranks holding slice l (one rank per node per slice);
//   3. all-gather inside the unit.
// Only b - 1 slices of n / a elements per rank cross the slow tier, instead of a flat all-reduce's
// traffic between every pair of nodes. The sum of each element is taken in another order (first
// within the node, then across nodes), so results equal the flat all-reduce up to float32
// summation-order rounding (max is exact). The all-to-all is HierarchicalAllToAll: bit-identical.
import { HierarchicalAllToAll } from './hierarchical-all-to-all.js';
import type { CommBackend, Counts, ProcessGroup, ReduceOp } from './process-group.js';

/** Which collectives take the two-level path. */
export interface HierarchyUse {
  allToAll: boolean;
  allReduce: boolean;
}

/** Below this many elements an all-reduce is latency-bound (losses, norms, capacities): three
 * phases cost more than one, so it stays flat. */
export const MIN_HIERARCHICAL_ALLREDUCE = 4096;

export class HierarchicalGroup implements ProcessGroup {
  readonly backend: CommBackend;
  readonly rank: number;
  readonly size: number;
  readonly worldRank: number;

  private constructor(readonly inner: ProcessGroup, private readonly two: HierarchicalAllToAll, readonly use: HierarchyUse) {
    this.backend = inner.backend;
    this.rank = inner.rank;
    this.size = inner.size;
    this.worldRank = inner.worldRank;
  }

  /**
   * Collective over `group`: `unit` is this rank's node (any id shared by the ranks of one node).
   * Undefined when the nodes hold different numbers of the group's ranks (then use the group as is).
   */
  static async create(group: ProcessGroup, unit: number, use: HierarchyUse): Promise<HierarchicalGroup | undefined> {
    const two = await HierarchicalAllToAll.create(group, unit);
    return two === undefined ? undefined : new HierarchicalGroup(group, two, use);
  }

  /** a ranks per node, b nodes. */
  get shape(): { a: number; b: number } {
    return { a: this.two.intra.size, b: this.two.inter.size };
  }

  async allReduce(x: Float32Array, op: ReduceOp = 'sum'): Promise<void> {
    const { intra, inter } = this.two;
    if (!this.use.allReduce || x.length < MIN_HIERARCHICAL_ALLREDUCE || intra.size === 1 || inter.size === 1) {
      return this.inner.allReduce(x, op);
    }
    const a = intra.size, m = Math.ceil(x.length / a);
    // (a, m): padded with zeros when a does not divide n; the padding is dropped after the gather.
    const buf = m * a === x.length ? x : new Float32Array(m * a);
    if (buf !== x) buf.set(x);
    const slice = new Float32Array(m);
    await intra.reduceScatter(buf, slice, op);
    await inter.allReduce(slice, op);
    await intra.allGather(slice, buf);
    if (buf !== x) x.set(buf.subarray(0, x.length));
  }
  allToAll(send: Float32Array, recv: Float32Array, sendCounts?: Counts, recvCounts?: Counts): Promise<void> {
    if (!this.use.allToAll) return this.inner.allToAll(send, recv, sendCounts, recvCounts);
    return this.two.allToAll(send, recv, sendCounts, recvCounts);
  }
  reduceScatter(input: Float32Array, output: Float32Array, op?: ReduceOp): Promise<void> {
    return this.inner.reduceScatter(input, output, op);
  }
  allGather(input: Float32Array, output: Float32Array): Promise<void> {
    return this.inner.allGather(input, output);
  }
  broadcast(x: Float32Array, root: number): Promise<void> {
    return this.inner.broadcast(x, root);
  }
  barrier(): Promise<void> {
    return this.inner.barrier();
  }
  send(x: Float32Array, peer: number, tag?: number): Promise<void> {
    return this.inner.send(x, peer, tag);
  }
  recv(x: Float32Array, peer: number, tag?: number): Promise<void> {
    return this.inner.recv(x, peer, tag);
  }
  split(color: number, key?: number): Promise<ProcessGroup> {
    return this.inner.split(color, key);
  }
}
