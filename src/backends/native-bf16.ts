// bf16-input, float32-accumulate GEMM (AVX512_BF16): the packers that round float32 to bf16, and the blocked driver.
//
// vdpbf16ps multiplies bf16 pairs: acc.f32[j] += a.bf16[2j] b.bf16[2j] + a.bf16[2j+1] b.bf16[2j+1]. So the
// kernel (gemmKernel with dot 'bf16') steps k two at a time, and both operands are packed as pairs
// along k, rounded to nearest even by vcvtne2ps2bf16 (bf16 = the top 16 bits of float32, 8-bit mantissa):
//   B panel (KC/2 rows of 64 dwords): dword (p, j) = (B[2p, j], B[2p+1, j])   (the pair packer)
//   A block, row-major op(A):         dword (i, p) = (A[i, 2p], A[i, 2p+1])   (the row converter: a
//                                     float32 row rounded in place order is already that layout)
//   A block, transposed (A^T stored): the pair packer on A^T's rows, (p, i) dwords, read with rsA = 4.
// An odd k pads the last pair with a bf16 zero. Products of bf16 are exact in float32, so the result
// differs from float32 GEMM only by the inputs' rounding (relative 2^-9 each).
import { Assembler, mem, RAX, RDI, RDX, RSI, R8, R9, R10, R11 } from './x86-asm.js';
import { MR, NR, P, panelMasks } from './native-gemm.js';
import type { GemmArgs } from './backend.js';
import type { Koffi } from './exec-memory.js';

const PANEL_ROW_BYTES = NR * 4;

/** Pair-packer parameters (byte offsets of int64 slots; masks 4 uint16; the vpermw index 32 uint16). */
export const PQ = { pairs: 0, odd: 8, ldx: 16, panels: 24, outRow: 32, outPanel: 40, masks: 48, index: 64, bytes: 128 } as const;

/**
 * void pack(const float *x, uint32_t *out, const int64_t *q): for each of q.panels panels of 64
 * columns of x (x advances 256 bytes, out q.outPanel bytes), q.pairs pairs of rows (q.ldx bytes apart)
 * become rows of 64 bf16 pairs, q.outRow bytes apart; with q.odd, one more row paired with zeros.
 * Per 16 columns: vcvtne2ps2bf16 puts row 2p in words 0..15 and row 2p+1 in 16..31, and vpermw
 * with index (0, 16, 1, 17, ...) interleaves them. Masked-off columns load as 0.
 */
export function pairPackKernel(): Uint8Array {
  const a = new Assembler();
  for (let v = 0; v < 4; v++) a.kmovwLoad(v + 1, mem(RDX, PQ.masks + 2 * v));
  a.vmovupsLoad(512, 31, mem(RDX, PQ.index));
  a.load(R11, mem(RDX, PQ.ldx));
  a.load(R8, mem(RDX, PQ.panels));
  const emitPair = (second: boolean): void => {
    for (let v = 0; v < 4; v++) {
      a.vmovupsLoad(512, v, mem(R9, 64 * v), v + 1);
      if (second) a.vmovupsLoad(512, 4 + v, mem(R9, 64 * v, R11, 1), v + 1);
      else a.vzero(512, 4 + v);
    }
    for (let v = 0; v < 4; v++) {
      a.vcvtne2ps2bf16(8 + v, 4 + v, v);
      a.vpermw(8 + v, 31, 8 + v);
      a.vmovupsStore(512, mem(R10, 64 * v), 8 + v);
    }
  };
  a.label('panel');
  a.movRR(R9, RDI);
  a.movRR(R10, RSI);
  a.countedLoop(RAX, mem(RDX, PQ.pairs), 'pair', () => {
    emitPair(true);
    a.addRR(R9, R11);
    a.addRR(R9, R11);
    a.addRM(R10, mem(RDX, PQ.outRow));
  });
  a.load(RAX, mem(RDX, PQ.odd));
  a.test(RAX, RAX);
  a.jz('next');
  emitPair(false);
  a.label('next');
  a.addRI(RDI, PANEL_ROW_BYTES);
  a.addRM(RSI, mem(RDX, PQ.outPanel));
  a.dec(R8);
  a.jnz('panel');
  a.vzeroupper();
  a.ret();
  return a.bytes();
}

