// Pre-tokenization: the regex that cuts text into "words" before byte-level BPE merges them.
//
// GPT-2's pattern (Radford et al. 2019, `encoder.py`) with one change for Chinese: Han text has no
// spaces, so under GPT-2's `\p{L}+` a whole sentence becomes one word (slow to encode, and merges
// learned there never recur). Here Han runs are cut into chunks of at most HAN_CHUNK characters;
// merges still form multi-character tokens inside a chunk. Every code point matches one branch, so
// the pieces concatenate back to the input (the tokenizer relies on this for a lossless round trip).

export const HAN_CHUNK = 4;

/** The pattern in Oniguruma syntax, as stored in tokenizer.json (Hugging Face `Split` regex). */
export const PRETOKENIZE_PATTERN =
  `'(?:[sdmt]|ll|ve|re)| ?\\p{Han}{1,${HAN_CHUNK}}| ?[^\\P{L}\\p{Han}]+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+`;

/** GPT-2's own pattern, used when a tokenizer.json says ByteLevel with use_regex = true. */
export const GPT2_PATTERN = `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+`;

/** Compiles a stored (Oniguruma-style) pattern to a global Unicode JS RegExp; throws SyntaxError
 * if JS cannot express it. Oniguruma's bare script names (`\p{Han}`) become `\p{sc=Han}`. */
export function compilePattern(pattern: string): RegExp {
  const js = pattern.replace(/\\([pP])\{(Han|Hiragana|Katakana|Hangul|Latin|Cyrillic|Greek|Arabic|Thai)\}/g, '\\$1{sc=$2}');
  return new RegExp(js, 'gu');
}

/** Splits text into pre-tokens (a generator, so a large text is never held twice). */
export function* pretokenize(text: string, re: RegExp): Generator<string> {
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) yield m[0];
}
