// How ranks sit in the network (nodes, supernodes), and a placement of the dp x tp x ep grid on it.
//
// A topology lists tiers from fastest to slowest: `{"tiers": [{"name": "node", "group_size": 4},
// {"name": "supernode", "group_size": 1024}]}` means world ranks 4k..4k+3 share a node and ranks
// 1024k.. share a supernode; traffic between supernodes crosses the slowest network. Each
// group_size must divide the next. Sunway: 6 core groups per node, 256 nodes per supernode.
// A planner cluster file (tiers with bandwidth, latency, oversubscription; name, devices, ...)
// is accepted as it is: only its tiers matter here.
import { readFileSync } from 'node:fs';

export interface Tier {
  name: string;
  group_size: number;
  /** Bytes/s per rank into this tier, seconds per message, demand:capacity (planner fields). */
  bandwidth?: number;
  latency?: number;
  oversubscription?: number;
}

const TIER_NUMBERS = ['bandwidth', 'latency', 'oversubscription'] as const;
const CLUSTER_KEYS = ['tiers', 'name', 'devices', 'device', 'storage', 'efficiency'];

export interface Topology {
  tiers: Tier[];
}

/** Validates a parsed topology; errors name the field (e.g. `tiers[1].group_size`). */
export function parseTopology(v: unknown, where = 'topology'): Topology {
  const obj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!obj(v)) throw new TypeError(`${where}: expected an object with "tiers"`);
  for (const k of Object.keys(v)) if (!CLUSTER_KEYS.includes(k)) throw new TypeError(`${where}: unknown key '${k}'`);
  const tiers = v['tiers'];
  if (!Array.isArray(tiers) || tiers.length === 0) throw new TypeError(`${where}.tiers: expected a non-empty array`);
  const out: Tier[] = [];
  tiers.forEach((t: unknown, i) => {
    const at = `${where}.tiers[${i}]`;
    if (!obj(t)) throw new TypeError(`${at}: expected an object {name, group_size}`);
    for (const k of Object.keys(t)) {
      if (k !== 'name' && k !== 'group_size' && !(TIER_NUMBERS as readonly string[]).includes(k)) throw new TypeError(`${at}: unknown key '${k}'`);
    }
    const name = t['name'];
    const gs = t['group_size'];
    if (typeof name !== 'string' || name === '') throw new TypeError(`${at}.name: expected a non-empty string`);
    if (typeof gs !== 'number' || !Number.isInteger(gs) || gs < 1) throw new TypeError(`${at}.group_size: expected a positive integer, got ${String(gs)}`);
    const prev = out[i - 1];
    if (prev !== undefined && gs % prev.group_size !== 0) {
      throw new TypeError(`${at}.group_size: ${gs} is not a multiple of tiers[${i - 1}].group_size (${prev.group_size})`);
    }
    const tier: Tier = { name, group_size: gs };
    for (const k of TIER_NUMBERS) {
      const x = t[k];
      if (x === undefined) continue;
      if (typeof x !== 'number' || !(x >= 0) || !Number.isFinite(x)) throw new TypeError(`${at}.${k}: expected a non-negative number, got ${String(x)}`);
      tier[k] = x;
    }
    out.push(tier);
  });
  return { tiers: out };
}

