// MinHash-LSH near-duplicate detection with transitive clustering.
//
// Sketch: one-permutation hashing (Li, Owen & Zhang, NeurIPS 2012) with optimal densification
// (Shrivastava, ICML 2017). Each shingle is hashed once; the hash picks one of K = bands x rows
// bins by its high bits and competes for that bin's minimum; empty bins borrow the value of a
// bin chosen by a fixed hash sequence. As with K independent permutations, two documents agree
// in each bin with probability ~ their Jaccard similarity J, at 1/K of the hashing cost.
// LSH (Broder 1997; Leskovec et al., Mining of Massive Datasets, ch. 3.4): documents sharing all
// `rows` values of any of `bands` bands become candidates, with probability 1 - (1 - J^r)^b
// (0.92 at J = 0.8, 0.05 at J = 0.5 for 14 x 8). A candidate is confirmed only when the
// signatures agree in at least `threshold` of the K bins, which removes the J ~ 0.5 tail.
// Confirmed pairs are merged with union-find, so duplicates are clustered transitively.
import type { Lang } from './quality.js';

export interface MinHashOptions {
  bands: number;
  rows: number;
  /** Shingle size: words for English, characters for Chinese. */
  ngramEn: number;
  ngramZh: number;
  /** Least share of equal signature values for a candidate pair to count as duplicates. */
  threshold: number;
  seed: number;
}

export const DEFAULT_MINHASH: MinHashOptions = { bands: 14, rows: 8, ngramEn: 5, ngramZh: 3, threshold: 0.7, seed: 1 };

function fmix32(h: number): number {
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function hashString(s: string, seed: number): number {
  let x = (0x811c9dc5 ^ seed) | 0;
  for (let k = 0; k < s.length; k++) x = Math.imul(x ^ s.charCodeAt(k), 0x01000193);
  return x;
}

/** Hashes of a document's shingles: lowercased word n-grams (en) or character n-grams over
 * letters and digits (zh), punctuation and spacing ignored (datatrove's simplify_text). */
export function shingleHashes(text: string, lang: Lang, o: MinHashOptions): Uint32Array {
  const h = lang === 'en' ? wordHashes(text, o.seed) : charHashes(text, o.seed);
  const n = lang === 'en' ? o.ngramEn : o.ngramZh;
  const m = Math.max(1, h.length - n + 1);
  const out = new Uint32Array(m);
  for (let i = 0; i < m; i++) {
    let x = Math.imul(o.seed, 0x9e3779b1) ^ n;
    for (let k = 0; k < n && i + k < h.length; k++) x = Math.imul(x ^ h[i + k]!, 0x01000193) ^ (x >>> 17);
    out[i] = fmix32(x);
  }
  return out;
}

const LETTER_OR_DIGIT = /[\p{L}\p{N}]/u;

/** FNV-1a hashes of the lowercased runs of letters and digits; ASCII without regex or copies. */
function wordHashes(text: string, seed: number): number[] {
  const out: number[] = [];
  let x = 0, inWord = false;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    let word: boolean;
    if (c < 0x80) {
      word = (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a);
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    } else {
      let ch = text[i]!;
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) ch = text.slice(i, i + 2);
      word = LETTER_OR_DIGIT.test(ch);
      if (word) c = ch.toLowerCase().codePointAt(0) ?? c;
      if (ch.length === 2) i++;
    }
    if (word) {
      if (!inWord) { x = (0x811c9dc5 ^ seed) | 0; inWord = true; }
      x = Math.imul(x ^ c, 0x01000193);
    } else if (inWord) { out.push(x); inWord = false; }
  }
  if (inWord) out.push(x);
  return out;
}

/** Hashes of each letter or digit (Chinese shingles are character n-grams). */
function charHashes(text: string, seed: number): number[] {
  const out: number[] = [];
  for (const ch of text) if (LETTER_OR_DIGIT.test(ch)) out.push(hashString(ch, seed));
  return out;
}

