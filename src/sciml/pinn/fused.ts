// Fused Float64 jets for the tanh MLP (order <= 2 in x, first order in t) with a hand-written
// reverse pass: the fast path of physics-informed training, checked against the engine's jets.
// Activations are stored feature-major, (H, N), so every inner loop runs over the N points.
//
// The engine's js backend spends ~3 s per Burgers loss evaluation at 2,000 collocation points
// (mostly generic strided GEMM on (N, 20) x (20, 20) blocks); this file does the same arithmetic in
// tight loops over contiguous Float64Arrays. Forward per hidden layer (y = tanh z, t1 = 1 - y^2,
// t2 = -2 y t1): h = y, h_t = t1 z_t, h_x = t1 z_x, h_xx = t2 z_x^2 + t1 z_xx. Reverse, from the
// gradients (g, g_t, g_x, g_xx) of (h, h_t, h_x, h_xx):
//   G_t2 = g_xx z_x^2;  G_t1 = g_t z_t + g_x z_x + g_xx z_xx - 2 y G_t2;  G_y = g - 2 t1 G_t2 - 2 y G_t1
//   dz = t1 G_y,  dz_t = t1 g_t,  dz_x = t1 g_x + 2 t2 z_x g_xx,  dz_xx = t1 g_xx.
import type { InputScale } from './mlp.js';

/** Channels of one layer's values: value, t-derivative, x-derivatives (null when not carried). */
interface Channels { v: Float64Array; t: Float64Array | null; x: Float64Array | null; xx: Float64Array | null }

interface LayerCache { input: Channels; y?: Float64Array; t1?: Float64Array; t2?: Float64Array; pre?: Channels }

export interface FusedJet { u: Float64Array; ut: Float64Array | null; ux: Float64Array | null; uxx: Float64Array | null; cache: LayerCache[]; n: number; xs: Float64Array; ts: Float64Array }

/** Forward pass for points (x_i, t_i); order 0..2 x-derivatives, and u_t when wantT. */
export function fusedForward(widths: number[], p: Float64Array, x: Float64Array, t: Float64Array, scale: InputScale, order: number, wantT: boolean): FusedJet {
  const n = x.length, L = widths.length - 1;
  const sx = 2 / (scale.hi[0]! - scale.lo[0]!), st = 2 / (scale.hi[1]! - scale.lo[1]!);
  const xs = new Float64Array(n), ts = new Float64Array(n);
  for (let i = 0; i < n; i++) { xs[i] = sx * (x[i]! - scale.lo[0]!) - 1; ts[i] = st * (t[i]! - scale.lo[1]!) - 1; }
  let o = 0;
  const cache: LayerCache[] = [];
  // Layer 0: z = xs W[0,:] + ts W[1,:] + b; z_x = sx W[0,:], z_t = st W[1,:] (constant over points).
  const h0 = widths[1]!;
  const w0 = p.subarray(o, o + 2 * h0); o += 2 * h0;
  const b0 = p.subarray(o, o + h0); o += h0;
  let z: Channels = { v: new Float64Array(n * h0), t: wantT ? new Float64Array(n * h0) : null, x: order >= 1 ? new Float64Array(n * h0) : null, xx: order >= 2 ? new Float64Array(n * h0) : null };
  for (let j = 0; j < h0; j++) {
    const wx = w0[j]!, wt = w0[h0 + j]!, bj = b0[j]!, o0 = j * n;
    for (let i = 0; i < n; i++) z.v[o0 + i] = xs[i]! * wx + ts[i]! * wt + bj;
    if (z.t !== null) z.t.fill(st * wt, o0, o0 + n);
    if (z.x !== null) z.x.fill(sx * wx, o0, o0 + n);
  }
  cache.push({ input: { v: xs, t: null, x: null, xx: null } });
  for (let l = 1; l < L; l++) {
    const hin = widths[l]!, hout = widths[l + 1]!;
    const m = n * hin;
    const y = new Float64Array(m), t1 = new Float64Array(m), t2 = order >= 2 ? new Float64Array(m) : null;
    const h: Channels = { v: y, t: z.t === null ? null : new Float64Array(m), x: z.x === null ? null : new Float64Array(m), xx: z.xx === null ? null : new Float64Array(m) };
    for (let k = 0; k < m; k++) {
      const yy = Math.tanh(z.v[k]!), d1 = 1 - yy * yy;
      y[k] = yy; t1[k] = d1;
      if (h.t !== null) h.t[k] = d1 * z.t![k]!;
      if (h.x !== null) h.x[k] = d1 * z.x![k]!;
      if (h.xx !== null) { const d2 = -2 * yy * d1; t2![k] = d2; h.xx[k] = d2 * z.x![k]! ** 2 + d1 * z.xx![k]!; }
    }
    const w = p.subarray(o, o + hin * hout); o += hin * hout;
    const b = p.subarray(o, o + hout); o += hout;
    const next: Channels = { v: matmul(y, n, hin, w, hout, b), t: h.t && matmul(h.t, n, hin, w, hout, null), x: h.x && matmul(h.x, n, hin, w, hout, null), xx: h.xx && matmul(h.xx, n, hin, w, hout, null) };
    cache.push({ input: h, y, t1, ...(t2 === null ? {} : { t2 }), pre: z });
    z = next;
  }
  return { u: z.v, ut: z.t, ux: z.x, uxx: z.xx, cache, n, xs, ts };
}

