// Tests of batching: determinism per step, independence of the data-parallel layout, evaluation windows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchSampler, splitTrainVal } from './loader.js';

const tokens = Int32Array.from({ length: 10_000 }, (_, i) => (i * 7) % 5000);

test('batches: y is x shifted by one; same seed and step give the same batch, another seed another', () => {
  const s = new BatchSampler(tokens, 4, 16, 42);
  const a = s.batchAt(3), b = s.batchAt(3);
  assert.deepEqual(a, b);
  for (let r = 0; r < 4; r++) {
    const start = tokens.indexOf(a.x[r * 16]!);
    assert.ok(start >= 0);
    for (let t = 0; t + 1 < 16; t++) assert.equal(a.y[r * 16 + t], a.x[r * 16 + t + 1]);
  }
  assert.notDeepEqual(new BatchSampler(tokens, 4, 16, 43).batchAt(3).x, a.x);
  assert.notDeepEqual(s.batchAt(4).x, a.x);
});

test('the global batch does not depend on the data-parallel layout (1 x 8 rows == 4 ranks x 2 rows)', () => {
  const one = new BatchSampler(tokens, 8, 32, 7).batchAt(11);
  const four = new BatchSampler(tokens, 2, 32, 7);
  const parts = [0, 1, 2, 3].map((r) => four.batchAt(11, r, 4).x);
  assert.deepEqual(Int32Array.from(parts.flatMap((p) => [...p])), one.x);
});

test('train/validation split keeps the last 10%; sequential batches cover the validation text once', () => {
  const { train, val } = splitTrainVal(tokens);
  assert.equal(train.length, 9000);
  assert.equal(val[0], tokens[9000]);
  const seen: number[] = [];
  for (const b of new BatchSampler(val, 3, 50, 1).sequential()) seen.push(...b.x);
  assert.deepEqual(seen, [...val.subarray(0, Math.floor((val.length - 1) / 50) * 50)]);
  assert.throws(() => new BatchSampler(tokens.subarray(0, 10), 1, 16, 0), /corpus too small: 10 tokens/);
});
