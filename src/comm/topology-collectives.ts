// Which collectives of a job go through the network's fast tier first: a cost model per group, and
// the groups of a ParallelLayout wrapped in HierarchicalGroup where it pays (chosen once per run).
//
// A group spanning tier t (its ranks share a block of tier t but not of t - 1) sits in b units of
// tier t - 1 (nodes), a ranks in each. Per all-to-all a rank sends M bytes, c = M / (a b) per peer;
// each message costs latency + bytes / bandwidth of the tier it crosses (intra: tier t - 1's link,
// inter: tier t's), and a rank's messages are sent one after another:
//   flat         (a - 1) (α_in + c / β_in) + a (b - 1) (α_out + c / β_out)
//   hierarchical (a - 1) (α_in + b c / β_in) + (b - 1) (α_out + a c / β_out) + 2 M / β_in
// The two-level exchange sends (a - 1)(b - 1) fewer messages across the slow tier, each a times
// larger, and pays an intra-node phase with b times larger messages plus two local re-packings of
// M bytes (priced at the node tier's bandwidth). Inter-node bytes are the same, so it wins when
// the slow tier's latency outweighs the extra node-local traffic (Tutel, arXiv 2206.03382, 3.3).
// Gradient all-reduces (megabytes) are bandwidth-bound: hierarchical whenever the group spans
// nodes with several of its ranks in each (BaGuaLu, PPoPP 2022, section 4.3).
import type { ParallelLayout } from './groups.js';
import { HierarchicalGroup, type HierarchyUse } from './hierarchical-group.js';
import type { ProcessGroup } from './process-group.js';
import { TimedGroup } from './timed-group.js';
import { spanTier, tierName, type TierShape } from '../layout/tiers.js';

/** A tier as the topology file gives it: the link measures are optional. */
export type TopologyTier = TierShape & { bandwidth?: number | undefined; latency?: number | undefined };

export interface Link {
  /** Seconds per message. */
  latency: number;
  /** Bytes/s one rank sends. */
  bandwidth: number;
}

/** A tier's link when the file gives no measures: shared memory inside the innermost tier, 1 Gbit/s
 * Ethernet beyond it (also for traffic crossing the outermost tier). */
export const SHARED_MEMORY: Link = { latency: 1e-6, bandwidth: 10e9 };
export const ETHERNET: Link = { latency: 50e-6, bandwidth: 125e6 };

/** The link of tier t (t = tiers.length: between the outermost blocks, priced as that tier's). */
export function linkOf(tiers: readonly TopologyTier[], t: number): Link {
  const tier = tiers[Math.min(t, tiers.length - 1)];
  const dflt = t === 0 ? SHARED_MEMORY : ETHERNET;
  return { latency: tier?.latency ?? dflt.latency, bandwidth: tier?.bandwidth ?? dflt.bandwidth };
}

/** How a group sits on the tiers: b units of tier `tier - 1`, a ranks each; undefined when it does not
 * span two tiers or its units differ in size (then every collective is flat). */
export interface TwoLevel {
  /** The tier the group spans (its slow links). */
  tier: number;
  a: number;
  b: number;
  /** Block size of tier - 1: world rank r is in unit floor(r / unitSize). */
  unitSize: number;
}

export function twoLevel(tiers: readonly TierShape[], members: readonly number[]): TwoLevel | undefined {
  const tier = spanTier(tiers, members);
  const unitSize = tiers[tier - 1]?.group_size;
  if (tier === 0 || unitSize === undefined) return undefined;
  const per = new Map<number, number>();
  for (const r of members) per.set(Math.floor(r / unitSize), (per.get(Math.floor(r / unitSize)) ?? 0) + 1);
  const counts = [...per.values()];
  const a = counts[0] ?? 0, b = counts.length;
  if (counts.some((n) => n !== a)) return undefined;
  return { tier, a, b, unitSize };
}

/** Modelled seconds of one all-to-all of `bytes` per rank over a units x b ranks (see the header). */
export function allToAllSeconds(kind: 'flat' | 'hierarchical', a: number, b: number, bytes: number, inner: Link, outer: Link): number {
  const c = bytes / (a * b);
  if (kind === 'flat') return (a - 1) * (inner.latency + c / inner.bandwidth) + a * (b - 1) * (outer.latency + c / outer.bandwidth);
  return (a - 1) * (inner.latency + (b * c) / inner.bandwidth) + (b - 1) * (outer.latency + (a * c) / outer.bandwidth) + (2 * bytes) / inner.bandwidth;
}

export type CollectiveKind = 'flat' | 'hierarchical';

/** The all-to-all choice for one group and message size, with the model's estimates. */
export interface AllToAllChoice {
  kind: CollectiveKind;
  /** Bytes one rank sends per all-to-all (the layer shape's estimate). */
  bytes: number;
  /** The tier the group spans, and its nodes x ranks per node (absent when it spans one node). */
  tier?: string;
  nodes?: number;
  ranks_per_node?: number;
  flat_s?: number;
  hierarchical_s?: number;
}

