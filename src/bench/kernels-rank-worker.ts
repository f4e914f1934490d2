// One "rank" of the both-cores benchmark: its own single-threaded wasm backend, GEMMs until the deadline.
import { parentPort, workerData } from 'node:worker_threads';
import { createBackend } from '../backends/index.js';
import { fillUniform } from './kernels-util.js';

interface RankJob { n: number; seconds: number; start: Int32Array }

const { n, seconds, start } = workerData as RankJob;
const be = await createBackend('wasm', { threads: 1 });
const a = be.alloc(n * n), b = be.alloc(n * n), c = be.alloc(n * n);
fillUniform(a, 1);
fillUniform(b, 2);
const args = { transA: false, transB: false, m: n, n, k: n, alpha: 1, beta: 0, a, b, c, lda: n, ldb: n, ldc: n,
  strideA: 0, strideB: 0, strideC: 0, batch: 1 };
be.gemm(args);
// Start together: every rank waits on the same flag.
Atomics.add(start, 1, 1);
Atomics.wait(start, 0, 0);
let count = 0;
const t0 = performance.now();
while (performance.now() - t0 < seconds * 1000) {
  be.gemm(args);
  count++;
}
parentPort?.postMessage({ flops: count * 2 * n ** 3, seconds: (performance.now() - t0) / 1000 });
