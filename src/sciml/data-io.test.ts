// JSON and CSV field input: agreement, round trip, and every kind of bad grid refused by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataError, fieldToJson, parseCsvField, parseJsonField } from './data-io.js';

const grid = { x: [0, 0.5, 1, 1.5], t: [0, 0.1, 0.2], u: [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]] };

test('JSON and CSV inputs give the same field; JSON round-trips', () => {
  const a = parseJsonField(JSON.stringify(grid));
  const rows = ['t,u,x'];
  grid.t.forEach((t, i) => grid.x.forEach((x, j) => rows.push(`${t},${grid.u[i]![j]},${x}`)));
  const shuffled = [rows[0]!, ...rows.slice(1).reverse()];
  const b = parseCsvField(shuffled.join('\n'));
  assert.deepEqual(Array.from(b.u), Array.from(a.u));
  assert.deepEqual(Array.from(b.x), grid.x);
  assert.deepEqual(JSON.parse(fieldToJson(a)), grid);
});

test('bad inputs are refused with one line naming the problem', () => {
  const bad: [unknown, RegExp][] = [
    [{ ...grid, u: [[1, 2, 3, 4], [5, 6, 7], [9, 10, 11, 12]] }, /ragged grid: u\[1\] has 3 values but x has 4/],
    [{ ...grid, x: [0, 0.5, 1.1, 1.5] }, /non-uniform spacing in x/],
    [{ ...grid, t: [0, 0.2, 0.1] }, /non-uniform spacing in t|t must increase/],
    [{ ...grid, u: [[1, 2, null, 4], [5, 6, 7, 8], [9, 10, 11, 12]] }, /f\.json\.u\[0\]\[2\]: expected a number, got null/],
    [{ ...grid, u: [[1, 2, 3, 4]] }, /u has 1 rows but t has 3 values/],
    [{ x: [0, 1], t: [0, 1, 2], u: [[1, 2], [3, 4], [5, 6]] }, /x has 2 points; at least 3/],
    [{ ...grid, extra: 1 }, /f\.json\.extra: unknown key \(allowed: x, t, u\)/],
    [{ ...grid, t: 'now' }, /f\.json\.t: expected an array, got 'now'/],
    [{ x: grid.x, u: grid.u }, /f\.json\.t: missing/],
    [[1, 2], /expected an object/],
  ];
  for (const [v, re] of bad) {
    assert.throws(() => parseJsonField(JSON.stringify(v), 'f.json'), (e: Error) => e instanceof DataError && re.test(e.message) && !e.message.includes('\n'));
  }
  assert.throws(() => parseJsonField('{x: 1', 'f.json'), /f.json: not valid JSON/);
  assert.throws(() => parseCsvField('x,t,u\n0,0,1\n1,0,NaN\n2,0,3', 'f.csv'), /line 3: u is 'NaN'/);
  assert.throws(() => parseCsvField('x,t,u\n0,0,1\n1,0,2\n2,0,3\n0,1,1\n1,1,2', 'f.csv'), /not a full grid: 5 rows for 2 times x 3 positions/);
  assert.throws(() => parseCsvField('x,time,u\n0,0,1', 'f.csv'), /no column 't'/);
  assert.throws(() => parseCsvField('x,t,u\n0,0,1,5', 'f.csv'), /line 2 has 4 fields/);
});
