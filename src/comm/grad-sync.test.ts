// Bucketed all-reduce and ZeRO-1 against serial computations over every rank's gradients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from './launch.js';
import { planBuckets } from './grad-sync.js';
import { gen } from './conformance.js';
import { GRAD_SIZES, adam, gradOf } from './grad-sync-fixtures.js';

const fixtures = new URL('./grad-sync-fixtures.js', import.meta.url);

test('buckets follow the given order and cap', () => {
  assert.deepEqual(planBuckets([10, 10, 10, 100, 1], 80), [[0, 1], [2], [3], [4]]);
  assert.deepEqual(planBuckets([], 80), []);
});

for (const ranks of [2, 3]) {
  test(`bucketed all-reduce averages like a serial mean, buckets starting early (${ranks} ranks)`, { timeout: 60_000 }, async () => {
    const res = await launch<{ buckets: number; startedEarly: number; grads: number[][] }>(fixtures,
      { ranks, exportName: 'bucketed', args: { bucketBytes: 1200 } });
    for (const r of res) {
      assert.ok(r.buckets >= 4, `${r.buckets} buckets`);
      assert.ok(r.startedEarly >= r.buckets - 2, `only ${r.startedEarly} of ${r.buckets} buckets started before the last gradient`);
      GRAD_SIZES.forEach((n, i) => {
        const expect = new Float32Array(n);
        for (let q = 0; q < ranks; q++) gen(q, n, i).forEach((v, j) => { expect[j] = (expect[j] ?? 0) + v; });
        for (let j = 0; j < n; j++) expect[j] = (expect[j] ?? 0) * (1 / ranks);
        assert.deepEqual(r.grads[i], Array.from(expect), `gradient ${i}`);
      });
    }
  });
}

for (const [ranks, numel] of [[2, 1000], [3, 1001]] as const) {
  test(`ZeRO-1 Adam over ${ranks} ranks equals full Adam on the mean gradient (numel ${numel})`, { timeout: 60_000 }, async () => {
    const steps = 6;
    const res = await launch<number[]>(fixtures, { ranks, exportName: 'zero1', args: { numel, steps } });
    const w = gen(0, numel, 99);
    const m = new Float32Array(numel);
    const v = new Float32Array(numel);
    for (let s = 0; s < steps; s++) {
      const g = new Float32Array(numel);
      for (let q = 0; q < ranks; q++) gradOf(q, s, w).forEach((x, i) => { g[i] = (g[i] ?? 0) + x; });
      for (let i = 0; i < numel; i++) g[i] = (g[i] ?? 0) * (1 / ranks);
      adam(w, g, m, v, 0, numel, s + 1);
    }
    for (const got of res) {
      assert.equal(got.length, numel);
      // Two ranks sum in the same order as the serial mean (bit-exact); three may round differently.
      const tol = ranks === 2 ? 0 : 1e-6;
      got.forEach((x, i) => assert.ok(Math.abs(x - (w[i] ?? 0)) <= tol * Math.max(1, Math.abs(w[i] ?? 0)), `param ${i}: ${x} vs ${w[i]}`));
    }
    assert.ok(res.every((r) => r.every((x, i) => x === res[0]?.[i])), 'ranks hold identical parameters');
  });
}
