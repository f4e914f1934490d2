// Splits one GEMM over worker threads that run the same wasm kernels on the same shared memory.
//
// Each worker owns a control block of CTRL_INTS int32 in wasm memory and its own packing scratch.
// Handshake (Atomics on the control block): the caller writes the arguments, bumps slot SEQ and
// notifies; the worker runs its part and stores the sequence number in slot DONE.
import { Worker } from 'node:worker_threads';
import type { WasmMemory, WasmModule } from './wasm-api.js';
import type { GemmArgs } from './backend.js';
import type { KernelExports } from './wasm-module.js';
import { errorMessage } from '../util/errors.js';

export const CTRL_INTS = 32;
/** Control slots: sequence number posted, sequence number done, failure flag, then the kernel arguments. */
export const SEQ = 0, DONE = 1, FAILED = 19, ARGS = 2;
/** Below this many multiply-adds a GEMM stays on one thread (waking a worker costs ~10-50 us). */
const MIN_SPLIT_MACS = 1 << 21;

/** The i-th of `parts` pieces of [0, n) in multiples of `unit` (the last piece takes the rest). */
function piece(n: number, parts: number, i: number, unit: number): [number, number] {
  const per = Math.ceil(n / parts / unit) * unit;
  return [Math.min(n, i * per), Math.min(n, (i + 1) * per)];
}

/** The wasm gemm kernel's arguments: flags, sizes, scalars, byte pointers, strides, scratch. */
export type GemmCall = Parameters<KernelExports['gemm']>;

/** The kernel arguments for part `i` of `parts` of one batched GEMM (split by batch, columns or rows). */
export function gemmPart(g: GemmArgs, a: number, b: number, c: number, scratch: number, parts: number,
  i: number): GemmCall | undefined {
  let { m, n, batch } = g;
  if (g.batch >= parts) {
    const [b0, b1] = piece(g.batch, parts, i, 1);
    batch = b1 - b0;
    a += b0 * g.strideA * 4; b += b0 * g.strideB * 4; c += b0 * g.strideC * 4;
  } else if (g.n >= g.m) {
    const [j0, j1] = piece(g.n, parts, i, 8);
    n = j1 - j0;
    b += j0 * (g.transB ? g.ldb : 1) * 4; c += j0 * 4;
  } else {
    const [i0, i1] = piece(g.m, parts, i, 4);
    m = i1 - i0;
    a += i0 * (g.transA ? 1 : g.lda) * 4; c += i0 * g.ldc * 4;
  }
  if (m <= 0 || n <= 0 || batch <= 0) return undefined;
  return [g.transA ? 1 : 0, g.transB ? 1 : 0, m, n, g.k, g.alpha, g.beta, a, g.lda, g.strideA, b, g.ldb, g.strideB,
    c, g.ldc, g.strideC, batch, scratch];
}

/**
 * Worker threads that each take one part of a split GEMM, over the handshake above. Subclasses
 * spawn their kind of worker (wasm kernels: GemmPool; generated code: NativePool) and run part 0.
 */
export class PartPool {
  private readonly workers: Worker[] = [];
  private readonly ctrl: Int32Array[] = [];
  private readonly ctrlF: Float32Array[] = [];
  private readonly seq: number[] = [];
  private online = 0;
  readonly ready: Promise<void>;

  /** `count` workers, each given its control block and a packing scratch of `scratchFloats` (byte offsets from `alloc`). */
  constructor(memory: WasmMemory, count: number, scratchFloats: number, alloc: (bytes: number) => number,
    spawn: (ctrl: number, scratch: number) => Worker) {
    const started: Promise<void>[] = [];
    for (let w = 0; w < count; w++) {
      const ctrlPtr = alloc(CTRL_INTS * 4);
      const worker = spawn(ctrlPtr, alloc(scratchFloats * 4));
      worker.unref();
      started.push(new Promise((resolve, reject) => {
        worker.once('message', (m: unknown) => {
          if (m === 'online') {
            this.online++;
            resolve();
          } else reject(new Error(`gemm worker: ${String(m)}`));
        });
        worker.once('error', reject);
      }));
      this.workers.push(worker);
      this.ctrl.push(new Int32Array(memory.buffer, ctrlPtr, CTRL_INTS));
      this.ctrlF.push(new Float32Array(memory.buffer, ctrlPtr, CTRL_INTS));
      this.seq.push(0);
    }
    this.ready = Promise.all(started).then(() => undefined);
  }

