// One rank of a training job: its backend, its groups, its share of the work. The only way ranks
// start: on worker threads (launchRanks), as an mpirun process, or in the calling process as a
// world of one rank.
import type { ProcessGroup } from '../comm/process-group.js';
import { makeProcessGroups } from '../comm/groups.js';
import { launch } from '../comm/launch.js';
import { CommClock, TimedGroup } from '../comm/timed-group.js';
import { withCommPrecision } from '../comm/bf16-group.js';
import { loadTopology, type Topology } from '../comm/topology.js';
import { nodeMajor, placedTopology } from '../comm/mpi-nodes.js';
import { startHeartbeat } from '../comm/heartbeat.js';
import { describeCollectives, flatRecord, useTopology, type CollectivesRecord } from '../comm/topology-collectives.js';
import { DEFAULT_ORDER, type Dim } from '../layout/grid.js';
import { installBackend as useBackend } from '../backends/index.js';
import { Output } from '../util/output.js';
import { defaultCorpusPath, readCorpus } from '../data/corpus.js';
import { contextOf } from '../parallel/context.js';
import type { TrainConfig } from './config.js';
import { prepareTokens } from './tokenizer.js';
import { train, type CheckpointOptions, type RunLayout, type TrainSummary } from './trainer.js';

export interface RankArgs {
  cfg: TrainConfig;
  corpus: string | undefined;
  out: string;
  dp: number;
  tp: number;
  ep: number;
  /** Pipeline stages, blocks per virtual stage, micro-batches per step (1, [n_layers], 1 without a pipeline). */
  pp: number;
  ppLayers: number[];
  micro: number;
  /** Virtual stages per stage (interleaved 1F1B); absent: 1. */
  virtual?: number;
  zero: boolean;
  comm: RunLayout['comm'];
  topology: string | undefined;
  /** 'topology': placement by layout/place.ts and hierarchical collectives where they pay; 'naive':
   * the default order and flat collectives, even with a topology (to measure what topology buys). */
  placement: 'topology' | 'naive';
  backend: string | undefined;
  json: boolean;
  /** Whether the launching process's stderr is a terminal (progress lines are drawn). */
  tty: boolean;
  ckpt: CheckpointOptions | undefined;
  /** Placement order of the grid dims, innermost first (from a plan); default: chosen by layout/place.ts. */
  order: readonly Dim[] | undefined;
  /** Ranks sharing this machine's cores (sets GEMM threads per rank). */
  ranksHere: number;
}

export type RankResult = { summary: Omit<TrainSummary, 'losses'> & { losses: number[] }; backend: string } | null;

