// bench overlap's reading of a run: tokens/s over the timed steps, the split per step, waiting only where every step has it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarizeRun } from './overlap.js';
import type { MetricsRecord } from '../train/metrics.js';

const rec = (step: number, dt: number, time: MetricsRecord['time']): MetricsRecord => ({
  step, loss: 1, lr: 1e-3, tokens_per_s: 2048 / dt, step_time_s: dt, model_flops_per_s: 0, mfu: 0, time, expert_load: [], aux_loss: 0,
  grad_norm: 1, dropped_tokens: 0,
});

test('summarizeRun: tokens over seconds of the timed steps, mean split per step, wait only when every step reports it', () => {
  const recs = [
    rec(0, 9, { compute: 9, allreduce: 0, alltoall: 0, ckpt: 0, wait: 0 }), // warm-up: left out
    rec(1, 0.5, { compute: 0.4, allreduce: 0.05, alltoall: 0.05, ckpt: 0, wait: 0.02 }),
    rec(2, 1.5, { compute: 1.2, allreduce: 0.1, alltoall: 0.2, ckpt: 0, wait: 0.06 }),
  ];
  const r = summarizeRun(recs, 1);
  assert.ok(Math.abs(r.tokens_per_s - 4096 / 2) < 1e-9);
  assert.ok(Math.abs(r.step_s - 1) < 1e-12);
  assert.ok(Math.abs(r.split.compute - 0.8) < 1e-12);
  assert.ok(Math.abs(r.split.comm - 0.2) < 1e-12);
  assert.ok(Math.abs((r.split.wait ?? NaN) - 0.04) < 1e-12);
  const { wait: _, ...noWait } = recs[2]!.time;
  assert.equal(summarizeRun([recs[1]!, { ...recs[2]!, time: noWait }], 0).split.wait, null);
  assert.throws(() => summarizeRun(recs, 3), /none after the 3 warm-up steps/);
});
