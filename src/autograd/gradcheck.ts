// Central finite differences against autograd, for tests of gradient rules.
import { type Tensor, tensor } from '../tensor/tensor.js';
import { noGrad, noGradAsync } from '../tensor/engine.js';
import { grad } from './backward.js';
import { Rng } from '../tensor/random.js';

export interface GradcheckResult {
  maxAbsError: number;
  maxRelError: number;
  worst: { input: number; index: number; analytic: number; numeric: number } | null;
}

/**
 * Compares d/dx of sum(f(xs) * w) (w fixed random weights) by autograd with central differences.
 * Error of entry i: |a - n| / max(1, |n|).
 */
export function gradcheck(f: (...xs: Tensor[]) => Tensor, inputs: readonly Tensor[], h = 1e-2, seed = 7): GradcheckResult {
  const rng = new Rng(seed);
  const xs = inputs.map((x) => tensor(x.data, x.shape, true));
  const y0 = f(...xs);
  const w = tensor(Array.from({ length: y0.size }, () => rng.normal()), y0.shape);
  const loss = (ys: Tensor): number => {
    let s = 0;
    for (let i = 0; i < ys.size; i++) s += ys.data[i]! * w.data[i]!;
    return s;
  };
  const analytic = grad(y0.mul(w).sum(), xs);
  const res: GradcheckResult = { maxAbsError: 0, maxRelError: 0, worst: null };
  noGrad(() => {
    xs.forEach((x, k) => {
      for (let i = 0; i < x.size; i++) {
        const orig = x.data[i]!;
        x.data[i] = orig + h;
        const fp = loss(f(...xs));
        x.data[i] = orig - h;
        const fm = loss(f(...xs));
        x.data[i] = orig;
        const num = (fp - fm) / (2 * h);
        const a = analytic[k]!.data[i]!;
        const abs = Math.abs(a - num);
        const rel = abs / Math.max(1, Math.abs(num));
        res.maxAbsError = Math.max(res.maxAbsError, abs);
        if (rel > res.maxRelError) {
          res.maxRelError = rel;
          res.worst = { input: k, index: i, analytic: a, numeric: num };
        }
      }
    });
  });
  return res;
}

/**
 * Finite differences for parameters held inside modules: perturbs each parameter's memory in
 * place and compares with the gradient from `backward`. `entries` limits the entries checked per
 * parameter (spread evenly), to keep large checks fast.
 */
export async function gradcheckParams(loss: () => Promise<Tensor>, params: readonly Tensor[], h = 1e-2, entries = 16): Promise<GradcheckResult> {
  for (const p of params) p.grad = null;
  await (await loss()).backwardAsync();
  const analytic = params.map((p) => (p.grad === null ? new Float32Array(p.size) : Float32Array.from(p.grad.data)));
  const res: GradcheckResult = { maxAbsError: 0, maxRelError: 0, worst: null };
  await noGradAsync(async () => {
    for (const [k, p] of params.entries()) {
      const step = Math.max(1, Math.floor(p.size / entries));
      for (let i = 0; i < p.size; i += step) {
        const orig = p.data[i]!;
        p.data[i] = orig + h;
        const fp = (await loss()).item();
        p.data[i] = orig - h;
        const fm = (await loss()).item();
        p.data[i] = orig;
        const num = (fp - fm) / (2 * h);
        const a = analytic[k]![i]!;
        const abs = Math.abs(a - num), rel = abs / Math.max(1, Math.abs(num));
        res.maxAbsError = Math.max(res.maxAbsError, abs);
        if (rel > res.maxRelError) { res.maxRelError = rel; res.worst = { input: k, index: i, analytic: a, numeric: num }; }
      }
    }
  });
  return res;
}
