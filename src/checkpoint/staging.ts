// Bounded staging memory for saves: a ring over one SharedArrayBuffer, allocated and freed in order.

/** A region [start, start + length) of the ring. */
export interface Segment {
  start: number;
  length: number;
}

interface Live extends Segment {
  done: boolean;
}

/**
 * First-in first-out allocator: segments are taken in order and freed in any order, but their
 * space returns to the ring only when every older segment is free too. A segment never wraps
 * (it starts over at 0 when the end has too little room). Shared memory lets the hash workers
 * read staged bytes without copies.
 */
export class StagingRing {
  readonly buffer: SharedArrayBuffer;
  readonly bytes: Uint8Array;
  private readonly live: Live[] = [];
  private wake: (() => void) | undefined;

  constructor(readonly capacity: number) {
    this.buffer = new SharedArrayBuffer(capacity);
    this.bytes = new Uint8Array(this.buffer);
    // Touch every page now, so the first snapshot does not pay the page faults.
    this.bytes.fill(1);
  }

  /** A segment of `length` bytes, or undefined when the ring is too full right now. */
  tryAlloc(length: number): Segment | undefined {
    if (length > this.capacity) throw new Error(`staging: ${length} bytes asked of a ${this.capacity}-byte ring`);
    const first = this.live[0];
    const last = this.live[this.live.length - 1];
    let start: number | undefined;
    if (first === undefined || last === undefined) start = 0;
    else if (last.start >= first.start) {
      const tail = last.start + last.length;
      if (this.capacity - tail >= length) start = tail;
      else if (first.start >= length) start = 0;
    } else if (first.start - (last.start + last.length) >= length) start = last.start + last.length;
    if (start === undefined) return undefined;
    const seg: Live = { start, length, done: false };
    this.live.push(seg);
    return seg;
  }

  /** Waits until `length` bytes can be allocated; `blocked` runs once first (to flush queued work). */
  async alloc(length: number, blocked?: () => void): Promise<Segment> {
    let seg = this.tryAlloc(length);
    if (seg === undefined && blocked !== undefined) blocked();
    while (seg === undefined) {
      await new Promise<void>((resolve) => { this.wake = resolve; });
      seg = this.tryAlloc(length);
    }
    return seg;
  }

  free(seg: Segment): void {
    const live = this.live.find((s) => s === seg);
    if (live !== undefined) live.done = true;
    while (this.live.length > 0 && this.live[0]!.done) this.live.shift();
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  get inUse(): number {
    return this.live.length;
  }
}
