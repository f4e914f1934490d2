// The machine's float32 peak, measured with a native FMA loop or estimated from the CPU's clock (for MFU and the benchmarks).
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { probeFma } from './fma-probe.js';
import type { Precision } from './backend.js';

export interface PeakEstimate {
  /** Peak FLOP/s of one core with its widest FMA units. */
  perCoreFlops: number;
  /** Peak FLOP/s of one core with 128-bit SIMD FMA (what WebAssembly SIMD can reach). */
  perCoreSimd128Flops: number;
  /** Peak FLOP/s of one core with bf16 dot products (vdpbf16ps), measured where the CPU has AVX512_BF16. */
  perCoreBf16Flops?: number;
  cores: number;
  /** perCoreFlops * cores. */
  totalFlops: number;
  /** How the number was obtained. */
  basis: string;
  /** True when perCoreFlops was timed on this machine, false when it is the clock-based estimate. */
  measured: boolean;
}

/**
 * FLOP/s = clock x FLOP per cycle. FLOP per cycle (float32, two FMA pipes): 64 with 512-bit FMA on
 * Intel server cores, 32 with 256-bit FMA (AVX2, or AVX-512 on Zen 4, which splits it in two halves),
 * 16 for 128-bit SIMD. The clock is /proc/cpuinfo's (the base clock on most VMs; turbo may exceed it).
 */
export function estimatePeak(): PeakEstimate {
  const cores = availableParallelism();
  let info = '';
  try {
    info = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    info = '';
  }
  const mhz = Number(/cpu MHz\s*:\s*([\d.]+)/.exec(info)?.[1] ?? NaN);
  const flags = /flags\s*:\s*(.*)/.exec(info)?.[1]?.split(' ') ?? [];
  const vendor = /vendor_id\s*:\s*(\S+)/.exec(info)?.[1] ?? 'unknown';
  const model = /model name\s*:\s*(.*)/.exec(info)?.[1]?.trim() ?? 'unknown CPU';
  const avx512 = flags.includes('avx512f'), fma = flags.includes('fma');
  const perCycle = avx512 && vendor === 'GenuineIntel' ? 64 : avx512 || fma ? 32 : 8;
  const hz = Number.isFinite(mhz) ? mhz * 1e6 : 3e9;
  const basis = `${model}: ${Number.isFinite(mhz) ? `${mhz.toFixed(0)} MHz` : 'clock unknown, 3 GHz assumed'} x ${perCycle} FLOP/cycle` +
    `${avx512 ? ' (AVX-512)' : fma ? ' (AVX2 FMA)' : ''} x ${cores} cores`;
  return { perCoreFlops: hz * perCycle, perCoreSimd128Flops: hz * 16, cores, totalFlops: hz * perCycle * cores, basis, measured: false };
}

/**
 * The peak a run at `precision` is measured against: for bf16, the bf16 dot-product peak x cores
 * (where the probe timed it), so MFU is a fraction of what the bf16 units can do.
 */
export function peakFor(p: PeakEstimate, precision: Precision): PeakEstimate {
  if (precision !== 'bf16' || p.perCoreBf16Flops === undefined) return p;
  return { ...p, totalFlops: p.perCoreBf16Flops * p.cores, basis: `${p.basis}; bf16: ${(p.perCoreBf16Flops / 1e9).toFixed(0)} GFLOP/s per core x ${p.cores} cores` };
}

let measuredPeak: PeakEstimate | undefined;

/** Where sharePeak() leaves the measurement for worker threads started after it (they copy process.env). */
const SHARED_ENV = 'FURNACE_PEAK';

/**
 * Measures the peak in this thread and leaves it for the worker threads started afterwards: ranks
 * that start together would time their probes against each other (4 ranks on 2 cores would see half
 * the peak each, and report twice the MFU).
 */
export function sharePeak(): PeakEstimate {
  const p = measurePeak();
  process.env[SHARED_ENV] = JSON.stringify(p);
  return p;
}

function inheritedPeak(): PeakEstimate | undefined {
  const raw = process.env[SHARED_ENV];
  if (raw === undefined) return undefined;
  try {
    const p = JSON.parse(raw) as Partial<PeakEstimate>;
    const ok = [p.perCoreFlops, p.perCoreSimd128Flops, p.cores, p.totalFlops].every((v) => typeof v === 'number' && v > 0 && Number.isFinite(v));
    return ok && typeof p.basis === 'string' && typeof p.measured === 'boolean' ? p as PeakEstimate : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The measured peak: one core's best FMA throughput (fma-probe.ts: 12 independent vfmadd231ps per
 * iteration, FLOP = iterations x 12 x lanes x 2) x cores. It runs at the clock the core really
 * reaches under FMA load (turbo included), which the cpuinfo clock of estimatePeak() misses. One
 * core is timed, so an all-core clock below the one-core turbo makes totalFlops an upper bound.
 * The 128-bit rate (the WebAssembly SIMD limit) is timed with an xmm loop. Cached per process; when
 * the probe cannot run, returns estimatePeak() with the reason prefixed to its basis.
 */
export function measurePeak(): PeakEstimate {
  if (measuredPeak !== undefined) return measuredPeak;
  const inherited = inheritedPeak();
  if (inherited !== undefined) return (measuredPeak = inherited);
  const probe = probeFma();
  if (!probe.ok) {
    const est = estimatePeak();
    return (measuredPeak = { ...est, basis: `estimated (${probe.reason}): ${est.basis}` });
  }
  const { perCoreFlops, perCoreSimd128Flops, perCoreBf16Flops, kernel } = probe.fma;
  const cores = availableParallelism();
  const bf16 = perCoreBf16Flops !== undefined ? `; bf16 dot loop ${(perCoreBf16Flops / 1e9).toFixed(0)} GFLOP/s per core` : '';
  return (measuredPeak = {
    perCoreFlops, perCoreSimd128Flops, ...(perCoreBf16Flops !== undefined ? { perCoreBf16Flops } : {}), cores, totalFlops: perCoreFlops * cores,
    basis: `measured: ${kernel} FMA loop ${(perCoreFlops / 1e9).toFixed(0)} GFLOP/s per core x ${cores} cores${bf16}`,
    measured: true,
  });
}
