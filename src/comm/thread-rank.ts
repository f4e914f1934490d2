// Entry of one worker thread of a threads job: builds the world group, runs the user's function.
import { parentPort, workerData } from 'node:worker_threads';
import { CommAbortedError } from './process-group.js';
import { errorKind } from '../util/errors.js';
import { SharedWorld } from './threads-shared.js';
import { ThreadGroup } from './threads-group.js';
import { rankFunction, type RankReport, type ThreadRankData } from './rank-main.js';

const d = workerData as ThreadRankData;
const shared = new SharedWorld(d.memory, d.size, d.rank, d.commTimeoutS);
const world = new ThreadGroup(shared, d.region, d.rank, Array.from({ length: d.size }, (_, i) => i));
let report: RankReport;
try {
  const fn = await rankFunction(d.module, d.exportName);
  report = { kind: 'done', rank: d.rank, result: await fn(world, d.args) };
} catch (e) {
  const err = e instanceof Error ? e : new Error(String(e));
  // The first failure wins the abort flag; ranks released by it report as aborted.
  if (!(e instanceof CommAbortedError)) shared.abort(d.rank);
  report = { kind: 'error', rank: d.rank, errorKind: errorKind(e), message: err.message, stack: err.stack ?? '', aborted: e instanceof CommAbortedError };
}
shared.markExited(d.rank);
parentPort?.postMessage(report);
