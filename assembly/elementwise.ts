// Element-wise kernels: unary ops, fused bias + activation, broadcasting binary ops, affine, scalar power, fill.
// Op codes are the indices of UNARY_OPS / BINARY_OPS in src/backends/backend.ts.
import { exp4, sigmoid4, tanh4, gelu4, geluGrad4, siluGrad4, lane0 } from './simd-math';

// Each op is a final class with an inline method; loops are generic over the class, so every op
// gets its own loop with the op's instructions inlined (a switch inside the loop would cost as much
// as a cheap op itself). Calls go through a null instance (changetype<F>(0)): the methods use no state.

/** Applies a scalar Mathf function (0 log, 1 sin, 2 cos) to each lane: no vector form for these. */
// @ts-ignore: decorator
@inline function lanes(x: v128, fn: i32): v128 {
  let r = x;
  for (let l: u8 = 0; l < 4; l++) {
    const v = f32x4.extract_lane(x, 0);
    r = f32x4.replace_lane(v128.shuffle<f32>(r, r, 1, 2, 3, 0), 3, fn == 0 ? Mathf.log(v) : fn == 1 ? Mathf.sin(v) : Mathf.cos(v));
    x = v128.shuffle<f32>(x, x, 1, 2, 3, 0);
  }
  return r;
}

@final class Neg { @inline f(x: v128): v128 { return f32x4.neg(x); } }
@final class Exp { @inline f(x: v128): v128 { return exp4(x); } }
@final class Log { @inline f(x: v128): v128 { return lanes(x, 0); } }
@final class Sqrt { @inline f(x: v128): v128 { return f32x4.sqrt(x); } }
@final class Rsqrt { @inline f(x: v128): v128 { return f32x4.div(f32x4.splat(1), f32x4.sqrt(x)); } }
@final class Tanh { @inline f(x: v128): v128 { return tanh4(x); } }
@final class Sigmoid { @inline f(x: v128): v128 { return sigmoid4(x); } }
@final class Relu { @inline f(x: v128): v128 { return v128.and(x, f32x4.gt(x, f32x4.splat(0))); } }
@final class Gelu { @inline f(x: v128): v128 { return gelu4(x); } }
@final class Silu { @inline f(x: v128): v128 { return f32x4.mul(x, sigmoid4(x)); } }
@final class Abs { @inline f(x: v128): v128 { return f32x4.abs(x); } }
@final class Square { @inline f(x: v128): v128 { return f32x4.mul(x, x); } }
@final class Recip { @inline f(x: v128): v128 { return f32x4.div(f32x4.splat(1), x); } }
@final class Sin { @inline f(x: v128): v128 { return lanes(x, 1); } }
@final class Cos { @inline f(x: v128): v128 { return lanes(x, 2); } }
@final class Step { @inline f(x: v128): v128 { return v128.and(f32x4.splat(1), f32x4.gt(x, f32x4.splat(0))); } }

