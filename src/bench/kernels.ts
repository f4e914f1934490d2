// `furnace bench kernels`: GEMM GFLOP/s per backend beside raw cblas_sgemm and tfjs-wasm, and the MLP step.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { fmt, type Output } from '../util/output.js';
import { errorMessage } from '../util/errors.js';
import type { Backend, BackendName } from '../backends/backend.js';
import { createBackend } from '../backends/index.js';
import { loadCblas } from '../backends/cblas.js';
import { probeNative } from '../backends/native.js';
import { relaxedSimd } from '../backends/wasm-module.js';
import { measurePeak } from '../backends/peak.js';
import { fillUniform, loadTfjsWasm, type Timing } from './kernels-util.js';
import { benchMlp, type MlpRow } from './kernels-mlp.js';

export interface GemmRow {
  /** native-bf16: the native backend at precision bf16 (bf16 inputs, float32 sums); native-avx2: its AVX2+FMA code. */
  backend: BackendName | 'native-bf16' | 'native-avx2' | 'cblas' | 'tfjs-wasm';
  n: number;
  threads: number;
  /** GFLOP/s (2 n^3 / best time / 1e9); null when not measured, with the reason. */
  gflops: number | null;
  /** GFLOP/s per second of process CPU time (threads = 1 only): what the kernel does while it runs,
   * when other processes share the cores. */
  cpu_gflops?: number;
  /** With threads > 1: 'split' = one GEMM split over the threads; 'ranks' = one GEMM per thread at once
   * (the data-parallel layout: one single-threaded backend per rank), summed. */
  mode?: 'split' | 'ranks';
  reason?: string;
}

/** Aggregate GFLOP/s of `ranks` workers, each running its own single-threaded GEMMs at the same time. */
async function ranksThroughput(ranks: number, n: number, seconds: number): Promise<number> {
  const start = new Int32Array(new SharedArrayBuffer(8));
  const workers = Array.from({ length: ranks }, () =>
    new Worker(new URL('./kernels-rank-worker.js', import.meta.url), { workerData: { n, seconds, start } }));
  const done = workers.map((w) => new Promise<{ flops: number; seconds: number }>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  }));
  while (Atomics.load(start, 1) < ranks) await new Promise((r) => setTimeout(r, 5));
  Atomics.store(start, 0, 1);
  Atomics.notify(start, 0);
  const res = await Promise.all(done);
  await Promise.all(workers.map((w) => w.terminate()));
  return res.reduce((s, r) => s + r.flops / r.seconds, 0) / 1e9;
}

const rate = (n: number, t: Timing, threads = 1): Pick<GemmRow, 'gflops' | 'cpu_gflops'> =>
  threads === 1 ? { gflops: (2 * n ** 3) / t.best / 1e9, cpu_gflops: (2 * n ** 3) / t.cpu / 1e9 } : { gflops: (2 * n ** 3) / t.best / 1e9 };

/** One way to compute C = A B (n x n): its result row (without numbers), one run, and cleanup. */
interface Route { row: Omit<GemmRow, 'gflops' | 'cpu_gflops'>; run: () => void; done: () => void }

/** A route through a furnace backend, operands in the backend's memory. */
function backendRoute(be: Backend, n: number, row: Route['row']): Route {
  const a = be.alloc(n * n), b = be.alloc(n * n), c = be.alloc(n * n);
  fillUniform(a, 1);
  fillUniform(b, 2);
  const args = { transA: false, transB: false, m: n, n, k: n, alpha: 1, beta: 0, a, b, c, lda: n, ldb: n, ldc: n,
    strideA: 0, strideB: 0, strideC: 0, batch: 1 };
  return { row, run: () => be.gemm(args), done: () => { be.free(a); be.free(b); be.free(c); } };
}

/**
 * Times routes in alternating rounds (one run of each per round, after one warm-up each), so that
 * every route sees the same load from other processes; at least 3 rounds, then until `budget`
 * seconds per route or 20 rounds.
 */
