// Reading u(t, x) data for discovery from JSON or CSV, with validation that names each problem.
import type { Field } from './spectral.js';
import { InputError, errorMessage } from '../util/errors.js';

/** Bad input data: the message is one line naming the field or row and what is wrong. */
export class DataError extends InputError {
  override readonly name = 'DataError';
}

/** Parses `{x: [...], t: [...], u: [[...]]}` with u[i][j] = u(t_i, x_j). */
export function parseJsonField(text: string, file = 'data'): Field {
  let v: unknown;
  try { v = JSON.parse(text); } catch (e) { throw new DataError(`${file}: not valid JSON (${errorMessage(e).split('\n')[0]})`); }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new DataError(`${file}: expected an object {x, t, u}`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['x', 't', 'u'].includes(k)) throw new DataError(`${file}: unknown key '${k}' (expected x, t, u)`);
  const x = numberArray(o['x'], `${file}: x`), t = numberArray(o['t'], `${file}: t`);
  const rows = o['u'];
  if (!Array.isArray(rows)) throw new DataError(`${file}: u must be an array of rows u[i][j] = u(t_i, x_j)`);
  if (rows.length !== t.length) throw new DataError(`${file}: u has ${rows.length} rows but t has ${t.length} values`);
  const u = new Float64Array(t.length * x.length);
  rows.forEach((row, i) => {
    const r = numberArray(row, `${file}: u[${i}]`);
    if (r.length !== x.length) throw new DataError(`${file}: ragged grid: u[${i}] has ${r.length} values but x has ${x.length}`);
    u.set(r, i * x.length);
  });
  return checkField({ x, t, u }, file);
}

function numberArray(v: unknown, what: string): Float64Array {
  if (!Array.isArray(v)) throw new DataError(`${what} must be an array of numbers`);
  const out = new Float64Array(v.length);
  v.forEach((e, i) => {
    if (typeof e !== 'number' || !Number.isFinite(e)) throw new DataError(`${what}[${i}] is ${JSON.stringify(e)}, not a finite number`);
    out[i] = e;
  });
  return out;
}

/** Parses CSV with a header naming columns x, t, u (any order, other columns ignored), one row per
 * grid point; every (t, x) pair of the tensor grid must appear exactly once. */
export function parseCsvField(text: string, file = 'data'): Field {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '' && !l.startsWith('#'));
  if (lines.length < 2) throw new DataError(`${file}: CSV needs a header line and data rows`);
  const header = lines[0]!.split(',').map((s) => s.trim().toLowerCase());
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new DataError(`${file}: CSV header has no column '${name}' (found ${header.join(',')})`);
    return i;
  };
  const cx = col('x'), ct = col('t'), cu = col('u');
  const pts: [number, number, number][] = [];
  for (let l = 1; l < lines.length; l++) {
    const cells = lines[l]!.split(',');
    if (cells.length !== header.length) throw new DataError(`${file}: line ${l + 1} has ${cells.length} fields, header has ${header.length}`);
    const get = (c: number, name: string): number => {
      const s = cells[c]!.trim(), n = Number(s);
      if (s === '' || !Number.isFinite(n)) throw new DataError(`${file}: line ${l + 1}: ${name} is '${s}', not a finite number`);
      return n;
    };
    pts.push([get(ct, 't'), get(cx, 'x'), get(cu, 'u')]);
  }
  const ts = uniqueSorted(pts.map((p) => p[0])), xs = uniqueSorted(pts.map((p) => p[1]));
  if (ts.length * xs.length !== pts.length) {
    throw new DataError(`${file}: not a full grid: ${pts.length} rows for ${ts.length} times x ${xs.length} positions (missing or duplicate points)`);
  }
  const ti = new Map(ts.map((v, i) => [v, i])), xi = new Map(xs.map((v, i) => [v, i]));
  const u = new Float64Array(pts.length).fill(NaN);
  for (const [t, x, v] of pts) {
    const c = ti.get(t)! * xs.length + xi.get(x)!;
    if (!Number.isNaN(u[c]!)) throw new DataError(`${file}: duplicate point t=${t}, x=${x}`);
    u[c] = v;
  }
  return checkField({ x: Float64Array.from(xs), t: Float64Array.from(ts), u }, file);
}

function uniqueSorted(a: number[]): number[] { return [...new Set(a)].sort((p, q) => p - q); }

/** Uniform, increasing grids with at least three points each; a one-line DataError otherwise. */
export function checkField(f: Field, file = 'data'): Field {
  for (const [name, g] of [['x', f.x], ['t', f.t]] as const) {
    if (g.length < 3) throw new DataError(`${file}: ${name} has ${g.length} points; at least 3 are needed`);
    const h = (g[g.length - 1]! - g[0]!) / (g.length - 1);
    if (!(h > 0)) throw new DataError(`${file}: ${name} must increase`);
    for (let i = 1; i < g.length; i++) {
      const d = g[i]! - g[i - 1]!;
      if (Math.abs(d - h) > 1e-6 * Math.abs(h) + 1e-12 * Math.max(Math.abs(g[i]!), 1)) {
        throw new DataError(`${file}: non-uniform spacing in ${name}: ${name}[${i}] - ${name}[${i - 1}] = ${d}, expected ${h}`);
      }
    }
  }
  for (let c = 0; c < f.u.length; c++) {
    if (!Number.isFinite(f.u[c]!)) {
      const i = Math.floor(c / f.x.length), j = c % f.x.length;
      throw new DataError(`${file}: u[${i}][${j}] is ${f.u[c]}, not a finite number`);
    }
  }
  return f;
}

/** Serialises a field as the JSON input format. */
export function fieldToJson(f: Field): string {
  const nx = f.x.length, rows: number[][] = [];
  for (let i = 0; i < f.t.length; i++) rows.push(Array.from(f.u.subarray(i * nx, (i + 1) * nx)));
  return JSON.stringify({ x: Array.from(f.x), t: Array.from(f.t), u: rows });
}
