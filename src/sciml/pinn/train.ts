// Physics-informed training: data + PDE residual + initial/boundary + constraint losses, with fixed,
// gradient-statistics (annealing) or Lagrangian-dual loss weights; Adam, then L-BFGS.
//
// The PDE is u_t = sum_k c_k theta_k(u, u_x, u_xx, ...) with canonical term names (terms.ts), so
// any equation from the discovery library can be embedded; trainable c_k make it an inverse problem.
import { grad } from '../../autograd/backward.js';
import { noGrad, scopedSync } from '../../tensor/engine.js';
import { tensor, type Tensor } from '../../tensor/tensor.js';
import { Rng } from '../../tensor/random.js';
import { parseTerm } from '../terms.js';
import { fusedBackward, fusedForward, type FusedJet } from './fused.js';
import { mlpJet } from './jet.js';
import { flattenInto, mlpForward, mlpInit, mlpSize, mlpTensors, type InputScale } from './mlp.js';
import { Adam, lbfgs } from './optimizers.js';
import type { PinnProblem, Points } from './problems.js';

export type Weighting = 'fixed' | 'annealing' | 'dual';

/** Expert knowledge as soft penalties at the collocation points. */
export type Constraint =
  | { kind: 'bounds'; min?: number; max?: number; weight: number }
  | { kind: 'monotone'; direction: 'increasing' | 'decreasing'; weight: number };

export interface TrainConfig {
  widths: number[];
  adamSteps: number; adamLr: number;
  lbfgsSteps: number;
  weighting: Weighting;
  /** Initial (fixed: constant) weights of the non-residual losses; the residual's weight is 1. */
  weights: { initial: number; boundary: number; data: number };
  annealEvery: number; annealAlpha: number; // Wang, Teng & Perdikaris (2021), Alg. 1: every 10, alpha 0.9
  dualLr: number; // TgNN-LD dual ascent step
  constraints: Constraint[];
  seed: number;
  timeLimit: number; // seconds for both phases together
  adamTimeLimit: number; // seconds for the Adam phase (0: only timeLimit), so L-BFGS keeps the rest
  logEvery: number;
  /** 'engine': the tensor engine's ops and autograd on its current backend (any order up to 4);
   * 'fused': Float64 jets with a hand-written reverse pass (order <= 2), which beats the engine only
   * on the js backend. They agree (fused.test.ts). */
  evaluator: 'fused' | 'engine';
  /** Collocation points per Adam step, drawn at random each step (0: all). L-BFGS always uses all. */
  batch: number;
}

export const DEFAULT_TRAIN: TrainConfig = {
  widths: [2, 20, 20, 20, 20, 20, 20, 20, 20, 1], adamSteps: 2000, adamLr: 1e-3, lbfgsSteps: 5000,
  weighting: 'fixed', weights: { initial: 1, boundary: 1, data: 1 }, annealEvery: 10, annealAlpha: 0.9, dualLr: 1,
  constraints: [], seed: 1, timeLimit: 900, adamTimeLimit: 0, logEvery: 50, evaluator: 'fused', batch: 0,
};

export interface HistoryRow { phase: 'adam' | 'lbfgs'; step: number; seconds: number; loss: number; parts: Record<string, number>; weights: Record<string, number>; coefs: Record<string, number> }

export interface TrainResult {
  relL2: number; // |u_net - u_ref| / |u_ref| on the reference grid
  coefs: Record<string, number>;
  coefErrors: Record<string, number>; // relative errors of trainable coefficients against the truth
  history: HistoryRow[];
  adamSteps: number; lbfgsIterations: number; lbfgsReason: string; seconds: number;
  prediction: Float64Array; // (nt, nx) on the reference grid
  residual: Float64Array; // (nt, nx) PDE residual of the network on the reference grid
  params: Float64Array;
}

/** One evaluation of the loss and its gradient at theta. */
interface Evaluation { total: number; parts: Record<string, number>; partGrads?: Record<string, Float64Array> }

/** A set of points as (N, 1) tensors; u is zero where the points carry no values. */
interface PointTensors { x: Tensor; t: Tensor; u: Tensor }

