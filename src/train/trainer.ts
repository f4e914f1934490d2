// The training loop, top to bottom: config -> data -> model -> steps (log, eval, checkpoint) ->
// save. One loop for every layout: each rank runs it on its share of the batch in its
// ParallelContext (one rank: a world of size 1), and rank 0 reports.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { InputError, errorMessage } from '../util/errors.js';
import { Progress } from '../util/output.js';
import { GPT, countParams, zLossCoef, type ModelConfig } from '../nn/gpt.js';
import { GPTStage, stageOf } from '../nn/gpt-stage.js';
import type { ParamInfo } from '../nn/module.js';
import { learningRate } from '../optim/schedule.js';
import { Rng } from '../tensor/random.js';
import { backend, scoped, withLifetime } from '../tensor/engine.js';
import { gatherMemory, keepPeaks, memorySummary, plannerMemory, releaseMemory, resetStepPeak, stepMemory, type MemoryRecord, type MemorySummary } from './memory.js';
import { measurePeak, peakFor, type PeakEstimate } from '../backends/peak.js';
import { ParallelAdamW } from '../optim/parallel-adamw.js';
import type { ParallelContext } from '../parallel/context.js';
import { Checkpointer, CheckpointReader, resolveCheckpoint, type Json } from '../checkpoint/index.js';
import type { CommClock } from '../comm/timed-group.js';
import type { ProcessGroup } from '../comm/process-group.js';
import type { TrainConfig } from './config.js';
import { sampleBatch } from './data.js';
import type { RunTokens } from './tokenizer.js';
import { bitsPerByte, evaluate } from './evaluate.js';
import { exportModel, saveModel } from './model-dir.js';
import { flopsPerToken } from './flops.js';
import { collectState, restoreState, stateLayout } from './state.js';
import { StepStats } from './step-stats.js';
import { PipelineStage } from './pipeline.js';
import { bubbleFraction } from '../parallel/pipeline.js';
import type { MetricsRecord } from './metrics.js';
import { PLAN_FORMAT, planToJson } from '../planner/plan.js';
import type { Placement } from '../layout/grid.js';
import type { CollectivesRecord } from '../comm/topology-collectives.js';

export interface CheckpointOptions {
  /** Save every N steps (0: never). */
  every: number;
  async: boolean;
  keep: number;
  /** Resume from this checkpoint directory, checkpoint root, or 'latest' (in out/ckpt). */
  resume?: string;
  verify: boolean;
  /** This rank's node (or other I/O group): replicated pieces' writers spread over groups. */
  group?: number;
}

export interface TrainRun {
  cfg: TrainConfig;
  tokens: RunTokens;
  out: string;
  /** A human-readable line (rank 0 only). */
  log: (line: string) => void;
  /** Draw a progress line (rank 0 only): the caller decides whether stderr is a terminal. */
  progress: boolean;
  ckpt?: CheckpointOptions;
  /** This rank's groups (singleContext() for one rank). */
  ctx: ParallelContext;
  /** The clock of the TimedGroup wrapping this rank's world: the step's time in collectives. */
  clock: CommClock;
  /** Fault injection for tests of failure handling: throw on this step (after the forward pass). */
  failAtStep?: number;
  /** The layout, as stored in checkpoints, plan.json and the result. */
  layout: RunLayout;
  /** Where the ranks sit (the order makeProcessGroups used), recorded in the run's plan.json. */
  placement: Placement;
  /** The collectives chosen for the network (comm/topology-collectives.ts), recorded in the summary. */
  collectives?: CollectivesRecord;
}

/** How a run is laid out: dp x tp x pp ranks, ep of them sharing experts, ZeRO-1 or not, over which transport. */
export interface RunLayout {
  dp: number;
  tp: number;
  ep: number;
  /** Pipeline stages, the blocks each virtual stage holds (pp x virtual entries summing to n_layers), and micro-batches per step (1 without a pipeline). */
  pp: number;
  ppLayers: number[];
  micro: number;
  /** Model chunks per stage of the interleaved 1F1B schedule (absent or 1: plain 1F1B). */
  virtual?: number;
  /** ZeRO-1: split optimizer state over data-parallel ranks. */
  zero: boolean;
  /** 'none': one rank, in the calling process. */
  comm: 'threads' | 'mpi' | 'none';
}

