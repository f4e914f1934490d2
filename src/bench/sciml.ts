// `furnace bench sciml`: data generation, equation discovery and PINN loss evaluation speeds
// (fused Float64 jets against the tensor engine's ops and autograd on the js and the fastest backend).
import { fmt, type Output } from '../util/output.js';
import { accuracyTable, markdownTable } from '../sciml/accuracy.js';
import { discover } from '../sciml/discover.js';
import { burgersPeriodic, kdv } from '../sciml/generators.js';
import { burgersForward } from '../sciml/pinn/problems.js';
import { DEFAULT_TRAIN, pinnObjective } from '../sciml/pinn/train.js';
import { createBackend } from '../backends/index.js';
import { JsBackend } from '../backends/js.js';
import { setBackend } from '../tensor/engine.js';

/** Best wall time of `repeat` runs of fn, in seconds (the machine is shared: take the best). */
function best(repeat: number, fn: () => void): number {
  return bestOf(repeat, fn).wall;
}

/** Best wall and best process CPU time (user + system) of `repeat` runs; CPU time is what a
 * comparison on a loaded machine can trust. */
function bestOf(repeat: number, fn: () => void): { wall: number; cpu: number } {
  let wall = Infinity, cpu = Infinity;
  for (let r = 0; r < repeat; r++) {
    const c0 = process.cpuUsage(), t0 = performance.now();
    fn();
    const c = process.cpuUsage(c0);
    wall = Math.min(wall, (performance.now() - t0) / 1000);
    cpu = Math.min(cpu, (c.user + c.system) / 1e6);
  }
  return { wall, cpu };
}

export interface ScimlBenchOptions {
  /** Runs per measurement; the best time counts. */
  repeat: number;
  /** Collocation points of the PINN evaluation. */
  points: number;
  /** Instead of speeds: the discovery accuracy table (equation x noise x method, src/sciml/README.md),
   * with this many seconds of network fit per case (0: no network rows). */
  tableFitTime?: number;
}

export async function benchSciml({ repeat, points, tableFitTime }: ScimlBenchOptions, out: Output): Promise<number> {
  if (tableFitTime !== undefined) {
    if (tableFitTime > 0) setBackend(await createBackend('auto', { threads: 1 })); // the network's derivative jets
    const rows = accuracyTable([0.01, 0.05], tableFitTime, (r) => out.say(`${r.equation} ${100 * r.noise}% ${r.method}: ${r.right ? 'right' : 'wrong'} in ${r.seconds.toFixed(1)} s`));
    out.say(markdownTable(rows));
    out.result({ rows });
    return 0;
  }
  const res: Record<string, number> = {};
  res['burgers_generate_s'] = best(repeat, () => burgersPeriodic());
  res['kdv_generate_s'] = best(1, () => kdv());
  const b = burgersPeriodic();
  res['discover_burgers_s'] = best(repeat, () => discover(b, { maxOrder: 4, bags: 0 }));
  const p = burgersForward({ collocation: points, boundary: 100, reference: { nx: 64, nt: 20 } });
  const runs: [string, () => Promise<void>][] = [['fused', async () => {}], ['engine_js', async () => setBackend(new JsBackend())],
    ['engine_auto', async () => setBackend(await createBackend('auto', { threads: 1 }))]];
  for (const [name, prepare] of runs) {
    await prepare();
    const obj = pinnObjective(p, { ...DEFAULT_TRAIN, evaluator: name === 'fused' ? 'fused' : 'engine' });
    const g = new Float64Array(obj.theta.length);
    const ev = name === 'fused' ? obj.fusedEvaluate : obj.engineEvaluate;
    const t = bestOf(repeat, () => ev(obj.theta, g, false));
    res[`pinn_eval_${name}_s`] = t.wall;
    res[`pinn_eval_${name}_cpu_s`] = t.cpu;
  }
  out.say(`Burgers data (256 x 101, ETDRK4): ${fmt(res['burgers_generate_s']!)} s; KdV (512 x 201): ${fmt(res['kdv_generate_s']!)} s`);
  out.say(`discovery on Burgers (15 terms, finite differences, no bagging): ${fmt(res['discover_burgers_s']!)} s`);
  out.say(`PINN loss + gradient, Burgers, ${points} collocation points, 8 x 20 tanh network (wall / CPU seconds):`);
  for (const [name] of runs) out.say(`  ${name.padEnd(12)} ${fmt(res[`pinn_eval_${name}_s`]!)} / ${fmt(res[`pinn_eval_${name}_cpu_s`]!)}`);
  out.result({ points, repeat, ...res });
  return 0;
}
