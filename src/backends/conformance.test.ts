// One conformance suite for every kernel backend: each kernel against the js reference on random inputs.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BINARY_OPS, UNARY_OPS, type Backend, type BinaryOp, type GemmArgs, type UnaryOp } from './backend.js';
import { JsBackend } from './js.js';
import { gemmGrouped } from './grouped-gemm.js';
import { createBackend, probeBackends } from './index.js';
import { relaxedSimd } from './wasm-module.js';

/** mulberry32: a small seeded generator, so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Tol { atol: number; rtol: number }
const EXACT: Tol = { atol: 0, rtol: 0 };
const F32: Tol = { atol: 1e-6, rtol: 2e-6 };
const TRANSCENDENTAL: Tol = { atol: 2e-6, rtol: 2e-5 };

/** |actual - expected| <= atol + rtol |expected| element-wise; NaN must match NaN, inf must match inf. */
function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tol, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (Number.isNaN(e) || !Number.isFinite(e)) {
      assert.ok(Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e)), `${what}[${i}]: got ${a}, want ${e}`);
      continue;
    }
    const ok = Math.abs(a - e) <= tol.atol + tol.rtol * Math.abs(e);
    if (!ok) assert.fail(`${what}[${i}]: got ${a}, want ${e} (diff ${Math.abs(a - e)}, tol ${tol.atol} + ${tol.rtol}|e|)`);
  }
}

interface Case { name: string; skip: string | false; make: () => Promise<Backend> }

function cpuinfo(): string {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
}

async function cases(): Promise<Case[]> {
  const out: Case[] = [];
  for (const p of await probeBackends()) {
    const skip = p.available ? false : `${p.name} unavailable: ${p.reason ?? 'unknown'}`;
    out.push({ name: p.name, skip, make: () => createBackend(p.name) });
    if (p.name === 'wasm') {
      out.push({ name: 'wasm (plain SIMD build)', skip, make: () => createBackend('wasm', { relaxed: false }) });
      out.push({ name: 'wasm (relaxed-SIMD build)', skip: skip || (relaxedSimd().enabled ? false : 'relaxed SIMD unsupported here'),
        make: () => createBackend('wasm', { relaxed: true }) });
      out.push({ name: 'wasm (GEMM on 2 threads)', skip, make: () => createBackend('wasm', { threads: 2 }) });
    }
    if (p.name === 'native') {
      out.push({ name: 'native (GEMM on 2 threads)', skip, make: () => createBackend('native', { threads: 2 }) });
      // The AVX2+FMA code also runs on an AVX-512 CPU: tested here wherever the CPU has AVX2.
      const avx2 = skip || (/\bavx2\b/.test(cpuinfo()) && /\bfma\b/.test(cpuinfo()) ? false : 'CPU has no AVX2+FMA');
      out.push({ name: 'native (AVX2 code)', skip: avx2, make: () => createBackend('native', { isa: 'avx2' }) });
      out.push({ name: 'native (AVX2 code, GEMM on 2 threads)', skip: avx2, make: () => createBackend('native', { isa: 'avx2', threads: 2 }) });
    }
    // Every tensor in host memory: the kernels reach it through the staging window (GEMM in place for blas and native).
    if (p.name !== 'js') out.push({ name: `${p.name} (host memory)`, skip, make: () => createBackend(p.name, { heapLimit: 0, threads: 2 }) });
  }
  return out;
}

const ref = new JsBackend();
/** Reference GEMM results by case: inputs come from seeded generators, so every backend sees the same. */
const refGemm = new Map<string, Float32Array>();

