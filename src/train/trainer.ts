// The training loop, top to bottom: config -> data -> model -> steps (log, eval, checkpoint) ->
// save. One loop for every layout: with a ParallelContext each rank runs it on its share of
// the batch, and rank 0 reports.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { InputError } from '../util/errors.js';
import { Progress } from '../util/output.js';
import { GPT, countParams, zLossCoef } from '../nn/gpt.js';
import { learningRate } from '../optim/schedule.js';
import { Rng } from '../tensor/random.js';
import { scoped } from '../tensor/engine.js';
import { measurePeak } from '../backends/peak.js';
import { ParallelAdamW } from '../parallel/optimizer.js';
import { gatherParams } from '../parallel/gather.js';
import type { ParallelContext } from '../parallel/context.js';
import { Checkpointer, CheckpointReader, resolveCheckpoint, type Coordinator, type Json } from '../checkpoint/index.js';
import type { TrainConfig } from './config.js';
import { sampleBatch } from './data.js';
import type { RunTokens } from './tokenizer.js';
import { bitsPerByte, evaluate } from './evaluate.js';
import { saveModel } from './model-dir.js';
import { flopsPerToken } from './flops.js';
import { collectState, restoreState, stateLayout } from './state.js';
import { commTimes } from '../parallel/ops.js';
import type { MetricsRecord } from './metrics.js';
import { DEFAULT_ORDER, PLAN_FORMAT, planToJson } from '../planner/plan.js';
import type { Placement } from '../layout/grid.js';

export interface CheckpointOptions {
  /** Save every N steps (0: never). */
  every: number;
  async: boolean;
  keep: number;
  /** Resume from this checkpoint directory, checkpoint root, or 'latest' (in out/ckpt). */
  resume?: string;
  verify: boolean;
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
  /** This rank's groups; absent for a single process. */
  ctx?: ParallelContext;
  /** ZeRO-1: split optimizer state over data-parallel ranks. */
  zero?: boolean;
  /** Fault injection for tests of failure handling: throw on this step (after the forward pass). */
  failAtStep?: number;
  /** Layout description stored in checkpoints and metrics. */
  layout?: { dp: number; tp: number; ep: number; zero: boolean; comm: string };
  /** Where the ranks sit (the order makeProcessGroups used), recorded in the run's plan.json. */
  placement?: Placement;
}

