// Step time of a plan: compute with efficiency factors, exposed communication per group, pipeline bubble.
import { effectiveBandwidth } from './cluster.js';
import { allReduceCost, allToAllCost, groupLayout, halfAllReduceCost, p2pCost, seconds, spanTier, type CollectiveCost } from './collectives.js';
import { memoryPerDevice, stageParams, type MemoryBreakdown } from './memory.js';
import { forwardFlopsPerToken } from './model.js';
import { DIMS, dimSize, worldSize, type Dim, type Group, type ParallelPlan } from './plan.js';
import { layerActivationBytes, rankImbalance, type PlanContext } from './context.js';
import { layersOf, stageShapes, type StageShape } from './stages.js';

/** Seconds of one step by cause; they add up to the step time. */
export interface Breakdown {
  compute: number;
  bubble: number;
  tp: number;
  ep: number;
  /** Waiting at the combine all-to-all for the ep rank whose experts got the most tokens. */
  wait: number;
  pp: number;
  dp: number;
  zero: number;
  optimizer: number;
  checkpoint: number;
}

export interface Estimate {
  plan: ParallelPlan;
  stepTime: number;
  tokensPerSecond: number;
  /** Model FLOPs utilization (3x forward FLOPs, no recompute; PaLM arXiv 2204.02311 App. B). */
  mfu: number;
  /** Hardware FLOPs utilization: recomputed forward passes counted (as Megatron reports, arXiv 2104.04473 §5.1). */
  hfu: number;
  memory: MemoryBreakdown;
  fits: boolean;
  breakdown: Breakdown;
  /** Writing one checkpoint (seconds NaN when the cluster has no storage description). */
  checkpoint: CheckpointWrite;
}

/** Collective costs of every group of a layout; they depend only on sizes and placement. */
export interface CommCosts {
  tp: CollectiveCost;
  ep: CollectiveCost;
  dp: CollectiveCost;
  edp: CollectiveCost;
  edpHalf: CollectiveCost;
  dpHalf: CollectiveCost;
  pp: CollectiveCost;
  /** The tier each group of more than one rank crosses. */
  tiers: Partial<Record<Group, string>>;
}

export function commCosts(ctx: PlanContext, p: ParallelPlan): CommCosts {
  const tiers = ctx.cluster.tiers, e = ctx.eff;
  const sizes: Record<Dim, number> = { tp: p.tp, ep: p.ep, edp: p.dp / p.ep, pp: p.pp };
  const order = p.placement.order;
  const lay = (dims: Dim[]) => groupLayout(sizes, order, dims, tiers);
  const g = { tp: lay(['tp']), ep: lay(['ep']), edp: lay(['edp']), pp: lay(['pp']), dp: lay(['ep', 'edp']) };
  const named: Partial<Record<Group, string>> = {};
  for (const [k, l] of Object.entries(g) as [Group, ReturnType<typeof lay>][]) if (l.size > 1) named[k] = tiers[spanTier(l)]!.name;
  return {
    tp: allReduceCost(g.tp, tiers, e),
    ep: allToAllCost(g.ep, tiers, e),
    dp: allReduceCost(g.dp, tiers, e),
    edp: allReduceCost(g.edp, tiers, e),
    dpHalf: halfAllReduceCost(g.dp, tiers, e),
    edpHalf: halfAllReduceCost(g.edp, tiers, e),
    pp: p2pCost(g.pp, tiers, e),
    tiers: named,
  };
}

/** Seconds of forward compute of one micro-batch on one stage: all of it, the part selective recompute
 * repeats, and the part spent in experts (the busiest ep rank waits longer for it). */
interface StageForward {
  fwd: number;
  selectiveExtra: number;
  expert: number;
  shape: StageShape;
}

function stageForward(ctx: PlanContext, p: ParallelPlan, st: StageShape): StageForward {
  const m = ctx.model, s = ctx.stats, e = ctx.eff;
  const tokens = p.microBatch * m.seq_len;
  const dense = st.layers - st.moe;
  const width = m.hidden / p.tp;
  const gemmEff = e.gemm * width / (width + e.gemm_half_width);
  const moeFlops = s.moeLayerFlops + (ctx.expertCompute - 1) * s.expertFlops;
  const gemm = (dense * s.denseLayerFlops + st.moe * moeFlops + (st.logits ? s.logitFlops : 0)) * tokens / p.tp;
  const scores = st.layers * s.attnScoreFlops * tokens / p.tp;
  const bw = ctx.cluster.device.memory_bandwidth * e.memory;
  // Element-wise kernels read and write each stored activation once: 2 x activation bytes.
  const actD = layerActivationBytes(ctx, p.tp, false), actM = layerActivationBytes(ctx, p.tp, true);
  const traffic = 2 * tokens * (dense * (actD.kept + actD.scores) + st.moe * (actM.kept + actM.scores));
  const scoreTraffic = 2 * tokens * st.layers * actD.scores;
  const tScores = scores / (ctx.peak * e.attention);
  return {
    fwd: gemm / (ctx.peak * gemmEff) + tScores + traffic / bw,
    selectiveExtra: tScores + scoreTraffic / bw,
    expert: st.moe * ctx.expertCompute * s.expertFlops * tokens / p.tp / (ctx.peak * gemmEff),
    shape: st,
  };
}

