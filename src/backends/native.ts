// The native backend: GEMM by x86-64 code generated at run time (native-gemm.ts, native-run.ts) on the wasm heap or host memory; gelu in AVX-512; every other kernel from wasm.
import type { BinaryOp, GemmArgs, GroupedGemmArgs, Precision, UnaryOp } from './backend.js';
import { E, writeConsts } from './native-elementwise.js';
import { checkGrouped, groupedProblem } from './grouped-gemm.js';
import { checkGemm, WasmBackend, type WasmOptions } from './wasm.js';
import type { Isa } from './native-gemm.js';
import { NativePool } from './native-pool.js';
import { nativeCode, probeNative, type NativeCode, type NativeProbe } from './native-probe.js';
import { runGrouped, runNative, scratchFloats } from './native-run.js';

export { blocking, cacheSizes, nativeCode, NativeCode, probeNative, type Bf16Probe, type Blocking, type CacheSizes, type NativeProbe } from './native-probe.js';
export { runGemm, runGrouped, runNative, scratchFloats } from './native-run.js';

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
