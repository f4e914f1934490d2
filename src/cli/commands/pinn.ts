// `furnace pinn`: train a physics-informed network (data + PDE residual + initial/boundary conditions).
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROBLEMS, parseConfig, type PinnConfig } from '../../sciml/pinn/config.js';
import { burgersForward, burgersInverse, type PinnProblem } from '../../sciml/pinn/problems.js';
import { trainPinn, type TrainResult } from '../../sciml/pinn/train.js';
import { heatmap, lines } from '../../sciml/svg.js';
import { installBackend } from '../../backends/index.js';
import { InputError, UsageError, errnoCode, errorMessage } from '../../util/errors.js';
import { checkInputPath, checkOutputDir } from '../../util/paths.js';
import { checkMemory } from '../../util/memory.js';
import { atomicWriteSync } from '../../util/durable.js';
import { Output, Progress, fmt } from '../../util/output.js';
import { intFlag, numFlag, parse, type Command } from '../util.js';

const USAGE = `usage: furnace pinn (--problem ${PROBLEMS.join('|')} | --config FILE) [--weighting fixed|annealing|dual]
  [--compare] [--adam-steps N] [--lbfgs-steps N] [--collocation N] [--batch N] [--noise P] [--time-limit S] [--adam-time S]
  [--seed N] [--out DIR] [--no-plots] [--json]
--compare trains with fixed weights and with the chosen adaptive weighting (default annealing) on the
same budget and reports the ratio of their errors.`;

/** The command line, checked: the training config (flags over --config or --problem) and where results go. */
interface PinnArgs {
  cfg: PinnConfig;
  /** The config file, or 'pinn': where a config error points. */
  where: string;
  /** Whether the config chose the evaluator (otherwise the backend decides). */
  evaluatorGiven: boolean;
  compare: boolean;
  /** Folder of the plots, or undefined with --no-plots. */
  plots: string | undefined;
  json: boolean;
}

