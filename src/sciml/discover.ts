// Equation discovery: build the candidate library from gridded data, then sparse-regress u_t on it.
import { applyStencil, centralStencil, polynomialStencil, type Grid2, type Stencil } from './derivatives.js';
import { DataError } from './data-io.js';
import type { Field } from './spectral.js';
import { baggedStridge, type BagOptions, type TrainOptions } from './stridge.js';
import { maxDerivative, parseTerm, standardLibrary, type Term } from './terms.js';
import { asWeak, weakLibrary, weakSystem, type WeakOptions, type WeakSetup, type WeakTerm } from './weak.js';

export type DiffMethod = 'fd' | 'poly' | 'auto';
/** strong: PDE-FIND on pointwise derivatives; weak: WSINDy on test-function integrals (weak.ts). */
export type FormMethod = 'strong' | 'weak';

export interface DiscoverOptions extends TrainOptions, BagOptions, WeakOptions {
  maxOrder?: number; // highest x-derivative in the standard library, default 4
  maxPower?: number; // highest power of u, default 2
  custom?: string[]; // extra terms, e.g. ['u_x^2', 'u*u_x*u_xx']
  diff?: DiffMethod; // derivative method, default 'auto' (poly when noise is detected)
  accuracy?: number; // finite-difference order of accuracy, default 4
  polyWidthX?: number; polyDegX?: number; // local polynomial windows (2w+1 points) and degrees
  polyWidthT?: number; polyDegT?: number;
  maxRows?: number; // subsample the interior points to at most this many rows, default 60,000
  /** Precomputed derivative fields (e.g. from a fitted network): u, u_t and u_x^(d) for d = 1..,
   * each (nt, nx), NaN where undefined. Replaces the grid derivatives. */
  derivatives?: DerivativeFields;
}

export interface DerivativeFields { u: Float64Array; ut: Float64Array; ux: Float64Array[] }

export interface DiscoveredTerm { term: string; coef: number; stderr: number; inclusion: number }

export interface DiscoverResult {
  terms: DiscoveredTerm[]; // nonzero terms, largest |coef| first
  library: { term: string; inclusion: number; bagMean: number; bagStd: number }[];
  residual: number; // |u_t - Theta xi| / |u_t| over the rows used
  rows: number;
  method: FormMethod;
  diff: 'fd' | 'poly' | 'given' | 'none'; // 'none': the weak form takes no derivative of the data
  weak?: WeakSetup; // the test functions, for the weak form
  stability: number; // fraction of bags that kept exactly the model's terms (stridge.ts)
  noiseEstimate: number; // estimated noise std / std(u)
  tolerance: number; l0: number;
  /** Per-row residual u_t - Theta xi on the grid (nt, nx), NaN outside the rows used (for plots);
   * for the weak form, at the patch centres. */
  residualField: Float64Array;
  best: Candidate; // the best one-term model, the fallback candidate when `terms` is empty
}

/** Relative noise level std(noise)/std(u) estimated from the sixth difference along x: a smooth
 * signal contributes h^6 u^(6), white noise of std s contributes s sqrt(924) (sum of squared
 * binomial(6, k)). */
export function estimateNoise(f: Field): number {
  const nx = f.x.length, nt = f.t.length, c = [1, -6, 15, -20, 15, -6, 1];
  let s2 = 0, n = 0, m = 0, m2 = 0;
  for (let i = 0; i < nt; i++) for (let j = 0; j < nx; j++) {
    const v = f.u[i * nx + j]!;
    m += v; m2 += v * v;
    if (j + 6 < nx) { let d = 0; for (let k = 0; k < 7; k++) d += c[k]! * f.u[i * nx + j + k]!; s2 += d * d; n++; }
  }
  const N = nx * nt, sd = Math.sqrt(Math.max(0, m2 / N - (m / N) ** 2));
  if (n === 0 || sd === 0) return 0;
  return Math.sqrt(s2 / n / 924) / sd;
}

