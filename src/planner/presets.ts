// Built-in models, clusters and training setups, named `preset:NAME` on the command line.
import type { ClusterSpec } from './cluster.js';
import type { ModelSpec } from './model.js';
import type { TrainingSpec } from './training.js';
import { InputError } from '../util/errors.js';
import { parseWith, z } from '../util/schema.js';

const GPT = { experts: 0, top_k: 0, moe_every: 1 } as const;

/** Megatron GPT shape: ffn 4h, vocabulary 51,200, sequence 2,048 (arXiv 2104.04473 Table 1). */
export function megatronGpt(name: string, layers: number, hidden: number, heads: number): ModelSpec {
  return { name, layers, hidden, heads, ffn_hidden: 4 * hidden, vocab: 51200, seq_len: 2048, ...GPT };
}

/**
 * BaGuaLu-shaped MoE (Ma et al., PPoPP'22): a GPT body with every other FFN replaced by `experts` experts,
 * top-2. The paper's exact shapes are not public here; these are chosen to reach the stated sizes with
 * experts of width 4.5 h (151 M parameters each) at hidden 4,096: 12 MoE layers x 96,000 experts = 174 T,
 * x 8,000 experts = 14.5 T.
 */
function bagualu(name: string, experts: number): ModelSpec {
  return { name, layers: 24, hidden: 4096, heads: 32, ffn_hidden: 16384, vocab: 51200, seq_len: 1024,
    experts, top_k: 2, moe_every: 2, expert_ffn_hidden: 18432 };
}

export const MODEL_PRESETS: Record<string, ModelSpec> = {
  // GPT-3 175B (Brown et al., arXiv 2005.14165 Table 2.1).
  'gpt3-175b': megatronGpt('gpt3-175b', 96, 12288, 96),
  'bagualu-174t': bagualu('bagualu-174t', 96000),
  'bagualu-14.5t': bagualu('bagualu-14.5t', 8000),
  // furnace's own trainer presets (src/train/config.ts): tiny and small.
  'furnace-tiny': { name: 'furnace-tiny', layers: 2, hidden: 64, heads: 4, ffn_hidden: 256, vocab: 256, seq_len: 64,
    experts: 4, top_k: 2, moe_every: 1, expert_ffn_hidden: 128 },
  'furnace-small': { name: 'furnace-small', layers: 4, hidden: 256, heads: 4, ffn_hidden: 1024, vocab: 2048, seq_len: 128,
    experts: 8, top_k: 2, moe_every: 2, expert_ffn_hidden: 512 },
  // Megatron-LM weak-scaling models (arXiv 2104.04473 Table 1), used to check the cost model.
  'megatron-1.7b': megatronGpt('megatron-1.7b', 24, 2304, 24),
  'megatron-3.6b': megatronGpt('megatron-3.6b', 30, 3072, 32),
  'megatron-7.5b': megatronGpt('megatron-7.5b', 36, 4096, 32),
  'megatron-18.4b': megatronGpt('megatron-18.4b', 40, 6144, 48),
  'megatron-39.1b': megatronGpt('megatron-39.1b', 48, 8192, 64),
  'megatron-76.1b': megatronGpt('megatron-76.1b', 60, 10240, 80),
  'megatron-145.6b': megatronGpt('megatron-145.6b', 80, 12288, 96),
  'megatron-310.1b': megatronGpt('megatron-310.1b', 96, 16384, 128),
  'megatron-529.6b': megatronGpt('megatron-529.6b', 105, 20480, 128),
  'megatron-1t': megatronGpt('megatron-1t', 128, 25600, 160),
};

const GB = 1e9;

/**
 * New-generation Sunway (OceanLight), one device = one SW26010-Pro node: 14.03 TFLOPS fp32, 55.30 bf16,
 * 96 GB at 307.2 GB/s; 256-node supernodes on a non-blocking fat tree; supernodes joined by a fat tree
 * oversubscribed 16:3; about 96,000 nodes (BaGuaLu, PPoPP'22). Link bandwidths and latencies are not
 * public: 25 GB/s per node (two 100 Gb/s ports) and 1.5 / 3 us are documented assumptions; change them
 * in a cluster file. Efficiency: Sunway's GEMMs reach a smaller share of peak than GPUs'; 0.45 and a
 * 1,024-wide half point are assumptions to calibrate.
 */
const sunway: ClusterSpec = {
  name: 'sunway-oceanlight',
  devices: 96000,
  device: { flops: { fp32: 14.03e12, bf16: 55.3e12 }, memory_bytes: 96 * GB, memory_bandwidth: 307.2 * GB },
  tiers: [
    { name: 'supernode', group_size: 256, bandwidth: 25 * GB, latency: 1.5e-6 },
    { name: 'system', group_size: 96000, bandwidth: 25 * GB, latency: 3e-6, oversubscription: 16 / 3 },
  ],
  storage: { bandwidth: 1e12, writer_bandwidth: 1 * GB },
  efficiency: { gemm: 0.45, gemm_half_width: 1024, attention: 0.3, memory: 0.6, network: 0.7, overlap: 0.5 },
};

