// Weak-form equation discovery (WSINDy): the equation integrated against compactly supported test
// functions over space-time patches, every derivative moved onto the test function.
//
// Messenger & Bortz, "Weak SINDy for partial differential equations", J. Comput. Phys. 443 (2021).
// Each library term is written as an x-derivative of a power of u, D^k (u^m). For a test function
// phi that vanishes with its first k derivatives on the boundary of its patch, integration by parts
// gives
//   <u_t, phi> = -<u, phi_t>,      <D^k (u^m), phi> = (-1)^k <u^m, D^k phi>,
// so a row of the regression is b = -<u, phi_t>, G_j = (-1)^k <u^m, D^k phi>, and only u and its
// powers are ever evaluated on the data: no derivative of the noisy data is taken.
// Strong-form terms with that form: u^m (k = 0), u_{x^k} (m = 1) and u^{m-1} u_x = (1/m) D(u^m).
// Others are products of derivatives (u_x^2, u u_xx) with no single D^k (u^m) form; the standard
// library offers D^k (u^m) itself for k >= 2, m >= 2, named `(u^m)_xx`.
import { DataError } from './data-io.js';
import type { Field } from './spectral.js';
import { factorName, type Term } from './terms.js';

/** A library column scale * D^k (u^m), named as the strong-form term it equals where there is one
 * (u*u_x = (1/2) D(u^2): scale 1/2), so its coefficient is that term's coefficient. */
export interface WeakTerm { name: string; k: number; m: number; scale: number }

/** The weak library: D^k (u^m) for k <= maxOrder, m <= maxPower (m = 0 only with k = 0). */
export function weakLibrary(maxOrder: number, maxPower: number): WeakTerm[] {
  const out: WeakTerm[] = [];
  for (let k = 0; k <= maxOrder; k++) for (let m = k === 0 ? 0 : 1; m <= maxPower; m++) out.push(weakTerm(k, m));
  return out;
}

function weakTerm(k: number, m: number): WeakTerm {
  if (k === 0) return { name: m === 0 ? '1' : m === 1 ? 'u' : `u^${m}`, k, m, scale: 1 };
  if (m === 1) return { name: factorName(k), k, m, scale: 1 };
  // u^{m-1} u_x = (1/m) D(u^m).
  if (k === 1) return { name: `${m === 2 ? 'u' : `u^${m - 1}`}*u_x`, k, m, scale: 1 / m };
  return { name: `(u^${m})_${'x'.repeat(k)}`, k, m, scale: 1 };
}

/** The weak form of a strong-form term, or undefined when it is not D^k (u^m). */
export function asWeak(t: Term): WeakTerm | undefined {
  const p = t.powers;
  if (p.length <= 1) return weakTerm(0, p[0] ?? 0);
  const nz = p.map((e, d) => [e, d] as const).filter(([e]) => e > 0);
  if (nz.length === 1 && nz[0]![0] === 1) return weakTerm(nz[0]![1], 1); // u_{x^k}
  if (p.length === 2 && p[1] === 1) return weakTerm(1, p[0]! + 1); // u^{m-1} u_x
  return undefined;
}

/** Coefficients of the polynomial (1 - s^2)^p differentiated k times, lowest degree first. */
function bumpDerivative(p: number, k: number): Float64Array {
  let c = new Float64Array(2 * p + 1);
  let binom = 1;
  for (let j = 0; j <= p; j++) { c[2 * j] = (j % 2 === 0 ? 1 : -1) * binom; binom = (binom * (p - j)) / (j + 1); }
  for (let r = 0; r < k; r++) {
    const d = new Float64Array(Math.max(1, c.length - 1));
    for (let i = 1; i < c.length; i++) d[i - 1] = i * c[i]!;
    c = d;
  }
  return c;
}

/** Samples of d^k/dz^k (1 - ((z - z_c) / (w h))^2)^p at the 2w+1 grid offsets -w..w, spacing h. */
export function bumpSamples(p: number, k: number, w: number, h: number): Float64Array {
  const c = bumpDerivative(p, k), out = new Float64Array(2 * w + 1), hw = w * h;
  for (let i = -w; i <= w; i++) {
    const s = i / w;
    let v = 0;
    for (let j = c.length - 1; j >= 0; j--) v = v * s + c[j]!;
    out[i + w] = v / hw ** k;
  }
  return out;
}

