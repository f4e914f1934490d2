// The native GEMM on one thread: blocking, packing of B and the generated kernels' calls (float32; bf16 in native-bf16.ts).
import type { GemmArgs, GroupedGemmArgs, Precision } from './backend.js';
import { groupedProblem } from './grouped-gemm.js';
import { MR, NR, P, panelMasks, Q, ymmMasks } from './native-gemm.js';
import { bf16Blocking, bf16Scratch, runGemmBf16 } from './native-bf16.js';
import type { Blocking, NativeCode } from './native-probe.js';

/** Packing scratch of one thread's GEMMs, in floats: float32's B block, or bf16's B and A blocks if larger. */
export function scratchFloats(blocks: Blocking, precision: Precision): number {
  const { aFloats, bFloats } = bf16Scratch(bf16Blocking(blocks));
  return Math.max(blocks.kc * blocks.nc, precision === 'bf16' ? aFloats + bFloats : 0);
}

/**
 * One GEMM in `precision`: bf16 rounds A and B to bf16 (float32 accumulation) where the code has the
 * bf16 kernels and B is not transposed; otherwise float32.
 */
export function runNative(code: NativeCode, blocks: Blocking, scratch: Float32Array, g: GemmArgs, precision: Precision): void {
  if (precision === 'bf16' && code.bf16 !== undefined && !g.transB) runGemmBf16(code.bf16, bf16Blocking(blocks), scratch, g);
  else runGemm(code, blocks, scratch, g);
}

/** Per-call parameter blocks (see P and Q in native-gemm.ts). */
const pBuf = new ArrayBuffer(P.bytes), qBuf = new ArrayBuffer(Q.bytes);
const p64 = new BigInt64Array(pBuf), pF32 = new Float32Array(pBuf), pU16 = new Uint16Array(pBuf), pI32 = new Int32Array(pBuf);
const q64 = new BigInt64Array(qBuf), qU16 = new Uint16Array(qBuf), qI32 = new Int32Array(qBuf);
/** The ldb whose gather offsets q.idx holds now. */
let qIdxLdb = -1;

/** Writes the column masks of a panel with `cols` valid columns (nr: all) where `code`'s kernels read them. */
function setMasks(code: NativeCode, cols: number, u16: Uint16Array, i32: Int32Array, at: { masks: number; ymmMasks: number }): void {
  if (code.isa === 'avx512') u16.set(panelMasks(cols), at.masks / 2);
  else i32.set(ymmMasks(cols), at.ymmMasks / 4);
}

/**
 * C_i = alpha op(A_i) op(B_i) + beta C_i for each batch item, blocked as in native-gemm.ts:
 * for each NC block of columns and KC block of k: pack op(B) (KC, NC) into `bp` as nr-column
 * panels, then run the kernel over MC-row blocks of A (beta applies to the first KC block only).
 */
export function runGemm(code: NativeCode, blocks: Blocking, bp: Float32Array, g: GemmArgs): void {
  if (runBatched(code, blocks, bp, g)) return;
  for (let t = 0; t < g.batch; t++) {
    const a0 = t * g.strideA, b0 = t * g.strideB, c0 = t * g.strideC;
    forBlocks(code, blocks, g.n, g.k, (pc, kc, jc, full, tail) => {
      if (kc > 0) packB(code, g, bp, b0, pc, kc, jc, full, tail);
      kernelRows(code, blocks, bp, g, a0, c0, pc, kc, jc, full, tail, pc === 0 ? g.beta : 1);
    });
  }
}

/**
 * A batch of small GEMMs (each one block: m <= MC, n <= NC, 0 < k <= KC) in one kernel call per kind
 * of strip and panel: every item's B packed side by side in bp, then the kernel's item loop walks A, B
 * and C by their strides. Attention's per-head products (4 x (32 x 64 x 96), say) otherwise pay the
 * calls and their setup once per head. False (nothing done) when the batch does not fit.
 */
function runBatched(code: NativeCode, blocks: Blocking, bp: Float32Array, g: GemmArgs): boolean {
  const nr = code.nr, full = Math.floor(g.n / nr), tail = g.n - full * nr, item = g.k * (full + (tail > 0 ? 1 : 0)) * nr;
  if (g.batch < 2 || g.m > blocks.mc || g.n > blocks.nc || g.k < 1 || g.k > blocks.kc || g.batch * item > bp.length) return false;
  packB(code, g, bp, 0, 0, g.k, 0, full, tail, { count: g.batch, b: g.strideB, bp: item });
  kernelRows(code, blocks, bp, g, 0, 0, 0, g.k, 0, full, tail, g.beta, { count: g.batch, a: g.strideA, b: item, c: g.strideC });
  return true;
}