export function chooseAllToAll(tiers: readonly TopologyTier[], members: readonly number[], bytes: number): AllToAllChoice {
  const two = twoLevel(tiers, members);
  if (two === undefined || two.a === 1 || two.b === 1) return { kind: 'flat', bytes };
  const inner = linkOf(tiers, two.tier - 1), outer = linkOf(tiers, two.tier);
  const flat = allToAllSeconds('flat', two.a, two.b, bytes, inner, outer);
  const hier = allToAllSeconds('hierarchical', two.a, two.b, bytes, inner, outer);
  return { kind: hier < flat ? 'hierarchical' : 'flat', bytes, tier: tierName(tiers, two.tier), nodes: two.b, ranks_per_node: two.a,
    flat_s: flat, hierarchical_s: hier };
}

/** Hierarchical gradient all-reduce when the group spans units holding several of its ranks each. */
export function chooseAllReduce(tiers: readonly TierShape[], members: readonly number[]): CollectiveKind {
  const two = twoLevel(tiers, members);
  return two !== undefined && two.a > 1 && two.b > 1 ? 'hierarchical' : 'flat';
}

/** What a run used, for its summary: the placement mode and each group's collectives. */
export interface CollectivesRecord {
  placement: 'topology' | 'naive';
  /** MoE dispatch/combine over the ep group (absent when ep = 1). */
  alltoall?: AllToAllChoice;
  /** Gradient all-reduce over dp and over expertDp (absent when that group is one rank). */
  allreduce: { dp?: CollectiveKind; edp?: CollectiveKind };
}

/**
 * Collective over the world of `layout`: wraps its ep, dp and expertDp groups in HierarchicalGroup
 * where the choice says so (every member of a group computes the same choice from the grid), and
 * returns the layout with those groups and the record. `a2aBytes`: bytes a rank sends per MoE
 * all-to-all. Groups split from a TimedGroup stay timed as one collective each.
 */
export async function useTopology(layout: ParallelLayout, tiers: readonly TopologyTier[], a2aBytes: number):
  Promise<{ layout: ParallelLayout; record: CollectivesRecord }> {
  const me = layout.world.rank;
  const record: CollectivesRecord = { placement: 'topology', allreduce: {} };
  const wrap = async (group: ProcessGroup, members: readonly number[], use: HierarchyUse): Promise<ProcessGroup> => {
    if (!use.allReduce && !use.allToAll) return group;
    const unitSize = twoLevel(tiers, members)?.unitSize ?? 1;
    const timed = group instanceof TimedGroup ? group : undefined;
    const h = await HierarchicalGroup.create(timed?.inner ?? group, Math.floor(group.worldRank / unitSize), use);
    if (h === undefined) throw new Error(`invariant: the units of a two-level group hold equal numbers of ranks (${members.join(', ')})`);
    return timed === undefined ? h : new TimedGroup(h, timed.clock);
  };
  let { ep, dp, expertDp } = layout;
  // Splits are collective: every rank wraps the same groups in the same order (ep, dp, expertDp).
  if (ep.size > 1) {
    const members = layout.grid.groupOf('ep', me);
    record.alltoall = chooseAllToAll(tiers, members, a2aBytes);
    ep = await wrap(ep, members, { allToAll: record.alltoall.kind === 'hierarchical', allReduce: false });
  }
  if (dp.size > 1) {
    const members = layout.grid.groupOf('dp', me);
    record.allreduce.dp = chooseAllReduce(tiers, members);
    dp = await wrap(dp, members, { allToAll: false, allReduce: record.allreduce.dp === 'hierarchical' });
  }
  if (expertDp.size > 1) {
    const members = layout.grid.groupOf('edp', me);
    record.allreduce.edp = chooseAllReduce(tiers, members);
    expertDp = await wrap(expertDp, members, { allToAll: false, allReduce: record.allreduce.edp === 'hierarchical' });
  }
  return { layout: { ...layout, ep, dp, expertDp }, record };
}

/** The record of a run whose collectives are all flat (no topology, or placement naive). */
export function flatRecord(layout: ParallelLayout, placement: CollectivesRecord['placement'], a2aBytes: number): CollectivesRecord {
  return {
    placement,
    ...(layout.ep.size > 1 ? { alltoall: { kind: 'flat', bytes: a2aBytes } } : {}),
    allreduce: { ...(layout.dp.size > 1 ? { dp: 'flat' } : {}), ...(layout.expertDp.size > 1 ? { edp: 'flat' } : {}) },
  };
}

/** One line for the run's log. */
export function describeCollectives(r: CollectivesRecord): string {
  const parts: string[] = [];
  const a = r.alltoall;
  if (a !== undefined) {
    const model = a.flat_s !== undefined && a.hierarchical_s !== undefined
      ? ` (${a.nodes} nodes x ${a.ranks_per_node} ranks, ${a.bytes} B per rank: model ${us(a.flat_s)} flat, ${us(a.hierarchical_s)} hierarchical)` : '';
    parts.push(`ep all-to-all ${a.kind}${model}`);
  }
  if (r.allreduce.dp !== undefined) parts.push(`dp all-reduce ${r.allreduce.dp}`);
  if (r.allreduce.edp !== undefined) parts.push(`expertDp all-reduce ${r.allreduce.edp}`);
  return `collectives (placement ${r.placement}): ${parts.length > 0 ? parts.join(', ') : 'none'}`;
}

function us(s: number): string {
  return `${(s * 1e6).toFixed(1)} us`;
}
