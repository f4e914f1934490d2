// `furnace bench topology`: step time of a communication-heavy MoE model on an emulated cluster
// (src/cluster/), topology-aware placement + hierarchical collectives against the naive layout.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkHost, down, up, type ClusterState } from '../cluster/netns.js';
import type { MetricsRecord } from '../train/metrics.js';
import { CheckError } from '../util/errors.js';
import { fmt, type Output } from '../util/output.js';

export interface TopologyBenchOptions {
  /** Node counts, one cluster each. */
  nodes: number[];
  ranksPerNode: number;
  /** Inter-node link rates in bits/s, with their flag spelling. */
  links: { rate: number; label: string }[];
  /** Logged steps per run; the first half is warm-up and left out of the median. */
  steps: number;
  /** Expert-parallel size (dp = every rank): experts of one group fit one node when ep <= ranks per node. */
  ep: number | undefined;
  /** How mpirun deals ranks over the nodes, in both runs: 'node' round-robin (a launch that does not
   * follow the nodes), 'slot' filling each node first. */
  mapBy: 'node' | 'slot';
}

export interface TopologyRow {
  nodes: number;
  ranks_per_node: number;
  ep: number;
  map_by: 'node' | 'slot';
  link: string;
  /** Median step seconds (second half of the steps). */
  topology_s: number;
  naive_s: number;
  /** naive / topology-aware. */
  speedup: number;
  /** Mean seconds per step by phase, rank 0's clock. */
  split: { topology: Split; naive: Split };
}

type Split = { compute: number; allreduce: number; alltoall: number };

/**
 * The model: narrow d_model and many tokens per step, so that the experts' all-to-all carries more
 * bytes than the compute it feeds (bytes per token and layer ~ d, FLOPs ~ d^2) and than the expert
 * gradients (tiny experts: a2a bytes across nodes / expert-gradient bytes = tokens k ep / (E
 * expert_d_ff) = 8 per rank at 4 ranks); dropless (capacity_factor 0) so both layouts route the
 * same tokens.
 */
const CONFIG = {
  model: { vocab_size: 256, seq_len: 64, d_model: 64, n_layers: 2, n_heads: 4, d_ff: 128, n_experts: 8, top_k: 2,
    moe_every: 1, gate: 'topk', capacity_factor: 0, expert_d_ff: 32, aux_loss_coef: 0.01, position: 'rope' },
  train: { batch_size: 32, steps: 6, lr: 0.003, min_lr: 0.0003, warmup_steps: 2, weight_decay: 0.1, grad_clip: 1,
    beta1: 0.9, beta2: 0.95, eval_every: 100000, eval_batches: 1, log_every: 1, seed: 1337 },
};

/** The cluster's name: one bench at a time. */
const NAME = 'bench-topology';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Where the tool can't run at all: one line, before any cluster is made. */
export function checkTopologyHost(): void {
  checkHost();
  const r = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) throw new CheckError('bench topology: mpirun not found; install Open MPI');
}

interface Run { state: ClusterState; work: string; cfg: string; world: number; ep: number; steps: number; mapBy: 'node' | 'slot' }