export async function main(world: ProcessGroup, args: RankArgs): Promise<RankResult> {
  const out = new Output(args.json);
  const say = (l: string) => { if (world.rank === 0) out.say(l); };
  const text = readCorpus(args.corpus);
  const backend = await useBackend(args.backend, args.ranksHere, args.cfg.train.precision ?? 'fp32');
  // MPI ranks watch each other's nodes: a node whose link or processes are gone ends the job.
  const heartbeat = args.comm === 'mpi' ? await startHeartbeat(world) : undefined;
  // A job of several ranks was announced by its launcher; one rank announces itself.
  const alone = args.comm === 'none';
  if (alone) say(`furnace train: ${args.corpus ?? defaultCorpusPath()} (${Buffer.byteLength(text)} bytes), backend ${backend.name}, out ${args.out}`);
  // Rank 0 tokenizes (and fills the cache) first; the others then read the cache.
  const first = world.rank === 0 ? prepareTokens(text, args.cfg.model.vocab_size) : undefined;
  await world.barrier();
  const tokens = first ?? prepareTokens(text, args.cfg.model.vocab_size);
  if (alone) say(`tokens: ${tokens.train.length} train, ${tokens.val.length} validation, vocabulary ${tokens.tokenizer.vocabSize}${tokens.cached ? ' (cached)' : ''}`);
  const naive = args.placement === 'naive';
  const { job, topology, node } = await placeRanks(world, args, say);
  // Checkpoint writers spread over the nodes the ranks actually run on (whatever the placement).
  const ckpt = args.ckpt !== undefined && node !== undefined ? { ...args.ckpt, group: node } : args.ckpt;
  // Every group is split from the timed world, so one clock times all of this rank's collectives.
  const clock = new CommClock();
  // At comm_precision bf16 every group's large reductions and all-to-alls travel as bf16.
  let groups = await makeProcessGroups(new TimedGroup(withCommPrecision(job, args.cfg.train.comm_precision ?? 'fp32'), clock), { dp: args.dp, tp: args.tp, ep: args.ep, pp: args.pp }, topology,
    naive ? DEFAULT_ORDER : args.order);
  const bytes = a2aBytes(args.cfg, args.dp, args.micro);
  let collectives: CollectivesRecord;
  if (topology !== undefined && !naive) ({ layout: groups, record: collectives } = await useTopology(groups, topology.tiers, bytes));
  else collectives = flatRecord(groups, args.placement, bytes);
  if (topology !== undefined) say(describeCollectives(collectives));
  // FURNACE_FAULT=RANK:STEP makes that rank fail at that step (to test failure handling).
  const fault = /^(\d+):(\d+)$/.exec(process.env['FURNACE_FAULT'] ?? '');
  const failAtStep = fault !== null && Number(fault[1]) === world.rank ? Number(fault[2]) : undefined;
  const r = await train({
    ...(failAtStep !== undefined ? { failAtStep } : {}),
    cfg: args.cfg, tokens, out: args.out, ctx: contextOf(groups), clock, progress: args.tty && !args.json, log: say,
    layout: { dp: args.dp, tp: args.tp, ep: args.ep, pp: args.pp, ppLayers: args.ppLayers, micro: args.micro,
      ...(args.virtual !== undefined ? { virtual: args.virtual } : {}), zero: args.zero, comm: args.comm },
    placement: groups.placement,
    collectives,
    ...(ckpt !== undefined ? { ckpt } : {}),
  });
  // Every rank is past its last collective before any stops answering heartbeats.
  if (heartbeat !== undefined) {
    await world.barrier();
    await heartbeat.stop();
  }
  return r === null ? null : { summary: r.summary, backend: backend.name };
}

/**
 * Collective: the world the job's groups are cut from, its topology, and this process's node.
 * Without a topology file, MPI jobs take the node tier from where mpirun placed the ranks; with
 * topology-aware placement, ranks dealt over the nodes out of order (mpirun --map-by node) are
 * numbered again node by node, so that each node is a block of consecutive ranks as the tiers say.
 */
async function placeRanks(world: ProcessGroup, args: RankArgs, say: (l: string) => void): Promise<{ job: ProcessGroup; topology: Topology | undefined; node: number | undefined }> {
  const file = args.topology === undefined ? undefined : loadTopology(args.topology);
  if (args.comm !== 'mpi') return { job: world, topology: file, node: undefined };
  const placed = await placedTopology(world);
  const node = placed.nodeOfRank[world.rank];
  const job = args.placement === 'topology' ? await nodeMajor(world, placed.nodeOfRank) : world;
  const here = job === world ? placed : await placedTopology(job);
  if (file === undefined) say(`${here.note}${job === world ? '' : ' (ranks numbered again node by node)'}`);
  return { job, topology: file ?? here.topology, node };
}

/**
 * Bytes a rank sends per MoE all-to-all (every MoE layer of a model has this shape; the all-to-all
 * is chosen once for it): its n = batch / dp / micro-batches x seq_len tokens fill E x capacity slots of d_model
 * floats, E x capacity = f n k under capacity factor f; dropless (f = 0) fills at least n k (as
 * many as a balanced routing).
 */
function a2aBytes(cfg: RankArgs['cfg'], dp: number, micro: number): number {
  const m = cfg.model, n = (cfg.train.batch_size / dp / micro) * m.seq_len;
  return Math.max(m.capacity_factor, 1) * n * m.top_k * m.d_model * 4;
}

/** Runs main on `ranks` worker threads of this process (this module is the rank program). */
export function launchRanks(ranks: number, args: RankArgs): Promise<RankResult[]> {
  return launch<RankResult>(new URL(import.meta.url), { ranks, args });
}
