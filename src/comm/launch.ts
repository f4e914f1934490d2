// Runs a module's `main(world, args)` on N ranks: worker threads (default) or mpirun processes.
//
// Failure contract: an error on any rank rejects with the error rankFailure() makes of it, so that
// the CLI gives the exit code a single process would: bad input stays an InputError (the rank's own
// line), a failed check or an internal error becomes a RankError naming the rank. Threads: the
// failing rank sets the shared abort flag, ranks blocked in collectives see it within ~20 ms and
// stop; any rank still running after `graceS` is terminated. MPI: the failing rank prints a
// line `furnace: rank R failed [kind]: ...` and calls MPI_Abort, which ends every process of the job.
import { Worker } from 'node:worker_threads';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RankError, rankFailure, type CommBackend } from './process-group.js';
import { SharedWorld } from './threads-shared.js';
import { ThreadGroup } from './threads-group.js';
import { RESULT_MARK, moduleHref, parseRankFailure, type RankReport, type ThreadRankData } from './rank-main.js';

export interface LaunchOptions {
  ranks: number;
  backend?: CommBackend;
  /** Passed to every rank's main (structured-cloned for threads, JSON for MPI). */
  args?: unknown;
  /** Name of the exported function; default 'main'. */
  exportName?: string;
  /** Whole-job limit in seconds (0: none). */
  timeoutS?: number;
  /** Seconds the other ranks get to stop after one failed, before they are terminated. */
  graceS?: number;
  /** Threads: a collective waiting longer than this for a peer fails (0: wait forever). */
  commTimeoutS?: number;
  /** MPI: extra mpirun arguments (e.g. a hostfile). */
  mpirunArgs?: string[];
}

/** Runs `module`'s exported function on `ranks` ranks; resolves to each rank's result, by rank. */
export async function launch<R = unknown>(module: string | URL, opts: LaunchOptions): Promise<R[]> {
  if (!Number.isInteger(opts.ranks) || opts.ranks < 1) throw new RangeError(`launch: ranks must be a positive integer, got ${opts.ranks}`);
  return (opts.backend ?? 'threads') === 'mpi' ? launchMpi<R>(module, opts) : launchThreads<R>(module, opts);
}

async function launchThreads<R>(module: string | URL, opts: LaunchOptions): Promise<R[]> {
  const n = opts.ranks;
  const memory = SharedWorld.create(n);
  const shared = new SharedWorld(memory, n, -1);
  const region = ThreadGroup.allocRegion(shared, n);
  const entry = new URL('./thread-rank.js', import.meta.url);
  const results: R[] = new Array<R>(n);
  const failures: Extract<RankReport, { kind: 'error' }>[] = [];
  let timedOut = false;

  await new Promise<void>((resolveAll) => {
    let live = n;
    const workers: Worker[] = [];
    const timers: NodeJS.Timeout[] = [];
    const terminated = new Set<Worker>();
    const stopAll = (afterS: number) => {
      timers.push(setTimeout(() => {
        for (const w of workers) {
          terminated.add(w);
          void w.terminate();
        }
      }, afterS * 1000));
    };
    if ((opts.timeoutS ?? 0) > 0) {
      timers.push(setTimeout(() => {
        timedOut = true;
        shared.abort(-1);
        stopAll(opts.graceS ?? 5);
      }, (opts.timeoutS ?? 0) * 1000));
    }
    const fail = (rep: Extract<RankReport, { kind: 'error' }>) => {
      failures.push(rep);
      if (failures.length === 1) {
        shared.abort(rep.rank);
        stopAll(opts.graceS ?? 5);
      }
    };
    for (let rank = 0; rank < n; rank++) {
      const data: ThreadRankData = { memory, region, rank, size: n, module: moduleHref(module),
        exportName: opts.exportName ?? 'main', args: opts.args, commTimeoutS: opts.commTimeoutS ?? 0 };
      const w = new Worker(entry, { workerData: data });
      workers.push(w);
      let reported = false;
      w.on('message', (rep: RankReport) => {
        reported = true;
        if (rep.kind === 'done') results[rep.rank] = rep.result as R;
        else fail(rep);
      });
      w.on('error', (e: Error) => {
        reported = true;
        shared.markExited(rank);
        fail({ kind: 'error', rank, errorKind: 'internal', message: e.message, stack: e.stack ?? '', aborted: false });
      });
      w.on('exit', (code) => {
        shared.markExited(rank);
        // A rank the launcher terminated after another failed is not the cause.
        if (!reported) {
          fail({ kind: 'error', rank, errorKind: 'internal', message: terminated.has(w) ? 'terminated after another rank failed'
            : `exited with code ${code} before finishing`, stack: '', aborted: terminated.has(w) });
        }
        if (--live === 0) {
          for (const t of timers) clearTimeout(t);
          resolveAll();
        }
      });
    }
  });
  if (timedOut) throw new Error(`launch: the job did not finish within ${opts.timeoutS} s`);
  const first = failures.find((f) => !f.aborted) ?? failures[0];
  if (first !== undefined) throw rankFailure(first.rank, first.errorKind, first.message, first.stack);
  return results;
}

