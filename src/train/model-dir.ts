// A trained model on disk: DIR/model.safetensors (weights), DIR/config.json, DIR/tokenizer.json.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { atomicWriteSync } from '../util/durable.js';
import { join } from 'node:path';
import { CheckError, InputError, errorMessage } from '../util/errors.js';
import { GPT } from '../nn/gpt.js';
import { readSafetensors, writeSafetensors, writeSafetensorsStreamed } from '../nn/safetensors.js';
import type { ParamInfo } from '../nn/module.js';
import { eachWholeParam, wholeShape } from '../parallel/gather.js';
import type { ParallelContext } from '../parallel/context.js';
import { validateConfig, type TrainConfig } from './config.js';
import { loadTokenizer } from './tokenizer.js';
import { paramKey } from './state.js';
import { CheckpointReader, resolveCheckpoint } from '../checkpoint/index.js';
import { BpeTokenizer } from '../data/tokenizer.js';
import { backend } from '../tensor/engine.js';
import { preflight } from './preflight.js';

/** Writes JSON through the durable atomic writer: the file is whole or absent. */
export function writeJsonAtomic(path: string, obj: unknown): void {
  atomicWriteSync(path, JSON.stringify(obj, null, 2) + '\n');
}

/** Writes whole parameters (by name), the config and the tokenizer. */
export function saveModel(dir: string, params: Map<string, { shape: number[]; data: Float32Array }>, cfg: TrainConfig, tokenizer: BpeTokenizer): void {
  mkdirSync(dir, { recursive: true });
  writeSafetensors(join(dir, 'model.safetensors'),
    [...params].map(([name, p]) => ({ name, shape: p.shape, data: p.data })), { format: 'furnace' });
  writeJsonAtomic(join(dir, 'config.json'), cfg);
  writeJsonAtomic(join(dir, 'tokenizer.json'), tokenizer.toJSON());
}

/**
 * Writes the model of a parallel run streamed, tensor by tensor (collective: every rank calls it;
 * the rank given `files` writes): each whole parameter is gathered, written and dropped, so no
 * rank holds the whole model. model.safetensors equals saveModel's for the gathered parameters,
 * byte for byte; the header is laid out up front from names and global shapes.
 */
export async function exportModel(dir: string, infos: readonly ParamInfo[], ctx: ParallelContext,
  files: { cfg: TrainConfig; tokenizer: BpeTokenizer } | null): Promise<void> {
  const params = eachWholeParam(infos, ctx, files !== null);
  if (files === null) {
    while (!(await params.next()).done); // the collectives, nothing kept
    return;
  }
  mkdirSync(dir, { recursive: true });
  await writeSafetensorsStreamed(join(dir, 'model.safetensors'), infos.map((i) => ({ name: i.name, shape: wholeShape(i) })), params,
    { format: 'furnace' });
  writeJsonAtomic(join(dir, 'config.json'), files.cfg);
  writeJsonAtomic(join(dir, 'tokenizer.json'), files.tokenizer.toJSON());
}

/**
 * Loads a model for eval/generate from a model directory (model.safetensors, config.json,
 * tokenizer.json) or from a sharded training checkpoint (a step directory, or a checkpoint root
 * holding `latest`): the whole parameters are read from the shards, verified.
 */
export async function loadModel(dir: string): Promise<{ model: GPT; cfg: TrainConfig; tokenizer: BpeTokenizer }> {
  if (!existsSync(join(dir, 'model.safetensors'))) {
    const ck = await resolveCheckpoint(dir).catch(() => undefined);
    if (ck !== undefined) return loadFromCheckpoint(ck);
  }
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) {
    if (!existsSync(join(dir, f))) throw new InputError(`--ckpt: ${dir} has no ${f} (not a furnace model directory or checkpoint)`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  } catch (e) {
    throw new InputError(`${join(dir, 'config.json')}: not valid JSON (${errorMessage(e)})`);
  }
  const cfg = validateConfig(raw, join(dir, 'config.json'));
  const tokenizer = loadTokenizer(join(dir, 'tokenizer.json'));
  let weights;
  try {
    weights = readSafetensors(join(dir, 'model.safetensors'));
  } catch (e) {
    throw new InputError(errorMessage(e));
  }
  const file = join(dir, 'model.safetensors');
  return { model: fill(cfg, tokenizer, (name) => weights.get(name)?.data, file), cfg, tokenizer };
}

async function loadFromCheckpoint(dir: string): Promise<{ model: GPT; cfg: TrainConfig; tokenizer: BpeTokenizer }> {
  let reader: CheckpointReader;
  try {
    reader = await CheckpointReader.open(dir);
  } catch (e) {
    if (e instanceof CheckError) throw e; // a damaged checkpoint: a failed check (exit 1)
    throw new InputError(`--ckpt: ${errorMessage(e)}`);
  }
  try {
    const meta = reader.meta as { config?: unknown; tokenizer?: unknown };
    const cfg = validateConfig(meta.config, `${dir}: meta.config`);
    let tokenizer: BpeTokenizer;
    try {
      tokenizer = BpeTokenizer.fromJSON(meta.tokenizer);
    } catch (e) {
      throw new InputError(`${dir}: meta.tokenizer: ${errorMessage(e)}`);
    }
    preflight(cfg.model, { batch: 1, training: false, backend: backend().name, where: dir });
    const whole = new Map<string, Float32Array>();
    for (const info of new GPT({ ...cfg.model, vocab_size: tokenizer.vocabSize }, 0).parameterInfo()) {
      try {
        whole.set(info.name, await reader.read(paramKey(info.name), info.param.shape.map(() => 0), [...info.param.shape]));
      } catch (e) {
        throw new CheckError(`${dir}: ${errorMessage(e)}`);
      }
    }
    return { model: fill(cfg, tokenizer, (name) => whole.get(name), dir), cfg, tokenizer };
  } finally {
    await reader.close();
  }
}

/** A model whose parameters are copied from `get(name)`; missing or misshapen ones name the file. */
function fill(cfg: TrainConfig, tokenizer: BpeTokenizer, get: (name: string) => Float32Array | undefined, file: string): GPT {
  preflight(cfg.model, { batch: 1, training: false, backend: backend().name, where: file });
  const model = new GPT({ ...cfg.model, vocab_size: tokenizer.vocabSize }, 0);
  for (const [name, p] of model.namedParameters()) {
    const w = get(name);
    if (w === undefined) throw new InputError(`${file}: missing tensor ${name}`);
    if (w.length !== p.size) throw new InputError(`${file}: tensor ${name} has ${w.length} values, expected shape [${p.shape}]`);
    p.data.set(w);
  }
  return model;
}
