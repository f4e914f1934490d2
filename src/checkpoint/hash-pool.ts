// sha256 of shared-memory regions on worker threads, so hashing runs beside the writes on all cores.
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { createHash } from 'node:crypto';
import type { HashRequest } from './hash-worker.js';

/** Below this size a message round trip costs more than the hash: hash on the calling thread. */
const INLINE_BYTES = 256 * 1024;

interface Slot {
  worker: Worker;
  busy: number;
}

export class HashPool {
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, { slot: Slot; resolve: (hex: string) => void; reject: (e: Error) => void }>();
  private nextId = 1;

  constructor(readonly threads: number) {}

  /** sha256 (hex) of bytes [offset, offset + length) of `buf`. */
  sha256(buf: SharedArrayBuffer, offset: number, length: number): Promise<string> {
    if (length < INLINE_BYTES || this.threads === 0) {
      return Promise.resolve(createHash('sha256').update(new Uint8Array(buf, offset, length)).digest('hex'));
    }
    const slot = this.pick();
    const id = this.nextId++;
    if (slot.busy++ === 0) slot.worker.ref();
    return new Promise<string>((resolve, reject) => {
      this.pending.set(id, { slot, resolve, reject });
      const req: HashRequest = { id, buf, offset, length };
      slot.worker.postMessage(req);
    });
  }

  /** Stops the worker threads; later calls start new ones. */
  async close(): Promise<void> {
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  /** An idle worker, a new one while under `threads`, else the least busy. */
  private pick(): Slot {
    let best: Slot | undefined;
    for (const s of this.slots) if (best === undefined || s.busy < best.busy) best = s;
    if (best !== undefined && (best.busy === 0 || this.slots.length >= this.threads)) return best;
    return this.spawn();
  }

  private spawn(): Slot {
    const worker = new Worker(new URL('./hash-worker.js', import.meta.url));
    const slot: Slot = { worker, busy: 0 };
    worker.unref();
    worker.on('message', (m: { id: number; hex: string }) => {
      const p = this.pending.get(m.id);
      if (p === undefined) return;
      this.pending.delete(m.id);
      if (--slot.busy === 0) worker.unref();
      p.resolve(m.hex);
    });
    worker.on('error', (e) => this.fail(slot, e));
    worker.on('exit', () => this.fail(slot, new Error('hash worker exited')));
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

let shared: HashPool | undefined;

/** The process-wide pool: one thread per core, at most 4. */
export function hashPool(): HashPool {
  shared ??= new HashPool(Math.max(1, Math.min(4, availableParallelism())));
  return shared;
}