export interface TrainSummary {
  steps: number;
  start_step: number;
  train_loss: number;
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

export async function train(run: TrainRun): Promise<{ summary: TrainSummary; model: GPT } | null> {
  const { cfg, out, ctx, tokens } = run;
  const tc = cfg.train;
  const t0 = performance.now();
  const rank0 = ctx === undefined || ctx.groups.world.rank === 0;
  const dp = ctx?.dp ?? 1, dpIndex = ctx?.dpIndex ?? 0;

  // Data: the global batch of B sequences is the same in every layout; dp rank i takes rows
  // [i * B/dp, (i + 1) * B/dp).
  const { tokenizer, train: trainTokens, val: valTokens, valBytes } = tokens;
  const t = cfg.model.seq_len, b = tc.batch_size;
  if (b % dp !== 0) throw new InputError(`train.batch_size ${b} must be divisible by --dp ${dp}`);
  const bl = b / dp;
  checkTokens(tokens, cfg);
  const modelCfg = { ...cfg.model, vocab_size: tokenizer.vocabSize };
  const runCfg: TrainConfig = { model: modelCfg, train: tc };

  // Model and optimizer.
  const model = new GPT(modelCfg, tc.seed, ctx);
  const infos = model.parameterInfo();
  const opt = new ParallelAdamW(infos, { lr: tc.lr, beta1: tc.beta1, beta2: tc.beta2, eps: 1e-8, weightDecay: tc.weight_decay },
    ctx, run.zero === true);
  const counts = countParams(modelCfg);
  const flopsTok = flopsPerToken(modelCfg);
  // MFU's denominator: every core's FMA peak, timed at start (backends/peak.ts).
  const peakInfo = measurePeak(), peak = peakInfo.totalFlops;

  // Checkpoints: <out>/ckpt/step-XXXXXXXX, resumable into any layout.
  const ckptRoot = join(out, 'ckpt');
  const world: Coordinator = ctx?.groups.world ?? { rank: 0, size: 1, barrier: async () => {} };
  const ck = run.ckpt;
  const checkpointer = ck !== undefined && ck.every > 0 ? new Checkpointer({ root: ckptRoot, coordinator: world, async: ck.async, keep: ck.keep }) : undefined;
  // Async saves copy into staging memory: allocate it now, not at the first save.
  if (checkpointer !== undefined && ck?.async === true) checkpointer.reserve(stateLayout(infos, ctx));
  let startStep = 0;
  let firstLoss = NaN;
  if (ck?.resume !== undefined) {
    let dir: string;
    try {
      dir = await resolveCheckpoint(ck.resume === 'latest' ? 'latest' : ck.resume, ckptRoot);
    } catch (e) {
      throw new InputError(`--resume: ${(e as Error).message}`);
    }
    const reader = await CheckpointReader.open(dir, { verify: false });
    const meta = reader.meta as { config?: TrainConfig; next_step?: number; optimizer_step?: number; first_loss?: number };
    await reader.close();
    if (JSON.stringify(meta.config?.model) !== JSON.stringify(modelCfg)) {
      throw new InputError(`--resume: ${dir} holds a model with a different config; resume with the same model config`);
    }
    await restoreState(dir, infos, opt, ctx, meta.optimizer_step ?? 0, ck.verify);
    startStep = meta.next_step ?? 0;
    firstLoss = meta.first_loss ?? NaN;
    run.log(`resumed from ${dir} at step ${startStep}`);
  }

  let metricsPath = '';
  if (rank0) {
    mkdirSync(out, { recursive: true });
    metricsPath = join(out, 'metrics.jsonl');
    if (startStep === 0) writeFileSync(metricsPath, '');
    writeFileSync(join(out, 'config.json'), JSON.stringify(runCfg, null, 2) + '\n');
    // The layout in the planner's form, so `furnace plan --calibrate` can read this run.
    const l = run.layout ?? { dp: 1, tp: 1, ep: 1, zero: false };
    writeFileSync(join(out, 'plan.json'), JSON.stringify({ format: PLAN_FORMAT, ...planToJson({ dp: l.dp, tp: l.tp, pp: 1, ep: l.ep,
      zero: l.zero ? 1 : 0, microBatch: bl, recompute: 'none', placement: run.placement ?? { order: [...DEFAULT_ORDER] } }) }, null, 2) + '\n');
  }
  const bar = run.progress && rank0 ? new Progress(tc.steps, 'step', true) : null;
  const losses: number[] = [];
  let tokensSeen = 0, trainSeconds = 0, lastVal = NaN;

  for (let step = startStep; step < tc.steps; step++) {
    const lr = learningRate(step, { lr: tc.lr, minLr: tc.min_lr, warmup: tc.warmup_steps, total: tc.steps });
    const ts = performance.now();
    const comm0 = commTimes();
    let allreduce = 0;
    const r = await scoped(async () => {
      const batch = sampleBatch(trainTokens, b, t, new Rng(stepSeed(tc.seed, step, 0)));
      const x = batch.x.subarray(dpIndex * bl * t, (dpIndex + 1) * bl * t), y = batch.y.subarray(dpIndex * bl * t, (dpIndex + 1) * bl * t);
      const routeRng = new Rng(stepSeed(tc.seed, step, 1 + dpIndex));
      const { loss, ce, fwd } = await model.loss(x, y, bl, t, routeRng);
      if (run.failAtStep === step) throw new Error(`injected fault at step ${step}`);
      await loss.backwardAsync();
      const gradNorm = await opt.update(lr, tc.grad_clip);
      allreduce = opt.commSeconds;
      opt.zeroGrad();
      // The reported loss is the global batch's: the mean of the dp ranks' means.
      const stats = Float32Array.of(ce.item(), fwd.auxLoss.item(), fwd.dropped, fwd.zLoss.item(), ...fwd.load.flatMap((l) => Array.from(l)));
      if (ctx !== undefined && dp > 1) await ctx.groups.dp.allReduce(stats);
      const nl = fwd.load.length, ne = nl > 0 ? fwd.load[0]!.length : 0;
      const load = Array.from({ length: nl }, (_, l) => Array.from(stats.subarray(4 + l * ne, 4 + (l + 1) * ne)));
      return { loss: stats[0]! / dp, aux: stats[1]! / dp, z: stats[3]! / dp, gradNorm, load, dropped: stats[2]! };
    });
    const comm1 = commTimes();
    let dtCkpt = 0;
    if (checkpointer !== undefined && ck !== undefined && ((step + 1) % ck.every === 0 || step === tc.steps - 1)) {
      const tc0 = performance.now();
      const meta: Json = { format: 'furnace-train', config: runCfg as unknown as Json, tokenizer: tokenizer.toJSON() as Json,
        layout: (run.layout ?? { dp: 1, tp: 1, ep: 1, zero: false, comm: 'none' }) as unknown as Json,
        next_step: step + 1, optimizer_step: opt.step, first_loss: Number.isFinite(firstLoss) ? firstLoss : r.loss,
        data: { seed: tc.seed, next_step: step + 1 } };
      await checkpointer.save(step + 1, await collectState(infos, opt, ctx), meta);
      dtCkpt = (performance.now() - tc0) / 1000;
    }
    const dt = (performance.now() - ts) / 1000;
    trainSeconds += dt;
    tokensSeen += b * t;
    losses.push(r.loss);
    if (!Number.isFinite(firstLoss)) firstLoss = r.loss;
    if (!Number.isFinite(r.loss)) throw new Error(`loss became ${r.loss} at step ${step}`);

    const last = step === tc.steps - 1;
    let valLoss: number | undefined;
    if ((tc.eval_every > 0 && (step + 1) % tc.eval_every === 0) || last) {
      valLoss = (await evaluate(model, valTokens, b, tc.eval_batches)).loss;
      lastVal = valLoss;
    }
    if (rank0 && (step % tc.log_every === 0 || last || valLoss !== undefined)) {
      const alltoall = comm1.alltoall - comm0.alltoall;
      const tpReduce = comm1.allreduce - comm0.allreduce;
      const rec: MetricsRecord = {
        step, loss: r.loss, lr, tokens_per_s: (b * t) / dt, step_time_s: dt,
        model_flops_per_s: ((b * t) / dt) * flopsTok, mfu: (((b * t) / dt) * flopsTok) / peak,
        time: { compute: Math.max(0, dt - allreduce - alltoall - tpReduce - dtCkpt), allreduce: allreduce + tpReduce, alltoall, ckpt: dtCkpt },
        expert_load: r.load, aux_loss: r.aux, grad_norm: r.gradNorm, dropped_tokens: r.dropped,
        ...(zLossCoef(modelCfg) > 0 ? { z_loss: r.z } : {}),
        ...(valLoss !== undefined ? { val_loss: valLoss } : {}),
      };
      appendFileSync(metricsPath, JSON.stringify(rec) + '\n');
      run.log(`step ${step} loss ${r.loss.toFixed(4)}${valLoss !== undefined ? ` val ${valLoss.toFixed(4)}` : ''} lr ${lr.toExponential(2)} ${Math.round((b * t) / dt)} tok/s`);
    }
    bar?.update(step + 1, { loss: r.loss, 'tok/s': Math.round(tokensSeen / trainSeconds) });
    // A worker thread's output reaches the terminal only when its event loop turns, and the
    // step loop otherwise runs on microtasks alone: let it turn once per step.
    if (rank0 && !isMainThread) await new Promise((resolve) => setImmediate(resolve));
  }
  bar?.done();
  await checkpointer?.wait();

  // Final: bits per byte on the whole validation text, then save (rank 0 writes the whole model).
  const full = await evaluate(model, valTokens, b);
  const valBpb = bitsPerByte(full.nats, valBytes);
  const whole = await gatherParams(infos, ctx);
  if (!rank0) return null;
  saveModel(out, whole, runCfg, tokenizer);
  const tokensPerS = trainSeconds > 0 ? tokensSeen / trainSeconds : 0;
  const summary: TrainSummary = {
    steps: tc.steps,
    start_step: startStep,
    train_loss: losses.length > 0 ? mean(losses.slice(-Math.min(10, losses.length))) : NaN,
    first_loss: firstLoss,
    val_loss: Number.isFinite(full.loss) ? full.loss : lastVal,
    val_bits_per_byte: valBpb,
    tokens_per_s: tokensPerS,
    model_flops_per_s: tokensPerS * flopsTok,
    mfu: (tokensPerS * flopsTok) / peak,
    peak_flops: peak,
    peak_basis: peakInfo.basis,
    params: counts.total,
    active_params: counts.active,
    seconds: (performance.now() - t0) / 1000,
    out,
    vocab_size: tokenizer.vocabSize,
    losses,
  };
  writeFileSync(join(out, 'summary.json'), JSON.stringify({ ...summary, losses: undefined }, null, 2) + '\n');
  return { summary, model };
}

function mean(xs: readonly number[]): number {
  return xs.reduce((p, x) => p + x, 0) / xs.length;
}
