// `furnace plan` end to end: JSON result, --fix, --out for the trainer, --calibrate, exit codes on bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readPlan } from './io.js';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');

function furnace(...args: string[]) {
  const r = spawnSync(process.execPath, [main, 'plan', ...args], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json: () => JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown> };
}

test('--json: plans best first with the documented fields; --fix is honoured; --out writes what readPlan accepts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'furnace-cli-'));
  try {
    const out = join(dir, 'plan.json');
    const r = furnace('--model', 'preset:gpt3-175b', '--cluster', 'preset:a100-selene', '--devices', '1024', '--fix', 'tp=8,zero=1',
      '--top', '3', '--json', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    const j = r.json();
    const plans = j['plans'] as Record<string, unknown>[];
    assert.equal(plans.length, 3);
    for (const k of ['dp', 'tp', 'pp', 'ep', 'zero', 'micro_batch', 'recompute', 'step_time_s', 'tokens_per_s', 'mfu', 'memory_per_device_bytes', 'breakdown', 'placement']) {
      assert.ok(k in plans[0]!, k);
    }
    assert.ok(plans.every((p) => p['tp'] === 8 && p['zero'] === 1));
    assert.ok((plans[0]!['step_time_s'] as number) <= (plans[1]!['step_time_s'] as number));
    assert.ok((j['searched'] as number) > 0 && typeof j['seconds'] === 'number');
    assert.ok((j['explanation'] as string[]).length >= 2);
    const plan = readPlan(out);
    assert.equal(plan.tp, 8);
    assert.equal(plan.dp * plan.tp * plan.pp, 1024);
    assert.match(r.stderr, /searched \d+ candidate plans in [\d.]+ s/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('MoE: the result names the best plan without expert parallelism', () => {
  const r = furnace('--model', 'preset:furnace-small', '--cluster', 'preset:dgx-h100', '--devices', '8', '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.ok('best_without_ep' in r.json());
});

test('--machine: measured GEMM speed of this machine changes the predicted step time', () => {
  const dir = mkdtempSync(join(tmpdir(), 'furnace-cli-'));
  try {
    const step = (gemm: number) => {
      const f = join(dir, `m${gemm}.json`);
      writeFileSync(f, JSON.stringify({ cores: 2, peak_flops: 117e9, gemm_flops: gemm }));
      const r = furnace('--model', 'preset:furnace-small', '--machine', f, '--fix', 'dp=1,tp=1,pp=1', '--json');
      assert.equal(r.code, 0, r.stderr);
      return (r.json()['plans'] as { step_time_s: number }[])[0]!.step_time_s;
    };
    assert.ok(step(20e9) > 1.5 * step(100e9));
    // the result line of `furnace bench kernels --json` is read as it is (best single-thread GEMM, per-core peak)
    const bench = join(dir, 'kernels.json');
    writeFileSync(bench, JSON.stringify({ gemm: [{ backend: 'js', n: 256, threads: 1, gflops: 4 }, { backend: 'blas', n: 1024, threads: 1, gflops: 100 },
      { backend: 'blas', n: 1024, threads: 2, gflops: 190 }, { backend: 'wasm', n: 1024, threads: 1, gflops: null, reason: 'x' }], mlp: [], peak_gflops_per_core_estimate: 117 }));
    const viaBench = furnace('--model', 'preset:furnace-small', '--machine', bench, '--fix', 'dp=1,tp=1,pp=1', '--json');
    assert.equal(viaBench.code, 0, viaBench.stderr);
    assert.equal((viaBench.json()['plans'] as { step_time_s: number }[])[0]!.step_time_s, step(100e9));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad input exits 2 with one line naming the field, no stack trace', () => {
  const dir = mkdtempSync(join(tmpdir(), 'furnace-cli-'));
  try {
    const model = join(dir, 'model.json');
    writeFileSync(model, JSON.stringify({ name: 'm', layers: 2, hidden: 64, heads: 4, ffn_hidden: 256, vocab: 100, seq_len: 16, experts: 0, top_k: 0, moe_every: 1, dropout: 0.1 }));
    const machine = join(dir, 'machine.json');
    writeFileSync(machine, JSON.stringify({ cores: 2, gemm: 1e11 }));
    const cases: [string[], RegExp][] = [
      [['--model', 'preset:furnace-tiny', '--machine', machine], /machine\.json\.gemm: unknown key/],
      [['--model', model, '--cluster', 'preset:dgx-h100'], /model\.json\.dropout: unknown key/],
      [['--model', 'preset:gpt3-175b', '--cluster', 'preset:dgx-h100', '--fix', 'tp=5'], /--fix tp=5: does not divide heads 96/],
      [['--model', 'preset:gpt3-175b', '--cluster', 'preset:dgx-h100', '--fix', 'pp=97'], /--fix pp=97: exceeds the 96 layers/],
      [['--model', 'preset:gpt3-175b', '--cluster', 'preset:dgx-h100', '--fix', 'ep=2'], /--fix ep=2: the model is dense/],
      [['--model', 'preset:gpt3-175b', '--cluster', 'preset:nope'], /--cluster: unknown preset 'nope'/],
      [['--model', 'preset:gpt3-175b'], /--model and --cluster are required/],
      [['--model', 'preset:gpt3-175b', '--cluster', 'preset:dgx-h100', '--top', 'x'], /--top: expected an integer/],
      [['--model', 'preset:gpt3-175b', '--cluster', 'preset:dgx-h100', '--train', '{"global_batch_tokens": 1000, "dtype": "bf16", "optimizer": "adam"}'], /global_batch_tokens: 1000 is not a multiple of the model's seq_len 2048/],
    ];
    for (const [args, re] of cases) {
      const r = furnace(...args);
      assert.match(r.stderr, re, args.join(' '));
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(r.code, 2, r.stderr);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--calibrate fits this machine to run directories and prints predicted vs measured per run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'furnace-cal-'));
  try {
    const runs: string[] = [];
    for (const [i, batch] of [4, 8, 16].entries()) {
      const run = join(dir, `run${i}`);
      mkdirSync(run);
      writeFileSync(join(run, 'config.json'), JSON.stringify({ vocab_size: 512, d_model: 64, n_layers: 2, n_heads: 4, seq_len: 64, batch_size: batch, n_experts: 4, top_k: 2, moe_every: 1, d_ff: 256 }));
      writeFileSync(join(run, 'metrics.jsonl'), [1, 2, 3, 4].map((step) => JSON.stringify({ step, loss: 6, lr: 1e-3, tokens_per_s: 1, step_time_s: 0.01 * batch, time: { compute: 0.01 * batch, allreduce: 0, alltoall: 0, ckpt: 0 }, expert_load: [] })).join('\n'));
      runs.push(run);
    }
    const out = join(dir, 'calibrated.json');
    const r = furnace('--calibrate', ...runs, '--json', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    const j = r.json();
    const rows = j['runs'] as { measured_step_time_s: number; predicted_step_time_s: number; error: number }[];
    assert.equal(rows.length, 3);
    assert.ok((j['rms_log_error_after'] as number) <= (j['rms_log_error_before'] as number));
    assert.ok(rows.every((x) => Math.abs(x.error) < 0.2), JSON.stringify(rows));
    const again = furnace('--model', 'preset:furnace-tiny', '--cluster', out, '--json');
    assert.equal(again.code, 0, again.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
