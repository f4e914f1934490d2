// ParallelPlan: the layout the planner outputs and the trainer consumes, and its JSON form (the rank grid is layout/grid.ts).
import { InputError } from '../util/errors.js';
import { parseWith, z, type JsonObject } from '../util/schema.js';
import { DEFAULT_ORDER, DIMS, Grid, dimSizes, isOrder, type Dim, type Placement } from '../layout/grid.js';

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
  /** Layers of each pipeline stage, first to last (pp entries; absent: split by cost, stages.ts). */
  ppLayers?: number[];
  /** Model chunks per device of the interleaved 1F1B schedule (absent or 1: plain 1F1B). */
  virtualStages?: number;
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
  if (p.ppLayers !== undefined && (p.ppLayers.length !== p.pp || p.ppLayers.some((n) => !Number.isInteger(n) || n < 1))) {
    throw new InputError(`${where}.pp_layers: needs ${p.pp} stage sizes of at least one layer each (pp ${p.pp}), got ${p.ppLayers.join(',')}`);
  }
  if ((p.virtualStages ?? 1) > 1 && p.pp === 1) throw new InputError(`${where}.virtual_stages: ${p.virtualStages} needs a pipeline (pp > 1)`);
  if (!isOrder(p.placement.order)) {
    throw new InputError(`${where}.placement.order: must list each of ${DIMS.join(', ')} once, got ${p.placement.order.join(', ')}`);
  }
  return p;
}

/** The JSON form (snake_case, as `furnace plan --out` writes it and `furnace train --plan` reads it). */
export function planToJson(p: ParallelPlan): JsonObject {
  const placement: JsonObject = { order: [...p.placement.order] };
  if (p.placement.tiers !== undefined) placement['tiers'] = { ...p.placement.tiers } as JsonObject;
  return {
    dp: p.dp, tp: p.tp, pp: p.pp, ep: p.ep, zero: p.zero, micro_batch: p.microBatch, recompute: p.recompute, placement,
    ...(p.ppLayers !== undefined ? { pp_layers: [...p.ppLayers] } : {}),
    ...((p.virtualStages ?? 1) > 1 ? { virtual_stages: p.virtualStages ?? 1 } : {}),
  };
}

export const PLAN_FORMAT = 'furnace-plan/1';

const posInt = z.number().int().min(1);
const tierName = z.string().min(1).exactOptional();

/** The JSON form of a plan (planToJson's output). */
const planJsonSchema = z.strictObject({
  dp: posInt, tp: posInt, pp: posInt, ep: posInt,
  zero: z.literal(ZERO_STAGES),
  micro_batch: posInt,
  recompute: z.enum(RECOMPUTE),
  placement: z.strictObject({
    order: z.array(z.enum(DIMS)),
    tiers: z.strictObject({ tp: tierName, ep: tierName, edp: tierName, pp: tierName, dp: tierName }).exactOptional(),
  }).exactOptional(),
  pp_layers: z.array(posInt).exactOptional(),
  virtual_stages: posInt.exactOptional(),
});

/** Reads a plan from its JSON form; unknown keys and broken divisibility are errors naming the field.
 * Extra top-level keys listed in `extra` (metadata of a plan file) are allowed and ignored. */
export function parsePlan(value: unknown, where = 'plan', extra: readonly string[] = []): ParallelPlan {
  const body = typeof value === 'object' && value !== null && !Array.isArray(value)
    ? Object.fromEntries(Object.entries(value).filter(([k]) => !extra.includes(k))) : value;
  const o = parseWith(planJsonSchema, body, where);
  const placement: Placement = o.placement === undefined ? { order: [...DEFAULT_ORDER] } : { order: o.placement.order };
  if (o.placement?.tiers !== undefined) placement.tiers = o.placement.tiers;
  const p: ParallelPlan = { dp: o.dp, tp: o.tp, pp: o.pp, ep: o.ep, zero: o.zero, microBatch: o.micro_batch, recompute: o.recompute, placement };
  if (o.pp_layers !== undefined) p.ppLayers = o.pp_layers;
  if (o.virtual_stages !== undefined) p.virtualStages = o.virtual_stages;
  return checkPlan(p, where);
}

/** Choices pinned by `--fix`; absent keys are searched. */
export interface FixedChoices {
  dp?: number; tp?: number; pp?: number; ep?: number; zero?: ZeroStage;
  microBatch?: number; recompute?: Recompute; order?: Dim[]; virtualStages?: number;
}

/** Parses `tp=8,pp=16,dp=64,ep=1,zero=1,recompute=selective,micro_batch=1[,virtual_stages=2][,order=tp/ep/edp/pp]`. */
export function parseFix(text: string, where = '--fix'): FixedChoices {
  const f: FixedChoices = {};
  for (const part of text.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new InputError(`${where}: expected key=value, got '${part}'`);
    const k = part.slice(0, eq).trim(), v = part.slice(eq + 1).trim();
    const w = `${where} ${k}`;
    const n = (): number => {
      if (!/^\d+$/.test(v)) throw new InputError(`${w}: expected a positive integer, got '${v}'`);
      return parseWith(posInt, Number(v), w);
    };
    switch (k) {
      case 'dp': f.dp = n(); break;
      case 'tp': f.tp = n(); break;
      case 'pp': f.pp = n(); break;
      case 'ep': f.ep = n(); break;
      case 'zero': f.zero = parseWith(z.literal(ZERO_STAGES), Number(v), w); break;
      case 'micro_batch': case 'mb': f.microBatch = n(); break;
      case 'virtual_stages': case 'v': f.virtualStages = n(); break;
      case 'recompute': f.recompute = parseWith(z.enum(RECOMPUTE), v, w); break;
      case 'order': {
        const order = v.split('/').map((d) => parseWith(z.enum(DIMS), d.trim(), w));
        if (!isOrder(order)) {
          throw new InputError(`${w}: must list each of ${DIMS.join('/')} once, got '${v}'`);
        }
        f.order = order;
        break;
      }
      default:
        throw new InputError(`${where}: unknown key '${k}' (allowed: dp, tp, pp, ep, zero, micro_batch, virtual_stages, recompute, order)`);
    }
  }
  return f;
}
