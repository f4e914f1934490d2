// The threads backend: ranks are worker_threads of one process that share one WebAssembly.Memory.
//
// Every collective moves data in rounds through per-rank staging buffers (three of STAGE_FLOATS
// each, used in turn). A round is: write my buffer -> sync -> read others' buffers. A sync is a
// barrier on per-rank progress counters (monotonic, so nothing is ever reset). Invariant: a rank
// finishes reading a round's buffers before it arrives at the sync two rounds later, and a buffer
// is written again three rounds later, after that sync, so one sync per round suffices.
// All-reduce is pipelined under the same rule: round i is copied in, synced, and rank r reduces
// chunk r of every buffer into its own (own value first, then the others in rank order, in the
// SIMD kernels of reduce-kernel.ts); the reduced chunks of round i - 1 are copied out in the same
// round, so a long all-reduce costs one sync per round plus one (reduce-scatter + all-gather
// through shared memory, each byte of x read and written once).
import {
  a2aCounts, check, displacements, type CommBackend, type Counts, type ProcessGroup, type ReduceOp,
} from './process-group.js';
import { copyInto } from './fast-copy.js';
import { groupLayout, STAGE_BUFFERS, STAGE_FLOATS, type GroupLayout, type SharedWorld } from './threads-shared.js';

/** All-reduces up to this many floats take the one-sync path (allReduceSmall); <= STAGE_FLOATS. */
const SMALL_ALL_REDUCE = Math.min(1 << 15, STAGE_FLOATS);

/** A group's region, this member's rank in it and the world ranks of its members. */
export interface ThreadGroupSpec {
  region: number;
  rank: number;
  members: number[];
}

export class ThreadGroup implements ProcessGroup {
  readonly backend: CommBackend = 'threads';
  readonly size: number;
  readonly worldRank: number;
  private readonly L: GroupLayout;
  /** Syncs completed by this rank; all members advance it identically. */
  private seq = 0;
  private stageUses = 0;
  private intUses = 0;
  /** Messages this rank has sent to / received from each peer (point to point). */
  private readonly sent: number[];
  private readonly got: number[];

  /** members[i] is the world rank of group rank i; region is the group's byte offset. */
  constructor(private readonly w: SharedWorld, private readonly region: number, readonly rank: number,
    private readonly members: readonly number[]) {
    this.size = members.length;
    this.worldRank = members[rank] ?? -1;
    this.L = groupLayout(this.size);
    this.sent = new Array<number>(this.size).fill(0);
    this.got = new Array<number>(this.size).fill(0);
  }

  /** Allocates the world group's region; the launcher calls this once before starting ranks. */
  static allocRegion(w: SharedWorld, size: number): number {
    return w.alloc(groupLayout(size).bytes);
  }

  waitedSeconds(): number {
    return this.w.waitedSeconds;
  }

  /** The shared memory this rank's groups live in. */
  get shared(): SharedWorld {
    return this.w;
  }

  /** Where this group lives and who is in it: another thread of this rank can act for it (progress-threads.ts). */
  spec(): ThreadGroupSpec {
    return { region: this.region, rank: this.rank, members: [...this.members] };
  }

  // ---- synchronisation ----

  private progressIndex(r: number): number {
    return (this.region >> 2) + r * 16;
  }

  private sync(what: string): void {
    this.seq++;
    this.w.post(this.progressIndex(this.rank), this.seq);
    for (let j = 0; j < this.size; j++) {
      if (j !== this.rank) this.w.waitAtLeast(this.progressIndex(j), this.seq, this.members[j] ?? -1, what);
    }
  }

  /** Byte offset of rank j's staging buffer h. */
  private stage(j: number, h: number): number {
    return this.region + this.L.stageOff + (j * STAGE_BUFFERS + h) * STAGE_FLOATS * 4;
  }

  /** The staging buffer of the next round. */
  private nextBuffer(): number {
    return this.stageUses++ % STAGE_BUFFERS;
  }

