// The ProcessGroup contract every communication backend implements, and the errors it raises.
//
// A group is an ordered set of ranks that call the same collectives in the same order. Payloads
// are Float32Arrays in the caller's memory; counts are element counts. Every method is collective
// over the group (all members call it) except send/recv, which pair two members.
import { CheckError, InputError, type ErrorKind } from '../util/errors.js';

export const COMM_BACKENDS = ['threads', 'mpi'] as const;
export type CommBackend = (typeof COMM_BACKENDS)[number];

export type ReduceOp = 'sum' | 'max';

/** Element counts per peer, indexed by group rank (a plain array or an Int32Array). */
export type Counts = ArrayLike<number>;

export interface ProcessGroup {
  readonly backend: CommBackend;
  /** This member's index in the group, in [0, size). */
  readonly rank: number;
  readonly size: number;
  /** This member's rank in the world group it was split from (equal to rank for the world). */
  readonly worldRank: number;

  /** In place: x = op over ranks of x. Every rank passes the same length. */
  allReduce(x: Float32Array, op?: ReduceOp): Promise<void>;
  /** input is (size, m) row-major; rank r receives output (m) = op over ranks of input[r]. */
  reduceScatter(input: Float32Array, output: Float32Array, op?: ReduceOp): Promise<void>;
  /** input (m) from every rank lands in output (size, m), row r from rank r. */
  allGather(input: Float32Array, output: Float32Array): Promise<void>;
  /**
   * Personalised exchange. Without counts: send and recv are (size, m) and row j of send goes to
   * rank j, landing in row r (this rank) of j's recv. With counts: send holds sendCounts[j]
   * elements for rank j, contiguous in rank order; recv holds recvCounts[j] elements from rank j.
   * recvCounts at rank r must equal sendCounts[r] at each sender (checked where cheap).
   */
  allToAll(send: Float32Array, recv: Float32Array, sendCounts?: Counts, recvCounts?: Counts): Promise<void>;
  /** x at root is copied into x at every rank. */
  broadcast(x: Float32Array, root: number): Promise<void>;
  barrier(): Promise<void>;
  /**
   * Point to point. Messages between one pair are received in the order they were sent, and the
   * receiver's tag and length must match the message (a mismatch is an error, not a reorder).
   */
  send(x: Float32Array, peer: number, tag?: number): Promise<void>;
  recv(x: Float32Array, peer: number, tag?: number): Promise<void>;
  /**
   * Collective: members with the same color form a sub-group, ordered by (key, rank). key defaults
   * to rank. color must be a non-negative integer.
   */
  split(color: number, key?: number): Promise<ProcessGroup>;
  /**
   * Seconds the calling thread has spent blocked in this backend waiting for peers to arrive (all
   * groups of the rank together), where the backend can tell; absent where it cannot (MPI).
   */
  waitedSeconds?(): number;
}

/** A collective could not complete because another rank failed or left. */
export class CommAbortedError extends CheckError {
  override readonly name = 'CommAbortedError';
  constructor(message: string, readonly failedRank: number) {
    super(message);
  }
}

/** The error a launcher reports for a failed check or an internal error: which world rank failed, and why. */
export class RankError extends CheckError {
  override readonly name: string = 'RankError';
  constructor(readonly rank: number, readonly detail: string, readonly rankStack?: string) {
    super(`rank ${rank} failed: ${detail}`);
  }
}

/**
 * Bad input that a rank found (a checkpoint with another model config, say): the rank's own line,
 * as a single process would print it, and exit code 2. Every rank reads the same input, so the
 * rank's number would add nothing.
 */
export class RankInputError extends InputError {
  override readonly name: string = 'RankInputError';
  constructor(readonly rank: number, message: string, readonly rankStack?: string) {
    super(message);
  }
}

/** The error a launcher throws for rank `rank`'s failure of kind `kind`. */
export function rankFailure(rank: number, kind: ErrorKind, message: string, stack?: string): RankError | RankInputError {
  return kind === 'input' ? new RankInputError(rank, message, stack) : new RankError(rank, message, stack);
}

/** Exclusive prefix sums of counts: displacements of contiguous per-rank blocks. */
export function displacements(counts: Counts): number[] {
  const d: number[] = [];
  let s = 0;
  for (let i = 0; i < counts.length; i++) {
    d.push(s);
    s += counts[i] ?? 0;
  }
  return d;
}

export function sumCounts(counts: Counts): number {
  let s = 0;
  for (let i = 0; i < counts.length; i++) s += counts[i] ?? 0;
  return s;
}

/** Validates argument shapes shared by all backends; throws RangeError naming the argument. */
export const check = {
  rank(what: string, r: number, size: number): void {
    if (!Number.isInteger(r) || r < 0 || r >= size) throw new RangeError(`${what}: rank ${r} is not in [0, ${size})`);
  },
  multiple(what: string, n: number, size: number): void {
    if (n % size !== 0) throw new RangeError(`${what}: length ${n} is not a multiple of the group size ${size}`);
  },
  equal(what: string, a: number, b: number): void {
    if (a !== b) throw new RangeError(`${what}: expected length ${b}, got ${a}`);
  },
  counts(what: string, counts: Counts, size: number, total: number): void {
    if (counts.length !== size) throw new RangeError(`${what}: ${counts.length} counts for a group of ${size}`);
    for (let i = 0; i < size; i++) {
      const c = counts[i] ?? -1;
      if (!Number.isInteger(c) || c < 0) throw new RangeError(`${what}[${i}] = ${c} is not a non-negative integer`);
    }
    const s = sumCounts(counts);
    if (s !== total) throw new RangeError(`${what}: counts sum to ${s} but the buffer holds ${total}`);
  },
  tag(t: number): void {
    if (!Number.isInteger(t) || t < 0 || t > 0x7fffffff) throw new RangeError(`tag ${t} is not an integer in [0, 2^31)`);
  },
  color(c: number): void {
    if (!Number.isInteger(c) || c < 0) throw new RangeError(`split: color ${c} is not a non-negative integer`);
  },
};

/** Resolves allToAll's optional counts to explicit per-rank counts and validates them. */
export function a2aCounts(size: number, send: Float32Array, recv: Float32Array, sendCounts?: Counts,
  recvCounts?: Counts): { sc: number[]; rc: number[] } {
  if (sendCounts === undefined && recvCounts === undefined) {
    check.multiple('allToAll send', send.length, size);
    check.equal('allToAll recv', recv.length, send.length);
    const m = send.length / size;
    return { sc: new Array<number>(size).fill(m), rc: new Array<number>(size).fill(m) };
  }
  if (sendCounts === undefined || recvCounts === undefined) throw new RangeError('allToAll: give both sendCounts and recvCounts, or neither');
  check.counts('allToAll sendCounts', sendCounts, size, send.length);
  check.counts('allToAll recvCounts', recvCounts, size, recv.length);
  return { sc: Array.from(sendCounts), rc: Array.from(recvCounts) };
}
