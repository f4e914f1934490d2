// AdamW (Loshchilov & Hutter 2019) with decoupled weight decay; norms and biases (1-D params)
// are not decayed (nanoGPT's rule), and global-norm gradient clipping.
import type { Tensor } from '../tensor/tensor.js';
import { zeros } from '../tensor/tensor.js';
import { backend, keep } from '../tensor/engine.js';

export interface AdamWOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface ParamState {
  name: string;
  param: Tensor;
  m: Tensor;
  v: Tensor;
  decay: boolean;
}

export class AdamW {
  readonly states: ParamState[];
  step = 0;
  constructor(named: readonly [string, Tensor][], readonly opts: AdamWOptions) {
    this.states = named.map(([name, param]) => ({
      name, param, m: keep(zeros(param.shape)), v: keep(zeros(param.shape)), decay: param.ndim >= 2,
    }));
  }

  /** One update with learning rate lr using each parameter's `.grad` (missing grads count as 0). */
  update(lr: number): void {
    this.step++;
    const { beta1, beta2, eps, weightDecay } = this.opts;
    const bc1 = 1 - beta1 ** this.step, bc2 = 1 - beta2 ** this.step;
    for (const s of this.states) {
      if (s.param.grad === null) continue;
      backend().adamw(s.param.data, s.param.grad.data, s.m.data, s.v.data, lr, beta1, beta2, eps,
        s.decay ? weightDecay : 0, bc1, bc2);
    }
  }

  zeroGrad(): void {
    for (const s of this.states) s.param.grad = null;
  }
}

/** Scale applied to gradients so that their global norm is at most maxNorm (1 when below; 0 = no clip). */
export function clipScale(norm: number, maxNorm: number): number {
  return maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
}

/** Global L2 norm of the gradients (one process); scales them to maxNorm when above it. Returns the norm before. */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): number {
  let ss = 0;
  for (const p of params) if (p.grad !== null) ss += backend().sumSquares(p.grad.data);
  const norm = Math.sqrt(ss);
  const scale = clipScale(norm, maxNorm);
  if (scale !== 1) for (const p of params) if (p.grad !== null) backend().affine(p.grad.data, scale, 0, p.grad.data);
  return norm;
}
