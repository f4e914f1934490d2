// `furnace eval --ckpt DIR --text FILE`: bits per byte of a text under a trained model.
import { readFileSync } from 'node:fs';
import { InputError } from '../../util/errors.js';
import { Output } from '../../util/output.js';
import { parse, type Command } from '../util.js';
import { checkBackendName, installBackend } from '../../backends/index.js';
import { checkInputPath } from '../../util/paths.js';

const USAGE = `usage: furnace eval --ckpt DIR --text FILE [--backend NAME] [--json]
  DIR: a trained model directory, a run directory, a checkpoint root (RUN/ckpt, its latest) or a checkpoint step directory`;
import { loadModel } from '../../train/model-dir.js';
import { bitsPerByte, evaluate } from '../../train/evaluate.js';

export const run: Command = async (argv) => {
  const { values: v } = parse(argv, { ckpt: { type: 'string' }, text: { type: 'string' }, backend: { type: 'string' },
    json: { type: 'boolean' } }, false, USAGE);
  const out = new Output(v.json === true);
  if (v.ckpt === undefined) throw new InputError('eval: --ckpt DIR is required');
  if (v.text === undefined) throw new InputError('eval: --text FILE is required');
  checkInputPath('--text', v.text, 'file');
  checkBackendName(v.backend);
  let text: string;
  try {
    text = readFileSync(v.text, 'utf8');
  } catch {
    throw new InputError(`--text: cannot read ${v.text}`);
  }
  if (text.length === 0) throw new InputError(`--text: ${v.text} is empty`);
  await installBackend(v.backend);
  const { model, tokenizer } = await loadModel(v.ckpt);
  const tokens = tokenizer.encode(text);
  if (tokens.length < 2) throw new InputError(`--text: ${v.text} has fewer than 2 tokens`);
  const bytes = Buffer.byteLength(text, 'utf8');
  const r = await evaluate(model, tokens, 16);
  const bpb = bitsPerByte(r.nats, bytes);
  out.say(`${v.text}: ${bytes} bytes, ${tokens.length} tokens, loss ${r.loss.toFixed(4)} nats/token, ${bpb.toFixed(4)} bits/byte`);
  out.result({ bits_per_byte: bpb, loss: r.loss, tokens: tokens.length, bytes });
  return 0;
};
