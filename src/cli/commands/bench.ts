// `furnace bench <what>`: flags of every benchmark parsed here into typed options; the benchmarks live in src/bench/.
import { existsSync } from 'node:fs';
import { BACKEND_NAMES, type BackendName } from '../../backends/backend.js';

const isBackendName = (b: string): b is BackendName => (BACKEND_NAMES as readonly string[]).includes(b);
import type { CommBackend } from '../../comm/process-group.js';
import { parseRate } from '../../cluster/spec.js';
import { InputError, UsageError } from '../../util/errors.js';
import { Output } from '../../util/output.js';
import { HelpRequest, intFlag, numFlag, parse, wantsHelp, type Command } from '../util.js';

const MiB = 2 ** 20;
const json = { json: { type: 'boolean', default: false } } as const;

/** A comma-separated list of numbers, each passing `ok`. */
function list(name: string, v: string, ok: (x: number) => boolean): number[] {
  const xs = v.split(',').map((s) => Number(s.trim()));
  if (xs.length === 0 || xs.some((x) => !ok(x))) throw new InputError(`--${name}: expected a comma-separated list, got '${v}'`);
  return xs;
}

/** `bench topology`'s flags, checked before anything is built. */
export function topologyOptions(v: { nodes: string; 'ranks-per-node'?: string | undefined; link: string; steps?: string | undefined;
  ep?: string | undefined; 'map-by'?: string | undefined }) {
  const nodes = list('nodes', v.nodes, (x) => Number.isInteger(x) && x >= 2 && x <= 16);
  const ranksPerNode = intFlag('ranks-per-node', v['ranks-per-node'], 1, 16) ?? 2;
  const links = v.link.split(',').map((l) => ({ rate: parseRate(l, '--link'), label: l.trim() }));
  const steps = intFlag('steps', v.steps, 2, 200) ?? 16;
  const ep = intFlag('ep', v.ep, 1, 256);
  const odd = nodes.find((n) => ep !== undefined && (n * ranksPerNode) % ep !== 0);
  if (odd !== undefined) throw new InputError(`--ep: ${ep} does not divide ${odd} nodes x ${ranksPerNode} ranks`);
  const mapBy = v['map-by'] ?? 'node';
  if (mapBy !== 'node' && mapBy !== 'slot') throw new InputError(`--map-by: expected node or slot, got '${mapBy}'`);
  return { nodes, ranksPerNode, links, steps, ep, mapBy } as const;
}

interface Bench {
  summary: string;
  usage: string;
  run: Command;
}