// @ts-ignore: decorator
@inline function unaryLoop<F>(x: usize, out: usize, n: i32): void {
  const fn = changetype<F>(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i * 4;
    v128.store(out + o, fn.f(v128.load(x + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i * 4;
    store<f32>(out + o, lane0(fn.f(f32x4.splat(load<f32>(x + o)))));
  }
}

export function unary(op: i32, x: usize, out: usize, n: i32): void {
  switch (op) {
    case 0: unaryLoop<Neg>(x, out, n); break;
    case 1: unaryLoop<Exp>(x, out, n); break;
    case 2: unaryLoop<Log>(x, out, n); break;
    case 3: unaryLoop<Sqrt>(x, out, n); break;
    case 4: unaryLoop<Rsqrt>(x, out, n); break;
    case 5: unaryLoop<Tanh>(x, out, n); break;
    case 6: unaryLoop<Sigmoid>(x, out, n); break;
    case 7: unaryLoop<Relu>(x, out, n); break;
    case 8: unaryLoop<Gelu>(x, out, n); break;
    case 9: unaryLoop<Silu>(x, out, n); break;
    case 10: unaryLoop<Abs>(x, out, n); break;
    case 11: unaryLoop<Square>(x, out, n); break;
    case 12: unaryLoop<Recip>(x, out, n); break;
    case 13: unaryLoop<Sin>(x, out, n); break;
    case 14: unaryLoop<Cos>(x, out, n); break;
    default: unaryLoop<Step>(x, out, n); break;
  }
}

@final class Identity { @inline f(x: v128): v128 { return x; } }

/** out[r, j] = F(x[r, j] + bias[j]): a Linear layer's bias and activation in one pass. */
// @ts-ignore: decorator
@inline function biasActLoop<F>(x: usize, bias: usize, rows: i32, n: i32, out: usize): void {
  const fn = changetype<F>(0);
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * n * 4, orow = out + <usize>r * n * 4;
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const o = <usize>j * 4;
      v128.store(orow + o, fn.f(f32x4.add(v128.load(xr + o), v128.load(bias + o))));
    }
    for (; j < n; j++) {
      const o = <usize>j * 4;
      store<f32>(orow + o, lane0(fn.f(f32x4.splat(load<f32>(xr + o) + load<f32>(bias + o)))));
    }
  }
}

/** act: a UNARY_OPS code among tanh 5, sigmoid 6, relu 7, gelu 8, silu 9; anything else is the identity. */
export function biasActivation(act: i32, x: usize, bias: usize, rows: i32, n: i32, out: usize): void {
  switch (act) {
    case 5: biasActLoop<Tanh>(x, bias, rows, n, out); break;
    case 6: biasActLoop<Sigmoid>(x, bias, rows, n, out); break;
    case 7: biasActLoop<Relu>(x, bias, rows, n, out); break;
    case 8: biasActLoop<Gelu>(x, bias, rows, n, out); break;
    case 9: biasActLoop<Silu>(x, bias, rows, n, out); break;
    default: biasActLoop<Identity>(x, bias, rows, n, out); break;
  }
}

@final class Add { @inline f(a: v128, b: v128): v128 { return f32x4.add(a, b); } }
@final class Sub { @inline f(a: v128, b: v128): v128 { return f32x4.sub(a, b); } }
@final class Mul { @inline f(a: v128, b: v128): v128 { return f32x4.mul(a, b); } }
@final class Div { @inline f(a: v128, b: v128): v128 { return f32x4.div(a, b); } }
// max/min as the reference: a >= b ? a : b (NaN in a picks b), not IEEE maxNum.
@final class Max { @inline f(a: v128, b: v128): v128 { return v128.bitselect(a, b, f32x4.ge(a, b)); } }
@final class Min { @inline f(a: v128, b: v128): v128 { return v128.bitselect(a, b, f32x4.le(a, b)); } }
@final class Pow {
  @inline f(a: v128, b: v128): v128 {
    return f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(
      f32x4.splat(Mathf.pow(f32x4.extract_lane(a, 0), f32x4.extract_lane(b, 0))),
      1, Mathf.pow(f32x4.extract_lane(a, 1), f32x4.extract_lane(b, 1))),
      2, Mathf.pow(f32x4.extract_lane(a, 2), f32x4.extract_lane(b, 2))),
      3, Mathf.pow(f32x4.extract_lane(a, 3), f32x4.extract_lane(b, 3)));
  }
}
@final class Gt { @inline f(a: v128, b: v128): v128 { return v128.and(f32x4.splat(1), f32x4.gt(a, b)); } }
@final class Lt { @inline f(a: v128, b: v128): v128 { return v128.and(f32x4.splat(1), f32x4.lt(a, b)); } }
@final class Eq { @inline f(a: v128, b: v128): v128 { return v128.and(f32x4.splat(1), f32x4.eq(a, b)); } }
@final class ReluBwd { @inline f(x: v128, dy: v128): v128 { return v128.and(dy, f32x4.gt(x, f32x4.splat(0))); } }
@final class GeluBwd { @inline f(x: v128, dy: v128): v128 { return f32x4.mul(dy, geluGrad4(x)); } }
@final class SiluBwd { @inline f(x: v128, dy: v128): v128 { return f32x4.mul(dy, siluGrad4(x)); } }
@final class TanhBwd { @inline f(y: v128, dy: v128): v128 { return f32x4.mul(dy, f32x4.sub(f32x4.splat(1), f32x4.mul(y, y))); } }
@final class SigmoidBwd { @inline f(y: v128, dy: v128): v128 { return f32x4.mul(f32x4.mul(dy, y), f32x4.sub(f32x4.splat(1), y)); } }

/** One output row of n: out[j] = f(a[j*sa], b[j*sb]); vector paths for strides (1,1), (1,0), (0,1). */
// @ts-ignore: decorator
@inline function binaryRow<F>(a: usize, sa: i32, b: usize, sb: i32, out: usize, n: i32): void {
  const fn = changetype<F>(0);
  let j = 0;
  if (sa == 1 && sb == 1) {
    for (; j + 4 <= n; j += 4) {
      const o = <usize>j * 4;
      v128.store(out + o, fn.f(v128.load(a + o), v128.load(b + o)));
    }
  } else if (sa == 1 && sb == 0) {
    const vb = v128.load32_splat(b);
    for (; j + 4 <= n; j += 4) {
      const o = <usize>j * 4;
      v128.store(out + o, fn.f(v128.load(a + o), vb));
    }
  } else if (sa == 0 && sb == 1) {
    const va = v128.load32_splat(a);
    for (; j + 4 <= n; j += 4) {
      const o = <usize>j * 4;
      v128.store(out + o, fn.f(va, v128.load(b + o)));
    }
  }
  for (; j < n; j++) {
    const av = load<f32>(a + <usize>j * sa * 4), bv = load<f32>(b + <usize>j * sb * 4);
    store<f32>(out + <usize>j * 4, lane0(fn.f(f32x4.splat(av), f32x4.splat(bv))));
  }
}

function binaryRowOp(op: i32, a: usize, sa: i32, b: usize, sb: i32, out: usize, n: i32): void {
  switch (op) {
    case 0: binaryRow<Add>(a, sa, b, sb, out, n); break;
    case 1: binaryRow<Sub>(a, sa, b, sb, out, n); break;
    case 2: binaryRow<Mul>(a, sa, b, sb, out, n); break;
    case 3: binaryRow<Div>(a, sa, b, sb, out, n); break;
    case 4: binaryRow<Max>(a, sa, b, sb, out, n); break;
    case 5: binaryRow<Min>(a, sa, b, sb, out, n); break;
    case 6: binaryRow<Pow>(a, sa, b, sb, out, n); break;
    case 7: binaryRow<Gt>(a, sa, b, sb, out, n); break;
    case 8: binaryRow<Lt>(a, sa, b, sb, out, n); break;
    case 9: binaryRow<Eq>(a, sa, b, sb, out, n); break;
    case 10: binaryRow<ReluBwd>(a, sa, b, sb, out, n); break;
    case 11: binaryRow<GeluBwd>(a, sa, b, sb, out, n); break;
    case 12: binaryRow<SiluBwd>(a, sa, b, sb, out, n); break;
    case 13: binaryRow<TanhBwd>(a, sa, b, sb, out, n); break;
    default: binaryRow<SigmoidBwd>(a, sa, b, sb, out, n); break;
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
