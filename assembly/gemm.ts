// Packed, cache-tiled float32 GEMM with a 4x8 v128 micro-kernel (the BLIS/GotoBLAS loop nest).
//
// Loop nest (Goto & van de Geijn, "Anatomy of High-Performance Matrix Multiplication", 2008):
//   for pc in K step KC:        pack op(B)[pc:pc+KC, 0:n] into 8-wide column panels   (L2/L3)
//     for ic in M step MC:      pack op(A)[ic:ic+MC, pc:pc+KC] into 4-high row panels (L2)
//       for jr in n step 8:     one packed B sliver (KC x 8, 8 KiB) stays in L1
//         for ir in MC step 4:  micro-kernel: C[4 x 8] += A_panel (4 x KC) @ B_sliver (KC x 8)
// V8 gives WebAssembly 16 xmm registers: 8 accumulators + 2 B vectors + 1 A splat fit; larger tiles spill.
// With relaxed SIMD the multiply-add is one FMA (relaxed_madd), otherwise mul + add.

export const MR: i32 = 4;
export const NR: i32 = 8;
export const KC: i32 = 256;
export const MC: i32 = 32;    // beat 64 by ~10% and 128 by ~20% (median of alternating runs, n = 768 and 1024): A block 32 KiB in L1
export const NC: i32 = 2048;

/** Floats of scratch one gemm call needs: packed A (MC x KC), packed B (KC x NC), a 4x8 edge tile. */
export function gemmScratchFloats(): i32 {
  return MC * KC + KC * NC + MR * NR;
}

// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** op(B)[p, j] for the packed panels; B stored row-major with row stride ldb. */
function packB(b: usize, ldb: i32, transB: bool, pc: i32, kc: i32, jc: i32, nc: i32, dst: usize): void {
  for (let jp = 0; jp < nc; jp += NR) {
    const w = min(NR, nc - jp);
    let d = dst + <usize>(jp * kc) * 4;
    if (!transB && w == NR) {
      let src = b + (<usize>pc * ldb + jc + jp) * 4;
      for (let p = 0; p < kc; p++) {
        v128.store(d, v128.load(src));
        v128.store(d, v128.load(src, 16), 16);
        src += <usize>ldb * 4;
        d += 32;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let jj = 0; jj < NR; jj++) {
          let v: f32 = 0;
          if (jj < w) {
            const j = jc + jp + jj, pp = pc + p;
            v = transB ? load<f32>(b + (<usize>j * ldb + pp) * 4) : load<f32>(b + (<usize>pp * ldb + j) * 4);
          }
          store<f32>(d + <usize>jj * 4, v);
        }
        d += 32;
      }
    }
  }
}

/** op(A)[i, p] for the packed panels, 4 rows interleaved per k step. */
function packA(a: usize, lda: i32, transA: bool, ic: i32, mc: i32, pc: i32, kc: i32, dst: usize): void {
  for (let ip = 0; ip < mc; ip += MR) {
    const h = min(MR, mc - ip);
    let d = dst + <usize>(ip * kc) * 4;
    if (transA && h == MR) {
      let src = a + (<usize>pc * lda + ic + ip) * 4;
      for (let p = 0; p < kc; p++) {
        v128.store(d, v128.load(src));
        src += <usize>lda * 4;
        d += 16;
      }
    } else if (h == MR) {
      const r0 = a + (<usize>(ic + ip) * lda + pc) * 4;
      const rs = <usize>lda * 4;
      for (let p = 0; p < kc; p++) {
        const o = r0 + <usize>p * 4;
        store<f32>(d, load<f32>(o));
        store<f32>(d, load<f32>(o + rs), 4);
        store<f32>(d, load<f32>(o + 2 * rs), 8);
        store<f32>(d, load<f32>(o + 3 * rs), 12);
        d += 16;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let r = 0; r < MR; r++) {
          let v: f32 = 0;
          if (r < h) {
            const i = ic + ip + r, pp = pc + p;
            v = transA ? load<f32>(a + (<usize>pp * lda + i) * 4) : load<f32>(a + (<usize>i * lda + pp) * 4);
          }
          store<f32>(d + <usize>r * 4, v);
        }
        d += 16;
      }
    }
  }
}

// @ts-ignore: decorator
@inline function storeRow(dst: usize, acc0: v128, acc1: v128, va: v128, vb: v128, readC: bool): void {
  if (readC) {
    v128.store(dst, madd(vb, v128.load(dst), f32x4.mul(va, acc0)));
    v128.store(dst, madd(vb, v128.load(dst, 16), f32x4.mul(va, acc1)), 16);
  } else {
    v128.store(dst, f32x4.mul(va, acc0));
    v128.store(dst, f32x4.mul(va, acc1), 16);
  }
}

/**
 * C[mr x nr] = alpha * Apanel @ Bsliver + beta * C. Full 4x8 tiles are written directly; edge
 * tiles go through `tile` (4 x 8 scratch). beta == 0 means C is not read.
 */
