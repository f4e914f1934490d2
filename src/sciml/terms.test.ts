// Canonical term names and PDE-FIND's standard library.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTerm, standardLibrary } from './terms.js';

test('canonical names: factors by derivative order, powers merged', () => {
  assert.equal(parseTerm('u_x * u').name, 'u*u_x');
  assert.equal(parseTerm('u_xx*u*u').name, 'u^2*u_xx');
  assert.equal(parseTerm('u_x^2').name, 'u_x^2');
  assert.equal(parseTerm('u_x*u_x').name, 'u_x^2');
  assert.equal(parseTerm('1').name, '1');
  assert.equal(parseTerm('u^3').name, 'u^3');
  assert.throws(() => parseTerm('sin(u)'), /cannot read factor 'sin\(u\)'/);
  assert.throws(() => parseTerm('u_y'), /cannot read factor/);
  assert.throws(() => parseTerm('u^0'), /power must be at least 1/);
});

test('the standard library is PDE-FIND\'s: (order + 1) x (power + 1) terms with the canonical names', () => {
  const names = standardLibrary(3, 2).map((t) => t.name);
  assert.deepEqual(names, ['1', 'u', 'u^2', 'u_x', 'u*u_x', 'u^2*u_x', 'u_xx', 'u*u_xx', 'u^2*u_xx', 'u_xxx', 'u*u_xxx', 'u^2*u_xxx']);
  for (const n of names) assert.equal(parseTerm(n).name, n);
});
