// Hierarchical cluster description (devices, tiers of network, storage) and its efficiency factors.
import { InputError } from '../util/errors.js';
import { parseWith, z } from '../util/schema.js';
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
  /** Message latency as run over the tiers' nominal one (ranks that must all be scheduled to meet: > 1 on shared cores). */
  latency_factor: number;
}

export const DEFAULT_EFFICIENCY: Efficiency = {
  gemm: 0.75, gemm_half_width: 128, attention: 0.5, memory: 0.7, network: 0.8, overlap: 0.5, layer_overhead_s: 0, latency_factor: 1,
};

const positive = z.number().positive();
const fraction = z.number().min(0).max(1);
/** A fraction of peak that a kernel class cannot run without. */
const nonZeroFraction = z.number().positive().max(1);

const tierSchema = z.strictObject({
  name: z.string().min(1),
  group_size: z.number().int().min(1),
  bandwidth: positive,
  latency: z.number().min(0),
  oversubscription: z.number().min(1).exactOptional(),
});

const efficiencySchema = z.strictObject({
  gemm: nonZeroFraction.exactOptional(),
  gemm_half_width: z.number().min(0).exactOptional(),
  attention: nonZeroFraction.exactOptional(),
  memory: nonZeroFraction.exactOptional(),
  network: nonZeroFraction.exactOptional(),
  overlap: fraction.exactOptional(),
  layer_overhead_s: z.number().min(0).exactOptional(),
  latency_factor: z.number().positive().max(1e6).exactOptional(),
});

const storageSchema = z.strictObject({
  /** Aggregate bytes/s of the parallel file system. */
  bandwidth: positive,
  /** Bytes/s one writer process can reach. */
  writer_bandwidth: positive,
});
export type Storage = z.infer<typeof storageSchema>;

export const clusterSpecSchema = z.strictObject({
  name: z.string().min(1),
  devices: z.number().int().min(1),
  device: z.strictObject({
    flops: z.strictObject({ fp32: positive, bf16: positive }),
    memory_bytes: positive,
    memory_bandwidth: positive,
  }),
  tiers: z.array(tierSchema).min(1),
  storage: storageSchema.exactOptional(),
  efficiency: efficiencySchema.exactOptional(),
});
export type ClusterSpec = z.infer<typeof clusterSpecSchema>;

export function parseCluster(value: unknown, where = 'cluster'): ClusterSpec {
  const c = parseWith(clusterSpecSchema, value, where);
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
  return c;
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

/** Seconds per message step on a tier as run: its latency x the latency factor. */
export function effectiveLatency(t: Tier, e: Efficiency): number {
  return t.latency * e.latency_factor;
}

/** Per-device bandwidth of a tier once oversubscription and the network efficiency are applied. */
export function effectiveBandwidth(t: Tier, e: Efficiency): number {
  return (t.bandwidth * e.network) / (t.oversubscription ?? 1);
}
