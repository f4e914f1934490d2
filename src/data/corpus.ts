// The training corpus as one string: a .txt file, a folder of them, JSONL {text}, or Moby-Dick.
//
// Documents are joined with DOC_SEPARATOR (a blank line). Folders are read in sorted path order,
// so the same folder always gives the same text. Reading goes through readDocuments with
// split 'file' (a .txt file is taken whole; line ends become \n, a final newline is dropped), and any bad input stops with an error naming it.
import { InputError } from '../util/errors.js';
import { checkInputPath } from '../util/paths.js';
import { readDocuments, type BadInput } from './documents.js';
import { mobyDickDir } from './bundled-corpora.js';
import { join } from 'node:path';

export const DOC_SEPARATOR = '\n\n';

/** Path of the bundled default corpus: the whole of Moby-Dick (1.2 MB, public domain). */
export function defaultCorpusPath(): string {
  return join(mobyDickDir(), 'data.txt');
}

/** Reads a corpus; no path means the bundled Moby-Dick. Missing, empty or damaged -> InputError. */
export function readCorpus(path?: string): string {
  const p = path ?? defaultCorpusPath();
  const texts: string[] = [];
  const bad: BadInput[] = [];
  checkInputPath('--corpus', p);
  for (const d of readDocuments(p, { split: 'file', maxDocBytes: 256 << 20, onBad: (b) => bad.push(b) })) texts.push(d.text);
  const hard = bad.filter((b) => b.reason !== 'empty');
  if (hard.length > 0) {
    const b = hard[0]!;
    throw new InputError(`corpus: ${b.source}:${b.line}: ${b.reason.replace('_', ' ')} (${b.detail})${hard.length > 1 ? ` and ${hard.length - 1} more` : ''}`);
  }
  const text = texts.join(DOC_SEPARATOR);
  if (text.trim() === '') throw new InputError(`corpus: ${p}: no text in it`);
  return text;
}
