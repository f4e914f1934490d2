// The wasm backend's own contracts: size classes, no growth step over step, views across grow,
// foreign arrays staged in and out, index and shape checks, GEMM split over threads.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { WasmBackend } from './wasm.js';
import { sizeClass } from './wasm-heap.js';
import { gemmPart } from './gemm-pool.js';
import { JsBackend } from './js.js';
import type { GemmArgs } from './backend.js';

describe('wasm heap', () => {
  it('size classes cover the request, waste at most 25% (or 63 bytes), stay 64-byte aligned', () => {
    for (let b = 1; b < 1 << 22; b = Math.ceil(b * 1.37) + 1) {
      const s = sizeClass(b);
      assert.ok(s >= b && s % 64 === 0, `class ${s} for ${b}`);
      assert.ok(s <= Math.max(b + 63, b * 1.25), `class ${s} wastes too much for ${b}`);
    }
  });

  it('a loop that allocates and frees the same shapes stops growing after its first pass', () => {
    const be = new WasmBackend();
    const shapes = [784 * 512, 512, 256 * 512, 256 * 10, 7, 1];
    const pass = (): void => {
      const xs = shapes.map((n) => be.alloc(n));
      const ys = shapes.map((n) => be.alloc(n));
      for (const x of [...xs, ...ys]) be.free(x);
    };
    pass();
    const after1 = be.memoryStats();
    for (let i = 0; i < 20; i++) pass();
    assert.equal(be.memoryStats().reservedBytes, after1.reservedBytes);
    assert.equal(be.memoryStats().liveBytes, after1.liveBytes);
  });

  it('allocEmpty hands out reused blocks without clearing them, in wasm memory', () => {
    const be = new WasmBackend();
    const x = be.alloc(1000);
    x.fill(5);
    be.free(x);
    const y = be.allocEmpty(1000);
    assert.equal(y.byteOffset, x.byteOffset, 'the freed block is reused');
    assert.equal(y[999], 5, 'not cleared');
    const live = be.memoryStats().liveBytes;
    be.unary('neg', y, y);
    assert.equal(y[0], -5);
    assert.equal(be.memoryStats().liveBytes, live, 'kernels address it without staging');
  });

  it('views stay valid when the memory grows, and kernels still address them without copies', () => {
    const be = new WasmBackend();
    const x = be.alloc(1000);
    x.fill(2);
    const before = be.memoryStats().memoryBytes;
    const big = be.alloc(16 << 20);          // 64 MiB: forces memory.grow
    assert.ok(be.memoryStats().memoryBytes > before, 'memory grew');
    assert.equal(x[999], 2, 'old view still reads its values');
    const live = be.memoryStats().liveBytes;
    be.unary('square', x, x);
    assert.equal(x[0], 4);
    assert.equal(be.memoryStats().liveBytes, live, 'no staging copy was needed');
    be.free(big);
  });
});

describe('wasm backend boundaries', () => {
  const be = new WasmBackend();
  const js = new JsBackend();

  it('arrays from outside wasm memory are staged in and written back, scratch returned', () => {
    const x = Float32Array.from({ length: 37 }, (_, i) => i - 18), out = new Float32Array(37), want = new Float32Array(37);
    const live = be.memoryStats().liveBytes;
    be.unary('tanh', x, out);
    js.unary('tanh', x, want);
    for (let i = 0; i < 37; i++) assert.ok(Math.abs(out[i]! - want[i]!) < 1e-6);
    const a = Float32Array.from([1, 2, 3, 4, 5, 6]), b = Float32Array.from([1, 0, 0, 1, 1, 1, 0, 0, 0]), c = new Float32Array(6).fill(1);
    be.gemm({ transA: false, transB: false, m: 2, n: 3, k: 3, alpha: 1, beta: 1, a, lda: 3, strideA: 0, b, ldb: 3,
      strideB: 0, c, ldc: 3, strideC: 0, batch: 1 });
    // [[1,2,3],[4,5,6]] @ [[1,0,0],[1,1,1],[0,0,0]] + 1
    assert.deepEqual(Array.from(c), [4, 3, 3, 10, 6, 6]);
    assert.equal(be.memoryStats().liveBytes, live);
  });

  it('rejects out-of-range indices and too-short GEMM operands instead of corrupting memory', () => {
    const src = be.alloc(4 * 3), out = be.alloc(2 * 3);
    assert.throws(() => be.gatherRows(src, Int32Array.from([0, 4]), 3, out), RangeError);
    assert.throws(() => be.scatterAddRows(src, Int32Array.from([-1]), 3, out), RangeError);
    const logits = be.alloc(2 * 5), loss = be.alloc(2), probs = be.alloc(10);
    assert.throws(() => be.crossEntropyForward(logits, Int32Array.from([1, 5]), 2, 5, loss, probs), RangeError);
    be.crossEntropyForward(logits, Int32Array.from([1, -1]), 2, 5, loss, probs);
    const g: GemmArgs = { transA: false, transB: false, m: 4, n: 4, k: 4, alpha: 1, beta: 0, a: be.alloc(16), lda: 4,
      strideA: 0, b: be.alloc(16), ldb: 4, strideB: 0, c: be.alloc(15), ldc: 4, strideC: 0, batch: 1 };
    assert.throws(() => be.gemm(g), /c needs 16 elements/);
    assert.throws(() => be.gemm({ ...g, c: be.alloc(16), batch: 2, strideC: 16 }), /c needs 32/);
  });
});

