// checkLayout: the one check of a parallel layout against the model and batch; each refusal names
// the flag and the config field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../util/errors.js';
import { PRESETS, checkLayout } from './config.js';

const cfg = { model: { ...PRESETS.small.model, n_heads: 4, d_ff: 1024, n_experts: 8 }, train: { ...PRESETS.small.train, batch_size: 16 } };

test('checkLayout accepts layouts that divide the model and batch', () => {
  for (const l of [{ dp: 1, tp: 1, ep: 1 }, { dp: 4, tp: 2, ep: 2 }, { dp: 8, tp: 4, ep: 8 }, { dp: 16, tp: 1, ep: 8 }]) checkLayout(cfg, l);
});

test('checkLayout refuses a layout with one line naming the flag and the field', () => {
  const cases: [{ dp: number; tp: number; ep: number }, RegExp][] = [
    [{ dp: 2, tp: 1, ep: 4 }, /^--ep 4 must divide --dp 2$/],
    [{ dp: 3, tp: 1, ep: 3 }, /^--ep 3 must divide model\.n_experts \(8\)$/],
    [{ dp: 1, tp: 3, ep: 1 }, /^--tp 3 must divide model\.n_heads \(4\)$/],
    [{ dp: 3, tp: 1, ep: 1 }, /^--dp 3 must divide train\.batch_size \(16\)$/],
  ];
  for (const [l, msg] of cases) assert.throws(() => checkLayout(cfg, l), (e: unknown) => e instanceof InputError && msg.test(e.message), JSON.stringify(l));
  assert.throws(() => checkLayout({ ...cfg, model: { ...cfg.model, n_heads: 8, d_ff: 1020 } }, { dp: 1, tp: 8, ep: 1 }), { name: 'InputError', message: /^--tp 8 must divide model\.d_ff \(1020\)$/ });
  assert.throws(() => checkLayout({ ...cfg, model: { ...cfg.model, n_experts: 0 } }, { dp: 2, tp: 1, ep: 2 }), { name: 'InputError', message: /^--ep 2 must divide model\.n_experts \(0\)$/ });
});
