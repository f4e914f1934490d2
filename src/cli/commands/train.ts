// `furnace train`: trains a model on a corpus, on one rank or many (threads or MPI),
// writes metrics, checkpoints and the model, prints a sample.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { InputError, CheckError, errorMessage } from '../../util/errors.js';
import { checkInputPath, checkOutputDir, checkOutputFile } from '../../util/paths.js';
import { checkPlanRunnable, preflight } from '../../train/preflight.js';
import { Output, isInteractive } from '../../util/output.js';
import { parse, intFlag, type Command } from '../util.js';
import { checkBackendName, checkPrecision, installBackend } from '../../backends/index.js';
import { PRECISIONS } from '../../backends/backend.js';
import { PRESETS, checkConsistency, checkLayout, parseConfigFile, resolvePipeline, type TrainConfig } from '../../train/config.js';
import { readCorpus, defaultCorpusPath } from '../../data/corpus.js';
import { checkTokens, type CheckpointOptions, type RunLayout } from '../../train/trainer.js';
import { resolveCheckpoint } from '../../checkpoint/index.js';
import { join } from 'node:path';
import { prepareTokens } from '../../train/tokenizer.js';
import { loadModel } from '../../train/model-dir.js';
import { generate } from '../../nn/generate.js';
import { writeRunReport } from '../../dashboard/report.js';
import { LocalGroup } from '../../comm/local-group.js';
import { sharePeak } from '../../backends/peak.js';
import { runMpiRank, underMpirun } from '../../comm/mpi-group.js';
import { readPlan } from '../../planner/io.js';
import { loadTopology } from '../../comm/topology.js';
import { COMM_PRECISIONS } from '../../comm/bf16-group.js';
import type { Dim } from '../../layout/grid.js';
import type { Recompute } from '../../nn/recompute.js';
import { launchRanks, main as rankMain, type RankArgs, type RankResult } from '../../train/rank.js';

const USAGE = `usage: furnace train [--preset tiny|small] [--config FILE] [--steps N] [--corpus PATH] [--backend auto|js|wasm|blas]
                     [--out DIR] [--seed N] [--log-every N] [--batch-size N] [--sample-tokens N] [--report FILE.html] [--json]
                     [--precision fp32|bf16]  (bf16 GEMM inputs, float32 weights and sums: backend native with AVX512_BF16)
                     [--comm-precision fp32|bf16]  (bf16 payloads of gradient all-reduces and MoE all-to-alls, float32 sums)
  parallel:    [--dp N] [--tp N] [--ep N] [--zero] [--comm threads|mpi] [--topology FILE] [--plan plan.json]
               [--placement topology|naive] [--pp N] [--pp-virtual V] [--pp-layers 3,5,5,3] [--micro-batches M]
               world = dp x tp x pp ranks; ep divides dp (experts split over ep ranks of the same tp index)
               pp: pipeline stages (1F1B over M micro-batches; default M: the most up to 2 x pp that divide
               the rows per dp rank); --pp-layers: blocks per stage (default: even, lighter first and last)
               --pp-virtual V: interleaved 1F1B, V model chunks per stage (stage r holds chunks r, r + pp, ...;
               M a multiple of pp); --pp-layers then gives pp x V sizes (per chunk) or pp (split over the chunks)
               topology (default): groups placed by the topology's tiers, hierarchical collectives where
               they pay; naive: the default order and flat collectives (to measure the difference)
               default: one data-parallel rank per core on threads; --dp 1 for a single process
  checkpoints: [--ckpt-every N] [--ckpt-async] [--ckpt-keep K] [--resume DIR|latest] [--no-verify]
  MPI:         mpirun -np N npx furnace train --comm mpi --dp ... (as root: --allow-run-as-root)`;

