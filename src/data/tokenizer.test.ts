// Tests of the byte-level BPE tokenizer: lossless round trips, a naive reference, the HF layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BpeTokenizer, TokenizerFormatError } from './tokenizer.js';
import { applyMerge, trainMerges } from './bpe-train.js';
import { BYTE_TO_CHAR } from './byte-level.js';
import { compilePattern, pretokenize, PRETOKENIZE_PATTERN, HAN_CHUNK } from './pretokenize.js';
import { mobyDickText, tangPoems } from './bundled-corpora.js';

const moby = mobyDickText();
const poems = tangPoems(400);
const zhText = poems.map((p) => p.text).join('\n\n');
const mixed = moby.slice(0, 200_000) + '\n' + zhText.slice(0, 30_000);
const tok = BpeTokenizer.train(mixed, { vocabSize: 1024 });

/** xorshift32: a small seeded generator, so every property test run sees the same cases. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32; };
}

/** A random well-formed string: ASCII, whitespace, Latin, Han, Hangul, emoji (astral), combining marks. */
function randomString(rand: () => number, maxLen: number): string {
  const pools: [number, number][] = [[0x20, 0x7e], [0x00, 0x1f], [0x80, 0x24f], [0x4e00, 0x9fff], [0xac00, 0xd7a3],
    [0x1f300, 0x1faff], [0x300, 0x36f], [0x20000, 0x2a6df], [0xe000, 0xffff], [0x10000, 0x10ffff]];
  const ws = [' ', '  ', '\n', '\r\n', '\t', '\u00a0', '\u3000', '\u2028'];
  const len = Math.floor(rand() * maxLen);
  let s = '';
  for (let i = 0; i < len; i++) {
    if (rand() < 0.15) { s += ws[Math.floor(rand() * ws.length)]; continue; }
    const [lo, hi] = pools[Math.floor(rand() * pools.length)]!;
    let cp = lo + Math.floor(rand() * (hi - lo + 1));
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x41;  // lone surrogates are not UTF-8
    s += String.fromCodePoint(cp);
  }
  return s;
}

test('GPT-2 byte alphabet: space is Ġ, newline is Ċ, printable ASCII is itself, 256 distinct', () => {
  assert.equal(BYTE_TO_CHAR[32], 'Ġ');
  assert.equal(BYTE_TO_CHAR[10], 'Ċ');
  assert.equal(BYTE_TO_CHAR[65], 'A');
  assert.equal(new Set(BYTE_TO_CHAR).size, 256);
});

test('pre-tokenization covers every code point: the pieces concatenate back to the input', () => {
  const re = compilePattern(PRETOKENIZE_PATTERN);
  const rand = rng(7);
  for (let i = 0; i < 300; i++) {
    const s = randomString(rand, 200);
    assert.equal([...pretokenize(s, re)].join(''), s);
  }
  assert.deepEqual([...pretokenize("Call me Ishmael. It's 1851!", re)], ['Call', ' me', ' Ishmael', '.', ' It', "'s", ' 1851', '!']);
});

test('Han runs are cut into chunks of at most HAN_CHUNK characters', () => {
  const re = compilePattern(PRETOKENIZE_PATTERN);
  const pieces = [...pretokenize('秦川雄帝宅函谷壯皇居，綺殿千尋起', re)];
  assert.deepEqual(pieces, ['秦川雄帝', '宅函谷壯', '皇居', '，', '綺殿千尋', '起']);
  for (const p of pieces) assert.ok([...p].length <= HAN_CHUNK);
});

test('round trip on random UTF-8: astral planes, controls, CJK, combining marks (property test)', () => {
  const rand = rng(12345);
  for (let i = 0; i < 500; i++) {
    const s = randomString(rand, 120);
    const ids = tok.encode(s);
    for (const id of ids) assert.ok(id >= 0 && id < tok.vocabSize);
    assert.equal(tok.decode(ids), s);
  }
});

