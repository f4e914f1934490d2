// Network tiers: nested blocks of consecutive world ranks (GPUs of a node, nodes of a supernode).
//
// Tiers are listed innermost (fastest) first: `{name: 'node', group_size: 4}` then
// `{name: 'supernode', group_size: 1024}` means world ranks 4k..4k+3 share a node and ranks
// 1024k.. a supernode; traffic between the outermost blocks crosses the slowest network. Each
// group_size divides the next. Sunway: 6 core groups per node, 256 nodes per supernode.

/** One level of the network. The planner's cluster files give all fields; a runtime topology
 * needs only name and group_size (see TierShape). */
export interface Tier {
  name: string;
  /** Devices in one block at this tier (e.g. 8 GPUs per NVLink island, 256 nodes per supernode). */
  group_size: number;
  /** Bytes/s one device can send into this tier (unidirectional). */
  bandwidth: number;
  /** Seconds per message step at this tier. */
  latency: number;
  /** Ratio of demand to capacity when every device uses this tier at once (16:3 -> 5.333). */
  oversubscription?: number;
}

/** What placement needs of a tier: its name and block size. */
export type TierShape = Pick<Tier, 'name' | 'group_size'>;

/** Index of the fastest tier whose block holds all `ranks` (tiers.length: only the whole machine). */
export function spanTier(tiers: readonly TierShape[], ranks: readonly number[]): number {
  const first = ranks[0] ?? 0;
  for (let t = 0; t < tiers.length; t++) {
    const gs = tiers[t]?.group_size ?? 1;
    if (ranks.every((r) => Math.floor(r / gs) === Math.floor(first / gs))) return t;
  }
  return tiers.length;
}

/** The name of tier `t`; past the outermost tier, 'machine'. */
export function tierName(tiers: readonly TierShape[], t: number): string {
  return tiers[t]?.name ?? 'machine';
}
