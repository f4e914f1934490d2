// The collectives chosen for a network: the cost model picks the two-level all-to-all only where the
// ep group spans nodes over a slow tier; the hierarchical all-reduce equals the flat one up to
// summation-order rounding; useTopology wraps the groups that span nodes and nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from './launch.js';
import { ETHERNET, SHARED_MEMORY, allToAllSeconds, chooseAllReduce, chooseAllToAll, linkOf, twoLevel, type TopologyTier } from './topology-collectives.js';
import type { CollectivesRecord } from './topology-collectives.js';

const fixtures = new URL('./testing/topology-collectives-fixtures.js', import.meta.url);
/** 2 nodes x 2 ranks: shared memory inside a node, 1 Gbit/s Ethernet between them. */
const slow: TopologyTier[] = [{ name: 'node', group_size: 2, bandwidth: 10e9, latency: 1e-6 },
  { name: 'network', group_size: 4, bandwidth: 125e6, latency: 50e-6 }];
/** The same nodes joined as fast as the inside of a node. */
const fast: TopologyTier[] = [{ name: 'node', group_size: 2, bandwidth: 10e9, latency: 1e-6 },
  { name: 'network', group_size: 4, bandwidth: 10e9, latency: 1e-6 }];

test('twoLevel: nodes x ranks per node of a group, none inside one node or on unequal nodes', () => {
  assert.deepEqual(twoLevel(slow, [0, 1, 2, 3]), { tier: 1, a: 2, b: 2, unitSize: 2 });
  assert.deepEqual(twoLevel(slow, [0, 2]), { tier: 1, a: 1, b: 2, unitSize: 2 });
  assert.equal(twoLevel(slow, [2, 3]), undefined);
  assert.equal(twoLevel(slow, [0, 1, 2]), undefined);
  // Beyond the outermost tier: units are its blocks, priced at its link.
  assert.deepEqual(twoLevel([{ name: 'node', group_size: 2 }], [0, 1, 2, 3, 4, 5]), { tier: 1, a: 2, b: 3, unitSize: 2 });
  assert.deepEqual(linkOf([{ name: 'node', group_size: 2 }], 0), SHARED_MEMORY);
  assert.deepEqual(linkOf([{ name: 'node', group_size: 2 }], 1), ETHERNET);
  assert.deepEqual(linkOf(slow, 2), { latency: 50e-6, bandwidth: 125e6 });
});

test('the all-to-all goes two-level when the ep group spans nodes over a slow tier, flat otherwise', () => {
  const kb4 = 4096;
  const spans = chooseAllToAll(slow, [0, 1, 2, 3], kb4);
  assert.equal(spans.kind, 'hierarchical');
  assert.equal(spans.tier, 'network');
  assert.ok(spans.hierarchical_s! < spans.flat_s!);
  // Inside one node: nothing to gain.
  assert.deepEqual(chooseAllToAll(slow, [0, 1], kb4), { kind: 'flat', bytes: kb4 });
  // One rank per node: the two-level exchange is the flat one plus copies.
  assert.equal(chooseAllToAll(slow, [0, 2], kb4).kind, 'flat');
  // Nodes joined as fast as shared memory, large messages: the extra intra-node traffic costs more.
  assert.equal(chooseAllToAll(fast, [0, 1, 2, 3], 4 << 20).kind, 'flat');
  // Defaults (no measures in the file): shared memory inside, Ethernet across; small messages go two-level.
  assert.equal(chooseAllToAll([{ name: 'node', group_size: 4 }], [...Array(16).keys()], 64 << 10).kind, 'hierarchical');
  // The model: with one node, or one rank per node, two-level never wins.
  for (const [a, b] of [[4, 1], [1, 4]] as const) {
    assert.ok(allToAllSeconds('hierarchical', a, b, 1e5, SHARED_MEMORY, ETHERNET) > allToAllSeconds('flat', a, b, 1e5, SHARED_MEMORY, ETHERNET));
  }
});

test('the gradient all-reduce goes two-level when its group spans nodes with several ranks in each', () => {
  assert.equal(chooseAllReduce(slow, [0, 1, 2, 3]), 'hierarchical');
  assert.equal(chooseAllReduce(slow, [0, 2]), 'flat');
  assert.equal(chooseAllReduce(slow, [0, 1]), 'flat');
});

test('hierarchical all-reduce, reduce-scatter and all-gather equal the flat ones on random data: several group shapes (8 threads)', { timeout: 120_000 }, async () => {
  // 4 nodes x 2, 2 nodes x 4, and two strided groups {0, 2, 4, 6}, {1, 3, 5, 7} on 2 nodes x 2 each.
  const shapes = [{ groups: 1, node: 2 }, { groups: 1, node: 4 }, { groups: 2, node: 4 }];
  const got = await launch<{ worst: number; maxDiffs: number; compared: number; hierarchical: number }>(fixtures,
    { ranks: 8, exportName: 'allReduceAgainstFlat', args: { shapes, lengths: [4096, 5001, 12288] } });
  for (const [r, o] of got.entries()) {
    assert.equal(o.hierarchical, shapes.length, `rank ${r}`);
    assert.equal(o.maxDiffs, 0, `rank ${r}: max and all-gather are exact`);
    // Only the order of the float32 additions differs: a few ulps of the sum of magnitudes.
    assert.ok(o.worst < 1e-6, `rank ${r}: relative difference ${o.worst}`);
    assert.ok(o.compared > shapes.length * 2 * (4096 + 5001 + 12288));
  }
});

interface Wrapped { record: CollectivesRecord; ep: string; dp: string; expertDp: string; recv: number[]; gradWorst: number }

test('useTopology on 2 nodes x 2 ranks: ep4 goes two-level for both, ep2 keeps its node-local all-to-all flat', { timeout: 120_000 }, async () => {
  const ep4 = await launch<Wrapped>(fixtures, { ranks: 4, exportName: 'wrappedGroups', args: { sizes: { dp: 4, tp: 1, ep: 4 }, tiers: slow, bytes: 4096 } });
  for (const [r, o] of ep4.entries()) {
    assert.equal(o.ep, 'hierarchical all-to-all', `rank ${r}`);
    assert.equal(o.dp, 'hierarchical all-reduce', `rank ${r}`);
    assert.equal(o.record.alltoall?.kind, 'hierarchical');
    assert.deepEqual(o.record.allreduce, { dp: 'hierarchical' });
    // Block j of the result came from rank j, row r of what it sent.
    assert.deepEqual(o.recv, [0, 1, 2, 3].flatMap((j) => [0, 1, 2, 3, 4].map((i) => j * 1000 + r * 5 + i)));
    assert.ok(o.gradWorst < 1e-5, `rank ${r}: ${o.gradWorst}`);
  }
  const ep2 = await launch<Wrapped>(fixtures, { ranks: 4, exportName: 'wrappedGroups', args: { sizes: { dp: 4, tp: 1, ep: 2 }, tiers: slow, bytes: 4096 } });
  for (const [r, o] of ep2.entries()) {
    assert.equal(o.ep, 'flat', `rank ${r}: the ep group is one node`);
    assert.equal(o.dp, 'hierarchical all-reduce', `rank ${r}`);
    assert.equal(o.expertDp, 'flat', `rank ${r}: one rank per node`);
    assert.deepEqual(o.record.allreduce, { dp: 'hierarchical', edp: 'flat' });
    assert.equal(o.record.alltoall?.kind, 'flat');
  }
});