export function loadTopology(file: string): Topology {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TypeError(`${file}: cannot read (${(e as Error).message})`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new TypeError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  return parseTopology(v, file);
}

/** Index of the fastest tier whose unit holds all `ranks` (tiers.length: only the whole machine). */
export function spanTier(topo: Topology, ranks: readonly number[]): number {
  const first = ranks[0] ?? 0;
  for (let t = 0; t < topo.tiers.length; t++) {
    const gs = topo.tiers[t]?.group_size ?? 1;
    if (ranks.every((r) => Math.floor(r / gs) === Math.floor(first / gs))) return t;
  }
  return topo.tiers.length;
}

/** Which unit of tier `tier` (default the fastest) holds a world rank: the color for a split. */
export function unitOf(topo: Topology, worldRank: number, tier = 0): number {
  return Math.floor(worldRank / (topo.tiers[tier]?.group_size ?? 1));
}

export function tierName(topo: Topology, t: number): string {
  return topo.tiers[t]?.name ?? 'machine';
}

export interface GridSizes {
  dp: number;
  tp: number;
  ep: number;
}

/** The three axes of the grid: tp, ep (within dp) and edp (dp / ep, replicas of the experts). */
export type Axis = 'tp' | 'ep' | 'edp';

/**
 * A placement: logical grid coordinates -> world rank. `order` lists axes from innermost
 * (consecutive world ranks) to outermost. The logical rank of the composition (groups.ts) is
 * dpIndex * tp + tpIndex with dpIndex = edpIndex * ep + epIndex, i.e. order [tp, ep, edp].
 */
export interface Placement {
  order: Axis[];
  worldRank(tpIndex: number, epIndex: number, edpIndex: number): number;
  /** Slowest tier each kind of group spans (a tier name, or 'machine'). */
  spans: Record<'tp' | 'ep' | 'dp' | 'expertDp', string>;
}

function placementFor(s: GridSizes, order: Axis[]): Placement['worldRank'] {
  const size: Record<Axis, number> = { tp: s.tp, ep: s.ep, edp: s.dp / s.ep };
  return (tpIndex, epIndex, edpIndex) => {
    const idx: Record<Axis, number> = { tp: tpIndex, ep: epIndex, edp: edpIndex };
    let r = 0;
    for (let i = order.length - 1; i >= 0; i--) {
      const a = order[i] ?? 'tp';
      r = r * size[a] + idx[a];
    }
    return r;
  };
}

/** Members (world ranks) of every group of each kind, under a placement function. */
function groupsOf(s: GridSizes, at: Placement['worldRank']): Record<keyof Placement['spans'], number[][]> {
  const edp = s.dp / s.ep;
  const out: Record<keyof Placement['spans'], number[][]> = { tp: [], ep: [], dp: [], expertDp: [] };
  const range = (n: number) => [...Array(n).keys()];
  for (const e of range(edp)) for (const p of range(s.ep)) out.tp.push(range(s.tp).map((t) => at(t, p, e)));
  for (const t of range(s.tp)) {
    for (const e of range(edp)) out.ep.push(range(s.ep).map((p) => at(t, p, e)));
    for (const p of range(s.ep)) out.expertDp.push(range(edp).map((e) => at(t, p, e)));
    out.dp.push(range(edp).flatMap((e) => range(s.ep).map((p) => at(t, p, e))));
  }
  return out;
}

/**
 * Chooses the axis order (unless `order` is given, e.g. by a plan) that keeps tp groups, then ep
 * groups, in the fastest tier possible
 * (weights: tp traffic every layer, ep all-to-all every MoE layer, dp once per step). Without a
 * topology, or when the composition order already does best, the order is [tp, ep, edp].
 */
export function place(s: GridSizes, topo?: Topology, order?: readonly Axis[]): Placement {
  if (order !== undefined && (order.length !== 3 || !(['tp', 'ep', 'edp'] as const).every((a) => order.includes(a)))) {
    throw new RangeError(`placement order: must list tp, ep and edp once each, got ${order.join(', ')}`);
  }
  const orders: Axis[][] = order !== undefined ? [[...order]] : [['tp', 'ep', 'edp'], ['tp', 'edp', 'ep'],
    ['ep', 'tp', 'edp'], ['ep', 'edp', 'tp'], ['edp', 'tp', 'ep'], ['edp', 'ep', 'tp']];
  const weight = { tp: 1000, ep: 100, expertDp: 10, dp: 1 } as const;
  let best: { order: Axis[]; cost: number; spans: Placement['spans'] } | undefined;
  for (const order of orders) {
    const at = placementFor(s, order);
    const groups = groupsOf(s, at);
    let cost = 0;
    const spans = { tp: '', ep: '', dp: '', expertDp: '' };
    for (const k of ['tp', 'ep', 'expertDp', 'dp'] as const) {
      const t = topo === undefined ? 0 : Math.max(0, ...groups[k].map((g) => spanTier(topo, g)));
      cost += weight[k] * t;
      spans[k] = topo === undefined ? 'unknown' : tierName(topo, t);
    }
    if (best === undefined || cost < best.cost) best = { order, cost, spans };
  }
  const b = best ?? { order: ['tp', 'ep', 'edp'] as Axis[], spans: { tp: '', ep: '', dp: '', expertDp: '' } };
  return { order: b.order, worldRank: placementFor(s, b.order), spans: b.spans };
}
