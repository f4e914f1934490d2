// A ProcessGroup wrapper that accounts the seconds spent in each kind of collective, for the
// `time: {allreduce, alltoall, ...}` fields of the metrics record. Sub-groups split from it share
// its clock, so wrapping the world before makeProcessGroups times every group of a job.
import type { CommBackend, Counts, ProcessGroup, ReduceOp } from './process-group.js';

export const COMM_KINDS = ['allreduce', 'reducescatter', 'allgather', 'alltoall', 'broadcast', 'barrier', 'p2p'] as const;
export type CommKind = (typeof COMM_KINDS)[number];

/** Seconds and calls per kind of collective since the last reset. */
export class CommClock {
  seconds: Record<CommKind, number> = CommClock.zero();
  calls: Record<CommKind, number> = CommClock.zero();

  private static zero(): Record<CommKind, number> {
    return { allreduce: 0, reducescatter: 0, allgather: 0, alltoall: 0, broadcast: 0, barrier: 0, p2p: 0 };
  }

  reset(): void {
    this.seconds = CommClock.zero();
    this.calls = CommClock.zero();
  }

  /** Seconds in all kinds together. */
  total(): number {
    return COMM_KINDS.reduce((s, k) => s + this.seconds[k], 0);
  }

  async time<T>(kind: CommKind, f: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      this.seconds[kind] += (performance.now() - t0) / 1000;
      this.calls[kind]++;
    }
  }
}

export class TimedGroup implements ProcessGroup {
  readonly backend: CommBackend;
  readonly rank: number;
  readonly size: number;
  readonly worldRank: number;
  /** The wrapped backend's, present where it can tell. */
  readonly waitedSeconds?: () => number;

  constructor(readonly inner: ProcessGroup, readonly clock: CommClock = new CommClock()) {
    this.backend = inner.backend;
    this.rank = inner.rank;
    this.size = inner.size;
    this.worldRank = inner.worldRank;
    if (inner.waitedSeconds !== undefined) this.waitedSeconds = () => inner.waitedSeconds?.() ?? 0;
  }

  allReduce(x: Float32Array, op?: ReduceOp): Promise<void> {
    return this.clock.time('allreduce', () => this.inner.allReduce(x, op));
  }
  reduceScatter(input: Float32Array, output: Float32Array, op?: ReduceOp): Promise<void> {
    return this.clock.time('reducescatter', () => this.inner.reduceScatter(input, output, op));
  }
  allGather(input: Float32Array, output: Float32Array): Promise<void> {
    return this.clock.time('allgather', () => this.inner.allGather(input, output));
  }
  allToAll(send: Float32Array, recv: Float32Array, sendCounts?: Counts, recvCounts?: Counts): Promise<void> {
    return this.clock.time('alltoall', () => this.inner.allToAll(send, recv, sendCounts, recvCounts));
  }
  broadcast(x: Float32Array, root: number): Promise<void> {
    return this.clock.time('broadcast', () => this.inner.broadcast(x, root));
  }
  barrier(): Promise<void> {
    return this.clock.time('barrier', () => this.inner.barrier());
  }
  send(x: Float32Array, peer: number, tag?: number): Promise<void> {
    return this.clock.time('p2p', () => this.inner.send(x, peer, tag));
  }
  recv(x: Float32Array, peer: number, tag?: number): Promise<void> {
    return this.clock.time('p2p', () => this.inner.recv(x, peer, tag));
  }
  async split(color: number, key?: number): Promise<ProcessGroup> {
    return new TimedGroup(await this.inner.split(color, key), this.clock);
  }
}