export const run: Command = async (argv) => {
  const { values: v } = parse(argv, {
    config: { type: 'string' }, preset: { type: 'string' }, steps: { type: 'string' }, corpus: { type: 'string' },
    backend: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string' }, 'log-every': { type: 'string' },
    'batch-size': { type: 'string' }, 'sample-tokens': { type: 'string' }, json: { type: 'boolean' },
    dp: { type: 'string' }, tp: { type: 'string' }, ep: { type: 'string' }, zero: { type: 'boolean' },
    pp: { type: 'string' }, 'pp-layers': { type: 'string' }, 'micro-batches': { type: 'string' }, 'pp-virtual': { type: 'string' },
    comm: { type: 'string' }, topology: { type: 'string' }, plan: { type: 'string' }, placement: { type: 'string' },
    'ckpt-every': { type: 'string' }, 'ckpt-async': { type: 'boolean' }, 'ckpt-keep': { type: 'string' },
    resume: { type: 'string' }, 'no-verify': { type: 'boolean' }, report: { type: 'string' }, precision: { type: 'string' },
    'comm-precision': { type: 'string' },
  }, false, USAGE);
  const out = new Output(v.json === true);
  if (v.preset !== undefined && v.preset !== 'tiny' && v.preset !== 'small') {
    throw new InputError(`--preset: unknown preset '${v.preset}' (choose tiny or small)`);
  }
  const preset = (v.preset ?? 'small') as 'tiny' | 'small';
  let cfg: TrainConfig;
  if (v.config !== undefined) {
    checkInputPath('--config', v.config, 'file');
    let text: string;
    try {
      text = readFileSync(v.config, 'utf8');
    } catch {
      throw new InputError(`--config: cannot read ${v.config}`);
    }
    cfg = parseConfigFile(text, v.config, preset);
  } else {
    cfg = structuredClone(PRESETS[preset]);
  }
  const steps = intFlag('steps', v.steps, 1, 1e9);
  const seed = intFlag('seed', v.seed, 0, 2 ** 32 - 1);
  const logEvery = intFlag('log-every', v['log-every'], 1, 1e9);
  const batch = intFlag('batch-size', v['batch-size'], 1, 1 << 20);
  if (steps !== undefined) cfg.train.steps = steps;
  if (seed !== undefined) cfg.train.seed = seed;
  if (logEvery !== undefined) cfg.train.log_every = logEvery;
  if (batch !== undefined) cfg.train.batch_size = batch;
  checkConsistency(cfg);
  const sampleTokens = intFlag('sample-tokens', v['sample-tokens'], 0, 1e6) ?? 200;
  if (v.precision !== undefined) {
    const p = PRECISIONS.find((x) => x === v.precision);
    if (p === undefined) throw new InputError(`--precision: unknown precision '${v.precision}' (choose ${PRECISIONS.join(' or ')})`);
    cfg.train.precision = p;
  }
  checkPrecision(checkBackendName(v.backend), cfg.train.precision ?? 'fp32', v.precision !== undefined ? '--precision' : 'train.precision');
  if (v['comm-precision'] !== undefined) {
    const p = COMM_PRECISIONS.find((x) => x === v['comm-precision']);
    if (p === undefined) throw new InputError(`--comm-precision: unknown precision '${v['comm-precision']}' (choose ${COMM_PRECISIONS.join(' or ')})`);
    cfg.train.comm_precision = p;
  }
  // Every path is checked before any work starts.
  const dir = v.out ?? 'runs/latest';
  checkOutputDir('--out', dir);
  if (v.report !== undefined) checkOutputFile('--report', v.report);
  if (v.corpus !== undefined) checkInputPath('--corpus', v.corpus);
  if (v.topology !== undefined) {
    checkInputPath('--topology', v.topology, 'file');
    try { loadTopology(v.topology); } catch (e) { throw new InputError(`--topology: ${errorMessage(e)}`); } // before any rank reads it
  }
  if (v.plan !== undefined) checkInputPath('--plan', v.plan, 'file');
  if (v.resume !== undefined && v.resume !== 'latest') checkInputPath('--resume', v.resume);

  const layout = resolveLayout(v, cfg);
  if (layout.recompute !== undefined) cfg.train.recompute = layout.recompute; // the plan's
  const placement = v.placement ?? 'topology';
  if (placement !== 'topology' && placement !== 'naive') throw new InputError(`--placement: unknown placement '${placement}' (choose topology or naive)`);
  if (placement === 'naive' && v.plan !== undefined) throw new InputError('--placement: naive ignores the order --plan fixes; give one of them');
  const ckptEvery = intFlag('ckpt-every', v['ckpt-every'], 0, 1e9) ?? 0;
  const ckptKeep = intFlag('ckpt-keep', v['ckpt-keep'], 1, 1e6) ?? 3;
  const ckpt: CheckpointOptions | undefined = ckptEvery > 0 || v.resume !== undefined ? {
    every: ckptEvery, async: v['ckpt-async'] === true, keep: ckptKeep,
    ...(v.resume !== undefined ? { resume: v.resume } : {}), verify: v['no-verify'] !== true,
  } : undefined;
  const { dp, tp, ep, pp, zero, comm } = layout;
  const world = dp * tp * pp;
  preflight(cfg.model, { batch: cfg.train.batch_size / dp, training: true, backend: v.backend ?? 'auto', ranks: world, tp,
    layout: { dp, tp, ep, zero, recompute: cfg.train.recompute ?? 'none' }, where: v.config ?? `--preset ${preset}` });
  const args: RankArgs = { cfg, corpus: v.corpus, out: dir, dp, tp, ep, pp, ppLayers: layout.ppLayers, micro: layout.micro,
    ...(layout.virtual > 1 ? { virtual: layout.virtual } : {}), zero, comm, topology: v.topology, placement, backend: v.backend,
    json: out.json, tty: isInteractive(), ckpt, order: layout.order, ranksHere: world };
  const result = await startRanks(args, world, out);
  if (result === null) return 0; // under mpirun, ranks other than 0 report nothing

  const s = result.summary;
  out.say(`done: steps ${s.start_step}..${s.steps} in ${s.seconds.toFixed(1)} s, train loss ${s.first_loss.toFixed(3)} -> ${s.train_loss.toFixed(3)}, ` +
    `val loss ${s.val_loss.toFixed(3)}, val ${s.val_bits_per_byte.toFixed(3)} bits/byte, ${Math.round(s.tokens_per_s)} tok/s, MFU ${(100 * s.mfu).toFixed(1)}%` +
    (!Number.isFinite(s.busiest_expert) ? '' : `, busiest expert ${s.busiest_expert.toFixed(2)}x balanced`));
  let sample = '';
  if (sampleTokens > 0) {
    if (comm === 'threads') await installBackend(v.backend); // the ranks' backends lived on their threads
    const { model, tokenizer } = await loadModel(dir);
    const prompt = tokenizer.encode('\n');
    const ids = await generate(model, prompt, { tokens: sampleTokens, temperature: 0.8, topK: 40, seed: cfg.train.seed });
    sample = tokenizer.decode(ids.subarray(prompt.length));
    out.say('--- sample ---\n' + sample + '\n--------------');
  }
  if (v.report !== undefined) {
    await writeRunReport(dir, v.report);
    out.say(`wrote ${v.report}`);
  }
  const { losses: _l, ...rest } = s;
  out.result({ ...rest, backend: result.backend, layout: { dp, tp, ep, pp, zero, comm }, sample });
  return 0;
};

