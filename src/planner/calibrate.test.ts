// Calibration: the fit recovers known efficiency factors, and run records are read as the trainer writes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitEfficiency, logError, predict, runObservation, type Observation } from './calibrate.js';
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
