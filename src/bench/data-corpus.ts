// A synthetic but real-text English corpus for benchmarks and tests: Moby-Dick passages as
// documents, plus exact copies, word-mutated near-duplicates and inserted PII.
import { writeFileSync } from 'node:fs';
import { mobyDickText } from '../data/bundled-corpora.js';

/** xorshift32, seeded: the same corpus on every run. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32; };
}

/** Moby-Dick cut into documents of about `target` characters at paragraph boundaries. */
export function mobyPassages(target = 4000): string[] {
  const paras = mobyDickText().split(/\n{2,}/);
  const docs: string[] = [];
  let cur: string[] = [], len = 0;
  for (const p of paras) {
    cur.push(p);
    len += p.length;
    if (len >= target) { docs.push(cur.join('\n\n')); cur = []; len = 0; }
  }
  if (cur.length > 0) docs.push(cur.join('\n\n'));
  return docs;
}

/** Replaces, deletes or inserts a share `rate` of the words of `text`. */
export function mutateWords(text: string, rate: number, rand: () => number): string {
  const words = text.split(' ');
  const out: string[] = [];
  for (const w of words) {
    const r = rand();
    if (r < rate / 3) continue;
    if (r < (2 * rate) / 3) { out.push('whale' + Math.floor(rand() * 1000)); continue; }
    out.push(w);
    if (r < rate) out.push('sea' + Math.floor(rand() * 1000));
  }
  return out.join(' ');
}

/**
 * Writes about `bytes` of JSONL: the book's passages first, then documents of ~30 sentences
 * drawn at random from the whole book (unique texts, so later stages see real work), with 10%
 * word-mutated near-duplicates and 5% exact copies of earlier documents, and 5% with PII added.
 */
export function writeBenchCorpus(path: string, bytes: number, seed: number) {
  const rand = rng(seed);
  const passages = mobyPassages();
  const sentences = mobyDickText().replace(/\s+/g, ' ').split(/(?<=[.!?]) (?=[A-Z])/);
  const texts: string[] = [];
  const lines: string[] = [];
  let size = 0, near = 0, exact = 0;
  while (size < bytes) {
    const i = texts.length;
    const r = rand();
    let text: string;
    if (i < passages.length) text = passages[i]!;
    else if (r < 0.1) { text = mutateWords(texts[Math.floor(rand() * i)]!, 0.02, rand); near++; }
    else if (r < 0.15) { text = texts[Math.floor(rand() * i)]!; exact++; }
    else text = Array.from({ length: 30 }, () => sentences[Math.floor(rand() * sentences.length)]!).join(' ');
    if (r > 0.95) text = text.replace(/\.\s/, `. Write to ishmael${i}@pequod.example.com or call (212) 555-${String(1000 + (i % 9000))}. `);
    texts.push(text);
    const line = JSON.stringify({ id: `doc${i}`, text, url: `https://example.com/${i}` }) + '\n';
    lines.push(line);
    size += Buffer.byteLength(line);
  }
  writeFileSync(path, lines.join(''));
  return { docs: texts.length, bytes: size, nearDuplicates: near, exactDuplicates: exact };
}
