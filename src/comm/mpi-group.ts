// The mpi backend: Open MPI's C API through koffi (FFI); one process per rank, started by mpirun.
//
// Open MPI's handles are addresses of exported globals (ompi_mpi_comm_world, ompi_mpi_float,
// ompi_mpi_op_sum, ...); MPI_IN_PLACE is (void *)1 and MPI_STATUS_IGNORE is NULL. Float32Arrays
// are passed by address (no copy). Calls block the rank's thread, like the threads backend.
import { spawnSync } from 'node:child_process';
import koffi from 'koffi';
import {
  a2aCounts, check, displacements, type CommBackend, type Counts, type ProcessGroup, type ReduceOp,
} from './process-group.js';
import { rankFailureLine } from './rank-main.js';
import { errorKind, errorMessage } from '../util/errors.js';
import type { InFlight, Nonblocking } from './progress.js';

type Ptr = bigint;
type Buf = Float32Array | Int32Array | Ptr;
type IntOut = Int32Array;

interface MpiApi {
  Initialized(flag: IntOut): number;
  Init(argc: null, argv: null): number;
  Finalize(): number;
  Abort(comm: Ptr, code: number): number;
  Comm_rank(comm: Ptr, out: IntOut): number;
  Comm_size(comm: Ptr, out: IntOut): number;
  Comm_split(comm: Ptr, color: number, key: number, out: BigUint64Array): number;
  Allreduce(s: Buf, r: Buf, n: number, t: Ptr, op: Ptr, comm: Ptr): number;
  Reduce_scatter_block(s: Buf, r: Buf, n: number, t: Ptr, op: Ptr, comm: Ptr): number;
  Allgather(s: Buf, sn: number, st: Ptr, r: Buf, rn: number, rt: Ptr, comm: Ptr): number;
  Alltoall(s: Buf, sn: number, st: Ptr, r: Buf, rn: number, rt: Ptr, comm: Ptr): number;
  Alltoallv(s: Buf, sc: Int32Array, sd: Int32Array, st: Ptr, r: Buf, rc: Int32Array, rd: Int32Array, rt: Ptr,
    comm: Ptr): number;
  Bcast(x: Buf, n: number, t: Ptr, root: number, comm: Ptr): number;
  Barrier(comm: Ptr): number;
  Send(x: Buf, n: number, t: Ptr, dest: number, tag: number, comm: Ptr): number;
  Recv(x: Buf, n: number, t: Ptr, src: number, tag: number, comm: Ptr, status: Int32Array): number;
  Get_count(status: Int32Array, t: Ptr, out: IntOut): number;
  Iallreduce(s: Buf, r: Buf, n: number, t: Ptr, op: Ptr, comm: Ptr, req: BigUint64Array): number;
  Ialltoall(s: Buf, sn: number, st: Ptr, r: Buf, rn: number, rt: Ptr, comm: Ptr, req: BigUint64Array): number;
  Testall(n: number, reqs: BigUint64Array, flag: IntOut, statuses: null): number;
  Waitall(n: number, reqs: BigUint64Array, statuses: null): number;
}

interface Mpi {
  api: MpiApi;
  world: Ptr;
  float: Ptr;
  int: Ptr;
  sum: Ptr;
  max: Ptr;
}

const IN_PLACE: Ptr = 1n;
let mpi: Mpi | undefined;

