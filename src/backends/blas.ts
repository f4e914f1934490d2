// The blas backend: GEMM by OpenBLAS (cblas_sgemm via koffi) in place on the wasm heap or host memory; every other kernel from wasm.
import type { GemmArgs } from './backend.js';
import { checkGemm, WasmBackend, type WasmOptions } from './wasm.js';
import type { Cblas } from './cblas.js';

export class BlasBackend extends WasmBackend {
  override readonly name = 'blas' as const;

  /** `cblas` from loadCblas(); the wasm part is single-threaded (OpenBLAS has its own threads). */
  constructor(readonly cblas: Cblas, opts: WasmOptions = {}) {
    super({ ...opts, threads: 1 });
  }

  override gemm(g: GemmArgs): void {
    checkGemm(g);
    if (g.m === 0 || g.n === 0 || g.batch === 0) return;
    // CBLAS needs ld >= max(1, columns) even for one row or an empty k.
    const [ac, bc] = [g.transA ? g.m : g.k, g.transB ? g.k : g.n];
    const lda = Math.max(g.lda, ac, 1), ldb = Math.max(g.ldb, bc, 1), ldc = Math.max(g.ldc, g.n, 1);
    if (g.k === 0) {
      // Some CBLAS builds return early on k == 0 without scaling C by beta.
      for (let i = 0; i < g.batch; i++) {
        for (let r = 0; r < g.m; r++) {
          const row = g.c.subarray(i * g.strideC + r * g.ldc, i * g.strideC + r * g.ldc + g.n);
          if (g.beta === 0) row.fill(0); else this.affine(row, g.beta, 0, row);
        }
      }
      return;
    }
    for (let i = 0; i < g.batch; i++) {
      const a = i === 0 ? g.a : g.a.subarray(i * g.strideA);
      const b = i === 0 ? g.b : g.b.subarray(i * g.strideB);
      const c = i === 0 ? g.c : g.c.subarray(i * g.strideC);
      this.cblas.sgemm(g.transA, g.transB, g.m, g.n, g.k, g.alpha, a, lda, b, ldb, g.beta, c, ldc);
    }
  }
}
