// Calibration: fit the cluster's efficiency factors to measured step times (furnace runs or published ones).
import { efficiencyOf, type ClusterSpec, type Efficiency } from './cluster.js';
import { prepare, type PlanContext } from './context.js';
import { estimate } from './cost.js';
import { memoryPerDevice } from './memory.js';
import type { ModelSpec } from './model.js';
import { DEFAULT_ORDER, parsePlan, type ParallelPlan } from './plan.js';
import type { TrainingSpec } from './training.js';
import { InputError } from '../util/errors.js';
import { parseWith, z } from '../util/schema.js';

/** One measured configuration: what ran, where, and its step time in seconds. */
export interface Observation {
  label: string;
  model: ModelSpec;
  training: TrainingSpec;
  plan: ParallelPlan;
  measured: number;
  /** Measured compute seconds per step, when the run reports it (time.compute). */
  measuredCompute?: number;
  /** The busiest rank's peak tensor bytes over the run, when the run accounts memory (metrics' memory, memory_ranks). */
  measuredMemory?: number;
}

export type EfficiencyKey = keyof Efficiency;

const BOUNDS: Record<EfficiencyKey, [number, number]> = {
  gemm: [0.005, 1], gemm_half_width: [0, 1e5], attention: [0.005, 1], memory: [0.005, 1],
  network: [0.01, 1], overlap: [0, 1], layer_overhead_s: [0, 10], latency_factor: [0.01, 1e4],
};

export function predict(obs: Observation, cluster: ClusterSpec, eff: Efficiency): number {
  const ctx: PlanContext = { ...prepare(obs.model, cluster, obs.training), eff };
  return estimate(ctx, obs.plan).stepTime;
}

/** Root-mean-square of log(predicted / measured): symmetric in over- and under-prediction. */
export function logError(obs: readonly Observation[], cluster: ClusterSpec, eff: Efficiency): number {
  let s = 0;
  for (const o of obs) {
    const r = Math.log(predict(o, cluster, eff) / o.measured);
    s += r * r;
  }
  return Math.sqrt(s / obs.length);
}

export interface Fit {
  efficiency: Efficiency;
  before: number;
  after: number;
  rounds: number;
}

/**
 * Fits `keys` by coordinate descent on the RMS log error: each factor is scaled up and down by a step that
 * halves whenever no move helps (deterministic, no dependency, enough for a handful of factors).
 */
export function fitEfficiency(obs: readonly Observation[], cluster: ClusterSpec, keys: readonly EfficiencyKey[]): Fit {
  if (obs.length === 0) throw new InputError('calibrate: no measured runs to fit');
  let eff = efficiencyOf(cluster);
  const before = logError(obs, cluster, eff);
  let best = before;
  let step = 0.5, rounds = 0;
  while (step > 1e-4 && rounds < 400) {
    rounds++;
    let improved = false;
    for (const k of keys) {
      const [lo, hi] = BOUNDS[k];
      const v = eff[k];
      // Additive moves for factors that may sit at zero, multiplicative otherwise.
      const candidates = v === 0 || k === 'overlap'
        ? [v + step * (k === 'overlap' ? 1 : Math.max(1e-6, hi * 1e-3)), v - step]
        : [v * (1 + step), v / (1 + step)];
      for (const c of candidates) {
        const trial = { ...eff, [k]: Math.min(hi, Math.max(lo, c)) };
        const err = logError(obs, cluster, trial);
        if (err < best - 1e-12) {
          best = err;
          eff = trial;
          improved = true;
        }
      }
    }
    if (!improved) step /= 2;
  }
  return { efficiency: eff, before, after: best, rounds };
}

/**
 * The memory model fitted to measured peaks: a device holds its model states (weights, gradients,
 * optimizer state and buffers, counted exactly) plus `activation_factor` times the modelled
 * activations plus `overhead_bytes` (allocator rounding, staging, what the model leaves out).
 */
export interface MemoryFit {
  activation_factor: number;
  overhead_bytes: number;
  /** RMS of predicted / measured - 1 over the runs, with the plain model (1, 0) and with the fit. */
  before: number;
  after: number;
}

/** The planner's bytes per device for the run, and the part its factors apply to. */
function memoryTerms(obs: Observation, cluster: ClusterSpec): { states: number; activations: number } {
  const m = memoryPerDevice(prepare(obs.model, cluster, obs.training), obs.plan);
  return { states: m.weights + m.grads + m.optimizer + m.buffers, activations: m.activations };
}

export function predictMemory(obs: Observation, cluster: ClusterSpec, fit: Pick<MemoryFit, 'activation_factor' | 'overhead_bytes'>): number {
  const t = memoryTerms(obs, cluster);
  return t.states + fit.activation_factor * t.activations + fit.overhead_bytes;
}

