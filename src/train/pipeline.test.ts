// Pipeline parallelism trains the same model as one rank: pp2, with dp, ep, tp and ZeRO-1, uneven
// stages, interleaved virtual stages, on threads and MPI, the same loss at every step and the same
// final parameters; its checkpoints resume into data parallelism and back; bad pipeline flags are
// refused by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findMpirun } from '../comm/mpi-group.js';
import { splitLayers } from '../nn/gpt-stage.js';
import { bubbleFraction } from '../parallel/pipeline.js';
import { assertSameRun, readRun, runFurnace, trainFixture, type RunOutputs } from './testing/train-runs.js';

const fx = trainFixture('pp');
const { dir, corpus } = fx;

// The balance loss is taken per micro-batch (its token fractions f are those of the micro-batch,
// as in Megatron-LM), so with several micro-batches it is not the whole batch's: the parity runs
// leave it out and keep the router z-loss, which is a mean over tokens and so exact.
function configWith(name: string, model: Record<string, unknown>): string {
  const c = JSON.parse(readFileSync(fx.config, 'utf8')) as { model: Record<string, unknown> };
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ ...c, model: { ...c.model, ...model } }));
  return file;
}
const config = configWith('z', { aux_loss_coef: 0, router_z_loss_coef: 0.01 });
const config3 = configWith('z3', { aux_loss_coef: 0, router_z_loss_coef: 0.01, n_layers: 3 });
// Deep enough for pp2 x 2 virtual stages (4 chunks), evenly and unevenly.
const config4 = configWith('z4', { aux_loss_coef: 0, router_z_loss_coef: 0.01, n_layers: 4 });
const config5 = configWith('z5', { aux_loss_coef: 0, router_z_loss_coef: 0.01, n_layers: 5 });
// The same model with every block recomputed in the backward pass (train.recompute full).
const recomputed = join(dir, 'z-full.json');
writeFileSync(recomputed, JSON.stringify({ ...JSON.parse(readFileSync(config, 'utf8')) as object,
  train: { ...(JSON.parse(readFileSync(config, 'utf8')) as { train: object }).train, recompute: 'full' } }));

function trainRun(name: string, cfg: string, layout: string[], prefix: string[] = []): RunOutputs {
  const out = join(dir, name);
  const r = runFurnace(fx, ['train', '--config', cfg, '--corpus', corpus, '--out', out, '--sample-tokens', '0', '--json', ...layout], { prefix });
  assert.equal(r.code, 0, `${name}: ${r.stderr}`);
  return readRun(out);
}

// A plan as `furnace plan --out` writes it: pp innermost (the stages on neighbouring ranks), micro-batches of 1 row.
const plan = join(dir, 'plan-pp2.json');
writeFileSync(plan, JSON.stringify({ format: 'furnace-plan/1', dp: 2, tp: 1, pp: 2, ep: 1, zero: 0, micro_batch: 1, recompute: 'none',
  placement: { order: ['pp', 'tp', 'ep', 'edp'] } }));
// A plan with an uneven stage split (the planner's pp_layers) of the 3-layer model.
const planUneven = join(dir, 'plan-pp2-uneven.json');
writeFileSync(planUneven, JSON.stringify({ format: 'furnace-plan/1', dp: 1, tp: 1, pp: 2, ep: 1, zero: 0, micro_batch: 2, recompute: 'none',
  pp_layers: [1, 2], placement: { order: ['pp', 'tp', 'ep', 'edp'] } }));

// An interleaved plan: 5 layers as 3 + 2 per stage, each stage's split over its 2 chunks (1,2 and 1,1).
const planInterleaved = join(dir, 'plan-pp2-v2.json');
writeFileSync(planInterleaved, JSON.stringify({ format: 'furnace-plan/1', dp: 1, tp: 1, pp: 2, ep: 1, zero: 0, micro_batch: 2, recompute: 'none',
  pp_layers: [3, 2], virtual_stages: 2, placement: { order: ['pp', 'tp', 'ep', 'edp'] } }));

const once = <T>(f: () => T) => { let v: T | undefined; return () => (v ??= f()); };
const base = once(() => trainRun('one-rank', config, ['--dp', '1']));
const base3 = once(() => trainRun('one-rank-3', config3, ['--dp', '1']));
const base4 = once(() => trainRun('one-rank-4', config4, ['--dp', '1']));
const base5 = once(() => trainRun('one-rank-5', config5, ['--dp', '1']));