/** Reverse pass: parameter gradient (accumulated into grad) from d(loss)/d(u, u_t, u_x, u_xx). */
export function fusedBackward(widths: number[], p: Float64Array, jet: FusedJet, scale: InputScale,
  gu: Float64Array, gut: Float64Array | null, gux: Float64Array | null, guxx: Float64Array | null, grad: Float64Array): void {
  const n = jet.n, L = widths.length - 1;
  const sx = 2 / (scale.hi[0]! - scale.lo[0]!), st = 2 / (scale.hi[1]! - scale.lo[1]!);
  const offs: number[] = [];
  let o = 0;
  for (let l = 0; l < L; l++) { offs.push(o); o += (widths[l]! + 1) * widths[l + 1]!; }
  let g: Channels = { v: gu, t: gut, x: gux, xx: guxx };
  for (let l = L - 1; l >= 1; l--) {
    const hin = widths[l]!, hout = widths[l + 1]!, c = jet.cache[l]!, inp = c.input;
    const w = p.subarray(offs[l]!, offs[l]! + hin * hout);
    const dw = grad.subarray(offs[l]!, offs[l]! + hin * hout), db = grad.subarray(offs[l]! + hin * hout, offs[l]! + hin * hout + hout);
    accumulateAtB(inp.v, g.v, n, hin, hout, dw);
    if (g.t !== null && inp.t !== null) accumulateAtB(inp.t, g.t, n, hin, hout, dw);
    if (g.x !== null && inp.x !== null) accumulateAtB(inp.x, g.x, n, hin, hout, dw);
    if (g.xx !== null && inp.xx !== null) accumulateAtB(inp.xx, g.xx, n, hin, hout, dw);
    for (let j = 0; j < hout; j++) { let sb = 0; for (let i = 0; i < n; i++) sb += g.v[j * n + i]!; db[j] = db[j]! + sb; }
    // Gradients of this layer's inputs (the tanh outputs of the layer below).
    const gh = matmulT(g.v, n, hout, w, hin);
    const ght = g.t !== null && inp.t !== null ? matmulT(g.t, n, hout, w, hin) : null;
    const ghx = g.x !== null && inp.x !== null ? matmulT(g.x, n, hout, w, hin) : null;
    const ghxx = g.xx !== null && inp.xx !== null ? matmulT(g.xx, n, hout, w, hin) : null;
    const y = c.y!, t1 = c.t1!, t2 = c.t2, z = c.pre!;
    const m = n * hin;
    const gz: Channels = { v: new Float64Array(m), t: ght && new Float64Array(m), x: ghx && new Float64Array(m), xx: ghxx && new Float64Array(m) };
    for (let k = 0; k < m; k++) {
      const yy = y[k]!, d1 = t1[k]!;
      let gt2 = 0, gt1 = 0;
      if (ghxx !== null) { const zx = z.x![k]!; gt2 = ghxx[k]! * zx * zx; gt1 += ghxx[k]! * z.xx![k]!; }
      if (ght !== null) gt1 += ght[k]! * z.t![k]!;
      if (ghx !== null) gt1 += ghx[k]! * z.x![k]!;
      gt1 += -2 * yy * gt2;
      const gy = gh[k]! - 2 * d1 * gt2 - 2 * yy * gt1;
      gz.v[k] = d1 * gy;
      if (gz.t !== null) gz.t[k] = d1 * ght![k]!;
      if (gz.x !== null) gz.x[k] = d1 * ghx![k]! + (ghxx !== null ? 2 * t2![k]! * z.x![k]! * ghxx[k]! : 0);
      if (gz.xx !== null) gz.xx[k] = d1 * ghxx![k]!;
    }
    g = gz;
  }
  // Layer 0.
  const h0 = widths[1]!;
  const dw0 = grad.subarray(0, 2 * h0), db0 = grad.subarray(2 * h0, 3 * h0);
  for (let j = 0; j < h0; j++) {
    let a = 0, b = 0, c = 0, ax = 0, bt = 0;
    const o0 = j * n;
    for (let i = 0; i < n; i++) { const gv = g.v[o0 + i]!; a += gv * jet.xs[i]!; b += gv * jet.ts[i]!; c += gv; }
    if (g.x !== null) for (let i = 0; i < n; i++) ax += g.x[o0 + i]!;
    if (g.t !== null) for (let i = 0; i < n; i++) bt += g.t[o0 + i]!;
    dw0[j] = dw0[j]! + a + sx * ax; dw0[h0 + j] = dw0[h0 + j]! + b + st * bt; db0[j] = db0[j]! + c;
  }
}

