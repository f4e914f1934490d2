// Pipeline stages: the split of the layers over pp stages (uneven, balanced by cost) and the schedule's bubble.
import type { PlanContext } from './context.js';
import type { ModelSpec } from './model.js';
import { InputError } from '../util/errors.js';

/** One pipeline stage's blocks: how many, how many of them MoE, and whether it holds the embedding / the logits. */
export interface StageShape {
  layers: number;
  moe: number;
  embedding: boolean;
  logits: boolean;
}

/**
 * Splits `costs` (one per layer, in order) into `pp` contiguous non-empty stages; the first stage also pays
 * `first` and the last `last`. Minimizes the slowest stage, then the sum of squared stage costs (the most even
 * split among the fastest); among equal splits the earlier stage takes fewer layers. Dynamic programming over
 * (stage, first layer): O(pp L^2). With equal costs and a last stage that also computes the logits, 126 layers
 * on 16 stages give [7, 8 x 14, 7], as published 126-layer pipelines run.
 */
export function splitStages(costs: readonly number[], pp: number, first = 0, last = 0): number[] {
  const n = costs.length;
  if (!Number.isInteger(pp) || pp < 1 || pp > n) throw new InputError(`pp: ${pp} stages cannot each hold a layer of ${n}`);
  const prefix = [0];
  for (const c of costs) prefix.push(prefix[prefix.length - 1]! + c);
  const cost = (s: number, i: number, j: number) => prefix[j]! - prefix[i]! + (s === 0 ? first : 0) + (s === pp - 1 ? last : 0);
  // best[s][i]: [max, sum of squares, layers of stage s] for layers i..n-1 on stages s..pp-1.
  const best: [number, number, number][][] = Array.from({ length: pp + 1 }, () => []);
  best[pp]![n] = [0, 0, 0];
  for (let s = pp - 1; s >= 0; s--) {
    // Stage s starts at i; at least one layer for each of the pp - s stages.
    for (let i = s; i <= n - (pp - s); i++) {
      let pick: [number, number, number] | undefined;
      const lastJ = s === pp - 1 ? n : n - (pp - s - 1);
      for (let j = s === pp - 1 ? n : i + 1; j <= lastJ; j++) {
        const rest = best[s + 1]![j];
        if (rest === undefined) continue;
        const c = cost(s, i, j);
        const cand: [number, number, number] = [Math.max(c, rest[0]), c * c + rest[1], j - i];
        if (pick === undefined || cand[0] < pick[0] * (1 - 1e-12) || (cand[0] <= pick[0] * (1 + 1e-12) && cand[1] < pick[1] * (1 - 1e-12))) pick = cand;
      }
      if (pick !== undefined) best[s]![i] = pick;
    }
  }
  const out: number[] = [];
  for (let s = 0, i = 0; s < pp; s++) {
    const k = best[s]![i]![2];
    out.push(k);
    i += k;
  }
  return out;
}

/** Whether layer i (from 0) is an MoE layer: (i + 1) % moe_every == 0 in an MoE model. */
export function isMoeLayer(m: ModelSpec, i: number): boolean {
  return m.experts > 0 && (i + 1) % m.moe_every === 0;
}

/** The stages of a split, first to last. */
export function stageShapes(m: ModelSpec, split: readonly number[]): StageShape[] {
  let start = 0;
  return split.map((layers, s) => {
    let moe = 0;
    for (let i = start; i < start + layers; i++) if (isMoeLayer(m, i)) moe++;
    start += layers;
    return { layers, moe, embedding: s === 0, logits: s === split.length - 1 };
  });
}

/**
 * The cost-balanced split of the model over pp stages (cached per pp). A layer costs its forward FLOPs per
 * token (matmuls + attention scores; MoE layers their experts' share); the last stage also computes the logits
 * (2 h V). The embedding lookup has no FLOPs, but the first stage keeps the most micro-batches in flight, so
 * ties give it the fewer layers.
 */
export function costSplit(ctx: PlanContext, pp: number): number[] {
  let split = ctx.splitCache.get(pp);
  if (split !== undefined) return split;
  const m = ctx.model, s = ctx.stats;
  const moe = s.moeLayerFlops + (ctx.expertCompute - 1) * s.expertFlops;
  const costs = Array.from({ length: m.layers }, (_, i) => (isMoeLayer(m, i) ? moe : s.denseLayerFlops) + s.attnScoreFlops);
  split = splitStages(costs, pp, 0, s.logitFlops);
  ctx.splitCache.set(pp, split);
  return split;
}

/** The plan's stage split: its own `ppLayers` (checked against the model) or the cost-balanced one. */
export function layersOf(ctx: PlanContext, p: { pp: number; ppLayers?: readonly number[] }): readonly number[] {
  if (p.ppLayers === undefined) return p.pp === 1 ? [ctx.model.layers] : costSplit(ctx, p.pp);
  const sum = p.ppLayers.reduce((a, b) => a + b, 0);
  if (sum !== ctx.model.layers) throw new InputError(`plan.pp_layers: ${p.ppLayers.join(',')} holds ${sum} layers, the model has ${ctx.model.layers}`);
  return p.ppLayers;
}

/**
 * Idle share of a pipelined step. 1F1B with p stages and m micro-batches: the bubble is (p-1) slots of one
 * micro-batch's forward + backward against m busy slots, i.e. (p-1)/m of the ideal time and (p-1)/(m+p-1)
 * of the step. Interleaved 1F1B with v model chunks per device shrinks each slot to 1/v:
 * (p-1)/(v m) of the ideal, (p-1)/(v m + p - 1) of the step (Narayanan et al., arXiv 2104.04473 §2.2.1-2.2.2).
 */
export function bubbleFraction(pp: number, micro: number, virtualStages = 1): { ofIdeal: number; ofStep: number } {
  return { ofIdeal: (pp - 1) / (virtualStages * micro), ofStep: (pp - 1) / (virtualStages * micro + pp - 1) };
}

/**
 * Interleaving's price (arXiv 2104.04473 §2.2.2): every micro-batch crosses v times as many stage boundaries
 * (v x the point-to-point traffic), and the first stage stores activations of (1 + (p-1)/(p v)) times its
 * layers (Korthikanti et al., arXiv 2205.05198 §4.2.3). Interleaving needs m to be a multiple of p.
 */
export function interleavedMemoryFactor(pp: number, virtualStages: number): number {
  return virtualStages > 1 ? 1 + (pp - 1) / (pp * virtualStages) : 1;
}

/** Virtual stage counts worth trying: v = 1, and 2, 4, ... while every stage has v layers and m is a multiple of p. */
export function virtualChoices(pp: number, micro: number, split: readonly number[], max = 8): number[] {
  const out = [1];
  if (pp === 1 || micro % pp !== 0) return out;
  const fewest = Math.min(...split);
  for (let v = 2; v <= Math.min(max, fewest); v *= 2) out.push(v);
  return out;
}