/** Row-converter parameters (int64 slots; two uint16 masks of the last chunk). */
export const RQ = { rows: 0, chunks: 8, ldx: 16, outLd: 24, masks: 32, bytes: 64 } as const;

/**
 * void convert(const float *x, uint16_t *out, const int64_t *q): q.rows rows of x (q.ldx bytes apart)
 * rounded to bf16 into rows of out (q.outLd bytes apart): q.chunks whole chunks of 32 floats, then
 * one chunk under the two 16-lane masks (masked-off lanes become 0; out's row holds chunks + 1 chunks).
 */
export function rowConvertKernel(): Uint8Array {
  const a = new Assembler();
  a.kmovwLoad(1, mem(RDX, RQ.masks));
  a.kmovwLoad(2, mem(RDX, RQ.masks + 2));
  a.load(R8, mem(RDX, RQ.rows));
  a.label('row');
  a.movRR(R9, RDI);
  a.movRR(R10, RSI);
  a.countedLoop(RAX, mem(RDX, RQ.chunks), 'chunk', () => {
    a.vmovupsLoad(512, 0, mem(R9));
    a.vmovupsLoad(512, 1, mem(R9, 64));
    a.vcvtne2ps2bf16(2, 1, 0);
    a.vmovupsStore(512, mem(R10), 2);
    a.addRI(R9, 128);
    a.addRI(R10, 64);
  });
  a.vmovupsLoad(512, 0, mem(R9), 1);
  a.vmovupsLoad(512, 1, mem(R9, 64), 2);
  a.vcvtne2ps2bf16(2, 1, 0);
  a.vmovupsStore(512, mem(R10), 2);
  a.addRM(RDI, mem(RDX, RQ.ldx));
  a.addRM(RSI, mem(RDX, RQ.outLd));
  a.dec(R8);
  a.jnz('row');
  a.vzeroupper();
  a.ret();
  return a.bytes();
}

/** The generated bf16 code the driver calls (NativeCode in native.ts holds it). */
export interface Bf16Code {
  koffi: Koffi;
  proto: ReturnType<Koffi['proto']>;
  packProto: ReturnType<Koffi['proto']>;
  /** gemm kernels with dot 'bf16': [readC ? 1 : 0][mr]. */
  gemmBf16: readonly (readonly unknown[])[];
  pairPack: unknown;
  rowConvert: unknown;
}

/** bf16 block sizes: twice float32's KC (a packed pair row has float32's 256 bytes), same MC and NC. */
export interface Bf16Blocking { kc: number; mc: number; nc: number }
export const bf16Blocking = (b: { kc: number; mc: number; nc: number }): Bf16Blocking => ({ kc: 2 * b.kc, mc: b.mc, nc: b.nc });

/** Row length in bytes of a row-converted A block of kc columns (whole 32-float chunks plus the masked one). */
const rowBytes = (kc: number): number => (Math.floor(kc / 32) + 1) * 64;
/** Bytes of a pair-packed block: ceil(k/2) rows of `panels` 64-column panels. */
const pairBytes = (k: number, cols: number): number => Math.ceil(k / 2) * Math.ceil(cols / NR) * PANEL_ROW_BYTES;

/** Scratch floats for one bf16 GEMM: the packed B block, then the packed A block. */
export function bf16Scratch(b: Bf16Blocking): { bFloats: number; aFloats: number } {
  return { bFloats: pairBytes(b.kc, b.nc) / 4, aFloats: Math.max(b.mc * rowBytes(b.kc), pairBytes(b.kc, b.mc)) / 4 };
}

