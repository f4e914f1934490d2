// Optimizers over one flat Float64Array of parameters: Adam, and L-BFGS with a strong-Wolfe line search.

/** Objective value and gradient at theta (the gradient is written into g). */
export type Objective = (theta: Float64Array, g: Float64Array) => number;

/** Adam (Kingma & Ba, ICLR 2015, Algorithm 1), bias-corrected, in place on theta. */
export class Adam {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;
  constructor(n: number, public lr = 1e-3, private readonly beta1 = 0.9, private readonly beta2 = 0.999, private readonly eps = 1e-8) {
    this.m = new Float64Array(n); this.v = new Float64Array(n);
  }
  step(theta: Float64Array, g: Float64Array): void {
    this.t++;
    const b1 = this.beta1, b2 = this.beta2;
    const c1 = 1 - b1 ** this.t, c2 = 1 - b2 ** this.t;
    for (let i = 0; i < theta.length; i++) {
      this.m[i] = b1 * this.m[i]! + (1 - b1) * g[i]!;
      this.v[i] = b2 * this.v[i]! + (1 - b2) * g[i]! * g[i]!;
      theta[i] = theta[i]! - (this.lr * (this.m[i]! / c1)) / (Math.sqrt(this.v[i]! / c2) + this.eps);
    }
  }
}

export interface LbfgsOptions {
  maxIter?: number; // default 1000
  history?: number; // stored (s, y) pairs, default 50 (Raissi et al.'s SciPy setting)
  gradTol?: number; // stop when max |g| falls below, default 1e-9
  fTol?: number; // stop when the relative decrease of f falls below, default 1e-12 (f32 noise floor ~1e-7)
  /** Called after every iteration; return false to stop (time budgets). */
  onIter?: (iter: number, f: number) => boolean;
}

export interface LbfgsResult { f: number; iterations: number; evaluations: number; reason: string }

/** L-BFGS (Nocedal & Wright, Numerical Optimization, 2nd ed., Alg. 7.4 two-loop recursion and
 * Alg. 7.5), with the strong-Wolfe line search of Alg. 3.5/3.6 (c1 = 1e-4, c2 = 0.9), in place. */
export function lbfgs(f: Objective, theta: Float64Array, o: LbfgsOptions = {}): LbfgsResult {
  const n = theta.length, mMax = o.history ?? 50, maxIter = o.maxIter ?? 1000;
  const gradTol = o.gradTol ?? 1e-9, fTol = o.fTol ?? 1e-12;
  const S: Float64Array[] = [], Y: Float64Array[] = [], rho: number[] = [];
  const g = new Float64Array(n);
  let fx = f(theta, g);
  let evals = 1;
  const d = new Float64Array(n), alpha = new Float64Array(mMax);
  for (let iter = 0; iter < maxIter; iter++) {
    if (maxAbs(g) < gradTol) return { f: fx, iterations: iter, evaluations: evals, reason: 'gradient tolerance' };
    // Two-loop recursion: d = -H g.
    for (let i = 0; i < n; i++) d[i] = -g[i]!;
    for (let k = S.length - 1; k >= 0; k--) { alpha[k] = rho[k]! * dot(S[k]!, d); axpy(-alpha[k]!, Y[k]!, d); }
    const gamma = S.length > 0 ? dot(S[S.length - 1]!, Y[Y.length - 1]!) / dot(Y[Y.length - 1]!, Y[Y.length - 1]!) : 1 / Math.max(1, Math.sqrt(dot(g, g)));
    for (let i = 0; i < n; i++) d[i] = d[i]! * gamma;
    for (let k = 0; k < S.length; k++) { const beta = rho[k]! * dot(Y[k]!, d); axpy(alpha[k]! - beta, S[k]!, d); }
    let dg = dot(d, g);
    if (!(dg < 0)) { // not a descent direction (rounding): restart from steepest descent
      S.length = 0; Y.length = 0; rho.length = 0;
      for (let i = 0; i < n; i++) d[i] = -g[i]! / Math.max(1, Math.sqrt(dot(g, g)));
      dg = dot(d, g);
    }
    const x0 = Float64Array.from(theta), g0 = Float64Array.from(g), f0 = fx;
    const ls = wolfe(f, x0, f0, d, dg, theta, g);
    evals += ls.evals;
    if (!ls.ok) {
      theta.set(x0); g.set(g0); fx = f0;
      if (S.length === 0) return { f: fx, iterations: iter, evaluations: evals, reason: 'line search failed' };
      S.length = 0; Y.length = 0; rho.length = 0; // drop curvature history and retry
      continue;
    }
    fx = ls.f;
    const s = new Float64Array(n), y = new Float64Array(n);
    for (let i = 0; i < n; i++) { s[i] = theta[i]! - x0[i]!; y[i] = g[i]! - g0[i]!; }
    const sy = dot(s, y);
    if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(y, y))) {
      if (S.length === mMax) { S.shift(); Y.shift(); rho.shift(); }
      S.push(s); Y.push(y); rho.push(1 / sy);
    }
    if (o.onIter !== undefined && !o.onIter(iter + 1, fx)) return { f: fx, iterations: iter + 1, evaluations: evals, reason: 'stopped' };
    if (Math.abs(f0 - fx) <= fTol * Math.max(Math.abs(f0), Math.abs(fx), 1e-30)) {
      return { f: fx, iterations: iter + 1, evaluations: evals, reason: 'function tolerance' };
    }
  }
  return { f: fx, iterations: maxIter, evaluations: evals, reason: 'iteration limit' };
}

