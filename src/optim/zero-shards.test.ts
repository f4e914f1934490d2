// ZeRO-1 in the tensors' own arrays, a bucket at a time, equals ZeRO-1 over a flat copy, bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from '../comm/launch.js';

const zeroCase = new URL('./testing/zero-shards.case.js', import.meta.url);

for (const ranks of [2, 3]) {
  test(`threads ${ranks} ranks: bucketed reduce-scatter and all-gather equal the flat ones (padded last shard)`, { timeout: 60_000 }, async () => {
    for (const stagingFloats of [12, 999, 1 << 20]) {
      const buckets = await launch<number>(zeroCase, { ranks, args: { stagingFloats }, timeoutS: 50, commTimeoutS: 20 });
      if (stagingFloats === 12) assert.ok(buckets.every((b) => b > 100), `buckets per shard: ${buckets}`);
    }
  });
}
