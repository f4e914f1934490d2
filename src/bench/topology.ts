// `furnace bench topology`: step time of a communication-heavy MoE model on an emulated cluster
// (src/cluster/), topology-aware placement + hierarchical collectives against the naive layout.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkHost, down, up } from '../cluster/netns.js';
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
}

export interface TopologyRow {
  nodes: number;
  ranks_per_node: number;
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
 * The model: wide d_model and 8 experts with small tokens-per-step, so gradients (4.8 M
 * parameters, ~19 MB per all-reduce) and the expert all-to-all dominate compute; dropless
 * (capacity_factor 0) so both layouts route the same tokens.
 */
const CONFIG = {
  model: { vocab_size: 256, seq_len: 32, d_model: 256, n_layers: 2, n_heads: 4, d_ff: 512, n_experts: 8, top_k: 2,
    moe_every: 1, gate: 'topk', capacity_factor: 0, expert_d_ff: 512, aux_loss_coef: 0.01, position: 'rope' },
  train: { batch_size: 16, steps: 6, lr: 0.003, min_lr: 0.0003, warmup_steps: 2, weight_decay: 0.1, grad_clip: 1,
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

function runOnce(name: string, dir: string, work: string, cfg: string, world: number, steps: number, placement: 'topology' | 'naive'): { median: number; split: Split } {
  const out = join(work, `${placement}`);
  const train = ['train', '--comm', 'mpi', '--config', cfg, '--dp', String(world), '--ep', String(world), '--steps', String(steps),
    '--out', out, '--placement', placement, ...(placement === 'topology' ? ['--topology', join(dir, 'topology.json')] : [])];
  const r = spawnSync(process.execPath, [resolve(process.argv[1] ?? 'furnace'), 'cluster', 'run', '--name', name, '--dir', dir, '--', ...train],
    { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (r.status !== 0) {
    const tail = `${r.stderr ?? ''}${r.stdout ?? ''}`.trim().split('\n').slice(-1)[0] ?? '';
    throw new CheckError(`bench topology: the ${placement} run on ${name} failed (exit ${r.status ?? r.signal}): ${tail}`);
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
  out.say(`furnace bench topology: MoE d_model ${CONFIG.model.d_model}, ${CONFIG.model.n_experts} experts, dropless; dp = ep = all ranks; ` +
    `${o.steps} steps per run, median of the second half`);
  for (const nodes of o.nodes) {
    const world = nodes * o.ranksPerNode;
    // Every rank shares this machine's cores: compute slows with oversubscription in both layouts alike.
    if (world > availableParallelism()) out.say(`  note: ${world} ranks on this machine's ${availableParallelism()} cores: oversubscribed when ranks exceed cores`);
    for (const link of o.links) {
      const dir = join(work, 'cluster');
      try {
        // A run killed mid-way (SIGINT during a synchronous child) skips `finally`: its namespaces
        // carry this fixed name, so the next run (or `furnace cluster down --name bench-topology`) removes them.
        await down(NAME, dir);
        await up({ name: NAME, nodes, ranksPerNode: o.ranksPerNode, supernodes: 1, rates: { node: link.rate, supernode: link.rate } }, dir);
        const topo = runOnce(NAME, dir, join(work, `${nodes}-${link.label}`), cfg, world, o.steps, 'topology');
        const naive = runOnce(NAME, dir, join(work, `${nodes}-${link.label}`), cfg, world, o.steps, 'naive');
        const row: TopologyRow = { nodes, ranks_per_node: o.ranksPerNode, link: link.label, topology_s: topo.median, naive_s: naive.median,
          speedup: naive.median / topo.median, split: { topology: topo.split, naive: naive.split } };
        rows.push(row);
        const sp = (s: Split) => `compute ${fmt(s.compute * 1e3)} / allreduce ${fmt(s.allreduce * 1e3)} / alltoall ${fmt(s.alltoall * 1e3)} ms`;
        out.say(`  ${nodes} nodes x ${o.ranksPerNode} ranks, ${link.label}: topology ${fmt(row.topology_s * 1e3)} ms (${sp(topo.split)}), ` +
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
