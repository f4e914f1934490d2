// `furnace bench comm` runs end to end and reports one JSON object; bad flags exit 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../cli/main.js', import.meta.url));

test('bench comm --json reports every op for the threads backend beside memcpy', { timeout: 60_000 }, () => {
  const r = spawnSync(process.execPath, [cli, 'bench', 'comm', '--json', '--backend', 'threads', '--ranks', '2,3',
    '--sizes-mb', '0.25,1', '--iters', '2'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  const res = JSON.parse(last) as { memcpy_Bps: number; results: { backend: string; ranks: number; op: string; bytes: number; seconds: number; algbw_Bps: number; busbw_Bps: number }[] };
  assert.ok(res.memcpy_Bps > 0);
  assert.equal(res.results.length, 2 * 3 * 2);
  for (const row of res.results) {
    assert.equal(row.backend, 'threads');
    assert.ok(row.seconds > 0 && Number.isFinite(row.algbw_Bps));
    const p = row.ranks;
    const f = row.op === 'allReduce' ? (2 * (p - 1)) / p : (p - 1) / p;
    assert.ok(Math.abs(row.busbw_Bps - row.algbw_Bps * f) <= 1e-6 * row.busbw_Bps);
    assert.equal(row.bytes % (4 * p), 0);
  }
});

test('bench comm refuses bad flags with exit code 2', () => {
  const r = spawnSync(process.execPath, [cli, 'bench', 'comm', '--backend', 'nccl'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--backend: expected threads, mpi or all, got 'nccl'/);
});
