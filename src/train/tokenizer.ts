// Tokens for a run: the BPE tokenizer trained on the training split and both splits encoded,
// cached on disk as token shards keyed by the text and vocabulary size, so a second run on the
// same corpus starts at once.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../util/errors.js';
import { checkInputPath } from '../util/paths.js';
import { BpeTokenizer } from '../data/tokenizer.js';
import { ShardWriter, dtypeFor, readShardSet } from '../data/shards.js';
import { splitText } from './data.js';

export interface RunTokens {
  tokenizer: BpeTokenizer;
  train: Int32Array;
  val: Int32Array;
  valBytes: number;
  cached: boolean;
}

export function cacheDir(): string {
  return process.env['FURNACE_CACHE'] ?? join(homedir(), '.cache', 'furnace');
}

/** Tokenizes a corpus for training (last 10% of the text is validation), through the cache. */
export function prepareTokens(text: string, vocabSize: number): RunTokens {
  const split = splitText(text);
  const valBytes = Buffer.byteLength(split.val, 'utf8');
  const key = createHash('sha256').update(`bpe-v1\0${vocabSize}\0`).update(text).digest('hex').slice(0, 24);
  const dir = join(cacheDir(), 'tokens', key);
  if (existsSync(join(dir, 'val', 'index.json'))) {
    try {
      const tokenizer = BpeTokenizer.load(join(dir, 'tokenizer.json'));
      const train = Int32Array.from(readShardSet(join(dir, 'train'), { tokenizerHash: tokenizer.hash() }).tokens);
      const val = Int32Array.from(readShardSet(join(dir, 'val'), { tokenizerHash: tokenizer.hash() }).tokens);
      return { tokenizer, train, val, valBytes, cached: true };
    } catch {
      rmSync(dir, { recursive: true, force: true }); // a damaged cache entry is rebuilt
    }
  }
  const tokenizer = BpeTokenizer.train(split.train, { vocabSize });
  const train = tokenizer.encode(split.train);
  const val = tokenizer.encode(split.val);
  try {
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    tokenizer.save(join(tmp, 'tokenizer.json'));
    for (const [name, toks] of [['train', train], ['val', val]] as const) {
      const w = new ShardWriter(join(tmp, name), tokenizer.hash(), dtypeFor(tokenizer.vocabSize), join(tmp, 'tokenizer.json'));
      w.add(toks);
      w.finish([]);
    }
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } catch {
    // The cache is an optimization: a read-only or full disk must not stop training.
  }
  return { tokenizer, train, val, valBytes, cached: false };
}

/** Loads a tokenizer.json; a missing, special or malformed file is bad input naming `flag` (exit 2). */
export function loadTokenizer(path: string, flag = '--tokenizer'): BpeTokenizer {
  checkInputPath(flag, path, 'file');
  try {
    return BpeTokenizer.load(path);
  } catch (e) {
    if (e instanceof InputError) throw new InputError(`${flag}: ${e.message}`);
    throw e;
  }
}
