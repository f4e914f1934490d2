// `furnace bench ckpt`: save and load bandwidth beside the disk's own write+fsync bandwidth, and
// the stall an async save costs the caller against a sync save, all measured in one run.
import { spawnSync } from 'node:child_process';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmt, type Output } from '../util/output.js';
import { writeAll } from '../util/durable.js';
import { CheckpointReader } from '../checkpoint/load.js';
import { Checkpointer } from '../checkpoint/save.js';
import { localGroup, soloCoordinator, type ShardedArray } from '../checkpoint/types.js';

const MiB = 1 << 20;
const TENSOR = 64 * MiB;

export interface CkptBenchOptions {
  /** Bytes of model state to save; rounded up to whole 64 MiB tensors. */
  bytes: number;
  /** Saves and loads per measurement; the best time counts. */
  repeats: number;
  /** Where the checkpoint files go (default: the system's temporary directory). */
  dir?: string;
}

/** The smallest state the bench saves: one tensor. */
export const CKPT_TENSOR_BYTES = TENSOR;

export async function benchCkpt(o: CkptBenchOptions, out: Output): Promise<number> {
  const bytes = Math.ceil(o.bytes / TENSOR) * TENSOR, repeats = o.repeats;
  const base = await mkdtemp(join(o.dir ?? tmpdir(), 'furnace-bench-ckpt-'));
  try {
    // As a wasm backend holds tensors (a shared WebAssembly.Memory), and as plain arrays.
    const state = makeState(bytes, true);
    const plain = makeState(bytes, false);
    out.say(`state: ${state.length} tensors, ${mib(bytes)}; files under ${base}; best of ${repeats}`);
    const disk = { node: 0, dd: 0 };
    let sync = Infinity;
    let stall = Infinity;
    let plainStall = Infinity;
    let firstStall = 0;
    let asyncTotal = Infinity;
    const root = join(base, 'ckpt');
    const syncCp = new Checkpointer({ root, coordinator: soloCoordinator, keep: 1 });
    const asyncCp = new Checkpointer({ root, coordinator: localGroup(1)[0]!, keep: 1, async: true });
    const t = performance.now();
    asyncCp.reserve(state);
    const reserveSeconds = (performance.now() - t) / 1000;
    let step = 0;
    // Interleaved, so that the disk's mood affects each measurement alike.
    for (let rep = 0; rep < repeats; rep++) {
      disk.node = Math.max(disk.node, await nodeWriteBandwidth(join(base, 'disk.bin'), bytes));
      disk.dd = Math.max(disk.dd, ddWriteBandwidth(join(base, 'dd.bin'), bytes));
      let t0 = performance.now();
      await syncCp.save(++step, state);
      sync = Math.min(sync, (performance.now() - t0) / 1000);
      t0 = performance.now();
      const s = await asyncCp.save(++step, state);
      touch(state, step);
      await asyncCp.wait();
      if (rep === 0) firstStall = s.stallSeconds;
      else stall = Math.min(stall, s.stallSeconds);
      asyncTotal = Math.min(asyncTotal, (performance.now() - t0) / 1000);
      const p = await asyncCp.save(++step, plain);
      touch(plain, step);
      await asyncCp.wait();
      plainStall = Math.min(plainStall, p.stallSeconds);
    }
    if (repeats === 1) stall = firstStall;
    const diskBps = Math.max(disk.node, disk.dd);
    const dir = join(root, `step-${String(step).padStart(8, '0')}`);
    const load = { verified: await loadBandwidth(dir, state, true), unverified: await loadBandwidth(dir, state, false) };
    const saveBps = bytes / sync;
    const res = {
      bytes, repeats,
      disk: { writeFsyncBps: diskBps, nodeLoopBps: disk.node, ddBps: disk.dd },
      save: { seconds: sync, Bps: saveBps, ofDisk: saveBps / diskBps },
      async: { stallSeconds: stall, plainArraysStallSeconds: plainStall, firstStallSeconds: firstStall, totalSeconds: asyncTotal, stagingBytes: asyncCp.stagingBytes, reserveSeconds,
        ofSyncSave: stall / sync },
      load: { verifiedBps: load.verified, unverifiedBps: load.unverified },
      targets: { saveOfDisk: 0.7, asyncStallOfSync: 0.1, met: saveBps / diskBps >= 0.7 && stall / sync <= 0.1 },
    };
    out.say(`disk write+fsync      ${fmt(diskBps / 1e9)} GB/s  (node loop ${fmt(disk.node / 1e9)}, dd conv=fsync ${disk.dd > 0 ? fmt(disk.dd / 1e9) : 'n/a'})`);
    out.say(`sync save             ${fmt(saveBps / 1e9)} GB/s  ${fmt(sync)} s  = ${fmt(100 * res.save.ofDisk)}% of disk (target >= 70%)`);
    out.say(`async save stall      ${fmt(stall)} s  = ${fmt(100 * res.async.ofSyncSave)}% of sync save (target <= 10%); first save ${fmt(firstStall)} s;`
      + ` staging ${mib(asyncCp.stagingBytes)} (reserved in ${fmt(reserveSeconds)} s); done after ${fmt(asyncTotal)} s`);
    out.say(`  (state in shared memory as the wasm backend holds it; from plain arrays the stall is ${fmt(plainStall)} s`
      + ` = ${fmt(100 * plainStall / sync)}%)`);
    out.say(`load (sha256 verified) ${fmt(load.verified / 1e9)} GB/s, unverified ${fmt(load.unverified / 1e9)} GB/s (page cache may hold the files)`);
    out.result(res);
    return 0;
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(0)} MiB`;
}

function makeState(bytes: number, shared: boolean): ShardedArray[] {
  const n = TENSOR / 4;
  return Array.from({ length: bytes / TENSOR }, (_, i) => {
    const data = new Float32Array(shared ? new SharedArrayBuffer(TENSOR) : new ArrayBuffer(TENSOR));
    for (let j = 0; j < n; j++) data[j] = i + j * 1e-6;
    return { key: `layer${i}.w`, dtype: 'f32' as const, globalShape: [n / 1024, 1024], offset: [0, 0], localShape: [n / 1024, 1024],
      replicaId: 0, replicas: 1, data };
  });
}

/** The next "training step": every array changes in place. */
function touch(state: ShardedArray[], step: number): void {
  for (const t of state) t.data[0] = step;
}

/** Sequential write of `bytes` in 64 MiB calls, then fsync: what the disk gives a plain writer. */
async function nodeWriteBandwidth(path: string, bytes: number): Promise<number> {
  const buf = new Uint8Array(TENSOR).fill(7);
  const t0 = performance.now();
  const fh = await open(path, 'w');
  for (let at = 0; at < bytes; at += TENSOR) await writeAll(fh, buf, 0, TENSOR, at);
  await fh.sync();
  await fh.close();
  const s = (performance.now() - t0) / 1000;
  await rm(path);
  return bytes / s;
}

/** `dd bs=64M conv=fsync`, timed from outside; 0 when dd is absent. */
function ddWriteBandwidth(path: string, bytes: number): number {
  const t0 = performance.now();
  const r = spawnSync('dd', ['if=/dev/zero', `of=${path}`, 'bs=64M', `count=${bytes / TENSOR}`, 'conv=fsync'], { stdio: 'ignore' });
  const s = (performance.now() - t0) / 1000;
  spawnSync('rm', ['-f', path]);
  return r.status === 0 ? bytes / s : 0;
}

async function loadBandwidth(dir: string, state: ShardedArray[], verify: boolean): Promise<number> {
  const r = await CheckpointReader.open(dir, { verify });
  const t0 = performance.now();
  let bytes = 0;
  for (const t of state) bytes += (await r.read(t.key)).byteLength;
  const s = (performance.now() - t0) / 1000;
  await r.close();
  return bytes / s;
}
