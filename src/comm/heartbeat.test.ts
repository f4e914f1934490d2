// The heartbeat's failure line names each silent node with its ranks; its timeout comes from the
// environment and refuses nonsense. (Its end-to-end check, a node's link taken down mid-step, is in
// cluster/cluster.test.ts: it needs network namespaces.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeFailureLine, nodeTimeoutS, silentNodes, type Peer } from './heartbeat.js';

const peers: Peer[] = [0, 1, 2, 3, 4, 5].map((rank) => ({ rank, node: `fn-c-n${rank >> 1}`, addr: `10.213.1.${(rank >> 1) + 1}`, port: 4000 + rank }));

test('silent ranks are grouped by node, in rank order', () => {
  assert.deepEqual(silentNodes(peers, [5, 2, 3]), [{ node: 'fn-c-n1', ranks: [2, 3] }, { node: 'fn-c-n2', ranks: [5] }]);
  assert.equal(nodeFailureLine(silentNodes(peers, [3, 2]), 15),
    'furnace: node fn-c-n1 (ranks 2, 3) failed: no heartbeat for 15 s (link down or processes gone); ending the job; continue with --resume latest');
  assert.match(nodeFailureLine(silentNodes(peers, [4]), 15), /^furnace: node fn-c-n2 \(rank 4\) failed/);
});

test('FURNACE_NODE_TIMEOUT: seconds, 0 turns detection off, default 15, nonsense refused by name', () => {
  assert.equal(nodeTimeoutS({}), 15);
  assert.equal(nodeTimeoutS({ FURNACE_NODE_TIMEOUT: '0' }), 0);
  assert.equal(nodeTimeoutS({ FURNACE_NODE_TIMEOUT: '7.5' }), 7.5);
  assert.throws(() => nodeTimeoutS({ FURNACE_NODE_TIMEOUT: 'soon' }), /FURNACE_NODE_TIMEOUT/);
  assert.throws(() => nodeTimeoutS({ FURNACE_NODE_TIMEOUT: '-1' }), /FURNACE_NODE_TIMEOUT/);
});
