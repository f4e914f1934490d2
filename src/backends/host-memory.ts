// Host memory for tensors beyond the wasm heap: one SharedArrayBuffer per block, size classes, free lists.
//
// Blocks are ordinary (shared) memory of any size, bounded by the machine rather than by the
// 32-bit heap. V8 never moves a backing store, so FFI kernels (OpenBLAS, the generated GEMM) work
// on them in place; wasm kernels see them only through a staging window (wasm.ts). Freed blocks
// go to their class's free list, as in the heap, so a training loop reaches a fixed footprint.
import { sizeClass } from './wasm-heap.js';

export interface HostStats {
  /** Bytes in live blocks (size-class rounded). */
  liveBytes: number;
  /** Bytes of every block ever made (live + free lists): what the process holds. */
  reservedBytes: number;
}

export class HostMemory {
  private readonly freeLists = new Map<number, SharedArrayBuffer[]>();
  /** Every block's buffer and its class: a view's buffer identifies its block. */
  private readonly blocks = new WeakMap<ArrayBufferLike, number>();
  private readonly live = new WeakSet<ArrayBufferLike>();
  private liveBytes = 0;
  private reservedBytes = 0;

  /** True when `a` is a view of a block from this pool. */
  owns(a: ArrayBufferView): boolean {
    return this.blocks.has(a.buffer);
  }

  /** A Float32Array of n elements on its own block; zero-filled unless `empty` (reused blocks hold old values). */
  alloc(n: number, empty = false): Float32Array {
    const size = sizeClass(n * 4);
    let buf = this.freeLists.get(size)?.pop();
    const reused = buf !== undefined;
    if (buf === undefined) {
      buf = new SharedArrayBuffer(size); // zero-filled by the runtime, pages mapped on first touch
      this.blocks.set(buf, size);
      this.reservedBytes += size;
    }
    this.live.add(buf);
    this.liveBytes += size;
    const a = new Float32Array(buf, 0, n);
    if (reused && !empty) a.fill(0);
    return a;
  }

  /** Returns a block and its size; views of other memory, and blocks freed already, are ignored (0). */
  free(a: Float32Array): number {
    const buf = a.buffer;
    const size = this.blocks.get(buf);
    if (size === undefined || !this.live.has(buf) || !(buf instanceof SharedArrayBuffer)) return 0;
    this.live.delete(buf);
    this.liveBytes -= size;
    let list = this.freeLists.get(size);
    if (list === undefined) this.freeLists.set(size, (list = []));
    list.push(buf);
    return size;
  }

  /** Drops the free lists, so that their blocks go back to the system once collected; returns the bytes dropped. */
  trim(): number {
    let bytes = 0;
    for (const [size, list] of this.freeLists) bytes += size * list.length;
    this.freeLists.clear();
    this.reservedBytes -= bytes;
    return bytes;
  }

  stats(): HostStats {
    return { liveBytes: this.liveBytes, reservedBytes: this.reservedBytes };
  }
}
