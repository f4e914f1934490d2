// Measures one core's float32 FMA throughput with a machine-code loop called through koffi (no compiler at run time).
//
// The loop is kept below as bytes, assembled from the listing beside them (GNU as, AT&T syntax;
// objdump -d gave the encodings). It goes into an anonymous private mapping written while
// READ|WRITE and then switched to READ|EXEC before the first call, so no page is ever writable
// and executable at once. x86-64 Linux only; anywhere else, or on any failure, the probe
// returns a reason and the caller keeps the clock-based estimate. FURNACE_FMA_PROBE=0 turns it off.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export interface FmaKernel {
  name: 'AVX-512' | 'AVX2 FMA' | '128-bit FMA';
  /** Vector width in bits. */
  width: 512 | 256 | 128;
  /** float32 lanes per register. */
  lanes: 16 | 8 | 4;
  /** vfmadd231ps instructions per loop iteration (independent accumulators). */
  fmasPerIteration: 12;
  code: readonly number[];
}

export interface FmaMeasurement {
  kernel: FmaKernel['name'];
  width: FmaKernel['width'];
  /** Best measured float32 FLOP/s of one core (an FMA counts as 2 FLOP). */
  perCoreFlops: number;
  /** The same with 128-bit FMA (xmm): the most WebAssembly SIMD can reach. */
  perCoreSimd128Flops: number;
  /** Timed runs the best was taken from, and the wall time of the whole probe. */
  runs: number;
  probeSeconds: number;
}

export type FmaProbe = { ok: true; fma: FmaMeasurement } | { ok: false; reason: string };

/**
 * void fma512(uint64_t n): n iterations of 12 vfmadd231ps on zmm0..zmm11. Twelve independent
 * accumulators cover 2 FMA ports x 4-cycle latency with room to spare, so the loop is bound by
 * throughput, not latency. All inputs are +0.0 (vxorps), so no denormal ever slows a pipe. The
 * VEX-encoded xmm vxorps zeroes the whole zmm register.
 */
