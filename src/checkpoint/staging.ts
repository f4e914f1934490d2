// Bounded staging memory for saves: a fixed set of equal chunks, taken, moved to a writer, given back.

/**
 * Staging chunks are plain ArrayBuffers (copying into them runs at memcpy speed, unlike shared
 * memory) that travel to an I/O worker and back by transfer, never by copy. All pages are
 * touched at creation, so the first snapshot does not pay the page faults.
 */
export class ChunkPool {
  private readonly free: ArrayBuffer[] = [];
  private wake: (() => void) | undefined;

  constructor(readonly chunkBytes: number, readonly count: number) {
    for (let i = 0; i < count; i++) this.free.push(touched(chunkBytes));
  }

  /** Bytes of staging memory held. */
  get capacity(): number {
    return this.chunkBytes * this.count;
  }

  /** A free chunk; when none is free, runs `blocked` once (to start queued writes) and waits. */
  async take(blocked?: () => void): Promise<ArrayBuffer> {
    let buf = this.free.pop();
    if (buf === undefined) blocked?.();
    while (buf === undefined) {
      await new Promise<void>((resolve) => { this.wake = resolve; });
      buf = this.free.pop();
    }
    return buf;
  }

  /** Returns a chunk (the object a worker sent back, or a replacement when it was lost). */
  give(buf: ArrayBuffer | undefined): void {
    this.free.push(buf !== undefined && buf.byteLength === this.chunkBytes ? buf : touched(this.chunkBytes));
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

function touched(bytes: number): ArrayBuffer {
  const buf = new ArrayBuffer(bytes);
  new Uint8Array(buf).fill(1);
  return buf;
}

/** How many chunks staging all blocks of these pieces in order takes (a block never straddles chunks). */
export function chunksNeeded(pieceBytes: number[], block: number, chunk: number): number {
  let n = 0;
  let used = chunk;
  for (const bytes of pieceBytes) {
    for (let at = 0; at < bytes; at += block) {
      const len = Math.min(block, bytes - at);
      if (used + len > chunk) {
        n++;
        used = 0;
      }
      used += len;
    }
  }
  return n;
}
