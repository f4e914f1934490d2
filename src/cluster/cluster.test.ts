// The emulated cluster: its layout keeps every link inside its own namespaces; `up` builds nodes
// that reach each other over shaped links; `down` leaves the host as it was, twice and after a
// crash; and training over it (TCP between the namespaces) equals one rank.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentOf, layoutOf, ownsNamespace, parseLinks, topologyOf, type ClusterSpec } from './spec.js';
import { parseTopology } from '../comm/topology.js';
import { batches } from './netns.js';
import { findMpirun } from '../comm/mpi-group.js';
import { defaultCorpusPath } from '../data/corpus.js';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'furnace-cluster-'));
const env = { ...process.env, CI: '1', FURNACE_CACHE: join(dir, 'cache') };

const spec: ClusterSpec = { name: 'x', nodes: 4, ranksPerNode: 2, supernodes: 2, rates: { node: 1e9, supernode: 1e8 } };

test('layout: every command acts inside the cluster own namespaces; names and addresses follow the pattern', () => {
  const l = layoutOf(spec);
  assert.deepEqual(l.namespaces, ['fn-x-sw', 'fn-x-n0', 'fn-x-n1', 'fn-x-n2', 'fn-x-n3']);
  for (const ns of l.namespaces) assert.ok(ownsNamespace('x', ns), ns);
  assert.ok(!ownsNamespace('x', 'fn-x-y-n0') && !ownsNamespace('x', 'fn-xy-n0') && !ownsNamespace('x', 'eth0'));
  // up runs them as one batch per tool and namespace: the namespaces, the switch, each node, then tc.
  assert.deepEqual(batches(l.commands).map((b) => b.argv.join(' ')), ['ip -batch -', 'ip -n fn-x-sw -batch -',
    ...[0, 1, 2, 3].map((i) => `ip -n fn-x-n${i} -batch -`), 'tc -n fn-x-sw -batch -', ...[0, 1, 2, 3].map((i) => `tc -n fn-x-n${i} -batch -`)]);
  for (const c of l.commands) {
    if (c[1] === 'netns') { assert.equal(c[2], 'add'); assert.ok(ownsNamespace('x', c[3]!)); continue; }
    assert.equal(c[1], '-n', c.join(' ')); // ip -n NS / tc -n NS: never the host's namespace
    assert.ok(ownsNamespace('x', c[2]!), c.join(' '));
    const peerNs = c.indexOf('netns');
    if (peerNs >= 0) assert.ok(ownsNamespace('x', c[peerNs + 1]!), c.join(' '));
  }
  // Two tiers: node links at the node rate (both ends), uplinks at the supernode rate.
  assert.equal(l.qdiscs.filter((q) => q.rate === 1e9).length, 2 * 4);
  assert.equal(l.qdiscs.filter((q) => q.rate === 1e8).length, 2 * 2);
  assert.deepEqual(l.nodes.map((n) => n.supernode), [0, 0, 1, 1]);
  assert.equal(new Set(l.nodes.map((n) => n.addr)).size, 4);
  for (const n of l.nodes) assert.match(n.addr, /^10\.213\.\d+\.\d+$/);
});

test('topology file: the comm format, a tier per level, bandwidth per rank', () => {
  const t = parseTopology(topologyOf(spec));
  assert.deepEqual(t.tiers.map((x) => [x.name, x.group_size]), [['node', 2], ['supernode', 4], ['machine', 8]]);
  assert.equal(t.tiers[1]!.bandwidth, 1e9 / 8 / 2);
  assert.equal(t.tiers[2]!.bandwidth, 1e8 / 8 / 4);
  const one = parseTopology(topologyOf({ ...spec, supernodes: 1 }));
  assert.deepEqual(one.tiers.map((x) => [x.name, x.group_size]), [['node', 2], ['machine', 8]]);
});

test('--link parses tc rates and names the bad part', () => {
  assert.deepEqual(parseLinks('node=10gbit,supernode=500mbit'), { node: 1e10, supernode: 5e8 });
  assert.deepEqual(parseLinks('supernode=1.5gbit'), { node: 1e9, supernode: 1.5e9 });
  assert.throws(() => parseLinks('node=fast'), /--link node/);
  assert.throws(() => parseLinks('rack=1gbit'), /--link/);
  assert.throws(() => parseLinks('node=1tbit'), /--link node: rate 1tbit is outside/);
});