/** The derivative fields the library needs, by finite differences or local polynomial fits. */
export function gridDerivatives(f: Field, maxD: number, method: 'fd' | 'poly', o: DiscoverOptions): DerivativeFields {
  const nx = f.x.length, nt = f.t.length;
  const dx = f.x[1]! - f.x[0]!, dt = f.t[1]! - f.t[0]!;
  const g: Grid2 = { nt, nx, data: f.u };
  let sx: (d: number) => Stencil, st: (d: number) => Stencil;
  if (method === 'fd') {
    const acc = o.accuracy ?? 4;
    sx = (d) => centralStencil(d, acc); st = (d) => centralStencil(d, acc);
  } else {
    // Wide, high-degree windows in x keep third derivatives of noisy solitons unbiased (KdV at 1%
    // noise); narrow ones in t, where PDE-FIND's grids are coarse. Clamped to small grids.
    const wx = o.polyWidthX ?? Math.max(Math.ceil((maxD + 2) / 2), Math.min(20, Math.floor((nx - 1) / 6)));
    const degX = o.polyDegX ?? Math.min(10, 2 * wx - 1);
    const wt = o.polyWidthT ?? Math.max(2, Math.min(4, Math.floor((nt - 1) / 6)));
    const degT = o.polyDegT ?? Math.min(3, 2 * wt - 1);
    sx = (d) => polynomialStencil(d, wx, degX); st = (d) => polynomialStencil(d, wt, degT);
  }
  const hx = Math.max(...Array.from({ length: maxD + 1 }, (_, d) => sx(d).half));
  const ht = Math.max(st(0).half, st(1).half);
  const what = method === 'fd' ? 'finite differences' : 'local polynomial fits';
  if (nx < 2 * hx + 1) throw new DataError(`x has ${nx} points; ${what} up to order ${maxD} need at least ${2 * hx + 1}`);
  if (nt < 2 * ht + 1) throw new DataError(`t has ${nt} points; the time derivative by ${what} needs at least ${2 * ht + 1}`);
  // Tensor-product fits: smooth along the other axis with the degree-0 (value) stencil.
  const smoothT = method === 'poly' ? applyStencil(g, st(0), 0, dt) : g;
  const smoothX = method === 'poly' ? applyStencil(g, sx(0), 1, dx) : g;
  const u = method === 'poly' ? applyStencil(smoothT, sx(0), 1, dx).data : f.u;
  const ut = applyStencil(smoothX, st(1), 0, dt).data;
  const ux: Float64Array[] = [];
  for (let d = 1; d <= maxD; d++) ux.push(applyStencil(smoothT, sx(d), 1, dx).data);
  return { u, ut, ux };
}

/** Discovers u_t = sum_k xi_k theta_k(u, u_x, ...) from a field on a uniform grid. */
export function discover(f: Field, o: DiscoverOptions = {}): DiscoverResult {
  const terms: Term[] = standardLibrary(o.maxOrder ?? 4, o.maxPower ?? 2);
  for (const c of o.custom ?? []) {
    const t = parseTerm(c);
    if (!terms.some((s) => s.name === t.name)) terms.push(t);
  }
  const maxD = maxDerivative(terms);
  const noise = estimateNoise(f);
  let diff: 'fd' | 'poly' | 'given';
  let df: DerivativeFields;
  if (o.derivatives !== undefined) { diff = 'given'; df = o.derivatives; }
  else {
    diff = o.diff === 'fd' || o.diff === 'poly' ? o.diff : noise > 2e-3 ? 'poly' : 'fd';
    df = gridDerivatives(f, maxD, diff, o);
  }
  if (df.ux.length < maxD) throw new DataError(`derivatives up to order ${maxD} are needed, ${df.ux.length} given`);
  const nx = f.x.length, nt = f.t.length;

  // Rows: grid points where every derivative is defined, evenly thinned to maxRows.
  const valid: number[] = [];
  for (let c = 0; c < nx * nt; c++) {
    if (!Number.isFinite(df.ut[c]!) || !Number.isFinite(df.u[c]!)) continue;
    if (df.ux.some((a, d) => d < maxD && !Number.isFinite(a[c]!))) continue;
    valid.push(c);
  }
  const maxRows = o.maxRows ?? 60000;
  const stride = Math.max(1, valid.length / maxRows);
  const rows: number[] = [];
  for (let r = 0; r < valid.length; r += stride) rows.push(valid[Math.floor(r)]!);
  const d = terms.length;
  if (rows.length < 2 * d) throw new DataError(`only ${rows.length} grid points have all derivatives up to order ${maxD}; need at least ${2 * d}`);

  const n = rows.length;
  const x = new Float64Array(n * d), y = new Float64Array(n);
  rows.forEach((c, i) => {
    y[i] = df.ut[c]!;
    terms.forEach((t, k) => {
      let v = 1;
      t.powers.forEach((p, dd) => { if (p > 0) v *= (dd === 0 ? df.u[c]! : df.ux[dd - 1]![c]!) ** p; });
      x[i * d + k] = v;
    });
  });
  const r = regress(x, y, terms.map((t) => t.name), rows, nx * nt, o);
  return { ...r, method: 'strong', diff, noiseEstimate: noise };
}

