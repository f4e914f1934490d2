// The default backend: AssemblyScript SIMD kernels on one shared WebAssembly.Memory that holds every tensor.
import { BINARY_OPS, UNARY_OPS, type Backend, type BackendName, type BiasActivation, type BinaryOp, type GemmArgs,
  type ReduceOp, type UnaryOp } from './backend.js';
import { instantiate, kernelModule, relaxedSimd, sharedMemory, type KernelExports } from './wasm-module.js';
import { WasmHeap, type HeapStats } from './wasm-heap.js';
import { GemmPool } from './gemm-pool.js';
import type { WasmMemory } from './wasm-api.js';

export interface WasmOptions {
  /** Use the relaxed-SIMD (FMA) build when the runtime supports it. Default true. */
  relaxed?: boolean;
  /** Threads for one GEMM (1 = this thread only; more start workers on the same memory). Default 1. */
  threads?: number;
}

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
    this.threads = Math.max(1, Math.floor(opts.threads ?? 1));
    this.pool = this.threads > 1 ? new GemmPool(mod, this.memory, this.threads - 1, this.k.gemmScratchFloats(), (b) => this.heap.alloc(b).ptr) : undefined;
  }

  alloc(n: number): Float32Array {
    const { ptr, reused } = this.heap.alloc(n * 4);
    const a = new Float32Array(this.memory.buffer, ptr, n);
    if (reused) this.k.fill(ptr, 0, n);
    return a;
  }

  allocEmpty(n: number): Float32Array {
    const { ptr } = this.heap.alloc(n * 4); // may grow the memory: read .buffer after it
    return new Float32Array(this.memory.buffer, ptr, n);
  }

  free(a: Float32Array): void {
    if (this.heap.owns(a)) this.heap.free(a.byteOffset);
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
    const a = this.ptr(g.a), b = this.ptr(g.b), c = this.ptr(g.c, true);
    const args = [g.transA ? 1 : 0, g.transB ? 1 : 0, g.m, g.n, g.k, g.alpha, g.beta, a, g.lda, g.strideA,
      b, g.ldb, g.strideB, c, g.ldc, g.strideC, g.batch] as const;
    if (this.pool !== undefined && this.pool.worthSplitting(g.m, g.n, g.k, g.batch)) this.pool.gemm(this.k, this.scratch, g, a, b, c);
    else this.k.gemm(...args, this.scratch);
    this.settle();
  }

  unary(op: UnaryOp, x: Float32Array, out: Float32Array): void {
    this.k.unary(UNARY_CODE.get(op)!, this.ptr(x), this.ptr(out, true), out.length);
    this.settle();
  }

  biasActivation(x: Float32Array, bias: Float32Array, rows: number, n: number, act: BiasActivation | null,
    out: Float32Array): void {
    if (x.length < rows * n || out.length < rows * n || bias.length < n) throw new RangeError(`biasActivation: arrays shorter than (${rows}, ${n})`);
    this.k.biasActivation(act === null ? -1 : UNARY_CODE.get(act)!, this.ptr(x), this.ptr(bias), rows, n, this.ptr(out, true));
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
    const nd = dims.length;
    const meta = new Int32Array(this.memory.buffer, this.meta, 1 + 4 * nd);
    meta[0] = nd;
    dims.forEach(([s, sa, sb], d) => { meta[1 + d] = s; meta[1 + nd + d] = sa; meta[1 + 2 * nd + d] = sb; });
    this.k.binary(BINARY_CODE.get(op)!, this.ptr(a), this.ptr(b), this.ptr(out, true), this.meta);
    this.settle();
  }

  affine(x: Float32Array, alpha: number, beta: number, out: Float32Array): void {
    this.k.affine(this.ptr(x), alpha, beta, this.ptr(out, true), out.length);
    this.settle();
  }

  powScalar(x: Float32Array, p: number, out: Float32Array): void {
    this.k.powScalar(this.ptr(x), p, this.ptr(out, true), out.length);
    this.settle();
  }

  fill(out: Float32Array, value: number): void {
    this.k.fill(this.ptr(out, true), value, out.length);
    this.settle();
  }

  reduce(op: ReduceOp, x: Float32Array, outer: number, n: number, inner: number, out: Float32Array): void {
    this.k.reduce(op === 'sum' ? 0 : 1, this.ptr(x), outer, n, inner, this.ptr(out, true));
    this.settle();
  }

  sumSquares(x: Float32Array): number {
    const s = this.k.sumSquares(this.ptr(x), x.length);
    this.settle();
    return s;
  }

  softmax(x: Float32Array, rows: number, n: number, out: Float32Array): void {
    this.k.softmax(this.ptr(x), rows, n, this.ptr(out, true));
    this.settle();
  }

  logSoftmax(x: Float32Array, rows: number, n: number, out: Float32Array): void {
    this.k.logSoftmax(this.ptr(x), rows, n, this.ptr(out, true));
    this.settle();
  }

  softmaxBackward(y: Float32Array, dy: Float32Array, rows: number, n: number, dx: Float32Array): void {
    this.k.softmaxBackward(this.ptr(y), this.ptr(dy), rows, n, this.ptr(dx, true));
    this.settle();
  }

  causalSoftmax(x: Float32Array, rows: number, t: number, out: Float32Array): void {
    if (x.length < rows * t || out.length < rows * t) throw new RangeError(`causalSoftmax: arrays shorter than (${rows}, ${t})`);
    this.k.causalSoftmax(this.ptr(x), rows, t, this.ptr(out, true));
    this.settle();
  }

  causalSoftmaxBackward(y: Float32Array, dy: Float32Array, rows: number, t: number, scale: number, dx: Float32Array): void {
    if (y.length < rows * t || dy.length < rows * t || dx.length < rows * t) throw new RangeError(`causalSoftmaxBackward: arrays shorter than (${rows}, ${t})`);
    this.k.causalSoftmaxBackward(this.ptr(y), this.ptr(dy), rows, t, scale, this.ptr(dx, true));
    this.settle();
  }

  rope(x: Float32Array, rows: number, t: number, start: number, heads: number, d: number, cos: Float32Array,
    sin: Float32Array, inverse: boolean, out: Float32Array): void {
    const n = rows * heads * 3 * d, tab = (start + Math.min(rows, t)) * (d / 2);
    if (d % 2 !== 0) throw new RangeError(`rope: head dim ${d} is odd`);
    if (x.length < n || out.length < n) throw new RangeError(`rope: arrays shorter than (${rows}, ${heads * 3 * d})`);
    if (cos.length < tab || sin.length < tab) throw new RangeError(`rope: tables hold fewer than ${start + Math.min(rows, t)} positions`);
    this.k.rope(this.ptr(x), rows, t, start, heads, d, this.ptr(cos), this.ptr(sin), inverse ? 1 : 0, this.ptr(out, true));
    this.settle();
  }

  logSoftmaxBackward(y: Float32Array, dy: Float32Array, rows: number, n: number, dx: Float32Array): void {
    this.k.logSoftmaxBackward(this.ptr(y), this.ptr(dy), rows, n, this.ptr(dx, true));
    this.settle();
  }

  crossEntropyForward(logits: Float32Array, targets: Int32Array, rows: number, n: number,
    loss: Float32Array, probs: Float32Array): void {
    const t = this.indices(targets, rows, n, true);
    this.k.crossEntropyForward(this.ptr(logits), t, rows, n, this.ptr(loss, true), this.ptr(probs, true));
    this.settle();
  }

  crossEntropyBackward(probs: Float32Array, targets: Int32Array, rows: number, n: number, scale: number,
    dlogits: Float32Array): void {
    const t = this.indices(targets, rows, n, true);
    this.k.crossEntropyBackward(this.ptr(probs), t, rows, n, scale, this.ptr(dlogits, true));
    this.settle();
  }

  rmsnormForward(x: Float32Array, w: Float32Array, rows: number, n: number, eps: number,
    y: Float32Array, rstd: Float32Array): void {
    this.k.rmsnormForward(this.ptr(x), this.ptr(w), rows, n, eps, this.ptr(y, true), this.ptr(rstd, true));
    this.settle();
  }

  rmsnormBackward(x: Float32Array, w: Float32Array, rstd: Float32Array, dy: Float32Array, rows: number,
    n: number, dx: Float32Array, dw: Float32Array): void {
    this.k.rmsnormBackward(this.ptr(x), this.ptr(w), this.ptr(rstd), this.ptr(dy), rows, n, this.ptr(dx, true), this.ptr(dw, true));
    this.settle();
  }

  gatherRows(src: Float32Array, idx: Int32Array, n: number, out: Float32Array): void {
    if (idx.length === 0 || n === 0) return;
    const ip = this.indices(idx, idx.length, Math.floor(src.length / n), false);
    this.k.gatherRows(this.ptr(src), ip, idx.length, n, this.ptr(out, true));
    this.settle();
  }

  scatterAddRows(dst: Float32Array, idx: Int32Array, n: number, src: Float32Array): void {
    if (idx.length === 0 || n === 0) return;
    const ip = this.indices(idx, idx.length, Math.floor(dst.length / n), false);
    this.k.scatterAddRows(this.ptr(dst, true), ip, idx.length, n, this.ptr(src));
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
    this.k.permute(this.ptr(x), this.ptr(out, true), this.meta);
    this.settle();
  }

  adamw(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, lr: number, b1: number,
    b2: number, eps: number, wd: number, bc1: number, bc2: number): void {
    this.k.adamw(this.ptr(p, true), this.ptr(g), this.ptr(m, true), this.ptr(v, true), p.length, lr, b1, b2, eps, wd, bc1, bc2);
    this.settle();
  }

  /** Byte offset of `a` in wasm memory; arrays from elsewhere are copied in (and back when written). */
  protected ptr(a: Float32Array, written = false): number {
    if (this.heap.owns(a)) return a.byteOffset;
    const { ptr } = this.heap.alloc(a.byteLength);
    new Float32Array(this.memory.buffer, ptr, a.length).set(a);
    this.staged.push([a, ptr, written]);
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
  }
}