function pointTensors(p: Points): PointTensors {
  const n = p.x.length;
  return { x: tensor(p.x, [n, 1]), t: tensor(p.t, [n, 1]), u: tensor(p.u ?? new Float64Array(n), [n, 1]) };
}

/** The penalty of one constraint, mean over the points, from u and u_x there (engine path). */
function constraintPenalty(c: Constraint, u: Tensor, ux: Tensor): Tensor {
  if (c.kind === 'monotone') return (c.direction === 'increasing' ? ux.neg() : ux).relu().square().mean();
  const over = c.max === undefined ? null : u.sub(c.max).relu().square();
  const under = c.min === undefined ? null : u.neg().add(c.min).relu().square();
  return (over !== null && under !== null ? over.add(under) : (over ?? under)!).mean();
}

/**
 * Loss terms, their weights and both evaluators of one problem (exposed for tests). theta is the
 * flat parameter vector: the network's (W0, b0, W1, b1, ...), then one entry per trainable
 * coefficient (its log when the coefficient is positive). The evaluators are bound properties, so
 * they can be passed on as functions.
 */
export class PinnObjective {
  readonly scale: InputScale;
  readonly theta: Float64Array;
  /** Weight of each loss part: residual (1), initial, boundary, data, constraint<i>. */
  readonly weights: Record<string, number> = { residual: 1 };
  readonly nNet: number;
  readonly useFused: boolean;
  private readonly terms: ReturnType<typeof parseTerm>[];
  /** Highest x-derivative order among the terms (at least 1). */
  private readonly order: number;
  /** Indices into problem.coefs of the trainable coefficients, in theta's order. */
  private readonly trainable: number[];
  private readonly col: PointTensors;
  private readonly ini: PointTensors | undefined;
  private readonly bnd: PointTensors | undefined;
  private readonly dat: PointTensors | undefined;
  private readonly batchRng: Rng;

  constructor(private readonly problem: PinnProblem, private readonly cfg: TrainConfig) {
    this.scale = { lo: problem.lo, hi: problem.hi };
    this.terms = problem.coefs.map((c) => parseTerm(c.term));
    this.order = Math.max(1, ...this.terms.map((t) => t.powers.length - 1));
    this.nNet = mlpSize(cfg.widths);
    this.trainable = problem.coefs.map((c, i) => (c.trainable ? i : -1)).filter((i) => i >= 0);
    this.theta = new Float64Array(this.nNet + this.trainable.length);
    this.theta.set(mlpInit(cfg.widths, cfg.seed));
    // Positive coefficients are trained as logs (Raissi et al. train log lambda2).
    this.trainable.forEach((ci, k) => { const c = problem.coefs[ci]!; this.theta[this.nNet + k] = c.positive ? Math.log(c.value) : c.value; });
    const opt = (p: Points | undefined): PointTensors | undefined => (p === undefined ? undefined : pointTensors(p));
    this.col = pointTensors(problem.collocation);
    this.ini = opt(problem.initial); this.bnd = opt(problem.boundary); this.dat = opt(problem.data);
    if (this.ini !== undefined) this.weights['initial'] = cfg.weights.initial;
    if (this.bnd !== undefined) this.weights['boundary'] = cfg.weights.boundary;
    if (this.dat !== undefined) this.weights['data'] = cfg.weights.data;
    cfg.constraints.forEach((c, i) => { this.weights[`constraint${i}`] = c.weight; });
    this.useFused = cfg.evaluator === 'fused' && this.order <= 2;
    this.batchRng = new Rng(cfg.seed + 7);
  }

  /** Every coefficient's value at theta (the fixed ones as given). */
  readonly coefValues = (th: Float64Array): number[] => this.problem.coefs.map((c, i) => {
    const k = this.trainable.indexOf(i);
    if (k < 0) return c.value;
    return c.positive ? Math.exp(th[this.nNet + k]!) : th[this.nNet + k]!;
  });

