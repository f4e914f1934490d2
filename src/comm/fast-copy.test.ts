// copyInto: same result as TypedArray.set for small and large blocks, views, and shared memory;
// refuses copies that do not fit (memcpy itself has no bounds).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyInto } from './fast-copy.js';

test('copyInto matches TypedArray.set into and out of shared memory, at offsets', () => {
  const shared = new Float32Array(new SharedArrayBuffer(4 * 200_000));
  for (const n of [0, 5, (1 << 14) - 1, 1 << 14, 70_001]) {
    const src = Float32Array.from({ length: n + 7 }, (_, i) => i * 0.5 - 3).subarray(7);
    copyInto(shared, 11, src);
    assert.deepEqual(shared.subarray(11, 11 + n), src, `into shared, n=${n}`);
    const back = new Float32Array(n + 3).fill(-1);
    copyInto(back, 3, shared.subarray(11, 11 + n));
    assert.deepEqual(back.subarray(3), src, `out of shared, n=${n}`);
    assert.deepEqual(Array.from(back.subarray(0, 3)), [-1, -1, -1], 'nothing before the target range');
  }
});

test('copyInto refuses a copy that does not fit', () => {
  assert.throws(() => copyInto(new Float32Array(20_000), 5, new Float32Array(20_000)), /20000 elements at 5 do not fit in 20000/);
  assert.throws(() => copyInto(new Float32Array(10), -1, new Float32Array(1)), /do not fit/);
});
