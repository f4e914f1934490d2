// Loading: any slice of any global tensor, from whichever shards cover it, hashes verified.
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { copyRegion, intersect, spanIn, volume, type Box } from './box.js';
import { ioPool } from './io-pool.js';
import { readManifest } from './manifest.js';
import { pieceId } from './plan.js';
import { readSafetensorsHeader } from './safetensors.js';
import { CheckpointError, EMPTY_SHA256, type Json, type Manifest, type ShardEntry, type ShardedArray, type ShardedTensor, type TensorEntry } from './types.js';
import { errorMessage, errnoCode } from '../util/errors.js';

export interface ReadOptions {
  /** Check every block read against its sha256 in the manifest (default true). */
  verify?: boolean;
}

/** Bytes read per job: a slab (run of outermost indices of a region) or a window of a shard. */
const WINDOW = 16 << 20;

/** An open checkpoint: the manifest plus lazily opened, checked shard files. */
export class CheckpointReader {
  private readonly files = new Map<string, Promise<FileHandle>>();
  private readonly verified = new Set<string>();
  private readonly byFile = new Map<string, { key: string; shard: ShardEntry }[]>();
  private readonly buffers: ArrayBuffer[] = [];
  readonly verify: boolean;

  private constructor(readonly dir: string, readonly manifest: Manifest, opts: ReadOptions) {
    this.verify = opts.verify ?? true;
    for (const f of manifest.files) this.byFile.set(f.name, []);
    for (const t of manifest.tensors) for (const shard of t.shards) this.byFile.get(shard.file)!.push({ key: t.key, shard });
  }

  static async open(dir: string, opts: ReadOptions = {}): Promise<CheckpointReader> {
    return new CheckpointReader(dir, await readManifest(dir), opts);
  }

  get step(): number {
    return this.manifest.step;
  }

  get meta(): Json {
    return this.manifest.meta;
  }

  tensor(key: string): TensorEntry {
    const t = this.manifest.tensors.find((x) => x.key === key);
    if (t === undefined) throw new Error(`checkpoint ${this.dir} has no tensor '${key}'`);
    return t;
  }

  /** The slice [offset, offset + shape) of tensor `key` (default: all of it), row-major. */
  async read(key: string, offset?: number[], shape?: number[]): Promise<Float32Array> {
    const t = this.tensor(key);
    const box: Box = { offset: offset ?? t.globalShape.map(() => 0), shape: shape ?? t.globalShape };
    const out = new Float32Array(volume(box.shape));
    await this.readInto(key, box, out);
    return out;
  }

  /** Fills `dst` (row-major storage of `box`) from every shard that overlaps the box. */
  async readInto(key: string, box: Box, dst: Float32Array): Promise<void> {
    const t = this.tensor(key);
    const g = t.globalShape;
    if (box.offset.length !== g.length || box.shape.length !== g.length
      || box.offset.some((o, d) => o < 0 || o + box.shape[d]! > g[d]!)) {
      throw new RangeError(`'${key}': slice [${box.offset}]+[${box.shape}] is outside [${g}]`);
    }
    if (dst.length !== volume(box.shape)) throw new RangeError(`'${key}': destination holds ${dst.length}, slice ${volume(box.shape)}`);
    const jobs: { s: ShardEntry; slab: Box }[] = [];
    for (const s of t.shards) {
      const region = intersect(box, s);
      if (region !== undefined) for (const slab of slabs(s, region, this.manifest.hashBlockBytes)) jobs.push({ s, slab });
    }
    await inParallel(jobs, ioPool().threads + 1, async ({ s, slab }) => {
      const [e0, e1] = spanIn(s, slab);
      await this.readPiece(t.key, s, 4 * e0, 4 * e1, (buf, b0, b1) => {
        copyRegion(new Float32Array(buf, 0, (b1 - b0) / 4), s, b0 / 4, dst, box, slab);
      });
    });
  }

