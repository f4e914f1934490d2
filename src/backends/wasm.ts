// The default backend: AssemblyScript SIMD kernels on one shared WebAssembly.Memory, with host memory beyond it.
//
// Tensors live in the 32-bit wasm heap while it has room (kernels address them in place); past
// `heapLimit` the allocator hands out host memory (host-memory.ts), which the kernels reach
// through a staging window at the top of the heap: element-wise kernels stream it in chunks,
// others copy whole arrays in for one call. Weights and optimizer state ('model' lifetime) take
// at most half of the limit, so activations keep the fast path in large models.
import { BINARY_OPS, UNARY_OPS, type Backend, type BackendName, type BiasActivation, type BinaryOp, type GemmArgs,
  type Lifetime, type MemoryUse, type ReduceOp, type UnaryOp } from './backend.js';
import { HostMemory } from './host-memory.js';
import { instantiate, kernelModule, relaxedSimd, sharedMemory, type KernelExports } from './wasm-module.js';
import { WasmHeap, sizeClass, type HeapStats } from './wasm-heap.js';
import { GemmPool } from './gemm-pool.js';
import type { WasmMemory } from './wasm-api.js';

export interface WasmOptions {
  /** Use the relaxed-SIMD (FMA) build when the runtime supports it. Default true. */
  relaxed?: boolean;
  /** Threads for one GEMM (1 = this thread only; more start workers on the same memory). Default 1. */
  threads?: number;
  /** Bytes of tensors the wasm heap holds before host memory is used. Default heapLimit(). */
  heapLimit?: number;
}

/** The wasm32 heap: 65536 pages of 64 KiB. */
export const WASM_MEMORY_BYTES = 2 ** 32;
/** Kept free at the top of the heap for staging host arrays (chunks, or whole arrays of a non-streamed kernel). */
export const STAGING_RESERVE = 512 * 2 ** 20;
/** Elements per chunk when an element-wise kernel streams host arrays (256 KiB per array: cache-sized). */
const CHUNK = 1 << 16;

/**
 * Tensor bytes a wasm heap holds before host memory: FURNACE_HEAP_LIMIT_MIB when set (tests and
 * benchmarks of the host path), else the heap less the staging reserve.
 */
export function heapLimit(): number {
  const env = Number(process.env['FURNACE_HEAP_LIMIT_MIB']);
  if (Number.isFinite(env) && env > 0) return Math.min(env * 2 ** 20, WASM_MEMORY_BYTES - STAGING_RESERVE);
  return WASM_MEMORY_BYTES - STAGING_RESERVE;
}

/** How a kernel uses an array: reads it, overwrites all of it, or reads and writes it. */
type Access = 'read' | 'write' | 'update';

const UNARY_CODE = new Map<UnaryOp, number>(UNARY_OPS.map((o, i) => [o, i]));
const BINARY_CODE = new Map<BinaryOp, number>(BINARY_OPS.map((o, i) => [o, i]));
const META_INTS = 32;

/** Extent in elements that a batched strided matrix (rows x cols, row stride ld) needs. */
export function matrixExtent(rows: number, cols: number, ld: number, stride: number, batch: number): number {
  if (rows === 0 || cols === 0 || batch === 0) return 0;
  return (batch - 1) * stride + (rows - 1) * ld + cols;
}

/** Checks a GEMM's arguments against the arrays' lengths (a wrong ld would corrupt other tensors). */
export function checkGemm(g: GemmArgs): void {
  const [ar, ac] = g.transA ? [g.k, g.m] : [g.m, g.k];
  const [br, bc] = g.transB ? [g.n, g.k] : [g.k, g.n];
  const need = (what: string, len: number, rows: number, cols: number, ld: number, stride: number): void => {
    if (ld < cols && rows > 1) throw new RangeError(`gemm: ld${what} ${ld} < ${cols} columns`);
    const ext = matrixExtent(rows, cols, ld, stride, g.batch);
    if (ext > len) throw new RangeError(`gemm: ${what} needs ${ext} elements, has ${len}`);
  };
  need('a', g.a.length, ar, ac, g.lda, g.strideA);
  need('b', g.b.length, br, bc, g.ldb, g.strideB);
  need('c', g.c.length, g.m, g.n, g.ldc, g.strideC);
}

