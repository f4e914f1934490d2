// A ProcessGroup wrapper that sends the large payloads of reductions and all-to-alls as bf16 (half the
// bytes), summing in float32: `train.comm_precision: bf16`. Wrapped around the world, every group split from it does the same.
import type { CommBackend, Counts, ProcessGroup, ReduceOp } from './process-group.js';

/** Payload precision of collectives: fp32 (exact), or bf16 for reductions and all-to-alls. */
export const COMM_PRECISIONS = ['fp32', 'bf16'] as const;
export type CommPrecision = (typeof COMM_PRECISIONS)[number];

/**
 * Arrays shorter than this travel as float32 even at bf16: counts, capacities, losses and norms are
 * small and some must stay exact (an expert's slot count of 311 is 312 in bf16); gradients and
 * token blocks are far larger.
 */
export const BF16_MIN_ELEMENTS = 4096;

/**
 * Bytes this rank sends to the others, counted as a bandwidth-optimal schedule sends them: an
 * all-reduce of b bytes over p ranks 2 (p-1)/p b (reduce-scatter then all-gather), a reduce-scatter
 * or an all-to-all (p-1)/p of its input, an all-gather (p-1) times its input, broadcast and send
 * their bytes. Shared by the groups split from one wrapper.
 */
export class WireBytes {
  sent = 0;
  reset(): void {
    this.sent = 0;
  }
}

/**
 * bf16 of float32 bits v (read as int32: Uint32 values past 2^31 would be heap numbers): round to
 * nearest even on the top 16 bits (vcvtneps2bf16), NaN (|v| above infinity's bits) kept quiet.
 */
function bf16Bits(v: number): number {
  return ((v & 0x7fffffff) > 0x7f800000 ? (v >> 16) | 0x40 : (v + 0x7fff + ((v >> 16) & 1)) >> 16) & 0xffff;
}

/** Packs x[from, from + n) as bf16, two to a float32 slot (element 2i in the low half), into out[at, at + ceil(n / 2)). */
function encode(x: Float32Array, from: number, n: number, out: Float32Array, at: number): void {
  if (n === 0) return;
  const xu = new Int32Array(x.buffer, x.byteOffset + 4 * from, n), ou = new Int32Array(out.buffer, out.byteOffset + 4 * at, Math.ceil(n / 2));
  const pairs = n >> 1;
  for (let j = 0; j < pairs; j++) ou[j] = bf16Bits(xu[2 * j]!) | (bf16Bits(xu[2 * j + 1]!) << 16);
  if (n % 2 === 1) ou[pairs] = bf16Bits(xu[n - 1]!);
}

/** Unpacks n bf16 values from packed[at ..] into out[from, from + n) as float32 (exact). */
function decode(packed: Float32Array, at: number, n: number, out: Float32Array, from: number): void {
  const pu = new Int32Array(packed.buffer, packed.byteOffset, packed.length), ou = new Int32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < n; i += 2) {
    const w = pu[at + (i >> 1)]!;
    ou[from + i] = w << 16;
    if (i + 1 < n) ou[from + i + 1] = w & -0x10000;
  }
}

/** fp32 out[0, n) = op over the p rows of bf16 values packed `slots` float32 slots apart in recv (row: n floats of scratch). */
function reduceRows(recv: Float32Array, p: number, slots: number, n: number, op: ReduceOp, out: Float32Array, row: Float32Array): void {
  decode(recv, 0, n, out, 0);
  for (let r = 1; r < p; r++) {
    decode(recv, r * slots, n, row, 0);
    if (op === 'sum') for (let i = 0; i < n; i++) out[i]! += row[i]!;
    else for (let i = 0; i < n; i++) out[i] = Math.max(out[i]!, row[i]!);
  }
}

/**
 * The group `inner` with bf16 payloads (at precision bf16) for all-reduce, reduce-scatter and
 * all-to-all of at least minElements floats; everything else (all-gather: parameters must stay exact
 * on every replica; broadcast, point to point) passes through. Counts bytes at either precision.
 *
 * All-reduce of x (n) over p ranks: chunk c = n / p rounded up to even; an all-to-all of bf16 chunks
 * gives rank r every rank's chunk r, summed (or maxed) in float32, rounded to bf16 once and all-gathered,
 * so every rank decodes the same bf16(sum_i bf16(x_i)) (replicas stay equal) and sends
 * 2 (p-1)/p x 2n bytes, half of float32's. Reduce-scatter: the all-to-all and the float32 sum only.
 */
export class Bf16Group implements ProcessGroup {
  readonly backend: CommBackend;
  readonly rank: number;
  readonly size: number;
  readonly worldRank: number;

  constructor(readonly inner: ProcessGroup, readonly precision: CommPrecision = 'bf16', readonly bytes: WireBytes = new WireBytes(),
    readonly minElements = BF16_MIN_ELEMENTS) {
    this.backend = inner.backend;
    this.rank = inner.rank;
    this.size = inner.size;
    this.worldRank = inner.worldRank;
  }

  private bf16(n: number): boolean {
    return this.precision === 'bf16' && this.size > 1 && n >= this.minElements;
  }

  private count(bytes: number): void {
    this.bytes.sent += bytes;
  }

