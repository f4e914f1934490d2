// `furnace bench pipeline`: 1F1B against interleaved 1F1B on two pipeline stages, step time and each
// stage's bubble beside the formulas (p - 1) / (m + p - 1) and (p - 1) / (v m + p - 1) and the
// planner's prediction for this machine, alternating the schedules within one run so that both see
// the same machine.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Output } from '../util/output.js';
import { PRESETS, resolvePipeline, type TrainConfig } from '../train/config.js';
import { launchRanks, type RankArgs } from '../train/rank.js';
import { bubbleFraction, simulateSchedule } from '../parallel/pipeline.js';
import { isMoeLayer, sharedHidden, type ModelConfig } from '../nn/gpt.js';
import { MODEL_PRESETS, thisMachine } from '../planner/presets.js';
import { runPlanner } from '../planner/api.js';
import { measurePeak } from '../backends/peak.js';

export interface PipelineBenchOptions {
  preset: 'tiny' | 'small';
  steps: number;
  /** Micro-batch counts to compare, each a multiple of the stages. */
  micro: number[];
  /** Chunks per stage of the interleaved schedule. */
  virtual: number;
  /** Times each configuration runs, the schedules alternating. */
  rounds: number;
}

export interface PipelineRow {
  schedule: '1f1b' | 'interleaved';
  virtual_stages: number;
  micro_batches: number;
  /** Median step time over the rounds' steps after the first (seconds), and the least of the runs' medians (the
   * least disturbed by other work on the machine). */
  step_time_s: number;
  best_step_time_s: number;
  /** Each stage's mean wait for its neighbours over the step time, and the formula's bubble of equal stages. */
  bubble: number[];
  bubble_formula: number;
  /** Each stage's idle share in the schedule simulated with the stages' FLOPs (unequal: the last also holds the output layer). */
  bubble_simulated: number[];
  /** The planner's step time and bubble share for the same plan on this machine (this-machine, 2 devices). */
  planner: { step_time_s: number; bubble: number };
}

const STAGES = 2;

export async function benchPipeline(o: PipelineBenchOptions, out: Output): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'furnace-bench-pipeline-'));
  try {
    const configs = o.micro.flatMap((m) => [1, o.virtual].map((v) => ({ m, v })));
    const samples = configs.map(() => ({ times: [] as number[], medians: [] as number[], bubbles: [] as number[][] }));
    out.say(`preset ${o.preset}, pp ${STAGES}, ${o.steps} steps per run, ${o.rounds} round(s) alternating ${configs.map((c) => `m${c.m} v${c.v}`).join(', ')}`);
    for (let round = 0; round < o.rounds; round++) {
      for (const [i, c] of configs.entries()) {
        const run = await trainOnce(o, c.m, c.v, join(dir, `r${round}-m${c.m}-v${c.v}`));
        samples[i]!.times.push(...run.times);
        samples[i]!.medians.push(median(run.times));
        samples[i]!.bubbles.push(run.bubble);
        out.say(`  round ${round + 1} m${c.m} v${c.v}: median step ${median(run.times).toFixed(3)} s, bubble ${run.bubble.map(pct).join(' / ')}`);
      }
    }
    const rows: PipelineRow[] = configs.map((c, i) => ({
      schedule: c.v === 1 ? '1f1b' : 'interleaved', virtual_stages: c.v, micro_batches: c.m, step_time_s: median(samples[i]!.times),
      best_step_time_s: Math.min(...samples[i]!.medians),
      bubble: Array.from({ length: STAGES }, (_, s) => mean(samples[i]!.bubbles.map((b) => b[s] ?? 0))), bubble_formula: bubbleFraction(STAGES, c.m, c.v),
      bubble_simulated: simulatedBubble(o.preset, c.m, c.v), planner: predicted(o.preset, c.m, c.v),
    }));
    for (const r of rows) {
      const base = rows.find((b) => b.micro_batches === r.micro_batches && b.virtual_stages === 1)!;
      out.say(`${r.schedule.padEnd(11)} v${r.virtual_stages} m${String(r.micro_batches).padEnd(3)} step ${r.step_time_s.toFixed(3)} s ` +
        `(${(r.step_time_s / base.step_time_s).toFixed(3)}x 1F1B; best run ${r.best_step_time_s.toFixed(3)} s, ${(r.best_step_time_s / base.best_step_time_s).toFixed(3)}x), bubble per stage ${r.bubble.map(pct).join(' / ')}, formula ${pct(r.bubble_formula)}, ` +
        `simulated ${r.bubble_simulated.map(pct).join(' / ')}; ` +
        `planner: step ${r.planner.step_time_s.toFixed(3)} s (${(r.planner.step_time_s / base.planner.step_time_s).toFixed(3)}x), bubble ${pct(r.planner.bubble)}`);
    }
    out.result({ preset: o.preset, stages: STAGES, steps: o.steps, rounds: o.rounds, rows });
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One pp2 run on worker threads; its step times after the first and its stages' mean bubble. */
async function trainOnce(o: PipelineBenchOptions, micro: number, virtual: number, out: string): Promise<{ times: number[]; bubble: number[] }> {
  const base = PRESETS[o.preset];
  const cfg: TrainConfig = { model: { ...base.model }, train: { ...base.train, steps: o.steps, eval_every: 0, eval_batches: 1, log_every: 1 } };
  const pipe = resolvePipeline(cfg, 1, { pp: STAGES, virtual, micro });
  const args: RankArgs = { cfg, corpus: undefined, out, dp: 1, tp: 1, ep: 1, pp: STAGES, ppLayers: pipe.ppLayers, micro, ...(virtual > 1 ? { virtual } : {}),
    zero: false, comm: 'threads', topology: undefined, placement: 'topology', backend: undefined, json: true, tty: false, ckpt: undefined, order: undefined,
    ranksHere: STAGES };
  await launchRanks(STAGES, args);
  const recs = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step_time_s: number; bubble?: number[] });
  const later = recs.slice(1);
  return { times: later.map((r) => r.step_time_s), bubble: Array.from({ length: STAGES }, (_, s) => mean(later.map((r) => r.bubble?.[s] ?? 0))) };
}

