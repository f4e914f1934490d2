// The reference backend: plain loops, written to be read. Fast backends must match it.
import type { Backend, BinaryOp, GemmArgs, ReduceOp, UnaryOp } from './backend.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

export function unaryFn(op: UnaryOp): (x: number) => number {
  switch (op) {
    case 'neg': return (x) => -x;
    case 'exp': return Math.exp;
    case 'log': return Math.log;
    case 'sqrt': return Math.sqrt;
    case 'rsqrt': return (x) => 1 / Math.sqrt(x);
    case 'tanh': return Math.tanh;
    case 'sigmoid': return (x) => 1 / (1 + Math.exp(-x));
    case 'relu': return (x) => (x > 0 ? x : 0);
    case 'gelu': return (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
    case 'silu': return (x) => x / (1 + Math.exp(-x));
    case 'abs': return Math.abs;
    case 'square': return (x) => x * x;
    case 'recip': return (x) => 1 / x;
    case 'sin': return Math.sin;
    case 'cos': return Math.cos;
    case 'step': return (x) => (x > 0 ? 1 : 0);
  }
}

/** d/dx of the tanh-approximated GELU. */
export function geluGrad(x: number): number {
  const u = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
  const t = Math.tanh(u);
  const du = SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du;
}

export function binaryFn(op: BinaryOp): (a: number, b: number) => number {
  switch (op) {
    case 'add': return (a, b) => a + b;
    case 'sub': return (a, b) => a - b;
    case 'mul': return (a, b) => a * b;
    case 'div': return (a, b) => a / b;
    case 'max': return (a, b) => (a >= b ? a : b);
    case 'min': return (a, b) => (a <= b ? a : b);
    case 'pow': return Math.pow;
    case 'gt': return (a, b) => (a > b ? 1 : 0);
    case 'lt': return (a, b) => (a < b ? 1 : 0);
    case 'eq': return (a, b) => (a === b ? 1 : 0);
    case 'relu_bwd': return (x, dy) => (x > 0 ? dy : 0);
    case 'gelu_bwd': return (x, dy) => dy * geluGrad(x);
    case 'silu_bwd': return (x, dy) => {
      const s = 1 / (1 + Math.exp(-x));
      return dy * s * (1 + x * (1 - s));
    };
    case 'tanh_bwd': return (y, dy) => dy * (1 - y * y);
    case 'sigmoid_bwd': return (y, dy) => dy * y * (1 - y);
  }
}

export class JsBackend implements Backend {
  readonly name = 'js' as const;

  alloc(n: number): Float32Array {
    return new Float32Array(n);
  }
  free(_a: Float32Array): void {}

  gemm(g: GemmArgs): void {
    const { m, n, k, alpha, beta, a, b, c, lda, ldb, ldc } = g;
    // Element (i, p) of op(A) and (p, j) of op(B), as strides into the stored matrices.
    const [ai, ap] = g.transA ? [1, lda] : [lda, 1];
    const row = new Float64Array(n);
    for (let bi = 0; bi < g.batch; bi++) {
      const oa = bi * g.strideA, ob = bi * g.strideB, oc = bi * g.strideC;
      if (g.transB) {
        // B stored (n, k): C[i, j] is the dot product of op(A)[i, :] and B[j, :].
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let s = 0;
            const bo = ob + j * ldb;
            for (let p = 0; p < k; p++) s += a[oa + i * ai + p * ap]! * b[bo + p]!;
            const ci = oc + i * ldc + j;
            c[ci] = beta === 0 ? alpha * s : alpha * s + beta * c[ci]!;
          }
        }
        continue;
      }
      for (let i = 0; i < m; i++) {
        // C[i, :] accumulates A[i, p] * B[p, :] over p (row-at-a-time keeps B's rows in order).
        row.fill(0);
        for (let p = 0; p < k; p++) {
          const av = a[oa + i * ai + p * ap]!;
          const bo = ob + p * ldb;
          for (let j = 0; j < n; j++) row[j]! += av * b[bo + j]!;
        }
        const co = oc + i * ldc;
        for (let j = 0; j < n; j++) c[co + j] = beta === 0 ? alpha * row[j]! : alpha * row[j]! + beta * c[co + j]!;
      }
    }
  }

  unary(op: UnaryOp, x: Float32Array, out: Float32Array): void {
    const f = unaryFn(op);
    for (let i = 0; i < out.length; i++) out[i] = f(x[i]!);
  }

  binary(op: BinaryOp, a: Float32Array, aStrides: readonly number[], b: Float32Array,
    bStrides: readonly number[], out: Float32Array, shape: readonly number[]): void {
    const f = binaryFn(op);
    const nd = shape.length;
    const idx = new Array<number>(nd).fill(0);
    let ia = 0, ib = 0;
    for (let o = 0; o < out.length; o++) {
      out[o] = f(a[ia]!, b[ib]!);
      // Increment the multi-index like an odometer, keeping the strided offsets in step.
      for (let d = nd - 1; d >= 0; d--) {
        idx[d]!++;
        ia += aStrides[d]!;
        ib += bStrides[d]!;
        if (idx[d]! < shape[d]!) break;
        ia -= aStrides[d]! * shape[d]!;
        ib -= bStrides[d]! * shape[d]!;
        idx[d] = 0;
      }
    }
  }

  affine(x: Float32Array, alpha: number, beta: number, out: Float32Array): void {
    for (let i = 0; i < out.length; i++) out[i] = alpha * x[i]! + beta;
  }

  powScalar(x: Float32Array, p: number, out: Float32Array): void {
    for (let i = 0; i < out.length; i++) out[i] = x[i]! ** p;
  }

  fill(out: Float32Array, value: number): void {
    out.fill(value);
  }

  reduce(op: ReduceOp, x: Float32Array, outer: number, n: number, inner: number, out: Float32Array): void {
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let acc = op === 'sum' ? 0 : -Infinity;
        for (let j = 0; j < n; j++) {
          const v = x[(o * n + j) * inner + i]!;
          acc = op === 'sum' ? acc + v : v > acc ? v : acc;
        }
        out[o * inner + i] = acc;
      }
    }
  }

  sumSquares(x: Float32Array): number {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
    return s;
  }

  softmax(x: Float32Array, rows: number, n: number, out: Float32Array): void {
    for (let r = 0; r < rows; r++) {
      const o = r * n;
      let mx = -Infinity;
      for (let j = 0; j < n; j++) mx = Math.max(mx, x[o + j]!);
      let s = 0;
      for (let j = 0; j < n; j++) {
        const e = Math.exp(x[o + j]! - mx);
        out[o + j] = e;
        s += e;
      }
      for (let j = 0; j < n; j++) out[o + j]! /= s;
    }
  }

  logSoftmax(x: Float32Array, rows: number, n: number, out: Float32Array): void {
    for (let r = 0; r < rows; r++) {
      const o = r * n;
      let mx = -Infinity;
      for (let j = 0; j < n; j++) mx = Math.max(mx, x[o + j]!);
      let s = 0;
      for (let j = 0; j < n; j++) s += Math.exp(x[o + j]! - mx);
      const lse = mx + Math.log(s);
      for (let j = 0; j < n; j++) out[o + j] = x[o + j]! - lse;
    }
  }

  softmaxBackward(y: Float32Array, dy: Float32Array, rows: number, n: number, dx: Float32Array): void {
    for (let r = 0; r < rows; r++) {
      const o = r * n;
      let dot = 0;
      for (let j = 0; j < n; j++) dot += dy[o + j]! * y[o + j]!;
      for (let j = 0; j < n; j++) dx[o + j] = y[o + j]! * (dy[o + j]! - dot);
    }
  }

  // The causal kernels are the row kernels on each row's visible prefix, zeros after it.
  causalSoftmax(x: Float32Array, rows: number, t: number, out: Float32Array): void {
    for (let r = 0; r < rows; r++) {
      const o = r * t, len = (r % t) + 1;
      this.softmax(x.subarray(o, o + len), 1, len, out.subarray(o, o + len));
      out.fill(0, o + len, o + t);
    }
  }

  causalSoftmaxBackward(y: Float32Array, dy: Float32Array, rows: number, t: number, scale: number, dx: Float32Array): void {
    for (let r = 0; r < rows; r++) {
      const o = r * t, len = (r % t) + 1, row = dx.subarray(o, o + len);
      this.softmaxBackward(y.subarray(o, o + len), dy.subarray(o, o + len), 1, len, row);
      for (let j = 0; j < len; j++) row[j]! *= scale;
      dx.fill(0, o + len, o + t);
    }
  }

  rope(x: Float32Array, rows: number, t: number, start: number, heads: number, d: number, cos: Float32Array,
    sin: Float32Array, inverse: boolean, out: Float32Array): void {
    const half = d / 2, sign = inverse ? -1 : 1;
    for (let r = 0; r < rows; r++) {
      const tab = (start + (r % t)) * half;
      for (let hh = 0; hh < heads; hh++) {
        for (let part = 0; part < 3; part++) {
          const o = r * heads * 3 * d + (hh * 3 + part) * d;
          if (part === 2) { out.set(x.subarray(o, o + d), o); continue; }
          for (let i = 0; i < half; i++) {
            const c = cos[tab + i]!, s = sign * sin[tab + i]!, a = x[o + i]!, b = x[o + half + i]!;
            out[o + i] = a * c - b * s;
            out[o + half + i] = b * c + a * s;
          }
        }
      }
    }
  }

  logSoftmaxBackward(y: Float32Array, dy: Float32Array, rows: number, n: number, dx: Float32Array): void {
    for (let r = 0; r < rows; r++) {
      const o = r * n;
      let s = 0;
      for (let j = 0; j < n; j++) s += dy[o + j]!;
      for (let j = 0; j < n; j++) dx[o + j] = dy[o + j]! - Math.exp(y[o + j]!) * s;
    }
  }

  crossEntropyForward(logits: Float32Array, targets: Int32Array, rows: number, n: number,
    loss: Float32Array, probs: Float32Array): void {
    this.softmax(logits, rows, n, probs);
    for (let r = 0; r < rows; r++) {
      const t = targets[r]!;
      if (t < 0) { loss[r] = 0; continue; }
      // log-sum-exp form keeps precision when the target's probability underflows.
      const o = r * n;
      let mx = -Infinity;
      for (let j = 0; j < n; j++) mx = Math.max(mx, logits[o + j]!);
      let s = 0;
      for (let j = 0; j < n; j++) s += Math.exp(logits[o + j]! - mx);
      loss[r] = mx + Math.log(s) - logits[o + t]!;
    }
  }

  crossEntropyBackward(probs: Float32Array, targets: Int32Array, rows: number, n: number, scale: number,
    dlogits: Float32Array): void {
    for (let r = 0; r < rows; r++) {
      const o = r * n, t = targets[r]!;
      if (t < 0) { dlogits.fill(0, o, o + n); continue; }
      for (let j = 0; j < n; j++) dlogits[o + j] = scale * (probs[o + j]! - (j === t ? 1 : 0));
    }
  }

  rmsnormForward(x: Float32Array, w: Float32Array, rows: number, n: number, eps: number,
    y: Float32Array, rstd: Float32Array): void {
    for (let r = 0; r < rows; r++) {
      const o = r * n;
      let ss = 0;
      for (let j = 0; j < n; j++) ss += x[o + j]! * x[o + j]!;
      const rs = 1 / Math.sqrt(ss / n + eps);
      rstd[r] = rs;
      for (let j = 0; j < n; j++) y[o + j] = x[o + j]! * rs * w[j]!;
    }
  }

  rmsnormBackward(x: Float32Array, w: Float32Array, rstd: Float32Array, dy: Float32Array, rows: number,
    n: number, dx: Float32Array, dw: Float32Array): void {
    // y = x * r * w with r = (mean(x^2) + eps)^-1/2; dr/dx_j = -r^3 x_j / n.
    for (let r = 0; r < rows; r++) {
      const o = r * n, rs = rstd[r]!;
      let dot = 0;
      for (let j = 0; j < n; j++) {
        dot += dy[o + j]! * w[j]! * x[o + j]!;
        dw[j]! += dy[o + j]! * x[o + j]! * rs;
      }
      const c = (rs * rs * rs * dot) / n;
      for (let j = 0; j < n; j++) dx[o + j] = dy[o + j]! * w[j]! * rs - c * x[o + j]!;
    }
  }

  gatherRows(src: Float32Array, idx: Int32Array, n: number, out: Float32Array): void {
    for (let r = 0; r < idx.length; r++) out.set(src.subarray(idx[r]! * n, idx[r]! * n + n), r * n);
  }

  scatterAddRows(dst: Float32Array, idx: Int32Array, n: number, src: Float32Array): void {
    for (let r = 0; r < idx.length; r++) {
      const od = idx[r]! * n, os = r * n;
      for (let j = 0; j < n; j++) dst[od + j]! += src[os + j]!;
    }
  }

  permute(x: Float32Array, shape: readonly number[], perm: readonly number[], out: Float32Array): void {
    const nd = shape.length;
    const inStrides = new Array<number>(nd);
    let s = 1;
    for (let d = nd - 1; d >= 0; d--) { inStrides[d] = s; s *= shape[d]!; }
    const outShape = perm.map((p) => shape[p]!);
    const strides = perm.map((p) => inStrides[p]!);
    const idx = new Array<number>(nd).fill(0);
    let ix = 0;
    for (let o = 0; o < out.length; o++) {
      out[o] = x[ix]!;
      for (let d = nd - 1; d >= 0; d--) {
        idx[d]!++;
        ix += strides[d]!;
        if (idx[d]! < outShape[d]!) break;
        ix -= strides[d]! * outShape[d]!;
        idx[d] = 0;
      }
    }
  }

  adamw(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, lr: number, b1: number,
    b2: number, eps: number, wd: number, bc1: number, bc2: number): void {
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]!;
      const mi = b1 * m[i]! + (1 - b1) * gi;
      const vi = b2 * v[i]! + (1 - b2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p[i] = p[i]! - lr * (mi / bc1 / (Math.sqrt(vi / bc2) + eps) + wd * p[i]!);
    }
  }
}
