// Tests of MinHash-LSH near-dedup on mutated Moby-Dick passages: the estimate tracks the true
// Jaccard similarity, recall >= 0.9 at J >= 0.8, <= 1% removed at J <= 0.5, transitive clusters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MINHASH, estimateJaccard, LshIndex, shingleHashes, signature } from './minhash.js';
import { mobyPassages, mutateWords, rng } from '../bench/data-corpus.js';
import { tangPoems } from './bundled-corpora.js';

const O = DEFAULT_MINHASH;
const passages = mobyPassages(3000).slice(0, 300);
const sig = (t: string, lang: 'en' | 'zh' = 'en') => signature(shingleHashes(t, lang, O), O);

/** Exact Jaccard of the word 5-gram sets, computed on strings (the ground truth). */
function trueJaccard(a: string, b: string, n = 5): number {
  const grams = (t: string) => {
    const w = t.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
    const s = new Set<string>();
    for (let i = 0; i + n <= w.length; i++) s.add(w.slice(i, i + n).join(' '));
    return s;
  };
  const A = grams(a), B = grams(b);
  let inter = 0;
  for (const g of A) if (B.has(g)) inter++;
  return inter / (A.size + B.size - inter);
}

test('the signature agreement estimates the true Jaccard similarity (mean error < 0.04)', () => {
  const rand = rng(3);
  let err = 0, n = 0;
  for (const p of passages.slice(0, 120)) {
    const m = mutateWords(p, 0.01 + rand() * 0.15, rand);
    err += Math.abs(estimateJaccard(sig(p), sig(m)) - trueJaccard(p, m));
    n++;
  }
  assert.ok(err / n < 0.04, `mean absolute error ${err / n}`);
  assert.equal(estimateJaccard(sig(passages[0]!), sig(passages[0]!)), 1);
  assert.ok(estimateJaccard(sig(passages[0]!), sig(passages[1]!)) < 0.1);
});

test('14 x 8 LSH: recall >= 0.9 for pairs at J >= 0.8, at most 1% removed at J <= 0.5', () => {
  const rand = rng(11);
  let high = 0, highFound = 0, low = 0, lowFound = 0;
  const index = new LshIndex(O);
  const origin: number[] = [];
  for (const p of passages) origin.push(index.add(sig(p)));
  passages.forEach((p, i) => {
    for (const rate of [0.004 + rand() * 0.02, 0.08 + rand() * 0.2]) {
      const m = mutateWords(p, rate, rand);
      const j = trueJaccard(p, m);
      const d = index.add(sig(m));
      const found = index.find(d) === index.find(origin[i]!);
      if (j >= 0.8) { high++; if (found) highFound++; }
      if (j <= 0.5) { low++; if (found) lowFound++; }
    }
  });
  assert.ok(high >= 200 && low >= 200, `need both kinds of pairs: ${high} high, ${low} low`);
  assert.ok(highFound / high >= 0.9, `recall ${highFound}/${high} at J >= 0.8`);
  assert.ok(lowFound / low <= 0.01, `false removals ${lowFound}/${low} at J <= 0.5`);
  // Different passages of the book never cluster together.
  const roots = new Set(origin.map((d) => index.find(d)));
  assert.equal(roots.size, passages.length);
});

test('clusters are transitive: A ~ B and B ~ C put A, B, C together, kept = the earliest', () => {
  const rand = rng(5);
  const a = passages[10]!;
  const b = mutateWords(a, 0.01, rand);
  const c = mutateWords(b, 0.01, rand);
  const index = new LshIndex(O);
  const other = index.add(sig(passages[20]!));
  const ia = index.add(sig(a)), ib = index.add(sig(b)), ic = index.add(sig(c));
  assert.equal(index.find(ic), ia);
  assert.equal(index.find(ib), ia);
  assert.equal(index.find(other), other);
  const clusters = index.clusters();
  assert.equal(clusters.size, 1);
  assert.deepEqual(clusters.get(ia), [ia, ib, ic]);
});

test('Chinese shingles are characters: a poem with one character changed is a near duplicate', () => {
  const poems = tangPoems(300).map((p) => p.text).filter((t) => t.length >= 48);
  const index = new LshIndex(O);
  let found = 0;
  for (const t of poems.slice(0, 60)) {
    const i = index.add(sig(t, 'zh'));
    const chars = [...t];
    chars[Math.floor(chars.length / 2)] = '□';
    if (index.find(index.add(sig(chars.join(''), 'zh'))) === i) found++;
  }
  assert.ok(found >= 54, `${found}/60 one-character variants found`);
  assert.equal(index.clusters().size, found);
});
