import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, truncate, unlink, writeFile, cp } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointReader, readTensor } from './load.js';
import { readManifest } from './manifest.js';
import { globalArray, rowPiece, saveRanks, tmpRoot } from './testing/fixtures.js';
import type { Manifest } from './types.js';

const G = [16, 32];
const g = globalArray(G, 4);

/** A fresh copy of a 2-rank checkpoint for each damage, and the file holding rank 1's rows. */
async function damaged(base: string, name: string, damage: (dir: string, m: Manifest, file: string) => Promise<void>) {
  const dir = join(base, name);
  await cp(join(base, 'good'), dir, { recursive: true });
  const m = await readManifest(dir);
  const file = m.tensors[0]!.shards[1]!.file;
  await damage(dir, m, file);
  return { dir, file };
}

async function refusedBoth(dir: string, pattern: RegExp): Promise<void> {
  await assert.rejects(readTensor(dir, 'x', [0, 0], G), pattern);
  const r = await CheckpointReader.open(dir);
  const { problems } = await r.verifyAll();
  await r.close();
  assert.equal(problems.length, 1, problems.map((p) => p.message).join('\n'));
  assert.match(problems[0]!.message, pattern);
}

test('corrupt byte, truncated file, missing shard and manifest mismatch are each refused, naming the shard', async () => {
  const base = await tmpRoot();
  await saveRanks(join(base, 'root'), 1, [0, 1].map((r) => [rowPiece('x', g, G, 2, r)]));
  await cp(join(base, 'root', 'step-00000001'), join(base, 'good'), { recursive: true });
  const r = await CheckpointReader.open(join(base, 'good'));
  assert.deepEqual((await r.verifyAll()).problems, []);
  await r.close();

  const flip = await damaged(base, 'flip', async (dir, m, file) => {
    const bytes = await readFile(join(dir, file));
    bytes[m.tensors[0]!.shards[1]!.byteRange[0] + 1000]! ^= 1;
    await writeFile(join(dir, file), bytes);
  });
  await refusedBoth(flip.dir, new RegExp(`${flip.file}: sha256 mismatch in block 3 of 'x' shard at \\[8,0\\]`));
  // verify: false skips hashes (the flipped value is read as is) but not size or header checks.
  assert.notDeepEqual(await readTensor(flip.dir, 'x', [0, 0], G, { verify: false }), g);

  const cut = await damaged(base, 'cut', async (dir, _m, file) => truncate(join(dir, file), 900));
  await refusedBoth(cut.dir, new RegExp(`${cut.file}: truncated: 900 bytes, the manifest says \\d+`));
  await assert.rejects(readTensor(cut.dir, 'x', [0, 0], G, { verify: false }), /truncated/);

  const gone = await damaged(base, 'gone', async (dir, _m, file) => unlink(join(dir, file)));
  await refusedBoth(gone.dir, new RegExp(`${gone.file}: missing shard file`));
  // Rows held only by the intact shard still load.
  assert.deepEqual(await readTensor(gone.dir, 'x', [0, 0], [8, 32]), g.subarray(0, 8 * 32));

  // The manifest claims a different byte range than the shard's own header.
  // The manifest claims a different byte range than the shard's own header.
  const editManifest = (edit: (m: Manifest) => void) => async (dir: string) => {
    const m = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    edit(m);
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(m));
  };
  const moved = await damaged(base, 'moved', editManifest((m) => {
    const s = m.tensors[0]!.shards[1]!;
    s.byteRange = [s.byteRange[0] - 4, s.byteRange[1] - 4];
  }));
  await refusedBoth(moved.dir, new RegExp(`${moved.file}: manifest mismatch: the file's header does not describe 'x@8,0'`));

  // A manifest whose shards no longer tile the tensor, or whose byte range cannot hold the shape, is refused whole.
  const gap = await damaged(base, 'gap', editManifest((m) => { m.tensors[0]!.globalShape = [17, 32]; }));
  await assert.rejects(readManifest(gap.dir), /manifest\.json: manifest mismatch: 'x': pieces cover 512 of 544/);
  const short = await damaged(base, 'short', editManifest((m) => { m.tensors[0]!.shards[1]!.shape = [9, 32]; }));
  await assert.rejects(readManifest(short.dir), new RegExp(`${short.file}: manifest mismatch: 'x' shard at \\[8,0\\] byteRange`));
  // A malformed manifest is refused naming the field, before any of its entries is trusted.
  const f16 = await damaged(base, 'f16', editManifest((m) => { Object.assign(m.tensors[0]!, { dtype: 'f16' }); }));
  await assert.rejects(readManifest(f16.dir), /manifest\.json: manifest mismatch: tensors\[0\]\.dtype: expected 'f32', got 'f16'/);
  const typo = await damaged(base, 'typo', editManifest((m) => { Object.assign(m.files[0]!, { byte: 1 }); }));
  await assert.rejects(readManifest(typo.dir), /manifest\.json: manifest mismatch: files\[0\]\.byte: unknown key/);
  const hash = await damaged(base, 'hash', editManifest((m) => { m.tensors[0]!.shards[0]!.sha256[0] = 'xyz'; }));
  await assert.rejects(readManifest(hash.dir), /manifest\.json: manifest mismatch: tensors\[0\]\.shards\[0\]\.sha256\[0\]/);
  await rm(base, { recursive: true });
});
