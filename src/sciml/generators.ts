// The PDE data sets of the equation-discovery literature, produced by furnace's own spectral solver.
import { solveSpectral, type Field } from './spectral.js';

function linspace(a: number, b: number, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = n === 1 ? a : a + ((b - a) * i) / (n - 1);
  return out;
}

export interface GridOptions { nx?: number; nt?: number; tEnd?: number; steps?: number }

/** PDE-FIND's Burgers data (Rudy et al., Sci. Adv. 3 (2017), e1602614): u_t = -u u_x + 0.1 u_xx,
 * periodic x in [-8, 8) with 256 points, t in [0, 10] with 101 snapshots, u0 = exp(-(x + 2)^2). */
export function burgersPeriodic(o: GridOptions & { nu?: number } = {}): Field {
  const nu = o.nu ?? 0.1;
  return solveSpectral({
    n: o.nx ?? 256, x0: -8, length: 16,
    linear: (k) => [-nu * k * k, 0],
    flux: (u) => 0.5 * u * u,
    u0: (x) => Math.exp(-((x + 2) ** 2)),
  }, linspace(0, o.tEnd ?? 10, o.nt ?? 101), o.steps ?? 10);
}

/** Exact two-soliton of u_t = -6 u u_x - u_xxx (Hirota): u = 2 (log F)_xx,
 * F = 1 + e^{n1} + e^{n2} + A e^{n1 + n2}, n_i = k_i (x - x_i) - k_i^3 t, A = ((k1 - k2)/(k1 + k2))^2.
 * Each soliton alone is (k^2/2) sech^2(k (x - x_i - k^2 t) / 2). */
export function kdvTwoSoliton(x: number, t: number, s: KdvSolitons = KDV_DEFAULT): number {
  const n1 = s.k1 * (x - s.x1) - s.k1 ** 3 * t, n2 = s.k2 * (x - s.x2) - s.k2 ** 3 * t;
  const a = ((s.k1 - s.k2) / (s.k1 + s.k2)) ** 2;
  // Divide F and its derivatives by e^m, m = the largest exponent, so nothing overflows.
  const m = Math.max(0, n1, n2, n1 + n2 + Math.log(a));
  const e0 = Math.exp(-m), e1 = Math.exp(n1 - m), e2 = Math.exp(n2 - m), e12 = a * Math.exp(n1 + n2 - m);
  const k1 = s.k1, k2 = s.k2, k12 = k1 + k2;
  const F = e0 + e1 + e2 + e12;
  const Fx = k1 * e1 + k2 * e2 + k12 * e12;
  const Fxx = k1 * k1 * e1 + k2 * k2 * e2 + k12 * k12 * e12;
  return (2 * (F * Fxx - Fx * Fx)) / (F * F);
}

export interface KdvSolitons { k1: number; x1: number; k2: number; x2: number }
/** A fast soliton (speed 1.96) starting behind a slow one (speed 0.64); they collide near t = 11. */
export const KDV_DEFAULT: KdvSolitons = { k1: 1.4, x1: -22, k2: 0.8, x2: -8 };

/** KdV two-soliton data: x in [-30, 30) with 512 points, t in [0, 20] with 201 snapshots (PDE-FIND's grid). */
export function kdv(o: GridOptions & { solitons?: KdvSolitons } = {}): Field {
  const s = o.solitons ?? KDV_DEFAULT;
  return solveSpectral({
    n: o.nx ?? 512, x0: -30, length: 60,
    linear: (k) => [0, k * k * k], // -u_xxx -> -(ik)^3 = i k^3
    flux: (u) => 3 * u * u, // -6 u u_x = -(3 u^2)_x
    u0: (x) => kdvTwoSoliton(x, 0, s),
  }, linspace(0, o.tEnd ?? 20, o.nt ?? 201), o.steps ?? 20);
}

/** Advection-diffusion u_t = -c u_x + nu u_xx on periodic [-8, 8), u0 = a Gaussian plus a wave. */
export function advectionDiffusion(o: GridOptions & { c?: number; nu?: number } = {}): Field {
  const c = o.c ?? 0.5, nu = o.nu ?? 0.05;
  return solveSpectral({
    n: o.nx ?? 256, x0: -8, length: 16,
    linear: (k) => [-nu * k * k, -c * k], // -c ik - nu k^2
    u0: (x) => Math.exp(-((x + 2) ** 2)) + 0.5 * Math.sin((Math.PI * x) / 4),
  }, linspace(0, o.tEnd ?? 10, o.nt ?? 101), o.steps ?? 4);
}

/** Kuramoto-Sivashinsky u_t = -u u_x - u_xx - u_xxxx on periodic [0, 32 pi) (Kassam & Trefethen 2005,
 * section 6): u0 = cos(x/16) (1 + sin(x/16)), 256 points, t in [0, 60] with 241 snapshots. */
export function kuramotoSivashinsky(o: GridOptions = {}): Field {
  return solveSpectral({
    n: o.nx ?? 256, x0: 0, length: 32 * Math.PI,
    linear: (k) => [k * k - k ** 4, 0], // -u_xx - u_xxxx -> k^2 - k^4
    flux: (u) => 0.5 * u * u,
    u0: (x) => Math.cos(x / 16) * (1 + Math.sin(x / 16)),
  }, linspace(0, o.tEnd ?? 60, o.nt ?? 241), o.steps ?? 4);
}

/** Fisher-KPP u_t = d u_xx + r u - r u^2 (d = 0.5, r = 1) on periodic [-30, 30): two fronts spreading
 * at speed 2 sqrt(r d) from a bump u0 = 0.8 exp(-x^2), t in [0, 8] with 161 snapshots. */
export function fisherKpp(o: GridOptions & { d?: number; r?: number } = {}): Field {
  const d = o.d ?? 0.5, r = o.r ?? 1;
  return solveSpectral({
    n: o.nx ?? 256, x0: -30, length: 60,
    linear: (k) => [r - d * k * k, 0],
    reaction: (u) => -r * u * u,
    u0: (x) => 0.8 * Math.exp(-x * x),
  }, linspace(0, o.tEnd ?? 8, o.nt ?? 161), o.steps ?? 4);
}