export class WasmBackend implements Backend {
  readonly name: BackendName = 'wasm';
  readonly relaxed: boolean;
  readonly threads: number;
  readonly memory: WasmMemory;
  protected readonly k: KernelExports;
  protected readonly heap: WasmHeap;
  protected readonly host = new HostMemory();
  /** Tensor bytes the heap holds before host memory is used (see heapLimit()). */
  readonly heapLimit: number;
  private lifetime: Lifetime = 'step';
  private heapTensorBytes = 0;
  private peakBytes = 0;
  private stagedBytes = 0;
  private stagingPeakBytes = 0;
  private readonly scratch: number;
  private readonly meta: number;
  private readonly pool: GemmPool | undefined;
  /** Foreign arrays staged into wasm memory for one kernel call: [array, ptr, copy back]. */
  private staged: [Float32Array | Int32Array, number, boolean][] = [];

  constructor(opts: WasmOptions = {}) {
    this.relaxed = (opts.relaxed ?? true) && relaxedSimd().enabled;
    const mod = kernelModule(this.relaxed);
    this.memory = sharedMemory();
    this.k = instantiate(mod, this.memory);
    this.heap = new WasmHeap(this.memory, this.k.heapBase());
    this.scratch = this.heap.alloc(this.k.gemmScratchFloats() * 4).ptr;
    this.meta = this.heap.alloc(META_INTS * 4).ptr;
    this.heapLimit = opts.heapLimit ?? heapLimit();
    this.threads = Math.max(1, Math.floor(opts.threads ?? 1));
    this.pool = this.threads > 1 ? new GemmPool(mod, this.memory, this.threads - 1, this.k.gemmScratchFloats(), (b) => this.heap.alloc(b).ptr) : undefined;
  }

  alloc(n: number): Float32Array {
    return this.allocTensor(n, false);
  }

  allocEmpty(n: number): Float32Array {
    return this.allocTensor(n, true);
  }

  free(a: Float32Array): void {
    if (this.heap.owns(a)) this.heapTensorBytes -= this.heap.free(a.byteOffset);
    else this.host.free(a);
  }

  /** True when `a` lives in the wasm heap (kernels address it in place), false for host memory. */
  inHeap(a: ArrayBufferView): boolean {
    return this.heap.owns(a);
  }

  setLifetime(l: Lifetime): Lifetime {
    const prev = this.lifetime;
    this.lifetime = l;
    return prev;
  }

  memoryUse(): MemoryUse {
    const hostBytes = this.host.stats().liveBytes;
    return { liveBytes: this.heapTensorBytes + hostBytes, peakBytes: this.peakBytes, stagingPeakBytes: this.stagingPeakBytes,
      heapBytes: this.heapTensorBytes, hostBytes, reservedBytes: this.memory.buffer.byteLength + this.host.stats().reservedBytes };
  }

  /** Host blocks on the free lists go back to the system (the heap cannot shrink). */
  trim(): void {
    this.host.trim();
  }

  resetPeak(): void {
    this.peakBytes = this.heapTensorBytes + this.host.stats().liveBytes;
    this.stagingPeakBytes = 0;
  }

  /** A tensor in the heap while it has room under the limit for this lifetime, else in host memory. */
  private allocTensor(n: number, empty: boolean): Float32Array {
    const limit = this.lifetime === 'model' ? this.heapLimit / 2 : this.heapLimit;
    let a: Float32Array;
    const block = this.heap.alloc(n * 4, limit); // may grow the memory: read .buffer after it
    if (block !== undefined) {
      a = new Float32Array(this.memory.buffer, block.ptr, n);
      if (block.reused && !empty) this.k.fill(block.ptr, 0, n);
      this.heapTensorBytes += sizeClass(n * 4);
    } else {
      a = this.host.alloc(n, empty);
    }
    this.peakBytes = Math.max(this.peakBytes, this.heapTensorBytes + this.host.stats().liveBytes);
    return a;
  }

  /** Resolves when the GEMM worker threads (if any) are running. */
  get ready(): Promise<void> {
    return this.pool?.ready ?? Promise.resolve();
  }

  /** Memory accounting, to check that a training loop does not grow step over step. */
  memoryStats(): HeapStats {
    return this.heap.stats();
  }

  /** Stops the GEMM worker threads (if any). The backend stays usable single-threaded. */
  close(): void {
    this.pool?.close();
  }

  gemm(g: GemmArgs): void {
    checkGemm(g);
    if (g.m === 0 || g.n === 0 || g.batch === 0) return;
    const a = this.ptr(g.a), b = this.ptr(g.b), c = this.ptr(g.c, 'update');
    const args = [g.transA ? 1 : 0, g.transB ? 1 : 0, g.m, g.n, g.k, g.alpha, g.beta, a, g.lda, g.strideA,
      b, g.ldb, g.strideB, c, g.ldc, g.strideC, g.batch] as const;
    if (this.pool !== undefined && this.pool.worthSplitting(g.m, g.n, g.k, g.batch)) this.pool.gemm(this.k, this.scratch, g, a, b, c);
    else this.k.gemm(...args, this.scratch);
    this.settle();
  }