const FMA512: FmaKernel = {
  name: 'AVX-512', width: 512, lanes: 16, fmasPerIteration: 12,
  code: [
    0xc5, 0xf8, 0x57, 0xc0, //             vxorps %xmm0,%xmm0,%xmm0
    0xc5, 0xf0, 0x57, 0xc9, //             vxorps %xmm1,%xmm1,%xmm1
    0xc5, 0xe8, 0x57, 0xd2, //             vxorps %xmm2,%xmm2,%xmm2
    0xc5, 0xe0, 0x57, 0xdb, //             vxorps %xmm3,%xmm3,%xmm3
    0xc5, 0xd8, 0x57, 0xe4, //             vxorps %xmm4,%xmm4,%xmm4
    0xc5, 0xd0, 0x57, 0xed, //             vxorps %xmm5,%xmm5,%xmm5
    0xc5, 0xc8, 0x57, 0xf6, //             vxorps %xmm6,%xmm6,%xmm6
    0xc5, 0xc0, 0x57, 0xff, //             vxorps %xmm7,%xmm7,%xmm7
    0xc4, 0x41, 0x38, 0x57, 0xc0, //       vxorps %xmm8,%xmm8,%xmm8
    0xc4, 0x41, 0x30, 0x57, 0xc9, //       vxorps %xmm9,%xmm9,%xmm9
    0xc4, 0x41, 0x28, 0x57, 0xd2, //       vxorps %xmm10,%xmm10,%xmm10
    0xc4, 0x41, 0x20, 0x57, 0xdb, //       vxorps %xmm11,%xmm11,%xmm11
    0xc4, 0x41, 0x18, 0x57, 0xe4, //       vxorps %xmm12,%xmm12,%xmm12
    0xc4, 0x41, 0x10, 0x57, 0xed, //       vxorps %xmm13,%xmm13,%xmm13
    0x48, 0x85, 0xff, //                   test   %rdi,%rdi
    0x74, 0x4d, //                         jz     2f            (n = 0: skip the loop)
    0x62, 0xd2, 0x15, 0x48, 0xb8, 0xc4, // 1: vfmadd231ps %zmm12,%zmm13,%zmm0
    0x62, 0xd2, 0x15, 0x48, 0xb8, 0xcc, //    vfmadd231ps %zmm12,%zmm13,%zmm1
    0x62, 0xd2, 0x15, 0x48, 0xb8, 0xd4, //    vfmadd231ps %zmm12,%zmm13,%zmm2
    0x62, 0xd2, 0x15, 0x48, 0xb8, 0xdc, //    vfmadd231ps %zmm12,%zmm13,%zmm3
    0x62, 0xd2, 0x15, 0x48, 0xb8, 0xe4, //    vfmadd231ps %zmm12,%zmm13,%zmm4
    0x62, 0xd2, 0x15, 0x48, 0xb8, 0xec, //    vfmadd231ps %zmm12,%zmm13,%zmm5
    0x62, 0xd2, 0x15, 0x48, 0xb8, 0xf4, //    vfmadd231ps %zmm12,%zmm13,%zmm6
    0x62, 0xd2, 0x15, 0x48, 0xb8, 0xfc, //    vfmadd231ps %zmm12,%zmm13,%zmm7
    0x62, 0x52, 0x15, 0x48, 0xb8, 0xc4, //    vfmadd231ps %zmm12,%zmm13,%zmm8
    0x62, 0x52, 0x15, 0x48, 0xb8, 0xcc, //    vfmadd231ps %zmm12,%zmm13,%zmm9
    0x62, 0x52, 0x15, 0x48, 0xb8, 0xd4, //    vfmadd231ps %zmm12,%zmm13,%zmm10
    0x62, 0x52, 0x15, 0x48, 0xb8, 0xdc, //    vfmadd231ps %zmm12,%zmm13,%zmm11
    0x48, 0xff, 0xcf, //                      dec    %rdi
    0x75, 0xb3, //                            jnz    1b
    0xc5, 0xf8, 0x77, //                   2: vzeroupper        (no AVX-SSE transition penalty for the caller)
    0xc3, //                                  ret
  ],
};

