import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointReader, readTensor } from './load.js';
import { readManifest, resolveCheckpoint } from './manifest.js';
import { Worker } from 'node:worker_threads';
import { globalArray, piece, refSlice, rowPiece, saveRanks, startRanks, tmpRoot } from './testing/fixtures.js';
import { Checkpointer } from './save.js';
import { localGroup, type ShardedArray } from './types.js';

const W = [8, 12];
const w = globalArray(W, 1);
const E = [4, 6, 5]; // 4 experts
const experts = globalArray(E, 2);
const bias = globalArray([12], 3);

/** dp2 x ep2 on 4 ranks: W split in rows over dp, experts over ep, bias replicated on all 4. */
function dp2ep2(rank: number): ShardedArray[] {
  const dp = rank % 2;
  const ep = Math.floor(rank / 2);
  return [
    // W is row-split over the 2 ep ranks and replicated over dp.
    { ...rowPiece('w', w, W, 2, ep), replicaId: dp, replicas: 2 },
    { ...piece('experts', experts, E, [2 * ep, 0, 0], [2, 6, 5]), replicaId: dp, replicas: 2 },
    piece('bias', bias, [12], [0], [12], rank, 4),
  ];
}

test('sharded save over 4 simulated ranks: every tensor reads back whole, replicas written once', async () => {
  const root = await tmpRoot();
  const meta = { model: { dim: 12 }, layout: { dp: 2, ep: 2 }, loader: { position: 1234 }, rng: [1, 2, 3] };
  const starts = await saveRanks(root, 10, [0, 1, 2, 3].map(dp2ep2), meta);
  const dir = await resolveCheckpoint('latest', root);
  assert.equal(dir, join(root, 'step-00000010'));
  const m = await readManifest(dir);
  assert.equal(m.step, 10);
  assert.deepEqual(m.meta, meta);
  assert.deepEqual(m.tensors.map((t) => [t.key, t.shards.length]), [['bias', 1], ['experts', 2], ['w', 2]]);
  // 5 distinct pieces of 4 ranks' 12: each written by exactly one rank, and every rank writes.
  assert.equal(starts.reduce((s, x) => s + x.bytes, 0), 4 * (8 * 12 + 4 * 6 * 5 + 12));
  assert.ok(starts.every((s) => s.bytes > 0), `bytes per rank ${starts.map((s) => s.bytes)}`);
  const r = await CheckpointReader.open(dir);
  assert.deepEqual(await r.read('w'), w);
  assert.deepEqual(await r.read('experts'), experts);
  assert.deepEqual(await r.read('bias'), bias);
  await r.close();
  // Only the manifest and shard files remain in the committed directory.
  assert.ok((await readdir(dir)).every((n) => n === 'manifest.json' || /^shard-\d{5}\.safetensors$/.test(n)));
  await rm(root, { recursive: true });
});

test('reshard on load: saved split 2 ways (or 2x2), read whole, 4 ways, by columns and at odd slices', async () => {
  const root = await tmpRoot();
  const G = [12, 10];
  const g = globalArray(G, 5);
  const grid = (r: number) => piece('grid', g, G, [6 * Math.floor(r / 2), 5 * (r % 2)], [6, 5]);
  await saveRanks(root, 1, [0, 1].map((r) => [rowPiece('rows', g, G, 2, r)]));
  await saveRanks(root, 2, [0, 1, 2, 3].map((r) => [grid(r)]), {}, { keep: 0 });
  for (const [step, key] of [[1, 'rows'], [2, 'grid']] as const) {
    const dir = join(root, `step-0000000${step}`);
    assert.deepEqual(await readTensor(dir, key, [0, 0], G), g);
    for (let r = 0; r < 4; r++) {
      assert.deepEqual(await readTensor(dir, key, [3 * r, 0], [3, 10]), refSlice(g, G, [3 * r, 0], [3, 10]), `rows of rank ${r}`);
      assert.deepEqual(await readTensor(dir, key, [0, 2 * r], [12, 2]), refSlice(g, G, [0, 2 * r], [12, 2]), `cols of rank ${r}`);
    }
    assert.deepEqual(await readTensor(dir, key, [5, 3], [3, 4]), refSlice(g, G, [5, 3], [3, 4]));
    await assert.rejects(readTensor(dir, key, [10, 0], [3, 10]), /outside/);
  }
  await rm(root, { recursive: true });
});