export interface TrainSummary {
  steps: number;
  start_step: number;
  train_loss: number;
  /** The busiest expert's load over the balanced load (largest over MoE layers), mean over the last tenth of the steps; NaN when dense. */
  busiest_expert: number;
  first_loss: number;
  val_loss: number;
  val_bits_per_byte: number;
  tokens_per_s: number;
  model_flops_per_s: number;
  mfu: number;
  peak_flops: number;
  /** How peak_flops was obtained (measured FMA loop, or the clock-based estimate and why). */
  peak_basis: string;
  params: number;
  active_params: number;
  seconds: number;
  out: string;
  vocab_size: number;
  losses: number[];
  collectives?: CollectivesRecord;
  /** With pipeline stages: the split (blocks per virtual stage), and each stage's mean bubble (its wait for neighbours over the
   * step's time) against 1F1B's (p - 1) / (m + p - 1) and, with v virtual stages, interleaving's (p - 1) / (v m + p - 1). */
  pipeline?: { stages: number; virtual_stages: number; layers: number[]; micro_batches: number; bubble: number[]; bubble_1f1b: number;
    bubble_interleaved?: number };
  /** Peak bytes by component of every rank and of the busiest, beside the planner's memory model of the same layout. */
  memory?: MemorySummary;
}

/** A corpus must hold one batch of training tokens and a validation split (InputError otherwise). */
export function checkTokens(tokens: RunTokens, cfg: TrainConfig): void {
  const b = cfg.train.batch_size, t = cfg.model.seq_len;
  if (tokens.train.length < b * t + 1) {
    throw new InputError(`corpus: ${tokens.train.length} training tokens, smaller than one batch (batch_size ${b} x seq_len ${t} + 1)`);
  }
  if (tokens.val.length < 2) throw new InputError('corpus: too small to hold out a validation split');
}

/** Batches and routing noise come from (seed, step): a resumed run draws exactly what it would have. */
export function stepSeed(seed: number, step: number, stream: number): number {
  return (Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(step + 1, 0x85ebca6b) + Math.imul(stream + 1, 0xc2b2ae35)) >>> 0;
}

