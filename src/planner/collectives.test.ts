// Collective cost formulas and group placement against explicit rank enumeration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_EFFICIENCY } from './cluster.js';
import type { Tier } from '../layout/tiers.js';
import { allReduceCost, allToAllCost, groupLayout, halfAllReduceCost, p2pCost, seconds, spanTier } from './collectives.js';
import { gridOf, type ParallelPlan } from './plan.js';
import { DIMS, type Dim, type Group } from '../layout/grid.js';
import { placements } from './search.js';

const e = { ...DEFAULT_EFFICIENCY, network: 1 };
const tiers: Tier[] = [
  { name: 'node', group_size: 4, bandwidth: 100e9, latency: 1e-6 },
  { name: 'rack', group_size: 16, bandwidth: 20e9, latency: 3e-6 },
  { name: 'system', group_size: 64, bandwidth: 10e9, latency: 5e-6, oversubscription: 2 },
];

test('groupLayout counts, for every group and placement, the members that share a tier block (vs enumeration)', () => {
  const layouts: Record<Dim, number>[] = [
    { tp: 2, ep: 2, edp: 4, pp: 4 }, { tp: 4, ep: 1, edp: 2, pp: 8 }, { tp: 1, ep: 8, edp: 2, pp: 4 }, { tp: 2, ep: 1, edp: 32, pp: 1 },
  ];
  let checked = 0;
  for (const sizes of layouts) {
    for (const order of placements(sizes)) {
      const plan: ParallelPlan = { tp: sizes.tp, pp: sizes.pp, ep: sizes.ep, dp: sizes.ep * sizes.edp, zero: 0, microBatch: 1, recompute: 'none', placement: { order } };
      for (const group of ['tp', 'ep', 'edp', 'pp', 'dp'] as Group[]) {
        const dims = group === 'dp' ? ['ep', 'edp'] : [group];
        const g = groupLayout(sizes, order, dims, tiers);
        for (const rank of [0, 37, 63]) {
          const members = gridOf(plan).groupOf(group, rank);
          assert.equal(g.size, members.length);
          tiers.forEach((t, j) => {
            const block = Math.floor(rank / t.group_size);
            const inside = members.filter((r) => Math.floor(r / t.group_size) === block).length;
            assert.equal(g.inside[j], inside, `${group} of rank ${rank}, order ${order.join('/')}, tier ${t.name}`);
          });
          checked++;
        }
      }
    }
  }
  assert.ok(checked > 300);
});

test('ring all-reduce inside one tier is 2(n-1)/n S/B + 2(n-1) latency', () => {
  const g = groupLayout({ tp: 4, ep: 1, edp: 1, pp: 1 }, DIMS, ['tp'], tiers);
  assert.deepEqual(g.inside, [4, 4, 4]);
  assert.equal(spanTier(g), 0);
  const S = 1e9;
  const t = seconds(allReduceCost(g, tiers, e), S);
  assert.ok(Math.abs(t - (2 * 3 / 4 * S / 100e9 + 6 * 1e-6)) < 1e-12);
  assert.ok(Math.abs(seconds(halfAllReduceCost(g, tiers, e), S) - t / 2) < 1e-12);
  assert.equal(seconds(allReduceCost(groupLayout({ tp: 1, ep: 1, edp: 1, pp: 1 }, DIMS, ['tp'], tiers), tiers, e), S), 0);
});

test('hierarchical all-reduce beats the flat ring across tiers, and oversubscription slows the top tier', () => {
  const g = groupLayout({ tp: 64, ep: 1, edp: 1, pp: 1 }, DIMS, ['tp'], tiers);
  const c = allReduceCost(g, tiers, e);
  const S = 1e9;
  const flat = c.flat.latency + c.flat.perByte * S, hier = c.hier.latency + c.hier.perByte * S;
  // flat ring is bounded by the oversubscribed top tier: 10 GB/s / 2
  assert.ok(Math.abs(flat - (2 * 63 / 64 * S / 5e9 + 2 * 63 * 5e-6)) < 1e-12);
  // hierarchical: reduce-scatter over 4 (node), then 4 racks-in-system... S shrinks by r at each level
  const expect = 2 * 3 / 4 * S / 100e9 + 2 * 3 / 4 * (S / 4) / 20e9 + 2 * 3 / 4 * (S / 16) / 5e9 + 2 * 3 * (1e-6 + 3e-6 + 5e-6);
  assert.ok(Math.abs(hier - expect) < 1e-12);
  assert.ok(hier < flat);
  assert.equal(seconds(c, S), hier);
  // tiny messages: fewer latency steps win, whichever algorithm gives them
  assert.equal(seconds(c, 8), Math.min(c.flat.latency + 8 * c.flat.perByte, c.hier.latency + 8 * c.hier.perByte));
});

test('all-to-all: within a tier (n-1)/n S/B; across tiers the slow tier carries what leaves the fast one', () => {
  const S = 1e9;
  const inner = groupLayout({ tp: 1, ep: 4, edp: 1, pp: 1 }, DIMS, ['ep'], tiers);
  const c = allToAllCost(inner, tiers, e);
  assert.ok(Math.abs(c.flat.perByte * S - 3 / 4 * S / 100e9) < 1e-12);
  const wide = groupLayout({ tp: 1, ep: 16, edp: 1, pp: 1 }, DIMS, ['ep'], tiers);
  const w = allToAllCost(wide, tiers, e);
  // 12 of 16 destinations are outside the node: 12/16 of S crosses the rack tier at 20 GB/s
  assert.ok(Math.abs(w.flat.perByte - Math.max(15 / 16 / 100e9, 12 / 16 / 20e9)) < 1e-18);
  assert.ok(Math.abs(w.flat.latency - (3 * 1e-6 + 12 * 3e-6)) < 1e-15);
  // 2D: 3 messages in the node then 3 across racks, each level moving (r-1)/r of S
  assert.ok(Math.abs(w.hier.perByte - (3 / 4 / 100e9 + 3 / 4 / 20e9)) < 1e-18);
  assert.ok(Math.abs(w.hier.latency - (3 * 1e-6 + 3 * 3e-6)) < 1e-15);
});

test('pipeline sends cross the tier between neighbouring stages', () => {
  const inNode = groupLayout({ tp: 2, ep: 1, edp: 1, pp: 2 }, ['tp', 'pp', 'ep', 'edp'], ['pp'], tiers);
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-15, `${a} vs ${b}`);
  close(seconds(p2pCost(inNode, tiers, e), 1e6), 1e-6 + 1e6 / 100e9);
  const across = groupLayout({ tp: 4, ep: 1, edp: 1, pp: 2 }, ['tp', 'pp', 'ep', 'edp'], ['pp'], tiers);
  close(seconds(p2pCost(across, tiers, e), 1e6), 3e-6 + 1e6 / 20e9);
});

test('the latency factor scales every message step and leaves the bytes alone', () => {
  const g = groupLayout({ tp: 1, ep: 8, edp: 1, pp: 1 }, ['ep', 'tp', 'edp', 'pp'], ['ep'], tiers);
  const slow = { ...e, latency_factor: 10 };
  for (const cost of [allReduceCost, allToAllCost, p2pCost]) {
    const a = cost(g, tiers, e), b = cost(g, tiers, slow);
    assert.ok(a.flat.latency > 0);
    assert.ok(Math.abs(b.flat.latency - 10 * a.flat.latency) < 1e-15 && Math.abs(b.hier.latency - 10 * a.hier.latency) < 1e-15);
    assert.equal(b.flat.perByte, a.flat.perByte);
  }
});