  /** residual = u_t - sum_k c_k theta_k at the given points (N, 1). */
  readonly residualAt = (net: ReturnType<typeof mlpTensors>, coefT: Tensor[], x: Tensor, t: Tensor): { r: Tensor; u: Tensor; ux: Tensor } => {
    const jet = mlpJet(net, x, t, this.scale, this.order);
    const factor = (d: number): Tensor => (d === 0 ? jet.u : jet.ux[d - 1]!);
    let r = jet.ut;
    this.terms.forEach((term, k) => {
      let v: Tensor | null = null;
      term.powers.forEach((p, d) => { if (p > 0) { const f = p === 1 ? factor(d) : factor(d).pow(p); v = v === null ? f : v.mul(f); } });
      const tk: Tensor = v ?? jet.u.mul(0).add(1);
      r = r.sub(tk.mul(coefT[k]!));
    });
    return { r, u: jet.u, ux: jet.ux[0]! };
  };

  /** The loss (and its gradient into g, per part with perPart) at th: the evaluator cfg chose. */
  readonly evaluate = (th: Float64Array, g: Float64Array | null, perPart: boolean, subset?: Points): Evaluation =>
    (this.useFused ? this.fusedEvaluate : this.engineEvaluate)(th, g, perPart, subset);

  /** The losses with the tensor engine's ops, the gradients with its autograd (any order up to 4). */
  readonly engineEvaluate = (th: Float64Array, g: Float64Array | null, perPart: boolean, subset?: Points): Evaluation => scopedSync(() => {
    const net = mlpTensors(this.cfg.widths, th);
    const leaves: Tensor[] = net.w.flatMap((w, i) => [w, net.b[i]!]); // the flat layout: W0, b0, W1, b1, ...
    const raw = this.trainable.map((_, k) => tensor([th[this.nNet + k]!], [1], true));
    const coefT = this.problem.coefs.map((c, i) => {
      const k = this.trainable.indexOf(i);
      if (k < 0) return tensor([c.value], [1]);
      return c.positive ? raw[k]!.exp() : raw[k]!;
    });
    const parts = this.engineParts(net, coefT, subset);
    let total: Tensor | null = null;
    for (const [k, v] of Object.entries(parts)) { const wv = v.mul(this.weights[k]!); total = total === null ? wv : total.add(wv); }
    const out: Evaluation = { total: total!.item(), parts: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, v.item()])) };
    if (perPart) {
      out.partGrads = {};
      for (const [k, v] of Object.entries(parts)) {
        const flat = new Float64Array(this.nNet);
        flattenInto(grad(v, leaves), flat);
        out.partGrads[k] = flat;
      }
    }
    if (g !== null) flattenInto(grad(total!, [...leaves, ...raw]), g);
    return out;
  });

  /** Each loss part as a scalar tensor (engine path): residual, initial, boundary, data, constraints. */
  private engineParts(net: ReturnType<typeof mlpTensors>, coefT: Tensor[], subset: Points | undefined): Record<string, Tensor> {
    const parts: Record<string, Tensor> = {};
    const cp = subset === undefined ? this.col : pointTensors(subset);
    const res = this.residualAt(net, coefT, cp.x, cp.t);
    parts['residual'] = res.r.square().mean();
    const fit = (p: PointTensors): Tensor => mlpForward(net, [p.x, p.t], this.scale).sub(p.u).square().mean();
    if (this.ini !== undefined) parts['initial'] = fit(this.ini);
    if (this.bnd !== undefined) parts['boundary'] = fit(this.bnd);
    if (this.dat !== undefined) parts['data'] = fit(this.dat);
    this.cfg.constraints.forEach((c, i) => { parts[`constraint${i}`] = constraintPenalty(c, res.u, res.ux); });
    return parts;
  }

  /** The same losses and gradients with fused Float64 jets (derivative order <= 2). */
  readonly fusedEvaluate = (th: Float64Array, g: Float64Array | null, perPart: boolean, subset?: Points): Evaluation => {
    const parts: Record<string, number> = {};
    const grads: Record<string, Float64Array> = {};
    const pc = subset ?? this.problem.collocation;
    const jet = fusedForward(this.cfg.widths, th, pc.x, pc.t, this.scale, this.order, true);
    const coefGrad = this.fusedResidual(th, jet, parts, grads);
    this.cfg.constraints.forEach((c, ci) => this.fusedConstraint(th, jet, c, `constraint${ci}`, parts, grads));
    this.fusedFit(th, 'initial', this.problem.initial, parts, grads);
    this.fusedFit(th, 'boundary', this.problem.boundary, parts, grads);
    this.fusedFit(th, 'data', this.problem.data, parts, grads);
    let total = 0;
    for (const [k, v] of Object.entries(parts)) total += this.weights[k]! * v;
    if (g !== null) {
      g.fill(0);
      for (const [k, gk] of Object.entries(grads)) { const w = this.weights[k]!; for (let i = 0; i < this.nNet; i++) g[i] = g[i]! + w * gk[i]!; }
      g.set(coefGrad, this.nNet);
    }
    return perPart ? { total, parts, partGrads: grads } : { total, parts };
  };

  /**
   * The residual part, r = u_t - sum_k c_k prod_d f_d^{p_d} with f = (u, u_x, u_xx), L_r = mean r^2:
   * its value and network gradient into parts/grads; returns dL_r/d(trainable coefficients), by
   * the chain rule through exp for the positive ones.
   */
  private fusedResidual(th: Float64Array, jet: FusedJet, parts: Record<string, number>, grads: Record<string, Float64Array>): Float64Array {
    const { terms, order } = this, n = jet.u.length, cv = this.coefValues(th);
    const f: Float64Array[] = [jet.u, jet.ux!, ...(order >= 2 ? [jet.uxx!] : [])];
    const gu = new Float64Array(n), gut = new Float64Array(n), gux = new Float64Array(n), guxx = order >= 2 ? new Float64Array(n) : null;
    const gf: Float64Array[] = [gu, gux, ...(guxx === null ? [] : [guxx])];
    let lr = 0;
    const r = new Float64Array(n), theta = terms.map(() => new Float64Array(n));
    for (let i = 0; i < n; i++) {
      let ri = jet.ut![i]!;
      terms.forEach((term, k) => {
        let v = 1;
        term.powers.forEach((p, d) => { if (p > 0) v *= f[d]![i]! ** p; });
        theta[k]![i] = v;
        ri -= cv[k]! * v;
      });
      r[i] = ri; lr += ri * ri;
    }
    parts['residual'] = lr / n;
    for (let i = 0; i < n; i++) {
      const dr = (2 * r[i]!) / n;
      gut[i] = dr;
      terms.forEach((term, k) => {
        term.powers.forEach((p, d) => {
          if (p === 0) return;
          let dv = p * f[d]![i]! ** (p - 1); // d theta_k / d f_d
          term.powers.forEach((q, e) => { if (e !== d && q > 0) dv *= f[e]![i]! ** q; });
          gf[d]![i] = gf[d]![i]! - cv[k]! * dv * dr;
        });
      });
    }
    const coefGrad = new Float64Array(this.trainable.length);
    this.trainable.forEach((ci, k) => {
      let s = 0;
      for (let i = 0; i < n; i++) s -= ((2 * r[i]!) / n) * theta[ci]![i]!;
      coefGrad[k] = this.problem.coefs[ci]!.positive ? s * cv[ci]! : s;
    });
    grads['residual'] = new Float64Array(this.nNet);
    fusedBackward(this.cfg.widths, th, jet, this.scale, gu, gut, gux, guxx, grads['residual']);
    return coefGrad;
  }

  /** One constraint's penalty at the collocation points and its network gradient (fused path). */
  private fusedConstraint(th: Float64Array, jet: FusedJet, c: Constraint, key: string, parts: Record<string, number>,
    grads: Record<string, Float64Array>): void {
    const n = jet.u.length, cu = new Float64Array(n), cx = new Float64Array(n);
    let pen = 0;
    for (let i = 0; i < n; i++) {
      if (c.kind === 'bounds') {
        const u = jet.u[i]!;
        if (c.max !== undefined && u > c.max) { pen += (u - c.max) ** 2; cu[i] = (2 * (u - c.max)) / n; }
        if (c.min !== undefined && u < c.min) { pen += (c.min - u) ** 2; cu[i] = (-2 * (c.min - u)) / n; }
      } else {
        const v = c.direction === 'increasing' ? -jet.ux![i]! : jet.ux![i]!;
        if (v > 0) { pen += v * v; cx[i] = ((c.direction === 'increasing' ? -2 : 2) * v) / n; }
      }
    }
    parts[key] = pen / n;
    grads[key] = new Float64Array(this.nNet);
    fusedBackward(this.cfg.widths, th, jet, this.scale, cu, new Float64Array(n), cx, this.order >= 2 ? new Float64Array(n) : null, grads[key]);
  }

  /** A fit part, mean (u_net - u)^2 over points p, and its network gradient (fused path); nothing without p. */
  private fusedFit(th: Float64Array, key: string, p: Points | undefined, parts: Record<string, number>, grads: Record<string, Float64Array>): void {
    if (p === undefined) return;
    const m = p.x.length, fj = fusedForward(this.cfg.widths, th, p.x, p.t, this.scale, 0, false), gv = new Float64Array(m);
    let s = 0;
    for (let i = 0; i < m; i++) { const e = fj.u[i]! - p.u![i]!; s += e * e; gv[i] = (2 * e) / m; }
    parts[key] = s / m;
    grads[key] = new Float64Array(this.nNet);
    fusedBackward(this.cfg.widths, th, fj, this.scale, gv, null, null, null, grads[key]);
  }

  /** A random subset of cfg.batch collocation points for one Adam step, or undefined for all of them. */
  readonly batchOf = (): Points | undefined => {
    const all = this.problem.collocation, n = all.x.length, b = this.cfg.batch;
    if (b <= 0 || b >= n) return undefined;
    const x = new Float64Array(b), t = new Float64Array(b);
    for (let i = 0; i < b; i++) { const k = this.batchRng.int(n); x[i] = all.x[k]!; t[i] = all.t[k]!; }
    return { x, t };
  };
}