/** Mean |DFT| over up to 32 lines of the field along one axis (0: t, 1: x), each line detrended
 * (end points joined by a line subtracted) since neither axis need be periodic; k = 0..n/2. */
export function meanSpectrum(f: Field, axis: 0 | 1): Float64Array {
  const nx = f.x.length, nt = f.t.length;
  const n = axis === 1 ? nx : nt, lines = axis === 1 ? nt : nx, stride = axis === 1 ? 1 : nx;
  const half = Math.floor(n / 2), out = new Float64Array(half + 1);
  const pick = Math.max(1, Math.floor(lines / 32));
  const line = new Float64Array(n);
  const cos = Float64Array.from({ length: n }, (_, i) => Math.cos((2 * Math.PI * i) / n));
  const sin = Float64Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * i) / n));
  let count = 0;
  for (let l = 0; l < lines; l += pick) {
    const base = axis === 1 ? l * nx : l;
    const a = f.u[base]!, b = f.u[base + (n - 1) * stride]!;
    for (let i = 0; i < n; i++) line[i] = f.u[base + i * stride]! - a - ((b - a) * i) / Math.max(1, n - 1);
    for (let k = 0; k <= half; k++) {
      let re = 0, im = 0;
      for (let i = 0; i < n; i++) { const q = (k * i) % n; re += line[i]! * cos[q]!; im -= line[i]! * sin[q]!; }
      out[k] = out[k]! + Math.hypot(re, im);
    }
    count++;
  }
  return out.map((v) => v / count);
}

/** WSINDy's corner of a spectrum: the wavenumber index k* where the cumulative sum of |u_hat|
 * bends from the steep signal part to the flat noise floor, found as the breakpoint of the best
 * two-segment least-squares line fit (Messenger & Bortz 2021, section 2.3). */
export function spectrumCorner(spec: Float64Array): number {
  const n = spec.length;
  const c = new Float64Array(n);
  let s = 0;
  for (let k = 0; k < n; k++) { s += spec[k]!; c[k] = s; }
  const sse = (a: number, b: number): number => { // residual of the line fit to c[a..b]
    const m = b - a + 1;
    if (m < 3) return 0;
    let sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
    for (let k = a; k <= b; k++) { sx += k; sy += c[k]!; sxx += k * k; sxy += k * c[k]!; syy += c[k]! ** 2; }
    const vx = sxx - (sx * sx) / m, vxy = sxy - (sx * sy) / m, vy = syy - (sy * sy) / m;
    return vx > 0 ? Math.max(0, vy - (vxy * vxy) / vx) : vy;
  };
  let best = Infinity, corner = 1;
  for (let k = 2; k < n - 2; k++) {
    const e = sse(0, k) + sse(k, n - 1);
    if (e < best) { best = e; corner = k; }
  }
  return corner;
}

export interface WeakOptions {
  widthX?: number; widthT?: number; // test-function half-widths in grid points (default from the spectrum)
  degreeX?: number; degreeT?: number; // exponents p, q of (1 - s^2)^p (1 - r^2)^q, default maxOrder + 3 and 4
  patches?: number; // number of test functions (rows), default about 1500
}

/** The chosen test functions: half-widths, exponents, patch count and the spectral corners. */
export interface WeakSetup { widthX: number; widthT: number; degreeX: number; degreeT: number; patches: number; cornerX: number; cornerT: number }

/** Half-width in grid points putting the corner k* at `sigmas` standard deviations of the test
 * function's spectrum: (1 - s^2)^p ~ exp(-p s^2) has spectral std sqrt(2p) / (w h), and k* (index)
 * is 2 pi k* / (n h) in wavenumber, so w = sigmas sqrt(2p) n / (2 pi k*). */
function widthFor(corner: number, n: number, p: number, sigmas: number): number {
  return Math.round((sigmas * Math.sqrt(2 * p) * n) / (2 * Math.PI * Math.max(1, corner)));
}

/** The weak system G (rows, d) and b (rows) for `terms`, with the test functions it used.
 * Rows are patches centred on a regular sub-grid of the interior, each phi = phi_x(x) phi_t(t). */
