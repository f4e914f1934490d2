// The node tier read from an MPI placement: blocks of consecutive ranks per node become a tier,
// anything else is refused with the reason (the job then runs without a topology).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeTier } from './mpi-nodes.js';

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
