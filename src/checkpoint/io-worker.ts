// Worker thread of the I/O pool: sha256 of shared memory, and write-then-hash of staged chunks.
import { parentPort } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { readSync, writeSync } from 'node:fs';

export type IoRequest =
  | { id: number; op: 'hash'; buf: SharedArrayBuffer; offset: number; length: number }
  /** Write bytes [0, length) of `buf` at file position `at` of `fd`, then hash each [offset, length) of `segs`. */
  | { id: number; op: 'write'; fd: number; buf: ArrayBuffer; length: number; at: number; segs: [number, number][] }
  /** Read `length` bytes at file position `at` of `fd` into `buf`, then hash each segment. */
  | { id: number; op: 'read'; fd: number; buf: ArrayBuffer; length: number; at: number; segs: [number, number][] };

export type IoReply =
  | { id: number; hex: string[]; buf?: ArrayBuffer }
  | { id: number; error: string; buf?: ArrayBuffer };

const port = parentPort;
if (port !== null) {
  port.on('message', (m: IoRequest) => {
    if (m.op === 'hash') {
      port.postMessage({ id: m.id, hex: [createHash('sha256').update(new Uint8Array(m.buf, m.offset, m.length)).digest('hex')] });
      return;
    }
    const bytes = new Uint8Array(m.buf, 0, m.length);
    try {
      for (let done = 0; done < m.length;) {
        const n = m.op === 'write' ? writeSync(m.fd, bytes, done, m.length - done, m.at + done)
          : readSync(m.fd, bytes, done, m.length - done, m.at + done);
        if (n === 0) throw new Error(m.op === 'write' ? 'write made no progress' : `file ends before byte ${m.at + m.length}`);
        done += n;
      }
      const hex = m.segs.map(([o, n]) => createHash('sha256').update(bytes.subarray(o, o + n)).digest('hex'));
      port.postMessage({ id: m.id, hex, buf: m.buf }, [m.buf]);
    } catch (e) {
      port.postMessage({ id: m.id, error: (e as Error).message, buf: m.buf }, [m.buf]);
    }
  });
}
