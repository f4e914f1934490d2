// File input/output of the planner (the only planner file that uses node:): specs, plan.json, run dirs.
import { existsSync, readFileSync, mkdirSync, statSync } from 'node:fs';
import { atomicWriteSync } from '../util/durable.js';
import { dirname, join } from 'node:path';
import { runObservation, type Observation } from './calibrate.js';
import { parseCluster, type ClusterSpec } from './cluster.js';
import { emulatedCluster, isEmulatedState, parseEmulated } from './emulated.js';
import { clusterDir } from '../cluster/netns.js';
import { checkName } from '../cluster/spec.js';
import type { Estimate } from './cost.js';
import { parseModel, type ModelSpec } from './model.js';
import { PLAN_FORMAT, parsePlan, planToJson, type ParallelPlan } from './plan.js';
import { CLUSTER_PRESETS, MODEL_PRESETS } from './presets.js';
import { parseTraining, type TrainingSpec } from './training.js';
import { InputError, errnoCode, errorMessage } from '../util/errors.js';
import { parseJson, parseWith, z, type JsonObject } from '../util/schema.js';

export function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError(`${path}: cannot read (${errnoCode(e) ?? errorMessage(e)})`);
  }
  return parseJson(text, path);
}

/** `preset:NAME`, a JSON file, or a bare preset name when no such file exists. */
function resolve<T>(arg: string, kind: string, presets: Record<string, T | (() => T)>, parse: (v: unknown, where: string) => T): T {
  const name = arg.startsWith('preset:') ? arg.slice('preset:'.length) : !existsSync(arg) && arg in presets ? arg : undefined;
  if (name !== undefined) {
    const p = presets[name];
    if (p === undefined) throw new InputError(`--${kind}: unknown preset '${name}' (presets: ${Object.keys(presets).join(', ')})`);
    return typeof p === 'function' ? (p as () => T)() : p;
  }
  if (!existsSync(arg)) throw new InputError(`--${kind}: no file '${arg}' (or use preset:NAME; presets: ${Object.keys(presets).join(', ')})`);
  return parse(readJsonFile(arg), arg);
}

export function loadModel(arg: string): ModelSpec {
  return resolve(arg, 'model', MODEL_PRESETS, parseModel);
}

/**
 * `preset:NAME`, a cluster file, `cluster:NAME` (the emulated cluster `furnace cluster up --name NAME` made, read
 * from its state.json), or the path of such a state.json or its directory. An emulated cluster runs on this
 * machine: the `this-machine` preset gives its devices.
 */
export function loadCluster(arg: string, presets: Record<string, ClusterSpec | (() => ClusterSpec)> = CLUSTER_PRESETS): ClusterSpec {
  const host = () => resolve('preset:this-machine', 'cluster', presets, parseCluster);
  if (arg.startsWith('cluster:')) {
    const name = arg.slice('cluster:'.length);
    const state = join(clusterDir(checkName(name, 'cluster')), 'state.json');
    if (!existsSync(state)) throw new InputError(`--cluster: no emulated cluster '${name}' (${state} is missing); furnace cluster up --name ${name} --nodes N`);
    return emulatedCluster(parseEmulated(readJsonFile(state), state), host());
  }
  const file = existsSync(arg) && statSync(arg).isDirectory() ? join(arg, 'state.json') : arg;
  if (file !== arg || (existsSync(file) && file.endsWith('.json'))) {
    const v = readJsonFile(file);
    if (file !== arg || isEmulatedState(v)) return emulatedCluster(parseEmulated(v, file), host());
    return parseCluster(v, file);
  }
  return resolve(arg, 'cluster', presets, parseCluster);
}

/** A training file, or inline JSON (`--train '{"global_batch_tokens": ...}'`). */
export function loadTraining(arg: string): TrainingSpec {
  if (arg.trimStart().startsWith('{')) return parseTraining(parseJson(arg, '--train'), '--train');
  return parseTraining(readJsonFile(arg), arg);
}

const META = ['format', 'model', 'cluster', 'predicted'] as const;
/** A plan file's metadata; the plan itself is checked by parsePlan. */
const planFileSchema = z.looseObject({ format: z.literal(PLAN_FORMAT).exactOptional() });

/** What `furnace plan --out` writes: the plan in the trainer's form plus what it was planned for. */
export function planFileJson(e: Estimate, model: string, cluster: string): JsonObject {
  return {
    format: PLAN_FORMAT,
    ...planToJson(e.plan),
    model,
    cluster,
    predicted: { step_time_s: e.stepTime, tokens_per_s: e.tokensPerSecond, mfu: e.mfu, memory_per_device_bytes: e.memory.total },
  };
}

export function writePlan(path: string, e: Estimate, model: string, cluster: string): void {
  mkdirSync(dirname(path), { recursive: true });
  atomicWriteSync(path, JSON.stringify(planFileJson(e, model, cluster), null, 2) + '\n');
}

/** Writes a cluster description (e.g. with calibrated efficiency) that `--cluster FILE` reads back. */
export function writeCluster(path: string, c: ClusterSpec): void {
  mkdirSync(dirname(path), { recursive: true });
  atomicWriteSync(path, JSON.stringify(c, null, 2) + '\n');
}

/** Reads and validates a plan file (as `furnace train --plan` does); errors name the file and field. */
export function readPlan(path: string): ParallelPlan {
  const v = readJsonFile(path);
  parseWith(planFileSchema, v, path);
  return parsePlan(v, path, META);
}

/**
 * Reads a furnace run directory: config.json (model + batch), metrics.jsonl (one record per logged step)
 * and, when present, plan.json (the layout it ran with; absent = one device).
 */
export function readRun(dir: string): Observation {
  const config = readJsonFile(join(dir, 'config.json'));
  const metricsPath = join(dir, 'metrics.jsonl');
  let text: string;
  try {
    text = readFileSync(metricsPath, 'utf8');
  } catch {
    throw new InputError(`${metricsPath}: cannot read`);
  }
  const records = text.split('\n').filter((l) => l.trim() !== '').map((l, i) => parseJson(l, `${metricsPath}:${i + 1}`));
  const planPath = join(dir, 'plan.json');
  const plan = existsSync(planPath) ? readJsonFile(planPath) : undefined;
  return runObservation(dir, config, records, plan);
}