function interleaved(routes: readonly Route[], budget: number): Timing[] {
  for (const r of routes) r.run();
  const best = routes.map(() => Infinity), cpu = routes.map(() => 0), spent = routes.map(() => 0);
  let rounds = 0;
  while (rounds < 3 || (rounds < 20 && Math.max(...spent) < budget)) {
    routes.forEach((r, i) => {
      const c0 = process.cpuUsage(), t0 = performance.now();
      r.run();
      const dt = (performance.now() - t0) / 1000, c = process.cpuUsage(c0);
      best[i] = Math.min(best[i]!, dt);
      cpu[i]! += (c.user + c.system) / 1e6;
      spent[i]! += dt;
    });
    rounds++;
  }
  return routes.map((_, i) => ({ best: best[i]!, cpu: cpu[i]! / rounds }));
}

function closeBackend(be: Backend): void {
  if ('close' in be && typeof be.close === 'function') be.close();
}

export async function benchGemm(sizes: readonly number[], budget: number, say: (s: string) => void): Promise<GemmRow[]> {
  const rows: GemmRow[] = [];
  const cores = availableParallelism();
  const add = (r: GemmRow): void => {
    rows.push(r);
    say(`  gemm ${r.backend.padEnd(9)} n=${String(r.n).padEnd(5)} threads=${r.threads}${r.mode ? ` (${r.mode})` : ''}  ` +
      (r.gflops === null ? `- (${r.reason})` : `${fmt(r.gflops)} GFLOP/s` +
        (r.cpu_gflops !== undefined ? `  (${fmt(r.cpu_gflops)} per CPU-second)` : '')));
  };

  // js: the readable reference, O(n^3) scalar loops; one run, only where it fits in a few seconds.
  const js = await createBackend('js');
  let jsRate = 0;
  for (const n of sizes) {
    if (jsRate > 0 && (2 * n ** 3) / (jsRate * 1e9) > 3) {
      add({ backend: 'js', n, threads: 1, gflops: null, reason: 'skipped: one run would take over 3 s' });
      continue;
    }
    const route = backendRoute(js, n, { backend: 'js', n, threads: 1 });
    const r = rate(n, interleaved([route], 0)[0]!);
    route.done();
    jsRate = r.gflops!;
    add({ backend: 'js', n, threads: 1, ...r });
  }

  const wasm1 = await createBackend('wasm', { threads: 1 });
  const wasm2 = cores >= 2 ? await createBackend('wasm', { threads: 2 }) : undefined;
  const cb = loadCblas(1);
  const blas = cb.ok ? await createBackend('blas', { threads: 1 }) : undefined;
  const nat = probeNative();
  const native1 = nat.ok ? await createBackend('native', { threads: 1 }) : undefined;
  const bf16 = nat.ok && nat.bf16.ok ? await createBackend('native', { threads: 1, precision: 'bf16' }) : undefined;
  const bf16Reason = !nat.ok ? nat.reason : nat.bf16.ok ? 'not created' : nat.bf16.reason;
  const split = cores >= 2 && nat.ok ? [await createBackend('native', { threads: 2 }),
    ...(nat.bf16.ok ? [await createBackend('native', { threads: 2, precision: 'bf16' })] : [])] : [];
  // The AVX2 code beside the AVX-512 code (on a CPU without AVX-512 the native row is already AVX2).
  const avx2 = nat.ok && nat.target === 'avx512' ? await createBackend('native', { threads: 1, isa: 'avx2' }).catch((e: unknown) => errorMessage(e)) : undefined;
  const tf = await loadTfjsWasm();
  for (const n of sizes) {
    const routes: Route[] = [backendRoute(wasm1, n, { backend: 'wasm', n, threads: 1 })];
    if (native1 !== undefined) routes.push(backendRoute(native1, n, { backend: 'native', n, threads: 1 }));
    else add({ backend: 'native', n, threads: 1, gflops: null, reason: nat.ok ? 'not created' : nat.reason });
    if (bf16 !== undefined) routes.push(backendRoute(bf16, n, { backend: 'native-bf16', n, threads: 1 }));
    else add({ backend: 'native-bf16', n, threads: 1, gflops: null, reason: bf16Reason });
    if (avx2 !== undefined && typeof avx2 !== 'string') routes.push(backendRoute(avx2, n, { backend: 'native-avx2', n, threads: 1 }));
    else add({ backend: 'native-avx2', n, threads: 1, gflops: null, reason: avx2 ?? (nat.ok ? 'the native row runs the AVX2 code' : nat.reason) });
    if (wasm2 !== undefined) routes.push(backendRoute(wasm2, n, { backend: 'wasm', n, threads: 2, mode: 'split' }));
    split.forEach((be, i) => routes.push(backendRoute(be, n, { backend: i === 0 ? 'native' : 'native-bf16', n, threads: 2, mode: 'split' })));
    if (cb.ok && blas !== undefined) {
      routes.push(backendRoute(blas, n, { backend: 'blas', n, threads: 1 }));
      // The reference: the same library on plain Float32Arrays, no furnace code in between.
      const a = new Float32Array(n * n), b = new Float32Array(n * n), c = new Float32Array(n * n);
      fillUniform(a, 1);
      fillUniform(b, 2);
      routes.push({ row: { backend: 'cblas', n, threads: 1 }, run: () => cb.cblas.sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n),
        done: () => undefined });
    } else {
      for (const backend of ['blas', 'cblas'] as const) add({ backend, n, threads: 1, gflops: null, reason: cb.ok ? 'not created' : cb.reason });
    }
    if (tf.ok) {
      const t = tf.tf;
      const a = t.randomUniform([n, n], -1, 1), b = t.randomUniform([n, n], -1, 1);
      routes.push({ row: { backend: 'tfjs-wasm', n, threads: 1 }, run: () => { const c = t.matMul(a, b); c.dataSync(); c.dispose(); },
        done: () => { a.dispose(); b.dispose(); } });
    } else add({ backend: 'tfjs-wasm', n, threads: 1, gflops: null, reason: tf.reason });
    const times = interleaved(routes, budget);
    routes.forEach((r, i) => { add({ ...r.row, ...rate(n, times[i]!, r.row.threads) }); r.done(); });
  }
  closeBackend(wasm1);
  if (native1 !== undefined) closeBackend(native1);
  if (bf16 !== undefined) closeBackend(bf16);
  for (const be of split) closeBackend(be);
  if (avx2 !== undefined && typeof avx2 !== 'string') closeBackend(avx2);
  if (wasm2 !== undefined) closeBackend(wasm2);

  // Both cores, the other layout: one single-threaded GEMM per rank at once.
  if (cores >= 2) {
    for (const n of sizes) add({ backend: 'wasm', n, threads: 2, mode: 'ranks', gflops: await ranksThroughput(2, n, Math.max(budget, 1)) });
  }
  // OpenBLAS splitting one GEMM over two threads (its thread count is process-wide: a separate phase).
  if (cb.ok && blas !== undefined && cores >= 2 && cb.cblas.setThreads !== undefined) {
    cb.cblas.setThreads(2);
    for (const n of sizes) {
      const a = new Float32Array(n * n), b = new Float32Array(n * n), c = new Float32Array(n * n);
      fillUniform(a, 1);
      fillUniform(b, 2);
      const routes = [backendRoute(blas, n, { backend: 'blas', n, threads: 2, mode: 'split' }),
        { row: { backend: 'cblas' as const, n, threads: 2, mode: 'split' as const },
          run: () => cb.cblas.sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n), done: () => undefined }];
      const times = interleaved(routes, budget);
      routes.forEach((r, i) => { add({ ...r.row, ...rate(n, times[i]!, r.row.threads) }); r.done(); });
    }
    cb.cblas.setThreads(1);
  }
  return rows;
}

