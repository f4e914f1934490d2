// Parallel groups: membership follows the documented composition, placement respects the
// topology, and the hierarchical all-to-all equals the flat one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from './launch.js';
import { findMpirun } from './mpi-group.js';
import { checkSizes } from './groups.js';
import { parseTopology, place, spanTier } from './topology.js';

const fixtures = new URL('./testing/groups-fixtures.js', import.meta.url);
const noMpi = findMpirun() === undefined ? 'Open MPI is not installed (mpirun not found)' : false;

interface Observed {
  coords: { dpIndex: number; tpIndex: number; epIndex: number; edpIndex: number };
  spans: Record<string, string>;
  dp: number[]; tp: number[]; ep: number[]; expertDp: number[];
}

test('dp4 x tp2 with ep2 on 8 ranks: groups follow rank = dpIndex * tp + tpIndex, tp and ep inside a node of 4', { timeout: 60_000 }, async () => {
  const sizes = { dp: 4, tp: 2, ep: 2 };
  const topology = parseTopology({ tiers: [{ name: 'node', group_size: 4 }, { name: 'supernode', group_size: 8 }] });
  const got = await launch<Observed>(fixtures, { ranks: 8, exportName: 'groupMembers', args: { sizes, topology } });
  got.forEach((o, r) => {
    const tpIndex = r % 2;
    const dpIndex = Math.floor(r / 2);
    const epIndex = dpIndex % 2;
    const edpIndex = Math.floor(dpIndex / 2);
    assert.deepEqual(o.coords, { dpIndex, tpIndex, epIndex, edpIndex }, `rank ${r} coords`);
    assert.deepEqual(o.tp, [2 * dpIndex, 2 * dpIndex + 1], `rank ${r} tp`);
    assert.deepEqual(o.dp, [0, 1, 2, 3].map((d) => d * 2 + tpIndex), `rank ${r} dp`);
    assert.deepEqual(o.ep, [0, 1].map((e) => (edpIndex * 2 + e) * 2 + tpIndex), `rank ${r} ep`);
    assert.deepEqual(o.expertDp, [0, 1].map((x) => (x * 2 + epIndex) * 2 + tpIndex), `rank ${r} expertDp`);
    // ep and expertDp meet only at this rank, and ep x expertDp tiles the dp group.
    assert.deepEqual(o.ep.filter((x) => o.expertDp.includes(x)), [r]);
    assert.ok([...o.ep, ...o.expertDp].every((x) => o.dp.includes(x)));
    assert.equal(o.ep.length * o.expertDp.length, o.dp.length);
    assert.equal(spanTier(topology, o.tp), 0);
    assert.equal(spanTier(topology, o.ep), 0);
    assert.deepEqual(o.spans, { tp: 'node', ep: 'node', expertDp: 'supernode', dp: 'supernode' });
  });
});

test('dp2 x ep2 (the hybrid) and ep = dp leave singleton expertDp groups', { timeout: 60_000 }, async () => {
  const got = await launch<Observed>(fixtures, { ranks: 2, exportName: 'groupMembers', args: { sizes: { dp: 2, tp: 1, ep: 2 } } });
  for (const o of got) {
    assert.deepEqual(o.ep, [0, 1]);
    assert.deepEqual(o.dp, [0, 1]);
    assert.equal(o.expertDp.length, 1);
    assert.equal(o.tp.length, 1);
  }
});

test('placement keeps tp inside the node when tp and ep cannot both fit; a plan order is taken as given', () => {
  const topo = parseTopology({ tiers: [{ name: 'node', group_size: 2 }] });
  // ep 4 x tp 2 cannot both fit in a node of 2: tp must stay inside, ep crosses.
  const p = place({ dp: 4, tp: 2, ep: 4 }, topo);
  assert.equal(p.spans.tp, 'node');
  assert.equal(p.spans.ep, 'machine');
  assert.equal(p.order[0], 'tp');
  // A plan's order is taken as it is.
  const forced = place({ dp: 4, tp: 2, ep: 2 }, topo, ['ep', 'tp', 'edp']);
  assert.deepEqual(forced.order, ['ep', 'tp', 'edp']);
  assert.equal(forced.worldRank(1, 0, 0), 2);
  assert.equal(forced.spans.ep, 'node');
  // No topology: the composition order, logical rank = world rank.
  const id = place({ dp: 4, tp: 2, ep: 2 });
  assert.deepEqual(id.order, ['tp', 'ep', 'edp']);
  assert.equal(id.worldRank(1, 1, 1), 7);
});

