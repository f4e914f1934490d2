// Token dispatch by capacity: which slot of which expert each (token, choice) occupies.
// Experts see a padded batch (E, capacity, C), one batched GEMM for all (GShard/Tutel layout),
// which is also the layout expert parallelism exchanges by all-to-all.
import type { Tensor } from '../../tensor/tensor.js';
import { zeros } from '../../tensor/tensor.js';
import * as ops from '../../tensor/ops.js';
import type { Routing } from './router.js';

export interface DispatchPlan {
  numExperts: number;
  capacity: number;
  /** Token index for each slot (E * capacity); the padding row index N for empty slots. */
  slotToken: Int32Array;
  /** Index into the flattened gates (N * k) for each slot; N * k (a zero gate) for empty slots. */
  slotChoice: Int32Array;
  /** Choices routed per expert before capacity (load), and how many were dropped. */
  load: Int32Array;
  /** Slots used per expert (min(load, capacity)): its first `filled[e]` slots, the rest padding. */
  filled: Int32Array;
  dropped: number;
}

/** Choices routed to each expert (before capacity). */
export function expertLoad(r: Routing, numExperts: number): Int32Array {
  const load = new Int32Array(numExperts);
  for (const x of r.experts) if (x >= 0) load[x]!++;
  return load;
}

/**
 * Slots per expert: GShard's ceil(capacityFactor * N * k / E) from this rank's N tokens, or with
 * capacityFactor <= 0 (dropless) the busiest expert's load.
 */
export function capacityFor(capacityFactor: number, n: number, k: number, load: Int32Array): number {
  return capacityFactor > 0 ? Math.max(1, Math.ceil((capacityFactor * n * k) / load.length)) : Math.max(1, ...load);
}

/** Assigns choices to expert slots: all first choices in token order, then second choices, ... */
export function planDispatch(r: Routing, numExperts: number, capacity: number): DispatchPlan {
  const n = r.experts.length / r.k, k = r.k, e = numExperts;
  const load = expertLoad(r, e);
  const slotToken = new Int32Array(e * capacity).fill(n);
  const slotChoice = new Int32Array(e * capacity).fill(n * k);
  const fill = new Int32Array(e);
  let dropped = 0;
  for (let j = 0; j < k; j++) {
    for (let i = 0; i < n; i++) {
      const x = r.experts[i * k + j]!;
      if (x < 0) continue;
      if (fill[x]! >= capacity) { dropped++; continue; }
      const slot = x * capacity + fill[x]!++;
      slotToken[slot] = i;
      slotChoice[slot] = i * k + j;
    }
  }
  return { numExperts: e, capacity, slotToken, slotChoice, load, filled: fill, dropped };
}

/** x (N, C) -> expert input (E, capacity, C); empty slots are zero rows. */
export function dispatch(x: Tensor, p: DispatchPlan): Tensor {
  const c = x.shape[1]!;
  const padded = ops.concat0([x, zeros([1, c])]); // (N+1, C): row N is the zero padding row
  return ops.gatherRows(padded, p.slotToken).reshape([p.numExperts, p.capacity, c]);
}

/** Expert output (E, capacity, C) -> y (N, C) = sum over a token's slots of gate * output. */
export function combine(out: Tensor, gates: Tensor, p: DispatchPlan, n: number): Tensor {
  const c = out.shape[2]!;
  const gflat = ops.concat0([gates.reshape([gates.size, 1]), zeros([1, 1])]); // (N*k+1, 1)
  const slotGate = ops.gatherRows(gflat, p.slotChoice); // (E*cap, 1)
  const weighted = out.reshape([p.numExperts * p.capacity, c]).mul(slotGate);
  return ops.scatterAddRows(weighted, p.slotToken, n + 1).rows(0, n);
}
