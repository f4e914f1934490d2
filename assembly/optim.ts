// The fused AdamW update: one pass over parameters, gradients and both moments, in place.

/**
 * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr (m / bc1 / (sqrt(v / bc2) + eps) + wd p)
 * (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", Algorithm 2).
 */
export function adamw(p: usize, g: usize, m: usize, v: usize, n: i32, lr: f32, b1: f32, b2: f32, eps: f32,
  wd: f32, bc1: f32, bc2: f32): void {
  const vb1 = f32x4.splat(b1), vb2 = f32x4.splat(b2), c1 = f32x4.splat(1 - b1), c2 = f32x4.splat(1 - b2);
  const vbc1 = f32x4.splat(bc1), vbc2 = f32x4.splat(bc2), veps = f32x4.splat(eps), vlr = f32x4.splat(lr), vwd = f32x4.splat(wd);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i * 4;
    const gi = v128.load(g + o), pi = v128.load(p + o);
    const mi = f32x4.add(f32x4.mul(vb1, v128.load(m + o)), f32x4.mul(c1, gi));
    const vi = f32x4.add(f32x4.mul(vb2, v128.load(v + o)), f32x4.mul(c2, f32x4.mul(gi, gi)));
    v128.store(m + o, mi);
    v128.store(v + o, vi);
    const step = f32x4.add(f32x4.div(f32x4.div(mi, vbc1), f32x4.add(f32x4.sqrt(f32x4.div(vi, vbc2)), veps)), f32x4.mul(vwd, pi));
    v128.store(p + o, f32x4.sub(pi, f32x4.mul(vlr, step)));
  }
  for (; i < n; i++) {
    const o = <usize>i * 4;
    const gi = load<f32>(g + o), pi = load<f32>(p + o);
    const mi = b1 * load<f32>(m + o) + (1 - b1) * gi;
    const vi = b2 * load<f32>(v + o) + (1 - b2) * gi * gi;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    store<f32>(p + o, pi - lr * (mi / bc1 / (Mathf.sqrt(vi / bc2) + eps) + wd * pi));
  }
}