type Regressed = Omit<DiscoverResult, 'method' | 'diff' | 'weak' | 'noiseEstimate'>;

/** Bagged STRidge of y (n) on the columns of x (n, d), and the result fields every method shares;
 * `cells[i]` is the grid index row i is drawn for in the residual field. */
function regress(x: Float64Array, y: Float64Array, names: string[], cells: number[], size: number, o: DiscoverOptions): Regressed {
  const d = names.length;
  const fit = baggedStridge(x, y, d, o);
  const residualField = new Float64Array(size).fill(NaN);
  let rss = 0, yy = 0;
  cells.forEach((c, i) => {
    let p = 0;
    for (let k = 0; k < d; k++) p += x[i * d + k]! * fit.coef[k]!;
    residualField[c] = y[i]! - p;
    rss += (y[i]! - p) ** 2; yy += y[i]! ** 2;
  });
  const found: DiscoveredTerm[] = [];
  names.forEach((t, k) => {
    if (fit.coef[k] !== 0) found.push({ term: t, coef: fit.coef[k]!, stderr: fit.stderr[k]!, inclusion: fit.inclusion[k]! });
  });
  found.sort((a, b) => Math.abs(b.coef) - Math.abs(a.coef));
  return {
    terms: found,
    library: names.map((t, k) => ({ term: t, inclusion: fit.inclusion[k]!, bagMean: fit.bagMean[k]!, bagStd: fit.bagStd[k]! })),
    residual: yy > 0 ? Math.sqrt(rss / yy) : 1, rows: y.length, tolerance: fit.tol, l0: fit.l0, residualField, stability: fit.stability,
    best: bestSingle(x, y, names),
  };
}

/** The best one-term model u_t = c theta_j (largest |x_j . y| / |x_j|) and its relative residual
 * sqrt(1 - cos^2): the candidate reported when the sparse model is empty. */
function bestSingle(x: Float64Array, y: Float64Array, names: string[]): Candidate {
  const d = names.length, n = y.length;
  let yy = 0;
  for (let i = 0; i < n; i++) yy += y[i]! ** 2;
  let best: Candidate = { equation: 'u_t = 0', residual: 1 };
  for (let k = 0; k < d; k++) {
    let xy = 0, xx = 0;
    for (let i = 0; i < n; i++) { const v = x[i * d + k]!; xy += v * y[i]!; xx += v * v; }
    if (xx === 0 || yy === 0) continue;
    const res = Math.sqrt(Math.max(0, 1 - (xy * xy) / (xx * yy)));
    if (res < best.residual) best = { equation: `u_t = ${fmtCoef(xy / xx)} ${names[k]}`, residual: res };
  }
  return best;
}

function fmtCoef(v: number): string { return Number(v.toPrecision(4)).toString(); }

/** A model offered as the closest thing found, with its relative residual. */
export interface Candidate { equation: string; residual: number }

/** Weak-form discovery (weak.ts): the library D^k (u^m), k <= maxOrder, m <= maxPower, plus custom
 * terms that have that form, regressed on test-function integrals over patches. */
