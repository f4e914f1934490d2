// Durable file-system steps (fsync of files and directories, atomic replace) and crash injection.
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

/** Replaces `path` atomically: write `path.tmp`, fsync, rename over `path`, fsync the directory. */
export async function atomicReplace(path: string, data: string | Uint8Array): Promise<void> {
  await writeFileSynced(`${path}.tmp`, data);
  await rename(`${path}.tmp`, path);
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
