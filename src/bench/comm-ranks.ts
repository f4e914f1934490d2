// The rank program of `furnace bench comm`: times collectives of several sizes on every rank.
import type { ProcessGroup } from '../comm/process-group.js';

export const BENCH_OPS = ['allReduce', 'allGather', 'allToAll'] as const;
export type BenchOp = (typeof BENCH_OPS)[number];

export interface BenchRow {
  op: BenchOp;
  /** Bytes per rank: the all-reduce buffer, the all-to-all send buffer, the all-gather output. */
  bytes: number;
  /** Best over iterations of the slowest rank's time. */
  seconds: number;
}

/** Times each op and size; every rank returns the same rows. */
export async function main(world: ProcessGroup, args: { sizes: number[]; ops: BenchOp[]; iters: number }): Promise<BenchRow[]> {
  const p = world.size;
  const rows: BenchRow[] = [];
  const t = new Float32Array(1);
  for (const op of args.ops) {
    for (const bytes of args.sizes) {
      const n = Math.floor(bytes / 4 / p) * p;
      const a = new Float32Array(n).fill(world.rank + 1);
      const b = new Float32Array(n);
      const gatherIn = a.subarray(0, n / p);
      const run = () => op === 'allReduce' ? world.allReduce(a) : op === 'allGather' ? world.allGather(gatherIn, b) : world.allToAll(a, b);
      await run();
      let best = Infinity;
      for (let i = 0; i < args.iters; i++) {
        await world.barrier();
        const t0 = performance.now();
        await run();
        t[0] = (performance.now() - t0) / 1000;
        await world.allReduce(t, 'max');
        best = Math.min(best, t[0] ?? Infinity);
      }
      rows.push({ op, bytes: n * 4, seconds: best });
    }
  }
  return rows;
}
