// Follows a growing metrics.jsonl: returns the complete records appended since the last read.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { parseMetrics } from './runs.js';
import type { MetricsRecord } from './types.js';

export class MetricsTail {
  private offset = 0;
  private partial = '';
  /** Records read so far (the index of the next record). */
  count = 0;

  constructor(private readonly path: string) {}

  /** New complete records; `reset` when the file shrank (a run restarted into the same folder). */
  read(): { records: MetricsRecord[]; reset: boolean } {
    let size: number;
    try {
      size = statSync(this.path).size;
    } catch {
      return { records: [], reset: false };
    }
    let reset = false;
    if (size < this.offset) {
      this.offset = 0;
      this.partial = '';
      this.count = 0;
      reset = true;
    }
    if (size === this.offset) return { records: [], reset };
    const buf = Buffer.alloc(size - this.offset);
    const fd = openSync(this.path, 'r');
    try {
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
