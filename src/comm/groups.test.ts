// Parallel groups: membership follows the documented composition, placement respects the
// topology, and the hierarchical all-to-all equals the flat one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from './launch.js';
import { findMpirun } from './mpi-group.js';
import { loadTopology, parseTopology } from './topology.js';
import { InputError } from '../util/errors.js';
import { spanTier } from '../layout/tiers.js';
import type { Placement } from '../layout/grid.js';
import { gridOf, type ParallelPlan } from '../planner/plan.js';

const fixtures = new URL('./testing/groups-fixtures.js', import.meta.url);
const noMpi = findMpirun() === undefined ? 'Open MPI is not installed (mpirun not found)' : false;

interface Observed {
  coords: { dpIndex: number; tpIndex: number; epIndex: number; edpIndex: number; ppIndex: number };
  placement: Placement;
  dp: number[]; tp: number[]; ep: number[]; expertDp: number[]; pp: number[];
}

test('dp2 x pp2 on 4 ranks: stages are the outer dim, each stage has its own dp group, pp pairs the same dp index', { timeout: 60_000 }, async () => {
  const got = await launch<Observed>(fixtures, { ranks: 4, exportName: 'groupMembers', args: { sizes: { dp: 2, tp: 1, ep: 1, pp: 2 } } });
  got.forEach((o, r) => {
    const ppIndex = Math.floor(r / 2), dpIndex = r % 2;
    assert.deepEqual(o.coords, { dpIndex, tpIndex: 0, epIndex: 0, edpIndex: dpIndex, ppIndex }, `rank ${r} coords`);
    assert.deepEqual(o.dp, [2 * ppIndex, 2 * ppIndex + 1], `rank ${r} dp`);
    assert.deepEqual(o.pp, [dpIndex, 2 + dpIndex], `rank ${r} pp`);
  });
});

