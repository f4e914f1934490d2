// Row-wise kernels over (rows, n): reductions, softmax family, fused cross-entropy, RMSNorm.
import { exp4, hsum, hmax, lane0 } from './simd-math';

function rowMax(x: usize, n: i32): f32 {
  let m = f32x4.splat(-Infinity);
  let j = 0;
  for (; j + 4 <= n; j += 4) m = f32x4.pmax(m, v128.load(x + <usize>j * 4));   // maxps; a NaN row ends NaN via exp anyway
  let s = hmax(m);
  for (; j < n; j++) s = max(s, load<f32>(x + <usize>j * 4));
  return s;
}

function rowSum(x: usize, n: i32): f32 {
  let a = f32x4.splat(0), b = f32x4.splat(0);
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    a = f32x4.add(a, v128.load(x + <usize>j * 4));
    b = f32x4.add(b, v128.load(x + <usize>j * 4, 16));
  }
  let s = hsum(f32x4.add(a, b));
  for (; j < n; j++) s += load<f32>(x + <usize>j * 4);
  return s;
}

function rowDot(x: usize, y: usize, n: i32): f32 {
  let a = f32x4.splat(0);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const o = <usize>j * 4;
    a = f32x4.add(a, f32x4.mul(v128.load(x + o), v128.load(y + o)));
  }
  let s = hsum(a);
  for (; j < n; j++) s += load<f32>(x + <usize>j * 4) * load<f32>(y + <usize>j * 4);
  return s;
}

/** out[j] = exp(x[j] - shift); returns the sum. */
function expShiftSum(x: usize, shift: f32, out: usize, n: i32): f32 {
  const vs = f32x4.splat(shift);
  let acc = f32x4.splat(0);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const o = <usize>j * 4;
    const e = exp4(f32x4.sub(v128.load(x + o), vs));
    v128.store(out + o, e);
    acc = f32x4.add(acc, e);
  }
  let s = hsum(acc);
  for (; j < n; j++) {
    const e = lane0(exp4(f32x4.splat(load<f32>(x + <usize>j * 4) - shift)));
    store<f32>(out + <usize>j * 4, e);
    s += e;
  }
  return s;
}

/** out[j] = x[j] * alpha + beta. */
function rowAffine(x: usize, alpha: f32, beta: f32, out: usize, n: i32): void {
  const va = f32x4.splat(alpha), vb = f32x4.splat(beta);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const o = <usize>j * 4;
    v128.store(out + o, f32x4.add(f32x4.mul(v128.load(x + o), va), vb));
  }
  for (; j < n; j++) store<f32>(out + <usize>j * 4, load<f32>(x + <usize>j * 4) * alpha + beta);
}

/** View x as (outer, n, inner) and reduce the middle axis (op 0 sum, 1 max) into out (outer, inner). */
export function reduce(op: i32, x: usize, outer: i32, n: i32, inner: i32, out: usize): void {
  if (inner == 1) {
    for (let o = 0; o < outer; o++) {
      const row = x + <usize>o * n * 4;
      store<f32>(out + <usize>o * 4, op == 0 ? rowSum(row, n) : rowMax(row, n));
    }
    return;
  }
  for (let o = 0; o < outer; o++) {
    const dst = out + <usize>o * inner * 4;
    const base = x + <usize>o * n * inner * 4;
    if (n == 0) { rowAffine(dst, 0, op == 0 ? 0 : -Infinity, dst, inner); continue; }
    memory.copy(dst, base, <usize>inner * 4);
    for (let j = 1; j < n; j++) {
      const src = base + <usize>j * inner * 4;
      let i = 0;
      for (; i + 4 <= inner; i += 4) {
        const o4 = <usize>i * 4;
        const s = v128.load(src + o4), d = v128.load(dst + o4);
        v128.store(dst + o4, op == 0 ? f32x4.add(d, s) : v128.bitselect(s, d, f32x4.gt(s, d)));
      }
      for (; i < inner; i++) {
        const s = load<f32>(src + <usize>i * 4), d = load<f32>(dst + <usize>i * 4);
        store<f32>(dst + <usize>i * 4, op == 0 ? d + s : s > d ? s : d);
      }
    }
  }
}

/** Sum of squares accumulated in float64 (two f64x2 lanes pairs). */
export function sumSquares(x: usize, n: i32): f64 {
  let a = f64x2.splat(0), b = f64x2.splat(0);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const v = v128.load(x + <usize>j * 4);
    const lo = f64x2.promote_low_f32x4(v);
    const hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
    a = f64x2.add(a, f64x2.mul(lo, lo));
    b = f64x2.add(b, f64x2.mul(hi, hi));
  }
  const s2 = f64x2.add(a, b);
  let s = f64x2.extract_lane(s2, 0) + f64x2.extract_lane(s2, 1);
  for (; j < n; j++) {
    const v = <f64>load<f32>(x + <usize>j * 4);
    s += v * v;
  }
  return s;
}