const layouts: [string, () => RunOutputs, string, string[]][] = [
  ['pp2', base, config, ['--pp', '2']],
  ['pp2 x dp2', base, config, ['--pp', '2', '--dp', '2']],
  ['pp2 x ep2', base, config, ['--pp', '2', '--dp', '2', '--ep', '2']],
  ['pp2 x tp2', base, config, ['--pp', '2', '--tp', '2']],
  ['pp2 x dp2, ZeRO-1', base, config, ['--pp', '2', '--dp', '2', '--zero']],
  ['pp2, uneven stages 2,1', base3, config3, ['--pp', '2', '--pp-layers', '2,1']],
  ['pp3, 2 micro-batches', base3, config3, ['--pp', '3', '--micro-batches', '2']],
  ['pp2 x dp2, full recomputation', base, recomputed, ['--pp', '2', '--dp', '2']],
  ['--plan with pp2 x dp2, pp innermost', base, config, ['--plan', plan]],
  ['--plan with pp2 and pp_layers 1,2', base3, config3, ['--plan', planUneven]],
  ['pp2 x v2 (interleaved)', base4, config4, ['--pp', '2', '--pp-virtual', '2']],
  ['pp2 x v2 x dp2', base4, config4, ['--pp', '2', '--pp-virtual', '2', '--dp', '2']],
  ['pp2 x v2 x ep2', base4, config4, ['--pp', '2', '--pp-virtual', '2', '--dp', '2', '--ep', '2']],
  ['pp2 x v2, uneven chunks 1,2,1,1', base5, config5, ['--pp', '2', '--pp-virtual', '2', '--pp-layers', '1,2,1,1']],
  ['--plan with pp2 x v2 and pp_layers 3,2', base5, config5, ['--plan', planInterleaved]],
];
for (const [name, ref, cfg, layout] of layouts) {
  test(`threads ${name} matches one rank: per-step loss and final parameters`, () => {
    assertSameRun(ref(), trainRun(`threads-${name.replace(/[^a-z0-9]+/g, '-')}`, cfg, layout), name);
  });
}

test('with the aux-loss-free router bias, pp2 x dp2 matches one rank (the biases are in the final parameters)', () => {
  const biased = configWith('bias', { aux_loss_coef: 0, router_z_loss_coef: 0.01, router_bias_rate: 0.01 });
  const one = trainRun('bias-one', biased, ['--dp', '1']);
  assertSameRun(one, trainRun('bias-pp2-dp2', biased, ['--pp', '2', '--dp', '2']), 'pp2 x dp2 with router bias');
  const last = readFileSync(join(dir, 'bias-pp2-dp2', 'metrics.jsonl'), 'utf8').trim().split('\n').at(-1)!;
  const bias = (JSON.parse(last) as { router_bias?: number[][] }).router_bias;
  assert.ok(bias !== undefined && bias.length > 0 && bias.every((b) => b.some((v) => v !== 0)), `router_bias of every MoE layer moved: ${last}`);
});

test('with the balance loss, pp2 over one micro-batch matches one rank', () => {
  const withAux = configWith('aux', {});
  assertSameRun(trainRun('aux-one', withAux, ['--dp', '1']), trainRun('aux-pp2', withAux, ['--pp', '2', '--micro-batches', '1']), 'pp2 m1');
});

const mpirun = findMpirun();
test('mpi pp2 matches one rank', { skip: mpirun === undefined ? 'Open MPI (mpirun) is not installed' : false }, () => {
  const prefix = ['mpirun', '--allow-run-as-root', '--oversubscribe', '--mca', 'mpi_yield_when_idle', '1', '-np', '2'];
  assertSameRun(base(), trainRun('mpi-pp2', config, ['--pp', '2', '--comm', 'mpi'], prefix), 'mpi pp2');
});

test('mpi pp2 x v2 (interleaved) matches one rank', { skip: mpirun === undefined ? 'Open MPI (mpirun) is not installed' : false }, () => {
  const prefix = ['mpirun', '--allow-run-as-root', '--oversubscribe', '--mca', 'mpi_yield_when_idle', '1', '-np', '2'];
  assertSameRun(base4(), trainRun('mpi-pp2-v2', config4, ['--pp', '2', '--pp-virtual', '2', '--comm', 'mpi'], prefix), 'mpi pp2 x v2');
});

test('a pp2 checkpoint resumes into dp2, and a dp2 checkpoint into pp2', () => {
  for (const [from, to] of [[['--pp', '2'], ['--dp', '2']], [['--dp', '2'], ['--pp', '2', '--dp', '2', '--zero']]] as const) {
    const tag = `${from.join('')}-${to.join('')}`.replace(/-+/g, '');
    const full = trainRun(`ck-${tag}`, config, [...from, '--ckpt-every', '6']);
    const resumed = trainRun(`ck-${tag}-resumed`, config, [...to, '--resume', join(dir, `ck-${tag}`, 'ckpt', 'step-00000006')]);
    assertSameRun({ losses: full.losses.slice(6), params: full.params }, resumed, `${from.join(' ')} -> ${to.join(' ')}`);
  }
});

test('an interleaved checkpoint resumes into dp2, and a dp2 checkpoint into pp2 x v2', () => {
  for (const [from, to] of [[['--pp', '2', '--pp-virtual', '2'], ['--dp', '2']], [['--dp', '2'], ['--pp', '2', '--pp-virtual', '2', '--dp', '2']]] as const) {
    const tag = `${from.join('')}-${to.join('')}`.replace(/-+/g, '');
    const full = trainRun(`ck-${tag}`, config4, [...from, '--ckpt-every', '6']);
    const resumed = trainRun(`ck-${tag}-resumed`, config4, [...to, '--resume', join(dir, `ck-${tag}`, 'ckpt', 'step-00000006')]);
    assertSameRun({ losses: full.losses.slice(6), params: full.params }, resumed, `${from.join(' ')} -> ${to.join(' ')}`);
  }
});

