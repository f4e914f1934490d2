// Small dense linear algebra on Float64Arrays: Householder QR and least squares.
// Matrices are row-major (rows, cols).

/** A column-major copy of a row-major (m, n) matrix, which is what Householder QR sweeps over. */
function toColumns(a: Float64Array, m: number, n: number): Float64Array[] {
  const cols: Float64Array[] = [];
  for (let j = 0; j < n; j++) {
    const c = new Float64Array(m);
    for (let i = 0; i < m; i++) c[i] = a[i * n + j]!;
    cols.push(c);
  }
  return cols;
}

/** Householder QR of A (m, n), m >= n, applied to b at the same time: returns R (n, n) row-major,
 * Q^T b restricted to its first n entries, and |b - Q Q^T b|^2, the residual no x can remove.
 * Golub & Van Loan, Matrix Computations, Alg. 5.2.1. */
export function qrReduce(a: Float64Array, m: number, n: number, b: Float64Array): { r: Float64Array; qtb: Float64Array; rest: number } {
  if (m < n) throw new Error(`qrReduce needs at least as many rows as columns, got ${m} x ${n}`);
  const cols = toColumns(a, m, n);
  const y = Float64Array.from(b);
  for (let k = 0; k < n; k++) {
    const c = cols[k]!;
    let norm = 0;
    for (let i = k; i < m; i++) norm += c[i]! * c[i]!;
    norm = Math.sqrt(norm);
    if (norm === 0) continue;
    const alpha = c[k]! > 0 ? -norm : norm;
    c[k] = c[k]! - alpha; // v = x - alpha e1, stored in place
    let vv = 0;
    for (let i = k; i < m; i++) vv += c[i]! * c[i]!;
    const reflect = (d: Float64Array): void => {
      let s = 0;
      for (let i = k; i < m; i++) s += c[i]! * d[i]!;
      s = (2 * s) / vv;
      for (let i = k; i < m; i++) d[i] = d[i]! - s * c[i]!;
    };
    for (let j = k + 1; j < n; j++) reflect(cols[j]!);
    reflect(y);
    c[k] = alpha;
    for (let i = k + 1; i < m; i++) c[i] = 0;
  }
  const r = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) r[i * n + j] = cols[j]![i]!;
  let rest = 0;
  for (let i = n; i < m; i++) rest += y[i]! * y[i]!;
  return { r, qtb: y.slice(0, n), rest };
}

/** Least squares min |A x - b| (+ lambda |x|^2 when lambda > 0) for A (m, n); by QR of A stacked on
 * sqrt(lambda) I. Columns that are entirely zero get x = 0. */
export function lstsq(a: Float64Array, m: number, n: number, b: Float64Array, lambda = 0): Float64Array {
  let rows = m, aa = a, bb = b;
  if (lambda > 0) {
    rows = m + n;
    aa = new Float64Array(rows * n); aa.set(a);
    for (let j = 0; j < n; j++) aa[(m + j) * n + j] = Math.sqrt(lambda);
    bb = new Float64Array(rows); bb.set(b);
  }
  if (rows < n) throw new Error(`least squares needs at least ${n} rows, got ${rows}`);
  const { r, qtb } = qrReduce(aa, rows, n, bb);
  return backSubstitute(r, n, qtb);
}

/** Solves R x = y for upper-triangular R (n, n); a (near-)zero pivot gives x_i = 0 (rank-deficient). */
export function backSubstitute(r: Float64Array, n: number, y: Float64Array): Float64Array {
  const x = new Float64Array(n);
  let scale = 0;
  for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(r[i * n + i]!));
  for (let i = n - 1; i >= 0; i--) {
    const piv = r[i * n + i]!;
    if (Math.abs(piv) <= 1e-14 * scale) { x[i] = 0; continue; }
    let s = y[i]!;
    for (let j = i + 1; j < n; j++) s -= r[i * n + j]! * x[j]!;
    x[i] = s / piv;
  }
  return x;
}
