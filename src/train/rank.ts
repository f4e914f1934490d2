// One rank of a parallel training job: its backend, its groups, its share of the work.
// Started on worker threads by `launch` (the default) or as an mpirun process.
import type { ProcessGroup } from '../comm/process-group.js';
import { makeProcessGroups } from '../comm/groups.js';
import { loadTopology, type Axis } from '../comm/topology.js';
import { installBackend as useBackend } from '../backends/index.js';
import { Output } from '../util/output.js';
import { readCorpus } from '../data/corpus.js';
import type { ParallelContext } from '../parallel/context.js';
import type { TrainConfig } from './config.js';
import { prepareTokens } from './tokenizer.js';
import { train, type CheckpointOptions, type TrainSummary } from './trainer.js';

export interface RankArgs {
  cfg: TrainConfig;
  corpus: string | undefined;
  out: string;
  dp: number;
  tp: number;
  ep: number;
  zero: boolean;
  comm: 'threads' | 'mpi';
  topology: string | undefined;
  backend: string | undefined;
  json: boolean;
  /** Whether the launching process's stderr is a terminal (progress lines are drawn). */
  tty: boolean;
  ckpt: CheckpointOptions | undefined;
  /** Placement order of the grid axes, innermost first (from a plan); default tp, ep, edp. */
  order: Axis[] | undefined;
  /** Ranks sharing this machine's cores (sets GEMM threads per rank). */
  ranksHere: number;
}

export type RankResult = { summary: Omit<TrainSummary, 'losses'> & { losses: number[] }; backend: string } | null;

export async function main(world: ProcessGroup, args: RankArgs): Promise<RankResult> {
  const backend = await useBackend(args.backend, args.ranksHere);
  const out = new Output(args.json);
  const text = readCorpus(args.corpus);
  // Rank 0 tokenizes (and fills the cache) first; the others then read the cache.
  if (world.rank === 0) prepareTokens(text, args.cfg.model.vocab_size);
  await world.barrier();
  const tokens = prepareTokens(text, args.cfg.model.vocab_size);
  const layout = await makeProcessGroups(world, { dp: args.dp, tp: args.tp, ep: args.ep },
    args.topology === undefined ? undefined : loadTopology(args.topology), args.order);
  const ctx: ParallelContext = { groups: layout, dp: args.dp, tp: args.tp, ep: args.ep,
    dpIndex: layout.coords.dpIndex, tpIndex: layout.coords.tpIndex, epIndex: layout.coords.epIndex };
  // FURNACE_FAULT=RANK:STEP makes that rank fail at that step (to test failure handling).
  const fault = /^(\d+):(\d+)$/.exec(process.env['FURNACE_FAULT'] ?? '');
  const failAtStep = fault !== null && Number(fault[1]) === world.rank ? Number(fault[2]) : undefined;
  const r = await train({
    ...(failAtStep !== undefined ? { failAtStep } : {}),
    cfg: args.cfg, tokens, out: args.out, ctx, zero: args.zero, progress: args.tty && !args.json,
    log: (l) => { if (world.rank === 0) out.say(l); },
    layout: { dp: args.dp, tp: args.tp, ep: args.ep, zero: args.zero, comm: args.comm },
    ...(args.ckpt !== undefined ? { ckpt: args.ckpt } : {}),
  });
  return r === null ? null : { summary: r.summary, backend: backend.name };
}
