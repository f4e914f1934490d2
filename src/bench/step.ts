// `furnace bench step`: where one training step's time goes, kernel by kernel (GEMMs by shape),
// on one rank with one thread, against the framework time between kernels.
import type { Backend, BackendName, GemmArgs, GroupedGemmArgs, Precision } from '../backends/backend.js';
import { createBackend } from '../backends/index.js';
import { InputError, errorMessage } from '../util/errors.js';
import { fmt, type Output } from '../util/output.js';
import { setBackend, scoped } from '../tensor/engine.js';
import { Rng } from '../tensor/random.js';
import { GPT } from '../nn/gpt.js';
import { ParallelAdamW, type OptimizerKind } from '../optim/parallel-adamw.js';
import { singleContext } from '../parallel/context.js';
import { flopsPerToken } from '../train/flops.js';
import { PRESETS } from '../train/config.js';

export interface KernelRow {
  /** Kernel name; GEMMs as 'gemm batch x (m x k x n) NT' (transposes of A and B). */
  kernel: string;
  calls_per_step: number;
  ms_per_step: number;
  /** GEMMs (and grouped GEMMs) only. */
  gflops?: number;
}

/** Names of the backend's kernel methods (its prototype chain), allocation excluded. */
function kernelNames(be: Backend): string[] {
  const names = new Set<string>();
  for (let p = Object.getPrototypeOf(be) as object | null; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const n of Object.getOwnPropertyNames(p)) names.add(n);
  }
  const skip = new Set(['constructor', 'alloc', 'allocEmpty', 'free', 'memoryStats']);
  return [...names].filter((n) => !skip.has(n) && typeof (be as unknown as Record<string, unknown>)[n] === 'function');
}

/** What the step and its kernels are timed by: the wall clock, or the process's CPU time. */
export type StepClock = 'wall' | 'cpu';

/**
 * Milliseconds of `clock`. CPU time (getrusage, microseconds, ~5 us a reading) leaves out the time
 * other processes hold the cores, so a loaded machine still gives the step's own cost; with one
 * GEMM thread the process's CPU time is this thread's plus the runtime's (GC) helpers.
 */
function clockMs(clock: StepClock): () => number {
  if (clock === 'wall') return () => performance.now();
  return () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
}

/**
 * Wraps every kernel of `be` with a timer. Returns the totals by kernel and a switch: timing
 * starts off, so warm-up steps are not counted.
 */
function instrument(be: Backend, now: () => number): { rows: Map<string, { calls: number; ms: number; flops: number }>; on: (v: boolean) => void } {
  const rows = new Map<string, { calls: number; ms: number; flops: number }>();
  let on = false, depth = 0;
  const obj = be as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of kernelNames(be)) {
    const f = obj[name]!;
    obj[name] = (...a: unknown[]) => {
      // Only the outermost call is timed: a kernel's own helpers (staging, pointers) are part of it.
      if (!on || depth > 0) return f.apply(be, a);
      const t0 = now();
      let r: unknown;
      depth++;
      try {
        r = f.apply(be, a);
      } finally {
        depth--;
      }
      const ms = now() - t0;
      let key = name, flops = 0;
      if (name === 'gemm') {
        const g = a[0] as GemmArgs;
        key = `gemm ${g.batch}x(${g.m}x${g.k}x${g.n}) ${g.transA ? 'T' : 'N'}${g.transB ? 'T' : 'N'}`;
        flops = 2 * g.m * g.n * g.k * g.batch;
      } else if (name === 'gemmGrouped') {
        const g = a[0] as GroupedGemmArgs;
        for (let i = 0; i < g.m.length; i++) flops += 2 * g.m[i]! * g.n * g.k[i]!;
      } else if (name === 'unary' || name === 'binary') key = `${name} ${String(a[0])}`;
      const row = rows.get(key) ?? { calls: 0, ms: 0, flops: 0 };
      row.calls++;
      row.ms += ms;
      row.flops += flops;
      rows.set(key, row);
      return r;
    };
  }
  return { rows, on: (v) => { on = v; } };
}

