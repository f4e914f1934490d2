// A size-class allocator over one shared WebAssembly.Memory: free lists per class, bump for new blocks.
//
// Classes: multiples of 64 bytes, 4 classes per power of two (waste <= 25% or 63 bytes, as jemalloc).
// Freed blocks go to their class's free list and are reused first, so a training loop that
// allocates the same shapes every step reaches a fixed footprint after its first step.
import type { WasmMemory } from './wasm-api.js';

const PAGE = 65536;
const ALIGN = 64;

/** Bytes actually reserved for a request of `bytes` (its size class). */
export function sizeClass(bytes: number): number {
  if (bytes <= ALIGN) return ALIGN;
  const e = 2 ** Math.floor(Math.log2(bytes - 1));
  const step = Math.max(ALIGN, e / 4);
  return Math.ceil(bytes / step) * step;
}

export interface HeapStats {
  /** Bytes in live blocks (size-class rounded). */
  liveBytes: number;
  /** Bytes between the heap base and the bump pointer (live + free lists). */
  reservedBytes: number;
  /** Bytes of the whole WebAssembly memory. */
  memoryBytes: number;
}

export class WasmHeap {
  private top: number;
  private readonly base: number;
  private readonly freeLists = new Map<number, number[]>();
  private readonly live = new Map<number, number>();
  private liveBytes = 0;
  /** Every ArrayBuffer object the memory has exposed: after grow, old views keep the old object. */
  private readonly buffers = new WeakSet<ArrayBufferLike>();

  constructor(readonly memory: WasmMemory, heapBase: number) {
    this.base = Math.ceil(heapBase / ALIGN) * ALIGN;
    this.top = this.base;
    this.buffers.add(memory.buffer);
  }

  /** True when `a` is a view of this memory (so kernels can address it without a copy). */
  owns(a: ArrayBufferView): boolean {
    return this.buffers.has(a.buffer);
  }

  /**
   * Byte offset of a block of at least `bytes`, 64-byte aligned. Reused blocks are NOT zeroed. With
   * `limit`, only a block that ends within `limit` bytes of the heap base, else undefined: tensors stay
   * below the line, and the staging blocks above it stay free for staging.
   */
  alloc(bytes: number): { ptr: number; reused: boolean };
  alloc(bytes: number, limit: number): { ptr: number; reused: boolean } | undefined;
  alloc(bytes: number, limit = Infinity): { ptr: number; reused: boolean } | undefined {
    const size = sizeClass(bytes);
    const list = this.freeLists.get(size);
    let ptr: number | undefined;
    if (list !== undefined) {
      let i = list.length - 1; // last freed first, as a stack
      while (i >= 0 && list[i]! + size - this.base > limit) i--;
      if (i >= 0) ptr = i === list.length - 1 ? list.pop() : list.splice(i, 1)[0];
    }
    const reused = ptr !== undefined;
    if (ptr === undefined) {
      if (this.top + size - this.base > limit) return undefined;
      ptr = this.top;
      this.top += size;
      this.ensure(this.top);
    }
    this.live.set(ptr, size);
    this.liveBytes += size;
    return { ptr, reused };
  }

  /** Returns a block and its size; unknown pointers (not a block start, or freed already) are ignored (0). */
  free(ptr: number): number {
    const size = this.live.get(ptr);
    if (size === undefined) return 0;
    this.live.delete(ptr);
    this.liveBytes -= size;
    let list = this.freeLists.get(size);
    if (list === undefined) this.freeLists.set(size, (list = []));
    list.push(ptr);
    return size;
  }

  stats(): HeapStats {
    return { liveBytes: this.liveBytes, reservedBytes: this.top - this.base, memoryBytes: this.memory.buffer.byteLength };
  }

  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    // Grow at least by half of the current size, so that many small allocations grow rarely.
    const need = Math.ceil((end - have) / PAGE);
    const pages = Math.max(need, Math.min(Math.ceil(have / PAGE / 2), 65536 - have / PAGE));
    try {
      this.memory.grow(pages);
    } catch {
      this.memory.grow(need);
    }
    this.buffers.add(this.memory.buffer);
  }
}
