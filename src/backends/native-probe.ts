// Whether the native backend runs here: CPU flags, caches and blocking, and the GEMM code generated per ISA, self-tested once per thread.
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import type { Precision } from './backend.js';
import { geluKernel } from './native-elementwise.js';
import { ExecutableCode, loadKoffi, type Koffi } from './exec-memory.js';
import { gemmKernel, ISAS, MR, NR, packKernel, packTKernel, SHAPES, type Isa, type KernelDot } from './native-gemm.js';
import { JsBackend } from './js.js';
import { pairPackKernel, roundBf16, rowConvertKernel, type Bf16Code } from './native-bf16.js';
import { runNative, scratchFloats } from './native-run.js';

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
