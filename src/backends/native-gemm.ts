// GEMM code generated at run time for this CPU (AVX-512F, else AVX2+FMA): a 6x64 (6x16) register-tile kernel and a B-panel packer.
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
// Without AVX-512 (isa 'avx2': 16 ymm registers, no opmasks) the tile is 6 x 16 as in BLIS's Haswell
// kernel: 12 ymm accumulators, 2 loads of B (ymm12/13), broadcasts in ymm14/15; a ragged last panel
// is stored by vmaskmovps under lane masks from p.ymmMasks, in a separate kernel (masked stores are
// slow on some cores, so full panels use plain ones).
import { Assembler, mem, RAX, RBP, RBX, RCX, RDI, RDX, RSI, R8, R9, R10, R11, R12, R13, R14, R15, type VecBits } from './x86-asm.js';

export const MR = 6;
/** Columns per panel with AVX-512: 4 zmm of 16 float32. */
export const NR = 64;

/** The instruction set the code is generated for. */
export const ISAS = ['avx512', 'avx2'] as const;
export type Isa = (typeof ISAS)[number];

/** Register-tile geometry per ISA: panel columns, vectors per panel row, vector width. */
export interface IsaShape { nr: number; nv: number; bits: VecBits }
export const SHAPES: Record<Isa, IsaShape> = { avx512: { nr: 64, nv: 4, bits: 512 }, avx2: { nr: 16, nv: 2, bits: 256 } };

/** Registers of the kernel: accumulator (i, v), B vector v, the broadcast for row i, alpha, beta, C scratch, lane mask (avx2). */
interface Regs { acc(i: number, v: number): number; b(v: number): number; bc(i: number): number; alpha: number; beta: number;
  tmp(v: number): number; mask: number }
const REGS: Record<Isa, Regs> = {
  avx512: { acc: (i, v) => i * 4 + v, b: (v) => 24 + v, bc: (i) => 28 + (i & 1), alpha: 30, beta: 31, tmp: (v) => 24 + v, mask: -1 },
  // alpha and beta reuse the broadcast registers, C the B registers: all free once the k loop ends.
  avx2: { acc: (i, v) => i * 2 + v, b: (v) => 12 + v, bc: (i) => 14 + (i & 1), alpha: 14, beta: 15, tmp: () => 12, mask: 13 },
};

/**
 * Kernel parameters, one int64 slot each (byte offsets): the JS side fills a 128-byte block and passes
 * its address as the fourth argument.
 */