  private floats(): Float32Array {
    return this.w.f32(this.region + this.L.bytes);
  }

  /** Everyone publishes `vals` (at most intsPerRank ints); returns all ranks' rows. */
  private exchangeInts(vals: readonly number[], what: string): Int32Array[] {
    const h = this.intUses++ & 1;
    const base = (this.region + this.L.intsOff) / 4 + h * this.size * this.L.intsPerRank;
    const a = this.w.i32(this.region + this.L.bytes);
    const row = (r: number) => base + r * this.L.intsPerRank;
    for (let i = 0; i < vals.length; i++) Atomics.store(a, row(this.rank) + i, vals[i] ?? 0);
    this.sync(what);
    const out: Int32Array[] = [];
    for (let r = 0; r < this.size; r++) out.push(a.slice(row(r), row(r) + vals.length));
    return out;
  }

  /** Chunk [lo, hi) of m elements owned by rank r when reducing; multiples of 16 for SIMD. */
  private chunk(m: number, r: number): [number, number] {
    const c = Math.ceil(m / this.size / 16) * 16;
    return [Math.min(m, r * c), Math.min(m, (r + 1) * c)];
  }

  /** dst slot chunk = own value op every other rank's, in rank order. */
  private reduceChunk(h: number, lo: number, n: number, op: ReduceOp): void {
    if (n <= 0) return;
    const k = op === 'max' ? this.w.kernels.max : this.w.kernels.add;
    const dst = this.stage(this.rank, h) + lo * 4;
    for (let j = 0; j < this.size; j++) if (j !== this.rank) k(dst, dst, this.stage(j, h) + lo * 4, n);
  }

  // ---- collectives ----

  async allReduce(x: Float32Array, op: ReduceOp = 'sum'): Promise<void> {
    if (this.size === 1) return;
    if (x.length <= SMALL_ALL_REDUCE) return this.allReduceSmall(x, op);
    let prev: { h: number; off: number; m: number } | undefined;
    for (let off = 0; off < x.length; off += STAGE_FLOATS) {
      const m = Math.min(STAGE_FLOATS, x.length - off);
      const h = this.nextBuffer();
      copyInto(this.floats(), this.stage(this.rank, h) >> 2, x.subarray(off, off + m));
      this.sync('allReduce');
      const [lo, hi] = this.chunk(m, this.rank);
      this.reduceChunk(h, lo, hi - lo, op);
      if (prev !== undefined) this.copyReduced(x, prev.h, prev.off, prev.m);
      prev = { h, off, m };
    }
    if (prev !== undefined) {
      this.sync('allReduce');
      this.copyReduced(x, prev.h, prev.off, prev.m);
    }
  }

  /**
   * One sync instead of two: every rank reduces the whole (small) message itself, in rank order,
   * into its next staging buffer, which nobody reads before the next round's sync.
   */
  private allReduceSmall(x: Float32Array, op: ReduceOp): void {
    const h = this.nextBuffer();
    const f = this.floats();
    f.set(x, this.stage(this.rank, h) >> 2);
    this.sync('allReduce');
    const k = op === 'max' ? this.w.kernels.max : this.w.kernels.add;
    const dst = this.stage(this.rank, (h + 1) % STAGE_BUFFERS);
    k(dst, this.stage(0, h), this.stage(1, h), x.length);
    for (let j = 2; j < this.size; j++) k(dst, dst, this.stage(j, h), x.length);
    x.set(f.subarray(dst >> 2, (dst >> 2) + x.length));
  }

  /** x[off + chunk q] = reduced chunk q from rank q's buffer h, for every q. */
  private copyReduced(x: Float32Array, h: number, off: number, m: number): void {
    const f = this.floats();
    for (let q = 0; q < this.size; q++) {
      const [a, b] = this.chunk(m, q);
      const s = this.stage(q, h) >> 2;
      if (b > a) copyInto(x, off + a, f.subarray(s + a, s + b));
    }
  }

