import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Checkpointer } from './save.js';
import { readTensor } from './load.js';
import { readManifest, resolveCheckpoint } from './manifest.js';
import { globalArray, rowPiece, tmpRoot } from './testing/fixtures.js';
import { localGroup, type Coordinator } from './types.js';
import { ioPool } from './io-pool.js';

const G = [64, 256]; // 64 KiB per tensor

test('async save: arrays changed right after save() returns do not leak into the checkpoint', async () => {
  const root = await tmpRoot();
  const group = localGroup(2);
  const update = (a: Float32Array, step: number) => { for (let i = 0; i < a.length; i++) a[i] = a[i]! * -2 + step; };
  const ballast = new SharedArrayBuffer(16 << 20);
  const G = [1024, 256]; // 1 MiB per tensor, 512 KiB per rank: chunks large enough to go to the I/O workers
  // Plain arrays and shared memory (as a wasm backend's heap; copied by the I/O workers); staging
  // that holds everything, and staging of 256 KiB per rank, less than each rank's 1 MiB.
  for (const [shared, stagingBytes] of [[false, undefined], [true, undefined], [false, 256 * 1024], [true, 256 * 1024]] as const) {
    const cps = group.map((co) => new Checkpointer({ root, coordinator: co, async: true, hashBlockBytes: 64 * 1024, keep: 0,
      ...(stagingBytes === undefined ? {} : { stagingBytes }) }));
    // Each rank's live state: the arrays passed to save() are the ones the "training step" updates.
    const live = [0, 1].map((r) => [rowPiece('a', globalArray(G, 1), G, 2, r), rowPiece('b', globalArray(G, 2), G, 2, r)].map((p) => {
      if (!shared) return p;
      const data = new Float32Array(new SharedArrayBuffer(p.data.byteLength));
      data.set(p.data);
      return { ...p, data };
    }));
    const meta = { loader: { position: 0 } };
    for (let step = 1; step <= 3; step++) {
      // Busy I/O workers: copies from shared memory queue behind these, so a save that returned
      // before its copies were done would let the update below leak in.
      const busy = shared ? [0, 1, 2, 3].map(() => ioPool().sha256(ballast, 0, ballast.byteLength)) : [];
      const starts = await Promise.all(cps.map((cp, r) => cp.save(step, live[r]!, meta)));
      for (const pieces of live) for (const p of pieces) update(p.data, step);
      meta.loader.position += 1000;
      await Promise.all(busy);
      for (const s of starts) assert.equal(s.stagingBytes, stagingBytes ?? 1024 * 1024);
      for (const s of starts) assert.ok(s.stallSeconds >= 0 && s.bytes === 1024 * 1024);
    }
    const results = await Promise.all(cps.map((cp) => cp.wait()));
    assert.equal(results[0]!.committed, true);
    // Step s holds the values as they were when save(s) was called: the original updated s - 1 times.
    for (let step = 1; step <= 3; step++) {
      const want = [globalArray(G, 1), globalArray(G, 2)];
      for (let k = 1; k < step; k++) for (const a of want) update(a, k);
      const dir = join(root, `step-0000000${step}`);
      assert.deepEqual((await readManifest(dir)).meta, { loader: { position: 1000 * (step - 1) } });
      assert.deepEqual(await readTensor(dir, 'a', [0, 0], G), want[0], `shared ${shared} staging ${stagingBytes} step ${step}`);
      assert.deepEqual(await readTensor(dir, 'b', [0, 0], G), want[1]);
    }
  }
  await rm(root, { recursive: true });
});

test('at most one save in flight: the next save returns only after the previous one committed', async () => {
  const root = await tmpRoot();
  const cp = new Checkpointer({ root, coordinator: localGroup(1)[0]!, async: true, hashBlockBytes: 4096 });
  const reserved = cp.reserve([rowPiece('a', globalArray(G, 1), G, 1, 0)]);
  assert.equal(reserved, 64 * 1024);
  assert.equal((await cp.save(1, [rowPiece('a', globalArray(G, 1), G, 1, 0)])).stagingBytes, reserved);
  await cp.save(2, [rowPiece('a', globalArray(G, 2), G, 1, 0)]);
  assert.ok((await stat(join(root, 'step-00000001', 'manifest.json'))).isFile());
  const done = await cp.wait();
  assert.equal(done?.step, 2);
  assert.equal(await resolveCheckpoint('latest', root), join(root, 'step-00000002'));
  assert.equal(await cp.wait(), undefined);
  await rm(root, { recursive: true });
});

test('a background failure surfaces on wait() and on the next save, not silently', async () => {
  const root = await tmpRoot();
  // Rank 1 of 2 describes its pieces and then dies: rank 0 must not commit and must say why.
  let barriers = 0;
  const co: Coordinator = {
    rank: 0, size: 2, barrier: async () => {
      // The first barrier of each save follows rank 0's preparation of the temporary directory.
      if (++barriers % 2 === 0) return;
      const plan = { step: barriers === 1 ? 1 : 2, rank: 1, group: 0, pieces: [{ ...rowPiece('a', globalArray(G), G, 2, 1), data: undefined }] };
      const tmp = join(root, `step-0000000${plan.step}.tmp`);
      await writeFile(join(tmp, 'plan-00001.json'), JSON.stringify(plan));
    },
  };
  const cp = new Checkpointer({ root, coordinator: co, async: true, hashBlockBytes: 4096, timeoutSeconds: 0.2 });
  const start = await cp.save(1, [rowPiece('a', globalArray(G), G, 2, 0)]);
  assert.equal(start.step, 1);
  await assert.rejects(cp.wait(), /only 1 of 2 ranks wrote their shards/);
  // The error is reported once; a failed save left no `latest`.
  await assert.rejects(stat(join(root, 'latest')), /ENOENT/);
  await cp.save(2, [rowPiece('a', globalArray(G), G, 2, 0)]);
  await assert.rejects(cp.save(3, [rowPiece('a', globalArray(G), G, 2, 0)]), /only 1 of 2 ranks/);
  await rm(root, { recursive: true });
});