export interface Ratio {
  /** What is compared, e.g. 'wasm / tfjs-wasm GEMM'. */
  what: string;
  n?: number;
  ratio: number;
}

/**
 * The comparisons the rows exist for, as ratios of the same run: furnace against its peer
 * (tfjs-wasm), against the same library called directly (cblas), and against the machine's limit
 * (the FMA peak; for wasm, the 128-bit FMA peak, all WebAssembly SIMD can use).
 */
export function ratios(gemm: readonly GemmRow[], mlp: readonly MlpRow[],
  peak: { perCoreFlops: number; perCoreSimd128Flops: number; perCoreBf16Flops?: number }): Ratio[] {
  const out: Ratio[] = [];
  const g = (backend: GemmRow['backend'], n: number): number | null =>
    gemm.find((r) => r.backend === backend && r.n === n && r.threads === 1)?.gflops ?? null;
  const push = (what: string, a: number | null | undefined, b: number | null | undefined, n?: number): void => {
    if (a !== null && a !== undefined && b !== null && b !== undefined && b > 0) out.push({ what, ...(n !== undefined ? { n } : {}), ratio: a / b });
  };
  for (const n of [...new Set(gemm.map((r) => r.n))]) {
    push('wasm / tfjs-wasm GEMM', g('wasm', n), g('tfjs-wasm', n), n);
    push('wasm GEMM / 128-bit FMA peak', g('wasm', n), peak.perCoreSimd128Flops / 1e9, n);
    push('blas / cblas GEMM', g('blas', n), g('cblas', n), n);
    push('blas GEMM / FMA peak', g('blas', n), peak.perCoreFlops / 1e9, n);
    push('native / cblas GEMM', g('native', n), g('cblas', n), n);
    push('native GEMM / FMA peak', g('native', n), peak.perCoreFlops / 1e9, n);
    push('native-bf16 / native GEMM', g('native-bf16', n), g('native', n), n);
    push('native-avx2 / cblas GEMM', g('native-avx2', n), g('cblas', n), n);
    push('native-bf16 GEMM / bf16 peak', g('native-bf16', n), peak.perCoreBf16Flops === undefined ? null : peak.perCoreBf16Flops / 1e9, n);
  }
  const m = (impl: MlpRow['impl']): number | null => mlp.find((r) => r.impl === impl && r.threads === 1)?.ms_per_step ?? null;
  push('MLP step tfjs-wasm / furnace-blas (speedup)', m('tfjs-wasm'), m('furnace-blas'));
  push('MLP step tfjs-wasm / furnace-wasm (speedup)', m('tfjs-wasm'), m('furnace-wasm'));
  return out;
}

