// Splits one native GEMM over worker threads, each running its own generated code on the shared wasm memory.
//
// The same handshake as gemm-pool.ts (Atomics on a control block per worker: SEQ posted, DONE
// finished, FAILED), and the same split (by batch, else columns, else rows: gemmPart).
import { Worker } from 'node:worker_threads';
import type { GemmArgs } from './backend.js';
import type { WasmMemory } from './wasm-api.js';
import { ARGS, CTRL_INTS, DONE, FAILED, gemmPart, SEQ } from './gemm-pool.js';

/** Below this many multiply-adds a GEMM stays on one thread (waking a worker costs ~10-50 us). */
const MIN_SPLIT_MACS = 1 << 21;

export class NativePool {
  private readonly workers: Worker[] = [];
  private readonly ctrl: Int32Array[] = [];
  private readonly ctrlF: Float32Array[] = [];
  private readonly seq: number[] = [];
  private online = 0;
  readonly ready: Promise<void>;

  /** `count` workers, each with a packing scratch of `scratchFloats` from `alloc` (byte offsets). */
  constructor(private readonly memory: WasmMemory, count: number, scratchFloats: number, alloc: (bytes: number) => number) {
    const started: Promise<void>[] = [];
    for (let w = 0; w < count; w++) {
      const ctrlPtr = alloc(CTRL_INTS * 4);
      const scratch = alloc(scratchFloats * 4);
      const worker = new Worker(new URL('./native-worker.js', import.meta.url), {
        workerData: { memory, ctrl: ctrlPtr, scratch, scratchFloats },
      });
      worker.unref();
      started.push(new Promise((resolve, reject) => {
        worker.once('message', (m: unknown) => {
          if (m === 'online') {
            this.online++;
            resolve();
          } else reject(new Error(`native gemm worker: ${String(m)}`));
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

  worthSplitting(g: GemmArgs): boolean {
    return this.workers.length > 0 && this.online === this.workers.length && g.m * g.n * g.k * g.batch >= MIN_SPLIT_MACS;
  }

  /**
   * Posts parts 1.. to the workers, runs part 0 with `mine` (given the part's GemmArgs), and waits.
   * All three arrays must be views of the shared memory (byte offsets are what travels).
   */
  gemm(g: GemmArgs, mine: (part: GemmArgs) => void): void {
    const parts = this.parts, [a, b, c] = [g.a.byteOffset, g.b.byteOffset, g.c.byteOffset];
    const posted: number[] = [];
    for (let w = 0; w < this.workers.length; w++) {
      const args = gemmPart(g, a, b, c, 0, parts, w + 1);
      if (args === undefined) continue;
      const i32 = this.ctrl[w]!, f32 = this.ctrlF[w]!;
      // alpha and beta (arguments 5 and 6) travel as float32 bits.
      args.forEach((v, j) => {
        if (j === 5 || j === 6) f32[ARGS + j] = v; else i32[ARGS + j] = v;
      });
      const s = ++this.seq[w]!;
      Atomics.store(i32, SEQ, s);
      Atomics.notify(i32, SEQ);
      posted.push(w);
    }
    const part = gemmPart(g, a, b, c, 0, parts, 0);
    let err: unknown;
    try {
      // Today's buffer: an array made before the memory grew holds a shorter one.
      if (part !== undefined) mine(partArgs(this.memory.buffer, part));
    } catch (e) {
      err = e;
    }
    for (const w of posted) {
      const i32 = this.ctrl[w]!, s = this.seq[w]!;
      let d: number;
      while ((d = Atomics.load(i32, DONE)) !== s) Atomics.wait(i32, DONE, d);
      if (Atomics.exchange(i32, FAILED, 0) !== 0) err ??= new Error(`native gemm worker ${w + 1} failed on its part (see its stderr)`);
    }
    if (err !== undefined) throw err;
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

/** GemmArgs over `buffer` from gemmPart's tuple (byte pointers); each view ends where the buffer does. */
export function partArgs(buffer: ArrayBufferLike, p: readonly number[]): GemmArgs {
  const at = (byte: number): Float32Array => new Float32Array(buffer, byte, (buffer.byteLength - byte) >> 2);
  const n = (i: number): number => p[i]!;
  return { transA: n(0) !== 0, transB: n(1) !== 0, m: n(2), n: n(3), k: n(4), alpha: n(5), beta: n(6),
    a: at(n(7)), lda: n(8), strideA: n(9), b: at(n(10)), ldb: n(11), strideB: n(12), c: at(n(13)), ldc: n(14),
    strideC: n(15), batch: n(16) };
}
