// `furnace bench step --json`: the step's kernels are all accounted for, with the fused ones listed.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../cli/main.js', import.meta.url));

it('bench step --json: kernels by name and GEMM shape, kernel time within the step time', () => {
  const r = spawnSync(process.execPath, [main, 'bench', 'step', '--preset', 'tiny', '--backend', 'wasm', '--steps', '2', '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
    backend: string; ms_per_step: number; kernels_ms: number; gemm_ms: number; framework_ms: number;
    rows: { kernel: string; calls_per_step: number; ms_per_step: number; gflops?: number }[];
  };
  assert.equal(res.backend, 'wasm');
  // Kernel intervals lie inside the step's; their sum is taken from hundreds of short clock readings,
  // so it may pass the step's own reading by a little on a loaded machine.
  assert.ok(res.ms_per_step > 0 && res.kernels_ms > 0 && res.kernels_ms <= 1.05 * res.ms_per_step, JSON.stringify(res));
  const names = res.rows.map((x) => x.kernel);
  for (const k of ['causalSoftmax', 'causalSoftmaxBackward', 'rope', 'adamw', 'crossEntropyForward']) assert.ok(names.includes(k), `${k} listed`);
  const gemm = res.rows.filter((x) => x.kernel.startsWith('gemm ') || x.kernel === 'gemmGrouped');
  assert.ok(gemm.length > 0 && gemm.every((x) => (x.gflops ?? 0) > 0));
  assert.ok(Math.abs(gemm.reduce((s, x) => s + x.ms_per_step, 0) - res.gemm_ms) < 1e-6 * Math.max(1, res.gemm_ms));
});

it('bench step refuses a bad preset with exit code 2', () => {
  const r = spawnSync(process.execPath, [main, 'bench', 'step', '--preset', 'huge'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--preset/);
});
