// Test fixtures: run folders with metrics written the way the trainer writes them, and a micro training run.
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MetricsRecord } from '../types.js';

export const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'main.js');

/** Record `step` of a synthetic run with `layers` MoE layers of 4 experts; validation loss every 5th step. */
export function record(step: number, layers = 2): MetricsRecord {
  const loss = 5 * Math.exp(-step / 20) + 1;
  return {
    step, loss, lr: 1e-3 * Math.min(1, (step + 1) / 5), tokens_per_s: 1000 + 10 * step, step_time_s: 0.05,
    time: { compute: 0.04, allreduce: 0.006, alltoall: 0.003, ckpt: step % 10 === 9 ? 0.001 : 0 },
    expert_load: Array.from({ length: layers }, (_, l) => [10 + l, 20 - (step % 5), 15, 19 + (step % 5) - l]),
    aux_loss: 1.01, grad_norm: 0.9, dropped_tokens: 0, mfu: 0.1 + step / 1000, model_flops_per_s: 1e9 + step * 1e6,
    ...(step % 5 === 4 ? { val_loss: loss + 0.1 } : {}),
  };
}

/** Appends records [from, to) to RUN/metrics.jsonl. */
export function appendRecords(run: string, from: number, to: number): void {
  mkdirSync(run, { recursive: true });
  let text = '';
  for (let s = from; s < to; s++) text += JSON.stringify(record(s)) + '\n';
  appendFileSync(join(run, 'metrics.jsonl'), text);
}

/** A run folder with `steps` records; `done` adds summary.json (the trainer writes it last). */
export function writeRun(run: string, steps: number, done: boolean): void {
  mkdirSync(run, { recursive: true });
  writeFileSync(join(run, 'metrics.jsonl'), '');
  appendRecords(run, 0, steps);
  if (done) writeFileSync(join(run, 'summary.json'), JSON.stringify({ steps, train_loss: record(steps - 1).loss, val_loss: 1.5, seconds: 1 }));
}

/** Runs the furnace CLI to completion. */
export function furnace(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, CI: '1', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A real 3-step training run of a micro MoE model (as src/cli/cli.test.ts trains it) into `out`. */
export function microTrain(dir: string, out: string): void {
  const cfg = join(dir, 'micro.json');
  writeFileSync(cfg, JSON.stringify({ model: { vocab_size: 256, seq_len: 16, d_model: 16, n_layers: 1, n_heads: 2, d_ff: 32, n_experts: 2,
    top_k: 1, expert_d_ff: 16, moe_every: 1, router_bias_rate: 0.001 }, train: { batch_size: 2, steps: 3, eval_every: 0, eval_batches: 1, log_every: 1 } }));
  const corpus = join(dir, 'corpus.txt');
  writeFileSync(corpus, 'Call me Ishmael. Some years ago, never mind how long precisely. '.repeat(40));
  const r = furnace(['train', '--config', cfg, '--corpus', corpus, '--out', out, '--sample-tokens', '0', '--json'], { FURNACE_CACHE: join(dir, 'cache') });
  if (r.code !== 0) throw new Error(`micro train failed: ${r.stderr}`);
}

/** Runs `furnace data clean` into `out` on four documents, one an exact copy of another. */
export function cleanTiny(dir: string, out: string): void {
  const input = join(dir, 'docs.jsonl');
  const text = 'The whale swam through the cold grey sea while the crew watched from the deck, and the mate called out the bearing. ';
  writeFileSync(input, [0, 1, 2].map((i) => JSON.stringify({ id: `d${i}`, text: text.repeat(4) + `Entry ${i} of the log.` })).join('\n') + '\n' +
    JSON.stringify({ id: 'copy', text: text.repeat(4) + 'Entry 0 of the log.' }) + '\n');
  const r = furnace(['data', 'clean', input, '--out', out, '--json']);
  if (r.code !== 0) throw new Error(`data clean failed: ${r.stderr}`);
}
