// GEMM code generated at run time for this CPU (AVX-512F): a 6x64 register-tile kernel and a B-panel packer.
//
// C (m, n) += A (m, k) B (k, n) is cut as in GotoBLAS (Goto & van de Geijn 2008): B blocks of KC x NC
// are packed into 64-column panels (KC x 64, contiguous, zero-padded; one panel fits L1); for each panel
// the kernel walks strips of MR = 6 rows of A (read in place through a row and a column stride, so
// transposed A needs no copy; an MC-row block of A stays in L2) and keeps the 6 x 64 tile of C in 24
// zmm accumulators:
//   per k step: 4 loads of B (zmm24..27), 6 broadcasts of A (zmm28/29), 24 vfmadd231ps.
// 24 independent accumulators cover 2 FMA ports x 4 cycles of latency three times over.
// The bf16 variant (native-bf16.ts) is the same loop with vdpbf16ps: one k step is then a pair of k,
// B rows hold (B[2p, j], B[2p+1, j]) pairs and each broadcast of A is the pair (A[i, 2p], A[i, 2p+1]).
import { Assembler, mem, RAX, RBX, RCX, RDI, RDX, RSI, R8, R9, R10, R11, R12, R13, R14, R15 } from './x86-asm.js';

export const MR = 6;
/** Columns per panel: 4 zmm of 16 float32. */
export const NR = 64;
const NV = 4;
const PANEL_ROW_BYTES = NR * 4;

/**
 * Kernel parameters, one int64 slot each (byte offsets): the JS side fills a 128-byte block and passes
 * its address as the fourth argument.
 */
export const P = {
  k: 0, rsA: 8, csA: 16, ldc: 24, panels: 32, strips: 40, panelBytes: 48,
  alpha: 56, beta: 64, masks: 72, stripA: 80, stripC: 88, bytes: 128,
} as const;

/** The inner product of the k loop: float32 FMA, or bf16 pairs dotted into float32 (AVX512_BF16). */
export type KernelDot = 'fp32' | 'bf16';

/**
 * void kernel(const float *a, const float *bPacked, float *c, const int64_t *p), System V ABI.
 * For each of p.panels packed panels (B advances p.panelBytes, C 256 bytes) and, inside, each of
 * p.strips strips of `mr` rows (A and C advance p.stripA / p.stripC bytes), so a packed panel stays in
 * L1 while the strips of A stream past it:
 *   C[i, j] = alpha * sum_k A[i, k] B[k, j] + beta * C[i, j]  (C not read when `readC` is false),
 * where A[i, k] is at a + i * p.rsA + k * p.csA (bytes) and C rows are p.ldc bytes apart. Column
 * vector v of a panel is stored under opmask k(v+1), loaded from p.masks: all ones except in a
 * ragged last panel. k = 0 leaves the accumulators 0, so C = beta * C. With `dot` bf16, p.k counts
 * pairs of k and A, B hold bf16 pairs (native-bf16.ts packs them).
 */
