// Measures one core's float32 FMA throughput with a machine-code loop called through koffi (no compiler at run time).
//
// The loop is kept below as bytes, built from the listing in loopKernel's comment (encodings as
// GNU as assembles them, AT&T syntax, checked with objdump -d). It goes into an anonymous private mapping written while
// READ|WRITE and then switched to READ|EXEC before the first call, so no page is ever writable
// and executable at once. x86-64 Linux only; anywhere else, or on any failure, the probe
// returns a reason and the caller keeps the clock-based estimate. FURNACE_FMA_PROBE=0 turns it off.
import { readFileSync } from 'node:fs';
import { ExecutableCode, loadKoffi, type Koffi } from './exec-memory.js';
import { Assembler, RDI } from './x86-asm.js';
import { errorMessage } from '../util/errors.js';

export interface FmaKernel {
  name: 'AVX-512' | 'AVX2 FMA' | '128-bit FMA' | 'AVX512_BF16';
  /** Vector width in bits. */
  width: 512 | 256 | 128;
  /** Multiply-adds per instruction: float32 lanes per register (32 for vdpbf16ps: 16 lanes x a bf16 pair). */
  lanes: 32 | 16 | 8 | 4;
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
  /** The same with vdpbf16ps (bf16 inputs, float32 sums; a pair product counts as 2 FLOP), where the CPU has AVX512_BF16. */
  perCoreBf16Flops?: number;
  /** Timed runs the best was taken from, and the wall time of the whole probe. */
  runs: number;
  probeSeconds: number;
}

export type FmaProbe = { ok: true; fma: FmaMeasurement } | { ok: false; reason: string };

/**
 * void kernel(uint64_t n): zero the registers, then n iterations of 12 independent vfmadd231ps
 * (accumulators 0..11, inputs 12 and 13). Twelve accumulators cover 2 FMA ports x 4-cycle latency
 * with room to spare, so the loop is bound by throughput, not latency. All inputs are +0.0, so no
 * denormal ever slows a pipe; the VEX-encoded xmm vxorps zeroes the whole zmm/ymm register.
 *
 *       vxorps %xmm0,%xmm0,%xmm0 ... vxorps %xmm13,%xmm13,%xmm13
 *       test   %rdi,%rdi
 *       jz     2f
 *   1:  vfmadd231ps %r12,%r13,%r0 ... vfmadd231ps %r12,%r13,%r11
 *       dec    %rdi
 *       jnz    1b
 *   2:  vzeroupper                      (no AVX-SSE transition penalty for the caller)
 *       ret
 */
function loopKernel(fmas: readonly (readonly number[])[]): number[] {
  const zero = [
    [0xc5, 0xf8, 0x57, 0xc0], [0xc5, 0xf0, 0x57, 0xc9], [0xc5, 0xe8, 0x57, 0xd2], [0xc5, 0xe0, 0x57, 0xdb], // xmm0-3
    [0xc5, 0xd8, 0x57, 0xe4], [0xc5, 0xd0, 0x57, 0xed], [0xc5, 0xc8, 0x57, 0xf6], [0xc5, 0xc0, 0x57, 0xff], // xmm4-7
    [0xc4, 0x41, 0x38, 0x57, 0xc0], [0xc4, 0x41, 0x30, 0x57, 0xc9], [0xc4, 0x41, 0x28, 0x57, 0xd2],      // xmm8-10
    [0xc4, 0x41, 0x20, 0x57, 0xdb], [0xc4, 0x41, 0x18, 0x57, 0xe4], [0xc4, 0x41, 0x10, 0x57, 0xed],      // xmm11-13
  ].flat();
  const body = fmas.flat();
  const loop = body.length + 5; // body, dec (3 bytes), jnz rel8 (2 bytes)
  if (loop > 127) throw new Error('FMA loop too long for rel8 jumps');
  return [...zero, 0x48, 0x85, 0xff, 0x74, loop, ...body, 0x48, 0xff, 0xcf, 0x75, 256 - loop, 0xc5, 0xf8, 0x77, 0xc3];
}

