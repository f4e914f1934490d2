// Each forward/backward collective pair is adjoint: sum over ranks <f(x), y> = <x, f'(y)>.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from './launch.js';

const fixtures = new URL('./testing/collective-pairs-fixtures.js', import.meta.url);

for (const ranks of [2, 3]) {
  test(`every collective pair's backward is the adjoint of its forward (${ranks} ranks)`, { timeout: 60_000 }, async () => {
    const res = await launch<[string, number, number][]>(fixtures, { ranks, exportName: 'adjoints' });
    assert.equal(res[0]?.length, 8);
    for (const rows of res) {
      for (const [name, lhs, rhs] of rows) {
        assert.ok(lhs !== 0, `${name}: a zero inner product proves nothing`);
        assert.equal(lhs, rhs, `${name}: <f(x), y> = ${lhs} but <x, f'(y)> = ${rhs}`);
      }
    }
  });
}