/** void fma256(uint64_t n): the same loop on ymm0..ymm11 (AVX2/FMA3, VEX-encoded). */
const FMA256: FmaKernel = {
  name: 'AVX2 FMA', width: 256, lanes: 8, fmasPerIteration: 12,
  code: [
    0xc5, 0xf8, 0x57, 0xc0, //             vxorps %xmm0,%xmm0,%xmm0
    0xc5, 0xf0, 0x57, 0xc9, //             vxorps %xmm1,%xmm1,%xmm1
    0xc5, 0xe8, 0x57, 0xd2, //             vxorps %xmm2,%xmm2,%xmm2
    0xc5, 0xe0, 0x57, 0xdb, //             vxorps %xmm3,%xmm3,%xmm3
    0xc5, 0xd8, 0x57, 0xe4, //             vxorps %xmm4,%xmm4,%xmm4
    0xc5, 0xd0, 0x57, 0xed, //             vxorps %xmm5,%xmm5,%xmm5
    0xc5, 0xc8, 0x57, 0xf6, //             vxorps %xmm6,%xmm6,%xmm6
    0xc5, 0xc0, 0x57, 0xff, //             vxorps %xmm7,%xmm7,%xmm7
    0xc4, 0x41, 0x38, 0x57, 0xc0, //       vxorps %xmm8,%xmm8,%xmm8
    0xc4, 0x41, 0x30, 0x57, 0xc9, //       vxorps %xmm9,%xmm9,%xmm9
    0xc4, 0x41, 0x28, 0x57, 0xd2, //       vxorps %xmm10,%xmm10,%xmm10
    0xc4, 0x41, 0x20, 0x57, 0xdb, //       vxorps %xmm11,%xmm11,%xmm11
    0xc4, 0x41, 0x18, 0x57, 0xe4, //       vxorps %xmm12,%xmm12,%xmm12
    0xc4, 0x41, 0x10, 0x57, 0xed, //       vxorps %xmm13,%xmm13,%xmm13
    0x48, 0x85, 0xff, //                   test   %rdi,%rdi
    0x74, 0x41, //                         jz     2f
    0xc4, 0xc2, 0x15, 0xb8, 0xc4, //      1: vfmadd231ps %ymm12,%ymm13,%ymm0
    0xc4, 0xc2, 0x15, 0xb8, 0xcc, //         vfmadd231ps %ymm12,%ymm13,%ymm1
    0xc4, 0xc2, 0x15, 0xb8, 0xd4, //         vfmadd231ps %ymm12,%ymm13,%ymm2
    0xc4, 0xc2, 0x15, 0xb8, 0xdc, //         vfmadd231ps %ymm12,%ymm13,%ymm3
    0xc4, 0xc2, 0x15, 0xb8, 0xe4, //         vfmadd231ps %ymm12,%ymm13,%ymm4
    0xc4, 0xc2, 0x15, 0xb8, 0xec, //         vfmadd231ps %ymm12,%ymm13,%ymm5
    0xc4, 0xc2, 0x15, 0xb8, 0xf4, //         vfmadd231ps %ymm12,%ymm13,%ymm6
    0xc4, 0xc2, 0x15, 0xb8, 0xfc, //         vfmadd231ps %ymm12,%ymm13,%ymm7
    0xc4, 0x42, 0x15, 0xb8, 0xc4, //         vfmadd231ps %ymm12,%ymm13,%ymm8
    0xc4, 0x42, 0x15, 0xb8, 0xcc, //         vfmadd231ps %ymm12,%ymm13,%ymm9
    0xc4, 0x42, 0x15, 0xb8, 0xd4, //         vfmadd231ps %ymm12,%ymm13,%ymm10
    0xc4, 0x42, 0x15, 0xb8, 0xdc, //         vfmadd231ps %ymm12,%ymm13,%ymm11
    0x48, 0xff, 0xcf, //                     dec    %rdi
    0x75, 0xbf, //                           jnz    1b
    0xc5, 0xf8, 0x77, //                  2: vzeroupper
    0xc3, //                                 ret
  ],
};

/**
 * void fma128(uint64_t n): the same loop on xmm0..xmm11, the width WebAssembly SIMD has. Its bytes
 * are FMA256's with VEX.L = 0 (third byte of each vfmadd231ps 0x15 -> 0x11, 0x15 being
 * W=0 vvvv=~ymm13 L=1 pp=01).
 */
const FMA128: FmaKernel = {
  name: '128-bit FMA', width: 128, lanes: 4, fmasPerIteration: 12,
  code: FMA256.code.map((byte, i, code) => (i >= 2 && code[i - 2] === 0xc4 && (code[i - 1] === 0xc2 || code[i - 1] === 0x42) && byte === 0x15 ? 0x11 : byte)),
};

// Linux x86-64 values (asm-generic/mman-common.h).
const PROT_READ = 0x1, PROT_WRITE = 0x2, PROT_EXEC = 0x4, MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20;
const MAP_FAILED = (1n << 64n) - 1n;
const PAGE = 4096;

/** Each timed run lasts about this long: long enough to swamp timer and FFI-call overhead, short enough to keep the probe near 0.1 s. */
const RUN_SECONDS = 0.025;
const TIMED_RUNS = 4;

type Koffi = typeof import('koffi');

/**
 * The kernel this CPU can run, from /proc/cpuinfo's flags. Linux drops avx512f / avx from the flags
 * when the kernel does not save that register state (XCR0), so a listed flag is safe to execute.
 */
export function pickKernel(cpuinfo: string): FmaKernel | string {
  const flags = /flags\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.split(' ') ?? [];
  if (flags.includes('avx512f')) return FMA512;
  if (flags.includes('avx') && flags.includes('fma')) return FMA256;
  return 'CPU has neither avx512f nor avx+fma';
}

let cached: FmaProbe | undefined;