function load(): Mpi {
  if (mpi !== undefined) return mpi;
  const names = [process.env['FURNACE_MPI_LIB'], 'libmpi.so.40', 'libmpi.so'].filter((s): s is string => !!s);
  let lib: ReturnType<typeof koffi.load> | undefined;
  const errors: string[] = [];
  for (const n of names) {
    try {
      lib = koffi.load(n, { global: true }); // RTLD_GLOBAL: Open MPI's plugins resolve symbols from libmpi
      break;
    } catch (e) {
      errors.push(`${n}: ${errorMessage(e)}`);
    }
  }
  if (lib === undefined) throw new Error(`mpi backend: cannot load Open MPI (${errors.join('; ')})`);
  const l = lib;
  const f = (decl: string) => l.func(decl);
  const api: MpiApi = {
    Initialized: f('int MPI_Initialized(int *flag)'),
    Init: f('int MPI_Init(void *argc, void *argv)'),
    Finalize: f('int MPI_Finalize()'),
    Abort: f('int MPI_Abort(void *comm, int code)'),
    Comm_rank: f('int MPI_Comm_rank(void *comm, int *rank)'),
    Comm_size: f('int MPI_Comm_size(void *comm, int *size)'),
    Comm_split: f('int MPI_Comm_split(void *comm, int color, int key, void *newcomm)'),
    Allreduce: f('int MPI_Allreduce(void *s, void *r, int n, void *t, void *op, void *comm)'),
    Reduce_scatter_block: f('int MPI_Reduce_scatter_block(void *s, void *r, int n, void *t, void *op, void *comm)'),
    Allgather: f('int MPI_Allgather(void *s, int sn, void *st, void *r, int rn, void *rt, void *comm)'),
    Alltoall: f('int MPI_Alltoall(void *s, int sn, void *st, void *r, int rn, void *rt, void *comm)'),
    Alltoallv: f('int MPI_Alltoallv(void *s, int *sc, int *sd, void *st, void *r, int *rc, int *rd, void *rt, void *comm)'),
    Bcast: f('int MPI_Bcast(void *x, int n, void *t, int root, void *comm)'),
    Barrier: f('int MPI_Barrier(void *comm)'),
    Send: f('int MPI_Send(void *x, int n, void *t, int dest, int tag, void *comm)'),
    Recv: f('int MPI_Recv(void *x, int n, void *t, int src, int tag, void *comm, void *status)'),
    Get_count: f('int MPI_Get_count(void *status, void *t, int *count)'),
    Iallreduce: f('int MPI_Iallreduce(void *s, void *r, int n, void *t, void *op, void *comm, void *req)'),
    Ialltoall: f('int MPI_Ialltoall(void *s, int sn, void *st, void *r, int rn, void *rt, void *comm, void *req)'),
    Testall: f('int MPI_Testall(int n, void *reqs, int *flag, void *statuses)'),
    Waitall: f('int MPI_Waitall(int n, void *reqs, void *statuses)'),
  };
  const sym = (s: string): Ptr => l.symbol(s) as Ptr;
  mpi = { api, world: sym('ompi_mpi_comm_world'), float: sym('ompi_mpi_float'), int: sym('ompi_mpi_int'),
    sum: sym('ompi_mpi_op_sum'), max: sym('ompi_mpi_op_max') };
  return mpi;
}

/** Which communication backends work here, and why not (for `furnace doctor`). */
export function commBackends(): { name: CommBackend; available: boolean; detail: string }[] {
  let mpiDetail: string;
  let mpiOk = false;
  try {
    load();
    mpiOk = findMpirun() !== undefined;
    mpiDetail = mpiOk ? 'Open MPI library and mpirun found' : 'libmpi loads but mpirun is not on PATH';
  } catch (e) {
    mpiDetail = `${errorMessage(e)}; install openmpi-bin libopenmpi-dev`;
  }
  return [
    { name: 'threads', available: true, detail: 'worker_threads + SharedArrayBuffer, WASM SIMD reductions' },
    { name: 'mpi', available: mpiOk, detail: mpiDetail },
  ];
}

/** True when this process was started by mpirun (Open MPI sets these variables). */
export function underMpirun(): boolean {
  return process.env['OMPI_COMM_WORLD_SIZE'] !== undefined;
}