/**
 * A grouped GEMM (GroupedGemmArgs) as runGemm does each problem, except that consecutive problems
 * with the same B (offB and k: an expert's weights, forward and for dx) pack each of its blocks once
 * and run every problem's rows against it.
 */
export function runGrouped(code: NativeCode, blocks: Blocking, bp: Float32Array, g: GroupedGemmArgs): void {
  const count = g.m.length;
  for (let i = 0; i < count;) {
    let j = i + 1;
    while (j < count && g.offB[j] === g.offB[i] && g.k[j] === g.k[i]) j++;
    const live: number[] = [];
    for (let p = i; p < j; p++) if (g.m[p]! > 0) live.push(p);
    const k = g.k[i]!, b0 = g.offB[i]!;
    if (live.length > 0 && g.n > 0) {
      const base = { ...groupedProblem(g, i), a: g.a, b: g.b, c: g.c };
      forBlocks(code, blocks, g.n, k, (pc, kc, jc, full, tail) => {
        if (kc > 0) packB(code, base, bp, b0, pc, kc, jc, full, tail);
        for (const p of live) kernelRows(code, blocks, bp, { ...base, m: g.m[p]! }, g.offA[p]!, g.offC[p]!, pc, kc, jc, full, tail, pc === 0 ? g.beta[p]! : 1);
      });
    }
    i = j;
  }
}

/** Calls fn for each NC block of columns (jc: first column; full panels and the ragged tail's columns) and KC block of k (once with kc 0 when k is 0). */
function forBlocks(code: NativeCode, blocks: Blocking, n: number, k: number,
  fn: (pc: number, kc: number, jc: number, full: number, tail: number) => void): void {
  const { kc: KC, nc: NC } = blocks, nr = code.nr;
  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc), full = Math.floor(nc / nr), tail = nc - full * nr;
    for (let pc = 0; pc === 0 || pc < k; pc += KC) fn(pc, Math.min(KC, k - pc), jc, full, tail);
  }
}

/**
 * The kernel over all g.m rows of C (from element c0, columns jc..) against the packed block of B in bp
 * (k rows pc .. pc+kc): C = alpha op(A)[:, pc..] Bp + beta C, A from element a0; with `items`, for each
 * of items.count items, A, packed B and C items.a, items.b and items.c elements further each.
 */
function kernelRows(code: NativeCode, blocks: Blocking, bp: Float32Array, g: GemmArgs, a0: number, c0: number, pc: number,
  kc: number, jc: number, full: number, tail: number, beta: number, items = { count: 1, a: 0, b: 0, c: 0 }): void {
  const { koffi, proto, nr } = code, MC = blocks.mc;
  const [rsA, csA] = g.transA ? [1, g.lda] : [g.lda, 1];
  p64[P.k / 8] = BigInt(kc);
  p64[P.rsA / 8] = BigInt(rsA * 4);
  p64[P.csA / 8] = BigInt(csA * 4);
  p64[P.ldc / 8] = BigInt(g.ldc * 4);
  p64[P.panelBytes / 8] = BigInt(kc * nr * 4);
  p64[P.stripC / 8] = BigInt(MR * g.ldc * 4);
  pF32[P.alpha / 4] = g.alpha;
  pF32[P.beta / 4] = beta;
  p64[P.batch / 8] = BigInt(items.count);
  p64[P.batchA / 8] = BigInt(items.a * 4);
  const readC = beta === 0 ? 0 : 1;
  for (let ic = 0; ic < g.m; ic += MC) {
    const mc = Math.min(MC, g.m - ic);
    const aAt = kc > 0 ? g.a.subarray(a0 + ic * rsA + pc * csA) : g.a;
    for (const [strips, mr, row] of [[Math.floor(mc / MR), MR, 0], [1, mc % MR, mc - (mc % MR)]] as const) {
      if (strips === 0 || mr === 0) continue;
      p64[P.strips / 8] = BigInt(strips);
      p64[P.stripA / 8] = BigInt(mr * rsA * 4);
      const a = row === 0 ? aAt : aAt.subarray(row * rsA);
      const cRow = c0 + (ic + row) * g.ldc + jc;
      for (const [panels, first, cols, kernels] of [[full, 0, nr, code.gemm], [tail > 0 ? 1 : 0, full, tail, code.gemmTail]] as const) {
        if (panels === 0) continue;
        p64[P.panels / 8] = BigInt(panels);
        // The panel loop leaves B and C `panels` panels on; the next item starts items.b / items.c after this one.
        p64[P.batchB / 8] = BigInt((items.b - panels * kc * nr) * 4 * (items.count > 1 ? 1 : 0));
        p64[P.batchC / 8] = BigInt((items.c - panels * nr) * 4 * (items.count > 1 ? 1 : 0));
        setMasks(code, cols, pU16, pI32, P);
        koffi.call(kernels[readC]![mr], proto, a, bp.subarray(first * kc * nr), g.c.subarray(cRow + first * nr), p64);
      }
    }
  }
}

