// groupedMatmul: finite differences, and equal to matmul (values and gradients) when padding rows are zero.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { groupedMatmul } from './grouped.js';
import { tensor, type Tensor } from './tensor.js';
import { setBackend } from './engine.js';
import { grad } from '../autograd/backward.js';
import { gradcheck } from '../autograd/gradcheck.js';
import { Rng } from './random.js';
import { createBackend, probeBackends } from '../backends/index.js';
import { JsBackend } from '../backends/js.js';

/** x (G, S, K) with rows past each segment's count zero. */
function paddedInput(rng: Rng, g: number, s: number, k: number, rows: Int32Array, segs: number): Tensor {
  const seg = s / segs, v = new Float32Array(g * s * k);
  for (let gi = 0; gi < g; gi++) {
    for (let si = 0; si < segs; si++) {
      for (let r = 0; r < rows[gi * segs + si]!; r++) {
        for (let c = 0; c < k; c++) v[((gi * s) + si * seg + r) * k + c] = rng.normal();
      }
    }
  }
  return tensor(v, [g, s, k], true);
}

it('groupedMatmul gradient matches finite differences (js)', () => {
  setBackend(new JsBackend());
  const rng = new Rng(2), rows = Int32Array.from([2, 0, 3, 1]);
  const x = paddedInput(rng, 2, 6, 3, rows, 2);
  const w = tensor(Array.from({ length: 2 * 3 * 4 }, () => rng.normal()), [2, 3, 4], true);
  // Padding rows are not inputs of the function: perturbing them must not move the output, and
  // their gradient is 0, which the finite differences confirm.
  const r = gradcheck((a, b) => groupedMatmul(a, b, rows, 2), [x, w]);
  assert.ok(r.maxRelError < 2e-2, `max relative error ${r.maxRelError} at ${JSON.stringify(r.worst)}`);
});

it('groupedMatmul equals matmul on zero-padded batches, values and gradients, on every backend', async () => {
  for (const p of await probeBackends()) {
    if (!p.available) { process.stdout.write(`# skipped ${p.name}: ${p.reason}\n`); continue; }
    setBackend(await createBackend(p.name));
    for (const [g, s, k, n, segs, counts] of [[3, 8, 5, 7, 1, [8, 0, 3]], [2, 12, 16, 9, 3, [4, 1, 0, 2, 4, 3]]] as const) {
      const rng = new Rng(g * 31 + s), rows = Int32Array.from(counts);
      const x = paddedInput(rng, g, s, k, rows, segs);
      const w = tensor(Array.from({ length: g * k * n }, () => rng.normal()), [g, k, n], true);
      const wy = tensor(Array.from({ length: g * s * n }, () => rng.normal()), [g, s, n]);
      const yg = groupedMatmul(x, w, rows, segs), ym = x.matmul(w);
      const [dxg, dwg] = grad(yg.mul(wy).sum(), [x, w]);
      // matmul's dx has values on padding rows (dy w^T); the grouped op's are 0 there, as padding is not an input.
      const [dxm, dwm] = grad(ym.mul(wy).sum(), [x, w]);
      const seg = s / segs;
      for (let i = 0; i < ym.size; i++) assert.ok(Math.abs(yg.data[i]! - ym.data[i]!) <= 1e-5 * Math.max(1, Math.abs(ym.data[i]!)), `${p.name} y[${i}]`);
      for (let i = 0; i < w.size; i++) assert.ok(Math.abs(dwg!.data[i]! - dwm!.data[i]!) <= 1e-4 * Math.max(1, Math.abs(dwm!.data[i]!)), `${p.name} dw[${i}]`);
      for (let i = 0; i < x.size; i++) {
        const row = Math.floor(i / k), gi = Math.floor(row / s), si = Math.floor((row % s) / seg), r = row % seg;
        const want = r < rows[gi * segs + si]! ? dxm!.data[i]! : 0;
        assert.ok(Math.abs(dxg!.data[i]! - want) <= 1e-4 * Math.max(1, Math.abs(want)), `${p.name} dx[${i}]: ${dxg!.data[i]} vs ${want}`);
      }
    }
  }
});

it('groupedMatmul refuses bad row counts and segment splits by name', () => {
  setBackend(new JsBackend());
  const x = tensor(new Float32Array(2 * 4 * 3), [2, 4, 3]), w = tensor(new Float32Array(2 * 3 * 2), [2, 3, 2]);
  assert.throws(() => groupedMatmul(x, w, Int32Array.from([5, 0]), 1), /row count 5 outside \[0, 4\]/);
  assert.throws(() => groupedMatmul(x, w, Int32Array.from([1, 1, 1]), 1), /3 row counts for 2 x 1 segments/);
  assert.throws(() => groupedMatmul(x, w, Int32Array.from([1, 1, 1, 1, 1, 1]), 3), /3 segments do not divide 4 rows/);
});
