// Node-failure detection for multi-process jobs: every rank sends a UDP heartbeat to every other
// rank from a worker thread (the rank's main thread blocks inside MPI calls, and a TCP peer behind
// a dead link keeps MPI waiting for minutes). Ranks silent for `timeoutS` are named by node in one
// line, and the rank ends itself so that mpirun ends the job.
import { hostname, networkInterfaces } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ProcessGroup } from './process-group.js';
import { InputError } from '../util/errors.js';

/** One rank's heartbeat endpoint, as exchanged at start. */
export interface Peer {
  rank: number;
  /** Host name of the rank's node (a `furnace cluster` node: its namespace name). */
  node: string;
  addr: string;
  port: number;
}

/** What the heartbeat worker is started with. */
export interface HeartbeatData {
  rank: number;
  /** Seconds between heartbeats. */
  intervalS: number;
  /** Seconds of silence after which a peer counts as failed. */
  timeoutS: number;
}

/** Messages main -> worker after its 'ready': the peers to watch, then 'stop'. */
export type ToWorker = { kind: 'peers'; job: number; peers: Peer[] } | { kind: 'stop' };

/** Heartbeat seconds from FURNACE_NODE_TIMEOUT (0 turns detection off); default 15 s. */
export function nodeTimeoutS(env: NodeJS.ProcessEnv = process.env): number {
  const v = env['FURNACE_NODE_TIMEOUT'];
  const s = v === undefined || v === '' ? 15 : Number(v);
  if (!Number.isFinite(s) || s < 0) throw new InputError(`FURNACE_NODE_TIMEOUT: expected seconds >= 0, got '${v}'`);
  return s;
}

/** Silent ranks grouped by node, nodes in rank order: `{node, ranks}` for the failure line. */
export function silentNodes(peers: readonly Peer[], silent: readonly number[]): { node: string; ranks: number[] }[] {
  const byNode = new Map<string, number[]>();
  for (const r of [...silent].sort((a, b) => a - b)) {
    const node = peers.find((p) => p.rank === r)?.node ?? `rank ${r}`;
    byNode.set(node, [...(byNode.get(node) ?? []), r]);
  }
  return [...byNode].map(([node, ranks]) => ({ node, ranks }));
}

/** The one line a rank prints when peers fall silent. */
export function nodeFailureLine(nodes: { node: string; ranks: number[] }[], timeoutS: number): string {
  const what = nodes.map((n) => `node ${n.node} (rank${n.ranks.length > 1 ? 's' : ''} ${n.ranks.join(', ')})`).join(', ');
  return `furnace: ${what} failed: no heartbeat for ${timeoutS} s (link down or processes gone); ending the job; ` +
    'continue with --resume latest';
}

/** This host's first external IPv4 address (a cluster node's eth0), else loopback. */
function ownAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

const NAME_CHARS = 56;
/** Floats per rank in the start-up exchange: job id, 4 address bytes, port, name length, name. */
const SLOT = 7 + NAME_CHARS;

/** Every rank's endpoint by one all-gather; rank 0's random job id keeps other jobs' packets out. */
async function exchange(world: ProcessGroup, port: number): Promise<{ job: number; peers: Peer[] }> {
  const name = hostname().slice(0, NAME_CHARS);
  const mine = new Float32Array(SLOT);
  mine.set([Math.floor(Math.random() * 0xffffff), ...ownAddress().split('.').map(Number), port, name.length]);
  for (let i = 0; i < name.length; i++) mine[7 + i] = name.charCodeAt(i); // UTF-16 units < 2^24: exact in float32
  const all = new Float32Array(SLOT * world.size);
  await world.allGather(mine, all);
  const peers: Peer[] = [];
  for (let r = 0; r < world.size; r++) {
    const s = all.subarray(r * SLOT, (r + 1) * SLOT);
    peers.push({ rank: r, addr: Array.from(s.subarray(1, 5)).join('.'), port: s[5]!,
      node: String.fromCharCode(...s.subarray(7, 7 + s[6]!)) });
  }
  return { job: all[0]!, peers };
}

export interface Heartbeat {
  peers: Peer[];
  /** Ends the heartbeat after telling every peer (call once no collective is left). */
  stop(): Promise<void>;
}

/**
 * Collective over world: starts this rank's heartbeat worker and exchanges endpoints. A world of
 * one rank, or timeoutS 0, starts nothing.
 */
export async function startHeartbeat(world: ProcessGroup, timeoutS = nodeTimeoutS()): Promise<Heartbeat | undefined> {
  if (world.size === 1 || timeoutS === 0) return undefined;
  const data: HeartbeatData = { rank: world.rank, intervalS: Math.min(1, timeoutS / 5), timeoutS };
  const worker = new Worker(new URL('./heartbeat-worker.js', import.meta.url), { workerData: data });
  worker.unref();
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', (m: { port: number }) => resolve(m.port));
    worker.once('error', reject);
  });
  const { job, peers } = await exchange(world, port);
  worker.postMessage({ kind: 'peers', job, peers } satisfies ToWorker);
  return {
    peers,
    stop: async () => {
      worker.ref(); // an unreferenced worker's exit would not keep this process alive to see it
      worker.postMessage({ kind: 'stop' } satisfies ToWorker);
      await new Promise((resolve) => worker.once('exit', resolve));
    },
  };
}