/** The objective of one problem under cfg (see PinnObjective). */
export function pinnObjective(problem: PinnProblem, cfg: TrainConfig): PinnObjective {
  return new PinnObjective(problem, cfg);
}

export function trainPinn(problem: PinnProblem, cfg: TrainConfig, onLog?: (row: HistoryRow) => void): TrainResult {
  const t0 = performance.now();
  const seconds = (): number => (performance.now() - t0) / 1000;
  const { theta, weights, coefValues, residualAt, evaluate, batchOf, useFused } = pinnObjective(problem, cfg);

  const history: HistoryRow[] = [];
  const log = (phase: 'adam' | 'lbfgs', step: number, e: Evaluation, th: Float64Array): void => {
    const cv = coefValues(th);
    const row: HistoryRow = { phase, step, seconds: seconds(), loss: e.total, parts: e.parts, weights: { ...weights },
      coefs: Object.fromEntries(problem.coefs.map((c, i) => [c.term, cv[i]!])) };
    history.push(row);
    onLog?.(row);
  };

  const g = new Float64Array(theta.length);
  const adam = new Adam(theta.length, cfg.adamLr);
  let adamDone = 0;
  const adamLimit = cfg.adamTimeLimit > 0 ? Math.min(cfg.adamTimeLimit, cfg.timeLimit) : cfg.timeLimit;
  for (let step = 0; step < cfg.adamSteps && seconds() < adamLimit; step++) {
    const adapt = cfg.weighting !== 'fixed' && step % cfg.annealEvery === 0;
    const sub = batchOf();
    const e = evaluate(theta, g, adapt && cfg.weighting === 'annealing', sub);
    if (adapt) updateWeights(cfg, weights, e);
    if (step % cfg.logEvery === 0) log('adam', step, e, theta);
    adam.step(theta, g);
    adamDone = step + 1;
  }
  let lb = { iterations: 0, reason: 'skipped' };
  if (cfg.lbfgsSteps > 0 && seconds() < cfg.timeLimit) {
    const r = lbfgs((th, gg) => evaluate(th, gg, false).total, theta, {
      maxIter: cfg.lbfgsSteps, history: 50, gradTol: 1e-8, fTol: 1e-10,
      onIter: (it) => {
        if (it % cfg.logEvery === 0) log('lbfgs', it, evaluate(theta, null, false), theta);
        return seconds() < cfg.timeLimit;
      },
    });
    lb = { iterations: r.iterations, reason: r.reason };
  }
  const final = evaluate(theta, null, false);
  log(cfg.lbfgsSteps > 0 ? 'lbfgs' : 'adam', lb.iterations, final, theta);

  // Prediction and residual on the reference grid.
  const ref = problem.reference, nx = ref.x.length, nt = ref.t.length;
  const gx = new Float64Array(nx * nt), gt = new Float64Array(nx * nt);
  for (let i = 0; i < nt; i++) for (let j = 0; j < nx; j++) { gx[i * nx + j] = ref.x[j]!; gt[i * nx + j] = ref.t[i]!; }
  const cvFinal = coefValues(theta);
  let prediction: Float64Array, residual: Float64Array;
  if (useFused) {
    const jet = fusedForward(cfg.widths, theta, gx, gt, { lo: problem.lo, hi: problem.hi }, Math.min(2, maxOrder(problem)), true);
    const f = [jet.u, jet.ux, jet.uxx];
    prediction = jet.u;
    residual = Float64Array.from(jet.ut!);
    problem.coefs.forEach((c, k) => {
      const term = parseTerm(c.term);
      for (let i = 0; i < residual.length; i++) {
        let v = 1;
        term.powers.forEach((p, d) => { if (p > 0) v *= f[d]![i]! ** p; });
        residual[i] = residual[i]! - cvFinal[k]! * v;
      }
    });
  } else {
    ({ prediction, residual } = scopedSync(() => noGrad(() => {
      const net = mlpTensors(cfg.widths, theta);
      const r = residualAt(net, cvFinal.map((v) => tensor([v], [1])), tensor(gx, [gx.length, 1]), tensor(gt, [gt.length, 1]));
      return { prediction: Float64Array.from(r.u.data), residual: Float64Array.from(r.r.data) };
    })));
  }
  let num = 0, den = 0;
  for (let c = 0; c < prediction.length; c++) { num += (prediction[c]! - ref.u[c]!) ** 2; den += ref.u[c]! ** 2; }
  const cv = coefValues(theta);
  const coefs = Object.fromEntries(problem.coefs.map((c, i) => [c.term, cv[i]!]));
  const coefErrors: Record<string, number> = {};
  problem.coefs.forEach((c, i) => { if (c.trainable && problem.truth[c.term] !== undefined) coefErrors[c.term] = Math.abs(cv[i]! / problem.truth[c.term]! - 1); });
  return { relL2: Math.sqrt(num / den), coefs, coefErrors, history, adamSteps: adamDone, lbfgsIterations: lb.iterations,
    lbfgsReason: lb.reason, seconds: seconds(), prediction, residual, params: theta };
}

