// `furnace bench comm`: collective bandwidth per backend and rank count, beside memcpy measured
// in the same run. algbw = bytes per rank / time; busbw scales it by the bytes each rank must move
// (all-reduce 2(p-1)/p, all-gather and all-to-all (p-1)/p), as nccl-tests report it.
import { loadavg } from 'node:os';
import { fmt, type Output } from '../util/output.js';
import { usesMemcpy } from '../comm/fast-copy.js';
import { launch } from '../comm/launch.js';
import { findMpirun } from '../comm/mpi-group.js';
import type { BenchOp, BenchRow } from './comm-ranks.js';
import type { CommBackend } from '../comm/process-group.js';

export interface CommBenchResult extends BenchRow {
  backend: CommBackend;
  ranks: number;
  algbw_Bps: number;
  busbw_Bps: number;
}

/** Best-of-k bandwidth of TypedArray.set (a memcpy) over `bytes`. */
export function memcpyBandwidth(bytes: number, k = 7): number {
  const src = new Float32Array(bytes / 4).fill(1);
  const dst = new Float32Array(bytes / 4);
  let best = Infinity;
  for (let i = 0; i < k; i++) {
    const t0 = performance.now();
    dst.set(src);
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return bytes / best;
}

export interface CommBenchOptions {
  backends: CommBackend[];
  /** World sizes to time. */
  ranks: number[];
  /** Buffer bytes per rank. */
  sizes: number[];
  ops: BenchOp[];
  /** Iterations per op and size; the best counts. */
  iters: number;
}

export async function benchComm({ backends: wanted, ranks, sizes, ops, iters }: CommBenchOptions, out: Output): Promise<number> {
  const hasMpi = findMpirun() !== undefined;
  const skipped: string[] = [];

  const memcpy = memcpyBandwidth(Math.max(...sizes));
  const load = loadavg()[0] ?? 0;
  const copy = usesMemcpy() ? 'libc memcpy' : 'TypedArray.set';
  out.say(`memcpy (TypedArray.set, ${fmt(Math.max(...sizes) / 2 ** 20)} MB): ${fmt(memcpy / 1e9)} GB/s; ` +
    `load average ${fmt(load)}; threads backend copies with ${copy}`);
  out.say(['backend', 'ranks', 'op', 'MB', 'time ms', 'algbw GB/s', 'busbw GB/s'].map((h) => h.padStart(11)).join(''));
  const results: CommBenchResult[] = [];
  for (const backend of wanted) {
    if (backend === 'mpi' && !hasMpi) {
      skipped.push('mpi: mpirun not found (install openmpi-bin libopenmpi-dev)');
      out.say('mpi: skipped, mpirun not found');
      continue;
    }
    for (const p of ranks) {
      const rows = (await launch<BenchRow[]>(new URL('./comm-ranks.js', import.meta.url),
        { ranks: p, backend, args: { sizes, ops, iters }, timeoutS: 600 }))[0] ?? [];
      for (const r of rows) {
        const algbw = r.bytes / r.seconds;
        const factor = r.op === 'allReduce' ? (2 * (p - 1)) / p : (p - 1) / p;
        results.push({ backend, ranks: p, ...r, algbw_Bps: algbw, busbw_Bps: algbw * factor });
        out.say([backend, String(p), r.op, fmt(r.bytes / 2 ** 20), fmt(r.seconds * 1e3), fmt(algbw / 1e9), fmt((algbw * factor) / 1e9)]
          .map((c) => c.padStart(11)).join(''));
      }
    }
  }
  out.result({ memcpy_Bps: memcpy, load_average: load, threads_copy: copy, results, skipped });
  return 0;
}
