// The accuracy table's scoring: exact term sets only, worst error over the true terms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DiscoverResult } from './discover.js';
import { markdownTable, score } from './accuracy.js';

const result = (terms: Record<string, number>): DiscoverResult => ({
  terms: Object.entries(terms).map(([term, coef]) => ({ term, coef, stderr: 0, inclusion: 1 })),
  library: [], residual: 0, rows: 0, method: 'weak', diff: 'none', stability: 1, noiseEstimate: 0, tolerance: 0, l0: 0,
  residualField: new Float64Array(0), best: { equation: 'u_t = 0', residual: 1 },
});

test('score: a spurious or missing term makes the set wrong; the error is the worst over true terms', () => {
  const truth = { 'u*u_x': -1, u_xx: 0.1 };
  assert.deepEqual(score(result({ 'u*u_x': -1.02, u_xx: 0.099 }), truth), { right: true, worst: 0.020000000000000018 });
  assert.equal(score(result({ 'u*u_x': -1, u_xx: 0.1, u: 0.001 }), truth).right, false);
  const missing = score(result({ 'u*u_x': -1 }), truth);
  assert.equal(missing.right, false);
  assert.ok(Number.isNaN(missing.worst));
  const md = markdownTable([{ equation: 'Burgers', noise: 0.05, method: 'weak', right: false, worst: NaN, accepted: true, found: '-1 u*u_x', seconds: 0.5 }]);
  assert.match(md, /\| Burgers \| 5% \| weak \| wrong \| term missing \| 0 \| 0\.5 \| u_t = -1 u\*u_x \|/);
});