test('Chinese poetry: held-out poems round trip, and merges form multi-character Han tokens', () => {
  const zhTok = BpeTokenizer.train(poems.slice(0, 300).map((p) => p.text), { vocabSize: 2048 });
  const heldOut = poems.slice(300).map((p) => p.text).join('\n');
  const ids = zhTok.encode(heldOut);
  assert.equal(zhTok.decode(ids), heldOut);
  const bytes = Buffer.byteLength(heldOut);
  assert.ok(bytes / ids.length > 2.0, `expected > 2 bytes per token on held-out poems, got ${bytes / ids.length}`);
  let multiHan = 0;
  for (let id = 256; id < zhTok.vocabSize; id++) {
    const s = new TextDecoder().decode(zhTok.bytesOf(id));
    const han = s.match(/\p{sc=Han}/gu)?.length ?? 0;
    assert.ok(han <= HAN_CHUNK, `token ${JSON.stringify(s)} spans more than one Han chunk`);
    if (han >= 2) multiHan++;
  }
  assert.ok(multiHan >= 10, `expected multi-character Han tokens, got ${multiHan}`);
});

test('Moby-Dick: round trip of the whole book and > 3 bytes per token at vocabulary 4096', () => {
  const t = BpeTokenizer.train(moby, { vocabSize: 4096 });
  assert.equal(t.vocabSize, 4096);
  const ids = t.encode(moby);
  assert.equal(t.decode(ids), moby);
  assert.ok(Buffer.byteLength(moby) / ids.length > 3, `bytes/token ${Buffer.byteLength(moby) / ids.length}`);
});

test('incremental training equals a naive recount-everything BPE on real text', () => {
  const re = compilePattern(PRETOKENIZE_PATTERN);
  const counts = new Map<string, number>();
  for (const w of pretokenize(moby.slice(0, 30_000), re)) counts.set(w, (counts.get(w) ?? 0) + 1);
  const fast = trainMerges(counts, 150, 2);
  // Reference: recount every pair in every word before each merge (Sennrich et al. 2016, Alg. 1).
  let words: (readonly [Int32Array, number])[] = [...counts].map(([w, c]) => [Int32Array.from(Buffer.from(w, 'utf8')), c] as const);
  const naive: [number, number][] = [];
  for (let m = 0; m < 150; m++) {
    const pc = new Map<string, number>();
    for (const [w, c] of words) for (let i = 0; i + 1 < w.length; i++) {
      const k = `${w[i]},${w[i + 1]}`;
      pc.set(k, (pc.get(k) ?? 0) + c);
    }
    let best: [number, number] | undefined, bestC = 1;
    for (const [k, c] of pc) {
      const [a, b] = k.split(',').map(Number) as [number, number];
      if (c > bestC || (c === bestC && best !== undefined && a * 2 ** 21 + b < best[0] * 2 ** 21 + best[1])) { best = [a, b]; bestC = c; }
    }
    if (best === undefined) break;
    naive.push(best);
    words = words.map(([w, c]) => [applyMerge(w, best[0], best[1], 256 + m), c] as const);
  }
  assert.deepEqual(fast.map((m) => [...m]), naive);
});

test('the heap merge (long words) equals the scan merge on random and repetitive words', () => {
  const rand = rng(99);
  const samples = [' '.repeat(1000), 'ab'.repeat(300), moby.slice(5000, 6000), zhText.slice(0, 400)];
  for (let i = 0; i < 100; i++) samples.push(randomString(rand, 300));
  for (const s of samples) {
    const word = Int32Array.from(Buffer.from(s, 'utf8'));
    assert.deepEqual(tok.mergeWithHeap(word), tok.mergeByScan(word));
  }
  const long = '='.repeat(50_000);  // one pre-token: must not take quadratic time, must round trip
  assert.equal(tok.decode(tok.encode(long)), long);
});

test('vocabulary size is respected; minFrequency stops merging early; too small is refused', () => {
  assert.equal(BpeTokenizer.train(moby.slice(0, 50_000), { vocabSize: 300 }).vocabSize, 300);
  assert.equal(BpeTokenizer.train(moby.slice(0, 50_000), { vocabSize: 256 }).vocabSize, 256);
  const rare = BpeTokenizer.train('abc abd', { vocabSize: 1000, minFrequency: 2 });
  assert.equal(rare.vocabSize, 256 + 1);  // pre-tokens 'abc', ' abd': only 'ab' occurs twice
  assert.throws(() => BpeTokenizer.train('x', { vocabSize: 255 }), /vocabSize/);
});

