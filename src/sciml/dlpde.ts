// DL-PDE derivatives: fit a tanh network u(x, t) to (noisy) data, then differentiate the network
// (Xu, Chang & Zhang, "DL-PDE: Deep-learning based data-driven discovery of partial differential
// equations from discrete and noisy data", Commun. Comput. Phys. 29 (2021)).
import { noGrad, scopedSync } from '../tensor/engine.js';
import { tensor } from '../tensor/tensor.js';
import type { DerivativeFields } from './discover.js';
import { fusedBackward, fusedForward } from './pinn/fused.js';
import { mlpJet } from './pinn/jet.js';
import { mlpInit, mlpSize, mlpTensors, type InputScale } from './pinn/mlp.js';
import { Adam, lbfgs } from './pinn/optimizers.js';
import { Rng } from '../tensor/random.js';
import type { Field } from './spectral.js';

export interface NetworkFitOptions {
  widths?: number[]; // default [2, 32, 32, 32, 1]
  adamSteps?: number; // default 3000
  batch?: number; // points per Adam step, default 2048
  lbfgsSteps?: number; // default 500, on `lbfgsPoints` points
  lbfgsPoints?: number; // default 8192
  seed?: number;
  timeLimit?: number; // seconds, default 300
}

export interface NetworkFit { params: Float64Array; widths: number[]; scale: InputScale; mse: number; seconds: number }

/** Least-squares fit of the network to every grid value (targets scaled to unit std). */
export function fitNetwork(f: Field, o: NetworkFitOptions = {}): NetworkFit {
  const t0 = performance.now();
  const widths = o.widths ?? [2, 32, 32, 32, 1];
  const nx = f.x.length, nt = f.t.length, n = nx * nt;
  const scale: InputScale = { lo: [f.x[0]!, f.t[0]!], hi: [f.x[nx - 1]!, f.t[nt - 1]!] };
  const rng = new Rng(o.seed ?? 1);
  const p = mlpInit(widths, o.seed ?? 1);
  const limit = o.timeLimit ?? 300;
  const elapsed = (): number => (performance.now() - t0) / 1000;
  const pick = (m: number): { x: Float64Array; t: Float64Array; u: Float64Array } => {
    const x = new Float64Array(m), t = new Float64Array(m), u = new Float64Array(m);
    for (let i = 0; i < m; i++) { const c = m >= n ? i : rng.int(n); x[i] = f.x[c % nx]!; t[i] = f.t[Math.floor(c / nx)]!; u[i] = f.u[c]!; }
    return { x, t, u };
  };
  const loss = (th: Float64Array, g: Float64Array, pts: { x: Float64Array; t: Float64Array; u: Float64Array }): number => {
    const m = pts.x.length, jet = fusedForward(widths, th, pts.x, pts.t, scale, 0, false), gu = new Float64Array(m);
    let s = 0;
    for (let i = 0; i < m; i++) { const e = jet.u[i]! - pts.u[i]!; s += e * e; gu[i] = (2 * e) / m; }
    g.fill(0);
    fusedBackward(widths, th, jet, scale, gu, null, null, null, g);
    return s / m;
  };
  const g = new Float64Array(mlpSize(widths));
  const adam = new Adam(p.length, 2e-3);
  const steps = o.adamSteps ?? 3000, batch = Math.min(o.batch ?? 2048, n);
  for (let s = 0; s < steps && elapsed() < limit; s++) {
    if (s === Math.floor(steps / 2)) adam.lr = 5e-4;
    loss(p, g, pick(batch));
    adam.step(p, g);
  }
  const fixed = pick(Math.min(o.lbfgsPoints ?? 8192, n));
  if ((o.lbfgsSteps ?? 500) > 0 && elapsed() < limit) {
    lbfgs((th, gg) => loss(th, gg, fixed), p, { maxIter: o.lbfgsSteps ?? 500, onIter: () => elapsed() < limit });
  }
  const all = pick(n);
  return { params: p, widths, scale, mse: loss(p, g, all), seconds: elapsed() };
}

/** u, u_t and u_x .. u_{x^order} of the fitted network at every grid point, by the engine's
 * forward jets (order <= 4). */
export function networkDerivatives(f: Field, fit: NetworkFit, order: number): DerivativeFields {
  const nx = f.x.length, nt = f.t.length, n = nx * nt, chunk = 4096;
  const u = new Float64Array(n), ut = new Float64Array(n), ux = Array.from({ length: order }, () => new Float64Array(n));
  for (let s = 0; s < n; s += chunk) {
    const m = Math.min(chunk, n - s);
    const xs = new Float64Array(m), ts = new Float64Array(m);
    for (let i = 0; i < m; i++) { xs[i] = f.x[(s + i) % nx]!; ts[i] = f.t[Math.floor((s + i) / nx)]!; }
    scopedSync(() => noGrad(() => {
      const net = mlpTensors(fit.widths, fit.params);
      const jet = mlpJet(net, tensor(xs, [m, 1]), tensor(ts, [m, 1]), fit.scale, order);
      u.set(jet.u.data, s); ut.set(jet.ut.data, s);
      jet.ux.forEach((d, k) => ux[k]!.set(d.data, s));
    }));
  }
  return { u, ut, ux };
}
