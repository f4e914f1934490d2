// The shapes a checkpoint is made of: sharded tensors in global coordinates, the coordinator, the manifest.
import { CheckError } from '../util/errors.js';

/** Element type of a stored tensor. Only float32 exists today; the field keeps the format open. */
export type DType = 'f32';

/**
 * A local piece of a global row-major array (Megatron dist-checkpointing's ShardedTensor):
 * the piece spans [offset[d], offset[d] + localShape[d]) in every dimension d of globalShape.
 * A piece held identically by `replicas` ranks (data parallelism) carries replicaId 0..replicas-1
 * on those ranks; it is written once.
 */
export interface ShardedTensor {
  key: string;
  dtype: DType;
  globalShape: number[];
  offset: number[];
  localShape: number[];
  replicaId: number;
  replicas: number;
}

/** A sharded tensor together with its local data: prod(localShape) floats, row-major. */
export interface ShardedArray extends ShardedTensor {
  data: Float32Array;
}

/**
 * What a checkpoint needs from the processes that save it: a rank, a size and a barrier.
 * A ProcessGroup satisfies it structurally. Everything else is exchanged through files in the
 * checkpoint's temporary directory.
 */
export interface Coordinator {
  readonly rank: number;
  readonly size: number;
  barrier(): Promise<void>;
}

/** Any JSON value: what `meta` may hold (model config, tokenizer, layout, RNG states, loader position). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** One stored piece of a tensor: where it lies in the global array and where its bytes are. */
export interface ShardEntry {
  offset: number[];
  shape: number[];
  file: string;
  /** Absolute byte range [start, end) inside `file`. */
  byteRange: [number, number];
  /** sha256 (hex) of each consecutive block of `hashBlockBytes` of the piece; the last may be shorter. */
  sha256: string[];
}

export interface TensorEntry {
  key: string;
  dtype: DType;
  globalShape: number[];
  shards: ShardEntry[];
}

export interface FileEntry {
  name: string;
  bytes: number;
  writerRank: number;
}

/** manifest.json: everything needed to read any slice of any tensor, in global coordinates. */
export interface Manifest {
  format: typeof FORMAT;
  version: typeof FORMAT_VERSION;
  step: number;
  createdAt: string;
  worldSize: number;
  hashBlockBytes: number;
  meta: Json;
  files: FileEntry[];
  tensors: TensorEntry[];
}

export const FORMAT = 'furnace-checkpoint';
export const FORMAT_VERSION = 1;
export const MANIFEST = 'manifest.json';
export const LATEST = 'latest';
/** sha256 of no bytes: the hash list of an empty piece. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** A one-process coordinator. */
export const soloCoordinator: Coordinator = { rank: 0, size: 1, barrier: async () => {} };

/** `size` coordinators for ranks simulated as concurrent async tasks of one process. */
export function localGroup(size: number): Coordinator[] {
  let waiting: (() => void)[] = [];
  const barrier = () => new Promise<void>((resolve) => {
    waiting.push(resolve);
    if (waiting.length === size) {
      const release = waiting;
      waiting = [];
      for (const r of release) r();
    }
  });
  return Array.from({ length: size }, (_, rank) => ({ rank, size, barrier }));
}

/** `step-00000042`: the directory name of a committed step. */
export function stepDirName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

/** The step of a committed directory name, or undefined for anything else. */
export function parseStepDirName(name: string): number | undefined {
  const m = /^step-(\d{8,})$/.exec(name);
  return m === null ? undefined : Number(m[1]);
}

/** Error about a checkpoint's contents; `file` names the shard or manifest at fault. */
export class CheckpointError extends CheckError {
  override readonly name = 'CheckpointError';
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`);
  }
}
