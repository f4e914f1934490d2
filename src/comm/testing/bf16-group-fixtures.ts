// Rank programs for the bf16 payload wrapper: the shared conformance suite through it, and its accuracy and bytes on real-valued data.
import type { ProcessGroup } from '../process-group.js';
import { Bf16Group, WireBytes } from '../bf16-group.js';
import { main as suite } from './conformance.case.js';

/** The whole conformance suite with every payload in bf16 (its inputs, multiples of 1/4, and their sums are exact in bf16). */
export function conformance(world: ProcessGroup): Promise<string[]> {
  return suite(new Bf16Group(world, 'bf16', new WireBytes(), 0));
}

export interface Accuracy {
  /** Largest |bf16 result - float32 result| over the bound 2^-8 sum_q |x_q| + 2^-8 |sum| (at most 1 when within). */
  worstRatio: number;
  /** This rank's bf16 all-reduce result (replicas must hold the same). */
  result: number[];
  /** Wire bytes of the same collectives at bf16 over fp32: all-reduce, all-to-all. */
  allReduceRatio: number;
  allToAllRatio: number;
}

/** Rank q's real-valued input: spread over several binades, so rounding matters. */
function values(q: number, n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + q * 1.3) * 2 ** ((i % 11) - 5));
}

export async function accuracy(world: ProcessGroup): Promise<Accuracy> {
  const p = world.size, n = 6000 * p; // a multiple of 2p: no padding
  const fp32Bytes = new WireBytes(), bf16Bytes = new WireBytes();
  const exact = new Bf16Group(world, 'fp32', fp32Bytes), half = new Bf16Group(world, 'bf16', bf16Bytes);
  const want = values(world.rank, n), got = values(world.rank, n);
  await exact.allReduce(want);
  await half.allReduce(got);
  let worstRatio = 0;
  const inputs = Array.from({ length: p }, (_, q) => values(q, n));
  for (let i = 0; i < n; i++) {
    let abs = 0;
    for (const x of inputs) abs += Math.abs(x[i]!);
    const bound = 2 ** -8 * (abs + Math.abs(want[i]!)) + 1e-30;
    worstRatio = Math.max(worstRatio, Math.abs(got[i]! - want[i]!) / bound);
  }
  const allReduceRatio = bf16Bytes.sent / fp32Bytes.sent;
  fp32Bytes.reset();
  bf16Bytes.reset();
  const send = values(world.rank, n), r32 = new Float32Array(n), r16 = new Float32Array(n);
  await exact.allToAll(send, r32);
  await half.allToAll(send, r16);
  for (let i = 0; i < n; i++) {
    if (Math.abs(r16[i]! - r32[i]!) > 2 ** -8 * Math.abs(r32[i]!)) throw new Error(`allToAll element ${i}: ${r16[i]} against ${r32[i]}`);
  }
  return { worstRatio, result: Array.from(got.subarray(0, 64)), allReduceRatio, allToAllRatio: bf16Bytes.sent / fp32Bytes.sent };
}