/** vfmadd231ps %zmm12,%zmm13,%zmmR (EVEX) for R = 0..11. */
const FMA512: FmaKernel = {
  name: 'AVX-512', width: 512, lanes: 16, fmasPerIteration: 12,
  code: loopKernel(Array.from({ length: 12 }, (_, r) => [0x62, r < 8 ? 0xd2 : 0x52, 0x15, 0x48, 0xb8, 0xc4 + 8 * (r % 8)])),
};

/**
 * vfmadd231ps %ymm12,%ymm13,%ymmR (3-byte VEX) for R = 0..11; with VEX.L = 0 (third byte 0x11
 * instead of 0x15: W=0 vvvv=~13 L pp=01) the same instruction on xmm, the width WebAssembly has.
 */
const vexFma = (l: 0 | 1) => Array.from({ length: 12 }, (_, r) => [0xc4, r < 8 ? 0xc2 : 0x42, l === 1 ? 0x15 : 0x11, 0xb8, 0xc4 + 8 * (r % 8)]);
const FMA256: FmaKernel = { name: 'AVX2 FMA', width: 256, lanes: 8, fmasPerIteration: 12, code: loopKernel(vexFma(1)) };
const FMA128: FmaKernel = { name: '128-bit FMA', width: 128, lanes: 4, fmasPerIteration: 12, code: loopKernel(vexFma(0)) };

/**
 * The same loop with 12 independent vdpbf16ps zmmR, zmm12, zmm13 (R = 0..11): 16 lanes x 2 bf16
 * products each, so 64 FLOP per instruction. Built with the assembler (its encodings are checked
 * against GNU as in x86-asm.test.ts).
 */
function bf16Kernel(): FmaKernel {
  const a = new Assembler();
  for (let r = 0; r < 14; r++) a.vzero(512, r);
  a.test(RDI, RDI);
  a.jz('end');
  a.label('loop');
  for (let r = 0; r < 12; r++) a.vdpbf16ps(r, 12, 13);
  a.dec(RDI);
  a.jnz('loop');
  a.label('end');
  a.vzeroupper();
  a.ret();
  return { name: 'AVX512_BF16', width: 512, lanes: 32, fmasPerIteration: 12, code: Array.from(a.bytes()) };
}

/** Each timed run lasts about this long: long enough to swamp timer and FFI-call overhead, short enough to keep the probe near 0.1 s. */
const RUN_SECONDS = 0.025;
const TIMED_RUNS = 4;

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
    return (cached = { ok: false, reason: `/proc/cpuinfo not readable: ${errorMessage(e)}` });
  }
  const kernel = pickKernel(cpuinfo);
  if (typeof kernel === 'string') return (cached = { ok: false, reason: kernel });
  const koffi = loadKoffi();
  if (typeof koffi === 'string') return (cached = { ok: false, reason: koffi });
  try {
    return (cached = { ok: true, fma: run(koffi, kernel, FMA128, hasBf16(cpuinfo) ? bf16Kernel() : undefined) });
  } catch (e) {
    return (cached = { ok: false, reason: `FMA probe failed: ${errorMessage(e)}` });
  }
}

/** Whether the CPU has vdpbf16ps on zmm (AVX512_BF16, listed by Linux only with AVX-512 state enabled). */
export function hasBf16(cpuinfo: string): boolean {
  const flags = /flags\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.split(' ') ?? [];
  return flags.includes('avx512f') && flags.includes('avx512_bf16');
}

/** Times `kernel` (the widest), `narrow` (128-bit) and `bf16` (if any), each from its own mapping. */
function run(koffi: Koffi, kernel: FmaKernel, narrow: FmaKernel, bf16: FmaKernel | undefined): FmaMeasurement {
  const t0 = performance.now();
  const proto = koffi.proto('void', ['uint64_t']);
  const rate = (k: FmaKernel): number => {
    const code = new ExecutableCode(koffi, k.code);
    try {
      return bestRate(koffi, code.pointer, proto, k);
    } finally {
      code.release();
    }
  };
  const perCoreFlops = rate(kernel), perCoreSimd128Flops = rate(narrow);
  return { kernel: kernel.name, width: kernel.width, perCoreFlops, perCoreSimd128Flops,
    ...(bf16 !== undefined ? { perCoreBf16Flops: rate(bf16) } : {}), runs: TIMED_RUNS, probeSeconds: (performance.now() - t0) / 1e3 };
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
