// Training runs as the parallel-layout tests compare them: a scratch folder with a small corpus and a
// micro MoE config, furnace started as a child process (under mpirun when given a prefix), and two
// runs' losses and parameters compared.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultCorpusPath } from '../../data/corpus.js';
import { readSafetensors } from '../../nn/safetensors.js';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'main.js');

export interface TrainFixture {
  dir: string;
  env: NodeJS.ProcessEnv;
  /** The first 60 kB of the default corpus. */
  corpus: string;
  /** The micro MoE config: 2 layers, 4 experts, top-2, 12 steps of batch 4. */
  config: string;
}

/** A fresh scratch folder `furnace-<name>-*` with the corpus and the config. */
export function trainFixture(name: string): TrainFixture {
  const dir = mkdtempSync(join(tmpdir(), `furnace-${name}-`));
  const corpus = join(dir, 'corpus.txt');
  writeFileSync(corpus, readFileSync(defaultCorpusPath(), 'utf8').slice(0, 60_000));
  // Dropless routing: capacity is per rank (as in GShard), so only without drops do layouts agree.
  const config = join(dir, 'micro.json');
  writeFileSync(config, JSON.stringify({
    model: { vocab_size: 300, seq_len: 16, d_model: 32, n_layers: 2, n_heads: 4, d_ff: 64, n_experts: 4, top_k: 2, moe_every: 1,
      expert_d_ff: 32, capacity_factor: 0 },
    train: { batch_size: 4, steps: 12, warmup_steps: 2, eval_every: 0, eval_batches: 1, log_every: 1 },
  }));
  return { dir, env: { ...process.env, CI: '1', FURNACE_CACHE: join(dir, 'cache') }, corpus, config };
}

/** Runs furnace with `args`, under `prefix` (e.g. mpirun ...) when given; seconds: its wall time. */
export function runFurnace(fx: TrainFixture, args: string[], o: { env?: Record<string, string>; prefix?: string[] } = {}):
  { code: number | null; stdout: string; stderr: string; seconds: number } {
  const prefix = o.prefix ?? [];
  const [cmd, ...pre] = prefix.length > 0 ? prefix : [process.execPath];
  const argv = prefix.length > 0 ? [...pre, process.execPath, main, ...args] : [main, ...args];
  const t0 = Date.now();
  const r = spawnSync(cmd!, argv, { encoding: 'utf8', env: { ...fx.env, ...o.env }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (Date.now() - t0) / 1000 };
}

export interface RunOutputs { losses: number[]; params: Map<string, { shape: number[]; data: Float32Array }> }

/** The per-step losses (metrics.jsonl) and final parameters (model.safetensors) of the run in `out`. */
export function readRun(out: string): RunOutputs {
  const losses = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { loss: number }).loss);
  return { losses, params: readSafetensors(join(out, 'model.safetensors')) };
}

/** Per-step losses within `tol` relative, final parameters within 1e-3 (float summation order only). */
export function assertSameRun(a: RunOutputs, b: RunOutputs, what: string, tol = 1e-4): void {
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
