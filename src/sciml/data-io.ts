// Reading u(t, x) data for discovery from JSON or CSV, with validation that names each problem.
import type { Field } from './spectral.js';
import { InputError, errorMessage } from '../util/errors.js';
import { formatIssues, z } from '../util/schema.js';

/** Bad input data: the message is one line naming the field or row and what is wrong. */
export class DataError extends InputError {
  override readonly name = 'DataError';
}

/**
 * The JSON input format: `{x: [...], t: [...], u: [[...]]}` with u[i][j] = u(t_i, x_j), one row of u
 * per time and one value per position. (JSON has no NaN or infinity, so every number is finite.)
 */
const FieldJson = z.strictObject({
  x: z.array(z.number()),
  t: z.array(z.number()),
  u: z.array(z.array(z.number())),
}).superRefine((f, ctx) => {
  // The grid's shape, worded as a whole-file problem: the rows of u against t, each row against x.
  if (f.u.length !== f.t.length) {
    ctx.addIssue({ code: 'custom', path: [], message: `u has ${f.u.length} rows but t has ${f.t.length} values` });
    return;
  }
  const i = f.u.findIndex((row) => row.length !== f.x.length);
  if (i >= 0) ctx.addIssue({ code: 'custom', path: [], message: `ragged grid: u[${i}] has ${f.u[i]!.length} values but x has ${f.x.length}` });
});

/** Parses the JSON input format (FieldJson); a DataError naming the file and the field otherwise. */
export function parseJsonField(text: string, file = 'data'): Field {
  let v: unknown;
  try { v = JSON.parse(text); } catch (e) { throw new DataError(`${file}: not valid JSON (${errorMessage(e).split('\n')[0]})`); }
  const r = FieldJson.safeParse(v);
  if (!r.success) throw new DataError(formatIssues(file, r.error));
  const { x, t, u: rows } = r.data;
  const u = new Float64Array(t.length * x.length);
  rows.forEach((row, i) => u.set(row, i * x.length));
  return checkField({ x: Float64Array.from(x), t: Float64Array.from(t), u }, file);
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
