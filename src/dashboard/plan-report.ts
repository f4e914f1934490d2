// One planning problem solved the way `furnace plan` solves it, as the plans page and `plan --report` show it
// (browser-safe: the web app runs this in the page).
import { withDevices, type ClusterSpec } from '../planner/cluster.js';
import { prepare, type PlanContext } from '../planner/context.js';
import { explain } from '../planner/explain.js';
import type { ModelSpec } from '../planner/model.js';
import { search, type SearchResult } from '../planner/search.js';
import type { TrainingSpec } from '../planner/training.js';
import type { PlanReport } from './types.js';

/** The report of a search the caller already ran (what `furnace plan --report` passes). */
export function planReportOf(ctx: PlanContext, r: SearchResult, explanation: string[]): PlanReport {
  const cluster = r.devices === ctx.cluster.devices ? ctx.cluster : withDevices(ctx.cluster, r.devices);
  return { model: ctx.model, cluster, training: ctx.training, plans: r.plans, explanation, searched: r.searched, evaluated: r.evaluated, devices: r.devices };
}

/** Searches like `furnace plan --model M --cluster C --train T --top K` (no --fix) and explains the winner. */
export function planProblem(model: ModelSpec, cluster: ClusterSpec, training: TrainingSpec, top = 5): PlanReport {
  const ctx = prepare(model, cluster, training);
  const r = search(ctx, { top });
  const noEp = model.experts > 0 ? search(ctx, { top: 1, noExpertParallel: true }) : undefined;
  const noEpBest = noEp === undefined ? undefined : noEp.plans[0] ?? null;
  const report = planReportOf(ctx, r, []);
  report.explanation = explain({ ...ctx, cluster: report.cluster }, r, noEpBest);
  report.searched += noEp?.searched ?? 0;
  return report;
}