export async function train(run: TrainRun): Promise<{ summary: TrainSummary; model: GPT | GPTStage } | null> {
  const { cfg, out, ctx, tokens, clock } = run, tc = cfg.train, t0 = performance.now();
  const rank0 = ctx.groups.world.rank === 0;
  checkTokens(tokens, cfg);
  const modelCfg = { ...cfg.model, vocab_size: tokens.tokenizer.vocabSize };
  const runCfg: TrainConfig = { model: modelCfg, train: tc };
  // Data: the global batch of B sequences is the same in every layout; dp rank i takes rows
  // [i * B/dp, (i + 1) * B/dp).
  const t = cfg.model.seq_len, b = tc.batch_size, bl = b / ctx.dp;
  if (!Number.isInteger(bl)) throw new Error(`invariant: dp ${ctx.dp} divides train.batch_size ${b} (checkLayout)`);

  // Model and optimizer: the whole model, or this rank's pipeline stage of it. Weights and optimizer
  // state live for the run: the backend keeps its fast memory for activations.
  const { micro, ppLayers } = run.layout;
  const { model, pipe, infos, opt } = withLifetime('model', () => {
    const pipe = ctx.pp > 1 ? new PipelineStage(new GPTStage(modelCfg, tc.seed, ctx, stageOf(ppLayers, ctx.ppIndex, ctx.pp)), ctx, micro) : undefined;
    const model = pipe?.model ?? new GPT(modelCfg, tc.seed, ctx);
    const infos = model.parameterInfo();
    const opt = new ParallelAdamW(infos, { lr: tc.lr, beta1: tc.beta1, beta2: tc.beta2, eps: 1e-8, weightDecay: tc.weight_decay },
      ctx, run.layout.zero, tc.optimizer ?? 'adamw');
    return { model, pipe, infos, opt };
  });
  model.recompute = tc.recompute ?? 'none';
  // MFU: model FLOPs per token over every core's FMA peak (bf16 dot-product peak at precision bf16), timed at start (backends/peak.ts).
  const flopsTok = flopsPerToken(modelCfg), peakInfo = peakFor(measurePeak(), tc.precision ?? 'fp32'), peak = peakInfo.totalFlops;

  // Checkpoints: <out>/ckpt/step-XXXXXXXX, resumable into any layout.
  const { checkpointer, every, startStep, ...resumed } = await openCheckpoints(run, modelCfg, infos, opt);
  let firstLoss = resumed.firstLoss;
  if (rank0) writeRunHeader(out, runCfg, run.layout, run.placement, bl / micro, startStep === 0);

  const bar = run.progress && rank0 ? new Progress(tc.steps, 'step', true) : null;
  const losses: number[] = [], busiest: number[] = [];
  let tokensSeen = 0, trainSeconds = 0, lastVal = NaN;
  const bubbles: number[][] = [];
  let routerBias: number[][] = []; // (MoE layers, E) after the last step; empty when aux-loss-free balancing is off
  const evalOn = (toks: Int32Array, batches?: number) => pipe !== undefined ? pipe.evaluate(toks, b, batches) : evaluate(model as GPT, toks, b, batches);
  let peaks: MemoryRecord[] = []; // each rank's step with the highest tensor peak, by world rank
  for (let step = startStep; step < tc.steps; step++) {
    const lr = learningRate(step, { lr: tc.lr, minLr: tc.min_lr, warmup: tc.warmup_steps, total: tc.steps });
    const ts = performance.now(), comm0 = commSplit(clock, ctx.groups.world);
    resetStepPeak(backend());
    const r = await scoped(async () => {
      // This rank's rows of the step's batch: x, y (B/dp, T) of the global (B, T).
      const batch = sampleBatch(tokens.train, b, t, new Rng(stepSeed(tc.seed, step, 0)));
      const rows = [ctx.dpIndex * bl * t, (ctx.dpIndex + 1) * bl * t] as const;
      const x = batch.x.subarray(...rows), y = batch.y.subarray(...rows);
      // Forward, backward, then the optimizer reduces gradients over dp, clips and steps.
      let fb: { stats: StepStats; waits?: number[] };
      if (pipe === undefined) {
        const { loss, ce, fwd } = await (model as GPT).loss(x, y, bl, t, new Rng(stepSeed(tc.seed, step, 1 + ctx.dpIndex)));
        if (run.failAtStep === step) throw new Error(`injected fault at step ${step}`);
        await opt.backward(() => loss.backwardAsync(), tc.overlap_grad_reduce ?? true);
        fb = { stats: await StepStats.of(ce, fwd).reduceOverDp(ctx) }; // the global batch's statistics
      } else {
        if (run.failAtStep === step) throw new Error(`injected fault at step ${step}`);
        fb = await pipe.step(x, y, bl, t, (i) => new Rng(stepSeed(tc.seed, step, 1 + ctx.dpIndex * micro + i)));
      }
      const gradNorm = await opt.update(lr, tc.grad_clip);
      opt.zeroGrad();
      // The reported statistics are the global batch's; its expert loads move the router biases.
      routerBias = pipe !== undefined ? await pipe.updateRouterBias(fb.stats.load) : (model as GPT).updateRouterBias(fb.stats.load);
      return { ...fb, gradNorm };
    });
    const comm = commSplit(clock, ctx.groups.world, comm0);
    const mem = stepMemory(backend(), infos, opt.stateBytes());
    const memRanks = mem !== undefined ? await gatherMemory(ctx.groups.world, mem) : undefined;
    if (memRanks !== undefined) peaks = keepPeaks(peaks, memRanks);
    // Checkpoint every `every` steps and at the end.
    const dtCkpt = checkpointer !== undefined && ((step + 1) % every === 0 || step === tc.steps - 1) ? await secondsOf(async () => {
      const meta = checkpointMeta(runCfg, tokens, run.layout, step + 1, opt.step, Number.isFinite(firstLoss) ? firstLoss : r.stats.ce);
      await checkpointer.save(step + 1, await collectState(infos, opt, ctx), meta);
    }) : 0;
    const dt = (performance.now() - ts) / 1000;
    if (r.waits !== undefined) bubbles.push(r.waits.map((w) => w / Math.max(1e-9, dt - dtCkpt)));
    trainSeconds += dt;
    tokensSeen += b * t;
    losses.push(r.stats.ce);
    busiest.push(r.stats.busiest());
    if (!Number.isFinite(firstLoss)) firstLoss = r.stats.ce;
    if (!Number.isFinite(r.stats.ce)) throw new Error(`loss became ${r.stats.ce} at step ${step}`);
    // Evaluate every eval_every steps and at the end; log every log_every steps (rank 0).
    const last = step === tc.steps - 1;
    // After the last update the optimizer is done with: its memory goes to the evaluations and the export.
    if (last) { opt.release(); releaseMemory(backend()); }
    let valLoss: number | undefined;
    if ((tc.eval_every > 0 && (step + 1) % tc.eval_every === 0) || last) lastVal = valLoss = (await evalOn(tokens.val, tc.eval_batches)).loss;
    if (rank0 && (step % tc.log_every === 0 || last || valLoss !== undefined)) {
      logStep(run, { ...metricsRecord({ step, lr, dt, ckpt: dtCkpt, comm, tokens: b * t, flopsTok, peak, ...r, reportZLoss: zLossCoef(modelCfg) > 0, valLoss,
        bubble: bubbles[bubbles.length - 1], routerBias }), ...(mem !== undefined && memRanks !== undefined ? { memory: mem, memory_ranks: memRanks } : {}) });
    }
    bar?.update(step + 1, { loss: r.stats.ce, 'tok/s': Math.round(tokensSeen / trainSeconds) });
    // A worker thread's output reaches the terminal only when its event loop turns, and the
    // step loop otherwise runs on microtasks alone: let it turn once per step.
    if (rank0 && !isMainThread) await new Promise((resolve) => setImmediate(resolve));
  }
  bar?.done();
  await checkpointer?.wait();

  // Final: bits per byte on the whole validation text, then save: rank 0 writes the model, streamed
  // one whole tensor at a time (a pipeline's stages send theirs to rank 0 whole).
  opt.release(); // (a run resumed at its last step ran no step)
  releaseMemory(backend());
  const full = await evalOn(tokens.val);
  releaseMemory(backend());
  if (pipe !== undefined) {
    const whole = await pipe.gatherParams(infos);
    if (!rank0 || whole === null) return null;
    saveModel(out, whole, runCfg, tokens.tokenizer);
  } else {
    await exportModel(out, infos, ctx, rank0 ? { cfg: runCfg, tokenizer: tokens.tokenizer } : null);
    if (!rank0) return null;
  }
  const summary = summarize(runCfg, { startStep, firstLoss, losses, busiest, lastVal, full, valBytes: tokens.valBytes, tokensSeen, trainSeconds,
    flopsTok, peakInfo, seconds: (performance.now() - t0) / 1000, out });
  if (run.collectives !== undefined) summary.collectives = run.collectives;
  if (pipe !== undefined) {
    const v = pipe.virtual;
    summary.pipeline = { stages: ctx.pp, virtual_stages: v, layers: ppLayers, micro_batches: micro,
      bubble: Array.from({ length: ctx.pp }, (_, s) => mean(bubbles.map((w) => w[s] ?? 0))), bubble_1f1b: bubbleFraction(ctx.pp, micro),
      ...(v > 1 ? { bubble_interleaved: bubbleFraction(ctx.pp, micro, v) } : {}) };
  }
  if (peaks.length > 0) summary.memory = memorySummary(peaks, plannerMemory(modelCfg, b, { ...run.layout, recompute: model.recompute }));
  writeFileSync(join(out, 'summary.json'), JSON.stringify({ ...summary, losses: undefined }, null, 2) + '\n');
  return { summary, model };
}