export function gemmKernel(mr: number, readC: boolean, dot: KernelDot = 'fp32'): Uint8Array {
  if (!Number.isInteger(mr) || mr < 1 || mr > MR) throw new Error(`gemm kernel: mr ${mr} not in 1..${MR}`);
  const a = new Assembler();
  const acc = (i: number, v: number): number => i * NV + v;
  // A element (i, k) of the current k: rows 0..2 from r9, rows 3..5 from r10 = r9 + 3 rsA; r8 = rsA.
  const aRow = (i: number) => (i < 3 ? mem(R9, 0, i === 0 ? undefined : R8, i === 2 ? 2 : 1)
    : mem(R10, 0, i === 3 ? undefined : R8, i === 5 ? 2 : 1));
  for (const r of [RBX, R12, R13, R14, R15]) a.push(r);
  for (let v = 0; v < NV; v++) a.kmovwLoad(v + 1, mem(RCX, P.masks + 2 * v));
  a.vbroadcastss(512, 30, mem(RCX, P.alpha));
  a.vbroadcastss(512, 31, mem(RCX, P.beta));
  a.load(R8, mem(RCX, P.rsA));
  a.load(R12, mem(RCX, P.csA));
  a.load(R13, mem(RCX, P.panels));
  a.label('panel');
  a.movRR(R14, RDI);
  a.movRR(R15, RDX);
  a.load(RBX, mem(RCX, P.strips));
  a.label('strip');
  for (let i = 0; i < mr; i++) for (let v = 0; v < NV; v++) a.vzero(512, acc(i, v));
  a.movRR(R9, R14);
  a.lea(R10, mem(R8, 0, R8, 2));
  a.addRR(R10, R14);
  a.movRR(R11, RSI);
  a.load(RAX, mem(RCX, P.k));
  a.test(RAX, RAX);
  a.jz('epilogue');
  a.label('k');
  for (let v = 0; v < NV; v++) a.vmovupsLoad(512, 24 + v, mem(R11, 64 * v));
  for (let i = 0; i < mr; i++) {
    const bc = 28 + (i & 1);
    a.vbroadcastss(512, bc, aRow(i));
    for (let v = 0; v < NV; v++) {
      if (dot === 'fp32') a.vfmadd231ps(512, acc(i, v), 24 + v, bc);
      else a.vdpbf16ps(acc(i, v), 24 + v, bc);
    }
  }
  a.addRR(R9, R12);
  a.addRR(R10, R12);
  a.addRI(R11, PANEL_ROW_BYTES);
  a.dec(RAX);
  a.jnz('k');
  a.label('epilogue');
  a.movRR(RAX, R15);
  for (let i = 0; i < mr; i++) {
    for (let v = 0; v < NV; v++) {
      a.vmulps(512, acc(i, v), acc(i, v), 30);
      if (readC) {
        a.vmovupsLoad(512, 24 + v, mem(RAX, 64 * v), v + 1);
        a.vfmadd231ps(512, acc(i, v), 24 + v, 31);
      }
      a.vmovupsStore(512, mem(RAX, 64 * v), acc(i, v), v + 1);
    }
    if (i + 1 < mr) a.addRM(RAX, mem(RCX, P.ldc));
  }
  a.addRM(R14, mem(RCX, P.stripA));
  a.addRM(R15, mem(RCX, P.stripC));
  a.dec(RBX);
  a.jnz('strip');
  a.addRM(RSI, mem(RCX, P.panelBytes));
  a.addRI(RDX, PANEL_ROW_BYTES);
  a.dec(R13);
  a.jnz('panel');
  a.vzeroupper();
  for (const r of [R15, R14, R13, R12, RBX]) a.pop(r);
  a.ret();
  return a.bytes();
}

/** Packer parameters (byte offsets of int64 slots; masks are 4 uint16 at `masks`). */
export const Q = { k: 0, ldb: 8, panels: 16, masks: 24, bytes: 64 } as const;

/**
 * void pack(const float *b, float *bPacked, const int64_t *q): for each of q.panels panels of 64
 * columns (b advances 256 bytes), copies q.k rows (q.ldb bytes apart) into consecutive 256-byte rows
 * of bPacked; vector v is loaded under opmask k(v+1) with zeroing, so a ragged panel is zero-padded
 * and nothing past the matrix is read.
 */
export function packKernel(): Uint8Array {
  const a = new Assembler();
  for (let v = 0; v < NV; v++) a.kmovwLoad(v + 1, mem(RDX, Q.masks + 2 * v));
  a.load(R8, mem(RDX, Q.panels));
  a.label('panel');
  a.movRR(R9, RDI);
  a.load(RAX, mem(RDX, Q.k));
  a.test(RAX, RAX);
  a.jz('next');
  a.label('row');
  for (let v = 0; v < NV; v++) a.vmovupsLoad(512, v, mem(R9, 64 * v), v + 1);
  for (let v = 0; v < NV; v++) a.vmovupsStore(512, mem(RSI, 64 * v), v);
  a.addRM(R9, mem(RDX, Q.ldb));
  a.addRI(RSI, PANEL_ROW_BYTES);
  a.dec(RAX);
  a.jnz('row');
  a.label('next');
  a.addRI(RDI, PANEL_ROW_BYTES);
  a.dec(R8);
  a.jnz('panel');
  a.vzeroupper();
  a.ret();
  return a.bytes();
}

/** Opmasks of the 4 column vectors of a panel with `cols` (1..64) valid columns. */
export function panelMasks(cols: number): [number, number, number, number] {
  const m = (v: number): number => {
    const n = Math.max(0, Math.min(16, cols - 16 * v));
    return n === 16 ? 0xffff : (1 << n) - 1;
  };
  return [m(0), m(1), m(2), m(3)];
}
