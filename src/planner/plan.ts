// ParallelPlan: the layout the planner outputs and the trainer consumes, and its JSON form (the rank grid is layout/grid.ts).
import { InputError, array, int, oneOf, record, str, type JsonObject } from './validate.js';
import { DEFAULT_ORDER, DIMS, Grid, dimSizes, isOrder, type Dim, type Group, type Placement } from '../layout/grid.js';

/** The grid vocabulary (dims, groups, placement), defined in layout/grid.ts with its composition rules. */
export { DEFAULT_ORDER, DIMS, type Dim, type Group, type Placement } from '../layout/grid.js';

export const RECOMPUTE = ['none', 'selective', 'full'] as const;
export type Recompute = (typeof RECOMPUTE)[number];
export const ZERO_STAGES = [0, 1, 2, 3] as const;
export type ZeroStage = (typeof ZERO_STAGES)[number];

export interface ParallelPlan {
  dp: number;
  tp: number;
  pp: number;
  ep: number;
  zero: ZeroStage;
  /** Sequences per micro-batch on one data-parallel rank. */
  microBatch: number;
  recompute: Recompute;
  placement: Placement;
}

export function worldSize(p: ParallelPlan): number {
  return p.dp * p.tp * p.pp;
}

export function dimSize(p: ParallelPlan, d: Dim): number {
  return dimSizes(p)[d];
}

/** The plan's rank grid: coordinates, ranks and groups under its placement order. */
export function gridOf(p: ParallelPlan): Grid {
  return new Grid(p, p.placement.order);
}

/** Checks the divisibility rules every plan obeys; `where` names the source in errors. */
export function checkPlan(p: ParallelPlan, where = 'plan'): ParallelPlan {
  if (p.dp % p.ep !== 0) throw new InputError(`${where}.ep: ${p.ep} must divide dp ${p.dp} (expert-parallel ranks are carved out of data-parallel ones)`);
  if (!isOrder(p.placement.order)) {
    throw new InputError(`${where}.placement.order: must list each of ${DIMS.join(', ')} once, got ${p.placement.order.join(', ')}`);
  }
  return p;
}

/** The JSON form (snake_case, as `furnace plan --out` writes it and `furnace train --plan` reads it). */
export function planToJson(p: ParallelPlan): JsonObject {
  const placement: JsonObject = { order: [...p.placement.order] };
  if (p.placement.tiers !== undefined) placement['tiers'] = { ...p.placement.tiers } as JsonObject;
  return { dp: p.dp, tp: p.tp, pp: p.pp, ep: p.ep, zero: p.zero, micro_batch: p.microBatch, recompute: p.recompute, placement };
}

export const PLAN_FORMAT = 'furnace-plan/1';

/** Reads a plan from its JSON form; unknown keys and broken divisibility are errors naming the field.
 * Extra top-level keys listed in `extra` (metadata of a plan file) are allowed and ignored. */
export function parsePlan(value: unknown, where = 'plan', extra: readonly string[] = []): ParallelPlan {
  const o = record(value, where, ['dp', 'tp', 'pp', 'ep', 'zero', 'micro_batch', 'recompute'], ['placement', ...extra]);
  let placement: Placement = { order: [...DEFAULT_ORDER] };
  if (o['placement'] !== undefined) {
    const pl = record(o['placement'], `${where}.placement`, ['order'], ['tiers']);
    placement = { order: array(pl['order'], `${where}.placement.order`).map((d, i) => oneOf(d, `${where}.placement.order[${i}]`, DIMS)) };
    if (pl['tiers'] !== undefined) {
      const t = record(pl['tiers'], `${where}.placement.tiers`, [], ['tp', 'ep', 'edp', 'pp', 'dp']);
      const tiers: Partial<Record<Group, string>> = {};
      for (const [k, v] of Object.entries(t)) tiers[k as Group] = str(v, `${where}.placement.tiers.${k}`);
      placement.tiers = tiers;
    }
  }
  return checkPlan({
    dp: int(o['dp'], `${where}.dp`, 1),
    tp: int(o['tp'], `${where}.tp`, 1),
    pp: int(o['pp'], `${where}.pp`, 1),
    ep: int(o['ep'], `${where}.ep`, 1),
    zero: oneOf(o['zero'], `${where}.zero`, ZERO_STAGES),
    microBatch: int(o['micro_batch'], `${where}.micro_batch`, 1),
    recompute: oneOf(o['recompute'], `${where}.recompute`, RECOMPUTE),
    placement,
  }, where);
}

/** Choices pinned by `--fix`; absent keys are searched. */
export interface FixedChoices {
  dp?: number; tp?: number; pp?: number; ep?: number; zero?: ZeroStage;
  microBatch?: number; recompute?: Recompute; order?: Dim[];
}

/** Parses `tp=8,pp=16,dp=64,ep=1,zero=1,recompute=selective,micro_batch=1[,order=tp/ep/edp/pp]`. */
export function parseFix(text: string, where = '--fix'): FixedChoices {
  const f: FixedChoices = {};
  for (const part of text.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new InputError(`${where}: expected key=value, got '${part}'`);
    const k = part.slice(0, eq).trim(), v = part.slice(eq + 1).trim();
    const w = `${where} ${k}`;
    const n = (): number => {
      if (!/^\d+$/.test(v)) throw new InputError(`${w}: expected a positive integer, got '${v}'`);
      return int(Number(v), w, 1);
    };
    switch (k) {
      case 'dp': f.dp = n(); break;
      case 'tp': f.tp = n(); break;
      case 'pp': f.pp = n(); break;
      case 'ep': f.ep = n(); break;
      case 'zero': f.zero = oneOf(Number(v), w, ZERO_STAGES); break;
      case 'micro_batch': case 'mb': f.microBatch = n(); break;
      case 'recompute': f.recompute = oneOf(v, w, RECOMPUTE); break;
      case 'order': {
        const order = v.split('/').map((d) => oneOf(d.trim(), w, DIMS));
        if (!isOrder(order)) {
          throw new InputError(`${w}: must list each of ${DIMS.join('/')} once, got '${v}'`);
        }
        f.order = order;
        break;
      }
      default:
        throw new InputError(`${where}: unknown key '${k}' (allowed: dp, tp, pp, ep, zero, micro_batch, recompute, order)`);
    }
  }
  return f;
}
