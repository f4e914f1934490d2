// Test fixtures: deterministic global arrays, reference slicing, and saves by simulated ranks.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Checkpointer, type CheckpointerOptions, type SaveStart } from '../save.js';
import { localGroup, type Json, type ShardedArray } from '../types.js';

export async function tmpRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'furnace-ckpt-'));
}

/** A global array whose every value differs (and depends on seed), so misplaced data shows. */
export function globalArray(shape: number[], seed = 0): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = seed * 1000 + i + Math.fround(0.25 * Math.sin(i + seed));
  return a;
}

/** Reference slice of a row-major global array, element by element (independent of box.ts). */
export function refSlice(g: Float32Array, globalShape: number[], offset: number[], shape: number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    let rem = k;
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d] = rem % shape[d]!;
      rem = Math.floor(rem / shape[d]!);
    }
    let gi = 0;
    for (let d = 0; d < shape.length; d++) gi = gi * globalShape[d]! + offset[d]! + idx[d]!;
    out[k] = g[gi]!;
  }
  return out;
}

/** The piece of a global array at offset/shape, as rank-local data. */
export function piece(key: string, g: Float32Array, globalShape: number[], offset: number[], shape: number[],
  replicaId = 0, replicas = 1): ShardedArray {
  return { key, dtype: 'f32', globalShape, offset, localShape: shape, replicaId, replicas, data: refSlice(g, globalShape, offset, shape) };
}

/** Rows [r * n / parts, (r + 1) * n / parts) of a 2-D global array. */
export function rowPiece(key: string, g: Float32Array, globalShape: number[], parts: number, r: number, replicaId = 0, replicas = 1): ShardedArray {
  const rows = globalShape[0]! / parts;
  return piece(key, g, globalShape, [r * rows, 0], [rows, globalShape[1]!], replicaId, replicas);
}

/** Starts one step's save on every simulated rank concurrently (rank r saves perRank[r]). */
export function startRanks(root: string, step: number, perRank: ShardedArray[][], meta: Json = {},
  opts: Partial<CheckpointerOptions> = {}): Promise<SaveStart>[] {
  const group = localGroup(perRank.length);
  return perRank.map((tensors, r) => new Checkpointer({ hashBlockBytes: 256, ...opts, root, coordinator: group[r]! })
    .save(step, tensors, meta));
}

export function saveRanks(...args: Parameters<typeof startRanks>): Promise<SaveStart[]> {
  return Promise.all(startRanks(...args));
}

/** The state crash tests save: rows of `w` split over 2 ranks, `b` replicated on both. */
export function crashState(seed: number, rank: number): ShardedArray[] {
  const w = globalArray([8, 24], seed);
  const b = globalArray([40], seed + 100);
  return [rowPiece('w', w, [8, 24], 2, rank), piece('b', b, [40], [0], [40], rank, 2)];
}
