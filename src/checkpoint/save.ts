// Saving: every rank writes its own pieces through bounded staging memory; sync or in the background.
import { open, readFile, writeFile, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { volume } from './box.js';
import { commitSave, planFile, prepareSave, publishError, publishPart, shardFile, type RankPart } from './commit.js';
import { durableStep, writeAll } from './durable.js';
import { ioPool } from './io-pool.js';
import { pieceId, planWriters, type PlannedPiece, type RankPlan } from './plan.js';
import { layoutSafetensors } from './safetensors.js';
import { ChunkPool, chunksNeeded } from './staging.js';
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
    const background = this.finish(write, copied, pieces, meta, start, t0);
    this.inflight = background;
    background.catch(() => {});
    if (this.opts.async === true) {
      start.stallSeconds = (performance.now() - t0) / 1000;
      return start;
    }
    const settled = await background.then(() => undefined, (e: unknown) => e);
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
    const count = cap !== undefined ? Math.max(1, Math.floor(cap / chunk)) : this.opts.async === true ? needed : Math.min(needed, 4);
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

interface Chunk {
  buf: ArrayBuffer;
  bytes: Uint8Array;
  used: number;
  /** File position of the chunk's first byte. */
  at: number;
  segs: { offset: number; length: number; piece: number; block: number }[];
}

/**
 * Writes this rank's pieces into `shard-RRRRR.safetensors`. Pieces are copied block by block into
 * staging chunks in file order; a full chunk goes to an I/O worker, which writes it and hashes its
 * blocks (one sha256 per block). `eager`: hand chunks over while still copying (sync saves, or
 * async saves larger than staging); otherwise the copy runs alone first, so the caller's stall
 * is a memcpy and nothing else.
 */
class ShardWriter {
  private fh: FileHandle | undefined;
  private cur: Chunk | undefined;
  private readonly queue: Chunk[] = [];
  private readonly tasks: Promise<void>[] = [];
  private readonly hashes: string[][];
  private readonly ranges: [number, number][];
  private readonly header: Uint8Array;
  private readonly fileBytes: number;
  private index = 0;
  private flushing: Promise<void> | undefined;
  private flushAgain = false;

  constructor(private readonly tmp: string, private readonly rank: number, step: number, private readonly pieces: PlannedPiece[],
    private readonly pool: ChunkPool, private readonly block: number, private readonly eager: boolean) {
    const layout = layoutSafetensors(pieces.map((p) => ({ name: pieceId(p.key, p.offset), shape: p.shape, bytes: p.bytes })),
      { format: 'pt', furnace_step: String(step), furnace_rank: String(rank) });
    this.header = layout.header;
    this.ranges = layout.ranges;
    this.fileBytes = layout.fileBytes;
    this.hashes = pieces.map((p) => new Array<string>(Math.max(1, Math.ceil(p.bytes / block))));
  }

  get file(): string {
    return shardFile(this.rank);
  }

  async open(): Promise<void> {
    if (this.pieces.length === 0) return;
    this.fh = await open(join(this.tmp, this.file), 'w');
    this.track(writeAll(this.fh, this.header, 0, this.header.length, 0).then(() => durableStep()));
  }

  /** Copies one piece into staging, block by block (waiting for a free chunk when all are in use). */
  async stage(p: PlannedPiece, data: Float32Array): Promise<void> {
    const i = this.index++;
    const src = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (p.bytes === 0) this.hashes[i]![0] = EMPTY_SHA256;
    for (let b = 0, at = 0; at < p.bytes; b++, at += this.block) {
      const length = Math.min(this.block, p.bytes - at);
      if (this.cur !== undefined && this.cur.used + length > this.pool.chunkBytes) this.seal();
      if (this.cur === undefined) {
        const buf = await this.pool.take(() => this.submitQueued());
        this.cur = { buf, bytes: new Uint8Array(buf), used: 0, at: this.ranges[i]![0] + at, segs: [] };
      }
      const c = this.cur;
      c.bytes.set(src.subarray(at, at + length), c.used);
      c.segs.push({ offset: c.used, length, piece: i, block: b });
      c.used += length;
    }
  }

  private seal(): void {
    if (this.cur === undefined) return;
    this.queue.push(this.cur);
    this.cur = undefined;
    if (this.eager) this.submitQueued();
  }

  private submitQueued(): void {
    const fd = this.fh!.fd;
    for (const c of this.queue.splice(0)) {
      this.track(ioPool().writeHashed(fd, c.buf, c.used, c.at, c.segs.map((s) => [s.offset, s.length])).then(({ hex, buf }) => {
        durableStep();
        c.segs.forEach((s, k) => { this.hashes[s.piece]![s.block] = hex[k]!; });
        this.pool.give(buf);
        this.startFlush();
      }, (e: Error & { buf?: ArrayBuffer }) => {
        this.pool.give(e.buf);
        throw e;
      }));
    }
  }

  /**
   * Starts writing dirty pages to disk now (fdatasync on the thread pool, one at a time) rather
   * than all at the final fsync, so that the disk works while the workers still hash: a save
   * then takes about max(hash, disk) instead of their sum.
   */
  private startFlush(): void {
    if (this.flushing !== undefined) {
      this.flushAgain = true;
      return;
    }
    const fh = this.fh;
    if (fh === undefined) return;
    this.flushing = fh.datasync().finally(() => {
      this.flushing = undefined;
      if (this.flushAgain) {
        this.flushAgain = false;
        this.startFlush();
      }
    });
    this.track(this.flushing);
  }

  private track(p: Promise<void>): void {
    p.catch(() => {});
    this.tasks.push(p);
  }

  /** Writes what is staged, waits, fsyncs and closes; returns the rank's part. */
  async close(): Promise<RankPart> {
    if (this.fh === undefined) return { rank: this.rank, file: null, shards: [] };
    this.seal();
    this.submitQueued();
    // Flushes chain more tasks while they run: settle until no task is left unawaited.
    for (let seen = 0; seen < this.tasks.length;) {
      const batch = this.tasks.slice(seen);
      seen = this.tasks.length;
      for (const r of await Promise.allSettled(batch)) if (r.status === 'rejected') throw r.reason;
    }
    await this.fh.sync();
    durableStep();
    await this.fh.close();
    this.fh = undefined;
    return {
      rank: this.rank,
      file: { name: this.file, bytes: this.fileBytes, writerRank: this.rank },
      shards: this.pieces.map((p, i) => ({ id: pieceId(p.key, p.offset), byteRange: this.ranges[i]!, sha256: this.hashes[i]! })),
    };
  }

  /** After a failure: lets in-flight work end (its chunks must come back first) and closes. */
  async abort(): Promise<void> {
    if (this.cur !== undefined) this.pool.give(this.cur.buf);
    this.cur = undefined;
    for (const c of this.queue.splice(0)) this.pool.give(c.buf);
    await Promise.allSettled(this.tasks);
    await this.fh?.close().catch(() => {});
    this.fh = undefined;
  }
}

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
