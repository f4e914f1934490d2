// An emulated cluster as data: its nodes and supernodes, the namespaces, links, addresses and
// shaping that build it, and the files (hostfile, launcher agent, topology) that describe it.
//
// Construction (two tiers): one switch namespace `fn-NAME-sw` holds a bridge per supernode
// (`sn0`, `sn1`, ...) and a top bridge (`top`); each node is a namespace `fn-NAME-nI` whose `eth0`
// is a veth to port `nI` of its supernode's bridge; each supernode bridge reaches the top bridge
// through a veth pair `upK` -- `dnK`. tbf shapes both ends of every node link at the node rate and
// both ends of every uplink at the supernode rate. With one supernode, nodes plug into `top`
// directly. All links live inside the cluster's namespaces: the host's interfaces are untouched.
// The switch namespace holds the address .0.254 on `top`, so mpirun runs there and reaches every
// node's daemon (Open MPI's daemons connect back to mpirun over TCP).
import { InputError } from '../util/errors.js';

/** Every namespace and file furnace creates carries this prefix, so `down` can find it after a crash. */
export const PREFIX = 'fn-';
/** The private subnet inside every cluster's namespaces (clusters never share a namespace). */
export const SUBNET = '10.213.0.0/16';
const SWITCH_ADDR = '10.213.0.254';
export const MAX_NODES = 1000;

export interface ClusterSpec {
  name: string;
  nodes: number;
  ranksPerNode: number;
  supernodes: number;
  /** Link rates in bits/s: node <-> its supernode's bridge, supernode bridge <-> top bridge. */
  rates: { node: number; supernode: number };
}

export interface NodeInfo {
  /** Namespace name, also the host name in the hostfile. */
  ns: string;
  addr: string;
  supernode: number;
}

/** One `tc` qdisc furnace adds: which namespace, which device. */
export interface Qdisc {
  ns: string;
  dev: string;
  rate: number;
}

export interface ClusterLayout {
  switchNs: string;
  switchAddr: string;
  nodes: NodeInfo[];
  /** Namespaces in creation order (switch first). */
  namespaces: string[];
  bridges: string[];
  qdiscs: Qdisc[];
  /** `ip`/`tc` argument lists in run order, each `ip netns add NS` or `TOOL -n NS ...`. */
  commands: string[][];
}

const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;

export function checkName(name: string, flag = 'name'): string {
  if (!NAME_RE.test(name)) throw new InputError(`--${flag}: '${name}' must be 1-32 characters of a-z, 0-9, '-', '_', starting with a letter or digit`);
  return name;
}

/** Namespaces of cluster `name` (exact pattern, so cluster `a` never matches `a-b`'s `fn-a-b-n0`). */
export function ownsNamespace(name: string, ns: string): boolean {
  if (!ns.startsWith(`${PREFIX}${name}-`)) return false;
  return /^(sw|n\d+)$/.test(ns.slice(PREFIX.length + name.length + 1));
}

const UNITS: Record<string, number> = { '': 1, bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9, tbit: 1e12 };

/** A rate in tc's notation (`1gbit`, `100mbit`, `500kbit`, or bits/s) -> bits/s. */
export function parseRate(s: string, where: string): number {
  const m = /^(\d+(?:\.\d+)?)([a-z]*)$/i.exec(s.trim());
  const unit = m === null ? undefined : UNITS[m[2]!.toLowerCase()];
  if (m === null || unit === undefined) throw new InputError(`${where}: expected a rate like 1gbit, 100mbit or 500kbit, got '${s}'`);
  const bits = Number(m[1]) * unit;
  if (!(bits >= 8000) || !(bits <= 1e11)) throw new InputError(`${where}: rate ${s} is outside [8kbit, 100gbit]`);
  return Math.round(bits);
}

/** `--link node=1gbit,supernode=100mbit` (either part may be left out) over defaults. */
export function parseLinks(s: string | undefined, defaults = { node: 1e9, supernode: 1e9 }): ClusterSpec['rates'] {
  const rates = { ...defaults };
  if (s === undefined) return rates;
  for (const part of s.split(',')) {
    const [k, v, ...more] = part.split('=');
    if ((k !== 'node' && k !== 'supernode') || v === undefined || more.length > 0) {
      throw new InputError(`--link: expected node=RATE,supernode=RATE, got '${part}'`);
    }
    rates[k] = parseRate(v, `--link ${k}`);
  }
  return rates;
}

