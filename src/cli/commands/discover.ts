// `furnace discover`: find a PDE u_t = F(u, u_x, ...) in gridded data by sparse regression (PDE-FIND).
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fieldToJson, parseCsvField, parseJsonField } from '../../sciml/data-io.js';
import { discover, discoverAuto, discoverWeak, judge, type DiffMethod, type DiscoverOptions, type DiscoverResult } from '../../sciml/discover.js';
import { fitNetwork, networkDerivatives } from '../../sciml/dlpde.js';
import { installBackend } from '../../backends/index.js';
import { dataProblems } from '../../sciml/problems.js';
import { addNoise } from '../../sciml/rng.js';
import type { Field } from '../../sciml/spectral.js';
import { bars, heatmap } from '../../sciml/svg.js';
import { parseTerm } from '../../sciml/terms.js';
import { CheckError, InputError, UsageError, errnoCode, errorMessage } from '../../util/errors.js';
import { checkInputPath, checkOutputDir, checkOutputFile } from '../../util/paths.js';
import { atomicWriteSync } from '../../util/durable.js';
import { Output, fmt } from '../../util/output.js';
import { intFlag, numFlag, parse, type Command } from '../util.js';

const USAGE = `usage: furnace discover (--data FILE | --problem NAME) [--method auto|strong|weak] [--max-order 4]
  [--max-power 2] [--terms 'u_x^2,u*u_x*u_xx'] [--diff auto|fd|poly] [--bags 20] [--drop-terms N]
  [--threshold 0.5] [--l0 0.05] [--lambda 1e-5] [--noise P] [--seed 1] [--save FILE] [--out DIR]
  [--no-plots] [--json]
  [--width-x N] [--width-t N] [--patches 1500]   (weak form: test-function half-widths in grid points,
                                                   default from the data's spectrum; number of patches)
  [--fit-steps 3000] [--fit-time 300]   (with --diff network: DL-PDE, derivatives of a fitted network)
--method auto (default): strong form for clean data, weak form (integrals against test functions, no
  derivative of the data) for noisy data. --diff implies the strong form. Exit 1 when no sparse model
  explains the data (the best candidate is in the --json result).
FILE: JSON {x: [...], t: [...], u: [[...]]} with u[i][j] = u(t_i, x_j), or CSV with columns x,t,u.
NAME: ${Object.entries(dataProblems).map(([k, v]) => `${k} (${v.summary})`).join('; ')}.`;

/** The command line, checked: what to read, how to discover, where to write. */
interface DiscoverArgs {
  data: string | undefined;
  problem: string | undefined;
  save: string | undefined;
  /** Folder of the plots, or undefined with --no-plots. */
  plots: string | undefined;
  /** --diff as given ('network': DL-PDE, the library's derivatives from a fitted network). */
  diffName: string;
  method: string;
  fitSteps: number;
  fitTime: number;
  custom: string[];
  opts: DiscoverOptions;
  noise: number;
  seed: number;
  json: boolean;
}

