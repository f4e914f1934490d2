// Short reasons why the best plan wins: where its time goes and what each other choice would cost.
import type { PlanContext } from './context.js';
import { estimate, type Breakdown, type Estimate } from './cost.js';
import type { ParallelPlan, Recompute, ZeroStage } from './plan.js';
import { rankImbalance } from './context.js';
import { worldSize } from './plan.js';
import { search, type Alternative, type SearchResult } from './search.js';
import { bubbleFraction, layersOf } from './stages.js';

const LABELS: Record<keyof Breakdown, string> = {
  compute: 'compute', bubble: 'pipeline bubble', tp: 'TP all-reduce', ep: 'EP all-to-all', wait: 'expert-load wait', pp: 'pipeline sends',
  dp: 'gradient all-reduce', zero: 'ZeRO-3 gathers', optimizer: 'optimizer step', checkpoint: 'checkpoint',
};

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

function secs(x: number): string {
  return Math.abs(x) >= 1 ? `${x.toFixed(2)} s` : Math.abs(x) >= 1e-3 ? `${(x * 1e3).toFixed(1)} ms` : `${(x * 1e6).toFixed(0)} us`;
}

export function bytes(x: number): string {
  return x >= 1e9 ? `${(x / 1e9).toFixed(1)} GB` : x >= 1e6 ? `${(x / 1e6).toFixed(1)} MB` : `${(x / 1e3).toFixed(1)} kB`;
}

export function describePlan(e: Estimate): string {
  const p = e.plan, t = p.placement.tiers ?? {};
  const v = (p.virtualStages ?? 1) > 1 ? `, interleaved x${p.virtualStages}` : '';
  const parts = [`tp=${p.tp}${p.tp > 1 ? ` (${t.tp})` : ''}`, `pp=${p.pp}${p.pp > 1 ? ` (${t.pp}${v})` : ''}`,
    `dp=${p.dp}${p.dp > 1 ? ` (${t.dp})` : ''}`];
  if (p.ep > 1) parts.push(`ep=${p.ep} (${t.ep})`);
  return `${parts.join(' x ')}, ZeRO-${p.zero}, micro-batch ${p.microBatch}, recompute ${p.recompute}`;
}

/** Stage sizes with runs folded: [7, 8, 8, 8, 7] -> "7, 8 x 3, 7". */
export function describeSplit(split: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < split.length;) {
    let j = i;
    while (j < split.length && split[j] === split[i]) j++;
    out.push(j - i > 1 ? `${split[i]} x ${j - i}` : `${split[i]}`);
    i = j;
  }
  return out.join(', ');
}

/** Whether some tp x pp x dp uses exactly n devices (tp dividing the heads, pp at most the layers, dp the batch). */
function exactLayoutExists(ctx: PlanContext, n: number): boolean {
  const m = ctx.model;
  for (let tp = 1; tp <= Math.min(n, m.heads); tp++) {
    if (m.heads % tp !== 0 || m.ffn_hidden % tp !== 0 || (m.kv_heads ?? m.heads) % tp !== 0) continue;
    for (let pp = 1; pp <= Math.min(m.layers, n / tp); pp++) if (n % (tp * pp) === 0 && ctx.batch % (n / (tp * pp)) === 0) return true;
  }
  return false;
}

/**
 * What shapes the winner beyond its breakdown: devices left idle (and why), the pipeline's stage split and
 * bubble formula with its numbers, and the expert-load imbalance the all-to-all waits for.
 */
