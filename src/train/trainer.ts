// The training loop, top to bottom: config -> data -> model -> steps (log, eval) -> save.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, Progress } from '../cli/util.js';
import { GPT, countParams } from '../nn/gpt.js';
import { AdamW, clipGradNorm } from '../optim/adamw.js';
import { learningRate } from '../optim/schedule.js';
import { Rng } from '../tensor/random.js';
import { scoped } from '../tensor/engine.js';
import type { TrainConfig } from './config.js';
import { sampleBatch } from './data.js';
import { prepareTokens } from './tokenizer.js';
import type { BpeTokenizer } from '../data/tokenizer.js';
import { bitsPerByte, evaluate } from './evaluate.js';
import { saveModel } from './model-dir.js';
import { flopsPerToken } from './flops.js';

export interface TrainRun {
  cfg: TrainConfig;
  text: string;
  out: string;
  /** Called with a human-readable line (log every `log_every` steps). */
  log: (line: string) => void;
  /** Show a progress line on a terminal. */
  progress: boolean;
}

export interface MetricsRecord {
  step: number;
  loss: number;
  val_loss?: number;
  lr: number;
  tokens_per_s: number;
  step_time_s: number;
  time: { compute: number; allreduce: number; alltoall: number; ckpt: number };
  expert_load: number[][];
  aux_loss: number;
  grad_norm: number;
  dropped_tokens: number;
}

export interface TrainSummary {
  steps: number;
  train_loss: number;
  first_loss: number;
  val_loss: number;
  val_bits_per_byte: number;
  tokens_per_s: number;
  model_flops_per_s: number;
  params: number;
  active_params: number;
  seconds: number;
  out: string;
  vocab_size: number;
  losses: number[];
}

export async function train(run: TrainRun): Promise<{ summary: TrainSummary; model: GPT; tokenizer: BpeTokenizer }> {
  const { cfg, out } = run;
  const tc = cfg.train;
  const t0 = performance.now();

  // Data: tokenizer trained on the training split; the last 10% of the text is validation.
  const { tokenizer, train: trainTokens, val: valTokens, valBytes, cached } = prepareTokens(run.text, cfg.model.vocab_size);
  run.log(`tokens: ${trainTokens.length} train, ${valTokens.length} validation, vocabulary ${tokenizer.vocabSize}${cached ? ' (cached)' : ''}`);
  const t = cfg.model.seq_len, b = tc.batch_size;
  if (trainTokens.length < b * t + 1) {
    throw new UsageError(`corpus: ${trainTokens.length} training tokens, smaller than one batch (batch_size ${b} x seq_len ${t} + 1)`);
  }
  if (valTokens.length < 2) throw new UsageError('corpus: too small to hold out a validation split');
  const modelCfg = { ...cfg.model, vocab_size: tokenizer.vocabSize };
  const runCfg: TrainConfig = { model: modelCfg, train: tc };

  // Model and optimizer.
  const model = new GPT(modelCfg, tc.seed);
  const named = model.namedParameters();
  const params = named.map(([, p]) => p);
  const opt = new AdamW(named, { lr: tc.lr, beta1: tc.beta1, beta2: tc.beta2, eps: 1e-8, weightDecay: tc.weight_decay });
  const counts = countParams(modelCfg);
  const rng = new Rng(tc.seed + 1);

  mkdirSync(out, { recursive: true });
  const metricsPath = join(out, 'metrics.jsonl');
  writeFileSync(metricsPath, '');
  const bar = run.progress ? new Progress(tc.steps) : null;
  const losses: number[] = [];
  let tokensSeen = 0, trainSeconds = 0, lastVal = NaN;

  for (let step = 0; step < tc.steps; step++) {
    const lr = learningRate(step, { lr: tc.lr, minLr: tc.min_lr, warmup: tc.warmup_steps, total: tc.steps });
    const ts = performance.now();
    const r = await scoped(async () => {
      const batch = sampleBatch(trainTokens, b, t, rng);
      const { loss, ce, fwd } = await model.loss(batch.x, batch.y, b, t, rng);
      await loss.backwardAsync();
      const gradNorm = clipGradNorm(params, tc.grad_clip);
      opt.update(lr);
      opt.zeroGrad();
      return { loss: ce.item(), aux: fwd.auxLoss.item(), gradNorm, load: fwd.load.map((l) => Array.from(l)), dropped: fwd.dropped };
    });
    const dt = (performance.now() - ts) / 1000;
    trainSeconds += dt;
    tokensSeen += b * t;
    losses.push(r.loss);
    if (!Number.isFinite(r.loss)) throw new Error(`loss became ${r.loss} at step ${step}`);

    const last = step === tc.steps - 1;
    let valLoss: number | undefined;
    if ((tc.eval_every > 0 && (step + 1) % tc.eval_every === 0) || last) {
      valLoss = (await evaluate(model, valTokens, b, tc.eval_batches)).loss;
      lastVal = valLoss;
    }
    if (step % tc.log_every === 0 || last || valLoss !== undefined) {
      const rec: MetricsRecord = {
        step, loss: r.loss, lr, tokens_per_s: (b * t) / dt, step_time_s: dt,
        time: { compute: dt, allreduce: 0, alltoall: 0, ckpt: 0 },
        expert_load: r.load, aux_loss: r.aux, grad_norm: r.gradNorm, dropped_tokens: r.dropped,
        ...(valLoss !== undefined ? { val_loss: valLoss } : {}),
      };
      appendFileSync(metricsPath, JSON.stringify(rec) + '\n');
      run.log(`step ${step} loss ${r.loss.toFixed(4)}${valLoss !== undefined ? ` val ${valLoss.toFixed(4)}` : ''} lr ${lr.toExponential(2)} ${Math.round((b * t) / dt)} tok/s`);
    }
    bar?.update(step + 1, { loss: r.loss, 'tok/s': Math.round(tokensSeen / trainSeconds) });
  }
  bar?.done();

  // Final: bits per byte on the whole validation text, then save.
  const full = await evaluate(model, valTokens, b);
  const valBpb = bitsPerByte(full.nats, valBytes);
  saveModel(out, model, runCfg, tokenizer);
  const tokensPerS = tokensSeen / trainSeconds;
  const summary: TrainSummary = {
    steps: tc.steps,
    train_loss: mean(losses.slice(-Math.max(1, Math.min(10, losses.length)))),
    first_loss: losses[0]!,
    val_loss: Number.isFinite(full.loss) ? full.loss : lastVal,
    val_bits_per_byte: valBpb,
    tokens_per_s: tokensPerS,
    model_flops_per_s: tokensPerS * flopsPerToken(modelCfg),
    params: counts.total,
    active_params: counts.active,
    seconds: (performance.now() - t0) / 1000,
    out,
    vocab_size: tokenizer.vocabSize,
    losses,
  };
  writeFileSync(join(out, 'summary.json'), JSON.stringify({ ...summary, losses: undefined }, null, 2) + '\n');
  return { summary, model, tokenizer };
}

function mean(xs: readonly number[]): number {
  return xs.reduce((p, x) => p + x, 0) / xs.length;
}
