// Calibration: fit the cluster's efficiency factors to measured step times (furnace runs or published ones).
import { efficiencyOf, type ClusterSpec, type Efficiency } from './cluster.js';
import { prepare, type PlanContext } from './context.js';
import { estimate } from './cost.js';
import type { ModelSpec } from './model.js';
import { DEFAULT_ORDER, parsePlan, type ParallelPlan } from './plan.js';
import type { TrainingSpec } from './training.js';
import { InputError, int, num, openRecord, type JsonObject } from './validate.js';

/** One measured configuration: what ran, where, and its step time in seconds. */
export interface Observation {
  label: string;
  model: ModelSpec;
  training: TrainingSpec;
  plan: ParallelPlan;
  measured: number;
  /** Measured compute seconds per step, when the run reports it (time.compute). */
  measuredCompute?: number;
}

export type EfficiencyKey = keyof Efficiency;

const BOUNDS: Record<EfficiencyKey, [number, number]> = {
  gemm: [0.005, 1], gemm_half_width: [0, 1e5], attention: [0.005, 1], memory: [0.005, 1],
  network: [0.01, 1], overlap: [0, 1], layer_overhead_s: [0, 10],
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

/** The factors a calibration fits by default: compute, element-wise and fixed per-layer overhead, network. */
export const DEFAULT_FIT_KEYS: EfficiencyKey[] = ['gemm', 'memory', 'layer_overhead_s', 'network'];

/**
 * Turns a furnace run directory's config.json and metrics.jsonl records into an Observation. config.json is
 * the trainer's `{model: {vocab_size, d_model, n_layers, n_heads, seq_len, d_ff, n_experts, top_k, moe_every,
 * expert_d_ff?, capacity_factor?}, train: {batch_size, ...}}` (a flat object with the same names is read too);
 * batch_size is the global batch in sequences. The measured step time is the lower quartile of the records
 * after the first quarter (warm-up: compilation, allocation, caches).
 */
export function runObservation(label: string, config: unknown, metrics: readonly unknown[], plan?: unknown): Observation {
  const top = openRecord(config, `${label}/config.json`, []);
  const nested = typeof top['model'] === 'object' && top['model'] !== null;
  const where = nested ? `${label}/config.json.model` : `${label}/config.json`;
  const c = openRecord(nested ? top['model'] : top, where, ['vocab_size', 'd_model', 'n_layers', 'n_heads', 'seq_len']);
  const t = nested ? openRecord(top['train'], `${label}/config.json.train`, ['batch_size']) : openRecord(top, where, ['batch_size']);
  const w = (k: string) => `${where}.${k}`;
  const experts = c['n_experts'] === undefined ? 0 : int(c['n_experts'], w('n_experts'), 0);
  const dModel = int(c['d_model'], w('d_model'), 1);
  const model: ModelSpec = {
    name: label,
    layers: int(c['n_layers'], w('n_layers'), 1),
    hidden: dModel,
    heads: int(c['n_heads'], w('n_heads'), 1),
    ffn_hidden: c['d_ff'] === undefined ? 4 * dModel : int(c['d_ff'], w('d_ff'), 1),
    vocab: int(c['vocab_size'], w('vocab_size'), 1),
    seq_len: int(c['seq_len'], w('seq_len'), 1),
    experts,
    top_k: experts > 0 ? int(c['top_k'] ?? 1, w('top_k'), 1) : 0,
    moe_every: experts > 0 ? int(c['moe_every'] ?? 1, w('moe_every'), 1) : 1,
  };
  if (experts > 0 && c['expert_d_ff'] !== undefined) model.expert_ffn_hidden = int(c['expert_d_ff'], w('expert_d_ff'), 1);
  const batch = int(t['batch_size'], nested ? `${label}/config.json.train.batch_size` : w('batch_size'), 1);
  const training: TrainingSpec = { global_batch_tokens: batch * model.seq_len, dtype: 'fp32', optimizer: 'adamw' };
  // Capacity below 1 (or 0 = dropless) still computes every routed token once.
  if (experts > 0 && c['capacity_factor'] !== undefined) training.capacity_factor = Math.max(1, num(c['capacity_factor'], w('capacity_factor'), 0));
  // furnace's experts compute only their routed tokens (groupedMatmul); the all-to-all carries the padding.
  if (experts > 0) training.padded_compute = false;
  const p = plan === undefined
    ? { dp: 1, tp: 1, pp: 1, ep: 1, zero: 0 as const, microBatch: batch, recompute: 'none' as const, placement: { order: [...DEFAULT_ORDER] } }
    : parsePlan(plan, `${label}/plan.json`, ['format', 'model', 'cluster', 'predicted']);
  const times: number[] = [], compute: number[] = [];
  metrics.forEach((rec, i) => {
    const r = openRecord(rec, `${label}/metrics.jsonl[${i}]`, ['step', 'step_time_s']);
    times.push(num(r['step_time_s'], `${label}/metrics.jsonl[${i}].step_time_s`, 0));
    const t = r['time'];
    if (t !== undefined && t !== null && typeof t === 'object' && !Array.isArray(t) && typeof (t as JsonObject)['compute'] === 'number') {
      compute.push((t as JsonObject)['compute'] as number);
    }
  });
  if (times.length === 0) throw new InputError(`${label}/metrics.jsonl: no step records`);
  const obs: Observation = { label, model, training, plan: p, measured: lowerQuartile(times.slice(Math.floor(times.length / 4))) };
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
