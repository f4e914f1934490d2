// An emulated cluster (`furnace cluster up`: ranks in network namespaces on this machine) as a planner cluster.
import type { ClusterSpec } from './cluster.js';
import { parseWith, z } from '../util/schema.js';
import type { Tier } from '../layout/tiers.js';

/**
 * Seconds per message between nodes: MPI over TCP through a veth pair and a bridge (an assumption of the
 * order measured on Linux; `furnace plan --calibrate` on the cluster's runs fits the network factor).
 */
export const TCP_LATENCY_S = 50e-6;

const posInt = z.number().int().min(1);

/** The part of `cluster up`'s state.json the planner reads (src/cluster/spec.ts ClusterSpec). */
const emulatedSchema = z.looseObject({
  spec: z.looseObject({
    name: z.string().min(1),
    nodes: posInt,
    ranksPerNode: posInt,
    supernodes: posInt,
    /** Link rates in bits/s: node <-> its supernode's bridge, supernode bridge <-> top bridge. */
    rates: z.looseObject({ node: z.number().positive(), supernode: z.number().positive() }),
  }),
});
export type EmulatedSpec = z.infer<typeof emulatedSchema>['spec'];

/** Whether a JSON value is a `cluster up` state file (it has `spec` and `namespaces`), not a planner cluster. */
export function isEmulatedState(v: unknown): boolean {
  return typeof v === 'object' && v !== null && 'spec' in v && 'namespaces' in v;
}

export function parseEmulated(v: unknown, where: string): EmulatedSpec {
  return parseWith(emulatedSchema, v, where).spec;
}

/**
 * The cluster `cluster up` built, in the planner's terms, on `host` (this machine, one device per core).
 * Tiers, innermost first: a node's ranks share memory (the host's shared-memory tier); nodes of a supernode
 * meet through their node links (rate / 8 bytes/s shared by the node's ranks); supernodes meet through their
 * uplinks (rate / 8 shared by the supernode's ranks), as the topology file of spec.ts says. Every rank runs on
 * the same host: with more ranks than cores each device gets cores / ranks of a core's FLOP/s and memory bandwidth.
 */
export function emulatedCluster(s: EmulatedSpec, host: ClusterSpec): ClusterSpec {
  const r = s.ranksPerNode, world = s.nodes * r, perSn = (s.nodes / s.supernodes) * r;
  const shm = host.tiers[0]!;
  const tiers: Tier[] = [{ name: 'node', group_size: r, bandwidth: shm.bandwidth, latency: shm.latency }];
  if (s.supernodes > 1 && perSn > r) tiers.push({ name: 'supernode', group_size: perSn, bandwidth: s.rates.node / 8 / r, latency: TCP_LATENCY_S });
  if (world > tiers[tiers.length - 1]!.group_size) {
    const [rate, behind] = s.supernodes > 1 ? [s.rates.supernode, perSn] : [s.rates.node, r];
    tiers.push({ name: 'machine', group_size: world, bandwidth: rate / 8 / behind, latency: TCP_LATENCY_S });
  }
  const share = Math.min(1, host.devices / world);
  const d = host.device;
  return {
    ...host,
    name: `cluster:${s.name}`,
    devices: world,
    device: { ...d, flops: { fp32: d.flops.fp32 * share, bf16: d.flops.bf16 * share }, memory_bandwidth: d.memory_bandwidth * share },
    tiers,
  };
}
