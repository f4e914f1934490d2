// Calibration: the fit recovers known efficiency factors, and run records are read as the trainer writes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitEfficiency, fitMemory, logError, predict, predictMemory, runObservation, type Observation } from './calibrate.js';
import { efficiencyOf } from './cluster.js';
import { MODEL_PRESETS, thisMachine } from './presets.js';
import { DEFAULT_ORDER } from './plan.js';
import { InputError } from '../util/errors.js';

const machine = thisMachine({ cores: 2 });

function observations(truth: ReturnType<typeof efficiencyOf>): Observation[] {
  const out: Observation[] = [];
  let i = 0;
  for (const name of ['furnace-tiny', 'furnace-small'] as const) {
    const model = MODEL_PRESETS[name]!;
    for (const batch of [4, 8, 16, 32]) {
      const o: Observation = {
        label: `${name}-b${batch}`, model,
        training: { global_batch_tokens: batch * model.seq_len, dtype: 'fp32', optimizer: 'adamw' },
        plan: { dp: 1, tp: 1, pp: 1, ep: 1, zero: 0, microBatch: batch / 2, recompute: 'none', placement: { order: [...DEFAULT_ORDER] } },
        measured: 0,
      };
      // measurement noise of +-3%, deterministic
      o.measured = predict(o, machine, truth) * (1 + 0.03 * Math.sin(1 + 7 * i++));
      out.push(o);
    }
  }
  return out;
}

test('fitting gemm, memory and per-layer overhead to 8 noisy runs (2 micro-batches each) recovers the factors that made them', () => {
  const truth = { ...efficiencyOf(machine), gemm: 0.2, memory: 0.25, layer_overhead_s: 5e-3 };
  const obs = observations(truth);
  const fit = fitEfficiency(obs, machine, ['gemm', 'memory', 'layer_overhead_s']);
  assert.ok(fit.before > 0.1, `the preset starts off: ${fit.before}`);
  assert.ok(fit.after < 0.035, `RMS log error after fit ${fit.after}`);
  for (const o of obs) {
    const err = predict(o, machine, fit.efficiency) / o.measured - 1;
    assert.ok(Math.abs(err) < 0.06, `${o.label}: ${(100 * err).toFixed(1)}%`);
  }
  assert.ok(Math.abs(fit.efficiency.gemm / truth.gemm - 1) < 0.2, `gemm ${fit.efficiency.gemm}`);
  assert.ok(Math.abs(fit.efficiency.layer_overhead_s / truth.layer_overhead_s - 1) < 0.2, `overhead ${fit.efficiency.layer_overhead_s}`);
  assert.ok(logError(obs, machine, fit.efficiency) === fit.after);
});