/** The slowest stage's forward (it sets the pipeline's pace); with one stage, the whole model and the logits. */
function forwardSeconds(ctx: PlanContext, p: ParallelPlan): StageForward {
  let slowest: StageForward | undefined;
  for (const st of stageShapes(ctx.model, layersOf(ctx, p))) {
    const f = stageForward(ctx, p, st);
    if (slowest === undefined || f.fwd > slowest.fwd) slowest = f;
  }
  return slowest!;
}

/**
 * Step time with the 1F1B pipeline schedule: (m + p - 1) slots of one micro-batch's forward + backward
 * on the slowest stage, i.e. a bubble of (p-1)/m of the ideal (arXiv 2104.04473 §2.2); interleaved with v
 * chunks per device, (p-1)/v slots and v x the pipeline sends (stages.ts). Backward = 2x forward; full
 * recompute adds a forward, selective recompute the attention scores (arXiv 2205.05198 §5). Per micro-batch
 * and layer: TP all-reduces 2 forward + 2 backward (+2 when recomputing) of s b h values (arXiv 1909.08053
 * §3); EP all-to-alls dispatch + combine forward and backward (+2 when recomputing); pipeline sends of
 * s b h / t values forward and backward (scatter/gather, arXiv 2104.04473 §4.1). With expert parallelism and
 * unpadded experts, every rank waits at the combine all-to-all for the busiest rank's experts: (r - 1) x the
 * expert time, r = rankImbalance (context.ts). With moe_overlap_chunks K > 1 each pass's all-to-alls are
 * pipelined against the busiest rank's experts (moeExposure). Per step: the gradient all-reduce of dense
 * weights over dp and of experts over edp, hidden behind the last backward by `overlap`, or with
 * grad_bucket_bytes by the buckets started during it (gradExposure); ZeRO-3 gathers weights twice and
 * reduce-scatters gradients every micro-batch (prefetched behind compute by `overlap`); the optimizer update
 * streams its state through memory once.
 */
export function estimate(ctx: PlanContext, p: ParallelPlan, comm: CommCosts = commCosts(ctx, p),
  memory: MemoryBreakdown = memoryPerDevice(ctx, p), work: StepWork = stepWork(ctx, p)): Estimate {
  return finish(ctx, p, comm, memory, timeBreakdown(ctx, p, work, comm));
}

/** The parts of a step that do not depend on placement: computed once for all placements of a layout. */
export interface StepWork {
  micro: number;
  /** Layers and MoE layers of the slowest stage. */
  layers: number;
  moe: number;
  computeMb: number;
  /** Seconds per micro-batch that ep ranks wait for the busiest one's experts (forward + backward). */
  expertWait: number;
  /** Seconds of one MoE layer's expert forward on the busiest ep rank, per micro-batch (what chunked all-to-alls hide behind). */
  expertLayerFwd: number;
  bwdMb: number;
  /** Collectives per layer per micro-batch (TP all-reduces, EP all-to-alls). */
  colls: number;
  actMsg: number;
  a2aMsg: number;
  grads: { dense: number; expert: number };
  weights: { dense: number; expert: number };
  optimizer: number;
}