/** Strong-Wolfe line search along d from x0; on success theta, g hold the accepted point. */
function wolfe(f: Objective, x0: Float64Array, f0: number, d: Float64Array, dg0: number,
  theta: Float64Array, g: Float64Array): { ok: boolean; f: number; evals: number } {
  const c1 = 1e-4, c2 = 0.9;
  let evals = 0;
  const phi = (a: number): { f: number; dg: number } => {
    for (let i = 0; i < theta.length; i++) theta[i] = x0[i]! + a * d[i]!;
    const v = f(theta, g);
    evals++;
    return { f: v, dg: dot(g, d) };
  };
  let aPrev = 0, fPrev = f0, dgPrev = dg0, a = 1;
  for (let i = 0; i < 20; i++) {
    const p = phi(a);
    if (!Number.isFinite(p.f) || p.f > f0 + c1 * a * dg0 || (i > 0 && p.f >= fPrev)) return zoom(aPrev, fPrev, dgPrev, a, p.f, p.dg);
    if (Math.abs(p.dg) <= -c2 * dg0) return { ok: true, f: p.f, evals };
    if (p.dg >= 0) return zoom(a, p.f, p.dg, aPrev, fPrev, dgPrev);
    aPrev = a; fPrev = p.f; dgPrev = p.dg;
    a *= 2;
  }
  return { ok: false, f: f0, evals };

  function zoom(lo: number, flo: number, dglo: number, hi: number, fhi: number, dghi: number): { ok: boolean; f: number; evals: number } {
    for (let j = 0; j < 25; j++) {
      const a = cubicMin(lo, flo, dglo, hi, fhi, dghi);
      const p = phi(a);
      if (!Number.isFinite(p.f) || p.f > f0 + c1 * a * dg0 || p.f >= flo) { hi = a; fhi = p.f; dghi = p.dg; }
      else {
        if (Math.abs(p.dg) <= -c2 * dg0) return { ok: true, f: p.f, evals };
        if (p.dg * (hi - lo) >= 0) { hi = lo; fhi = flo; dghi = dglo; }
        lo = a; flo = p.f; dglo = p.dg;
      }
      if (Math.abs(hi - lo) < 1e-12 * Math.max(1, Math.abs(lo))) break;
    }
    // Accept the best point found if it decreased f (float32 gradients make curvature noisy).
    if (flo < f0 && lo > 0) { phi(lo); return { ok: true, f: flo, evals }; }
    return { ok: false, f: f0, evals };
  }
}

/** Minimiser of the cubic through (a, fa, ga) and (b, fb, gb), kept inside the interval
 * (Nocedal & Wright eq. 3.59); bisection when the cubic is unusable. */
function cubicMin(a: number, fa: number, ga: number, b: number, fb: number, gb: number): number {
  const lo = Math.min(a, b), hi = Math.max(a, b);
  if (Number.isFinite(fb) && Number.isFinite(gb)) {
    const d1 = ga + gb - (3 * (fa - fb)) / (a - b);
    const disc = d1 * d1 - ga * gb;
    if (disc >= 0) {
      const d2 = Math.sign(b - a) * Math.sqrt(disc);
      const x = b - (b - a) * ((gb + d2 - d1) / (gb - ga + 2 * d2));
      const margin = 0.1 * (hi - lo);
      if (Number.isFinite(x) && x > lo + margin && x < hi - margin) return x;
    }
  }
  return (a + b) / 2;
}

function dot(a: Float64Array, b: Float64Array): number { let s = 0; for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!; return s; }
function axpy(a: number, x: Float64Array, y: Float64Array): void { for (let i = 0; i < y.length; i++) y[i] = y[i]! + a * x[i]!; }
function maxAbs(a: Float64Array): number { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!)); return m; }
