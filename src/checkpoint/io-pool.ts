// Worker threads that write (or read) chunks and hash them, so that a save or load leaves the
// calling thread free (it only copies) and hashing runs on every core beside the I/O.
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { createHash } from 'node:crypto';
import type { IoReply, IoRequest } from './io-worker.js';

/** Below this size a message round trip costs more than the hash: hash on the calling thread. */
const INLINE_BYTES = 256 * 1024;

interface Slot {
  worker: Worker;
  busy: number;
}

interface Pending {
  slot: Slot;
  resolve: (r: { hex: string[]; buf?: ArrayBuffer }) => void;
  reject: (e: Error & { buf?: ArrayBuffer }) => void;
}

export class IoPool {
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(readonly threads: number) {}

  /** sha256 (hex) of bytes [offset, offset + length) of `buf`. */
  async sha256(buf: SharedArrayBuffer, offset: number, length: number): Promise<string> {
    if (length < INLINE_BYTES) return createHash('sha256').update(new Uint8Array(buf, offset, length)).digest('hex');
    const r = await this.send({ id: 0, op: 'hash', buf, offset, length });
    return r.hex[0]!;
  }

  /**
   * Moves `buf` to a worker, which writes its first `length` bytes at position `at` of file
   * descriptor `fd` and then hashes each segment [offset, length). The buffer comes back (a new
   * object over the same memory) with the hashes; on failure it is attached to the error as `buf`.
   */
  async writeHashed(fd: number, buf: ArrayBuffer, length: number, at: number, segs: [number, number][]): Promise<{ hex: string[]; buf: ArrayBuffer }> {
    const r = await this.send({ id: 0, op: 'write', fd, buf, length, at, segs }, [buf]);
    return { hex: r.hex, buf: r.buf! };
  }

  /** Like writeHashed, but reads `length` bytes at `at` into `buf` first. */
  async readHashed(fd: number, buf: ArrayBuffer, length: number, at: number, segs: [number, number][]): Promise<{ hex: string[]; buf: ArrayBuffer }> {
    const r = await this.send({ id: 0, op: 'read', fd, buf, length, at, segs }, [buf]);
    return { hex: r.hex, buf: r.buf! };
  }

  /** Stops the worker threads; later calls start new ones. */
  async close(): Promise<void> {
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private send(req: IoRequest, transfer: ArrayBuffer[] = []): Promise<{ hex: string[]; buf?: ArrayBuffer }> {
    const slot = this.pick();
    req.id = this.nextId++;
    if (slot.busy++ === 0) slot.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(req.id, { slot, resolve, reject });
      slot.worker.postMessage(req, transfer);
    });
  }

  /** An idle worker, a new one while under `threads`, else the least busy. */
  private pick(): Slot {
    let best: Slot | undefined;
    for (const s of this.slots) if (best === undefined || s.busy < best.busy) best = s;
    if (best !== undefined && (best.busy === 0 || this.slots.length >= this.threads)) return best;
    return this.spawn();
  }

  private spawn(): Slot {
    const worker = new Worker(new URL('./io-worker.js', import.meta.url));
    const slot: Slot = { worker, busy: 0 };
    worker.unref();
    worker.on('message', (m: IoReply) => {
      const p = this.pending.get(m.id);
      if (p === undefined) return;
      this.pending.delete(m.id);
      if (--slot.busy === 0) worker.unref();
      if ('error' in m) p.reject(Object.assign(new Error(m.error), m.buf === undefined ? {} : { buf: m.buf }));
      else p.resolve(m);
    });
    worker.on('error', (e) => this.fail(slot, e));
    worker.on('exit', () => this.fail(slot, new Error('I/O worker exited')));
    this.slots.push(slot);
    return slot;
  }

  private fail(slot: Slot, e: Error): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    for (const [id, p] of this.pending) {
      if (p.slot !== slot) continue;
      this.pending.delete(id);
      p.reject(e);
    }
  }
}

let shared: IoPool | undefined;

/** The process-wide pool: one thread per core, at most 4. */
export function ioPool(): IoPool {
  shared ??= new IoPool(Math.max(1, Math.min(4, availableParallelism())));
  return shared;
}
