// Exact viscous Burgers solution for u0 = -sin(pi x) by the Cole-Hopf transform and Gauss-Hermite quadrature.
//
// u_t + u u_x = nu u_xx, u(x, 0) = -sin(pi x) on [-1, 1] with u(+-1, t) = 0 (Raissi, Perdikaris &
// Karniadakis 2019, section 3.1.1; Basdevant et al., Comput. Fluids 14 (1986)). Cole-Hopf gives
//   u(x, t) = - int sin(pi (x - e)) f(x - e) G(e) de / int f(x - e) G(e) de,
//   f(y) = exp(-cos(pi y) / (2 pi nu)),  G(e) = exp(-e^2 / (4 nu t)),
// and e = sqrt(4 nu t) s turns both integrals into int g(s) exp(-s^2) ds: Gauss-Hermite quadrature.
import type { Field } from './spectral.js';

/** Nodes and weights of n-point Gauss-Hermite quadrature (weight exp(-s^2)) by Golub & Welsch
 * (Math. Comp. 23, 1969): nodes are the eigenvalues of the Jacobi matrix (zero diagonal,
 * off-diagonal sqrt(k/2)), weights sqrt(pi) times the squared first components of its eigenvectors.
 * The eigenproblem is solved by implicit QL with Wilkinson shifts (Numerical Recipes' tqli), tracking
 * only the first row of the eigenvector matrix. */
export function gaussHermite(n: number): { x: Float64Array; w: Float64Array } {
  const d = new Float64Array(n), e = new Float64Array(n), z = new Float64Array(n);
  for (let k = 1; k < n; k++) e[k - 1] = Math.sqrt(k / 2);
  z[0] = 1;
  for (let l = 0; l < n; l++) {
    for (let iter = 0; ; iter++) {
      let m = l;
      for (; m < n - 1; m++) {
        const dd = Math.abs(d[m]!) + Math.abs(d[m + 1]!);
        if (Math.abs(e[m]!) <= Number.EPSILON * dd) break;
      }
      if (m === l) break;
      if (iter > 60) throw new Error('gaussHermite: QL iteration did not converge');
      let g = (d[l + 1]! - d[l]!) / (2 * e[l]!);
      let r = Math.hypot(g, 1);
      g = d[m]! - d[l]! + e[l]! / (g + (g >= 0 ? r : -r));
      let s = 1, c = 1, p = 0;
      let i = m - 1;
      for (; i >= l; i--) {
        let f = s * e[i]!;
        const b = c * e[i]!;
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) { d[i + 1] = d[i + 1]! - p; e[m] = 0; break; }
        s = f / r; c = g / r;
        g = d[i + 1]! - p;
        r = (d[i]! - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        f = z[i + 1]!;
        z[i + 1] = s * z[i]! + c * f;
        z[i] = c * z[i]! - s * f;
      }
      if (r === 0 && i >= l) continue;
      d[l] = d[l]! - p; e[l] = g; e[m] = 0;
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => d[a]! - d[b]!);
  const x = new Float64Array(n), w = new Float64Array(n);
  order.forEach((k, i) => { x[i] = d[k]!; w[i] = Math.sqrt(Math.PI) * z[k]! ** 2; });
  return { x, w };
}

/** u(x, t) of the Burgers benchmark at one point, with a given quadrature. */
export function burgersExact(x: number, t: number, nu: number, q: { x: Float64Array; w: Float64Array }): number {
  if (t === 0) return -Math.sin(Math.PI * x);
  const c = Math.sqrt(4 * nu * t), a = 1 / (2 * Math.PI * nu);
  // Shift exponents by their maximum so exp(-cos/(2 pi nu)) ~ e^{+-50} never overflows for small nu.
  let emax = -Infinity;
  for (let i = 0; i < q.x.length; i++) emax = Math.max(emax, -a * Math.cos(Math.PI * (x - c * q.x[i]!)));
  let num = 0, den = 0;
  for (let i = 0; i < q.x.length; i++) {
    const y = x - c * q.x[i]!;
    const f = q.w[i]! * Math.exp(-a * Math.cos(Math.PI * y) - emax);
    num += Math.sin(Math.PI * y) * f;
    den += f;
  }
  return -num / den;
}

export interface BurgersBenchmarkOptions {
  nu?: number; // default 0.01 / pi
  nx?: number; // default 256 points on [-1, 1], both ends included
  nt?: number; // default 100 snapshots on [0, 0.99]
  tEnd?: number;
  quadrature?: number; // Gauss-Hermite points, default 200
}

/** The PINN Burgers data set on a uniform grid (Raissi et al.'s burgers_shock: 256 x 100). */
export function burgersBenchmark(o: BurgersBenchmarkOptions = {}): Field {
  const nu = o.nu ?? 0.01 / Math.PI, nx = o.nx ?? 256, nt = o.nt ?? 100, tEnd = o.tEnd ?? 0.99;
  const q = gaussHermite(o.quadrature ?? 200);
  const x = new Float64Array(nx), t = new Float64Array(nt), u = new Float64Array(nx * nt);
  for (let j = 0; j < nx; j++) x[j] = -1 + (2 * j) / (nx - 1);
  for (let i = 0; i < nt; i++) t[i] = nt === 1 ? 0 : (tEnd * i) / (nt - 1);
  for (let i = 0; i < nt; i++) for (let j = 0; j < nx; j++) u[i * nx + j] = burgersExact(x[j]!, t[i]!, nu, q);
  return { x, t, u };
}
