// The node tier read from an MPI placement: blocks of consecutive ranks per node become a tier,
// anything else is refused with the reason (the job then runs without a topology).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeMajorRank, nodeTier } from './mpi-nodes.js';

test('consecutive blocks of equal size become a node tier', () => {
  assert.deepEqual(nodeTier([0, 0, 1, 1]), { tiers: [{ name: 'node', group_size: 2 }] });
  assert.deepEqual(nodeTier([0, 1, 2]), { tiers: [{ name: 'node', group_size: 1 }] });
  assert.deepEqual(nodeTier([0, 0, 0, 0]), { tiers: [{ name: 'node', group_size: 4 }] });
});

test('round-robin or uneven placements have no node tier, and say why', () => {
  assert.match(String(nodeTier([0, 1, 0, 1])), /not placed in blocks of 1/);
  assert.match(String(nodeTier([0, 0, 1, 1, 1, 2])), /rank 4/);
  assert.match(String(nodeTier([0, 0, 1])), /does not divide 3/);
});

test('ranks dealt round-robin are numbered again node by node; blocks stay as they are', () => {
  assert.deepEqual([0, 1, 2, 3].map((r) => nodeMajorRank([0, 1, 0, 1], r)), [0, 2, 1, 3]);
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((r) => nodeMajorRank([0, 1, 2, 0, 1, 2], r)), [0, 2, 4, 1, 3, 5]);
  // Numbered again, each node is a block: the node tier follows.
  const renumbered = (a: number[]) => { const out: number[] = []; a.forEach((n, r) => { out[nodeMajorRank(a, r)!] = n; }); return out; };
  assert.deepEqual(nodeTier(renumbered([0, 1, 0, 1])), { tiers: [{ name: 'node', group_size: 2 }] });
  assert.equal(nodeMajorRank([0, 0, 1, 1], 2), undefined);
  assert.equal(nodeMajorRank([0, 0, 0], 1), undefined);
});
