// Sparse regression for equation discovery: STRidge, TrainSTRidge's tolerance search, and bagging.
//
// Rudy, Brunton, Proctor & Kutz, "Data-driven discovery of partial differential equations",
// Sci. Adv. 3 (2017), e1602614, Algorithms 1 and 2 (STRidge, TrainSTRidge). Rows are compressed
// once by QR (X = Q R), so every ridge or least-squares solve on a column subset is a small
// (d, d) problem: |y - X w|^2 = |Q^T y - R w|^2 + |y - Q Q^T y|^2.
import { backSubstitute, lstsq, qrReduce } from './linalg.js';
import { Rng } from '../tensor/random.js';

/** A least-squares problem reduced to d equations: R (d, d) upper triangular, Q^T y, and the part of
 * |y|^2 outside the column space of X. */
export interface Reduced { d: number; r: Float64Array; qtb: Float64Array; rest: number; rows: number }

/** QR-compresses the rows `rows` of X (n, d) and y (n); all rows when `rows` is undefined. */
export function reduce(x: Float64Array, y: Float64Array, d: number, rows?: Uint32Array): Reduced {
  const n = rows === undefined ? y.length : rows.length;
  let xs = x, ys = y;
  if (rows !== undefined) {
    xs = new Float64Array(n * d); ys = new Float64Array(n);
    for (let i = 0; i < n; i++) { const r = rows[i]!; xs.set(x.subarray(r * d, r * d + d), i * d); ys[i] = y[r]!; }
  }
  const { r, qtb, rest } = qrReduce(xs, n, d, ys);
  return { d, r, qtb, rest, rows: n };
}

/** |y - X w| from the reduced form. */
export function residualNorm(p: Reduced, w: Float64Array): number {
  const { d, r, qtb } = p;
  let s = p.rest;
  for (let i = 0; i < d; i++) {
    let a = qtb[i]!;
    for (let j = i; j < d; j++) a -= r[i * d + j]! * w[j]!;
    s += a * a;
  }
  return Math.sqrt(s);
}

/** Columns `cols` of R: an upper-trapezoidal (d, |cols|) block, row-major. */
function columns(p: Reduced, cols: number[]): Float64Array {
  const { d, r } = p, k = cols.length;
  const out = new Float64Array(d * k);
  for (let i = 0; i < d; i++) for (let c = 0; c < k; c++) out[i * k + c] = r[i * d + cols[c]!]!;
  return out;
}

/** Least squares (ridge if lambda > 0) restricted to `cols`; other coefficients are zero. */
export function solveOn(p: Reduced, cols: number[], lambda = 0): Float64Array {
  const w = new Float64Array(p.d);
  if (cols.length === 0) return w;
  const sub = lstsq(columns(p, cols), p.d, cols.length, p.qtb, lambda);
  cols.forEach((c, i) => { w[c] = sub[i]!; });
  return w;
}

/** Column 2-norms of X (equal to those of R, since Q is orthogonal). */
function columnNorms(p: Reduced): Float64Array {
  const { d, r } = p;
  const out = new Float64Array(d);
  for (let j = 0; j < d; j++) { let s = 0; for (let i = 0; i <= j; i++) s += r[i * d + j]! ** 2; out[j] = Math.sqrt(s); }
  return out;
}

/** Scales column j of the reduced problem by s_j (R -> R diag(s)). */
function scaled(p: Reduced, s: Float64Array): Reduced {
  const r = Float64Array.from(p.r);
  for (let i = 0; i < p.d; i++) for (let j = 0; j < p.d; j++) r[i * p.d + j] = r[i * p.d + j]! * s[j]!;
  return { ...p, r };
}

/** STRidge (Rudy et al. 2017, Algorithm 1): ridge regression, then repeatedly drop coefficients
 * below `tol` (on unit-norm columns) and refit on the rest; a final unregularised least-squares fit
 * on the support. Returns coefficients for the original (unnormalised) columns. */
export function stridge(p: Reduced, lambda: number, tol: number, iterations = 10): Float64Array {
  const norms = columnNorms(p);
  const inv = norms.map((v) => (v > 0 ? 1 / v : 0));
  const q = scaled(p, inv);
  const all = [...Array(p.d).keys()].filter((j) => norms[j]! > 0);
  let w = solveOn(q, all, lambda);
  let support = all;
  for (let it = 0; it < iterations; it++) {
    const keep = support.filter((j) => Math.abs(w[j]!) >= tol);
    if (keep.length === support.length) break;
    support = keep;
    if (support.length === 0) break;
    w = solveOn(q, support, lambda);
  }
  w = solveOn(q, support, 0);
  return w.map((v, j) => v * inv[j]!);
}