export function weakSystem(f: Field, terms: WeakTerm[], o: WeakOptions = {}): { g: Float64Array; b: Float64Array; rows: number; setup: WeakSetup; centres: number[] } {
  const nx = f.x.length, nt = f.t.length;
  const dx = f.x[1]! - f.x[0]!, dt = f.t[1]! - f.t[0]!;
  const maxK = Math.max(0, ...terms.map((t) => t.k));
  const p = o.degreeX ?? maxK + 3, q = o.degreeT ?? 4;
  if (p <= maxK) throw new DataError(`the x exponent ${p} of the test function must exceed the derivative order ${maxK}`);
  const cornerX = spectrumCorner(meanSpectrum(f, 1)), cornerT = spectrumCorner(meanSpectrum(f, 0));
  const clamp = (w: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, w));
  const wx = o.widthX ?? clamp(widthFor(cornerX, nx, p, 2), maxK + 2, Math.floor((nx - 1) / 4));
  const wt = o.widthT ?? clamp(widthFor(cornerT, nt, q, 2), 2, Math.floor((nt - 1) / 4));
  if (nx < 2 * wx + 1) throw new DataError(`x has ${nx} points; a test function of half-width ${wx} needs ${2 * wx + 1}`);
  if (nt < 2 * wt + 1) throw new DataError(`t has ${nt} points; a test function of half-width ${wt} needs ${2 * wt + 1}`);
  // Centres on a sub-grid with strides chosen so that about `patches` of them fit.
  const spanX = nx - 2 * wx, spanT = nt - 2 * wt, want = o.patches ?? 1500;
  const stride = Math.max(1, Math.sqrt((spanX * spanT) / want));
  const sx = Math.max(1, Math.round(stride * Math.sqrt(wx / wt))), st = Math.max(1, Math.round((stride * stride) / sx));
  const centres: number[] = [];
  for (let i = wt; i < nt - wt; i += st) for (let j = wx; j < nx - wx; j += sx) centres.push(i * nx + j);
  const rows = centres.length, d = terms.length;
  if (rows < 2 * d) throw new DataError(`only ${rows} test functions fit the ${nt} x ${nx} grid; need at least ${2 * d}`);

  const phiX = Array.from({ length: maxK + 1 }, (_, k) => bumpSamples(p, k, wx, dx)); // (maxK + 1, 2 wx + 1)
  const phiT0 = bumpSamples(q, 0, wt, dt), phiT1 = bumpSamples(q, 1, wt, dt); // (2 wt + 1)
  const maxM = Math.max(1, ...terms.map((t) => t.m));
  const g = new Float64Array(rows * d), b = new Float64Array(rows);
  const lineX = new Float64Array((maxM + 1) * (maxK + 1)); // sum over x of u^m D^k phi_x, one t line
  const pow = new Float64Array(maxM + 1);
  const cell = dx * dt; // the quadrature weight (trapezoid; phi vanishes at the patch edges)
  centres.forEach((c, r) => {
    const ic = Math.floor(c / nx), jc = c % nx;
    const acc = new Float64Array((maxM + 1) * (maxK + 1));
    let bt = 0;
    for (let a = -wt; a <= wt; a++) {
      lineX.fill(0);
      const row = (ic + a) * nx;
      for (let e = -wx; e <= wx; e++) {
        const u = f.u[row + jc + e]!;
        pow[0] = 1;
        for (let m = 1; m <= maxM; m++) pow[m] = pow[m - 1]! * u;
        for (let k = 0; k <= maxK; k++) {
          const w = phiX[k]![e + wx]!;
          for (let m = 0; m <= maxM; m++) lineX[m * (maxK + 1) + k] = lineX[m * (maxK + 1) + k]! + pow[m]! * w;
        }
      }
      const w0 = phiT0[a + wt]!;
      for (let z = 0; z < acc.length; z++) acc[z] = acc[z]! + lineX[z]! * w0;
      bt += lineX[1 * (maxK + 1)]! * phiT1[a + wt]!; // <u, phi_x phi_t'>
    }
    b[r] = -bt * cell;
    terms.forEach((t, j) => { g[r * d + j] = (t.k % 2 === 0 ? 1 : -1) * t.scale * acc[t.m * (maxK + 1) + t.k]! * cell; });
  });
  return { g, b, rows, setup: { widthX: wx, widthT: wt, degreeX: p, degreeT: q, patches: rows, cornerX, cornerT }, centres };
}
