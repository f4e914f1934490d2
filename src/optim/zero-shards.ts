// ZeRO-1's collectives straight from and into a parameter set's own arrays, a bucket at a time.
//
// The set's n elements, taken in order, form a flat space of `size` shards of s = ceil(n / size)
// (the last padded with zeros); rank r owns [r s, (r + 1) s). reduceScatter sums the gradients
// over the group into this rank's shard, allGather puts every rank's shard back into the arrays.
// Both move one bucket of c shard positions at a time through a staging buffer (size, c): rows
// q = 0..size-1 hold flat [q s + a, q s + a + c). Element-wise the sums are those of one
// reduce-scatter over a flat copy of the set, without that copy's 4 bytes per parameter.
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
  /** Shard positions per bucket. */
  private readonly bucket: number;

  constructor(private readonly group: ProcessGroup, sizes: readonly number[], stagingFloats = ZERO_STAGING_FLOATS) {
    let n = 0;
    for (const s of sizes) { this.offsets.push(n); n += s; }
    this.numel = n;
    this.shard = Math.ceil(n / group.size);
    this.start = Math.min(n, group.rank * this.shard);
    this.end = Math.min(n, this.start + this.shard);
    this.bucket = Math.max(1, Math.min(this.shard, Math.floor(stagingFloats / group.size)));
    this.staging = new Float32Array(this.bucket * group.size);
  }

  /** Bytes of the staging buffer. */
  get stagingBytes(): number {
    return this.staging.byteLength;
  }

  /** arrays (the set, in order) summed over the group; this rank's shard (shard elements) lands in out. */
  async reduceScatter(arrays: readonly Float32Array[], out: Float32Array): Promise<void> {
    this.checkShard('reduceScatter', out);
    for (let a = 0; a < this.shard; a += this.bucket) {
      const c = Math.min(this.bucket, this.shard - a), st = this.staging.subarray(0, c * this.group.size);
      for (let q = 0; q < this.group.size; q++) this.read(arrays, q * this.shard + a, st.subarray(q * c, (q + 1) * c));
      await this.group.reduceScatter(st, out.subarray(a, a + c));
    }
  }

  /** Every rank's shard (shard elements) -> the arrays (the set, in order). */
  async allGather(shard: Float32Array, arrays: readonly Float32Array[]): Promise<void> {
    this.checkShard('allGather', shard);
    for (let a = 0; a < this.shard; a += this.bucket) {
      const c = Math.min(this.bucket, this.shard - a), st = this.staging.subarray(0, c * this.group.size);
      await this.group.allGather(shard.subarray(a, a + c), st);
      for (let q = 0; q < this.group.size; q++) this.write(st.subarray(q * c, (q + 1) * c), arrays, q * this.shard + a);
    }
  }

  private checkShard(what: string, x: Float32Array): void {
    if (x.length !== this.shard) throw new RangeError(`${what}: expected a shard of ${this.shard}, got ${x.length}`);
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