function structure(ctx: PlanContext, r: SearchResult, best: Estimate): string[] {
  const p = best.plan, lines: string[] = [];
  const used = worldSize(p), n = r.devices;
  if (used < n) {
    const exact = exactLayoutExists(ctx, n);
    lines.push(`devices: uses ${used} of ${n}, ${n - used} idle: ${exact
      ? `faster than every plan on all ${n} that fits (a deeper pipeline with as full a slowest stage only adds bubble)`
      : `no tp x pp x dp equals ${n} with dp dividing the batch of ${ctx.batch} sequences`}`);
  }
  if (p.pp > 1) {
    const split = layersOf(ctx, p), v = p.virtualStages ?? 1, m = ctx.batch / p.dp / p.microBatch;
    const even = split.every((k) => k === split[0]);
    const why = even ? '' : ` (balanced by cost: the last stage also computes the logits, ${(ctx.stats.logitFlops / ctx.stats.denseLayerFlops).toFixed(2)} of a layer's FLOPs; the first keeps the most micro-batches in flight)`;
    const f = bubbleFraction(p.pp, m, v);
    const sched = v > 1 ? `interleaved 1F1B, ${v} chunks per device (${v}x the pipeline sends), bubble (p-1)/(v m+p-1) = ${p.pp - 1}/(${v}x${m}+${p.pp - 1})`
      : `1F1B, bubble (p-1)/(m+p-1) = ${p.pp - 1}/(${m}+${p.pp - 1})`;
    lines.push(`pipeline: ${p.pp} stages of ${describeSplit(split)} layers${why}; ${sched} = ${pct(f.ofStep)} of the step, ${pct(f.ofIdeal)} over the ideal`);
  }
  if (ctx.model.experts > 0) {
    const given = ctx.training.expert_imbalance !== undefined;
    const src = given ? 'measured or given' : "the capacity factor's cap";
    const head = `expert load: busiest expert ${ctx.imbalance.toFixed(2)}x the mean (${src})`;
    if (ctx.training.padded_compute !== false) lines.push(`${head}; experts compute their padded capacity, so no rank waits for another`);
    else if (p.ep > 1) lines.push(`${head}; the busiest of ${p.ep} ep ranks computes ${rankImbalance(ctx, p.ep).toFixed(2)}x the mean, the others wait ${secs(best.breakdown.wait)} per step at the all-to-all`);
    else lines.push(`${head}; with ep=1 every rank computes its own tokens' experts: no rank waits for another's`);
  }
  return lines;
}

/** The two causes that change most between `best` and `other`, e.g. "pipeline bubble +1.40 s". */
function topChanges(best: Breakdown, other: Breakdown): string {
  const keys = Object.keys(LABELS) as (keyof Breakdown)[];
  return keys.map((k) => ({ k, d: other[k] - best[k] }))
    .filter((x) => Math.abs(x.d) > 0)
    .sort((a, b) => Math.abs(b.d) - Math.abs(a.d))
    .slice(0, 2)
    .map((x) => `${LABELS[x.k]} ${x.d > 0 ? '+' : '-'}${secs(Math.abs(x.d))}`)
    .join(', ');
}

/** The best plan with one choice changed (dp absorbs a change of tp or pp), if it is valid and fits. */
function neighbour(ctx: PlanContext, best: ParallelPlan, a: Alternative): Estimate | undefined {
  const m = ctx.model;
  // The stage split and interleaving belong to the winner's pp: a neighbour gets its own.
  const { ppLayers: _split, virtualStages: _v, ...rest } = best;
  const p: ParallelPlan = a.choice === 'tp' || a.choice === 'pp' ? rest : { ...best };
  const v = a.value;
  if (a.choice === 'tp' || a.choice === 'pp') {
    const n = v as number, old = a.choice === 'tp' ? best.tp : best.pp;
    const dp = (best.dp * old) / n;
    if (!Number.isInteger(dp) || dp % best.ep !== 0 || ctx.batch % dp !== 0 || (ctx.batch / dp) % best.microBatch !== 0) return undefined;
    if (a.choice === 'tp' && (m.heads % n !== 0 || m.ffn_hidden % n !== 0)) return undefined;
    if (a.choice === 'pp' && n > m.layers) return undefined;
    p.dp = dp;
    if (a.choice === 'tp') p.tp = n; else p.pp = n;
  } else if (a.choice === 'ep') {
    p.ep = v as number;
    if (best.dp % p.ep !== 0 || m.experts % p.ep !== 0) return undefined;
  } else if (a.choice === 'zero') {
    p.zero = v as ZeroStage;
  } else {
    p.recompute = v as Recompute;
  }
  if (p.dp === 1 && p.zero > 0) return undefined;
  const e = estimate(ctx, p);
  return e.fits ? e : undefined;
}

/** When no plan with another value was timed (all ranked below the top), search the value nearest the
 * winner's with that value pinned. */
function closestSearch(ctx: PlanContext, others: Alternative[], current: number | string): { a: Alternative; e: Estimate } | undefined {
  const fitting = others.filter((a) => a.fitting > 0 && typeof a.value === 'number' && typeof current === 'number');
  const a = fitting.sort((x, y) => Math.abs(Math.log((x.value as number) / (current as number))) - Math.abs(Math.log((y.value as number) / (current as number))))[0];
  if (a === undefined) return undefined;
  const e = search(ctx, { top: 1, fix: { [a.choice]: a.value } }).plans[0];
  return e === undefined ? undefined : { a, e };
}

/**
 * Lines explaining the winner: its time breakdown, then for each choice (tp, pp, ep, ZeRO, recompute)
 * the cost of changing only that choice (or, when no such plan fits, the best plan with another value),
 * and the values that never fit. `noEp` is the best plan without expert parallelism (MoE models).
 */
