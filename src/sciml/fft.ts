// Complex radix-2 FFT on split real/imaginary Float64Arrays, in place (for the spectral solvers).

/** Precomputed twiddles and bit reversal for one power-of-two length n. */
export class Fft {
  private readonly cos: Float64Array;
  private readonly sin: Float64Array;
  private readonly rev: Uint32Array;

  constructor(readonly n: number) {
    if (n < 1 || (n & (n - 1)) !== 0) throw new Error(`FFT length must be a power of two, got ${n}`);
    this.cos = new Float64Array(n / 2);
    this.sin = new Float64Array(n / 2);
    for (let k = 0; k < n / 2; k++) {
      this.cos[k] = Math.cos((2 * Math.PI * k) / n);
      this.sin[k] = Math.sin((2 * Math.PI * k) / n);
    }
    this.rev = new Uint32Array(n);
    const bits = Math.log2(n);
    for (let i = 0; i < n; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.rev[i] = r;
    }
  }

  /** X_k = sum_j x_j exp(-2 pi i jk/n) (forward) or sum_k X_k exp(+2 pi i jk/n) / n (inverse). */
  transform(re: Float64Array, im: Float64Array, inverse = false): void {
    const n = this.n;
    for (let i = 0; i < n; i++) {
      const j = this.rev[i]!;
      if (j > i) {
        let t = re[i]!; re[i] = re[j]!; re[j] = t;
        t = im[i]!; im[i] = im[j]!; im[j] = t;
      }
    }
    const sign = inverse ? 1 : -1;
    for (let size = 2; size <= n; size *= 2) {
      const half = size / 2, step = n / size;
      for (let start = 0; start < n; start += size) {
        for (let k = 0; k < half; k++) {
          const wr = this.cos[k * step]!, wi = sign * this.sin[k * step]!;
          const a = start + k, b = a + half;
          const tr = re[b]! * wr - im[b]! * wi;
          const ti = re[b]! * wi + im[b]! * wr;
          re[b] = re[a]! - tr; im[b] = im[a]! - ti;
          re[a] = re[a]! + tr; im[a] = im[a]! + ti;
        }
      }
    }
    if (inverse) for (let i = 0; i < n; i++) { re[i] = re[i]! / n; im[i] = im[i]! / n; }
  }
}

/** Angular wavenumbers of an n-point periodic grid of length L, in FFT order: 2 pi/L * [0..n/2-1, -n/2..-1].
 * The Nyquist mode is set to 0 so odd derivatives stay real. */
export function wavenumbers(n: number, length: number): Float64Array {
  const k = new Float64Array(n);
  for (let j = 0; j < n; j++) k[j] = ((2 * Math.PI) / length) * (j < n / 2 ? j : j - n);
  k[n / 2] = 0;
  return k;
}
