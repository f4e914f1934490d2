// Pseudo-spectral solver for periodic 1-D equations u_t = L u - (f(u))_x with ETDRK4 time stepping.
//
// Fourier modes v_k obey v_k' = L_k v_k + N_k(v), with L diagonal (diffusion, dispersion, advection)
// and N_k = -i k FFT(f(u)) dealiased by the 2/3 rule. ETDRK4 treats the stiff L exactly (Cox &
// Matthews 2002); its phi-function coefficients come from the contour integral of Kassam &
// Trefethen, "Fourth-order time-stepping for stiff PDEs", SIAM J. Sci. Comput. 26 (2005), eq. 2.5.
import { Fft, wavenumbers } from './fft.js';

/** A periodic problem on [x0, x0 + length) with n points (a power of two). */
export interface SpectralProblem {
  n: number;
  x0: number;
  length: number;
  /** Linear symbol L(k) = re + i im, e.g. diffusion nu: (-nu k^2, 0); u_t = -u_xxx: (0, k^3). */
  linear: (k: number) => [number, number];
  /** Flux f(u) of the conservative nonlinear term -(f(u))_x, element-wise; undefined for linear problems. */
  flux?: (u: number) => number;
  /** Local reaction r(u) of a term + r(u) (Fisher-KPP's -u^2), element-wise; undefined for none. */
  reaction?: (u: number) => number;
  u0: (x: number) => number;
}

/** Snapshots u(t_i, x_j), row-major (nt, nx), plus the grids. */
export interface Field {
  x: Float64Array; // (nx)
  t: Float64Array; // (nt)
  u: Float64Array; // (nt, nx)
}

/** Integrates from t = 0 to each of `times` (non-negative, increasing), taking `steps` ETDRK4 steps
 * per output interval (intervals of other lengths get a proportional whole number of steps). */
export function solveSpectral(p: SpectralProblem, times: ArrayLike<number>, steps: number): Field {
  const n = p.n;
  const fft = new Fft(n);
  const k = wavenumbers(n, p.length);
  const x = new Float64Array(n);
  for (let j = 0; j < n; j++) x[j] = p.x0 + (j * p.length) / n;
  const kmax = (Math.PI * n) / p.length;
  const keep = new Float64Array(n); // 2/3-rule dealiasing mask, applied to the nonlinear term
  for (let j = 0; j < n; j++) keep[j] = Math.abs(k[j]!) < (2 / 3) * kmax ? 1 : 0;

  const vr = new Float64Array(n), vi = new Float64Array(n);
  for (let j = 0; j < n; j++) vr[j] = p.u0(x[j]!);
  fft.transform(vr, vi);

  const ur = new Float64Array(n), ui = new Float64Array(n);
  const rr = new Float64Array(n), ri = new Float64Array(n);
  /** N(v) = -i k FFT(f(IFFT v)) + FFT(r(IFFT v)), dealiased; writes into (nr, ni). */
  const nonlinear = (ar: Float64Array, ai: Float64Array, nr: Float64Array, ni: Float64Array): void => {
    nr.fill(0); ni.fill(0);
    if (p.flux === undefined && p.reaction === undefined) return;
    ur.set(ar); ui.set(ai);
    fft.transform(ur, ui, true);
    if (p.reaction !== undefined) {
      for (let j = 0; j < n; j++) { rr[j] = p.reaction(ur[j]!); ri[j] = 0; }
      fft.transform(rr, ri);
      for (let j = 0; j < n; j++) { nr[j] = rr[j]! * keep[j]!; ni[j] = ri[j]! * keep[j]!; }
    }
    if (p.flux === undefined) return;
    for (let j = 0; j < n; j++) { ur[j] = p.flux(ur[j]!); ui[j] = 0; }
    fft.transform(ur, ui);
    for (let j = 0; j < n; j++) {
      const s = k[j]! * keep[j]!; // -i k (a + i b) = k b - i k a
      nr[j] = nr[j]! + s * ui[j]!; ni[j] = ni[j]! - s * ur[j]!;
    }
  };

  const out = new Float64Array(times.length * n);
  const snapshot = (i: number): void => {
    ur.set(vr); ui.set(vi);
    fft.transform(ur, ui, true);
    out.set(ur, i * n);
  };

  // Step size: the first output interval (or the first nonzero one) divided by `steps`.
  let hTarget = Infinity;
  for (let i = 0; i < times.length; i++) {
    const d = times[i]! - (i === 0 ? 0 : times[i - 1]!);
    if (d < 0) throw new Error('output times must be non-negative and increasing');
    if (d > 0 && hTarget === Infinity) hTarget = d / steps;
  }
  let coef: Coefficients | undefined;
  let coefH = NaN;
  const scratch = Array.from({ length: 12 }, () => new Float64Array(n));
  for (let i = 0; i < times.length; i++) {
    const interval = times[i]! - (i === 0 ? 0 : times[i - 1]!);
    const m = interval === 0 ? 0 : Math.max(1, Math.round(interval / hTarget));
    if (m > 0) {
      const h = interval / m;
      if (coef === undefined || Math.abs(h - coefH) > 1e-12 * h) { coef = etdrk4Coefficients(p, k, h); coefH = h; }
      for (let s = 0; s < m; s++) step(vr, vi, coef, nonlinear, scratch);
    }
    snapshot(i);
  }
  return { x, t: Float64Array.from(times), u: out };
}

