// Tokenized corpora cached on disk as shard sets, keyed by the text and the tokenizer, so a
// trainer encodes a corpus once: a later run with the same text and tokenizer reads the shards.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BpeTokenizer } from './tokenizer.js';
import { dtypeFor, readShardSet, ShardFormatError, ShardWriter, type TokenArray } from './shards.js';

/** Cache key: sha256 over the tokenizer's hash and the text. */
export function cacheKey(text: string, tok: BpeTokenizer): string {
  return createHash('sha256').update(tok.hash()).update('\0').update(text).digest('hex').slice(0, 32);
}

/**
 * The tokens of `text` under `tok`, from `cacheDir/<key>/` when present and intact, else
 * encoded and written there (index.json last, so an interrupted write is simply redone).
 */
export function tokenizeCached(text: string, tok: BpeTokenizer, cacheDir: string): { tokens: TokenArray; cached: boolean; dir: string } {
  const dir = join(cacheDir, cacheKey(text, tok));
  if (existsSync(join(dir, 'index.json'))) {
    try {
      return { tokens: readShardSet(dir, { tokenizerHash: tok.hash() }).tokens, cached: true, dir };
    } catch (e) {
      if (!(e instanceof ShardFormatError)) throw e;
      rmSync(dir, { recursive: true, force: true });  // damaged cache: rebuild it
    }
  }
  mkdirSync(dir, { recursive: true });
  const tokPath = join(dir, 'tokenizer.src.json');
  tok.save(tokPath);
  const writer = new ShardWriter(dir, tok.hash(), dtypeFor(tok.vocabSize), tokPath);
  writer.add(tok.encode(text));
  writer.finish([{ path: '(text)', bytes: Buffer.byteLength(text), sha256: createHash('sha256').update(text).digest('hex') }]);
  rmSync(tokPath, { force: true });
  return { tokens: readShardSet(dir).tokens, cached: false, dir };
}