function parseArgs(argv: string[]): DiscoverArgs {
  const { values: v } = parse(argv, {
    data: { type: 'string' }, problem: { type: 'string' },
    'max-order': { type: 'string' }, 'max-power': { type: 'string' }, terms: { type: 'string' },
    diff: { type: 'string' }, method: { type: 'string' }, 'width-x': { type: 'string' }, 'width-t': { type: 'string' },
    patches: { type: 'string' }, 'drop-terms': { type: 'string' }, bags: { type: 'string' }, threshold: { type: 'string' }, l0: { type: 'string' },
    lambda: { type: 'string' }, 'fit-steps': { type: 'string' }, 'fit-time': { type: 'string' }, noise: { type: 'string' }, seed: { type: 'string' }, save: { type: 'string' },
    out: { type: 'string' }, 'no-plots': { type: 'boolean' }, json: { type: 'boolean' },
  }, false, USAGE);
  if ((v.data === undefined) === (v.problem === undefined)) throw new UsageError('discover: give exactly one of --data FILE or --problem NAME');
  if (v.save !== undefined) checkOutputFile('--save', v.save);
  if (v['no-plots'] !== true || v.out !== undefined) checkOutputDir('--out', v.out ?? join('furnace-out', 'discover'));
  const diffName = v.diff ?? 'auto';
  if (!['auto', 'fd', 'poly', 'network'].includes(diffName)) throw new InputError(`--diff: expected auto, fd, poly or network, got '${diffName}'`);
  const diff: DiffMethod = diffName === 'network' ? 'auto' : (diffName as DiffMethod);
  const method = v.method ?? (v.diff !== undefined ? 'strong' : 'auto');
  if (!['auto', 'strong', 'weak'].includes(method)) throw new InputError(`--method: expected auto, strong or weak, got '${method}'`);
  if (method !== 'strong' && v.diff !== undefined) throw new InputError(`--diff: derivatives of the data are taken by the strong form only; give --method strong (or leave --method out)`);
  const fitSteps = intFlag('fit-steps', v['fit-steps'], 0, 1e7) ?? 3000, fitTime = numFlag('fit-time', v['fit-time'], 0, 1e6) ?? 300;
  const custom = (v.terms ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const c of custom) { try { parseTerm(c); } catch (e) { throw new InputError(`--terms: ${errorMessage(e)}`); } }
  const opts: DiscoverOptions = {
    maxOrder: intFlag('max-order', v['max-order'], 1, 8) ?? 4,
    maxPower: intFlag('max-power', v['max-power'], 0, 6) ?? 2,
    custom, diff,
    bags: intFlag('bags', v.bags, 0, 1000) ?? 20,
    threshold: numFlag('threshold', v.threshold, 0, 1) ?? 0.5,
    l0: numFlag('l0', v.l0, 0, 10) ?? 0.05,
    lambda: numFlag('lambda', v.lambda, 0, 1e6) ?? 1e-5,
  };
  const widthX = intFlag('width-x', v['width-x'], 1, 1e6), widthT = intFlag('width-t', v['width-t'], 1, 1e6);
  const patches = intFlag('patches', v.patches, 1, 1e7), dropTerms = intFlag('drop-terms', v['drop-terms'], 0, 100);
  if (widthX !== undefined) opts.widthX = widthX;
  if (widthT !== undefined) opts.widthT = widthT;
  if (patches !== undefined) opts.patches = patches;
  if (dropTerms !== undefined) opts.dropTerms = dropTerms;
  const noise = numFlag('noise', v.noise, 0, 10) ?? 0;
  const seed = intFlag('seed', v.seed, 0, 2 ** 31) ?? 1;
  return { data: v.data, problem: v.problem, save: v.save, plots: v['no-plots'] === true ? undefined : (v.out ?? join('furnace-out', 'discover')),
    diffName, method, fitSteps, fitTime, custom, opts, noise, seed, json: v.json === true };
}

/** The field to discover from (a named problem or a data file), noise added, saved with --save. */
function loadField(a: DiscoverArgs): { field: Field; truth: Record<string, number> | undefined; source: string } {
  let field: Field;
  let truth: Record<string, number> | undefined;
  let source: string;
  if (a.problem !== undefined) {
    const p = dataProblems[a.problem];
    if (p === undefined) throw new InputError(`--problem: unknown '${a.problem}' (choose ${Object.keys(dataProblems).join(', ')})`);
    field = p.make(); truth = p.truth; source = a.problem;
  } else {
    source = a.data!;
    checkInputPath('--data', source, 'file');
    let text: string;
    try { text = readFileSync(source, 'utf8'); } catch (e) { throw new InputError(`--data: cannot read '${source}' (${errnoCode(e) ?? 'error'})`); }
    field = /\.csv$/i.test(source) ? parseCsvField(text, source) : parseJsonField(text, source);
  }
  if (a.noise > 0) field = { ...field, u: addNoise(field.u, a.noise, a.seed) };
  if (a.save !== undefined) atomicWriteSync(a.save, fieldToJson(field));
  return { field, truth, source };
}

/** The sparse regression the method names (after fitting a network for --diff network), and why that method. */
async function discoverIn(a: DiscoverArgs, field: Field, out: Output): Promise<{ r: DiscoverResult; why: string }> {
  const opts = a.opts;
  if (a.diffName === 'network') {
    const maxD = Math.max(opts.maxOrder!, ...a.custom.map((c) => parseTerm(c).powers.length - 1));
    if (maxD > 4) throw new InputError(`--diff network: derivatives up to order 4 only, the library needs ${maxD}`);
    await installBackend('auto'); // for the derivative jets
    const fit = fitNetwork(field, { adamSteps: a.fitSteps, timeLimit: a.fitTime, seed: a.seed });
    out.say(`network fit: mean squared error ${fmt(fit.mse)} in ${fit.seconds.toFixed(1)} s`);
    opts.derivatives = networkDerivatives(field, fit, maxD);
  }
  if (a.method === 'auto') { const r = discoverAuto(field, opts); return { r, why: r.why }; }
  if (a.method === 'weak') return { r: discoverWeak(field, opts), why: 'weak form (--method weak)' };
  return { r: discover(field, opts), why: a.diffName === 'network'
    ? 'strong form on the derivatives of a fitted network (DL-PDE); on noisy data --method weak is the robust choice (src/sciml/README.md)'
    : 'strong form (--method strong)' };
}

/** "u_t = 0.1 u_xx - 1 u*u_x" */
function equationOf(r: DiscoverResult): string {
  return 'u_t = ' + (r.terms.length === 0 ? '0' : r.terms.map((t, i) => `${i > 0 && t.coef >= 0 ? '+ ' : i > 0 ? '- ' : t.coef < 0 ? '-' : ''}${fmt(Math.abs(t.coef))} ${t.term}`).join(' '));
}