function parseArgs(argv: string[]): PinnArgs {
  const { values: v } = parse(argv, {
    problem: { type: 'string' }, config: { type: 'string' }, weighting: { type: 'string' }, compare: { type: 'boolean' },
    'adam-steps': { type: 'string' }, 'lbfgs-steps': { type: 'string' }, collocation: { type: 'string' }, batch: { type: 'string' },
    noise: { type: 'string' }, 'time-limit': { type: 'string' }, 'adam-time': { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' },
    'no-plots': { type: 'boolean' }, json: { type: 'boolean' },
  }, false, USAGE);
  if ((v.problem === undefined) === (v.config === undefined)) throw new UsageError('pinn: give exactly one of --problem NAME or --config FILE');
  const dir = v.out ?? join('furnace-out', 'pinn');
  if (v['no-plots'] !== true || v.out !== undefined) checkOutputDir('--out', dir);
  const raw: Record<string, unknown> = v.config !== undefined ? readConfig(v.config) : { problem: v.problem };
  const flag = (k: string, val: unknown): void => { if (val !== undefined) raw[k] = val; };
  flag('weighting', v.weighting);
  flag('adamSteps', intFlag('adam-steps', v['adam-steps'], 0));
  flag('lbfgsSteps', intFlag('lbfgs-steps', v['lbfgs-steps'], 0));
  flag('collocation', intFlag('collocation', v.collocation, 1));
  flag('batch', intFlag('batch', v.batch, 0));
  flag('noise', numFlag('noise', v.noise, 0, 10));
  flag('timeLimit', numFlag('time-limit', v['time-limit'], 0));
  flag('adamTimeLimit', numFlag('adam-time', v['adam-time'], 0));
  flag('seed', intFlag('seed', v.seed, 0));
  const where = v.config ?? 'pinn';
  return { cfg: parseConfig(raw, where), where, evaluatorGiven: raw['evaluator'] !== undefined, compare: v.compare === true,
    plots: v['no-plots'] === true ? undefined : dir, json: v.json === true };
}

/** The JSON object of a --config file. */
function readConfig(path: string): Record<string, unknown> {
  let text: string, raw: unknown;
  checkInputPath('--config', path, 'file');
  try { text = readFileSync(path, 'utf8'); } catch (e) { throw new InputError(`--config: cannot read '${path}' (${errnoCode(e) ?? 'error'})`); }
  try { raw = JSON.parse(text); } catch (e) { throw new InputError(`${path}: not valid JSON (${errorMessage(e).split('\n')[0]})`); }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InputError(`${path}: expected a JSON object`);
  return raw as Record<string, unknown>;
}

/** What every training run of one command shares. */
interface PinnContext { problem: PinnProblem; backend: string; out: Output }

/** Trains once under c, printing the progress and the errors against the truth. */
function trainOne(ctx: PinnContext, c: PinnConfig, label: string): TrainResult {
  const { problem, out } = ctx;
  const progress = new Progress(c.adamSteps + c.lbfgsSteps, label);
  const r = trainPinn(problem, c, (row) => {
    progress.update(row.phase === 'adam' ? row.step : c.adamSteps + row.step, { loss: row.loss });
    if (out.json) return;
    const coefs = Object.entries(row.coefs).filter(([k]) => problem.coefs.find((q) => q.term === k)?.trainable).map(([k, x]) => `${k} ${fmt(x)}`).join(' ');
    out.say(`  ${label} ${row.phase} ${row.step}: loss ${fmt(row.loss)} (${Object.entries(row.parts).map(([k, x]) => `${k} ${fmt(x)}`).join(', ')})${coefs ? '  ' + coefs : ''}`);
  });
  progress.done();
  out.say(`${label}: relative L2 error ${fmt(r.relL2)} after ${r.adamSteps} Adam steps and ${r.lbfgsIterations} L-BFGS iterations (${r.lbfgsReason}), ${r.seconds.toFixed(1)} s`);
  for (const [k, e] of Object.entries(r.coefErrors)) out.say(`  ${k}: ${r.coefs[k]!.toPrecision(6)} (true ${problem.truth[k]!.toPrecision(6)}, error ${(100 * e).toFixed(3)}%)`);
  return r;
}

/** One run in the JSON result. */
function summary(ctx: PinnContext, r: TrainResult, c: PinnConfig): Record<string, unknown> {
  return {
    weighting: c.weighting, evaluator: c.evaluator === 'engine' ? `engine/${ctx.backend}` : 'fused', relL2: r.relL2, coefs: r.coefs, coefErrors: r.coefErrors, adamSteps: r.adamSteps,
    lbfgsIterations: r.lbfgsIterations, lbfgsReason: r.lbfgsReason, seconds: r.seconds,
    finalLoss: r.history[r.history.length - 1]?.loss, finalWeights: r.history[r.history.length - 1]?.weights,
  };
}

/** Solution, error, residual and loss plots of one run as SVG files `dir/prefix*.svg`: their paths. */
function writePlots(dir: string, prefix: string, problem: PinnProblem, r: TrainResult): string[] {
  const files: string[] = [];
  mkdirSync(dir, { recursive: true });
  const ref = problem.reference;
  const write = (name: string, svg: string): void => { const p = join(dir, prefix + name); atomicWriteSync(p, svg); files.push(p); };
  const err = r.prediction.map((u, i) => u - ref.u[i]!);
  write('solution.svg', heatmap({ title: `network u(x, t), ${problem.name}`, x: ref.x, y: ref.t, values: r.prediction, xLabel: 'x', yLabel: 't' }));
  write('error.svg', heatmap({ title: `u_net - u_exact (relative L2 ${fmt(r.relL2)})`, x: ref.x, y: ref.t, values: err, xLabel: 'x', yLabel: 't', diverging: true }));
  write('residual.svg', heatmap({ title: 'PDE residual of the network', x: ref.x, y: ref.t, values: r.residual, xLabel: 'x', yLabel: 't', diverging: true }));
  const keys = Object.keys(r.history[0]?.parts ?? {});
  const step = (h: TrainResult['history'][number]): number => (h.phase === 'adam' ? h.step : r.adamSteps + h.step);
  write('loss.svg', lines({ title: 'loss terms (Adam, then L-BFGS)', xLabel: 'iteration', yLabel: 'loss', logY: true,
    series: keys.map((k) => ({ name: k, x: r.history.map(step), y: r.history.map((h) => h.parts[k]!) })) }));
  return files;
}

/** --compare: fixed weights against the adaptive weighting, same budget; the ratio of their errors. */
function compareWeightings(ctx: PinnContext, cfg: PinnConfig, plots: string | undefined): number {
  const adaptive = cfg.weighting === 'fixed' ? 'annealing' : cfg.weighting;
  const fixedCfg: PinnConfig = { ...cfg, weighting: 'fixed' }, adaptCfg: PinnConfig = { ...cfg, weighting: adaptive };
  const fixed = trainOne(ctx, fixedCfg, 'fixed');
  const adapt = trainOne(ctx, adaptCfg, adaptive);
  const files = plots === undefined ? [] : [...writePlots(plots, 'fixed-', ctx.problem, fixed), ...writePlots(plots, `${adaptive}-`, ctx.problem, adapt)];
  const ratio = fixed.relL2 / adapt.relL2;
  ctx.out.say(`error ratio fixed / ${adaptive}: ${fmt(ratio)}`);
  ctx.out.result({ problem: ctx.problem.name, fixed: summary(ctx, fixed, fixedCfg), adaptive: summary(ctx, adapt, adaptCfg), errorRatio: ratio, files });
  return 0;
}

export const run: Command = async (argv) => {
  const a = parseArgs(argv);
  const out = new Output(a.json), cfg = a.cfg;
  preflightPinn(cfg, a.where);
  // The engine on the fastest kernels here (blas or wasm); on the plain js backend the fused
  // Float64 path is faster, so it is the default there.
  const backend = await installBackend('auto');
  if (!a.evaluatorGiven) cfg.evaluator = backend.name === 'js' ? 'fused' : 'engine';
  const ctx: PinnContext = { problem: makeProblem(cfg), backend: backend.name, out };
  out.say(`${ctx.problem.name}: ${ctx.problem.collocation.x.length} collocation points, network ${cfg.widths.join('-')}, ${cfg.weighting} weights, ${cfg.evaluator === 'engine' ? `engine on ${backend.name}` : 'fused Float64 jets'}`);
  if (a.compare) return compareWeightings(ctx, cfg, a.plots);
  const r = trainOne(ctx, cfg, cfg.weighting);
  const files = a.plots === undefined ? [] : writePlots(a.plots, '', ctx.problem, r);
  if (files.length > 0) out.say(`plots: ${files.join(', ')}`);
  out.result({ problem: ctx.problem.name, ...summary(ctx, r, cfg), files });
  return 0;
};

/**
 * Refuses a network and point set that cannot fit, before anything is allocated. The full batch
 * (L-BFGS) holds, per point and per layer of width w, the value and its derivatives (u, u_x, u_t,
 * u_xx) forward and backward: N * sum(w) * 4 * 2 Float64s; the parameters with Adam's moments
 * and the gradient are 4 * sum(w_i * w_{i+1} + w_{i+1}) Float64s.
 */
function preflightPinn(c: PinnConfig, where: string): void {
  const points = c.collocation + c.boundary + c.dataPoints;
  const units = c.widths.reduce((s, w) => s + w, 0);
  const params = c.widths.slice(1).reduce((s, w, i) => s + (c.widths[i] ?? 0) * w + w, 0);
  const activations = 8 * points * units * 4 * 2, weights = 8 * 4 * params;
  checkMemory(activations + weights, { backend: 'auto', where: `${where}: the network`,
    detail: `${fmt(params)} parameters, ${fmt(points)} points through ${fmt(units)} units` });
}

function makeProblem(c: PinnConfig): PinnProblem {
  const o = { collocation: c.collocation, boundary: c.boundary, dataPoints: c.dataPoints, noise: c.noise, seed: c.seed };
  return c.problem === 'burgers' ? burgersForward(o) : burgersInverse(o);
}

