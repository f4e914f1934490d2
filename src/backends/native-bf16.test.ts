// The bf16 GEMM against the float32 reference run on bf16-rounded inputs (the same math up to summation order), and the rounding itself.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend, GemmArgs } from './backend.js';
import { JsBackend } from './js.js';
import { createBackend } from './index.js';
import { NativeBackend, probeNative } from './native.js';
import { roundBf16 } from './native-bf16.js';

const probe = probeNative();
const skip = !probe.ok ? `native unavailable: ${probe.reason}` : !probe.bf16.ok ? `no bf16: ${probe.bf16.reason}` : false;

/** Seeded uniform values in [-1, 1). */
function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 4294967296) * 2 - 1;
  });
}

const ref = new JsBackend();

/** Runs g on `be` (operands copied into its memory) and returns C. */
function onBackend(be: Backend, g: GemmArgs): Float32Array {
  const put = (x: Float32Array): Float32Array => { const y = be.alloc(x.length); y.set(x); return y; };
  const c = put(g.c);
  be.gemm({ ...g, a: put(g.a), b: put(g.b), c });
  return Float32Array.from(c);
}

/** C of the reference on inputs rounded to bf16: what the bf16 kernel computes up to float32 summation order. */
function reference(g: GemmArgs, round: boolean): Float32Array {
  const c = Float32Array.from(g.c);
  ref.gemm({ ...g, a: round ? roundBf16(g.a) : g.a, b: round ? roundBf16(g.b) : g.b, c });
  return c;
}

function gemmCase(m: number, n: number, k: number, transA: boolean, o: { alpha?: number; beta?: number; batch?: number; seed?: number } = {}): GemmArgs {
  const batch = o.batch ?? 1, seed = o.seed ?? m * 7919 + n * 31 + k;
  const lda = (transA ? m : k) + 3, ldb = n + 1, ldc = n + 2;
  const [sA, sB, sC] = [(transA ? k : m) * lda, k * ldb, m * ldc];
  return { transA, transB: false, m, n, k, alpha: o.alpha ?? 1, beta: o.beta ?? 0, lda, ldb, ldc, strideA: sA, strideB: sB, strideC: sC,
    batch, a: rand(sA * batch, seed), b: rand(sB * batch, seed + 1), c: rand(sC * batch, seed + 2) };
}

function assertClose(got: Float32Array, want: Float32Array, atol: number, rtol: number, what: string): void {
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i]! - want[i]!) <= atol + rtol * Math.abs(want[i]!))) assert.fail(`${what}: C[${i}] = ${got[i]}, want ${want[i]}`);
  }
}

describe('bf16 rounding (round to nearest even on the top 16 bits)', () => {
  it('rounds ties to even, keeps specials, flushes denormals', () => {
    const x = Float32Array.of(1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, -2.5, 1e-40, -1e-40, Infinity, NaN, 3.4e38);
    const y = roundBf16(x);
    assert.deepEqual(Array.from(y.subarray(0, 6)), [1, 1 + 2 ** -6, 1 + 2 ** -7, -2.5, 0, -0]);
    assert.equal(y[6], Infinity);
    assert.ok(Number.isNaN(y[7]));
    assert.equal(y[8], Infinity, 'above the largest bf16 rounds to infinity');
  });
});

describe('native bf16 GEMM', { skip }, () => {
  it('equals the reference on bf16-rounded inputs: both transposes of A, odd and prime sizes, alpha, beta', async () => {
    const be = await createBackend('native', { precision: 'bf16' });
    for (const [m, n, k] of [[1, 1, 1], [7, 70, 13], [13, 129, 300], [37, 64, 1], [61, 131, 97], [6, 64, 32], [200, 67, 600]] as const) {
      for (const transA of [false, true]) {
        for (const [alpha, beta] of [[1, 0], [0.5, 1.5]] as const) {
          const g = gemmCase(m, n, k, transA, { alpha, beta });
          const what = `m${m} n${n} k${k} tA${+transA} a${alpha} b${beta}`;
          const got = onBackend(be, g);
          assertClose(got, reference(g, true), 4e-6 * k, 1e-5, what);
          // Against float32 inputs: each input's relative rounding error is at most 2^-9.
          assertClose(got, reference(g, false), 2 ** -7 * Math.sqrt(k), 2 ** -7, `${what} vs float32`);
        }
      }
    }
  });

  it('batched with strides and shared (stride-0) operands, and every cache block (k > 2 KC, n > NC)', async () => {
    const be = await createBackend('native', { precision: 'bf16' });
    const g = gemmCase(19, 33, 45, false, { batch: 3, beta: 1 });
    assertClose(onBackend(be, { ...g, strideB: 0 }), reference({ ...g, strideB: 0 }, true), 2e-4, 1e-5, 'shared B');
    assertClose(onBackend(be, g), reference(g, true), 2e-4, 1e-5, 'batched');
    const big = gemmCase(130, 2100, 1100, true);
    assertClose(onBackend(be, big), reference(big, true), 5e-3, 1e-5, 'm130 n2100 k1100 tA1');
  });

  it('beta 0 does not read C; k = 0 scales C by beta', async () => {
    const be = await createBackend('native', { precision: 'bf16' });
    const g = gemmCase(9, 20, 11, false);
    g.c.fill(NaN);
    const got = onBackend(be, g);
    assert.ok(got.every((v, i) => i % g.ldc >= g.n || Number.isFinite(v)), 'NaN in C leaked with beta 0');
    const k0 = { ...gemmCase(5, 17, 3, false), k: 0, beta: 0.5 };
    assertClose(onBackend(be, k0), Float32Array.from(k0.c, (v, i) => (i % k0.ldc < k0.n ? v * 0.5 : v)), 0, 0, 'k = 0');
  });

  it('splits over 2 threads with the same result, keeps strided B^T in float32, rounds contiguous B^T to bf16', async () => {
    const be = await createBackend('native', { precision: 'bf16', threads: 2 });
    try {
      const g = gemmCase(150, 300, 77, false);
      assertClose(onBackend(be, g), reference(g, true), 4e-6 * 77, 1e-5, '2 threads');
      const n = 70, k = 40, ldb = k + 5;
      const t = { ...gemmCase(9, n, k, false), transB: true, ldb, b: rand(n * ldb, 5), strideB: 0 };
      assertClose(onBackend(be, t), reference(t, false), 1e-5, 1e-5, 'strided B^T');
      const c = { ...gemmCase(9, n, k, false), transB: true, ldb: k, b: rand(n * k, 6), strideB: 0 };
      assertClose(onBackend(be, c), reference(c, true), 4e-6 * k, 1e-5, 'contiguous B^T');
    } finally {
      if (be instanceof NativeBackend) be.close();
    }
  });
});
