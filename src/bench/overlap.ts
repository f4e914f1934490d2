// `furnace bench overlap`: tokens/s of `--dp 2` against `--dp 2 --ep 2` on the small preset,
// alternating in one run, with each layout's step split into compute, exposed communication and
// the part of it spent waiting for the other rank.
//
// Each round trains both layouts for the same steps in fresh processes (`furnace train`, threads
// or mpirun), so that both see the same machine: on a shared machine the load changes from minute
// to minute, and only numbers measured side by side compare.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import type { CommBackend } from '../comm/process-group.js';
import type { MetricsRecord } from '../train/metrics.js';
import { CheckError } from '../util/errors.js';
import { fmt, type Output } from '../util/output.js';

export interface OverlapBenchOptions {
  backend: CommBackend;
  rounds: number;
  /** Timed steps per run, after `warmup` untimed ones. */
  steps: number;
  warmup: number;
  /** A train config (JSON) over the small preset, e.g. model.capacity_factor or model.moe_overlap_chunks. */
  config?: string;
  /** A second config run beside the first in every round (before/after in one run). */
  against?: string;
}

export const OVERLAP_LAYOUTS = { dp2: ['--dp', '2'], dp2xep2: ['--dp', '2', '--ep', '2'] } as const;
export type OverlapLayout = keyof typeof OVERLAP_LAYOUTS;

/** One run of one layout: tokens/s over the timed steps, and mean seconds per step by phase (rank 0). */
export interface OverlapRun {
  tokens_per_s: number;
  step_s: number;
  /** compute: outside collectives; comm: inside them (exposed, not hidden behind compute); wait: the part of comm blocked for peers (threads only). */
  split: { compute: number; comm: number; wait: number | null };
}

export interface OverlapRound {
  round: number;
  /** The config the round ran (--config, or --against). */
  config: string;
  runs: Record<OverlapLayout, OverlapRun>;
  /** dp2xep2 tokens/s over dp2 tokens/s. */
  ratio: number;
}