  async reduceScatter(input: Float32Array, output: Float32Array, op: ReduceOp = 'sum'): Promise<void> {
    check.equal('reduceScatter input', input.length, output.length * this.size);
    const m = output.length;
    if (this.size === 1) return void output.set(input);
    const piece = Math.floor(STAGE_FLOATS / this.size);
    for (let a = 0; a < m; a += piece) {
      const l = Math.min(piece, m - a);
      const h = this.nextBuffer();
      const f = this.floats();
      const mine = this.stage(this.rank, h) >> 2;
      for (let q = 0; q < this.size; q++) copyInto(f, mine + q * l, input.subarray(q * m + a, q * m + a + l));
      this.sync('reduceScatter');
      this.reduceChunk(h, this.rank * l, l, op);
      copyInto(output, a, f.subarray(mine + this.rank * l, mine + (this.rank + 1) * l));
    }
  }

  async allGather(input: Float32Array, output: Float32Array): Promise<void> {
    check.equal('allGather output', output.length, input.length * this.size);
    const m = input.length;
    for (let a = 0; a < m; a += STAGE_FLOATS) {
      const l = Math.min(STAGE_FLOATS, m - a);
      const h = this.nextBuffer();
      const f = this.floats();
      copyInto(f, this.stage(this.rank, h) >> 2, input.subarray(a, a + l));
      this.sync('allGather');
      for (let q = 0; q < this.size; q++) {
        const s = this.stage(q, h) >> 2;
        copyInto(output, q * m + a, f.subarray(s, s + l));
      }
    }
  }

  async allToAll(send: Float32Array, recv: Float32Array, sendCounts?: Counts, recvCounts?: Counts): Promise<void> {
    const { sc, rc } = a2aCounts(this.size, send, recv, sendCounts, recvCounts);
    const p = this.size;
    // With counts, everyone learns every send count: to check recvCounts and to agree on the
    // number of rounds. Equal splits need no exchange (every rank passes the same length).
    const rows = sendCounts === undefined ? [] : this.exchangeInts(sc, 'allToAll');
    let most = sendCounts === undefined ? send.length / p : 0;
    for (let q = 0; q < rows.length; q++) {
      const row = rows[q] ?? new Int32Array(p);
      for (let j = 0; j < p; j++) most = Math.max(most, row[j] ?? 0);
      if (row[this.rank] !== rc[q]) {
        throw new RangeError(`allToAll: rank ${this.rank} expects ${rc[q]} elements from rank ${q}, which sends ${row[this.rank]}`);
      }
    }
    const sd = displacements(sc);
    const rd = displacements(rc);
    const piece = Math.floor(STAGE_FLOATS / p);
    for (let a = 0; a < most; a += piece) {
      const h = this.nextBuffer();
      const f = this.floats();
      const mine = this.stage(this.rank, h) >> 2;
      for (let j = 0; j < p; j++) {
        const n = Math.min(piece, (sc[j] ?? 0) - a);
        const s = (sd[j] ?? 0) + a;
        if (n > 0) copyInto(f, mine + j * piece, send.subarray(s, s + n));
      }
      this.sync('allToAll');
      for (let q = 0; q < p; q++) {
        const n = Math.min(piece, (rc[q] ?? 0) - a);
        const s = (this.stage(q, h) >> 2) + this.rank * piece;
        if (n > 0) copyInto(recv, (rd[q] ?? 0) + a, f.subarray(s, s + n));
      }
    }
  }

  async broadcast(x: Float32Array, root: number): Promise<void> {
    check.rank('broadcast root', root, this.size);
    for (let a = 0; a < x.length; a += STAGE_FLOATS) {
      const l = Math.min(STAGE_FLOATS, x.length - a);
      const h = this.nextBuffer();
      const f = this.floats();
      const s = this.stage(root, h) >> 2;
      if (this.rank === root) copyInto(f, s, x.subarray(a, a + l));
      this.sync('broadcast');
      if (this.rank !== root) copyInto(x, a, f.subarray(s, s + l));
    }
  }

