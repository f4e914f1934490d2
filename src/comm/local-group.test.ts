// The one-rank world passes the conformance suite every backend passes, and refuses peers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalGroup } from './local-group.js';
import { main as conformance } from './testing/conformance.case.js';

test('LocalGroup conforms as a world of one rank', async () => {
  const done = await conformance(new LocalGroup());
  assert.ok(done.includes('world allToAll variable') && !done.includes('world send/recv'), done.join(', '));
  assert.ok(done.length >= 20, `only ${done.length} checks ran`);
});

test('LocalGroup has no peers to send to or receive from', async () => {
  const g = new LocalGroup();
  await assert.rejects(g.send(new Float32Array(1), 1), /not a peer/);
  await assert.rejects(g.recv(new Float32Array(1), 0), /not a peer/);
});
