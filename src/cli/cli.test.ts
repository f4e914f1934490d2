// The CLI as a user meets it: bad input gives one line and exit code 2; a run writes its
// outputs and its JSON result; eval and generate read the saved model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findMpirun } from '../comm/mpi-group.js';

const main = join(dirname(fileURLToPath(import.meta.url)), 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'furnace-cli-'));

function furnace(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', env: { ...process.env, CI: '1', FURNACE_CACHE: join(dir, 'cache') } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

const micro = { model: { vocab_size: 256, seq_len: 16, d_model: 16, n_layers: 1, n_heads: 2, d_ff: 32, n_experts: 2,
  top_k: 1, expert_d_ff: 16 }, train: { batch_size: 2, steps: 3, eval_every: 0, eval_batches: 1, log_every: 1 } };
const corpus = file('corpus.txt', 'Call me Ishmael. Some years ago, never mind how long precisely. '.repeat(40));

const bad: [string, string[], RegExp][] = [
  ['unknown config key', ['--config', file('k.json', JSON.stringify({ model: { d_modle: 8 } }))], /model\.d_modle: unknown key/],
  ['wrong type', ['--config', file('t.json', JSON.stringify({ train: { steps: 'ten' } }))], /train\.steps/],
  ['invalid JSON', ['--config', file('j.json', '{ nope')], /not valid JSON/],
  ['missing config file', ['--config', join(dir, 'none.json')], /--config: .*: no such file/],
  ['missing corpus', ['--corpus', join(dir, 'missing.txt')], /corpus: .*: no such file/],
  ['empty corpus', ['--corpus', file('empty.txt', '  \n')], /corpus: .*: no text in it/],
  ['corpus smaller than one batch', ['--config', file('m.json', JSON.stringify(micro)), '--corpus', file('small.txt', 'tiny text')], /smaller than one batch/],
  ['steps <= 0', ['--steps', '0'], /--steps: must be an integer in \[1, /],
  ['steps not a number', ['--steps', 'many'], /--steps: expected an integer/],
  ['heads not dividing width', ['--config', file('h.json', JSON.stringify({ model: { d_model: 10, n_heads: 4 } }))], /n_heads \(4\) must divide model\.d_model \(10\)/],
  ['top_k > experts', ['--config', file('e.json', JSON.stringify({ model: { n_experts: 2, top_k: 3 } }))], /top_k \(3\) exceeds model\.n_experts \(2\)/],
  ['unknown preset', ['--preset', 'huge'], /--preset: unknown preset 'huge'/],
  ['unknown position kind', ['--config', file('p.json', JSON.stringify({ model: { position: 'alibi' } }))], /model\.position/],
  ['unknown flag', ['--stepz', '3'], /stepz/],
  ['unknown backend', ['--backend', 'cuda'], /--backend: unknown backend 'cuda'/],
  ['a checkpoint that does not exist', ['--config', file('r.json', JSON.stringify(micro)), '--corpus', corpus, '--resume', join(dir, 'nope')], /--resume: /],
];
for (const [name, args, re] of bad) {
  test(`train rejects ${name} with one line and exit code 2`, () => {
    const r = furnace('train', ...args);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, re);
    // One line, at most followed by the pointer to --help that usage errors get.
    assert.equal(r.stderr.trim().split('\n').filter((l) => !l.startsWith('see `furnace')).length, 1, `expected one line, got:\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
}

test('unknown command exits 2', () => {
  assert.equal(furnace('frobnicate').code, 2);
});

test('train --json writes metrics, model and a JSON result; eval and generate read it', () => {
  const out = join(dir, 'run');
  const r = furnace('train', '--config', file('ok.json', JSON.stringify(micro)), '--corpus', corpus, '--out', out,
    '--sample-tokens', '8', '--json');
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number | string>;
  for (const k of ['steps', 'train_loss', 'val_loss', 'val_bits_per_byte', 'tokens_per_s', 'params', 'active_params', 'seconds', 'out']) {
    assert.ok(k in res, `missing ${k}`);
  }
  assert.equal(res['steps'], 3);
  for (const f of ['metrics.jsonl', 'model.safetensors', 'config.json', 'tokenizer.json']) assert.ok(existsSync(join(out, f)), f);
  const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 3);
  assert.ok(Array.isArray(lines[0]!['expert_load']));

  const e = furnace('eval', '--ckpt', out, '--text', corpus, '--json');
  assert.equal(e.code, 0, e.stderr);
  const ev = JSON.parse(e.stdout.trim().split('\n').pop()!) as { bits_per_byte: number; tokens: number; bytes: number };
  assert.ok(ev.bits_per_byte > 0 && ev.bits_per_byte < 10);

  const g = furnace('generate', '--ckpt', out, '--prompt', 'Call me', '--tokens', '5', '--seed', '1', '--json');
  assert.equal(g.code, 0, g.stderr);
  const gen = JSON.parse(g.stdout.trim().split('\n').pop()!) as { text: string };
  assert.equal(typeof gen.text, 'string');
  const g2 = furnace('generate', '--ckpt', out, '--prompt', 'Call me', '--tokens', '5', '--seed', '1', '--json');
  assert.equal(JSON.parse(g2.stdout.trim().split('\n').pop()!).text, gen.text, 'same seed, same sample');

  assert.equal(furnace('eval', '--ckpt', join(dir, 'nothing'), '--text', corpus).code, 2);
});

test('a RoPE model trains, saves its config, and eval and generate read it back', () => {
  const out = join(dir, 'rope');
  const cfg = { ...micro, model: { ...micro.model, position: 'rope' } };
  const r = furnace('train', '--config', file('rope.json', JSON.stringify(cfg)), '--corpus', corpus, '--out', out, '--json');
  assert.equal(r.code, 0, r.stderr);
  const saved = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { model: { position?: string } };
  assert.equal(saved.model.position, 'rope');
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as { val_loss: number };
  const e = furnace('eval', '--ckpt', out, '--text', corpus, '--json');
  assert.equal(e.code, 0, e.stderr);
  assert.ok(Number.isFinite(res.val_loss));
  const g = furnace('generate', '--ckpt', out, '--prompt', 'Call me', '--tokens', '20', '--json');
  assert.equal(g.code, 0, g.stderr);
});

test('train runs on Chinese text (chinese-poetry, Shijing) and its tokenizer round-trips it', async () => {
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  const poems = require('chinese-poetry/dist/shijing/shijing.json') as { title: string; content: string[] }[];
  const text = poems.slice(0, 120).map((p) => `${p.title}\n${p.content.join('\n')}`).join('\n\n');
  const zh = file('shijing.txt', text);
  const out = join(dir, 'zh');
  const cfg = file('zh.json', JSON.stringify({ ...micro, model: { ...micro.model, vocab_size: 1024 } }));
  const r = furnace('train', '--config', cfg, '--corpus', zh, '--out', out, '--sample-tokens', '0', '--json');
  assert.equal(r.code, 0, r.stderr);
  const { BpeTokenizer } = await import('../data/tokenizer.js');
  const tok = BpeTokenizer.load(join(out, 'tokenizer.json'));
  assert.equal(tok.decode(tok.encode(text)), text);
  assert.ok(tok.encode(text).length < Buffer.byteLength(text) / 2, 'merges should span Han characters');
});

test('train --dp 2 --resume from a checkpoint of another model config: one line and exit 2, as with one rank', () => {
  const out = join(dir, 'resume-src');
  const first = furnace('train', '--config', file('rs.json', JSON.stringify(micro)), '--corpus', corpus, '--out', out, '--dp', '1', '--ckpt-every', '3');
  assert.equal(first.code, 0, first.stderr);
  const other = { ...micro, model: { ...micro.model, d_ff: 48 } };
  for (const dp of ['1', '2']) {
    const r = furnace('train', '--config', file('rs2.json', JSON.stringify(other)), '--corpus', corpus, '--out', join(dir, `resume-dp${dp}`),
      '--dp', dp, '--resume', out);
    assert.equal(r.code, 2, `--dp ${dp}: ${r.stderr}`);
    assert.match(r.stderr, /^furnace: --resume: .* holds a model with a different config/, `--dp ${dp}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, `--dp ${dp}: expected one line, got:\n${r.stderr}`);
  }
  // Under mpirun the failing rank says which kind of failure it was, and mpirun exits with its code
  // (after mpirun's own notice about the abort).
  if (findMpirun() === undefined) return;
  const m = spawnSync('mpirun', ['--allow-run-as-root', '--oversubscribe', '-np', '2', process.execPath, main, 'train', '--comm', 'mpi', '--dp', '2',
    '--config', file('rs2.json', JSON.stringify(other)), '--corpus', corpus, '--out', join(dir, 'resume-mpi'), '--resume', out],
  { encoding: 'utf8', env: { ...process.env, CI: '1', FURNACE_CACHE: join(dir, 'cache') }, timeout: 120_000 });
  assert.equal(m.status, 2, m.stderr);
  // mpirun's notice and the ranks' lines reach stderr in either order: a line of its own, anywhere.
  assert.match(m.stderr, /^furnace: rank \d failed \[input\]: --resume: .* holds a model with a different config/m);
});
