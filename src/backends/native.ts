// The native backend: GEMM by x86-64 code generated at run time (native-gemm.ts) on the wasm heap or host memory; every other kernel from wasm.
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import type { BinaryOp, GemmArgs, GroupedGemmArgs, Precision, UnaryOp } from './backend.js';
import { E, geluKernel, writeConsts } from './native-elementwise.js';
import { checkGrouped, groupedProblem } from './grouped-gemm.js';
import { checkGemm, WasmBackend, type WasmOptions } from './wasm.js';
import { ExecutableCode, loadKoffi, type Koffi } from './exec-memory.js';
import { gemmKernel, ISAS, MR, NR, P, packKernel, packTKernel, panelMasks, Q, SHAPES, ymmMasks, type Isa, type KernelDot } from './native-gemm.js';
import { JsBackend } from './js.js';
import { NativePool } from './native-pool.js';
import { bf16Blocking, bf16Scratch, pairPackKernel, roundBf16, rowConvertKernel, runGemmBf16, type Bf16Code } from './native-bf16.js';

export interface CacheSizes { l1d: number; l2: number; basis: string }

/**
 * L1 data and L2 sizes in bytes from /sys (cpu0's cache/index*), else from `getconf` (glibc asks
 * CPUID), else 32 KiB / 1 MiB.
 */