for (const c of await cases()) {
  describe(`backend ${c.name}`, { skip: c.skip }, () => {
    let be: Backend | undefined;
    const get = async (): Promise<Backend> => (be ??= await c.make());
    after(() => { if (be !== undefined && 'close' in be && typeof be.close === 'function') be.close(); });

    /** An array of the backend's memory holding `vals`. */
    const put = (b: Backend, vals: ArrayLike<number>): Float32Array => {
      const x = b.alloc(vals.length);
      x.set(vals);
      return x;
    };
    const rand = (r: () => number, n: number, lo = -1, hi = 1): Float32Array =>
      Float32Array.from({ length: n }, () => lo + (hi - lo) * r());

    it('alloc is zero-filled, also when reusing freed memory', async () => {
      const b = await get();
      for (const n of [1, 7, 1000, 4096]) {
        const x = b.alloc(n);
        x.fill(3.5);
        b.free(x);
        assert.ok(b.alloc(n).every((v) => v === 0), `alloc(${n}) after free`);
      }
      assert.equal(b.alloc(0).length, 0);
    });

    it('gemm: every transpose, odd sizes, alpha/beta, against the reference', async () => {
      const b = await get();
      const r = rng(1);
      const sizes = [[1, 1, 1], [5, 7, 3], [4, 8, 256], [33, 17, 300], [3, 70, 9], [70, 90, 300], [67, 9, 1], [1, 300, 77], [1, 9, 1000], [1, 1, 33]] as const;
      for (const [m, n, k] of sizes) {
        for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
          for (const [alpha, beta] of [[1, 0], [1.5, 0.5], [-1, 1]] as const) {
            // Padded leading dimensions (+3) check that lda/ldb/ldc are honoured.
            const lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 3, ldc = n + 3;
            const aRows = transA ? k : m, bRows = transB ? n : k;
            const av = rand(r, aRows * lda), bv = rand(r, bRows * ldb), cv = rand(r, m * ldc);
            const base = { transA, transB, m, n, k, alpha, beta, lda, ldb, ldc, strideA: 0, strideB: 0, strideC: 0, batch: 1 };
            const key = `${m},${n},${k},${+transA},${+transB},${alpha},${beta}`;
            const want = refGemm.get(key) ?? Float32Array.from(cv);
            if (!refGemm.has(key)) ref.gemm({ ...base, a: av, b: bv, c: want });
            refGemm.set(key, want);
            const cb = put(b, cv);
            b.gemm({ ...base, a: put(b, av), b: put(b, bv), c: cb });
            assertClose(cb, want, { atol: 2e-6 * k, rtol: 1e-5 }, `gemm m${m} n${n} k${k} tA${+transA} tB${+transB} a${alpha} b${beta}`);
          }
        }
      }
    });

    it('gemm: batched, strided and stride-0 (shared) operands', async () => {
      const b = await get();
      const r = rng(2);
      const [m, n, k, batch] = [19, 21, 37, 3];
      for (const [sA, sB] of [[m * k + 5, 0], [0, k * n + 2], [m * k, k * n]] as const) {
        for (const transB of [false, true]) {
          const sC = m * n + 1;
          const av = rand(r, sA === 0 ? m * k : sA * batch), bv = rand(r, sB === 0 ? k * n : sB * batch);
          const cv = rand(r, sC * batch);
          const args: Omit<GemmArgs, 'a' | 'b' | 'c'> = { transA: false, transB, m, n, k, alpha: 1, beta: 0.25, lda: k,
            ldb: transB ? k : n, ldc: n, strideA: sA, strideB: sB, strideC: sC, batch };
          const want = Float32Array.from(cv);
          ref.gemm({ ...args, a: av, b: bv, c: want });
          const cb = put(b, cv);
          b.gemm({ ...args, a: put(b, av), b: put(b, bv), c: cb });
          assertClose(cb, want, { atol: 1e-4, rtol: 1e-5 }, `batched gemm sA${sA} sB${sB} tB${+transB}`);
        }
      }
    });

    it('gemm: beta 0 does not read C (NaN does not propagate); k = 0 scales C by beta', async () => {
      const b = await get();
      const a = put(b, [1, 2, 3, 4]), bm = put(b, [1, 0, 0, 1]);
      const c = put(b, [NaN, NaN, NaN, NaN]);
      const base = { transA: false, transB: false, m: 2, n: 2, k: 2, alpha: 1, beta: 0, lda: 2, ldb: 2, ldc: 2,
        strideA: 0, strideB: 0, strideC: 0, batch: 1 };
      b.gemm({ ...base, a, b: bm, c });
      assert.deepEqual(Array.from(c), [1, 2, 3, 4]);
      b.gemm({ ...base, k: 0, beta: 0.5, a, b: bm, c });
      assert.deepEqual(Array.from(c), [0.5, 1, 1.5, 2]);
    });

    it('gemmGrouped: experts with different row counts (0 included), shared B, accumulation, k past one cache block, against float64', async () => {
      const b = await get();
      const r = rng(11);
      // Per case: transposes, n, and problems [m, k, beta, offA, offB, offC] (element offsets into a, b, c).
      const cases: [boolean, boolean, number, [number, number, number, number, number, number][]][] = [
        // forward: expert 0's two segments share B at 0 (k 37), expert 1 has none, expert 2 one segment; n 70 (a ragged panel)
        [false, false, 70, [[13, 37, 0, 0, 0, 0], [5, 37, 0, 13 * 37, 0, 13 * 70], [0, 37, 0, 0, 37 * 70, 18 * 70], [29, 37, 0.5, 18 * 37, 2 * 37 * 70, 18 * 70]]],
        // dx = dy w^T: B (n, k) read transposed, shared by two segments; k 600 spans several KC blocks
        [false, true, 45, [[7, 600, 0, 0, 0, 0], [11, 600, 0, 7 * 600, 0, 7 * 45], [3, 600, 0, 18 * 600, 45 * 600, 18 * 45]]],
        // dw = x^T dy: A read transposed, k = each segment's rows, the second segment adds into the first's C
        [true, false, 33, [[19, 6, 0, 0, 0, 0], [19, 9, 1, 6 * 19, 6 * 33, 0], [19, 0, 0.5, 0, 0, 19 * 33], [19, 4, 0, 15 * 19, 15 * 33, 19 * 33]]],
      ];
      for (const [transA, transB, n, probs] of cases) {
        const ext = (f: (p: (typeof probs)[number]) => number): number => Math.max(...probs.map(f));
        const lda = Math.max(...probs.map(([m, k]) => (transA ? m : k))), ldb = transB ? Math.max(...probs.map(([, k]) => k)) : n, ldc = n;
        const av = rand(r, ext(([m, k, , oA]) => oA + (transA ? k : m) * lda)), bv = rand(r, ext(([, k, , , oB]) => oB + (transB ? n : k) * ldb));
        const cv = rand(r, ext(([m, , , , , oC]) => oC + m * ldc));
        const want = Float64Array.from(cv);
        for (const [m, k, beta, oA, oB, oC] of probs) {
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < n; j++) {
              let sum = 0;
              for (let p = 0; p < k; p++) sum += av[oA + (transA ? p * lda + i : i * lda + p)]! * bv[oB + (transB ? j * ldb + p : p * ldb + j)]!;
              want[oC + i * ldc + j] = 0.75 * sum + (beta === 0 ? 0 : beta * want[oC + i * ldc + j]!);
            }
          }
        }
        const col = (f: (p: (typeof probs)[number]) => number): Int32Array => Int32Array.from(probs.map(f));
        const cb = put(b, cv);
        gemmGrouped(b, { transA, transB, n, alpha: 0.75, a: put(b, av), lda, b: put(b, bv), ldb, c: cb, ldc, m: col((p) => p[0]), k: col((p) => p[1]),
          beta: Float32Array.from(probs.map((p) => p[2])), offA: col((p) => p[3]), offB: col((p) => p[4]), offC: col((p) => p[5]) });
        assertClose(cb, Float32Array.from(want), { atol: 1e-4, rtol: 1e-5 }, `gemmGrouped tA${+transA} tB${+transB}`);
      }
    });

    it('gemm: large enough to use every cache block (m 300, n 2100, k 600)', { skip: c.name === 'js' && 'the reference itself, too slow at this size' }, async () => {
      const b = await get();
      const r = rng(3);
      const [m, n, k] = [300, 2100, 600];
      const av = rand(r, m * k), bv = rand(r, k * n);
      const args = { transA: false, transB: false, m, n, k, alpha: 1, beta: 0, lda: k, ldb: n, ldc: n, strideA: 0,
        strideB: 0, strideC: 0, batch: 1 };
      const cb = b.alloc(m * n);
      b.gemm({ ...args, a: put(b, av), b: put(b, bv), c: cb });
      // Spot-check rows against float64 dot products (the js reference would take seconds here).
      for (let t = 0; t < 200; t++) {
        const i = Math.floor(r() * m), j = Math.floor(r() * n);
        let s = 0;
        for (let p = 0; p < k; p++) s += av[i * k + p]! * bv[p * n + j]!;
        assert.ok(Math.abs(cb[i * n + j]! - s) <= 1e-4 + 1e-5 * Math.abs(s), `C[${i},${j}] = ${cb[i * n + j]}, want ${s}`);
      }
    });

    it('unary: every op, odd lengths', async () => {
      const b = await get();
      const r = rng(4);
      const positive = new Set<UnaryOp>(['log', 'sqrt', 'rsqrt']);
      for (const op of UNARY_OPS) {
        for (const n of [1, 7, 1001]) {
          const xv = positive.has(op) ? rand(r, n, 0.01, 10) : op === 'recip' ? rand(r, n, 0.1, 4) : rand(r, n, -6, 6);
          const want = new Float32Array(n);
          ref.unary(op, xv, want);
          const out = b.alloc(n);
          b.unary(op, put(b, xv), out);
          const exact = ['neg', 'relu', 'abs', 'step', 'square'].includes(op);
          assertClose(out, want, exact ? EXACT : op === 'sqrt' || op === 'recip' || op === 'rsqrt' ? F32 : TRANSCENDENTAL, `${op} n${n}`);
        }
      }
    });

    it('unary: exp saturates to 0 and +inf like float32, keeps NaN', async () => {
      const b = await get();
      const xv = [-1000, -100, -87, 0, 1, 80, 88, 89, 1000, NaN, -Infinity, Infinity];
      const want = new Float32Array(xv.length);
      ref.unary('exp', Float32Array.from(xv), want);
      const out = b.alloc(xv.length);
      b.unary('exp', put(b, xv), out);
      assertClose(out, want, { atol: 1e-30, rtol: 2e-5 }, 'exp extremes');
    });

    it('binary: every op on equal shapes, broadcasting and strided views', async () => {
      const b = await get();
      const r = rng(5);
      const layouts: { shape: number[]; as: number[]; bs: number[]; na: number; nb: number }[] = [
        { shape: [1003], as: [1], bs: [1], na: 1003, nb: 1003 },
        { shape: [5, 37], as: [37, 1], bs: [0, 1], na: 185, nb: 37 },           // bias over rows
        { shape: [6, 9], as: [1, 0], bs: [0, 1], na: 6, nb: 9 },                // outer (n,1) x (1,m)
        { shape: [4, 3, 11], as: [33, 11, 1], bs: [0, 0, 0], na: 132, nb: 1 }, // scalar
        { shape: [3, 4, 5], as: [20, 5, 1], bs: [5, 0, 1], na: 60, nb: 15 },   // middle axis broadcast
        { shape: [7, 13], as: [1, 7], bs: [13, 1], na: 91, nb: 91 },           // a read transposed
        { shape: [2, 1, 3, 1, 2, 5], as: [30, 30, 10, 10, 5, 1], bs: [0, 0, 1, 0, 0, 0], na: 60, nb: 3 },
      ];
      for (const op of BINARY_OPS) {
        for (const L of layouts) {
          const [alo, ahi] = op === 'pow' ? [0.1, 3] : [-3, 3];
          const av = rand(r, L.na, alo, ahi);
          const bv = op === 'div' ? rand(r, L.nb, 0.5, 2) : op === 'eq' ? Float32Array.from({ length: L.nb }, (_, i) => av[i % L.na]! * (i % 2)) :
            op === 'tanh_bwd' || op === 'sigmoid_bwd' ? rand(r, L.nb) : rand(r, L.nb, -3, 3);
          if (op === 'tanh_bwd' || op === 'sigmoid_bwd') av.forEach((v, i) => { av[i] = v / 3; });
          const size = L.shape.reduce((x, y) => x * y, 1);
          const want = new Float32Array(size);
          ref.binary(op, av, L.as, bv, L.bs, want, L.shape);
          const out = b.alloc(size);
          b.binary(op, put(b, av), L.as, put(b, bv), L.bs, out, L.shape);
          const tol = (['add', 'sub', 'mul', 'max', 'min', 'gt', 'lt', 'eq', 'relu_bwd'] as BinaryOp[]).includes(op) ? EXACT
            : op === 'div' ? F32 : TRANSCENDENTAL;
          assertClose(out, want, tol, `${op} shape [${L.shape}]`);
        }
      }
    });

    it('biasActivation (optional): act(x + bias) equals add then the activation', { skip: c.name === 'js' && 'js leaves the optional kernel out' }, async () => {
      const b = await get();
      assert.ok(b.biasActivation !== undefined, `${c.name} implements biasActivation`);
      const r = rng(14);
      for (const [rows, n] of [[5, 37], [3, 512], [1, 3]] as const) {
        const xv = rand(r, rows * n, -4, 4), bv = rand(r, n, -1, 1);
        for (const act of ['relu', 'gelu', 'silu', 'tanh', 'sigmoid', null] as const) {
          const want = new Float32Array(rows * n);
          ref.binary('add', xv, [n, 1], bv, [0, 1], want, [rows, n]);
          if (act !== null) ref.unary(act, want, want);
          const out = b.alloc(rows * n);
          b.biasActivation(put(b, xv), put(b, bv), rows, n, act, out);
          assertClose(out, want, act === 'relu' || act === null ? F32 : TRANSCENDENTAL, `biasActivation ${act} (${rows},${n})`);
        }
      }
    });

    it('affine, powScalar, fill', async () => {
      const b = await get();
      const r = rng(6);
      const xv = rand(r, 1001, 0.1, 3);
      const want = new Float32Array(1001), out = b.alloc(1001), x = put(b, xv);
      ref.affine(xv, -1.5, 0.25, want);
      b.affine(x, -1.5, 0.25, out);
      assertClose(out, want, F32, 'affine');
      for (const p of [2, 0.5, -1, 3, 1.7, -0.5, 0, 1]) {
        ref.powScalar(xv, p, want);
        b.powScalar(x, p, out);
        assertClose(out, want, TRANSCENDENTAL, `pow ${p}`);
      }
      b.fill(out, -2.5);
      assert.ok(out.every((v) => v === -2.5));
    });

    it('reduce (sum, max) over (outer, n, inner) and sumSquares', async () => {
      const b = await get();
      const r = rng(7);
      for (const [outer, n, inner] of [[3, 5, 7], [1, 1000, 1], [4, 1, 3], [2, 33, 1], [2, 9, 64], [3, 0, 4]] as const) {
        const xv = rand(r, outer * n * inner);
        for (const op of ['sum', 'max'] as const) {
          const want = new Float32Array(outer * inner), out = b.alloc(outer * inner);
          ref.reduce(op, xv, outer, n, inner, want);
          b.reduce(op, put(b, xv), outer, n, inner, out);
          assertClose(out, want, op === 'max' ? EXACT : { atol: 1e-6 * n, rtol: 1e-5 }, `reduce ${op} (${outer},${n},${inner})`);
        }
      }
      const xv = rand(r, 1003, -4, 4);
      const s = b.sumSquares(put(b, xv)), want = ref.sumSquares(xv);
      assert.ok(Math.abs(s - want) <= 1e-12 * want, `sumSquares ${s} vs ${want}`);
    });

    it('softmax and log-softmax, forward and backward, with large logits', async () => {
      const b = await get();
      const r = rng(8);
      for (const [rows, n, scale] of [[3, 1, 1], [4, 7, 5], [2, 1000, 50], [5, 33, 1]] as const) {
        const xv = rand(r, rows * n, -scale, scale), dyv = rand(r, rows * n);
        const x = put(b, xv), dy = put(b, dyv);
        for (const [fwd, bwd] of [['softmax', 'softmaxBackward'], ['logSoftmax', 'logSoftmaxBackward']] as const) {
          const want = new Float32Array(rows * n), y = b.alloc(rows * n);
          ref[fwd](xv, rows, n, want);
          b[fwd](x, rows, n, y);
          assertClose(y, want, TRANSCENDENTAL, `${fwd} (${rows},${n})`);
          const wantDx = new Float32Array(rows * n), dx = b.alloc(rows * n);
          ref[bwd](want, dyv, rows, n, wantDx);
          b[bwd](put(b, want), dy, rows, n, dx);
          assertClose(dx, wantDx, { atol: 1e-5, rtol: 1e-4 }, `${bwd} (${rows},${n})`);
        }
      }
    });

    it('cross-entropy forward and backward, with ignored targets (-1)', async () => {
      const b = await get();
      const r = rng(9);
      const [rows, n] = [9, 53];
      const lv = rand(r, rows * n, -8, 8);
      const targets = Int32Array.from({ length: rows }, (_, i) => (i % 4 === 1 ? -1 : Math.floor(r() * n)));
      const wantLoss = new Float32Array(rows), wantP = new Float32Array(rows * n);
      ref.crossEntropyForward(lv, targets, rows, n, wantLoss, wantP);
      const loss = b.alloc(rows), probs = b.alloc(rows * n);
      b.crossEntropyForward(put(b, lv), targets, rows, n, loss, probs);
      assertClose(loss, wantLoss, { atol: 1e-5, rtol: 1e-5 }, 'ce loss');
      assertClose(probs, wantP, TRANSCENDENTAL, 'ce probs');
      for (let i = 0; i < rows; i++) if (targets[i] === -1) assert.equal(loss[i], 0, `ignored row ${i} has loss 0`);
      const wantD = new Float32Array(rows * n), d = b.alloc(rows * n);
      d.fill(7);
      ref.crossEntropyBackward(wantP, targets, rows, n, 1 / 7, wantD);
      b.crossEntropyBackward(put(b, wantP), targets, rows, n, 1 / 7, d);
      assertClose(d, wantD, F32, 'ce backward');
    });

    it('rmsnorm forward and backward (dw accumulates)', async () => {
      const b = await get();
      const r = rng(10);
      for (const [rows, n] of [[3, 1], [5, 37], [2, 512]] as const) {
        const xv = rand(r, rows * n, -2, 2), wv = rand(r, n, 0.5, 1.5), dyv = rand(r, rows * n), dw0 = rand(r, n);
        const wantY = new Float32Array(rows * n), wantR = new Float32Array(rows);
        ref.rmsnormForward(xv, wv, rows, n, 1e-5, wantY, wantR);
        const y = b.alloc(rows * n), rs = b.alloc(rows), x = put(b, xv), w = put(b, wv);
        b.rmsnormForward(x, w, rows, n, 1e-5, y, rs);
        assertClose(y, wantY, { atol: 1e-6, rtol: 1e-5 }, `rmsnorm y (${rows},${n})`);
        assertClose(rs, wantR, { atol: 0, rtol: 1e-5 }, `rmsnorm rstd (${rows},${n})`);
        const wantDx = new Float32Array(rows * n), wantDw = Float32Array.from(dw0);
        ref.rmsnormBackward(xv, wv, wantR, dyv, rows, n, wantDx, wantDw);
        const dx = b.alloc(rows * n), dw = put(b, dw0);
        b.rmsnormBackward(x, w, put(b, wantR), put(b, dyv), rows, n, dx, dw);
        assertClose(dx, wantDx, { atol: 1e-5, rtol: 1e-4 }, `rmsnorm dx (${rows},${n})`);
        assertClose(dw, wantDw, { atol: 1e-5, rtol: 1e-4 }, `rmsnorm dw (${rows},${n})`);
      }
    });

    it('gatherRows and scatterAddRows with repeated indices', async () => {
      const b = await get();
      const r = rng(11);
      const [rows, n] = [10, 13];
      const srcv = rand(r, rows * n);
      const idx = Int32Array.from([3, 0, 9, 3, 3, 7]);
      const want = new Float32Array(idx.length * n), out = b.alloc(idx.length * n);
      ref.gatherRows(srcv, idx, n, want);
      b.gatherRows(put(b, srcv), idx, n, out);
      assertClose(out, want, EXACT, 'gatherRows');
      const dstv = rand(r, rows * n), upd = rand(r, idx.length * n);
      const wantDst = Float32Array.from(dstv), dst = put(b, dstv);
      ref.scatterAddRows(wantDst, idx, n, upd);
      b.scatterAddRows(dst, idx, n, put(b, upd));
      assertClose(dst, wantDst, F32, 'scatterAddRows');
    });

    it('permute: 2-D to 6-D, with unit axes', async () => {
      const b = await get();
      const r = rng(12);
      const cases: [number[], number[]][] = [[[7, 13], [1, 0]], [[3, 4, 5], [0, 2, 1]], [[2, 3, 4, 5], [2, 0, 3, 1]],
        [[4, 1, 6], [2, 1, 0]], [[2, 3, 1, 2, 3, 2], [5, 3, 1, 0, 4, 2]], [[5, 6], [0, 1]]];
      for (const [shape, perm] of cases) {
        const size = shape.reduce((x, y) => x * y, 1);
        const xv = rand(r, size);
        const want = new Float32Array(size), out = b.alloc(size);
        ref.permute(xv, shape, perm, want);
        b.permute(put(b, xv), shape, perm, out);
        assertClose(out, want, EXACT, `permute [${shape}] by [${perm}]`);
      }
    });

    it('adamw: three steps in place', async () => {
      const b = await get();
      const r = rng(13);
      const n = 1003;
      const pv = rand(r, n), want = { p: Float32Array.from(pv), m: new Float32Array(n), v: new Float32Array(n) };
      const p = put(b, pv), m = b.alloc(n), v = b.alloc(n);
      for (let t = 1; t <= 3; t++) {
        const gv = rand(r, n);
        const [b1, b2] = [0.9, 0.95];
        ref.adamw(want.p, gv, want.m, want.v, 1e-2, b1, b2, 1e-8, 0.1, 1 - b1 ** t, 1 - b2 ** t);
        b.adamw(p, put(b, gv), m, v, 1e-2, b1, b2, 1e-8, 0.1, 1 - b1 ** t, 1 - b2 ** t);
      }
      assertClose(m, want.m, F32, 'adamw m');
      assertClose(v, want.v, F32, 'adamw v');
      assertClose(p, want.p, { atol: 1e-6, rtol: 1e-5 }, 'adamw p');
    });
  });
}
