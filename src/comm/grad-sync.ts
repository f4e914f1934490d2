// Gradient synchronisation on flat Float32Arrays: bucketed all-reduce and ZeRO-1 sharding.
//
// Buckets (PyTorch DDP, Li et al. VLDB 2020, section 3.2.3): gradients are grouped, in the order
// backward produces them, into buckets of about `bucketBytes`; a bucket's all-reduce starts as
// soon as its last gradient is marked ready, and buckets start strictly in order, so that every
// rank issues the same collectives in the same order. With a Nonblocking engine that overlaps
// (progress.ts: a communication worker on threads, MPI_Iallreduce on MPI) a started bucket is
// reduced while the backward pass goes on computing the next gradients.
//
// ZeRO-1 (Rajbhandari et al., SC 2020, section 5.1): optimizer state is sharded over the dp
// group. The flat parameter space of n elements is split into `size` shards of ceil(n / size)
// (the last padded); each step reduce-scatters the gradients (each rank receives its shard,
// averaged), updates its shard, and all-gathers the parameters.
import type { ProcessGroup } from './process-group.js';
import { BlockingCollectives, type InFlight, type Nonblocking } from './progress.js';

export interface BucketOptions {
  /** Bucket capacity in bytes (a larger gradient gets a bucket of its own). Default 25 MiB. */
  bucketBytes?: number;
  /** Divide the sum by the group size (data-parallel mean). Default true. */
  average?: boolean;
  /** Multiply the sum by this instead (overrides average), e.g. 1 / dp for expert gradients. */
  scale?: number;
}

/** Groups gradient indices, in the given order, into buckets of at most `bytes`. */
export function planBuckets(sizes: readonly number[], bytes: number): number[][] {
  const buckets: number[][] = [];
  let cur: number[] = [];
  let curBytes = 0;
  sizes.forEach((n, i) => {
    if (cur.length > 0 && curBytes + n * 4 > bytes) {
      buckets.push(cur);
      cur = [];
      curBytes = 0;
    }
    cur.push(i);
    curBytes += n * 4;
  });
  if (cur.length > 0) buckets.push(cur);
  return buckets;
}

/** Bucketed all-reduce of a list of gradients; reuse it every step (call reset() between steps). */
export class GradBuckets {
  readonly buckets: number[][];
  private readonly bucketOf: number[];
  private missing: number[] = [];
  private next = 0;
  private grads: (Float32Array | undefined)[] = [];
  private inFlight: InFlight[] = [];
  private readonly scale: number;
  private readonly engine: Nonblocking;

  /**
   * `sizes`: element counts of the gradients, in the order backward produces them (last layer
   * first). Without `engine`, each bucket is reduced on the caller's thread when it starts.
   */
  constructor(group: ProcessGroup, readonly sizes: readonly number[], opts: BucketOptions = {}, engine?: Nonblocking) {
    this.buckets = planBuckets(sizes, opts.bucketBytes ?? 25 * 2 ** 20);
    this.bucketOf = [];
    this.buckets.forEach((b, k) => { for (const i of b) this.bucketOf[i] = k; });
    this.scale = opts.scale ?? ((opts.average ?? true) ? 1 / group.size : 1);
    this.engine = engine ?? new BlockingCollectives(group);
    this.reset();
  }

  /** Buckets whose all-reduce has been started this step. */
  get started(): number {
    return this.next;
  }

  reset(): void {
    this.missing = this.buckets.map((b) => b.length);
    this.next = 0;
    this.grads = [];
    this.inFlight = [];
  }

  /** Whether gradient i was marked ready this step. */
  has(i: number): boolean {
    return this.grads[i] !== undefined;
  }

  /**
   * Gradient i (`g`, sizes[i] elements) is final for this step; starts every bucket that is now
   * complete, in order. g is reduced in place: leave it alone until finish() resolves.
   */
  ready(i: number, g: Float32Array): void {
    const k = this.bucketOf[i];
    if (k === undefined) throw new RangeError(`ready: no gradient ${i}`);
    if (g.length !== this.sizes[i]) throw new RangeError(`ready: gradient ${i} has ${g.length} elements, expected ${this.sizes[i]}`);
    if (this.grads[i] !== undefined) throw new Error(`ready: gradient ${i} is already marked ready this step`);
    this.grads[i] = g;
    this.missing[k] = (this.missing[k] ?? 0) - 1;
    while (this.next < this.buckets.length && this.missing[this.next] === 0) {
      const b = this.buckets[this.next++] ?? [];
      this.inFlight.push(this.engine.allReduce(b.map((j) => this.grads[j] ?? new Float32Array(0))));
    }
    this.engine.poke();
  }

  /** Waits for every bucket, then scales; all gradients must have been marked ready. */
  async finish(): Promise<void> {
    if (this.next < this.buckets.length) {
      throw new Error(`finish: bucket ${this.next} still waits for ${this.missing[this.next]} gradient(s)`);
    }
    for (const f of this.inFlight) await f.wait();
    if (this.scale !== 1) for (const g of this.grads) if (g !== undefined) scaleInPlace(g, this.scale);
  }
}

function scaleInPlace(x: Float32Array, s: number): void {
  for (let i = 0; i < x.length; i++) x[i] = (x[i] ?? 0) * s;
}

/** All-reduces (and by default averages) a list of gradients in buckets, all at once. */
export async function allReduceGrads(group: ProcessGroup, grads: readonly Float32Array[], opts: BucketOptions = {}): Promise<void> {
  const b = new GradBuckets(group, grads.map((g) => g.length), opts);
  grads.forEach((g, i) => b.ready(i, g));
  await b.finish();
}

/** ZeRO-1 over a flat parameter space of `numel` elements, sharded over `group`. */
export class Zero1 {
  /** Elements per shard (padded); this rank owns [start, end) of the flat space. */
  readonly shard: number;
  readonly start: number;
  readonly end: number;
  private readonly padded: Float32Array | undefined;

  constructor(private readonly group: ProcessGroup, readonly numel: number) {
    this.shard = Math.ceil(numel / group.size);
    this.start = Math.min(numel, group.rank * this.shard);
    this.end = Math.min(numel, this.start + this.shard);
    this.padded = this.shard * group.size === numel ? undefined : new Float32Array(this.shard * group.size);
  }

  /** grads (numel) summed over the group; this rank's shard (shard elements) lands in out. */
  async reduceScatterGrads(grads: Float32Array, out: Float32Array, average = true): Promise<void> {
    if (grads.length !== this.numel || out.length !== this.shard) {
      throw new RangeError(`reduceScatterGrads: expected ${this.numel} gradients and a shard of ${this.shard}`);
    }
    let input = grads;
    if (this.padded !== undefined) {
      this.padded.fill(0, this.numel);
      this.padded.set(grads);
      input = this.padded;
    }
    await this.group.reduceScatter(input, out);
    if (average && this.group.size > 1) scaleInPlace(out, 1 / this.group.size);
  }

  /** Every rank's shard (shard elements) -> the full parameters (numel). */
  async allGatherParams(shard: Float32Array, params: Float32Array): Promise<void> {
    if (params.length !== this.numel || shard.length !== this.shard) {
      throw new RangeError(`allGatherParams: expected a shard of ${this.shard} and ${this.numel} parameters`);
    }
    if (this.padded === undefined) return this.group.allGather(shard, params);
    await this.group.allGather(shard, this.padded);
    params.set(this.padded.subarray(0, this.numel));
  }
}
