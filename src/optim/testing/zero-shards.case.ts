// Rank program for the ZeRO-1 bucket tests: FlatShards over separate arrays against Zero1 over
// their flat concatenation, with buckets small enough that a shard takes several.
import assert from 'node:assert/strict';
import type { ProcessGroup } from '../../comm/process-group.js';
import { Zero1 } from '../../comm/grad-sync.js';
import { gen } from '../../comm/testing/conformance.case.js';
import { FlatShards } from '../zero-shards.js';

export const SIZES = [7, 300, 1, 0, 2000, 45, 129, 64];

function concat(arrays: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(arrays.reduce((s, a) => s + a.length, 0));
  let at = 0;
  for (const a of arrays) { out.set(a, at); at += a.length; }
  return out;
}

/** Reduce-scatter and all-gather both ways; returns the number of buckets per shard. */
export async function main(world: ProcessGroup, args: { stagingFloats: number }): Promise<number> {
  const grads = SIZES.map((n, i) => gen(world.rank, n, i));
  const fs = new FlatShards(world, SIZES, args.stagingFloats), z = new Zero1(world, fs.numel);
  assert.deepEqual([fs.shard, fs.start, fs.end], [z.shard, z.start, z.end]);
  const a = new Float32Array(fs.shard), b = new Float32Array(fs.shard);
  await fs.reduceScatter(grads, a);
  await z.reduceScatterGrads(concat(grads), b, false);
  assert.deepEqual(a, b, `rank ${world.rank}: reduce-scattered shard`);
  // Every rank's shard back into the arrays: the flat result of Zero1's all-gather, cut per array.
  const shard = gen(world.rank, fs.shard, 50), params = SIZES.map((n) => new Float32Array(n).fill(NaN)), flat = new Float32Array(fs.numel);
  await fs.allGather(shard, params);
  await z.allGatherParams(shard, flat);
  assert.deepEqual(concat(params), flat, `rank ${world.rank}: all-gathered parameters`);
  return Math.ceil(fs.shard / Math.max(1, Math.min(fs.shard, Math.floor(args.stagingFloats / world.size))));
}
