// The nonblocking engines where nothing overlaps: one rank, or a group this file does not know.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockingCollectives, nonblocking, nonblockingFor } from './progress.js';
import { LocalGroup } from './local-group.js';

test('one rank: a blocking engine whose collectives leave the arrays as they are, made once per group', async () => {
  const g = new LocalGroup();
  const n = await nonblocking(g);
  assert.ok(n instanceof BlockingCollectives);
  assert.equal(n.overlaps, false);
  const x = Float32Array.of(1, 2, 3), send = Float32Array.of(4, 5), recv = new Float32Array(2);
  await n.allReduce([x]).wait();
  await n.allToAll(send, recv).wait();
  assert.deepEqual([...x, ...recv], [1, 2, 3, 4, 5]);
  assert.equal(await nonblockingFor(g), await nonblockingFor(g));
});
