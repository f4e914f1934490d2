// `furnace train`: trains a model on a corpus, writes metrics and the model, prints a sample.
import { readFileSync } from 'node:fs';
import { Output, UsageError, parse, intFlag, type Command } from '../util.js';
import { useBackend } from '../backend-flag.js';
import { PRESETS, checkConsistency, parseConfigFile, type TrainConfig } from '../../train/config.js';
import { readCorpus, defaultCorpusPath } from '../../data/corpus.js';
import { train } from '../../train/trainer.js';
import { generate } from '../../nn/generate.js';

export const run: Command = async (argv) => {
  const { values: v } = parse(argv, {
    config: { type: 'string' }, preset: { type: 'string' }, steps: { type: 'string' }, corpus: { type: 'string' },
    backend: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string' }, 'log-every': { type: 'string' },
    'batch-size': { type: 'string' }, 'sample-tokens': { type: 'string' }, json: { type: 'boolean' },
  });
  const out = new Output(v.json === true);
  if (v.preset !== undefined && v.preset !== 'tiny' && v.preset !== 'small') {
    throw new UsageError(`--preset: unknown preset '${v.preset}' (choose tiny or small)`);
  }
  const preset = (v.preset ?? 'small') as 'tiny' | 'small';
  let cfg: TrainConfig;
  if (v.config !== undefined) {
    let text: string;
    try {
      text = readFileSync(v.config, 'utf8');
    } catch {
      throw new UsageError(`--config: cannot read ${v.config}`);
    }
    cfg = parseConfigFile(text, v.config, preset);
  } else {
    cfg = structuredClone(PRESETS[preset]);
  }
  const steps = intFlag('steps', v.steps, 1);
  const seed = intFlag('seed', v.seed, 0);
  const logEvery = intFlag('log-every', v['log-every'], 1);
  const batch = intFlag('batch-size', v['batch-size'], 1);
  if (steps !== undefined) cfg.train.steps = steps;
  if (seed !== undefined) cfg.train.seed = seed;
  if (logEvery !== undefined) cfg.train.log_every = logEvery;
  if (batch !== undefined) cfg.train.batch_size = batch;
  checkConsistency(cfg);
  const sampleTokens = intFlag('sample-tokens', v['sample-tokens'], 0) ?? 200;

  const corpus = { text: readCorpus(v.corpus), source: v.corpus ?? defaultCorpusPath() };
  const backend = await useBackend(v.backend);
  const dir = v.out ?? 'runs/latest';
  out.say(`furnace train: ${corpus.source} (${Buffer.byteLength(corpus.text)} bytes), backend ${backend.name}, out ${dir}`);
  const { summary, model, tokenizer } = await train({
    cfg, text: corpus.text, out: dir, log: (l) => out.say(l), progress: !out.json,
  });
  out.say(`done: ${summary.steps} steps in ${summary.seconds.toFixed(1)} s, train loss ${summary.first_loss.toFixed(3)} -> ${summary.train_loss.toFixed(3)}, ` +
    `val loss ${summary.val_loss.toFixed(3)}, val ${summary.val_bits_per_byte.toFixed(3)} bits/byte, ${Math.round(summary.tokens_per_s)} tok/s`);
  let sample = '';
  if (sampleTokens > 0) {
    const prompt = tokenizer.encode('\n');
    const ids = await generate(model, prompt, { tokens: sampleTokens, temperature: 0.8, topK: 40, seed: cfg.train.seed });
    sample = tokenizer.decode(ids.subarray(prompt.length));
    out.say('--- sample ---\n' + sample + '\n--------------');
  }
  const { losses: _l, ...rest } = summary;
  out.result({ ...rest, backend: backend.name, sample });
  return 0;
};