export function checkSpec(s: ClusterSpec): ClusterSpec {
  checkName(s.name);
  if (!Number.isInteger(s.nodes) || s.nodes < 1 || s.nodes > MAX_NODES) throw new InputError(`--nodes: must be in [1, ${MAX_NODES}], got ${s.nodes}`);
  if (!Number.isInteger(s.ranksPerNode) || s.ranksPerNode < 1) throw new InputError(`--ranks-per-node: must be a positive integer, got ${s.ranksPerNode}`);
  if (!Number.isInteger(s.supernodes) || s.supernodes < 1 || s.nodes % s.supernodes !== 0) {
    throw new InputError(`--supernodes: ${s.supernodes} must divide --nodes ${s.nodes}`);
  }
  return s;
}

/** tc rate in bits/s and a burst of 1 ms at that rate (at least 16 KB, several full frames). */
function tbf(ns: string, dev: string, rate: number): string[] {
  const burst = Math.max(16_384, Math.ceil(rate / 8 / 1000));
  return ['tc', '-n', ns, 'qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', `${rate}bit`, 'burst', String(burst), 'latency', '50ms'];
}

/** Everything `up` builds, as data: the namespaces, bridges, qdiscs and the commands in order. */
export function layoutOf(s: ClusterSpec): ClusterLayout {
  const sw = `${PREFIX}${s.name}-sw`;
  const perSn = s.nodes / s.supernodes;
  const nodes: NodeInfo[] = Array.from({ length: s.nodes }, (_, i) => ({
    ns: `${PREFIX}${s.name}-n${i}`,
    addr: `10.213.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`,
    supernode: Math.floor(i / perSn),
  }));
  const bridges = s.supernodes > 1 ? [...Array.from({ length: s.supernodes }, (_, k) => `sn${k}`), 'top'] : ['top'];
  const cmds: string[][] = [];
  const qdiscs: Qdisc[] = [];
  const ipn = (ns: string, ...a: string[]) => cmds.push(['ip', '-n', ns, ...a]);
  const shape = (ns: string, dev: string, rate: number) => { cmds.push(tbf(ns, dev, rate)); qdiscs.push({ ns, dev, rate }); };
  cmds.push(['ip', 'netns', 'add', sw]);
  for (const n of nodes) cmds.push(['ip', 'netns', 'add', n.ns]);
  for (const ns of [sw, ...nodes.map((n) => n.ns)]) ipn(ns, 'link', 'set', 'lo', 'up');
  for (const b of bridges) { ipn(sw, 'link', 'add', b, 'type', 'bridge'); ipn(sw, 'link', 'set', b, 'up'); }
  ipn(sw, 'addr', 'add', `${SWITCH_ADDR}/16`, 'dev', 'top');
  if (s.supernodes > 1) {
    for (let k = 0; k < s.supernodes; k++) {
      ipn(sw, 'link', 'add', `up${k}`, 'type', 'veth', 'peer', 'name', `dn${k}`);
      ipn(sw, 'link', 'set', `up${k}`, 'master', `sn${k}`, 'up');
      ipn(sw, 'link', 'set', `dn${k}`, 'master', 'top', 'up');
      shape(sw, `up${k}`, s.rates.supernode);
      shape(sw, `dn${k}`, s.rates.supernode);
    }
  }
  nodes.forEach((n, i) => {
    // Created inside the switch namespace with its peer moved straight into the node: no
    // interface ever appears in the host's namespace.
    ipn(sw, 'link', 'add', `n${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.ns);
    ipn(sw, 'link', 'set', `n${i}`, 'master', s.supernodes > 1 ? `sn${n.supernode}` : 'top', 'up');
    ipn(n.ns, 'addr', 'add', `${n.addr}/16`, 'dev', 'eth0');
    ipn(n.ns, 'link', 'set', 'eth0', 'up');
    shape(n.ns, 'eth0', s.rates.node);
    shape(sw, `n${i}`, s.rates.node);
  });
  // Run order: namespaces, then the switch's links (they create every node's eth0), then each
  // node's addresses, then all shaping; grouped by namespace so `up` runs one batch per group.
  const namespaces = [sw, ...nodes.map((n) => n.ns)];
  const phase = (c: string[]) => (c[1] === 'netns' ? 0 : c[0] === 'tc' ? 3 : c[2] === sw ? 1 : 2);
  const order = (c: string[]) => phase(c) * (namespaces.length + 1) + (c[1] === '-n' ? namespaces.indexOf(c[2]!) : 0);
  const commands = cmds.map((c, i) => ({ c, i })).sort((a, b) => order(a.c) - order(b.c) || a.i - b.i).map((x) => x.c);
  return { switchNs: sw, switchAddr: SWITCH_ADDR, nodes, namespaces, bridges, qdiscs, commands };
}

/**
 * Set inside every namespace of the cluster (a namespace's TCP settings are its own; the host's
 * stay as they were). TCP gives up on an unanswered segment after tcp_retries2 retransmissions
 * with doubling timeouts: 5 from the 200 ms minimum is ~13 s instead of the default 15 (~15 min),
 * so mpirun and its daemons let go of a node whose link went down and the job ends.
 */
export const NAMESPACE_SYSCTLS: Readonly<Record<string, number>> = { 'net.ipv4.tcp_retries2': 5 };

/** Open MPI hostfile: one line per node namespace with its slots. */
export function hostfileOf(s: ClusterSpec, l: ClusterLayout): string {
  return l.nodes.map((n) => `${n.ns} slots=${s.ranksPerNode}`).join('\n') + '\n';
}

/**
 * Open MPI's rsh agent: called as `AGENT HOST COMMAND...`, runs the daemon inside the node's
 * network namespace, under the host name HOST. It refuses hosts that are not this cluster's nodes.
 */
export function agentOf(s: ClusterSpec): string {
  return [
    '#!/bin/sh',
    `# furnace cluster ${s.name}: Open MPI's launcher agent; runs its arguments inside node HOST's network namespace.`,
    'host="$1"; shift',
    'case "$host" in',
    `  ${PREFIX}${s.name}-n[0-9]*) ;;`,
    `  *) echo "furnace cluster ${s.name} agent: '$host' is not a node of this cluster" >&2; exit 2 ;;`,
    'esac',
    // Its own UTS namespace with host name HOST: Open MPI names shared-memory segments and session
    // directories after the host name, which every node would otherwise share (and collide on).
    'exec ip netns exec "$host" unshare --uts -- sh -c \'hostname "$1" && shift && exec sh -c "$*"\' agent "$host" "$@"',
    '',
  ].join('\n');
}

/**
 * The topology file (src/comm/topology.ts format; planner tier fields): ranks of one node share
 * memory; bandwidth is bytes/s per rank into the tier, a link's rate split over the ranks behind it.
 */
export function topologyOf(s: ClusterSpec): { name: string; tiers: { name: string; group_size: number; bandwidth?: number }[] } {
  const r = s.ranksPerNode, world = s.nodes * r, perSn = (s.nodes / s.supernodes) * r;
  const tiers: { name: string; group_size: number; bandwidth?: number }[] = [{ name: 'node', group_size: r }];
  if (s.supernodes > 1) tiers.push({ name: 'supernode', group_size: perSn, bandwidth: s.rates.node / 8 / r });
  tiers.push({ name: 'machine', group_size: world, bandwidth: s.supernodes > 1 ? s.rates.supernode / 8 / perSn : s.rates.node / 8 / r });
  return { name: s.name, tiers };
}

/** The mpirun command (argv) for `np` ranks on the cluster; the program and its arguments follow it. */
export function mpirunArgs(l: ClusterLayout, files: { hostfile: string; agent: string }, np: number, root: boolean): string[] {
  return ['ip', 'netns', 'exec', l.switchNs, 'mpirun', '--hostfile', files.hostfile, '--mca', 'plm_rsh_agent', files.agent,
    '--mca', 'oob_tcp_if_include', SUBNET, '--mca', 'btl_tcp_if_include', SUBNET,
    // Every node is the same machine: binding each node's rank 0 to core 0 would stack them.
    '--bind-to', 'none', '--mca', 'mpi_yield_when_idle', '1',
    // Idle daemon connections probe their peer after 20 s (default 300 s): a node lost without a
    // word from the ranks' heartbeat (heartbeat.ts) still ends the job, within 35 s.
    '--mca', 'oob_tcp_keepalive_time', '20', '--mca', 'oob_tcp_keepalive_intvl', '5', '--mca', 'oob_tcp_keepalive_probes', '3', ...(root ? ['--allow-run-as-root'] : []), '-np', String(np)];
}