export interface StepBenchOptions {
  backend: BackendName | 'auto';
  preset: 'tiny' | 'small';
  /** Timed steps (after one warm-up step). */
  steps: number;
  /** Kernel rows to print (all are in the --json result). */
  top: number;
  /** The optimizer the step ends with (its update is also timed on its own); default adamw. */
  optimizer?: OptimizerKind;
  /** GEMM input precision (bf16: native with AVX512_BF16); default fp32. */
  precision?: Precision;
  /** Default wall. */
  clock?: StepClock;
}

export async function benchStep({ backend, preset, steps, top, optimizer = 'adamw', precision = 'fp32', clock = 'wall' }: StepBenchOptions,
  out: Output): Promise<number> {
  let be: Backend;
  try {
    be = await createBackend(backend, { threads: 1, precision });
  } catch (e) {
    throw new InputError(`--backend: ${errorMessage(e)}`);
  }
  setBackend(be);

  // One rank's share of the default layout's batch (2 dp ranks), synthetic tokens.
  const cfg = PRESETS[preset].model, b = Math.max(1, PRESETS[preset].train.batch_size / 2), t = cfg.seq_len;
  const model = new GPT(cfg, 1);
  const opt = new ParallelAdamW(model.parameterInfo(), { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 }, singleContext(), false,
    optimizer);
  const now = clockMs(clock);
  const timer = instrument(be, now);
  let total = 0, update = 0;
  for (let s = 0; s < steps + 2; s++) {
    const x = Int32Array.from({ length: b * t }, (_, i) => (i * 7919 + s * 131) % cfg.vocab_size);
    const y = Int32Array.from(x, (v) => (v * 31 + 7) % cfg.vocab_size);
    timer.on(s >= 2); // two warm-up steps
    const t0 = now();
    await scoped(async () => {
      const { loss } = await model.loss(x, y, b, t, new Rng(s));
      await loss.backwardAsync();
      const u0 = now();
      await opt.update(1e-3, 1);
      if (s >= 2) update += now() - u0;
      opt.zeroGrad();
    });
    if (s >= 2) total += now() - t0;
  }
  timer.on(false);

  const rows: KernelRow[] = [...timer.rows].map(([kernel, r]) => ({
    kernel, calls_per_step: r.calls / steps, ms_per_step: r.ms / steps, ...(r.flops > 0 ? { gflops: r.flops / r.ms / 1e6 } : {}),
  })).sort((p, q) => q.ms_per_step - p.ms_per_step);
  const stepMs = total / steps, kernelMs = rows.reduce((s, r) => s + r.ms_per_step, 0);
  const gemm = rows.filter((r) => r.kernel.startsWith('gemm ') || r.kernel === 'gemmGrouped');
  const gemmMs = gemm.reduce((s, r) => s + r.ms_per_step, 0);
  const gemmFlops = [...timer.rows].reduce((s, [, r]) => s + r.flops, 0) / steps;
  const tokensPerS = (b * t) / (stepMs / 1000);
  const name = precision === 'fp32' ? be.name : `${be.name} ${precision}`;
  out.say(`furnace bench step: ${preset} preset, backend ${name}, 1 thread, ${b} x ${t} tokens per step, ${steps} steps after 2 warm-up, ${clock} clock`);
  out.say(`  step ${fmt(stepMs)} ms (${fmt(tokensPerS)} tokens/s, ${fmt((tokensPerS * flopsPerToken(cfg)) / 1e9)} model GFLOP/s): ` +
    `kernels ${fmt(kernelMs)} ms (GEMM ${fmt(gemmMs)} ms at ${fmt(gemmFlops / gemmMs / 1e6)} GFLOP/s), framework ${fmt(stepMs - kernelMs)} ms; ` +
    `${optimizer} update ${fmt(update / steps)} ms`);
  for (const r of rows.slice(0, top)) {
    out.say(`  ${fmt(r.ms_per_step).padStart(8)} ms  ${fmt(r.calls_per_step).padStart(5)}x  ${r.kernel}${r.gflops !== undefined ? `  ${fmt(r.gflops)} GFLOP/s` : ''}`);
  }
  out.result({ preset, backend: be.name, precision, clock, optimizer, update_ms: update / steps, tokens_per_step: b * t, ms_per_step: stepMs, kernels_ms: kernelMs, gemm_ms: gemmMs,
    framework_ms: stepMs - kernelMs, rows });
  return 0;
}
