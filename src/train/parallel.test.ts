// Every parallel layout trains the same model as one rank: the same loss at every step and the
// same final parameters (threads, and MPI when Open MPI is installed); a failing rank ends the job
// with its name; a resumed run continues bit-exactly, also in another layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { findMpirun } from '../comm/mpi-group.js';
import { assertSameRun, readRun, runFurnace, trainFixture, type RunOutputs } from './testing/train-runs.js';

const fx = trainFixture('par');
const { dir, corpus, config } = fx;

function furnace(args: string[], extraEnv: Record<string, string> = {}, prefix: string[] = []) {
  return runFurnace(fx, args, { env: extraEnv, prefix });
}

function trainRun(name: string, layout: string[], extra: string[] = [], prefix: string[] = [], cfg = config): RunOutputs {
  const out = join(dir, name);
  const r = furnace(['train', '--config', cfg, '--corpus', corpus, '--out', out, '--sample-tokens', '0', '--json', ...layout, ...extra], {}, prefix);
  assert.equal(r.code, 0, `${name}: ${r.stderr}`);
  return readRun(out);
}

let baseline: RunOutputs | undefined;
const base = () => (baseline ??= trainRun('one-rank', ['--dp', '1']));

const layouts: [string, string[]][] = [
  ['dp2', ['--dp', '2']], ['tp2', ['--tp', '2']], ['ep2', ['--dp', '2', '--ep', '2']],
  ['dp2+ep2', ['--dp', '4', '--ep', '2']], ['dp2+tp2', ['--dp', '2', '--tp', '2']], ['ZeRO-1 dp2', ['--dp', '2', '--zero']],
  ['dp2+tp2+ep2', ['--dp', '2', '--tp', '2', '--ep', '2']],
];
for (const [name, layout] of layouts) {
  test(`threads ${name} matches one rank: per-step loss and final parameters`, () => {
    assertSameRun(base(), trainRun(`threads-${name}`, layout), name);
  });
}

// RoPE turns the heads split over tp by the same positions; the router z-loss is global over dp.
const ropeZ = join(dir, 'micro-rope-z.json');
const ropeZBase = () => {
  const c = JSON.parse(readFileSync(config, 'utf8')) as { model: Record<string, unknown> };
  writeFileSync(ropeZ, JSON.stringify({ ...c, model: { ...c.model, position: 'rope', router_z_loss_coef: 0.01 } }));
  return trainRun('rope-z-one-rank', ['--dp', '1'], [], [], ropeZ);
};
let ropeZRun: RunOutputs | undefined;
for (const [name, layout] of [['dp2+tp2', ['--dp', '2', '--tp', '2']], ['dp2+ep2', ['--dp', '2', '--ep', '2']]] as const) {
  test(`threads ${name} with RoPE and the router z-loss matches one rank`, () => {
    ropeZRun ??= ropeZBase();
    assertSameRun(ropeZRun, trainRun(`rope-z-${name}`, [...layout], [], [], ropeZ), `RoPE + z-loss ${name}`);
  });
}

// The gradient all-reduce started during the backward pass (communication workers) sums the same
// gradients as the one after it: bit for bit, with dense and expert buckets, with Muon too.
const afterBackward = (name: string, over: Record<string, unknown> = {}) => {
  const c = JSON.parse(readFileSync(config, 'utf8')) as { model: Record<string, unknown>; train: Record<string, unknown> };
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ ...c, train: { ...c.train, ...over } }));
  return file;
};
for (const [name, layout, over] of [['dp2', ['--dp', '2'], {}], ['dp4+ep2', ['--dp', '4', '--ep', '2'], {}],
  ['dp2 muon', ['--dp', '2'], { optimizer: 'muon' }]] as const) {
  test(`threads ${name}: gradient all-reduce overlapped with backward equals it after backward, bit for bit`, () => {
    const on = trainRun(`overlap-on-${name}`, [...layout], [], [], afterBackward(`on-${name}`, over));
    const off = trainRun(`overlap-off-${name}`, [...layout], [], [], afterBackward(`off-${name}`, { ...over, overlap_grad_reduce: false }));
    assert.deepEqual(on.losses, off.losses);
    for (const [k, p] of off.params) assert.deepEqual(on.params.get(k)?.data, p.data, k);
  });
}

// The expert all-to-all in chunks pipelined with the experts (forward and backward) trains the same
// model: every token's expert output is the unsplit layer's, the weight gradients sum per chunk.
const chunked = (chunks: number) => {
  const c = JSON.parse(readFileSync(config, 'utf8')) as { model: Record<string, unknown>; train: Record<string, unknown> };
  const file = join(dir, `chunks-${chunks}.json`);
  writeFileSync(file, JSON.stringify({ ...c, model: { ...c.model, moe_overlap_chunks: chunks } }));
  return file;
};
// (The default, 2 chunks, runs in every ep layout above; 1 is the plain exchange.)
for (const [chunks, layout] of [[1, ['--dp', '2', '--ep', '2']], [3, ['--dp', '4', '--ep', '2']]] as const) {
  test(`threads ${layout.join(' ')} with the all-to-all in ${chunks} chunk(s) matches one rank`, () => {
    assertSameRun(base(), trainRun(`chunks-${chunks}`, [...layout], [], [], chunked(chunks)), `${chunks} chunks`);
  });
}

