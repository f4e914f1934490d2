// ZeRO-1's collectives straight from and into a parameter set's own arrays, a bucket at a time.
//
// The set's n elements, taken in order, form a flat space of `size` shards of s = ceil(n / size)
// (the last padded with zeros); rank r owns [r s, (r + 1) s). reduceScatter sums the gradients
// over the group into this rank's own range of the gradient arrays themselves (the rest of them
// is spent), allGather copies every rank's own range of the parameters to the others. Both move
// one bucket of c shard positions at a time through a staging buffer (size, c): rows
// q = 0..size-1 hold flat [q s + a, q s + a + c). Element-wise the sums are those of one
// reduce-scatter over a flat copy of the set, without that copy's 4 bytes per parameter, and
// neither the summed gradients nor the updated parameters need a shard buffer of their own.
import type { ProcessGroup } from '../comm/process-group.js';

/** Staging floats per bucket over all ranks (16 MiB): a few collective calls per 100 M parameters. */
export const ZERO_STAGING_FLOATS = 4 * 2 ** 20;

export class FlatShards {
  /** Elements in the set, elements per shard (padded), and this rank's owned range [start, end) of the flat space. */
  readonly numel: number;
  readonly shard: number;
  readonly start: number;
  readonly end: number;
  /** Where each array starts in the flat space. */
  readonly offsets: number[] = [];
  private readonly staging: Float32Array;
  /** This rank's row of a bucket. */
  private readonly own: Float32Array;
  /** Shard positions per bucket. */
  private readonly bucket: number;

  /** `alloc` makes the staging buffers (a backend's, so that its accounting sees them). */
  constructor(private readonly group: ProcessGroup, sizes: readonly number[], stagingFloats = ZERO_STAGING_FLOATS,
    alloc: (n: number) => Float32Array = (n) => new Float32Array(n)) {
    let n = 0;
    for (const s of sizes) { this.offsets.push(n); n += s; }
    this.numel = n;
    this.shard = Math.ceil(n / group.size);
    this.start = Math.min(n, group.rank * this.shard);
    this.end = Math.min(n, this.start + this.shard);
    this.bucket = Math.max(1, Math.min(this.shard, Math.floor(stagingFloats / group.size)));
    this.staging = alloc(this.bucket * group.size);
    this.own = alloc(this.bucket);
  }

  /** The staging buffers (to free them where `alloc` came from a backend). */
  get buffers(): Float32Array[] {
    return [this.staging, this.own];
  }

  /** The set's arrays summed over the group, in place: afterwards this rank's own range [start, end) holds the sums. */
  async reduceScatter(arrays: readonly Float32Array[]): Promise<void> {
    for (let a = 0; a < this.shard; a += this.bucket) {
      const c = Math.min(this.bucket, this.shard - a), st = this.staging.subarray(0, c * this.group.size), sum = this.own.subarray(0, c);
      for (let q = 0; q < this.group.size; q++) this.read(arrays, q * this.shard + a, st.subarray(q * c, (q + 1) * c));
      await this.group.reduceScatter(st, sum);
      this.write(sum, arrays, this.group.rank * this.shard + a);
    }
  }

  /** Every rank's own range of the arrays copied to every other rank. */
  async allGather(arrays: readonly Float32Array[]): Promise<void> {
    await this.spread((a, dst) => this.read(arrays, this.group.rank * this.shard + a, dst), arrays);
  }

  /** Every rank's shard (shard elements, e.g. optimizer state) -> the arrays (the set, in order). */
  async gatherShards(shard: Float32Array, arrays: readonly Float32Array[]): Promise<void> {
    if (shard.length !== this.shard) throw new RangeError(`gatherShards: expected a shard of ${this.shard}, got ${shard.length}`);
    await this.spread((a, dst) => dst.set(shard.subarray(a, a + dst.length)), arrays);
  }

  /** All-gathers bucket by bucket: `mine(a, dst)` fills this rank's c values from shard position a. */
  private async spread(mine: (a: number, dst: Float32Array) => void, arrays: readonly Float32Array[]): Promise<void> {
    for (let a = 0; a < this.shard; a += this.bucket) {
      const c = Math.min(this.bucket, this.shard - a), st = this.staging.subarray(0, c * this.group.size), own = this.own.subarray(0, c);
      mine(a, own);
      await this.group.allGather(own, st);
      for (let q = 0; q < this.group.size; q++) this.write(st.subarray(q * c, (q + 1) * c), arrays, q * this.shard + a);
    }
  }

  /** dst = flat [from, from + dst.length) of the arrays, zeros past the end. */
  private read(arrays: readonly Float32Array[], from: number, dst: Float32Array): void {
    this.overlaps(from, dst.length, (k, lo, hi, d) => dst.set(arrays[k]!.subarray(lo, hi), d));
    dst.fill(0, Math.max(0, Math.min(dst.length, this.numel - from)));
  }

  /** flat [from, from + src.length) of the arrays = src (positions past the end dropped). */
  private write(src: Float32Array, arrays: readonly Float32Array[], from: number): void {
    this.overlaps(from, src.length, (k, lo, hi, d) => arrays[k]!.set(src.subarray(d, d + hi - lo), lo));
  }

  /** Calls f(k, lo, hi, d) for each array k overlapping flat [from, from + n): its range [lo, hi), at d in the window. */
  private overlaps(from: number, n: number, f: (k: number, lo: number, hi: number, d: number) => void): void {
    const to = Math.min(from + n, this.numel);
    let k = this.arrayAt(from);
    for (; k < this.offsets.length && (this.offsets[k] ?? Infinity) < to; k++) {
      const o = this.offsets[k]!, end = k + 1 < this.offsets.length ? this.offsets[k + 1]! : this.numel;
      const lo = Math.max(from, o), hi = Math.min(to, end);
      if (lo < hi) f(k, lo - o, hi - o, lo - from);
    }
  }

  /** The last array starting at or before flat position x (binary search). */
  private arrayAt(x: number): number {
    let lo = 0, hi = this.offsets.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.offsets[mid]! <= x) lo = mid;
      else hi = mid - 1;
    }
    return Math.max(0, lo);
  }
}