  /**
   * Scratch arrays, reused: a fresh array costs a page fault per 4 KiB on first touch (an all-reduce of
   * 6.8 M floats spent more time there than converting). Collectives may be in flight together, so each
   * call takes its own from the pool and gives them back.
   */
  private readonly pool: Float32Array[] = [];
  private take(n: number): Float32Array {
    const i = this.pool.findIndex((b) => b.length >= n);
    const b = i >= 0 ? this.pool.splice(i, 1)[0]! : new Float32Array(n);
    return b.subarray(0, n);
  }
  private give(...views: Float32Array[]): void {
    for (const v of views) this.pool.push(new Float32Array(v.buffer));
  }

  async allReduce(x: Float32Array, op: ReduceOp = 'sum'): Promise<void> {
    const p = this.size;
    if (!this.bf16(x.length)) {
      this.count((2 * (p - 1) / p) * 4 * x.length);
      return this.inner.allReduce(x, op);
    }
    const c = Math.ceil(x.length / p / 2) * 2, slots = c / 2, part = (r: number): number => Math.max(0, Math.min(c, x.length - r * c));
    const send = this.take(p * slots), recv = this.take(p * slots), mine = this.take(c), row = this.take(c);
    for (let r = 0; r < p; r++) {
      encode(x, r * c, part(r), send, r * slots);
      send.fill(0, r * slots + Math.ceil(part(r) / 2), (r + 1) * slots); // the padding of the last chunks
    }
    this.count(((p - 1) / p) * 4 * send.length);
    await this.inner.allToAll(send, recv);
    reduceRows(recv, p, slots, c, op, mine, row);
    const packed = send.subarray(0, slots), all = recv; // free again: reused
    encode(mine, 0, c, packed, 0);
    this.count((p - 1) * 4 * slots);
    await this.inner.allGather(packed, all);
    for (let r = 0; r < p; r++) decode(all, r * slots, part(r), x, r * c);
    this.give(send, recv, mine, row);
  }

  async reduceScatter(input: Float32Array, output: Float32Array, op: ReduceOp = 'sum'): Promise<void> {
    const p = this.size, m = output.length;
    if (!this.bf16(input.length)) {
      this.count(((p - 1) / p) * 4 * input.length);
      return this.inner.reduceScatter(input, output, op);
    }
    const slots = Math.ceil(m / 2), send = this.take(p * slots), recv = this.take(p * slots), row = this.take(m);
    for (let r = 0; r < p; r++) encode(input, r * m, m, send, r * slots);
    this.count(((p - 1) / p) * 4 * send.length);
    await this.inner.allToAll(send, recv);
    reduceRows(recv, p, slots, m, op, output, row);
    this.give(send, recv, row);
  }

  allGather(input: Float32Array, output: Float32Array): Promise<void> {
    this.count((this.size - 1) * 4 * input.length);
    return this.inner.allGather(input, output);
  }

  async allToAll(send: Float32Array, recv: Float32Array, sendCounts?: Counts, recvCounts?: Counts): Promise<void> {
    const p = this.size;
    if (!this.bf16(send.length)) {
      this.count(((p - 1) / p) * 4 * send.length);
      return this.inner.allToAll(send, recv, sendCounts, recvCounts);
    }
    // Block j of send (j's count, or send.length / p) packs to ceil(count / 2) slots; recv likewise.
    const even = (total: number): number[] => Array.from({ length: p }, () => total / p);
    const sc = sendCounts === undefined ? even(send.length) : Array.from(sendCounts);
    const rc = recvCounts === undefined ? even(recv.length) : Array.from(recvCounts);
    const half = (cs: number[]): number[] => cs.map((n) => Math.ceil(n / 2));
    const sh = half(sc), rh = half(rc);
    const packed = this.take(sh.reduce((s, n) => s + n, 0)), got = this.take(rh.reduce((s, n) => s + n, 0));
    for (let j = 0, from = 0, at = 0; j < p; from += sc[j]!, at += sh[j]!, j++) encode(send, from, sc[j]!, packed, at);
    this.count(4 * (packed.length - sh[this.rank]!));
    await this.inner.allToAll(packed, got, sh, rh);
    for (let j = 0, from = 0, at = 0; j < p; from += rc[j]!, at += rh[j]!, j++) decode(got, at, rc[j]!, recv, from);
    this.give(packed, got);
  }

  broadcast(x: Float32Array, root: number): Promise<void> {
    if (this.rank === root) this.count(4 * x.length);
    return this.inner.broadcast(x, root);
  }
  barrier(): Promise<void> {
    return this.inner.barrier();
  }
  send(x: Float32Array, peer: number, tag?: number): Promise<void> {
    this.count(4 * x.length);
    return this.inner.send(x, peer, tag);
  }
  recv(x: Float32Array, peer: number, tag?: number): Promise<void> {
    return this.inner.recv(x, peer, tag);
  }
  async split(color: number, key?: number): Promise<ProcessGroup> {
    return new Bf16Group(await this.inner.split(color, key), this.precision, this.bytes, this.minElements);
  }
}

/** The world for a run at `precision`: itself at fp32, else wrapped (every group split from it sends bf16 payloads). */
export function withCommPrecision(world: ProcessGroup, precision: CommPrecision): ProcessGroup {
  return precision === 'fp32' ? world : new Bf16Group(world, precision);
}
