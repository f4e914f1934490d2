// Derivatives of gridded data: central finite differences and local polynomial fits (for noisy data).
// Both are convolution stencils on a uniform grid, applied along one axis of a (nt, nx) field.
import { lstsq } from './linalg.js';

/** Weights w_{-p..p}: f^(d)(0) ~ sum_i w_i f(i h) / h^d (h = 1 here; divide by h^d when applying). */
export interface Stencil { half: number; weights: Float64Array; order: number }

/** Finite-difference weights for derivative `order` on integer `offsets` (Fornberg, Math. Comp. 51,
 * 1988, "Generation of finite difference formulas on arbitrarily spaced grids"), evaluated at 0. */
export function fornberg(offsets: number[], order: number): Float64Array {
  const n = offsets.length;
  // c[j][k]: weight of point j for derivative k.
  const c = Array.from({ length: n }, () => new Float64Array(order + 1));
  let c1 = 1, c4 = offsets[0]!;
  c[0]![0] = 1;
  for (let i = 1; i < n; i++) {
    const mn = Math.min(i, order);
    let c2 = 1;
    const c5 = c4;
    c4 = offsets[i]!;
    for (let j = 0; j < i; j++) {
      const c3 = offsets[i]! - offsets[j]!;
      c2 *= c3;
      if (j === i - 1) {
        for (let k = mn; k >= 1; k--) c[i]![k] = (c1 * (k * c[i - 1]![k - 1]! - c5 * c[i - 1]![k]!)) / c2;
        c[i]![0] = (-c1 * c5 * c[i - 1]![0]!) / c2;
      }
      for (let k = mn; k >= 1; k--) c[j]![k] = (c4 * c[j]![k]! - k * c[j]![k - 1]!) / c3;
      c[j]![0] = (c4 * c[j]![0]!) / c3;
    }
    c1 = c2;
  }
  return Float64Array.from(c.map((row) => row[order]!));
}

/** Central difference for derivative d with `accuracy` (even) order of accuracy: 2 floor((d+1)/2) - 1 +
 * accuracy points. */
export function centralStencil(d: number, accuracy = 4): Stencil {
  if (d === 0) return { half: 0, weights: Float64Array.of(1), order: 0 };
  const points = 2 * Math.floor((d + 1) / 2) - 1 + accuracy;
  const half = (points - 1) / 2;
  const offsets = Array.from({ length: points }, (_, i) => i - half);
  return { half, weights: fornberg(offsets, d), order: d };
}

/** Local polynomial fit: the least-squares polynomial of degree `degree` through the 2w+1 points
 * around each point, differentiated d times at the centre (Savitzky & Golay, Anal. Chem. 36, 1964;
 * PDE-FIND's PolyDiff fits the same polynomial point by point). Linear in the data, so it is a stencil:
 * row d of the pseudo-inverse of the Vandermonde matrix, times d!. */
export function polynomialStencil(d: number, w: number, degree: number): Stencil {
  if (degree < d) throw new Error(`polynomial degree ${degree} is below derivative order ${d}`);
  if (2 * w + 1 <= degree) throw new Error(`window of ${2 * w + 1} points cannot fit degree ${degree}`);
  const m = 2 * w + 1, n = degree + 1;
  const v = new Float64Array(m * n); // Vandermonde on s = offset / w, in [-1, 1] for conditioning
  for (let i = 0; i < m; i++) for (let k = 0; k < n; k++) v[i * n + k] = ((i - w) / w) ** k;
  const weights = new Float64Array(m);
  let fact = 1;
  for (let k = 2; k <= d; k++) fact *= k;
  for (let i = 0; i < m; i++) {
    const e = new Float64Array(m); e[i] = 1;
    const coef = lstsq(v, m, n, e); // the fit of the unit impulse at point i
    weights[i] = (fact * coef[d]!) / w ** d; // d/ds -> d/d(offset) divides by w per derivative
  }
  return { half: w, weights, order: d };
}

/** A (nt, nx) grid of values. */
export interface Grid2 { nt: number; nx: number; data: Float64Array }

/** Applies a stencil along x (axis 1) or t (axis 0) with spacing h; points whose stencil leaves the
 * grid are NaN. */
export function applyStencil(g: Grid2, s: Stencil, axis: 0 | 1, h: number): Grid2 {
  const { nt, nx, data } = g;
  const out = new Float64Array(nt * nx).fill(NaN);
  const scale = 1 / h ** s.order, p = s.half, w = s.weights;
  const len = axis === 1 ? nx : nt, stride = axis === 1 ? 1 : nx;
  for (let i = 0; i < nt; i++) for (let j = 0; j < nx; j++) {
    const pos = axis === 1 ? j : i;
    if (pos < p || pos >= len - p) continue;
    const c = i * nx + j;
    let acc = 0;
    for (let q = -p; q <= p; q++) acc += w[q + p]! * data[c + q * stride]!;
    out[c] = acc * scale;
  }
  return { nt, nx, data: out };
}