const pq = new ArrayBuffer(PQ.bytes), rq = new ArrayBuffer(RQ.bytes), pb = new ArrayBuffer(P.bytes);
const pq64 = new BigInt64Array(pq), pqU16 = new Uint16Array(pq);
const rq64 = new BigInt64Array(rq), rqU16 = new Uint16Array(rq);
const p64 = new BigInt64Array(pb), pF32 = new Float32Array(pb), pU16 = new Uint16Array(pb);
pqU16.set(Array.from({ length: 32 }, (_, w) => (w & 1 ? 16 : 0) + (w >> 1)), PQ.index / 2);
const ALL = [0xffff, 0xffff, 0xffff, 0xffff] as const;

/** Two 16-lane masks for the last chunk of a k-long row: k mod 32 valid floats. */
function chunkMasks(k: number): [number, number] {
  const r = k % 32, m = (n: number): number => (n >= 16 ? 0xffff : (1 << Math.max(0, n)) - 1);
  return [m(r), m(r - 16)];
}

/**
 * Pair-packs rows [r0, r0 + k) x columns [c0, c0 + cols) of x (row stride ld floats) into out:
 * panel q of 64 columns at q * outPanel bytes, pair row p at p * outRow bytes.
 */
function pairPack(code: Bf16Code, x: Float32Array, ld: number, r0: number, k: number, c0: number, cols: number,
  out: Float32Array, outRow: number, outPanel: number): void {
  const full = Math.floor(cols / NR), tail = cols - full * NR;
  pq64[PQ.pairs / 8] = BigInt(k >> 1);
  pq64[PQ.odd / 8] = BigInt(k & 1);
  pq64[PQ.ldx / 8] = BigInt(ld * 4);
  pq64[PQ.outRow / 8] = BigInt(outRow);
  pq64[PQ.outPanel / 8] = BigInt(outPanel);
  for (const [panels, first, masks] of [[full, 0, ALL], [tail > 0 ? 1 : 0, full, panelMasks(tail)]] as const) {
    if (panels === 0) continue;
    pq64[PQ.panels / 8] = BigInt(panels);
    pqU16.set(masks, PQ.masks / 2);
    code.koffi.call(code.pairPack, code.packProto, x.subarray(r0 * ld + c0 + first * NR), out.subarray((first * outPanel) / 4), pq64);
  }
}

/** Rounds rows [r0, r0 + rows) x columns [c0, c0 + k) of x (row stride ld) to bf16 rows of rowBytes(k) in out. */
function rowConvert(code: Bf16Code, x: Float32Array, ld: number, r0: number, rows: number, c0: number, k: number, out: Float32Array): void {
  rq64[RQ.rows / 8] = BigInt(rows);
  rq64[RQ.chunks / 8] = BigInt(Math.floor(k / 32));
  rq64[RQ.ldx / 8] = BigInt(ld * 4);
  rq64[RQ.outLd / 8] = BigInt(rowBytes(k));
  rqU16.set(chunkMasks(k), RQ.masks / 2);
  code.koffi.call(code.rowConvert, code.packProto, x.subarray(r0 * ld + c0), out, rq64);
}

/**
 * C_i = alpha op(A_i) B_i + beta C_i with A and B rounded to bf16 and float32 accumulation; B not
 * transposed (the caller transposes B first). Blocked as runGemm in native.ts: per NC x KC block
 * of B one pair-packed copy in `scratch`, per MC x KC block of A one packed copy after it.
 */
