// The native backend: GEMM by x86-64 code generated at run time (native-gemm.ts) on the wasm heap or host memory; every other kernel from wasm.
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import type { GemmArgs } from './backend.js';
import { checkGemm, WasmBackend, type WasmOptions } from './wasm.js';
import { ExecutableCode, loadKoffi, type Koffi } from './exec-memory.js';
import { gemmKernel, MR, NR, P, packKernel, panelMasks, Q } from './native-gemm.js';
import { JsBackend } from './js.js';
import { NativePool } from './native-pool.js';

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

export type NativeProbe = { ok: true; isa: 'AVX-512F'; tile: string; blocks: Blocking; caches: CacheSizes } | { ok: false; reason: string };

/** The compiled kernels: gemm for mr = 1..6 without / with reading C, and the packer. */
export class NativeCode {
  private readonly code: ExecutableCode[] = [];
  readonly gemm: unknown[][];
  readonly pack: unknown;
  readonly proto: ReturnType<Koffi['proto']>;
  readonly packProto: ReturnType<Koffi['proto']>;

  constructor(readonly koffi: Koffi) {
    const make = (bytes: Uint8Array): unknown => {
      const c = new ExecutableCode(koffi, bytes);
      this.code.push(c);
      return c.pointer;
    };
    this.proto = koffi.proto('void', ['void *', 'void *', 'void *', 'void *']);
    this.packProto = koffi.proto('void', ['void *', 'void *', 'void *']);
    this.gemm = [false, true].map((readC) => Array.from({ length: MR + 1 }, (_, mr) => (mr === 0 ? null : make(gemmKernel(mr, readC)))));
    this.pack = make(packKernel());
  }

  /** Start addresses and lengths of the mappings (for the W^X test). */
  get mappings(): { address: bigint; bytes: number }[] {
    return this.code.map((c) => ({ address: c.address, bytes: c.bytes }));
  }
}

let probed: NativeProbe | undefined;
let shared: NativeCode | undefined;

/** This thread's generated code (after a successful probeNative). */
export function nativeCode(): NativeCode | undefined {
  return shared;
}

function cpuFlags(): string[] | string {
  try {
    return /flags\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.split(' ') ?? [];
  } catch (e) {
    return `/proc/cpuinfo not readable: ${(e as Error).message}`;
  }
}

/**
 * Whether the native backend runs here and why not: x86-64 Linux, AVX-512F (Linux lists the flag
 * only when the kernel saves zmm state), koffi, the kernels generated and mapped, and a self-test of
 * GEMMs (every transpose, ragged tiles, beta) against the reference. Once per process.
 */
export function probeNative(): NativeProbe {
  if (probed !== undefined) return probed;
  if (process.env['FURNACE_NATIVE'] === '0') return (probed = { ok: false, reason: 'disabled by FURNACE_NATIVE=0' });
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return (probed = { ok: false, reason: `no code generator for ${process.platform}/${process.arch} (x86-64 Linux only)` });
  }
  const flags = cpuFlags();
  if (typeof flags === 'string') return (probed = { ok: false, reason: flags });
  if (!flags.includes('avx512f')) {
    return (probed = { ok: false, reason: 'CPU has no AVX-512F (the AVX2 kernel is not generated yet)' });
  }
  const koffi = loadKoffi();
  if (typeof koffi === 'string') return (probed = { ok: false, reason: koffi });
  const caches = cacheSizes();
  const blocks = blocking(caches);
  try {
    shared = new NativeCode(koffi);
    const failure = selfTest(shared, blocks);
    if (failure !== undefined) return (probed = { ok: false, reason: `self-test failed: ${failure}` });
  } catch (e) {
    return (probed = { ok: false, reason: `code generation failed: ${(e as Error).message}` });
  }
  return (probed = { ok: true, isa: 'AVX-512F', tile: `${MR}x${NR} (24 zmm accumulators)`, blocks, caches });
}

