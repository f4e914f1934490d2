// QR-reduced least squares, TrainSTRidge support recovery, bagging inclusion probabilities.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstsq } from './linalg.js';
import { Rng } from '../tensor/random.js';
import { baggedStridge, reduce, residualNorm, solveOn, trainStridge } from './stridge.js';

function problem(n: number, d: number, truth: Map<number, number>, noise: number, seed = 1) {
  const rng = new Rng(seed), x = new Float64Array(n * d), y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const z = rng.normal();
    for (let j = 0; j < d; j++) x[i * d + j] = (j + 1) * (0.3 * z + rng.normal()); // correlated columns, unequal scales
    for (const [j, c] of truth) y[i] = y[i]! + c * x[i * d + j]!;
    y[i] = y[i]! + noise * rng.normal();
  }
  return { x, y };
}

test('QR-reduced least squares equals direct least squares, residual norm included', () => {
  const d = 5, n = 200;
  const { x, y } = problem(n, d, new Map([[1, 2], [3, -1]]), 0.1);
  const direct = lstsq(x, n, d, y);
  const red = reduce(x, y, d);
  const w = solveOn(red, [0, 1, 2, 3, 4]);
  for (let j = 0; j < d; j++) assert.ok(Math.abs(w[j]! - direct[j]!) < 1e-10);
  let r = 0;
  for (let i = 0; i < n; i++) { let p = 0; for (let j = 0; j < d; j++) p += x[i * d + j]! * w[j]!; r += (y[i]! - p) ** 2; }
  assert.ok(Math.abs(residualNorm(red, w) - Math.sqrt(r)) < 1e-9);
});

test('TrainSTRidge recovers the sparse support and its coefficients', () => {
  const d = 10, truth = new Map([[2, 1.5], [7, -0.25]]);
  const { x, y } = problem(2000, d, truth, 0.05);
  const r = trainStridge(x, y, d);
  for (let j = 0; j < d; j++) {
    if (truth.has(j)) assert.ok(Math.abs(r.w[j]! / truth.get(j)! - 1) < 0.01, `coef ${j}: ${r.w[j]}`);
    else assert.equal(r.w[j], 0, `spurious term ${j}: ${r.w[j]}`);
  }
});

test('bagging: true terms kept in every bag, spurious ones in none; standard errors cover the truth', () => {
  const d = 8, truth = new Map([[0, 1], [5, 0.5]]);
  const { x, y } = problem(1500, d, truth, 0.2, 9);
  const r = baggedStridge(x, y, d, { bags: 8 });
  for (let j = 0; j < d; j++) {
    if (truth.has(j)) {
      assert.equal(r.inclusion[j], 1);
      assert.ok(Math.abs(r.coef[j]! - truth.get(j)!) < 4 * r.stderr[j]!, `coef ${j}: ${r.coef[j]} +- ${r.stderr[j]}`);
    } else assert.equal(r.inclusion[j], 0);
  }
});
