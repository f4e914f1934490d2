import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { globalArray, piece, saveRanks, tmpRoot } from '../../checkpoint/testing/fixtures.js';
import { openSafetensors } from '../../checkpoint/safetensors.js';

const main = fileURLToPath(new URL('../main.js', import.meta.url));

function furnace(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [main, ...args], (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : Number((err as { code?: number }).code ?? 1), stdout, stderr }));
  });
}

const last = (s: string) => JSON.parse(s.trim().split('\n').pop()!) as Record<string, unknown>;

test('furnace ckpt info / verify / export on an expert-parallel checkpoint; corruption exits 1 naming the shard', async () => {
  const root = await tmpRoot();
  const E = [4, 3, 5];
  const experts = globalArray(E, 1);
  const gate = globalArray([5, 4], 2);
  // ep4: rank r holds expert r; the gate is replicated on all 4 ranks.
  await saveRanks(root, 7, [0, 1, 2, 3].map((r) => [piece('moe.experts', experts, E, [r, 0, 0], [1, 3, 5]),
    piece('moe.gate', gate, [5, 4], [0, 0], [5, 4], r, 4)]), { layout: { ep: 4, dp: 1 } });
  const info = await furnace('ckpt', 'info', root, '--json');
  assert.equal(info.code, 0, info.stderr);
  const i = last(info.stdout);
  assert.equal(i['step'], 7);
  assert.deepEqual(i['layout'], { ep: 4, dp: 1 });
  assert.deepEqual(i['tensors'], [{ key: 'moe.experts', dtype: 'f32', shape: E, shards: 4, bytes: 240 },
    { key: 'moe.gate', dtype: 'f32', shape: [5, 4], shards: 1, bytes: 80 }]);
  const ok = await furnace('ckpt', 'verify', root, '--json');
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(last(ok.stdout)['ok'], true);

  // Export: one standard file, experts merged into one global tensor.
  const out = join(root, 'model.safetensors');
  const ex = await furnace('ckpt', 'export', root, '--out', out, '--json');
  assert.equal(ex.code, 0, ex.stderr);
  const { fh, header } = await openSafetensors(out);
  assert.deepEqual([...header.entries.keys()], ['moe.experts', 'moe.gate']);
  assert.equal(header.metadata['furnace_step'], '7');
  for (const [key, want] of [['moe.experts', experts], ['moe.gate', gate]] as const) {
    const e = header.entries.get(key)!;
    const buf = new Uint8Array(e.range[1] - e.range[0]);
    await fh.read(buf, 0, buf.length, e.range[0]);
    assert.deepEqual(new Float32Array(buf.buffer), want);
  }
  await fh.close();

  // One flipped byte in rank 2's shard file.
  const dir = join(root, 'step-00000007');
  const m = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { tensors: { shards: { file: string; byteRange: number[] }[] }[] };
  const s = m.tensors[0]!.shards[2]!;
  const bytes = await readFile(join(dir, s.file));
  bytes[s.byteRange[0]! + 5]! ^= 0xff;
  await writeFile(join(dir, s.file), bytes);
  const bad = await furnace('ckpt', 'verify', dir, '--json');
  assert.equal(bad.code, 1);
  const b = last(bad.stdout);
  assert.equal(b['ok'], false);
  assert.deepEqual((b['problems'] as { file: string }[]).map((p) => p.file), [s.file]);
  assert.match(bad.stderr, new RegExp(`CORRUPT ${s.file}: sha256 mismatch`));
  const exBad = await furnace('ckpt', 'export', dir, '--out', join(root, 'x.safetensors'));
  assert.equal(exBad.code, 1);
  assert.match(exBad.stderr, new RegExp(s.file));

  // Not a checkpoint: exit 2 with one line.
  await mkdir(join(root, 'empty'));
  for (const args of [['verify', join(root, 'empty')], ['info', join(root, 'nope')], ['export', dir]]) {
    const r = await furnace('ckpt', ...args);
    assert.equal(r.code, 2, `${args}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
  await rm(root, { recursive: true });
});

test('every way to name a checkpoint resolves to the same step: run directory, RUN/ckpt, step directory, latest', async () => {
  const run = await tmpRoot();
  const root = join(run, 'ckpt');
  await mkdir(root, { recursive: true });
  await saveRanks(root, 3, [[piece('w', globalArray([2, 2], 1), [2, 2], [0, 0], [2, 2])]]);
  const names = [run, root, join(root, 'step-00000003')];
  for (const name of names) {
    const r = await furnace('ckpt', 'info', name, '--json');
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    assert.equal(last(r.stdout)['step'], 3, name);
    assert.equal(last(r.stdout)['dir'], join(root, 'step-00000003'), name);
  }
  // `latest` is the latest under the default run folder, runs/latest.
  const cwd = await tmpRoot();
  await mkdir(join(cwd, 'runs'), { recursive: true });
  await cp(run, join(cwd, 'runs', 'latest'), { recursive: true });
  const latest = await new Promise<{ code: number; stdout: string }>((resolve) => {
    execFile(process.execPath, [main, 'ckpt', 'info', 'latest', '--json'], { cwd }, (err, stdout) =>
      resolve({ code: err === null ? 0 : 1, stdout }));
  });
  assert.equal(latest.code, 0);
  assert.equal(last(latest.stdout)['step'], 3);
});