/**
 * Least squares of measured - states = a activations + c over the runs that measured memory (a >= 0,
 * c >= 0); with one run, or runs of equal activations, c alone. Undefined when no run measured memory.
 */
export function fitMemory(obs: readonly Observation[], cluster: ClusterSpec): MemoryFit | undefined {
  const pts = obs.filter((o) => o.measuredMemory !== undefined).map((o) => ({ o, ...memoryTerms(o, cluster), y: o.measuredMemory! }));
  if (pts.length === 0) return undefined;
  const n = pts.length, mx = pts.reduce((s, p) => s + p.activations, 0) / n, my = pts.reduce((s, p) => s + p.y - p.states, 0) / n;
  const sxx = pts.reduce((s, p) => s + (p.activations - mx) ** 2, 0), sxy = pts.reduce((s, p) => s + (p.activations - mx) * (p.y - p.states - my), 0);
  let a = sxx > 1e-6 * (mx * mx + 1) ? Math.max(0, sxy / sxx) : 1;
  let c = my - a * mx;
  if (c < 0) { c = 0; a = Math.max(0, pts.reduce((s, p) => s + p.activations * (p.y - p.states), 0) / Math.max(1e-30, pts.reduce((s, p) => s + p.activations ** 2, 0))); }
  const rms = (fa: number, fc: number): number => Math.sqrt(pts.reduce((s, p) => s + ((p.states + fa * p.activations + fc) / p.y - 1) ** 2, 0) / n);
  return { activation_factor: a, overhead_bytes: c, before: rms(1, 0), after: rms(a, c) };
}

/** The factors a calibration fits by default: compute, element-wise and fixed per-layer overhead, network. */
export const DEFAULT_FIT_KEYS: EfficiencyKey[] = ['gemm', 'memory', 'layer_overhead_s', 'network'];

const posInt = z.number().int().min(1);

/** The model part of a run's config.json (src/train/config.ts writes it); other keys are the trainer's own. */
const runModelSchema = z.looseObject({
  vocab_size: posInt, d_model: posInt, n_layers: posInt, n_heads: posInt, seq_len: posInt,
  d_ff: posInt.exactOptional(),
  n_experts: z.number().int().min(0).exactOptional(),
  top_k: posInt.exactOptional(),
  moe_every: posInt.exactOptional(),
  expert_d_ff: posInt.exactOptional(),
  capacity_factor: z.number().min(0).exactOptional(),
});
const runTrainSchema = z.looseObject({ batch_size: posInt });
/** One line of metrics.jsonl; `time` splits the step (compute, allreduce, ...) when the run reports it. */
const metricsRecordSchema = z.looseObject({
  step: z.number(),
  step_time_s: z.number().min(0),
  time: z.looseObject({ compute: z.number().exactOptional() }).exactOptional(),
  /** Tokens routed to each expert of each MoE layer, summed over the data-parallel ranks. */
  expert_load: z.array(z.array(z.number().min(0))).exactOptional(),
  /** The step's peak tensor bytes: rank 0's (memory) and every rank's (memory_ranks). */
  memory: z.looseObject({ peak: z.number().min(0) }).exactOptional(),
  memory_ranks: z.array(z.looseObject({ peak: z.number().min(0) })).exactOptional(),
});

/**
 * The busiest expert's computed load over the mean, averaged over steps and MoE layers: each expert computes
 * at most capacity x the mean routed load (the rest is dropped; capacity 0 = dropless), and the busiest of the
 * computed loads is compared with their mean. 1 when no loads were logged.
 */
export function measuredImbalance(loads: readonly (readonly (readonly number[])[])[], capacity: number): number {
  return measuredRankImbalance(loads, capacity, loads[0]?.[0]?.length ?? 1);
}

/** The same for `ep` ranks holding consecutive experts each: the busiest rank's computed load over the mean rank's. */
export function measuredRankImbalance(loads: readonly (readonly (readonly number[])[])[], capacity: number, ep: number): number {
  let sum = 0, n = 0;
  for (const step of loads) for (const layer of step) {
    const routed = layer.reduce((a, b) => a + b, 0) / layer.length;
    if (!(routed > 0) || layer.length % ep !== 0) continue;
    const computed = layer.map((x) => (capacity > 0 ? Math.min(x, capacity * routed) : x));
    const k = layer.length / ep;
    const ranks = Array.from({ length: ep }, (_, r) => computed.slice(r * k, (r + 1) * k).reduce((a, b) => a + b, 0));
    const mean = ranks.reduce((a, b) => a + b, 0) / ep;
    sum += Math.max(...ranks) / mean;
    n++;
  }
  return n === 0 ? 1 : sum / n;
}

