// `furnace plan`: search hybrid-parallel plans for a model on a cluster, or calibrate against measured runs.
import { existsSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { DEFAULT_FIT_KEYS, fitEfficiency, fitMemory, predict, predictMemory, type EfficiencyKey, type MemoryFit, type Observation } from '../../planner/calibrate.js';
import { gib } from '../../util/memory.js';
import { runPlanner } from '../../planner/api.js';
import { DEFAULT_EFFICIENCY, efficiencyOf, type ClusterSpec } from '../../planner/cluster.js';
import type { Estimate } from '../../planner/cost.js';
import { describePlan } from '../../planner/explain.js';
import { loadCluster, loadModel, loadTraining, readJsonFile, readRun, writeCluster, writePlan } from '../../planner/io.js';
import { dimSize, parseFix } from '../../planner/plan.js';
import { prepare } from '../../planner/context.js';
import { CLUSTER_PRESETS, defaultTraining, parseMachine, thisMachine } from '../../planner/presets.js';
import { runnableBy } from '../../planner/runnable.js';
import { measurePeak } from '../../backends/peak.js';
import { planReportOf } from '../../dashboard/plan-report.js';
import { writePlanReport } from '../../dashboard/report.js';
import { CheckError, InputError, UsageError } from '../../util/errors.js';
import { checkOutputFile } from '../../util/paths.js';
import { Output, fmt } from '../../util/output.js';
import { intFlag, parse, type Command } from '../util.js';

const USAGE = `usage: furnace plan --model M --cluster C [--train T] [--devices N] [--fix k=v,...] [--imbalance X|RUNDIR] [--top K]
                    [--out plan.json] [--report FILE.html] [--json]
       furnace plan --model M --machine bench.json ...   (this machine, with measured gemm_flops, allreduce_bandwidth, ...)
       furnace plan --calibrate RUNDIR... [--cluster C] [--fit gemm,memory,...] [--out cluster.json] [--json]
  M: preset:NAME or a JSON file; C: the same, or cluster:NAME (an emulated cluster from furnace cluster up) or its state.json
  T: a JSON file or inline JSON
  --devices N: plan on at most N devices (a plan may leave some idle when no layout uses all)
  --fix tp=8,pp=16,dp=64,ep=1,zero=1,recompute=selective,micro_batch=1,virtual_stages=2,order=tp/ep/edp/pp
  --imbalance: the busiest expert's load over the mean (default: the capacity factor), or a run dir whose
               metrics.jsonl expert loads give it`;

/**
 * Presets, with this machine's worker count read from the OS, its FMA peak measured, each worker's
 * share of the machine's memory (tensors are not bound by the 4 GiB wasm heap) and, given --machine,
 * its measurements.
 */
function clusterPresets(machine?: string): Record<string, ClusterSpec | (() => ClusterSpec)> {
  const meas = machine === undefined ? {} : parseMachine(readJsonFile(machine), machine);
  const cores = availableParallelism();
  return { ...CLUSTER_PRESETS, 'this-machine': () => thisMachine({ cores, peakFlops: measurePeak().perCoreFlops, memoryBytes: totalmem() / cores, ...meas }) };
}

export const run: Command = async (argv) => {
  const { values, positionals } = parse(argv, {
    model: { type: 'string' }, cluster: { type: 'string' }, train: { type: 'string' }, devices: { type: 'string' },
    fix: { type: 'string' }, top: { type: 'string' }, out: { type: 'string' }, report: { type: 'string' }, json: { type: 'boolean', default: false },
    calibrate: { type: 'boolean', default: false }, fit: { type: 'string' }, machine: { type: 'string' }, imbalance: { type: 'string' },
  }, true, USAGE);
  const out = new Output(values.json === true);
  if (values.out !== undefined) checkOutputFile('--out', values.out);
  if (values.report !== undefined) checkOutputFile('--report', values.report);
  if (values.machine !== undefined && values.cluster !== undefined && !/^(preset:)?this-machine$/.test(values.cluster)) {
    throw new InputError('--machine: measurements apply to --cluster preset:this-machine only');
  }
  const presets = clusterPresets(values.machine);
  if (values.calibrate === true && values.report !== undefined) throw new InputError('--report: a report is of a plan search, not of --calibrate');
  if (values.calibrate === true) return calibrate(out, positionals, values.cluster, values.fit, values.out, presets);
  if (positionals.length > 0) throw new UsageError(`plan: unexpected argument '${positionals[0]}' (run dirs go with --calibrate)`);
  const clusterArg = values.cluster ?? (values.machine !== undefined ? 'preset:this-machine' : undefined);
  if (values.model === undefined || clusterArg === undefined) throw new UsageError('plan: --model and --cluster are required');
  return plan(out, values.model, clusterArg, presets, {
    train: values.train, devices: intFlag('devices', values.devices, 1, 1e8), fix: values.fix,
    top: intFlag('top', values.top, 1, 1000) ?? 5, out: values.out, report: values.report, imbalance: values.imbalance,
  });
};

interface PlanFlags {
  train: string | undefined; devices: number | undefined; fix: string | undefined; top: number; out: string | undefined; report: string | undefined;
  imbalance: string | undefined;
}

/** --imbalance X (a number >= 1) or RUNDIR (its metrics.jsonl expert loads, capped by its capacity factor). */
function imbalanceOf(arg: string): { value: number; source: string; ranks?: Record<string, number> } {
  if (/^\d+(\.\d+)?$/.test(arg)) {
    const x = Number(arg);
    if (!(x >= 1)) throw new InputError(`--imbalance: the busiest expert's load over the mean is at least 1, got ${arg}`);
    return { value: x, source: '--imbalance' };
  }
  if (!existsSync(arg)) throw new InputError(`--imbalance: expected a number >= 1 or a run directory, got '${arg}'`);
  const t = readRun(arg).training;
  if (t.expert_imbalance === undefined) throw new InputError(`--imbalance: ${arg}/metrics.jsonl has no expert_load (a dense model?)`);
  return { value: t.expert_imbalance, source: arg, ...(t.rank_imbalance !== undefined ? { ranks: t.rank_imbalance } : {}) };
}

function plan(out: Output, modelArg: string, clusterArg: string, presets: Record<string, ClusterSpec | (() => ClusterSpec)>, f: PlanFlags): number {
  const model = loadModel(modelArg);
  const cluster = loadCluster(clusterArg, presets);
  const imbalance = f.imbalance !== undefined ? imbalanceOf(f.imbalance) : undefined;
  const given = f.train !== undefined ? loadTraining(f.train) : undefined;
  const r = runPlanner({
    model, cluster, top: f.top,
    ...(given !== undefined || imbalance !== undefined
      ? { training: { ...(given ?? defaultTraining(model, f.devices ?? cluster.devices)), ...(imbalance !== undefined ? { expert_imbalance: imbalance.value } : {}),
        ...(imbalance?.ranks !== undefined ? { rank_imbalance: imbalance.ranks } : {}) } } : {}),
    ...(f.devices !== undefined ? { devices: f.devices } : {}),
    ...(f.fix !== undefined ? { fix: parseFix(f.fix) } : {}),
  });
  const { training, result } = r;
  out.say(`${model.name} on ${cluster.name} (${result.devices} devices), ${training.global_batch_tokens} tokens/step, ${training.dtype}`);
  if (result.plans.length > 0) {
    out.say('');
    out.say(' #   tp   pp     dp     ep zero  mb recompute   step s   tokens/s    MFU  mem GB run  placement (inner first)');
    result.plans.forEach((e, i) => {
      const p = e.plan;
      out.say(`${String(i + 1).padStart(2)} ${String(p.tp).padStart(4)} ${`${p.pp}${(p.virtualStages ?? 1) > 1 ? `x${p.virtualStages}` : ''}`.padStart(4)} ${String(p.dp).padStart(6)} ${String(p.ep).padStart(6)}`
        + ` ${String(p.zero).padStart(4)} ${String(p.microBatch).padStart(3)} ${p.recompute.padEnd(9)} ${fmt(e.stepTime).padStart(8)}`
        + ` ${fmt(e.tokensPerSecond).padStart(10)} ${(100 * e.mfu).toFixed(1).padStart(5)}% ${(e.memory.total / 1e9).toFixed(1).padStart(7)}`
        + ` ${runnableBy(p).runnable ? 'yes' : 'no '}  ${describeOrder(e)}`);
    });
    out.say('');
    const best = result.plans[0]!;
    const days = training.tokens_total !== undefined ? `; ${fmt(training.tokens_total / best.tokensPerSecond / 86400)} days for ${fmt(training.tokens_total)} tokens` : '';
    out.say(`best: ${describePlan(best)}${days}`);
    if (best.plan.ppLayers !== undefined) out.say(`  pp_layers: [${best.plan.ppLayers.join(', ')}]`);
    const run = runnableBy(best.plan);
    if (!run.runnable) {
      const k = result.plans.findIndex((e) => runnableBy(e.plan).runnable);
      out.say(`  not runnable: ${run.reason}${k >= 0 ? `; #${k + 1} runs` : '; none listed runs (--fix zero=1)'}`);
    }
    if (imbalance !== undefined) {
      const ranks = Object.entries(imbalance.ranks ?? {}).map(([ep, r]) => `ep=${ep} ${r.toFixed(2)}`).join(', ');
      out.say(`  expert imbalance ${imbalance.value.toFixed(2)} from ${imbalance.source}${ranks !== '' ? `; busiest rank over the mean: ${ranks}` : ''}`);
    }
  }
  for (const l of r.explanation) out.say(`  ${l}`);
  out.say(`searched ${r.json['searched'] as number} candidate plans in ${r.seconds.toFixed(2)} s (${result.evaluated} distinct ones fit in memory and were timed)`);
  if (f.out !== undefined) {
    const best = result.plans[0];
    if (best === undefined) throw new InputError(`--out: no plan fits, nothing to write`);
    writePlan(f.out, best, model.name, cluster.name);
    out.say(`wrote ${f.out}`);
  }
  if (f.report !== undefined) {
    writePlanReport({ ...planReportOf(prepare(model, cluster, training), result, r.explanation), searched: r.json['searched'] as number }, f.report);
    out.say(`wrote ${f.report}`);
  }
  out.result(r.json);
  // The search ran and nothing fits: a failed check, named on stderr (exit 1).
  if (result.plans.length === 0) throw new CheckError(`plan: no plan fits ${model.name} on ${result.devices} devices${r.explanation[0] !== undefined ? ` (${r.explanation[0].trim()})` : ''}`);
  return 0;
}

function describeOrder(e: Estimate): string {
  const t = e.plan.placement.tiers ?? {};
  const live = e.plan.placement.order.filter((d) => dimSize(e.plan, d) > 1);
  return live.map((d) => `${d}@${t[d] ?? '?'}`).join(' ') || '-';
}

function calibrate(out: Output, dirs: string[], clusterArg: string | undefined, fitArg: string | undefined, outPath: string | undefined,
  presets: Record<string, ClusterSpec | (() => ClusterSpec)>): number {
  if (dirs.length === 0) throw new UsageError('plan --calibrate: give at least one run directory');
  const cluster = loadCluster(clusterArg ?? 'preset:this-machine', presets);
  const keys = fitArg === undefined ? DEFAULT_FIT_KEYS : fitArg.split(',').map((k) => {
    if (!(k in DEFAULT_EFFICIENCY)) throw new InputError(`--fit: unknown factor '${k}' (factors: ${Object.keys(DEFAULT_EFFICIENCY).join(', ')})`);
    return k as EfficiencyKey;
  });
  const obs = dirs.map(readRun);
  const fit = fitEfficiency(obs, cluster, keys);
  const before = efficiencyOf(cluster);
  out.say(`calibrating ${cluster.name} on ${obs.length} run(s), fitting ${keys.join(', ')}`);
  out.say('run                                  measured s  predicted s (before)  error');
  const runs = obs.map((o) => {
    const p = predict(o, cluster, fit.efficiency), p0 = predict(o, cluster, before);
    const error = p / o.measured - 1;
    out.say(`${o.label.slice(-36).padEnd(36)} ${fmt(o.measured).padStart(11)} ${fmt(p).padStart(12)} (${fmt(p0)}) ${(100 * error).toFixed(1).padStart(6)}%`);
    return { dir: o.label, measured_step_time_s: o.measured, predicted_step_time_s: p, predicted_before_s: p0, error };
  });
  out.say(`efficiency: ${keys.map((k) => `${k} ${fmt(before[k])} -> ${fmt(fit.efficiency[k])}`).join(', ')}`);
  out.say(`RMS log error ${fit.before.toFixed(3)} -> ${fit.after.toFixed(3)}`);
  if (outPath !== undefined) {
    writeCluster(outPath, { ...cluster, efficiency: fit.efficiency });
    out.say(`wrote ${outPath} (use it as --cluster ${outPath})`);
  }
  const memory = reportMemoryFit(out, obs, cluster, fitMemory(obs, cluster));
  out.result({ cluster: cluster.name, runs, efficiency: fit.efficiency, rms_log_error_before: fit.before, rms_log_error_after: fit.after,
    ...(memory !== undefined ? { memory } : {}) });
  return 0;
}

/** The memory model's fit beside the step-time fit: each run's busiest rank's peak tensor bytes, predicted and measured. */
function reportMemoryFit(out: Output, obs: readonly Observation[], cluster: ClusterSpec, fit: MemoryFit | undefined) {
  if (fit === undefined) return undefined;
  out.say('run                                  measured     predicted (before)  error');
  const runs = obs.filter((o) => o.measuredMemory !== undefined).map((o) => {
    const measured = o.measuredMemory!, p = predictMemory(o, cluster, fit), p0 = predictMemory(o, cluster, { activation_factor: 1, overhead_bytes: 0 });
    out.say(`${o.label.slice(-36).padEnd(36)} ${gib(measured).padStart(9)} ${gib(p).padStart(12)} (${gib(p0)}) ${(100 * (p / measured - 1)).toFixed(1).padStart(6)}%`);
    return { dir: o.label, measured_peak_bytes: measured, predicted_bytes: p, predicted_before_bytes: p0 };
  });
  out.say(`memory: activations x ${fmt(fit.activation_factor)}, overhead ${gib(fit.overhead_bytes)} per device; RMS error ` +
    `${(100 * fit.before).toFixed(1)}% -> ${(100 * fit.after).toFixed(1)}%`);
  return { ...fit, runs };
}
