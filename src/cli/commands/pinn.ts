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

export const run: Command = async (argv) => {
  const { values: v } = parse(argv, {
    problem: { type: 'string' }, config: { type: 'string' }, weighting: { type: 'string' }, compare: { type: 'boolean' },
    'adam-steps': { type: 'string' }, 'lbfgs-steps': { type: 'string' }, collocation: { type: 'string' }, batch: { type: 'string' },
    noise: { type: 'string' }, 'time-limit': { type: 'string' }, 'adam-time': { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' },
    'no-plots': { type: 'boolean' }, json: { type: 'boolean' },
  }, false, USAGE);
  const out = new Output(v.json === true);
  if ((v.problem === undefined) === (v.config === undefined)) throw new UsageError('pinn: give exactly one of --problem NAME or --config FILE');
  const dir = v.out ?? join('furnace-out', 'pinn');
  if (v['no-plots'] !== true || v.out !== undefined) checkOutputDir('--out', dir);
  let raw: Record<string, unknown> = {};
  if (v.config !== undefined) {
    let text: string;
    checkInputPath('--config', v.config, 'file');
    try { text = readFileSync(v.config, 'utf8'); } catch (e) { throw new InputError(`--config: cannot read '${v.config}' (${errnoCode(e) ?? 'error'})`); }
    try { raw = JSON.parse(text) as Record<string, unknown>; } catch (e) { throw new InputError(`${v.config}: not valid JSON (${errorMessage(e).split('\n')[0]})`); }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InputError(`${v.config}: expected a JSON object`);
  } else raw = { problem: v.problem };
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
  const cfg: PinnConfig = parseConfig(raw, v.config ?? 'pinn');
  // The engine on the fastest kernels here (blas or wasm); on the plain js backend the fused
  // Float64 path is faster, so it is the default there.
  preflightPinn(cfg, v.config ?? 'pinn');
  const backend = await installBackend('auto');
  if (raw['evaluator'] === undefined) cfg.evaluator = backend.name === 'js' ? 'fused' : 'engine';
  const problem = makeProblem(cfg);

  const runOne = (c: PinnConfig, label: string): TrainResult => {
    const total = c.adamSteps + c.lbfgsSteps;
    const progress = new Progress(total, label);
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
  };
  out.say(`${problem.name}: ${problem.collocation.x.length} collocation points, network ${cfg.widths.join('-')}, ${cfg.weighting} weights, ${cfg.evaluator === 'engine' ? `engine on ${backend.name}` : 'fused Float64 jets'}`);
  const summary = (r: TrainResult, c: PinnConfig) => ({
    weighting: c.weighting, evaluator: c.evaluator === 'engine' ? `engine/${backend.name}` : 'fused', relL2: r.relL2, coefs: r.coefs, coefErrors: r.coefErrors, adamSteps: r.adamSteps,
    lbfgsIterations: r.lbfgsIterations, lbfgsReason: r.lbfgsReason, seconds: r.seconds,
    finalLoss: r.history[r.history.length - 1]?.loss, finalWeights: r.history[r.history.length - 1]?.weights,
  });
  const files: string[] = [];
  const plot = (r: TrainResult, prefix: string): void => {
    if (v['no-plots'] === true) return;
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
  };

  if (v.compare === true) {
    const adaptive = cfg.weighting === 'fixed' ? 'annealing' : cfg.weighting;
    const fixed = runOne({ ...cfg, weighting: 'fixed' }, 'fixed');
    const adapt = runOne({ ...cfg, weighting: adaptive }, adaptive);
    plot(fixed, 'fixed-'); plot(adapt, `${adaptive}-`);
    const ratio = fixed.relL2 / adapt.relL2;
    out.say(`error ratio fixed / ${adaptive}: ${fmt(ratio)}`);
    out.result({ problem: problem.name, fixed: summary(fixed, { ...cfg, weighting: 'fixed' }), adaptive: summary(adapt, { ...cfg, weighting: adaptive }), errorRatio: ratio, files });
    return 0;
  }
  const r = runOne(cfg, cfg.weighting);
  plot(r, '');
  if (files.length > 0) out.say(`plots: ${files.join(', ')}`);
  out.result({ problem: problem.name, ...summary(r, cfg), files });
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