test('training is deterministic: same text, same tokenizer.json byte for byte', () => {
  const a = BpeTokenizer.train(mixed, { vocabSize: 700 });
  const b = BpeTokenizer.train([mixed], { vocabSize: 700 });
  assert.equal(a.hash(), b.hash());
  assert.ok(JSON.stringify(a.toJSON()) === JSON.stringify(b.toJSON()), 'tokenizer.json differs between two runs');
});

test('Hugging Face tokenizer.json layout: fields, merges in the vocab, save/load round trip', () => {
  const j = tok.toJSON() as Record<string, any>;
  assert.equal(j['model'].type, 'BPE');
  assert.equal(Object.keys(j['model'].vocab).length, tok.vocabSize);
  assert.equal(j['model'].merges.length, tok.vocabSize - 256);
  assert.equal(j['pre_tokenizer'].type, 'Sequence');
  assert.equal(j['pre_tokenizer'].pretokenizers[0].type, 'Split');
  assert.equal(j['pre_tokenizer'].pretokenizers[0].pattern.Regex, PRETOKENIZE_PATTERN);
  assert.equal(j['pre_tokenizer'].pretokenizers[1].type, 'ByteLevel');
  assert.equal(j['decoder'].type, 'ByteLevel');
  assert.equal(j['model'].vocab['Ġ'], 32);
  for (const m of j['model'].merges as string[]) {
    const [l, r] = m.split(' ');
    assert.ok(j['model'].vocab[l! + r!] !== undefined, `merge ${m} has no product in the vocab`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'furnace-tok-'));
  try {
    const path = join(dir, 'tokenizer.json');
    tok.save(path);
    const back = BpeTokenizer.load(path);
    const sample = moby.slice(100_000, 120_000) + zhText.slice(0, 2000);
    assert.deepEqual(back.encode(sample), tok.encode(sample));
    assert.equal(back.hash(), tok.hash());
    // Newer tokenizers write merges as [left, right] pairs; both spellings load the same.
    const pairs = structuredClone(j);
    pairs['model'].merges = (j['model'].merges as string[]).map((m) => m.split(' '));
    assert.deepEqual(BpeTokenizer.fromJSON(pairs).encode(sample), tok.encode(sample));
    writeFileSync(path, '{"model": 3}');
    assert.throws(() => BpeTokenizer.load(path), /tokenizer\.json: model: expected an object/);
    assert.ok(readFileSync(path, 'utf8').length > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fromJSON refuses malformed files with the field named', () => {
  const good = tok.toJSON() as Record<string, any>;
  const bad = (edit: (j: Record<string, any>) => void) => { const j = structuredClone(good); edit(j); return j; };
  const cases: [Record<string, any>, RegExp][] = [
    [bad((j) => { j['model'].type = 'WordPiece'; }), /model\.type/],
    [bad((j) => { j['model'].merges[3] = 'Ġ zzzz'; }), /model\.merges\[3\]/],
    [bad((j) => { j['model'].merges = 'x'; }), /model\.merges: expected an array/],
    [bad((j) => { j['model'].vocab['Ġ'] = 1; }), /used twice/],
    [bad((j) => { delete j['model'].vocab['A']; j['model'].vocab['Ġ'] = 32; }), /model\.vocab/],
    [bad((j) => { j['pre_tokenizer'] = { type: 'Whitespace' }; }), /pre_tokenizer/],
    [bad((j) => { j['pre_tokenizer'].pretokenizers[0].pattern.Regex = '(?<=a'; }), /pattern\.Regex/],
  ];
  for (const [j, re] of cases) assert.throws(() => BpeTokenizer.fromJSON(j), (e: unknown) => e instanceof TokenizerFormatError && re.test(e.message));
  assert.throws(() => tok.decode([tok.vocabSize]), /outside the vocabulary/);
});
