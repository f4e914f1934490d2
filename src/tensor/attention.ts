// Fused causal multi-head attention over a qkv projection: strided GEMMs read each head's q, k and v
// in place and write its output and gradients in place, so no permute, slice or gradient sum runs.
import { backend, isGradEnabled } from './engine.js';
import { Tensor, result } from './tensor.js';

/**
 * y = softmax(q k^T / sqrt(D) + causal mask) v per head (Vaswani et al. 2017), from
 * qkv (B*T, H*3*D) whose columns are (H, 3, D): per head its query, key and value. Returns
 * y (B*T, H*D) with columns (H, D). Entries above the diagonal are never read, so no mask is added.
 *
 * Backward (first order only; its gradient is fused), with P = softmax(S), S = q k^T / sqrt(D):
 * dP = dy v^T, dv = P^T dy, dS = P (dP - rowsum(P dP)) / sqrt(D), dq = dS k, dk = dS^T q.
 */
export function causalAttention(qkv: Tensor, b: number, t: number, h: number, d: number): Tensor {
  const c3 = 3 * h * d, hd = h * d;
  if (qkv.ndim !== 2 || qkv.shape[0] !== b * t || qkv.shape[1] !== c3) {
    throw new Error(`causalAttention: qkv [${qkv.shape}] is not (B*T, H*3*D) = (${b * t}, ${c3})`);
  }
  const be = backend();
  const alloc = (n: number): Float32Array => be.allocEmpty?.(n) ?? be.alloc(n);
  const scale = 1 / Math.sqrt(d), tt = t * t;
  const x = qkv.data;
  // Head h of batch item i: q at row i*T, column h*3D (k at +D, v at +2D), row stride 3HD;
  // the batch of H heads steps by 3D.
  const head = (data: Float32Array, i: number, part: number, ld: number, width: number): Float32Array =>
    data.subarray(i * t * ld + part * d, i * t * ld + (t - 1) * ld + (h - 1) * width + part * d + d);
  const scores = (i: number, p: Float32Array): Float32Array => p.subarray(i * h * tt, (i + 1) * h * tt);

  const probs = alloc(b * h * tt); // (B, H, T, T)
  const y = alloc(b * t * hd);     // (B*T, H*D)
  for (let i = 0; i < b; i++) {
    be.gemm({ transA: false, transB: true, m: t, n: t, k: d, alpha: scale, beta: 0,
      a: head(x, i, 0, c3, 3 * d), lda: c3, strideA: 3 * d, b: head(x, i, 1, c3, 3 * d), ldb: c3, strideB: 3 * d,
      c: scores(i, probs), ldc: t, strideC: tt, batch: h });
  }
  be.causalSoftmax(probs, b * h * t, t, probs);
  for (let i = 0; i < b; i++) {
    be.gemm({ transA: false, transB: false, m: t, n: d, k: t, alpha: 1, beta: 0,
      a: scores(i, probs), lda: t, strideA: tt, b: head(x, i, 2, c3, 3 * d), ldb: c3, strideB: 3 * d,
      c: head(y, i, 0, hd, d), ldc: hd, strideC: d, batch: h });
  }
  const p = new Tensor(probs, [b, h, t, t]); // freed with the step's scope
  return result('causalAttention', y, [b * t, hd], [qkv], (g) => {
    if (isGradEnabled()) throw new Error('causalAttention is differentiable once; compose matmul and softmax for higher orders');
    const dy = g.data, dx = alloc(b * t * c3), dp = alloc(b * h * tt);
    for (let i = 0; i < b; i++) {
      const pi = scores(i, p.data), dpi = scores(i, dp);
      // dP = dy v^T; dv = P^T dy
      be.gemm({ transA: false, transB: true, m: t, n: t, k: d, alpha: 1, beta: 0,
        a: head(dy, i, 0, hd, d), lda: hd, strideA: d, b: head(x, i, 2, c3, 3 * d), ldb: c3, strideB: 3 * d,
        c: dpi, ldc: t, strideC: tt, batch: h });
      be.gemm({ transA: true, transB: false, m: t, n: d, k: t, alpha: 1, beta: 0,
        a: pi, lda: t, strideA: tt, b: head(dy, i, 0, hd, d), ldb: hd, strideB: d,
        c: head(dx, i, 2, c3, 3 * d), ldc: c3, strideC: 3 * d, batch: h });
    }
    be.causalSoftmaxBackward(p.data, dp, b * h * t, t, scale, dp); // dS, scale folded in
    for (let i = 0; i < b; i++) {
      const dsi = scores(i, dp);
      // dq = dS k; dk = dS^T q
      be.gemm({ transA: false, transB: false, m: t, n: d, k: t, alpha: 1, beta: 0,
        a: dsi, lda: t, strideA: tt, b: head(x, i, 1, c3, 3 * d), ldb: c3, strideB: 3 * d,
        c: head(dx, i, 0, c3, 3 * d), ldc: c3, strideC: 3 * d, batch: h });
      be.gemm({ transA: true, transB: false, m: t, n: d, k: t, alpha: 1, beta: 0,
        a: dsi, lda: t, strideA: tt, b: head(x, i, 0, c3, 3 * d), ldb: c3, strideB: 3 * d,
        c: head(dx, i, 1, c3, 3 * d), ldc: c3, strideC: 3 * d, batch: h });
    }
    be.free(dp);
    return [new Tensor(dx, qkv.shape)];
  });
}
