// The communication runtime's public surface: groups, backends, launcher, layouts, gradient sync.
export {
  COMM_BACKENDS, CommAbortedError, RankError, type CommBackend, type Counts, type ProcessGroup, type ReduceOp,
} from './process-group.js';
export { launch, type LaunchOptions } from './launch.js';
export type { RankMain } from './rank-main.js';
export { MpiGroup, findMpirun, runMpiRank, underMpirun } from './mpi-group.js';
export { makeProcessGroups, checkSizes, type ProcessGroups, type ParallelLayout, type GridCoords } from './groups.js';
export { loadTopology, parseTopology, place, unitOf, type Axis, type Topology, type Placement, type GridSizes } from './topology.js';
export { HierarchicalAllToAll } from './hierarchical-all-to-all.js';
export * from './collective-pairs.js';
export { GradBuckets, Zero1, allReduceGrads, planBuckets, type BucketOptions } from './grad-sync.js';