const mpirun = findMpirun();
const mpiPrefix = (n: number) => ['mpirun', '--allow-run-as-root', '--oversubscribe', '--mca', 'mpi_yield_when_idle', '1', '-np', String(n)];
for (const [name, layout, n] of [['dp2', ['--dp', '2'], 2], ['tp2', ['--tp', '2'], 2], ['dp2+ep2', ['--dp', '2', '--ep', '2'], 2], ['ZeRO-1 dp2', ['--dp', '2', '--zero'], 2]] as const) {
  test(`mpi ${name} matches one rank`, { skip: mpirun === undefined ? 'Open MPI (mpirun) is not installed' : false }, () => {
    assertSameRun(base(), trainRun(`mpi-${name}`, [...layout, '--comm', 'mpi'], [], mpiPrefix(n)), `mpi ${name}`);
  });
}

test('mpi dp2+ep2 with the all-to-all in 3 overlapped chunks (MPI_Ialltoall) matches one rank', { skip: mpirun === undefined ? 'Open MPI (mpirun) is not installed' : false }, () => {
  assertSameRun(base(), trainRun('mpi-chunks-3', ['--dp', '2', '--ep', '2', '--comm', 'mpi'], [], mpiPrefix(2), chunked(3)), 'mpi 3 chunks');
});

test('a rank that throws mid-step ends the job non-zero, naming the rank (threads)', () => {
  const r = furnace(['train', '--config', config, '--corpus', corpus, '--out', join(dir, 'fail'), '--dp', '2', '--sample-tokens', '0'], { FURNACE_FAULT: '1:3' });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /rank 1/);
  assert.match(r.stderr, /injected fault at step 3/);
  assert.ok(r.seconds < 30, `took ${r.seconds} s`);
});

test('a rank that throws mid-step ends the job non-zero, naming the rank (mpi)', { skip: mpirun === undefined ? 'Open MPI (mpirun) is not installed' : false }, () => {
  const r = furnace(['train', '--config', config, '--corpus', corpus, '--out', join(dir, 'fail-mpi'), '--dp', '2', '--comm', 'mpi', '--sample-tokens', '0'],
    { FURNACE_FAULT: '1:3' }, mpiPrefix(2));
  assert.notEqual(r.code, 0);
  assert.match(r.stdout + r.stderr, /rank 1/);
  assert.ok(r.seconds < 30, `took ${r.seconds} s`);
});

test('resume is bit-exact (one rank) and continues in other layouts (dp2+ep2 -> 1 rank, tp2)', () => {
  const full = trainRun('ck-full', ['--dp', '2', '--ep', '2'], ['--ckpt-every', '6']);
  const ckpts = readdirSync(join(dir, 'ck-full', 'ckpt')).filter((n) => n.startsWith('step-')).sort();
  assert.deepEqual(ckpts, ['step-00000006', 'step-00000012']);
  const from = join(dir, 'ck-full', 'ckpt', 'step-00000006');
  // Same layout: exactly the same losses after the resume point.
  const same = trainRun('ck-same', ['--dp', '2', '--ep', '2'], ['--resume', from]);
  assert.deepEqual(same.losses, full.losses.slice(6));
  // Other layouts: the same run within float tolerance.
  for (const [name, layout] of [['one', ['--dp', '1']], ['tp2', ['--tp', '2']], ['ep4', ['--dp', '4', '--ep', '4']]] as const) {
    const r = trainRun(`ck-${name}`, [...layout], ['--resume', from]);
    assertSameRun({ losses: full.losses.slice(6), params: full.params }, r, `resume into ${name}`);
  }
  // One rank, bit-exact across its own checkpoint.
  const one = trainRun('ck-one-full', ['--dp', '1'], ['--ckpt-every', '5', '--ckpt-async']); // async: written while training goes on
  const resumed = trainRun('ck-one-resumed', ['--dp', '1'], ['--resume', join(dir, 'ck-one-full', 'ckpt', 'step-00000005')]);
  assert.deepEqual(resumed.losses, one.losses.slice(5));
  for (const [k, p] of one.params) assert.deepEqual(resumed.params.get(k)!.data, p.data, k);
});

test('eval and generate read a sharded checkpoint like the saved model (experts merged)', () => {
  const run = join(dir, 'ck-full'); // trained dp2+ep2 above: experts were split over two ranks
  const evalOf = (ckpt: string) => {
    const r = furnace(['eval', '--ckpt', ckpt, '--text', corpus, '--json']);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout.trim().split('\n').pop()!) as { bits_per_byte: number }).bits_per_byte;
  };
  const fromModel = evalOf(run);
  assert.equal(evalOf(join(run, 'ckpt', 'step-00000012')), fromModel);
  assert.equal(evalOf(join(run, 'ckpt')), fromModel); // the root: its `latest`
  const g = furnace(['generate', '--ckpt', join(run, 'ckpt'), '--tokens', '4', '--json']);
  assert.equal(g.code, 0, g.stderr);
});
