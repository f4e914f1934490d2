// Durable file-system steps (fsync of files and directories, atomic replace) and crash injection.
// Every file furnace writes goes through here: it appears under its name complete or not at all.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Crash injection for tests: with FURNACE_CKPT_CRASH_AFTER=N in the environment, the process
 * kills itself with SIGKILL right after its N-th durable step (a write, fsync, rename or removal
 * that a checkpoint save performs). 0 or unset: never.
 */
const crashAfter = Number(process.env['FURNACE_CKPT_CRASH_AFTER'] ?? '0');
let steps = 0;

/** Counts one completed durable step; the crash-injection point. */
export function durableStep(): void {
  steps++;
  if (steps === crashAfter) {
    process.kill(process.pid, 'SIGKILL');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10_000);
  }
}

/** How many durable steps this process has performed (crash tests size their sweep with it). */
export function durableStepCount(): number {
  return steps;
}

/** fsync of a directory, so that entries created or renamed in it survive power loss. */
export async function fsyncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  durableStep();
}

/** Writes a whole file and fsyncs it (not atomic: the caller renames or commits it later). */
export async function writeFileSynced(path: string, data: string | Uint8Array): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(data);
    durableStep();
    await fh.sync();
    durableStep();
  } finally {
    await fh.close();
  }
}

/**
 * Replaces `path` atomically: write a temporary name beside it (unique per call, so two writers never
 * share one), fsync, rename over `path`, fsync the directory. A failed write leaves no temporary file.
 */
export async function atomicReplace(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    await writeFileSynced(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  durableStep();
  await fsyncDir(dirname(path));
}

/** Makes a file visible under `path` only when complete (no fsync: for exchange files). */
export async function publishFile(path: string, data: string): Promise<void> {
  await writeFile(`${path}.part`, data);
  await rename(`${path}.part`, path);
  durableStep();
}

export async function renameStep(from: string, to: string): Promise<void> {
  await rename(from, to);
  durableStep();
}

export async function removeStep(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
  durableStep();
}

/** Writes all `length` bytes at `position`, continuing after short writes. */
export async function writeAll(fh: FileHandle, buf: Uint8Array, offset: number, length: number, position: number): Promise<void> {
  for (let done = 0; done < length;) {
    const { bytesWritten } = await fh.write(buf, offset + done, length - done, position + done);
    if (bytesWritten === 0) throw new Error('write made no progress');
    done += bytesWritten;
  }
}

/** A temporary name beside `path` (the same folder, so the final rename is atomic), unique per call. */
export function tempPathFor(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** fsync of a directory, synchronously; a filesystem that cannot sync directories is left as is. */
export function fsyncDirSync(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    fsyncSync(fd);
  } catch {
    // Some filesystems (and platforms) refuse fsync on a directory: the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * A file written incrementally (large outputs such as cleaned corpora, shards, weights) that
 * appears under `path` only on commit(): write to a temporary name in the same folder, fsync,
 * rename, fsync the folder. abort() (or a crash) leaves no file under `path`.
 */
export class AtomicFileWriter {
  readonly tmp: string;
  private fd: number | undefined;
  constructor(readonly path: string) {
    this.tmp = tempPathFor(path);
    this.fd = openSync(this.tmp, 'w');
  }
  write(data: string | Uint8Array): void {
    if (this.fd === undefined) throw new Error(`${this.path}: write after commit or abort`);
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    for (let done = 0; done < buf.byteLength;) {
      const n = writeSync(this.fd, buf, done, buf.byteLength - done);
      if (n === 0) throw new Error(`${this.tmp}: write made no progress`);
      done += n;
    }
  }
  commit(): void {
    if (this.fd === undefined) throw new Error(`${this.path}: commit after commit or abort`);
    const fd = this.fd;
    this.fd = undefined;
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(this.tmp, this.path);
    fsyncDirSync(dirname(this.path));
  }
  abort(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.tmp, { force: true });
  }
}

/** Replaces `path` atomically and durably from whole data (or its parts, written in order). */
export function atomicWriteSync(path: string, data: string | Uint8Array | readonly (string | Uint8Array)[]): void {
  const w = new AtomicFileWriter(path);
  try {
    if (typeof data === 'string' || data instanceof Uint8Array) w.write(data);
    else for (const part of data) w.write(part);
    w.commit();
  } catch (e) {
    w.abort();
    throw e;
  }
}
