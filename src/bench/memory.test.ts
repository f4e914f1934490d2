// bench memory's search: the deepest member that fits, and the next one that does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { familyModel, largestFitting, LAYOUTS } from './memory.js';
import { estimateMemory } from '../train/preflight.js';

test('largestFitting finds the deepest model whose world estimate fits, and the next depth does not', () => {
  const batch = 4, budget = 12 * 2 ** 30;
  for (const l of Object.values(LAYOUTS)) {
    const world = (layers: number) => l.dp * estimateMemory(familyModel(layers), { batch: batch / l.dp, training: true, layout: l }).total;
    const layers = largestFitting(l, budget, batch);
    assert.ok(layers >= 2 && layers % 2 === 0, `layers ${layers}`);
    assert.ok(world(layers) <= budget, `${layers} layers fit`);
    assert.ok(world(layers + 2) > budget, `${layers + 2} layers do not fit`);
  }
  assert.equal(largestFitting(LAYOUTS['dp1']!, 2 ** 20, batch), 0);
});