// Each bench module is imported only when chosen: some load large optional dependencies (tfjs, cblas).
const benches: Record<string, Bench> = {
  kernels: {
    summary: 'GEMM GFLOP/s and an MLP step per backend, beside tfjs-wasm and raw cblas',
    usage: 'furnace bench kernels [--sizes 256,512,1024,2048] [--budget SECONDS (1.5)] [--steps N (10)] [--only gemm|mlp] [--json]',
    run: async (argv) => {
      const { values: v } = parse(argv, { ...json, sizes: { type: 'string', default: '256,512,1024,2048' },
        budget: { type: 'string', default: '1.5' }, steps: { type: 'string', default: '10' }, only: { type: 'string' } });
      const sizes = v.sizes.split(',').map((s) => Number(s.trim()));
      if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 8192)) throw new InputError(`--sizes: integers in [1, 8192], got '${v.sizes}'`);
      const budget = Number(v.budget);
      if (!(budget > 0 && budget <= 60)) throw new InputError(`--budget: seconds in (0, 60], got '${v.budget}'`);
      const steps = Number(v.steps);
      if (!Number.isInteger(steps) || steps < 1 || steps > 1000) throw new InputError(`--steps: integer in [1, 1000], got '${v.steps}'`);
      const only = v.only;
      if (only !== undefined && only !== 'gemm' && only !== 'mlp') throw new InputError(`--only: 'gemm' or 'mlp', got '${only}'`);
      const { benchKernels } = await import('../../bench/kernels.js');
      return benchKernels({ sizes, budget, steps, ...(only !== undefined ? { only } : {}) }, new Output(v.json));
    },
  },
  step: {
    summary: 'one training step, kernel by kernel (GEMMs by shape), against the framework',
    usage: 'furnace bench step [--backend auto|js|wasm|blas|native] [--preset tiny|small] [--steps N (8)] [--top ROWS (25)] [--optimizer adamw|muon] [--precision fp32|bf16] [--clock wall|cpu] [--json]',
    run: async (argv) => {
      const { values: v } = parse(argv, { ...json, backend: { type: 'string', default: 'auto' },
        preset: { type: 'string', default: 'small' }, steps: { type: 'string', default: '8' }, top: { type: 'string', default: '25' },
        optimizer: { type: 'string', default: 'adamw' }, precision: { type: 'string', default: 'fp32' }, clock: { type: 'string', default: 'wall' } });
      const precision = v.precision, clock = v.clock;
      if (precision !== 'fp32' && precision !== 'bf16') throw new InputError(`--precision: 'fp32' or 'bf16', got '${precision}'`);
      if (clock !== 'wall' && clock !== 'cpu') throw new InputError(`--clock: 'wall' or 'cpu', got '${clock}'`);
      const optimizer = v.optimizer;
      if (optimizer !== 'adamw' && optimizer !== 'muon') throw new InputError(`--optimizer: 'adamw' or 'muon', got '${optimizer}'`);
      const preset = v.preset;
      if (preset !== 'tiny' && preset !== 'small') throw new InputError(`--preset: 'tiny' or 'small', got '${preset}'`);
      const steps = Number(v.steps), top = Number(v.top);
      if (!Number.isInteger(steps) || steps < 1 || steps > 200) throw new InputError(`--steps: integer in [1, 200], got '${v.steps}'`);
      if (!Number.isInteger(top) || top < 0) throw new InputError(`--top: an integer >= 0 (rows to print), got '${v.top}'`);
      const backend = v.backend;
      if (backend !== 'auto' && !isBackendName(backend)) {
        throw new InputError(`--backend: auto, ${BACKEND_NAMES.join(', ')}; got '${backend}'`);
      }
      const { benchStep } = await import('../../bench/step.js');
      (await import('../../backends/index.js')).checkPrecision(backend, precision, '--precision');
      return benchStep({ backend: backend satisfies BackendName | 'auto', preset, steps, top, optimizer, precision, clock }, new Output(v.json));
    },
  },
  comm: {
    summary: 'collective bandwidth per communication backend',
    usage: 'furnace bench comm [--backend threads|mpi|all] [--ranks 2,4] [--sizes-mb 1,4,16,64] [--ops allReduce,allGather,allToAll] [--iters N (5)] [--json]',
    run: async (argv) => {
      const { BENCH_OPS } = await import('../../bench/comm-ranks.js');
      const { values: v } = parse(argv, { ...json, backend: { type: 'string', default: 'all' }, ranks: { type: 'string', default: '2,4' },
        'sizes-mb': { type: 'string', default: '1,4,16,64' }, ops: { type: 'string', default: BENCH_OPS.join(',') }, iters: { type: 'string', default: '5' } });
      const ranks = list('ranks', v.ranks, (x) => Number.isInteger(x) && x >= 2 && x <= 64);
      const sizes = list('sizes-mb', v['sizes-mb'], (x) => x > 0 && x <= 1024).map((mb) => Math.round(mb * MiB));
      const iters = list('iters', v.iters, (x) => Number.isInteger(x) && x >= 1)[0] ?? 5;
      const ops = v.ops.split(',').map((s) => s.trim()).map((o) => {
        const op = BENCH_OPS.find((b) => b === o);
        if (op === undefined) throw new InputError(`--ops: unknown op '${o}' (choose from ${BENCH_OPS.join(', ')})`);
        return op;
      });
      const backends = (v.backend === 'all' ? ['threads', 'mpi'] : [v.backend]).map((b): CommBackend => {
        if (b !== 'threads' && b !== 'mpi') throw new InputError(`--backend: expected threads, mpi or all, got '${b}'`);
        return b;
      });
      const { benchComm } = await import('../../bench/comm.js');
      return benchComm({ backends, ranks, sizes, ops, iters }, new Output(v.json));
    },
  },
  ckpt: {
    summary: 'checkpoint save/load bandwidth beside the disk',
    usage: 'furnace bench ckpt [--bytes N (1 GiB; whole 64 MiB tensors)] [--repeats N (3)] [--dir DIR] [--json]',
    run: async (argv) => {
      const { values: v } = parse(argv, { ...json, bytes: { type: 'string' }, dir: { type: 'string' }, repeats: { type: 'string' } });
      const { benchCkpt, CKPT_TENSOR_BYTES } = await import('../../bench/ckpt.js');
      const bytes = intFlag('bytes', v.bytes, CKPT_TENSOR_BYTES) ?? 1024 * MiB;
      const repeats = intFlag('repeats', v.repeats, 1, 20) ?? 3;
      return benchCkpt({ bytes, repeats, ...(v.dir !== undefined ? { dir: v.dir } : {}) }, new Output(v.json));
    },
  },
  data: {
    summary: 'cleaning and tokenizer throughput',
    usage: 'furnace bench data [--mb N (8)] [--repeat N (3)] [--json]',
    run: async (argv) => {
      const { values: v } = parse(argv, { ...json, mb: { type: 'string' }, repeat: { type: 'string' } });
      const mb = intFlag('mb', v.mb, 1, 1024) ?? 8;
      const repeat = intFlag('repeat', v.repeat, 1, 20) ?? 3;
      const { benchData } = await import('../../bench/data.js');
      return benchData({ mb, repeat }, new Output(v.json));
    },
  },
  sciml: {
    summary: 'PDE data, discovery and PINN evaluation speed',
    usage: 'furnace bench sciml [--repeat N (3)] [--points N (2000)] [--table [--fit-time S (60)]] [--json]',
    run: async (argv) => {
      const { values: v } = parse(argv, { ...json, repeat: { type: 'string' }, points: { type: 'string' },
        table: { type: 'boolean' }, 'fit-time': { type: 'string' } });
      const repeat = intFlag('repeat', v.repeat, 1, 100) ?? 3, points = intFlag('points', v.points, 10, 1_000_000) ?? 2000;
      const fitTime = numFlag('fit-time', v['fit-time'], 0, 3600);
      if (fitTime !== undefined && v.table !== true) throw new InputError('--fit-time: goes with --table');
      const { benchSciml } = await import('../../bench/sciml.js');
      return benchSciml({ repeat, points, ...(v.table === true ? { tableFitTime: fitTime ?? 60 } : {}) }, new Output(v.json));
    },
  },
  memory: {
    summary: 'the largest model of a family that fits this machine per layout (dp1, dp2 x ep2, ZeRO-1, recompute), bytes per parameter',
    usage: 'furnace bench memory [--budget-gib G (free memory less 2, at most 14)] [--batch N (4)] [--train [--steps N (1)]] [--json]',
    run: async (argv) => {
      const { values: v } = parse(argv, { ...json, 'budget-gib': { type: 'string' }, batch: { type: 'string' }, train: { type: 'boolean' },
        steps: { type: 'string' } });
      const { freemem } = await import('node:os');
      const budgetGib = numFlag('budget-gib', v['budget-gib'], 0.1, 1 << 20) ?? Math.max(0.5, Math.min(14, freemem() / 2 ** 30 - 2));
      const batch = intFlag('batch', v.batch, 2, 1024) ?? 4;
      if (batch % 2 !== 0) throw new InputError(`--batch: ${batch} must be even (the dp 2 layouts split it)`);
      const steps = intFlag('steps', v.steps, 1, 10);
      if (steps !== undefined && v.train !== true) throw new InputError('--steps: goes with --train');
      const { benchMemory } = await import('../../bench/memory.js');
      return benchMemory({ budget: budgetGib * 2 ** 30, train: v.train === true, steps: steps ?? 1, batch }, new Output(v.json));
    },
  },
  pipeline: {
    summary: '1F1B against interleaved 1F1B on 2 pipeline stages: step time and bubble per stage beside the formulas',
    usage: 'furnace bench pipeline [--preset tiny|small (small)] [--steps N (12)] [--micro 4,8] [--virtual V (2)] [--rounds R (2)] [--json]',
    run: async (argv) => {
      const { values: v } = parse(argv, { ...json, preset: { type: 'string', default: 'small' }, steps: { type: 'string' },
        micro: { type: 'string', default: '4,8' }, virtual: { type: 'string' }, rounds: { type: 'string' } });
      if (v.preset !== 'tiny' && v.preset !== 'small') throw new InputError(`--preset: 'tiny' or 'small', got '${v.preset}'`);
      const micro = list('micro', v.micro, (x) => Number.isInteger(x) && x >= 2 && x <= 64 && x % 2 === 0);
      const { benchPipeline } = await import('../../bench/pipeline.js');
      return benchPipeline({ preset: v.preset, steps: intFlag('steps', v.steps, 2, 1000) ?? 12, micro, virtual: intFlag('virtual', v.virtual, 2, 8) ?? 2,
        rounds: intFlag('rounds', v.rounds, 1, 20) ?? 2 }, new Output(v.json));
    },
  },
  topology: {
    summary: 'MoE step time on an emulated cluster: topology-aware placement against naive (root, ip, tc, mpirun)',
    usage: 'furnace bench topology [--nodes 2,4 (2)] [--ranks-per-node R (2)] [--link 1gbit,200mbit (1gbit)] [--steps N (16)] ' +
      '[--ep N (ranks per node)] [--map-by node|slot (node)] [--json]',
    run: async (argv) => {
      const { values: v } = parse(argv, { ...json, nodes: { type: 'string', default: '2' }, 'ranks-per-node': { type: 'string' },
        link: { type: 'string', default: '1gbit' }, steps: { type: 'string' }, ep: { type: 'string' }, 'map-by': { type: 'string' } });
      const opts = topologyOptions(v);
      const { benchTopology } = await import('../../bench/topology.js');
      return benchTopology(opts, new Output(v.json));
    },
  },
  overlap: {
    summary: 'tokens/s of --dp 2 against --dp 2 --ep 2 (small preset), alternating, with each step split into compute, comm and waiting',
    usage: 'furnace bench overlap [--backend threads|mpi (threads)] [--rounds N (3)] [--steps N (8)] [--warmup N (3)] [--config FILE] ' +
      '[--against FILE (a second config, run beside the first in every round)] [--json]',
    run: async (argv) => {
      const { values: v } = parse(argv, { ...json, backend: { type: 'string', default: 'threads' }, rounds: { type: 'string' },
        steps: { type: 'string' }, warmup: { type: 'string' }, config: { type: 'string' }, against: { type: 'string' } });
      const backend = v.backend;
      if (backend !== 'threads' && backend !== 'mpi') throw new InputError(`--backend: expected threads or mpi, got '${backend}'`);
      const rounds = intFlag('rounds', v.rounds, 1, 50) ?? 3, steps = intFlag('steps', v.steps, 1, 500) ?? 8;
      const warmup = intFlag('warmup', v.warmup, 0, 100) ?? 3;
      for (const f of ['config', 'against'] as const) if (v[f] !== undefined && !existsSync(v[f])) throw new InputError(`--${f}: ${v[f]} does not exist`);
      const { benchOverlap } = await import('../../bench/overlap.js');
      return benchOverlap({ backend, rounds, steps, warmup, ...(v.config !== undefined ? { config: v.config } : {}),
        ...(v.against !== undefined ? { against: v.against } : {}) }, new Output(v.json));
    },
  },
  plan: {
    summary: 'plan search time (GPT-3 on A100, BaGuaLu on Sunway)',
    usage: 'furnace bench plan [--repeat N (3)] [--json]',
    run: async (argv) => {
      const { values: v } = parse(argv, { ...json, repeat: { type: 'string' } });
      const repeat = intFlag('repeat', v.repeat, 1, 100) ?? 3;
      const { benchPlan } = await import('../../bench/plan.js');
      return benchPlan({ repeat }, new Output(v.json));
    },
  },
};

export const run: Command = async (argv) => {
  const [what, ...rest] = argv;
  const list = Object.entries(benches).map(([k, v]) => `  ${k.padEnd(8)} ${v.summary}`).join('\n');
  if (what === undefined || what === '--help' || what === '-h') {
    const usage = `usage: furnace bench <${Object.keys(benches).join('|')}> [options] [--json]\n${list}`;
    if (what === undefined) throw new UsageError(`bench: choose one of ${Object.keys(benches).join(', ')}`);
    throw new HelpRequest(usage);
  }
  const bench = benches[what];
  if (bench === undefined) throw new UsageError(`bench: unknown benchmark '${what}' (choose ${Object.keys(benches).join(', ')})`);
  if (wantsHelp(rest)) throw new HelpRequest(`usage: ${bench.usage}\n${bench.summary}.`);
  return bench.run(rest);
};