async function launchMpi<R>(module: string | URL, opts: LaunchOptions): Promise<R[]> {
  const entry = fileURLToPath(new URL('./mpi-rank.js', import.meta.url));
  const root = process.getuid?.() === 0 ? ['--allow-run-as-root'] : [];
  const argv = [...root, '--oversubscribe', '--mca', 'mpi_yield_when_idle', '1', ...(opts.mpirunArgs ?? []),
    '-np', String(opts.ranks), process.execPath, entry, moduleHref(module), opts.exportName ?? 'main',
    JSON.stringify(opts.args ?? null)];
  const child = spawn('mpirun', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  const results: R[] = new Array<R>(opts.ranks);
  const errors: NonNullable<ReturnType<typeof parseRankFailure>>[] = [];
  const tail: string[] = [];
  const lines = (stream: NodeJS.ReadableStream, onLine: (l: string) => void) => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
  };
  lines(child.stdout, (l) => {
    const at = l.indexOf(RESULT_MARK);
    if (at < 0) return void process.stdout.write(l + '\n');
    const { rank, result } = JSON.parse(l.slice(at + RESULT_MARK.length)) as { rank: number; result: R };
    results[rank] = result;
  });
  lines(child.stderr, (l) => {
    const failure = parseRankFailure(l);
    if (failure !== undefined) errors.push(failure);
    else {
      tail.push(l);
      if (tail.length > 200) tail.shift();
    }
  });
  let timedOut = false;
  const timer = (opts.timeoutS ?? 0) > 0 ? setTimeout(() => {
    timedOut = true;
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), (opts.graceS ?? 5) * 1000).unref();
  }, (opts.timeoutS ?? 0) * 1000) : undefined;
  const code = await new Promise<number>((res, rej) => {
    child.on('error', rej);
    child.on('close', (c, sig) => res(c ?? (sig !== null ? 128 : 1)));
  });
  if (timer !== undefined) clearTimeout(timer);
  const first = errors[0];
  if (first !== undefined) throw rankFailure(first.rank, first.kind, first.message);
  if (timedOut) throw new Error(`launch: the MPI job did not finish within ${opts.timeoutS} s`);
  if (code !== 0) {
    // A rank that died without reporting (a signal, process.exit): mpirun names it in one of two ways.
    const text = tail.join('\n');
    const m = /process rank (\d+)[^\n]*/.exec(text) ?? /Process name: \[\[\d+,\d+\],(\d+)\][\s\S]*?Exit code:\s*(\d+)/.exec(text);
    if (m !== null) throw new RankError(Number(m[1]), m[2] !== undefined ? `exited with code ${m[2]}` : m[0].trim());
    throw new Error(`mpirun exited with code ${code}: ${tail.slice(-5).join(' | ')}`);
  }
  return results;
}