/** A few GEMMs through the generated code on plain memory against the js reference; the first mismatch, or undefined. */
function selfTest(code: NativeCode, blocks: Blocking): string | undefined {
  const ref = new JsBackend();
  let seed = 7;
  const rand = (n: number): Float32Array => Float32Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1);
  for (const [m, n, k] of [[7, 70, 13], [13, 129, 300], [1, 1, 1]] as const) {
    for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const lda = (transA ? m : k) + 1, ldb = (transB ? k : n) + 2, ldc = n + 3;
      const g = { transA, transB, m, n, k, alpha: 1.5, beta: 0.5, lda, ldb, ldc, strideA: 0, strideB: 0, strideC: 0, batch: 1,
        a: rand((transA ? k : m) * lda), b: rand((transB ? n : k) * ldb), c: rand(m * ldc) };
      const want = Float32Array.from(g.c);
      ref.gemm({ ...g, c: want });
      runGemm(code, blocks, new Float32Array(blocks.kc * blocks.nc), g);
      for (let i = 0; i < want.length; i++) {
        if (!(Math.abs(g.c[i]! - want[i]!) <= 1e-4 + 1e-4 * Math.abs(want[i]!))) {
          return `m${m} n${n} k${k} tA${+transA} tB${+transB}: C[${i}] = ${g.c[i]}, want ${want[i]}`;
        }
      }
    }
  }
  return undefined;
}

/** Per-call parameter blocks (see P and Q in native-gemm.ts). */
const pBuf = new ArrayBuffer(P.bytes), qBuf = new ArrayBuffer(Q.bytes);
const p64 = new BigInt64Array(pBuf), pF32 = new Float32Array(pBuf), pU16 = new Uint16Array(pBuf);
const q64 = new BigInt64Array(qBuf), qU16 = new Uint16Array(qBuf);
const ALL = [0xffff, 0xffff, 0xffff, 0xffff] as const;

/**
 * C_i = alpha op(A_i) op(B_i) + beta C_i for each batch item, blocked as in native-gemm.ts:
 * for each NC block of columns and KC block of k: pack op(B) (KC, NC) into `bp` as 64-column
 * panels, then run the kernel over MC-row blocks of A (beta applies to the first KC block only).
 */
export function runGemm(code: NativeCode, blocks: Blocking, bp: Float32Array, g: GemmArgs): void {
  const { koffi, proto } = code;
  const { kc: KC, mc: MC, nc: NC } = blocks;
  const [rsA, csA] = g.transA ? [1, g.lda] : [g.lda, 1];
  for (let t = 0; t < g.batch; t++) {
    const a0 = t * g.strideA, b0 = t * g.strideB, c0 = t * g.strideC;
    for (let jc = 0; jc < g.n; jc += NC) {
      const nc = Math.min(NC, g.n - jc), full = Math.floor(nc / NR), tail = nc - full * NR;
      for (let pc = 0; pc === 0 || pc < g.k; pc += KC) {
        const kc = Math.min(KC, g.k - pc);
        if (kc > 0) packB(code, g, bp, b0, pc, kc, jc, full, tail);
        const beta = pc === 0 ? g.beta : 1;
        p64[P.k / 8] = BigInt(kc);
        p64[P.rsA / 8] = BigInt(rsA * 4);
        p64[P.csA / 8] = BigInt(csA * 4);
        p64[P.ldc / 8] = BigInt(g.ldc * 4);
        p64[P.panelBytes / 8] = BigInt(kc * NR * 4);
        p64[P.stripC / 8] = BigInt(MR * g.ldc * 4);
        pF32[P.alpha / 4] = g.alpha;
        pF32[P.beta / 4] = beta;
        const kernels = code.gemm[beta === 0 ? 0 : 1]!;
        for (let ic = 0; ic < g.m; ic += MC) {
          const mc = Math.min(MC, g.m - ic);
          const aAt = kc > 0 ? g.a.subarray(a0 + ic * rsA + pc * csA) : g.a;
          for (const [strips, mr, row] of [[Math.floor(mc / MR), MR, 0], [1, mc % MR, mc - (mc % MR)]] as const) {
            if (strips === 0 || mr === 0) continue;
            p64[P.strips / 8] = BigInt(strips);
            p64[P.stripA / 8] = BigInt(mr * rsA * 4);
            const a = row === 0 ? aAt : aAt.subarray(row * rsA);
            const cRow = c0 + (ic + row) * g.ldc + jc;
            for (const [panels, first, masks] of [[full, 0, ALL], [tail > 0 ? 1 : 0, full, panelMasks(tail)]] as const) {
              if (panels === 0) continue;
              p64[P.panels / 8] = BigInt(panels);
              pU16.set(masks, P.masks / 2);
              koffi.call(kernels[mr], proto, a, bp.subarray(first * kc * NR), g.c.subarray(cRow + first * NR), p64);
            }
          }
        }
      }
    }
  }
}

