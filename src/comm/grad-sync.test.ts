// Bucketed all-reduce and ZeRO-1 against serial computations over every rank's gradients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from './launch.js';
import { planBuckets } from './grad-sync.js';
import { gen } from './testing/conformance.case.js';
import { GRAD_SIZES, TOY_B, adam, gradOf, toyToken, toyW } from './testing/grad-sync-fixtures.js';

const fixtures = new URL('./testing/grad-sync-fixtures.js', import.meta.url);

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

for (const ranks of [2, 3]) {
  test(`overlapped buckets (communication worker) reduce exactly like the blocking path, while the caller computes (${ranks} ranks)`,
    { timeout: 60_000 }, async () => {
      const args = { bucketBytes: 1200 };
      const blocking = await launch<{ grads: number[][] }>(fixtures, { ranks, exportName: 'bucketed', args });
      const res = await launch<{ overlaps: boolean; progressedAlone: boolean; buckets: number; grads: number[][] }>(fixtures,
        { ranks, exportName: 'overlapped', args });
      res.forEach((r, q) => {
        assert.ok(r.overlaps, 'the threads backend overlaps');
        assert.ok(r.progressedAlone, 'the reduction progressed while the rank thread ran no collective');
        assert.ok(r.buckets >= 4, `${r.buckets} buckets`);
        assert.deepEqual(r.grads, blocking[q]?.grads);
      });
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

for (const [ranks, dp, ep] of [[2, 2, 1], [2, 2, 2], [4, 4, 2]] as const) {
  test(`toy MoE on dp${dp} x ep${ep}: synced expert and dense gradients equal the one-rank gradients`, { timeout: 60_000 }, async () => {
    const experts = 4;
    const n = 24;
    const res = await launch<{ first: number; dW: number[]; db: number }>(fixtures, { ranks, exportName: 'toyMoeGrads', args: { dp, ep, experts, n } });
    // One rank, global batch of dp * n tokens, loss = mean over all tokens.
    const dW = new Array<number>(experts).fill(0);
    let db = 0;
    for (let t = 0; t < dp * n; t++) {
      const { v, e } = toyToken(t, experts);
      const g = (toyW(e) * v + TOY_B - 1) / (dp * n);
      dW[e] = (dW[e] ?? 0) + g * v;
      db += g;
    }
    const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
    for (const r of res) {
      close(r.db, db, 'dense bias');
      r.dW.forEach((g, k) => close(g, dW[r.first + k] ?? NaN, `expert ${r.first + k}`));
    }
  });
}