export function runGemmBf16(code: Bf16Code, blocks: Bf16Blocking, scratch: Float32Array, g: GemmArgs): void {
  if (g.transB) throw new Error('bf16 gemm: B must not be transposed');
  const { kc: KC, mc: MC, nc: NC } = blocks;
  const { bFloats } = bf16Scratch(blocks);
  const bp = scratch.subarray(0, bFloats), ap = scratch.subarray(bFloats);
  for (let t = 0; t < g.batch; t++) {
    const a = g.a.subarray(t * g.strideA), b = g.b.subarray(t * g.strideB), c = g.c.subarray(t * g.strideC);
    for (let jc = 0; jc < g.n; jc += NC) {
      const nc = Math.min(NC, g.n - jc);
      for (let pc = 0; pc === 0 || pc < g.k; pc += KC) {
        const kc = Math.min(KC, g.k - pc), panelBytes = Math.ceil(kc / 2) * PANEL_ROW_BYTES;
        if (kc > 0) pairPack(code, b, g.ldb, pc, kc, jc, nc, bp, PANEL_ROW_BYTES, panelBytes);
        const beta = pc === 0 ? g.beta : 1;
        for (let ic = 0; ic < g.m; ic += MC) {
          const mc = Math.min(MC, g.m - ic);
          // Packed A: dword (i, p) at i * rsA + p * csA bytes.
          let rsA = 4, csA = 4;
          if (kc > 0 && g.transA) {
            csA = Math.ceil(mc / NR) * PANEL_ROW_BYTES;
            pairPack(code, a, g.lda, pc, kc, ic, mc, ap, csA, PANEL_ROW_BYTES);
          } else if (kc > 0) {
            rsA = rowBytes(kc);
            rowConvert(code, a, g.lda, ic, mc, pc, kc, ap);
          }
          kernelBlock(code, g, { ap, bp, rsA, csA, kc, beta, panelBytes, c: c.subarray(ic * g.ldc + jc), mc, nc });
        }
      }
    }
  }
}

/** One packed MC x KC block of A against the packed KC x NC block of B, into C (mc, nc) at `c`. */
function kernelBlock(code: Bf16Code, g: GemmArgs, o: { ap: Float32Array; bp: Float32Array; rsA: number; csA: number; kc: number;
  beta: number; panelBytes: number; c: Float32Array; mc: number; nc: number }): void {
  const full = Math.floor(o.nc / NR), tail = o.nc - full * NR;
  p64[P.k / 8] = BigInt(Math.ceil(o.kc / 2));
  p64[P.rsA / 8] = BigInt(o.rsA);
  p64[P.csA / 8] = BigInt(o.csA);
  p64[P.ldc / 8] = BigInt(g.ldc * 4);
  p64[P.panelBytes / 8] = BigInt(o.panelBytes);
  p64[P.stripC / 8] = BigInt(MR * g.ldc * 4);
  pF32[P.alpha / 4] = g.alpha;
  pF32[P.beta / 4] = o.beta;
  const kernels = code.gemmBf16[o.beta === 0 ? 0 : 1]!;
  for (const [strips, mr, row] of [[Math.floor(o.mc / MR), MR, 0], [1, o.mc % MR, o.mc - (o.mc % MR)]] as const) {
    if (strips === 0 || mr === 0) continue;
    p64[P.strips / 8] = BigInt(strips);
    p64[P.stripA / 8] = BigInt(mr * o.rsA);
    const a = o.ap.subarray((row * o.rsA) / 4);
    for (const [panels, first, masks] of [[full, 0, ALL], [tail > 0 ? 1 : 0, full, panelMasks(tail)]] as const) {
      if (panels === 0) continue;
      p64[P.panels / 8] = BigInt(panels);
      pU16.set(masks, P.masks / 2);
      code.koffi.call(kernels[mr], code.proto, a, o.bp.subarray((first * o.panelBytes) / 4), o.c.subarray(row * g.ldc + first * NR), p64);
    }
  }
}

/**
 * x rounded to bf16 and back to float32, as vcvtne2ps2bf16 does (Intel SDM, convert_fp32_to_bfloat16):
 * round to nearest even on the top 16 bits, denormals to a signed zero, NaN kept quiet. The reference
 * the bf16 GEMM is tested against.
 */
export function roundBf16(x: Float32Array): Float32Array {
  const out = Float32Array.from(x), u = new Uint32Array(out.buffer);
  for (let i = 0; i < u.length; i++) {
    const v = u[i]!, exp = (v >>> 23) & 0xff;
    if (exp === 0) u[i] = v & 0x80000000;
    else if (exp === 0xff && (v & 0x7fffff) !== 0) u[i] = (v | 0x400000) & 0xffff0000;
    else u[i] = ((v + 0x7fff + ((v >>> 16) & 1)) & 0xffff0000) >>> 0;
  }
  return out;
}