test('the launcher agent refuses hosts that are not nodes of its cluster', () => {
  const agent = join(dir, 'agent.sh');
  writeFileSync(agent, agentOf(spec));
  chmodSync(agent, 0o755);
  const r = spawnSync(agent, ['fn-y-n0', 'true'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /not a node of this cluster/);
});

function furnace(args: string[], opts: { prefix?: string[]; uid?: number; timeout?: number } = {}) {
  const prefix = opts.prefix ?? [];
  const cmd = prefix.length > 0 ? prefix[0]! : process.execPath;
  const argv = prefix.length > 0 ? [...prefix.slice(1), process.execPath, main, ...args] : [main, ...args];
  const r = spawnSync(cmd, argv, { encoding: 'utf8', env, timeout: opts.timeout ?? 120_000, ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid } : {}) });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
const lastJson = <T>(s: string): T => JSON.parse(s.trim().split('\n').at(-1)!) as T;

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasIp = spawnSync('ip', ['-V']).status === 0 && spawnSync('tc', ['-V']).status === 0;
/** Whether this machine lets us make a namespace at all (a container may refuse even root). */
function netnsRefusal(): string | false {
  const probe = `fn-probe-${process.pid}`;
  const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (r.status !== 0) return `cannot create network namespaces here (${(r.stderr ?? '').trim()})`;
  spawnSync('ip', ['netns', 'del', probe]);
  return false;
}
const noNetns = process.platform !== 'linux' ? 'needs Linux network namespaces'
  : !isRoot ? 'needs root to create network namespaces'
    : !hasIp ? 'needs iproute2 (ip, tc)' : netnsRefusal();
const noMpi = noNetns !== false ? noNetns : findMpirun() === undefined ? 'Open MPI (mpirun) is not installed' : false;

test('without root, cluster up refuses in one line with exit code 1', { skip: !isRoot ? 'needs root to run a command as another user' : false }, () => {
  const r = furnace(['cluster', 'up', '--nodes', '2', '--name', 'nope', '--dir', join(dir, 'nope')], { uid: 65534 });
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /needs root/);
});

const sh = (...a: string[]) => spawnSync(a[0]!, a.slice(1), { encoding: 'utf8' });
/** The host's view: its links (names and flags) and the namespaces of cluster `name` (other clusters
 * may come and go meanwhile: other jobs on this machine). */
const hostView = (name: string) => ({ links: sh('ip', '-o', 'link').stdout.split('\n').map((l) => l.replace(/link\/\S+ \S+.*$/, '')).sort().join('\n'),
  netns: sh('ip', 'netns', 'list').stdout.split('\n').map((l) => l.split(' ')[0] ?? '').filter((ns) => ownsNamespace(name, ns)).sort().join('\n') });

