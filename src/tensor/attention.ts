// Fused causal multi-head attention over a qkv projection: strided GEMMs read each head's q, k and v
// in place and write its output and gradients in place, so no permute, slice or gradient sum runs.
import { backend, isGradEnabled } from './engine.js';
import { Tensor, result } from './tensor.js';

/** cos and sin of p * theta_i, theta_i = base^(-2i/D), for p < positions and i < D/2, in backend memory. */
export interface RopeTables { positions: number; d: number; cos: Float32Array; sin: Float32Array }

const tableCache = new WeakMap<object, Map<string, RopeTables>>();

/** RoPE tables for `positions` positions of head dim d (base 10000, as RoFormer), made once per backend. */
export function ropeTables(positions: number, d: number, base = 10000): RopeTables {
  const be = backend();
  let byKey = tableCache.get(be);
  if (byKey === undefined) tableCache.set(be, (byKey = new Map()));
  const key = `${positions}/${d}/${base}`;
  const hit = byKey.get(key);
  if (hit !== undefined) return hit;
  const half = d / 2, cos = be.alloc(positions * half), sin = be.alloc(positions * half);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * base ** (-(2 * i) / d);
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  const tables = { positions, d, cos, sin };
  byKey.set(key, tables);
  return tables;
}

/** Row blocks of the causal GEMMs: about BLOCKS of them, none under BLOCK_MIN rows (smaller GEMMs run slower). */
const BLOCKS = 4, BLOCK_MIN = 32;
/**
 * Key blocks of the score GEMMs (q k^T and dy v^T), KEY_BLOCK keys wide: one packed panel of the native
 * kernel. Their B is k or v read transposed in place, which costs a gather per 16 floats to pack; row
 * blocks would pack keys 0..r1 once per block (10 key blocks of 32 at T = 128 against 4 here), which
 * costs the native backend more than the 20% more FLOPs of key blocks at T = 128.
 */
const KEY_BLOCK = 64;

/**
 * y = softmax(q k^T / sqrt(D) + causal mask) v per head (Vaswani et al. 2017), from
 * qkv (B*T, H*3*D) whose columns are (H, 3, D): per head its query, key and value. Returns
 * y (B*T, H*D) with columns (H, D). Entries above the diagonal are never read, so no mask is added.
 *
 * With `rope`, q and k are first turned by their positions (Backend.rope), so that scores depend
 * on relative positions only.
 *
 * Backward (first order only; its gradient is fused), with P = softmax(S), S = q k^T / sqrt(D):
 * dP = dy v^T, dv = P^T dy, dS = P (dP - rowsum(P dP)) / sqrt(D), dq = dS k, dk = dS^T q, and with
 * rope dq and dk turned back (the rotation's transpose).
 */
