// `furnace bench comm`: collective bandwidth per backend and rank count, beside memcpy measured
// in the same run. algbw = bytes per rank / time; busbw scales it by the bytes each rank must move
// (all-reduce 2(p-1)/p, all-gather and all-to-all (p-1)/p), as nccl-tests report it.
import { loadavg } from 'node:os';
import { InputError } from '../util/errors.js';
import { Output, fmt } from '../util/output.js';
import { parse, type Command } from '../cli/util.js';
import { usesMemcpy } from './fast-copy.js';
import { launch } from './launch.js';
import { findMpirun } from './mpi-group.js';
import { BENCH_OPS, type BenchOp, type BenchRow } from './bench-ranks.js';
import type { CommBackend } from './process-group.js';

export interface CommBenchResult extends BenchRow {
  backend: CommBackend;
  ranks: number;
  algbw_Bps: number;
  busbw_Bps: number;
}

function list(name: string, v: string, ok: (x: number) => boolean): number[] {
  const xs = v.split(',').map((s) => Number(s.trim()));
  if (xs.length === 0 || xs.some((x) => !ok(x))) throw new InputError(`--${name}: expected a comma-separated list, got '${v}'`);
  return xs;
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

export const run: Command = async (argv) => {
  const { values } = parse(argv, {
    json: { type: 'boolean', default: false },
    backend: { type: 'string', default: 'all' },
    ranks: { type: 'string', default: '2,4' },
    'sizes-mb': { type: 'string', default: '1,4,16,64' },
    ops: { type: 'string', default: BENCH_OPS.join(',') },
    iters: { type: 'string', default: '5' },
  });
  const out = new Output(values.json);
  const ranks = list('ranks', values.ranks, (x) => Number.isInteger(x) && x >= 2 && x <= 64);
  const sizes = list('sizes-mb', values['sizes-mb'], (x) => x > 0 && x <= 1024).map((mb) => Math.round(mb * 2 ** 20));
  const iters = list('iters', values.iters, (x) => Number.isInteger(x) && x >= 1)[0] ?? 5;
  const ops = values.ops.split(',').map((s) => s.trim());
  for (const o of ops) if (!(BENCH_OPS as readonly string[]).includes(o)) throw new InputError(`--ops: unknown op '${o}' (choose from ${BENCH_OPS.join(', ')})`);
  const wanted = values.backend === 'all' ? ['threads', 'mpi'] : [values.backend];
  for (const b of wanted) if (b !== 'threads' && b !== 'mpi') throw new InputError(`--backend: expected threads, mpi or all, got '${b}'`);
  const hasMpi = findMpirun() !== undefined;
  const skipped: string[] = [];

  const memcpy = memcpyBandwidth(Math.max(...sizes));
  const load = loadavg()[0] ?? 0;
  const copy = usesMemcpy() ? 'libc memcpy' : 'TypedArray.set';
  out.say(`memcpy (TypedArray.set, ${fmt(Math.max(...sizes) / 2 ** 20)} MB): ${fmt(memcpy / 1e9)} GB/s; ` +
    `load average ${fmt(load)}; threads backend copies with ${copy}`);
  out.say(['backend', 'ranks', 'op', 'MB', 'time ms', 'algbw GB/s', 'busbw GB/s'].map((h) => h.padStart(11)).join(''));
  const results: CommBenchResult[] = [];
  for (const backend of wanted as CommBackend[]) {
    if (backend === 'mpi' && !hasMpi) {
      skipped.push('mpi: mpirun not found (install openmpi-bin libopenmpi-dev)');
      out.say('mpi: skipped, mpirun not found');
      continue;
    }
    for (const p of ranks) {
      const rows = (await launch<BenchRow[]>(new URL('./bench-ranks.js', import.meta.url),
        { ranks: p, backend, args: { sizes, ops: ops as BenchOp[], iters }, timeoutS: 600 }))[0] ?? [];
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
};
