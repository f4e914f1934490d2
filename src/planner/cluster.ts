// Hierarchical cluster description (devices, tiers of network, storage) and its efficiency factors.
import { InputError, array, int, join, num, positive, record, str } from './validate.js';
import type { Tier } from '../layout/tiers.js';

/**
 * Fractions of peak a real code reaches; each is a calibratable factor (`furnace plan --calibrate`).
 * Compute time of a kernel class = work / (peak * factor).
 */
export interface Efficiency {
  /** Large GEMMs, as a fraction of peak FLOP/s. */
  gemm: number;
  /** Per-device GEMM width (hidden / tp) at which GEMM efficiency is half of `gemm`: eff = gemm w/(w+w_half). */
  gemm_half_width: number;
  /** Attention score and value products (batched GEMMs of width head_dim), fraction of peak. */
  attention: number;
  /** Element-wise kernels (norms, activations, softmax, residuals, optimizer), fraction of memory bandwidth. */
  memory: number;
  /** Collectives, fraction of link bandwidth. */
  network: number;
  /** Fraction of the last micro-batch's backward time that hides the data-parallel gradient reduction. */
  overlap: number;
  /** Fixed seconds per layer per micro-batch for forward + backward (kernel launches, framework overhead). */
  layer_overhead_s: number;
}

export const DEFAULT_EFFICIENCY: Efficiency = {
  gemm: 0.75, gemm_half_width: 128, attention: 0.5, memory: 0.7, network: 0.8, overlap: 0.5, layer_overhead_s: 0,
};

export interface Storage {
  /** Aggregate bytes/s of the parallel file system. */
  bandwidth: number;
  /** Bytes/s one writer process can reach. */
  writer_bandwidth: number;
}

export interface ClusterSpec {
  name: string;
  devices: number;
  device: {
    flops: { fp32: number; bf16: number };
    memory_bytes: number;
    memory_bandwidth: number;
  };
  tiers: Tier[];
  storage?: Storage;
  efficiency?: Partial<Efficiency>;
}

const EFFICIENCY_KEYS = Object.keys(DEFAULT_EFFICIENCY) as (keyof Efficiency)[];

export function parseCluster(value: unknown, where = 'cluster'): ClusterSpec {
  const o = record(value, where, ['name', 'devices', 'device', 'tiers'], ['storage', 'efficiency']);
  const d = record(o['device'], `${where}.device`, ['flops', 'memory_bytes', 'memory_bandwidth']);
  const f = record(d['flops'], `${where}.device.flops`, ['fp32', 'bf16']);
  const c: ClusterSpec = {
    name: str(o['name'], `${where}.name`),
    devices: int(o['devices'], `${where}.devices`, 1),
    device: {
      flops: { fp32: positive(f['fp32'], `${where}.device.flops.fp32`), bf16: positive(f['bf16'], `${where}.device.flops.bf16`) },
      memory_bytes: positive(d['memory_bytes'], `${where}.device.memory_bytes`),
      memory_bandwidth: positive(d['memory_bandwidth'], `${where}.device.memory_bandwidth`),
    },
    tiers: array(o['tiers'], `${where}.tiers`, 1).map((t, i) => parseTier(t, join(`${where}.tiers`, i))),
  };
  for (let i = 1; i < c.tiers.length; i++) {
    const inner = c.tiers[i - 1]!, outer = c.tiers[i]!;
    if (outer.group_size % inner.group_size !== 0 || outer.group_size <= inner.group_size) {
      throw new InputError(`${where}.tiers[${i}].group_size: ${outer.group_size} must be a larger multiple of the inner tier's ${inner.group_size}`);
    }
  }
  const top = c.tiers[c.tiers.length - 1]!;
  if (top.group_size < c.devices) {
    throw new InputError(`${where}.tiers[${c.tiers.length - 1}].group_size: the outermost tier must span all ${c.devices} devices, got ${top.group_size}`);
  }
  if (o['storage'] !== undefined) {
    const s = record(o['storage'], `${where}.storage`, ['bandwidth', 'writer_bandwidth']);
    c.storage = { bandwidth: positive(s['bandwidth'], `${where}.storage.bandwidth`), writer_bandwidth: positive(s['writer_bandwidth'], `${where}.storage.writer_bandwidth`) };
  }
  if (o['efficiency'] !== undefined) c.efficiency = parseEfficiency(o['efficiency'], `${where}.efficiency`);
  return c;
}

function parseTier(value: unknown, where: string): Tier {
  const t = record(value, where, ['name', 'group_size', 'bandwidth', 'latency'], ['oversubscription']);
  const tier: Tier = {
    name: str(t['name'], `${where}.name`),
    group_size: int(t['group_size'], `${where}.group_size`, 1),
    bandwidth: positive(t['bandwidth'], `${where}.bandwidth`),
    latency: num(t['latency'], `${where}.latency`, 0),
  };
  if (t['oversubscription'] !== undefined) tier.oversubscription = num(t['oversubscription'], `${where}.oversubscription`, 1);
  return tier;
}

export function parseEfficiency(value: unknown, where: string): Partial<Efficiency> {
  const o = record(value, where, [], EFFICIENCY_KEYS);
  const e: Partial<Efficiency> = {};
  for (const k of EFFICIENCY_KEYS) {
    const v = o[k];
    if (v === undefined) continue;
    const bounded = k === 'gemm_half_width' || k === 'layer_overhead_s' ? num(v, `${where}.${k}`, 0) : num(v, `${where}.${k}`, 0, 1);
    if ((k === 'gemm' || k === 'attention' || k === 'memory' || k === 'network') && bounded === 0) {
      throw new InputError(`${where}.${k}: must be > 0`);
    }
    e[k] = bounded;
  }
  return e;
}

/** The cluster's efficiency factors with defaults filled in. */
export function efficiencyOf(c: ClusterSpec): Efficiency {
  return { ...DEFAULT_EFFICIENCY, ...c.efficiency };
}

/** A copy of the cluster restricted to its first `devices` devices (tiers that no longer matter are dropped). */
export function withDevices(c: ClusterSpec, devices: number): ClusterSpec {
  if (devices > c.devices) throw new InputError(`--devices: ${c.name} has ${c.devices} devices, asked for ${devices}`);
  const tiers: Tier[] = [];
  for (const t of c.tiers) {
    tiers.push(t);
    if (t.group_size >= devices) break;
  }
  return { ...c, devices, tiers };
}

/** Per-device bandwidth of a tier once oversubscription and the network efficiency are applied. */
export function effectiveBandwidth(t: Tier, e: Efficiency): number {
  return (t.bandwidth * e.network) / (t.oversubscription ?? 1);
}