  get parts(): number {
    return this.workers.length + 1;
  }

  /** Whether every worker is up and the GEMM (m x k x n, batch) is large enough to pay for waking them. */
  worthSplitting(m: number, n: number, k: number, batch: number): boolean {
    return this.workers.length > 0 && this.online === this.workers.length && m * n * k * batch >= MIN_SPLIT_MACS;
  }

  /** Posts parts 1.. of `g` (operands at byte offsets a, b, c) to the workers; part 0 is the caller's. */
  protected post(g: GemmArgs, a: number, b: number, c: number): number[] {
    const posted: number[] = [];
    for (let w = 0; w < this.workers.length; w++) {
      const args = gemmPart(g, a, b, c, 0, this.parts, w + 1);
      if (args === undefined) continue;
      const i32 = this.ctrl[w]!, f32 = this.ctrlF[w]!;
      // alpha and beta (arguments 5 and 6) travel as float32 bits; each worker uses its own scratch.
      args.forEach((v, j) => {
        if (j === 5 || j === 6) f32[ARGS + j] = v; else i32[ARGS + j] = v;
      });
      const s = ++this.seq[w]!;
      Atomics.store(i32, SEQ, s);
      Atomics.notify(i32, SEQ);
      posted.push(w);
    }
    return posted;
  }

  /** Waits for every posted part; the first failure (the caller's own `err` first) is returned. */
  protected finish(posted: readonly number[], err?: unknown): unknown {
    for (const w of posted) {
      const i32 = this.ctrl[w]!, s = this.seq[w]!;
      let d: number;
      while ((d = Atomics.load(i32, DONE)) !== s) Atomics.wait(i32, DONE, d);
      if (Atomics.exchange(i32, FAILED, 0) !== 0) err ??= new Error(`gemm worker ${w + 1} failed on its part (see its stderr)`);
    }
    return err;
  }

  close(): void {
    this.workers.forEach((w, i) => {
      Atomics.store(this.ctrl[i]!, SEQ, -1);
      Atomics.notify(this.ctrl[i]!, SEQ);
      void w.terminate();
    });
    this.workers.length = 0;
    this.online = 0;
  }
}

/**
 * A worker's side of the handshake: waits for each posted part, runs it with the 17 kernel arguments
 * read from its control block (gemmPart's tuple without the scratch), and reports DONE, with FAILED
 * set when `run` threw (reported, not thrown: the caller is blocked waiting for DONE). Returns on close.
 */
export function serveParts(memory: WasmMemory, ctrl: number, name: string, run: (args: readonly number[]) => void): void {
  const i32 = new Int32Array(memory.buffer, ctrl, CTRL_INTS);
  const f32 = new Float32Array(memory.buffer, ctrl, CTRL_INTS);
  let seen = 0;
  for (;;) {
    Atomics.wait(i32, SEQ, seen);
    const s = Atomics.load(i32, SEQ);
    if (s < 0) break;
    if (s === seen) continue;
    seen = s;
    try {
      run(Array.from({ length: 17 }, (_, j) => (j === 5 || j === 6 ? f32[ARGS + j]! : i32[ARGS + j]!)));
    } catch (e) {
      process.stderr.write(`furnace ${name}: ${errorMessage(e)}\n`);
      Atomics.store(i32, FAILED, 1);
    }
    Atomics.store(i32, DONE, s);
    Atomics.notify(i32, DONE);
  }
}

/** Splits one GEMM of the wasm kernels over worker threads running the same kernels. */
export class GemmPool extends PartPool {
  constructor(mod: WasmModule, memory: WasmMemory, count: number, scratchFloats: number, alloc: (bytes: number) => number) {
    super(memory, count, scratchFloats, alloc, (ctrl, scratch) =>
      new Worker(new URL('./gemm-worker.js', import.meta.url), { workerData: { mod, memory, ctrl, scratch } }));
  }

  /** Runs part 0 here and parts 1.. on the workers; returns when all are done. */
  gemm(k: KernelExports, scratch: number, g: GemmArgs, a: number, b: number, c: number): void {
    const posted = this.post(g, a, b, c);
    const mine = gemmPart(g, a, b, c, scratch, this.parts, 0);
    let err: unknown;
    try {
      if (mine !== undefined) k.gemm(...mine);
    } catch (e) {
      err = e;
    }
    err = this.finish(posted, err);
    if (err !== undefined) throw err;
  }
}