  /**
   * Reads bytes [from, to) of a piece (widened to whole hash blocks when verifying) on an I/O
   * worker, checks the hashes of blocks not checked before, and hands the bytes, held at offset
   * 0 of `buf`, with their piece byte range [b0, b1) to `use`.
   */
  private async readPiece(key: string, s: ShardEntry, from: number, to: number,
    use: (buf: ArrayBuffer, b0: number, b1: number) => void): Promise<void> {
    const fh = await this.file(s.file);
    const block = this.manifest.hashBlockBytes;
    const size = s.byteRange[1] - s.byteRange[0];
    if (this.verify && size === 0 && s.sha256[0] !== EMPTY_SHA256) {
      throw new CheckpointError(s.file, `sha256 mismatch of empty '${key}' shard at [${s.offset}]`);
    }
    const [b0, b1] = this.verify ? [Math.floor(from / block) * block, Math.min(size, Math.ceil(to / block) * block)] : [from, to];
    const blocks: number[] = [];
    if (this.verify) {
      for (let k = b0 / block; k * block < b1; k++) if (!this.verified.has(`${s.file}:${s.byteRange[0]}:${k}`)) blocks.push(k);
    }
    const segs = blocks.map((k): [number, number] => [k * block - b0, Math.min(block, size - k * block)]);
    let buf = this.takeBuffer(b1 - b0);
    try {
      const r = await ioPool().readHashed(fh.fd, buf, b1 - b0, s.byteRange[0] + b0, segs);
      buf = r.buf;
      blocks.forEach((k, i) => {
        if (r.hex[i] !== s.sha256[k]) {
          const at = s.byteRange[0] + k * block;
          throw new CheckpointError(s.file, `sha256 mismatch in block ${k} of '${key}' shard at [${s.offset}] (bytes ${at}..${at + segs[i]![1]})`);
        }
        this.verified.add(`${s.file}:${s.byteRange[0]}:${k}`);
      });
      use(buf, b0, b1);
    } catch (e) {
      const err = e as Error & { buf?: ArrayBuffer };
      if (err.buf !== undefined) buf = err.buf;
      if (e instanceof CheckpointError) throw e;
      throw new CheckpointError(s.file, /ends before/.test(err.message) ? `truncated: '${key}' shard at [${s.offset}] ends early` : err.message);
    } finally {
      if (buf.byteLength > 0) this.buffers.push(buf);
    }
  }

  /** A reusable read buffer of at least `bytes` (fresh pages cost faults on every first touch). */
  private takeBuffer(bytes: number): ArrayBuffer {
    const i = this.buffers.findIndex((b) => b.byteLength >= bytes);
    if (i >= 0) return this.buffers.splice(i, 1)[0]!;
    if (this.buffers.length > 0) this.buffers.shift();
    return new ArrayBuffer(Math.max(bytes, 4096));
  }

  /** Opens a shard file once, checking its size and that its header agrees with the manifest. */
  private file(name: string): Promise<FileHandle> {
    let p = this.files.get(name);
    if (p === undefined) {
      p = this.openChecked(name);
      this.files.set(name, p);
    }
    return p;
  }