describe('wasm transcendental kernels', () => {
  // A subnormal float costs ~100 cycles per instruction on x86 wherever it is used next: exp writes
  // 0 where its result would be subnormal, so a masked attention row (-1e9) leaves none behind.
  const isSubnormal = (v: number): boolean => v !== 0 && Math.abs(v) < 1.1754944e-38;
  for (const relaxed of [false, true]) {
    it(`exp and softmax write 0, never a subnormal, far below the largest input (${relaxed ? 'relaxed' : 'plain'} SIMD)`, () => {
      const be = new WasmBackend({ relaxed });
      const n = 1003;
      const x = be.alloc(n);
      for (let i = 0; i < n; i++) x[i] = -80 - i * 0.05; // -80 .. -130: e^x crosses the subnormal range
      const y = be.alloc(n);
      be.unary('exp', x, y);
      for (let i = 0; i < n; i++) {
        assert.ok(!isSubnormal(y[i]!), `exp(${x[i]}) = ${y[i]} is subnormal`);
        assert.ok(Math.abs(y[i]! - Math.exp(x[i]!)) <= 3e-38 + 3e-6 * Math.exp(x[i]!), `exp(${x[i]}) = ${y[i]}`);
      }
      const rows = 8, t = 128, s = be.alloc(rows * t), p = be.alloc(rows * t);
      for (let r = 0; r < rows; r++) for (let j = 0; j < t; j++) s[r * t + j] = j <= r * 16 ? Math.sin(j) : -1e9;
      be.softmax(s, rows, t, p);
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < t; j++) {
          const v = p[r * t + j]!;
          if (j > r * 16) assert.equal(v, 0, `masked entry (${r}, ${j}) = ${v}`);
          else assert.ok(v > 0 && !isSubnormal(v), `entry (${r}, ${j}) = ${v}`);
        }
      }
    });
  }
});

describe('GEMM split over threads', () => {
  it('the parts tile the output exactly (by batch, by columns, by rows)', () => {
    const base: GemmArgs = { transA: false, transB: false, m: 37, n: 101, k: 5, alpha: 1, beta: 0, a: new Float32Array(0),
      lda: 5, strideA: 0, b: new Float32Array(0), ldb: 101, strideB: 0, c: new Float32Array(0), ldc: 101, strideC: 37 * 101, batch: 1 };
    for (const g of [base, { ...base, m: 203, n: 9, strideC: 203 * 101 }, { ...base, batch: 5 }]) {
      for (const parts of [2, 3]) {
        const covered = new Uint8Array(g.batch * g.strideC);
        for (let bi = 0; bi < g.batch; bi++) {
          for (let r = 0; r < g.m; r++) covered.fill(1, bi * g.strideC + r * g.ldc, bi * g.strideC + r * g.ldc + g.n);
        }
        covered.forEach((v, i) => { covered[i] = 1 - v; });   // 0 inside the output, 1 outside
        for (let i = 0; i < parts; i++) {
          const call = gemmPart(g, 0, 0, 0, 0, parts, i);
          if (call === undefined) continue;
          const [, , m, n, , , , , , , , , , c, ldc, sC, batch] = call;
          for (let bi = 0; bi < batch; bi++) {
            for (let r = 0; r < m; r++) for (let j = 0; j < n; j++) covered[c / 4 + bi * sC + r * ldc + j]!++;
          }
        }
        assert.ok(covered.every((v) => v === 1), `each element exactly once: parts=${parts} m=${g.m} n=${g.n} batch=${g.batch}`);
      }
    }
  });

  it('a 2-thread GEMM equals the 1-thread GEMM bit for bit', async () => {
    const one = new WasmBackend({ threads: 1 }), two = new WasmBackend({ threads: 2 });
    after(() => two.close());
    await two.ready;
    for (const [m, n, k] of [[300, 200, 150], [64, 700, 128], [500, 64, 64]] as const) {
      const c1 = one.alloc(m * n), c2 = two.alloc(m * n);
      const a1 = one.alloc(m * k), b1 = one.alloc(k * n);
      a1.forEach((_, i) => { a1[i] = Math.sin(i); });
      b1.forEach((_, i) => { b1[i] = Math.cos(i * 0.7); });
      const a2 = two.alloc(m * k), b2 = two.alloc(k * n);
      a2.set(a1);
      b2.set(b1);
      const args = { transA: false, transB: false, m, n, k, alpha: 1, beta: 0, lda: k, ldb: n, ldc: n, strideA: 0, strideB: 0, strideC: 0, batch: 1 };
      one.gemm({ ...args, a: a1, b: b1, c: c1 });
      two.gemm({ ...args, a: a2, b: b2, c: c2 });
      assert.deepEqual(c2, c1);
    }
  });
});
