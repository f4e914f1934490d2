// Element-wise kernels: unary ops, broadcasting binary ops, affine, scalar power, fill.
// Op codes are the indices of UNARY_OPS / BINARY_OPS in src/backends/backend.ts.
import { exp4, sigmoid4, tanh4, gelu4, geluGrad4, siluGrad4, lane0 } from './simd-math';

// @ts-ignore: decorator
@inline function perLane(x: v128, op: i32): v128 {
  let r = f32x4.splat(0);
  for (let l = 0; l < 4; l++) {
    const v = f32x4.extract_lane(x, 0);
    const y: f32 = op == 2 ? Mathf.log(v) : op == 13 ? Mathf.sin(v) : Mathf.cos(v);
    r = f32x4.replace_lane(r, 0, y);
    x = v128.shuffle<f32>(x, x, 1, 2, 3, 0);
    r = v128.shuffle<f32>(r, r, 1, 2, 3, 0);
  }
  return r;
}

// @ts-ignore: decorator
@inline function uop(op: i32, x: v128): v128 {
  const one = f32x4.splat(1), zero = f32x4.splat(0);
  switch (op) {
    case 0: return f32x4.neg(x);
    case 1: return exp4(x);
    case 3: return f32x4.sqrt(x);
    case 4: return f32x4.div(one, f32x4.sqrt(x));
    case 5: return tanh4(x);
    case 6: return sigmoid4(x);
    case 7: return v128.and(x, f32x4.gt(x, zero));
    case 8: return gelu4(x);
    case 9: return f32x4.mul(x, sigmoid4(x));
    case 10: return f32x4.abs(x);
    case 11: return f32x4.mul(x, x);
    case 12: return f32x4.div(one, x);
    case 15: return v128.and(one, f32x4.gt(x, zero));
    default: return perLane(x, op);
  }
}

