// Data movement kernels: row gather, row scatter-add, axis permutation.

/** out[r] = src[idx[r]] for rows of n floats; idx: i32, already bounds-checked by the caller. */
export function gatherRows(src: usize, idx: usize, count: i32, n: i32, out: usize): void {
  const bytes = <usize>n * 4;
  for (let r = 0; r < count; r++) {
    memory.copy(out + <usize>r * bytes, src + <usize>load<i32>(idx + <usize>r * 4) * bytes, bytes);
  }
}

/** dst[idx[r]] += src[r] for rows of n floats (repeated indices add up, in order). */
export function scatterAddRows(dst: usize, idx: usize, count: i32, n: i32, src: usize): void {
  const bytes = <usize>n * 4;
  for (let r = 0; r < count; r++) {
    const d = dst + <usize>load<i32>(idx + <usize>r * 4) * bytes, s = src + <usize>r * bytes;
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const o = <usize>j * 4;
      v128.store(d + o, f32x4.add(v128.load(d + o), v128.load(s + o)));
    }
    for (; j < n; j++) {
      const o = <usize>j * 4;
      store<f32>(d + o, load<f32>(d + o) + load<f32>(s + o));
    }
  }
}

/**
 * out = x with axes permuted. meta (i32): [nd, outShape[nd], inStrideForOutAxis[nd], scratch[nd]]
 * (strides in elements, dims already collapsed by the caller). Rows whose input stride is 1 are copied.
 */
export function permute(x: usize, out: usize, meta: usize): void {
  const nd = load<i32>(meta);
  const shape = meta + 4, strides = shape + <usize>nd * 4, idx = strides + <usize>nd * 4;
  const last = nd - 1;
  const n = load<i32>(shape + <usize>last * 4), s = load<i32>(strides + <usize>last * 4);
  let rows = 1;
  for (let d = 0; d < last; d++) rows *= load<i32>(shape + <usize>d * 4);
  if (n == 0) return;
  for (let d = 0; d < nd; d++) store<i32>(idx + <usize>d * 4, 0);
  let ix = 0;
  for (let r = 0; r < rows; r++) {
    const dst = out + <usize>r * n * 4, src = x + <usize>ix * 4;
    if (s == 1) memory.copy(dst, src, <usize>n * 4);
    else for (let j = 0; j < n; j++) store<f32>(dst + <usize>j * 4, load<f32>(src + <usize>j * s * 4));
    for (let d = last - 1; d >= 0; d--) {
      const p = idx + <usize>d * 4;
      const v = load<i32>(p) + 1;
      const sd = load<i32>(strides + <usize>d * 4);
      ix += sd;
      if (v < load<i32>(shape + <usize>d * 4)) { store<i32>(p, v); break; }
      ix -= sd * v;
      store<i32>(p, 0);
    }
  }
}