/** out = softmax(x) over one row of n. out may be x. */
function softmaxRow(x: usize, n: i32, out: usize): void {
  const s = expShiftSum(x, rowMax(x, n), out, n);
  rowAffine(out, 1 / s, 0, out, n);
}

export function softmax(x: usize, rows: i32, n: i32, out: usize): void {
  for (let r = 0; r < rows; r++) softmaxRow(x + <usize>r * n * 4, n, out + <usize>r * n * 4);
}

export function logSoftmax(x: usize, rows: i32, n: i32, out: usize): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * n * 4;
    const mx = rowMax(x + o, n);
    // exp values are only summed: write them to out, then overwrite with x - lse.
    const s = expShiftSum(x + o, mx, out + o, n);
    rowAffine(x + o, 1, -(mx + Mathf.log(s)), out + o, n);
  }
}

/** dx[j] = scale * y[j] * (dy[j] - sum(dy * y)) over one row of n. dx may be dy. */
function softmaxBackwardRow(y: usize, dy: usize, n: i32, scale: f32, dx: usize): void {
  const d = rowDot(dy, y, n);
  const dot = f32x4.splat(d), vs = f32x4.splat(scale);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const p = <usize>j * 4;
    v128.store(dx + p, f32x4.mul(f32x4.mul(v128.load(y + p), vs), f32x4.sub(v128.load(dy + p), dot)));
  }
  for (; j < n; j++) {
    const p = <usize>j * 4;
    store<f32>(dx + p, load<f32>(y + p) * scale * (load<f32>(dy + p) - d));
  }
}

/** dx = y * (dy - sum(dy * y)). */
export function softmaxBackward(y: usize, dy: usize, rows: i32, n: i32, dx: usize): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * n * 4;
    softmaxBackwardRow(y + o, dy + o, n, 1, dx + o);
  }
}

/** Row r (query position i = r mod t) sees keys 0..i; the rest of its row is 0. out may be x. */
export function causalSoftmax(x: usize, rows: i32, t: i32, out: usize): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * t * 4, len = (r % t) + 1;
    softmaxRow(x + o, len, out + o);
    memory.fill(out + o + <usize>len * 4, 0, <usize>(t - len) * 4);
  }
}

/** dx = scale * y * (dy - sum(dy * y)) over keys 0..i of row r (i = r mod t), 0 beyond. dx may be dy. */
export function causalSoftmaxBackward(y: usize, dy: usize, rows: i32, t: i32, scale: f32, dx: usize): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * t * 4, len = (r % t) + 1;
    softmaxBackwardRow(y + o, dy + o, len, scale, dx + o);
    memory.fill(dx + o + <usize>len * 4, 0, <usize>(t - len) * 4);
  }
}

/** Rotary embedding of the q and k blocks of qkv rows (H, 3, D); see Backend.rope. out may be x. */
export function rope(x: usize, rows: i32, t: i32, start: i32, heads: i32, d: i32, cosT: usize, sinT: usize,
  inverse: bool, out: usize): void {
  const half = d >> 1;
  const neg = inverse ? f32x4.splat(-1) : f32x4.splat(1);
  for (let r = 0; r < rows; r++) {
    const tab = <usize>(start + r % t) * half * 4;
    for (let hh = 0; hh < heads; hh++) {
      for (let part = 0; part < 3; part++) {
        const o = (<usize>r * heads * 3 * d + <usize>(hh * 3 + part) * d) * 4;
        if (part == 2) { memory.copy(out + o, x + o, <usize>d * 4); continue; }
        let i = 0;
        for (; i + 4 <= half; i += 4) {
          const io = <usize>i * 4;
          const c = v128.load(cosT + tab + io), s = f32x4.mul(v128.load(sinT + tab + io), neg);
          const a = v128.load(x + o + io), b = v128.load(x + o + <usize>half * 4 + io);
          v128.store(out + o + io, f32x4.sub(f32x4.mul(a, c), f32x4.mul(b, s)));
          v128.store(out + o + <usize>half * 4 + io, f32x4.add(f32x4.mul(b, c), f32x4.mul(a, s)));
        }
        for (; i < half; i++) {
          const io = <usize>i * 4;
          const c = load<f32>(cosT + tab + io), s = load<f32>(sinT + tab + io) * (inverse ? -1 : 1);
          const a = load<f32>(x + o + io), b = load<f32>(x + o + <usize>half * 4 + io);
          store<f32>(out + o + io, a * c - b * s);
          store<f32>(out + o + <usize>half * 4 + io, b * c + a * s);
        }
      }
    }
  }
}

