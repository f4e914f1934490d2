// A tanh multilayer perceptron u(x, t) whose weights live in one flat parameter vector, so Adam and
// L-BFGS can work on plain Float64Arrays while the engine differentiates the loss.
import { tensor, type Tensor } from '../../tensor/tensor.js';
import { Rng } from '../../tensor/random.js';

/** Layer widths, e.g. [2, 20, 20, 1]: inputs (x, t), hidden tanh layers, linear output. */
export interface MlpShape { widths: number[] }

/** Parameter count of an MLP: sum over layers of (in + 1) * out. */
export function mlpSize(widths: number[]): number {
  let n = 0;
  for (let l = 0; l + 1 < widths.length; l++) n += (widths[l]! + 1) * widths[l + 1]!;
  return n;
}

/** Xavier/Glorot normal weights (std sqrt(2 / (in + out)), Glorot & Bengio 2010), zero biases:
 * Raissi et al.'s initialisation. Layout per layer: W (in, out) row-major, then b (out). */
export function mlpInit(widths: number[], seed: number): Float64Array {
  const rng = new Rng(seed), p = new Float64Array(mlpSize(widths));
  let o = 0;
  for (let l = 0; l + 1 < widths.length; l++) {
    const fin = widths[l]!, fout = widths[l + 1]!, s = Math.sqrt(2 / (fin + fout));
    for (let i = 0; i < fin * fout; i++) p[o++] = s * rng.normal();
    o += fout;
  }
  return p;
}

/** The layers as engine tensors that require gradients (leaves), cut from the flat vector. */
export interface MlpTensors { w: Tensor[]; b: Tensor[] }

export function mlpTensors(widths: number[], p: Float64Array, offset = 0): MlpTensors {
  const w: Tensor[] = [], b: Tensor[] = [];
  let o = offset;
  for (let l = 0; l + 1 < widths.length; l++) {
    const fin = widths[l]!, fout = widths[l + 1]!;
    w.push(tensor(p.subarray(o, o + fin * fout), [fin, fout], true)); o += fin * fout;
    b.push(tensor(p.subarray(o, o + fout), [fout], true)); o += fout;
  }
  return { w, b };
}

/** Flattens the gradients of the layer tensors back into the parameter layout. */
export function flattenInto(grads: Tensor[], out: Float64Array, offset = 0): void {
  let o = offset;
  for (const g of grads) { out.set(g.data, o); o += g.size; }
}

/** Affine input scaling to [-1, 1] per input, as Raissi et al. do: 2 (v - lo) / (hi - lo) - 1. */
export interface InputScale { lo: number[]; hi: number[] }

/** u for inputs (N, 1) each, by plain reverse-mode-differentiable ops: (N, 1). */
export function mlpForward(net: MlpTensors, inputs: Tensor[], scale: InputScale): Tensor {
  let h = firstLayer(net, inputs, scale);
  for (let l = 1; l < net.w.length; l++) h = h.tanh().matmul(net.w[l]!).add(net.b[l]!);
  return h;
}

/** z = sum_i s_i (v_i - c_i) W[i, :] + b, with the input scaling folded in: (N, H). */
export function firstLayer(net: MlpTensors, inputs: Tensor[], scale: InputScale): Tensor {
  let z: Tensor | undefined;
  inputs.forEach((v, i) => {
    const s = 2 / (scale.hi[i]! - scale.lo[i]!);
    const row = net.w[0]!.rows(i, 1); // (1, H)
    const term = v.mul(s).add(-s * scale.lo[i]! - 1).matmul(row);
    z = z === undefined ? term : z.add(term);
  });
  return z!.add(net.b[0]!);
}