export function cacheSizes(): CacheSizes {
  const dir = '/sys/devices/system/cpu/cpu0/cache';
  const parse = (s: string): number => {
    const m = /^(\d+)([KMG]?)/.exec(s.trim());
    if (m === null) return NaN;
    return Number(m[1]) * ({ '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2] as '' | 'K' | 'M' | 'G']);
  };
  let l1d = NaN, l2 = NaN;
  try {
    for (const e of readdirSync(dir).filter((d) => d.startsWith('index'))) {
      const level = readFileSync(`${dir}/${e}/level`, 'utf8').trim(), type = readFileSync(`${dir}/${e}/type`, 'utf8').trim();
      const size = parse(readFileSync(`${dir}/${e}/size`, 'utf8'));
      if (level === '1' && type === 'Data') l1d = size;
      if (level === '2' && type !== 'Instruction') l2 = size;
    }
  } catch {
    // not readable (containers, non-Linux): the defaults below
  }
  if (Number.isFinite(l1d) && Number.isFinite(l2)) return { l1d, l2, basis: dir };
  try {
    const conf = (name: string): number => Number(execFileSync('getconf', [name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const [c1, c2] = [conf('LEVEL1_DCACHE_SIZE'), conf('LEVEL2_CACHE_SIZE')];
    if (c1 > 0 && c2 > 0) return { l1d: c1, l2: c2, basis: 'getconf (CPUID)' };
  } catch {
    // no getconf: the defaults below
  }
  return { l1d: Number.isFinite(l1d) ? l1d : 32768, l2: Number.isFinite(l2) ? l2 : 1 << 20, basis: 'cache sizes not readable: 32 KiB L1d / 1 MiB L2 assumed' };
}

export interface Blocking { kc: number; mc: number; nc: number }

/**
 * Block sizes from the caches (Goto & van de Geijn 2008, sec. 6): a packed panel (KC x 64 float32)
 * takes 1/16 of L2 and a block of A (MC x KC) half of it; NC bounds the packing scratch. The panel is
 * read from L2 at 256 bytes per 24 FMAs, which L2 sustains; a longer k loop amortizes the C tile's
 * load and store (measured on a 48 KiB L1d / 1 MiB L2 core: KC 96, sized for L1, 47-200 GFLOP/s
 * by size; KC 256: 216-220).
 */
export function blocking(c: CacheSizes): Blocking {
  const kc = Math.max(64, Math.min(512, Math.floor(c.l2 / 16 / (NR * 4) / 16) * 16));
  const mc = Math.max(MR, Math.min(1536, Math.floor(c.l2 / 2 / (kc * 4) / MR) * MR));
  return { kc, mc, nc: 2048 };
}

/** Whether the bf16 GEMM (AVX512_BF16) runs here, and why not. */
export type Bf16Probe = { ok: true } | { ok: false; reason: string };

const ISA_NAME = { avx512: 'AVX-512F', avx2: 'AVX2+FMA' } as const;

export type NativeProbe = { ok: true; isa: (typeof ISA_NAME)[Isa]; target: Isa; tile: string; blocks: Blocking; caches: CacheSizes;
  bf16: Bf16Probe } | { ok: false; reason: string };

/**
 * The compiled kernels for one ISA: gemm for mr = 1..6 without / with reading C (gemmTail: the ones
 * for a ragged last panel, masked; the same kernels on avx512), and the packer; with `bf16`, the bf16 GEMM's too.
 */
export class NativeCode {
  private readonly code: ExecutableCode[] = [];
  readonly gemm: unknown[][];
  readonly gemmTail: unknown[][];
  readonly pack: unknown;
  /** The transposing packer (AVX-512 only: it gathers). */
  readonly packT: unknown;
  /** GELU and its gradient, element-wise (AVX-512 only; native-elementwise.ts). */
  readonly gelu: { forward: unknown; grad: unknown } | undefined;
  readonly proto: ReturnType<Koffi['proto']>;
  readonly packProto: ReturnType<Koffi['proto']>;
  readonly bf16: Bf16Code | undefined;
  /** Columns per packed panel. */
  readonly nr: number;

  constructor(readonly koffi: Koffi, readonly isa: Isa, bf16: boolean) {
    const make = (bytes: Uint8Array): unknown => {
      const c = new ExecutableCode(koffi, bytes);
      this.code.push(c);
      return c.pointer;
    };
    const kernels = (dot: KernelDot, masked: boolean): unknown[][] => [false, true].map((readC) =>
      Array.from({ length: MR + 1 }, (_, mr) => (mr === 0 ? null : make(gemmKernel(mr, readC, dot, isa, masked)))));
    this.proto = koffi.proto('void', ['void *', 'void *', 'void *', 'void *']);
    this.packProto = koffi.proto('void', ['void *', 'void *', 'void *']);
    this.nr = SHAPES[isa].nr;
    this.gemm = kernels('fp32', isa === 'avx512');
    this.gemmTail = isa === 'avx512' ? this.gemm : kernels('fp32', true);
    this.pack = make(packKernel(isa));
    this.packT = isa === 'avx512' ? make(packTKernel()) : undefined;
    this.gelu = isa === 'avx512' ? { forward: make(geluKernel(false)), grad: make(geluKernel(true)) } : undefined;
    this.bf16 = bf16 ? {
      koffi, proto: this.proto, packProto: this.packProto, pairPack: make(pairPackKernel()), rowConvert: make(rowConvertKernel()),
      gemmBf16: kernels('bf16', true),
    } : undefined;
  }

  /** Start addresses and lengths of the mappings (for the W^X test). */
  get mappings(): { address: bigint; bytes: number }[] {
    return this.code.map((c) => ({ address: c.address, bytes: c.bytes }));
  }
}

let probed: NativeProbe | undefined;
/** This thread's generated code per ISA, each built and self-tested once. */
const codes = new Map<Isa, NativeCode>();

function cpuFlags(): string[] | string {
  try {
    return /flags\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.split(' ') ?? [];
  } catch (e) {
    return `/proc/cpuinfo not readable: ${(e as Error).message}`;
  }
}

/** Why the CPU cannot run `isa`'s code, or undefined. Linux lists avx512f / avx2 only when the kernel saves that register state. */
function isaMissing(isa: Isa, flags: readonly string[]): string | undefined {
  if (isa === 'avx512') return flags.includes('avx512f') ? undefined : 'CPU has no AVX-512F';
  return flags.includes('avx2') && flags.includes('fma') ? undefined : 'CPU has neither AVX-512F nor AVX2 with FMA';
}

/** The widest ISA the flags allow (AVX-512F, else AVX2+FMA); FURNACE_NATIVE_ISA=avx2 asks for the AVX2 code on an AVX-512 CPU. */
function pickIsa(flags: readonly string[]): { isa: Isa } | { reason: string } {
  const env = process.env['FURNACE_NATIVE_ISA'];
  const want = ISAS.find((i) => i === env);
  if (env !== undefined && want === undefined) return { reason: `FURNACE_NATIVE_ISA=${env}: choose avx512 or avx2` };
  const isa = want ?? (isaMissing('avx512', flags) === undefined ? 'avx512' : 'avx2');
  const missing = isaMissing(isa, flags);
  return missing === undefined ? { isa } : { reason: missing };
}

/**
 * Whether the native backend runs here and why not: x86-64 Linux, AVX-512F or AVX2+FMA, koffi, the
 * kernels generated and mapped, and a self-test of GEMMs (every transpose, ragged tiles, beta)
 * against the reference; bf16 likewise where the CPU has AVX512_BF16. Once per process.
 */
export function probeNative(): NativeProbe {
  if (probed !== undefined) return probed;
  if (process.env['FURNACE_NATIVE'] === '0') return (probed = { ok: false, reason: 'disabled by FURNACE_NATIVE=0' });
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return (probed = { ok: false, reason: `no code generator for ${process.platform}/${process.arch} (x86-64 Linux only)` });
  }
  const flags = cpuFlags();
  if (typeof flags === 'string') return (probed = { ok: false, reason: flags });
  const picked = pickIsa(flags);
  if ('reason' in picked) return (probed = { ok: false, reason: picked.reason });
  const { isa } = picked;
  const koffi = loadKoffi();
  if (typeof koffi === 'string') return (probed = { ok: false, reason: koffi });
  const caches = cacheSizes();
  const blocks = blocking(caches);
  // vpermw (AVX512BW) interleaves the bf16 pairs; every CPU with AVX512_BF16 has it.
  let bf16: Bf16Probe = isa !== 'avx512' ? { ok: false, reason: 'bf16 needs the AVX-512 kernels' }
    : flags.includes('avx512_bf16') && flags.includes('avx512bw') ? { ok: true }
    : { ok: false, reason: 'CPU has no AVX512_BF16 (cpuinfo flag avx512_bf16)' };
  try {
    const code = new NativeCode(koffi, isa, bf16.ok);
    const failure = selfTest(code, blocks, 'fp32');
    if (failure !== undefined) return (probed = { ok: false, reason: `self-test failed: ${failure}` });
    const bf16Failure = bf16.ok ? selfTest(code, blocks, 'bf16') : undefined;
    if (bf16Failure !== undefined) bf16 = { ok: false, reason: `bf16 self-test failed: ${bf16Failure}` };
    codes.set(isa, code);
  } catch (e) {
    return (probed = { ok: false, reason: `code generation failed: ${(e as Error).message}` });
  }
  const tile = isa === 'avx512' ? `${MR}x${NR} (24 zmm accumulators)` : `${MR}x${SHAPES.avx2.nr} (12 ymm accumulators)`;
  return (probed = { ok: true, isa: ISA_NAME[isa], target: isa, tile, blocks, caches, bf16 });
}

/**
 * This thread's code for `isa` (default: the probe's), generated and self-tested on first use; throws
 * with the reason when it cannot run. A narrower ISA than the probe's runs too (AVX2 on an AVX-512 CPU).
 */
export function nativeCode(isa?: Isa): NativeCode {
  const p = probeNative();
  if (!p.ok) throw new Error(`backend 'native' is not available: ${p.reason}`);
  const want = isa ?? p.target, have = codes.get(want);
  if (have !== undefined) return have;
  const flags = cpuFlags(), koffi = loadKoffi();
  const missing = typeof flags === 'string' ? flags : isaMissing(want, flags);
  if (missing !== undefined) throw new Error(`backend 'native' (${ISA_NAME[want]}): ${missing}`);
  if (typeof koffi === 'string') throw new Error(`backend 'native': ${koffi}`);
  const code = new NativeCode(koffi, want, false);
  const failure = selfTest(code, p.blocks, 'fp32');
  if (failure !== undefined) throw new Error(`backend 'native' (${ISA_NAME[want]}): self-test failed: ${failure}`);
  codes.set(want, code);
  return code;
}

/**
 * A few GEMMs through the generated code on plain memory against the js reference (for bf16: on the
 * inputs rounded to bf16, B not transposed); the first mismatch, or undefined.
 */
function selfTest(code: NativeCode, blocks: Blocking, precision: Precision): string | undefined {
  const ref = new JsBackend();
  let seed = 7;
  const rand = (n: number): Float32Array => Float32Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1);
  for (const [m, n, k] of [[7, 70, 13], [13, 129, 300], [1, 1, 1]] as const) {
    for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      if (precision === 'bf16' && transB) continue;
      const lda = (transA ? m : k) + 1, ldb = (transB ? k : n) + 2, ldc = n + 3;
      const g = { transA, transB, m, n, k, alpha: 1.5, beta: 0.5, lda, ldb, ldc, strideA: 0, strideB: 0, strideC: 0, batch: 1,
        a: rand((transA ? k : m) * lda), b: rand((transB ? n : k) * ldb), c: rand(m * ldc) };
      const want = Float32Array.from(g.c);
      ref.gemm(precision === 'bf16' ? { ...g, a: roundBf16(g.a), b: roundBf16(g.b), c: want } : { ...g, c: want });
      runNative(code, blocks, new Float32Array(scratchFloats(blocks, precision)), g, precision);
      for (let i = 0; i < want.length; i++) {
        if (!(Math.abs(g.c[i]! - want[i]!) <= 1e-4 + 1e-4 * Math.abs(want[i]!))) {
          return `m${m} n${n} k${k} tA${+transA} tB${+transB}: C[${i}] = ${g.c[i]}, want ${want[i]}`;
        }
      }
    }
  }
  return undefined;
}

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

const eBuf = new ArrayBuffer(Math.ceil(E.bytes / 8) * 8), e64 = new BigInt64Array(eBuf), eU16 = new Uint16Array(eBuf);
writeConsts(eBuf);

/** out[0, n) = kernel(x, dy) for n = out.length (x and dy at least as long): full vectors, then one under a mask. */
function runElementwise(code: NativeCode, kernel: unknown, x: Float32Array, dy: Float32Array, out: Float32Array): void {
  const n = out.length;
  if (x.length < n || dy.length < n) throw new RangeError(`native element-wise kernel: inputs of ${x.length} and ${dy.length} for ${n} outputs`);
  if (n === 0) return;
  const tail = n % 16;
  e64[E.vectors / 8] = BigInt((n - tail) / 16);
  eU16[E.tailMask / 2] = (1 << tail) - 1;
  e64[E.hasTail / 8] = tail > 0 ? 1n : 0n;
  code.koffi.call(kernel, code.proto, x, dy, out, e64);
}

/** Whether strides address `shape` row-major contiguously (size-1 axes have any stride). */
function contiguous(strides: readonly number[], shape: readonly number[]): boolean {
  let want = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && strides[d] !== want) return false;
    want *= shape[d]!;
  }
  return true;
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

export class NativeBackend extends WasmBackend {
  override readonly name = 'native' as const;
  readonly info: Extract<NativeProbe, { ok: true }>;
  /** Threads one GEMM is split over (this one and gemmThreads - 1 workers). */
  readonly gemmThreads: number;
  /** The GEMMs' input precision: bf16 rounds A and B (not strided B^T, see gemm) to bf16, accumulating in float32. */
  readonly precision: Precision;
  private readonly code: NativeCode;
  private readonly bp: Float32Array;
  private readonly workers: NativePool | undefined;

  /**
   * Throws with the reason when the native kernels (or, for precision bf16, the bf16 kernels) cannot
   * run here (see probeNative). `isa` picks narrower code than the probe's (avx2 on an AVX-512 CPU).
   */
  constructor(opts: WasmOptions & { precision?: Precision; isa?: Isa } = {}) {
    super({ ...opts, threads: 1 });
    const p = probeNative();
    if (!p.ok) throw new Error(`backend 'native' is not available: ${p.reason}`);
    this.code = nativeCode(opts.isa);
    this.precision = opts.precision ?? 'fp32';
    if (this.precision === 'bf16' && this.code.bf16 === undefined) {
      throw new Error(`backend 'native' has no bf16 GEMM here: ${p.bf16.ok ? 'bf16 needs the AVX-512 kernels' : p.bf16.reason}`);
    }
    this.info = p;
    const scratch = scratchFloats(p.blocks, this.precision);
    this.bp = this.allocEmpty(scratch);
    this.gemmThreads = Math.max(1, Math.floor(opts.threads ?? 1));
    this.workers = this.gemmThreads > 1
      ? new NativePool(this.memory, this.gemmThreads - 1, scratch, (bytes) => this.heap.alloc(bytes).ptr, this.precision, this.code.isa)
      : undefined;
  }

  override get ready(): Promise<void> {
    return this.workers?.ready ?? Promise.resolve();
  }

  override close(): void {
    this.workers?.close();
    super.close();
  }

  /** The generated code's mappings (address, length), for checks on their protection. */
  get mappings(): { address: bigint; bytes: number }[] {
    return this.code.mappings;
  }

  override gemm(g: GemmArgs): void {
    checkGemm(g);
    if (g.m === 0 || g.n === 0 || g.batch === 0) return;
    if (g.transB && g.ldb !== g.k && g.m < 128 && this.code.packT === undefined) {
      // Strided B^T (attention's q k^T reads k in place) without the gathering packer: packB transposes
      // element by element, k x n per item against m x n x k of compute, so below ~128 rows the wasm
      // kernel is faster. Strided B^T stays float32 at precision bf16 (runNative).
      super.gemm(g);
      return;
    }
    if (g.transB && g.ldb === g.k && g.k > 1 && (this.code.packT === undefined || this.precision === 'bf16')) {
      // op(B_i) = B_i^T with B_i (n, k) contiguous, without the gathering packer (or at bf16, whose packer
      // pairs rows of untransposed B): the wasm permute kernel writes it as (k, n) once per batch item,
      // faster than the element-wise transpose in packB, then the packer copies rows. (At fp32 gathered
      // instead: 1024 x 256 x 2048 at 215 against 179 GFLOP/s.)
      const bt = this.allocEmpty(g.k * g.n);
      try {
        for (let t = 0; t < g.batch; t++) {
          super.permute(g.b.subarray(t * g.strideB, t * g.strideB + g.n * g.k), [g.n, g.k], [1, 0], bt);
          this.run({ ...g, transB: false, b: bt, ldb: g.n, strideB: 0, batch: 1, a: g.a.subarray(t * g.strideA),
            c: g.c.subarray(t * g.strideC) });
        }
      } finally {
        this.free(bt);
      }
      return;
    }
    this.run(g);
  }

  /**
   * Grouped GEMM: float32 problems sharing an expert's weights pack them once (runGrouped; B^T through
   * the gathering packer, so on AVX-512 only); bf16, or with GEMM workers, one gemm per problem (each
   * split over the pool when large enough).
   */
  gemmGrouped(g: GroupedGemmArgs): void {
    checkGrouped(g);
    if (this.precision === 'fp32' && this.workers === undefined && (!g.transB || this.code.packT !== undefined)) {
      runGrouped(this.code, this.info.blocks, this.bp, g);
      return;
    }
    for (let i = 0; i < g.m.length; i++) if (g.m[i]! > 0 && g.n > 0) this.gemm(groupedProblem(g, i));
  }

  /** gelu in generated AVX-512 code (16 lanes against wasm's 4); other ops from wasm. */
  override unary(op: UnaryOp, x: Float32Array, out: Float32Array): void {
    if (op === 'gelu' && this.code.gelu !== undefined) runElementwise(this.code, this.code.gelu.forward, x, x, out);
    else super.unary(op, x, out);
  }

  /** gelu_bwd on contiguous operands in generated AVX-512 code; other ops and layouts from wasm. */
  override binary(op: BinaryOp, a: Float32Array, aStrides: readonly number[], b: Float32Array, bStrides: readonly number[],
    out: Float32Array, shape: readonly number[]): void {
    if (op === 'gelu_bwd' && this.code.gelu !== undefined && contiguous(aStrides, shape) && contiguous(bStrides, shape) &&
      shape.reduce((p, d) => p * d, 1) === out.length) {
      runElementwise(this.code, this.code.gelu.grad, a, b, out);
    } else super.binary(op, a, aStrides, b, bStrides, out, shape);
  }

  /** One GEMM on the pool or here (an instance property, so timers that wrap the kernel methods skip it). */
  private readonly run = (g: GemmArgs): void => {
    // The generated code takes any address (koffi passes a typed array's own memory), so host
    // arrays need no staging; the workers see only the shared heap, so only heap GEMMs are split.
    const inHeap = this.heap.owns(g.a) && this.heap.owns(g.b) && this.heap.owns(g.c);
    if (inHeap && this.workers !== undefined && this.workers.worthSplitting(g.m, g.n, g.k, g.batch)) {
      this.workers.gemm(g, (part) => runNative(this.code, this.info.blocks, this.bp, part, this.precision));
    } else {
      runNative(this.code, this.info.blocks, this.bp, g, this.precision);
    }
  };
}