export interface KernelsBenchOptions {
  /** Square GEMM sizes n (n x n times n x n). */
  sizes: number[];
  /** Seconds of timing per GEMM size and backend. */
  budget: number;
  /** MLP training steps timed per backend. */
  steps: number;
  /** Only the GEMMs or only the MLP step; both when absent. */
  only?: 'gemm' | 'mlp';
}

export async function benchKernels({ sizes, budget, steps, only }: KernelsBenchOptions, out: Output): Promise<number> {
  const peak = measurePeak();
  const rs = relaxedSimd();
  out.say(`furnace bench kernels: ${peak.basis}; relaxed SIMD ${rs.enabled ? `on (${rs.how})` : `off (${rs.how})`}`);
  out.say(`  ${peak.measured ? 'measured' : 'estimated'} peak: ${fmt(peak.perCoreFlops / 1e9)} GFLOP/s per core (${fmt(peak.perCoreSimd128Flops / 1e9)} with 128-bit SIMD` +
    `${peak.perCoreBf16Flops !== undefined ? `, ${fmt(peak.perCoreBf16Flops / 1e9)} with bf16 dot products` : ''}), ${fmt(peak.totalFlops / 1e9)} in all`);
  const gemm = only === 'mlp' ? [] : await benchGemm(sizes, budget, (s) => out.say(s));
  const mlp: MlpRow[] = only === 'gemm' ? [] : await benchMlp(steps, (s) => out.say(s));
  const rat = ratios(gemm, mlp, peak);
  out.say('ratios (this run):');
  for (const r of rat) out.say(`  ${r.what}${r.n !== undefined ? ` n=${r.n}` : ''}: ${r.ratio.toFixed(2)}`);
  out.result({
    gemm, mlp, ratios: rat,
    peak_gflops_estimate: peak.totalFlops / 1e9,
    peak_gflops_per_core_estimate: peak.perCoreFlops / 1e9,
    peak_simd128_gflops_per_core_estimate: peak.perCoreSimd128Flops / 1e9,
    ...(peak.perCoreBf16Flops !== undefined ? { peak_bf16_gflops_per_core: peak.perCoreBf16Flops / 1e9 } : {}),
    peak_measured: peak.measured,
    peak_basis: peak.basis,
    relaxed_simd: rs.enabled,
  });
  return 0;
}
