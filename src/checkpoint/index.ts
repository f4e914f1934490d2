// Public surface of furnace's sharded checkpoints: save (sync or async), load any slice, verify, export.
export { Checkpointer, saveCheckpoint, type CheckpointerOptions, type SaveStart, type SaveResult } from './save.js';
export { CheckpointReader, readTensor, readShards, type ReadOptions } from './load.js';
export { readManifest, resolveCheckpoint, NotACheckpointError } from './manifest.js';
export { exportSafetensors } from './export.js';
export { committedSteps } from './commit.js';
export { CheckpointError, localGroup, soloCoordinator, stepDirName, type Coordinator, type Json, type Manifest,
  type ShardedArray, type ShardedTensor } from './types.js';
