// Seeded random numbers for reproducible data sets: xoshiro128** uniforms, Box-Muller normals.

/** A deterministic generator: the same seed gives the same stream on every machine. */
export class Rng {
  private s0: number; private s1: number; private s2: number; private s3: number;
  private spare: number | undefined;

  constructor(seed: number) {
    // splitmix32 spreads one seed over the four words of state.
    let z = seed >>> 0;
    const next = (): number => {
      z = (z + 0x9e3779b9) >>> 0;
      let r = z;
      r = Math.imul(r ^ (r >>> 16), 0x85ebca6b);
      r = Math.imul(r ^ (r >>> 13), 0xc2b2ae35);
      return (r ^ (r >>> 16)) >>> 0;
    };
    this.s0 = next(); this.s1 = next(); this.s2 = next(); this.s3 = next();
  }

  /** Uniform 32-bit unsigned integer (xoshiro128**, Blackman & Vigna 2018). */
  nextU32(): number {
    const r = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0; this.s3 ^= this.s1; this.s1 ^= this.s2; this.s0 ^= this.s3;
    this.s2 ^= t; this.s3 = rotl(this.s3, 11);
    return r;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextU32() >>> 5, lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Standard normal by the Box-Muller transform. */
  normal(): number {
    if (this.spare !== undefined) { const s = this.spare; this.spare = undefined; return s; }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Integer in [0, n). */
  int(n: number): number { return Math.floor(this.uniform() * n); }
}

function rotl(x: number, k: number): number { return ((x << k) | (x >>> (32 - k))) >>> 0; }

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
