// Where mpirun placed the ranks: which world ranks share a node, found by gathering each rank's
// node identity, as a topology with a node tier (used when no --topology file is given).
//
// A node is a host name plus a network namespace: ranks of one `furnace cluster` node share both,
// ranks on different hosts (or different emulated nodes) differ in at least one.
import { readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import type { ProcessGroup } from './process-group.js';
import type { Topology } from './topology.js';

/** This process's node: host name and network namespace (Linux; the host name alone elsewhere). */
export function nodeIdentity(): string {
  let netns = '';
  try {
    netns = readlinkSync('/proc/self/ns/net');
  } catch {
    // no /proc (not Linux): the host name decides
  }
  return `${hostname()}\0${netns}`;
}

/** Two independent 24-bit hashes of a string (FNV-1a with two offsets): exact in float32. */
function hash48(s: string): [number, number] {
  let a = 0x811c9dc5, b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x01000193 + 2) >>> 0;
  }
  return [a & 0xffffff, b & 0xffffff];
}

/**
 * The node tier from each world rank's node index (ranks numbered by first appearance):
 * `{tiers: [{name: 'node', group_size: g}]}` when every node holds g consecutive ranks (mpirun's
 * default --map-by slot with equal slots), else a reason why no tier of group sizes fits.
 */
export function nodeTier(nodeOfRank: readonly number[]): Topology | string {
  const world = nodeOfRank.length;
  let g = 0;
  while (g < world && nodeOfRank[g] === nodeOfRank[0]) g++;
  if (world % g !== 0) return `node 0 holds ${g} ranks, which does not divide ${world}`;
  for (let r = 0; r < world; r++) {
    if (nodeOfRank[r] !== Math.floor(r / g)) {
      return `ranks are not placed in blocks of ${g} consecutive ranks per node (rank ${r}); use mpirun --map-by slot or give --topology`;
    }
  }
  return { tiers: [{ name: 'node', group_size: g }] };
}

/** Collective over world: every rank's node index, by an all-gather of hashed node identities. */
export async function nodesOf(world: ProcessGroup, identity = nodeIdentity()): Promise<number[]> {
  const mine = Float32Array.from(hash48(identity));
  const all = new Float32Array(2 * world.size);
  await world.allGather(mine, all);
  const index = new Map<string, number>();
  const out: number[] = [];
  for (let r = 0; r < world.size; r++) {
    const k = `${all[2 * r]}:${all[2 * r + 1]}`;
    if (!index.has(k)) index.set(k, index.size);
    out.push(index.get(k)!);
  }
  return out;
}

/**
 * Collective: the node tier of this job's placement, or why there is none, and every world rank's
 * node index (by first appearance).
 */
export async function placedTopology(world: ProcessGroup): Promise<{ topology: Topology | undefined; nodes: number; nodeOfRank: number[]; note: string }> {
  const nodeOfRank = await nodesOf(world);
  const count = new Set(nodeOfRank).size;
  const t = nodeTier(nodeOfRank);
  if (typeof t === 'string') return { topology: undefined, nodes: count, nodeOfRank, note: `placement from MPI: ${count} nodes, no node tier (${t})` };
  return { topology: t, nodes: count, nodeOfRank, note: `placement from MPI: ${count} node${count > 1 ? 's' : ''} x ${t.tiers[0]!.group_size} ranks` };
}

/**
 * World rank `rank`'s place in (node, rank) order, or undefined when every node already holds
 * consecutive ranks (nodes are numbered by first appearance, so that is a non-decreasing list).
 */
export function nodeMajorRank(nodeOfRank: readonly number[], rank: number): number | undefined {
  if (nodeOfRank.every((n, r) => r === 0 || n >= nodeOfRank[r - 1]!)) return undefined;
  const mine = nodeOfRank[rank]!;
  return nodeOfRank.filter((n, r) => n < mine || (n === mine && r < rank)).length;
}

/**
 * Collective over world: the world numbered again node by node when mpirun dealt the ranks over
 * the nodes in another order (e.g. --map-by node), so that every node holds consecutive ranks;
 * world itself when they already do.
 */
export async function nodeMajor(world: ProcessGroup, nodeOfRank: readonly number[]): Promise<ProcessGroup> {
  const key = nodeMajorRank(nodeOfRank, world.rank);
  return key === undefined ? world : world.split(0, key);
}
