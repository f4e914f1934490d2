// The SIMD reduction kernels against a scalar reference: every tail length, unaligned offsets,
// aliasing (dst = a), NaN and signed zeros.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reduceKernels, reduceModuleBytes } from './reduce-kernel.js';
import { sharedMemory, wasm } from './wasm.js';

test('the hand-assembled module validates', () => {
  assert.ok(wasm.validate(reduceModuleBytes()));
});

test('add and max match the scalar reference for lengths 0..70 at unaligned offsets', () => {
  const mem = sharedMemory(1 << 20);
  const k = reduceKernels(mem);
  const f = new Float32Array(mem.buffer);
  const special = [NaN, -0, 0, Infinity, -Infinity, 1e-40, -3.5];
  let seed = 1;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 200 - 100;
  for (let n = 0; n <= 70; n++) {
    for (const [a, b, d] of [[1001, 3003, 5005], [2000, 4000, 2000]] as const) {
      for (let i = 0; i < n; i++) {
        f[a + i] = i % 11 === 3 ? (special[i % special.length] ?? 0) : Math.fround(rnd());
        f[b + i] = i % 13 === 5 ? (special[(i + 2) % special.length] ?? 0) : Math.fround(rnd());
      }
      const A = f.slice(a, a + n);
      const B = f.slice(b, b + n);
      f[d + n] = 42; // just past the end: must stay untouched
      k.add(d * 4, a * 4, b * 4, n);
      for (let i = 0; i < n; i++) assert.ok(Object.is(f[d + i], Math.fround((A[i] ?? 0) + (B[i] ?? 0))), `add n=${n} i=${i}`);
      assert.equal(f[d + n], 42);
      f.set(A, a);
      k.max(d * 4, a * 4, b * 4, n);
      for (let i = 0; i < n; i++) {
        const x = A[i] ?? 0;
        const y = B[i] ?? 0;
        const want = Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.max(x, y);
        assert.ok(Object.is(f[d + i], want), `max n=${n} i=${i}: ${f[d + i]} vs ${want} (${x}, ${y})`);
      }
    }
  }
});