/** The mpirun executable if Open MPI is installed here, else undefined. */
export function findMpirun(): string | undefined {
  const r = spawnSync('mpirun', ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? 'mpirun' : undefined;
}

/**
 * For a process started by mpirun (e.g. `mpirun -np 4 furnace train --comm mpi`): runs fn on
 * MPI_COMM_WORLD and finalizes. On an error it prints `furnace: rank R failed: ...` (which the
 * launcher and users read) and calls MPI_Abort, which ends every rank of the job (exit code 2 for
 * bad input, 1 otherwise).
 */
export async function runMpiRank<R>(fn: (world: ProcessGroup) => Promise<R> | R): Promise<R> {
  const world = MpiGroup.world();
  try {
    const result = await fn(world);
    MpiGroup.finalize();
    return result;
  } catch (e) {
    // Writes to pipes and files are synchronous on Linux, so the line is out before the abort.
    process.stderr.write(rankFailureLine(world.rank, errorMessage(e), errorKind(e)) + '\n');
    // mpirun exits with the abort code: 2 for bad input, 1 otherwise, as a single process would.
    MpiGroup.abort(errorKind(e) === 'input' ? 2 : 1);
    throw e;
  }
}

function ok(code: number, what: string): void {
  if (code !== 0) throw new Error(`mpi backend: ${what} returned error ${code}`);
}

export class MpiGroup implements ProcessGroup {
  readonly backend: CommBackend = 'mpi';
  readonly rank: number;
  readonly size: number;

  private constructor(private readonly m: Mpi, private readonly comm: Ptr, readonly worldRank: number) {
    const out = new Int32Array(1);
    ok(m.api.Comm_rank(comm, out), 'MPI_Comm_rank');
    this.rank = out[0] ?? 0;
    ok(m.api.Comm_size(comm, out), 'MPI_Comm_size');
    this.size = out[0] ?? 1;
  }

  /** Initialises MPI (once per process) and returns MPI_COMM_WORLD as a group. */
  static world(): MpiGroup {
    const m = load();
    const flag = new Int32Array(1);
    ok(m.api.Initialized(flag), 'MPI_Initialized');
    if (flag[0] === 0) ok(m.api.Init(null, null), 'MPI_Init');
    const out = new Int32Array(1);
    ok(m.api.Comm_rank(m.world, out), 'MPI_Comm_rank');
    return new MpiGroup(m, m.world, out[0] ?? 0);
  }

  /** Ends the whole MPI job (every rank) with `code`; used when one rank fails. */
  static abort(code: number): void {
    if (mpi !== undefined) mpi.api.Abort(mpi.world, code);
  }

  static finalize(): void {
    if (mpi !== undefined) ok(mpi.api.Finalize(), 'MPI_Finalize');
  }

  private opOf(op: ReduceOp): Ptr {
    return op === 'max' ? this.m.max : this.m.sum;
  }

  async allReduce(x: Float32Array, op: ReduceOp = 'sum'): Promise<void> {
    ok(this.m.api.Allreduce(IN_PLACE, x, x.length, this.m.float, this.opOf(op), this.comm), 'MPI_Allreduce');
  }

  async reduceScatter(input: Float32Array, output: Float32Array, op: ReduceOp = 'sum'): Promise<void> {
    check.equal('reduceScatter input', input.length, output.length * this.size);
    ok(this.m.api.Reduce_scatter_block(input, output, output.length, this.m.float, this.opOf(op), this.comm),
      'MPI_Reduce_scatter_block');
  }

  async allGather(input: Float32Array, output: Float32Array): Promise<void> {
    check.equal('allGather output', output.length, input.length * this.size);
    ok(this.m.api.Allgather(input, input.length, this.m.float, output, input.length, this.m.float, this.comm),
      'MPI_Allgather');
  }

  async allToAll(send: Float32Array, recv: Float32Array, sendCounts?: Counts, recvCounts?: Counts): Promise<void> {
    const { sc, rc } = a2aCounts(this.size, send, recv, sendCounts, recvCounts);
    const f = this.m.float;
    if (sendCounts === undefined) {
      const n = send.length / this.size;
      ok(this.m.api.Alltoall(send, n, f, recv, n, f, this.comm), 'MPI_Alltoall');
      return;
    }
    // The counts travel first, so that a mismatch is reported instead of truncating a message.
    const scI = Int32Array.from(sc);
    const theirs = new Int32Array(this.size);
    ok(this.m.api.Alltoall(scI, 1, this.m.int, theirs, 1, this.m.int, this.comm), 'MPI_Alltoall');
    for (let q = 0; q < this.size; q++) {
      if (theirs[q] !== rc[q]) {
        throw new RangeError(`allToAll: rank ${this.rank} expects ${rc[q]} elements from rank ${q}, which sends ${theirs[q]}`);
      }
    }
    ok(this.m.api.Alltoallv(send, scI, Int32Array.from(displacements(sc)), f,
      recv, Int32Array.from(rc), Int32Array.from(displacements(rc)), f, this.comm), 'MPI_Alltoallv');
  }

  async broadcast(x: Float32Array, root: number): Promise<void> {
    check.rank('broadcast root', root, this.size);
    ok(this.m.api.Bcast(x, x.length, this.m.float, root, this.comm), 'MPI_Bcast');
  }

  async barrier(): Promise<void> {
    ok(this.m.api.Barrier(this.comm), 'MPI_Barrier');
  }

  async send(x: Float32Array, peer: number, tag = 0): Promise<void> {
    check.rank('send peer', peer, this.size);
    check.tag(tag);
    if (peer === this.rank) throw new RangeError('send: a rank cannot send to itself');
    ok(this.m.api.Send(x, x.length, this.m.float, peer, tag, this.comm), 'MPI_Send');
  }

  async recv(x: Float32Array, peer: number, tag = 0): Promise<void> {
    check.rank('recv peer', peer, this.size);
    check.tag(tag);
    if (peer === this.rank) throw new RangeError('recv: a rank cannot receive from itself');
    const status = new Int32Array(8); // MPI_Status: source, tag, error, cancelled, size_t count
    ok(this.m.api.Recv(x, x.length, this.m.float, peer, tag, this.comm, status), 'MPI_Recv');
    const n = new Int32Array(1);
    ok(this.m.api.Get_count(status, this.m.float, n), 'MPI_Get_count');
    if (n[0] !== x.length) throw new RangeError(`recv from ${peer}: expected ${x.length} elements, got ${n[0]}`);
  }

  async split(color: number, key: number = this.rank): Promise<ProcessGroup> {
    check.color(color);
    const out = new BigUint64Array(1);
    ok(this.m.api.Comm_split(this.comm, color, key, out), 'MPI_Comm_split');
    return new MpiGroup(this.m, out[0] ?? 0n, this.worldRank);
  }

  /**
   * Collective: nonblocking all-reduces on a duplicate communicator (progress.ts). The arrays are
   * passed by address and must stay where they are until waited for: backend memory does (a wasm
   * heap reserved at its maximum, host blocks V8 never moves).
   */
  async nonblocking(): Promise<Nonblocking> {
    const dup = new BigUint64Array(1);
    ok(this.m.api.Comm_split(this.comm, 0, this.rank, dup), 'MPI_Comm_split');
    return new MpiNonblocking(this.m, dup[0] ?? 0n, this.size);
  }
}

/** MPI_Iallreduce requests, tested on every poke, waited for in the order started. */
class MpiNonblocking implements Nonblocking {
  readonly overlaps = true;
  /** Requests not yet known complete, oldest first; each with the arrays it holds on to. */
  private pending: { reqs: BigUint64Array; xs: readonly Float32Array[] }[] = [];

  constructor(private readonly m: Mpi, private readonly comm: Ptr, private readonly size: number) {}

  allReduce(xs: readonly Float32Array[]): InFlight {
    const reqs = new BigUint64Array(xs.length);
    xs.forEach((x, i) => ok(this.m.api.Iallreduce(IN_PLACE, x, x.length, this.m.float, this.m.sum, this.comm, reqs.subarray(i, i + 1)),
      'MPI_Iallreduce'));
    return this.track(reqs, xs);
  }

  allToAll(send: Float32Array, recv: Float32Array): InFlight {
    check.multiple('allToAll send', send.length, this.size);
    check.equal('allToAll recv', recv.length, send.length);
    const reqs = new BigUint64Array(1), n = send.length / this.size, f = this.m.float;
    ok(this.m.api.Ialltoall(send, n, f, recv, n, f, this.comm, reqs), 'MPI_Ialltoall');
    return this.track(reqs, [send, recv]);
  }

  private track(reqs: BigUint64Array, xs: readonly Float32Array[]): InFlight {
    const entry = { reqs, xs };
    this.pending.push(entry);
    return { wait: async () => {
      ok(this.m.api.Waitall(reqs.length, reqs, null), 'MPI_Waitall');
      this.pending = this.pending.filter((p) => p !== entry);
    } };
  }

  poke(): void {
    const flag = new Int32Array(1);
    for (const p of this.pending) ok(this.m.api.Testall(p.reqs.length, p.reqs, flag, null), 'MPI_Testall');
  }
}
