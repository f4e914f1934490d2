// Repetition statistics for the Gopher rules, on hashed words so no n-gram string is ever built.
//
// Definitions follow datatrove's gopher_repetition_filter: find_duplicates counts elements seen
// before and their characters; the top n-gram's character share is count x length of the most
// frequent n-gram (words joined by spaces; Chinese characters by nothing); repeated n-gram
// characters come from a left-to-right scan that, on an n-gram seen before, counts its
// characters (words joined) and jumps past it.

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
  private readonly gram: Int32Array;
  private readonly len: Int32Array;  // prefix sums of word lengths
  private readonly count: number;
  private n = 1;

  /**
   * @param word   hash of each word (WordStats.hashes)
   * @param length length of each word
   * @param joiner characters between words when an n-gram is written out (1 for English, 0 for
   *               Chinese, whose words are single characters)
   */
  constructor(private readonly word: Int32Array, length: Int32Array, private readonly joiner = 1) {
    this.count = word.length;
    this.len = new Int32Array(word.length + 1);
    for (let i = 0; i < word.length; i++) this.len[i + 1] = this.len[i]! + length[i]!;
    this.gram = Int32Array.from(word);
  }

  /** Advances to n-grams of size n (n must not decrease). */
  private advance(n: number): number {
    if (n < this.n) throw new RangeError(`n-grams must be visited in increasing n (at ${this.n}, asked ${n})`);
    for (; this.n < n; this.n++) {
      const m = this.count - this.n;  // count of (n+1)-grams
      for (let i = 0; i < m; i++) {
        // Mix the prefix hash before adding the next word, so order matters ('a b' != 'b a').
        const g = this.gram[i]!;
        let x = (Math.imul(g ^ (g >>> 16), 0x85ebca6b) + this.word[i + this.n]!) | 0;
        x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
        this.gram[i] = x ^ (x >>> 16);
      }
    }
    return Math.max(0, this.count - n + 1);
  }

  /** Characters covered by the most frequent n-gram: count x its written length. */
  topChars(n: number): number {
    const m = this.advance(n);
    const { best, at } = counter.mostFrequent(this.gram, m);
    if (at < 0) return 0;
    return best * (this.len[at + n]! - this.len[at]! + (n - 1) * this.joiner);
  }

  /** Characters inside n-grams that repeat an earlier n-gram (words joined without separator). */
  repeatedChars(n: number): number {
    const m = this.advance(n);
    return counter.repeatedSpan(this.gram, m, n, this.len);
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

  /** The highest count among keys[0..m) and the first position holding a key with that count
   * (Python's Counter.most_common(1) picks the first inserted among equals). */
  mostFrequent(keys: Int32Array, m: number): { best: number; at: number } {
    this.reset(m);
    const K = this.keys, C = this.counts, S = this.stamps, gen = this.gen, shift = this.shift, mask = this.mask;
    let best = 0;
    for (let i = 0; i < m; i++) {
      const k = keys[i]!;
      let j = Math.imul(k, 0x9e3779b1) >>> shift;
      while (S[j] === gen && K[j] !== k) j = (j + 1) & mask;
      if (S[j] !== gen) { S[j] = gen; K[j] = k; C[j] = 0; }
      const c = ++C[j]!;
      if (c > best) best = c;
    }
    for (let i = 0; i < m; i++) {
      const k = keys[i]!;
      let j = Math.imul(k, 0x9e3779b1) >>> shift;
      while (K[j] !== k) j = (j + 1) & mask;
      if (C[j] === best) return { best, at: i };
    }
    return { best: 0, at: -1 };
  }

  /** Left-to-right scan: an n-gram seen before adds its characters (len prefix sums) and is skipped. */
  repeatedSpan(keys: Int32Array, m: number, n: number, len: Int32Array): number {
    this.reset(m);
    const K = this.keys, S = this.stamps, gen = this.gen, shift = this.shift, mask = this.mask;
    let chars = 0;
    for (let i = 0; i < m;) {
      const k = keys[i]!;
      let j = Math.imul(k, 0x9e3779b1) >>> shift;
      while (S[j] === gen && K[j] !== k) j = (j + 1) & mask;
      if (S[j] === gen) { chars += len[i + n]! - len[i]!; i += n; }
      else { S[j] = gen; K[j] = k; i++; }
    }
    return chars;
  }
}

const counter = new IntCounter();
