// Memory accounting of every rank: exact byte counts across ranks, each rank's peak in the metrics
// and the summary, and the measured model states equal to the preflight accounting of the layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalGroup } from '../comm/local-group.js';
import { gatherMemory, keepPeaks, memorySummary, type MemoryRecord } from './memory.js';
import { estimateMemory } from './preflight.js';
import { runFurnace, trainFixture } from './testing/train-runs.js';
import type { MetricsRecord } from './metrics.js';
import type { TrainConfig } from './config.js';
import type { MemoryBreakdown } from '../planner/memory.js';

const rec = (peak: number, x = 0): MemoryRecord => ({ weights: x, grads: 2 ** 40 + 12345, optimizer: 3, activations: 0, buffers: 7, peak, rss_peak: 2 ** 47 - 1 });

test('byte counts cross the ranks exactly (float32 pairs), peaks are kept per rank, the busiest rank is named', async () => {
  const r = rec(2 ** 35 + 1, 2 ** 33 + 3);
  assert.deepEqual(await gatherMemory(new LocalGroup(), r), [r]);
  const peaks = keepPeaks(keepPeaks([], [rec(5, 1), rec(9, 1)]), [rec(7, 2), rec(8, 2)]);
  assert.deepEqual(peaks.map((p) => [p.peak, p.weights]), [[7, 2], [9, 1]]);
  const planner: MemoryBreakdown = { weights: 0, grads: 0, optimizer: 0, activations: 0, buffers: 0, total: 0 };
  const s = memorySummary(peaks, planner);
  assert.equal(s.rank, 1);
  assert.equal(s.measured, peaks[1]);
});

test('threads dp2 with ep2 and ZeRO-1: every rank in each metrics record and the summary, model states as accounted', { timeout: 120_000 }, () => {
  const fx = trainFixture('mem'), out = join(fx.dir, 'run');
  const r = runFurnace(fx, ['train', '--config', fx.config, '--corpus', fx.corpus, '--out', out, '--sample-tokens', '0', '--json', '--dp', '2', '--ep', '2',
    '--zero', '--backend', 'wasm']);
  assert.equal(r.code, 0, r.stderr);
  const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as MetricsRecord);
  for (const m of lines) {
    assert.equal(m.memory_ranks?.length, 2, `step ${m.step}`);
    assert.deepEqual(m.memory_ranks[0], m.memory, `step ${m.step}: rank 0's record`);
  }
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { memory: { measured: MemoryRecord; rank: number; ranks: MemoryRecord[] } };
  const { measured, rank, ranks } = summary.memory;
  assert.equal(ranks.length, 2);
  assert.deepEqual(measured, ranks[rank]);
  const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as TrainConfig;
  const est = estimateMemory(cfg.model, { batch: 2, training: true, layout: { dp: 2, tp: 1, ep: 2, zero: true, recompute: 'none' } });
  for (const [k, m] of ranks.entries()) {
    assert.equal(m.weights, est.weights, `rank ${k}: weights`);
    assert.equal(m.grads, est.grads, `rank ${k}: gradients`);
    assert.ok(Math.abs(m.optimizer - est.optimizer) <= 16, `rank ${k}: optimizer ${m.optimizer} vs ${est.optimizer} (shards padded by one value)`);
    assert.ok(m.rss_peak > m.peak, `rank ${k}: resident ${m.rss_peak} above tensors ${m.peak}`);
  }
});
