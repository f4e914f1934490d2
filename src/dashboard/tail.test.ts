// Following a metrics file: complete lines only, each once, and a restart of the file is noticed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { record } from './testing/fixtures.js';
import { parseMetrics } from './runs.js';
import { MetricsTail } from './tail.js';

const line = (s: number) => JSON.stringify(record(s)) + '\n';

test('the tail returns each complete record once, holds back a torn line, and resets when the file shrinks', () => {
  const path = join(mkdtempSync(join(tmpdir(), 'furnace-tail-')), 'metrics.jsonl');
  const tail = new MetricsTail(path);
  assert.deepEqual(tail.read(), { records: [], reset: false }); // no file yet
  writeFileSync(path, line(0) + line(1) + line(2));
  assert.deepEqual(tail.read().records.map((r) => r.step), [0, 1, 2]);
  assert.deepEqual(tail.read().records, []);
  const torn = line(3);
  appendFileSync(path, torn.slice(0, 17));
  assert.deepEqual(tail.read().records, []);
  appendFileSync(path, torn.slice(17) + line(4));
  const r = tail.read();
  assert.deepEqual(r.records.map((x) => x.step), [3, 4]);
  assert.deepEqual(r.records[0], record(3));
  assert.equal(tail.count, 5);
  writeFileSync(path, line(0));
  assert.deepEqual(tail.read(), { records: [record(0)], reset: true });
  assert.equal(tail.count, 1);
  // A restart that wrote more than the old length before the next read: its first line differs.
  const other = (s: number) => JSON.stringify({ ...record(s), tokens_per_s: 7 }) + '\n';
  writeFileSync(path, other(0) + other(1) + other(2) + other(3) + other(4) + other(5));
  const again = tail.read();
  assert.equal(again.reset, true);
  assert.deepEqual(again.records.map((x) => [x.step, x.tokens_per_s]), [[0, 7], [1, 7], [2, 7], [3, 7], [4, 7], [5, 7]]);
});

test('parseMetrics skips damaged lines and a missing newline at the end', () => {
  const text = line(0) + '{"step": 1, "loss": \n' + 'not json\n' + line(2) + '{"step": 3';
  assert.deepEqual(parseMetrics(text).map((r) => r.step), [0, 2]);
});
