// Grouped matmul over the filled rows of padded batches: each expert multiplies only the tokens it
// received, not its whole capacity (the padding rows are zero and stay zero).
import type { GroupedGemmArgs } from '../backends/backend.js';
import { gemmGrouped } from '../backends/grouped-gemm.js';
import { backend, isGradEnabled } from './engine.js';
import { Tensor, result } from './tensor.js';

/**
 * y[g] = x[g] @ w[g] on the filled rows of x[g], 0 on the others; x (G, S, K), w (G, K, N),
 * y (G, S, N). Each group's S rows are `segs` segments of S / segs rows; segment s of group g
 * holds rows[g * segs + s] filled rows at its start (the rest padding). With zero padding rows
 * this equals x.matmul(w) at a fraction of its FLOPs: a capacity factor of 1.25 pads the experts'
 * batches by 25% and more when the load is uneven (GShard's layout; grouped GEMM as MegaBlocks).
 *
 * Differentiable once. Backward, on the same rows: dx[g] = dy[g] w[g]^T (0 on padding rows), dw[g] = sum over
 * segments of x[g]^T dy[g].
 */
export function groupedMatmul(x: Tensor, w: Tensor, rows: Int32Array, segs: number): Tensor {
  if (x.ndim !== 3 || w.ndim !== 3 || w.shape[0] !== x.shape[0] || w.shape[1] !== x.shape[2]) {
    throw new Error(`groupedMatmul: x [${x.shape}] and w [${w.shape}] are not (G, S, K) and (G, K, N)`);
  }
  const [g, s, k] = x.shape as [number, number, number];
  const n = w.shape[2]!;
  if (!Number.isInteger(segs) || segs < 1 || s % segs !== 0) throw new Error(`groupedMatmul: ${segs} segments do not divide ${s} rows`);
  const seg = s / segs;
  if (rows.length !== g * segs) throw new Error(`groupedMatmul: ${rows.length} row counts for ${g} x ${segs} segments`);
  for (const r of rows) if (!Number.isInteger(r) || r < 0 || r > seg) throw new Error(`groupedMatmul: row count ${r} outside [0, ${seg}]`);
  const be = backend();
  const alloc = (len: number): Float32Array => be.allocEmpty?.(len) ?? be.alloc(len);

  // One grouped GEMM per product: problem (gi, si) is segment si of group gi (rows[gi * segs + si]
  // filled rows from row gi * S + si * seg); B is w[gi] (forward, dx), shared by a group's segments.
  const first = (gi: number, si: number): number => gi * s + si * seg;
  const problems = (mOf: (m: number) => number, kOf: (m: number) => number,
    off: (gi: number, si: number) => [number, number, number]): Pick<GroupedGemmArgs, 'm' | 'k' | 'beta' | 'offA' | 'offB' | 'offC'> => {
    const count = g * segs;
    const p = { m: new Int32Array(count), k: new Int32Array(count), beta: new Float32Array(count) /* 0: overwrite */, offA: new Int32Array(count),
      offB: new Int32Array(count), offC: new Int32Array(count) };
    for (let gi = 0; gi < g; gi++) {
      for (let si = 0; si < segs; si++) {
        const i = gi * segs + si, rowsHere = rows[i]!;
        [p.offA[i], p.offB[i], p.offC[i]] = off(gi, si);
        p.m[i] = rowsHere > 0 ? mOf(rowsHere) : 0;
        p.k[i] = kOf(rowsHere);
      }
    }
    return p;
  };
  /** Zero-fills the padding rows (width cols) of out. */
  const zeroPadding = (out: Float32Array, cols: number): void => {
    for (let i = 0; i < g * segs; i++) {
      const m = rows[i]!, r0 = first(Math.floor(i / segs), i % segs);
      if (m < seg) be.fill(out.subarray((r0 + m) * cols, (r0 + seg) * cols), 0);
    }
  };

  const y = alloc(g * s * n);
  gemmGrouped(be, { transA: false, transB: false, n, alpha: 1, a: x.data, lda: k, b: w.data, ldb: n, c: y, ldc: n,
    ...problems((m) => m, () => k, (gi, si) => [first(gi, si) * k, gi * k * n, first(gi, si) * n]) });
  zeroPadding(y, n);
  return result('groupedMatmul', y, [g, s, n], [x, w], (dy) => {
    if (isGradEnabled()) throw new Error('groupedMatmul is differentiable once; use matmul for higher orders');
    const dx = x.requiresGrad ? alloc(x.size) : null;
    if (dx !== null) {
      // dx[rows] = dy[rows] w[gi]^T
      gemmGrouped(be, { transA: false, transB: true, n: k, alpha: 1, a: dy.data, lda: n, b: w.data, ldb: n, c: dx, ldc: k,
        ...problems((m) => m, () => n, (gi, si) => [first(gi, si) * n, gi * k * n, first(gi, si) * k]) });
      zeroPadding(dx, k);
    }
    let dw: Float32Array | null = null;
    if (w.requiresGrad) {
      // dw[gi] = sum over segments of x[rows]^T dy[rows]: (K, N) with k = the segment's rows; the first
      // segment with rows overwrites, later ones add. A group with no rows gets no problem (m 0): zero from alloc.
      const dwd = be.alloc(w.size);
      const seen = new Uint8Array(g);
      const p = problems(() => k, (m) => m, (gi, si) => [first(gi, si) * k, first(gi, si) * n, gi * k * n]);
      for (let i = 0; i < g * segs; i++) {
        const gi = Math.floor(i / segs);
        p.beta[i] = seen[gi] === 1 ? 1 : 0;
        if (p.m[i]! > 0) seen[gi] = 1;
      }
      gemmGrouped(be, { transA: true, transB: false, n, alpha: 1, a: x.data, lda: k, b: dy.data, ldb: n, c: dwd, ldc: n, ...p });
      dw = dwd;
    }
    return [dx === null ? null : new Tensor(dx, x.shape), dw === null ? null : new Tensor(dw, w.shape)];
  });
}
