// Planner files: plan.json written for the trainer and read back, spec files, and run directories.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterSpec } from './cluster.js';
import { prepare } from './context.js';
import { loadCluster, loadModel, loadTraining, readJsonFile, readPlan, readRun, writeCluster, writePlan } from './io.js';
import { CLUSTER_PRESETS, MODEL_PRESETS, thisMachine } from './presets.js';
import { search } from './search.js';
import { InputError } from '../util/errors.js';

const rejects = (f: () => unknown, re: RegExp) => assert.throws(f, (e: unknown) => e instanceof InputError && re.test(e.message), String(re));

test('writePlan then readPlan gives back the searched plan; the file carries what it was planned for', () => {
  const dir = mkdtempSync(join(tmpdir(), 'furnace-plan-'));
  try {
    const m = MODEL_PRESETS['furnace-small']!;
    const c = CLUSTER_PRESETS['a100-selene'] as ClusterSpec;
    const best = search(prepare(m, { ...c, devices: 8, tiers: c.tiers.slice(0, 1) }, { global_batch_tokens: 64 * 128, dtype: 'bf16', optimizer: 'adam' }), { top: 1 }).plans[0]!;
    const path = join(dir, 'sub', 'plan.json');
    writePlan(path, best, m.name, 'a100-selene');
    assert.deepEqual(readPlan(path), best.plan);
    const raw = readJsonFile(path) as Record<string, unknown>;
    assert.equal(raw['format'], 'furnace-plan/1');
    assert.equal((raw['predicted'] as Record<string, number>)['step_time_s'], best.stepTime);
    writeFileSync(path, JSON.stringify({ ...raw, micro_batches: 2 }));
    rejects(() => readPlan(path), /plan\.json\.micro_batches: unknown key/);
    writeFileSync(path, JSON.stringify({ ...raw, format: 'other/9' }));
    rejects(() => readPlan(path), /plan\.json\.format: expected 'furnace-plan\/1'/);
    writeFileSync(path, '{"dp": 1,');
    rejects(() => readPlan(path), /plan\.json: not valid JSON/);
    rejects(() => readPlan(join(dir, 'none.json')), /none\.json: cannot read \(ENOENT\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('specs: preset:NAME, files (validated, unknown keys named), inline training JSON; calibrated clusters read back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'furnace-spec-'));
  try {
    assert.equal(loadModel('preset:gpt3-175b').layers, 96);
    rejects(() => loadModel('preset:gpt5'), /--model: unknown preset 'gpt5'/);
    rejects(() => loadModel(join(dir, 'nope.json')), /--model: no file/);
    const cluster = { ...(CLUSTER_PRESETS['dgx-h100'] as ClusterSpec), efficiency: { gemm: 0.5 } };
    const path = join(dir, 'cluster.json');
    writeCluster(path, cluster);
    assert.deepEqual(loadCluster(path), cluster);
    writeFileSync(path, JSON.stringify({ ...cluster, tiers: [{ ...cluster.tiers[0], bandwith: 1 }] }));
    rejects(() => loadCluster(path), /cluster\.json\.tiers\[0\]\.bandwith: unknown key/);
    writeFileSync(path, JSON.stringify({ ...cluster, tiers: [cluster.tiers[0]] }));
    rejects(() => loadCluster(path), /tiers\[0\]\.group_size: the outermost tier must span all 256 devices/);
    assert.equal(loadTraining('{"global_batch_tokens": 2048, "dtype": "bf16", "optimizer": "adam"}').global_batch_tokens, 2048);
    rejects(() => loadTraining('{"global_batch_tokens": 2048, "dtype": "bf8", "optimizer": "adam"}'), /--train\.dtype: expected one of bf16, fp16, fp32/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('readRun reads config.json, metrics.jsonl and an optional plan.json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'furnace-run-'));
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ vocab_size: 2048, d_model: 256, n_layers: 4, n_heads: 4, seq_len: 128, batch_size: 16, n_experts: 8, top_k: 2, moe_every: 2, d_ff: 1024 }));
    const lines = [0.5, 0.3, 0.31, 0.29, 0.3].map((t, step) => JSON.stringify({ step, loss: 7, lr: 1e-3, tokens_per_s: 2048 / t, step_time_s: t, time: { compute: t, allreduce: 0, alltoall: 0, ckpt: 0 }, expert_load: [] }));
    writeFileSync(join(dir, 'metrics.jsonl'), lines.join('\n') + '\n');
    const o = readRun(dir);
    assert.ok(Math.abs(o.measured - 0.2975) < 1e-12, `${o.measured}`); // lower quartile of 0.29, 0.3, 0.3, 0.31
    assert.equal(o.model.experts, 8);
    writeFileSync(join(dir, 'plan.json'), JSON.stringify({ dp: 2, tp: 1, pp: 1, ep: 2, zero: 1, micro_batch: 8, recompute: 'none' }));
    assert.equal(readRun(dir).plan.ep, 2);
    writeFileSync(join(dir, 'metrics.jsonl'), lines[0] + '\n{oops\n');
    rejects(() => readRun(dir), /metrics\.jsonl:2: not valid JSON/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--cluster takes the emulated cluster furnace cluster up made: its state.json, its folder, or cluster:NAME', () => {
  const dir = mkdtempSync(join(tmpdir(), 'furnace-emulated-'));
  try {
    // 2 supernodes x 2 nodes x 2 ranks; node links 1 Gbit/s, uplinks 100 Mbit/s.
    const spec = { name: 'p15', nodes: 4, ranksPerNode: 2, supernodes: 2, rates: { node: 1e9, supernode: 1e8 } };
    writeFileSync(join(dir, 'state.json'), JSON.stringify({ version: 1, phase: 'up', spec, namespaces: ['fn-p15-sw'] }));
    const host = thisMachine({ cores: 2, peakFlops: 100e9 });
    const presets = { ...CLUSTER_PRESETS, 'this-machine': host };
    for (const arg of [dir, join(dir, 'state.json')]) {
      const c = loadCluster(arg, presets);
      assert.equal(c.name, 'cluster:p15');
      assert.equal(c.devices, 8);
      // rank bandwidth: a node link's 125 MB/s over its 2 ranks; an uplink's 12.5 MB/s over the supernode's 4.
      assert.deepEqual(c.tiers.map((t) => [t.name, t.group_size, t.bandwidth]), [['node', 2, host.tiers[0]!.bandwidth], ['supernode', 4, 62.5e6], ['machine', 8, 3.125e6]]);
      // 8 ranks on 2 cores: a quarter of a core each.
      assert.equal(c.device.flops.fp32, 25e9);
    }
    rejects(() => loadCluster('cluster:furnace-test-absent-cluster', presets), /--cluster: no emulated cluster 'furnace-test-absent-cluster'/);
    writeFileSync(join(dir, 'state.json'), JSON.stringify({ version: 1, spec: { ...spec, nodes: 0 }, namespaces: [] }));
    rejects(() => loadCluster(dir, presets), /state\.json\.spec\.nodes: must be >= 1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
