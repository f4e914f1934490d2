// Discovery accuracy table: each built-in equation x noise level x method (strong fd, strong poly,
// weak, network): term set right or wrong, worst coefficient error, time. Printed by
// `furnace bench sciml --table` (the table in src/sciml/README.md).
import { discover, discoverWeak, judge, type DiscoverOptions, type DiscoverResult } from './discover.js';
import { fitNetwork, networkDerivatives } from './dlpde.js';
import { burgersPeriodic, fisherKpp, kdv, kuramotoSivashinsky } from './generators.js';
import { addNoise } from './rng.js';
import type { Field } from './spectral.js';

export const TABLE_METHODS = ['strong fd', 'strong poly', 'weak', 'network'] as const;
export type TableMethod = (typeof TABLE_METHODS)[number];

export const TABLE_EQUATIONS: { name: string; make: () => Field; truth: Record<string, number> }[] = [
  { name: 'Burgers', make: () => burgersPeriodic(), truth: { 'u*u_x': -1, u_xx: 0.1 } },
  { name: 'KdV', make: () => kdv(), truth: { 'u*u_x': -6, u_xxx: -1 } },
  { name: 'KS', make: () => kuramotoSivashinsky(), truth: { 'u*u_x': -1, u_xx: -1, u_xxxx: -1 } },
  { name: 'Fisher-KPP', make: () => fisherKpp(), truth: { u_xx: 0.5, u: 1, 'u^2': -1 } },
];

export interface TableRow {
  equation: string; noise: number; method: TableMethod;
  right: boolean; // exactly the true term set
  worst: number; // worst relative coefficient error over the true terms (NaN when a true term is missing)
  accepted: boolean; // judge(): the command would exit 0
  found: string; seconds: number;
}

/** Worst relative error of the true coefficients, and whether the term set is exactly right. */
export function score(r: DiscoverResult, truth: Record<string, number>): { right: boolean; worst: number } {
  const found = new Map(r.terms.map((t) => [t.term, t.coef]));
  const right = found.size === Object.keys(truth).length && Object.keys(truth).every((k) => found.has(k));
  let worst = 0;
  for (const [k, v] of Object.entries(truth)) worst = Math.max(worst, found.has(k) ? Math.abs(found.get(k)! / v - 1) : NaN);
  return { right, worst };
}

/** One table row per equation x noise x method; `fitTime` seconds per network fit (0 skips the
 * network column). Noise is seeded (seed 1), bagging as the command's defaults (20 bags). */
export function accuracyTable(noises: number[], fitTime: number, onRow: (r: TableRow) => void = () => {}): TableRow[] {
  const rows: TableRow[] = [];
  const o: DiscoverOptions = { bags: 20, seed: 0 };
  for (const eq of TABLE_EQUATIONS) {
    const clean = eq.make();
    for (const noise of noises) {
      const f = noise > 0 ? { ...clean, u: addNoise(clean.u, noise, 1) } : clean;
      for (const method of TABLE_METHODS) {
        if (method === 'network' && fitTime <= 0) continue;
        const t0 = performance.now();
        let r: DiscoverResult;
        if (method === 'weak') r = discoverWeak(f, o);
        else if (method === 'network') {
          const fit = fitNetwork(f, { timeLimit: fitTime, seed: 1 });
          r = discover(f, { ...o, derivatives: networkDerivatives(f, fit, 4) });
        } else r = discover(f, { ...o, diff: method === 'strong fd' ? 'fd' : 'poly' });
        const seconds = (performance.now() - t0) / 1000;
        const found = r.terms.map((t) => `${Number(t.coef.toPrecision(4))} ${t.term}`).join(', ') || '0';
        const row: TableRow = { equation: eq.name, noise, method, ...score(r, eq.truth), accepted: judge(r).ok, found, seconds };
        rows.push(row);
        onRow(row);
      }
    }
  }
  return rows;
}

/** The rows as a Markdown table. */
export function markdownTable(rows: TableRow[]): string {
  const out = ['| equation | noise | method | terms | worst coef. error | exit | time (s) | found |', '|---|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    const err = Number.isNaN(r.worst) ? 'term missing' : `${(100 * r.worst).toFixed(2)}%`;
    out.push(`| ${r.equation} | ${(100 * r.noise).toFixed(0)}% | ${r.method} | ${r.right ? 'right' : 'wrong'} | ${err} | ${r.accepted ? 0 : 1} | ${r.seconds.toFixed(1)} | u_t = ${r.found} |`);
  }
  return out.join('\n');
}
