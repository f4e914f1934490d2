// Tensors beyond the wasm heap: placement by limit and lifetime, streamed kernels equal to in-heap ones, > 4 GiB in one process.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { freemem } from 'node:os';
import { WasmBackend, WASM_MEMORY_BYTES } from './wasm.js';
import { createBackend, probeBackends } from './index.js';
import type { Backend } from './backend.js';

const MIB = 2 ** 20;

function filled(be: Backend, n: number, seed: number): Float32Array {
  const a = be.allocEmpty?.(n) ?? be.alloc(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(seed * 1.7 + i * 0.013) * (1 + (i % 7));
  return a;
}

describe('host memory beyond the heap limit', () => {
  it('places step tensors in the heap up to the limit, model tensors up to half of it, the rest in host memory', () => {
    const be = new WasmBackend({ heapLimit: 16 * MIB });
    const inHeap = (a: Float32Array): boolean => be.inHeap(a);
    const mib = (k: number): number => (k * MIB) / 4; // alloc counts float32 elements
    be.setLifetime('model');
    // The heap also holds the GEMM scratch (2.5 MiB).
    const w1 = be.alloc(mib(2)), w2 = be.alloc(mib(2)); // 4 MiB + scratch: under the model half (8 MiB)
    const w3 = be.alloc(mib(2)); // would pass 8 MiB
    assert.deepEqual([inHeap(w1), inHeap(w2), inHeap(w3)], [true, true, false]);
    be.setLifetime('step');
    const s1 = be.alloc(mib(6)), s2 = be.alloc(mib(6)); // the second would pass 16 MiB
    assert.deepEqual([inHeap(s1), inHeap(s2)], [true, false]);
    const use = be.memoryUse();
    assert.equal(use.heapBytes, 10 * MIB);
    assert.equal(use.hostBytes, 8 * MIB);
    // A freed host block is reused, zeroed by alloc.
    s2.fill(3);
    be.free(s2);
    const s3 = be.alloc(mib(6));
    assert.equal(s3.buffer, s2.buffer);
    assert.equal(s3.reduce((p, x) => p + Math.abs(x), 0), 0);
    assert.equal(be.memoryUse().peakBytes, 18 * MIB);
    // Staging blocks above the limit stay for staging: a tensor of their size class goes to host memory.
    const x = be.alloc(mib(4)), y = be.alloc(mib(4));
    be.softmax(x, 4, MIB / 4, y); // non-streamed: both arrays staged whole, above the 16 MiB line
    assert.ok(!inHeap(x) && !inHeap(be.alloc(mib(4))), 'a 4 MiB tensor after staging');
  });

  it('trim drops the free host blocks: the memory held falls, and the next tensor gets a new block', () => {
    const be = new WasmBackend({ heapLimit: 0 });
    const a = be.alloc(MIB), b = be.alloc(MIB);
    const held = be.memoryUse().reservedBytes;
    be.free(a);
    be.trim();
    assert.equal(be.memoryUse().reservedBytes, held - 4 * MIB);
    const c = be.alloc(MIB);
    assert.notEqual(c.buffer, a.buffer);
    assert.equal(be.memoryUse().hostBytes, 8 * MIB, 'b and c live');
    b[0] = 1;
  });

  for (const name of ['wasm', 'blas', 'native'] as const) {
    it(`${name}: kernels on host arrays (streamed in chunks) equal the same kernels in the heap, bit for bit`, async (t) => {
      const probe = (await probeBackends()).find((p) => p.name === name)!;
      if (!probe.available) return t.skip(`${name} unavailable: ${probe.reason}`);
      const results = [] as Float32Array[][];
      for (const heapLimit of [WASM_MEMORY_BYTES / 2, 0]) {
        const be = await createBackend(name, { heapLimit });
        const n = 3 * 65536 + 77; // several chunks and a ragged one
        const [p, g, m, v] = [1, 2, 3, 4].map((s) => filled(be, n, s)) as [Float32Array, Float32Array, Float32Array, Float32Array];
        v.forEach((x, i) => { v[i] = Math.abs(x); });
        const sum = be.alloc(n), sq = be.alloc(n), sc = be.alloc(n);
        be.binary('add', p, [1], g, [1], sum, [n]);
        be.binary('mul', g, [1], Float32Array.of(0.5), [0], sc, [n]);
        be.unary('square', g, sq);
        be.affine(sum, 0.25, 1, sum);
        be.adamw(p, g, m, v, 1e-3, 0.9, 0.95, 1e-8, 0.1, 0.1, 0.05);
        const ss = Float32Array.of(be.sumSquares(g));
        // A GEMM that reads a host block in place: (8, 64) x (64, 96).
        const c = be.alloc(8 * 96);
        be.gemm({ transA: false, transB: false, m: 8, n: 96, k: 64, alpha: 1, beta: 0, a: g, lda: 64, strideA: 0, b: m, ldb: 96,
          strideB: 0, c, ldc: 96, strideC: 0, batch: 1 });
        if (heapLimit === 0) assert.ok(![p, g, m, v, c].some((a) => (be as WasmBackend).inHeap(a)), 'all in host memory');
        results.push([p, m, v, sum, sq, sc, c, ss].map((a) => Float32Array.from(a)));
        (be as WasmBackend).close();
      }
      const [heap, host] = results as [Float32Array[], Float32Array[]];
      heap.forEach((a, k) => assert.deepEqual(host[k], a, `result ${k}`));
    });
  }
});

describe('tensors totalling more than 4 GiB', () => {
  const total = 4.5 * 2 ** 30, block = 512 * MIB;
  // 4.5 GiB of tensors plus staging and the runtime: ask for 1 GiB more than that.
  const short = freemem() < total + 2 ** 30 ? `needs ${((total + 2 ** 30) / 2 ** 30).toFixed(1)} GiB free memory, ${(freemem() / 2 ** 30).toFixed(1)} GiB free` : false;
  it('allocates, writes and reads them in one process (heap up to its limit, then host memory)', { skip: short }, async () => {
    const name = (await probeBackends()).find((p) => p.chosen)!.name;
    const be = (await createBackend(name === 'js' ? 'wasm' : name, { threads: 2 })) as WasmBackend;
    await be.ready;
    const n = block / 4, blocks: Float32Array[] = [];
    for (let i = 0; blocks.length * block < total; i++) {
      const a = be.allocEmpty(n);
      be.fill(a, i + 1);
      blocks.push(a);
    }
    const use = be.memoryUse();
    assert.ok(use.liveBytes >= total, `live ${use.liveBytes}`);
    assert.ok(use.hostBytes > 0 && use.heapBytes <= be.heapLimit, `heap ${use.heapBytes}, host ${use.hostBytes}`);
    // Every block still holds its own value: no two share memory.
    blocks.forEach((a, i) => {
      assert.equal(a[0], i + 1);
      assert.equal(a[n - 1], i + 1);
    });
    // Kernels across the boundary: the last (host) block scaled, its squares summed; a GEMM reading it.
    const last = blocks[blocks.length - 1]!, k = blocks.length;
    be.affine(last, 2, 0, last);
    assert.equal(be.sumSquares(last.subarray(0, 1 << 20)), (2 * k) ** 2 * (1 << 20));
    const c = be.alloc(4 * 4);
    be.gemm({ transA: false, transB: true, m: 4, n: 4, k: 1024, alpha: 1, beta: 0, a: blocks[0]!, lda: 1024, strideA: 0, b: last,
      ldb: 1024, strideB: 0, c, ldc: 4, strideC: 0, batch: 1 });
    assert.equal(c[5], 1 * 2 * k * 1024);
    // A GEMM split over the worker threads on heap blocks past 2 GiB (offsets beyond int32).
    const [x, y] = [blocks[4]!, blocks[5]!], z = x.subarray(256 * 256);
    assert.ok(be.inHeap(x) && be.inHeap(y) && x.byteOffset > 2 ** 31, 'blocks 4 and 5 in the heap past 2 GiB');
    be.gemm({ transA: false, transB: false, m: 256, n: 256, k: 256, alpha: 1, beta: 0, a: x, lda: 256, strideA: 0, b: y, ldb: 256, strideB: 0,
      c: z, ldc: 256, strideC: 0, batch: 1 });
    assert.equal(z[0], 5 * 6 * 256);
    assert.equal(z[256 * 256 - 1], 5 * 6 * 256);
    for (const a of blocks) be.free(a);
    be.close();
  });
});