test('the run summary and metrics report the pipeline and each stage\'s bubble', () => {
  trainRun('summary', config, ['--pp', '2']);
  const s = JSON.parse(readFileSync(join(dir, 'summary', 'summary.json'), 'utf8')) as { pipeline: { stages: number; layers: number[];
    micro_batches: number; bubble: number[]; bubble_1f1b: number } };
  assert.deepEqual([s.pipeline.stages, s.pipeline.layers, s.pipeline.micro_batches], [2, [1, 1], 4]);
  assert.equal(s.pipeline.bubble.length, 2);
  assert.ok(s.pipeline.bubble.every((b) => b >= 0 && b <= 1), `bubble ${s.pipeline.bubble}`);
  assert.equal(s.pipeline.bubble_1f1b, 1 / 5);
  const m = JSON.parse(readFileSync(join(dir, 'summary', 'metrics.jsonl'), 'utf8').split('\n')[0]!) as { bubble: number[] };
  assert.equal(m.bubble.length, 2);
});

test('bad pipeline flags exit 2 naming the flag', () => {
  for (const [flags, pattern] of [
    [['--pp', '2', '--pp-layers', '1,2'], /--pp-layers: stage sizes 1,2 sum to 3, the model has 2 layers/],
    [['--pp', '3'], /--pp: 3 stages need at least 3 layers/],
    [['--pp', '2', '--micro-batches', '3'], /--micro-batches 3 must divide the rows/],
    [['--micro-batches', '2'], /--micro-batches 2: micro-batches need pipeline stages/],
    [['--pp', '2', '--pp-layers', '1,x'], /--pp-layers: expected comma-separated/],
    [['--pp-virtual', '2'], /--pp-virtual 2: virtual stages need pipeline stages/],
    [['--pp', '2', '--pp-virtual', '2'], /--pp-virtual 2: pp 2 x 2 virtual stages need at least 4 layers, the model has 2/],
  ] as const) {
    const r = runFurnace(fx, ['train', '--config', config, '--corpus', corpus, '--out', join(dir, 'bad'), ...flags]);
    assert.equal(r.code, 2, `${flags.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
  }
  for (const [flags, pattern] of [
    [['--pp', '2', '--pp-virtual', '2', '--micro-batches', '1'], /--micro-batches 1: the interleaved schedule takes micro-batches in groups of pp: give a multiple of 2/],
    [['--pp', '2', '--pp-virtual', '2', '--pp-layers', '1,1,2'], /--pp-layers: 3 stage sizes; give one per virtual stage \(pp 2 x 2 = 4\) or one per stage \(2\)/],
    [['--pp', '2', '--pp-virtual', '2', '--pp-layers', '3,1'], /--pp-layers: stage 1's 1 layer cannot fill its 2 virtual stages/],
  ] as const) {
    const r = runFurnace(fx, ['train', '--config', config4, '--corpus', corpus, '--out', join(dir, 'bad'), ...flags]);
    assert.equal(r.code, 2, `${flags.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  // The same settings in the config file's parallel section, named by their key.
  for (const [parallel, pattern] of [[{ pp: 2, micro_batches: 3 }, /parallel\.micro_batches 3 must divide the rows/],
    [{ pp: 2, stages: 2 }, /parallel\.stages: unknown key/],
    [{ pp: 2, virtual_stages: 2, micro_batches: 2 }, /parallel\.virtual_stages 2: pp 2 x 2 virtual stages need at least 4 layers/]] as const) {
    const file = join(dir, 'bad-parallel.json');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(config, 'utf8')), parallel }));
    const r = runFurnace(fx, ['train', '--config', file, '--corpus', corpus, '--out', join(dir, 'bad')]);
    assert.equal(r.code, 2, `${JSON.stringify(parallel)}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
  }
});

test('the default split gives the first and last stage fewer blocks; the 1F1B bubble is (p - 1) / (m + p - 1)', () => {
  assert.deepEqual(splitLayers(4, 2), [2, 2]);
  assert.deepEqual(splitLayers(5, 2), [3, 2]); // the output stage also holds the V x C output layer
  assert.deepEqual(splitLayers(10, 4), [2, 3, 3, 2]);
  assert.deepEqual(splitLayers(8, 3), [3, 3, 2]);
  assert.deepEqual(splitLayers(126, 16), [7, ...new Array<number>(14).fill(8), 7]);
  assert.deepEqual(splitLayers(16, 4, [3, 5, 5, 3]), [3, 5, 5, 3]);
  assert.throws(() => splitLayers(16, 4, [3, 5, 5]), /3 stage sizes for 4 stages/);
  assert.throws(() => splitLayers(4, 2, [0, 4]), /positive whole number/);
  assert.equal(bubbleFraction(4, 8), 3 / 11);
  assert.equal(bubbleFraction(1, 8), 0);
});