/** A run's record from its metrics: the steps after the warm-up. */
export function summarizeRun(recs: readonly MetricsRecord[], warmup: number): OverlapRun {
  const timed = recs.slice(warmup);
  if (timed.length === 0) throw new CheckError(`bench overlap: the run logged ${recs.length} steps, none after the ${warmup} warm-up steps`);
  const sum = (f: (r: MetricsRecord) => number) => timed.reduce((s, r) => s + f(r), 0);
  const seconds = sum((r) => r.step_time_s), tokens = sum((r) => r.tokens_per_s * r.step_time_s);
  const waits = timed.map((r) => r.time.wait);
  const wait = waits.every((w): w is number => w !== undefined) ? waits.reduce((s, w) => s + w, 0) / timed.length : null;
  return { tokens_per_s: tokens / seconds, step_s: seconds / timed.length,
    split: { compute: sum((r) => r.time.compute) / timed.length, comm: sum((r) => r.time.allreduce + r.time.alltoall) / timed.length, wait } };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The command line of one training run (this furnace, in a child process). */
function trainCommand(o: OverlapBenchOptions, config: string | undefined, layout: OverlapLayout, out: string): string[] {
  const furnace = [process.execPath, resolve(process.argv[1] ?? 'furnace')];
  const train = ['train', '--preset', 'small', ...(config !== undefined ? ['--config', config] : []), ...OVERLAP_LAYOUTS[layout],
    '--steps', String(o.steps + o.warmup), '--log-every', '1', '--sample-tokens', '0', '--out', out, '--json'];
  if (o.backend === 'threads') return [...furnace, ...train, '--comm', 'threads'];
  const root = userInfo().uid === 0 ? ['--allow-run-as-root'] : [];
  // Two ranks on a machine of two cores and other work: ranks that wait must yield their core.
  return ['mpirun', ...root, '--oversubscribe', '--mca', 'mpi_yield_when_idle', '1', '-np', '2', ...furnace, ...train, '--comm', 'mpi'];
}

function runOnce(o: OverlapBenchOptions, config: string | undefined, layout: OverlapLayout, out: string): OverlapRun {
  const [cmd, ...args] = trainCommand(o, config, layout, out);
  const p = spawnSync(cmd!, args, { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (p.error !== undefined) throw new CheckError(`bench overlap: cannot start ${cmd}: ${p.error.message}`);
  if (p.status !== 0) {
    const tail = `${p.stderr ?? ''}${p.stdout ?? ''}`.trim().split('\n').slice(-1)[0] ?? '';
    throw new CheckError(`bench overlap: the ${layout} run failed (exit ${p.status ?? p.signal}): ${tail}`);
  }
  const recs = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as MetricsRecord);
  return summarizeRun(recs, o.warmup);
}

function describe(r: OverlapRun): string {
  const wait = r.split.wait === null ? '' : `, of it waiting ${fmt(r.split.wait * 1e3)}`;
  return `${fmt(r.tokens_per_s).padStart(6)} tok/s (step ${fmt(r.step_s * 1e3)} ms: compute ${fmt(r.split.compute * 1e3)}, comm ${fmt(r.split.comm * 1e3)}${wait} ms)`;
}

export async function benchOverlap(o: OverlapBenchOptions, out: Output): Promise<number> {
  const work = mkdtempSync(join(tmpdir(), 'furnace-bench-overlap-'));
  const configs = o.against === undefined ? [o.config] : [o.config, o.against];
  const name = (c: string | undefined) => c ?? 'preset';
  out.say(`furnace bench overlap: small preset${configs.map((c) => c === undefined ? '' : ` + ${c}`).join(' against')}, ${o.backend}, ` +
    `${o.rounds} rounds of ${o.steps} timed steps (after ${o.warmup} warm-up) per layout and config, alternating`);
  const rounds: OverlapRound[] = [];
  try {
    for (let round = 0; round < o.rounds; round++) {
      // The order flips every round, so that no run always goes first (on a cooler cache or a quieter minute).
      const order: OverlapLayout[] = round % 2 === 0 ? ['dp2', 'dp2xep2'] : ['dp2xep2', 'dp2'];
      for (const config of round % 2 === 0 ? configs : [...configs].reverse()) {
        const runs = {} as Record<OverlapLayout, OverlapRun>;
        for (const layout of order) runs[layout] = runOnce(o, config, layout, join(work, `${round}-${configs.indexOf(config)}-${layout}`));
        const ratio = runs.dp2xep2.tokens_per_s / runs.dp2.tokens_per_s;
        rounds.push({ round, config: name(config), runs, ratio });
        out.say(`  round ${round + 1} ${name(config)}: dp2     ${describe(runs.dp2)}`);
        out.say(`  round ${round + 1} ${name(config)}: dp2xep2 ${describe(runs.dp2xep2)}; ratio ${ratio.toFixed(3)}`);
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const summary = configs.map((c) => {
    const mine = rounds.filter((r) => r.config === name(c));
    const s = { config: name(c), dp2_tokens_per_s: median(mine.map((r) => r.runs.dp2.tokens_per_s)),
      dp2xep2_tokens_per_s: median(mine.map((r) => r.runs.dp2xep2.tokens_per_s)), ratio: median(mine.map((r) => r.ratio)) };
    out.say(`median ${s.config}: dp2 ${fmt(s.dp2_tokens_per_s)} tok/s, dp2xep2 ${fmt(s.dp2xep2_tokens_per_s)} tok/s; ratio dp2xep2/dp2 ${s.ratio.toFixed(3)} (median of the rounds' ratios)`);
    return s;
  });
  out.result({ backend: o.backend, steps: o.steps, warmup: o.warmup, ...summary[0]!, ...(summary.length > 1 ? { against: summary[1] } : {}), rounds });
  return 0;
}
