// `furnace cluster up|status|down`: builds an emulated cluster from Linux network namespaces
// (layout in spec.ts), records what it made in a state file, and removes exactly that again.
//
// Refusals: without root, `ip` or `tc` the command cannot run here at all: a CheckError (exit 1,
// an environment that failed a check), like a missing backend; bad flags are InputErrors (exit 2).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, chmodSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { CheckError, InputError, errorMessage } from '../util/errors.js';
import { atomicReplace } from '../util/durable.js';
import {
  NAMESPACE_SYSCTLS, SUBNET, agentOf, checkSpec, hostfileOf, layoutOf, mpirunArgs, ownsNamespace, topologyOf,
  type ClusterLayout, type ClusterSpec, type NodeInfo, type Qdisc,
} from './spec.js';

/** Files `up` writes into the cluster's directory (and `down` removes). */
const FILES = { state: 'state.json', hostfile: 'hostfile', agent: 'agent.sh', topology: 'topology.json' } as const;

export interface ClusterState {
  version: 1;
  /** 'creating' until every command ran: a crash in between leaves a state `down` still reads. */
  phase: 'creating' | 'up';
  spec: ClusterSpec;
  dir: string;
  created: string;
  subnet: string;
  switch: { ns: string; addr: string };
  nodes: NodeInfo[];
  namespaces: string[];
  bridges: string[];
  qdiscs: Qdisc[];
  files: { hostfile: string; agent: string; topology: string; state: string };
  /** The mpirun command for every rank of the cluster; append the program. */
  mpirun: string[];
}

/** Default home of a cluster's files: ~/.furnace/clusters/NAME. */
export function clusterDir(name: string, dir?: string): string {
  return resolve(dir ?? join(homedir(), '.furnace', 'clusters', name));
}

/** Linux, root, iproute2 (ip, tc) and unshare present, or one line saying what is missing. */
export function checkHost(): void {
  if (process.platform !== 'linux') throw new CheckError(`cluster: needs Linux network namespaces; this is ${process.platform}`);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new CheckError('cluster: needs root (network namespaces, veth links and tc); run it as root');
  // ip and tc build the cluster; unshare (util-linux) gives each node's daemons its own host name.
  const tools: [string, string, string][] = [['ip', '-V', 'iproute2'], ['tc', '-V', 'iproute2'], ['unshare', '--version', 'util-linux']];
  for (const [tool, flag, pkg] of tools) {
    const r = spawnSync(tool, [flag], { encoding: 'utf8' });
    if (r.error !== undefined || r.status !== 0) throw new CheckError(`cluster: '${tool}' not found; install ${pkg}`);
  }
}

function sh(argv: string[], input?: string): { ok: boolean; out: string; err: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 60_000, ...(input !== undefined ? { input } : {}) });
  const err = (r.stderr ?? '').trim() || errorMessage(r.error ?? `exit ${r.status}`);
  return { ok: r.status === 0, out: r.stdout ?? '', err: err.split('\n').map((l) => l.trim()).join('; ') };
}

/**
 * Consecutive commands of one tool in one namespace as a single `TOOL [-n NS] -batch -` run (one
 * process instead of one per command: `up` of 16 nodes spawns 35 processes, not 150).
 */
export function batches(commands: readonly string[][]): { argv: string[]; lines: string[] }[] {
  const out: { key: string; argv: string[]; lines: string[] }[] = [];
  for (const c of commands) {
    const [tool = '', flag = '', ns = ''] = c;
    const host = tool === 'ip' && flag === 'netns';
    const key = host ? 'ip' : `${tool} ${ns}`;
    const line = (host ? c.slice(1) : c.slice(3)).join(' ');
    const last = out.at(-1);
    if (last !== undefined && last.key === key) last.lines.push(line);
    else out.push({ key, argv: host ? [tool, '-batch', '-'] : [tool, '-n', ns, '-batch', '-'], lines: [line] });
  }
  return out.map(({ argv, lines }) => ({ argv, lines }));
}

/** Network namespaces that exist now (names only). */
export function listNamespaces(): string[] {
  const r = sh(['ip', 'netns', 'list']);
  if (!r.ok) throw new CheckError(`cluster: ip netns list failed: ${r.err}`);
  return r.out.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter((n) => n !== '');
}

export function readState(dir: string): ClusterState | undefined {
  const file = join(dir, FILES.state);
  if (!existsSync(file)) return undefined;
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as ClusterState;
    // down trusts only the namespace list, and only names of this cluster's pattern in it.
    if (s.version !== 1 || !Array.isArray(s.namespaces) || !s.namespaces.every((x) => typeof x === 'string')) {
      throw new Error('not a furnace cluster state (version 1 with a list of namespaces)');
    }
    return s;
  } catch (e) {
    throw new InputError(`${file}: ${errorMessage(e)}`);
  }
}

function stateOf(spec: ClusterSpec, dir: string, l: ClusterLayout): ClusterState {
  const files = { hostfile: join(dir, FILES.hostfile), agent: join(dir, FILES.agent), topology: join(dir, FILES.topology), state: join(dir, FILES.state) };
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  return {
    version: 1, phase: 'creating', spec, dir, created: new Date().toISOString(), subnet: SUBNET,
    switch: { ns: l.switchNs, addr: l.switchAddr }, nodes: l.nodes, namespaces: l.namespaces, bridges: l.bridges, qdiscs: l.qdiscs,
    files, mpirun: mpirunArgs(l, files, spec.nodes * spec.ranksPerNode, root),
  };
}

/**
 * Creates the cluster: the state file first (phase 'creating', naming everything about to be made),
 * then the namespaces, links and qdiscs, then the hostfile, agent and topology. A failed command
 * removes what was made and ends in a CheckError naming the command.
 */
