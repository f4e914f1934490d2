// The threads backend's communication worker: a worker_thread of a rank that runs that rank's part
// of a group's all-reduces while the rank computes (see progress.ts).
//
// Requests travel by postMessage (views of SharedArrayBuffers: the worker sees the caller's memory,
// nothing is copied); completion comes back through two Int32 cells in the job's shared memory,
// [0] requests completed and [1] = 1 once one failed (its error follows on a MessagePort), so that
// the rank can block on them with the backend's own wait (which sees aborts and counts as waiting).
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { CommAbortedError } from './process-group.js';
import type { SharedMemory } from './wasm.js';
import type { SharedWorld } from './threads-shared.js';
import { ThreadGroup, type ThreadGroupSpec } from './threads-group.js';
import type { InFlight, Nonblocking } from './progress.js';

/** What the worker needs to act for its rank in the duplicate group. */
export interface CommWorkerData {
  memory: SharedMemory;
  worldSize: number;
  worldRank: number;
  timeoutS: number;
  group: ThreadGroupSpec;
  /** Byte offset of the two control cells. */
  cell: number;
  port: MessagePort;
}

export type CommRequest = { seq: number; op: 'allReduce'; xs: Float32Array[] } | { seq: number; op: 'allToAll'; send: Float32Array; recv: Float32Array };

export type CommFailure = { message: string; failedRank: number | null };

const shared = (x: Float32Array) => x.buffer instanceof SharedArrayBuffer;

export class CommWorker implements Nonblocking {
  readonly overlaps = true;
  private started = 0;

  private constructor(private readonly worker: Worker, private readonly port: MessagePort, private readonly w: SharedWorld,
    private readonly cell: number, private readonly fallback: Nonblocking) {}

  /** Collective over `group`: duplicates it and starts this rank's worker; `fallback` serves arrays outside shared memory. */
  static async start(group: ThreadGroup, fallback: Nonblocking): Promise<CommWorker> {
    const dup = await group.split(0);
    if (!(dup instanceof ThreadGroup)) throw new Error('invariant: a threads group splits into threads groups');
    const w = group.shared, cell = w.alloc(64);
    const { port1, port2 } = new MessageChannel();
    const data: CommWorkerData = { memory: w.memory, worldSize: w.worldSize, worldRank: w.worldRank, timeoutS: w.timeoutS,
      group: dup.spec(), cell, port: port2 };
    const worker = new Worker(new URL('./progress-worker.js', import.meta.url), { workerData: data, transferList: [port2] });
    // The worker lives as long as its rank: it must not keep the rank's thread from ending.
    worker.unref();
    port1.unref();
    return new CommWorker(worker, port1, w, cell, fallback);
  }

  allReduce(xs: readonly Float32Array[]): InFlight {
    // The js backend's arrays are private to the rank's thread: those run here (every rank alike, as they share a backend).
    if (!xs.every(shared)) return this.fallback.allReduce(xs);
    return this.send({ seq: ++this.started, op: 'allReduce', xs: [...xs] });
  }

  allToAll(send: Float32Array, recv: Float32Array): InFlight {
    if (!shared(send) || !shared(recv)) return this.fallback.allToAll(send, recv);
    return this.send({ seq: ++this.started, op: 'allToAll', send, recv });
  }

  private send(r: CommRequest): InFlight {
    this.worker.postMessage(r);
    return { wait: async () => this.waitFor(r.seq) };
  }

  poke(): void {}

  private waitFor(seq: number): void {
    const i = this.cell >> 2;
    this.w.waitAtLeast(i, seq, this.w.worldRank, 'an overlapped all-reduce');
    if (Atomics.load(this.w.i32(), i + 1) === 0) return;
    const f = receiveMessageOnPort(this.port)?.message as CommFailure | undefined;
    const message = `communication worker of rank ${this.w.worldRank}: ${f?.message ?? 'failed'}`;
    throw f?.failedRank !== null && f?.failedRank !== undefined ? new CommAbortedError(message, f.failedRank) : new Error(message);
  }
}