test('up 2 nodes: status lists them, they reach each other over shaped links; down leaves nothing, twice and after a crash', { skip: noNetns }, async () => {
  const name = `t${process.pid}`, cdir = join(dir, name);
  const before = hostView(name);
  try {
    const u = furnace(['cluster', 'up', '--nodes', '2', '--name', name, '--dir', cdir, '--link', 'node=500mbit', '--json']);
    assert.equal(u.code, 0, u.stderr);
    const up = lastJson<{ namespaces: string[]; nodes: { ns: string; addr: string }[]; files: Record<string, string> }>(u.stdout);
    assert.deepEqual(up.namespaces, [`fn-${name}-sw`, `fn-${name}-n0`, `fn-${name}-n1`]);
    for (const f of Object.values(up.files)) assert.ok(existsSync(f), f);
    assert.equal(readFileSync(up.files['hostfile']!, 'utf8'), `fn-${name}-n0 slots=1\nfn-${name}-n1 slots=1\n`);
    assert.equal(furnace(['cluster', 'up', '--nodes', '2', '--name', name, '--dir', cdir]).code, 2, 'a second up is refused');

    const s = furnace(['cluster', 'status', '--name', name, '--dir', cdir, '--json']);
    const st = lastJson<{ phase: string; present: string[] }>(s.stdout);
    assert.equal(st.phase, 'up');
    assert.deepEqual(st.present.sort(), [...up.namespaces].sort());

    // n1 listens, n0 connects over the bridge (node is in every namespace: the file system is shared).
    const [n0, n1] = up.nodes;
    const server = `require('net').createServer((c)=>c.end('pong')).listen(7071,'${n1!.addr}',()=>process.stdout.write('ready\\n'));setTimeout(()=>process.exit(0),8000)`;
    const client = `const t=Date.now();(function go(){const c=require('net').connect(7071,'${n1!.addr}');c.on('data',(d)=>{process.stdout.write(String(d));process.exit(0)});c.on('error',()=>{if(Date.now()-t<6000)setTimeout(go,100);else process.exit(3)})})()`;
    const both = spawnSync('sh', ['-c', `ip netns exec ${n1!.ns} ${process.execPath} -e "${server}" & ip netns exec ${n0!.ns} ${process.execPath} -e "${client}"; kill %1 2>/dev/null; wait`], { encoding: 'utf8', timeout: 20_000 });
    assert.match(both.stdout, /pong/, both.stderr);

    const q = sh('tc', '-n', n0!.ns, 'qdisc', 'show', 'dev', 'eth0');
    assert.match(q.stdout, /tbf .*rate 500Mbit/, q.stdout);
    // TCP inside the cluster gives up on a dead peer in seconds; the host keeps its own setting.
    const retries = (...ns: string[]) => sh(...(ns.length > 0 ? ['ip', 'netns', 'exec', ...ns] : []), 'sysctl', '-n', 'net.ipv4.tcp_retries2').stdout.trim();
    assert.equal(retries(n0!.ns), '5');
    assert.notEqual(retries(), '5');
    assert.notEqual(hostView(name).netns, before.netns);
  } finally {
    const d = furnace(['cluster', 'down', '--name', name, '--dir', cdir, '--json']);
    assert.equal(d.code, 0, d.stderr);
  }
  assert.deepEqual(hostView(name), before, 'down left the host as it was');
  assert.ok(!existsSync(cdir), 'files removed');
  const again = furnace(['cluster', 'down', '--name', name, '--dir', cdir, '--json']);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(lastJson<{ removed: string[] }>(again.stdout).removed, []);

  // A crash after the namespaces were made and before the state was written: the name finds them.
  // A process left running inside a node (a job that outlived its cluster) is ended too.
  let sleeper: ReturnType<typeof spawn> | undefined;
  try {
    assert.equal(furnace(['cluster', 'up', '--nodes', '2', '--name', name, '--dir', cdir]).code, 0);
    rmSync(cdir, { recursive: true });
    sleeper = spawn('ip', ['netns', 'exec', `fn-${name}-n1`, 'sleep', '60'], { stdio: 'ignore' });
    for (let i = 0; i < 50 && sh('ip', 'netns', 'pids', `fn-${name}-n1`).stdout.trim() === ''; i++) spawnSync('sleep', ['0.1']);
  } finally {
    const d = furnace(['cluster', 'down', '--name', name, '--dir', cdir, '--json']);
    assert.equal(d.code, 0, d.stderr);
    const r = lastJson<{ removed: string[]; killed: number }>(d.stdout);
    assert.equal(r.removed.length, 3);
    assert.equal(r.killed, 1);
  }
  await new Promise((res) => { if (sleeper?.exitCode !== null || sleeper.signalCode !== null) res(null); else sleeper.on('exit', res); });
  assert.equal(sleeper?.signalCode, 'SIGTERM', 'the process inside the node was ended');
  assert.deepEqual(hostView(name), before, 'down after a crash left the host as it was');
});

// Training over the cluster: dropless routing (capacity is per rank), so layouts agree.
const corpus = join(dir, 'corpus.txt');
const config = join(dir, 'micro.json');
writeFileSync(corpus, readFileSync(defaultCorpusPath(), 'utf8').slice(0, 60_000));
writeFileSync(config, JSON.stringify({
  model: { vocab_size: 300, seq_len: 16, d_model: 32, n_layers: 2, n_heads: 4, d_ff: 64, n_experts: 4, top_k: 2, moe_every: 1,
    expert_d_ff: 32, capacity_factor: 0 },
  train: { batch_size: 4, steps: 6, warmup_steps: 2, eval_every: 0, eval_batches: 1, log_every: 1 },
}));
const losses = (out: string) => readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { loss: number }).loss);

// SWIPE's assignment is global over dp (an all-gather of router scores): it too must equal one rank.
const swipeConfig = join(dir, 'micro-swipe.json');
const micro = JSON.parse(readFileSync(config, 'utf8')) as { model: Record<string, unknown>; train: Record<string, unknown> };
writeFileSync(swipeConfig, JSON.stringify({ ...micro, model: { ...micro.model, gate: 'swipe', capacity_factor: 1.25 } }));