export async function up(spec: ClusterSpec, dirFlag?: string): Promise<ClusterState> {
  checkSpec(spec);
  checkHost();
  const dir = clusterDir(spec.name, dirFlag);
  const existing = listNamespaces().filter((ns) => ownsNamespace(spec.name, ns));
  if (existing.length > 0 || existsSync(join(dir, FILES.state))) {
    throw new InputError(`--name: cluster '${spec.name}' is already up (${existing.length} namespaces, state in ${dir}); furnace cluster down --name ${spec.name}`);
  }
  const l = layoutOf(spec);
  const state = stateOf(spec, dir, l);
  mkdirSync(dir, { recursive: true });
  await atomicReplace(state.files.state, JSON.stringify(state, null, 2) + '\n');
  try {
    for (const b of batches(l.commands)) {
      const r = sh(b.argv, b.lines.join('\n') + '\n');
      if (!r.ok) throw new CheckError(`cluster up: '${b.argv.join(' ')}' with ${b.lines.length} commands (${b.lines[0]} ...) failed: ${r.err}`);
    }
    const sysctls = Object.entries(NAMESPACE_SYSCTLS).map(([k, v]) => `${k}=${v}`);
    for (const ns of l.namespaces) {
      const r = sh(['ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', ...sysctls]);
      if (!r.ok) throw new CheckError(`cluster up: 'sysctl -w ${sysctls.join(' ')}' in ${ns} failed: ${r.err}`);
    }
    await atomicReplace(state.files.hostfile, hostfileOf(spec, l));
    await atomicReplace(state.files.agent, agentOf(spec));
    chmodSync(state.files.agent, 0o755);
    await atomicReplace(state.files.topology, JSON.stringify(topologyOf(spec), null, 2) + '\n');
    state.phase = 'up';
    await atomicReplace(state.files.state, JSON.stringify(state, null, 2) + '\n');
  } catch (e) {
    await down(spec.name, dir);
    throw e;
  }
  return state;
}

export interface DownResult {
  name: string;
  dir: string;
  /** Namespaces deleted now (their links, bridges and qdiscs go with them). */
  removed: string[];
  /** Processes that were still running inside them, ended first. */
  killed: number;
  files: string[];
}

/**
 * Removes the cluster: every namespace named in the state file or matching the cluster's name
 * pattern (after a crash the state may be missing), and the files `up` wrote. Idempotent.
 * Everything furnace creates lives inside these namespaces, so deleting them removes the veths,
 * bridges and qdiscs too; nothing in the host's namespace is touched.
 */
export async function down(name: string, dirFlag?: string): Promise<DownResult> {
  checkHost();
  const dir = clusterDir(name, dirFlag);
  let state: ClusterState | undefined;
  try {
    state = readState(dir);
  } catch {
    state = undefined; // an unreadable state: the name pattern still finds the namespaces
  }
  const present = new Set(listNamespaces());
  const mine = new Set([...(state?.namespaces ?? []).filter((ns) => ownsNamespace(name, ns)), ...[...present].filter((ns) => ownsNamespace(name, ns))]);
  const killed = await endProcesses([...mine].filter((ns) => present.has(ns)));
  const removed: string[] = [];
  for (const ns of mine) {
    if (!present.has(ns)) continue;
    const r = sh(['ip', 'netns', 'del', ns]);
    if (!r.ok) throw new CheckError(`cluster down: 'ip netns del ${ns}' failed: ${r.err}`);
    removed.push(ns);
  }
  const files: string[] = [];
  for (const f of Object.values(FILES)) {
    for (const p of [join(dir, f), join(dir, `${f}.tmp`)]) {
      if (existsSync(p)) { rmSync(p, { force: true }); files.push(p); }
    }
  }
  if (existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
  return { name, dir, removed, killed, files };
}

/**
 * Ends the processes still inside the cluster's namespaces (ranks and daemons of a job that
 * outlived it): SIGTERM, then SIGKILL after 3 s. Deleting a namespace's name would otherwise keep
 * it alive, links and all, out of sight.
 */
async function endProcesses(namespaces: string[]): Promise<number> {
  const pids = namespaces.flatMap((ns) => sh(['ip', 'netns', 'pids', ns]).out.split('\n').filter((l) => /^\d+$/.test(l.trim())).map(Number));
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  for (const pid of pids) signal(pid, 'SIGTERM');
  for (let waited = 0; waited < 3000 && pids.some(alive); waited += 100) await new Promise((r) => setTimeout(r, 100));
  for (const pid of pids.filter(alive)) signal(pid, 'SIGKILL');
  return pids.length;
}

export interface StatusResult {
  name: string;
  dir: string;
  /** 'up': every namespace present; 'partial': some; 'down': none and no state. */
  phase: 'up' | 'partial' | 'down' | 'creating';
  state: ClusterState | undefined;
  present: string[];
  missing: string[];
}

export function status(name: string, dirFlag?: string): StatusResult {
  checkHost();
  const dir = clusterDir(name, dirFlag);
  const state = readState(dir);
  const all = listNamespaces();
  const present = all.filter((ns) => ownsNamespace(name, ns));
  const missing = (state?.namespaces ?? []).filter((ns) => !all.includes(ns));
  let phase: StatusResult['phase'];
  if (state === undefined) phase = present.length > 0 ? 'partial' : 'down';
  else if (state.phase === 'creating') phase = 'creating';
  else phase = missing.length === 0 ? 'up' : 'partial';
  return { name, dir, phase, state, present, missing };
}

/** Quotes an argv for a POSIX shell line. */
export function shellLine(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_./:=,@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
