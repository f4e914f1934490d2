// Test helper run as a worker thread: one rank of a save whose ranks are real threads, with a
// barrier over shared memory (as a threads ProcessGroup would give), proving nothing in a save
// depends on ranks sharing an event loop.
import { workerData, parentPort } from 'node:worker_threads';
import { Checkpointer } from '../save.js';
import { crashState } from './fixtures.js';
import type { Coordinator } from '../types.js';

interface RankData {
  root: string;
  rank: number;
  size: number;
  /** Int32 [arrived, generation]. */
  sync: SharedArrayBuffer;
  mode: 'sync' | 'async';
  step: number;
}

/** A reusable barrier over shared memory: the last arrival bumps the generation; the others poll it. */
function sharedBarrier(sync: SharedArrayBuffer, size: number): () => Promise<void> {
  const a = new Int32Array(sync);
  return async () => {
    const gen = Atomics.load(a, 1);
    if (Atomics.add(a, 0, 1) === size - 1) {
      Atomics.store(a, 0, 0);
      Atomics.add(a, 1, 1);
      return;
    }
    while (Atomics.load(a, 1) === gen) await new Promise((r) => setTimeout(r, 1));
  };
}

const d = workerData as RankData;
if (parentPort !== null && d !== null) {
  const co: Coordinator = { rank: d.rank, size: d.size, barrier: sharedBarrier(d.sync, d.size) };
  const cp = new Checkpointer({ root: d.root, coordinator: co, async: d.mode === 'async', hashBlockBytes: 256 });
  const start = await cp.save(d.step, crashState(d.step, d.rank), { step: d.step });
  const done = await cp.wait();
  parentPort.postMessage({ bytes: start.bytes, committed: done?.committed ?? d.rank === 0 });
}
