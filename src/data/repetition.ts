// Repetition statistics for the Gopher rules, on hashed words so no n-gram string is ever built.
//
// Definitions follow datatrove's gopher_repetition_filter: find_duplicates counts elements seen
// before and their characters; the top n-gram's character share is count x length of the most
// frequent n-gram (words joined by spaces; Chinese characters by nothing); repeated n-gram characters come from a left-to-right
// scan that, on an n-gram seen before, counts its characters (words joined) and jumps past it.

/** Elements equal to an earlier element: how many, and their total length. */
export function findDuplicates(items: string[]): { count: number; chars: number } {
  const seen = new Set<string>();
  let count = 0, chars = 0;
  for (const x of items) {
    if (seen.has(x)) { count++; chars += x.length; } else seen.add(x);
  }
  return { count, chars };
}

/** The n-gram statistics of one document for n = 1, 2, ... in increasing order. Each step
 * extends every (n-1)-gram hash by one word, so all n up to 10 cost 10 hashes per word. */
export class NgramScanner {
  private readonly word: Int32Array;
  private readonly gram: Int32Array;
  private readonly len: Int32Array;  // prefix sums of word lengths
  private n = 1;

  /** `joiner`: characters between words when an n-gram is written out (1 for English, 0 for
   * Chinese, whose words are single characters). */
  constructor(private readonly w: string[], private readonly joiner = 1) {
    this.word = new Int32Array(w.length);
    this.len = new Int32Array(w.length + 1);
    for (let i = 0; i < w.length; i++) {
      const s = w[i]!;
      let x = 0x811c9dc5 | 0;  // FNV-1a
      for (let k = 0; k < s.length; k++) x = Math.imul(x ^ s.charCodeAt(k), 0x01000193);
      this.word[i] = x;
      this.len[i + 1] = this.len[i]! + s.length;
    }
    this.gram = Int32Array.from(this.word);
  }

  /** Advances to n-grams of size n (n must not decrease). */
  private advance(n: number): number {
    if (n < this.n) throw new RangeError(`n-grams must be visited in increasing n (at ${this.n}, asked ${n})`);
    for (; this.n < n; this.n++) {
      const m = this.w.length - this.n;  // count of (n+1)-grams
      for (let i = 0; i < m; i++) {
        let x = Math.imul(this.gram[i]! ^ this.word[i + this.n]!, 0x9e3779b1);
        this.gram[i] = x ^ (x >>> 15);
      }
    }
    return Math.max(0, this.w.length - n + 1);
  }

  /** Characters covered by the most frequent n-gram: count x its written length. */
  topChars(n: number): number {
    const m = this.advance(n);
    counter.reset(m);
    let best = 0, bestAt = -1;
    for (let i = 0; i < m; i++) {
      const c = counter.increment(this.gram[i]!);
      if (c > best) { best = c; bestAt = i; }
    }
    if (bestAt < 0) return 0;
    return best * (this.len[bestAt + n]! - this.len[bestAt]! + (n - 1) * this.joiner);
  }

  /** Characters inside n-grams that repeat an earlier n-gram (words joined without separator). */
  repeatedChars(n: number): number {
    const m = this.advance(n);
    counter.reset(m);
    let chars = 0;
    for (let i = 0; i < m;) {
      if (counter.count(this.gram[i]!) > 0) {
        chars += this.len[i + n]! - this.len[i]!;
        i += n;
      } else {
        counter.increment(this.gram[i]!);
        i++;
      }
    }
    return chars;
  }
}

/**
 * Counts of int32 keys in open addressing with generation stamps: reset() is O(1) unless the
 * table must grow, so one table serves every document. (A Map<number, number> here cost 3x.)
 */
class IntCounter {
  private keys = new Int32Array(0);
  private counts = new Int32Array(0);
  private stamps = new Int32Array(0);
  private gen = 0;
  private shift = 32;
  private mask = 0;

  reset(items: number): void {
    if (this.keys.length < items * 2 || this.keys.length === 0) {
      let bits = 4;
      while (1 << bits < items * 2) bits++;
      this.keys = new Int32Array(1 << bits);
      this.counts = new Int32Array(1 << bits);
      this.stamps = new Int32Array(1 << bits);
      this.shift = 32 - bits;
      this.mask = (1 << bits) - 1;
      this.gen = 0;
    }
    this.gen++;
  }

  private slot(k: number): number {
    let i = Math.imul(k, 0x9e3779b1) >>> this.shift;
    while (this.stamps[i] === this.gen && this.keys[i] !== k) i = (i + 1) & this.mask;
    return i;
  }

  count(k: number): number {
    const i = this.slot(k);
    return this.stamps[i] === this.gen ? this.counts[i]! : 0;
  }

  increment(k: number): number {
    const i = this.slot(k);
    if (this.stamps[i] !== this.gen) { this.stamps[i] = this.gen; this.keys[i] = k; this.counts[i] = 0; }
    return ++this.counts[i]!;
  }
}

const counter = new IntCounter();
