// Rank programs for the group and hierarchical all-to-all tests: each returns what it observed.
import type { ProcessGroup } from '../process-group.js';
import { makeProcessGroups } from '../groups.js';
import { HierarchicalAllToAll } from '../hierarchical-all-to-all.js';
import { gen, main as conformance } from './conformance.case.js';
import { TimedGroup } from '../timed-group.js';
import type { Topology } from '../topology.js';
import type { Dim, GridSizes } from '../../layout/grid.js';

async function members(g: ProcessGroup): Promise<number[]> {
  const out = new Float32Array(g.size);
  await g.allGather(new Float32Array([g.worldRank]), out);
  return Array.from(out);
}

/** World ranks of this rank's dp, tp, ep, expertDp and pp groups, in group-rank order. */
export async function groupMembers(world: ProcessGroup, args: { sizes: GridSizes; topology?: Topology; order?: Dim[] }) {
  const L = await makeProcessGroups(world, args.sizes, args.topology, args.order);
  return {
    coords: L.coords, placement: L.placement,
    dp: await members(L.dp), tp: await members(L.tp), ep: await members(L.ep), expertDp: await members(L.expertDp), pp: await members(L.pp),
  };
}

/** Flat and hierarchical all-to-all on the same inputs; returns how many elements were compared. */
export async function hierarchicalEqualsFlat(world: ProcessGroup, args: { layouts: { unitOf: 'block' | 'stride'; a: number }[] }): Promise<number> {
  let compared = 0;
  for (const layout of args.layouts) compared += await compareLayout(world, layout);
  return compared;
}

async function compareLayout(world: ProcessGroup, args: { unitOf: 'block' | 'stride'; a: number }): Promise<number> {
  const { rank: r, size: p } = world;
  const unit = args.unitOf === 'block' ? Math.floor(r / args.a) : r % (p / args.a);
  const h = await HierarchicalAllToAll.create(world, unit);
  if (h === undefined) throw new Error('units of equal size were refused');
  let compared = 0;
  const count = (q: number, j: number) => ((q * 5 + j * 3) % 4) * 3 + (q === j ? 1 : 0);
  for (const variable of [false, true]) {
    const m = 37;
    const sc = variable ? Array.from({ length: p }, (_, j) => count(r, j)) : undefined;
    const rc = variable ? Array.from({ length: p }, (_, q) => count(q, r)) : undefined;
    const n = sc === undefined ? p * m : sc.reduce((s, c) => s + c, 0);
    const total = rc === undefined ? p * m : rc.reduce((s, c) => s + c, 0);
    const send = gen(r, n, variable ? 1 : 2);
    const flat = new Float32Array(total);
    const hier = new Float32Array(total).fill(NaN);
    await world.allToAll(send, flat, sc, rc);
    await h.allToAll(send, hier, sc, rc);
    for (let i = 0; i < total; i++) {
      if (!Object.is(flat[i], hier[i])) throw new Error(`${args.unitOf} units of ${args.a}, variable=${variable}: element ${i} is ${hier[i]}, flat gives ${flat[i]}`);
    }
    compared += total;
  }
  return compared;
}

/** The conformance suite through a TimedGroup, then a dp2 x ep2 step pattern; returns call counts. */
export async function timed(world: ProcessGroup) {
  const suite = await conformance(new TimedGroup(world), { light: true });
  const t = new TimedGroup(world);
  const L = await makeProcessGroups(t, { dp: world.size, tp: 1, ep: world.size });
  t.clock.reset();
  const x = new Float32Array(64);
  for (let i = 0; i < 3; i++) await L.dp.allReduce(x);
  for (let i = 0; i < 2; i++) await L.ep.allToAll(new Float32Array(8 * world.size), new Float32Array(8 * world.size));
  await L.world.barrier();
  return { suite: suite.length, calls: t.clock.calls, positive: t.clock.total() > 0 };
}