/** The human-readable summary: grid, method, equation, each term against the truth, the residual. */
function sayResult(out: Output, a: DiscoverArgs, source: string, field: Field, r: DiscoverResult, why: string, truth: Record<string, number> | undefined,
  seconds: number): void {
  const how = r.method === 'weak' && r.weak !== undefined
    ? `weak form, ${r.weak.patches} test functions of half-width ${r.weak.widthX} x ${r.weak.widthT} points (x, t)`
    : `derivatives by ${a.diffName === 'network' ? 'a fitted network (DL-PDE)' : r.diff}`;
  out.say(`${source}: ${field.t.length} x ${field.x.length} grid, ${how} (noise estimate ${(100 * r.noiseEstimate).toFixed(2)}%), ${r.rows} rows`);
  out.say(`method: ${why}`);
  out.say(equationOf(r));
  for (const t of r.terms) {
    const rel = truth?.[t.term] !== undefined ? `  (true ${truth[t.term]}, error ${(100 * Math.abs(t.coef / truth[t.term]! - 1)).toFixed(3)}%)` : '';
    out.say(`  ${t.term.padEnd(12)} ${t.coef.toPrecision(6).padStart(12)} +- ${fmt(t.stderr)}  kept in ${(100 * t.inclusion).toFixed(0)}% of bags${rel}`);
  }
  const others = r.library.filter((l) => l.inclusion > 0 && !r.terms.some((t) => t.term === l.term));
  if (others.length > 0) out.say(`  left out: ${others.map((l) => `${l.term} ${(100 * l.inclusion).toFixed(0)}%`).join(', ')} of bags`);
  out.say(`relative residual ${fmt(r.residual)}, ${seconds.toFixed(2)} s`);
}

/** data, residual, coefficient and inclusion plots as SVG files in `dir`: their paths. */
function writePlots(dir: string, source: string, field: Field, r: DiscoverResult, truth: Record<string, number> | undefined): string[] {
  const files: string[] = [];
  mkdirSync(dir, { recursive: true });
  const write = (name: string, svg: string): void => { const p = join(dir, name); atomicWriteSync(p, svg); files.push(p); };
  write('data.svg', heatmap({ title: `u(x, t): ${source}`, x: field.x, y: field.t, values: field.u, xLabel: 'x', yLabel: 't' }));
  write('residual.svg', heatmap({ title: 'residual u_t - Theta xi', x: field.x, y: field.t, values: r.residualField, xLabel: 'x', yLabel: 't', diverging: true }));
  const lib = r.library.filter((l) => l.inclusion > 0 || r.terms.some((t) => t.term === l.term));
  write('coefficients.svg', bars({
    title: 'discovered coefficients (bars), bag spread (lines), truth (dashed)',
    labels: r.terms.map((t) => t.term), values: r.terms.map((t) => t.coef),
    errors: r.terms.map((t) => r.library.find((l) => l.term === t.term)?.bagStd ?? 0),
    reference: r.terms.map((t) => truth?.[t.term]),
  }));
  write('inclusion.svg', bars({ title: 'inclusion probability over bags', labels: lib.map((l) => l.term), values: lib.map((l) => l.inclusion) }));
  return files;
}

export const run: Command = async (argv) => {
  const a = parseArgs(argv);
  const out = new Output(a.json);
  const { field, truth, source } = loadField(a);
  const t0 = performance.now();
  const { r, why } = await discoverIn(a, field, out);
  const verdict = judge(r);
  const seconds = (performance.now() - t0) / 1000;
  sayResult(out, a, source, field, r, why, truth, seconds);
  const files = a.plots === undefined ? [] : writePlots(a.plots, source, field, r, truth);
  if (files.length > 0) out.say(`plots: ${files.join(', ')}`);
  const equation = equationOf(r);
  out.result({
    source, grid: { nt: field.t.length, nx: field.x.length }, equation,
    terms: r.terms.map((t) => ({ term: t.term, coef: t.coef, stderr: t.stderr, inclusion: t.inclusion, ...(truth?.[t.term] !== undefined ? { truth: truth[t.term] } : {}) })),
    residual: r.residual, rows: r.rows, method: r.method, why, diff: a.diffName === 'network' ? 'network' : r.diff, weak: r.weak,
    noiseEstimate: r.noiseEstimate, tolerance: r.tolerance, l0: r.l0, stability: r.stability,
    ok: verdict.ok, verdict: verdict.reason, best: r.terms.length > 0 ? { equation, residual: r.residual } : r.best,
    library: r.library, seconds, files,
  });
  if (!verdict.ok) throw new CheckError(`${source}: ${verdict.reason}`);
  return 0;
};
