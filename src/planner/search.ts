// Exhaustive search over dp, tp, pp, ep, ZeRO stage, micro-batch, recompute and placement, best first.
import { withDevices } from './cluster.js';
import { groupLayout } from './collectives.js';
import type { PlanContext } from './context.js';
import { commCosts, finish, stepWork, timeBreakdown, total, type Breakdown, type CommCosts, type Estimate } from './cost.js';
import { memoryPerDevice, modelStates, stageParams } from './memory.js';
import { missingCapabilities } from './runnable.js';
import { costSplit, virtualChoices } from './stages.js';
import { DEFAULT_ORDER, DIMS, RECOMPUTE, ZERO_STAGES, type Dim, type FixedChoices, type ParallelPlan, type Recompute, type ZeroStage } from './plan.js';
import { InputError } from '../util/errors.js';

export interface SearchOptions {
  fix?: FixedChoices;
  /** How many plans to return. */
  top?: number;
  /** Only plans with ep = 1 (to compare against the best plan with expert parallelism). */
  noExpertParallel?: boolean;
  /** Largest micro-batch tried (sequences). */
  maxMicroBatch?: number;
}

/** The best plan found for one value of one choice, for explanations ("why not tp=16?"). */
export interface Alternative {
  choice: 'tp' | 'pp' | 'ep' | 'zero' | 'recompute';
  value: number | string;
  /** The best timed plan with this value (candidates that cannot enter the ranking are not timed). */
  best?: Estimate;
  /** Candidates with this value that fit in memory. */
  fitting: number;
}

export interface SearchResult {
  plans: Estimate[];
  /** Candidate plans considered, placements included (pruned ones too). */
  searched: number;
  /** Candidates that fit in memory and were timed (one per class of equivalent placements). */
  evaluated: number;
  alternatives: Alternative[];
  /** Devices available (the cluster's, or tp x pp x dp when --fix pins all three); a plan may use fewer. */
  devices: number;
  /** Memory per device of the leanest candidate (a lower bound where only model states were counted). */
  leanestBytes: number;
}

export function divisors(n: number): number[] {
  const small: number[] = [], large: number[] = [];
  for (let i = 1; i * i <= n; i++) {
    if (n % i !== 0) continue;
    small.push(i);
    if (i * i !== n) large.unshift(n / i);
  }
  return [...small, ...large];
}

/** Orders of the dims, innermost first, that differ for the given sizes (dims of size 1 go last). */
export function placements(sizes: Record<Dim, number>): Dim[][] {
  const live = DIMS.filter((d) => sizes[d] > 1), dead = DIMS.filter((d) => sizes[d] <= 1);
  const out: Dim[][] = [];
  const permute = (prefix: Dim[], rest: Dim[]) => {
    if (rest.length === 0) { out.push([...prefix, ...dead]); return; }
    rest.forEach((d, i) => permute([...prefix, d], [...rest.slice(0, i), ...rest.slice(i + 1)]));
  };
  permute([], live);
  return out;
}

/**
 * Placements that put every group (tp, ep, edp, pp, dp) across the same tiers with the same counts are
 * equivalent for the cost model; keep the first of each class (orders from `placements`, tp-inner first).
 */
