// Collectives that progress while the caller computes: started now, awaited later.
//
// Threads: every collective of the threads backend runs on the calling thread, so overlapping one
// with computation needs another thread. Each overlapped group gets a communication worker (a
// worker_thread of the rank, ./progress-worker.ts) holding a duplicate of the group (its own sync
// counters and staging buffers, so that it never meets the rank's own collectives); it reduces the
// caller's arrays in place, where they live (shared memory: the backends' wasm heap and host
// blocks are SharedArrayBuffers), and signals completion through an Atomics cell.
// MPI: MPI_Iallreduce on a duplicate communicator, progressed by MPI_Testall whenever the caller
// pokes and finished by MPI_Waitall; every call stays on the rank's thread, as MPI_THREAD_SINGLE
// (plain MPI_Init) requires.
// Anything else (one rank, a wrapper this file does not know, arrays outside shared memory) runs
// each collective when it is started, on the caller's thread: the same results, no overlap.
import type { ProcessGroup } from './process-group.js';
import { TimedGroup } from './timed-group.js';
import { ThreadGroup } from './threads-group.js';
import { CommWorker } from './progress-threads.js';
import { MpiGroup } from './mpi-group.js';

/** A started collective; wait() resolves once its results are in place. */
export interface InFlight {
  wait(): Promise<void>;
}

export interface Nonblocking {
  /** True when collectives progress while the caller computes; false: each runs when started. */
  readonly overlaps: boolean;
  /**
   * Starts x = sum over ranks of x, in place, for each array in turn (every rank passes arrays of
   * the same lengths, in the same order of calls). The arrays must not be read or written until
   * wait() resolves. Requests complete in the order they were started.
   */
  allReduce(xs: readonly Float32Array[]): InFlight;
  /**
   * Starts the equal-split all-to-all of ProcessGroup.allToAll (send and recv are (size, m); block
   * j of send goes to rank j). Neither array may be touched until wait() resolves.
   */
  allToAll(send: Float32Array, recv: Float32Array): InFlight;
  /** Lets a backend that progresses only inside its own calls (MPI) move; cheap, call it often. */
  poke(): void;
}

/** Runs each collective when started, on the caller's thread (also the fallback of the others). */
export class BlockingCollectives implements Nonblocking {
  readonly overlaps = false;
  private chain: Promise<void> = Promise.resolve();
  constructor(private readonly group: ProcessGroup) {}

  allReduce(xs: readonly Float32Array[]): InFlight {
    return this.queue(async () => { for (const x of xs) await this.group.allReduce(x); });
  }

  allToAll(send: Float32Array, recv: Float32Array): InFlight {
    return this.queue(() => this.group.allToAll(send, recv));
  }

  poke(): void {}

  private queue(f: () => Promise<void>): InFlight {
    const done = this.chain.then(f);
    this.chain = done;
    return { wait: () => done };
  }
}

const engines = new WeakMap<ProcessGroup, Promise<Nonblocking>>();

/** nonblocking(group), made once per group object (its first call is collective: every member makes it at the same point). */
export function nonblockingFor(group: ProcessGroup): Promise<Nonblocking> {
  let e = engines.get(group);
  if (e === undefined) engines.set(group, (e = nonblocking(group)));
  return e;
}

/**
 * Collective over `group`: its nonblocking collectives (a duplicate group, and on threads a
 * communication worker). Time spent in wait() counts on a TimedGroup's clock (as all-reduce or all-to-all).
 */
export async function nonblocking(group: ProcessGroup): Promise<Nonblocking> {
  if (group.size === 1) return new BlockingCollectives(group);
  const inner = group instanceof TimedGroup ? group.inner : group;
  const timed = (kind: 'allreduce' | 'alltoall', f: () => Promise<void>) => group instanceof TimedGroup ? group.clock.time(kind, f) : f();
  if (inner instanceof ThreadGroup) return withClock(await CommWorker.start(inner, new BlockingCollectives(group)), timed);
  if (inner instanceof MpiGroup) return withClock(await inner.nonblocking(), timed);
  return new BlockingCollectives(group);
}

/** The same collectives with wait() timed by `timed`. */
function withClock(n: Nonblocking, timed: (kind: 'allreduce' | 'alltoall', f: () => Promise<void>) => Promise<void>): Nonblocking {
  const clocked = (kind: 'allreduce' | 'alltoall', f: InFlight): InFlight => ({ wait: () => timed(kind, () => f.wait()) });
  return {
    overlaps: n.overlaps,
    allReduce: (xs) => clocked('allreduce', n.allReduce(xs)),
    allToAll: (send, recv) => clocked('alltoall', n.allToAll(send, recv)),
    poke: () => n.poke(),
  };
}
