import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkPool, chunksNeeded } from './staging.js';

test('chunksNeeded packs blocks in order and never splits a block across chunks', () => {
  // Blocks of 4: piece of 10 -> 4,4,2; piece of 3 -> 3. Chunks of 8: [4,4] [2,3] = 2.
  assert.equal(chunksNeeded([10, 3], 4, 8), 2);
  // Chunks of 6: [4] [4,2] [3] = 3.
  assert.equal(chunksNeeded([10, 3], 4, 6), 3);
  assert.equal(chunksNeeded([], 4, 8), 0);
  assert.equal(chunksNeeded([0, 0], 4, 8), 0);
});

test('a chunk pool hands out at most its chunks and wakes a taker when one comes back', async () => {
  const pool = new ChunkPool(16, 2);
  assert.equal(pool.capacity, 32);
  const a = await pool.take();
  const b = await pool.take();
  assert.notEqual(a, b);
  let blocked = 0;
  let got: ArrayBuffer | undefined;
  const waiting = pool.take(() => blocked++).then((c) => { got = c; });
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(blocked, 1);
  assert.equal(got, undefined);
  pool.give(a);
  await waiting;
  assert.equal(got, a);
  // A chunk lost to a failed worker is replaced by a fresh one of the same size.
  pool.give(undefined);
  assert.equal((await pool.take()).byteLength, 16);
});