test('bad sizes and topologies are refused naming the field', () => {
  assert.throws(() => checkSizes(8, { dp: 3, tp: 2, ep: 1 }), /--dp 3 x --tp 2 = 6, but the world has 8/);
  assert.throws(() => checkSizes(8, { dp: 4, tp: 2, ep: 3 }), /--ep 3 must divide --dp 4/);
  assert.throws(() => parseTopology({ tiers: [{ name: 'node', group_size: 4 }, { name: 'sn', group_size: 6 }] }),
    /tiers\[1\]\.group_size: 6 is not a multiple of tiers\[0\]\.group_size \(4\)/);
  assert.throws(() => parseTopology({ tiers: [{ name: 'node', size: 4 }] }), /tiers\[0\]: unknown key 'size'/);
  assert.throws(() => place({ dp: 2, tp: 1, ep: 1 }, undefined, ['tp', 'ep', 'ep']), /must list tp, ep and edp once each/);
  // A planner cluster file is accepted; its tiers carry bandwidths.
  const c = parseTopology({ name: 'x', devices: 8, tiers: [{ name: 'node', group_size: 4, bandwidth: 1e11, latency: 1e-6 },
    { name: 'net', group_size: 8, bandwidth: 1e10, latency: 5e-6, oversubscription: 2 }] });
  assert.equal(c.tiers[1]?.oversubscription, 2);
});

for (const [ranks, layouts] of [[4, [{ unitOf: 'block', a: 2 }, { unitOf: 'stride', a: 2 }]],
  [6, [{ unitOf: 'block', a: 3 }, { unitOf: 'stride', a: 2 }]]] as const) {
  test(`hierarchical all-to-all equals flat on ${ranks} ranks: ${layouts.map((l) => `units of ${l.a} (${l.unitOf})`).join(', ')}`,
    { timeout: 60_000 }, async () => {
      const got = await launch<number>(fixtures, { ranks, exportName: 'hierarchicalEqualsFlat', args: { layouts } });
      assert.ok(got.every((n) => n > 0));
    });
}

test('a TimedGroup conforms, and its sub-groups account into one clock', { timeout: 60_000 }, async () => {
  const res = await launch<{ suite: number; calls: Record<string, number>; positive: boolean }>(fixtures, { ranks: 2, exportName: 'timed' });
  for (const r of res) {
    assert.ok(r.suite >= 20);
    assert.deepEqual(r.calls, { allreduce: 3, reducescatter: 0, allgather: 0, alltoall: 2, broadcast: 0, barrier: 1, p2p: 0 });
    assert.ok(r.positive);
  }
});

test('on MPI too: dp2 x tp2 x ep2 groups and the hierarchical all-to-all', { skip: noMpi, timeout: 60_000 }, async () => {
  const got = await launch<Observed>(fixtures, { ranks: 4, backend: 'mpi', exportName: 'groupMembers', args: { sizes: { dp: 2, tp: 2, ep: 2 } } });
  got.forEach((o, r) => {
    assert.deepEqual(o.tp, [r - (r % 2), r - (r % 2) + 1]);
    assert.deepEqual(o.ep, [r % 2, 2 + (r % 2)]);
    assert.deepEqual(o.expertDp, [r]);
  });
  const n = await launch<number>(fixtures, { ranks: 4, backend: 'mpi', exportName: 'hierarchicalEqualsFlat', args: { layouts: [{ unitOf: 'stride', a: 2 }] } });
  assert.ok(n.every((x) => x > 0));
});