test('a slice is verified block by block: damage outside the slice does not stop it, damage inside does', async () => {
  const root = await tmpRoot();
  const G = [64, 16]; // 4 KiB, 16 blocks of 256 bytes
  const g = globalArray(G, 9);
  await saveRanks(root, 3, [[piece('a', g, G, [0, 0], G)]]);
  const dir = join(root, 'step-00000003');
  const m = await readManifest(dir);
  const s = m.tensors[0]!.shards[0]!;
  assert.equal(s.sha256.length, 16);
  const f = join(dir, s.file);
  const bytes = await readFile(f);
  bytes[s.byteRange[0] + 256 * 10 + 7]! ^= 0x40; // block 10 = rows 40..43
  await (await import('node:fs/promises')).writeFile(f, bytes);
  assert.deepEqual(await readTensor(dir, 'a', [0, 0], [40, 16]), refSlice(g, G, [0, 0], [40, 16]));
  await assert.rejects(readTensor(dir, 'a', [41, 0], [1, 16]), (e: Error) => e.message.startsWith(`${s.file}: sha256 mismatch in block 10`));
  // Without verification the damaged value comes through: the hash is what caught it.
  const raw = await readTensor(dir, 'a', [40, 0], [4, 16], { verify: false });
  assert.notDeepEqual(raw, refSlice(g, G, [40, 0], [4, 16]));
  await rm(root, { recursive: true });
});

test('keep-last-K removes older steps after each commit; latest names the newest', async () => {
  const root = await tmpRoot();
  for (let step = 1; step <= 5; step++) await saveRanks(root, step * 100, [[rowPiece('x', globalArray([4, 4], step), [4, 4], 1, 0)]], {}, { keep: 2 });
  assert.deepEqual((await readdir(root)).sort(), ['latest', 'step-00000400', 'step-00000500']);
  assert.equal((await readFile(join(root, 'latest'), 'utf8')).trim(), 'step-00000500');
  assert.deepEqual(await readTensor(await resolveCheckpoint(root), 'x', [0, 0], [4, 4]), globalArray([4, 4], 5));
  // Saving a step that exists (a run resumed from an older step) replaces it.
  await saveRanks(root, 400, [[rowPiece('x', globalArray([4, 4], 9), [4, 4], 1, 0)]], {}, { keep: 2 });
  assert.deepEqual(await readTensor(await resolveCheckpoint('latest', root), 'x', [0, 0], [4, 4]), globalArray([4, 4], 9));
  assert.deepEqual((await readdir(root)).sort(), ['latest', 'step-00000400', 'step-00000500']);
  await rm(root, { recursive: true });
});

test('a bad piece on one rank makes every rank refuse the save (no hang, nothing committed)', async () => {
  const root = await tmpRoot();
  const good = rowPiece('x', w, W, 2, 0);
  const bad = { ...rowPiece('x', w, W, 2, 1), data: new Float32Array(5) };
  const results = await Promise.allSettled(startRanks(root, 1, [[good], [bad]]));
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  for (const r of results) assert.match(String((r as PromiseRejectedResult).reason), /rank 1: 'x' has 5 values for shape \[4,12\]/);
  await assert.rejects(saveRanks(root, 1, [[good], [piece('x', w, W, [6, 0], [2, 12])]]), /cover 72 of 96/);
  await assert.rejects(saveRanks(root, 1, [[good], [rowPiece('x', w, W, 4, 1)]]), /overlap/);
  assert.ok(!(await readdir(root)).includes('latest'));
  // The same savers then save a good step: a refused save leaves nothing behind to trip on.
  const group = localGroup(2);
  const cps = group.map((co) => new Checkpointer({ root, coordinator: co, hashBlockBytes: 256 }));
  assert.equal((await Promise.allSettled(cps.map((cp, r) => cp.save(1, [r === 0 ? good : bad])))).filter((x) => x.status === 'rejected').length, 2);
  await Promise.all(cps.map((cp, r) => cp.save(2, [rowPiece('x', w, W, 2, r)])));
  assert.deepEqual(await readTensor(await resolveCheckpoint('latest', root), 'x', [0, 0], W), w);
  await rm(root, { recursive: true });
});

test('ranks as real threads (shared-memory barrier) save a step that loads whole', async () => {
  const root = await tmpRoot();
  const sync = new SharedArrayBuffer(8);
  for (const [step, mode] of [[5, 'sync'], [6, 'async']] as const) {
    const results = await Promise.all([0, 1].map((rank) => new Promise<{ bytes: number }>((resolve, reject) => {
      const w = new Worker(new URL('./testing/save-rank.js', import.meta.url), { workerData: { root, rank, size: 2, sync, mode, step } });
      w.once('message', resolve);
      w.once('error', reject);
    })));
    assert.ok(results.every((r) => r.bytes > 0), 'both threads write');
    const r = await CheckpointReader.open(await resolveCheckpoint('latest', root));
    assert.equal(r.step, step);
    assert.deepEqual(await r.read('w'), globalArray([8, 24], step));
    assert.deepEqual(await r.read('b'), globalArray([40], step + 100));
    await r.close();
  }
  await rm(root, { recursive: true });
});