/** The K = bands x rows signature of a set of shingle hashes. */
export function signature(shingles: Uint32Array, o: MinHashOptions): Uint32Array {
  const K = o.bands * o.rows;
  const sig = new Uint32Array(K).fill(0xffffffff);
  const filled = new Uint8Array(K);
  for (let i = 0; i < shingles.length; i++) {
    const h = shingles[i]!;
    const bin = Math.floor((h / 4294967296) * K);  // high bits choose the bin
    if (h <= sig[bin]!) { sig[bin] = h; filled[bin] = 1; }
  }
  // Optimal densification: an empty bin j takes the value of the first filled bin in the fixed
  // pseudo-random sequence probe(j, 1), probe(j, 2), ..., the same sequence for every document.
  const out = Uint32Array.from(sig);
  if (shingles.length === 0) return out;
  for (let j = 0; j < K; j++) {
    if (filled[j]) continue;
    for (let attempt = 1; ; attempt++) {
      const k = Math.floor((fmix32(Math.imul(j + 1, 0x9e3779b1) ^ Math.imul(attempt, 0x85ebca6b) ^ o.seed) / 4294967296) * K);
      if (filled[k]) { out[j] = sig[k]!; break; }
    }
  }
  return out;
}

/** Share of equal positions: an estimate of the Jaccard similarity of the two shingle sets. */
export function estimateJaccard(a: Uint32Array, b: Uint32Array): number {
  let eq = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) eq++;
  return eq / a.length;
}

/**
 * The near-dedup index: band keys -> first document holding them, all signatures, and the
 * union-find forest over document numbers. Memory: K x 4 bytes per document plus the band table.
 */
export class LshIndex {
  private readonly buckets: Map<number, number>[];
  private readonly sigs: Uint32Array[] = [];
  private readonly parent: number[] = [];
  /** Confirmed candidate pairs, for the report. */
  pairs = 0;

  constructor(private readonly o: MinHashOptions) {
    this.buckets = Array.from({ length: o.bands }, () => new Map<number, number>());
  }

  get size(): number { return this.sigs.length; }

  /** Adds a document's signature; returns its number. Joins it to every confirmed earlier match. */
  add(sig: Uint32Array): number {
    const d = this.sigs.length;
    this.sigs.push(sig);
    this.parent.push(d);
    const checked = new Set<number>();
    for (let b = 0; b < this.o.bands; b++) {
      const key = bandKey(sig, b * this.o.rows, this.o.rows);
      const other = this.buckets[b]!.get(key);
      if (other === undefined) { this.buckets[b]!.set(key, d); continue; }
      if (checked.has(other)) continue;
      checked.add(other);
      if (estimateJaccard(sig, this.sigs[other]!) >= this.o.threshold) {
        this.pairs++;
        this.union(d, other);
      }
    }
    return d;
  }

  find(d: number): number {
    let r = d;
    while (this.parent[r] !== r) r = this.parent[r]!;
    while (this.parent[d] !== r) { const next = this.parent[d]!; this.parent[d] = r; d = next; }
    return r;
  }

  private union(a: number, b: number): void {
    const ra = this.find(a), rb = this.find(b);
    // The smaller number (earlier document) becomes the root: it is the one kept.
    if (ra < rb) this.parent[rb] = ra; else if (rb < ra) this.parent[ra] = rb;
  }

  /** Clusters of two or more documents: root (kept, the earliest) -> members in input order. */
  clusters(): Map<number, number[]> {
    const out = new Map<number, number[]>();
    for (let d = 0; d < this.parent.length; d++) {
      const r = this.find(d);
      let m = out.get(r);
      if (m === undefined) out.set(r, (m = []));
      m.push(d);
    }
    for (const [r, m] of out) if (m.length < 2) out.delete(r);
    return out;
  }
}

/** 52-bit key of `rows` signature values starting at `from` (two 32-bit hashes combined). */
function bandKey(sig: Uint32Array, from: number, rows: number): number {
  let a = 0x2545f491, b = 0x6c8e9cf5;
  for (let i = from; i < from + rows; i++) {
    a = Math.imul(a ^ sig[i]!, 0x9e3779b1); a ^= a >>> 15;
    b = Math.imul(b ^ sig[i]!, 0x85ebca77); b ^= b >>> 13;
  }
  return (fmix32(a) >>> 12) * 4294967296 + fmix32(b);
}
