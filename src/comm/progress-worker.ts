// Entry of a communication worker (progress-threads.ts): runs the collectives it is sent (all-reduces,
// all-to-alls), in order, over its duplicate of the rank's group, and reports each completion in
// the control cells.
import { parentPort, workerData } from 'node:worker_threads';
import { CommAbortedError } from './process-group.js';
import { errorMessage } from '../util/errors.js';
import { SharedWorld } from './threads-shared.js';
import { ThreadGroup } from './threads-group.js';
import type { CommFailure, CommRequest, CommWorkerData } from './progress-threads.js';

const d = workerData as CommWorkerData;
const w = new SharedWorld(d.memory, d.worldSize, d.worldRank, d.timeoutS);
const group = new ThreadGroup(w, d.group.region, d.group.rank, d.group.members);
const done = d.cell >> 2;
let failed = false;

async function serve(r: CommRequest): Promise<void> {
  try {
    // After a failure (reported once) later requests complete at once: the rank has its error.
    if (!failed && r.op === 'allReduce') for (const x of r.xs) await group.allReduce(x);
    else if (!failed && r.op === 'allToAll') await group.allToAll(r.send, r.recv);
  } catch (e) {
    failed = true;
    Atomics.store(w.i32(), done + 1, 1);
    d.port.postMessage({ message: errorMessage(e), failedRank: e instanceof CommAbortedError ? e.failedRank : null } satisfies CommFailure);
  }
  w.post(done, r.seq);
}

// One request at a time, in the order sent (a collective's order must be the same on every rank).
let chain = Promise.resolve();
parentPort?.on('message', (r: CommRequest) => { chain = chain.then(() => serve(r)); });