/**
 * NVIDIA Selene (DGX A100 80 GB SuperPOD): A100 312 TFLOPS bf16, 19.5 fp32, 2.039 TB/s HBM; NVLink3
 * 300 GB/s per GPU per direction inside 8-GPU nodes; 8 x 200 Gb/s HDR InfiniBand per node (25 GB/s per
 * GPU); 560 nodes. Efficiency fitted to Megatron-LM arXiv 2104.04473 Table 1 rows 1 (1.7B) and 10 (1T)
 * only; the other eight rows check it (src/planner/megatron.test.ts). Megatron of 2021 did not overlap the
 * gradient all-reduce with backward, hence overlap 0.
 */
const selene: ClusterSpec = {
  name: 'a100-selene',
  devices: 4480,
  device: { flops: { fp32: 19.5e12, bf16: 312e12 }, memory_bytes: 80 * GB, memory_bandwidth: 2039 * GB },
  tiers: [
    { name: 'nvlink', group_size: 8, bandwidth: 300 * GB, latency: 3e-6 },
    { name: 'infiniband', group_size: 4480, bandwidth: 25 * GB, latency: 6e-6 },
  ],
  storage: { bandwidth: 2e12, writer_bandwidth: 2 * GB },
  efficiency: { gemm: 0.733, gemm_half_width: 128, attention: 0.5, memory: 0.93, network: 0.8, overlap: 0, layer_overhead_s: 0 },
};

/**
 * DGX H100 SuperPOD of 32 nodes x 8 GPUs: H100 SXM 989 TFLOPS dense bf16, 67 fp32, 80 GB at 3.35 TB/s;
 * NVLink4 450 GB/s per GPU per direction; 8 x 400 Gb/s NDR per node (50 GB/s per GPU).
 */
const h100: ClusterSpec = {
  name: 'dgx-h100',
  devices: 256,
  device: { flops: { fp32: 67e12, bf16: 989e12 }, memory_bytes: 80 * GB, memory_bandwidth: 3350 * GB },
  tiers: [
    { name: 'nvlink', group_size: 8, bandwidth: 450 * GB, latency: 2.5e-6 },
    { name: 'infiniband', group_size: 256, bandwidth: 50 * GB, latency: 5e-6 },
  ],
  storage: { bandwidth: 1e12, writer_bandwidth: 4 * GB },
  efficiency: { gemm: 0.7, gemm_half_width: 256, attention: 0.45, memory: 0.7, network: 0.8, overlap: 0.8 },
};

/** What `furnace bench` measures on a machine; every field optional (a documented default fills it). */
export interface MachineMeasurements {
  /** Worker processes or threads (one device each). */
  cores?: number;
  /** One core's fp32 FMA peak, FLOP/s (furnace measures it: src/backends/peak.ts). */
  peakFlops?: number;
  /** Best single-thread fp32 GEMM FLOP/s of the backend used for training. */
  gemmFlops?: number;
  /** All-reduce bytes/s between two workers. */
  allReduceBandwidth?: number;
  /** Bytes/s of a large copy (memcpy / TypedArray.set). */
  memoryBandwidth?: number;
  /** Bytes of memory a worker may use (a WebAssembly instance holds at most 4 GiB). */
  memoryBytes?: number;
}

const positive = z.number().positive();

const measurementsSchema = z.strictObject({
  cores: z.number().int().min(1).exactOptional(),
  peak_flops: positive.exactOptional(),
  gemm_flops: positive.exactOptional(),
  allreduce_bandwidth: positive.exactOptional(),
  memory_bandwidth: positive.exactOptional(),
  memory_bytes: positive.exactOptional(),
});

/** The result of `furnace bench kernels --json`; other keys are allowed (the bench report may grow). */
const kernelsBenchSchema = z.looseObject({
  // gflops is null for a backend the bench could not run.
  gemm: z.array(z.looseObject({ backend: z.string(), threads: z.number(), gflops: z.number().nullable() })),
  peak_gflops_per_core_estimate: z.unknown(),
});

/**
 * Reads measurements: either {cores?, gemm_flops?, allreduce_bandwidth?, memory_bandwidth?, memory_bytes?}, or
 * the result of `furnace bench kernels --json` ({gemm: [{backend, threads, gflops}], peak_gflops_per_core_estimate}),
 * whose fastest single-thread GEMM of a training backend (blas, wasm) gives gemm_flops.
 */
