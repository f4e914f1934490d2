// Expert parallelism with the all-to-all pipelined against the experts' computation: the padded
// expert batch is cut along its capacity slots into K chunks, and while the experts compute chunk
// k, chunk k + 1 travels (Tutel's pipelining degree, Hwang et al. arXiv 2206.03382 section 3.3;
// FasterMoE's smart scheduling, He et al. PPoPP 2022 section 4), in the forward and the backward
// pass alike. The exchanges run on the ep group's nonblocking engine (comm/progress.ts): on
// threads a communication worker moves chunk k + 1 while this thread computes chunk k, so a rank
// whose experts got fewer tokens waits for the busier one less.
//
// Experts are row-wise, so every token's output equals the unsplit layer's; the weight gradients
// sum K chunks' partial sums (rounding may differ from the one-pass sum).
//
// Layouts: x (E, cap, C) with E = p * E_l experts in rank order; chunk k covers slots [a, b) of
// every expert, n = b - a. What travels to rank j is (E_l, n, C) of j's experts, so a chunk's
// send buffer is (p, E_l, n, C) and its receive buffer (p, E_l, n, C) from every source rank,
// which the experts see as (E_l, p * n, C): p segments of n slots each.
import { Tensor, result } from '../../tensor/tensor.js';
import { backend } from '../../tensor/engine.js';
import { gradAsync } from '../../autograd/backward.js';
import type { InFlight, Nonblocking } from '../../comm/progress.js';
import type { Experts } from './experts.js';

export interface ExpertExchange {
  /** ep group size p, local experts E_l, capacity slots per expert, model width C. */
  p: number;
  el: number;
  cap: number;
  c: number;
  /** Filled slots of my experts from each rank: filledFrom[j * E_l + l] (rank j's fill of my expert l). */
  filledFrom: Float32Array;
  chunks: number;
  engine: Nonblocking;
}

/** Slot ranges [a, b) of the chunks: ceil(cap / K) slots each, the last ones shorter or empty (every rank has the same cap). */
export function chunkBounds(cap: number, chunks: number): [number, number][] {
  const n = Math.ceil(cap / chunks), out: [number, number][] = [];
  for (let a = 0; a < cap; a += n) out.push([a, Math.min(cap, a + n)]);
  return out;
}

/** Backend memory (shared, so a communication worker can reach it), owned by a tensor: freed with the step's scope. */
const alloc = (n: number): Float32Array => new Tensor(backend().alloc(n), [n]).data;

/** Slots [a, b) of every expert of x (E, cap, C): (E, n, C), in expert order (= by destination rank). */
function takeSlots(x: Float32Array, e: number, cap: number, c: number, a: number, b: number): Float32Array {
  const n = b - a, out = alloc(e * n * c);
  for (let i = 0; i < e; i++) out.set(x.subarray((i * cap + a) * c, (i * cap + b) * c), i * n * c);
  return out;
}

/** The inverse: (E, n, C) into slots [a, b) of every expert of out (E, cap, C). */
function putSlots(out: Float32Array, x: Float32Array, e: number, cap: number, c: number, a: number, b: number): void {
  const n = b - a;
  for (let i = 0; i < e; i++) out.set(x.subarray(i * n * c, (i + 1) * n * c), (i * cap + a) * c);
}

/** (p, E_l, n, C) -> (E_l, p * n, C) when `toExperts`, else the inverse. */
function regroup(x: Float32Array, p: number, el: number, n: number, c: number, toExperts: boolean): Float32Array {
  const out = alloc(x.length), blk = n * c;
  for (let j = 0; j < p; j++) {
    for (let l = 0; l < el; l++) {
      const [from, to] = toExperts ? [j * el + l, l * p + j] : [l * p + j, j * el + l];
      out.set(x.subarray(from * blk, (from + 1) * blk), to * blk);
    }
  }
  return out;
}