  unary(op: UnaryOp, x: Float32Array, out: Float32Array): void {
    const code = UNARY_CODE.get(op)!;
    this.stream(out.length, [x, out], (lo, hi) => this.k.unary(code, this.ptr(x.subarray(lo, hi)), this.ptr(out.subarray(lo, hi), 'write'), hi - lo));
  }

  biasActivation(x: Float32Array, bias: Float32Array, rows: number, n: number, act: BiasActivation | null,
    out: Float32Array): void {
    if (x.length < rows * n || out.length < rows * n || bias.length < n) throw new RangeError(`biasActivation: arrays shorter than (${rows}, ${n})`);
    this.k.biasActivation(act === null ? -1 : UNARY_CODE.get(act)!, this.ptr(x), this.ptr(bias), rows, n, this.ptr(out, 'update'));
    this.settle();
  }

  binary(op: BinaryOp, a: Float32Array, aStrides: readonly number[], b: Float32Array,
    bStrides: readonly number[], out: Float32Array, shape: readonly number[]): void {
    if (out.length === 0) return;
    // Collapse the iteration space: drop size-1 axes, merge axes that are contiguous in a and b.
    const dims: [number, number, number][] = [];
    for (let d = 0; d < shape.length; d++) {
      if (shape[d] === 1) continue;
      const cur: [number, number, number] = [shape[d]!, aStrides[d]!, bStrides[d]!];
      const prev = dims[dims.length - 1];
      if (prev !== undefined && prev[1] === cur[1] * cur[0] && prev[2] === cur[2] * cur[0]) {
        prev[0] *= cur[0];
        prev[1] = cur[1];
        prev[2] = cur[2];
      } else dims.push(cur);
    }
    if (dims.length === 0) dims.push([1, 0, 0]);
    if (dims.length > 6) throw new RangeError(`binary: at most 6 dims, got ${dims.length}`);
    const [d0] = dims;
    if (dims.length === 1 && d0 !== undefined && d0[1] <= 1 && d0[2] <= 1) {
      // One flat axis (a and b contiguous or scalar): streamed, so host arrays go through in chunks.
      const code = BINARY_CODE.get(op)!, [, sa, sb] = d0;
      this.stream(out.length, [a, b, out], (lo, hi) => {
        const meta = new Int32Array(this.memory.buffer, this.meta, 4);
        meta.set([1, hi - lo, sa, sb]);
        this.k.binary(code, this.ptr(sa === 0 ? a.subarray(0, 1) : a.subarray(lo, hi)), this.ptr(sb === 0 ? b.subarray(0, 1) : b.subarray(lo, hi)),
          this.ptr(out.subarray(lo, hi), 'write'), this.meta);
      });
      return;
    }
    const nd = dims.length;
    const meta = new Int32Array(this.memory.buffer, this.meta, 1 + 4 * nd);
    meta[0] = nd;
    dims.forEach(([s, sa, sb], d) => { meta[1 + d] = s; meta[1 + nd + d] = sa; meta[1 + 2 * nd + d] = sb; });
    this.k.binary(BINARY_CODE.get(op)!, this.ptr(a), this.ptr(b), this.ptr(out, 'update'), this.meta);
    this.settle();
  }

  affine(x: Float32Array, alpha: number, beta: number, out: Float32Array): void {
    this.stream(out.length, [x, out], (lo, hi) => this.k.affine(this.ptr(x.subarray(lo, hi)), alpha, beta, this.ptr(out.subarray(lo, hi), 'write'), hi - lo));
  }

  powScalar(x: Float32Array, p: number, out: Float32Array): void {
    this.stream(out.length, [x, out], (lo, hi) => this.k.powScalar(this.ptr(x.subarray(lo, hi)), p, this.ptr(out.subarray(lo, hi), 'write'), hi - lo));
  }

  fill(out: Float32Array, value: number): void {
    // Host memory is filled in place: staging would copy what is about to be overwritten.
    if (!this.heap.owns(out)) out.fill(value);
    else this.k.fill(out.byteOffset, value, out.length);
  }

  reduce(op: ReduceOp, x: Float32Array, outer: number, n: number, inner: number, out: Float32Array): void {
    this.k.reduce(op === 'sum' ? 0 : 1, this.ptr(x), outer, n, inner, this.ptr(out, 'update'));
    this.settle();
  }