export interface TrainOptions {
  lambda?: number; // ridge penalty on unit-norm columns, default 1e-5 (PDE-FIND)
  dTol?: number; // initial tolerance step, default 1
  maxIt?: number; // tolerance updates, default 25
  split?: number; // training fraction, default 0.8
  /** Penalty per nonzero term, relative to |y_test|: score = |y_test - X_test w| / |y_test| + l0 nnz(w).
   * Default 0.05. PDE-FIND uses an absolute 0.001 cond(X), which depends on the units and the number of
   * rows (and drops Burgers' u_xx from 60% subsamples at 1% noise); the relative form does not. */
  l0?: number;
  seed?: number;
}

export interface TrainResult { w: Float64Array; tol: number; l0: number }

/** TrainSTRidge (Rudy et al. 2017, Algorithm 2): search the tolerance that minimises held-out error
 * |y_test - X_test w| / |y_test| + l0 * nnz(w), growing it while the score improves and backing off otherwise. */
export function trainStridge(x: Float64Array, y: Float64Array, d: number, o: TrainOptions = {}, rows?: Uint32Array): TrainResult {
  const lambda = o.lambda ?? 1e-5, maxIt = o.maxIt ?? 25, split = o.split ?? 0.8;
  const idx = rows ?? Uint32Array.from({ length: y.length }, (_, i) => i);
  const rng = new Rng(o.seed ?? 0);
  const perm = shuffle(idx, rng);
  const nTrain = Math.floor(perm.length * split);
  if (nTrain < d || perm.length - nTrain < 1) throw new Error(`too few rows (${perm.length}) for ${d} candidate terms`);
  const train = reduce(x, y, d, perm.subarray(0, nTrain));
  const test = reduce(x, y, d, perm.subarray(nTrain));
  const l0 = o.l0 ?? 0.05;
  const yTest = residualNorm(test, new Float64Array(d)) || 1;
  const score = (w: Float64Array): number => residualNorm(test, w) / yTest + l0 * w.reduce((c, v) => c + (v !== 0 ? 1 : 0), 0);
  let dTol = o.dTol ?? 1, tol = dTol;
  let wBest = solveOn(train, [...Array(d).keys()]);
  let best = score(wBest), tolBest = 0;
  for (let it = 0; it < maxIt; it++) {
    const w = stridge(train, lambda, tol);
    const s = score(w);
    if (s <= best) { best = s; wBest = w; tolBest = tol; tol += dTol; }
    else { tol = Math.max(0, tol - 2 * dTol); dTol = (2 * dTol) / (maxIt - it); tol += dTol; }
  }
  return { w: wBest, tol: tolBest, l0 };
}

export interface BaggedResult {
  coef: Float64Array; // refit on all rows over the selected support
  stderr: Float64Array; // OLS standard errors of coef (0 off the support)
  inclusion: Float64Array; // fraction of the bags offering each term that kept it
  bagMean: Float64Array; bagStd: Float64Array; // coefficient statistics over bags (zeros included)
  /** Fraction of the bags offered every model term that kept exactly the model's terms (1 without
   * bagging): low when the term set changes from one subsample to the next. */
  stability: number;
  tol: number; l0: number;
}

export interface BagOptions {
  bags?: number; // row subsamples, default 0 (one TrainSTRidge on all rows)
  fraction?: number; // rows per bag, default 0.6
  threshold?: number; // inclusion a term needs to enter the model, default 0.5
  /** Library bootstrap: each bag also leaves out this many random candidate terms (default 0), so a
   * term that is only chosen as a stand-in for another shows a low inclusion. */
  dropTerms?: number;
}

/** Bagging (Breiman 1996) over row subsamples: TrainSTRidge on each of `bags` random subsets of
 * `fraction` of the rows (and, with dropTerms, of the library: PySINDy's library ensemble, Fasel
 * et al., Proc. R. Soc. A 478 (2022)); terms kept in at least `threshold` of the bags that offered
 * them form the model, refit by least squares on all rows. bags = 0 runs TrainSTRidge once on all rows. */
