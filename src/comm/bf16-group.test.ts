// bf16 payloads: the conformance suite through the wrapper, results within bf16 rounding of float32, bytes halved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from './launch.js';
import type { Accuracy } from './testing/bf16-group-fixtures.js';

const fixtures = new URL('./testing/bf16-group-fixtures.js', import.meta.url);

for (const ranks of [2, 3]) {
  test(`the conformance suite passes with bf16 payloads on ${ranks} ranks`, async () => {
    const results = await launch<string[]>(fixtures, { ranks, exportName: 'conformance', timeoutS: 60 });
    for (const r of results) assert.ok(r.length >= 20 && r.includes('world allToAll variable'), `only ${r.length} checks ran`);
  });

  test(`bf16 all-reduce and all-to-all on ${ranks} ranks: within bf16 rounding of float32, replicas equal, half the bytes`, async () => {
    const results = await launch<Accuracy>(fixtures, { ranks, exportName: 'accuracy', timeoutS: 60 });
    for (const r of results) {
      assert.ok(r.worstRatio <= 1, `error ${r.worstRatio} x the bf16 bound`);
      assert.ok(r.worstRatio > 0, 'bf16 rounding changed nothing: the payload did not travel as bf16');
      assert.deepEqual(r.result, results[0]!.result, 'every replica decodes the same sums');
      assert.equal(r.allReduceRatio, 0.5);
      assert.equal(r.allToAllRatio, 0.5);
    }
  });
}