interface Coefficients {
  e: [Float64Array, Float64Array]; e2: [Float64Array, Float64Array]; q: [Float64Array, Float64Array];
  f1: [Float64Array, Float64Array]; f2: [Float64Array, Float64Array]; f3: [Float64Array, Float64Array];
}

/** exp(hL), exp(hL/2) and the phi-function combinations Q, f1, f2, f3, each averaged over M = 32
 * points on a unit circle around hL (Kassam & Trefethen 2005, eq. 2.5 and section 3). */
function etdrk4Coefficients(p: SpectralProblem, k: Float64Array, h: number): Coefficients {
  const n = k.length, M = 32;
  const mk = (): [Float64Array, Float64Array] => [new Float64Array(n), new Float64Array(n)];
  const c: Coefficients = { e: mk(), e2: mk(), q: mk(), f1: mk(), f2: mk(), f3: mk() };
  for (let j = 0; j < n; j++) {
    const [lr, li] = p.linear(k[j]!);
    const [er, ei] = cexp(h * lr, h * li);
    const [e2r, e2i] = cexp((h * lr) / 2, (h * li) / 2);
    c.e[0][j] = er; c.e[1][j] = ei; c.e2[0][j] = e2r; c.e2[1][j] = e2i;
    let qr = 0, qi = 0, a1r = 0, a1i = 0, a2r = 0, a2i = 0, a3r = 0, a3i = 0;
    for (let m = 1; m <= M; m++) {
      const th = (Math.PI * (m - 0.5)) / (M / 2);
      const zr = h * lr + Math.cos(th), zi = h * li + Math.sin(th); // z = hL + r_m
      const [xr, xi] = cexp(zr, zi); // e^z
      const [hr, hi] = cexp(zr / 2, zi / 2); // e^{z/2}
      const [z2r, z2i] = cmul(zr, zi, zr, zi);
      const [z3r, z3i] = cmul(z2r, z2i, zr, zi);
      // Q: (e^{z/2} - 1)/z
      let [ar, ai] = cdiv(hr - 1, hi, zr, zi);
      qr += ar; qi += ai;
      // f1: (-4 - z + e^z (4 - 3z + z^2)) / z^3
      let [br, bi] = cmul(xr, xi, 4 - 3 * zr + z2r, -3 * zi + z2i);
      [ar, ai] = cdiv(-4 - zr + br, -zi + bi, z3r, z3i);
      a1r += ar; a1i += ai;
      // f2: (2 + z + e^z (z - 2)) / z^3
      [br, bi] = cmul(xr, xi, zr - 2, zi);
      [ar, ai] = cdiv(2 + zr + br, zi + bi, z3r, z3i);
      a2r += ar; a2i += ai;
      // f3: (-4 - 3z - z^2 + e^z (4 - z)) / z^3
      [br, bi] = cmul(xr, xi, 4 - zr, -zi);
      [ar, ai] = cdiv(-4 - 3 * zr - z2r + br, -3 * zi - z2i + bi, z3r, z3i);
      a3r += ar; a3i += ai;
    }
    c.q[0][j] = (h * qr) / M; c.q[1][j] = (h * qi) / M;
    c.f1[0][j] = (h * a1r) / M; c.f1[1][j] = (h * a1i) / M;
    c.f2[0][j] = (h * a2r) / M; c.f2[1][j] = (h * a2i) / M;
    c.f3[0][j] = (h * a3r) / M; c.f3[1][j] = (h * a3i) / M;
  }
  return c;
}