/**
 * The run's checkpointer (with the save interval; none without --ckpt-every) and where the run
 * starts: step 0, or the step after the checkpoint it resumes from.
 */
async function openCheckpoints(run: TrainRun, modelCfg: ModelConfig, infos: readonly ParamInfo[], opt: ParallelAdamW): Promise<{
  checkpointer: Checkpointer | undefined; every: number; startStep: number; firstLoss: number }> {
  const ck = run.ckpt, root = join(run.out, 'ckpt'), every = ck?.every ?? 0;
  const checkpointer = ck !== undefined && every > 0 ? new Checkpointer({ root, coordinator: run.ctx.groups.world, async: ck.async, keep: ck.keep,
    ...(ck.group !== undefined ? { group: ck.group } : {}) }) : undefined;
  // Async saves copy into staging memory: allocate it now, not at the first save.
  if (checkpointer !== undefined && ck?.async === true) checkpointer.reserve(stateLayout(infos, opt, run.ctx));
  if (ck?.resume === undefined) return { checkpointer, every, startStep: 0, firstLoss: NaN };
  const r = await resumeFrom(ck.resume, ck.verify, root, modelCfg, infos, opt, run.ctx);
  run.log(`resumed from ${r.dir} at step ${r.step}`);
  return { checkpointer, every, startStep: r.step, firstLoss: r.firstLoss };
}

