// PINN problems: Raissi et al.'s Burgers benchmark, forward and inverse (training points, reference).
import { burgersBenchmark } from '../cole-hopf.js';
import { Rng } from '../../tensor/random.js';
import { std } from '../rng.js';
import type { Field } from '../spectral.js';

/** Points (x_i, t_i) with optional targets u_i. */
export interface Points { x: Float64Array; t: Float64Array; u?: Float64Array }

export interface PinnProblem {
  name: string;
  lo: [number, number]; hi: [number, number]; // (x, t) box
  /** Known PDE coefficients, or the initial guesses of trainable ones (inverse problems). */
  coefs: { term: string; value: number; trainable: boolean; positive: boolean }[];
  truth: Record<string, number>;
  collocation: Points;
  initial?: Points; boundary?: Points; data?: Points;
  reference: Field; // for the relative L2 error
}

/** Latin hypercube sample of n points in a box (McKay, Beckman & Conover 1979), as Raissi et al. use
 * for collocation points. */
export function latinHypercube(n: number, lo: number[], hi: number[], rng: Rng): Float64Array[] {
  return lo.map((a, d) => {
    const perm = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) { const j = rng.int(i + 1); [perm[i], perm[j]] = [perm[j]!, perm[i]!]; }
    return Float64Array.from(perm, (p) => a + ((p + rng.uniform()) / n) * (hi[d]! - a));
  });
}

export interface BurgersOptions {
  collocation?: number; boundary?: number; seed?: number; dataPoints?: number; noise?: number;
  reference?: { nx: number; nt: number }; // default Raissi et al.'s 256 x 100
}

/** Forward Burgers, nu = 0.01/pi (Raissi, Perdikaris & Karniadakis, J. Comput. Phys. 378 (2019),
 * section 3.1.1): N_u initial/boundary points drawn from the union of t = 0 and x = +-1 on the
 * reference grid, N_f collocation points by Latin hypercube. */
export function burgersForward(o: BurgersOptions = {}): PinnProblem {
  const rng = new Rng(o.seed ?? 1);
  const reference = burgersBenchmark(o.reference ?? {});
  const nf = o.collocation ?? 10000, nu = o.boundary ?? 100;
  const [cx, ct] = latinHypercube(nf, [-1, 0], [1, 1], rng) as [Float64Array, Float64Array];
  // Candidate edge points: the initial row and both boundary columns of the reference grid.
  const nx = reference.x.length, cand: [number, number, number][] = [];
  for (let j = 0; j < nx; j++) cand.push([reference.x[j]!, 0, reference.u[j]!]);
  for (let i = 0; i < reference.t.length; i++) {
    cand.push([-1, reference.t[i]!, reference.u[i * nx]!]);
    cand.push([1, reference.t[i]!, reference.u[i * nx + nx - 1]!]);
  }
  const pick = sample(cand.length, nu, rng).map((k) => cand[k]!);
  const edge: Points = { x: Float64Array.from(pick, (p) => p[0]), t: Float64Array.from(pick, (p) => p[1]), u: Float64Array.from(pick, (p) => p[2]) };
  return {
    name: 'burgers', lo: [-1, 0], hi: [1, 1],
    coefs: [{ term: 'u*u_x', value: -1, trainable: false, positive: false }, { term: 'u_xx', value: 0.01 / Math.PI, trainable: false, positive: true }],
    truth: { 'u*u_x': -1, u_xx: 0.01 / Math.PI },
    collocation: { x: cx, t: ct }, initial: edge, reference,
  };
}

/** Inverse Burgers (Raissi et al. 2019, section 4.1.1): u_t + l1 u u_x - l2 u_xx = 0 with l1, l2
 * unknown; N = 2000 noisy samples of the exact solution serve as data and as collocation points. */
export function burgersInverse(o: BurgersOptions = {}): PinnProblem {
  const rng = new Rng(o.seed ?? 1);
  const reference = burgersBenchmark(o.reference ?? {});
  const n = o.dataPoints ?? 2000, noise = o.noise ?? 0.01;
  const nx = reference.x.length;
  const idx = sample(reference.u.length, n, rng);
  const s = std(reference.u);
  const data: Points = {
    x: Float64Array.from(idx, (c) => reference.x[c % nx]!),
    t: Float64Array.from(idx, (c) => reference.t[Math.floor(c / nx)]!),
    u: Float64Array.from(idx, (c) => reference.u[c]! + noise * s * rng.normal()),
  };
  return {
    name: 'burgers-inverse', lo: [-1, 0], hi: [1, 1],
    coefs: [{ term: 'u*u_x', value: 0, trainable: true, positive: false }, { term: 'u_xx', value: Math.exp(-6), trainable: true, positive: true }],
    truth: { 'u*u_x': -1, u_xx: 0.01 / Math.PI },
    collocation: { x: data.x, t: data.t }, data, reference,
  };
}

/** k distinct indices from [0, n), partial Fisher-Yates. */
function sample(n: number, k: number, rng: Rng): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  const m = Math.min(k, n);
  for (let i = 0; i < m; i++) { const j = i + rng.int(n - i); [a[i], a[j]] = [a[j]!, a[i]!]; }
  return a.slice(0, m);
}
