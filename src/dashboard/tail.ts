// Follows a growing metrics.jsonl: returns the complete records appended since the last read.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { parseMetrics } from './runs.js';
import type { MetricsRecord } from './types.js';

/** Bytes of the file's start remembered to notice a restart that outgrew the old length between two reads. */
const HEAD = 256;

export class MetricsTail {
  private offset = 0;
  private partial = '';
  private head = Buffer.alloc(0);
  /** Records read so far (the index of the next record). */
  count = 0;

  constructor(private readonly path: string) {}

  /** New complete records; `reset` when the file was rewritten from the start (a run restarted into the same
   * folder): it shrank, or its first bytes changed. */
  read(): { records: MetricsRecord[]; reset: boolean } {
    let size: number;
    try {
      size = statSync(this.path).size;
    } catch {
      return { records: [], reset: false };
    }
    const fd = openSync(this.path, 'r');
    try {
      let reset = false;
      const head = Buffer.alloc(Math.min(HEAD, size));
      readSync(fd, head, 0, head.length, 0);
      if (size < this.offset || !head.subarray(0, this.head.length).equals(this.head)) {
        this.offset = 0;
        this.partial = '';
        this.count = 0;
        reset = true;
      }
      this.head = head;
      if (size === this.offset) return { records: [], reset };
      const buf = Buffer.alloc(size - this.offset);
      const n = readSync(fd, buf, 0, buf.length, this.offset);
      this.offset += n;
      const text = this.partial + buf.subarray(0, n).toString('utf8');
      const cut = text.lastIndexOf('\n') + 1;
      this.partial = text.slice(cut);
      const records = parseMetrics(text.slice(0, cut));
      this.count += records.length;
      return { records, reset };
    } finally {
      closeSync(fd);
    }
  }
}
