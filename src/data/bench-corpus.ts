// A synthetic but real-text English corpus for benchmarks and tests: Moby-Dick passages as
// documents, plus exact copies, word-mutated near-duplicates and inserted PII.
import { writeFileSync } from 'node:fs';
import { mobyDickText } from './bundled-corpora.js';

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

/** Writes about `bytes` of JSONL; returns what it holds. */
export function writeBenchCorpus(path: string, bytes: number, seed: number) {
  const rand = rng(seed);
  const passages = mobyPassages();
  const lines: string[] = [];
  let size = 0, docs = 0, near = 0, exact = 0;
  while (size < bytes) {
    for (const p of passages) {
      let text = p;
      const r = rand();
      if (r < 0.1) { text = mutateWords(p, 0.05, rand); near++; }
      else if (r < 0.15) exact++;
      else if (r < 0.2) text = p.replace(/\.\s/, `. Write to ishmael${docs}@pequod.example.com or call (212) 555-${String(1000 + (docs % 9000))}. `);
      const line = JSON.stringify({ id: `doc${docs}`, text, url: `https://example.com/${docs}` }) + '\n';
      lines.push(line);
      size += Buffer.byteLength(line);
      docs++;
      if (size >= bytes) break;
    }
  }
  writeFileSync(path, lines.join(''));
  return { docs, bytes: size, nearDuplicates: near, exactDuplicates: exact };
}
