// `furnace bench kernels --json`: the result shape, and absent backends listed with their reason.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../cli/main.js', import.meta.url));

it('bench kernels --json: every GEMM route per size, blas and cblas absent with the reason', () => {
  const stdout = execFileSync(process.execPath, [main, 'bench', 'kernels', '--json', '--only', 'gemm', '--sizes', '32,64',
    '--budget', '0.01'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, FURNACE_BLAS_LIB: 'none' } });
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as {
    gemm: { backend: string; n: number; threads: number; gflops: number | null; reason?: string }[];
    mlp: unknown[]; peak_gflops_estimate: number; ratios: { what: string; n?: number; ratio: number }[];
  };
  assert.ok(r.peak_gflops_estimate > 0);
  // Ratios of this run: wasm against its peer and its limit; none for the absent blas.
  for (const n of [32, 64]) {
    assert.ok(r.ratios.some((x) => x.what === 'wasm / tfjs-wasm GEMM' && x.n === n && x.ratio > 0), `wasm / tfjs-wasm n=${n}`);
    assert.ok(r.ratios.some((x) => x.what === 'wasm GEMM / 128-bit FMA peak' && x.n === n && x.ratio > 0), `wasm / limit n=${n}`);
  }
  assert.ok(!r.ratios.some((x) => x.what.startsWith('blas')), 'no blas ratios without blas');
  assert.deepEqual(r.mlp, []);
  for (const name of ['js', 'wasm', 'native', 'native-bf16', 'native-avx2', 'blas', 'cblas', 'tfjs-wasm']) {
    for (const n of [32, 64]) assert.ok(r.gemm.some((g) => g.backend === name && g.n === n), `${name} n=${n} listed`);
  }
  for (const g of r.gemm) {
    if (g.backend === 'blas' || g.backend === 'cblas') {
      assert.equal(g.gflops, null);
      assert.match(g.reason ?? '', /FURNACE_BLAS_LIB=none/);
    } else if (g.gflops === null) {
      assert.ok((g.reason ?? '').length > 0, `${g.backend} n=${g.n} has a reason`);
    } else {
      assert.ok(g.gflops > 0 && Number.isFinite(g.gflops), `${g.backend} n=${g.n}: ${g.gflops}`);
    }
  }
});

it('bench kernels rejects bad sizes with exit code 2', () => {
  assert.throws(() => execFileSync(process.execPath, [main, 'bench', 'kernels', '--sizes', '0,abc'], { stdio: 'ignore' }),
    (e: { status?: number }) => e.status === 2);
});
