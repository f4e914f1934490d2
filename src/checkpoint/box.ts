// N-dimensional boxes of a row-major global array: intersection and copying between pieces.

export interface Box {
  offset: number[];
  shape: number[];
}

export function volume(shape: readonly number[]): number {
  let v = 1;
  for (const s of shape) v *= s;
  return v;
}

/** The common part of two boxes, or undefined when they do not overlap. */
export function intersect(a: Box, b: Box): Box | undefined {
  const offset: number[] = [];
  const shape: number[] = [];
  for (let d = 0; d < a.offset.length; d++) {
    const lo = Math.max(a.offset[d]!, b.offset[d]!);
    const hi = Math.min(a.offset[d]! + a.shape[d]!, b.offset[d]! + b.shape[d]!);
    if (hi <= lo) return undefined;
    offset.push(lo);
    shape.push(hi - lo);
  }
  return { offset, shape };
}

export function contains(outer: Box, inner: Box): boolean {
  return inner.offset.every((o, d) => o >= outer.offset[d]! && o + inner.shape[d]! <= outer.offset[d]! + outer.shape[d]!);
}

/** Row-major element strides of a shape: strides[d] = prod(shape[d+1:]). */
export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) s[d] = s[d + 1]! * shape[d + 1]!;
  return s;
}

/** Element index, inside box `b`'s row-major storage, of the global point `p`. */
export function indexIn(b: Box, p: readonly number[]): number {
  const st = strides(b.shape);
  let i = 0;
  for (let d = 0; d < p.length; d++) i += (p[d]! - b.offset[d]!) * st[d]!;
  return i;
}

/**
 * The element range [first, last + 1) of box `b`'s storage that holds the sub-box `r`: what
 * must be read from a piece to extract `r` (contiguous exactly when `r` spans `b` in every
 * dimension after its first non-unit one).
 */
export function spanIn(b: Box, r: Box): [number, number] {
  const last = r.offset.map((o, d) => o + r.shape[d]! - 1);
  return [indexIn(b, r.offset), indexIn(b, last) + 1];
}

/**
 * Copies the global region `r` from `src` (storage of box `sb`, starting at element `srcBase`
 * of the box) into `dst` (storage of box `db`). Copies whole innermost rows with `set`.
 */
export function copyRegion(src: Float32Array, sb: Box, srcBase: number, dst: Float32Array, db: Box, r: Box): void {
  const n = r.shape.length;
  if (n === 0) {
    dst[0] = src[srcBase]!;
    return;
  }
  const ss = strides(sb.shape);
  const ds = strides(db.shape);
  const row = r.shape[n - 1]!;
  const rows = volume(r.shape.slice(0, n - 1));
  const idx = new Array<number>(n).fill(0);
  const s0 = indexIn(sb, r.offset) - srcBase;
  const d0 = indexIn(db, r.offset);
  for (let k = 0; k < rows; k++) {
    let s = s0;
    let d = d0;
    for (let dim = 0; dim < n - 1; dim++) {
      s += idx[dim]! * ss[dim]!;
      d += idx[dim]! * ds[dim]!;
    }
    dst.set(src.subarray(s, s + row), d);
    for (let dim = n - 2; dim >= 0; dim--) {
      if (++idx[dim]! < r.shape[dim]!) break;
      idx[dim] = 0;
    }
  }
}