/** dx = dy - exp(y) * sum(dy). */
export function logSoftmaxBackward(y: usize, dy: usize, rows: i32, n: i32, dx: usize): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * n * 4;
    const s = f32x4.splat(rowSum(dy + o, n));
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const p = o + <usize>j * 4;
      v128.store(dx + p, f32x4.sub(v128.load(dy + p), f32x4.mul(exp4(v128.load(y + p)), s)));
    }
    for (; j < n; j++) {
      const p = o + <usize>j * 4;
      store<f32>(dx + p, load<f32>(dy + p) - lane0(exp4(f32x4.splat(load<f32>(y + p)))) * f32x4.extract_lane(s, 0));
    }
  }
}

/** probs = softmax(logits); loss[r] = lse - logits[t] (0 where t < 0). targets: i32. */
export function crossEntropyForward(logits: usize, targets: usize, rows: i32, n: i32, loss: usize, probs: usize): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * n * 4;
    const mx = rowMax(logits + o, n);
    const s = expShiftSum(logits + o, mx, probs + o, n);
    rowAffine(probs + o, 1 / s, 0, probs + o, n);
    const t = load<i32>(targets + <usize>r * 4);
    store<f32>(loss + <usize>r * 4, t < 0 ? 0 : mx + Mathf.log(s) - load<f32>(logits + o + <usize>t * 4));
  }
}

/** dlogits = scale * (probs - onehot(t)); zero rows where t < 0. */
export function crossEntropyBackward(probs: usize, targets: usize, rows: i32, n: i32, scale: f32, dlogits: usize): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * n * 4;
    const t = load<i32>(targets + <usize>r * 4);
    if (t < 0) { rowAffine(dlogits + o, 0, 0, dlogits + o, n); continue; }
    rowAffine(probs + o, scale, 0, dlogits + o, n);
    const p = dlogits + o + <usize>t * 4;
    store<f32>(p, scale * (load<f32>(probs + o + <usize>t * 4) - 1));
  }
}

/** y = x * rstd * w, rstd = (mean(x^2) + eps)^-1/2 (Zhang & Sennrich 2019, RMSNorm). */
export function rmsnormForward(x: usize, w: usize, rows: i32, n: i32, eps: f32, y: usize, rstd: usize): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * n * 4;
    const rs: f32 = 1 / Mathf.sqrt(rowDot(x + o, x + o, n) / <f32>n + eps);
    store<f32>(rstd + <usize>r * 4, rs);
    const vr = f32x4.splat(rs);
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const p = <usize>j * 4;
      v128.store(y + o + p, f32x4.mul(f32x4.mul(v128.load(x + o + p), vr), v128.load(w + p)));
    }
    for (; j < n; j++) {
      const p = <usize>j * 4;
      store<f32>(y + o + p, load<f32>(x + o + p) * rs * load<f32>(w + p));
    }
  }
}

/** dx = dy w rstd - x rstd^3 (sum dy w x) / n; dw += dy x rstd (accumulates). */
export function rmsnormBackward(x: usize, w: usize, rstd: usize, dy: usize, rows: i32, n: i32, dx: usize, dw: usize): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * n * 4;
    const rs = load<f32>(rstd + <usize>r * 4);
    const vr = f32x4.splat(rs);
    let acc = f32x4.splat(0);
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const p = <usize>j * 4;
      const g = v128.load(dy + o + p), xv = v128.load(x + o + p);
      acc = f32x4.add(acc, f32x4.mul(f32x4.mul(g, v128.load(w + p)), xv));
      v128.store(dw + p, f32x4.add(v128.load(dw + p), f32x4.mul(f32x4.mul(g, xv), vr)));
    }
    let dot = hsum(acc);
    for (; j < n; j++) {
      const p = <usize>j * 4;
      const g = load<f32>(dy + o + p), xv = load<f32>(x + o + p);
      dot += g * load<f32>(w + p) * xv;
      store<f32>(dw + p, load<f32>(dw + p) + g * xv * rs);
    }
    const c: f32 = (rs * rs * rs * dot) / <f32>n;
    const vc = f32x4.splat(c);
    j = 0;
    for (; j + 4 <= n; j += 4) {
      const p = <usize>j * 4;
      const v = f32x4.sub(f32x4.mul(f32x4.mul(v128.load(dy + o + p), v128.load(w + p)), vr), f32x4.mul(vc, v128.load(x + o + p)));
      v128.store(dx + o + p, v);
    }
    for (; j < n; j++) {
      const p = <usize>j * 4;
      store<f32>(dx + o + p, load<f32>(dy + o + p) * load<f32>(w + p) * rs - c * load<f32>(x + o + p));
    }
  }
}