  sumSquares(x: Float32Array): number {
    let s = 0;
    this.stream(x.length, [x], (lo, hi) => { s += this.k.sumSquares(this.ptr(x.subarray(lo, hi)), hi - lo); });
    return s;
  }

  softmax(x: Float32Array, rows: number, n: number, out: Float32Array): void {
    this.k.softmax(this.ptr(x), rows, n, this.ptr(out, 'update'));
    this.settle();
  }

  logSoftmax(x: Float32Array, rows: number, n: number, out: Float32Array): void {
    this.k.logSoftmax(this.ptr(x), rows, n, this.ptr(out, 'update'));
    this.settle();
  }

  softmaxBackward(y: Float32Array, dy: Float32Array, rows: number, n: number, dx: Float32Array): void {
    this.k.softmaxBackward(this.ptr(y), this.ptr(dy), rows, n, this.ptr(dx, 'update'));
    this.settle();
  }

  causalSoftmax(x: Float32Array, rows: number, t: number, out: Float32Array): void {
    if (x.length < rows * t || out.length < rows * t) throw new RangeError(`causalSoftmax: arrays shorter than (${rows}, ${t})`);
    this.k.causalSoftmax(this.ptr(x), rows, t, this.ptr(out, 'update'));
    this.settle();
  }

  causalSoftmaxBackward(y: Float32Array, dy: Float32Array, rows: number, t: number, scale: number, dx: Float32Array): void {
    if (y.length < rows * t || dy.length < rows * t || dx.length < rows * t) throw new RangeError(`causalSoftmaxBackward: arrays shorter than (${rows}, ${t})`);
    this.k.causalSoftmaxBackward(this.ptr(y), this.ptr(dy), rows, t, scale, this.ptr(dx, 'update'));
    this.settle();
  }

  rope(x: Float32Array, rows: number, t: number, start: number, heads: number, d: number, cos: Float32Array,
    sin: Float32Array, inverse: boolean, out: Float32Array): void {
    const n = rows * heads * 3 * d, tab = (start + Math.min(rows, t)) * (d / 2);
    if (d % 2 !== 0) throw new RangeError(`rope: head dim ${d} is odd`);
    if (x.length < n || out.length < n) throw new RangeError(`rope: arrays shorter than (${rows}, ${heads * 3 * d})`);
    if (cos.length < tab || sin.length < tab) throw new RangeError(`rope: tables hold fewer than ${start + Math.min(rows, t)} positions`);
    this.k.rope(this.ptr(x), rows, t, start, heads, d, this.ptr(cos), this.ptr(sin), inverse ? 1 : 0, this.ptr(out, 'update'));
    this.settle();
  }

  logSoftmaxBackward(y: Float32Array, dy: Float32Array, rows: number, n: number, dx: Float32Array): void {
    this.k.logSoftmaxBackward(this.ptr(y), this.ptr(dy), rows, n, this.ptr(dx, 'update'));
    this.settle();
  }

  crossEntropyForward(logits: Float32Array, targets: Int32Array, rows: number, n: number,
    loss: Float32Array, probs: Float32Array): void {
    const t = this.indices(targets, rows, n, true);
    this.k.crossEntropyForward(this.ptr(logits), t, rows, n, this.ptr(loss, 'update'), this.ptr(probs, 'update'));
    this.settle();
  }

  crossEntropyBackward(probs: Float32Array, targets: Int32Array, rows: number, n: number, scale: number,
    dlogits: Float32Array): void {
    const t = this.indices(targets, rows, n, true);
    this.k.crossEntropyBackward(this.ptr(probs), t, rows, n, scale, this.ptr(dlogits, 'update'));
    this.settle();
  }

  rmsnormForward(x: Float32Array, w: Float32Array, rows: number, n: number, eps: number,
    y: Float32Array, rstd: Float32Array): void {
    this.k.rmsnormForward(this.ptr(x), this.ptr(w), rows, n, eps, this.ptr(y, 'update'), this.ptr(rstd, 'update'));
    this.settle();
  }

  rmsnormBackward(x: Float32Array, w: Float32Array, rstd: Float32Array, dy: Float32Array, rows: number,
    n: number, dx: Float32Array, dw: Float32Array): void {
    this.k.rmsnormBackward(this.ptr(x), this.ptr(w), this.ptr(rstd), this.ptr(dy), rows, n, this.ptr(dx, 'update'), this.ptr(dw, 'update'));
    this.settle();
  }

  gatherRows(src: Float32Array, idx: Int32Array, n: number, out: Float32Array): void {
    if (idx.length === 0 || n === 0) return;
    const ip = this.indices(idx, idx.length, Math.floor(src.length / n), false);
    this.k.gatherRows(this.ptr(src), ip, idx.length, n, this.ptr(out, 'update'));
    this.settle();
  }

