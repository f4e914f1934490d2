// What the trainer runs of a plan: the planner's marks and `furnace train --plan` refusing the rest by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TRAINER_CAPABILITIES } from './capabilities.js';
import { checkPlanRunnable } from './preflight.js';
import { runFurnace, trainFixture } from './testing/train-runs.js';
import type { ParallelPlan } from '../planner/plan.js';
import { missingCapabilities, runnableBy } from '../planner/runnable.js';
import { InputError } from '../util/errors.js';

const plan = (over: Partial<ParallelPlan>): ParallelPlan =>
  ({ dp: 2, tp: 1, pp: 1, ep: 2, zero: 1, microBatch: 2, recompute: 'none', placement: { order: ['tp', 'ep', 'edp', 'pp'] }, ...over });

test('dp x tp x ep with ZeRO-1 runs; each missing part is named with the plan value', () => {
  assert.deepEqual(runnableBy(plan({})), { runnable: true });
  const none = { ...TRAINER_CAPABILITIES, pipeline: false, unevenStages: false, interleaved: false, maxZero: 1, recompute: ['none'] } as const;
  assert.deepEqual(missingCapabilities(plan({ pp: 4, ppLayers: [3, 5, 5, 3], virtualStages: 2, zero: 3, recompute: 'full' }), none), [
    'pipeline parallelism (pp 4)', 'the interleaved schedule (virtual_stages 2)', 'ZeRO-3 (the trainer runs ZeRO stages 0-1)',
    'recompute full (the trainer runs none)',
  ]);
  // This trainer runs uneven and interleaved pipelines and every recomputation mode; one with even pipelines only refuses the uneven split.
  assert.deepEqual(missingCapabilities(plan({ pp: 4, ppLayers: [3, 5, 5, 3] }), TRAINER_CAPABILITIES), []);
  for (const recompute of ['none', 'selective', 'full'] as const) {
    assert.deepEqual(missingCapabilities(plan({ pp: 4, ppLayers: [4, 4, 4, 4], virtualStages: 2, recompute }), TRAINER_CAPABILITIES), []);
  }
  const evenPipes = { ...none, pipeline: true };
  assert.deepEqual(missingCapabilities(plan({ pp: 4, ppLayers: [4, 4, 4, 4] }), evenPipes), []);
  assert.deepEqual(missingCapabilities(plan({ pp: 4, ppLayers: [3, 5, 5, 3] }), evenPipes), ['uneven pipeline stages (pp_layers 3,5,5,3)']);
  assert.throws(() => checkPlanRunnable(plan({ zero: 2 }), 'p.json'),
    (e: unknown) => e instanceof InputError && /^p\.json: furnace train does not run ZeRO-2/.test(e.message));
});

test('furnace train --plan refuses a plan it cannot run in one line, exit 2; it runs the plan\'s recompute', () => {
  const fx = trainFixture('runnable');
  try {
    const file = join(fx.dir, 'plan.json');
    writeFileSync(file, JSON.stringify({ format: 'furnace-plan/1', dp: 2, tp: 1, pp: 1, ep: 1, zero: 2, micro_batch: 2, recompute: 'none' }));
    const r = runFurnace(fx, ['train', '--config', fx.config, '--corpus', fx.corpus, '--plan', file, '--out', join(fx.dir, 'out')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--plan: .*plan\.json: furnace train does not run ZeRO-2/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    // A plan with selective recomputation trains with it: the run's config and plan record it.
    writeFileSync(file, JSON.stringify({ format: 'furnace-plan/1', dp: 2, tp: 1, pp: 1, ep: 1, zero: 0, micro_batch: 2, recompute: 'selective' }));
    const out = join(fx.dir, 'sel');
    const ok = runFurnace(fx, ['train', '--config', fx.config, '--corpus', fx.corpus, '--plan', file, '--out', out, '--steps', '1', '--sample-tokens', '0']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { train: { recompute?: string } }).train.recompute, 'selective');
    assert.equal((JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')) as { recompute: string }).recompute, 'selective');
  } finally {
    rmSync(fx.dir, { recursive: true, force: true });
  }
});
