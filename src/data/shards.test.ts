// Tests of token shards: exact round trip, atomic commit, and refusal of damaged or foreign shards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, readdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BpeTokenizer } from './tokenizer.js';
import { readShard, readShardSet, ShardFormatError, ShardWriter, writeShard, dtypeFor, HEADER_BYTES } from './shards.js';
import { mobyDickText } from './bundled-corpora.js';

const hashA = 'a'.repeat(64), hashB = 'b'.repeat(64);

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'furnace-shards-'));
  try { fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
}

test('uint16 and uint32 shards round trip exactly, with the header fields', () => withDir((dir) => {
  const small = Int32Array.from({ length: 1000 }, (_, i) => (i * 7919) % 65536);
  const big = Int32Array.from({ length: 1000 }, (_, i) => i * 100_003);
  writeShard(join(dir, 'a.tok'), small, hashA, 'uint16');
  writeShard(join(dir, 'b.tok'), big, hashB, 'uint32');
  const a = readShard(join(dir, 'a.tok'));
  const b = readShard(join(dir, 'b.tok'), { tokenizerHash: hashB });
  assert.ok(a.tokens instanceof Uint16Array);
  assert.ok(b.tokens instanceof Uint32Array);
  assert.deepEqual([...a.tokens], [...small]);
  assert.deepEqual([...b.tokens], [...big]);
  assert.equal(a.header.count, 1000);
  assert.equal(a.header.tokenizerHash, hashA);
  assert.equal(readFileSync(join(dir, 'a.tok')).length, HEADER_BYTES + 2000);
  assert.equal(dtypeFor(65536), 'uint16');
  assert.equal(dtypeFor(65537), 'uint32');
  assert.throws(() => writeShard(join(dir, 'c.tok'), [70000], hashA, 'uint16'), /does not fit uint16/);
  assert.deepEqual(readdirSync(dir).sort(), ['a.tok', 'b.tok']);  // no temporary files left behind
}));

test('a truncated, corrupted or foreign shard is refused with the reason', () => withDir((dir) => {
  const p = join(dir, 'a.tok');
  writeShard(p, Int32Array.from({ length: 500 }, (_, i) => i), hashA, 'uint16');
  assert.throws(() => readShard(p, { tokenizerHash: hashB }), (e: unknown) => e instanceof ShardFormatError && /expected bbbb/.test(e.message));
  const bytes = readFileSync(p);
  bytes[HEADER_BYTES + 10]! ^= 1;
  writeFileSync(p, bytes);
  assert.throws(() => readShard(p), /payload sha256 does not match/);
  truncateSync(p, HEADER_BYTES + 100);
  assert.throws(() => readShard(p), /truncated or damaged/);
  writeFileSync(p, 'hello');
  assert.throws(() => readShard(p), /bad magic/);
}));

test('a shard set of real Moby-Dick tokens reads back as the same stream; no index means not committed', () => withDir((dir) => {
  const text = mobyDickText().slice(0, 200_000);
  const tok = BpeTokenizer.train(text, { vocabSize: 512 });
  const tokPath = join(dir, 'tok.json');
  tok.save(tokPath);
  const out = join(dir, 'shards');
  const w = new ShardWriter(out, tok.hash(), dtypeFor(tok.vocabSize), tokPath, 10_000);
  const paragraphs = text.split('\n\n');
  const expected: number[] = [];
  for (const p of paragraphs) { const ids = tok.encode(p + '\n\n'); w.add(ids); expected.push(...ids); }
  const index = w.finish([]);
  assert.ok(index.shards.length > 3, 'expected several shards');
  assert.equal(index.documents, paragraphs.length);
  const back = readShardSet(out);
  assert.equal(back.tokens.length, expected.length);
  assert.deepEqual([...back.tokens], expected);
  assert.equal(tok.decode(back.tokens), paragraphs.map((p) => p + '\n\n').join(''));
  assert.equal(BpeTokenizer.load(join(out, 'tokenizer.json')).hash(), tok.hash());
  unlinkSync(join(out, 'index.json'));
  assert.throws(() => readShardSet(out), /interrupted write leaves no index/);
}));
