// ParallelPlan: rank coordinates, groups that partition the world, the JSON form and --fix parsing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coordsOf, groupOf, parseFix, parsePlan, planToJson, rankOf, worldSize, type Group, type ParallelPlan } from './plan.js';
import { InputError } from '../util/errors.js';

const plan: ParallelPlan = { dp: 6, tp: 2, pp: 2, ep: 3, zero: 1, microBatch: 2, recompute: 'selective', placement: { order: ['tp', 'edp', 'pp', 'ep'] } };

test('coordsOf and rankOf are inverse; tp is innermost (consecutive ranks)', () => {
  const n = worldSize(plan);
  assert.equal(n, 24);
  for (let r = 0; r < n; r++) assert.equal(rankOf(plan, coordsOf(plan, r)), r);
  assert.deepEqual(coordsOf(plan, 1), { tp: 1, ep: 0, edp: 0, pp: 0 });
  assert.deepEqual(groupOf(plan, 'tp', 0), [0, 1]);
  assert.throws(() => coordsOf(plan, 24), RangeError);
});

test('each kind of group partitions the ranks; dp = ep x edp; an ep group meets an edp group in one rank', () => {
  const n = worldSize(plan);
  const sizes: Record<Group, number> = { tp: 2, pp: 2, ep: 3, edp: 2, dp: 6 };
  for (const g of Object.keys(sizes) as Group[]) {
    const seen = new Map<number, string>();
    for (let r = 0; r < n; r++) {
      const members = groupOf(plan, g, r);
      assert.equal(members.length, sizes[g], g);
      assert.ok(members.includes(r));
      const key = members.join(',');
      for (const m of members) {
        const prev = seen.get(m);
        assert.ok(prev === undefined || prev === key, `${g}: rank ${m} in two different groups`);
        seen.set(m, key);
      }
    }
  }
  for (let r = 0; r < n; r++) {
    const dp = new Set(groupOf(plan, 'dp', r));
    assert.ok(groupOf(plan, 'ep', r).every((m) => dp.has(m)) && groupOf(plan, 'edp', r).every((m) => dp.has(m)));
    const common = groupOf(plan, 'ep', r).filter((m) => groupOf(plan, 'edp', r).includes(m));
    assert.deepEqual(common, [r]);
  }
});

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