export function discoverWeak(f: Field, o: DiscoverOptions = {}): DiscoverResult {
  const terms: WeakTerm[] = weakLibrary(o.maxOrder ?? 4, o.maxPower ?? 2);
  for (const c of o.custom ?? []) {
    const w = asWeak(parseTerm(c));
    if (w === undefined) throw new DataError(`term '${c}' is not an x-derivative of a power of u, so the weak form cannot integrate it by parts`);
    if (!terms.some((s) => s.name === w.name)) terms.push(w);
  }
  const sys = weakSystem(f, terms, o);
  // The integrals are of order |u| dx dt; rescale the rows so that b has unit RMS, as u_t has
  // roughly in the strong form, so that TrainSTRidge's tolerance steps mean the same (the
  // coefficients do not change).
  let bb = 0;
  for (const v of sys.b) bb += v * v;
  const scale = bb > 0 ? Math.sqrt(sys.rows / bb) : 1;
  for (let i = 0; i < sys.b.length; i++) sys.b[i] = sys.b[i]! * scale;
  for (let i = 0; i < sys.g.length; i++) sys.g[i] = sys.g[i]! * scale;
  // One term left out per bag by default: the library bootstrap costs nothing here and exposes
  // terms that stand in for one another.
  const r = regress(sys.g, sys.b, terms.map((t) => t.name), sys.centres, f.x.length * f.t.length, { ...o, dropTerms: o.dropTerms ?? 1 });
  return { ...r, method: 'weak', diff: 'none', weak: sys.setup, noiseEstimate: estimateNoise(f) };
}

/** Whether a result is a model worth reporting: a nonempty term set that explains u_t (relative
 * residual below maxResidual) and that most bags agree on (stability at least minStability). */
export interface Verdict { ok: boolean; reason: string }

export function judge(r: DiscoverResult, maxResidual = 0.6, minStability = 0.5): Verdict {
  const res = r.residual.toPrecision(3);
  if (r.terms.length === 0) return { ok: false, reason: `no sparse model explains the data: every candidate term was dropped (best single term: ${r.best.equation}, relative residual ${r.best.residual.toPrecision(3)})` };
  if (r.residual > maxResidual) return { ok: false, reason: `no sparse model explains the data: the best one leaves relative residual ${res} (above ${maxResidual})` };
  if (r.stability < minStability) return { ok: false, reason: `no stable sparse model: only ${(100 * r.stability).toFixed(0)}% of bags kept the same terms (need ${(100 * minStability).toFixed(0)}%)` };
  return { ok: true, reason: `relative residual ${res}, ${(100 * r.stability).toFixed(0)}% of bags agree on the terms` };
}

/** Noise level (std(noise) / std(u), estimateNoise) below which auto trusts pointwise derivatives. */
export const STRONG_NOISE_LIMIT = 1e-3;

/** `auto`: the strong form for clean data, the weak form for noisy data (by estimateNoise); when
 * the chosen form finds no acceptable model and the other one does, the other one's model. `why`
 * says which was used and why, in one line. Network (DL-PDE) derivatives are never chosen: on the
 * noisy data of README.md's table they give wrong term sets where the weak form is right. */
export function discoverAuto(f: Field, o: DiscoverOptions = {}): DiscoverResult & { why: string; verdict: Verdict } {
  const noise = estimateNoise(f);
  const pct = `${(100 * noise).toFixed(2)}%`;
  const first: FormMethod = noise < STRONG_NOISE_LIMIT ? 'strong' : 'weak';
  const run = (m: FormMethod): DiscoverResult => (m === 'strong' ? discover(f, o) : discoverWeak(f, o));
  const a = run(first), va = judge(a);
  const why = first === 'strong'
    ? `estimated noise ${pct} is below ${100 * STRONG_NOISE_LIMIT}%: strong form (pointwise derivatives)`
    : `estimated noise ${pct} is at least ${100 * STRONG_NOISE_LIMIT}%: weak form (no derivative of the data)`;
  if (va.ok) return { ...a, why, verdict: va };
  const other: FormMethod = first === 'strong' ? 'weak' : 'strong';
  const b = run(other), vb = judge(b);
  if (vb.ok) return { ...b, why: `${why} found no model (${va.reason}); the ${other} form did`, verdict: vb };
  return { ...a, why: `${why}; the ${other} form found no model either`, verdict: va };
}