/** The layout from --plan FILE (from `furnace plan --out`) or --dp/--tp/--ep/--zero, checked against the model. */
function resolveLayout(v: { dp?: string | undefined; tp?: string | undefined; ep?: string | undefined; zero?: boolean | undefined;
  plan?: string | undefined; comm?: string | undefined; pp?: string | undefined; 'pp-layers'?: string | undefined; 'micro-batches'?: string | undefined;
  'pp-virtual'?: string | undefined }, cfg: TrainConfig): RunLayout & { virtual: number; order: readonly Dim[] | undefined; recompute?: Recompute } {
  let dp = intFlag('dp', v.dp, 1, 4096) ?? 1, tp = intFlag('tp', v.tp, 1, 4096) ?? 1, ep = intFlag('ep', v.ep, 1, 4096) ?? 1;
  let pp = intFlag('pp', v.pp, 1, 1024), micro = intFlag('micro-batches', v['micro-batches'], 1, 1 << 20);
  let virtual = intFlag('pp-virtual', v['pp-virtual'], 1, 64), recompute: Recompute | undefined;
  let zero = v.zero === true;
  let order: readonly Dim[] | undefined;
  let layers = layerList(v['pp-layers']);
  if (v.plan !== undefined) {
    let plan;
    try {
      plan = readPlan(v.plan);
      checkPlanRunnable(plan, v.plan);
    } catch (e) {
      throw new InputError(`--plan: ${errorMessage(e)}`);
    }
    if (plan.zero > 1) throw new InputError(`--plan: ${v.plan}: zero ${plan.zero}; the trainer supports ZeRO stages 0 and 1`);
    ({ dp, tp, ep, pp } = plan);
    if (pp > 1) micro = cfg.train.batch_size / dp / plan.microBatch; // the plan's micro-batch is in rows
    if (plan.ppLayers !== undefined) layers = plan.ppLayers; // per stage; split over its chunks when interleaved
    virtual = plan.virtualStages ?? 1;
    recompute = plan.recompute;
    zero = plan.zero === 1;
    order = plan.placement.order;
  }
  checkLayout(cfg, { dp, tp, ep });
  const pipeline = resolvePipeline(cfg, dp, { pp, virtual, layers, micro });
  const comm = v.comm ?? 'threads';
  if (comm !== 'threads' && comm !== 'mpi') throw new InputError(`--comm: unknown backend '${comm}' (choose threads or mpi)`);
  // Default layout: one data-parallel rank per core on threads. Measured on 2 cores (small
  // preset): 2 ranks of one GEMM thread each train 20% faster than one process whose GEMMs use
  // both cores; the result is the same (data parallelism equals one rank). --dp 1: one process.
  const layoutGiven = v.dp !== undefined || v.tp !== undefined || v.ep !== undefined || v.plan !== undefined || v.zero === true || pipeline.pp > 1;
  if (!layoutGiven && comm === 'threads') dp = autoDp(cfg.train.batch_size);
  return { dp, tp, ep, ...pipeline, zero, comm: comm === 'threads' && dp * tp * pipeline.pp === 1 ? 'none' : comm, order,
    ...(recompute !== undefined ? { recompute } : {}) };
}

