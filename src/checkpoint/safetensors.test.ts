import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { layoutSafetensors, readSafetensorsHeader } from './safetensors.js';
import { tmpRoot } from './testing/fixtures.js';

test('a laid-out header follows the safetensors spec and parses back', async () => {
  const l = layoutSafetensors([{ name: 'a', shape: [2, 3], bytes: 24 }, { name: 'b.c', shape: [], bytes: 4 }], { step: '7' });
  const dv = new DataView(l.header.buffer);
  const n = Number(dv.getBigUint64(0, true));
  assert.equal(l.header.length, 8 + n);
  assert.equal(l.header.length % 64, 0);
  const json = JSON.parse(new TextDecoder().decode(l.header.subarray(8))) as Record<string, { data_offsets: number[] }>;
  assert.deepEqual(json['a'], { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] });
  assert.deepEqual(json['b.c'], { dtype: 'F32', shape: [], data_offsets: [24, 28] });
  assert.deepEqual(json['__metadata__'], { step: '7' });
  assert.deepEqual(l.ranges, [[l.header.length, l.header.length + 24], [l.header.length + 24, l.header.length + 28]]);
  assert.equal(l.fileBytes, l.header.length + 28);
  const dir = await tmpRoot();
  const f = join(dir, 'x.safetensors');
  await writeFile(f, Buffer.concat([l.header, new Uint8Array(28)]));
  const fh = await open(f, 'r');
  const h = await readSafetensorsHeader(fh, l.fileBytes);
  await fh.close();
  assert.deepEqual(h.entries.get('a'), { dtype: 'F32', shape: [2, 3], range: l.ranges[0] });
  assert.equal(h.metadata['step'], '7');
  // A header whose length runs past the file, or that is not JSON, is refused.
  const bad = new Uint8Array(16);
  new DataView(bad.buffer).setBigUint64(0, 1000n, true);
  await writeFile(f, bad);
  const fb = await open(f, 'r');
  await assert.rejects(readSafetensorsHeader(fb, 16), /exceeds the file/);
  await fb.close();
  await rm(dir, { recursive: true });
});