/** Feature-major layer: out (m, n) = W^T a [+ b], with a (k, n) and W (k, m) row-major. */
function matmul(a: Float64Array, n: number, k: number, w: Float64Array, m: number, bias: Float64Array | null): Float64Array {
  const out = new Float64Array(n * m);
  for (let j = 0; j < m; j++) {
    const oj = j * n;
    if (bias !== null) out.fill(bias[j]!, oj, oj + n);
    for (let q = 0; q < k; q++) {
      const wv = w[q * m + j]!, aq = q * n;
      for (let i = 0; i < n; i++) out[oj + i] = out[oj + i]! + wv * a[aq + i]!;
    }
  }
  return out;
}

/** Feature-major: out (k, n) = W g, with g (m, n) and W (k, m). */
function matmulT(g: Float64Array, n: number, m: number, w: Float64Array, k: number): Float64Array {
  const out = new Float64Array(n * k);
  for (let q = 0; q < k; q++) {
    const oq = q * n;
    for (let j = 0; j < m; j++) {
      const wv = w[q * m + j]!, gj = j * n;
      for (let i = 0; i < n; i++) out[oq + i] = out[oq + i]! + wv * g[gj + i]!;
    }
  }
  return out;
}

/** dw (k, m) += a g^T, with a (k, n) and g (m, n) feature-major. */
function accumulateAtB(a: Float64Array, g: Float64Array, n: number, k: number, m: number, dw: Float64Array): void {
  for (let q = 0; q < k; q++) {
    const aq = q * n;
    for (let j = 0; j < m; j++) {
      const gj = j * n;
      let s = 0;
      for (let i = 0; i < n; i++) s += a[aq + i]! * g[gj + i]!;
      dw[q * m + j] = dw[q * m + j]! + s;
    }
  }
}