/**
 * Packs op(B)[pc .. pc+kc, jc .. jc+nc] into nr-column panels of bp (zero-padded); with `items`, for each
 * of items.count items, B items.b and bp items.bp elements further each (one call of the packer).
 */
function packB(code: NativeCode, g: GemmArgs, bp: Float32Array, b0: number, pc: number, kc: number, jc: number,
  full: number, tail: number, items = { count: 1, b: 0, bp: 0 }): void {
  const nr = code.nr;
  if (g.transB && code.packT === undefined) {
    for (let t = 0; t < items.count; t++) packBT(nr, g, bp.subarray(t * items.bp), b0 + t * items.b, pc, kc, jc, full, tail);
    return;
  }
  // The packer leaves b `panels` panel steps on and bp `panels` packed panels on; the next item starts items.b / items.bp after this one.
  const many = items.count > 1 ? 1 : 0;
  const batchSteps = (panels: number, panelStep: number): void => {
    q64[Q.batch / 8] = BigInt(items.count);
    q64[Q.batchB / 8] = BigInt((items.b * 4 - panels * panelStep) * many);
    q64[Q.batchBp / 8] = BigInt((items.bp - panels * kc * nr) * 4 * many);
  };
  if (!g.transB) {
    // op(B)[p, j] = b[b0 + p ldb + j]: rows copied by the generated packer.
    q64[Q.k / 8] = BigInt(kc);
    q64[Q.ldb / 8] = BigInt(g.ldb * 4);
    for (const [panels, first, cols] of [[full, 0, nr], [tail > 0 ? 1 : 0, full, tail]] as const) {
      if (panels === 0) continue;
      q64[Q.panels / 8] = BigInt(panels);
      batchSteps(panels, nr * 4);
      setMasks(code, cols, qU16, qI32, Q);
      code.koffi.call(code.pack, code.packProto, g.b.subarray(b0 + pc * g.ldb + jc + first * nr), bp.subarray(first * kc * nr), q64);
    }
    return;
  }
  // op(B)[p, j] = b[b0 + j ldb + p]: column p of 64 rows of b, gathered by the generated packer.
  if (qIdxLdb !== g.ldb) {
    for (let j = 0; j < NR; j++) qI32[Q.idx / 4 + j] = j * g.ldb;
    qIdxLdb = g.ldb;
  }
  q64[Q.k / 8] = BigInt(kc);
  q64[Q.panelStep / 8] = BigInt(nr * g.ldb * 4);
  for (const [panels, first, cols] of [[full, 0, nr], [tail > 0 ? 1 : 0, full, tail]] as const) {
    if (panels === 0) continue;
    q64[Q.panels / 8] = BigInt(panels);
    batchSteps(panels, nr * g.ldb * 4);
    setMasks(code, cols, qU16, qI32, Q);
    code.koffi.call(code.packT, code.packProto, g.b.subarray(b0 + (jc + first * nr) * g.ldb + pc), bp.subarray(first * kc * nr), q64);
  }
}

/** packB's op(B) = B^T without the gathering packer: a transpose, done here (each source row is contiguous in p). */
function packBT(nr: number, g: GemmArgs, bp: Float32Array, b0: number, pc: number, kc: number, jc: number, full: number, tail: number): void {
  const panels = full + (tail > 0 ? 1 : 0);
  for (let jp = 0; jp < panels; jp++) {
    const cols = jp < full ? nr : tail, dst = jp * kc * nr;
    for (let jj = 0; jj < nr; jj++) {
      if (jj >= cols) {
        for (let p = 0; p < kc; p++) bp[dst + p * nr + jj] = 0;
        continue;
      }
      const src = b0 + (jc + jp * nr + jj) * g.ldb + pc;
      for (let p = 0; p < kc; p++) bp[dst + p * nr + jj] = g.b[src + p]!;
    }
  }
}
