// The world of one rank: a ProcessGroup of size 1 whose collectives are identities (MLX returns its
// input when `group.size() == 1`), so one rank runs the same code as many, with no special case.
import { a2aCounts, check, type CommBackend, type Counts, type ProcessGroup, type ReduceOp } from './process-group.js';

export class LocalGroup implements ProcessGroup {
  /** The calling thread is the whole group. */
  readonly backend: CommBackend = 'threads';
  readonly rank = 0;
  readonly size = 1;
  readonly worldRank = 0;

  async allReduce(_x: Float32Array, _op?: ReduceOp): Promise<void> {}

  async reduceScatter(input: Float32Array, output: Float32Array, _op?: ReduceOp): Promise<void> {
    check.equal('reduceScatter output', output.length, input.length);
    output.set(input);
  }

  async allGather(input: Float32Array, output: Float32Array): Promise<void> {
    check.equal('allGather output', output.length, input.length);
    output.set(input);
  }

  async allToAll(send: Float32Array, recv: Float32Array, sendCounts?: Counts, recvCounts?: Counts): Promise<void> {
    a2aCounts(1, send, recv, sendCounts, recvCounts);
    recv.set(send);
  }

  async broadcast(_x: Float32Array, root: number): Promise<void> {
    check.rank('broadcast root', root, 1);
  }

  async barrier(): Promise<void> {}

  send(_x: Float32Array, peer: number): Promise<void> {
    return Promise.reject(new RangeError(`send: rank ${peer} is not a peer in a group of one`));
  }

  recv(_x: Float32Array, peer: number): Promise<void> {
    return Promise.reject(new RangeError(`recv: rank ${peer} is not a peer in a group of one`));
  }

  async split(color: number, key?: number): Promise<ProcessGroup> {
    check.color(color);
    if (key !== undefined && !Number.isInteger(key)) throw new RangeError(`split: key ${key} is not an integer`);
    return new LocalGroup();
  }
}
