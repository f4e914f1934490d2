// The I/O pool's messages, and the work of one chunk: write (or read) bytes, then hash segments.
import { createHash } from 'node:crypto';
import { readSync, writeSync } from 'node:fs';

/** Writes (or reads) `length` bytes of `buf` at position `at` of `fd`, then hashes each [offset, length) of `segs`. */
export function ioChunk(op: 'write' | 'read', fd: number, buf: ArrayBuffer, length: number, at: number, segs: [number, number][]): string[] {
  const bytes = new Uint8Array(buf, 0, length);
  for (let done = 0; done < length;) {
    const n = op === 'write' ? writeSync(fd, bytes, done, length - done, at + done) : readSync(fd, bytes, done, length - done, at + done);
    if (n === 0) throw new Error(op === 'write' ? 'write made no progress' : `file ends before byte ${at + length}`);
    done += n;
  }
  return segs.map(([o, n]) => createHash('sha256').update(bytes.subarray(o, o + n)).digest('hex'));
}

/** A copy from shared memory into a chunk: [source, source byte offset, chunk offset, bytes]. */
export type ChunkCopy = [SharedArrayBuffer, number, number, number];

export function copyIntoChunk(buf: ArrayBuffer, copies: ChunkCopy[]): void {
  const dst = new Uint8Array(buf);
  for (const [src, from, to, length] of copies) dst.set(new Uint8Array(src, from, length), to);
}

export type IoRequest =
  | { id: number; op: 'hash'; buf: SharedArrayBuffer; offset: number; length: number }
  | { id: number; op: 'copy'; buf: ArrayBuffer; copies: ChunkCopy[] }
  /** Write bytes [0, length) of `buf` at file position `at` of `fd` (or read them), then hash each segment. */
  | { id: number; op: 'write' | 'read'; fd: number; buf: ArrayBuffer; length: number; at: number; segs: [number, number][] };

export type IoReply =
  | { id: number; hex: string[]; buf?: ArrayBuffer }
  | { id: number; error: string; buf?: ArrayBuffer };

/** Marks threads started by the I/O pool, so that no other thread ever serves these messages. */
export const IO_WORKER = 'furnace-checkpoint-io';
