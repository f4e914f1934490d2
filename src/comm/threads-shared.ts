// Shared memory of the threads backend: the world header, group regions and the waits on them.
//
// All ranks of a threads job live in one process and map one shared WebAssembly.Memory:
//   bytes [0, 64 KiB)  header (Int32): [0] bump pointer for regions, [1] abort = failed rank + 1,
//                      [2 + w] = 1 once world rank w has exited
//   then               group regions, allocated once per group by its first member, never freed.
// Waiting ranks spin briefly, then Atomics.wait with a short timeout, so that an abort flag or an
// exited peer is seen within milliseconds even though nobody notifies them.
import { CommAbortedError } from './process-group.js';
import { sharedMemory, type SharedMemory } from './wasm.js';
import { reduceKernels, type ReduceKernels } from './reduce-kernel.js';

const HEADER_BYTES = 65536;
const BUMP = 0;
const ABORT = 1;
const EXITED = 2;
export const MAX_THREAD_RANKS = (HEADER_BYTES >> 2) - EXITED;

/**
 * Floats per staging buffer per rank: each collective moves data in rounds of at most this.
 * 256 KiB keeps a round's buffers in the 2 MiB L2 of this machine's cores: 64 MB all-reduce on 2
 * ranks measured 3.3-4.0 GB/s with 256 KiB rounds against 2.6-3.2 with 1 MiB (chrt, loaded host).
 */
export const STAGE_FLOATS = 1 << 16;
/** Staging buffers per rank, used in turn (see threads-group.ts for why three). */
export const STAGE_BUFFERS = 3;
const SPIN = 4000;
const WAIT_MS = 20;

/** Byte offsets of one group's control block, int-exchange area, channels and staging. */
export interface GroupLayout {
  size: number;
  /** Ints per rank in each int-exchange half. */
  intsPerRank: number;
  intsOff: number;
  chanOff: number;
  /** Floats of payload per point-to-point channel (one per ordered pair). */
  chanFloats: number;
  chanDataOff: number;
  stageOff: number;
  bytes: number;
}

const align = (n: number, a = 64) => Math.ceil(n / a) * a;

export function groupLayout(size: number): GroupLayout {
  const intsPerRank = size + 4;
  const intsOff = align(size * 64);
  const chanOff = align(intsOff + 2 * size * intsPerRank * 4);
  const chanFloats = Math.min(1 << 18, Math.max(1024, Math.floor((1 << 22) / (size * size))));
  const chanDataOff = align(chanOff + size * size * 64);
  const stageOff = align(chanDataOff + size * size * chanFloats * 4);
  const bytes = align(stageOff + size * STAGE_BUFFERS * STAGE_FLOATS * 4);
  return { size, intsPerRank, intsOff, chanOff, chanFloats, chanDataOff, stageOff, bytes };
}

/** The memory of a threads job, as seen from one rank (or the launcher). */
export class SharedWorld {
  private i32v: Int32Array;
  private f32v: Float32Array;
  readonly kernels: ReduceKernels;
  /** Seconds this thread has spent blocked past the spin phase of waitAtLeast: waiting for peers. */
  waitedSeconds = 0;

  constructor(readonly memory: SharedMemory, readonly worldSize: number, readonly worldRank: number,
    readonly timeoutS = 0) {
    this.i32v = new Int32Array(memory.buffer);
    this.f32v = new Float32Array(memory.buffer);
    this.kernels = reduceKernels(memory);
  }

  /** A fresh memory with its header, for `worldSize` ranks; the launcher calls this once. */
  static create(worldSize: number): SharedMemory {
    if (worldSize > MAX_THREAD_RANKS) throw new RangeError(`threads backend: at most ${MAX_THREAD_RANKS} ranks`);
    const memory = sharedMemory(HEADER_BYTES + groupLayout(worldSize).bytes);
    Atomics.store(new Int32Array(memory.buffer), BUMP, HEADER_BYTES);
    return memory;
  }

  /** Int32 view covering at least `endByte`. */
  i32(endByte = 0): Int32Array {
    if (this.i32v.byteLength < endByte) this.refresh();
    return this.i32v;
  }

  /** Float32 view covering at least `endByte`. */
  f32(endByte = 0): Float32Array {
    if (this.f32v.byteLength < endByte) this.refresh();
    return this.f32v;
  }

  private refresh(): void {
    this.i32v = new Int32Array(this.memory.buffer);
    this.f32v = new Float32Array(this.memory.buffer);
  }

  /** Reserves a zeroed region of `bytes`; returns its byte offset. Safe from any thread. */
  alloc(bytes: number): number {
    const size = align(bytes);
    const off = Atomics.add(this.i32(), BUMP, size);
    if (off + size > 2 ** 31) throw new RangeError('threads backend: shared memory exhausted (2 GiB of group regions)');
    for (;;) {
      const cur = this.memory.buffer.byteLength;
      if (cur >= off + size) break;
      this.memory.grow(Math.ceil((off + size - cur) / 65536));
    }
    this.refresh();
    return off;
  }

  /** Marks the job aborted because `failedRank` failed; waiting ranks give up within ~WAIT_MS. */
  abort(failedRank: number): void {
    Atomics.compareExchange(this.i32(), ABORT, 0, failedRank + 1);
  }

  aborted(): number | undefined {
    const v = Atomics.load(this.i32(), ABORT);
    return v === 0 ? undefined : v - 1;
  }

  markExited(worldRank: number): void {
    Atomics.store(this.i32(), EXITED + worldRank, 1);
  }

  /**
   * Blocks until Int32 cell `index` >= target. `peer` (a world rank) is who will move it, and
   * `what` names the operation for error messages.
   */
  waitAtLeast(index: number, target: number, peer: number, what: string): void {
    const a = this.i32((index + 1) * 4);
    for (let spin = 0; spin < SPIN; spin++) if (Atomics.load(a, index) >= target) return;
    const t0 = Date.now(), p0 = performance.now();
    for (;;) {
      const v = Atomics.load(a, index);
      if (v >= target) break;
      Atomics.wait(a, index, v, WAIT_MS);
      if (Atomics.load(a, index) >= target) break;
      const failed = this.aborted();
      if (failed !== undefined) {
        throw new CommAbortedError(`rank ${this.worldRank}: ${what} abandoned because rank ${failed} failed`, failed);
      }
      if (Atomics.load(a, EXITED + peer) !== 0 && Atomics.load(a, index) < target) {
        throw new CommAbortedError(`rank ${this.worldRank}: rank ${peer} exited while ${what} waited for it`, peer);
      }
      if (this.timeoutS > 0 && Date.now() - t0 > this.timeoutS * 1000) {
        throw new Error(`rank ${this.worldRank}: ${what} waited ${this.timeoutS} s for rank ${peer}`);
      }
    }
    this.waitedSeconds += (performance.now() - p0) / 1000;
  }

  /** Stores v into cell `index` and wakes its waiters. */
  post(index: number, v: number): void {
    const a = this.i32((index + 1) * 4);
    Atomics.store(a, index, v);
    Atomics.notify(a, index);
  }
}
