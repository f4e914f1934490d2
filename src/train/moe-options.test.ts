// The MoE and optimizer options keep the parity guarantee: aux-loss-free balancing (the router bias),
// the global-batch and sequence-wise balance losses, shared and fine-grained experts, and Muon train
// the same model in dp2 x ep2, dp2 x tp2 and ZeRO-1 as on one rank; their state resumes bit-exactly
// and reshards into another layout; eval reads the sharded checkpoint like the saved model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../nn/safetensors.js';
import { assertSameRun, readRun, runFurnace, trainFixture, type RunOutputs } from './testing/train-runs.js';

const fx = trainFixture('moe-options');
const micro = JSON.parse(readFileSync(fx.config, 'utf8')) as { model: Record<string, unknown>; train: Record<string, unknown> };

/** A config file: the micro config with these model and train fields. */
function config(name: string, model: Record<string, unknown>, train: Record<string, unknown> = {}): string {
  const file = join(fx.dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ model: { ...micro.model, ...model }, train: { ...micro.train, ...train } }));
  return file;
}

function trainRun(name: string, cfg: string, layout: string[], extra: string[] = []): RunOutputs & { aux: number[] } {
  const out = join(fx.dir, name);
  const r = runFurnace(fx, ['train', '--config', cfg, '--corpus', fx.corpus, '--out', out, '--sample-tokens', '0', '--json', ...layout, ...extra]);
  assert.equal(r.code, 0, `${name}: ${r.stderr}`);
  const aux = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { aux_loss: number }).aux_loss);
  return { ...readRun(out), aux };
}

/** The balance loss per step, the same in both runs (within float32 summation order). */
function assertSameAux(a: number[], b: number[], what: string): void {
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) <= 1e-4 * Math.abs(x), `${what}: step ${i} aux ${b[i]} vs ${x}`));
}

const DP2_EP2 = ['--dp', '2', '--ep', '2'], DP2_TP2 = ['--dp', '2', '--tp', '2'];

// Fine-grained: 8 experts of half the width with top-3, plus one shared expert (4 x 16 active
// hidden units, as the micro config's 2 x 32). The bias rate is large so that 12 steps move routing.
const balanced = config('balanced', { n_experts: 8, expert_d_ff: 16, top_k: 3, shared_experts: 1, router_bias_rate: 0.01 });
const sequence = config('sequence', { router_bias_rate: 0.01, balance_scope: 'sequence', aux_loss_coef: 0.001 });
const muon = config('muon', { shared_experts: 1, router_bias_rate: 0.01 }, { optimizer: 'muon' });

for (const [name, cfg] of [['global-batch balance, bias, fine-grained and shared experts', balanced],
  ['sequence-wise balance and bias', sequence]] as const) {
  test(`${name}: dp2 x ep2 and dp2 x tp2 match one rank (loss, balance loss, parameters and router bias)`, () => {
    const one = trainRun(`${name}-one`, cfg, ['--dp', '1']);
    assert.ok(one.params.has('blocks.0.moe.router.bias'), 'the router bias is saved with the model');
    assert.ok(Array.from(one.params.get('blocks.0.moe.router.bias')!.data).some((b) => b !== 0), 'the bias moved');
    for (const [lname, layout] of [['dp2 x ep2', DP2_EP2], ['dp2 x tp2', DP2_TP2]] as const) {
      const par = trainRun(`${name}-${lname}`, cfg, [...layout]);
      assertSameRun(one, par, `${name} ${lname}`);
      assertSameAux(one.aux, par.aux, `${name} ${lname}`);
    }
  });
}

test('Muon: dp2 x ep2, dp2 x tp2 and ZeRO-1 dp2 x ep2 match one rank', () => {
  const one = trainRun('muon-one', muon, ['--dp', '1']);
  for (const [lname, layout] of [['dp2 x ep2', DP2_EP2], ['dp2 x tp2', DP2_TP2], ['ZeRO-1 dp2 x ep2', [...DP2_EP2, '--zero']]] as const) {
    assertSameRun(one, trainRun(`muon-${lname}`, muon, [...layout]), `Muon ${lname}`);
  }
});

test('Muon with the router bias resumes bit-exactly, and into another layout; eval and export read its sharded checkpoint', () => {
  const full = trainRun('muon-ck', muon, DP2_EP2, ['--ckpt-every', '6']);
  const from = join(fx.dir, 'muon-ck', 'ckpt', 'step-00000006');
  const same = trainRun('muon-ck-same', muon, DP2_EP2, ['--resume', from]);
  assert.deepEqual(same.losses, full.losses.slice(6));
  for (const [k, p] of full.params) assert.deepEqual(same.params.get(k)!.data, p.data, k);
  const tp = trainRun('muon-ck-tp2', muon, DP2_TP2, ['--resume', from]);
  assertSameRun({ losses: full.losses.slice(6), params: full.params }, tp, 'Muon resumed into dp2 x tp2');
  const evalOf = (ckpt: string) => {
    const r = runFurnace(fx, ['eval', '--ckpt', ckpt, '--text', fx.corpus, '--json']);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout.trim().split('\n').pop()!) as { bits_per_byte: number }).bits_per_byte;
  };
  assert.equal(evalOf(join(fx.dir, 'muon-ck', 'ckpt')), evalOf(join(fx.dir, 'muon-ck')));
  // Export assembles the ep-split experts, and holds the shared experts, the bias and Muon's momentum.
  const file = join(fx.dir, 'muon-ck.safetensors');
  const x = runFurnace(fx, ['ckpt', 'export', from, '--out', file, '--json']);
  assert.equal(x.code, 0, x.stderr);
  const t = readSafetensors(file);
  assert.deepEqual(t.get('model.blocks.0.moe.experts.w1')?.shape, [4, 32, 32]);
  assert.deepEqual(t.get('model.blocks.0.moe.shared.fc.weight')?.shape, [32, 32]);
  assert.deepEqual(t.get('model.blocks.0.moe.router.bias')?.shape, [4]);
  assert.deepEqual(t.get('optim.m.blocks.0.moe.experts.w1')?.shape, [4, 32, 32]);
  assert.equal(t.get('optim.v.blocks.0.moe.experts.w1'), undefined, 'Muon keeps one moment');
  assert.ok(t.has('optim.v.blocks.0.moe.router.weight'), 'the router stays with AdamW');
});

test('the options are refused by name where they do not apply (exit 2)', () => {
  for (const [model, msg] of [[{ gate: 'swipe', router_bias_rate: 0.001 }, /model\.router_bias_rate needs a topk, switch or gshard gate/],
    [{ n_experts: 0, shared_experts: 1 }, /model\.shared_experts needs model\.n_experts > 0/],
    [{ balance_scope: 'rank' }, /balance_scope/]] as const) {
    const r = runFurnace(fx, ['train', '--config', config('bad', model), '--corpus', fx.corpus, '--out', join(fx.dir, 'bad'), '--steps', '1']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, msg);
  }
  const r = runFurnace(fx, ['train', '--config', config('bad-tp', { shared_experts: 1, expert_d_ff: 33 }), '--corpus', fx.corpus,
    '--out', join(fx.dir, 'bad'), '--steps', '1', '--dp', '2', '--tp', '2']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--tp 2 must divide model\.shared_experts x model\.expert_d_ff \(33\)/);
});
