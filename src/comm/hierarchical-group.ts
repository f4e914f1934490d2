// A process group whose all-to-all and all-reduce go through the network's fast tier first:
// BaGuaLu's (PPoPP 2022, section 4.3) and Tutel's (arXiv 2206.03382, section 3.3) two-level
// collectives, behind the ProcessGroup contract so the layers and the optimizer need not know.
//
// The group's ranks sit in b units (nodes) of a ranks each. All-reduce of x (n):
//   1. reduce-scatter inside the unit: local rank l gets the unit's sum of slice l (ceil(n / a));
//   2. all-reduce across units, among the b ranks holding slice l (one rank per node per slice);
//   3. all-gather inside the unit.
// Only b - 1 slices of n / a elements per rank cross the slow tier, instead of a flat all-reduce's
// traffic between every pair of nodes. ZeRO-1's reduce-scatter and all-gather split the same way
// (inside the node, then across). The sum of each element is taken in another order (first within
// the node, then across nodes), so results equal the flat collectives up to float32 summation-order
// rounding (max, all-gather and the all-to-all, HierarchicalAllToAll, are bit-identical).
import { HierarchicalAllToAll } from './hierarchical-all-to-all.js';
import type { CommBackend, Counts, ProcessGroup, ReduceOp } from './process-group.js';

/** Which collectives take the two-level path: the all-to-all, and the data-parallel ones (all-reduce,
 * reduce-scatter, all-gather). */
export interface HierarchyUse {
  allToAll: boolean;
  allReduce: boolean;
}

/** Below this many elements (in all) a collective is latency-bound (losses, norms, capacities):
 * two or three phases cost more than one, so it stays flat. */
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
    if (!this.twoLevel(x.length)) return this.inner.allReduce(x, op);
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
  /**
   * input (p, m), row q for group rank q = (v, k) (k-th rank of unit v). Inside the unit, local peer
   * k gets the rows of every (v, k), v = 0..b-1, summed over the unit; across units, unit v's row
   * goes to rank (v, k): each rank ends with its row summed over all p ranks.
   */
  async reduceScatter(input: Float32Array, output: Float32Array, op: ReduceOp = 'sum'): Promise<void> {
    if (!this.twoLevel(input.length)) return this.inner.reduceScatter(input, output, op);
    const { intra, inter } = this.two, a = intra.size, b = inter.size, m = output.length;
    if (input.length !== m * this.size) return this.inner.reduceScatter(input, output, op); // the inner group reports it
    // (a, b, m): [k][v] = row of group rank (v, k).
    const byPeer = new Float32Array(input.length);
    for (let k = 0; k < a; k++) for (let v = 0; v < b; v++) byPeer.set(this.row(input, v, k, m), (k * b + v) * m);
    const mine = new Float32Array(b * m);
    await intra.reduceScatter(byPeer, mine, op);
    await inter.reduceScatter(mine, output, op);
  }
  /** Inside the unit, then across units; rows land in group-rank order. */
  async allGather(input: Float32Array, output: Float32Array): Promise<void> {
    if (!this.twoLevel(output.length)) return this.inner.allGather(input, output);
    const { intra, inter } = this.two, a = intra.size, b = inter.size, m = input.length;
    if (output.length !== m * this.size) return this.inner.allGather(input, output);
    const unit = new Float32Array(a * m);
    await intra.allGather(input, unit);
    const all = new Float32Array(b * a * m); // (b, a, m): [v][k] = input of (v, k)
    await inter.allGather(unit, all);
    for (let v = 0; v < b; v++) {
      for (let k = 0; k < a; k++) output.set(all.subarray((v * a + k) * m, (v * a + k + 1) * m), this.two.rankOf(v, k) * m);
    }
  }

  private twoLevel(elements: number): boolean {
    return this.use.allReduce && elements >= MIN_HIERARCHICAL_ALLREDUCE && this.two.intra.size > 1 && this.two.inter.size > 1;
  }

  /** Row of group rank (v, k) of a (p, m) buffer. */
  private row(x: Float32Array, v: number, k: number, m: number): Float32Array {
    const q = this.two.rankOf(v, k);
    return x.subarray(q * m, (q + 1) * m);
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
