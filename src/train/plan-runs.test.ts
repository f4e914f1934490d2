// Every plan `furnace plan --cluster this-machine` puts on top for the trainer's presets, pipelines
// forced with --fix included, runs in `furnace train --plan` as planned; the plans it marks as not
// runnable are refused by name. A plan the trainer cannot run fails here, not in a user's hands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runFurnace, trainFixture } from './testing/train-runs.js';

/** The keys of a plan as `furnace plan --out` writes them (the rest of a --json entry is its prediction). */
const PLAN_KEYS = ['dp', 'tp', 'pp', 'ep', 'zero', 'micro_batch', 'recompute', 'placement', 'pp_layers', 'virtual_stages'] as const;
type PlanEntry = Record<string, unknown> & { runnable: boolean };

// (trainer preset, --fix, how many of the top runnable plans to run): the best plans of each preset,
// and the best with a pipeline (interleaved where the planner chooses it), experts or tensors split.
const QUERIES: [preset: 'tiny' | 'small', fix: string, top: number][] = [
  ['tiny', '', 1], ['tiny', 'pp=2', 2], ['small', '', 1], ['small', 'pp=2', 2], ['small', 'ep=2', 1], ['small', 'tp=2', 1],
];

test('the top plans for this machine run in furnace train --plan (2 steps), each as planned; plans marked not runnable are refused', { timeout: 600_000 }, () => {
  const fx = trainFixture('plan-runs');
  try {
    let refused = false;
    for (const [preset, fix, top] of QUERIES) {
      const args = ['plan', '--model', `preset:furnace-${preset}`, '--cluster', 'this-machine', '--devices', '2', '--top', '8', '--json',
        ...(fix !== '' ? ['--fix', fix] : [])];
      const p = runFurnace(fx, args);
      assert.equal(p.code, 0, p.stderr);
      const plans = (JSON.parse(p.stdout.trim().split('\n').at(-1)!) as { plans: PlanEntry[] }).plans;
      const runnable = plans.filter((e) => e.runnable).slice(0, top);
      assert.equal(runnable.length, top, `${preset} ${fix}: ${plans.length} plans, ${runnable.length} runnable`);
      for (const [i, entry] of runnable.entries()) {
        const name = `${preset}-${fix.replace(/[^a-z0-9]/g, '')}-${i}`, file = join(fx.dir, `${name}.json`), out = join(fx.dir, name);
        const plan = Object.fromEntries(PLAN_KEYS.filter((k) => entry[k] !== undefined).map((k) => [k, entry[k]]));
        writeFileSync(file, JSON.stringify({ format: 'furnace-plan/1', ...plan }));
        const r = runFurnace(fx, ['train', '--preset', preset, '--corpus', fx.corpus, '--plan', file, '--steps', '2', '--out', out, '--sample-tokens', '0']);
        assert.equal(r.code, 0, `${name} ${JSON.stringify(plan)}: ${r.stderr}`);
        // The run's own plan.json records the layout it ran.
        const ran = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')) as Record<string, unknown>;
        for (const k of ['dp', 'tp', 'pp', 'ep', 'zero', 'recompute', 'virtual_stages'] as const) assert.deepEqual(ran[k], plan[k], `${name}: ${k}`);
      }
      const unrunnable = plans.find((e) => !e.runnable);
      if (unrunnable === undefined || refused) continue;
      refused = true;
      const file = join(fx.dir, 'not-runnable.json');
      writeFileSync(file, JSON.stringify({ format: 'furnace-plan/1', ...Object.fromEntries(PLAN_KEYS.filter((k) => unrunnable[k] !== undefined).map((k) => [k, unrunnable[k]])) }));
      const r = runFurnace(fx, ['train', '--preset', preset, '--corpus', fx.corpus, '--plan', file, '--steps', '2', '--out', join(fx.dir, 'no')]);
      assert.equal(r.code, 2, r.stderr);
      // The same reason as the planner's mark (capabilities.ts is the one list both read).
      assert.ok(r.stderr.startsWith('furnace: --plan: ') && r.stderr.includes(String(unrunnable['not_runnable'])), `${r.stderr} vs ${String(unrunnable['not_runnable'])}`);
    }
  } finally {
    rmSync(fx.dir, { recursive: true, force: true });
  }
});
