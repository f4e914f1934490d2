// Two-level all-to-all (Tutel, arXiv 2206.03382, section 3.3 "2DH all-to-all"): exchange inside
// the fast tier first, then across it, so the slow tier carries few large messages.
//
// The group's ranks sit in b units (e.g. nodes) of a ranks each; rank (u, l) is the l-th member of
// unit u. Flat all-to-all sends p - 1 messages per rank, (b - 1) a of them across units.
//   phase 1 (intra, a ranks): (u, l) sends to (u, l') every chunk bound for a rank (v, l'), v = 0..b-1.
//   phase 2 (inter, b ranks): (u, l') sends to (v, l') the a chunks it now holds for (v, l').
// Across units, each rank sends b - 1 messages, each a times larger. Local re-packing puts chunks
// in the order the next phase needs, and the result in source-rank order, identical to flat.
import { a2aCounts, displacements, sumCounts, type Counts, type ProcessGroup } from './process-group.js';

/** A chunk of `n` elements at offset `at` of some buffer. */
interface Piece {
  at: number;
  n: number;
}

export class HierarchicalAllToAll {
  /** intra: this rank's unit (ordered by group rank); inter: the ranks of the same local index in every unit. */
  private constructor(private readonly g: ProcessGroup, readonly intra: ProcessGroup,
    readonly inter: ProcessGroup, private readonly ranks: number[][]) {}

  /**
   * Collective over `group`: `unit` is this rank's fast-tier unit (e.g. floor(worldRank / ranks
   * per node)). Returns undefined when units differ in size (then use the flat all-to-all).
   */
  static async create(group: ProcessGroup, unit: number): Promise<HierarchicalAllToAll | undefined> {
    const units = new Float32Array(group.size);
    await group.allGather(new Float32Array([unit]), units);
    const ids = [...new Set(units)];
    const ranks = ids.map((id) => [...units.keys()].filter((r) => units[r] === id));
    const a = ranks[0]?.length ?? 0;
    if (ranks.some((m) => m.length !== a)) return undefined;
    const u = ids.indexOf(unit);
    const intra = await group.split(u, group.rank);
    const inter = await group.split(intra.rank, u);
    return new HierarchicalAllToAll(group, intra, inter, ranks);
  }

  /** Group rank of the k-th rank of unit v (units in the order of the inter group's ranks). */
  rankOf(v: number, k: number): number {
    const r = this.ranks[v]?.[k];
    if (r === undefined) throw new RangeError(`no rank ${k} in unit ${v}`);
    return r;
  }

  /** Same contract and result as ProcessGroup.allToAll on the group. */
  async allToAll(send: Float32Array, recv: Float32Array, sendCounts?: Counts, recvCounts?: Counts): Promise<void> {
    const p = this.g.size;
    const { sc, rc } = a2aCounts(p, send, recv, sendCounts, recvCounts);
    // C[s][d]: elements group rank s sends to group rank d. Equal splits need no exchange.
    let C: number[][];
    if (sendCounts === undefined) C = Array.from({ length: p }, () => sc.slice());
    else {
      const all = new Float32Array(p * p);
      await this.g.allGather(Float32Array.from(sc), all);
      C = Array.from({ length: p }, (_, s) => Array.from(all.subarray(s * p, (s + 1) * p)));
    }
    const b = this.ranks.length;
    const a = this.intra.size;
    const u = this.inter.rank;
    const l = this.intra.rank;
    const R = (v: number, k: number) => this.ranks[v]?.[k] ?? 0;
    const cnt = (s: number, d: number) => C[s]?.[d] ?? 0;
    const me = this.g.rank;
    for (let s = 0; s < p; s++) {
      if (cnt(s, me) !== rc[s]) throw new RangeError(`allToAll: rank ${me} expects ${rc[s]} elements from rank ${s}, which sends ${cnt(s, me)}`);
    }

    // Phase 1: to local peer k, the chunks for (v, k) in unit order v.
    const sd = displacements(sc);
    const s1: Piece[] = [];
    const c1 = new Array<number>(a).fill(0);
    for (let k = 0; k < a; k++) {
      for (let v = 0; v < b; v++) {
        const d = R(v, k);
        s1.push({ at: sd[d] ?? 0, n: sc[d] ?? 0 });
        c1[k] = (c1[k] ?? 0) + (sc[d] ?? 0);
      }
    }
    const send1 = gather(send, s1, sumCounts(c1));
    // From local peer k: chunks that (u, k) sends to (v, l), in unit order v.
    const r1 = Array.from({ length: a }, (_, k) => [...Array(b).keys()].reduce((t, v) => t + cnt(R(u, k), R(v, l)), 0));
    const recv1 = new Float32Array(sumCounts(r1));
    await this.intra.allToAll(send1, recv1, c1, r1);

    // Re-pack: to unit v, the chunks from (u, k) for (v, l), in local order k.
    const r1d = displacements(r1);
    const s2: Piece[] = [];
    const c2 = new Array<number>(b).fill(0);
    for (let v = 0; v < b; v++) {
      for (let k = 0; k < a; k++) {
        let at = r1d[k] ?? 0;
        for (let w = 0; w < v; w++) at += cnt(R(u, k), R(w, l));
        const n = cnt(R(u, k), R(v, l));
        s2.push({ at, n });
        c2[v] = (c2[v] ?? 0) + n;
      }
    }
    const send2 = gather(recv1, s2, sumCounts(c2));
    // From unit w: chunks from (w, k) to me, in local order k.
    const r2 = Array.from({ length: b }, (_, w) => [...Array(a).keys()].reduce((t, k) => t + cnt(R(w, k), me), 0));
    const recv2 = new Float32Array(sumCounts(r2));
    await this.inter.allToAll(send2, recv2, c2, r2);

    // Into source-rank order.
    const rd = displacements(rc);
    let at = 0;
    for (let w = 0; w < b; w++) {
      for (let k = 0; k < a; k++) {
        const src = R(w, k);
        const n = cnt(src, me);
        recv.set(recv2.subarray(at, at + n), rd[src] ?? 0);
        at += n;
      }
    }
  }
}

function gather(src: Float32Array, pieces: Piece[], total: number): Float32Array {
  const out = new Float32Array(total);
  let o = 0;
  for (const { at, n } of pieces) {
    out.set(src.subarray(at, at + n), o);
    o += n;
  }
  return out;
}
