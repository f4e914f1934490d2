// ParallelPlan: the layout the planner outputs and the trainer consumes, with its JSON form and rank maths.
import { InputError } from '../util/errors.js';
import { parseWith, z, type JsonObject } from '../util/schema.js';

/** Rank dimensions. The data-parallel group is ep x edp: ep ranks hold different experts,
 * edp ranks hold copies of the same experts (DeepSpeed-MoE, arXiv 2201.05596 §5). */
export const DIMS = ['tp', 'ep', 'edp', 'pp'] as const;
export type Dim = (typeof DIMS)[number];
/** Communication groups: the four dims plus dp (= ep x edp, replicas of the non-expert weights). */
export type Group = Dim | 'dp';

export const RECOMPUTE = ['none', 'selective', 'full'] as const;
export type Recompute = (typeof RECOMPUTE)[number];
export const ZERO_STAGES = [0, 1, 2, 3] as const;
export type ZeroStage = (typeof ZERO_STAGES)[number];

/** Where the groups sit: `order` lists the dims innermost (consecutive ranks) first; `tiers` names the
 * network tier each group's traffic crosses (informational, from the cluster the plan was made for). */
export interface Placement {
  order: Dim[];
  tiers?: Partial<Record<Group, string>>;
}

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

export const DEFAULT_ORDER: Dim[] = ['tp', 'ep', 'edp', 'pp'];

export function worldSize(p: ParallelPlan): number {
  return p.dp * p.tp * p.pp;
}

export function dimSize(p: ParallelPlan, d: Dim): number {
  return d === 'tp' ? p.tp : d === 'pp' ? p.pp : d === 'ep' ? p.ep : p.dp / p.ep;
}

/** Coordinates of `rank` along each dim: mixed radix over placement.order, innermost first. */
export function coordsOf(p: ParallelPlan, rank: number): Record<Dim, number> {
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize(p)) throw new RangeError(`rank ${rank} outside [0, ${worldSize(p)})`);
  const c: Record<Dim, number> = { tp: 0, ep: 0, edp: 0, pp: 0 };
  let r = rank;
  for (const d of p.placement.order) {
    const n = dimSize(p, d);
    c[d] = r % n;
    r = Math.floor(r / n);
  }
  return c;
}

/** The rank at the given coordinates (inverse of coordsOf). */
export function rankOf(p: ParallelPlan, c: Record<Dim, number>): number {
  let rank = 0, stride = 1;
  for (const d of p.placement.order) {
    rank += c[d] * stride;
    stride *= dimSize(p, d);
  }
  return rank;
}

/** Ranks in the same `group` as `rank`, ordered by their position in that group. A trainer can build its
 * ProcessGroups with world.split(color = groupOf(...)[0], key = index of rank in the list). */
export function groupOf(p: ParallelPlan, group: Group, rank: number): number[] {
  const base = coordsOf(p, rank);
  const dims: Dim[] = group === 'dp' ? ['ep', 'edp'] : [group];
  let members: Record<Dim, number>[] = [{ ...base, ...Object.fromEntries(dims.map((d) => [d, 0])) }];
  for (const d of dims) {
    const next: Record<Dim, number>[] = [];
    for (let i = 0; i < dimSize(p, d); i++) for (const m of members) next.push({ ...m, [d]: i });
    members = next;
  }
  return members.map((m) => rankOf(p, m)).sort((a, b) => a - b);
}

/** Checks the divisibility rules every plan obeys; `where` names the source in errors. */
export function checkPlan(p: ParallelPlan, where = 'plan'): ParallelPlan {
  if (p.dp % p.ep !== 0) throw new InputError(`${where}.ep: ${p.ep} must divide dp ${p.dp} (expert-parallel ranks are carved out of data-parallel ones)`);
  const seen = new Set(p.placement.order);
  if (p.placement.order.length !== DIMS.length || seen.size !== DIMS.length || !DIMS.every((d) => seen.has(d))) {
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
});

/** Reads a plan from its JSON form; unknown keys and broken divisibility are errors naming the field.
 * Extra top-level keys listed in `extra` (metadata of a plan file) are allowed and ignored. */
export function parsePlan(value: unknown, where = 'plan', extra: readonly string[] = []): ParallelPlan {
  const body = typeof value === 'object' && value !== null && !Array.isArray(value)
    ? Object.fromEntries(Object.entries(value).filter(([k]) => !extra.includes(k))) : value;
  const o = parseWith(planJsonSchema, body, where);
  const placement: Placement = o.placement === undefined ? { order: [...DEFAULT_ORDER] } : { order: o.placement.order };
  if (o.placement?.tiers !== undefined) placement.tiers = o.placement.tiers;
  return checkPlan({ dp: o.dp, tp: o.tp, pp: o.pp, ep: o.ep, zero: o.zero, microBatch: o.micro_batch, recompute: o.recompute, placement }, where);
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
      return parseWith(posInt, Number(v), w);
    };
    switch (k) {
      case 'dp': f.dp = n(); break;
      case 'tp': f.tp = n(); break;
      case 'pp': f.pp = n(); break;
      case 'ep': f.ep = n(); break;
      case 'zero': f.zero = parseWith(z.literal(ZERO_STAGES), Number(v), w); break;
      case 'micro_batch': case 'mb': f.microBatch = n(); break;
      case 'recompute': f.recompute = parseWith(z.enum(RECOMPUTE), v, w); break;
      case 'order': {
        const order = v.split('/').map((d) => parseWith(z.enum(DIMS), d.trim(), w));
        if (new Set(order).size !== DIMS.length || order.length !== DIMS.length) {
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
