// Byte-level BPE training: learns merges from word frequencies with incremental pair counts.
//
// Sennrich et al. 2016 (arXiv 1508.07909), Algorithm 1, made incremental as in Hugging Face
// `tokenizers` (bpe/trainer.rs): pair counts over unique words weighted by frequency, an index
// from each pair to the words holding it, and a max-heap with lazy deletion. Each merge touches
// only the words that contain the merged pair, never the whole corpus.
//
// Token ids: 0..255 are the bytes; merge r creates token 256 + r.

/** One learned merge: tokens `a` and `b` become token 256 + (its index in the list). */
export type Merge = readonly [a: number, b: number];

// A pair key fits 2^21 tokens per side (vocabularies up to ~2M) in a double without loss.
const SIDE = 2 ** 21;
const pairKey = (a: number, b: number) => a * SIDE + b;

/** Max-heap of (count, key): highest count first, then the smallest key (deterministic ties). */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];
  get size(): number { return this.keys.length; }
  private above(i: number, j: number): boolean {
    const ci = this.counts[i]!, cj = this.counts[j]!;
    return ci > cj || (ci === cj && this.keys[i]! < this.keys[j]!);
  }
  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j]!, this.counts[i]!];
    [this.keys[i], this.keys[j]] = [this.keys[j]!, this.keys[i]!];
  }
  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    for (let i = this.keys.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  /** Removes the top entry and returns it as [count, key]. */
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0]!, this.keys[0]!];
    const lastC = this.counts.pop()!, lastK = this.keys.pop()!;
    const n = this.keys.length;
    if (n > 0) {
      this.counts[0] = lastC;
      this.keys[0] = lastK;
      for (let i = 0; ;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < n && this.above(l, m)) m = l;
        if (r < n && this.above(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

/** Applies merge (a, b) -> c left to right without overlap (GPT-2 `bpe()` order). */
export function applyMerge(word: Int32Array, a: number, b: number, c: number): Int32Array {
  let hits = 0;
  for (let i = 0; i + 1 < word.length; i++) if (word[i] === a && word[i + 1] === b) { hits++; i++; }
  if (hits === 0) return word;
  const out = new Int32Array(word.length - hits);
  let w = 0;
  for (let i = 0; i < word.length;) {
    if (i + 1 < word.length && word[i] === a && word[i + 1] === b) { out[w++] = c; i += 2; }
    else out[w++] = word[i++]!;
  }
  return out;
}

/**
 * Learns up to `numMerges` merges from `wordCounts` (pre-token -> frequency), stopping early when
 * the most frequent pair occurs fewer than `minFrequency` times.
 */
export function trainMerges(wordCounts: ReadonlyMap<string, number>, numMerges: number, minFrequency: number): Merge[] {
  const encoder = new TextEncoder();
  const words: Int32Array[] = [];
  const freq: number[] = [];
  for (const [w, c] of wordCounts) {
    const bytes = encoder.encode(w);
    if (bytes.length < 2) continue;  // a single byte never takes part in a merge
    words.push(Int32Array.from(bytes));
    freq.push(c);
  }

  const count = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  /** Adds `delta` to the count of pair (x, y); a positive delta records that word `wi` holds it. */
  const bump = (x: number, y: number, delta: number, wi: number, touched: Set<number> | null) => {
    const key = pairKey(x, y);
    const c = (count.get(key) ?? 0) + delta;
    if (c <= 0) { count.delete(key); where.delete(key); }
    else count.set(key, c);
    if (delta > 0) {
      let set = where.get(key);
      if (set === undefined) where.set(key, (set = new Set()));
      set.add(wi);
    }
    touched?.add(key);
  };
  for (let wi = 0; wi < words.length; wi++) {
    const w = words[wi]!;
    for (let i = 0; i + 1 < w.length; i++) bump(w[i]!, w[i + 1]!, freq[wi]!, wi, null);
  }

  const heap = new PairHeap();
  for (const [k, c] of count) heap.push(c, k);

  const merges: Merge[] = [];
  while (merges.length < numMerges && heap.size > 0) {
    const [c, k] = heap.pop();
    if (count.get(k) !== c) continue;  // stale entry: the pair's count changed after the push
    if (c < minFrequency) break;
    const a = Math.floor(k / SIDE), b = k % SIDE, merged = 256 + merges.length;
    merges.push([a, b]);
    const holders = where.get(k) ?? new Set<number>();
    count.delete(k);
    where.delete(k);
    // Only the neighbours of each merged occurrence change (as in HF tokenizers' Word::merge):
    // x a b y -> x c y takes f from (x, a) and (b, y) and gives it to (x, c) and (c, y).
    const touched = new Set<number>();
    for (const wi of holders) {
      // Compacts in place: the write position n never passes the read position i.
      const w = words[wi]!, f = freq[wi]!;
      let n = 0;
      for (let i = 0; i < w.length;) {
        if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
          const prev = n > 0 ? w[n - 1]! : -1;
          const next = i + 2 < w.length ? w[i + 2]! : -1;
          if (prev >= 0) { bump(prev, a, -f, wi, touched); bump(prev, merged, f, wi, touched); }
          if (next >= 0) { bump(b, next, -f, wi, touched); bump(merged, next, f, wi, touched); }
          w[n++] = merged;
          i += 2;
        } else w[n++] = w[i++]!;
      }
      if (n !== w.length) words[wi] = w.subarray(0, n);
    }
    count.delete(k);
    where.delete(k);
    for (const t of touched) {
      const tc = count.get(t);
      if (tc !== undefined && tc > 0) heap.push(tc, t);
    }
  }
  return merges;
}
