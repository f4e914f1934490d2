// ParallelPlan: the JSON form and --fix parsing (its rank grid is tested in layout/grid.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFix, parsePlan, planToJson, type ParallelPlan } from './plan.js';
import { InputError } from '../util/errors.js';

const plan: ParallelPlan = { dp: 6, tp: 2, pp: 2, ep: 3, zero: 1, microBatch: 2, recompute: 'selective', placement: { order: ['tp', 'edp', 'pp', 'ep'] } };

test('the JSON form round-trips; bad plans are refused naming the field', () => {
  const json = planToJson({ ...plan, placement: { order: plan.placement.order, tiers: { tp: 'nvlink' } } });
  assert.equal(json['micro_batch'], 2);
  const back = parsePlan(JSON.parse(JSON.stringify(json)));
  assert.deepEqual(back, { ...plan, placement: { order: plan.placement.order, tiers: { tp: 'nvlink' } } });
  const bad: [unknown, RegExp][] = [
    [{ ...json, microbatch: 1 }, /plan\.microbatch: unknown key/],
    [{ ...json, ep: 4 }, /plan\.ep: 4 must divide dp 6/],
    [{ ...json, zero: 4 }, /plan\.zero: expected one of 0, 1, 2, 3/],
    [{ ...json, recompute: 'some' }, /plan\.recompute: expected one of none, selective, full/],
    [{ ...json, placement: { order: ['tp', 'tp', 'pp', 'ep'] } }, /plan\.placement\.order: must list each/],
    [{ ...json, placement: { order: ['tp', 'dp', 'pp', 'ep'] } }, /plan\.placement\.order\[1\]: expected one of/],
  ];
  for (const [v, re] of bad) assert.throws(() => parsePlan(v), (e: unknown) => e instanceof InputError && re.test(e.message), String(re));
});

test('--fix parses every choice and names what is wrong', () => {
  assert.deepEqual(parseFix('tp=8, pp=16,dp=64,ep=1,zero=1,recompute=selective,micro_batch=1,order=tp/ep/edp/pp'), {
    tp: 8, pp: 16, dp: 64, ep: 1, zero: 1, recompute: 'selective', microBatch: 1, order: ['tp', 'ep', 'edp', 'pp'],
  });
  const bad: [string, RegExp][] = [
    ['tp=0', /--fix tp: must be >= 1, got 0/], ['tp=x', /--fix tp: expected a positive integer/], ['zero=5', /--fix zero: expected one of/],
    ['tq=8', /--fix: unknown key 'tq'/], ['tp8', /--fix: expected key=value/], ['order=tp/pp', /--fix order: must list each/],
  ];
  for (const [s, re] of bad) assert.throws(() => parseFix(s), (e: unknown) => e instanceof InputError && re.test(e.message), s);
});