test('dp2 x ep2 over TCP between 2 nodes (also with the swipe gate), and dp4 x ep2 on 2 nodes x 2 ranks, equal one rank', { skip: noMpi }, (t) => {
  const name = `p${process.pid}`, cdir = join(dir, name);
  const args = (out: string, cfg: string) => ['train', '--config', cfg, '--corpus', corpus, '--out', out, '--sample-tokens', '0', '--json'];
  const base = new Map<string, number[]>();
  for (const cfg of [config, swipeConfig]) {
    const out = join(dir, `one-${base.size}`);
    const b = furnace([...args(out, cfg), '--dp', '1']);
    assert.equal(b.code, 0, b.stderr);
    base.set(cfg, losses(out));
  }
  try {
    const u = furnace(['cluster', 'up', '--nodes', '2', '--ranks-per-node', '2', '--name', name, '--dir', cdir, '--json']);
    assert.equal(u.code, 0, u.stderr);
    const { mpirun, topology } = lastJson<{ mpirun: string[]; topology: string }>(u.stdout);
    const runs = [['dp2 x ep2, one rank per node', 2, ['--dp', '2', '--ep', '2'], config],
      ['dp2 x ep2 with swipe, one rank per node', 2, ['--dp', '2', '--ep', '2'], swipeConfig],
      ['dp4 x ep2, 2 nodes x 2 ranks', 4, ['--dp', '4', '--ep', '2'], config]] as const;
    for (const [what, np, layout, cfg] of runs) {
      const out = join(dir, `run-${what.replace(/\W+/g, '-')}`);
      // -np 2 alone would fill node 0's two slots; --map-by node puts one rank on each node.
      const pre = [...mpirun.slice(0, -2), ...(np === 2 ? ['--map-by', 'node'] : []), '-np', String(np)];
      // The 2 x 2 run reads its node tier from where mpirun placed the ranks (no --topology).
      // The 2 x 2 run goes through `furnace cluster run`, which adds the cluster's mpirun line.
      const r = np === 2 ? furnace([...args(out, cfg), ...layout, '--comm', 'mpi', '--topology', topology], { prefix: pre, timeout: 180_000 })
        : furnace(['cluster', 'run', '--name', name, '--dir', cdir, '--', ...args(out, cfg), ...layout, '--comm', 'mpi'], { timeout: 180_000 });
      assert.equal(r.code, 0, `${what}: ${r.stderr}`);
      if (np === 4) assert.match(r.stderr, /placement from MPI: 2 nodes x 2 ranks/);
      const want = base.get(cfg)!, got = losses(out);
      assert.equal(got.length, want.length);
      want.forEach((l, i) => assert.ok(Math.abs(l - got[i]!) <= 1e-4 * Math.abs(l), `${what}: step ${i} loss ${got[i]} vs ${l}`));
      t.diagnostic(`${what}: largest relative loss difference ${Math.max(...want.map((l, i) => Math.abs(l - got[i]!) / Math.abs(l))).toExponential(2)}`);
    }
    // Ranks dealt round-robin over the nodes: topology-aware placement numbers them node by node.
    const out = join(dir, 'run-map-by-node');
    const r = furnace([...args(out, config), '--dp', '4', '--ep', '2', '--comm', 'mpi'], { prefix: [...mpirun.slice(0, -2), '--map-by', 'node', '-np', '4'], timeout: 180_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /placement from MPI: 2 nodes x 2 ranks \(ranks numbered again node by node\)/);
    const want = base.get(config)!, got = losses(out);
    want.forEach((l, i) => assert.ok(Math.abs(l - got[i]!) <= 1e-4 * Math.abs(l), `--map-by node: step ${i} loss ${got[i]} vs ${l}`));
  } finally {
    furnace(['cluster', 'down', '--name', name, '--dir', cdir]);
  }
});

/** The last record of each step in a metrics.jsonl (a resumed run logs again the steps after its checkpoint). */
const lossByStep = (out: string) => new Map(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')
  .map((l) => JSON.parse(l) as { step: number; loss: number }).map((r) => [r.step, r.loss] as const));
/** Each world rank's node on a cluster of `perNode` ranks per node (mpirun fills a node's slots first). */
const writerNodes = (ckptDir: string, perNode: number) => {
  const m = JSON.parse(readFileSync(join(ckptDir, 'manifest.json'), 'utf8')) as { files: { writerRank: number; bytes: number }[] };
  const bytes = new Map<number, number>();
  for (const f of m.files) bytes.set(Math.floor(f.writerRank / perNode), (bytes.get(Math.floor(f.writerRank / perNode)) ?? 0) + f.bytes);
  return bytes;
};

test('a node whose link goes down mid-step ends the job within 60 s, naming it; --resume latest continues the loss on a rebuilt cluster of another layout', { skip: noMpi }, async (t) => {
  const name = `f${process.pid}`, cdir = join(dir, name), out = join(dir, 'failed-run');
  // After warm-up the learning rate stays at lr (min_lr = lr): a run's --steps changes none of its first steps.
  const cfg = join(dir, 'micro-constant-lr.json');
  writeFileSync(cfg, JSON.stringify({ ...micro, train: { ...micro.train, lr: 0.002, min_lr: 0.002 } }));
  const steps = 24;
  const ref = join(dir, 'reference');
  const base = ['train', '--config', cfg, '--corpus', corpus, '--sample-tokens', '0', '--json'];
  assert.equal(furnace([...base, '--out', ref, '--steps', String(steps)]).code, 0);
  const want = lossByStep(ref);
  try {
    assert.equal(furnace(['cluster', 'up', '--nodes', '2', '--name', name, '--dir', cdir]).code, 0);
    const job = spawn(process.execPath, [main, 'cluster', 'run', '--name', name, '--dir', cdir, '--', ...base, '--out', out,
      '--steps', '100000', '--ckpt-every', '4', '--dp', '2', '--ep', '2', '--comm', 'mpi'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    job.stderr.on('data', (b: Buffer) => { stderr += String(b); });
    const ended = new Promise<number | null>((res) => job.on('exit', (code) => res(code)));
    const logged = () => (existsSync(join(out, 'metrics.jsonl')) ? readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').length : 0);
    for (let i = 0; i < 1200 && logged() < 10 && job.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(logged() >= 10, `the job logs steps before the link goes down: ${stderr}`);
    const t0 = performance.now();
    assert.equal(sh('ip', '-n', `fn-${name}-n1`, 'link', 'set', 'eth0', 'down').status, 0);
    const timer = setTimeout(() => job.kill('SIGKILL'), 120_000);
    const code = await ended;
    clearTimeout(timer);
    const seconds = (performance.now() - t0) / 1000;
    t.diagnostic(`the job ended ${seconds.toFixed(1)} s after the link went down (exit ${code})`);
    assert.notEqual(code, 0);
    assert.ok(seconds < 60, `ended after ${seconds.toFixed(1)} s`);
    assert.match(stderr, new RegExp(`furnace: node fn-${name}-n1 \\(rank 1\\) failed: no heartbeat`));
    // Both nodes wrote shards of every checkpoint.
    assert.deepEqual([...writerNodes(join(out, 'ckpt', readFileSync(join(out, 'ckpt', 'latest'), 'utf8').trim()), 1).keys()].sort(), [0, 1]);
  } finally {
    furnace(['cluster', 'down', '--name', name, '--dir', cdir]);
  }
  // Another cluster: 2 nodes x 2 ranks, dp4 x ep2 (the checkpoint was dp2 x ep2 on 2 x 1).
  try {
    assert.equal(furnace(['cluster', 'up', '--nodes', '2', '--ranks-per-node', '2', '--name', name, '--dir', cdir]).code, 0);
    const r = furnace(['cluster', 'run', '--name', name, '--dir', cdir, '--', ...base, '--out', out, '--steps', String(steps),
      '--ckpt-every', '4', '--resume', 'latest', '--dp', '4', '--ep', '2', '--comm', 'mpi'], { timeout: 180_000 });
    assert.equal(r.code, 0, r.stderr);
    const from = Number(/resumed from \S+ at step (\d+)/.exec(r.stderr)?.[1]);
    assert.ok(from >= 8 && from < steps, r.stderr);
    const got = lossByStep(out);
    for (const [step, l] of want) {
      if (step <= from) continue;
      const g = got.get(step);
      assert.ok(g !== undefined && Math.abs(g - l) <= 1e-4 * Math.abs(l), `step ${step}: resumed loss ${g} vs uninterrupted ${l}`);
    }
    const bytes = writerNodes(join(out, 'ckpt', readFileSync(join(out, 'ckpt', 'latest'), 'utf8').trim()), 2);
    assert.deepEqual([...bytes.keys()].sort(), [0, 1], 'both nodes write shards');
    t.diagnostic(`resumed at step ${from}; checkpoint bytes per node ${[...bytes.values()].join(', ')}`);
  } finally {
    furnace(['cluster', 'down', '--name', name, '--dir', cdir]);
  }
});
