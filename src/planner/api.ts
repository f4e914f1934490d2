// One call from inputs to ranked, explained plans: what `furnace plan` prints and what a browser can run.
import { withDevices, type ClusterSpec } from './cluster.js';
import { prepare } from './context.js';
import type { Estimate } from './cost.js';
import { explain } from './explain.js';
import type { ModelSpec } from './model.js';
import { planToJson, worldSize, type FixedChoices } from './plan.js';
import { runnableBy } from './runnable.js';
import { defaultTraining } from './presets.js';
import { search, type SearchResult } from './search.js';
import type { TrainingSpec } from './training.js';
import type { JsonObject } from '../util/schema.js';

export interface PlanRequest {
  model: ModelSpec;
  cluster: ClusterSpec;
  /** Defaults to the model preset's batch (or one sequence per device), bf16, Adam. */
  training?: TrainingSpec;
  /** Use only the first `devices` devices of the cluster. */
  devices?: number;
  fix?: FixedChoices;
  top?: number;
}

export interface PlanResponse {
  training: TrainingSpec;
  result: SearchResult;
  /** Best plan without expert parallelism (MoE models, ep not fixed); null when none fits. */
  noEp?: Estimate | null;
  /** Seconds the searches took. */
  seconds: number;
  explanation: string[];
  /** The JSON result of `furnace plan --json`: {model, cluster, devices, plans, searched, evaluated, seconds, explanation,
   * expert_imbalance?, best_without_ep?}; each plan carries runnable (and not_runnable: why), devices_used, idle_devices. */
  json: JsonObject;
}

/** One plan as `furnace plan --json` lists it (SI units); `devices` is the number available, for idle_devices. */
export function estimateJson(e: Estimate, tokensTotal?: number, devices?: number): JsonObject {
  const ck = e.checkpoint;
  const run = runnableBy(e.plan);
  const used = worldSize(e.plan);
  return {
    ...planToJson(e.plan),
    runnable: run.runnable, ...(run.reason !== undefined ? { not_runnable: run.reason } : {}),
    devices_used: used, idle_devices: devices !== undefined ? devices - used : 0,
    step_time_s: e.stepTime, tokens_per_s: e.tokensPerSecond, mfu: e.mfu, hfu: e.hfu,
    ...(tokensTotal !== undefined ? { run_time_s: tokensTotal / e.tokensPerSecond } : {}),
    memory_per_device_bytes: e.memory.total,
    memory: { ...e.memory },
    breakdown: { ...e.breakdown },
    checkpoint: Number.isFinite(ck.seconds)
      ? { seconds: ck.seconds, writers: ck.writers, ...(Number.isFinite(ck.blocks) ? { blocks: ck.blocks } : {}) }
      : null,
  };
}

/** Searches, compares with the best plan without expert parallelism (MoE), and explains the winner. */
export function runPlanner(req: PlanRequest): PlanResponse {
  const { model } = req;
  const cluster = req.devices !== undefined ? withDevices(req.cluster, req.devices) : req.cluster;
  const training = req.training ?? defaultTraining(model, cluster.devices);
  const ctx = prepare(model, cluster, training);
  const fix = req.fix ?? {};
  const t0 = performance.now();
  const result = search(ctx, { top: req.top ?? 5, fix });
  const noEpSearch = model.experts > 0 && fix.ep === undefined ? search(ctx, { top: 1, noExpertParallel: true, fix }) : undefined;
  const seconds = (performance.now() - t0) / 1000;
  const noEp = noEpSearch === undefined ? undefined : noEpSearch.plans[0] ?? null;
  const used = result.devices === cluster.devices ? ctx : { ...ctx, cluster: withDevices(cluster, result.devices) };
  const explanation = explain(used, result, noEp);
  const json: JsonObject = {
    model: model.name, cluster: cluster.name, devices: result.devices,
    plans: result.plans.map((e) => estimateJson(e, training.tokens_total, result.devices)),
    ...(model.experts > 0 ? { expert_imbalance: ctx.imbalance } : {}),
    searched: result.searched + (noEpSearch?.searched ?? 0), evaluated: result.evaluated, seconds, explanation,
    ...(noEp !== undefined ? { best_without_ep: noEp === null ? null : estimateJson(noEp, training.tokens_total, result.devices) } : {}),
  };
  return { training, result, ...(noEp !== undefined ? { noEp } : {}), seconds, explanation, json };
}
