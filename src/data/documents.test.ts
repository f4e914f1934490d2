// Tests of document reading: JSONL fields kept, .txt splitting, and bad input counted by line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDocuments, type BadInput, type SourceFile } from './documents.js';
import { readCorpus } from './corpus.js';
import { mobyDickText } from './bundled-corpora.js';
import { InputError } from '../util/errors.js';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'furnace-docs-'));
  try { fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
}

test('JSONL: ids and extra fields kept; malformed, non-UTF-8, empty and huge lines reported by line', () => withDir((dir) => {
  const p = join(dir, 'in.jsonl');
  const lines = [
    Buffer.from(JSON.stringify({ id: 'a', text: 'first', url: 'http://x', meta: { n: 1 } })),
    Buffer.from('{"id": "b", "text": "unterminated'),
    Buffer.from([0x7b, 0x22, 0x74, 0x65, 0x78, 0x74, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),  // {"text":"\xff\xfe"}
    Buffer.from(''),
    Buffer.from(JSON.stringify({ id: 'c', text: '   ' })),
    Buffer.from(JSON.stringify({ id: 'd', body: 'no text field' })),
    Buffer.from(JSON.stringify({ text: 'x'.repeat(5000) })),
    Buffer.from(JSON.stringify({ text: 'last, no id' })),
  ];
  writeFileSync(p, Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\r\n')])));
  const bad: BadInput[] = [];
  const sources: SourceFile[] = [];
  const docs = [...readDocuments(p, { maxDocBytes: 1000, onBad: (b) => bad.push(b), onSource: (s) => sources.push(s) })];
  assert.deepEqual(docs.map((d) => d.id), ['a', 'in.jsonl:8']);
  assert.deepEqual(docs[0]!.fields, { url: 'http://x', meta: { n: 1 } });
  assert.deepEqual(bad.map((b) => [b.line, b.reason]), [[2, 'malformed_json'], [3, 'invalid_utf8'], [4, 'empty'], [5, 'empty'], [6, 'missing_text'], [7, 'too_large']]);
  assert.equal(sources.length, 1);
  assert.match(sources[0]!.sha256, /^[0-9a-f]{64}$/);
}));

test('a line far larger than the read chunk is skipped without being held, and reading goes on', () => withDir((dir) => {
  const p = join(dir, 'huge.txt');
  writeFileSync(p, 'before\n' + 'y'.repeat(9 << 20) + '\nafter\n');
  const bad: BadInput[] = [];
  const docs = [...readDocuments(p, { split: 'line', maxDocBytes: 1 << 20, onBad: (b) => bad.push(b) })];
  assert.deepEqual(docs.map((d) => d.text), ['before', 'after']);
  assert.deepEqual(bad.map((b) => [b.line, b.reason]), [[2, 'too_large']]);
}));

test('.txt split into paragraphs by default; a folder gives one document per file in sorted order', () => withDir((dir) => {
  writeFileSync(join(dir, 'one.txt'), 'para one\nstill one\n\n\npara two\n');
  const docs = [...readDocuments(join(dir, 'one.txt'), { onBad: () => {} })];
  assert.deepEqual(docs.map((d) => [d.id, d.text]), [['one.txt:1', 'para one\nstill one'], ['one.txt:5', 'para two']]);
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'sub', 'b.txt'), 'B');
  writeFileSync(join(dir, 'sub', 'a.txt'), 'A');
  writeFileSync(join(dir, 'sub', 'skip.bin'), 'binary');
  mkdirSync(join(dir, 'sub', 'c.txt'));  // a folder named like a document
  symlinkSync(join(dir, 'nowhere.txt'), join(dir, 'sub', 'dangling.txt'));
  const bad: BadInput[] = [];
  const folder = [...readDocuments(join(dir, 'sub'), { onBad: (b) => bad.push(b) })];
  assert.deepEqual(folder.map((d) => [d.id, d.text]), [['a.txt', 'A'], ['b.txt', 'B']]);
  assert.deepEqual(bad.map((b) => [b.source, b.reason]), [['dangling.txt', 'unreadable']]);
}));

test('readCorpus: the bundled Moby-Dick by default, folders joined in order, bad paths named', () => withDir((dir) => {
  const moby = readCorpus();
  assert.equal(moby, mobyDickText().replace(/\n$/, ''));  // lines are re-joined: the final newline goes
  assert.ok(moby.length > 1_000_000 && moby.startsWith('CHAPTER 1. Loomings.'));
  writeFileSync(join(dir, '2.txt'), 'second');
  writeFileSync(join(dir, '1.txt'), 'first');
  writeFileSync(join(dir, '3.jsonl'), '{"text": "third"}\n');
  assert.equal(readCorpus(dir), 'first\n\nsecond\n\nthird');
  const isUsage = (re: RegExp) => (e: unknown) => e instanceof InputError && re.test(e.message);
  assert.throws(() => readCorpus(join(dir, 'nope.txt')), isUsage(/nope\.txt: no such file/));
  writeFileSync(join(dir, 'empty.txt'), '  \n');
  assert.throws(() => readCorpus(join(dir, 'empty.txt')), isUsage(/empty\.txt: no text/));
  writeFileSync(join(dir, 'bad.jsonl'), '{"text": "ok"}\n{oops\n');
  assert.throws(() => readCorpus(join(dir, 'bad.jsonl')), isUsage(/bad\.jsonl:2: malformed json/));
}));