function runOnce(r: Run, placement: 'topology' | 'naive'): { median: number; split: Split } {
  const out = join(r.work, `${placement}`);
  const train = ['train', '--comm', 'mpi', '--config', r.cfg, '--dp', String(r.world), '--ep', String(r.ep), '--steps', String(r.steps),
    '--out', out, '--placement', placement];
  // The cluster's mpirun line with the ranks dealt as asked; topology-aware runs read the nodes from
  // where mpirun put the ranks (and number them node by node), naive runs keep mpirun's numbering.
  const argv = [...r.state.mpirun.slice(0, -2), '--map-by', r.mapBy, '-np', String(r.world), process.execPath, resolve(process.argv[1] ?? 'furnace'), ...train];
  const p = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (p.status !== 0) {
    const tail = `${p.stderr ?? ''}${p.stdout ?? ''}`.trim().split('\n').slice(-1)[0] ?? '';
    throw new CheckError(`bench topology: the ${placement} run on ${r.state.spec.name} failed (exit ${p.status ?? p.signal}): ${tail}`);
  }
  const recs = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as MetricsRecord);
  // The first steps warm up (JIT, MPI connections, allocator): only the second half is timed.
  const timed = recs.slice(Math.floor(recs.length / 2));
  const mean = (f: (r: MetricsRecord) => number) => timed.reduce((s, x) => s + f(x), 0) / timed.length;
  return { median: median(timed.map((x) => x.step_time_s)),
    split: { compute: mean((x) => x.time.compute), allreduce: mean((x) => x.time.allreduce), alltoall: mean((x) => x.time.alltoall) } };
}

export async function benchTopology(o: TopologyBenchOptions, out: Output): Promise<number> {
  checkTopologyHost();
  const work = mkdtempSync(join(tmpdir(), 'furnace-bench-topology-'));
  const cfg = join(work, 'config.json');
  writeFileSync(cfg, JSON.stringify(CONFIG, null, 2) + '\n');
  const rows: TopologyRow[] = [];
  const m = CONFIG.model;
  out.say(`furnace bench topology: MoE d_model ${m.d_model}, ${m.n_experts} experts of d_ff ${m.expert_d_ff}, ${CONFIG.train.batch_size} x ${m.seq_len} ` +
    `tokens per step, dropless; dp = all ranks; ranks dealt by ${o.mapBy}; ${o.steps} steps per run, median of the second half`);
  for (const nodes of o.nodes) {
    const world = nodes * o.ranksPerNode, ep = o.ep ?? o.ranksPerNode;
    // Every rank shares this machine's cores: compute slows with oversubscription in both layouts alike.
    if (world > availableParallelism()) out.say(`  note: ${world} ranks on this machine's ${availableParallelism()} cores: oversubscribed when ranks exceed cores`);
    for (const link of o.links) {
      const dir = join(work, 'cluster');
      try {
        // A run killed mid-way (SIGINT during a synchronous child) skips `finally`: its namespaces
        // carry this fixed name, so the next run (or `furnace cluster down --name bench-topology`) removes them.
        await down(NAME, dir);
        const state = await up({ name: NAME, nodes, ranksPerNode: o.ranksPerNode, supernodes: 1, rates: { node: link.rate, supernode: link.rate } }, dir);
        const run: Run = { state, work: join(work, `${nodes}-${link.label}`), cfg, world, ep, steps: o.steps, mapBy: o.mapBy };
        const topo = runOnce(run, 'topology');
        const naive = runOnce(run, 'naive');
        const row: TopologyRow = { nodes, ranks_per_node: o.ranksPerNode, ep, map_by: o.mapBy, link: link.label, topology_s: topo.median,
          naive_s: naive.median, speedup: naive.median / topo.median, split: { topology: topo.split, naive: naive.split } };
        rows.push(row);
        const sp = (s: Split) => `compute ${fmt(s.compute * 1e3)} / allreduce ${fmt(s.allreduce * 1e3)} / alltoall ${fmt(s.alltoall * 1e3)} ms`;
        out.say(`  ${nodes} nodes x ${o.ranksPerNode} ranks, ep ${ep}, ${link.label}: topology ${fmt(row.topology_s * 1e3)} ms (${sp(topo.split)}), ` +
          `naive ${fmt(row.naive_s * 1e3)} ms (${sp(naive.split)}); speedup ${row.speedup.toFixed(2)}x`);
      } finally {
        await down(NAME, dir);
      }
    }
  }
  rmSync(work, { recursive: true, force: true });
  const head = rows.find((r) => r.nodes === 2 && r.link === '1gbit') ?? rows[0];
  out.result({ speedup: head?.speedup ?? null, rows });
  return 0;
}
