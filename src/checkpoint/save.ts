// Saving: every rank writes its own pieces through bounded staging memory; sync or in the background.
import { readFile, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { volume } from './box.js';
import { commitSave, planFile, prepareSave, publishError, publishPart } from './commit.js';
import { pieceId, planWriters, type PlannedPiece, type RankPlan } from './plan.js';
import { ChunkPool, chunksNeeded } from './staging.js';
import { ShardWriter } from './shard-writer.js';
import { MANIFEST, stepDirName, type Coordinator, type Json, type ShardedArray } from './types.js';

export interface CheckpointerOptions {
  /** Directory holding `step-XXXXXXXX/` checkpoints and the `latest` pointer. */
  root: string;
  coordinator: Coordinator;
  /** Keep the newest `keep` committed steps (default 3; 0 keeps all). */
  keep?: number;
  /** Return once the state is copied to staging memory; write in the background. */
  async?: boolean;
  /** Staging memory of this rank, bytes. Default: what this rank writes (async), 256 MiB (sync).
   * An async save larger than its staging blocks the caller until the rest fits. */
  stagingBytes?: number;
  /** Topology group of this rank (e.g. supernode), to spread writers over groups. */
  group?: number;
  /** Bytes per hash block (default 16 MiB): the unit of verification when reading slices. */
  hashBlockBytes?: number;
  /** How long rank 0 waits for the other ranks' shards (default 600 s). */
  timeoutSeconds?: number;
}

/** What save() reports when it returns control to the caller. */
export interface SaveStart {
  step: number;
  /** The directory the step is committed to. */
  dir: string;
  /** Bytes of tensor data this rank writes (replicated pieces count on their writer only). */
  bytes: number;
  /** Staging memory held by this rank. */
  stagingBytes: number;
  /** Seconds the caller was blocked (async: the snapshot copy; sync: the whole save). */
  stallSeconds: number;
}

export interface SaveResult extends SaveStart {
  /** Seconds from the call until this rank's part (rank 0: the commit) was done. */
  seconds: number;
  /** True on rank 0 once the step is committed and `latest` names it. */
  committed: boolean;
}

const MiB = 1 << 20;
/** Staging chunk size: one write call each; large enough to reach the disk's bandwidth. */
const CHUNK = 64 * MiB;

/**
 * Saves sharded state of one step. One per rank and root; at most one save is in flight, so a
 * save first waits for the previous one and throws its error if it failed.
 */
export class Checkpointer {
  private pool: ChunkPool | undefined;
  private inflight: Promise<SaveResult> | undefined;
  private readonly keep: number;
  private readonly hashBlockBytes: number;

  constructor(private readonly opts: CheckpointerOptions) {
    this.keep = opts.keep ?? 3;
    this.hashBlockBytes = opts.hashBlockBytes ?? 16 * MiB;
    if (!(this.hashBlockBytes > 0 && this.hashBlockBytes % 4 === 0)) throw new Error('hashBlockBytes must be a positive multiple of 4');
  }

  /** Staging memory currently held, bytes. */
  get stagingBytes(): number {
    return this.pool?.capacity ?? 0;
  }

  /**
   * Saves `tensors` (this rank's pieces) as step `step`, with `meta` (any JSON) in the manifest.
   * Sync: resolves when the step is committed on every rank. Async: resolves once the state is
   * copied; later changes to the arrays do not reach the checkpoint; wait() gives the outcome.
   */
  async save(step: number, tensors: ShardedArray[], meta: Json = {}): Promise<SaveStart> {
    const t0 = performance.now();
    await this.wait();
    const co = this.opts.coordinator;
    const root = this.opts.root;
    const tmp = join(root, `${stepDirName(step)}.tmp`);
    if (!Number.isSafeInteger(step) || step < 0) throw new Error(`step must be a non-negative integer, got ${step}`);

    // Phase 1 (rank 0): a clean temporary directory. Errors travel in the plan files, so that
    // every rank reaches every barrier and all refuse the save together.
    let failure: string | undefined;
    if (co.rank === 0) failure = await prepareSave(root, tmp).then(() => undefined, (e: Error) => e.message);
    await co.barrier();
    // Phase 2: every rank describes its pieces; after the barrier all agree on the writers.
    const plan: RankPlan = { step, rank: co.rank, group: this.opts.group ?? 0, pieces: tensors.map(({ data: _d, ...t }) => t) };
    const bad = tensors.find((t) => t.data.length !== volume(t.localShape));
    if (bad !== undefined) failure ??= `'${bad.key}' has ${bad.data.length} values for shape [${bad.localShape}]`;
    if (failure !== undefined) plan.error = failure;
    await writeFile(join(tmp, planFile(co.rank)), JSON.stringify(plan)).catch(() => {});
    await co.barrier();
    const pieces = planWriters(await readPlans(tmp, co.size, step));

    const data = new Map(tensors.map((t) => [pieceId(t.key, t.offset), t.data]));
    const mine = pieces.filter((p) => p.writer === co.rank);
    const bytes = mine.reduce((s, p) => s + p.bytes, 0);
    const pool = this.staging(mine.map((p) => p.bytes));
    const needed = chunksNeeded(mine.map((p) => p.bytes), this.hashBlockBytes, pool.chunkBytes);
    const write = new ShardWriter(tmp, co.rank, step, mine, pool, this.hashBlockBytes, this.opts.async !== true || pool.count < needed);
    let copied: unknown;
    try {
      await write.open();
      for (const p of mine) await write.stage(p, data.get(pieceId(p.key, p.offset))!);
    } catch (e) {
      copied = e;
    }
    const start: SaveStart = { step, dir: join(root, stepDirName(step)), bytes, stagingBytes: pool.capacity, stallSeconds: 0 };
    // meta is snapshotted too: an RNG state or loader position updated in place must not leak in.
    const background = this.finish(write, copied, pieces, JSON.parse(JSON.stringify(meta)) as Json, start, t0);
    this.inflight = background;
    background.catch(() => {});
    if (this.opts.async === true) {
      start.stallSeconds = (performance.now() - t0) / 1000;
      return start;
    }
    const settled = await background.then(() => undefined, (e: unknown) => e);
    this.inflight = undefined;
    await co.barrier();
    if (settled !== undefined) throw settled;
    if (co.rank !== 0 && !(await stat(join(start.dir, MANIFEST)).then(() => true, () => false))) {
      throw new Error(`step ${step} was not committed by rank 0`);
    }
    start.stallSeconds = (performance.now() - t0) / 1000;
    return start;
  }

  /** Waits for the save in flight; throws its error (once). Undefined when none was in flight. */
  async wait(): Promise<SaveResult | undefined> {
    const p = this.inflight;
    this.inflight = undefined;
    return p;
  }

  /**
   * Staging for pieces of these sizes: chunks of CHUNK bytes (less for small states, never less
   * than a hash block); as many as the pieces need (async) or up to 4 (sync), unless capped by
   * `stagingBytes`. Kept across saves while large enough.
   */
  private staging(pieceBytes: number[]): ChunkPool {
    const total = pieceBytes.reduce((a, b) => a + b, 0);
    const cap = this.opts.stagingBytes;
    const chunk = Math.max(this.hashBlockBytes, Math.min(CHUNK, cap ?? CHUNK, Math.ceil(total / 4) * 4));
    const needed = Math.max(1, chunksNeeded(pieceBytes, this.hashBlockBytes, chunk));
    const count = total === 0 ? 0 : cap !== undefined ? Math.max(1, Math.floor(cap / chunk)) : this.opts.async === true ? needed : Math.min(needed, 4);
    if (this.pool === undefined || this.pool.chunkBytes !== chunk || this.pool.count < count) this.pool = new ChunkPool(chunk, count);
    return this.pool;
  }

  /** Background part: flush, fsync, publish this rank's part; rank 0 then commits. */
  private async finish(w: ShardWriter, copied: unknown, pieces: PlannedPiece[], meta: Json, start: SaveStart, t0: number): Promise<SaveResult> {
    const co = this.opts.coordinator;
    const tmp = join(this.opts.root, `${stepDirName(start.step)}.tmp`);
    try {
      if (copied !== undefined) throw copied;
      await publishPart(tmp, await w.close());
    } catch (e) {
      await w.abort();
      await publishError(tmp, co.rank, e);
      throw e;
    }
    let committed = false;
    if (co.rank === 0) {
      await commitSave({ root: this.opts.root, step: start.step, size: co.size, pieces, meta, hashBlockBytes: this.hashBlockBytes,
        keep: this.keep, timeoutSeconds: this.opts.timeoutSeconds ?? 600 }).catch(async (e: unknown) => {
        await publishError(tmp, 0, e);
        throw e;
      });
      committed = true;
    }
    return { ...start, seconds: (performance.now() - t0) / 1000, committed };
  }
}

/** One-shot synchronous save (builds a Checkpointer for the call). */
export async function saveCheckpoint(opts: CheckpointerOptions, step: number, tensors: ShardedArray[], meta: Json = {}): Promise<SaveStart> {
  return new Checkpointer({ ...opts, async: false }).save(step, tensors, meta);
}

async function readPlans(tmp: string, size: number, step: number): Promise<RankPlan[]> {
  const plans: RankPlan[] = [];
  for (let r = 0; r < size; r++) {
    let plan: RankPlan;
    try {
      plan = JSON.parse(await readFile(join(tmp, planFile(r)), 'utf8')) as RankPlan;
    } catch {
      throw new Error(`rank ${r} did not describe its pieces for step ${step} (${planFile(r)} missing)`);
    }
    if (plan.step !== step || plan.rank !== r) throw new Error(`rank ${r} is saving step ${plan.step}, not ${step}`);
    plans.push(plan);
  }
  return plans;
}
