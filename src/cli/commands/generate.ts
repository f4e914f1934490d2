// `furnace generate --ckpt DIR --prompt TEXT`: samples a continuation with a KV cache.
import { InputError } from '../../util/errors.js';
import { Output } from '../../util/output.js';
import { parse, intFlag, numFlag, type Command } from '../util.js';
import { checkBackendName, installBackend } from '../../backends/index.js';

const USAGE = `usage: furnace generate --ckpt DIR [--prompt TEXT] [--tokens N] [--temperature T] [--top-k K] [--seed N] [--backend NAME] [--json]
  DIR: a trained model directory, a run directory, a checkpoint root (RUN/ckpt, its latest) or a checkpoint step directory`;
import { loadModel } from '../../train/model-dir.js';
import { generate } from '../../nn/generate.js';

export const run: Command = async (argv) => {
  const { values: v } = parse(argv, {
    ckpt: { type: 'string' }, prompt: { type: 'string' }, tokens: { type: 'string' }, temperature: { type: 'string' },
    'top-k': { type: 'string' }, seed: { type: 'string' }, backend: { type: 'string' }, json: { type: 'boolean' },
  }, false, USAGE);
  const out = new Output(v.json === true);
  if (v.ckpt === undefined) throw new InputError('generate: --ckpt DIR is required');
  const tokens = intFlag('tokens', v.tokens, 1, 1_000_000) ?? 200;
  const temperature = numFlag('temperature', v.temperature, 0, 100) ?? 0.8;
  const topK = intFlag('top-k', v['top-k'], 0, 1 << 21) ?? 40;
  const seed = intFlag('seed', v.seed, 0, 2 ** 32 - 1) ?? 0;
  checkBackendName(v.backend);
  await installBackend(v.backend);
  const { model, tokenizer } = await loadModel(v.ckpt);
  const prompt = tokenizer.encode(v.prompt ?? '\n');
  const t0 = performance.now();
  const ids = await generate(model, prompt, { tokens, temperature, topK, seed });
  const seconds = (performance.now() - t0) / 1000;
  const text = tokenizer.decode(ids.subarray(prompt.length));
  if (out.json) out.say(text);
  else process.stdout.write((v.prompt ?? '') + text + '\n');
  out.result({ prompt: v.prompt ?? '', text, tokens, seconds, tokens_per_s: tokens / seconds });
  return 0;
};