/** Checkpoint `spec` (a directory, a root, or 'latest') restored into this layout: the step to go on from. */
async function resumeFrom(spec: string, verify: boolean, ckptRoot: string, modelCfg: ModelConfig, infos: readonly ParamInfo[],
  opt: ParallelAdamW, ctx: ParallelContext): Promise<{ dir: string; step: number; firstLoss: number }> {
  let dir: string;
  try {
    dir = await resolveCheckpoint(spec === 'latest' ? 'latest' : spec, ckptRoot);
  } catch (e) {
    throw new InputError(`--resume: ${errorMessage(e)}`);
  }
  const reader = await CheckpointReader.open(dir, { verify: false });
  const meta = reader.meta as Partial<Pick<CheckpointMeta, 'next_step' | 'optimizer_step' | 'first_loss'>> & { config?: TrainConfig };
  await reader.close();
  if (JSON.stringify(meta.config?.model) !== JSON.stringify(modelCfg)) {
    throw new InputError(`--resume: ${dir} holds a model with a different config; resume with the same model config`);
  }
  await restoreState(dir, infos, opt, ctx, meta.optimizer_step ?? 0, verify);
  return { dir, step: meta.next_step ?? 0, firstLoss: meta.first_loss ?? NaN };
}

/** Rank 0's files at the start of a run: metrics.jsonl (emptied unless resuming), config.json, plan.json. */
function writeRunHeader(out: string, runCfg: TrainConfig, layout: RunLayout, placement: Placement, microBatch: number,
  fresh: boolean): void {
  mkdirSync(out, { recursive: true });
  if (fresh) writeFileSync(join(out, 'metrics.jsonl'), '');
  writeFileSync(join(out, 'config.json'), JSON.stringify(runCfg, null, 2) + '\n');
  // The layout in the planner's form, so `furnace plan --calibrate` can read this run.
  const l = layout;
  writeFileSync(join(out, 'plan.json'), JSON.stringify({ format: PLAN_FORMAT, ...planToJson({ dp: l.dp, tp: l.tp, pp: l.pp, ep: l.ep,
    zero: l.zero ? 1 : 0, microBatch, recompute: runCfg.train.recompute ?? 'none', placement, ...((l.virtual ?? 1) > 1 ? { virtualStages: l.virtual } : {}) }) },
    null, 2) + '\n');
}

/** What a checkpoint records besides the tensors: the run's config and tokenizer, its layout and position. */
export interface CheckpointMeta {
  format: 'furnace-train';
  config: TrainConfig;
  tokenizer: Json;
  layout: RunLayout;
  next_step: number;
  optimizer_step: number;
  first_loss: number;
  data: { seed: number; next_step: number };
}

function checkpointMeta(runCfg: TrainConfig, tokens: RunTokens, layout: RunLayout, nextStep: number, optimizerStep: number,
  firstLoss: number): Json {
  const meta: CheckpointMeta = { format: 'furnace-train', config: runCfg, tokenizer: tokens.tokenizer.toJSON() as Json, layout,
    next_step: nextStep, optimizer_step: optimizerStep, first_loss: firstLoss, data: { seed: runCfg.train.seed, next_step: nextStep } };
  // As plain objects: an interface type has no index signature, so it is not a Json object as it is.
  return { ...meta, config: { model: { ...meta.config.model }, train: { ...meta.config.train } }, layout: { ...meta.layout, ppLayers: [...meta.layout.ppLayers] },
    data: { ...meta.data } };
}

/**
 * Collective seconds since `since` (or in total): all-to-all, and every other kind but the pipeline's send/recv (reductions, gathers);
 * wait, the part of all collectives spent blocked for peers, where the backend can tell (threads).
 */
