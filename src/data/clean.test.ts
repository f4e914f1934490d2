// End-to-end tests of `data clean` on real text: chinese-poetry duplicates and □ placeholders,
// Moby-Dick chapters with planted copies, near-duplicates and PII, and bad-input accounting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanCorpus, DEFAULT_CLEAN, type CleanReport } from './clean.js';
import { writeReport, type Manifest } from './report.js';
import { normalizeText, loadT2S } from './normalize.js';
import { mobyDickChapter, mobyDickDir, tangPoems } from './bundled-corpora.js';
import { mutateWords, rng } from '../bench/data-corpus.js';

function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'furnace-clean-'));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

const readJsonl = (p: string) => readFileSync(p, 'utf8').trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
const removedTotal = (r: CleanReport) => r.stages.reduce((s, st) => s + Object.values(st.removed).reduce((a, b) => a + b, 0), 0);

test('chinese-poetry: exact duplicate poems collapse to their first copy, □ poems are removed', () => withDir(async (dir) => {
  // poet.tang.0..3000 repeat many poems in-file; poet.tang.49000..51000 hold many □ placeholders.
  const all = [...tangPoems(4000, 0), ...tangPoems(3000, 49)];
  const groups = new Map<string, typeof all>();
  for (const p of all) {
    const key = normalizeText(p.text);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(p);
  }
  const clean = (t: string) => !t.includes('□') && !t.includes('{');
  const dupGroups = [...groups.values()].filter((g) => g.length > 1 && clean(g[0]!.text)).slice(0, 30);
  // A □ in a poem of under 400 characters is above the default placeholder share (0.2%).
  const boxes = all.filter((p) => p.text.includes('□') && p.text.length < 400 && groups.get(normalizeText(p.text))!.length === 1).slice(0, 40);
  const singles = all.filter((p) => clean(p.text) && groups.get(normalizeText(p.text))!.length === 1).slice(0, 150);
  assert.ok(dupGroups.length >= 20 && boxes.length >= 30, 'the chosen files hold duplicates and placeholders');
  // Interleave so that copies are far apart in the input.
  const docs = [...dupGroups.map((g) => g[0]!), ...singles.slice(0, 75), ...boxes, ...dupGroups.flatMap((g) => g.slice(1)), ...singles.slice(75)];
  const input = join(dir, 'poems.jsonl');
  writeFileSync(input, docs.map((p) => JSON.stringify({ id: p.id, text: p.text, author: p.author })).join('\n') + '\n');
  const out = join(dir, 'out');
  const r = await cleanCorpus(input, out, DEFAULT_CLEAN);
  const expectedDups = dupGroups.reduce((s, g) => s + g.length - 1, 0);
  assert.equal(r.languages.zh, docs.length);
  assert.equal(r.stages[2]!.removed['exact_duplicate'], expectedDups);
  assert.equal(r.stages[3]!.removed['placeholder_chars'], boxes.length);
  const kept = readJsonl(join(out, 'cleaned.jsonl'));
  const keptIds = new Set(kept.map((d) => d['id']));
  for (const g of dupGroups) for (const later of g.slice(1)) assert.ok(!keptIds.has(later.id), `later copy ${later.id} kept`);
  for (const d of kept) assert.ok(!String(d['text']).includes('□'));
  assert.ok(kept.every((d) => typeof d['author'] === 'string'), 'extra fields are carried through');
  const sample = r.samples['exact_duplicate']![0]!;
  assert.ok(dupGroups.some((g) => g[0]!.id === sample.duplicate_of && g.slice(1).some((p) => p.id === sample.id)));
  assert.ok(singles.filter((p) => keptIds.has(p.id)).length >= 0.7 * singles.length, 'most ordinary poems survive');
  assert.equal(r.docs_out + removedTotal(r), r.docs_in);
}));

test('--t2s: a Traditional poem and its Simplified copy become exact duplicates', () => withDir(async (dir) => {
  const t2s = await loadT2S();
  const poems = tangPoems(120).filter((p) => p.text.length > 40 && t2s(p.text) !== p.text).slice(0, 20);
  const input = join(dir, 'mixed.jsonl');
  const lines = [...poems.map((p) => ({ id: p.id, text: p.text })), ...poems.map((p) => ({ id: `s-${p.id}`, text: t2s(p.text) }))];
  writeFileSync(input, lines.map((l) => JSON.stringify(l)).join('\n'));
  const base = { ...DEFAULT_CLEAN, quality: null, nearDedup: null };
  const off = await cleanCorpus(input, join(dir, 'a'), base);
  const on = await cleanCorpus(input, join(dir, 'b'), { ...base, t2s: true });
  assert.equal(off.stages[2]!.removed['exact_duplicate'] ?? 0, 0);
  assert.equal(on.stages[2]!.removed['exact_duplicate'], poems.length);
  const kept = readJsonl(join(dir, 'b', 'cleaned.jsonl'));
  assert.equal(kept.length, poems.length);
  assert.ok(kept.every((d) => t2s(String(d['text'])) === d['text']), 'output is Simplified');
}));

