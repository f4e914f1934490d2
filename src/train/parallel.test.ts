// Every parallel layout trains the same model as one rank: the same loss at every step and the
// same final parameters (threads, and MPI when Open MPI is installed); a failing rank ends the job
// with its name; a resumed run continues bit-exactly, also in another layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '../nn/safetensors.js';
import { findMpirun } from '../comm/mpi-group.js';
import { defaultCorpusPath } from '../data/corpus.js';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'furnace-par-'));
const env = { ...process.env, CI: '1', FURNACE_CACHE: join(dir, 'cache') };
const corpus = join(dir, 'corpus.txt');
writeFileSync(corpus, readFileSync(defaultCorpusPath(), 'utf8').slice(0, 60_000));
// Dropless routing: capacity is per rank (as in GShard), so only without drops do layouts agree.
const config = join(dir, 'micro.json');
writeFileSync(config, JSON.stringify({
  model: { vocab_size: 300, seq_len: 16, d_model: 32, n_layers: 2, n_heads: 4, d_ff: 64, n_experts: 4, top_k: 2, moe_every: 1,
    expert_d_ff: 32, capacity_factor: 0 },
  train: { batch_size: 4, steps: 12, warmup_steps: 2, eval_every: 0, eval_batches: 1, log_every: 1 },
}));

function furnace(args: string[], extraEnv: Record<string, string> = {}, prefix: string[] = []) {
  const cmd = prefix.length > 0 ? prefix[0]! : process.execPath;
  const argv = prefix.length > 0 ? [...prefix.slice(1), process.execPath, main, ...args] : [main, ...args];
  const t0 = Date.now();
  const r = spawnSync(cmd, argv, { encoding: 'utf8', env: { ...env, ...extraEnv }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (Date.now() - t0) / 1000 };
}

interface Run { losses: number[]; params: Map<string, { shape: number[]; data: Float32Array }> }

function trainRun(name: string, layout: string[], extra: string[] = [], prefix: string[] = [], cfg = config): Run {
  const out = join(dir, name);
  const r = furnace(['train', '--config', cfg, '--corpus', corpus, '--out', out, '--sample-tokens', '0', '--json', ...layout, ...extra], {}, prefix);
  assert.equal(r.code, 0, `${name}: ${r.stderr}`);
  const losses = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { loss: number }).loss);
  return { losses, params: readSafetensors(join(out, 'model.safetensors')) };
}

function assertSame(a: Run, b: Run, what: string, tol = 1e-4): void {
  assert.equal(a.losses.length, b.losses.length);
  a.losses.forEach((l, i) => assert.ok(Math.abs(l - b.losses[i]!) <= tol * Math.abs(l), `${what}: step ${i} loss ${b.losses[i]} vs ${l}`));
  for (const [k, p] of a.params) {
    const q = b.params.get(k);
    assert.ok(q !== undefined, `${what}: missing ${k}`);
    assert.deepEqual(q.shape, p.shape, `${what}: ${k} shape`);
    let worst = 0;
    for (let i = 0; i < p.data.length; i++) worst = Math.max(worst, Math.abs(p.data[i]! - q.data[i]!) / (Math.abs(p.data[i]!) + 1e-3));
    assert.ok(worst < 1e-3, `${what}: ${k} differs by ${worst}`);
  }
}

let baseline: Run | undefined;
const base = () => (baseline ??= trainRun('one-rank', ['--dp', '1']));

const layouts: [string, string[]][] = [
  ['dp2', ['--dp', '2']], ['tp2', ['--tp', '2']], ['ep2', ['--dp', '2', '--ep', '2']],
  ['dp2+ep2', ['--dp', '4', '--ep', '2']], ['dp2+tp2', ['--dp', '2', '--tp', '2']], ['ZeRO-1 dp2', ['--dp', '2', '--zero']],
  ['dp2+tp2+ep2', ['--dp', '2', '--tp', '2', '--ep', '2']],
];
for (const [name, layout] of layouts) {
  test(`threads ${name} matches one rank: per-step loss and final parameters`, () => {
    assertSame(base(), trainRun(`threads-${name}`, layout), name);
  });
}

// RoPE turns the heads split over tp by the same positions; the router z-loss is global over dp.
const ropeZ = join(dir, 'micro-rope-z.json');
const ropeZBase = () => {
  const c = JSON.parse(readFileSync(config, 'utf8')) as { model: Record<string, unknown> };
  writeFileSync(ropeZ, JSON.stringify({ ...c, model: { ...c.model, position: 'rope', router_z_loss_coef: 0.01 } }));
  return trainRun('rope-z-one-rank', ['--dp', '1'], [], [], ropeZ);
};
let ropeZRun: Run | undefined;
for (const [name, layout] of [['dp2+tp2', ['--dp', '2', '--tp', '2']], ['dp2+ep2', ['--dp', '2', '--ep', '2']]] as const) {
  test(`threads ${name} with RoPE and the router z-loss matches one rank`, () => {
    ropeZRun ??= ropeZBase();
    assertSame(ropeZRun, trainRun(`rope-z-${name}`, [...layout], [], [], ropeZ), `RoPE + z-loss ${name}`);
  });
}

const mpirun = findMpirun();
const mpiPrefix = (n: number) => ['mpirun', '--allow-run-as-root', '--oversubscribe', '--mca', 'mpi_yield_when_idle', '1', '-np', String(n)];
for (const [name, layout, n] of [['dp2', ['--dp', '2'], 2], ['tp2', ['--tp', '2'], 2], ['dp2+ep2', ['--dp', '2', '--ep', '2'], 2], ['ZeRO-1 dp2', ['--dp', '2', '--zero'], 2]] as const) {
  test(`mpi ${name} matches one rank`, { skip: mpirun === undefined ? 'Open MPI (mpirun) is not installed' : false }, () => {
    assertSame(base(), trainRun(`mpi-${name}`, [...layout, '--comm', 'mpi'], [], mpiPrefix(n)), `mpi ${name}`);
  });
}

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
    assertSame({ losses: full.losses.slice(6), params: full.params }, r, `resume into ${name}`);
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