  async barrier(): Promise<void> {
    this.sync('barrier');
  }

  // ---- point to point: one single-slot channel per ordered pair, in-order messages ----

  private channel(src: number, dst: number): { hdr: number; data: number } {
    const i = src * this.size + dst;
    return {
      hdr: (this.region + this.L.chanOff + i * 64) >> 2,
      data: (this.region + this.L.chanDataOff + i * this.L.chanFloats * 4) >> 2,
    };
  }

  async send(x: Float32Array, peer: number, tag = 0): Promise<void> {
    check.rank('send peer', peer, this.size);
    check.tag(tag);
    if (peer === this.rank) throw new RangeError('send: a rank cannot send to itself');
    const ch = this.channel(this.rank, peer);
    const cap = this.L.chanFloats;
    const chunks = Math.max(1, Math.ceil(x.length / cap));
    const a = this.w.i32(this.region + this.L.bytes);
    for (let c = 0; c < chunks; c++) {
      // Cells: [0] chunks posted, [1] chunks consumed, [2] tag, [3] message length.
      const posted = this.sent[peer] ?? 0;
      this.w.waitAtLeast(ch.hdr + 1, posted, this.members[peer] ?? -1, `send to ${peer}`);
      copyInto(this.floats(), ch.data, x.subarray(c * cap, Math.min(x.length, (c + 1) * cap)));
      Atomics.store(a, ch.hdr + 2, tag);
      Atomics.store(a, ch.hdr + 3, x.length);
      this.sent[peer] = posted + 1;
      this.w.post(ch.hdr, posted + 1);
    }
  }

  async recv(x: Float32Array, peer: number, tag = 0): Promise<void> {
    check.rank('recv peer', peer, this.size);
    check.tag(tag);
    if (peer === this.rank) throw new RangeError('recv: a rank cannot receive from itself');
    const ch = this.channel(peer, this.rank);
    const cap = this.L.chanFloats;
    const chunks = Math.max(1, Math.ceil(x.length / cap));
    const a = this.w.i32(this.region + this.L.bytes);
    for (let c = 0; c < chunks; c++) {
      const got = this.got[peer] ?? 0;
      this.w.waitAtLeast(ch.hdr, got + 1, this.members[peer] ?? -1, `recv from ${peer}`);
      const t = Atomics.load(a, ch.hdr + 2);
      const n = Atomics.load(a, ch.hdr + 3);
      if (t !== tag || n !== x.length) {
        throw new RangeError(`recv from ${peer}: expected tag ${tag} and ${x.length} elements, got tag ${t} and ${n}`);
      }
      const lo = c * cap;
      const hi = Math.min(x.length, lo + cap);
      copyInto(x, lo, this.floats().subarray(ch.data, ch.data + hi - lo));
      this.got[peer] = got + 1;
      this.w.post(ch.hdr + 1, got + 1);
    }
  }

  // ---- sub-groups ----

  async split(color: number, key: number = this.rank): Promise<ProcessGroup> {
    check.color(color);
    if (!Number.isInteger(key)) throw new RangeError(`split: key ${key} is not an integer`);
    const rows = this.exchangeInts([color, key], 'split');
    const mine = [...rows.keys()].filter((r) => rows[r]?.[0] === color)
      .sort((a, b) => (rows[a]?.[1] ?? 0) - (rows[b]?.[1] ?? 0) || a - b);
    const newRank = mine.indexOf(this.rank);
    // The first member allocates the region and everyone learns its offset (in 64-byte units).
    const region = newRank === 0 ? this.w.alloc(groupLayout(mine.length).bytes) : -64;
    const offsets = this.exchangeInts([region / 64], 'split');
    const leader = mine[0] ?? this.rank;
    const base = (offsets[leader]?.[0] ?? -1) * 64;
    return new ThreadGroup(this.w, base, newRank, mine.map((r) => this.members[r] ?? -1));
  }
}