function micro(kc: i32, pa: usize, pb: usize, c: usize, ldc: i32, mr: i32, nr: i32, alpha: f32, beta: f32, tile: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
    a = v128.load32_splat(pa, 4);
    c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
    a = v128.load32_splat(pa, 8);
    c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
    a = v128.load32_splat(pa, 12);
    c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
    pa += 16;
    pb += 32;
  }
  const va = f32x4.splat(alpha), vb = f32x4.splat(beta);
  const rs = <usize>ldc * 4;
  if (mr == MR && nr == NR) {
    const readC = beta != 0;
    storeRow(c, c00, c01, va, vb, readC);
    storeRow(c + rs, c10, c11, va, vb, readC);
    storeRow(c + 2 * rs, c20, c21, va, vb, readC);
    storeRow(c + 3 * rs, c30, c31, va, vb, readC);
    return;
  }
  storeRow(tile, c00, c01, va, vb, false);
  storeRow(tile + 32, c10, c11, va, vb, false);
  storeRow(tile + 64, c20, c21, va, vb, false);
  storeRow(tile + 96, c30, c31, va, vb, false);
  for (let r = 0; r < mr; r++) {
    for (let j = 0; j < nr; j++) {
      const d = c + <usize>r * rs + <usize>j * 4;
      const t = load<f32>(tile + <usize>(r * NR + j) * 4);
      store<f32>(d, beta == 0 ? t : t + beta * load<f32>(d));
    }
  }
}

/** C = beta * C for an (m, n) block (k == 0 or alpha == 0). */
function scaleC(c: usize, ldc: i32, m: i32, n: i32, beta: f32): void {
  for (let i = 0; i < m; i++) {
    const row = c + <usize>i * ldc * 4;
    for (let j = 0; j < n; j++) store<f32>(row + <usize>j * 4, beta == 0 ? 0 : beta * load<f32>(row + <usize>j * 4));
  }
}

/**
 * m == 1 (one row: token-by-token decoding): c = alpha * a @ op(B) + beta * c without packing.
 * B rows stream once: axpy over contiguous rows of B, or dot products when B is transposed.
 */
function gemv(transA: bool, transB: bool, n: i32, k: i32, alpha: f32, beta: f32, a: usize, lda: i32,
  b: usize, ldb: i32, c: usize, scratch: usize): void {
  // a as k contiguous floats, scaled by alpha once.
  const as: usize = transA ? <usize>lda * 4 : 4;
  for (let p = 0; p < k; p++) store<f32>(scratch + <usize>p * 4, alpha * load<f32>(a + <usize>p * as));
  if (!transB) {
    for (let j = 0; j < n; j++) {
      const cp = c + <usize>j * 4;
      store<f32>(cp, beta == 0 ? 0 : beta * load<f32>(cp));
    }
    for (let p = 0; p < k; p++) {
      const ap = f32x4.splat(load<f32>(scratch + <usize>p * 4));
      const row = b + <usize>p * ldb * 4;
      let j = 0;
      for (; j + 4 <= n; j += 4) {
        const o = <usize>j * 4;
        v128.store(c + o, madd(ap, v128.load(row + o), v128.load(c + o)));
      }
      for (; j < n; j++) {
        const o = <usize>j * 4;
        store<f32>(c + o, load<f32>(c + o) + f32x4.extract_lane(ap, 0) * load<f32>(row + o));
      }
    }
    return;
  }
  for (let j = 0; j < n; j++) {
    const row = b + <usize>j * ldb * 4;
    let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0);
    let p = 0;
    for (; p + 8 <= k; p += 8) {
      const o = <usize>p * 4;
      acc0 = madd(v128.load(scratch + o), v128.load(row + o), acc0);
      acc1 = madd(v128.load(scratch + o, 16), v128.load(row + o, 16), acc1);
    }
    const v = f32x4.add(acc0, acc1);
    let s = f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
    for (; p < k; p++) s += load<f32>(scratch + <usize>p * 4) * load<f32>(row + <usize>p * 4);
    const cp = c + <usize>j * 4;
    store<f32>(cp, beta == 0 ? s : s + beta * load<f32>(cp));
  }
}

/** One (m, n, k) product, byte pointers; scratch as sized by gemmScratchFloats. */
function gemm1(transA: bool, transB: bool, m: i32, n: i32, k: i32, alpha: f32, beta: f32,
  a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, scratch: usize): void {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0) { scaleC(c, ldc, m, n, beta); return; }
  if (m == 1 && k <= MC * KC) { gemv(transA, transB, n, k, alpha, beta, a, lda, b, ldb, c, scratch); return; }
  const pA = scratch, pB = scratch + <usize>(MC * KC) * 4, tile = pB + <usize>(KC * NC) * 4;
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      const bEff: f32 = pc == 0 ? beta : 1;
      packB(b, ldb, transB, pc, kc, jc, nc, pB);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = min(MC, m - ic);
        packA(a, lda, transA, ic, mc, pc, kc, pA);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min(NR, nc - jr);
          const pb = pB + <usize>(jr * kc) * 4;
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = min(MR, mc - ir);
            const cp = c + (<usize>(ic + ir) * ldc + jc + jr) * 4;
            micro(kc, pA + <usize>(ir * kc) * 4, pb, cp, ldc, mr, nr, alpha, bEff, tile);
          }
        }
      }
    }
  }
}

/** Batched strided GEMM (see GemmArgs in src/backends/backend.ts); strides in elements. */
export function gemm(transA: bool, transB: bool, m: i32, n: i32, k: i32, alpha: f32, beta: f32,
  a: usize, lda: i32, strideA: i32, b: usize, ldb: i32, strideB: i32, c: usize, ldc: i32, strideC: i32,
  batch: i32, scratch: usize): void {
  for (let i = 0; i < batch; i++) {
    gemm1(transA, transB, m, n, k, alpha, beta, a + <usize>i * strideA * 4, lda,
      b + <usize>i * strideB * 4, ldb, c + <usize>i * strideC * 4, ldc, scratch);
  }
}