/** Starts the exchange of every chunk of x (E, cap, C), in order; each result is (p, E_l, n, C). */
function sendChunks(x: Float32Array, ex: ExpertExchange, bounds: readonly [number, number][]): { recv: Float32Array; done: InFlight }[] {
  const e = ex.p * ex.el;
  return bounds.map(([a, b]) => {
    const send = takeSlots(x, e, ex.cap, ex.c, a, b), recv = alloc(send.length);
    return { recv, done: ex.engine.allToAll(send, recv) };
  });
}

/** Filled rows of each (expert, source) segment of the chunk [a, b): the experts' `rows` for (E_l, p * n, C). */
function chunkRows(ex: ExpertExchange, a: number, b: number): Int32Array {
  const rows = new Int32Array(ex.el * ex.p);
  for (let l = 0; l < ex.el; l++) {
    for (let j = 0; j < ex.p; j++) rows[l * ex.p + j] = Math.max(0, Math.min(b - a, (ex.filledFrom[j * ex.el + l] ?? 0) - a));
  }
  return rows;
}

/**
 * xin (E, cap, C), this rank's tokens for every expert -> (E, cap, C), every expert's outputs for
 * them: the expert-parallel dispatch, experts and combine of MoELayer, in pipelined chunks.
 */
export async function pipelinedExperts(xin: Tensor, experts: Experts, ex: ExpertExchange): Promise<Tensor> {
  const { p, el, cap, c } = ex, e = p * el, bounds = chunkBounds(cap, ex.chunks);
  const incoming = sendChunks(xin.data, ex, bounds);
  const saved: { mine: Tensor; y: Tensor }[] = [];
  const back: { recv: Float32Array; done: InFlight }[] = [];
  for (let k = 0; k < bounds.length; k++) {
    const [a, b] = bounds[k]!, n = b - a;
    await incoming[k]!.done.wait();
    const mine = new Tensor(regroup(incoming[k]!.recv, p, el, n, c, true), [el, p * n, c]);
    mine.requiresGrad = xin.requiresGrad;
    const y = experts.forward(mine, { rows: chunkRows(ex, a, b), segs: p }); // (E_l, p * n, C)
    saved.push({ mine, y });
    const send = regroup(y.data, p, el, n, c, false), recv = alloc(send.length);
    back.push({ recv, done: ex.engine.allToAll(send, recv) });
  }
  const out = alloc(e * cap * c);
  for (let k = 0; k < bounds.length; k++) {
    await back[k]!.done.wait();
    putSlots(out, back[k]!.recv, e, cap, c, ...bounds[k]!);
  }
  const { w1, w2 } = experts;
  return result('pipelinedExperts', out, [e, cap, c], [xin, w1, w2], async (g) => {
    // The same pipeline backwards: the outputs' gradients travel to the experts chunk by chunk,
    // each chunk's experts are differentiated while the next chunk travels, and the inputs'
    // gradients travel back.
    const grads = sendChunks(g.data, ex, bounds);
    const dxBack: { recv: Float32Array; done: InFlight }[] = [];
    let dw1: Tensor | null = null, dw2: Tensor | null = null;
    for (let k = 0; k < bounds.length; k++) {
      const [a, b] = bounds[k]!, n = b - a, s = saved[k]!;
      await grads[k]!.done.wait();
      const dy = new Tensor(regroup(grads[k]!.recv, p, el, n, c, true), [el, p * n, c]);
      const [dMine, g1, g2] = await gradAsync([s.y], [s.mine, w1, w2], { gradOutputs: [dy] });
      dw1 = dw1 === null ? g1! : dw1.add(g1!);
      dw2 = dw2 === null ? g2! : dw2.add(g2!);
      const send = regroup(dMine!.data, p, el, n, c, false), recv = alloc(send.length);
      dxBack.push({ recv, done: ex.engine.allToAll(send, recv) });
    }
    const dx = alloc(e * cap * c);
    for (let k = 0; k < bounds.length; k++) {
      await dxBack[k]!.done.wait();
      putSlots(dx, dxBack[k]!.recv, e, cap, c, ...bounds[k]!);
    }
    return [new Tensor(dx, xin.shape), dw1, dw2];
  });
}
