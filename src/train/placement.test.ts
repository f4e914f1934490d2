// A run records the placement it used in plan.json (a plan's order, the tiers of --topology), and
// `furnace plan --calibrate` reads it back; a bad --topology file exits 2 naming the file and field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultCorpusPath } from '../data/corpus.js';
import { PLAN_FORMAT, planToJson } from '../planner/plan.js';
import { readRun } from '../planner/io.js';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'furnace-placement-'));
const env = { ...process.env, CI: '1', FURNACE_CACHE: join(dir, 'cache') };
const corpus = join(dir, 'corpus.txt');
writeFileSync(corpus, readFileSync(defaultCorpusPath(), 'utf8').slice(0, 30_000));
const config = join(dir, 'micro.json');
writeFileSync(config, JSON.stringify({
  model: { vocab_size: 300, seq_len: 16, d_model: 32, n_layers: 1, n_heads: 4, d_ff: 64, n_experts: 0 },
  train: { batch_size: 4, steps: 2, warmup_steps: 1, eval_every: 0, eval_batches: 1, log_every: 1 },
}));

function write(name: string, v: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof v === 'string' ? v : JSON.stringify(v));
  return p;
}

function furnace(...args: string[]) {
  const r = spawnSync(process.execPath, [main, 'train', '--config', config, '--corpus', corpus, '--sample-tokens', '0', '--json', ...args],
    { encoding: 'utf8', env, timeout: 120_000 });
  return { code: r.status, stderr: r.stderr };
}

test('plan.json records the order a --plan gave and the tiers of --topology, not the default order', { timeout: 180_000 }, () => {
  // dp 2 innermost, tp 2 outside it: on nodes of 2 ranks the dp groups share a node, the tp groups cross.
  const plan = write('plan.json', { format: PLAN_FORMAT, ...planToJson({ dp: 2, tp: 2, pp: 1, ep: 1, zero: 0, microBatch: 2,
    recompute: 'none', placement: { order: ['edp', 'tp', 'ep', 'pp'] } }) });
  const topology = write('topology.json', { tiers: [{ name: 'node', group_size: 2 }] });
  const out = join(dir, 'run');
  const r = furnace('--plan', plan, '--topology', topology, '--out', out);
  assert.equal(r.code, 0, r.stderr);
  const written = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')) as { placement: unknown };
  assert.deepEqual(written.placement, { order: ['edp', 'tp', 'ep', 'pp'], tiers: { tp: 'machine', edp: 'node', dp: 'node' } });
  assert.deepEqual(readRun(out).plan?.placement.order, ['edp', 'tp', 'ep', 'pp']);
});

test('a bad --topology file is refused before any rank starts: exit 2, one line naming the file and field', () => {
  const cases: [string, RegExp][] = [
    [join(dir, 'none.json'), /--topology: .*none\.json: no such file/],
    [write('broken.json', '{"tiers": ['), /broken\.json: not valid JSON/],
    [write('typo.json', { tiers: [{ name: 'node', size: 2 }] }), /typo\.json\.tiers\[0\]\.size: unknown key/],
    [write('type.json', { tiers: [{ name: 'node', group_size: 'two' }] }), /type\.json\.tiers\[0\]\.group_size: /],
    [write('nest.json', { tiers: [{ name: 'node', group_size: 4 }, { name: 'rack', group_size: 6 }] }),
      /nest\.json\.tiers\[1\]\.group_size: 6 is not a multiple/],
  ];
  for (const [file, re] of cases) {
    const r = furnace('--dp', '2', '--topology', file, '--out', join(dir, 'never'));
    assert.equal(r.code, 2, `${file}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
