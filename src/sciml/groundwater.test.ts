// Groundwater finite volumes: exact steady heterogeneous flow, second-order transient convergence, 2-D = 1-D.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groundwater, groundwaterSteady, logNormalField } from './groundwater.js';

test('steady 1-D flow in heterogeneous K is exact at cell centres (harmonic face means)', () => {
  const nx = 40, lx = 100, hL = 10, hR = 2;
  const k = logNormalField(nx, 1, lx, 1, { corrLength: 15, variance: 1, seed: 7 });
  const h = groundwaterSteady({ nx, ny: 1, lx, ly: 1, hLeft: hL, hRight: hR, k });
  // Darcy: constant flux q; h drops by q dx / K_i across cell i, half of that from boundary to centre.
  const dx = lx / nx;
  let resist = 0;
  for (let i = 0; i < nx; i++) resist += dx / k[i]!;
  const q = (hL - hR) / resist;
  let head = hL;
  for (let i = 0; i < nx; i++) {
    head -= (q * dx) / (2 * k[i]!);
    assert.ok(Math.abs(h[i]! - head) < 1e-9, `cell ${i}: ${h[i]} vs ${head}`);
    head -= (q * dx) / (2 * k[i]!);
  }
});

test('transient 1-D flow converges at second order in space (dt ~ dx^2) to the exact decaying mode', () => {
  // Ss h_t = K h_xx on [0, L], h(0) = h(L) = 0, h0 = sin(pi x / L): h = exp(-K pi^2 t / (Ss L^2)) sin(pi x / L).
  const L = 1, K = 1, ss = 1, tEnd = 0.05;
  const errs = [10, 20, 40].map((nx) => modeError(nx, (nx * nx) / 20, L, K, ss, tEnd));
  const o1 = Math.log2(errs[0]! / errs[1]!), o2 = Math.log2(errs[1]! / errs[2]!);
  assert.ok(o1 > 1.8 && o2 > 1.8, `orders ${o1.toFixed(2)}, ${o2.toFixed(2)} (errors ${errs.join(', ')})`);
});

/** Max error of the FV solution started from the sampled mode, against the exact decay. */
function modeError(nx: number, steps: number, L: number, K: number, ss: number, tEnd: number): number {
  const dx = L / nx;
  const exact = (x: number, t: number): number => Math.exp((-K * Math.PI ** 2 * t) / (ss * L * L)) * Math.sin((Math.PI * x) / L);
  // Initial condition enters through a source q at the first step: Ss (h1 - 0)/dt = A h1 + q with
  // q = Ss h0 / dt reproduces starting from h0.
  const dt = tEnd / steps;
  let first = true;
  const f = groundwater({
    nx, ny: 1, lx: L, ly: 1, ss, hLeft: 0, hRight: 0, h0: 0, tEnd, nt: 2, stepsPerSnapshot: steps,
    k: new Float64Array(nx).fill(K),
    source: (_t, out) => {
      if (!first) return;
      first = false;
      for (let i = 0; i < nx; i++) out[i] = (ss * exact((i + 0.5) * dx, 0)) / dt;
    },
  });
  let e = 0;
  for (let i = 0; i < nx; i++) e = Math.max(e, Math.abs(f.h[nx + i]! - exact((i + 0.5) * dx, tEnd)));
  return e;
}

test('2-D flow with K varying only in x equals the 1-D solution in every row; heads stay between the boundary values', () => {
  const nx = 12, ny = 5;
  const k1 = logNormalField(nx, 1, 1020, 1, { seed: 3 });
  const k2 = new Float64Array(nx * ny);
  for (let j = 0; j < ny; j++) k2.set(k1, j * nx);
  const a = groundwater({ nx, ny: 1, ly: 1020 / ny, k: k1, nt: 6, tEnd: 2 });
  const b = groundwater({ nx, ny, k: k2, nt: 6, tEnd: 2 });
  for (let s = 0; s < 6; s++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
    assert.ok(Math.abs(b.h[s * nx * ny + j * nx + i]! - a.h[s * nx + i]!) < 1e-9);
  }
  const full = groundwater({ nx: 21, ny: 21, nt: 4, tEnd: 5 });
  for (const v of full.h) assert.ok(v >= 200 - 1e-9 && v <= 202 + 1e-9, `head ${v} outside [200, 202] (maximum principle)`);
});
