// Forward-mode Taylor jets through a tanh MLP: u, u_t and u_x, u_xx, ... u_{x^K} in one pass.
//
// Each layer carries the value and its derivatives. A linear layer maps every channel by the same
// weights (the bias only enters the value). For y = tanh(z), with t_k = d^k tanh / dz^k
// (t1 = 1 - y^2, t2 = -2 y t1, t3 = -2 t1^2 - 2 y t2, t4 = -6 t1 t2 - 2 y t3), Faa di Bruno gives
//   y'    = t1 z'
//   y''   = t2 z'^2 + t1 z''
//   y'''  = t3 z'^3 + 3 t2 z' z'' + t1 z'''
//   y'''' = t4 z'^4 + 6 t3 z'^2 z'' + t2 (3 z''^2 + 4 z' z''') + t1 z''''
// and y_t = t1 z_t. All of it is engine ops, so one reverse pass gives the parameter gradient of a
// loss built from any of these derivatives (the cost of n-th order "TangentProp" instead of nested
// reverse mode). jet.test.ts checks it against the engine's nested grad().
import type { Tensor } from '../../tensor/tensor.js';
import { firstLayer, type InputScale, type MlpTensors } from './mlp.js';

export interface Jet {
  u: Tensor; // (N, 1)
  ut: Tensor; // (N, 1)
  ux: Tensor[]; // ux[k - 1] = d^k u / dx^k, (N, 1), k = 1..order
}

/** Inputs are x (N, 1) and t (N, 1); `order` x-derivatives (0..4) and the first t-derivative. */
export function mlpJet(net: MlpTensors, x: Tensor, t: Tensor, scale: InputScale, order: number): Jet {
  if (order < 0 || order > 4) throw new Error(`jet order must be in [0, 4], got ${order}`);
  const sx = 2 / (scale.hi[0]! - scale.lo[0]!), st = 2 / (scale.hi[1]! - scale.lo[1]!);
  // First layer: z = W0^T [x~, t~] + b, so z_x = sx W0[0, :], z_t = st W0[1, :], higher x-derivatives 0.
  let z = firstLayer(net, [x, t], scale);
  const ones = x.mul(0).add(1); // (N, 1)
  let zt: Tensor = ones.matmul(net.w[0]!.rows(1, 1)).mul(st); // (N, H)
  const zx: (Tensor | null)[] = [ones.matmul(net.w[0]!.rows(0, 1)).mul(sx), null, null, null].slice(0, order);
  for (let l = 1; l < net.w.length; l++) {
    const y = z.tanh();
    const t1 = y.square().neg().add(1);
    const d: (Tensor | null)[] = [];
    const z1 = zx[0] ?? null, z2 = zx[1] ?? null, z3 = zx[2] ?? null, z4 = zx[3] ?? null;
    const t2 = order >= 2 ? y.mul(t1).mul(-2) : null;
    const t3 = order >= 3 ? t1.square().mul(-2).sub(y.mul(t2!).mul(2)) : null;
    const t4 = order >= 4 ? t1.mul(t2!).mul(-6).sub(y.mul(t3!).mul(2)) : null;
    if (order >= 1) d.push(t1.mul(z1!));
    if (order >= 2) d.push(sumOf([t2!.mul(z1!.square()), z2 === null ? null : t1.mul(z2)]));
    if (order >= 3) d.push(sumOf([t3!.mul(z1!.pow(3)), z2 === null ? null : t2!.mul(z1!).mul(z2).mul(3), z3 === null ? null : t1.mul(z3)]));
    if (order >= 4) {
      d.push(sumOf([
        t4!.mul(z1!.pow(4)),
        z2 === null ? null : t3!.mul(z1!.square()).mul(z2).mul(6),
        z2 === null ? null : t2!.mul(z2.square()).mul(3),
        z3 === null ? null : t2!.mul(z1!).mul(z3).mul(4),
        z4 === null ? null : t1.mul(z4),
      ]));
    }
    const yt = t1.mul(zt);
    const w = net.w[l]!;
    z = y.matmul(w).add(net.b[l]!);
    zt = yt.matmul(w);
    for (let k = 0; k < order; k++) zx[k] = d[k]!.matmul(w);
  }
  return { u: z, ut: zt, ux: zx.map((v) => v!) };
}

function sumOf(terms: (Tensor | null)[]): Tensor {
  let s: Tensor | null = null;
  for (const t of terms) if (t !== null) s = s === null ? t : s.add(t);
  return s!;
}
