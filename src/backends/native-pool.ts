// Splits one native GEMM over worker threads, each running its own generated code on the shared wasm memory.
//
// The same handshake as gemm-pool.ts (Atomics on a control block per worker: SEQ posted, DONE
// finished, FAILED), and the same split (by batch, else columns, else rows: gemmPart).
import { Worker } from 'node:worker_threads';
import type { GemmArgs, Precision } from './backend.js';
import type { WasmMemory } from './wasm-api.js';
import { PartPool, gemmPart } from './gemm-pool.js';
import type { Isa } from './native-gemm.js';

/** Splits one native GEMM over worker threads, each with its own generated code. */
export class NativePool extends PartPool {
  /** `count` workers, each with a packing scratch of `scratchFloats` from `alloc` (byte offsets), running GEMMs in `precision`. */
  constructor(private readonly memory: WasmMemory, count: number, scratchFloats: number, alloc: (bytes: number) => number,
    precision: Precision = 'fp32', isa?: Isa) {
    super(memory, count, scratchFloats, alloc, (ctrl, scratch) =>
      new Worker(new URL('./native-worker.js', import.meta.url), { workerData: { memory, ctrl, scratch, scratchFloats, precision, isa } }));
  }

  /**
   * Posts parts 1.. to the workers, runs part 0 with `mine` (given the part's GemmArgs), and waits.
   * All three arrays must be views of the shared memory (byte offsets are what travels).
   */
  gemm(g: GemmArgs, mine: (part: GemmArgs) => void): void {
    const [a, b, c] = [g.a.byteOffset, g.b.byteOffset, g.c.byteOffset];
    const posted = this.post(g, a, b, c);
    const part = gemmPart(g, a, b, c, 0, this.parts, 0);
    let err: unknown;
    try {
      // Today's buffer: an array made before the memory grew holds a shorter one.
      if (part !== undefined) mine(partArgs(this.memory.buffer, part));
    } catch (e) {
      err = e;
    }
    err = this.finish(posted, err);
    if (err !== undefined) throw err;
  }
}

/** GemmArgs over `buffer` from gemmPart's tuple (byte pointers); each view ends where the buffer does. */
export function partArgs(buffer: ArrayBufferLike, p: readonly number[]): GemmArgs {
  // Pointers travel as int32 control slots: offsets past 2 GiB arrive negative, so read them unsigned.
  const at = (ptr: number): Float32Array => {
    const byte = ptr >>> 0;
    return new Float32Array(buffer, byte, Math.floor((buffer.byteLength - byte) / 4));
  };
  const n = (i: number): number => p[i]!;
  return { transA: n(0) !== 0, transB: n(1) !== 0, m: n(2), n: n(3), k: n(4), alpha: n(5), beta: n(6),
    a: at(n(7)), lda: n(8), strideA: n(9), b: at(n(10)), ldb: n(11), strideB: n(12), c: at(n(13)), ldc: n(14),
    strideC: n(15), batch: n(16) };
}