export function explain(ctx: PlanContext, r: SearchResult, noEp?: Estimate | null): string[] {
  const best = r.plans[0];
  if (best === undefined) {
    return [Number.isFinite(r.leanestBytes)
      ? `no plan fits: the leanest candidate needs at least ${bytes(r.leanestBytes)} per device, the devices have ${bytes(ctx.cluster.device.memory_bytes)}`
      : 'no candidate plan: no layout divides the devices, batch, heads and layers'];
  }
  const lines: string[] = [];
  const b = best.breakdown;
  const shares = (Object.keys(LABELS) as (keyof Breakdown)[])
    .filter((k) => b[k] > 0).sort((x, y) => b[y] - b[x]).slice(0, 4)
    .map((k) => `${LABELS[k]} ${pct(b[k] / best.stepTime)}`);
  const hfu = best.hfu > best.mfu * 1.001 ? `, HFU ${pct(best.hfu)} counting recomputation` : '';
  lines.push(`step ${secs(best.stepTime)}: ${shares.join(', ')}; MFU ${pct(best.mfu)}${hfu}; memory ${bytes(best.memory.total)} of ${bytes(ctx.cluster.device.memory_bytes)}`);
  lines.push(...structure(ctx, r, best));
  const current: Record<string, number | string> = { tp: best.plan.tp, pp: best.plan.pp, ep: best.plan.ep, zero: best.plan.zero, recompute: best.plan.recompute };
  for (const choice of ['tp', 'pp', 'ep', 'zero', 'recompute'] as const) {
    const others = r.alternatives.filter((a) => a.choice === choice && a.value !== current[choice]);
    if (others.length === 0) continue;
    let line = '';
    const near = others.map((a) => ({ a, e: neighbour(ctx, best.plan, a) }))
      .filter((x): x is { a: Alternative; e: Estimate } => x.e !== undefined)
      .sort((x, y) => x.e.stepTime - y.e.stepTime)[0];
    const runner = near ?? others.filter((a) => a.best !== undefined)
      .map((a) => ({ a, e: a.best! })).sort((x, y) => x.e.stepTime - y.e.stepTime)[0] ?? closestSearch(ctx, others, current[choice]!);
    if (runner !== undefined) {
      const slower = runner.e.stepTime / best.stepTime - 1;
      const how = near !== undefined ? (choice === 'tp' || choice === 'pp' ? `, dp=${runner.e.plan.dp}, rest unchanged` : ', rest unchanged') : ', best such plan';
      const what = Math.abs(slower) < 5e-4
        ? `same step time, ${bytes(runner.e.memory.total)} instead of ${bytes(best.memory.total)} per device`
        : `${slower >= 0 ? '+' : ''}${pct(slower)} step time (${topChanges(b, runner.e.breakdown)})`;
      line = `${choice}=${runner.a.value} instead of ${current[choice]}${how}: ${what}`;
    }
    const values = (vs: (number | string)[]) => vs.length > 5 ? `${vs.slice(0, 3).join('/')}/.../${vs[vs.length - 1]} (${vs.length} values)` : vs.join('/');
    const never = others.filter((a) => a.fitting === 0).map((a) => a.value);
    if (never.length > 0) line += `${line === '' ? '' : '; '}${choice}=${values(never)} never fit in memory`;
    if (runner === undefined) {
      const slow = others.filter((a) => a.fitting > 0).map((a) => a.value);
      if (slow.length > 0) line += `${line === '' ? '' : '; '}${choice}=${values(slow)} fit but cannot reach the top ${r.plans.length}`;
    }
    if (line !== '') lines.push(line);
  }
  const ck = best.checkpoint;
  if (Number.isFinite(ck.seconds)) {
    const tiers = ctx.cluster.tiers;
    const where = Number.isFinite(ck.blocks) ? ` in ${ck.blocks} ${tiers[tiers.length - 2]!.name} block(s)` : '';
    lines.push(`checkpoint: ${secs(ck.seconds)} with ${ck.writers} writers${where}${best.plan.zero >= 1 ? ' (ZeRO shards the optimizer state over every rank)' : ''}`);
  }
  if (noEp !== undefined) {
    lines.push(noEp === null
      ? 'without expert parallelism no plan fits: experts must be spread over devices'
      : best.plan.ep > 1
        ? `hybrid DP+EP is ${(noEp.stepTime / best.stepTime).toFixed(2)}x faster than the best plan without expert parallelism (${describePlan(noEp)}: ${secs(noEp.stepTime)})`
        : 'expert parallelism does not pay off here: the best plan keeps every expert on each data-parallel rank');
  }
  return lines;
}
