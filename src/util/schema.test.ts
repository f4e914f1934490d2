// One wording for every input format: the field path, what is wrong, and a typo named before what it hides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from './errors.js';
import { parseJson, parseWith, z } from './schema.js';

const spec = z.strictObject({
  name: z.string().min(1),
  layers: z.number().int().min(1),
  dtype: z.enum(['bf16', 'fp32']),
  tiers: z.array(z.strictObject({ size: z.number().positive(), note: z.string().exactOptional() })).min(1),
});
const ok = { name: 'm', layers: 2, dtype: 'bf16', tiers: [{ size: 8 }] };

test('parseWith: the value back when valid; InputError naming the source and field path when not', () => {
  assert.deepEqual(parseWith(spec, ok, 'm.json'), ok);
  const cases: [unknown, string][] = [
    [{ ...ok, layers: 2.5 }, 'm.json.layers: expected an integer, got number 2.5'],
    [{ ...ok, layers: 0 }, 'm.json.layers: must be >= 1, got 0'],
    [{ ...ok, dtype: 'fp8' }, "m.json.dtype: expected one of bf16, fp32, got 'fp8'"],
    [{ ...ok, name: '' }, "m.json.name: expected a non-empty string, got ''"],
    [(({ name: _n, ...rest }) => rest)(ok), 'm.json.name: missing'],
    [{ ...ok, tiers: [{ size: -1 }] }, 'm.json.tiers[0].size: must be > 0, got -1'],
    [{ ...ok, tiers: [] }, 'm.json.tiers: expected at least 1 entries, got 0'],
    [{ ...ok, tiers: [{ size: 8, sise: 8 }] }, 'm.json.tiers[0].sise: unknown key (allowed: size, note)'],
    // The typo is named, not the key it leaves missing (zod lists unknown keys last).
    [(({ layers: _l, ...rest }) => ({ ...rest, layer: 2 }))(ok), 'm.json.layer: unknown key (allowed: name, layers, dtype, tiers)'],
    [[1], 'm.json: expected an object, got an array'],
  ];
  for (const [value, message] of cases) {
    assert.throws(() => parseWith(spec, value, 'm.json'), (e: unknown) => e instanceof InputError && e.message === message, message);
  }
});

test('parseJson names the source of a syntax error', () => {
  assert.deepEqual(parseJson('{"a": 1}', 'x.json'), { a: 1 });
  assert.throws(() => parseJson('{"a": ', 'x.json'), (e: unknown) => e instanceof InputError && /^x\.json: not valid JSON \(/.test(e.message));
});
