// Worker thread of the I/O pool: sha256 of shared memory, and write-then-hash or read-then-hash of chunks.
import { parentPort } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { readSync, writeSync } from 'node:fs';

export type IoRequest =
  | { id: number; op: 'hash'; buf: SharedArrayBuffer; offset: number; length: number }
  /** Write bytes [0, length) of `buf` at file position `at` of `fd` (or read them), then hash each segment. */
  | { id: number; op: 'write' | 'read'; fd: number; buf: ArrayBuffer; length: number; at: number; segs: [number, number][] };

export type IoReply =
  | { id: number; hex: string[]; buf?: ArrayBuffer }
  | { id: number; error: string; buf?: ArrayBuffer };

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

const port = parentPort;
if (port !== null) {
  port.on('message', (m: IoRequest) => {
    if (m.op === 'hash') {
      port.postMessage({ id: m.id, hex: [createHash('sha256').update(new Uint8Array(m.buf, m.offset, m.length)).digest('hex')] });
      return;
    }
    try {
      port.postMessage({ id: m.id, hex: ioChunk(m.op, m.fd, m.buf, m.length, m.at, m.segs), buf: m.buf }, [m.buf]);
    } catch (e) {
      port.postMessage({ id: m.id, error: (e as Error).message, buf: m.buf }, [m.buf]);
    }
  });
}
