// Vectorized float32 transcendental functions on v128 (4 lanes), built on one exp approximation.

const LOG2E: f32 = 1.44269504088896341;
// ln 2 split in two so that x - n ln2 is exact in float32 (Cody & Waite range reduction; Cephes expf).
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const EXP_HI: f32 = 88.7228391;   // above: +inf
const EXP_LO: f32 = -103.972076;  // below: 0
const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const GELU_C: f32 = 0.044715;

// @ts-ignore: decorator
@inline function fmadd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/**
 * e^x per lane, about 2 ulp: x = n ln2 + r with |r| <= ln2/2, e^r by the Cephes expf degree-6
 * polynomial, 2^n assembled in two halves so that n down to -150 gives subnormals, not garbage.
 */
// @ts-ignore: decorator
@inline export function exp4(x: v128): v128 {
  // pmin/pmax are single instructions (minps/maxps); NaN is restored at the end.
  const xc = f32x4.pmax(f32x4.pmin(x, f32x4.splat(EXP_HI)), f32x4.splat(EXP_LO));
  const n = f32x4.nearest(f32x4.mul(xc, f32x4.splat(LOG2E)));
  let r = fmadd(n, f32x4.splat(-LN2_HI), xc);
  r = fmadd(n, f32x4.splat(-LN2_LO), r);
  let p = f32x4.splat(1.9875691500e-4);
  p = fmadd(p, r, f32x4.splat(1.3981999507e-3));
  p = fmadd(p, r, f32x4.splat(8.3334519073e-3));
  p = fmadd(p, r, f32x4.splat(4.1665795894e-2));
  p = fmadd(p, r, f32x4.splat(1.6666665459e-1));
  p = fmadd(p, r, f32x4.splat(5.0000001201e-1));
  p = fmadd(p, f32x4.mul(r, r), f32x4.add(r, f32x4.splat(1)));
  // 2^n = 2^(n/2) * 2^(n - n/2): each half stays a normal float for n in [-150, 128].
  const ni = i32x4.trunc_sat_f32x4_s(n);
  const h = i32x4.shr_s(ni, 1);
  const s1 = i32x4.shl(i32x4.add(h, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(i32x4.sub(ni, h), i32x4.splat(127)), 23);
  let y = f32x4.mul(f32x4.mul(p, s1), s2);
  y = v128.bitselect(f32x4.splat(Infinity), y, f32x4.gt(x, f32x4.splat(EXP_HI)));
  return v128.bitselect(x, y, f32x4.ne(x, x));
}

/** 1 / (1 + e^-x). */
// @ts-ignore: decorator
@inline export function sigmoid4(x: v128): v128 {
  const one = f32x4.splat(1);
  return f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(x))));
}

/** tanh x = sign(x) (1 - e^-2|x|) / (1 + e^-2|x|); a Taylor series near 0 avoids cancellation. */
// @ts-ignore: decorator
@inline export function tanh4(x: v128): v128 {
  const ax = f32x4.abs(x);
  const e = exp4(f32x4.mul(ax, f32x4.splat(-2)));
  const one = f32x4.splat(1);
  let t = f32x4.div(f32x4.sub(one, e), f32x4.add(one, e));
  // |x| < 0.0625: x - x^3/3 + 2x^5/15 (error < 1e-9 relative).
  const x2 = f32x4.mul(ax, ax);
  let s = fmadd(x2, f32x4.splat(0.13333333333), f32x4.splat(-0.33333333333));
  s = fmadd(f32x4.mul(s, x2), ax, ax);
  t = v128.bitselect(s, t, f32x4.lt(ax, f32x4.splat(0.0625)));
  // restore the sign of x
  return v128.or(t, v128.and(x, i32x4.splat(0x80000000)));
}

/** GELU, tanh approximation (GPT-2): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
// @ts-ignore: decorator
@inline export function gelu4(x: v128): v128 {
  const x3 = f32x4.mul(f32x4.mul(x, x), x);
  const u = f32x4.mul(f32x4.splat(SQRT_2_OVER_PI), fmadd(x3, f32x4.splat(GELU_C), x));
  return f32x4.mul(f32x4.mul(f32x4.splat(0.5), x), f32x4.add(f32x4.splat(1), tanh4(u)));
}

/** d/dx GELU (tanh approximation). */
// @ts-ignore: decorator
@inline export function geluGrad4(x: v128): v128 {
  const x2 = f32x4.mul(x, x);
  const u = f32x4.mul(f32x4.splat(SQRT_2_OVER_PI), fmadd(f32x4.mul(x2, x), f32x4.splat(GELU_C), x));
  const t = tanh4(u);
  const one = f32x4.splat(1), half = f32x4.splat(0.5);
  const du = f32x4.mul(f32x4.splat(SQRT_2_OVER_PI), fmadd(x2, f32x4.splat(3 * GELU_C), one));
  const a = f32x4.mul(half, f32x4.add(one, t));
  const b = f32x4.mul(f32x4.mul(f32x4.mul(half, x), f32x4.sub(one, f32x4.mul(t, t))), du);
  return f32x4.add(a, b);
}

/** d/dx silu = s (1 + x (1 - s)), s = sigmoid x. */
// @ts-ignore: decorator
@inline export function siluGrad4(x: v128): v128 {
  const s = sigmoid4(x);
  const one = f32x4.splat(1);
  return f32x4.mul(s, fmadd(x, f32x4.sub(one, s), one));
}

/** Sum of the 4 lanes. */
// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/** Max of the 4 lanes. */
// @ts-ignore: decorator
@inline export function hmax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

/** Lane 0 of a vector op applied to a splat: the scalar tail uses exactly the vector formula. */
// @ts-ignore: decorator
@inline export function lane0(v: v128): f32 {
  return f32x4.extract_lane(v, 0);
}
