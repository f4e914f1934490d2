// Shape arithmetic: sizes, contiguous strides, broadcasting (NumPy rules).

export type Shape = readonly number[];

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function contiguousStrides(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) { s[d] = acc; acc *= shape[d]!; }
  return s;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** The broadcast shape of a and b, or an error naming both shapes. */
export function broadcastShapes(a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1, db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`shapes [${a}] and [${b}] do not broadcast`);
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides that read an array of `shape` as if it had `target` shape (0 on broadcast dims). */
export function broadcastStrides(shape: Shape, target: Shape): number[] {
  const s = contiguousStrides(shape);
  const off = target.length - shape.length;
  return target.map((_, i) => (i < off || shape[i - off] === 1 ? 0 : s[i - off]!));
}

/**
 * Merges adjacent dims that are contiguous in every operand, so kernels see few dims
 * (e.g. a same-shape add of (B, T, C) becomes one flat loop).
 */
export function collapseDims(shape: Shape, strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const size = shape[d]!;
    if (size === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, k) => outStrides[k]![last] === s[d]! * size)) {
      outShape[last] = outShape[last]! * size;
      strides.forEach((s, k) => { outStrides[k]![last] = s[d]!; });
    } else {
      outShape.push(size);
      strides.forEach((s, k) => outStrides[k]!.push(s[d]!));
    }
  }
  if (outShape.length === 0) return { shape: [1], strides: strides.map(() => [1]) };
  return { shape: outShape, strides: outStrides };
}

/** Normalizes a possibly negative axis. */
export function normAxis(axis: number, ndim: number): number {
  const a = axis < 0 ? axis + ndim : axis;
  if (a < 0 || a >= ndim) throw new Error(`axis ${axis} out of range for ${ndim} dims`);
  return a;
}
