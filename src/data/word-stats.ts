// Word statistics of a document in one pass over its characters, with no word strings built:
// what the Gopher rules need (count, mean length, alphabetic and stop words) and what the
// n-gram repetition rules need (a hash and a length per word).

export interface WordStats {
  count: number;
  /** FNV-1a hash of each word's UTF-16 code units. */
  hashes: Int32Array;
  /** Length of each word in code units. */
  lengths: Int32Array;
  /** Sum of the lengths. */
  chars: number;
  /** Words holding at least one letter. */
  alpha: number;
  /** Gopher stop words seen, counted up to the limit given. */
  stop: number;
}

const STOP_WORDS = new Set(['the', 'be', 'to', 'of', 'and', 'that', 'have', 'with']);
const LETTER = /\p{L}/u;

/** The code units JavaScript's \s matches (ECMA-262 WhiteSpace and LineTerminator). */
export function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || (c >= 0x80 && (c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff));
}

/** CJK Unified Ideographs (base, extension A), compatibility ideographs; surrogate pairs of
 * the astral extensions count through their high surrogate (U+D840..U+D87F). */
export function isHanCode(c: number): boolean {
  return (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) || (c >= 0xf900 && c <= 0xfaff) || (c >= 0xd840 && c <= 0xd87f);
}

/** Whether code unit i of s is a letter; ASCII is decided without a regex. */
function letterAt(s: string, i: number, c: number): boolean {
  if (c < 0x80) return (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
  return isHanCode(c) || LETTER.test(s[i]!);
}

/** Statistics of the whitespace-separated words of `text` (English). */
export function wordStats(text: string, stopLimit = Infinity): WordStats {
  let hashes = new Int32Array(256), lengths = new Int32Array(256);
  let count = 0, chars = 0, alpha = 0, stop = 0;
  let start = -1, h = 0, letter = false;
  const finish = (end: number) => {
    if (count === hashes.length) {
      const h2 = new Int32Array(count * 2), l2 = new Int32Array(count * 2);
      h2.set(hashes); l2.set(lengths);
      hashes = h2; lengths = l2;
    }
    const len = end - start;
    hashes[count] = h;
    lengths[count] = len;
    count++;
    chars += len;
    if (letter) alpha++;
    if (stop < stopLimit && len >= 2 && len <= 4 && STOP_WORDS.has(text.slice(start, end).toLowerCase())) stop++;
    start = -1;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isSpace(c)) {
      if (start >= 0) finish(i);
      continue;
    }
    if (start < 0) { start = i; h = 0x811c9dc5 | 0; letter = false; }
    h = Math.imul(h ^ c, 0x01000193);
    if (!letter) letter = letterAt(text, i, c);
  }
  if (start >= 0) finish(text.length);
  return { count, hashes: hashes.subarray(0, count), lengths: lengths.subarray(0, count), chars, alpha, stop };
}

/** The same statistics from a list of words (Chinese: single Han characters and other runs). */
export function statsOfWords(w: string[], stopLimit = Infinity): WordStats {
  const hashes = new Int32Array(w.length), lengths = new Int32Array(w.length);
  let chars = 0, alpha = 0, stop = 0;
  w.forEach((s, i) => {
    let h = 0x811c9dc5 | 0;
    let letter = false;
    for (let k = 0; k < s.length; k++) {
      const c = s.charCodeAt(k);
      h = Math.imul(h ^ c, 0x01000193);
      if (!letter) letter = letterAt(s, k, c);
    }
    hashes[i] = h;
    lengths[i] = s.length;
    chars += s.length;
    if (letter) alpha++;
    if (stop < stopLimit && STOP_WORDS.has(s.toLowerCase())) stop++;
  });
  return { count: w.length, hashes, lengths, chars, alpha, stop };
}