// @ts-ignore: decorator
@inline function unaryLoop(op: i32, x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i * 4;
    v128.store(out + o, uop(op, v128.load(x + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i * 4;
    store<f32>(out + o, lane0(uop(op, f32x4.splat(load<f32>(x + o)))));
  }
}

export function unary(op: i32, x: usize, out: usize, n: i32): void {
  switch (op) {
    case 0: unaryLoop(0, x, out, n); break;
    case 1: unaryLoop(1, x, out, n); break;
    case 2: unaryLoop(2, x, out, n); break;
    case 3: unaryLoop(3, x, out, n); break;
    case 4: unaryLoop(4, x, out, n); break;
    case 5: unaryLoop(5, x, out, n); break;
    case 6: unaryLoop(6, x, out, n); break;
    case 7: unaryLoop(7, x, out, n); break;
    case 8: unaryLoop(8, x, out, n); break;
    case 9: unaryLoop(9, x, out, n); break;
    case 10: unaryLoop(10, x, out, n); break;
    case 11: unaryLoop(11, x, out, n); break;
    case 12: unaryLoop(12, x, out, n); break;
    case 13: unaryLoop(13, x, out, n); break;
    case 14: unaryLoop(14, x, out, n); break;
    default: unaryLoop(15, x, out, n); break;
  }
}

// @ts-ignore: decorator
@inline function powLanes(a: v128, b: v128): v128 {
  let r = f32x4.splat(0);
  for (let l = 0; l < 4; l++) {
    r = f32x4.replace_lane(r, 0, Mathf.pow(f32x4.extract_lane(a, 0), f32x4.extract_lane(b, 0)));
    a = v128.shuffle<f32>(a, a, 1, 2, 3, 0);
    b = v128.shuffle<f32>(b, b, 1, 2, 3, 0);
    r = v128.shuffle<f32>(r, r, 1, 2, 3, 0);
  }
  return r;
}

// @ts-ignore: decorator
@inline function bop(op: i32, a: v128, b: v128): v128 {
  const one = f32x4.splat(1), zero = f32x4.splat(0);
  switch (op) {
    case 0: return f32x4.add(a, b);
    case 1: return f32x4.sub(a, b);
    case 2: return f32x4.mul(a, b);
    case 3: return f32x4.div(a, b);
    case 4: return v128.bitselect(a, b, f32x4.ge(a, b));
    case 5: return v128.bitselect(a, b, f32x4.le(a, b));
    case 6: return powLanes(a, b);
    case 7: return v128.and(one, f32x4.gt(a, b));
    case 8: return v128.and(one, f32x4.lt(a, b));
    case 9: return v128.and(one, f32x4.eq(a, b));
    case 10: return v128.and(b, f32x4.gt(a, zero));
    case 11: return f32x4.mul(b, geluGrad4(a));
    case 12: return f32x4.mul(b, siluGrad4(a));
    case 13: return f32x4.mul(b, f32x4.sub(one, f32x4.mul(a, a)));
    default: return f32x4.mul(f32x4.mul(b, a), f32x4.sub(one, a));
  }
}

/** One output row of n: out[j] = f(a[j*sa], b[j*sb]); vector paths for strides (1,1), (1,0), (0,1). */
// @ts-ignore: decorator
@inline function binaryRow(op: i32, a: usize, sa: i32, b: usize, sb: i32, out: usize, n: i32): void {
  let j = 0;
  if (sa == 1 && sb == 1) {
    for (; j + 4 <= n; j += 4) {
      const o = <usize>j * 4;
      v128.store(out + o, bop(op, v128.load(a + o), v128.load(b + o)));
    }
  } else if (sa == 1 && sb == 0) {
    const vb = v128.load32_splat(b);
    for (; j + 4 <= n; j += 4) {
      const o = <usize>j * 4;
      v128.store(out + o, bop(op, v128.load(a + o), vb));
    }
  } else if (sa == 0 && sb == 1) {
    const va = v128.load32_splat(a);
    for (; j + 4 <= n; j += 4) {
      const o = <usize>j * 4;
      v128.store(out + o, bop(op, va, v128.load(b + o)));
    }
  }
  for (; j < n; j++) {
    const av = load<f32>(a + <usize>j * sa * 4), bv = load<f32>(b + <usize>j * sb * 4);
    store<f32>(out + <usize>j * 4, lane0(bop(op, f32x4.splat(av), f32x4.splat(bv))));
  }
}

function binaryRowOp(op: i32, a: usize, sa: i32, b: usize, sb: i32, out: usize, n: i32): void {
  switch (op) {
    case 0: binaryRow(0, a, sa, b, sb, out, n); break;
    case 1: binaryRow(1, a, sa, b, sb, out, n); break;
    case 2: binaryRow(2, a, sa, b, sb, out, n); break;
    case 3: binaryRow(3, a, sa, b, sb, out, n); break;
    case 4: binaryRow(4, a, sa, b, sb, out, n); break;
    case 5: binaryRow(5, a, sa, b, sb, out, n); break;
    case 6: binaryRow(6, a, sa, b, sb, out, n); break;
    case 7: binaryRow(7, a, sa, b, sb, out, n); break;
    case 8: binaryRow(8, a, sa, b, sb, out, n); break;
    case 9: binaryRow(9, a, sa, b, sb, out, n); break;
    case 10: binaryRow(10, a, sa, b, sb, out, n); break;
    case 11: binaryRow(11, a, sa, b, sb, out, n); break;
    case 12: binaryRow(12, a, sa, b, sb, out, n); break;
    case 13: binaryRow(13, a, sa, b, sb, out, n); break;
    default: binaryRow(14, a, sa, b, sb, out, n); break;
  }
}

/**
 * Broadcasting binary op. meta (i32): [nd, shape[nd], aStrides[nd], bStrides[nd], scratch[nd]],
 * 1 <= nd <= 6, already collapsed by the caller; the last axis is the row the vector loop runs over.
 */
export function binary(op: i32, a: usize, b: usize, out: usize, meta: usize): void {
  const nd = load<i32>(meta);
  const shape = meta + 4, as = shape + <usize>nd * 4, bs = as + <usize>nd * 4;
  const last = nd - 1;
  const n = load<i32>(shape + <usize>last * 4);
  const sa = load<i32>(as + <usize>last * 4), sb = load<i32>(bs + <usize>last * 4);
  let rows = 1;
  for (let d = 0; d < last; d++) rows *= load<i32>(shape + <usize>d * 4);
  if (n == 0) return;
  // Odometer over the outer axes (at most 5), offsets in elements.
  const idx = bs + <usize>nd * 4;
  for (let d = 0; d < nd; d++) store<i32>(idx + <usize>d * 4, 0);
  let ia = 0, ib = 0;
  for (let r = 0; r < rows; r++) {
    binaryRowOp(op, a + <usize>ia * 4, sa, b + <usize>ib * 4, sb, out + <usize>r * n * 4, n);
    for (let d = last - 1; d >= 0; d--) {
      const p = idx + <usize>d * 4;
      const v = load<i32>(p) + 1;
      const ad = load<i32>(as + <usize>d * 4), bd = load<i32>(bs + <usize>d * 4);
      ia += ad; ib += bd;
      if (v < load<i32>(shape + <usize>d * 4)) { store<i32>(p, v); break; }
      ia -= ad * v; ib -= bd * v;
      store<i32>(p, 0);
    }
  }
}

/** out = alpha * x + beta. */
export function affine(x: usize, alpha: f32, beta: f32, out: usize, n: i32): void {
  const va = f32x4.splat(alpha), vb = f32x4.splat(beta);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i * 4;
    v128.store(out + o, f32x4.add(f32x4.mul(va, v128.load(x + o)), vb));
  }
  for (; i < n; i++) store<f32>(out + <usize>i * 4, alpha * load<f32>(x + <usize>i * 4) + beta);
}

/** out = x ** p with vector fast paths for p in {1, 2, 3, 0.5, -0.5, -1}. */
export function powScalar(x: usize, p: f32, out: usize, n: i32): void {
  let i = 0;
  const one = f32x4.splat(1);
  if (p == 1 || p == 2 || p == 3 || p == 0.5 || p == -0.5 || p == -1) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i * 4;
      const v = v128.load(x + o);
      let y: v128;
      if (p == 1) y = v;
      else if (p == 2) y = f32x4.mul(v, v);
      else if (p == 3) y = f32x4.mul(f32x4.mul(v, v), v);
      else if (p == 0.5) y = f32x4.sqrt(v);
      else if (p == -0.5) y = f32x4.div(one, f32x4.sqrt(v));
      else y = f32x4.div(one, v);
      v128.store(out + o, y);
    }
  }
  for (; i < n; i++) store<f32>(out + <usize>i * 4, Mathf.pow(load<f32>(x + <usize>i * 4), p));
}

export function fill(out: usize, value: f32, n: i32): void {
  const v = f32x4.splat(value);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(out + <usize>i * 4, v);
  for (; i < n; i++) store<f32>(out + <usize>i * 4, value);
}