/**
 * One core's float32 FMA peak, measured once per process. FLOP = iterations x 12 x lanes x 2.
 * A short calibration run (which also lets the core reach its AVX clock) sizes the timed runs to
 * ~25 ms each; the best of four is kept, as other load only ever slows a run down.
 */
export function probeFma(): FmaProbe {
  if (cached !== undefined) return cached;
  if (process.env['FURNACE_FMA_PROBE'] === '0') return (cached = { ok: false, reason: 'disabled by FURNACE_FMA_PROBE=0' });
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return (cached = { ok: false, reason: `no FMA probe for ${process.platform}/${process.arch} (x86-64 Linux only)` });
  }
  let cpuinfo: string;
  try {
    cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  } catch (e) {
    return (cached = { ok: false, reason: `/proc/cpuinfo not readable: ${(e as Error).message}` });
  }
  const kernel = pickKernel(cpuinfo);
  if (typeof kernel === 'string') return (cached = { ok: false, reason: kernel });
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch (e) {
    return (cached = { ok: false, reason: `koffi FFI not loadable: ${(e as Error).message.split('\n')[0]}` });
  }
  try {
    return (cached = { ok: true, fma: run(koffi, kernel, FMA128) });
  } catch (e) {
    return (cached = { ok: false, reason: `FMA probe failed: ${(e as Error).message}` });
  }
}

/** Times `kernel` (the widest) and `narrow` (128-bit), each from its own mapping. */
function run(koffi: Koffi, kernel: FmaKernel, narrow: FmaKernel): FmaMeasurement {
  const t0 = performance.now();
  let libc: ReturnType<Koffi['load']> | undefined;
  for (const name of ['libc.so.6', 'libc.so']) {
    try {
      libc = koffi.load(name);
      break;
    } catch {
      // try the next name
    }
  }
  if (libc === undefined) throw new Error('libc not loadable (tried libc.so.6, libc.so)');
  const mmap = libc.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)');
  const mprotect = libc.func('int mprotect(void *addr, size_t length, int prot)');
  const munmap = libc.func('int munmap(void *addr, size_t length)');
  const proto = koffi.proto('void', ['uint64_t']);
  const rate = (k: FmaKernel): number => {
    const bytes = Math.ceil(k.code.length / PAGE) * PAGE;
    const mem: unknown = mmap(null, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem === null || koffi.address(mem) === MAP_FAILED) throw new Error(`mmap refused (errno ${koffi.errno()})`);
    try {
      new Uint8Array(koffi.view(mem, k.code.length)).set(k.code);
      if (mprotect(mem, bytes, PROT_READ | PROT_EXEC) !== 0) throw new Error(`mprotect(READ|EXEC) refused (errno ${koffi.errno()})`);
      return bestRate(koffi, mem, proto, k);
    } finally {
      munmap(mem, bytes);
    }
  };
  const perCoreFlops = rate(kernel), perCoreSimd128Flops = rate(narrow);
  return { kernel: kernel.name, width: kernel.width, perCoreFlops, perCoreSimd128Flops, runs: TIMED_RUNS,
    probeSeconds: (performance.now() - t0) / 1e3 };
}

/** Best FLOP/s of TIMED_RUNS calls of the kernel at `fn`, each sized to ~RUN_SECONDS. */
function bestRate(koffi: Koffi, fn: unknown, proto: ReturnType<Koffi['proto']>, kernel: FmaKernel): number {
  const seconds = (n: number): number => {
    const start = process.hrtime.bigint();
    koffi.call(fn, proto, n);
    return Number(process.hrtime.bigint() - start) / 1e9;
  };
  // Calibrate: grow n until one call takes >= 2 ms (covers the AVX clock ramp and the call's fixed cost).
  let n = 1 << 16, t = seconds(n);
  while (t < 0.002) {
    n *= 4;
    t = seconds(n);
  }
  const iterations = Math.max(1, Math.round((n / t) * RUN_SECONDS));
  let best = Infinity;
  for (let i = 0; i < TIMED_RUNS; i++) best = Math.min(best, seconds(iterations));
  return (iterations * kernel.fmasPerIteration * kernel.lanes * 2) / best;
}