export function causalAttention(qkv: Tensor, b: number, t: number, h: number, d: number, rope?: RopeTables): Tensor {
  const c3 = 3 * h * d, hd = h * d;
  if (qkv.ndim !== 2 || qkv.shape[0] !== b * t || qkv.shape[1] !== c3) {
    throw new Error(`causalAttention: qkv [${qkv.shape}] is not (B*T, H*3*D) = (${b * t}, ${c3})`);
  }
  const be = backend();
  const alloc = (n: number): Float32Array => be.allocEmpty?.(n) ?? be.alloc(n);
  const scale = 1 / Math.sqrt(d), tt = t * t;
  if (rope !== undefined && (rope.d !== d || rope.positions < t)) {
    throw new Error(`causalAttention: rope tables for ${rope.positions} positions of dim ${rope.d}, need ${t} of dim ${d}`);
  }
  // With rope: the turned q and k (and a copy of v) in a buffer of their own, kept for backward.
  let rotated: Tensor | undefined;
  if (rope !== undefined) {
    rotated = new Tensor(alloc(qkv.size), qkv.shape); // freed with the step's scope
    be.rope(qkv.data, b * t, t, 0, h, d, rope.cos, rope.sin, false, rotated.data);
  }
  const x = rotated?.data ?? qkv.data;
  // Head h of batch item i: q at row i*T, column h*3D (k at +D, v at +2D), row stride 3HD;
  // the batch of H heads steps by 3D.
  const head = (data: Float32Array, i: number, part: number, ld: number, width: number): Float32Array =>
    data.subarray(i * t * ld + part * d, i * t * ld + (t - 1) * ld + (h - 1) * width + part * d + d);
  const scores = (i: number, p: Float32Array): Float32Array => p.subarray(i * h * tt, (i + 1) * h * tt);

  // Causal blocks: query rows [r0, r1) see keys [0, r1) only, so each GEMM runs on row blocks
  // and skips the keys above the diagonal block: (nb + 1) / (2 nb) of the full products' FLOPs.
  const tb = Math.max(BLOCK_MIN, Math.ceil(t / BLOCKS));
  const blocks: [number, number][] = [];
  for (let r0 = 0; r0 < t; r0 += tb) blocks.push([r0, Math.min(t, r0 + tb)]);
  // Keys [c0, c1) are seen by queries c0 and later.
  const keyBlocks: [number, number][] = [];
  for (let c0 = 0; c0 < t; c0 += KEY_BLOCK) keyBlocks.push([c0, Math.min(t, c0 + KEY_BLOCK)]);
  const probs = alloc(b * h * tt); // (B, H, T, T)
  const y = alloc(b * t * hd);     // (B*T, H*D)
  for (let i = 0; i < b; i++) {
    const q = head(x, i, 0, c3, 3 * d), k = head(x, i, 1, c3, 3 * d), v = head(x, i, 2, c3, 3 * d), s = scores(i, probs);
    for (const [c0, c1] of keyBlocks) {
      // S[c0:T, c0:c1] = q[c0:T] k[c0:c1]^T / sqrt(D)
      be.gemm({ transA: false, transB: true, m: t - c0, n: c1 - c0, k: d, alpha: scale, beta: 0,
        a: q.subarray(c0 * c3), lda: c3, strideA: 3 * d, b: k.subarray(c0 * c3), ldb: c3, strideB: 3 * d,
        c: s.subarray(c0 * t + c0), ldc: t, strideC: tt, batch: h });
    }
    be.causalSoftmax(s, h * t, t, s);
    const yi = head(y, i, 0, hd, d);
    for (const [r0, r1] of blocks) {
      // y[r0:r1] = P[r0:r1, 0:r1] v[0:r1]
      be.gemm({ transA: false, transB: false, m: r1 - r0, n: d, k: r1, alpha: 1, beta: 0,
        a: s.subarray(r0 * t), lda: t, strideA: tt, b: v, ldb: c3, strideB: 3 * d,
        c: yi.subarray(r0 * hd), ldc: hd, strideC: d, batch: h });
    }
  }
  const p = new Tensor(probs, [b, h, t, t]); // freed with the step's scope
  return result('causalAttention', y, [b * t, hd], [qkv], (g) => {
    if (isGradEnabled()) throw new Error('causalAttention is differentiable once; compose matmul and softmax for higher orders');
    const dy = g.data, dx = alloc(b * t * c3), dp = alloc(b * h * tt);
    for (let i = 0; i < b; i++) {
      const q = head(x, i, 0, c3, 3 * d), k = head(x, i, 1, c3, 3 * d), v = head(x, i, 2, c3, 3 * d);
      const dq = head(dx, i, 0, c3, 3 * d), dk = head(dx, i, 1, c3, 3 * d), dv = head(dx, i, 2, c3, 3 * d);
      const pi = scores(i, p.data), dpi = scores(i, dp), dyi = head(dy, i, 0, hd, d);
      for (const [c0, c1] of keyBlocks) {
        // dP[c0:T, c0:c1] = dy[c0:T] v[c0:c1]^T
        be.gemm({ transA: false, transB: true, m: t - c0, n: c1 - c0, k: d, alpha: 1, beta: 0,
          a: dyi.subarray(c0 * hd), lda: hd, strideA: d, b: v.subarray(c0 * c3), ldb: c3, strideB: 3 * d,
          c: dpi.subarray(c0 * t + c0), ldc: t, strideC: tt, batch: h });
      }
      for (const [r0, r1] of blocks) {
        // dv[r0:r1] = P[r0:T, r0:r1]^T dy[r0:T] (keys r0..r1 are seen by queries r0 and later)
        be.gemm({ transA: true, transB: false, m: r1 - r0, n: d, k: t - r0, alpha: 1, beta: 0,
          a: pi.subarray(r0 * t + r0), lda: t, strideA: tt, b: dyi.subarray(r0 * hd), ldb: hd, strideB: d,
          c: dv.subarray(r0 * c3), ldc: c3, strideC: 3 * d, batch: h });
      }
      be.causalSoftmaxBackward(pi, dpi, h * t, t, scale, dpi); // dS, scale folded in
      for (const [r0, r1] of blocks) {
        // dq[r0:r1] = dS[r0:r1, 0:r1] k[0:r1]; dk[r0:r1] = dS[r0:T, r0:r1]^T q[r0:T]
        be.gemm({ transA: false, transB: false, m: r1 - r0, n: d, k: r1, alpha: 1, beta: 0,
          a: dpi.subarray(r0 * t), lda: t, strideA: tt, b: k, ldb: c3, strideB: 3 * d,
          c: dq.subarray(r0 * c3), ldc: c3, strideC: 3 * d, batch: h });
        be.gemm({ transA: true, transB: false, m: r1 - r0, n: d, k: t - r0, alpha: 1, beta: 0,
          a: dpi.subarray(r0 * t + r0), lda: t, strideA: tt, b: q.subarray(r0 * c3), ldb: c3, strideB: 3 * d,
          c: dk.subarray(r0 * c3), ldc: c3, strideC: 3 * d, batch: h });
      }
    }
    be.free(dp);
    if (rope !== undefined) be.rope(dx, b * t, t, 0, h, d, rope.cos, rope.sin, true, dx);
    return [new Tensor(dx, qkv.shape)];
  });
}