export function parseMachine(value: unknown, where = 'machine'): MachineMeasurements {
  if (z.looseObject({ gemm: z.array(z.unknown()) }).safeParse(value).success) {
    const bench = parseWith(kernelsBenchSchema, value, where);
    const best = Math.max(...bench.gemm.flatMap((r) => r.threads === 1 && (r.backend === 'blas' || r.backend === 'wasm') && r.gflops !== null ? [r.gflops] : []));
    if (!Number.isFinite(best)) throw new InputError(`${where}.gemm: no single-thread blas or wasm GEMM measurement`);
    const peak = bench.peak_gflops_per_core_estimate;
    return { gemmFlops: best * 1e9, ...(typeof peak === 'number' && peak > 0 ? { peakFlops: peak * 1e9 } : {}) };
  }
  const o = parseWith(measurementsSchema, value, where);
  const m: MachineMeasurements = {};
  if (o.cores !== undefined) m.cores = o.cores;
  if (o.peak_flops !== undefined) m.peakFlops = o.peak_flops;
  if (o.gemm_flops !== undefined) m.gemmFlops = o.gemm_flops;
  if (o.allreduce_bandwidth !== undefined) m.allReduceBandwidth = o.allreduce_bandwidth;
  if (o.memory_bandwidth !== undefined) m.memoryBandwidth = o.memory_bandwidth;
  if (o.memory_bytes !== undefined) m.memoryBytes = o.memory_bytes;
  return m;
}

/**
 * This machine as a cluster of single-core workers. The CLI measures the FMA peak (src/backends/peak.ts)
 * and the core count; without them (in the browser) the defaults are those of the machine the factors
 * were fitted on: a 2-core Xeon VM, 240 GFLOP/s fp32 FMA peak per core (AVX-512, measured), threads
 * all-reduce 5 GB/s, element-wise kernels ~30 GB/s on cache-resident data, 4 GiB per worker (the CLI gives each its share of the machine).
 * Efficiency factors were fitted (`furnace plan --calibrate`, fitting gemm, memory, layer_overhead_s and
 * attention) to eight runs of furnace's trainer on 2026-12-03, quiet (blas; tiny and small presets and a
 * dense small; dp2, dp2 x ep2, tp2, batch 16-32): 7 of 8 step times within 16%, the worst 28%. GEMMs reach
 * 0.53 of the peak; framework overhead is ~2 ms per layer per step. A measured `gemmFlops` replaces the
 * GEMM factor.
 */
export function thisMachine(meas: MachineMeasurements = {}): ClusterSpec {
  const cores = Math.max(1, meas.cores ?? 2);
  const peak = meas.peakFlops ?? 240e9;
  const tiers = [{ name: 'shared-memory', group_size: cores, bandwidth: meas.allReduceBandwidth ?? 5e9, latency: 20e-6 }];
  return {
    name: 'this-machine',
    devices: cores,
    device: { flops: { fp32: peak, bf16: peak }, memory_bytes: meas.memoryBytes ?? 4 * 2 ** 30, memory_bandwidth: meas.memoryBandwidth ?? 30e9 },
    tiers,
    storage: { bandwidth: 1e9, writer_bandwidth: 0.5e9 },
    efficiency: { gemm: meas.gemmFlops !== undefined ? Math.min(1, meas.gemmFlops / peak) : 0.527, gemm_half_width: 64, attention: 1,
      memory: 1, network: 1, overlap: 0, layer_overhead_s: 1.97e-3 },
  };
}

/** The bucket of furnace's overlapped gradient all-reduce (parallel/grads.ts OVERLAP_BUCKET_BYTES). */
export const FURNACE_BUCKET_BYTES = 4 * 2 ** 20;

export const CLUSTER_PRESETS: Record<string, ClusterSpec | (() => ClusterSpec)> = {
  'sunway-oceanlight': sunway,
  'a100-selene': selene,
  'dgx-h100': h100,
  'this-machine': () => thisMachine(),
};

/** The training setup used when none is given: a model preset's own batch, else one sequence per device. */
export function defaultTraining(model: ModelSpec, devices: number): TrainingSpec {
  const seqs: Record<string, number> = {
    'gpt3-175b': 1536, // 3.1 M tokens, GPT-3's batch (arXiv 2005.14165 Table 2.1)
    'furnace-tiny': 16,
    'furnace-small': 16,
  };
  const n = seqs[model.name] ?? devices;
  // furnace trains in fp32 with AdamW, capacity factor 1.25 (src/train/config.ts), computing only routed tokens,
  // the gradient all-reduce in 4 MiB buckets during backward (parallel/grads.ts), the all-to-all in 2 chunks (nn/gpt.ts MOE_OVERLAP_CHUNKS).
  if (model.name.startsWith('furnace-')) {
    return { global_batch_tokens: n * model.seq_len, dtype: 'fp32', optimizer: 'adamw', capacity_factor: 1.25, padded_compute: false,
      grad_bucket_bytes: FURNACE_BUCKET_BYTES, moe_overlap_chunks: 2 };
  }
  return { global_batch_tokens: n * model.seq_len, dtype: 'bf16', optimizer: 'adam' };
}