export const P = {
  k: 0, rsA: 8, csA: 16, ldc: 24, panels: 32, strips: 40, panelBytes: 48,
  alpha: 56, beta: 64, masks: 72, stripA: 80, stripC: 88, ymmMasks: 96, batch: 160, batchA: 168, batchB: 176, batchC: 184, bytes: 192,
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
 * pairs of k and A, B hold bf16 pairs (native-bf16.ts packs them). For avx2, panels are 16 columns
 * (C advances 64 bytes) and, when `masked`, stores and loads of C go under the two 8-lane masks at
 * p.ymmMasks (int32 lanes, -1 = column present); unmasked avx2 kernels serve full panels only.
 * All of that runs for each of p.batch items (0 counts as 1): after an item, A advances p.batchA bytes,
 * B p.batchB and C p.batchC past where the panel loop left them, so small batched GEMMs (attention's
 * per-head products) take one call instead of one per item.
 */
export function gemmKernel(mr: number, readC: boolean, dot: KernelDot = 'fp32', isa: Isa = 'avx512', masked = true): Uint8Array {
  if (!Number.isInteger(mr) || mr < 1 || mr > MR) throw new Error(`gemm kernel: mr ${mr} not in 1..${MR}`);
  if (dot === 'bf16' && isa !== 'avx512') throw new Error('gemm kernel: bf16 needs avx512');
  const a = new Assembler();
  const { nr, nv: NV, bits } = SHAPES[isa], r = REGS[isa], panelRowBytes = nr * 4;
  const acc = r.acc;
  // A element (i, k) of the current k: rows 0..2 from r9, rows 3..5 from r10 = r9 + 3 rsA; r8 = rsA.
  const aRow = (i: number) => (i < 3 ? mem(R9, 0, i === 0 ? undefined : R8, i === 2 ? 2 : 1)
    : mem(R10, 0, i === 3 ? undefined : R8, i === 5 ? 2 : 1));
  for (const g of [RBX, RBP, R12, R13, R14, R15]) a.push(g);
  if (isa === 'avx512') {
    for (let v = 0; v < NV; v++) a.kmovwLoad(v + 1, mem(RCX, P.masks + 2 * v));
    a.vbroadcastss(bits, r.alpha, mem(RCX, P.alpha));
    a.vbroadcastss(bits, r.beta, mem(RCX, P.beta));
  }
  a.load(R8, mem(RCX, P.rsA));
  a.load(R12, mem(RCX, P.csA));
  a.load(RBP, mem(RCX, P.batch));
  a.label('item');
  a.load(R13, mem(RCX, P.panels));
  a.label('panel');
  a.movRR(R14, RDI);
  a.movRR(R15, RDX);
  a.load(RBX, mem(RCX, P.strips));
  a.label('strip');
  for (let i = 0; i < mr; i++) for (let v = 0; v < NV; v++) a.vzero(bits, acc(i, v));
  a.movRR(R9, R14);
  a.lea(R10, mem(R8, 0, R8, 2));
  a.addRR(R10, R14);
  a.movRR(R11, RSI);
  a.countedLoop(RAX, mem(RCX, P.k), 'k', () => {
    for (let v = 0; v < NV; v++) a.vmovupsLoad(bits, r.b(v), mem(R11, (bits / 8) * v));
    for (let i = 0; i < mr; i++) {
      a.vbroadcastss(bits, r.bc(i), aRow(i));
      for (let v = 0; v < NV; v++) {
        if (dot === 'fp32') a.vfmadd231ps(bits, acc(i, v), r.b(v), r.bc(i));
        else a.vdpbf16ps(acc(i, v), r.b(v), r.bc(i));
      }
    }
    a.addRR(R9, R12);
    a.addRR(R10, R12);
    a.addRI(R11, panelRowBytes);
  });
  if (isa === 'avx2') {
    a.vbroadcastss(bits, r.alpha, mem(RCX, P.alpha));
    a.vbroadcastss(bits, r.beta, mem(RCX, P.beta));
  }
  a.movRR(RAX, R15);
  for (let i = 0; i < mr; i++) {
    for (let v = 0; v < NV; v++) storeC(a, isa, masked, readC, acc(i, v), v);
    if (i + 1 < mr) a.addRM(RAX, mem(RCX, P.ldc));
  }
  a.addRM(R14, mem(RCX, P.stripA));
  a.addRM(R15, mem(RCX, P.stripC));
  a.dec(RBX);
  a.jnz('strip');
  a.addRM(RSI, mem(RCX, P.panelBytes));
  a.addRI(RDX, panelRowBytes);
  a.dec(R13);
  a.jnz('panel');
  a.addRM(RDI, mem(RCX, P.batchA));
  a.addRM(RSI, mem(RCX, P.batchB));
  a.addRM(RDX, mem(RCX, P.batchC));
  a.dec(RBP);
  a.jg('item');
  a.vzeroupper();
  for (const g of [R15, R14, R13, R12, RBP, RBX]) a.pop(g);
  a.ret();
  return a.bytes();
}

/** C vector v of the row at rax = alpha acc (+ beta C): under opmask k(v+1) (avx512), under the lane mask (masked avx2), or plain. */
function storeC(a: Assembler, isa: Isa, masked: boolean, readC: boolean, acc: number, v: number): void {
  const { bits } = SHAPES[isa], r = REGS[isa], at = mem(RAX, (bits / 8) * v);
  a.vmulps(bits, acc, acc, r.alpha);
  if (isa === 'avx512') {
    if (readC) {
      a.vmovupsLoad(bits, r.tmp(v), at, v + 1);
      a.vfmadd231ps(bits, acc, r.tmp(v), r.beta);
    }
    a.vmovupsStore(bits, at, acc, v + 1);
    return;
  }
  if (masked) a.vmovupsLoad(bits, r.mask, mem(RCX, P.ymmMasks + 32 * v));
  if (readC) {
    if (masked) a.vmaskmovpsLoad(r.tmp(v), r.mask, at);
    else a.vmovupsLoad(bits, r.tmp(v), at);
    a.vfmadd231ps(bits, acc, r.tmp(v), r.beta);
  }
  if (masked) a.vmaskmovpsStore(at, r.mask, acc);
  else a.vmovupsStore(bits, at, acc);
}

/**
 * Packer parameters (byte offsets of int64 slots; masks are 4 uint16 at `masks`, or 2 x 8 int32 lanes at
 * `ymmMasks` for avx2); the transposing packer's panel step and its 64 int32 gather offsets at `idx`;
 * the item count and steps of a batched pack (see packItems).
 */
export const Q = { k: 0, ldb: 8, panels: 16, masks: 24, ymmMasks: 32, panelStep: 96, batch: 104, batchB: 112, batchBp: 120,
  idx: 128, bytes: 384 } as const;

/**
 * A packer's loops: q.batch items (0 counts as 1; r10 counts) of q.panels panels (r8) of q.k rows (rax).
 * `row` packs one row from r9 (set to b at each panel) into rsi and advances both; `nextPanel` moves b
 * (rdi) to the next panel. After an item, b advances q.batchB bytes and bPacked q.batchBp bytes past
 * where the panel loop left them, so a batch of small GEMMs (attention's per-head products) packs
 * every item's B in one call.
 */
function packItems(a: Assembler, row: () => void, nextPanel: () => void): void {
  a.load(R10, mem(RDX, Q.batch));
  a.label('item');
  // q.panels panels (at least one; r8 counts), each of q.k rows (rax counts) read from r9 = b.
  a.load(R8, mem(RDX, Q.panels));
  a.label('panel');
  a.movRR(R9, RDI);
  a.countedLoop(RAX, mem(RDX, Q.k), 'row', row);
  nextPanel();
  a.dec(R8);
  a.jnz('panel');
  a.addRM(RDI, mem(RDX, Q.batchB));
  a.addRM(RSI, mem(RDX, Q.batchBp));
  a.dec(R10);
  a.jg('item');
}

/**
 * void pack(const float *b, float *bPacked, const int64_t *q): for each of q.panels panels of 64
 * columns (b advances 256 bytes), copies q.k rows (q.ldb bytes apart) into consecutive 256-byte rows
 * of bPacked; vector v is loaded under opmask k(v+1) with zeroing, so a ragged panel is zero-padded
 * and nothing past the matrix is read. For avx2: 16-column panels (64 bytes), loads by vmaskmovps
 * under the lane masks (ymm2/3), which zero and do not read the masked-off lanes alike.
 */
export function packKernel(isa: Isa = 'avx512'): Uint8Array {
  const a = new Assembler();
  const { nr, nv: NV, bits } = SHAPES[isa], panelRowBytes = nr * 4, vb = bits / 8;
  for (let v = 0; v < NV; v++) {
    if (isa === 'avx512') a.kmovwLoad(v + 1, mem(RDX, Q.masks + 2 * v));
    else a.vmovupsLoad(bits, NV + v, mem(RDX, Q.ymmMasks + 32 * v));
  }
  packItems(a, () => {
    for (let v = 0; v < NV; v++) {
      if (isa === 'avx512') a.vmovupsLoad(bits, v, mem(R9, vb * v), v + 1);
      else a.vmaskmovpsLoad(v, NV + v, mem(R9, vb * v));
    }
    for (let v = 0; v < NV; v++) a.vmovupsStore(bits, mem(RSI, vb * v), v);
    a.addRM(R9, mem(RDX, Q.ldb));
    a.addRI(RSI, panelRowBytes);
  }, () => a.addRI(RDI, panelRowBytes));
  a.vzeroupper();
  a.ret();
  return a.bytes();
}

/**
 * void packT(const float *b, float *bPacked, const int64_t *q), AVX-512 only: packs op(B) = B^T for B
 * stored (n, k) with any row stride. For each of q.panels panels (b advances q.panelStep bytes: 64
 * rows of B) and each of q.k steps p (b advances 4 bytes), row p of the panel is column p of those 64
 * rows, gathered as 4 vectors of 16 by vgatherdps at the int32 element offsets q.idx[j] (j ldb) under
 * opmask k(v+1) from q.masks, into a zeroed register: a ragged panel is zero-padded and nothing past
 * the matrix is read. It replaces an element-by-element transpose in JS, so strided B^T (attention's
 * q k^T and dy v^T, which read k and v in place) packs in about a gather per 16 floats.
 */
export function packTKernel(): Uint8Array {
  const a = new Assembler(), NV = 4, IDX = 8; // offsets in zmm8..11 (VSIB indices must be zmm0..15, not zmm4)
  for (let v = 0; v < NV; v++) a.vmovupsLoad(512, IDX + v, mem(RDX, Q.idx + 64 * v));
  packItems(a, () => {
    for (let v = 0; v < NV; v++) {
      a.vzero(512, v);
      a.kmovwLoad(v + 1, mem(RDX, Q.masks + 2 * v));
      a.vgatherdps(v, mem(R9, 0, IDX + v, 4), v + 1);
    }
    for (let v = 0; v < NV; v++) a.vmovupsStore(512, mem(RSI, 64 * v), v);
    a.addRI(R9, 4);
    a.addRI(RSI, NR * 4);
  }, () => a.addRM(RDI, mem(RDX, Q.panelStep)));
  a.vzeroupper();
  a.ret();
  return a.bytes();
}

/** Lane masks (int32, -1 = present) of the 2 column vectors of an avx2 panel with `cols` (1..16) valid columns. */
export function ymmMasks(cols: number): number[] {
  return Array.from({ length: 16 }, (_, l) => (l < cols ? -1 : 0));
}

/** Opmasks of the 4 column vectors of a panel with `cols` (1..64) valid columns. */
export function panelMasks(cols: number): [number, number, number, number] {
  const m = (v: number): number => {
    const n = Math.max(0, Math.min(16, cols - 16 * v));
    return n === 16 ? 0xffff : (1 << n) - 1;
  };
  return [m(0), m(1), m(2), m(3)];
}
