// Writes one rank's shard file: staging chunks in file order, written and hashed by I/O workers.
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { shardFile, type RankPart } from './commit.js';
import { durableStep, writeAll } from '../util/durable.js';
import { ioPool } from './io-pool.js';
import type { ChunkCopy } from './io-chunk.js';
import { pieceId, type PlannedPiece } from './plan.js';
import { layoutSafetensors } from './safetensors.js';
import type { ChunkPool } from './staging.js';
import { EMPTY_SHA256 } from './types.js';

interface Chunk {
  buf: ArrayBuffer;
  bytes: Uint8Array;
  used: number;
  /** File position of the chunk's first byte. */
  at: number;
  segs: { offset: number; length: number; piece: number; block: number }[];
  /** Copies from shared memory still to do (on a worker) before the chunk holds its bytes. */
  copies: ChunkCopy[];
  ready: Promise<void>;
}

/**
 * Writes this rank's pieces into `shard-RRRRR.safetensors`. Pieces are copied block by block into
 * staging chunks in file order; a full chunk goes to an I/O worker, which writes it and hashes its
 * blocks (one sha256 per block). `eager`: hand chunks over while still copying (sync saves, or
 * async saves larger than staging); otherwise the copy runs alone first, so the caller's stall
 * is a memcpy and nothing else.
 */
export class ShardWriter {
  private fh: FileHandle | undefined;
  private cur: Chunk | undefined;
  private readonly queue: Chunk[] = [];
  private readonly tasks: Promise<void>[] = [];
  private readonly hashes: string[][];
  private readonly ranges: [number, number][];
  private readonly header: Uint8Array;
  private readonly fileBytes: number;
  private index = 0;
  private readonly copying: Promise<void>[] = [];
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
    for (let b = 0, at = 0; at < p.bytes;) {
      if (this.cur !== undefined && this.cur.used + Math.min(this.block, p.bytes - at) > this.pool.chunkBytes) this.seal();
      if (this.cur === undefined) {
        const buf = await this.pool.take(() => this.submitQueued());
        this.cur = { buf, bytes: new Uint8Array(buf), used: 0, at: this.ranges[i]![0] + at, segs: [], copies: [], ready: Promise.resolve() };
      }
      // As many whole blocks as fit, copied with one call.
      const c = this.cur;
      let end = at;
      for (let len = Math.min(this.block, p.bytes - end); end < p.bytes && c.used + (end - at) + len <= this.pool.chunkBytes;
        end += len, len = Math.min(this.block, p.bytes - end)) {
        c.segs.push({ offset: c.used + (end - at), length: len, piece: i, block: b++ });
      }
      // Not eager: shared memory (a wasm backend's heap) is copied by the workers, several chunks at once.
      if (!this.eager && data.buffer instanceof SharedArrayBuffer) c.copies.push([data.buffer, data.byteOffset + at, c.used, end - at]);
      else c.bytes.set(src.subarray(at, end), c.used);
      c.used += end - at;
      at = end;
    }
  }

  /** Resolves once every staged byte is in staging memory: the snapshot is then complete. */
  async snapshot(): Promise<void> {
    this.seal();
    await Promise.all(this.copying);
  }

  private seal(): void {
    const c = this.cur;
    if (c === undefined) return;
    if (c.copies.length > 0) {
      c.ready = ioPool().copyInto(c.buf, c.copies).then((buf) => {
        c.buf = buf;
        c.bytes = new Uint8Array(buf);
      });
      this.copying.push(c.ready);
      this.track(c.ready);
    }
    this.queue.push(c);
    this.cur = undefined;
    if (this.eager) this.submitQueued();
  }

  private submitQueued(): void {
    const fd = this.fh!.fd;
    for (const c of this.queue.splice(0)) {
      this.track(c.ready.then(() => ioPool().writeHashed(fd, c.buf, c.used, c.at, c.segs.map((s) => [s.offset, s.length]))).then(({ hex, buf }) => {
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

