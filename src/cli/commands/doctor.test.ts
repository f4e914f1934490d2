// `furnace doctor --json`: one JSON result naming every backend, exactly one chosen, reasons for absences.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../main.js', import.meta.url));

it('doctor --json lists js, wasm, blas and native, exactly one chosen, and a reason for each unavailable one', () => {
  const stdout = execFileSync(process.execPath, [main, 'doctor', '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const lines = stdout.trim().split('\n');
  const r = JSON.parse(lines[lines.length - 1]!) as {
    backends: { name: string; available: boolean; chosen: boolean; reason?: string }[];
    relaxed_simd: { enabled: boolean; how: string };
  };
  assert.deepEqual(r.backends.map((b) => b.name), ['js', 'wasm', 'blas', 'native']);
  // auto prefers native wherever it runs.
  if (r.backends.find((b) => b.name === 'native')?.available === true) assert.equal(r.backends.find((b) => b.chosen)?.name, 'native');
  assert.equal(r.backends.filter((b) => b.chosen).length, 1);
  for (const b of r.backends) if (!b.available) assert.ok(b.reason !== undefined && b.reason.length > 0, `${b.name} has a reason`);
  assert.equal(r.backends.find((b) => b.name === 'wasm')?.available, true, 'the default backend needs nothing but npm');
  assert.equal(typeof r.relaxed_simd.enabled, 'boolean');
});

it('without native, BLAS and relaxed SIMD: native and blas unavailable with their reasons, wasm chosen, plain SIMD', () => {
  const stdout = execFileSync(process.execPath, [main, 'doctor', '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, FURNACE_BLAS_LIB: 'none', FURNACE_WASM_RELAXED: '0', FURNACE_NATIVE: '0' } });
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as {
    backends: { name: string; available: boolean; chosen: boolean; reason?: string }[];
    relaxed_simd: { enabled: boolean; how: string };
  };
  assert.deepEqual(r.relaxed_simd, { enabled: false, how: 'disabled' });
  const blas = r.backends.find((b) => b.name === 'blas')!;
  assert.equal(blas.available, false);
  assert.match(blas.reason ?? '', /FURNACE_BLAS_LIB=none/);
  assert.match(r.backends.find((b) => b.name === 'native')?.reason ?? '', /FURNACE_NATIVE=0/);
  assert.equal(r.backends.find((b) => b.chosen)?.name, 'wasm');
});