function commSplit(clock: CommClock, world: ProcessGroup, since = { allreduce: 0, alltoall: 0, wait: 0 }): { allreduce: number; alltoall: number; wait: number } {
  const alltoall = clock.seconds.alltoall, p2p = clock.seconds.p2p;
  return { allreduce: clock.total() - alltoall - p2p - since.allreduce, alltoall: alltoall - since.alltoall, wait: (world.waitedSeconds?.() ?? NaN) - since.wait };
}

/** Appends the record to metrics.jsonl and logs its line (rank 0). */
function logStep(run: TrainRun, rec: MetricsRecord): void {
  appendFileSync(join(run.out, 'metrics.jsonl'), JSON.stringify(rec) + '\n');
  const val = rec.val_loss !== undefined ? ` val ${rec.val_loss.toFixed(4)}` : '';
  run.log(`step ${rec.step} loss ${rec.loss.toFixed(4)}${val} lr ${rec.lr.toExponential(2)} ${Math.round(rec.tokens_per_s)} tok/s`);
}

/** One line of metrics.jsonl; compute is the step's time outside collectives and the checkpoint. */
function metricsRecord(s: { step: number; lr: number; dt: number; ckpt: number; comm: { allreduce: number; alltoall: number; wait: number }; tokens: number;
  flopsTok: number; peak: number; stats: StepStats; gradNorm: number; reportZLoss: boolean; valLoss: number | undefined;
  bubble: number[] | undefined; routerBias: number[][] }): MetricsRecord {
  const tokPerS = s.tokens / s.dt, { allreduce, alltoall } = s.comm;
  return {
    step: s.step, loss: s.stats.ce, lr: s.lr, tokens_per_s: tokPerS, step_time_s: s.dt,
    model_flops_per_s: tokPerS * s.flopsTok, mfu: (tokPerS * s.flopsTok) / s.peak,
    time: { compute: Math.max(0, s.dt - allreduce - alltoall - s.ckpt), allreduce, alltoall, ckpt: s.ckpt, ...(Number.isNaN(s.comm.wait) ? {} : { wait: s.comm.wait }) },
    expert_load: s.stats.load, aux_loss: s.stats.aux, grad_norm: s.gradNorm, dropped_tokens: s.stats.dropped,
    ...(s.reportZLoss ? { z_loss: s.stats.zLoss } : {}),
    ...(s.routerBias.length > 0 ? { router_bias: s.routerBias } : {}),
    ...(s.valLoss !== undefined ? { val_loss: s.valLoss } : {}),
    ...(s.bubble !== undefined ? { bubble: s.bubble } : {}),
  };
}

/** The run's summary (rank 0). */
function summarize(runCfg: TrainConfig, r: { startStep: number; firstLoss: number; losses: number[]; busiest: number[]; lastVal: number; full: { loss: number; nats: number };
  valBytes: number; tokensSeen: number; trainSeconds: number; flopsTok: number; peakInfo: PeakEstimate; seconds: number; out: string }): TrainSummary {
  const counts = countParams(runCfg.model);
  const tokensPerS = r.trainSeconds > 0 ? r.tokensSeen / r.trainSeconds : 0;
  return {
    steps: runCfg.train.steps,
    start_step: r.startStep,
    train_loss: r.losses.length > 0 ? mean(r.losses.slice(-Math.min(10, r.losses.length))) : NaN,
    busiest_expert: r.busiest.length > 0 ? mean(r.busiest.slice(-Math.max(1, Math.round(r.busiest.length / 10)))) : NaN,
    first_loss: r.firstLoss,
    val_loss: Number.isFinite(r.full.loss) ? r.full.loss : r.lastVal,
    val_bits_per_byte: bitsPerByte(r.full.nats, r.valBytes),
    tokens_per_s: tokensPerS,
    model_flops_per_s: tokensPerS * r.flopsTok,
    mfu: (tokensPerS * r.flopsTok) / r.peakInfo.totalFlops,
    peak_flops: r.peakInfo.totalFlops,
    peak_basis: r.peakInfo.basis,
    params: counts.total,
    active_params: counts.active,
    seconds: r.seconds,
    out: r.out,
    vocab_size: runCfg.model.vocab_size,
    losses: r.losses,
  };
}

async function secondsOf(f: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await f();
  return (performance.now() - t0) / 1000;
}

function mean(xs: readonly number[]): number {
  return xs.reduce((p, x) => p + x, 0) / xs.length;
}
