// The topology drawing places every drawn device in the right tier block and marks exactly rank 0's groups.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withDevices } from '../planner/cluster.js';
import { gridOf, type ParallelPlan } from '../planner/plan.js';
import { DIMS } from '../layout/grid.js';
import { CLUSTER_PRESETS } from '../planner/presets.js';
import type { ClusterSpec } from '../planner/cluster.js';
import { topologySvg } from './topology.js';

const selene = CLUSTER_PRESETS['a100-selene'] as ClusterSpec;
const sunway = CLUSTER_PRESETS['sunway-oceanlight'] as ClusterSpec;

function devices(svg: string): { rank: number; groups: string[] }[] {
  return [...svg.matchAll(/<g class="device" data-rank="(\d+)" data-groups="([^"]*)">/g)]
    .map((m) => ({ rank: Number(m[1]), groups: m[2]!.split(' ').filter((g) => g !== '') }));
}

/** Block elements in document order with the ranks of the devices drawn inside each. */
function blocks(svg: string): { tier: string; start: number; size: number; ranks: number[] }[] {
  const out: { tier: string; start: number; size: number; ranks: number[] }[] = [];
  const open: { tier: string; start: number; size: number; ranks: number[] }[] = [];
  for (const m of svg.matchAll(/<g class="block" data-tier="([^"]+)" data-start="(\d+)" data-size="(\d+)">|<g class="device" data-rank="(\d+)"|<\/g>|<g[ >]/g)) {
    if (m[1] !== undefined) { const b = { tier: m[1], start: Number(m[2]), size: Number(m[3]), ranks: [] }; out.push(b); open.push(b); }
    else if (m[4] !== undefined) { for (const b of open) b.ranks.push(Number(m[4])); open.push({ tier: '', start: 0, size: 0, ranks: [] }); }
    else if (m[0] === '</g>') open.pop();
    else open.push({ tier: '', start: 0, size: 0, ranks: [] });
  }
  return out;
}

const cases: [string, ClusterSpec, ParallelPlan][] = [
  ['GPT on Selene, tp inside nodes', withDevices(selene, 1024), { dp: 16, tp: 4, pp: 16, ep: 1, zero: 2, microBatch: 1, recompute: 'none', placement: { order: ['tp', 'edp', 'pp', 'ep'] } }],
  ['MoE on Sunway, ep across supernodes', withDevices(sunway, 4096), { dp: 512, tp: 2, pp: 4, ep: 64, zero: 1, microBatch: 1, recompute: 'full', placement: { order: ['tp', 'pp', 'ep', 'edp'] } }],
  ['pipeline innermost', withDevices(selene, 64), { dp: 4, tp: 2, pp: 8, ep: 2, zero: 0, microBatch: 2, recompute: 'none', placement: { order: ['pp', 'tp', 'ep', 'edp'] } }],
];

for (const [name, cluster, plan] of cases) {
  test(`topology: ${name}`, () => {
    const svg = topologySvg(cluster, plan);
    const drawn = devices(svg);
    assert.ok(drawn.length >= 8, `only ${drawn.length} devices drawn`);
    assert.ok(drawn.some((d) => d.rank === 0));
    for (const dim of DIMS) {
      const members = new Set(gridOf(plan).groupOf(dim, 0));
      for (const d of drawn) assert.equal(d.groups.includes(dim), members.has(d.rank), `rank ${d.rank} ${dim}`);
      // Every group with more than one rank shows at least one other member, and its legend counts all.
      if (members.size > 1) assert.ok(drawn.some((d) => d.rank !== 0 && d.groups.includes(dim)), `no other ${dim} member drawn`);
      assert.match(svg, new RegExp(`data-dim="${dim}" data-members="${members.size}"`));
    }
    for (const b of blocks(svg)) {
      const tier = cluster.tiers.find((t) => t.name === b.tier)!;
      assert.equal(b.start % tier.group_size, 0, `${b.tier} block starts at ${b.start}`);
      for (const r of b.ranks) assert.ok(r >= b.start && r < b.start + b.size, `rank ${r} drawn in ${b.tier} block ${b.start}+${b.size}`);
    }
    assert.equal(new Set(drawn.map((d) => d.rank)).size, drawn.length, 'a rank drawn twice');
  });
}