test('a run directory record: config.json as the trainer writes it, lower-quartile step time after warm-up', () => {
  const model = { vocab_size: 512, seq_len: 64, d_model: 64, n_layers: 2, n_heads: 4, d_ff: 256, n_experts: 4, top_k: 2,
    moe_every: 1, gate: 'topk', capacity_factor: 1.25, expert_d_ff: 128, aux_loss_coef: 0.01 };
  const nested = { model, train: { batch_size: 8, steps: 200, lr: 3e-3 } };
  const n = runObservation('runs/tiny', nested, [{ step: 0, step_time_s: 0.5 }]);
  assert.deepEqual([n.model.expert_ffn_hidden, n.training.capacity_factor, n.training.global_batch_tokens], [128, 1.25, 8 * 64]);
  assert.throws(() => runObservation('runs/tiny', { model, train: {} }, [{ step: 0, step_time_s: 1 }]),
    (e: unknown) => e instanceof InputError && /runs\/tiny\/config\.json\.train\.batch_size: missing/.test(e.message));
  const config = { vocab_size: 512, d_model: 64, n_layers: 2, n_heads: 4, seq_len: 64, batch_size: 8, n_experts: 4, top_k: 2,
    moe_every: 1, d_ff: 256, lr: 3e-4, backend: 'wasm' };
  const steps = [5, 0.9, 1.0, 1.1, 1.0, 1.2, 0.95, 1.05].map((t, i) => ({
    step: i, loss: 5 - i * 0.1, lr: 3e-4, tokens_per_s: 512 / t, step_time_s: t,
    time: { compute: 0.8 * t, allreduce: 0, alltoall: 0, ckpt: 0 }, expert_load: [[0.25, 0.25, 0.25, 0.25]],
  }));
  const o = runObservation('runs/tiny', config, steps);
  // the last six sorted: 0.95, 1.0, 1.0, 1.05, 1.1, 1.2; lower quartile at position 1.25 -> 1.0
  assert.ok(Math.abs(o.measured - 1.0) < 1e-12, `${o.measured}`);
  assert.ok(Math.abs(o.measuredCompute! - 0.8) < 1e-12);
  assert.deepEqual([o.model.layers, o.model.hidden, o.model.experts, o.model.top_k, o.model.ffn_hidden], [2, 64, 4, 2, 256]);
  assert.equal(o.training.global_batch_tokens, 8 * 64);
  assert.equal(o.plan.dp * o.plan.tp * o.plan.pp, 1);
  const bad: [unknown, unknown[], RegExp][] = [
    [{ ...config, d_model: '64' }, steps, /runs\/tiny\/config\.json\.d_model: expected a number, got '64'/],
    [(({ n_heads: _h, ...rest }) => rest)(config), steps, /runs\/tiny\/config\.json\.n_heads: missing/],
    [config, [], /runs\/tiny\/metrics\.jsonl: no step records/],
    [config, [{ step: 0 }], /metrics\.jsonl\[0\]\.step_time_s: missing/],
  ];
  for (const [c, s, re] of bad) assert.throws(() => runObservation('runs/tiny', c, s), (e: unknown) => e instanceof InputError && re.test(e.message), String(re));
});

test('the memory fit recovers an activation factor and an overhead from runs that measured their peak', () => {
  const obs = observations(efficiencyOf(machine)).map((o) => ({ ...o }));
  const [a, c] = [0.6, 48 * 2 ** 20];
  for (const o of obs) o.measuredMemory = predictMemory(o, machine, { activation_factor: a, overhead_bytes: c });
  const fit = fitMemory(obs, machine)!;
  assert.ok(Math.abs(fit.activation_factor / a - 1) < 1e-6 && Math.abs(fit.overhead_bytes / c - 1) < 1e-6, JSON.stringify(fit));
  assert.ok(fit.before > 0.05 && fit.after < 1e-9, `RMS ${fit.before} -> ${fit.after}`);
  assert.equal(fitMemory(obs.map(({ measuredMemory: _m, ...o }) => o), machine), undefined);
  // One run: the overhead alone, so that the run is predicted exactly.
  const one = fitMemory([obs[0]!], machine)!;
  assert.equal(one.activation_factor, 1);
  assert.ok(one.after < 1e-9);
});

test("a run's measured memory is the busiest rank's peak over its steps", () => {
  const model = { vocab_size: 512, seq_len: 64, d_model: 64, n_layers: 2, n_heads: 4, d_ff: 256 };
  const mem = (peak: number) => ({ weights: 1, grads: 1, optimizer: 1, activations: 1, buffers: 0, peak, rss_peak: 2 * peak });
  const o = runObservation('runs/m', { model, train: { batch_size: 8 } }, [
    { step: 0, step_time_s: 1, memory: mem(10), memory_ranks: [mem(10), mem(30)] },
    { step: 1, step_time_s: 1, memory: mem(20), memory_ranks: [mem(20), mem(25)] },
  ]);
  assert.equal(o.measuredMemory, 30);
  assert.equal(runObservation('runs/m', { model, train: { batch_size: 8 } }, [{ step: 0, step_time_s: 1, memory: mem(7) }]).measuredMemory, 7);
  assert.equal(runObservation('runs/m', { model, train: { batch_size: 8 } }, [{ step: 0, step_time_s: 1 }]).measuredMemory, undefined);
});
