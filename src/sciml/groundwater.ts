// Transient groundwater flow in a heterogeneous aquifer: cell-centred finite volumes, backward Euler.
//
// Ss dh/dt = div(K grad h) + q on [0, Lx] x [0, Ly]; h fixed on the left and right edges, no flow
// across top and bottom. Face conductivities are harmonic means of the two cells (exact for
// piecewise-constant K in 1-D). Each step solves the SPD system (Ss/dt I - A) h' = Ss/dt h + b by
// Jacobi-preconditioned conjugate gradients. Defaults follow TgNN's 2-D case (Wang, Zhang & Chang,
// "Deep learning of subsurface flow via theory-guided neural network", J. Hydrol. 584 (2020)):
// 1020 m x 1020 m, 51 x 51 cells, Ss = 1e-4 1/m, heads 202 m (left) and 200 m (right), h0 = 200 m.
import { Rng } from '../tensor/random.js';

export interface GroundwaterOptions {
  nx?: number; ny?: number; // cells; ny = 1 is a 1-D column
  lx?: number; ly?: number; // metres
  ss?: number; // specific storage, 1/m
  hLeft?: number; hRight?: number; h0?: number; // metres
  tEnd?: number; nt?: number; // days; nt snapshots including t = 0
  stepsPerSnapshot?: number;
  /** Conductivity per cell (ny, nx) in m/day; default: a log-normal random field. */
  k?: Float64Array;
  /** Source per cell (ny, nx) in 1/day as a function of time, optional (wells, manufactured solutions). */
  source?: (t: number, out: Float64Array) => void;
}

export interface GroundwaterField {
  nx: number; ny: number;
  x: Float64Array; y: Float64Array; t: Float64Array; // cell centres, snapshot times
  k: Float64Array; // (ny, nx)
  h: Float64Array; // (nt, ny, nx)
}

/** A log-normal conductivity field ln K ~ GP(mean, var * exp(-r^2 / (2 l^2))), by random Fourier
 * features: ln K = mean + sqrt(2 var / M) sum_m cos(w_m . x + phi_m), w_m ~ N(0, I / l^2)
 * (Rahimi & Recht 2007). */
export function logNormalField(nx: number, ny: number, lx: number, ly: number,
  o: { mean?: number; variance?: number; corrLength?: number; modes?: number; seed?: number } = {}): Float64Array {
  const mean = o.mean ?? 0, variance = o.variance ?? 1, l = o.corrLength ?? 408, M = o.modes ?? 400;
  const rng = new Rng(o.seed ?? 1);
  const wx = new Float64Array(M), wy = new Float64Array(M), ph = new Float64Array(M);
  for (let m = 0; m < M; m++) { wx[m] = rng.normal() / l; wy[m] = rng.normal() / l; ph[m] = 2 * Math.PI * rng.uniform(); }
  const k = new Float64Array(nx * ny), a = Math.sqrt((2 * variance) / M);
  for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
    const x = ((i + 0.5) * lx) / nx, y = ((j + 0.5) * ly) / ny;
    let s = 0;
    for (let m = 0; m < M; m++) s += Math.cos(wx[m]! * x + wy[m]! * y + ph[m]!);
    k[j * nx + i] = Math.exp(mean + a * s);
  }
  return k;
}

