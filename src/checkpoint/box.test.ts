import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyRegion, intersect, spanIn, strides, volume, type Box } from './box.js';
import { globalArray, refSlice } from './testing/fixtures.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

test('copyRegion moves exactly the intersection between two pieces of a 3-D array (vs element-wise reference)', () => {
  const g = [5, 7, 6];
  const all = globalArray(g, 3);
  const r = rng(7);
  const randBox = (): Box => {
    const offset = g.map((n) => Math.floor(r() * n));
    return { offset, shape: offset.map((o, d) => 1 + Math.floor(r() * (g[d]! - o))) };
  };
  let overlaps = 0;
  for (let trial = 0; trial < 300; trial++) {
    const sb = randBox();
    const db = randBox();
    const region = intersect(sb, db);
    if (region === undefined) continue;
    overlaps++;
    const src = refSlice(all, g, sb.offset, sb.shape);
    const dst = new Float32Array(volume(db.shape)).fill(-1);
    copyRegion(src, sb, 0, dst, db, region);
    const want = refSlice(all, g, db.offset, db.shape);
    for (let i = 0; i < dst.length; i++) {
      // Inside the region dst holds the global values; outside it stays untouched.
      const p = [Math.floor(i / (db.shape[1]! * db.shape[2]!)), Math.floor(i / db.shape[2]!) % db.shape[1]!, i % db.shape[2]!]
        .map((x, d) => x + db.offset[d]!);
      const inside: boolean = p.every((x, d) => x >= region.offset[d]! && x < region.offset[d]! + region.shape[d]!);
      assert.equal(dst[i], inside ? want[i] : -1);
    }
    // With srcBase: the source holds only the span the region needs.
    const [e0, e1] = spanIn(sb, region);
    const dst2 = new Float32Array(volume(db.shape)).fill(-1);
    copyRegion(src.subarray(e0, e1), sb, e0, dst2, db, region);
    assert.deepEqual(dst2, dst);
  }
  assert.ok(overlaps > 50);
});

test('strides are row-major and a span covers first to last element of the region', () => {
  assert.deepEqual(strides([4, 3, 2]), [6, 2, 1]);
  const b = { offset: [2, 0], shape: [4, 5] };
  assert.deepEqual(spanIn(b, { offset: [3, 1], shape: [2, 3] }), [6, 14]);
  assert.deepEqual(spanIn(b, b), [0, 20]);
  assert.equal(intersect({ offset: [0], shape: [2] }, { offset: [2], shape: [2] }), undefined);
});
