// The communication runtime's public surface: groups, backends, launcher, layouts, gradient sync.
//
// A training job on N ranks:
//   threads (one process):  await launch(new URL('./rank.js', import.meta.url), { ranks: N, args })
//   mpi (one process/rank): under `mpirun -np N furnace train --comm mpi`, await runMpiRank((world) => main(world, args))
// where rank.ts exports `async function main(world: ProcessGroup, args)` that builds its groups
// with `makeProcessGroups(new TimedGroup(world), { dp, tp, ep }, topology)` and trains; a failing
// rank rejects launch() with a RankError naming it (MPI: the job aborts with that rank's message).
export {
  COMM_BACKENDS, CommAbortedError, RankError, type CommBackend, type Counts, type ProcessGroup, type ReduceOp,
} from './process-group.js';
export { launch, type LaunchOptions } from './launch.js';
export type { RankMain } from './rank-main.js';
export { MpiGroup, commBackends, findMpirun, runMpiRank, underMpirun } from './mpi-group.js';
export { makeProcessGroups, type ProcessGroups, type ParallelLayout, type GridCoords } from './groups.js';
export { loadTopology, parseTopology, type Topology } from './topology.js';
export { HierarchicalAllToAll } from './hierarchical-all-to-all.js';
export * from './collective-pairs.js';
export { CommClock, TimedGroup, COMM_KINDS, type CommKind } from './timed-group.js';
export { GradBuckets, Zero1, allReduceGrads, planBuckets, syncGradients, type BucketOptions } from './grad-sync.js';