/** Solves the flow problem and returns heads at nt evenly spaced times in [0, tEnd]. */
export function groundwater(o: GroundwaterOptions = {}): GroundwaterField {
  const nx = o.nx ?? 51, ny = o.ny ?? 51, lx = o.lx ?? 1020, ly = o.ly ?? 1020;
  const ss = o.ss ?? 1e-4, hL = o.hLeft ?? 202, hR = o.hRight ?? 200, h0 = o.h0 ?? 200;
  const tEnd = o.tEnd ?? 10, nt = o.nt ?? 51, sub = o.stepsPerSnapshot ?? 1;
  const k = o.k ?? logNormalField(nx, ny, lx, ly);
  if (k.length !== nx * ny) throw new Error(`conductivity has ${k.length} cells, expected ${nx * ny}`);
  const dx = lx / nx, dy = ly / ny, n = nx * ny;
  // Transmissibilities per unit cell area: east face of cell i, north face of cell j, boundary faces.
  const tE = new Float64Array(n), tN = new Float64Array(n), tB = new Float64Array(n), bB = new Float64Array(n);
  for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
    const c = j * nx + i, kc = k[c]!;
    if (i < nx - 1) tE[c] = harmonic(kc, k[c + 1]!) / (dx * dx);
    if (j < ny - 1) tN[c] = harmonic(kc, k[c + nx]!) / (dy * dy);
    if (i === 0) { tB[c] = tB[c]! + (2 * kc) / (dx * dx); bB[c] = bB[c]! + (2 * kc * hL) / (dx * dx); }
    if (i === nx - 1) { tB[c] = tB[c]! + (2 * kc) / (dx * dx); bB[c] = bB[c]! + (2 * kc * hR) / (dx * dx); }
  }
  /** y = (s I - A) x, with A the FV Laplacian including the Dirichlet boundary faces. */
  const apply = (s: number, x: Float64Array, y: Float64Array): void => {
    for (let c = 0; c < n; c++) y[c] = (s + tB[c]!) * x[c]!;
    for (let c = 0; c < n; c++) {
      const te = tE[c]!, tn = tN[c]!;
      if (te !== 0) { const f = te * (x[c]! - x[c + 1]!); y[c] = y[c]! + f; y[c + 1] = y[c + 1]! - f; }
      if (tn !== 0) { const f = tn * (x[c]! - x[c + nx]!); y[c] = y[c]! + f; y[c + nx] = y[c + nx]! - f; }
    }
  };
  const diag = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    diag[c] = tB[c]! + tE[c]! + tN[c]! + (c % nx > 0 ? tE[c - 1]! : 0) + (c >= nx ? tN[c - nx]! : 0);
  }

  const x = Float64Array.from({ length: nx }, (_, i) => (i + 0.5) * dx);
  const y = Float64Array.from({ length: ny }, (_, j) => (j + 0.5) * dy);
  const t = Float64Array.from({ length: nt }, (_, i) => (nt === 1 ? 0 : (tEnd * i) / (nt - 1)));
  const out = new Float64Array(nt * n);
  const h = new Float64Array(n).fill(h0);
  out.set(h, 0);
  const rhs = new Float64Array(n), q = new Float64Array(n);
  const cg = new Cg(n);
  let time = 0;
  for (let s = 1; s < nt; s++) {
    const dt = (t[s]! - t[s - 1]!) / sub;
    const sdt = ss / dt;
    for (let r = 0; r < sub; r++) {
      time += dt;
      q.fill(0);
      o.source?.(time, q);
      for (let c = 0; c < n; c++) rhs[c] = sdt * h[c]! + bB[c]! + q[c]!;
      cg.solve((v, w) => apply(sdt, v, w), (v, w) => { for (let c = 0; c < n; c++) w[c] = v[c]! / (sdt + diag[c]!); }, rhs, h);
    }
    out.set(h, s * n);
  }
  return { nx, ny, x, y, t, k, h: out };
}

/** The steady state (dt -> infinity) of the same discretisation, for checks. */
export function groundwaterSteady(o: GroundwaterOptions & { k: Float64Array }): Float64Array {
  const f = groundwater({ ...o, ss: 0, nt: 2, tEnd: 1 });
  return f.h.slice(f.nx * f.ny);
}

function harmonic(a: number, b: number): number { return (2 * a * b) / (a + b); }

/** Preconditioned conjugate gradients (Saad, Iterative Methods, Alg. 9.1), warm-started from x. */
class Cg {
  private readonly r: Float64Array; private readonly z: Float64Array;
  private readonly p: Float64Array; private readonly ap: Float64Array;
  constructor(private readonly n: number) {
    this.r = new Float64Array(n); this.z = new Float64Array(n); this.p = new Float64Array(n); this.ap = new Float64Array(n);
  }
  solve(A: (v: Float64Array, out: Float64Array) => void, M: (v: Float64Array, out: Float64Array) => void,
    b: Float64Array, x: Float64Array, tol = 1e-13): void {
    const { r, z, p, ap, n } = this;
    A(x, ap);
    let bn = 0;
    for (let i = 0; i < n; i++) { r[i] = b[i]! - ap[i]!; bn += b[i]! ** 2; }
    M(r, z); p.set(z);
    let rz = dot(r, z);
    for (let it = 0; it < 10 * n + 100; it++) {
      if (dot(r, r) <= tol * tol * bn) return;
      A(p, ap);
      const alpha = rz / dot(p, ap);
      for (let i = 0; i < n; i++) { x[i] = x[i]! + alpha * p[i]!; r[i] = r[i]! - alpha * ap[i]!; }
      M(r, z);
      const rz2 = dot(r, z);
      const beta = rz2 / rz;
      rz = rz2;
      for (let i = 0; i < n; i++) p[i] = z[i]! + beta * p[i]!;
    }
    throw new Error('conjugate gradients did not converge');
  }
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
