// CLI tests of `furnace tokenizer train`, `furnace data tokenize` and `furnace data clean`:
// JSON results, files a trainer can read, and exit code 2 with one line for bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readShardSet } from '../../data/shards.js';
import { BpeTokenizer } from '../../data/tokenizer.js';
import { mobyDickChapter } from '../../data/bundled-corpora.js';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'main.js');

function furnace(...args: string[]) {
  const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json: last.startsWith('{') ? JSON.parse(last) as Record<string, unknown> : undefined };
}

test('tokenizer train -> data tokenize -> shards decode back to the text', () => {
  const dir = mkdtempSync(join(tmpdir(), 'furnace-cli-data-'));
  try {
    const text = [1, 2, 3].map(mobyDickChapter).join('\n\n');
    writeFileSync(join(dir, 'book.txt'), text);
    const tok = join(dir, 'tok.json');
    const t = furnace('tokenizer', 'train', join(dir, 'book.txt'), '--vocab', '400', '--out', tok, '--json');
    assert.equal(t.code, 0, t.stderr);
    assert.equal(t.json?.['vocab_size'], 400);
    const d = furnace('data', 'tokenize', join(dir, 'book.txt'), '--tokenizer', tok, '--out', join(dir, 'shards'), '--split', 'file', '--json');
    assert.equal(d.code, 0, d.stderr);
    const { tokens, index } = readShardSet(join(dir, 'shards'));
    assert.equal(d.json?.['tokens'], tokens.length);
    assert.equal(index.documents, 1);
    assert.equal(BpeTokenizer.load(tok).decode(tokens), text.replace(/\n$/, '') + '\n\n');
    const c = furnace('data', 'clean', join(dir, 'book.txt'), '--out', join(dir, 'clean'), '--json');
    assert.equal(c.code, 0, c.stderr);
    assert.equal(typeof c.json?.['docs_in'], 'number');
    assert.ok(readFileSync(join(dir, 'clean', 'summary.txt'), 'utf8').includes('near-duplicate clusters'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad input: one line naming the problem, exit code 2, no stack trace', () => {
  const dir = mkdtempSync(join(tmpdir(), 'furnace-cli-data-'));
  try {
    writeFileSync(join(dir, 'bad-tok.json'), '{"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}}');
    writeFileSync(join(dir, 'in.txt'), 'some text');
    const cases: [string[], RegExp][] = [
      [['data', 'clean', join(dir, 'missing.jsonl'), '--out', join(dir, 'o')], /missing\.jsonl: no such file/],
      [['data', 'clean', join(dir, 'in.txt'), '--out', join(dir, 'o'), '--lang', 'fr'], /--lang/],
      [['data', 'clean', join(dir, 'in.txt'), '--out', join(dir, 'o'), '--bands', 'x'], /--bands/],
      [['data', 'clean', join(dir, 'in.txt')], /--out DIR is required/],
      [['tokenizer', 'train', join(dir, 'in.txt'), '--vocab', '100', '--out', join(dir, 't.json')], /--vocab: must be an integer in \[256/],
      [['data', 'tokenize', join(dir, 'in.txt'), '--tokenizer', join(dir, 'bad-tok.json'), '--out', join(dir, 's')], /model\.vocab: byte 0/],
      [['data', 'frobnicate'], /unknown subcommand 'frobnicate' \(choose clean or tokenize\)/],
    ];
    for (const [args, re] of cases) {
      const r = furnace(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