export function stepWork(ctx: PlanContext, p: ParallelPlan): StepWork {
  const m = ctx.model, e = ctx.eff;
  const tokens = p.microBatch * m.seq_len;
  const f = forwardSeconds(ctx, p);
  const layers = f.shape.layers;
  const passes = p.recompute === 'full' ? 4 : 3;
  const computeMb = passes * f.fwd + (p.recompute === 'selective' ? f.selectiveExtra : 0) + layers * e.layer_overhead_s;
  // Padded experts all compute their full capacity: nobody waits. Unpadded, the busiest ep rank sets the pace.
  const wait = ctx.training.padded_compute === false ? rankImbalance(ctx, p.ep) - 1 : 0;
  const params = stageParams(ctx, p, true);
  const shardDense = p.zero >= 1 ? p.dp : 1, shardExpert = p.zero >= 1 ? p.dp / p.ep : 1;
  const stateBytes = 2 * ctx.perParam.weights + ctx.perParam.grads + 2 * ctx.perParam.optimizer; // read + write
  return {
    micro: ctx.batch / p.dp / p.microBatch,
    layers,
    moe: f.shape.moe,
    computeMb,
    expertWait: passes * f.expert * wait,
    expertLayerFwd: f.shape.moe > 0 ? (f.expert / f.shape.moe) * (wait + 1) : 0,
    bwdMb: (2 / passes) * computeMb,
    colls: p.recompute === 'full' ? 6 : 4,
    actMsg: tokens * m.hidden * ctx.actBytes,
    a2aMsg: (tokens * m.top_k * ctx.capacity * m.hidden * ctx.actBytes) / p.tp,
    grads: { dense: params.dense * ctx.perParam.grads, expert: params.expert * ctx.perParam.grads },
    weights: { dense: params.dense * ctx.perParam.weights, expert: params.expert * ctx.perParam.weights },
    optimizer: (params.dense / shardDense + params.expert / shardExpert) * stateBytes / (ctx.cluster.device.memory_bandwidth * e.memory),
  };
}

/** Seconds of one step by cause, for one placement (see `estimate` for the model). */
export function timeBreakdown(ctx: PlanContext, p: ParallelPlan, w: StepWork, comm: CommCosts): Breakdown {
  const e = ctx.eff;
  const tpMb = p.tp > 1 ? w.layers * w.colls * seconds(comm.tp, w.actMsg) : 0;
  const v = p.virtualStages ?? 1;
  const epMb = p.ep > 1 && w.moe > 0 ? w.moe * moeExposure(seconds(comm.ep, w.a2aMsg), w.expertLayerFwd, p.recompute === 'full',
    ctx.training.moe_overlap_chunks ?? 1) : 0;
  const waitMb = p.ep > 1 ? w.expertWait : 0;
  const ppMb = p.pp > 1 ? 2 * v * seconds(comm.pp, w.actMsg / p.tp) : 0;
  let zeroMb = 0, dpComm = 0;
  if (p.zero === 3) {
    // all-gather weights for forward and backward, reduce-scatter gradients: 3 half all-reduces.
    const per = 2 * (seconds(comm.dpHalf, w.weights.dense) + seconds(comm.edpHalf, w.weights.expert))
      + seconds(comm.dpHalf, w.grads.dense) + seconds(comm.edpHalf, w.grads.expert);
    zeroMb = Math.max(0, per - e.overlap * w.computeMb);
  } else {
    // ZeRO 0-2: one all-reduce (or reduce-scatter + all-gather, the same traffic) per step.
    const all = seconds(comm.dp, w.grads.dense) + seconds(comm.edp, w.grads.expert);
    const buckets = ctx.training.grad_bucket_bytes;
    dpComm = buckets !== undefined ? gradExposure(all, bucketSeconds(comm, w, buckets), p.zero === 0 && p.pp === 1 ? w.bwdMb : 0)
      : Math.max(0, all - e.overlap * w.bwdMb);
  }
  const slot = w.computeMb + tpMb + epMb + waitMb + ppMb + zeroMb;
  const every = ctx.training.checkpoint_every;
  return {
    compute: w.micro * w.computeMb,
    bubble: ((p.pp - 1) / v) * slot,
    tp: w.micro * tpMb,
    ep: w.micro * epMb,
    wait: w.micro * waitMb,
    pp: w.micro * ppMb,
    dp: dpComm,
    zero: w.micro * zeroMb,
    optimizer: w.optimizer,
    checkpoint: every !== undefined && ctx.cluster.storage !== undefined ? checkpointWrite(ctx, p).seconds / every : 0,
  };
}

/**
 * Exposed seconds of one MoE layer's all-to-alls per micro-batch: dispatch + combine (`a2a` seconds
 * each) in every pass, forward (experts `x`), backward (2x) and the recomputed forward. In K chunks
 * (nn/moe/pipelined.ts) chunk k + 1 travels while chunk k computes: a pass of comm c around work x
 * takes max(c, x) + min(c, x) / K instead of c + x, so K = 1 exposes all of c.
 */
export function moeExposure(a2a: number, x: number, recomputed: boolean, chunks: number): number {
  const pass = (work: number) => {
    const c = 2 * a2a;
    return chunks <= 1 ? c : Math.max(c, work) + Math.min(c, work) / chunks - work;
  };
  return pass(x) + pass(2 * x) + (recomputed ? pass(x) : 0);
}

