// Worker thread of the hash pool: sha256 of regions of shared memory.
import { parentPort } from 'node:worker_threads';
import { createHash } from 'node:crypto';

export interface HashRequest {
  id: number;
  buf: SharedArrayBuffer;
  offset: number;
  length: number;
}

const port = parentPort;
if (port !== null) {
  port.on('message', (m: HashRequest) => {
    const hex = createHash('sha256').update(new Uint8Array(m.buf, m.offset, m.length)).digest('hex');
    port.postMessage({ id: m.id, hex });
  });
}