  scatterAddRows(dst: Float32Array, idx: Int32Array, n: number, src: Float32Array): void {
    if (idx.length === 0 || n === 0) return;
    const ip = this.indices(idx, idx.length, Math.floor(dst.length / n), false);
    this.k.scatterAddRows(this.ptr(dst, 'update'), ip, idx.length, n, this.ptr(src));
    this.settle();
  }

  permute(x: Float32Array, shape: readonly number[], perm: readonly number[], out: Float32Array): void {
    if (out.length === 0) return;
    const nd0 = shape.length;
    const inStrides = new Array<number>(nd0);
    let s = 1;
    for (let d = nd0 - 1; d >= 0; d--) { inStrides[d] = s; s *= shape[d]!; }
    // (out extent, input stride) per output axis; drop size-1 axes, merge runs contiguous in x.
    const dims: [number, number][] = [];
    for (const p of perm) {
      const ext = shape[p]!, st = inStrides[p]!;
      if (ext === 1) continue;
      const prev = dims[dims.length - 1];
      if (prev !== undefined && prev[1] === st * ext) { prev[0] *= ext; prev[1] = st; } else dims.push([ext, st]);
    }
    if (dims.length === 0) dims.push([1, 1]);
    const nd = dims.length;
    const meta = new Int32Array(this.memory.buffer, this.meta, 1 + 3 * nd);
    meta[0] = nd;
    dims.forEach(([e, st], d) => { meta[1 + d] = e; meta[1 + nd + d] = st; });
    this.k.permute(this.ptr(x), this.ptr(out, 'update'), this.meta);
    this.settle();
  }

  adamw(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, lr: number, b1: number,
    b2: number, eps: number, wd: number, bc1: number, bc2: number): void {
    this.stream(p.length, [p, g, m, v], (lo, hi) => {
      const at = (a: Float32Array, access: Access): number => this.ptr(a.subarray(lo, hi), access);
      this.k.adamw(at(p, 'update'), at(g, 'read'), at(m, 'update'), at(v, 'update'), hi - lo, lr, b1, b2, eps, wd, bc1, bc2);
    });
  }

  /**
   * Runs `kernel(lo, hi)` over [0, n) of element-wise arrays: at once when all of them are in the
   * heap, else in chunks, each staged through the heap by ptr and settled before the next.
   */
  private stream(n: number, arrays: readonly Float32Array[], kernel: (lo: number, hi: number) => void): void {
    const step = arrays.every((a) => this.heap.owns(a)) ? n : CHUNK;
    for (let lo = 0; lo < n; lo += step) {
      kernel(lo, Math.min(n, lo + step));
      this.settle();
    }
  }

  /**
   * Byte offset of `a` in wasm memory; arrays from elsewhere (host memory, plain arrays) are staged:
   * copied in unless the kernel overwrites them, copied back when it writes them.
   */
  protected ptr(a: Float32Array, access: Access = 'read'): number {
    if (this.heap.owns(a)) return a.byteOffset;
    const { ptr } = this.heap.alloc(a.byteLength);
    if (access !== 'write') new Float32Array(this.memory.buffer, ptr, a.length).set(a);
    this.staged.push([a, ptr, access !== 'read']);
    this.stagedBytes += sizeClass(a.byteLength);
    this.stagingPeakBytes = Math.max(this.stagingPeakBytes, this.stagedBytes);
    return ptr;
  }

  /** Copies an index array into scratch wasm memory, checking idx in [0, limit) (or -1 when allowed). */
  private indices(idx: Int32Array, count: number, limit: number, allowIgnore: boolean): number {
    if (idx.length < count) throw new RangeError(`indices: need ${count}, got ${idx.length}`);
    for (let i = 0; i < count; i++) {
      const v = idx[i]!;
      if (v >= limit || v < (allowIgnore ? -1 : 0)) throw new RangeError(`index ${v} at ${i} out of range [0, ${limit})`);
    }
    const { ptr } = this.heap.alloc(count * 4);
    new Int32Array(this.memory.buffer, ptr, count).set(idx.subarray(0, count));
    this.staged.push([idx, ptr, false]);
    return ptr;
  }

  /** Copies staged outputs back and returns the scratch blocks. */
  protected settle(): void {
    if (this.staged.length === 0) return;
    for (const [a, ptr, written] of this.staged) {
      if (written && a instanceof Float32Array) a.set(new Float32Array(this.memory.buffer, ptr, a.length));
      this.heap.free(ptr);
    }
    this.staged = [];
    this.stagedBytes = 0;
  }
}