/** Packs op(B)[pc .. pc+kc, jc .. jc+nc] into 64-column panels of bp (zero-padded). */
function packB(code: NativeCode, g: GemmArgs, bp: Float32Array, b0: number, pc: number, kc: number, jc: number,
  full: number, tail: number): void {
  if (!g.transB) {
    // op(B)[p, j] = b[b0 + p ldb + j]: rows copied by the generated packer.
    q64[Q.k / 8] = BigInt(kc);
    q64[Q.ldb / 8] = BigInt(g.ldb * 4);
    for (const [panels, first, masks] of [[full, 0, ALL], [tail > 0 ? 1 : 0, full, panelMasks(tail)]] as const) {
      if (panels === 0) continue;
      q64[Q.panels / 8] = BigInt(panels);
      qU16.set(masks, Q.masks / 2);
      code.koffi.call(code.pack, code.packProto, g.b.subarray(b0 + pc * g.ldb + jc + first * NR), bp.subarray(first * kc * NR), q64);
    }
    return;
  }
  // op(B)[p, j] = b[b0 + j ldb + p]: a transpose, done here (each source row is contiguous in p).
  const panels = full + (tail > 0 ? 1 : 0);
  for (let jp = 0; jp < panels; jp++) {
    const cols = jp < full ? NR : tail, dst = jp * kc * NR;
    for (let jj = 0; jj < NR; jj++) {
      if (jj >= cols) {
        for (let p = 0; p < kc; p++) bp[dst + p * NR + jj] = 0;
        continue;
      }
      const src = b0 + (jc + jp * NR + jj) * g.ldb + pc;
      for (let p = 0; p < kc; p++) bp[dst + p * NR + jj] = g.b[src + p]!;
    }
  }
}

export class NativeBackend extends WasmBackend {
  override readonly name = 'native' as const;
  readonly info: Extract<NativeProbe, { ok: true }>;
  /** Threads one GEMM is split over (this one and gemmThreads - 1 workers). */
  readonly gemmThreads: number;
  private readonly code: NativeCode;
  private readonly bp: Float32Array;
  private readonly workers: NativePool | undefined;

  /** Throws with the reason when the native kernels cannot run here (see probeNative). */
  constructor(opts: WasmOptions = {}) {
    super({ ...opts, threads: 1 });
    const p = probeNative();
    if (!p.ok || shared === undefined) throw new Error(`backend 'native' is not available: ${p.ok ? 'no code' : p.reason}`);
    this.info = p;
    this.code = shared;
    const scratch = p.blocks.kc * p.blocks.nc;
    this.bp = this.allocEmpty(scratch);
    this.gemmThreads = Math.max(1, Math.floor(opts.threads ?? 1));
    this.workers = this.gemmThreads > 1
      ? new NativePool(this.memory, this.gemmThreads - 1, scratch, (bytes) => this.heap.alloc(bytes).ptr) : undefined;
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
    if (g.transB && g.ldb !== g.k && g.m < 128) {
      // Strided B^T (attention's q k^T reads k in place): packB transposes element by element, k x n
      // per item against m x n x k of compute, so below ~128 rows the wasm kernel is faster.
      super.gemm(g);
      return;
    }
    if (g.transB && g.ldb === g.k && g.k > 1) {
      // op(B_i) = B_i^T with B_i (n, k) contiguous: the wasm permute kernel writes it as (k, n) once per
      // batch item, faster than the element-wise transpose in packB, then the packer copies rows.
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

  /** One GEMM on the pool or here (an instance property, so timers that wrap the kernel methods skip it). */
  private readonly run = (g: GemmArgs): void => {
    // The generated code takes any address (koffi passes a typed array's own memory), so host
    // arrays need no staging; the workers see only the shared heap, so only heap GEMMs are split.
    const inHeap = this.heap.owns(g.a) && this.heap.owns(g.b) && this.heap.owns(g.c);
    if (inHeap && this.workers !== undefined && this.workers.worthSplitting(g.m, g.n, g.k, g.batch)) {
      this.workers.gemm(g, (part) => runGemm(this.code, this.info.blocks, this.bp, part));
    } else {
      runGemm(this.code, this.info.blocks, this.bp, g);
    }
  };
}