/** Forward FLOPs per token of each virtual stage of a split: 2 x each block's active weights plus its
 * attention products 4 T C (as train/flops.ts counts them), and the output layer 2 C V on the last. */
export function stageCosts(m: ModelConfig, split: readonly number[]): number[] {
  const c = m.d_model;
  const ffn = (i: number) => (isMoeLayer(m, i) ? c * m.n_experts + 2 * c * (m.top_k * m.expert_d_ff + sharedHidden(m)) : 2 * c * m.d_ff);
  let i = 0;
  return split.map((n, s) => {
    let f = 0;
    for (let k = 0; k < n; k++, i++) f += 2 * (4 * c * c + ffn(i)) + 4 * m.seq_len * c;
    return f + (s === split.length - 1 ? 2 * c * m.vocab_size : 0);
  });
}

/** The bubble per stage of the schedule simulated with the split's FLOPs. */
function simulatedBubble(preset: 'tiny' | 'small', micro: number, virtual: number): number[] {
  const cfg: TrainConfig = { model: PRESETS[preset].model, train: PRESETS[preset].train };
  const split = resolvePipeline(cfg, 1, { pp: STAGES, virtual, micro }).ppLayers;
  return simulateSchedule({ stages: STAGES, virtual, micro }, stageCosts(cfg.model, split)).idle;
}

/** The planner's estimate of the same run: pp2 on this machine's 2 workers, micro-batches of rows / m sequences, v chunks. */
function predicted(preset: 'tiny' | 'small', micro: number, virtual: number): PipelineRow['planner'] {
  const model = MODEL_PRESETS[`furnace-${preset}`];
  if (model === undefined) throw new Error(`invariant: the planner has the furnace-${preset} model`);
  const cluster = thisMachine({ cores: STAGES, peakFlops: measurePeak().perCoreFlops, memoryBytes: totalmem() / STAGES });
  const rows = PRESETS[preset].train.batch_size;
  const fix = { dp: 1, tp: 1, pp: STAGES, ep: 1, zero: 0, microBatch: rows / micro, recompute: 'none', virtualStages: virtual } as const;
  const best = runPlanner({ model, cluster, fix, top: 1 }).result.plans[0];
  if (best === undefined) throw new Error(`invariant: the planner has a plan for pp ${STAGES}, ${micro} micro-batches, v ${virtual}`);
  return { step_time_s: best.stepTime, bubble: best.breakdown.bubble / best.stepTime };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b), h = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