export function distinctPlacements(ctx: PlanContext, sizes: Record<Dim, number>, orders: Dim[][]): Dim[][] {
  const seen = new Set<string>();
  const groups: Dim[][] = [['tp'], ['ep'], ['edp'], ['pp'], ['ep', 'edp']];
  return orders.filter((order) => {
    const key = groups.map((g) => groupLayout(sizes, order, g, ctx.cluster.tiers).inside.join(',')).join('|');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function factorial(k: number): number {
  return k <= 1 ? 1 : k * factorial(k - 1);
}

function microBatches(local: number, max: number): number[] {
  const out: number[] = [];
  for (let b = 1; b <= Math.min(local, max); b *= 2) if (local % b === 0) out.push(b);
  if (local <= max && !out.includes(local)) out.push(local);
  return out;
}

/** Fixed values that no plan can have are input errors, named. */
function checkFix(ctx: PlanContext, f: FixedChoices): void {
  const m = ctx.model, n = ctx.cluster.devices;
  const bad = (k: string, v: number, why: string) => { throw new InputError(`--fix ${k}=${v}: ${why}`); };
  if (f.tp !== undefined) {
    if (f.tp > n) bad('tp', f.tp, `exceeds the ${n} devices`);
    if (m.heads % f.tp !== 0 || m.ffn_hidden % f.tp !== 0) bad('tp', f.tp, `does not divide heads ${m.heads} and ffn_hidden ${m.ffn_hidden}`);
  }
  if (f.pp !== undefined) {
    if (f.pp > n) bad('pp', f.pp, `exceeds the ${n} devices`);
    if (f.pp > m.layers) bad('pp', f.pp, `exceeds the ${m.layers} layers (every stage holds at least one)`);
  }
  if (f.dp !== undefined && f.dp > n) bad('dp', f.dp, `exceeds the ${n} devices`);
  if (f.dp !== undefined && ctx.batch % f.dp !== 0) bad('dp', f.dp, `does not divide the global batch of ${ctx.batch} sequences`);
  if (f.ep !== undefined && f.ep > 1 && (m.experts === 0 || m.experts % f.ep !== 0)) bad('ep', f.ep, m.experts === 0 ? 'the model is dense' : `does not divide the ${m.experts} experts`);
}

/**
 * The dp x tp x pp layouts on at most n devices: every tp that divides the heads (and ffn, kv heads), every
 * pp up to the layers (stages may be uneven), and for each the largest dp that divides the batch with
 * tp x pp x dp <= n (a smaller dp only gives each rank more work). Where n has no exact layout (4,480 A100s and
 * a batch of 1,536), the best plan leaves devices idle; layouts leaving more than half idle are not tried
 * unless dp is pinned (half the devices can always run the same layout with twice the dp, or nearly). With the
 * same tp and dp, a pp whose fullest stage holds ceil(L/pp) layers, as a smaller pp's does, is skipped: the
 * slowest stage is no faster and the bubble is larger.
 */
export function layouts(ctx: PlanContext, fix: FixedChoices = {}): { tp: number; pp: number; dp: number }[] {
  const m = ctx.model, n = ctx.cluster.devices;
  const out: { tp: number; pp: number; dp: number }[] = [];
  const batchDivisors = divisors(ctx.batch);
  const tps = pick(divisors(m.heads), fix.tp).filter((t) => t <= n && m.ffn_hidden % t === 0 && (m.kv_heads ?? m.heads) % t === 0);
  for (const tp of tps) {
    const pps = fix.pp !== undefined ? [fix.pp] : Array.from({ length: Math.min(m.layers, Math.floor(n / tp)) }, (_, i) => i + 1);
    const deepest = new Map<number, number>(); // dp -> layers of the fullest stage at the smallest pp tried
    for (const pp of pps) {
      const room = Math.floor(n / (tp * pp));
      const dp = fix.dp !== undefined ? (fix.dp <= room ? fix.dp : 0) : batchDivisors.filter((d) => d <= room).pop() ?? 0;
      if (dp === 0 || (fix.dp === undefined && 2 * tp * pp * dp <= n)) continue;
      // With the same dp, a deeper pipeline whose fullest stage holds as many layers only adds bubble and sends.
      const fullest = Math.ceil(m.layers / pp);
      if (fix.pp === undefined && deepest.get(dp) === fullest) continue;
      deepest.set(dp, fullest);
      out.push({ tp, pp, dp });
    }
  }
  return out;
}

/** Restricts the context to the devices a fully pinned layout uses. */
export function fixedDevices(ctx: PlanContext, fix: FixedChoices | undefined): PlanContext {
  if (fix?.tp === undefined || fix.pp === undefined || fix.dp === undefined) return ctx;
  const n = fix.tp * fix.pp * fix.dp;
  if (n === ctx.cluster.devices) return ctx;
  if (n > ctx.cluster.devices) throw new InputError(`--fix: tp x pp x dp = ${n} exceeds the ${ctx.cluster.devices} devices of ${ctx.cluster.name}`);
  return { ...ctx, cluster: withDevices(ctx.cluster, n) };
}

/** Faster first; within 0.1% of step time, one furnace train runs first, then less memory (ZeRO-2 over ZeRO-1). */
export function better(a: Estimate, b: Estimate): boolean {
  if (Math.abs(a.stepTime - b.stepTime) > 1e-3 * b.stepTime) return a.stepTime < b.stepTime;
  const ra = missingCapabilities(a.plan).length === 0, rb = missingCapabilities(b.plan).length === 0;
  if (ra !== rb) return ra;
  return a.memory.total < b.memory.total;
}

const pick = <T>(all: readonly T[], v: T | undefined): readonly T[] => (v === undefined ? all : all.includes(v) ? [v] : []);

/**
 * Every ZeRO stage, micro-batch and recompute choice of one dp x tp x pp x ep layout, each timed at its
 * best placement; `visit` gets each (undefined when it does not fit in memory).
 */
function searchLayout(ctx: PlanContext, layout: { dp: number; tp: number; pp: number; ep: number }, fix: FixedChoices, maxMicroBatch: number,
  bound: () => number, visit: (zero: ZeroStage, recompute: Recompute, fits: boolean, e?: Estimate) => void): { searched: number; evaluated: number; leanest: number } {
  const { dp, tp, pp, ep } = layout;
  const memoryBytes = ctx.cluster.device.memory_bytes;
  const zeros = pick(dp > 1 ? ZERO_STAGES : ([0] as const), fix.zero);
  const mbs = pick(microBatches(ctx.batch / dp, maxMicroBatch), fix.microBatch);
  const recomputes = pick(RECOMPUTE, fix.recompute);
  const sizes: Record<Dim, number> = { tp, ep, edp: dp / ep, pp };
  const split = pp > 1 ? { ppLayers: costSplit(ctx, pp) } : {};
  const vs = (microBatch: number) => pick(virtualChoices(pp, ctx.batch / dp / microBatch, split.ppLayers ?? [ctx.model.layers]), fix.virtualStages);
  const orderCount = fix.order !== undefined ? 1 : factorial(DIMS.filter((d) => sizes[d] > 1).length);
  let orders: Dim[][] | undefined; // distinct placements, found once something fits
  let comms: (CommCosts | undefined)[] = [];
  let searched = 0, evaluated = 0, leanest = Infinity;
  for (const zero of zeros) {
    // Model states alone bound memory from below: skip the whole stage when they do not fit.
    const probe: ParallelPlan = { ...layout, ...split, zero, microBatch: 1, recompute: 'full', placement: { order: DEFAULT_ORDER } };
    const states = modelStates(ctx, probe, stageParams(ctx, probe, true));
    const stateBytes = states.weights + states.grads + states.optimizer;
    if (stateBytes > memoryBytes) {
      leanest = Math.min(leanest, stateBytes);
      searched += orderCount * recomputes.length * mbs.reduce((a, b) => a + vs(b).length, 0);
      for (const r of recomputes) visit(zero, r, false);
      continue;
    }
    for (const recompute of recomputes) for (const [i, microBatch] of mbs.entries()) {
      const plain: ParallelPlan = { ...layout, ...split, zero, microBatch, recompute, placement: { order: DEFAULT_ORDER } };
      const memory = memoryPerDevice(ctx, plain);
      leanest = Math.min(leanest, memory.total);
      if (memory.total > memoryBytes) {
        // Activations do not shrink as micro-batches grow: larger ones do not fit either.
        for (const b of mbs.slice(i)) searched += orderCount * vs(b).length;
        visit(zero, recompute, false);
        break;
      }
      for (const v of vs(microBatch)) {
        const base: ParallelPlan = v > 1 ? { ...plain, virtualStages: v } : plain;
        const mem = v > 1 ? memoryPerDevice(ctx, base) : memory;
        searched += orderCount;
        if (mem.total > memoryBytes) { visit(zero, recompute, false); continue; }
        const work = stepWork(ctx, base);
        // Lower bound: (m + (p - 1)/v) slots of compute alone. Plans that cannot enter the ranking are not timed.
        if ((work.micro + (pp - 1) / v) * work.computeMb + work.optimizer > bound()) {
          visit(zero, recompute, true);
          continue;
        }
        orders ??= fix.order !== undefined ? [fix.order] : distinctPlacements(ctx, sizes, placements(sizes));
        if (comms.length === 0) comms = orders.map(() => undefined);
        let bestTime = Infinity, bestI = 0, bestB: Breakdown | undefined;
        orders.forEach((order, i) => {
          const p = { ...base, placement: { order } };
          const c = comms[i] ??= commCosts(ctx, p);
          const b = timeBreakdown(ctx, p, work, c);
          const t = total(b);
          evaluated++;
          if (t < bestTime) { bestTime = t; bestI = i; bestB = b; }
        });
        const bestPlan = { ...base, placement: { order: orders[bestI]! } };
        visit(zero, recompute, true, finish(ctx, bestPlan, comms[bestI]!, mem, bestB!));
      }
    }
  }
  return { searched, evaluated, leanest };
}

export function search(ctx0: PlanContext, opts: SearchOptions = {}): SearchResult {
  const fix = opts.fix ?? {};
  const ctx = fixedDevices(ctx0, fix);
  const m = ctx.model, n = ctx.cluster.devices, top = opts.top ?? 5;
  checkFix(ctx, fix);
  const plans: Estimate[] = [];
  let searched = 0, evaluated = 0, leanest = Infinity;
  const alt = new Map<Alternative['choice'], Map<number | string, Alternative>>();
  const note = (choice: Alternative['choice'], value: number | string, fits: boolean, e?: Estimate) => {
    let byValue = alt.get(choice);
    if (byValue === undefined) alt.set(choice, byValue = new Map());
    let a = byValue.get(value);
    if (a === undefined) byValue.set(value, a = { choice, value, fitting: 0 });
    if (fits) a.fitting++;
    if (e !== undefined && (a.best === undefined || e.stepTime < a.best.stepTime)) a.best = e;
  };
  // Plans slower than the last kept one (by more than the tie margin of `better`) cannot be kept.
  const bound = () => (plans.length < top ? Infinity : plans[top - 1]!.stepTime * (1 + 1e-3));
  const keep = (e: Estimate) => {
    if (plans.length === top && !better(e, plans[top - 1]!)) return;
    let i = plans.length;
    while (i > 0 && better(e, plans[i - 1]!)) i--;
    plans.splice(i, 0, e);
    if (plans.length > top) plans.pop();
  };
  for (const { tp, pp, dp } of layouts(ctx, fix)) {
    const eps = m.experts > 0 ? divisors(dp).filter((e) => m.experts % e === 0) : [1];
    for (const ep of pick(eps, fix.ep)) {
      if (opts.noExpertParallel === true && ep > 1) continue;
      let layoutBest: Estimate | undefined, layoutFits = false;
      const counts = searchLayout(ctx, { dp, tp, pp, ep }, fix, opts.maxMicroBatch ?? 64, bound, (zero, recompute, fits, e) => {
        note('zero', zero, fits, e);
        note('recompute', recompute, fits, e);
        if (fits) layoutFits = true;
        if (e === undefined) return;
        keep(e);
        if (layoutBest === undefined || e.stepTime < layoutBest.stepTime) layoutBest = e;
      });
      searched += counts.searched;
      evaluated += counts.evaluated;
      leanest = Math.min(leanest, counts.leanest);
      note('tp', tp, layoutFits, layoutBest);
      note('pp', pp, layoutFits, layoutBest);
      note('ep', ep, layoutFits, layoutBest);
    }
  }
  return { plans, searched, evaluated, alternatives: [...alt.values()].flatMap((m) => [...m.values()]), devices: n, leanestBytes: leanest };
}
