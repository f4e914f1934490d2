// `furnace tokenizer train|encode`: learn a byte-level BPE vocabulary from a corpus, or apply one.
import { statSync } from 'node:fs';
import { InputError, UsageError } from '../../util/errors.js';
import { Output, Progress } from '../../util/output.js';
import { checkInputPath, checkOutputFile } from '../../util/paths.js';
import { HelpRequest, intFlag, parse, type Command } from '../util.js';
import { BpeTokenizer } from '../../data/tokenizer.js';
import { loadTokenizer } from '../../train/tokenizer.js';
import { listInputs, readDocuments, type BadInput } from '../../data/documents.js';
import { defaultCorpusPath } from '../../data/corpus.js';

const USAGE = `usage: furnace tokenizer train [INPUT] --vocab N --out FILE [--min-frequency N] [--split file|paragraph|line] [--json]
       furnace tokenizer encode --tokenizer FILE --text TEXT [--json]
INPUT: a .txt or .jsonl file or a folder of them (default: the bundled Moby-Dick).`;

export const run: Command = async (argv) => {
  const [sub, ...rest] = argv;
  if (sub === 'train') return train(rest);
  if (sub === 'encode') return encode(rest);
  if (sub === '--help' || sub === '-h') throw new HelpRequest(USAGE);
  throw new UsageError(sub === undefined ? "tokenizer: expected a subcommand: 'train' or 'encode'" : `tokenizer: unknown subcommand '${sub}' (choose train or encode)`);
};

async function train(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    vocab: { type: 'string' }, out: { type: 'string' }, 'min-frequency': { type: 'string' },
    split: { type: 'string' }, json: { type: 'boolean', default: false },
  }, true, USAGE);
  if (positionals.length > 1) throw new UsageError(`tokenizer train: one INPUT expected, got ${positionals.length}`);
  const vocabSize = intFlag('vocab', values.vocab, 256, 1 << 21);
  if (vocabSize === undefined) throw new InputError('tokenizer train: --vocab N is required (N >= 256)');
  if (values.out === undefined) throw new InputError('tokenizer train: --out FILE is required');
  const minFrequency = intFlag('min-frequency', values['min-frequency'], 1, 1e9) ?? 2;
  const split = splitFlag(values.split);
  const input = positionals[0] ?? defaultCorpusPath();
  checkInputPath('INPUT', input);
  checkOutputFile('--out', values.out);
  const out = new Output(values.json);
  const total = totalBytes(input);
  const progress = new Progress(total, 'bytes');
  const bad: BadInput[] = [];
  let read = 0;
  let docs = 0;
  const t0 = performance.now();
  const texts = function* () {
    for (const d of readDocuments(input, { ...(split ? { split } : {}), onBad: (b) => bad.push(b),
      onBytes: (n) => { read += n; progress.update(read); } })) {
      docs++;
      yield d.text;
    }
  };
  const tok = BpeTokenizer.train(texts(), { vocabSize, minFrequency });
  progress.done();
  tok.save(values.out);
  const seconds = (performance.now() - t0) / 1000;
  out.say(`trained ${tok.vocabSize} tokens (${tok.numMerges} merges) on ${docs} documents, ${read} bytes in ${seconds.toFixed(2)} s -> ${values.out}`);
  for (const b of bad.slice(0, 10)) out.say(`  bad input ${b.source}:${b.line}: ${b.reason} (${b.detail})`);
  if (bad.length > 10) out.say(`  ... and ${bad.length - 10} more bad inputs`);
  out.result({ out: values.out, vocab_size: tok.vocabSize, merges: tok.numMerges, documents: docs, bytes: read,
    seconds, bad_input: bad.length, tokenizer_hash: tok.hash() });
  return 0;
}

async function encode(argv: string[]): Promise<number> {
  const { values } = parse(argv, { tokenizer: { type: 'string' }, text: { type: 'string' }, json: { type: 'boolean', default: false } }, false, USAGE);
  if (values.tokenizer === undefined || values.text === undefined) throw new InputError('tokenizer encode: --tokenizer FILE and --text TEXT are required');
  const tok = loadTokenizer(values.tokenizer);
  const ids = tok.encode(values.text);
  const out = new Output(values.json);
  out.say([...ids].map((id) => `${id}:${JSON.stringify(new TextDecoder().decode(tok.bytesOf(id)))}`).join(' '));
  out.result({ ids: [...ids], tokens: ids.length, bytes: Buffer.byteLength(values.text) });
  return 0;
}

export function splitFlag(v: string | undefined): 'file' | 'paragraph' | 'line' | undefined {
  if (v === undefined || v === 'file' || v === 'paragraph' || v === 'line') return v;
  throw new InputError(`--split: expected file, paragraph or line, got '${v}'`);
}

/** Bytes under an input path (for progress); a bad path is a InputError naming it. */
export function totalBytes(input: string): number {
  return listInputs(input).files.reduce((s, f) => s + statSync(f).size, 0);
}