function maxOrder(p: PinnProblem): number {
  return Math.max(1, ...p.coefs.map((c) => parseTerm(c.term).powers.length - 1));
}

/** Annealing: lambda_k <- (1 - a) lambda_k + a max|grad L_r| / mean|grad L_k| (Wang, Teng &
 * Perdikaris, SIAM J. Sci. Comput. 43 (2021), eq. 40-41). Dual: lambda_k <- lambda_k + eta L_k, gradient
 * ascent on the multipliers of the constraints L_k = 0 (TgNN-LD: Rong, Zhang & Wang, 2022). */
function updateWeights(cfg: TrainConfig, weights: Record<string, number>, e: Evaluation): void {
  if (cfg.weighting === 'annealing') {
    const gr = e.partGrads!['residual']!;
    let maxR = 0;
    for (const v of gr) maxR = Math.max(maxR, Math.abs(v));
    for (const k of Object.keys(weights)) {
      if (k === 'residual' || k.startsWith('constraint')) continue;
      const gk = e.partGrads![k]!;
      let mean = 0;
      for (const v of gk) mean += Math.abs(v);
      mean /= gk.length;
      if (mean > 0) weights[k] = (1 - cfg.annealAlpha) * weights[k]! + cfg.annealAlpha * (maxR / mean);
    }
  } else if (cfg.weighting === 'dual') {
    for (const k of Object.keys(weights)) if (k !== 'residual') weights[k] = weights[k]! + cfg.dualLr * e.parts[k]!;
  }
}