/**
 * Exposed seconds of a gradient all-reduce of `all` seconds run in buckets during a backward pass of
 * `backward` seconds (0 when it runs after backward): what the pass cannot hide, and at least the last
 * bucket's `last` seconds, which start when the pass ends.
 */
export function gradExposure(all: number, last: number, backward: number): number {
  return Math.max(Math.min(all, last), all - backward);
}

/** Seconds of the last bucket's all-reduce: a bucket's bytes of dense gradients (and of expert ones, reduced beside them). */
function bucketSeconds(comm: CommCosts, w: StepWork, bucket: number): number {
  return Math.max(seconds(comm.dp, Math.min(bucket, w.grads.dense)), seconds(comm.edp, Math.min(bucket, w.grads.expert)));
}

export function total(b: Breakdown): number {
  return b.compute + b.bubble + b.tp + b.ep + b.wait + b.pp + b.dp + b.zero + b.optimizer + b.checkpoint;
}

/** Assembles the Estimate of one placement from its parts. */
export function finish(ctx: PlanContext, p: ParallelPlan, comm: CommCosts, memory: MemoryBreakdown, breakdown: Breakdown): Estimate {
  const m = ctx.model;
  const stepTime = total(breakdown);
  const devices = worldSize(p);
  const stepTokens = ctx.batch * m.seq_len;
  const fwd = forwardFlopsPerToken(m, ctx.stats);
  const modelFlops = 3 * fwd * stepTokens;
  // Full recompute repeats the layers' forward (not the logits): Megatron's 96 B s l h^2 (1 + s/6h + V/16lh).
  const hwFlops = p.recompute === 'full' ? modelFlops + (fwd - ctx.stats.logitFlops) * stepTokens
    : p.recompute === 'selective' ? modelFlops + m.layers * ctx.stats.attnScoreFlops * stepTokens : modelFlops;
  return {
    plan: { ...p, placement: { order: p.placement.order, tiers: comm.tiers } },
    stepTime,
    tokensPerSecond: stepTokens / stepTime,
    mfu: modelFlops / (stepTime * devices * ctx.peak),
    hfu: hwFlops / (stepTime * devices * ctx.peak),
    memory,
    fits: memory.total <= ctx.cluster.device.memory_bytes,
    breakdown,
    checkpoint: checkpointWrite(ctx, p),
  };
}

/** How a checkpoint is written: by whom, from how many top-level blocks (e.g. supernodes), how fast. */
export interface CheckpointWrite {
  seconds: number;
  writers: number;
  /** Blocks of the tier below the top (supernodes, nodes) that hold writers; NaN with one tier. */
  blocks: number;
}

/**
 * Writing weights + optimizer state. Every rank holding a distinct shard writes it: tp x pp x ep ranks,
 * or all ranks once ZeRO shards the optimizer state. Bandwidth = min(file system, writers x per-writer
 * bandwidth, blocks holding writers x their uplink): a checkpoint is fast only with enough writers spread
 * over enough blocks (BaGuaLu's observation on Sunway supernodes). Storage sits beyond the top tier.
 */
export function checkpointWrite(ctx: PlanContext, p: ParallelPlan): CheckpointWrite {
  const storage = ctx.cluster.storage;
  const sharded: Record<Dim, boolean> = { tp: true, pp: true, ep: true, edp: p.zero >= 1 };
  let writers = 1;
  for (const d of DIMS) if (sharded[d]) writers *= dimSize(p, d);
  if (storage === undefined) return { seconds: NaN, writers, blocks: NaN };
  const bytes = ctx.stats.totalParams * (ctx.perParam.weights + ctx.perParam.optimizer);
  let bandwidth = Math.min(storage.bandwidth, writers * storage.writer_bandwidth);
  const tiers = ctx.cluster.tiers;
  let blocks = NaN;
  if (tiers.length >= 2) {
    const g = tiers[tiers.length - 2]!.group_size;
    let stride = 1;
    blocks = 1;
    for (const d of p.placement.order) {
      const n = dimSize(p, d);
      if (sharded[d] && n > 1) blocks *= stride >= g ? n : Math.max(1, (n * stride) / g);
      stride *= n;
    }
    blocks = Math.min(Math.ceil(blocks), Math.ceil(worldSize(p) / g));
    bandwidth = Math.min(bandwidth, blocks * g * effectiveBandwidth(tiers[tiers.length - 1]!, ctx.eff));
  }
  return { seconds: bytes / bandwidth, writers, blocks };
}

/** Number of ranks per dim, as placement order lists them (for display). */
export function describeLayout(p: ParallelPlan): string {
  return p.placement.order.filter((d) => dimSize(p, d) > 1).map((d) => `${d}${dimSize(p, d)}`).join(' < ') || 'single device';
}