  private async openChecked(name: string): Promise<FileHandle> {
    const expected = this.manifest.files.find((f) => f.name === name)!.bytes;
    let fh: FileHandle;
    try {
      fh = await open(join(this.dir, name), 'r');
    } catch (e) {
      const code = errnoCode(e);
      throw new CheckpointError(name, code === 'ENOENT' ? 'missing shard file' : `cannot open: ${errorMessage(e)}`);
    }
    try {
      const { size } = await fh.stat();
      if (size < expected) throw new CheckpointError(name, `truncated: ${size} bytes, the manifest says ${expected}`);
      if (size > expected) throw new CheckpointError(name, `size mismatch: ${size} bytes, the manifest says ${expected}`);
      let header;
      try {
        header = await readSafetensorsHeader(fh, size);
      } catch (e) {
        throw new CheckpointError(name, errorMessage(e));
      }
      for (const { key, shard } of this.byFile.get(name)!) {
        const id = pieceId(key, shard.offset);
        const e = header.entries.get(id);
        if (e === undefined || e.dtype !== 'F32' || e.shape.join(',') !== shard.shape.join(',')
          || e.range[0] !== shard.byteRange[0] || e.range[1] !== shard.byteRange[1]) {
          throw new CheckpointError(name, `manifest mismatch: the file's header does not describe '${id}' as the manifest does`);
        }
      }
      return fh;
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /**
   * Reads every byte of every shard and checks sizes, headers and hashes. Collects all problems
   * (one per damaged shard or file) instead of stopping at the first.
   */
  async verifyAll(onProgress?: (bytes: number) => void): Promise<{ bytes: number; problems: CheckpointError[] }> {
    const problems: CheckpointError[] = [];
    let bytes = 0;
    const block = this.manifest.hashBlockBytes;
    const step = Math.max(block, Math.floor(WINDOW / block) * block);
    for (const f of this.manifest.files) {
      try {
        await this.file(f.name);
      } catch (e) {
        problems.push(asCheckpointError(e, f.name));
        continue;
      }
      for (const { key, shard } of this.byFile.get(f.name)!) {
        const size = shard.byteRange[1] - shard.byteRange[0];
        const windows: number[] = [];
        for (let at = 0; at < Math.max(size, 1); at += step) windows.push(at);
        try {
          await inParallel(windows, ioPool().threads + 1, async (at) => {
            await this.readPiece(key, shard, at, Math.min(size, at + step), () => {});
            bytes += Math.min(size, at + step) - at;
            onProgress?.(bytes);
          });
        } catch (e) {
          problems.push(asCheckpointError(e, f.name));
        }
      }
    }
    return { bytes, problems };
  }

  async close(): Promise<void> {
    const all = [...this.files.values()];
    this.files.clear();
    for (const p of all) await p.then((fh) => fh.close(), () => {});
  }
}

/** Reads one slice of a global tensor from a checkpoint directory. */
export async function readTensor(dir: string, key: string, offset: number[], localShape: number[], opts: ReadOptions = {}): Promise<Float32Array> {
  const r = await CheckpointReader.open(dir, opts);
  try {
    return await r.read(key, offset, localShape);
  } finally {
    await r.close();
  }
}

/** Loads the pieces a rank holds in its (possibly different) layout: one slice per request. */
export async function readShards(dir: string, want: ShardedTensor[], opts: ReadOptions = {}): Promise<ShardedArray[]> {
  const r = await CheckpointReader.open(dir, opts);
  try {
    const out: ShardedArray[] = [];
    for (const w of want) out.push({ ...w, data: await r.read(w.key, w.offset, w.localShape) });
    return out;
  } finally {
    await r.close();
  }
}

/**
 * Splits `region` (inside piece `s`) along its first dimension into slabs whose byte span in
 * the piece stays near WINDOW: scratch memory stays bounded whatever the slice, and the slabs
 * of one piece are read and verified on several workers at once. When the region is whole rows
 * of the piece starting at a block boundary, slabs end on block boundaries too, so that no hash
 * block is read twice.
 */
function slabs(s: Box, region: Box, block: number): Box[] {
  if (region.shape.length === 0) return [region];
  const [e0, e1] = spanIn(s, region);
  const n = region.shape[0]!;
  const rowBytes = 4 * (e1 - e0) / n;
  let per = Math.max(1, Math.floor(n * WINDOW / Math.max(1, 4 * (e1 - e0))));
  const wholeRows = region.shape.every((x, d) => d === 0 || x === s.shape[d]);
  if (wholeRows && rowBytes > 0 && block % rowBytes === 0 && (4 * e0) % block === 0) {
    const rowsPerBlock = block / rowBytes;
    per = Math.max(rowsPerBlock, Math.floor(per / rowsPerBlock) * rowsPerBlock);
  }
  const out: Box[] = [];
  for (let i = 0; i < n; i += per) {
    out.push({ offset: [region.offset[0]! + i, ...region.offset.slice(1)], shape: [Math.min(per, n - i), ...region.shape.slice(1)] });
  }
  return out;
}

/** Runs `f` over `items` with at most `width` calls in flight; the first error wins. */
async function inParallel<T>(items: T[], width: number, f: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const lane = async () => {
    while (failed === undefined && next < items.length) {
      try {
        await f(items[next++]!);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
  if (failed !== undefined) throw failed;
}


function asCheckpointError(e: unknown, file: string): CheckpointError {
  return e instanceof CheckpointError ? e : new CheckpointError(file, errorMessage(e));
}
