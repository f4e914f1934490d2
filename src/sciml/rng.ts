// Seeded measurement noise for the PDE data sets (the generator is the engine's Rng).
import { Rng } from '../tensor/random.js';

/** Measurement noise as in PDE-FIND: u + p * std(u) * N(0, 1), element-wise, seeded. */
export function addNoise(u: Float64Array, p: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const s = std(u);
  const out = new Float64Array(u.length);
  for (let i = 0; i < u.length; i++) out[i] = u[i]! + p * s * rng.normal();
  return out;
}

/** Population standard deviation. */
export function std(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m += a[i]!;
  m /= a.length;
  let v = 0;
  for (let i = 0; i < a.length; i++) v += (a[i]! - m) ** 2;
  return Math.sqrt(v / a.length);
}