/** --pp-layers 3,5,5,3: blocks per pipeline stage. */
function layerList(v: string | undefined): number[] | undefined {
  if (v === undefined) return undefined;
  const parts = v.split(',');
  if (parts.some((p) => !/^\s*\d+\s*$/.test(p))) throw new InputError(`--pp-layers: expected comma-separated block counts like 3,5,5,3, got '${v}'`);
  return parts.map(Number);
}

/**
 * Starts the job's ranks, the one way for every transport: under mpirun this process is one rank;
 * on threads, several ranks run the rank program on worker threads, and one rank runs it here as a
 * world of one. Rank 0's result, or null on the other mpirun ranks.
 */
async function startRanks(args: RankArgs, world: number, out: Output): Promise<NonNullable<RankResult> | null> {
  if (args.comm === 'mpi') {
    if (!underMpirun()) throw new InputError(`--comm mpi: start the job with mpirun, e.g. mpirun -np ${world} npx furnace train --comm mpi ...`);
    return runMpiRank((w) => {
      if (w.size !== world) throw new InputError(`--comm mpi: mpirun started ${w.size} ranks but --dp ${args.dp} x --tp ${args.tp} x --pp ${args.pp} = ${world}`);
      return rankMain(w, { ...args, ranksHere: Number(process.env['OMPI_COMM_WORLD_LOCAL_SIZE'] ?? world) });
    });
  }
  let results: RankResult[];
  if (world === 1) {
    results = [await rankMain(new LocalGroup(), args)];
  } else {
    // Bad input fails here, before any rank starts: the corpus, its size, the checkpoint to resume.
    const { cfg, ckpt } = args;
    checkTokens(prepareTokens(readCorpus(args.corpus), cfg.model.vocab_size), cfg); // also fills the token cache
    if (ckpt?.resume !== undefined) await resolveCheckpoint(ckpt.resume, join(args.out, 'ckpt')).catch((e: unknown) => { throw new InputError(`--resume: ${errorMessage(e)}`); });
    out.say(`furnace train: ${args.corpus ?? defaultCorpusPath()}, ${world} ranks (dp ${args.dp} x tp ${args.tp}${args.pp > 1 ? ` x pp ${args.pp}${(args.virtual ?? 1) > 1 ? ` x ${args.virtual} virtual` : ''}, ${args.micro} micro-batches` : ''}, ep ${args.ep}${args.zero ? ', ZeRO-1' : ''}) on threads, out ${args.out}`);
    sharePeak(); // one probe before the ranks start, not one per rank at once
    results = await launchRanks(world, args); // a rank's error keeps its kind (comm/launch.ts)
  }
  const r = results[0];
  if (r === undefined || r === null) throw new CheckError('rank 0 returned no result');
  return r;
}

/** The most data-parallel ranks, at most one per core, that divide the batch. */
function autoDp(batch: number): number {
  for (let d = Math.min(availableParallelism(), batch); d > 1; d--) if (batch % d === 0) return d;
  return 1;
}
