// Worker thread of the I/O pool: copies from shared memory into chunks, write-then-hash or
// read-then-hash of chunks, sha256 of shared memory.
import { parentPort, workerData } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { copyIntoChunk, ioChunk, IO_WORKER, type IoRequest } from './io-chunk.js';
import { errorMessage } from '../util/errors.js';

const port = parentPort;
if (port !== null && workerData === IO_WORKER) {
  port.on('message', (m: IoRequest) => {
    if (m.op === 'hash') {
      port.postMessage({ id: m.id, hex: [createHash('sha256').update(new Uint8Array(m.buf, m.offset, m.length)).digest('hex')] });
      return;
    }
    try {
      if (m.op === 'copy') {
        copyIntoChunk(m.buf, m.copies);
        port.postMessage({ id: m.id, hex: [], buf: m.buf }, [m.buf]);
        return;
      }
      port.postMessage({ id: m.id, hex: ioChunk(m.op, m.fd, m.buf, m.length, m.at, m.segs), buf: m.buf }, [m.buf]);
    } catch (e) {
      port.postMessage({ id: m.id, error: errorMessage(e), buf: m.buf }, [m.buf]);
    }
  });
}