/** Rank imbalance for every ep > 1 that divides the experts (training.rank_imbalance). */
export function rankImbalanceTable(loads: readonly (readonly (readonly number[])[])[], capacity: number, experts: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let ep = 2; ep <= experts; ep++) if (experts % ep === 0) out[String(ep)] = measuredRankImbalance(loads, capacity, ep);
  return out;
}

/**
 * Turns a furnace run directory's config.json and metrics.jsonl records into an Observation. config.json is
 * the trainer's `{model: {vocab_size, d_model, n_layers, n_heads, seq_len, d_ff, n_experts, top_k, moe_every,
 * expert_d_ff?, capacity_factor?}, train: {batch_size, ...}}` (a flat object with the same names is read too);
 * batch_size is the global batch in sequences. The measured step time is the lower quartile of the records
 * after the first quarter (warm-up: compilation, allocation, caches).
 */
export function runObservation(label: string, config: unknown, metrics: readonly unknown[], plan?: unknown): Observation {
  const top = parseWith(z.looseObject({}), config, `${label}/config.json`);
  const nested = typeof top['model'] === 'object' && top['model'] !== null;
  const where = nested ? `${label}/config.json.model` : `${label}/config.json`;
  const c = parseWith(runModelSchema, nested ? top['model'] : top, where);
  const batch = nested
    ? parseWith(runTrainSchema, top['train'], `${label}/config.json.train`).batch_size
    : parseWith(runTrainSchema, top, where).batch_size;
  const experts = c.n_experts ?? 0;
  const model: ModelSpec = {
    name: label,
    layers: c.n_layers,
    hidden: c.d_model,
    heads: c.n_heads,
    ffn_hidden: c.d_ff ?? 4 * c.d_model,
    vocab: c.vocab_size,
    seq_len: c.seq_len,
    experts,
    top_k: experts > 0 ? c.top_k ?? 1 : 0,
    moe_every: experts > 0 ? c.moe_every ?? 1 : 1,
  };
  if (experts > 0 && c.expert_d_ff !== undefined) model.expert_ffn_hidden = c.expert_d_ff;
  const training: TrainingSpec = { global_batch_tokens: batch * model.seq_len, dtype: 'fp32', optimizer: 'adamw' };
  // Capacity below 1 (or 0 = dropless) still computes every routed token once.
  if (experts > 0 && c.capacity_factor !== undefined) training.capacity_factor = Math.max(1, c.capacity_factor);
  // furnace's experts compute only their routed tokens (groupedMatmul); the all-to-all carries the padding.
  if (experts > 0) training.padded_compute = false;
  const p = plan === undefined
    ? { dp: 1, tp: 1, pp: 1, ep: 1, zero: 0 as const, microBatch: batch, recompute: 'none' as const, placement: { order: [...DEFAULT_ORDER] } }
    : parsePlan(plan, `${label}/plan.json`, ['format', 'model', 'cluster', 'predicted']);
  const times: number[] = [], compute: number[] = [], loads: number[][][] = [];
  let peak: number | undefined;
  metrics.forEach((rec, i) => {
    const r = parseWith(metricsRecordSchema, rec, `${label}/metrics.jsonl[${i}]`);
    for (const m of r.memory_ranks ?? (r.memory !== undefined ? [r.memory] : [])) peak = Math.max(peak ?? 0, m.peak);
    times.push(r.step_time_s);
    if (r.time?.compute !== undefined) compute.push(r.time.compute);
    if (r.expert_load !== undefined && r.expert_load.length > 0) loads.push(r.expert_load);
  });
  if (times.length === 0) throw new InputError(`${label}/metrics.jsonl: no step records`);
  if (experts > 0 && loads.length > 0) {
    const settled = loads.slice(Math.floor(loads.length / 4));
    training.expert_imbalance = measuredImbalance(settled, c.capacity_factor ?? 0);
    training.rank_imbalance = rankImbalanceTable(settled, c.capacity_factor ?? 0, experts);
  }
  const obs: Observation = { label, model, training, plan: p, measured: lowerQuartile(times.slice(Math.floor(times.length / 4))) };
  if (peak !== undefined) obs.measuredMemory = peak;
  if (compute.length === times.length) obs.measuredCompute = lowerQuartile(compute.slice(Math.floor(compute.length / 4)));
  if (!(obs.measured > 0)) throw new InputError(`${label}/metrics.jsonl: step_time_s must be > 0`);
  return obs;
}

/** The lower quartile (linear interpolation): other processes on shared cores only ever add time to a
 * step, so the faster steps are the least disturbed measurement; the quartile keeps one lucky step from
 * deciding it. */
function lowerQuartile(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) / 4, lo = Math.floor(pos);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (pos - lo);
}
