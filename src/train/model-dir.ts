// A trained model on disk: DIR/model.safetensors (weights), DIR/config.json, DIR/tokenizer.json.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../cli/util.js';
import { GPT } from '../nn/gpt.js';
import { readSafetensors, writeSafetensors } from '../nn/safetensors.js';
import { validateConfig, type TrainConfig } from './config.js';
import { loadTokenizer } from './tokenizer.js';
import type { BpeTokenizer } from '../data/tokenizer.js';

export function writeJsonAtomic(path: string, obj: unknown): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(obj, null, 2) + '\n');
  renameSync(tmp, path);
}

/** Writes whole parameters (by name), the config and the tokenizer. */
export function saveModel(dir: string, params: Map<string, { shape: number[]; data: Float32Array }>, cfg: TrainConfig, tokenizer: BpeTokenizer): void {
  mkdirSync(dir, { recursive: true });
  writeSafetensors(join(dir, 'model.safetensors'),
    [...params].map(([name, p]) => ({ name, shape: p.shape, data: p.data })), { format: 'furnace' });
  writeJsonAtomic(join(dir, 'config.json'), cfg);
  writeJsonAtomic(join(dir, 'tokenizer.json'), tokenizer.toJSON());
}

export function loadModel(dir: string): { model: GPT; cfg: TrainConfig; tokenizer: BpeTokenizer } {
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) {
    if (!existsSync(join(dir, f))) throw new UsageError(`--ckpt: ${dir} has no ${f} (not a furnace model directory)`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  } catch (e) {
    throw new UsageError(`${join(dir, 'config.json')}: not valid JSON (${(e as Error).message})`);
  }
  const cfg = validateConfig(raw, join(dir, 'config.json'));
  const tokenizer = loadTokenizer(join(dir, 'tokenizer.json'));
  const model = new GPT({ ...cfg.model, vocab_size: tokenizer.vocabSize }, 0);
  let weights;
  try {
    weights = readSafetensors(join(dir, 'model.safetensors'));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  for (const [name, p] of model.namedParameters()) {
    const w = weights.get(name);
    if (w === undefined) throw new UsageError(`${join(dir, 'model.safetensors')}: missing tensor ${name}`);
    if (w.data.length !== p.size) throw new UsageError(`${join(dir, 'model.safetensors')}: tensor ${name} has shape [${w.shape}], expected [${p.shape}]`);
    p.data.set(w.data);
  }
  return { model, cfg, tokenizer };
}