type Nonlinear = (ar: Float64Array, ai: Float64Array, nr: Float64Array, ni: Float64Array) => void;

/** One ETDRK4 step of v (Cox & Matthews 2002, eq. 26-29), in place. */
function step(vr: Float64Array, vi: Float64Array, c: Coefficients, N: Nonlinear, s: Float64Array[]): void {
  const n = vr.length;
  const [nvr, nvi, ar, ai, nar, nai, br, bi, nbr, nbi, cr, ci] = s as [
    Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array,
    Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  N(vr, vi, nvr, nvi);
  for (let j = 0; j < n; j++) { // a = E2 v + Q N(v)
    ar[j] = re(c.e2, j, vr[j]!, vi[j]!) + re(c.q, j, nvr[j]!, nvi[j]!);
    ai[j] = im(c.e2, j, vr[j]!, vi[j]!) + im(c.q, j, nvr[j]!, nvi[j]!);
  }
  N(ar, ai, nar, nai);
  for (let j = 0; j < n; j++) { // b = E2 v + Q N(a)
    br[j] = re(c.e2, j, vr[j]!, vi[j]!) + re(c.q, j, nar[j]!, nai[j]!);
    bi[j] = im(c.e2, j, vr[j]!, vi[j]!) + im(c.q, j, nar[j]!, nai[j]!);
  }
  N(br, bi, nbr, nbi);
  for (let j = 0; j < n; j++) { // c = E2 a + Q (2 N(b) - N(v))
    const tr = 2 * nbr[j]! - nvr[j]!, ti = 2 * nbi[j]! - nvi[j]!;
    cr[j] = re(c.e2, j, ar[j]!, ai[j]!) + re(c.q, j, tr, ti);
    ci[j] = im(c.e2, j, ar[j]!, ai[j]!) + im(c.q, j, tr, ti);
  }
  const ncr = br, nci = bi; // b is no longer needed
  N(cr, ci, ncr, nci);
  for (let j = 0; j < n; j++) { // v = E v + f1 N(v) + 2 f2 (N(a) + N(b)) + f3 N(c)
    const sr = nar[j]! + nbr[j]!, si = nai[j]! + nbi[j]!;
    const xr = re(c.e, j, vr[j]!, vi[j]!) + re(c.f1, j, nvr[j]!, nvi[j]!) + 2 * re(c.f2, j, sr, si) + re(c.f3, j, ncr[j]!, nci[j]!);
    const xi = im(c.e, j, vr[j]!, vi[j]!) + im(c.f1, j, nvr[j]!, nvi[j]!) + 2 * im(c.f2, j, sr, si) + im(c.f3, j, ncr[j]!, nci[j]!);
    vr[j] = xr; vi[j] = xi;
  }
}

const re = (a: [Float64Array, Float64Array], j: number, br: number, bi: number): number => a[0][j]! * br - a[1][j]! * bi;
const im = (a: [Float64Array, Float64Array], j: number, br: number, bi: number): number => a[0][j]! * bi + a[1][j]! * br;

function cexp(r: number, i: number): [number, number] {
  const m = Math.exp(r);
  return [m * Math.cos(i), m * Math.sin(i)];
}
function cmul(ar: number, ai: number, br: number, bi: number): [number, number] {
  return [ar * br - ai * bi, ar * bi + ai * br];
}
function cdiv(ar: number, ai: number, br: number, bi: number): [number, number] {
  const d = br * br + bi * bi;
  return [(ar * br + ai * bi) / d, (ai * br - ar * bi) / d];
}