export function baggedStridge(x: Float64Array, y: Float64Array, d: number, o: TrainOptions & BagOptions = {}): BaggedResult {
  const bags = o.bags ?? 0, fraction = o.fraction ?? 0.6, threshold = o.threshold ?? 0.5;
  const drop = Math.min(Math.max(0, o.dropTerms ?? 0), d - 1);
  const n = y.length;
  const base = trainStridge(x, y, d, o);
  const inclusion = new Float64Array(d), offered = new Float64Array(d), mean = new Float64Array(d), sq = new Float64Array(d);
  let support: number[];
  const supports: { cols: number[]; kept: Set<number> }[] = [];
  if (bags === 0) {
    support = [...Array(d).keys()].filter((j) => base.w[j] !== 0);
    for (let j = 0; j < d; j++) { inclusion[j] = base.w[j] !== 0 ? 1 : 0; mean[j] = base.w[j]!; }
  } else {
    const rng = new Rng((o.seed ?? 0) + 1);
    const all = Uint32Array.from({ length: n }, (_, i) => i);
    const terms = Uint32Array.from({ length: d }, (_, i) => i);
    for (let b = 0; b < bags; b++) {
      const rows = shuffle(all, rng).subarray(0, Math.max(d + 2, Math.floor(n * fraction)));
      const cols = drop === 0 ? [...terms] : [...shuffle(terms, rng).subarray(drop)].sort((p, q) => p - q);
      const k = cols.length;
      const xs = drop === 0 ? x : new Float64Array(n * k);
      if (drop > 0) for (let i = 0; i < n; i++) cols.forEach((c, j) => { xs[i * k + j] = x[i * d + c]!; });
      const r = trainStridge(xs, y, k, { ...o, seed: (o.seed ?? 0) + 100 + b }, rows);
      const kept = new Set<number>();
      cols.forEach((c, j) => {
        offered[c] = offered[c]! + 1;
        if (r.w[j] !== 0) { inclusion[c] = inclusion[c]! + 1; kept.add(c); }
        mean[c] = mean[c]! + r.w[j]! / bags; sq[c] = sq[c]! + r.w[j]! ** 2 / bags;
      });
      supports.push({ cols, kept });
    }
    for (let j = 0; j < d; j++) inclusion[j] = offered[j]! > 0 ? inclusion[j]! / offered[j]! : 0;
    support = [...Array(d).keys()].filter((j) => inclusion[j]! >= threshold);
  }
  const chosen = new Set(support);
  // Bags not offered every model term cannot reproduce it; the stability is over the others.
  const whole = supports.filter((s) => support.every((c) => s.cols.includes(c)));
  const agree = whole.filter((s) => s.cols.every((c) => chosen.has(c) === s.kept.has(c))).length;
  const full = reduce(x, y, d);
  const coef = solveOn(full, support);
  const stderr = olsStderr(full, support, coef);
  const bagStd = mean.map((m, j) => Math.sqrt(Math.max(0, sq[j]! - m * m)));
  return {
    coef, stderr, inclusion, bagMean: mean, bagStd: bags === 0 ? new Float64Array(d) : bagStd,
    stability: bags === 0 || whole.length === 0 ? 1 : agree / whole.length, tol: base.tol, l0: base.l0,
  };
}

/** sigma^2 = RSS / (n - k), Var(w) = sigma^2 (X_S^T X_S)^{-1} = sigma^2 R_S^{-1} R_S^{-T}, diagonal. */
function olsStderr(p: Reduced, support: number[], w: Float64Array): Float64Array {
  const out = new Float64Array(p.d);
  const k = support.length;
  if (k === 0 || p.rows <= k) return out;
  const sigma2 = residualNorm(p, w) ** 2 / (p.rows - k);
  const rs = reduce(columns(p, support), p.qtb, k); // square (k, k) triangular factor of X_S
  // diag(R^{-1} R^{-T})_c is the squared norm of row c of R^{-1}; column i of R^{-1} solves R z = e_i.
  const inv = Array.from({ length: k }, (_, i) => { const e = new Float64Array(k); e[i] = 1; return backSubstitute(rs.r, k, e); });
  for (let c = 0; c < k; c++) {
    let s = 0;
    for (let i = 0; i < k; i++) s += inv[i]![c]! ** 2;
    out[support[c]!] = Math.sqrt(sigma2 * s);
  }
  return out;
}

function shuffle(a: Uint32Array, rng: Rng): Uint32Array {
  const p = Uint32Array.from(a);
  for (let i = p.length - 1; i > 0; i--) { const j = rng.int(i + 1); const t = p[i]!; p[i] = p[j]!; p[j] = t; }
  return p;
}
