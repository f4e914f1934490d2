// The heartbeat worker of one rank (started by heartbeat.ts): sends a UDP beat to every peer each
// interval, watches theirs, and ends the whole process when a peer stays silent past the timeout.
//
// Packet: three uint32 (little-endian): job id, sender rank, kind (0 beat, 1 bye: the sender is done).
import { createSocket } from 'node:dgram';
import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { nodeFailureLine, silentNodes, type HeartbeatData, type Peer, type ToWorker } from './heartbeat.js';

const d = workerData as HeartbeatData;
const socket = createSocket('udp4');
const heard = new Map<number, number>();
const gone = new Set<number>();
let peers: Peer[] = [];
let job = -1;
let started = 0;
let timer: NodeJS.Timeout | undefined;

function packet(kind: 0 | 1): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32LE(job, 0);
  b.writeUInt32LE(d.rank, 4);
  b.writeUInt32LE(kind, 8);
  return b;
}

function sendAll(kind: 0 | 1, done?: () => void): void {
  const others = peers.filter((p) => p.rank !== d.rank);
  let left = others.length;
  if (left === 0) done?.();
  for (const p of others) socket.send(packet(kind), p.port, p.addr, () => { if (--left === 0) done?.(); });
}

/**
 * Ends this process. The lowest rank this one still hears prints the line (one line per job, not
 * one per rank); the others give it a moment to reach mpirun first.
 */
function fail(silent: number[]): void {
  const printer = peers.map((p) => p.rank).find((r) => !silent.includes(r));
  const end = () => process.kill(process.pid, 'SIGKILL'); // the main thread is blocked in MPI: no gentler signal is served
  if (printer !== d.rank) {
    setTimeout(end, 2000);
    return;
  }
  writeSync(2, nodeFailureLine(silentNodes(peers, silent), d.timeoutS) + '\n');
  end();
}

function check(): void {
  const now = performance.now();
  const silent: number[] = [];
  for (const p of peers) {
    if (p.rank === d.rank || gone.has(p.rank)) continue;
    const last = heard.get(p.rank);
    if (last !== undefined) {
      if (now - last > d.timeoutS * 1000) silent.push(p.rank);
    } else if (now - started > 2 * d.timeoutS * 1000) {
      // Never heard (a firewall, or an address that does not route): watching it could only end a healthy job.
      writeSync(2, `furnace: rank ${d.rank}: no heartbeat ever came from rank ${p.rank} (${p.addr}:${p.port}); node-failure detection is off for it\n`);
      gone.add(p.rank);
    }
  }
  if (silent.length > 0) fail(silent);
}

socket.on('message', (b) => {
  if (b.length !== 12 || b.readUInt32LE(0) !== job) return;
  const rank = b.readUInt32LE(4);
  heard.set(rank, performance.now());
  if (b.readUInt32LE(8) === 1) gone.add(rank);
});

parentPort?.on('message', (m: ToWorker) => {
  if (m.kind === 'peers') {
    ({ job, peers } = m);
    started = performance.now();
    timer = setInterval(() => { sendAll(0); check(); }, d.intervalS * 1000);
    sendAll(0);
    return;
  }
  clearInterval(timer);
  sendAll(1, () => {
    socket.close();
    parentPort?.close();
  });
});

socket.bind(0, () => parentPort?.postMessage({ port: socket.address().port }));
