// `furnace bench plan`: how long full plan searches take here (best of several repeats; node-only).
import { withDevices, type ClusterSpec } from '../planner/cluster.js';
import { prepare } from '../planner/context.js';
import { CLUSTER_PRESETS, MODEL_PRESETS, defaultTraining } from '../planner/presets.js';
import { search } from '../planner/search.js';
import type { Output } from '../util/output.js';

const CASES = [
  { name: 'gpt3-175b on 1,024 a100-selene', model: 'gpt3-175b', cluster: 'a100-selene', devices: 1024, target: 2 },
  { name: 'bagualu-174t on sunway-oceanlight (96,000 nodes)', model: 'bagualu-174t', cluster: 'sunway-oceanlight', devices: 96000, target: 5 },
  { name: 'bagualu-14.5t on sunway-oceanlight (96,000 nodes)', model: 'bagualu-14.5t', cluster: 'sunway-oceanlight', devices: 96000, target: 5 },
] as const;

export interface PlanBenchOptions {
  /** Searches per case; the best time counts. */
  repeat: number;
}

export async function benchPlan({ repeat }: PlanBenchOptions, out: Output): Promise<number> {
  const results = [];
  for (const c of CASES) {
    const model = MODEL_PRESETS[c.model]!;
    const cluster = withDevices(CLUSTER_PRESETS[c.cluster] as ClusterSpec, c.devices);
    const ctx = prepare(model, cluster, defaultTraining(model, cluster.devices));
    let best = Infinity, searched = 0;
    for (let i = 0; i < repeat; i++) {
      const t0 = performance.now();
      searched = search(ctx, { top: 5 }).searched;
      best = Math.min(best, (performance.now() - t0) / 1000);
    }
    out.say(`${c.name.padEnd(52)} ${searched.toString().padStart(9)} plans  ${best.toFixed(3)} s (target < ${c.target} s)`);
    results.push({ case: c.name, searched, seconds: best, target_seconds: c.target });
  }
  out.result({ repeat, results });
  return 0;
}