test('dp4 x tp2 with ep2 on 8 ranks: groups follow rank = dpIndex * tp + tpIndex, tp and ep inside a node of 4', { timeout: 60_000 }, async () => {
  const sizes = { dp: 4, tp: 2, ep: 2 };
  const topology = parseTopology({ tiers: [{ name: 'node', group_size: 4 }, { name: 'supernode', group_size: 8 }] });
  const got = await launch<Observed>(fixtures, { ranks: 8, exportName: 'groupMembers', args: { sizes, topology } });
  got.forEach((o, r) => {
    const tpIndex = r % 2;
    const dpIndex = Math.floor(r / 2);
    const epIndex = dpIndex % 2;
    const edpIndex = Math.floor(dpIndex / 2);
    assert.deepEqual(o.coords, { dpIndex, tpIndex, epIndex, edpIndex, ppIndex: 0 }, `rank ${r} coords`);
    assert.deepEqual(o.tp, [2 * dpIndex, 2 * dpIndex + 1], `rank ${r} tp`);
    assert.deepEqual(o.dp, [0, 1, 2, 3].map((d) => d * 2 + tpIndex), `rank ${r} dp`);
    assert.deepEqual(o.ep, [0, 1].map((e) => (edpIndex * 2 + e) * 2 + tpIndex), `rank ${r} ep`);
    assert.deepEqual(o.expertDp, [0, 1].map((x) => (x * 2 + epIndex) * 2 + tpIndex), `rank ${r} expertDp`);
    // ep and expertDp meet only at this rank, and ep x expertDp tiles the dp group.
    assert.deepEqual(o.ep.filter((x) => o.expertDp.includes(x)), [r]);
    assert.ok([...o.ep, ...o.expertDp].every((x) => o.dp.includes(x)));
    assert.equal(o.ep.length * o.expertDp.length, o.dp.length);
    assert.equal(spanTier(topology.tiers, o.tp), 0);
    assert.equal(spanTier(topology.tiers, o.ep), 0);
    assert.deepEqual(o.placement, { order: ['tp', 'ep', 'edp', 'pp'], tiers: { tp: 'node', ep: 'node', edp: 'supernode', dp: 'supernode' } });
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

test('a plan order is taken as given; without a topology the order is tp, ep, edp, pp', { timeout: 60_000 }, async () => {
  const sizes = { dp: 4, tp: 2, ep: 2 };
  const topology = parseTopology({ tiers: [{ name: 'node', group_size: 2 }] });
  const order = ['ep', 'tp', 'edp', 'pp'] as const;
  const forced = await launch<Observed>(fixtures, { ranks: 8, exportName: 'groupMembers', args: { sizes, topology, order } });
  // ep innermost: world rank = (edpIndex * tp + tpIndex) * ep + epIndex.
  assert.deepEqual(forced[2]?.coords, { dpIndex: 0, tpIndex: 1, epIndex: 0, edpIndex: 0, ppIndex: 0 });
  assert.deepEqual(forced[2]?.tp, [0, 2]);
  assert.deepEqual(forced[2]?.ep, [2, 3]);
  assert.deepEqual(forced[2]?.dp, [2, 3, 6, 7]);
  assert.deepEqual(forced[2]?.placement, { order: ['ep', 'tp', 'edp', 'pp'], tiers: { tp: 'machine', ep: 'node', edp: 'machine', dp: 'machine' } });
  // The runtime's groups are the planner's: the same members, in the same order, on every rank.
  const plan: ParallelPlan = { ...sizes, pp: 1, zero: 0, microBatch: 1, recompute: 'none', placement: { order } };
  forced.forEach((o, r) => {
    const g = gridOf(plan);
    assert.deepEqual([o.tp, o.dp, o.ep, o.expertDp], [g.groupOf('tp', r), g.groupOf('dp', r), g.groupOf('ep', r), g.groupOf('edp', r)], `rank ${r}`);
  });
  const id = await launch<Observed>(fixtures, { ranks: 8, exportName: 'groupMembers', args: { sizes } });
  assert.deepEqual(id[7]?.placement, { order: ['tp', 'ep', 'edp', 'pp'] });
  assert.deepEqual(id[7]?.coords, { dpIndex: 3, tpIndex: 1, epIndex: 1, edpIndex: 1, ppIndex: 0 });
});

test('sizes that do not match the world are an invariant error naming no flag', { timeout: 60_000 }, async () => {
  await assert.rejects(launch(fixtures, { ranks: 2, exportName: 'groupMembers', args: { sizes: { dp: 3, tp: 1, ep: 1 } } }),
    (e: Error) => /grid needs 3 ranks, the world has 2/.test(e.message) && !e.message.includes('--'));
  await assert.rejects(launch(fixtures, { ranks: 4, exportName: 'groupMembers', args: { sizes: { dp: 4, tp: 1, ep: 3 } } }),
    (e: Error) => /ep 3 must divide dp 4/.test(e.message) && !e.message.includes('--'));
});

test('bad topologies are refused naming the file and field', () => {
  const bad: [unknown, RegExp][] = [
    [{ tiers: [{ name: 'node', group_size: 4 }, { name: 'sn', group_size: 6 }] },
      /^t\.json\.tiers\[1\]\.group_size: 6 is not a multiple of tiers\[0\]\.group_size \(4\)$/],
    [{ tiers: [{ name: 'node', size: 4 }] }, /^t\.json\.tiers\[0\]\.size: unknown key/],
    [{ tiers: [{ name: 'node', group_size: '4' }] }, /^t\.json\.tiers\[0\]\.group_size: /],
    [{ tiers: [{ name: 'node', group_size: 2.5 }] }, /^t\.json\.tiers\[0\]\.group_size: /],
    [{ tiers: [{ name: '', group_size: 2 }] }, /^t\.json\.tiers\[0\]\.name: /],
    [{ tiers: [] }, /^t\.json\.tiers: /],
    [{ tier: [] }, /^t\.json\.tier: unknown key/],
    [[1], /^t\.json: expected an object/],
  ];
  for (const [v, re] of bad) {
    assert.throws(() => parseTopology(v, 't.json'), (e: Error) => e instanceof InputError && re.test(e.message), JSON.stringify(v));
  }
  // A planner cluster file is accepted; its tiers carry bandwidths, the rest is ignored.
  const c = parseTopology({ name: 'x', devices: 8, tiers: [{ name: 'node', group_size: 4, bandwidth: 1e11, latency: 1e-6 },
    { name: 'net', group_size: 8, bandwidth: 1e10, latency: 5e-6, oversubscription: 2 }] });
  assert.equal(c.tiers[1]?.oversubscription, 2);
  assert.deepEqual(Object.keys(c), ['tiers']);
});

test('a missing or malformed topology file is an InputError naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'furnace-topology-'));
  const missing = join(dir, 'none.json');
  assert.throws(() => loadTopology(missing), (e: Error) => e instanceof InputError && e.message.startsWith(`${missing}: cannot read`));
  const broken = join(dir, 'broken.json');
  writeFileSync(broken, '{"tiers": [');
  assert.throws(() => loadTopology(broken), (e: Error) => e instanceof InputError && e.message.startsWith(`${broken}: not valid JSON`));
  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify({ tiers: [{ name: 'node', group_size: 2 }] }));
  assert.deepEqual(loadTopology(good), { tiers: [{ name: 'node', group_size: 2 }] });
  rmSync(dir, { recursive: true, force: true });
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
