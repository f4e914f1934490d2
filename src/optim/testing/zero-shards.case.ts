// Rank program for the ZeRO-1 bucket tests: FlatShards in separate arrays against Zero1 over
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

/** Reduce-scatter, all-gather and the gather of shards, each against Zero1; returns the number of buckets per shard. */
export async function main(world: ProcessGroup, args: { stagingFloats: number }): Promise<number> {
  const grads = SIZES.map((n, i) => gen(world.rank, n, i));
  const fs = new FlatShards(world, SIZES, args.stagingFloats), z = new Zero1(world, fs.numel);
  assert.deepEqual([fs.shard, fs.start, fs.end], [z.shard, z.start, z.end]);
  const summed = new Float32Array(z.shard);
  await z.reduceScatterGrads(concat(grads), summed, false);
  await fs.reduceScatter(grads);
  assert.deepEqual(concat(grads).subarray(fs.start, fs.end), summed.subarray(0, fs.end - fs.start), `rank ${world.rank}: summed range`);
  // Parameters: each rank's own range (the rest NaN on this rank) to every rank, as Zero1 gathers the padded shards.
  const shard = gen(world.rank, fs.shard, 50).fill(0, fs.end - fs.start), flat = new Float32Array(fs.numel);
  await z.allGatherParams(shard, flat);
  const params = SIZES.map((n) => new Float32Array(n).fill(NaN)), mine = concat(params);
  mine.set(shard.subarray(0, fs.end - fs.start), fs.start);
  let at = 0;
  for (const p of params) { p.set(mine.subarray(at, at + p.length)); at += p.length; }
  await fs.allGather(params);
  assert.deepEqual(concat(params), flat, `rank ${world.rank}: all-gathered parameters`);
  const moments = SIZES.map((n) => new Float32Array(n).fill(NaN));
  await fs.gatherShards(shard, moments);
  assert.deepEqual(concat(moments), flat, `rank ${world.rank}: gathered shards`);
  return Math.ceil(fs.shard / Math.max(1, Math.min(fs.shard, Math.floor(args.stagingFloats / world.size))));
}