test('Moby-Dick chapters: all kept; a planted copy, a near-duplicate, boilerplate and PII are handled', () => withDir(async (dir) => {
  const folder = join(dir, 'book');
  mkdirSync(folder);
  for (let n = 1; n <= 30; n++) copyFileSync(join(mobyDickDir(), `chapter_${n}.txt`), join(folder, `chapter_${String(n).padStart(3, '0')}.txt`));
  copyFileSync(join(mobyDickDir(), 'chapter_1.txt'), join(folder, 'zz_copy_of_1.txt'));
  writeFileSync(join(folder, 'zz_edited_2.txt'), mutateWords(mobyDickChapter(2), 0.01, rng(1)));
  writeFileSync(join(folder, 'zz_lorem.txt'), 'Lorem ipsum dolor sit amet. '.repeat(30));
  writeFileSync(join(folder, 'zz_contact.txt'), mobyDickChapter(41) + '\n\nFor news of the whale, mail ahab@pequod.org (host 192.168.0.7) or call +1 508 555 0199 today.\n');
  const out = join(dir, 'out');
  const r = await cleanCorpus(folder, out, DEFAULT_CLEAN);
  const kept = readJsonl(join(out, 'cleaned.jsonl'));
  const ids = kept.map((d) => d['id']);
  for (let n = 1; n <= 30; n++) assert.ok(ids.includes(`chapter_${String(n).padStart(3, '0')}.txt`), `chapter ${n} removed`);
  assert.deepEqual(r.samples['exact_duplicate']!.map((s) => [s.id, s.duplicate_of]), [['zz_copy_of_1.txt', 'chapter_001.txt']]);
  assert.deepEqual(r.near_dedup.items, [{ kept: 'chapter_002.txt', removed: ['zz_edited_2.txt'] }]);
  assert.ok(Object.keys(r.stages[3]!.removed).length === 1 && r.samples[Object.keys(r.stages[3]!.removed)[0]!]![0]!.id === 'zz_lorem.txt');
  const contact = kept.find((d) => d['id'] === 'zz_contact.txt');
  assert.match(String(contact?.['text']), /mail <EMAIL> \(host <IP_ADDRESS>\) or call <PHONE_NUMBER> today/);
  assert.deepEqual(r.pii, { email: 1, ipv4: 1, ipv6: 0, phone: 1 });
  assert.equal(kept.length, 31);
  assert.equal(r.docs_out + removedTotal(r), r.docs_in);
}));

test('bad input is counted with line numbers, and report, summary and manifest describe the run', () => withDir(async (dir) => {
  const input = join(dir, 'in.jsonl');
  const good = (i: number) => JSON.stringify({ id: `ch${i}`, text: mobyDickChapter(i) });
  const lines = [good(1), '{"id": "x", "text": ', good(2), '', JSON.stringify({ id: 'y', title: 'no text' }), good(3)];
  writeFileSync(input, Buffer.concat([Buffer.from(lines.join('\n') + '\n'), Buffer.from([0x7b, 0x22, 0x74, 0x65, 0x78, 0x74, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d, 0x0a])]));
  const out = join(dir, 'out');
  const r = await cleanCorpus(input, out, DEFAULT_CLEAN);
  assert.deepEqual(r.bad_input.items.map((b) => [b.line, b.reason]), [[2, 'malformed_json'], [4, 'empty'], [5, 'missing_text'], [7, 'invalid_utf8']]);
  assert.equal(r.docs_in, 7);
  assert.equal(r.docs_out, 3);
  assert.equal(r.docs_out + removedTotal(r), r.docs_in);
  const m: Manifest = writeReport(r, DEFAULT_CLEAN, ['furnace', 'data', 'clean', input]);
  const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
  assert.deepEqual(m.inputs, [{ path: input, bytes: readFileSync(input).length, sha256: sha(input) }]);
  assert.equal(m.outputs[0]!.sha256, sha(join(out, 'cleaned.jsonl')));
  const onDisk = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as Manifest;
  assert.deepEqual(onDisk.options.nearDedup, DEFAULT_CLEAN.nearDedup);
  assert.match(onDisk.furnace_version, /^\d+\.\d+\.\d+/);
  const summary = readFileSync(join(out, 'summary.txt'), 'utf8');
  assert.match(summary, /in\.jsonl:2: malformed_json/);
  assert.match(summary, /in\.jsonl:7: invalid_utf8/);
  assert.deepEqual((JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as CleanReport).bad_input.by_reason,
    { malformed_json: 1, empty: 1, missing_text: 1, invalid_utf8: 1 });
}));
