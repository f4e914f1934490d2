// Grouped matmul over the filled rows of padded batches: each expert multiplies only the tokens it
// received, not its whole capacity (the padding rows are zero and stay zero).
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

  /** Calls fn(group, first row, count) for every segment, and zero-fills out's padding rows (width cols). */
  const segments = (out: Float32Array | null, cols: number, fn: (gi: number, r0: number, m: number) => void): void => {
    for (let gi = 0; gi < g; gi++) {
      for (let si = 0; si < segs; si++) {
        const m = rows[gi * segs + si]!, r0 = gi * s + si * seg;
        if (m > 0) fn(gi, r0, m);
        if (out !== null && m < seg) be.fill(out.subarray((r0 + m) * cols, (r0 + seg) * cols), 0);
      }
    }
  };

  const y = alloc(g * s * n);
  segments(y, n, (gi, r0, m) => be.gemm({ transA: false, transB: false, m, n, k, alpha: 1, beta: 0,
    a: x.data.subarray(r0 * k), lda: k, strideA: 0, b: w.data.subarray(gi * k * n), ldb: n, strideB: 0,
    c: y.subarray(r0 * n), ldc: n, strideC: 0, batch: 1 }));
  return result('groupedMatmul', y, [g, s, n], [x, w], (dy) => {
    if (isGradEnabled()) throw new Error('groupedMatmul is differentiable once; use matmul for higher orders');
    const dx = x.requiresGrad ? alloc(x.size) : null;
    if (dx !== null) {
      segments(dx, k, (gi, r0, m) => be.gemm({ transA: false, transB: true, m, n: k, k: n, alpha: 1, beta: 0,
        a: dy.data.subarray(r0 * n), lda: n, strideA: 0, b: w.data.subarray(gi * k * n), ldb: n, strideB: 0,
        c: dx.subarray(r0 * k), ldc: k, strideC: 0, batch: 1 }));
    }
    let dw: Float32Array | null = null;
    if (w.requiresGrad) {
      const dwd = be.alloc(w.size); // zero: groups with no rows get no update
      const seen = new Uint8Array(g);
      segments(null, 0, (gi, r0, m) => {
        be.gemm({ transA: true, transB: false, m: k, n, k: m, alpha: 1, beta: seen[gi] === 1 ? 1 : 0,
          a: x.data.subarray(r0 * k), lda: k, strideA: 0, b: dy.data.subarray(r0 * n), ldb: n, strideB: 0,
          c: dwd.subarray(gi * k * n), ldc: n, strideC: 0, batch: 1 });
        seen[gi] = 1;
      });
      dw = dwd;
    }
    return [dx === null ? null : new Tensor(dx, x.shape), dw === null ? null : new Tensor(dw, w.shape)];
  });
}
