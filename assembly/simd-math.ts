// Vectorized float32 transcendental functions on v128 (4 lanes), built on one exp approximation.

const LOG2E: f32 = 1.44269504088896341;
// ln 2 split in two so that x - n ln2 is exact in float32 (Cody & Waite range reduction; Cephes expf).
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
// Clamp bounds of exp4's input. Above 88.72, e^x overflows float32: clamped at 89, the last multiply
// gives +inf by itself. Below -86.5 the result is 0: e^-86.5 = 2.7e-38 is near the smallest normal
// float (1.18e-38), so results that would be subnormal are flushed to zero, as FTZ hardware does.
// Subnormal arithmetic costs ~100 cycles per instruction on x86, and a causal mask of -1e9 sends
// half of every attention row here.
const EXP_HI: f32 = 89.0;
const EXP_LO: f32 = -86.5;
// 1.5 * 2^23: adding it rounds a float in (-2^22, 2^22) to an integer held in the low mantissa bits.
const ROUND_MAGIC: f32 = 12582912.0;
const ROUND_MAGIC_BITS: i32 = 0x4B400000;
const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const GELU_C: f32 = 0.044715;

// @ts-ignore: decorator
@inline function fmadd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/**
 * e^x per lane, about 2 ulp: x = n ln2 + r with |r| <= ln2/2, e^r by the Cephes expf degree-6
 * polynomial, times 2^n. n is rounded by the magic-number addition (two adds, where nearest and
 * trunc_sat are long sequences in V8), and 2^n is applied as (2 e^r) 2^(n-1), so that for
 * n in [-125, 128] no intermediate is subnormal. x < -86.5 gives 0; NaN stays NaN (it passes
 * pmin/pmax and the polynomial).
 */
// @ts-ignore: decorator
@inline export function exp4(x: v128): v128 {
  const xc = f32x4.pmax(f32x4.pmin(x, f32x4.splat(EXP_HI)), f32x4.splat(EXP_LO));
  const t = fmadd(xc, f32x4.splat(LOG2E), f32x4.splat(ROUND_MAGIC)); // n in its low mantissa bits
  const n = f32x4.sub(t, f32x4.splat(ROUND_MAGIC));
  let r = fmadd(n, f32x4.splat(-LN2_HI), xc);
  r = fmadd(n, f32x4.splat(-LN2_LO), r);
  let p = f32x4.splat(1.9875691500e-4);
  p = fmadd(p, r, f32x4.splat(1.3981999507e-3));
  p = fmadd(p, r, f32x4.splat(8.3334519073e-3));
  p = fmadd(p, r, f32x4.splat(4.1665795894e-2));
  p = fmadd(p, r, f32x4.splat(1.6666665459e-1));
  p = fmadd(p, r, f32x4.splat(5.0000001201e-1));
  p = fmadd(p, f32x4.mul(r, r), f32x4.add(r, f32x4.splat(1)));
  // 2^(n-1) = ((n - 1 + 127) << 23) as float bits
  const scale = i32x4.shl(i32x4.add(t, i32x4.splat(126 - ROUND_MAGIC_BITS)), 23);
  const y = f32x4.mul(f32x4.add(p, p), scale);
  return v128.andnot(y, f32x4.lt(x, f32x4.splat(EXP_LO)));
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

/**
 * GELU, tanh approximation (GPT-2): 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3),
 * computed as x sigmoid(2u) (the same function: 0.5 (1 + tanh u) = sigmoid(2u)), one exp and
 * one division.
 */
// @ts-ignore: decorator
@inline function geluSigmoid(x: v128): v128 {
  const z = f32x4.mul(fmadd(f32x4.mul(x, x), f32x4.splat(2 * SQRT_2_OVER_PI * GELU_C), f32x4.splat(2 * SQRT_2_OVER_PI)), x);
  return f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), exp4(f32x4.neg(z))));
}

// @ts-ignore: decorator
@inline export function gelu4(x: v128): v128 {
  return f32x4.mul(x, geluSigmoid(x));
}

/** d/dx GELU (tanh approximation) = s + x s (1 - s) dz/dx, with s = sigmoid(z), z = 2u. */
// @ts-ignore: decorator
@inline export function geluGrad4(x: v128): v128 {
  const s = geluSigmoid(x);
  const dz = fmadd(f32x4.mul(x, x), f32x4.splat(6 * SQRT_2_OVER_PI * GELU_C), f32x4.splat(2 * SQRT_2_OVER_PI));
  return fmadd(f32x4.mul(f32x4.mul(x, s), f32x4.sub(f32x4.splat(1), s)), dz, s);
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
